/*
 * event.c - releasing what a ParleyEvent owns.
 */
#include <string.h>

#include "crypto.h"
#include "event.h"

void
parley_event_clear(ParleyEvent *ev)
{
	g_return_if_fail(ev != NULL);

	/* Message text is what Parley exists to protect: wipe it before it
	 * goes back to the allocator.  text is NUL-terminated, but a message
	 * may hold embedded NULs, so text_len wins when it is set. */
	if (ev->text != NULL) {
		size_t n = ev->text_len > 0 ? ev->text_len : strlen(ev->text);

		parley_wipe(ev->text, n);
		g_free(ev->text);
	}
	if (ev->peer_name != NULL) {
		parley_wipe(ev->peer_name, strlen(ev->peer_name));
		g_free(ev->peer_name);
	}
	/* sid, code, kdf_salt and the rest go too. */
	parley_wipe(ev, sizeof *ev);
}

ParleyEvent *
parley_event_push(GQueue *queue, ParleyEventType type)
{
	ParleyEvent *ev = g_new0(ParleyEvent, 1);

	ev->type = type;
	g_queue_push_tail(queue, ev);
	return ev;
}

gboolean
parley_event_pop(GQueue *queue, ParleyEvent *ev)
{
	ParleyEvent *head = g_queue_pop_head(queue);

	if (head == NULL)
		return FALSE;
	*ev = *head;
	/* the code, sid and msg_id stay only in the caller's copy */
	parley_wipe(head, sizeof(*head));
	g_free(head);
	return TRUE;
}

static void
free_queued(gpointer p)
{
	parley_event_clear(p);
	g_free(p);
}

void
parley_event_queue_clear(GQueue *queue)
{
	g_queue_clear_full(queue, free_queued);
}
