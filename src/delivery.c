/*
 * delivery.c - §7: nothing is lost silently, nothing is shown twice.
 */
#include "delivery.h"

#include <string.h>

#include "crypto.h"

void
parley_outbox_init(ParleyOutbox *ob)
{
	g_queue_init(&ob->msgs);
}

void
parley_out_msg_free(ParleyOutMsg *m)
{
	if (m == NULL)
		return;
	parley_wipe(m->text, m->len);
	g_free(m->text);
	g_free(m);
}

void
parley_outbox_clear(ParleyOutbox *ob)
{
	g_queue_clear_full(&ob->msgs, (GDestroyNotify) parley_out_msg_free);
}

ParleyOutMsg *
parley_outbox_add(ParleyOutbox *ob, const uint8_t msg_id[8], const char *text,
                  size_t len, gint64 now_ms)
{
	ParleyOutMsg *m = g_new0(ParleyOutMsg, 1);

	memcpy(m->msg_id, msg_id, PARLEY_MSG_ID_LEN);
	m->text = g_malloc(len + 1);
	memcpy(m->text, text, len);
	m->text[len] = '\0';
	m->len = len;
	m->queued_ms = now_ms;
	g_queue_push_tail(&ob->msgs, m);
	return m;
}

gboolean
parley_outbox_ack(ParleyOutbox *ob, const uint8_t msg_id[8])
{
	GList *l;

	for (l = ob->msgs.head; l != NULL; l = l->next) {
		ParleyOutMsg *m = l->data;

		if (memcmp(m->msg_id, msg_id, PARLEY_MSG_ID_LEN) == 0) {
			g_queue_delete_link(&ob->msgs, l);
			parley_out_msg_free(m);
			return TRUE;
		}
	}
	return FALSE;
}

ParleyOutMsg *
parley_outbox_take_expired(ParleyOutbox *ob, gint64 now_ms, gint64 give_up_ms)
{
	ParleyOutMsg *m = g_queue_peek_head(&ob->msgs);

	if (m == NULL || now_ms - m->queued_ms < give_up_ms)
		return NULL;
	return g_queue_pop_head(&ob->msgs);
}

gint64
parley_outbox_next_expiry(const ParleyOutbox *ob, gint64 give_up_ms)
{
	const ParleyOutMsg *m = g_queue_peek_head((GQueue *) &ob->msgs);

	return m != NULL ? m->queued_ms + give_up_ms : -1;
}

guint
parley_outbox_len(const ParleyOutbox *ob)
{
	return ob->msgs.length;
}

void
parley_seen_init(ParleySeenIds *seen)
{
	memset(seen, 0, sizeof(*seen));
}

gboolean
parley_seen_add(ParleySeenIds *seen, const uint8_t id[PARLEY_MSG_ID_LEN])
{
	guint i;

	for (i = 0; i < seen->count; i++)
		if (memcmp(seen->ids[i], id, PARLEY_MSG_ID_LEN) == 0)
			return FALSE;
	memcpy(seen->ids[seen->next], id, PARLEY_MSG_ID_LEN);
	seen->next = (seen->next + 1) % PARLEY_SEEN_IDS;
	if (seen->count < PARLEY_SEEN_IDS)
		seen->count++;
	return TRUE;
}
