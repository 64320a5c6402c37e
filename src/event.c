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
