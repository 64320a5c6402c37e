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
 */
#ifndef PARLEY_SESSION_H
#define PARLEY_SESSION_H

#include <glib.h>
#include <stdint.h>
#include "constants.h"
#include "errors.h"
#include "event.h"

typedef struct ParleySession ParleySession;

/* §3: the bytes a native passphrase contributes to PBKDF2: NFC, UTF-8.
 * Returns them in secure memory (free with parley_secure_free(p, *len)), or
 * NULL with *err = PARLEY_ERR_PASSPHRASE_EMPTY or PARLEY_ERR_MALFORMED
 * (not UTF-8). */
uint8_t *parley_passphrase_nfc(const char *utf8, size_t *len, ParleyError *err);

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
 * PARLEY_ERR_STATE (not established) send nothing. */
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

#endif
