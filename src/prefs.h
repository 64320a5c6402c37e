/*
 * prefs.h - Parley's global preferences, under /plugins/core/parley/, and
 * the plugin-pref frame both Pidgin and Finch render for them.
 */
#ifndef PARLEY_PREFS_H
#define PARLEY_PREFS_H

#include <purple.h>

/* Register the preferences with their defaults (keeps values already set). */
void parley_prefs_init(void);
/* The Configure dialog's frame; libpurple frees it. */
PurplePluginPrefFrame *parley_prefs_frame(PurplePlugin *plugin);

#endif
