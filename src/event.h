/*
 * event.h - what the protocol cores (session.c, classic.c) tell their caller.
 *
 * A core queues events; the caller drains them with the core's
 * _next_event() function into a ParleyEvent it owns, and calls
 * parley_event_clear() on it after use (it frees and wipes the strings).
 */
#ifndef PARLEY_EVENT_H
#define PARLEY_EVENT_H

#include <glib.h>
#include <stdint.h>
#include "constants.h"
#include "errors.h"

typedef enum {
	/* Compute PBKDF2-HMAC-SHA256(passphrase, kdf_salt, kdf_iterations,
	 * kdf_len) off the UI thread and hand the result back with the core's
	 * _provide_kdf(kdf_id, ...).  For a native responder this is also the
	 * moment to apply admission rules (peer_name, peer_listen_port and sid
	 * are filled in) and to refuse instead. */
	PARLEY_EV_NEED_KDF,
	PARLEY_EV_ESTABLISHED,      /* peer_name, peer_listen_port, code, sid */
	PARLEY_EV_MESSAGE,          /* text/text_len, msg_id (native) */
	PARLEY_EV_ACK,              /* msg_id */
	PARLEY_EV_TYPING,           /* typing: 0, 1 or 2 */
	PARLEY_EV_REKEYED,          /* epoch, by_peer */
	PARLEY_EV_UNDECRYPTABLE,    /* classic: a frame that could not be decrypted */
	PARLEY_EV_ERROR,            /* error, wire_code, from_peer, text = reason */
	PARLEY_EV_CLOSED            /* the connection is over: close the socket
	                             * once the output buffer has been written */
} ParleyEventType;

typedef struct {
	ParleyEventType type;

	/* ERROR / CLOSED */
	ParleyError error;
	gboolean from_peer;         /* the peer sent ERROR / BYE */
	int wire_code;              /* code received or sent, 0 if none */

	/* MESSAGE: UTF-8 (invalid input already replaced by U+FFFD), NUL-
	 * terminated; ERROR: the reason (peer's reason when from_peer). */
	char *text;
	size_t text_len;
	uint8_t msg_id[PARLEY_MSG_ID_LEN];

	int typing;                 /* TYPING */
	uint32_t epoch;             /* REKEYED: the new epoch */
	/* REKEYED: the peer asked.  NEED_KDF: the peer caused this work (its
	 * connection, HS1 or rekey), not a rekey of our own */
	gboolean by_peer;
	/* MESSAGE in classic mode: opened under a key of a salt this side
	 * chose, so the sender knows the passphrase (under a key of the
	 * peer's own salt a frame may be a replay); always TRUE natively */
	gboolean proves;
	int bye_reason;             /* CLOSED after BYE: its reason byte */

	/* NEED_KDF */
	guint kdf_id;
	uint8_t kdf_salt[PARLEY_SALT_LEN];
	guint32 kdf_iterations;
	size_t kdf_len;

	/* ESTABLISHED, and NEED_KDF on a native responder */
	char *peer_name;            /* UTF-8, replaced where invalid */
	guint16 peer_listen_port;
	uint8_t sid[PARLEY_SID_LEN];
	char code[8];               /* "048 213" */
} ParleyEvent;

void parley_event_clear(ParleyEvent *ev);

/* The queue a core keeps its events in (a GQueue of ParleyEvent*). */
/* Append a zeroed event of this type; the queue owns it. */
ParleyEvent *parley_event_push(GQueue *queue, ParleyEventType type);
/* Move the oldest event into *ev (its strings go to the caller); FALSE
 * when the queue is empty. */
gboolean parley_event_pop(GQueue *queue, ParleyEvent *ev);
/* Clear and free every queued event. */
void parley_event_queue_clear(GQueue *queue);

/* Randomness is injected so a handshake can be replayed from fixed inputs.
 * NULL means parley_random_bytes(). */
typedef void (*ParleyRandomFunc)(void *buf, size_t len, gpointer user_data);

#endif
