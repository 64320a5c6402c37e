/*
 * host.h - a headless libpurple host for end-to-end tests of the Parley
 * plugins: one libpurple core per process, on the GLib main loop, in a
 * temporary user directory, with the plugins loaded from the build tree.
 * Tests drive it as a user would (accounts, buddies, conversations, buddy
 * menu, /commands, dialogs) and read back what a user would see, from a
 * log of everything the UI was shown.
 *
 * The host keeps all traffic on this machine: UPnP, NAT-PMP and STUN are
 * switched off before libpurple's network code starts, and accounts listen
 * on free ports below the kernel's ephemeral range.
 *
 * Ownership: the host owns the core, the temporary directory and the event
 * log.  host_account_new() adds the account to libpurple (libpurple owns
 * it; host_account_delete() removes it).  Events returned by the queries
 * belong to the log and stay valid until host_shutdown().  Strings returned
 * as char * are the caller's (g_free).
 *
 * Environment: PARLEY_PLUGIN_DIR names the folder holding libparley.so and
 * parley.so (the build tree's .libs; G_TEST_BUILDDIR/../.libs otherwise);
 * PARLEY_TEST_DEBUG=1 prints libpurple's debug log (all of it) on stderr,
 * PARLEY_TEST_DEBUG=parley only that category.  The host sets
 * PURPLE_LEAKCHECK_HELP (plugins stay mapped at exit, for leak reports) and,
 * in an AddressSanitizer build, suppresses the leaks libpurple and the
 * libraries its bundled plugins load are known for (host.c).
 */
#ifndef PARLEY_TEST_HOST_H
#define PARLEY_TEST_HOST_H

#include <glib.h>
#include <purple.h>

#define HOST_UI_ID "parley-test"

/* ---- the core ------------------------------------------------------------ */

/* Start libpurple and load "core-parley" (the protocol plugin "prpl-parley"
 * is loaded by libpurple's probe).  FALSE with *error set if it could not. */
gboolean host_init(GError **error);
/* Delete every account, stop libpurple, remove the temporary directory. */
void host_shutdown(void);
/* The temporary user directory (owned by the host). */
const char *host_user_dir(void);
/* Whether this machine can listen and connect on [::1]. */
gboolean host_have_ipv6(void);
/* From now on libpurple writes the buddy list to blist.xml in the user
 * directory, as it does under Pidgin and Finch: some seconds after a
 * change (5 s in libpurple 2), and at host_shutdown(). */
void host_save_blist(void);
/* A symbol of the loaded protocol plugin (a test hook), or NULL. */
gpointer host_plugin_symbol(const char *name);

/* ---- what the plugin holds ----------------------------------------------- */

/* The connections the plugin has open, of all accounts, as its debug log
 * says ("conn N: accepted", "dialling" ... "closed"). */
guint host_live_conns(void);
/* Outgoing connections the plugin has started since the host began (its
 * debug log's "conn N: dialling"), of all accounts. */
guint host_dials(void);
/* PBKDF2 jobs the plugin's workers hold, cancelled ones included. */
guint host_kdf_busy(void);
/* Iterate the main loop until the plugin has exactly conns connections
 * open (any number: HOST_ANY_CONNS) and no PBKDF2 job, or timeout_ms has
 * passed.  Returns whether it got there (if not, a test message says what
 * the plugin still held).  After two accounts that dial
 * each other meet, conns 2 (the two ends of one connection) means the
 * duplicate connection (PROTOCOL.md §9) is gone and nothing is left
 * deriving. */
#define HOST_ANY_CONNS G_MAXUINT
gboolean host_wait_settled(guint conns, guint timeout_ms);

/* ---- the main loop ----------------------------------------------------- */

typedef gboolean (*HostCondFunc)(gpointer data);

/* Iterate the main loop until cond(data) is TRUE (checked before each
 * iteration) or timeout_ms has passed.  Returns cond's last answer. */
gboolean host_run_until(HostCondFunc cond, gpointer data, guint timeout_ms);
/* Iterate the main loop for ms milliseconds. */
void host_run_for(guint ms);

/* ---- accounts and buddies --------------------------------------------- */

/* A new Parley account with this name and passphrase (its password,
 * remembered), listening on port, or on a free port (below the ephemeral
 * range) when port is 0, with the minimum PBKDF2 iterations.  Not enabled
 * yet: change options with purple_account_set_*() first if needed, then
 * host_sign_on(). */
PurpleAccount *host_account_new(const char *name, const char *passphrase, guint16 port);
/* Its listen port (the "port" option). */
guint16 host_account_port(PurpleAccount *account);
/* The address a buddy uses for it: "127.0.0.1:PORT", or "[::1]:PORT" when
 * ipv6.  Caller frees. */
char *host_account_address(PurpleAccount *account, gboolean ipv6);
/* Enable the account and wait until it is signed on (or failed). */
gboolean host_sign_on(PurpleAccount *account, guint timeout_ms);
/* Disable the account (signs it off at once). */
void host_sign_off(PurpleAccount *account);
/* Remove the account from libpurple (signs off, removes buddies). */
void host_account_delete(PurpleAccount *account);

/* Add a buddy (in group "Parley") as the Add Buddy dialog does. */
PurpleBuddy *host_add_buddy(PurpleAccount *account, const char *address);
gboolean host_buddy_online(PurpleAccount *account, const char *who);

/* ---- what a user does -------------------------------------------------- */

/* The IM conversation with who, opened if needed (like double-clicking the
 * buddy). */
PurpleConversation *host_conv(PurpleAccount *account, const char *who);
/* Close that conversation window, if open. */
void host_conv_close(PurpleAccount *account, const char *who);
/* Type text and press Enter, as in Pidgin: libpurple gets the text
 * HTML-escaped with each line break as <br>. */
void host_send_im(PurpleAccount *account, const char *who, const char *text);
/* Send this markup as the UI's message (Finch, for one, only escapes the
 * text: a line break in it stays a literal newline). */
void host_send_html(PurpleAccount *account, const char *who, const char *html);
/* The typing notification the UI sends while the user types. */
void host_typing(PurpleAccount *account, const char *who, PurpleTypingState state);
/* Click the buddy-menu entry with this label (e.g. "Rekey now").  FALSE if
 * the buddy or the entry does not exist. */
gboolean host_menu_action(PurpleAccount *account, const char *who, const char *label);
/* Type "/cmdline" in the conversation with who.  Returns libpurple's
 * status; *error (may be NULL) gets its error text, caller frees. */
PurpleCmdStatus host_command(PurpleAccount *account, const char *who,
                             const char *cmdline, char **error);
/* Answer the next text-input dialog with text, or Cancel it when text is
 * NULL.  A fields dialog (e.g. "Set passphrase...") is answered too: text
 * goes in its first text field, its other fields keep their defaults.
 * Dialogs that come while no answer is armed stay open (see
 * HOST_EV_REQUEST). */
void host_answer_next_input(const char *text);
/* The same, also setting the fields dialog's boolean field bool_id (e.g.
 * "remember"; NULL: none) to value. */
void host_answer_next_fields(const char *text, const char *bool_id, gboolean value);
/* Answer, as host_answer_next_fields would have, a dialog that is open
 * now: the oldest whose title or primary text contains contains (NULL:
 * any).  FALSE if there is none. */
gboolean host_answer_open(const char *contains, const char *text, const char *bool_id,
                          gboolean value);
/* Dialogs open now, waiting for the user. */
guint host_open_requests(void);

/* ---- what a user sees: the event log ----------------------------------- */

typedef enum {
	HOST_EV_MESSAGE,        /* written in a conversation: flags, html, text */
	HOST_EV_SIGNED_ON,      /* our account signed on */
	HOST_EV_SIGNED_OFF,     /* our account signed off */
	HOST_EV_CONN_ERROR,     /* our account's connection failed: reason, text */
	HOST_EV_BUDDY_ON,       /* buddy-signed-on */
	HOST_EV_BUDDY_OFF,      /* buddy-signed-off */
	HOST_EV_BUDDY_STATUS,   /* buddy-status-changed: text = new status id */
	HOST_EV_TYPING,         /* buddy-typing */
	HOST_EV_TYPED,          /* buddy-typed */
	HOST_EV_TYPING_STOPPED, /* buddy-typing-stopped */
	HOST_EV_NOTIFY,         /* a notify dialog: title, primary, secondary, text */
	HOST_EV_REQUEST,        /* a text-input or fields dialog: title, primary,
	                         * secondary; flags 1 when an entry is masked;
	                         * a fields dialog's text lists its fields:
	                         * "id:masked:required" for text (never the
	                         * text itself), "id=0"/"id=1" for booleans */
	HOST_EV_GLIB_LOG,       /* a GLib warning or critical: title = domain */
	HOST_EV_LOOP_MISUSE     /* an fd watched after close, a bad source id */
} HostEventType;

typedef struct {
	guint seq;              /* position in the log, from 1 */
	HostEventType type;
	char *account;          /* our account's name; NULL when unknown */
	char *peer;             /* conversation or buddy name; NULL if none */
	PurpleMessageFlags flags;
	int reason;             /* HOST_EV_CONN_ERROR: PurpleConnectionError */
	char *title, *primary, *secondary;
	char *html;             /* a message as written; a notify's formatted text */
	char *text;             /* html made plain (entities, <br>) */
	gint64 time_ms;         /* monotonic */
} HostEvent;

/* The log position now: query events that come after it. */
guint host_mark(void);

/* The first event after since of this type for account (NULL: any), peer
 * (NULL: any), carrying all of flags, whose text (or a dialog's primary or
 * secondary text) contains contains (NULL: any); NULL if none. */
const HostEvent *host_find(guint since, HostEventType type, PurpleAccount *account,
                           const char *peer, PurpleMessageFlags flags, const char *contains);
/* The same, the last one. */
const HostEvent *host_find_last(guint since, HostEventType type, PurpleAccount *account,
                                const char *peer, PurpleMessageFlags flags,
                                const char *contains);
/* All of them, oldest first (the array is the caller's, its events not). */
GPtrArray *host_find_all(guint since, HostEventType type, PurpleAccount *account,
                         const char *peer, PurpleMessageFlags flags, const char *contains);
/* host_find, iterating the main loop for up to timeout_ms until it exists. */
const HostEvent *host_wait(guint since, HostEventType type, PurpleAccount *account,
                           const char *peer, PurpleMessageFlags flags, const char *contains,
                           guint timeout_ms);
/* Every event after since on stderr (for a failing test's diagnosis). */
void host_dump(guint since);
/* A test assertion: since `since`, nothing made GLib complain (a warning or
 * critical) and nothing misused the event loop; each offender is printed. */
void host_assert_clean(guint since);
const char *host_event_type_name(HostEventType type);

/* ---- what a user reads in them ------------------------------------------ */

/* Open "Session details..." for who and return the text it shows (HTML),
 * or NULL if no dialog came.  Caller frees. */
char *host_session_details(PurpleAccount *account, const char *who);
/* "Current epoch: N" in the details; -1 if absent. */
gint host_details_epoch(const char *details);
/* "Verification code: NNN NNN" in the details or in a message; NULL if
 * absent.  Caller frees. */
char *host_find_code(const char *text);
/* The epoch in the last "Session key rotated ... epoch N" notice in the
 * conversation with who after since; -1 if none. */
gint host_last_rekey_epoch(guint since, PurpleAccount *account, const char *who);

#endif
