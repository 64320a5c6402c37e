/*
 * companion.c - the "Parley" entry of Tools -> Plugins.  libpurple 2 lists
 * only standard plugins there, never protocol plugins, so this small one
 * (libpurple and GLib only: Pidgin and Finch both load it) carries
 * Parley's global preferences and its Configure dialog.
 */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <purple.h>

#include "prefs.h"

static gboolean
plugin_load(PurplePlugin *plugin)
{
	parley_prefs_init();
	return TRUE;
}

static PurplePluginUiInfo prefs_info = {
	.get_plugin_pref_frame = parley_prefs_frame
};

static PurplePluginInfo info = {
	.magic = PURPLE_PLUGIN_MAGIC,
	.major_version = PURPLE_MAJOR_VERSION,
	.minor_version = PURPLE_MINOR_VERSION,
	.type = PURPLE_PLUGIN_STANDARD,
	.priority = PURPLE_PRIORITY_DEFAULT,
	.id = "core-parley",
	.name = "Parley",
	.version = PACKAGE_VERSION,
	.summary = N_("Preferences of the Parley secure chat protocol"),
	.description = N_("Parley lets two people who share a passphrase chat directly and "
	                  "securely. Add a Parley account to use it; this entry holds its "
	                  "global preferences: verification codes, key-rotation notices, "
	                  "typing notifications and how long to keep trying to deliver."),
	.author = "The Parley developers",
	.homepage = "",
	.load = plugin_load,
	.prefs_info = &prefs_info
};

static void
init_plugin(PurplePlugin *plugin)
{
	const char *localedir = g_getenv("PARLEY_LOCALEDIR");

	/* before the first _(); PARLEY_LOCALEDIR names catalogs that are not
	 * installed (make check, plugins copied by "make install-user") */
	bindtextdomain(GETTEXT_PACKAGE, localedir != NULL ? localedir : LOCALEDIR);
	bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
	info.summary = _(info.summary);
	info.description = _(info.description);
}

PURPLE_INIT_PLUGIN(parley_companion, init_plugin, info)
