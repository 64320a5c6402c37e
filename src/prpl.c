/*
 * prpl.c - the Parley protocol plugin ("prpl-parley"): registration,
 * account options, buddy menu, the /rekey command.  The work is in
 * account.c (and a buddy's own passphrase in buddy_passphrase.c); each
 * callback here is named after its prpl_info field.
 */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <purple.h>

#include "account.h"
#include "address.h"
#include "buddy_passphrase.h"
#include "constants.h"
#include "crypto.h"
#include "prefs.h"

static PurplePlugin *parley_plugin;
static PurpleCmdId rekey_cmd;

static const char *
parley_list_icon(PurpleAccount *account, PurpleBuddy *buddy)
{
	return "parley";
}

static char *
parley_status_text(PurpleBuddy *buddy)
{
	PurplePresence *presence = purple_buddy_get_presence(buddy);

	if (purple_presence_is_status_active(presence, "unknown"))
		return g_strdup(_("Classic mode: presence unknown"));
	return NULL;
}

static void
parley_tooltip_text(PurpleBuddy *buddy, PurpleNotifyUserInfo *info, gboolean full)
{
	parley_account_tooltip(buddy, info);
}

static GList *
parley_status_types(PurpleAccount *account)
{
	GList *types = NULL;

	types = g_list_append(types, purple_status_type_new_full(PURPLE_STATUS_AVAILABLE,
	                      "available", NULL, TRUE, TRUE, FALSE));
	types = g_list_append(types, purple_status_type_new_full(PURPLE_STATUS_OFFLINE,
	                      "offline", NULL, TRUE, TRUE, FALSE));
	/* classic-mode buddies: never probed, so their presence is unknown */
	types = g_list_append(types, purple_status_type_new_full(PURPLE_STATUS_AWAY,
	                      "unknown", _("Presence unknown"), FALSE, FALSE, FALSE));
	return types;
}

/* ---- buddy menu ------------------------------------------------------- */

static void
menu_rekey(PurpleBlistNode *node, gpointer data)
{
	PurpleBuddy *b = (PurpleBuddy *) node;
	GString *why = g_string_new(NULL);

	if (!parley_account_rekey(purple_buddy_get_account(b), purple_buddy_get_name(b), why))
		purple_notify_error(purple_account_get_connection(purple_buddy_get_account(b)),
		                    _("Rekey now"), _("The session key was not rotated."), why->str);
	g_string_free(why, TRUE);
}

static void
menu_details(PurpleBlistNode *node, gpointer data)
{
	PurpleBuddy *b = (PurpleBuddy *) node;
	char *html = parley_account_session_details(purple_buddy_get_account(b),
	                                            purple_buddy_get_name(b));
	char *title;

	if (html == NULL)
		html = g_strdup(_("No session with this peer."));
	title = g_strdup_printf(_("Parley session with %s"), purple_buddy_get_name(b));
	purple_notify_formatted(purple_account_get_connection(purple_buddy_get_account(b)),
	                        _("Session details"), title, NULL, html, NULL, NULL);
	g_free(title);
	g_free(html);
}

static void
menu_reconnect(PurpleBlistNode *node, gpointer data)
{
	PurpleBuddy *b = (PurpleBuddy *) node;

	/* after a Cancel, the passphrase is asked for again */
	parley_buddy_passphrase_retry(purple_buddy_get_account(b), purple_buddy_get_name(b));
	parley_account_reconnect(purple_buddy_get_account(b), purple_buddy_get_name(b));
}

static void
menu_passphrase(PurpleBlistNode *node, gpointer data)
{
	parley_buddy_passphrase_dialog((PurpleBuddy *) node);
}

static GList *
parley_blist_node_menu(PurpleBlistNode *node)
{
	GList *m = NULL;

	if (!PURPLE_BLIST_NODE_IS_BUDDY(node))
		return NULL;
	m = g_list_append(m, purple_menu_action_new(_("Rekey now"), PURPLE_CALLBACK(menu_rekey),
	                                            NULL, NULL));
	m = g_list_append(m, purple_menu_action_new(_("Session details..."),
	                                            PURPLE_CALLBACK(menu_details), NULL, NULL));
	m = g_list_append(m, purple_menu_action_new(_("Reconnect"),
	                                            PURPLE_CALLBACK(menu_reconnect), NULL, NULL));
	m = g_list_append(m, purple_menu_action_new(_("Set passphrase..."),
	                                            PURPLE_CALLBACK(menu_passphrase), NULL, NULL));
	return m;
}

/* ---- /rekey ------------------------------------------------------------ */

static PurpleCmdRet
cmd_rekey(PurpleConversation *conv, const gchar *cmd, gchar **args, gchar **error,
          void *data)
{
	GString *why = g_string_new(NULL);
	PurpleAccount *account = purple_conversation_get_account(conv);
	const char *who = purple_conversation_get_name(conv);

	if (parley_account_rekey(account, who, why))
		parley_conv_notice(account, who, FALSE, PURPLE_MESSAGE_SYSTEM,
		                   _("Rotating the session key..."));
	else
		parley_conv_notice(account, who, FALSE, PURPLE_MESSAGE_ERROR, why->str);
	g_string_free(why, TRUE);
	return PURPLE_CMD_RET_OK;
}

/* ---- callbacks --------------------------------------------------------- */

static void
parley_login(PurpleAccount *account)
{
	parley_account_login(account);
}

static void
parley_close(PurpleConnection *gc)
{
	parley_account_close(gc);
	/* passphrases not remembered last until sign-off, as libpurple keeps
	 * an account password that is not remembered */
	parley_buddy_passphrase_forget_account(purple_connection_get_account(gc));
}

static int
parley_send_im(PurpleConnection *gc, const char *who, const char *message,
               PurpleMessageFlags flags)
{
	/* writing to a buddy whose passphrase question was cancelled asks again */
	parley_buddy_passphrase_retry(purple_connection_get_account(gc), who);
	return parley_account_send_im(gc, who, message, flags);
}

static unsigned int
parley_send_typing(PurpleConnection *gc, const char *name, PurpleTypingState state)
{
	return parley_account_send_typing(gc, name, state);
}

static void
parley_add_buddy(PurpleConnection *gc, PurpleBuddy *buddy, PurpleGroup *group)
{
	parley_account_add_buddy(gc, buddy);
}

static void
parley_remove_buddy(PurpleConnection *gc, PurpleBuddy *buddy, PurpleGroup *group)
{
	parley_account_remove_buddy(gc, buddy);
	parley_buddy_passphrase_forget(purple_buddy_get_account(buddy), purple_buddy_get_name(buddy));
}

static void
parley_set_status(PurpleAccount *account, PurpleStatus *status)
{
	/* presence is the session itself: nothing to announce */
}

static const char *
parley_normalize(const PurpleAccount *account, const char *who)
{
	/* addresses are compared as typed: "host:5000" and "host" are two
	 * buddies only if the user adds both */
	return who;
}

static gboolean
parley_offline_message(const PurpleBuddy *buddy)
{
	/* messages to an absent peer are queued and sent when it is back */
	return TRUE;
}

static PurplePluginProtocolInfo prpl_info = {
	.icon_spec = NO_BUDDY_ICONS,
	.list_icon = parley_list_icon,
	.status_text = parley_status_text,
	.tooltip_text = parley_tooltip_text,
	.status_types = parley_status_types,
	.blist_node_menu = parley_blist_node_menu,
	.login = parley_login,
	.close = parley_close,
	.send_im = parley_send_im,
	.send_typing = parley_send_typing,
	.set_status = parley_set_status,
	.add_buddy = parley_add_buddy,
	.remove_buddy = parley_remove_buddy,
	.normalize = parley_normalize,
	.offline_message = parley_offline_message,
	.struct_size = sizeof(PurplePluginProtocolInfo)
};

static gboolean
plugin_load(PurplePlugin *plugin)
{
	if (!parley_crypto_init())
		return FALSE;
	parley_prefs_init();
	rekey_cmd = purple_cmd_register("rekey", "", PURPLE_CMD_P_PRPL,
		PURPLE_CMD_FLAG_IM | PURPLE_CMD_FLAG_PRPL_ONLY, PARLEY_PRPL_ID, cmd_rekey,
		_("rekey: rotate the session key now (a fresh X25519 exchange)."), NULL);
	parley_account_watch_conversations(plugin);
	return TRUE;
}

static gboolean
plugin_unload(PurplePlugin *plugin)
{
	purple_cmd_unregister(rekey_cmd);
	parley_account_shutdown();
	parley_buddy_passphrase_shutdown();
	return TRUE;
}

static PurplePluginInfo info = {
	.magic = PURPLE_PLUGIN_MAGIC,
	.major_version = PURPLE_MAJOR_VERSION,
	.minor_version = PURPLE_MINOR_VERSION,
	.type = PURPLE_PLUGIN_PROTOCOL,
	.priority = PURPLE_PRIORITY_DEFAULT,
	.id = PARLEY_PRPL_ID,
	.name = "Parley",
	.version = PACKAGE_VERSION,
	.summary = N_("Direct, end-to-end encrypted chat with a shared passphrase"),
	.description = N_("Chat with a peer directly over TCP. Both sides share a passphrase; "
	                  "Parley authenticates it with CPace (no offline guessing), encrypts "
	                  "with AES-256-GCM and rotates keys with fresh X25519 exchanges."),
	.author = "The Parley developers",
	.homepage = "",
	.load = plugin_load,
	.unload = plugin_unload,
	.extra_info = &prpl_info
};

static void
init_plugin(PurplePlugin *plugin)
{
	const char *localedir = g_getenv("PARLEY_LOCALEDIR");
	PurpleAccountOption *opt;

	parley_plugin = plugin;
	/* before the first _(); PARLEY_LOCALEDIR names catalogs that are not
	 * installed (make check, plugins copied by "make install-user") */
	bindtextdomain(GETTEXT_PACKAGE, localedir != NULL ? localedir : LOCALEDIR);
	bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
	info.summary = _(info.summary);
	info.description = _(info.description);

	{
		GList *protocols = NULL;
		PurpleKeyValuePair *kv;

		kv = g_new0(PurpleKeyValuePair, 1);
		kv->key = g_strdup(_("Parley (secure)"));
		kv->value = g_strdup("parley");
		protocols = g_list_append(protocols, kv);
		kv = g_new0(PurpleKeyValuePair, 1);
		kv->key = g_strdup(_("Classic (original Python tool)"));
		kv->value = g_strdup("classic");
		protocols = g_list_append(protocols, kv);
		opt = purple_account_option_list_new(_("Protocol"), PARLEY_OPT_PROTOCOL, protocols);
		prpl_info.protocol_options = g_list_append(prpl_info.protocol_options, opt);
	}
	opt = purple_account_option_int_new(_("Listen port"), PARLEY_OPT_PORT,
	                                    PARLEY_DEFAULT_PORT);
	prpl_info.protocol_options = g_list_append(prpl_info.protocol_options, opt);
	opt = purple_account_option_bool_new(_("Accept incoming connections"),
	                                     PARLEY_OPT_LISTEN, TRUE);
	prpl_info.protocol_options = g_list_append(prpl_info.protocol_options, opt);
	/* §9: off, only buddies may call */
	opt = purple_account_option_bool_new(_("Accept connections from strangers"),
	                                     PARLEY_OPT_STRANGERS, TRUE);
	prpl_info.protocol_options = g_list_append(prpl_info.protocol_options, opt);
	opt = purple_account_option_int_new(_("Rekey after this many messages"),
	                                    PARLEY_OPT_REKEY_MESSAGES, PARLEY_REKEY_MESSAGES);
	prpl_info.protocol_options = g_list_append(prpl_info.protocol_options, opt);
	opt = purple_account_option_int_new(_("Rekey after this many minutes"),
	                                    PARLEY_OPT_REKEY_MINUTES, PARLEY_REKEY_MINUTES);
	prpl_info.protocol_options = g_list_append(prpl_info.protocol_options, opt);
	opt = purple_account_option_int_new(_("PBKDF2 iterations (200000-2000000)"),
	                                    PARLEY_OPT_ITERATIONS, PARLEY_DEFAULT_ITERATIONS);
	prpl_info.protocol_options = g_list_append(prpl_info.protocol_options, opt);
}

PURPLE_INIT_PLUGIN(parley, init_plugin, info)
