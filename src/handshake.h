/*
 * handshake.h - §4 CPace handshake and §5 key schedule, as a state machine.
 *
 *   initiator I                                responder R
 *   init_initiator (draws sid, ya)             init_responder
 *   create_hs1(PRS) (Ya, commit)
 *                        --- HS1 --->          consume_hs1 (sid, commit, ADa)
 *                                              create_hs2(PRS) (draws yb, Yb)
 *   consume_hs2 (K, ISK) <--- HS2 ---
 *   create_hs3 (Ya, Ta)  --- HS3 --->          consume_hs3 (commit, K, ISK, Ta)
 *                                              create_hs4 (Tb); derive_keys
 *   consume_hs4 (Tb)     <--- HS4 ---
 *   derive_keys
 *
 * Version 2 commits first: HS1 carries only commit = SHA-512(lv_cat(
 * "parley/2 commit", sid, Ya, ADa))[0:32], so R picks Yb before it learns
 * Ya, and I is bound to its Ya before it learns Yb: a relay that knows the
 * passphrase cannot grind either share until the verification codes match
 * (§10).
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
	PARLEY_HS_I_SENT_HS1,       /* waiting for HS2 */
	PARLEY_HS_I_GOT_HS2,        /* K and ISK known: HS3 next */
	PARLEY_HS_I_SENT_HS3,       /* waiting for HS4 */
	PARLEY_HS_R_WAIT_HS1,
	PARLEY_HS_R_GOT_HS1,        /* waiting for PRS to send HS2 */
	PARLEY_HS_R_SENT_HS2,       /* waiting for HS3 */
	PARLEY_HS_R_GOT_HS3,        /* Ta verified: HS4 next */
	PARLEY_HS_DONE,
	PARLEY_HS_FAILED
} ParleyHandshakeState;

/* Handshake frame types (§4). */
enum {
	PARLEY_HS1 = 0x01,
	PARLEY_HS2 = 0x02,
	PARLEY_HS3 = 0x03,
	PARLEY_HS4 = 0x04,
	PARLEY_HS_ERROR = 0x7f
};

typedef struct ParleyHandshakeSecrets ParleyHandshakeSecrets;

typedef struct {
	ParleyHandshakeState state;
	gboolean initiator;
	uint8_t sid[PARLEY_SID_LEN];
	uint8_t commit[PARLEY_COMMIT_LEN];   /* I's, from HS1 */
	uint8_t Ya[PARLEY_POINT_LEN];        /* I: secret until HS3 */
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

/* I: PRS known -> g, Ya and the commitment; append the HS1 frame to out. */
ParleyError parley_handshake_create_hs1(ParleyHandshake *hs,
                                        const uint8_t prs[PARLEY_PRS_LEN],
                                        GByteArray *out) G_GNUC_WARN_UNUSED_RESULT;
/* R: check HS1 (§4 order: magic, version, type, length, name, iterations)
 * and keep sid, commitment and ADa.  Returns the ERROR code to send on
 * failure.  (A low-order Ya can only be refused at HS3 now: R has not
 * seen Ya before PBKDF2.) */
ParleyError parley_handshake_consume_hs1(ParleyHandshake *hs,
                                         const uint8_t *p,
                                         size_t len) G_GNUC_WARN_UNUSED_RESULT;
/* R: PRS known -> draw yb, Yb; append the HS2 frame to out. */
ParleyError parley_handshake_create_hs2(ParleyHandshake *hs,
                                        const uint8_t prs[PARLEY_PRS_LEN],
                                        ParleyRandomFunc random, gpointer rdata,
                                        GByteArray *out) G_GNUC_WARN_UNUSED_RESULT;
/* I: check HS2, compute K (a low-order Yb: ERROR 2), ISK and mac_key. */
ParleyError parley_handshake_consume_hs2(ParleyHandshake *hs,
                                         const uint8_t *p,
                                         size_t len) G_GNUC_WARN_UNUSED_RESULT;
/* I: append the HS3 frame (Ya revealed, Ta). */
ParleyError parley_handshake_create_hs3(ParleyHandshake *hs,
                                        GByteArray *out) G_GNUC_WARN_UNUSED_RESULT;
/* R: check HS3 in §4's order: the commitment (ERROR 2), K (a low-order Ya:
 * ERROR 2), ISK and mac_key, then Ta (PARLEY_ERR_AUTH on mismatch). */
ParleyError parley_handshake_consume_hs3(ParleyHandshake *hs,
                                         const uint8_t *p,
                                         size_t len) G_GNUC_WARN_UNUSED_RESULT;
/* R: append the HS4 frame (Tb); the handshake is done for R. */
ParleyError parley_handshake_create_hs4(ParleyHandshake *hs,
                                        GByteArray *out) G_GNUC_WARN_UNUSED_RESULT;
/* I: verify Tb (PARLEY_ERR_AUTH on mismatch: I sends ERROR 3); the
 * handshake is done for I. */
ParleyError parley_handshake_consume_hs4(ParleyHandshake *hs,
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
/* Append an ERROR frame (version 02) with code and reason (truncated to
 * 200 bytes at a character boundary). */
void parley_handshake_write_error(GByteArray *out, int code, const char *reason);

#endif
