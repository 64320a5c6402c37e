/*
 * session.h - one native Parley connection (§§4-8) as a state machine with
 * no I/O.
 *
 * The caller feeds received bytes and the current time, drains events with
 * parley_session_next_event() and writes the bytes that accumulate in
 * parley_session_output() (removing from its front what it has written).
 * PBKDF2 is asked for with PARLEY_EV_NEED_KDF and handed back with
 * parley_session_provide_prs(); time is only what the caller says it is,
 * and parley_session_tick() says when to call again.  Randomness comes from
 * the configured function, so a handshake can be replayed from fixed inputs.
 *
 * Ownership: the caller owns the session (parley_session_free wipes every
 * key); the configuration is copied; the output buffer belongs to the
 * session.
 *
 * Failure is final and closed: when a key cannot be derived or set
 * (libgcrypt out of memory) the session fails with PARLEY_ERR_LOCAL, and
 * when a record cannot be sealed because §6's sequence limit is reached
 * (our REKEY went unanswered for PARLEY_SEQ_LIMIT - PARLEY_SEQ_REKEY_AT
 * records) with PARLEY_ERR_PROTOCOL; either way it emits ERROR and CLOSED
 * and nothing more goes out.  A record received beyond that limit is
 * refused like any other bad record (PARLEY_ERR_RECORD).
 *
 * ERROR frames from the peer (§4) are plaintext and unauthenticated:
 *  - during the handshake: PARLEY_EV_ERROR with from_peer TRUE, wire_code
 *    the code received, error that code when it is one of §4's (1..6,
 *    else PARLEY_ERR_MALFORMED), text the reason (valid UTF-8, at most 200
 *    bytes, "" if none); then CLOSED with the same error and from_peer;
 *  - once established, anyone who can write into the TCP stream can send
 *    one, so it is treated like a reset: PARLEY_EV_ERROR with from_peer
 *    TRUE, wire_code the code byte received (0 if none), error
 *    PARLEY_ERR_CLOSED whatever the code claims, and text NULL (text_len
 *    0) - the reason is dropped and must not be shown as the peer's words;
 *    then CLOSED with PARLEY_ERR_CLOSED and from_peer TRUE.
 */
#ifndef PARLEY_SESSION_H
#define PARLEY_SESSION_H

#include <glib.h>
#include <stdint.h>
#include "constants.h"
#include "errors.h"
#include "event.h"

typedef struct ParleySession ParleySession;

/* §3: the bytes a native passphrase contributes to PBKDF2: NFC, UTF-8
 * (NUL-terminated).  Returns them in secure memory (free with
 * parley_secure_free(p, *len)), or NULL with *err =
 * PARLEY_ERR_PASSPHRASE_EMPTY or PARLEY_ERR_MALFORMED (not UTF-8).  Every
 * intermediate form of the passphrase is kept in secure memory too (unlike
 * g_utf8_normalize(), whose result is the same). */
uint8_t *parley_passphrase_nfc(const char *utf8, size_t *len, ParleyError *err);

/* p[0..len) as valid UTF-8, each byte that cannot start or continue a
 * character (a NUL included) replaced by U+FFFD: the same string
 * g_utf8_make_valid() returns, but built in one allocation of its final
 * size, so no piece of a message is left in a freed, outgrown buffer.
 * NUL-terminated; its length goes to *out_len if not NULL.  The caller
 * frees it (wiping first if it holds message text). */
char *parley_utf8_make_valid(const uint8_t *p, size_t len, size_t *out_len);

typedef struct {
	gboolean initiator;         /* we opened the TCP connection */
	const char *name;           /* our account name: 1..64 bytes of UTF-8 */
	/* initiator only */
	guint16 listen_port;        /* announced in HS1, 0 if not listening */
	const uint8_t *salt;        /* PARLEY_SALT_LEN bytes, the account's */
	guint32 iterations;
	/* rekey policy (§8); 0 disables that trigger */
	guint rekey_messages;
	guint rekey_minutes;
	/* 0 means PARLEY_HANDSHAKE_TIMEOUT_MS */
	guint handshake_timeout_ms;
	ParleyRandomFunc random;    /* NULL: parley_random_bytes */
	gpointer random_data;
} ParleySessionConfig;

typedef enum {
	PARLEY_SESSION_HANDSHAKE,
	PARLEY_SESSION_ESTABLISHED,
	PARLEY_SESSION_CLOSED
} ParleySessionState;

/* An initiator asks for its PRS at once (PARLEY_EV_NEED_KDF). */
ParleySession *parley_session_new(const ParleySessionConfig *cfg, gint64 now_ms);
void parley_session_free(ParleySession *s);     /* NULL is fine */

void parley_session_feed(ParleySession *s, const uint8_t *data, size_t len,
                         gint64 now_ms);
/* The peer closed the TCP connection (a frame may be cut short). */
void parley_session_eof(ParleySession *s, gint64 now_ms);

/* The PRS for the pending PARLEY_EV_NEED_KDF with this id. */
void parley_session_provide_prs(ParleySession *s, guint kdf_id,
                                const uint8_t prs[PARLEY_PRS_LEN], gint64 now_ms);
/* Responder: refuse the caller instead (ERROR code with reason, close). */
void parley_session_refuse(ParleySession *s, ParleyError code, const char *reason);

/* Send a message (UTF-8, at most PARLEY_MAX_TEXT bytes) with the given
 * msg_id (kept across retransmissions).  PARLEY_ERR_TEXT_TOO_LONG or
 * PARLEY_ERR_STATE (not established) send nothing.  When sending makes the
 * session fail (see above), these four return that error
 * (PARLEY_ERR_PROTOCOL or PARLEY_ERR_LOCAL); the record that could not be
 * sealed has not gone out. */
ParleyError parley_session_send_message(ParleySession *s,
                                        const uint8_t msg_id[PARLEY_MSG_ID_LEN],
                                        const char *text, size_t len,
                                        gint64 now_ms);
ParleyError parley_session_send_typing(ParleySession *s, int state);
/* Start a rekey (the user's "Rekey now").  PARLEY_ERR_BUSY if one is
 * already pending or this side already asked in this epoch. */
ParleyError parley_session_rekey(ParleySession *s, gint64 now_ms);
ParleyError parley_session_send_ping(ParleySession *s, gint64 now_ms);
/* Say goodbye (BYE with reason) and close. */
void parley_session_close(ParleySession *s, int bye_reason);

/* Timers: handshake timeout, keepalive, time-based rekey.  Returns the
 * next time (ms) the session wants to be called, or -1. */
gint64 parley_session_tick(ParleySession *s, gint64 now_ms);

gboolean parley_session_next_event(ParleySession *s, ParleyEvent *ev);
GByteArray *parley_session_output(ParleySession *s);

ParleySessionState parley_session_state(const ParleySession *s);
gboolean parley_session_is_initiator(const ParleySession *s);
const uint8_t *parley_session_sid(const ParleySession *s);  /* 16 bytes */
guint32 parley_session_send_epoch(const ParleySession *s);
guint parley_session_messages_in_epoch(const ParleySession *s);
gboolean parley_session_rekey_pending(const ParleySession *s);
const char *parley_session_code(const ParleySession *s);   /* "" before */

/* For the core's own tests only, never for the glue: hidden, so that the
 * plugin module does not export it.  Sets the next sequence number of the
 * current send and receive directions of an established session, as if
 * that many records had gone each way in this epoch - the one way to bring
 * §6's 2^32 limit within a test's reach. */
G_GNUC_INTERNAL
void parley_session_set_seq_for_tests(ParleySession *s, guint64 send_seq,
                                      guint64 recv_seq);

#endif
