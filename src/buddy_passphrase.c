/*
 * buddy_passphrase.c - a buddy's own passphrase: remembered in blist.xml,
 * or held in secure memory for this run and asked for after sign-on (see
 * buddy_passphrase.h).
 *
 * Both dialogs are purple_request_fields with a masked text field and a
 * "Remember this passphrase" box, as libpurple's own password prompt has:
 * Pidgin and Finch render them alike.  A dialog's callbacks run once, from
 * the main loop after purple_request_fields() has returned (as Pidgin's
 * and Finch's do); one this module closes itself (sign-off, buddy removed,
 * an answer that makes it moot) calls neither, so each open dialog is kept
 * in a list and freed by whoever ends it.
 */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "account.h"
#include "buddy_passphrase.h"
#include "crypto.h"

/* field ids of both dialogs */
#define FIELD_PASSPHRASE "passphrase"
#define FIELD_REMEMBER   "remember"

/* What is held for one buddy of one account, for this run only. */
typedef struct {
	char *pass;                 /* NFC UTF-8, NUL-terminated, in secure
	                             * memory; NULL when none was given */
	size_t size;                /* bytes allocated for pass */
	gboolean declined;          /* the user cancelled the question: not
	                             * asked again until _retry */
} Held;

/* An open dialog (this module's; freed by the callback that ends it or by
 * dialog_close). */
typedef struct {
	PurpleAccount *account;
	char *who;
	gboolean ask;               /* a session asked for it (not the menu) */
	gboolean told_calling;      /* "is calling" said for this one */
	PurpleRequestFields *fields;
	void *ui;                   /* purple_request_fields()'s handle */
} Dialog;

/* PurpleAccount* -> GHashTable (buddy name -> Held*) */
static GHashTable *held;
static GList *dialogs;          /* Dialog*, open */

/* ---- what is held in memory ------------------------------------------- */

static void
held_clear_pass(Held *h)
{
	parley_secure_free(h->pass, h->size);
	h->pass = NULL;
	h->size = 0;
}

static void
held_free(gpointer data)
{
	Held *h = data;

	held_clear_pass(h);
	g_free(h);
}

static Held *
held_get(PurpleAccount *account, const char *who, gboolean create)
{
	GHashTable *t;
	Held *h;

	if (held == NULL) {
		if (!create)
			return NULL;
		held = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
		                             (GDestroyNotify) g_hash_table_destroy);
	}
	t = g_hash_table_lookup(held, account);
	if (t == NULL) {
		if (!create)
			return NULL;
		t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, held_free);
		g_hash_table_insert(held, account, t);
	}
	h = g_hash_table_lookup(t, who);
	if (h == NULL && create) {
		h = g_new0(Held, 1);
		g_hash_table_insert(t, g_strdup(who), h);
	}
	return h;
}

static void
held_set_pass(PurpleAccount *account, const char *who, const char *norm)
{
	Held *h = held_get(account, who, TRUE);
	size_t len = strlen(norm);

	held_clear_pass(h);
	h->size = len + 1;
	h->pass = parley_secure_alloc(h->size);
	memcpy(h->pass, norm, h->size);
}

/* ---- the buddy's own passphrase ---------------------------------------- */

static const char *
stored_pass(PurpleBuddy *b)
{
	const char *s = purple_blist_node_get_string((PurpleBlistNode *) b, PARLEY_BUDDY_PASSPHRASE);

	return s != NULL && *s != '\0' ? s : NULL;
}

static gboolean
not_remembered(PurpleBuddy *b)
{
	return purple_blist_node_get_bool((PurpleBlistNode *) b,
	                                  PARLEY_BUDDY_PASSPHRASE_NOT_REMEMBERED);
}

/* The buddy's own passphrase as Parley has it now (given for this run,
 * else remembered), or NULL. */
static const char *
own_current(PurpleBuddy *b)
{
	Held *h = held_get(purple_buddy_get_account(b), purple_buddy_get_name(b), FALSE);

	if (h != NULL && h->pass != NULL)
		return h->pass;
	return stored_pass(b);
}

/* Keep text as the buddy's own passphrase (§3: NFC), remembered in the
 * buddy list or held for this run only, and mark which.  FALSE (nothing
 * changed) if it is not valid text; *changed says whether the passphrase
 * used with the buddy is another one now. */
static gboolean
own_set(PurpleBuddy *b, const char *text, gboolean remember, gboolean *changed)
{
	PurpleAccount *account = purple_buddy_get_account(b);
	const char *who = purple_buddy_get_name(b);
	PurpleBlistNode *node = (PurpleBlistNode *) b;
	Held *h = held_get(account, who, FALSE);
	const char *before;
	char *norm;

	*changed = FALSE;
	if (!g_utf8_validate(text, -1, NULL))
		return FALSE;
	norm = g_utf8_normalize(text, -1, G_NORMALIZE_NFC);
	if (norm == NULL)
		return FALSE;
	before = own_current(b);
	*changed = before == NULL || strcmp(before, norm) != 0;
	if (remember) {
		if (h != NULL)
			held_clear_pass(h);
		purple_blist_node_set_string(node, PARLEY_BUDDY_PASSPHRASE, norm);
		purple_blist_node_remove_setting(node, PARLEY_BUDDY_PASSPHRASE_NOT_REMEMBERED);
	} else {
		held_set_pass(account, who, norm);
		/* out of blist.xml (at its next save); the flag is no secret */
		purple_blist_node_remove_setting(node, PARLEY_BUDDY_PASSPHRASE);
		purple_blist_node_set_bool(node, PARLEY_BUDDY_PASSPHRASE_NOT_REMEMBERED, TRUE);
	}
	parley_wipe(norm, strlen(norm));
	g_free(norm);
	return TRUE;
}

/* Back to the account's passphrase.  Returns whether the buddy had one of
 * its own (or was waiting for it). */
static gboolean
own_clear(PurpleBuddy *b)
{
	PurpleBlistNode *node = (PurpleBlistNode *) b;
	Held *h = held_get(purple_buddy_get_account(b), purple_buddy_get_name(b), FALSE);
	gboolean had = own_current(b) != NULL || not_remembered(b);

	if (h != NULL)
		held_clear_pass(h);
	purple_blist_node_remove_setting(node, PARLEY_BUDDY_PASSPHRASE);
	purple_blist_node_remove_setting(node, PARLEY_BUDDY_PASSPHRASE_NOT_REMEMBERED);
	return had;
}

const char *
parley_buddy_passphrase_get(PurpleAccount *account, const char *who)
{
	PurpleBuddy *b = who != NULL ? purple_find_buddy(account, who) : NULL;
	const char *own;

	if (b == NULL)
		return purple_account_get_password(account);
	own = own_current(b);
	if (own != NULL)
		return own;
	/* its own, not given since sign-on: never the account's instead */
	if (not_remembered(b))
		return NULL;
	return purple_account_get_password(account);
}

/* ---- dialogs ------------------------------------------------------------- */

/* How a dialog names the buddy: its alias, and the address it is for. */
static char *
buddy_title(PurpleAccount *account, const char *who)
{
	PurpleBuddy *b = purple_find_buddy(account, who);
	const char *alias = b != NULL ? purple_buddy_get_alias(b) : NULL;

	if (alias == NULL || strcmp(alias, who) == 0)
		return g_strdup(who);
	return g_strdup_printf("%s (%s)", alias, who);
}

/* How the conversation names it (as account.c does). */
static const char *
buddy_display(PurpleAccount *account, const char *who)
{
	PurpleBuddy *b = purple_find_buddy(account, who);

	return b != NULL ? purple_buddy_get_alias(b) : who;
}

/* The text field's copies of a passphrase are libpurple's: wipe them
 * before the UI frees them. */
static void
fields_wipe(PurpleRequestFields *fields)
{
	PurpleRequestField *f = purple_request_fields_get_field(fields, FIELD_PASSPHRASE);
	const char *s;

	if (f == NULL)
		return;
	s = purple_request_field_string_get_value(f);
	if (s != NULL)
		parley_wipe((char *) s, strlen(s));
	s = purple_request_field_string_get_default_value(f);
	if (s != NULL)
		parley_wipe((char *) s, strlen(s));
}

static PurpleRequestFields *
fields_new(const char *pass, gboolean required, gboolean remember)
{
	PurpleRequestFields *fields = purple_request_fields_new();
	PurpleRequestFieldGroup *group = purple_request_field_group_new(NULL);
	PurpleRequestField *f;

	purple_request_fields_add_group(fields, group);
	f = purple_request_field_string_new(FIELD_PASSPHRASE, _("Passphrase"), pass, FALSE);
	purple_request_field_string_set_masked(f, TRUE);
	purple_request_field_set_required(f, required);
	purple_request_field_group_add_field(group, f);
	f = purple_request_field_bool_new(FIELD_REMEMBER, _("Remember this passphrase"), remember);
	purple_request_field_group_add_field(group, f);
	return fields;
}

static void
dialog_free(Dialog *d)
{
	dialogs = g_list_remove(dialogs, d);
	g_free(d->who);
	g_free(d);
}

/* Close a dialog without an answer (neither callback runs). */
static void
dialog_close(Dialog *d)
{
	dialogs = g_list_remove(dialogs, d);
	fields_wipe(d->fields);
	purple_request_close(PURPLE_REQUEST_FIELDS, d->ui);
	dialog_free(d);
}

static Dialog *
dialog_find(PurpleAccount *account, const char *who, gboolean ask)
{
	GList *l;

	for (l = dialogs; l != NULL; l = l->next) {
		Dialog *d = l->data;

		if (d->account == account && d->ask == ask && strcmp(d->who, who) == 0)
			return d;
	}
	return NULL;
}

/* Close this account's dialogs (who NULL: all of them). */
static void
dialogs_close(PurpleAccount *account, const char *who, gboolean only_ask)
{
	GList *l, *next;

	for (l = dialogs; l != NULL; l = next) {
		Dialog *d = l->data;

		next = l->next;
		if ((account == NULL || d->account == account) &&
		    (who == NULL || strcmp(d->who, who) == 0) && (!only_ask || d->ask))
			dialog_close(d);
	}
}

/* Open a fields dialog for the buddy; NULL (fields freed) if this UI
 * cannot show one. */
static Dialog *
dialog_open(PurpleAccount *account, const char *who, gboolean ask, const char *title,
            const char *primary, const char *secondary, PurpleRequestFields *fields,
            const char *ok_text, GCallback ok_cb, GCallback cancel_cb)
{
	PurpleRequestUiOps *ops = purple_request_get_ui_ops();
	Dialog *d;

	if (ops == NULL || ops->request_fields == NULL) {
		fields_wipe(fields);
		purple_request_fields_destroy(fields);
		return NULL;
	}
	d = g_new0(Dialog, 1);
	d->account = account;
	d->who = g_strdup(who);
	d->ask = ask;
	d->fields = fields;
	dialogs = g_list_prepend(dialogs, d);
	d->ui = purple_request_fields(purple_account_get_connection(account), title, primary,
		secondary, fields, ok_text, ok_cb, _("_Cancel"), cancel_cb, account, who,
		purple_find_conversation_with_account(PURPLE_CONV_TYPE_IM, who, account), d);
	if (d->ui == NULL) {
		/* the UI kept nothing open: nothing will call back */
		dialog_free(d);
		return NULL;
	}
	return d;
}

/* ---- asking, when a session needs it ------------------------------------ */

/* No passphrase given: no session with the buddy until the user writes
 * to it or reconnects (or signs on again). */
static void
decline(PurpleAccount *account, const char *who)
{
	char *text;

	held_get(account, who, TRUE)->declined = TRUE;
	text = g_strdup_printf(_("No passphrase given, so no secure session with %s. To be "
	                         "asked again, write a message or choose Reconnect in the "
	                         "buddy's menu."), buddy_display(account, who));
	parley_conv_notice(account, who, TRUE, PURPLE_MESSAGE_SYSTEM, text);
	g_free(text);
}

static void
ask_ok_cb(Dialog *d, PurpleRequestFields *fields)
{
	const char *text = purple_request_fields_get_string(fields, FIELD_PASSPHRASE);
	gboolean remember = purple_request_fields_get_bool(fields, FIELD_REMEMBER);
	PurpleBuddy *b = purple_find_buddy(d->account, d->who);
	gboolean changed, ok = FALSE;

	dialogs = g_list_remove(dialogs, d);
	/* the field is required: Pidgin and Finch give no empty answer */
	if (b != NULL && text != NULL && *text != '\0') {
		ok = own_set(b, text, remember, &changed);
		if (!ok)
			purple_notify_error(purple_account_get_connection(d->account),
			                    _("Set passphrase"), _("The passphrase is not valid text."),
			                    NULL);
	}
	fields_wipe(fields);
	if (!ok) {
		decline(d->account, d->who);
	} else {
		held_get(d->account, d->who, TRUE)->declined = FALSE;
		/* dial it, as a reconnect does (callers we turned away call back) */
		parley_account_passphrase_changed(d->account, d->who);
	}
	dialog_free(d);
}

static void
ask_cancel_cb(Dialog *d, PurpleRequestFields *fields)
{
	dialogs = g_list_remove(dialogs, d);
	fields_wipe(fields);
	decline(d->account, d->who);
	dialog_free(d);
}

static Dialog *
ask(PurpleAccount *account, const char *who)
{
	char *name = buddy_title(account, who);
	char *title = g_strdup_printf(_("Passphrase for %s"), name);
	char *primary = g_strdup_printf(_("Enter the passphrase you share with %s"), name);
	Dialog *d;

	purple_debug_info(PARLEY_DEBUG, "a buddy's own passphrase is not remembered: "
	                  "asking for it\n");
	d = dialog_open(account, who, TRUE, title, primary,
		_("This buddy has its own passphrase, which Parley does not remember. Until you "
		  "enter it, there is no secure session with this buddy."),
		fields_new(NULL, TRUE, FALSE), _("_OK"), G_CALLBACK(ask_ok_cb),
		G_CALLBACK(ask_cancel_cb));
	g_free(name);
	g_free(title);
	g_free(primary);
	return d;
}

void
parley_buddy_passphrase_needed(PurpleAccount *account, const char *who, gboolean calling)
{
	Dialog *d;
	Held *h;

	g_return_if_fail(account != NULL && who != NULL);
	d = dialog_find(account, who, TRUE);
	h = held_get(account, who, FALSE);
	if (d == NULL && h != NULL && h->declined) {
		purple_debug_info(PARLEY_DEBUG, "a buddy's passphrase was not given: %s\n",
		                  calling ? "its call is turned away" : "not dialling");
		return;
	}
	if (d == NULL) {
		d = ask(account, who);
		if (d == NULL) {
			/* a UI with no dialogs: as if cancelled */
			decline(account, who);
			return;
		}
	}
	if (calling && !d->told_calling) {
		char *text = g_strdup_printf(_("%s is calling. Enter the passphrase you share in "
		                               "the window that asks for it, and Parley will "
		                               "connect."), buddy_display(account, who));

		parley_conv_notice(account, who, FALSE, PURPLE_MESSAGE_SYSTEM, text);
		g_free(text);
		d->told_calling = TRUE;
	}
}

void
parley_buddy_passphrase_retry(PurpleAccount *account, const char *who)
{
	Held *h = held_get(account, who, FALSE);

	if (h != NULL)
		h->declined = FALSE;
}

/* ---- "Set passphrase..." ------------------------------------------------- */

static void
set_ok_cb(Dialog *d, PurpleRequestFields *fields)
{
	const char *text = purple_request_fields_get_string(fields, FIELD_PASSPHRASE);
	gboolean remember = purple_request_fields_get_bool(fields, FIELD_REMEMBER);
	PurpleBuddy *b = purple_find_buddy(d->account, d->who);
	gboolean changed = FALSE;
	Held *h;

	dialogs = g_list_remove(dialogs, d);
	if (b == NULL) {
		fields_wipe(fields);
		dialog_free(d);
		return;
	}
	if (text == NULL || *text == '\0') {
		changed = own_clear(b);
	} else if (!own_set(b, text, remember, &changed)) {
		fields_wipe(fields);
		purple_notify_error(purple_account_get_connection(d->account), _("Set passphrase"),
		                    _("The passphrase is not valid text."), NULL);
		dialog_free(d);
		return;
	}
	fields_wipe(fields);
	/* a question for it is answered, and a Cancel of one undone */
	dialogs_close(d->account, d->who, TRUE);
	h = held_get(d->account, d->who, FALSE);
	if (h != NULL)
		h->declined = FALSE;
	/* only "remember" changed: the sessions go on */
	if (changed)
		parley_account_passphrase_changed(d->account, d->who);
	dialog_free(d);
}

static void
set_cancel_cb(Dialog *d, PurpleRequestFields *fields)
{
	dialogs = g_list_remove(dialogs, d);
	fields_wipe(fields);
	dialog_free(d);
}

void
parley_buddy_passphrase_dialog(PurpleBuddy *b)
{
	PurpleAccount *account = purple_buddy_get_account(b);
	const char *who = purple_buddy_get_name(b);
	Held *h = held_get(account, who, FALSE);
	const char *own = own_current(b);
	/* the box shows how it is kept now; a new one is not remembered unless
	 * the user ticks it, as libpurple's own password prompt does */
	gboolean remember = own != NULL && (h == NULL || h->pass == NULL);
	char *name = buddy_title(account, who);
	char *primary = g_strdup_printf(_("Passphrase for %s"), name);
	GString *secondary = g_string_new(_("Parley uses this passphrase with this peer instead "
	                                    "of the account's. Leave it empty to use the "
	                                    "account's passphrase again."));

	g_string_append(secondary, "\n\n");
	g_string_append(secondary, _("A remembered passphrase is kept in the buddy list file "
	                             "(blist.xml) in clear text. One that is not remembered is "
	                             "kept in memory only, and Parley asks for it again after "
	                             "you sign on."));
	if (own == NULL && not_remembered(b)) {
		g_string_append(secondary, "\n\n");
		g_string_append(secondary, _("This buddy has its own passphrase, not remembered, "
		                             "and it has not been entered since you signed on."));
	}
	dialog_open(account, who, FALSE, _("Set passphrase"), primary, secondary->str,
	            fields_new(own, FALSE, remember), _("_Set"), G_CALLBACK(set_ok_cb),
	            G_CALLBACK(set_cancel_cb));
	g_free(name);
	g_free(primary);
	g_string_free(secondary, TRUE);
}

/* ---- forgetting ------------------------------------------------------- */

void
parley_buddy_passphrase_forget(PurpleAccount *account, const char *who)
{
	GHashTable *t = held != NULL ? g_hash_table_lookup(held, account) : NULL;

	dialogs_close(account, who, FALSE);
	if (t != NULL)
		g_hash_table_remove(t, who);
}

void
parley_buddy_passphrase_forget_account(PurpleAccount *account)
{
	dialogs_close(account, NULL, FALSE);
	if (held != NULL)
		g_hash_table_remove(held, account);
}

void
parley_buddy_passphrase_shutdown(void)
{
	dialogs_close(NULL, NULL, FALSE);
	if (held != NULL)
		g_hash_table_destroy(held);
	held = NULL;
}
