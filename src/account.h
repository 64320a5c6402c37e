/*
 * account.h - the purple glue's state: one ParleyAccount per signed-on
 * account (gc->proto_data), its peers (one per buddy address) and their
 * connections.  Only the glue (account.c, prpl.c) includes libpurple.
 *
 * Ownership: the account owns its peers (hash table by buddy name) and its
 * connections; a peer points at its established connection, if any, and
 * owns the messages waiting for it (outbox) and the ids it has shown.
 * Connections are freed out of their own I/O callbacks (deferred).
 */
#ifndef PARLEY_ACCOUNT_H
#define PARLEY_ACCOUNT_H

#include <glib.h>
#include <purple.h>

#include "delivery.h"

#define PARLEY_PRPL_ID       "prpl-parley"
#define PARLEY_DEBUG         "parley"
#define PARLEY_PREFS_ROOT    "/plugins/core/parley"

/* account option keys (accounts.xml), kept stable */
#define PARLEY_OPT_PORT            "port"
#define PARLEY_OPT_LISTEN          "listen"
#define PARLEY_OPT_REKEY_MESSAGES  "rekey-messages"
#define PARLEY_OPT_REKEY_MINUTES   "rekey-minutes"
#define PARLEY_OPT_ITERATIONS      "iterations"
#define PARLEY_OPT_PROTOCOL        "protocol"
#define PARLEY_OPT_STRANGERS       "accept-strangers"
/* per-account state Parley keeps itself */
#define PARLEY_SETTING_SALT        "parley-salt"
/* per-buddy passphrase (blist node setting) */
#define PARLEY_BUDDY_PASSPHRASE    "parley-passphrase"
/* ... or its own passphrase is kept in memory only (boolean; no secret):
 * asked for after sign-on, see buddy_passphrase.h */
#define PARLEY_BUDDY_PASSPHRASE_NOT_REMEMBERED "parley-passphrase-not-remembered"

typedef struct ParleyAccount ParleyAccount;
typedef struct ParleyPeer ParleyPeer;
typedef struct ParleyConn ParleyConn;

/* prpl callbacks' work, in account.c */
void parley_account_login(PurpleAccount *account);
void parley_account_close(PurpleConnection *gc);
int parley_account_send_im(PurpleConnection *gc, const char *who,
                           const char *message, PurpleMessageFlags flags);
unsigned int parley_account_send_typing(PurpleConnection *gc, const char *who,
                                        PurpleTypingState state);
void parley_account_add_buddy(PurpleConnection *gc, PurpleBuddy *buddy);
void parley_account_remove_buddy(PurpleConnection *gc, PurpleBuddy *buddy);

/* user actions on a buddy (menu, /rekey) */
gboolean parley_account_rekey(PurpleAccount *account, const char *who, GString *why_not);
void parley_account_reconnect(PurpleAccount *account, const char *who);
/* HTML for the "Session details" window; NULL if the buddy is unknown */
char *parley_account_session_details(PurpleAccount *account, const char *who);
void parley_account_passphrase_changed(PurpleAccount *account, const char *who);
/* tooltip lines for a buddy */
void parley_account_tooltip(PurpleBuddy *buddy, PurpleNotifyUserInfo *info);

/* Tell each new conversation where its session stands.  libpurple
 * registers its conversation signals after it loads protocol plugins, so
 * plugin load passes its handle (plugin != NULL) and the signal is
 * connected at the first sign-on (plugin == NULL). */
void parley_account_watch_conversations(PurplePlugin *plugin);

/* The plugin is being unloaded: stop the KDF workers. */
void parley_account_shutdown(void);

/* System message in the IM conversation with who (created when force). */
void parley_conv_notice(PurpleAccount *account, const char *who, gboolean force,
                        PurpleMessageFlags flags, const char *text);

#endif
