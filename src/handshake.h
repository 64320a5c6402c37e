/*
 * handshake.h - §4 CPace handshake and §5 key schedule, as a state machine.
 *
 *   initiator I                                responder R
 *   init_initiator (draws sid, ya)             init_responder
 *   create_hs1(PRS)      --- HS1 --->          consume_hs1 (draws yb, K)
 *                                              create_hs2(PRS)
 *   consume_hs2 (K, ISK, Tb) <--- HS2 ---
 *   create_hs3           --- HS3 --->          consume_hs3 (Ta)
 *   derive_keys                                derive_keys
 *
 * Each create_/consume_ checks the state first, computes into locals and
 * commits only when every check passed; a failure leaves the handshake in
 * PARLEY_HS_FAILED for good.  Secrets (scalar, K, ISK) live in libgcrypt
 * secure memory and are wiped by parley_handshake_clear(), which the owner
 * calls as soon as the keys are derived; the inputs hashed into ISK and
 * mac_key are built in fixed buffers on the stack and wiped, never in
 * heap that could grow and leave a copy behind.
 *
 * When libgcrypt fails (out of memory), a step returns PARLEY_ERR_LOCAL:
 * not a wire code, so the owner sends no ERROR for it, and the handshake
 * has failed like any other.
 */
#ifndef PARLEY_HANDSHAKE_H
#define PARLEY_HANDSHAKE_H

#include <glib.h>
#include <stdint.h>
#include "constants.h"
#include "errors.h"
#include "event.h"
#include "record.h"

typedef enum {
	PARLEY_HS_I_START,          /* waiting for PRS to send HS1 */
	PARLEY_HS_I_SENT_HS1,
	PARLEY_HS_R_WAIT_HS1,
	PARLEY_HS_R_GOT_HS1,        /* waiting for PRS to send HS2 */
	PARLEY_HS_R_SENT_HS2,
	PARLEY_HS_DONE,
	PARLEY_HS_FAILED
} ParleyHandshakeState;

/* Handshake frame types (§4). */
enum {
	PARLEY_HS1 = 0x01,
	PARLEY_HS2 = 0x02,
	PARLEY_HS3 = 0x03,
	PARLEY_HS_ERROR = 0x7f
};

typedef struct ParleyHandshakeSecrets ParleyHandshakeSecrets;

typedef struct {
	ParleyHandshakeState state;
	gboolean initiator;
	uint8_t sid[PARLEY_SID_LEN];
	uint8_t Ya[PARLEY_POINT_LEN];
	uint8_t Yb[PARLEY_POINT_LEN];
	GByteArray *ADa;
	GByteArray *ADb;
	ParleyHandshakeSecrets *secret;   /* secure memory */

	/* from HS1 (R) or the configuration (I) */
	uint8_t salt[PARLEY_SALT_LEN];
	guint32 iterations;
	guint16 listen_port;
	/* the other side's name, raw bytes as received (1..64) */
	uint8_t peer_name[PARLEY_NAME_MAX];
	size_t peer_name_len;
} ParleyHandshake;

/* I: sid and ya are drawn from random.  name is 1..64 bytes of UTF-8. */
void parley_handshake_init_initiator(ParleyHandshake *hs,
                                     const char *name, guint16 listen_port,
                                     const uint8_t salt[PARLEY_SALT_LEN],
                                     guint32 iterations,
                                     ParleyRandomFunc random, gpointer rdata);
/* R: name is ours, sent in HS2. */
void parley_handshake_init_responder(ParleyHandshake *hs, const char *name);
void parley_handshake_clear(ParleyHandshake *hs);

/* I: PRS known -> append the HS1 frame to out. */
ParleyError parley_handshake_create_hs1(ParleyHandshake *hs,
                                        const uint8_t prs[PARLEY_PRS_LEN],
                                        GByteArray *out) G_GNUC_WARN_UNUSED_RESULT;
/* R: check HS1 (§4 order: magic, version, type, length, name, iterations),
 * draw yb and compute K (refusing a low-order Ya before any PBKDF2 work).
 * Returns the ERROR code to send on failure. */
ParleyError parley_handshake_consume_hs1(ParleyHandshake *hs,
                                         const uint8_t *p, size_t len,
                                         ParleyRandomFunc random,
                                         gpointer rdata) G_GNUC_WARN_UNUSED_RESULT;
/* R: PRS known -> Yb, ISK, Tb; append the HS2 frame to out. */
ParleyError parley_handshake_create_hs2(ParleyHandshake *hs,
                                        const uint8_t prs[PARLEY_PRS_LEN],
                                        GByteArray *out) G_GNUC_WARN_UNUSED_RESULT;
/* I: check HS2, compute K and ISK, verify Tb (PARLEY_ERR_AUTH on mismatch). */
ParleyError parley_handshake_consume_hs2(ParleyHandshake *hs,
                                         const uint8_t *p,
                                         size_t len) G_GNUC_WARN_UNUSED_RESULT;
/* I: append the HS3 frame; the handshake is done. */
ParleyError parley_handshake_create_hs3(ParleyHandshake *hs,
                                        GByteArray *out) G_GNUC_WARN_UNUSED_RESULT;
/* R: verify Ta (PARLEY_ERR_AUTH on mismatch); the handshake is done. */
ParleyError parley_handshake_consume_hs3(ParleyHandshake *hs,
                                         const uint8_t *p,
                                         size_t len) G_GNUC_WARN_UNUSED_RESULT;

/* §5: epoch-0 keys and the verification code ("048 213"), once DONE.
 * FALSE if the derivation failed: keys and code are then wiped (code is
 * ""), and the connection must not go on. */
gboolean parley_handshake_derive_keys(const ParleyHandshake *hs,
                                      ParleyEpochKeys *keys,
                                      char code[8]) G_GNUC_WARN_UNUSED_RESULT;

/* Is p an ERROR frame ("PRLY" ?? 7F, recognised whatever its version)? */
gboolean parley_handshake_is_error_frame(const uint8_t *p, size_t len);
/* Append an ERROR frame (version 01) with code and reason (truncated to
 * 200 bytes at a character boundary). */
void parley_handshake_write_error(GByteArray *out, int code, const char *reason);

#endif
