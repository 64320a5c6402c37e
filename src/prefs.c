/*
 * prefs.c - Parley's global preferences.  Both plugins register them, so
 * the protocol works with defaults even when the companion plugin is off.
 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "account.h"
#include "constants.h"
#include "prefs.h"

void
parley_prefs_init(void)
{
	purple_prefs_add_none("/plugins/core");
	purple_prefs_add_none(PARLEY_PREFS_ROOT);
	purple_prefs_add_bool(PARLEY_PREFS_ROOT "/show-code", TRUE);
	purple_prefs_add_bool(PARLEY_PREFS_ROOT "/announce-rekeys", TRUE);
	purple_prefs_add_bool(PARLEY_PREFS_ROOT "/send-typing", TRUE);
	purple_prefs_add_int(PARLEY_PREFS_ROOT "/give-up-minutes", PARLEY_GIVE_UP_MINUTES);
}

PurplePluginPrefFrame *
parley_prefs_frame(PurplePlugin *plugin)
{
	PurplePluginPrefFrame *frame = purple_plugin_pref_frame_new();
	PurplePluginPref *pref;

	pref = purple_plugin_pref_new_with_label(_("Secure sessions"));
	purple_plugin_pref_frame_add(frame, pref);
	pref = purple_plugin_pref_new_with_name_and_label(PARLEY_PREFS_ROOT "/show-code",
		_("Show the verification code when a session starts"));
	purple_plugin_pref_frame_add(frame, pref);
	pref = purple_plugin_pref_new_with_name_and_label(PARLEY_PREFS_ROOT "/announce-rekeys",
		_("Announce key rotations in the conversation"));
	purple_plugin_pref_frame_add(frame, pref);
	pref = purple_plugin_pref_new_with_name_and_label(PARLEY_PREFS_ROOT "/send-typing",
		_("Send typing notifications"));
	purple_plugin_pref_frame_add(frame, pref);
	pref = purple_plugin_pref_new_with_name_and_label(PARLEY_PREFS_ROOT "/give-up-minutes",
		_("Give up delivering a message after (minutes)"));
	purple_plugin_pref_set_bounds(pref, 1, 10080);
	purple_plugin_pref_frame_add(frame, pref);
	return frame;
}
