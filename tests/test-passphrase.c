/*
 * test-passphrase.c - a buddy's own passphrase, remembered or not, end to
 * end in the headless libpurple host (host.c), driven as a Pidgin user
 * drives "Set passphrase..." and answers Parley's questions.
 *
 * Every case has alice, whose account passphrase is her own, and bob,
 * whose account passphrase is the one alice shares with him: a session
 * between them comes up only when alice uses the passphrase she set for
 * bob.  "Restart" is alice signing off and on: what is not remembered is
 * gone then, as after quitting Pidgin (the buddy list stays in memory, and
 * is what blist.xml is written from).  blist.xml is read as libpurple
 * writes it, some seconds after a change.
 *
 * Assertions are non-fatal so that one failing case does not hide the
 * others; a case stops at the first check whose failure would make the
 * rest meaningless.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <purple.h>

#include "host.h"

#include "under-valgrind.h"

#define ALICE_OWN   "alice's account passphrase"
#define SHARED      "what alice and bob share, 7314"
/* blist node settings (src/account.h), as they appear in blist.xml */
#define SETTING       "parley-passphrase"
#define NOT_REMEMBERED "parley-passphrase-not-remembered"

static guint scale = 1;
#define T_SESSION   (10000 * scale)   /* sign-on, handshakes with PBKDF2 */
#define T_MESSAGE   (5000 * scale)
#define T_BLIST     12000             /* libpurple writes blist.xml 5 s after a change */
#define T_QUIET     (1500 * scale)    /* to see that nothing more comes */

#define STOP_IF_FAILED() G_STMT_START { if (g_test_failed()) return; } G_STMT_END

/* ---- alice and bob -------------------------------------------------------- */

typedef struct {
	PurpleAccount *acct;
	char *name;
	char *addr;                 /* its buddy name at the other */
} Side;

typedef struct {
	Side s[2];
	guint mark;
} Pair;

#define A(f) (&(f)->s[0])
#define B(f) (&(f)->s[1])

static void
pair_setup(Pair *f, gconstpointer data)
{
	static guint n;
	const char *who[2] = { "alice", "bob" };
	const char *pass[2] = { ALICE_OWN, SHARED };
	int i;

	n++;
	f->mark = host_mark();
	for (i = 0; i < 2; i++) {
		f->s[i].name = g_strdup_printf("%s-pp%u", who[i], n);
		f->s[i].acct = host_account_new(f->s[i].name, pass[i], 0);
		f->s[i].addr = host_account_address(f->s[i].acct, FALSE);
	}
	for (i = 0; i < 2; i++)
		host_add_buddy(f->s[i].acct, f->s[1 - i].addr);
}

static void
pair_teardown(Pair *f, gconstpointer data)
{
	int k;

	for (k = 0; k < 2; k++)
		host_account_delete(f->s[k].acct);
	host_run_for(50);
	host_assert_clean(f->mark);
	if (g_test_failed())
		host_dump(f->mark);
	for (k = 0; k < 2; k++) {
		g_free(f->s[k].name);
		g_free(f->s[k].addr);
	}
}

#define PAIR_TEST(path, func) g_test_add(path, Pair, NULL, pair_setup, func, pair_teardown)

static PurpleBlistNode *
bob_at_alice(Pair *f)
{
	return (PurpleBlistNode *) purple_find_buddy(A(f)->acct, B(f)->addr);
}

/* s signs on and opens the conversation with other, as a user would. */
static gboolean
sign_on(Side *s, const Side *other)
{
	gboolean on = host_sign_on(s->acct, T_SESSION);

	g_assert_true(on);
	if (on)
		host_conv(s->acct, other->addr);
	return on;
}

/* The session is up on both sides and both talk about the same one. */
static gboolean
settled(gpointer data)
{
	Pair *f = data;
	char *da, *db, *ca, *cb;
	gboolean ok;

	if (!host_buddy_online(A(f)->acct, B(f)->addr) || !host_buddy_online(B(f)->acct, A(f)->addr))
		return FALSE;
	da = host_session_details(A(f)->acct, B(f)->addr);
	db = host_session_details(B(f)->acct, A(f)->addr);
	ca = host_find_code(da);
	cb = host_find_code(db);
	ok = ca != NULL && g_strcmp0(ca, cb) == 0;
	g_free(da);
	g_free(db);
	g_free(ca);
	g_free(cb);
	return ok;
}

/* from writes text; it arrives at to. */
static gboolean
delivered(const Side *from, const Side *to, const char *text)
{
	guint m = host_mark();

	host_send_im(from->acct, to->addr, text);
	return host_wait(m, HOST_EV_MESSAGE, to->acct, from->addr, PURPLE_MESSAGE_RECV, text,
	                 T_MESSAGE) != NULL;
}

/* The session alice and bob have works both ways.  Both dial: it is
 * checked once the duplicate connection is gone (PROTOCOL.md §9: two ends
 * of one connection left) and nothing is deriving, so that no late
 * session replaces it. */
static void
check_session(Pair *f)
{
	g_assert_true(host_run_until(settled, f, T_SESSION));
	g_assert_true(host_wait_settled(2, T_SESSION));
	STOP_IF_FAILED();
	g_assert_true(delivered(A(f), B(f), "from alice"));
	g_assert_true(delivered(B(f), A(f), "from bob"));
}

/* No handshake since `since` ran with a passphrase the peer does not share. */
static void
check_no_mismatch(guint since)
{
	g_assert_null(host_find(since, HOST_EV_MESSAGE, NULL, NULL, PURPLE_MESSAGE_ERROR,
	                        "do not match"));
	g_assert_null(host_find(since, HOST_EV_MESSAGE, NULL, NULL, PURPLE_MESSAGE_ERROR,
	                        "could not verify"));
}

/* ---- blist.xml ------------------------------------------------------------ */

typedef struct {
	const char *text;
	gboolean present;
} BlistWait;

static char *
blist_xml(void)
{
	char *path = g_build_filename(host_user_dir(), "blist.xml", NULL);
	char *xml = NULL;

	if (!g_file_get_contents(path, &xml, NULL, NULL))
		xml = g_strdup("");
	g_free(path);
	return xml;
}

static gboolean
blist_has(gpointer data)
{
	const BlistWait *w = data;
	char *xml = blist_xml();
	gboolean has = strstr(xml, w->text) != NULL;

	g_free(xml);
	return has == w->present;
}

/* Wait until blist.xml, as libpurple writes it, has (or lacks) text. */
static gboolean
blist_wait(const char *text, gboolean present)
{
	BlistWait w = { text, present };
	gint64 end = g_get_monotonic_time() + (gint64) T_BLIST * 1000;

	while (!blist_has(&w)) {
		if (g_get_monotonic_time() > end)
			return FALSE;
		host_run_for(200);
	}
	return TRUE;
}

/* ---- the dialogs ------------------------------------------------------ */

/* alice sets bob's passphrase in "Set passphrase...", ticking "Remember"
 * or not (remember < 0: leaving the box as it comes).  Returns the dialog
 * as it was shown. */
static const HostEvent *
set_passphrase(Pair *f, const char *text, int remember)
{
	guint m = host_mark();
	const HostEvent *req;

	if (remember < 0)
		host_answer_next_input(text);
	else
		host_answer_next_fields(text, "remember", remember != 0);
	g_assert_true(host_menu_action(A(f)->acct, B(f)->addr, "Set passphrase..."));
	req = host_find(m, HOST_EV_REQUEST, A(f)->acct, B(f)->addr, 0, NULL);
	g_assert_nonnull(req);
	if (req != NULL) {
		g_assert_cmpstr(req->title, ==, "Set passphrase");
		g_assert_cmpint(req->flags, ==, 1);         /* typed masked */
		g_assert_nonnull(strstr(req->text, "passphrase:masked"));
	}
	host_run_for(50);
	return req;
}

/* alice signs off and on again: Parley asks for bob's passphrase at once
 * (its dial needs it).  Returns the question, or NULL. */
static const HostEvent *
restart_alice(Pair *f)
{
	guint m = host_mark();
	const HostEvent *req;

	host_sign_off(A(f)->acct);
	if (!sign_on(A(f), B(f)))
		return NULL;
	req = host_wait(m, HOST_EV_REQUEST, A(f)->acct, B(f)->addr, 1, NULL, T_MESSAGE);
	g_assert_nonnull(req);
	if (req == NULL)
		return NULL;
	/* a question about bob, masked, and not remembered unless ticked */
	g_assert_nonnull(strstr(req->title, B(f)->addr));
	g_assert_nonnull(strstr(req->text, "passphrase:masked:required"));
	g_assert_nonnull(strstr(req->text, "remember=0"));
	return req;
}

/* ---- /passphrase/not-remembered ------------------------------------------- */

static void
test_not_remembered(Pair *f, gconstpointer data)
{
	const HostEvent *req;
	GPtrArray *asked;
	guint m;
	char *xml;

	if (!sign_on(A(f), B(f)))
		return;
	/* none stored yet: the box comes unticked, and alice leaves it so */
	req = set_passphrase(f, SHARED, -1);
	g_assert_nonnull(req != NULL ? strstr(req->text, "remember=0") : NULL);
	g_assert_null(purple_blist_node_get_string(bob_at_alice(f), SETTING));
	g_assert_true(purple_blist_node_get_bool(bob_at_alice(f), NOT_REMEMBERED));
	STOP_IF_FAILED();

	/* bob comes; the passphrase in memory is the one both use */
	if (!sign_on(B(f), A(f)))
		return;
	host_conv(B(f)->acct, A(f)->addr);
	check_session(f);
	check_no_mismatch(f->mark);
	STOP_IF_FAILED();
	/* blist.xml says "not remembered", and not the passphrase */
	g_assert_true(blist_wait(NOT_REMEMBERED, TRUE));
	xml = blist_xml();
	g_assert_null(strstr(xml, SHARED));
	g_free(xml);

	/* after a restart Parley asks, and runs no handshake with bob until
	 * then - not even when bob calls (he is told to come back) */
	m = host_mark();
	req = restart_alice(f);
	STOP_IF_FAILED();
	g_assert_nonnull(host_wait(m, HOST_EV_MESSAGE, A(f)->acct, B(f)->addr,
	                           PURPLE_MESSAGE_SYSTEM, "is calling", T_SESSION));
	g_assert_nonnull(host_wait(m, HOST_EV_MESSAGE, B(f)->acct, A(f)->addr,
	                           PURPLE_MESSAGE_ERROR, "refusing connections", T_SESSION));
	host_run_for(T_QUIET);
	g_assert_false(host_buddy_online(A(f)->acct, B(f)->addr));
	g_assert_false(host_buddy_online(B(f)->acct, A(f)->addr));
	check_no_mismatch(m);
	/* one question, however often bob calls */
	asked = host_find_all(m, HOST_EV_REQUEST, A(f)->acct, NULL, 0, NULL);
	g_assert_cmpuint(asked->len, ==, 1);
	g_ptr_array_unref(asked);
	g_assert_cmpuint(host_open_requests(), ==, 1);
	STOP_IF_FAILED();

	/* answered, the session comes up; still nothing in blist.xml */
	g_assert_true(host_answer_open(B(f)->addr, SHARED, NULL, FALSE));
	check_session(f);
	check_no_mismatch(m);
	g_assert_null(purple_blist_node_get_string(bob_at_alice(f), SETTING));
	xml = blist_xml();
	g_assert_null(strstr(xml, SHARED));
	g_free(xml);
}

/* ---- /passphrase/cancel ------------------------------------------------------ */

static void
test_cancel(Pair *f, gconstpointer data)
{
	guint m, after;

	if (!sign_on(A(f), B(f)))
		return;
	set_passphrase(f, SHARED, 0);
	if (!sign_on(B(f), A(f)))
		return;
	check_session(f);
	STOP_IF_FAILED();

	m = host_mark();
	restart_alice(f);
	STOP_IF_FAILED();
	g_assert_true(host_answer_open(B(f)->addr, NULL, NULL, FALSE));
	g_assert_nonnull(host_wait(m, HOST_EV_MESSAGE, A(f)->acct, B(f)->addr,
	                           PURPLE_MESSAGE_SYSTEM, "No passphrase given", T_MESSAGE));
	/* bob keeps calling: no session, no new question, no guessing */
	after = host_mark();
	host_run_for(T_QUIET);
	g_assert_nonnull(host_find(m, HOST_EV_MESSAGE, B(f)->acct, A(f)->addr,
	                           PURPLE_MESSAGE_ERROR, "refusing connections"));
	g_assert_false(host_buddy_online(A(f)->acct, B(f)->addr));
	g_assert_false(host_buddy_online(B(f)->acct, A(f)->addr));
	g_assert_null(host_find(after, HOST_EV_REQUEST, NULL, NULL, 0, NULL));
	g_assert_cmpuint(host_open_requests(), ==, 0);
	check_no_mismatch(m);
	STOP_IF_FAILED();

	/* alice writes to bob: asked again; answered, what she wrote arrives */
	after = host_mark();
	host_send_im(A(f)->acct, B(f)->addr, "written after the cancel");
	g_assert_nonnull(host_wait(after, HOST_EV_REQUEST, A(f)->acct, B(f)->addr, 1, NULL,
	                           T_MESSAGE));
	STOP_IF_FAILED();
	g_assert_true(host_answer_open(B(f)->addr, SHARED, NULL, FALSE));
	g_assert_nonnull(host_wait(after, HOST_EV_MESSAGE, B(f)->acct, A(f)->addr,
	                           PURPLE_MESSAGE_RECV, "written after the cancel", T_SESSION));
	check_session(f);
	check_no_mismatch(m);
}

/* ---- /passphrase/remembered ---------------------------------------------------- */

static void
test_remembered(Pair *f, gconstpointer data)
{
	const HostEvent *req;
	guint m;

	if (!sign_on(A(f), B(f)))
		return;
	set_passphrase(f, SHARED, 1);
	/* stored as Parley always stored it */
	g_assert_cmpstr(purple_blist_node_get_string(bob_at_alice(f), SETTING), ==, SHARED);
	g_assert_false(purple_blist_node_get_bool(bob_at_alice(f), NOT_REMEMBERED));
	if (!sign_on(B(f), A(f)))
		return;
	check_session(f);
	g_assert_true(blist_wait(SHARED, TRUE));
	STOP_IF_FAILED();

	/* the dialog shows it remembered; Cancel changes nothing */
	req = set_passphrase(f, NULL, -1);
	g_assert_nonnull(req != NULL ? strstr(req->text, "remember=1") : NULL);
	g_assert_cmpstr(purple_blist_node_get_string(bob_at_alice(f), SETTING), ==, SHARED);

	/* after a restart nothing is asked */
	m = host_mark();
	host_sign_off(A(f)->acct);
	if (!sign_on(A(f), B(f)))
		return;
	check_session(f);
	g_assert_null(host_find(m, HOST_EV_REQUEST, NULL, NULL, 0, NULL));
	check_no_mismatch(f->mark);
}

/* ---- /passphrase/stored-before ----------------------------------------------------- */

static void
test_stored_before(Pair *f, gconstpointer data)
{
	guint m, after;

	/* as an earlier Parley left it in blist.xml */
	purple_blist_node_set_string(bob_at_alice(f), SETTING, SHARED);
	if (!sign_on(A(f), B(f)) || !sign_on(B(f), A(f)))
		return;
	check_session(f);
	g_assert_null(host_find(f->mark, HOST_EV_REQUEST, NULL, NULL, 0, NULL));
	check_no_mismatch(f->mark);
	g_assert_true(blist_wait(SHARED, TRUE));
	STOP_IF_FAILED();

	/* alice unticks "Remember" and keeps the passphrase: it leaves
	 * blist.xml, and the session goes on (the passphrase is the same) */
	m = host_mark();
	set_passphrase(f, SHARED, 0);
	g_assert_null(purple_blist_node_get_string(bob_at_alice(f), SETTING));
	g_assert_true(purple_blist_node_get_bool(bob_at_alice(f), NOT_REMEMBERED));
	g_assert_true(blist_wait(NOT_REMEMBERED, TRUE));
	g_assert_true(blist_wait(SHARED, FALSE));
	g_assert_true(settled(f));
	g_assert_null(host_find(m, HOST_EV_MESSAGE, A(f)->acct, B(f)->addr, 0, "established"));
	g_assert_true(delivered(A(f), B(f), "same session"));

	/* cleared, alice uses her account's passphrase again, asks nothing,
	 * and no longer reaches bob */
	m = host_mark();
	set_passphrase(f, "", -1);
	after = host_mark();
	g_assert_false(purple_blist_node_get_bool(bob_at_alice(f), NOT_REMEMBERED));
	g_assert_nonnull(host_wait(m, HOST_EV_MESSAGE, A(f)->acct, B(f)->addr,
	                           PURPLE_MESSAGE_ERROR, "do not match", T_SESSION));
	g_assert_null(host_find(after, HOST_EV_REQUEST, NULL, NULL, 0, NULL));
}

/* ---- main ---------------------------------------------------------------------- */

int
main(int argc, char **argv)
{
	GError *error = NULL;
	int rc;

	g_test_init(&argc, &argv, NULL);
	g_test_set_nonfatal_assertions();
	/* the host records warnings; every case checks that none came */
	g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_ERROR);
	if (UNDER_VALGRIND())
		scale = 30;
	g_setenv("PARLEY_TEST_RETRY_MS", "200", FALSE);

	if (!host_init(&error)) {
		g_printerr("# cannot start the libpurple host: %s\n", error->message);
		printf("Bail out! %s\n", error->message);
		g_error_free(error);
		return 1;
	}
	host_save_blist();
	PAIR_TEST("/passphrase/not-remembered", test_not_remembered);
	PAIR_TEST("/passphrase/cancel", test_cancel);
	PAIR_TEST("/passphrase/remembered", test_remembered);
	PAIR_TEST("/passphrase/stored-before", test_stored_before);

	rc = g_test_run();
	host_shutdown();
	return rc;
}
