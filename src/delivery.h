/*
 * delivery.h - §7 bookkeeping that outlives a connection: the messages a
 * peer has not acknowledged yet (outbox) and the msg_ids already shown
 * (seen ring).  Both belong to a peer for as long as the account is
 * signed on; a session only reports MESSAGE and ACK events.
 *
 * Ownership: the outbox owns its messages and their text (wiped on free);
 * parley_outbox_take_expired() hands one over to the caller, who frees it
 * with parley_out_msg_free().
 */
#ifndef PARLEY_DELIVERY_H
#define PARLEY_DELIVERY_H

#include <glib.h>
#include <stdint.h>
#include "constants.h"

typedef struct {
	uint8_t msg_id[PARLEY_MSG_ID_LEN];
	char *text;                 /* UTF-8, NUL-terminated */
	size_t len;
	gint64 queued_ms;           /* when the user sent it */
	gboolean written;           /* handed to the current native session
	                             * (cleared when a new one is established);
	                             * classic: to a session at least once */
} ParleyOutMsg;

typedef struct {
	GQueue msgs;                /* of ParleyOutMsg*, oldest first */
} ParleyOutbox;

void parley_outbox_init(ParleyOutbox *ob);
void parley_outbox_clear(ParleyOutbox *ob);
/* Copies text.  Returns the queued message (owned by the outbox). */
ParleyOutMsg *parley_outbox_add(ParleyOutbox *ob, const uint8_t msg_id[8],
                                const char *text, size_t len, gint64 now_ms);
/* Remove the message with this id; TRUE if there was one. */
gboolean parley_outbox_ack(ParleyOutbox *ob, const uint8_t msg_id[8]);
/* The oldest message queued before now_ms - give_up_ms, removed from the
 * outbox; NULL if none. */
ParleyOutMsg *parley_outbox_take_expired(ParleyOutbox *ob, gint64 now_ms,
                                         gint64 give_up_ms);
/* When the oldest message expires, or -1 if the outbox is empty. */
gint64 parley_outbox_next_expiry(const ParleyOutbox *ob, gint64 give_up_ms);
guint parley_outbox_len(const ParleyOutbox *ob);
void parley_out_msg_free(ParleyOutMsg *m);

/* The last PARLEY_SEEN_IDS msg_ids shown to the user. */
typedef struct {
	uint8_t ids[PARLEY_SEEN_IDS][PARLEY_MSG_ID_LEN];
	guint next;
	guint count;
} ParleySeenIds;

void parley_seen_init(ParleySeenIds *seen);
/* TRUE if id is new (and now remembered); FALSE for a repeat. */
gboolean parley_seen_add(ParleySeenIds *seen, const uint8_t id[PARLEY_MSG_ID_LEN]);

#endif
