/*
 * test-plugin.c - the Parley plugins end to end, in a headless libpurple
 * host (host.c): accounts on 127.0.0.1 (and [::1]) with ephemeral ports,
 * driven as a user drives Pidgin, checked by what a user would see.
 *
 * Every case makes its own accounts (fresh names, ports, salts and
 * online-guessing counters) and deletes them.  Assertions are non-fatal so
 * that one failing case does not hide the others; a case stops at the
 * first check whose failure would make the rest meaningless.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <glib.h>
#include <purple.h>

#include "constants.h"
#include "host.h"

#include "under-valgrind.h"

#define PASSPHRASE "correct horse battery staple"
#define PREFS "/plugins/core/parley"

/* Waits, in ms; valgrind runs PBKDF2 some 30 times slower. */
static guint scale = 1;
/* the log when libpurple had loaded the plugins */
static guint init_end;
#define T_SESSION   (10000 * scale)   /* sign-on, handshakes with PBKDF2 */
#define T_MESSAGE   (5000 * scale)
#define T_QUIET     (300 * scale)     /* to see that nothing more comes */

/* Stop the case when an earlier check failed (assertions are non-fatal). */
#define STOP_IF_FAILED() G_STMT_START { if (g_test_failed()) return; } G_STMT_END

/* ---- a pair of accounts that are each other's buddies -------------------- */

typedef struct {
	PurpleAccount *acct;
	char *name;                 /* the account name: what the peer is told */
	char *addr;                 /* its address: its buddy name at the peer */
} Side;

typedef struct {
	Side s[2];
	guint mark;                 /* the log when the case began */
	gboolean ready;             /* the setup reached what the case needs */
} Pair;

typedef struct {
	const char *pass[2];        /* NULL: PASSPHRASE */
	gboolean ipv6;
	gboolean no_convs;          /* no conversation windows open */
	gboolean no_session;        /* do not wait for a session */
	gboolean only_first;        /* sign on the first account only */
} PairOpts;

#define A(f) (&(f)->s[0])
#define B(f) (&(f)->s[1])

typedef struct {
	Pair *f;
} Settle;

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

/* An error shown since `since` other than "refusing connections" (ERROR 4):
 * that one passes, the plugin tries again.  Both accounts of a pair share
 * this process's two PBKDF2 workers, so when PBKDF2 is slow (valgrind) a
 * responder may find both busy with the initiators' work. */
static const HostEvent *
lasting_error(guint since)
{
	GPtrArray *all = host_find_all(since, HOST_EV_MESSAGE, NULL, NULL, PURPLE_MESSAGE_ERROR,
	                               NULL);
	const HostEvent *found = NULL;
	guint i;

	for (i = 0; i < all->len && found == NULL; i++) {
		const HostEvent *ev = g_ptr_array_index(all, i);

		if (strstr(ev->text, "refusing connections") == NULL)
			found = ev;
	}
	g_ptr_array_unref(all);
	return found;
}

/* Settled, or an error shown on either side: no use waiting longer. */
static gboolean
settled_or_error(gpointer data)
{
	Pair *f = data;

	return lasting_error(f->mark) != NULL || settled(f);
}

static void
pair_setup(Pair *f, gconstpointer data)
{
	static const PairOpts defaults = { { NULL, NULL } };
	static guint n;
	const PairOpts *o = data != NULL ? data : &defaults;
	const char *who[2] = { "alice", "bob" };
	int i;

	if (o->ipv6 && !host_have_ipv6()) {
		g_test_skip("[::1] is not usable on this machine");
		return;
	}
	n++;
	f->mark = host_mark();
	for (i = 0; i < 2; i++) {
		f->s[i].name = g_strdup_printf("%s-%u", who[i], n);
		f->s[i].acct = host_account_new(f->s[i].name,
		                                 o->pass[i] != NULL ? o->pass[i] : PASSPHRASE, 0);
		f->s[i].addr = host_account_address(f->s[i].acct, o->ipv6);
	}
	for (i = 0; i < 2; i++)
		host_add_buddy(f->s[i].acct, f->s[1 - i].addr);
	for (i = 0; i < (o->only_first ? 1 : 2); i++) {
		gboolean on = host_sign_on(f->s[i].acct, T_SESSION);

		g_assert_true(on);
		if (!on) {
			host_dump(f->mark);
			return;
		}
		/* the user opens the window at once (libpurple 2 has conversations
		 * only for accounts that are signed on); PBKDF2 takes longer */
		if (!o->no_convs)
			host_conv(f->s[i].acct, f->s[1 - i].addr);
	}
	if (o->no_session || o->only_first) {
		f->ready = TRUE;
		return;
	}
	host_run_until(settled_or_error, f, T_SESSION);
	f->ready = settled(f);
	g_assert_true(f->ready);
	if (!f->ready) {
		host_dump(f->mark);
		return;
	}
	/* both dialled: the case starts once the duplicate connection is gone
	 * (one is left, PROTOCOL.md §9: the plugin holds its two ends) and no
	 * PBKDF2 is under way, so no late session can replace the one the case
	 * uses.  How long that takes depends on the machine: under ASan on a
	 * busy one the duplicate's session came 343 ms after the first. */
	f->ready = host_wait_settled(2, T_SESSION);
	g_assert_true(f->ready);
	if (!f->ready)
		host_dump(f->mark);
}

static void
pair_teardown(Pair *f, gconstpointer data)
{
	int k;

	for (k = 0; k < 2; k++) {
		if (f->s[k].acct != NULL)
			host_account_delete(f->s[k].acct);
	}
	host_run_for(50);
	/* nothing in the case made GLib complain or misused the loop */
	host_assert_clean(f->mark);
	if (g_test_failed())
		host_dump(f->mark);
	for (k = 0; k < 2; k++) {
		g_free(f->s[k].name);
		g_free(f->s[k].addr);
	}
}

#define PAIR_TEST(path, func, opts) \
	g_test_add(path, Pair, opts, pair_setup, func, pair_teardown)

/* ---- helpers ---------------------------------------------------------- */

/* Messages `to` received from `from` after since, with this exact text. */
static guint
received(guint since, const Side *to, const Side *from, const char *text)
{
	GPtrArray *all = host_find_all(since, HOST_EV_MESSAGE, to->acct, from->addr,
	                               PURPLE_MESSAGE_RECV, NULL);
	guint i, n = 0;

	for (i = 0; i < all->len; i++) {
		const HostEvent *ev = g_ptr_array_index(all, i);

		if (text == NULL || g_strcmp0(ev->text, text) == 0)
			n++;
	}
	g_ptr_array_unref(all);
	return n;
}

/* from sends text (as Pidgin does); wait until `to` shows a message from
 * it and return that message. */
static const HostEvent *
send_and_wait(const Side *from, const Side *to, const char *text)
{
	guint m = host_mark();

	host_send_im(from->acct, to->addr, text);
	return host_wait(m, HOST_EV_MESSAGE, to->acct, from->addr, PURPLE_MESSAGE_RECV, NULL,
	                 T_MESSAGE);
}

/* A short message both ways, so that everything sent before has arrived
 * (TCP keeps the order). */
static void
flush_both_ways(Pair *f)
{
	const HostEvent *ev;

	ev = send_and_wait(A(f), B(f), "sync a");
	g_assert_nonnull(ev);
	ev = send_and_wait(B(f), A(f), "sync b");
	g_assert_nonnull(ev);
}

/* text goes from `from` to `to` and arrives exactly as sent, exactly once. */
static void
check_exact(const Side *from, const Side *to, const char *text)
{
	guint m = host_mark();
	const HostEvent *ev = send_and_wait(from, to, text);

	g_assert_nonnull(ev);
	STOP_IF_FAILED();
	g_assert_cmpuint(strlen(ev->text), ==, strlen(text));
	g_assert_cmpstr(ev->text, ==, text);
	/* the sender sees what it sent, once */
	g_assert_nonnull(host_find(m, HOST_EV_MESSAGE, from->acct, to->addr,
	                           PURPLE_MESSAGE_SEND, NULL));
	g_assert_null(host_find(m, HOST_EV_MESSAGE, from->acct, to->addr,
	                        PURPLE_MESSAGE_ERROR, NULL));
	/* and a later message comes after it, with no repeat in between */
	ev = send_and_wait(from, to, "-- after --");
	g_assert_nonnull(ev);
	g_assert_cmpstr(ev != NULL ? ev->text : NULL, ==, "-- after --");
	g_assert_cmpuint(received(m, to, from, text), ==, 1);
	g_assert_cmpuint(received(m, to, from, NULL), ==, 2);
}

static gint
details_epoch(const Side *side, const Side *peer)
{
	char *d = host_session_details(side->acct, peer->addr);
	gint e = host_details_epoch(d);

	g_free(d);
	return e;
}

static char *
details_code(const Side *side, const Side *peer)
{
	char *d = host_session_details(side->acct, peer->addr);
	char *c = host_find_code(d);

	g_free(d);
	return c;
}

/* Both sides announce the rekey to `epoch`, the asker as "asked by you",
 * the other naming the asker; both then send under it. */
static void
check_rekeyed(Pair *f, guint since, const Side *asker, const Side *other, gint epoch)
{
	char *mine = g_strdup_printf("asked by you); epoch %d.", epoch);
	char *theirs = g_strdup_printf("asked by %s); epoch %d.", asker->name, epoch);

	g_assert_nonnull(host_wait(since, HOST_EV_MESSAGE, asker->acct, other->addr,
	                           PURPLE_MESSAGE_SYSTEM, mine, T_MESSAGE));
	g_assert_nonnull(host_wait(since, HOST_EV_MESSAGE, other->acct, asker->addr,
	                           PURPLE_MESSAGE_SYSTEM, theirs, T_MESSAGE));
	g_free(mine);
	g_free(theirs);
	STOP_IF_FAILED();
	g_assert_cmpint(host_last_rekey_epoch(since, asker->acct, other->addr), ==, epoch);
	g_assert_cmpint(host_last_rekey_epoch(since, other->acct, asker->addr), ==, epoch);
	g_assert_cmpint(details_epoch(asker, other), ==, epoch);
	g_assert_cmpint(details_epoch(other, asker), ==, epoch);
}

/* ---- /plugin/sign-on -------------------------------------------------------- */

static gboolean
tcp_connects(const char *ip, int family, guint16 port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = socket(family, SOCK_STREAM, 0);
	gboolean ok;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *) &ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		inet_pton(AF_INET6, ip, &s6->sin6_addr);
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *) &ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		inet_pton(AF_INET, ip, &s4->sin_addr);
		len = sizeof(*s4);
	}
	ok = fd >= 0 && connect(fd, (struct sockaddr *) &ss, len) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static void
test_sign_on(void)
{
	guint m = host_mark();
	PurpleAccount *a = host_account_new("sign-on-1", PASSPHRASE, 0);
	PurpleAccount *b;
	const HostEvent *ev;

	/* libpurple loaded the plugins without a complaint */
	ev = host_find(0, HOST_EV_GLIB_LOG, NULL, NULL, 0, NULL);
	if (ev != NULL && ev->seq <= init_end)
		g_test_message("while loading the plugins: %s", ev->text);
	g_assert_true(ev == NULL || ev->seq > init_end);

	g_assert_true(host_sign_on(a, T_SESSION));
	g_assert_nonnull(host_find(m, HOST_EV_SIGNED_ON, a, NULL, 0, NULL));
	g_assert_null(host_find(m, HOST_EV_CONN_ERROR, a, NULL, 0, NULL));
	g_assert_true(purple_account_is_connected(a));
	/* it listens where its settings say */
	g_assert_true(tcp_connects("127.0.0.1", AF_INET, host_account_port(a)));
	if (host_have_ipv6())
		g_assert_true(tcp_connects("::1", AF_INET6, host_account_port(a)));
	host_run_for(50);

	/* a second account on the same port is told why it cannot sign on */
	m = host_mark();
	b = host_account_new("sign-on-2", PASSPHRASE, host_account_port(a));
	g_assert_false(host_sign_on(b, T_SESSION));
	ev = host_wait(m, HOST_EV_CONN_ERROR, b, NULL, 0, NULL, T_MESSAGE);
	g_assert_nonnull(ev);
	if (ev != NULL) {
		g_assert_cmpint(ev->reason, ==, PURPLE_CONNECTION_ERROR_NETWORK_ERROR);
		g_assert_nonnull(strstr(ev->text, "already in use"));
	}
	/* and the first one is not disturbed */
	g_assert_true(purple_account_is_connected(a));

	host_account_delete(b);
	host_account_delete(a);
	host_run_for(50);
	g_assert_null(host_find(m, HOST_EV_GLIB_LOG, NULL, NULL, 0, NULL));
	g_assert_null(host_find(m, HOST_EV_LOOP_MISUSE, NULL, NULL, 0, NULL));
	if (g_test_failed())
		host_dump(m);
}

/* ---- /plugin/presence ------------------------------------------------------- */

static void
test_presence(Pair *f, gconstpointer data)
{
	int i;

	if (!f->ready)
		return;
	for (i = 0; i < 2; i++) {
		Side *me = &f->s[i], *peer = &f->s[1 - i];
		PurpleBuddy *b = purple_find_buddy(me->acct, peer->addr);

		g_assert_nonnull(b);
		STOP_IF_FAILED();
		g_assert_nonnull(host_find(f->mark, HOST_EV_BUDDY_ON, me->acct, peer->addr, 0, NULL));
		g_assert_true(PURPLE_BUDDY_IS_ONLINE(b));
		g_assert_cmpstr(purple_status_get_id(purple_presence_get_active_status(
		                purple_buddy_get_presence(b))), ==, "available");
		/* the buddy is shown under the name the peer announced */
		g_assert_cmpstr(purple_buddy_get_server_alias(b), ==, peer->name);
		/* the conversation says a secure session is up */
		g_assert_nonnull(host_find(f->mark, HOST_EV_MESSAGE, me->acct, peer->addr,
		                           PURPLE_MESSAGE_SYSTEM, "Secure session with"));
	}
	/* nobody saw an error on the way (but a passing "busy", see
	 * lasting_error) */
	g_assert_null(lasting_error(f->mark));
}

/* ---- /plugin/im/... ------------------------------------------------------------ */

static void
test_im_ascii(Pair *f, gconstpointer data)
{
	if (!f->ready)
		return;
	check_exact(A(f), B(f), "Hello Bob, this is Alice.");
	check_exact(B(f), A(f), "Hi Alice! <b>not bold</b> & \"quoted\" 'single' a<b>c &amp; http://x/?a=1&b=2");
	check_exact(A(f), B(f), "   spaces  inside   and around   ");
}

static void
test_im_non_ascii(Pair *f, gconstpointer data)
{
	/* NFC and NFD forms stay as typed: only passphrases are normalised */
	static const char *texts[] = {
		"Grüße aus Köln – ça va? Ελληνικά, русский, עברית, العربية",
		"日本語のテキスト、中文，한국어 🙂👍🏽🇫🇷 e\xcc\x81 (NFD) é (NFC)",
		"\xe2\x80\x8b zero width, \xc2\xa0 no-break space, \xef\xbb\xbf BOM, U+FFFD \xef\xbf\xbd",
	};
	guint i;

	if (!f->ready)
		return;
	for (i = 0; i < G_N_ELEMENTS(texts); i++) {
		check_exact(A(f), B(f), texts[i]);
		check_exact(B(f), A(f), texts[i]);
	}
}

static void
test_im_multiline(Pair *f, gconstpointer data)
{
	static const char *lines = "first line\nsecond line\n\n  indented after an empty line\nlast";
	static const char *tabbed = "column\tcolumn\n\tindented with a tab";
	guint m;
	const HostEvent *ev;

	if (!f->ready)
		return;
	/* lines typed in Pidgin (<br> in the markup) */
	check_exact(A(f), B(f), lines);
	check_exact(B(f), A(f), lines);
	check_exact(A(f), B(f), "ends with a line break\n");
	/* tabs are text too */
	check_exact(A(f), B(f), tabbed);

	/* a UI that escapes the text and leaves its line breaks as they are
	 * (Finch's way) must not see them turned into spaces */
	m = host_mark();
	host_send_html(A(f)->acct, B(f)->addr, "raw line one\nraw line two");
	ev = host_wait(m, HOST_EV_MESSAGE, B(f)->acct, A(f)->addr, PURPLE_MESSAGE_RECV, NULL,
	               T_MESSAGE);
	g_assert_nonnull(ev);
	g_assert_cmpstr(ev != NULL ? ev->text : NULL, ==, "raw line one\nraw line two");
}

/* Exactly len bytes of valid UTF-8 text with several lines and scripts. */
static char *
long_text(gsize len)
{
	static const char *pattern = "Parley long message: ASCII, ünïcödé, Ελληνικά, 日本語, 🙂 & <tags>\n";
	GString *s = g_string_sized_new(len + 8);

	while (s->len + strlen(pattern) <= len)
		g_string_append(s, pattern);
	while (s->len < len)
		g_string_append_c(s, 'x');
	g_assert_cmpuint(s->len, ==, len);
	g_assert_true(g_utf8_validate(s->str, -1, NULL));
	return g_string_free(s, FALSE);
}

static void
test_im_65536(Pair *f, gconstpointer data)
{
	char *text = long_text(PARLEY_MAX_TEXT);

	g_assert_cmpuint(PARLEY_MAX_TEXT, ==, 65536);
	if (f->ready) {
		check_exact(A(f), B(f), text);
		check_exact(B(f), A(f), text);
	}
	g_free(text);
}

static void
test_im_too_long(Pair *f, gconstpointer data)
{
	char *text = long_text(PARLEY_MAX_TEXT + 1);
	int i;

	for (i = 0; i < 2 && f->ready; i++) {
		const Side *from = &f->s[i], *to = &f->s[1 - i];
		guint m = host_mark();
		const HostEvent *ev;

		host_send_im(from->acct, to->addr, text);
		/* the sender is told, in the conversation */
		ev = host_wait(m, HOST_EV_MESSAGE, from->acct, to->addr, PURPLE_MESSAGE_ERROR, NULL,
		               T_MESSAGE);
		g_assert_nonnull(ev);
		if (ev != NULL)
			g_assert_nonnull(strstr(ev->text, "too large"));
		g_assert_null(host_find(m, HOST_EV_MESSAGE, from->acct, to->addr,
		                        PURPLE_MESSAGE_SEND, NULL));
		/* and nothing of it reaches the peer, not even cut short */
		ev = send_and_wait(from, to, "after the refused one");
		g_assert_nonnull(ev);
		g_assert_cmpstr(ev != NULL ? ev->text : NULL, ==, "after the refused one");
		g_assert_cmpuint(received(m, to, from, NULL), ==, 1);
		/* the session is still up */
		g_assert_true(host_buddy_online(from->acct, to->addr));
	}
	g_free(text);
}

/* ---- /plugin/typing ---------------------------------------------------------- */

static void
test_typing(Pair *f, gconstpointer data)
{
	static const struct {
		PurpleTypingState state;
		HostEventType seen;
	} steps[] = {
		{ PURPLE_TYPING, HOST_EV_TYPING },
		{ PURPLE_TYPED, HOST_EV_TYPED },
		{ PURPLE_NOT_TYPING, HOST_EV_TYPING_STOPPED },
	};
	guint i, m;
	int k;
	const HostEvent *ev;

	if (!f->ready)
		return;
	for (k = 0; k < 2; k++) {
		const Side *me = &f->s[k], *peer = &f->s[1 - k];

		for (i = 0; i < G_N_ELEMENTS(steps); i++) {
			m = host_mark();
			host_typing(me->acct, peer->addr, steps[i].state);
			g_assert_nonnull(host_wait(m, steps[i].seen, peer->acct, me->addr, 0, NULL,
			                           T_MESSAGE));
			STOP_IF_FAILED();
		}
		/* typing, then the message: the peer stops showing "typing" */
		m = host_mark();
		host_typing(me->acct, peer->addr, PURPLE_TYPING);
		g_assert_nonnull(host_wait(m, HOST_EV_TYPING, peer->acct, me->addr, 0, NULL, T_MESSAGE));
		m = host_mark();
		g_assert_nonnull(send_and_wait(me, peer, "typed it"));
		g_assert_nonnull(host_find(m, HOST_EV_TYPING_STOPPED, peer->acct, me->addr, 0, NULL));
	}

	/* the preference switches them off */
	purple_prefs_set_bool(PREFS "/send-typing", FALSE);
	m = host_mark();
	host_typing(A(f)->acct, B(f)->addr, PURPLE_TYPING);
	ev = send_and_wait(A(f), B(f), "typed without telling");
	g_assert_nonnull(ev);
	g_assert_null(host_find(m, HOST_EV_TYPING, B(f)->acct, A(f)->addr, 0, NULL));
	purple_prefs_set_bool(PREFS "/send-typing", TRUE);
}

/* ---- /plugin/rekey/... -------------------------------------------------------- */

static void
test_rekey_menu(Pair *f, gconstpointer data)
{
	guint m;

	if (!f->ready)
		return;
	g_assert_cmpint(details_epoch(A(f), B(f)), ==, 0);
	g_assert_cmpint(details_epoch(B(f), A(f)), ==, 0);

	m = host_mark();
	g_assert_true(host_menu_action(A(f)->acct, B(f)->addr, "Rekey now"));
	check_rekeyed(f, m, A(f), B(f), 1);
	STOP_IF_FAILED();
	flush_both_ways(f);

	/* the other side can ask too */
	m = host_mark();
	g_assert_true(host_menu_action(B(f)->acct, A(f)->addr, "Rekey now"));
	check_rekeyed(f, m, B(f), A(f), 2);
	STOP_IF_FAILED();
	check_exact(A(f), B(f), "after two rekeys");
	check_exact(B(f), A(f), "after two rekeys, back");
	/* no error dialog and no error line on the way */
	g_assert_null(host_find(f->mark, HOST_EV_NOTIFY, NULL, NULL, 0, "not rotated"));
	g_assert_null(host_find(f->mark, HOST_EV_MESSAGE, NULL, NULL, PURPLE_MESSAGE_ERROR, NULL));
}

static void
test_rekey_command(Pair *f, gconstpointer data)
{
	guint m;
	char *err = NULL;
	PurpleCmdStatus st;
	const HostEvent *ev;

	if (!f->ready)
		return;
	m = host_mark();
	st = host_command(A(f)->acct, B(f)->addr, "rekey", &err);
	g_assert_cmpint(st, ==, PURPLE_CMD_STATUS_OK);
	g_assert_null(err);
	g_free(err);
	g_assert_nonnull(host_find(m, HOST_EV_MESSAGE, A(f)->acct, B(f)->addr,
	                           PURPLE_MESSAGE_SYSTEM, "Rotating the session key"));
	/* asked again before the first finished: refused, and said so */
	st = host_command(A(f)->acct, B(f)->addr, "rekey", NULL);
	g_assert_cmpint(st, ==, PURPLE_CMD_STATUS_OK);
	ev = host_find(m, HOST_EV_MESSAGE, A(f)->acct, B(f)->addr, PURPLE_MESSAGE_ERROR, NULL);
	g_assert_nonnull(ev);
	if (ev != NULL)
		g_assert_nonnull(strstr(ev->text, "already under way"));
	check_rekeyed(f, m, A(f), B(f), 1);
	STOP_IF_FAILED();
	/* one rotation, not two */
	host_run_for(T_QUIET);
	g_assert_cmpint(details_epoch(A(f), B(f)), ==, 1);
	/* the command is not sent as a message */
	g_assert_cmpuint(received(m, B(f), A(f), NULL), ==, 0);

	m = host_mark();
	st = host_command(B(f)->acct, A(f)->addr, "rekey", NULL);
	g_assert_cmpint(st, ==, PURPLE_CMD_STATUS_OK);
	check_rekeyed(f, m, B(f), A(f), 2);
	STOP_IF_FAILED();
	check_exact(A(f), B(f), "after /rekey");

	/* with no session the command says so */
	host_sign_off(B(f)->acct);
	g_assert_nonnull(host_wait(m, HOST_EV_BUDDY_OFF, A(f)->acct, B(f)->addr, 0, NULL,
	                           T_MESSAGE));
	m = host_mark();
	st = host_command(A(f)->acct, B(f)->addr, "rekey", NULL);
	g_assert_cmpint(st, ==, PURPLE_CMD_STATUS_OK);
	g_assert_nonnull(host_find(m, HOST_EV_MESSAGE, A(f)->acct, B(f)->addr,
	                           PURPLE_MESSAGE_ERROR, "no secure session"));
}

static void
test_rekey_auto(Pair *f, gconstpointer data)
{
	guint m, i;
	int k;
	GPtrArray *got;

	if (!f->ready)
		return;
	for (k = 0; k < 2; k++) {
		const Side *me = &f->s[k], *peer = &f->s[1 - k];
		char *last = NULL;

		m = host_mark();
		for (i = 1; i < PARLEY_REKEY_MESSAGES; i++) {
			char *t = g_strdup_printf("auto %u from %s", i, me->name);

			host_send_im(me->acct, peer->addr, t);
			g_free(last);
			last = t;
		}
		g_assert_nonnull(host_wait(m, HOST_EV_MESSAGE, peer->acct, me->addr,
		                           PURPLE_MESSAGE_RECV, last, T_MESSAGE));
		g_free(last);
		/* 19: no rotation yet */
		host_run_for(T_QUIET);
		g_assert_null(host_find(m, HOST_EV_MESSAGE, NULL, NULL, PURPLE_MESSAGE_SYSTEM,
		                        "Session key rotated"));
		g_assert_cmpint(details_epoch(me, peer), ==, k);

		/* the 20th starts one, on both sides */
		last = g_strdup_printf("auto %u from %s", PARLEY_REKEY_MESSAGES, me->name);
		host_send_im(me->acct, peer->addr, last);
		check_rekeyed(f, m, me, peer, k + 1);
		g_assert_nonnull(host_wait(m, HOST_EV_MESSAGE, peer->acct, me->addr,
		                           PURPLE_MESSAGE_RECV, last, T_MESSAGE));
		g_free(last);
		STOP_IF_FAILED();

		/* all 20 arrived, in order, once */
		got = host_find_all(m, HOST_EV_MESSAGE, peer->acct, me->addr, PURPLE_MESSAGE_RECV, NULL);
		g_assert_cmpuint(got->len, ==, PARLEY_REKEY_MESSAGES);
		for (i = 0; i < got->len && i < PARLEY_REKEY_MESSAGES; i++) {
			char *t = g_strdup_printf("auto %u from %s", i + 1, me->name);

			g_assert_cmpstr(((const HostEvent *) g_ptr_array_index(got, i))->text, ==, t);
			g_free(t);
		}
		g_ptr_array_unref(got);
	}
	check_exact(A(f), B(f), "after two automatic rekeys");
}

/* ---- /plugin/code-matches ------------------------------------------------------ */

static void
test_code_matches(Pair *f, gconstpointer data)
{
	const HostEvent *na, *nb, *nc;
	char *ca, *cb, *da, *db, *cc;
	guint m;

	if (!f->ready)
		return;
	/* what the open conversations said when the session came up */
	na = host_find_last(f->mark, HOST_EV_MESSAGE, A(f)->acct, B(f)->addr,
	                    PURPLE_MESSAGE_SYSTEM, "Verification code:");
	nb = host_find_last(f->mark, HOST_EV_MESSAGE, B(f)->acct, A(f)->addr,
	                    PURPLE_MESSAGE_SYSTEM, "Verification code:");
	g_assert_nonnull(na);
	g_assert_nonnull(nb);
	STOP_IF_FAILED();
	ca = host_find_code(na->text);
	cb = host_find_code(nb->text);
	g_assert_nonnull(ca);
	g_assert_cmpstr(ca, ==, cb);
	/* the same in Session details, on both sides */
	da = details_code(A(f), B(f));
	db = details_code(B(f), A(f));
	g_assert_cmpstr(da, ==, ca);
	g_assert_cmpstr(db, ==, ca);

	/* a conversation opened later tells the code too */
	host_conv_close(A(f)->acct, B(f)->addr);
	m = host_mark();
	host_conv(A(f)->acct, B(f)->addr);
	host_run_for(50);
	nc = host_find(m, HOST_EV_MESSAGE, A(f)->acct, B(f)->addr, PURPLE_MESSAGE_SYSTEM,
	               "Verification code:");
	g_assert_nonnull(nc);
	cc = nc != NULL ? host_find_code(nc->text) : NULL;
	g_assert_cmpstr(cc, ==, ca);

	/* a rekey does not change what the users compare */
	m = host_mark();
	g_assert_true(host_menu_action(A(f)->acct, B(f)->addr, "Rekey now"));
	check_rekeyed(f, m, A(f), B(f), 1);
	g_free(da);
	da = details_code(A(f), B(f));
	g_assert_cmpstr(da, ==, ca);

	g_free(ca);
	g_free(cb);
	g_free(cc);
	g_free(da);
	g_free(db);
}

/* ---- /plugin/wrong-passphrase -------------------------------------------------- */

static const PairOpts wrong_pass = {
	.pass = { "the first passphrase", "the second passphrase" },
	.no_convs = TRUE,
	.no_session = TRUE,
};

static void
test_wrong_passphrase(Pair *f, gconstpointer data)
{
	int k;
	guint m;
	const HostEvent *busy, *again;

	if (!f->ready)
		return;
	/* both dialled; both are told, though no window was open */
	for (k = 0; k < 2; k++) {
		const Side *me = &f->s[k], *peer = &f->s[1 - k];
		const HostEvent *ev = host_wait(f->mark, HOST_EV_MESSAGE, me->acct, peer->addr,
		                                PURPLE_MESSAGE_ERROR, "do not match", T_SESSION);

		g_assert_nonnull(ev);
	}
	STOP_IF_FAILED();
	/* both handshakes (each side dialled) have ended on both sides: as
	 * responder, which checks Ta ("uses a different passphrase"), and as
	 * initiator, told by the responder's ERROR 3 ("could not verify");
	 * now try again at once */
	for (k = 0; k < 2; k++) {
		const Side *me = &f->s[k], *peer = &f->s[1 - k];

		g_assert_nonnull(host_wait(f->mark, HOST_EV_MESSAGE, me->acct, peer->addr,
		                           PURPLE_MESSAGE_ERROR, "uses a different passphrase",
		                           T_SESSION));
		g_assert_nonnull(host_wait(f->mark, HOST_EV_MESSAGE, me->acct, peer->addr,
		                           PURPLE_MESSAGE_ERROR, "could not verify", T_SESSION));
	}
	STOP_IF_FAILED();
	m = host_mark();
	g_assert_true(host_menu_action(A(f)->acct, B(f)->addr, "Reconnect"));
	/* after the backoff (1 s for a first failure) the try is a real one,
	 * and fails on the passphrase again: §4, the responder checks Ta
	 * and answers ERROR 3, which the initiator reports */
	again = host_wait(m, HOST_EV_MESSAGE, A(f)->acct, B(f)->addr, PURPLE_MESSAGE_ERROR,
	                  "could not verify", T_SESSION);
	g_assert_nonnull(again);
	/* the peer counted the failure: its backoff refused the try before
	 * that.  Under valgrind the waits above can outlast the 1 s backoff,
	 * so there the refusal is checked only when it came. */
	busy = host_find(m, HOST_EV_MESSAGE, A(f)->acct, B(f)->addr, PURPLE_MESSAGE_ERROR,
	                 "refusing connections");
	if (scale == 1)
		g_assert_nonnull(busy);
	else if (busy == NULL)
		g_test_message("the backoff had run out before Reconnect (slow run)");
	if (busy != NULL && again != NULL)
		g_assert_cmpuint(busy->seq, <, again->seq);
	/* 2^0 s after the failure, not at once and not much later */
	if (busy != NULL && again != NULL && scale == 1)
		g_assert_cmpint(again->time_ms - busy->time_ms, >=, 700);
	if (busy != NULL && again != NULL)
		g_assert_cmpint(again->time_ms - busy->time_ms, <, 5000 * (gint64) scale);
	/* and the peer, which found the mismatch, says so too */
	g_assert_nonnull(host_wait(m, HOST_EV_MESSAGE, B(f)->acct, A(f)->addr, PURPLE_MESSAGE_ERROR,
	                           "uses a different passphrase", T_MESSAGE));
	STOP_IF_FAILED();
	/* then it stops: no redial loop that would guess online */
	host_run_for(T_QUIET);
	m = host_mark();
	host_run_for(1500);
	g_assert_null(host_find(m, HOST_EV_MESSAGE, NULL, NULL, PURPLE_MESSAGE_ERROR, NULL));

	/* no session came of any of it */
	for (k = 0; k < 2; k++) {
		const Side *me = &f->s[k], *peer = &f->s[1 - k];
		char *d = host_session_details(me->acct, peer->addr);

		g_assert_false(host_buddy_online(me->acct, peer->addr));
		g_assert_null(host_find(f->mark, HOST_EV_BUDDY_ON, me->acct, NULL, 0, NULL));
		g_assert_null(host_find(f->mark, HOST_EV_MESSAGE, me->acct, NULL, 0, "Secure session"));
		g_assert_nonnull(d);
		if (d != NULL)
			g_assert_nonnull(strstr(d, "none (not connected)"));
		g_free(d);
		/* the accounts themselves stay signed on */
		g_assert_true(purple_account_is_connected(me->acct));
		g_assert_null(host_find(f->mark, HOST_EV_CONN_ERROR, me->acct, NULL, 0, NULL));
	}
}

/* ---- /plugin/peer-comes-back ---------------------------------------------------- */

static void
test_peer_comes_back(Pair *f, gconstpointer data)
{
	static const char *queued[] = {
		"queued one", "queued two — ünïcödé", "queued three\nwith a second line",
	};
	guint m, i;
	GPtrArray *got, *waiting;
	char *d;

	if (!f->ready)
		return;
	m = host_mark();
	host_sign_off(B(f)->acct);
	g_assert_nonnull(host_wait(m, HOST_EV_BUDDY_OFF, A(f)->acct, B(f)->addr, 0, NULL,
	                           T_MESSAGE));
	STOP_IF_FAILED();

	m = host_mark();
	for (i = 0; i < G_N_ELEMENTS(queued); i++)
		host_send_im(A(f)->acct, B(f)->addr, queued[i]);
	/* shown as sent, with one word that they wait */
	got = host_find_all(m, HOST_EV_MESSAGE, A(f)->acct, B(f)->addr, PURPLE_MESSAGE_SEND, NULL);
	g_assert_cmpuint(got->len, ==, G_N_ELEMENTS(queued));
	g_ptr_array_unref(got);
	waiting = host_find_all(m, HOST_EV_MESSAGE, A(f)->acct, B(f)->addr, PURPLE_MESSAGE_SYSTEM,
	                        "will be sent once");
	g_assert_cmpuint(waiting->len, ==, 1);
	g_ptr_array_unref(waiting);
	/* a few redials find nobody */
	host_run_for(1000);
	d = host_session_details(A(f)->acct, B(f)->addr);
	g_assert_nonnull(d);
	g_assert_nonnull(d != NULL ? strstr(d, "waiting for delivery:</b> 3") : NULL);
	g_free(d);

	g_assert_true(host_sign_on(B(f)->acct, T_SESSION));
	g_assert_nonnull(host_wait(m, HOST_EV_MESSAGE, B(f)->acct, A(f)->addr, PURPLE_MESSAGE_RECV,
	                           queued[G_N_ELEMENTS(queued) - 1], T_SESSION));
	STOP_IF_FAILED();
	g_assert_true(host_run_until(settled, f, T_SESSION));
	host_run_for(T_QUIET);
	flush_both_ways(f);

	/* each exactly once, in order, before anything newer */
	got = host_find_all(m, HOST_EV_MESSAGE, B(f)->acct, A(f)->addr, PURPLE_MESSAGE_RECV, NULL);
	g_assert_cmpuint(got->len, ==, G_N_ELEMENTS(queued) + 1);
	for (i = 0; i < got->len && i < G_N_ELEMENTS(queued); i++)
		g_assert_cmpstr(((const HostEvent *) g_ptr_array_index(got, i))->text, ==, queued[i]);
	g_ptr_array_unref(got);
	/* nothing is left waiting, and nothing was reported lost */
	d = host_session_details(A(f)->acct, B(f)->addr);
	g_assert_null(d != NULL ? strstr(d, "waiting for delivery") : "no details");
	g_free(d);
	g_assert_null(host_find(m, HOST_EV_MESSAGE, A(f)->acct, NULL, PURPLE_MESSAGE_ERROR, NULL));
}

/* ---- /plugin/per-buddy-passphrase ------------------------------------------------ */

static const PairOpts per_buddy = {
	.pass = { "alice's own passphrase", "the passphrase for alice and bob" },
	.only_first = TRUE,
};

static void
test_per_buddy_passphrase(Pair *f, gconstpointer data)
{
	guint m;
	const HostEvent *req;
	char *da, *db;

	if (!f->ready)
		return;
	/* alice, alone, sets the passphrase she shares with bob */
	m = host_mark();
	host_answer_next_input("the passphrase for alice and bob");
	g_assert_true(host_menu_action(A(f)->acct, B(f)->addr, "Set passphrase..."));
	req = host_wait(m, HOST_EV_REQUEST, A(f)->acct, B(f)->addr, 0, NULL, T_MESSAGE);
	g_assert_nonnull(req);
	if (req != NULL)
		g_assert_cmpint(req->flags, ==, 1);     /* typed masked */
	host_run_for(50);

	/* bob comes, with it as his account's passphrase */
	g_assert_true(host_sign_on(B(f)->acct, T_SESSION));
	g_assert_true(host_run_until(settled, f, T_SESSION));
	STOP_IF_FAILED();
	check_exact(A(f), B(f), "with the buddy's passphrase");
	check_exact(B(f), A(f), "and back");
	g_assert_null(host_find(f->mark, HOST_EV_MESSAGE, NULL, NULL, PURPLE_MESSAGE_ERROR, NULL));

	/* cleared, alice uses her account's passphrase again: no longer bob's */
	m = host_mark();
	host_answer_next_input("");
	g_assert_true(host_menu_action(A(f)->acct, B(f)->addr, "Set passphrase..."));
	g_assert_nonnull(host_wait(m, HOST_EV_MESSAGE, A(f)->acct, B(f)->addr,
	                           PURPLE_MESSAGE_ERROR, "do not match", T_SESSION));
	host_run_for(T_QUIET);
	g_assert_false(host_buddy_online(A(f)->acct, B(f)->addr));
	da = host_session_details(A(f)->acct, B(f)->addr);
	db = host_session_details(B(f)->acct, A(f)->addr);
	g_assert_nonnull(da != NULL ? strstr(da, "none (not connected)") : NULL);
	g_assert_nonnull(db != NULL ? strstr(db, "none (not connected)") : NULL);
	g_free(da);
	g_free(db);
}

/* ---- /plugin/sign-off -------------------------------------------------------------- */

static void
test_sign_off(Pair *f, gconstpointer data)
{
	guint m;
	char *d;

	if (!f->ready)
		return;
	m = host_mark();
	host_sign_off(B(f)->acct);
	g_assert_nonnull(host_find(m, HOST_EV_SIGNED_OFF, B(f)->acct, NULL, 0, NULL));
	/* the peer hears BYE: signed off, not lost */
	g_assert_nonnull(host_wait(m, HOST_EV_BUDDY_OFF, A(f)->acct, B(f)->addr, 0, NULL,
	                           T_MESSAGE));
	g_assert_nonnull(host_wait(m, HOST_EV_MESSAGE, A(f)->acct, B(f)->addr, PURPLE_MESSAGE_SYSTEM,
	                           "signed off", T_MESSAGE));
	g_assert_null(host_find(m, HOST_EV_MESSAGE, A(f)->acct, B(f)->addr, 0, "lost"));
	g_assert_null(host_find(m, HOST_EV_MESSAGE, A(f)->acct, B(f)->addr, PURPLE_MESSAGE_ERROR,
	                        NULL));
	g_assert_false(host_buddy_online(A(f)->acct, B(f)->addr));
	d = host_session_details(A(f)->acct, B(f)->addr);
	g_assert_nonnull(d != NULL ? strstr(d, "none (not connected)") : NULL);
	g_free(d);
	/* a is still signed on, and b's side of the list shows a offline */
	g_assert_true(purple_account_is_connected(A(f)->acct));
	g_assert_false(host_buddy_online(B(f)->acct, A(f)->addr));
}

/* ---- /plugin/ipv6 -------------------------------------------------------------------- */

static const PairOpts ipv6 = { .ipv6 = TRUE };

static void
test_ipv6(Pair *f, gconstpointer data)
{
	char *d;

	if (!f->ready)
		return;
	g_assert_true(g_str_has_prefix(A(f)->addr, "[::1]:"));
	g_assert_true(host_buddy_online(A(f)->acct, B(f)->addr));
	g_assert_true(host_buddy_online(B(f)->acct, A(f)->addr));
	check_exact(A(f), B(f), "over IPv6 — ünïcödé");
	check_exact(B(f), A(f), "and back over IPv6");
	d = host_session_details(A(f)->acct, B(f)->addr);
	g_assert_nonnull(d != NULL ? strstr(d, "(::1)") : NULL);
	g_free(d);
}

/* ---- /plugin/pref-frame ----------------------------------------------------------------- */

static void
test_pref_frame(void)
{
	static const struct {
		const char *name;
		PurplePrefType type;
	} expected[] = {
		{ PREFS "/show-code", PURPLE_PREF_BOOLEAN },
		{ PREFS "/announce-rekeys", PURPLE_PREF_BOOLEAN },
		{ PREFS "/send-typing", PURPLE_PREF_BOOLEAN },
		{ PREFS "/give-up-minutes", PURPLE_PREF_INT },
	};
	PurplePlugin *plugin = purple_plugins_find_with_id("core-parley");
	PurplePluginUiInfo *ui;
	PurplePluginPrefFrame *frame;
	GList *l;
	guint i, named = 0;

	g_assert_nonnull(plugin);
	STOP_IF_FAILED();
	g_assert_true(purple_plugin_is_loaded(plugin));
	g_assert_cmpint(plugin->info->type, ==, PURPLE_PLUGIN_STANDARD);
	ui = plugin->info->prefs_info;
	g_assert_nonnull(ui);
	STOP_IF_FAILED();
	g_assert_nonnull(ui->get_plugin_pref_frame);
	STOP_IF_FAILED();
	frame = ui->get_plugin_pref_frame(plugin);
	g_assert_nonnull(frame);
	STOP_IF_FAILED();

	for (l = purple_plugin_pref_frame_get_prefs(frame); l != NULL; l = l->next) {
		PurplePluginPref *pref = l->data;
		const char *name = purple_plugin_pref_get_name(pref);
		const char *label = purple_plugin_pref_get_label(pref);
		gboolean known = FALSE;

		g_assert_nonnull(label);
		g_assert_cmpuint(label != NULL ? strlen(label) : 0, >, 0);
		if (name == NULL)
			continue;           /* a heading */
		named++;
		for (i = 0; i < G_N_ELEMENTS(expected); i++) {
			if (strcmp(name, expected[i].name) != 0)
				continue;
			known = TRUE;
			/* each one is a real preference of the right type */
			g_assert_true(purple_prefs_exists(name));
			g_assert_cmpint(purple_prefs_get_type(name), ==, expected[i].type);
		}
		if (!known)
			g_test_message("unexpected preference %s", name);
		g_assert_true(known);
		if (strcmp(name, PREFS "/give-up-minutes") == 0) {
			int lo = 0, hi = 0;

			purple_plugin_pref_get_bounds(pref, &lo, &hi);
			g_assert_cmpint(lo, >=, 1);
			g_assert_cmpint(hi, >=, PARLEY_GIVE_UP_MINUTES);
			g_assert_cmpint(purple_prefs_get_int(name), ==, PARLEY_GIVE_UP_MINUTES);
		}
	}
	g_assert_cmpuint(named, ==, G_N_ELEMENTS(expected));
	purple_plugin_pref_frame_destroy(frame);
	/* the defaults */
	g_assert_true(purple_prefs_get_bool(PREFS "/show-code"));
	g_assert_true(purple_prefs_get_bool(PREFS "/announce-rekeys"));
	g_assert_true(purple_prefs_get_bool(PREFS "/send-typing"));
}

/* ---- main --------------------------------------------------------------------------- */

int
main(int argc, char **argv)
{
	GError *error = NULL;
	int rc;

	/* no setlocale(): messages stay untranslated, the checks read English */
	g_test_init(&argc, &argv, NULL);
	/* one failing case must not stop the others: they share the core */
	g_test_set_nonfatal_assertions();
	/* GTest makes warnings fatal; the host records them instead and every
	 * case checks that none came */
	g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_ERROR);
	if (UNDER_VALGRIND())
		scale = 30;
	/* redial quickly, so that the cases that wait for it stay short */
	g_setenv("PARLEY_TEST_RETRY_MS", "200", FALSE);

	if (!host_init(&error)) {
		g_printerr("# cannot start the libpurple host: %s\n", error->message);
		printf("Bail out! %s\n", error->message);
		g_error_free(error);
		return 1;
	}

	init_end = host_mark();
	g_test_add_func("/plugin/sign-on", test_sign_on);
	PAIR_TEST("/plugin/presence", test_presence, NULL);
	PAIR_TEST("/plugin/im/ascii", test_im_ascii, NULL);
	PAIR_TEST("/plugin/im/non-ascii", test_im_non_ascii, NULL);
	PAIR_TEST("/plugin/im/multiline", test_im_multiline, NULL);
	PAIR_TEST("/plugin/im/65536", test_im_65536, NULL);
	PAIR_TEST("/plugin/im/too-long", test_im_too_long, NULL);
	PAIR_TEST("/plugin/typing", test_typing, NULL);
	PAIR_TEST("/plugin/rekey/menu", test_rekey_menu, NULL);
	PAIR_TEST("/plugin/rekey/command", test_rekey_command, NULL);
	PAIR_TEST("/plugin/rekey/auto-20", test_rekey_auto, NULL);
	PAIR_TEST("/plugin/code-matches", test_code_matches, NULL);
	PAIR_TEST("/plugin/wrong-passphrase", test_wrong_passphrase, &wrong_pass);
	PAIR_TEST("/plugin/peer-comes-back", test_peer_comes_back, NULL);
	PAIR_TEST("/plugin/per-buddy-passphrase", test_per_buddy_passphrase, &per_buddy);
	PAIR_TEST("/plugin/sign-off", test_sign_off, NULL);
	PAIR_TEST("/plugin/ipv6", test_ipv6, &ipv6);
	g_test_add_func("/plugin/pref-frame", test_pref_frame);

	rc = g_test_run();
	host_shutdown();
	return rc;
}
