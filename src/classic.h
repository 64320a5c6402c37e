/*
 * classic.h - classic mode (PROTOCOL.md §11), byte-compatible with the
 * original Python tool.  A state machine with no I/O: the caller feeds
 * received bytes and the current time, drains events and output bytes, and
 * computes the PBKDF2 keys the core asks for (PARLEY_EV_NEED_KDF with
 * kdf_len 16 and kdf_iterations 200000) over the Latin-1 passphrase that
 * parley_classic_passphrase() produced.
 *
 * Ownership: the caller owns the ParleyClassic and frees it with
 * parley_classic_free(); the output buffer belongs to the core (the caller
 * removes the bytes it has written from its front).
 */
#ifndef PARLEY_CLASSIC_H
#define PARLEY_CLASSIC_H

#include <glib.h>
#include "event.h"

typedef enum {
	PARLEY_CLASSIC_LISTENER,    /* accepted the connection: sends the salt */
	PARLEY_CLASSIC_CONNECTOR    /* opened the connection: reads the salt */
} ParleyClassicRole;

typedef struct ParleyClassic ParleyClassic;

/* NFC-normalise a UTF-8 passphrase and encode it as Latin-1.  Returns the
 * bytes in secure memory (free with parley_secure_free(p, *len)), or NULL
 * with *err set to PARLEY_ERR_PASSPHRASE_EMPTY or PARLEY_ERR_NOT_LATIN1
 * (or PARLEY_ERR_MALFORMED for invalid UTF-8). */
uint8_t *parley_classic_passphrase(const char *utf8, size_t *len, ParleyError *err);

ParleyClassic *parley_classic_new(ParleyClassicRole role,
                                  ParleyRandomFunc random, gpointer random_data,
                                  gint64 now_ms);
void parley_classic_free(ParleyClassic *c);   /* wipes every key; NULL ok */

/* Put a listener's connection on probation (before any frame is fed):
 * until a frame decrypts under a key of our own salt (the first key, or
 * one of our own rekeys), the peer's first frame that does not decrypt,
 * or a rekey from it, ends the connection (ERROR, then CLOSED), and
 * nothing after that frame is looked at.  For callers that are no buddy:
 * one wrong guess per connection, and no key of the caller's choosing,
 * under which a recorded frame could be replayed as proof. */
void parley_classic_set_probation(ParleyClassic *c);
gboolean parley_classic_on_probation(const ParleyClassic *c);

/* Bytes received from the peer. */
void parley_classic_feed(ParleyClassic *c, const uint8_t *data, size_t len,
                         gint64 now_ms);
/* The result of a PARLEY_EV_NEED_KDF (16 bytes). */
void parley_classic_provide_kdf(ParleyClassic *c, guint kdf_id,
                                const uint8_t *key, size_t key_len,
                                gint64 now_ms);
/* Queue a message (UTF-8, at most PARLEY_MAX_TEXT bytes).  It is sent at
 * once when possible, or later, in order (before the 2-second start delay
 * has passed, while a key derives).  Returns PARLEY_ERR_TEXT_TOO_LONG or
 * PARLEY_ERR_STATE (closed) without queueing anything. */
ParleyError parley_classic_send(ParleyClassic *c, const char *text, size_t len,
                                gint64 now_ms);
/* Ask for a rekey (the user's "Rekey now"). */
ParleyError parley_classic_rekey(ParleyClassic *c, gint64 now_ms);
/* Let time pass; returns the next time (ms) the core wants to be called, or
 * -1 if it needs no timer. */
gint64 parley_classic_tick(ParleyClassic *c, gint64 now_ms);

/* The peer closed the TCP connection: CLOSED (PARLEY_ERR_CLOSED) - at
 * once, or, when received frames wait for a key still deriving, once
 * they have been read (feed nothing more meanwhile). */
void parley_classic_eof(ParleyClassic *c);
/* Close it ourselves: CLOSED (PARLEY_ERR_NONE); queued messages are dropped
 * (the caller knows which it handed over, see parley_classic_queued). */
void parley_classic_close(ParleyClassic *c);
gboolean parley_classic_is_closed(const ParleyClassic *c);

gboolean parley_classic_next_event(ParleyClassic *c, ParleyEvent *ev);
GByteArray *parley_classic_output(ParleyClassic *c);

/* Introspection for the UI and tests. */
guint parley_classic_key_generation(const ParleyClassic *c);  /* keys installed so far */
guint parley_classic_sent_since_rekey(const ParleyClassic *c);
/* Number of messages queued and not yet written to the output. */
guint parley_classic_queued(const ParleyClassic *c);

#endif
