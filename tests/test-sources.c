/*
 * test-sources.c - PROTOCOL.md §9 (version 2) end to end, against a Parley
 * account in the headless libpurple host (host.c): the limits count per
 * source (an IPv6 /64), strangers' failed handshakes share one budget per
 * account that friends do not draw on, a source backing off is not
 * forgotten however many others call, and an account may refuse
 * strangers.
 *
 * The cases need thousands of IPv6 addresses, which a test may only take
 * inside a network namespace of its own: the program re-executes itself
 * under `unshare -rn` (new user and network namespaces: nothing it does is
 * seen outside), brings lo up there, puts 2001:db8:1::1/64 on it and
 * routes the documentation prefix 2001:db8::/32 to it, and binds each raw
 * client (rawpeer.c) to its own address of that prefix with
 * IPV6_FREEBIND.  Where no namespace can be made (no unshare, user
 * namespaces switched off) the whole program is skipped.  It never binds
 * an address outside 127.0.0.0/8, ::1 and 2001:db8::/32.
 *
 * Each case signs on a "victim" account listening on [::] (it is called
 * at 2001:db8:1::1) and a "buddy" account that does not listen and calls
 * the victim at [::1]: the buddy's sessions are always let in by the
 * victim's admission (never by the victim dialling out), so they show
 * what a friend gets while strangers are refused.  Attackers speak the
 * wire with the core's own handshake (rawpeer.c) from 2001:db8:1::/64 (the
 * victim's /64, one source) and from fresh /64s 2001:db8:N:M::1.
 *
 * The plugin's handshake timeout is cut to HS_TIMEOUT_MS through
 * PARLEY_TEST_HANDSHAKE_TIMEOUT_MS, as in test-hostile.c.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <purple.h>

#include "constants.h"
#include "crypto.h"
#include "host.h"
#include "rawpeer.h"

#define PASSPHRASE    "the victim and its buddy share this"
#define WRONG_GUESS   "a sprayed wrong guess"
#define ITERATIONS    200000u
#define HS_TIMEOUT_MS 5000

#define T_SESSION     45000   /* sign-on and a handshake; slow under ASan on a busy machine */
#define T_MESSAGE     5000
#define T_REPLY       3000    /* an answer the plugin gives at once */
#define T_KDF_IDLE    60000

/* the namespace: where the victim is called, and the one prefix used */
#define VICTIM_IP     "2001:db8:1::1"
#define VICTIM_NET    "2001:db8:1::1/64"
#define VICTIM_64     "2001:db8:1::/64"
#define DOC_PREFIX    "2001:db8::/32"
#define BUDDY_NAME    "[::1]"   /* the buddy account, at the victim: it calls from ::1 */

#define SPRAY         10000   /* HS1 from as many fresh /64s */
#define SPRAY_BATCH   200     /* at once */
/* the budget case sprays until this long after its first failure: two
 * tokens come back in it */
#define BUDGET_TAIL_MS (2 * PARLEY_STRANGER_REFILL_S * 1000 + 1500)

/* the environment variable that tells the re-executed program which
 * network namespace it came from */
#define OUTER_NETNS   "PARLEY_TEST_SOURCES_OUTER_NETNS"

#define REFILL_MS     ((gint64) PARLEY_STRANGER_REFILL_S * 1000)
#define STOP_IF_FAILED() G_STMT_START { if (g_test_failed()) return; } G_STMT_END

static uint8_t atk_salt[PARLEY_SALT_LEN];
static uint8_t atk_prs[PARLEY_PRS_LEN];     /* the victim's passphrase */
static uint8_t wrong_prs[PARLEY_PRS_LEN];   /* a wrong guess */

static gint64
now_ms(void)
{
	return g_get_monotonic_time() / 1000;
}

/* ---- a network namespace of our own ------------------------------------- */

/* Run argv, quietly.  FALSE with *why if it could not run or failed. */
static gboolean
run_quiet(const char *const *argv, char **why)
{
	char *err = NULL, *cmd;
	GError *error = NULL;
	gint status;
	gboolean ok;

	ok = g_spawn_sync(NULL, (char **) argv, NULL,
	                  G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
	                  &err, &status, &error) &&
	     g_spawn_check_wait_status(status, NULL);
	if (!ok) {
		cmd = g_strjoinv(" ", (char **) argv);
		*why = g_strdup_printf("`%s` failed: %s", cmd,
		                       error != NULL ? error->message : g_strstrip(err));
		g_free(cmd);
	}
	g_clear_error(&error);
	g_free(err);
	return ok;
}

/* TRUE once in a network namespace of our own with lo up, VICTIM_NET on
 * it and DOC_PREFIX routed to it.  Outside one, re-executes the program
 * under `unshare -rn` (and does not return, unless that fails).  FALSE with
 * *why when no namespace can be had. */
static gboolean
enter_netns(int argc, char **argv, char **why)
{
	static const char *const probe[] = { "unshare", "-rn", "true", NULL };
	static const char *const setup[][9] = {
		{ "ip", "link", "set", "lo", "up", NULL },
		{ "ip", "-6", "addr", "add", VICTIM_NET, "dev", "lo", NULL },
		{ "ip", "-6", "route", "add", "local", VICTIM_64, "dev", "lo", NULL },
		{ "ip", "-6", "route", "add", "local", DOC_PREFIX, "dev", "lo", NULL },
	};
	const char *outer = g_getenv(OUTER_NETNS);
	char *here = g_file_read_link("/proc/self/ns/net", NULL);
	char *self;
	const char **args;
	int i;

	if (here == NULL) {
		*why = g_strdup("no /proc/self/ns/net: cannot tell network namespaces apart");
		return FALSE;
	}
	if (outer == NULL) {
		if (!run_quiet(probe, why)) {
			g_free(here);
			return FALSE;
		}
		self = g_file_read_link("/proc/self/exe", NULL);
		if (self == NULL) {
			*why = g_strdup("cannot read /proc/self/exe");
			g_free(here);
			return FALSE;
		}
		g_setenv(OUTER_NETNS, here, TRUE);
		g_free(here);
		args = g_new0(const char *, argc + 4);
		args[0] = "unshare";
		args[1] = "-rn";
		args[2] = "--";
		args[3] = self;
		for (i = 1; i < argc; i++)
			args[3 + i] = argv[i];
		fflush(stdout);
		execvp("unshare", (char **) args);
		*why = g_strdup_printf("cannot run unshare: %s", g_strerror(errno));
		g_free(args);
		g_free(self);
		return FALSE;
	}
	/* addresses are added only in a namespace other than the one the
	 * program was started in (OUTER_NETNS may be inherited by mistake) */
	if (strcmp(here, outer) == 0) {
		*why = g_strdup("re-executed, but not in a network namespace of its own");
		g_free(here);
		return FALSE;
	}
	g_free(here);
	for (i = 0; i < (int) G_N_ELEMENTS(setup); i++)
		if (!run_quiet(setup[i], why))
			return FALSE;
	return TRUE;
}

/* ---- the fixture: victim, buddy, attackers ------------------------------ */

typedef struct {
	gboolean refuse_strangers;  /* the victim's "Accept connections from strangers" off */
	gboolean classic;           /* the victim speaks classic mode; no buddy account */
} Case;

typedef struct {
	const Case *k;
	PurpleAccount *victim, *buddy;
	char *vname, *bname;
	char *vaddr;                /* the victim at the buddy: "[::1]:PORT" */
	guint16 vport;
	guint mark;
	gboolean ready;
	GPtrArray *raws;            /* RawConn* of the case, closed at teardown */
} Fix;

static gboolean
both_online(gpointer data)
{
	Fix *f = data;

	return host_buddy_online(f->victim, BUDDY_NAME) && host_buddy_online(f->buddy, f->vaddr);
}

static void
fix_setup(Fix *f, gconstpointer data)
{
	static guint n;

	f->k = data;
	n++;
	f->mark = host_mark();
	f->raws = g_ptr_array_new_with_free_func((GDestroyNotify) raw_close);
	f->vname = g_strdup_printf("victim-%u", n);
	f->victim = host_account_new(f->vname, PASSPHRASE, 0);
	if (f->k->refuse_strangers)
		purple_account_set_bool(f->victim, "accept-strangers", FALSE);
	if (f->k->classic)
		purple_account_set_string(f->victim, "protocol", "classic");
	f->vport = host_account_port(f->victim);
	f->vaddr = host_account_address(f->victim, TRUE);
	g_assert_true(host_sign_on(f->victim, T_SESSION));
	STOP_IF_FAILED();
	if (f->k->classic) {
		f->ready = TRUE;
		return;
	}
	f->bname = g_strdup_printf("buddy-%u", n);
	f->buddy = host_account_new(f->bname, PASSPHRASE, 0);
	purple_account_set_bool(f->buddy, "listen", FALSE);
	host_add_buddy(f->victim, BUDDY_NAME);
	host_add_buddy(f->buddy, f->vaddr);
	g_assert_true(host_sign_on(f->buddy, T_SESSION));
	STOP_IF_FAILED();
	host_conv(f->victim, BUDDY_NAME);
	host_conv(f->buddy, f->vaddr);
	f->ready = host_run_until(both_online, f, T_SESSION);
	g_assert_true(f->ready);
	/* the case starts from the buddy's one connection (two ends) and no
	 * PBKDF2 */
	g_assert_true(host_wait_settled(2, T_SESSION));
	f->ready = !g_test_failed();
	if (!f->ready)
		host_dump(f->mark);
}

static void
fix_teardown(Fix *f, gconstpointer data)
{
	g_ptr_array_unref(f->raws);
	host_run_for(50);
	/* whatever the attack did, the victim is still signed on */
	g_assert_true(purple_account_is_connected(f->victim));
	g_assert_null(host_find(f->mark, HOST_EV_CONN_ERROR, f->victim, NULL, 0, NULL));
	host_assert_clean(f->mark);
	if (g_test_failed())
		host_dump(f->mark);
	host_account_delete(f->victim);
	if (f->buddy != NULL)
		host_account_delete(f->buddy);
	host_run_for(50);
	g_assert_true(host_wait_settled(HOST_ANY_CONNS, T_KDF_IDLE));
	g_free(f->vname);
	g_free(f->bname);
	g_free(f->vaddr);
}

#define SOURCES_TEST(path, k, func) g_test_add(path, Fix, k, fix_setup, func, fix_teardown)

/* Wait until the plugin holds exactly conns connections (the attackers'
 * have ended: the victim has given its verdict on them). */
static void
settle(guint conns)
{
	g_assert_true(host_wait_settled(conns, T_SESSION));
}

/* A fresh source: 2001:db8:group:n::1, a /64 of its own. */
static char *
fresh(guint group, guint n)
{
	return g_strdup_printf("2001:db8:%x:%x::1", group, n);
}

/* ---- attackers ------------------------------------------------------------ */

/* A connection to the victim from src, closed at teardown. */
static RawConn *
atk(Fix *f, const char *src)
{
	RawConn *c = raw_connect_ip(src, VICTIM_IP, f->vport);

	g_assert_nonnull(c);
	if (c != NULL)
		g_ptr_array_add(f->raws, c);
	return c;
}

static void
atk_close(Fix *f, RawConn *c)
{
	if (c != NULL)
		g_ptr_array_remove(f->raws, c);
}

/* HS1 from src with prs; *s is initialised on the connection (the caller
 * clears it) and holds HS2 when that is the reply. */
static RawReply
try_hs1(Fix *f, const char *src, const uint8_t *prs, RawSession *s, RawConn **cp)
{
	RawConn *c = atk(f, src);

	raw_session_init(s, c);
	*cp = c;
	if (c == NULL)
		return RAW_REPLY_NONE;
	raw_session_send_hs1(s, "sprayer", 0, atk_salt, ITERATIONS, prs);
	return raw_session_wait_reply(s, T_SESSION);
}

/* One wrong guess from src: TRUE if it got as far as HS2 (Tb shows the
 * guess was wrong and it hangs up: a failure, §9), FALSE if it was
 * refused with ERROR 4. */
static gboolean
guess(Fix *f, const char *src)
{
	RawSession s;
	RawConn *c;
	RawReply r = try_hs1(f, src, wrong_prs, &s, &c);

	if (r == RAW_REPLY_HS2) {
		g_assert_cmpint(raw_session_finish(&s), ==, PARLEY_ERR_AUTH);
	} else {
		g_assert_cmpint(r, ==, RAW_REPLY_ERROR);
		g_assert_cmpint(s.error_code, ==, PARLEY_ERR_BUSY);
	}
	raw_session_clear(&s);
	atk_close(f, c);
	return r == RAW_REPLY_HS2;
}

/* A buddy -> victim -> buddy round trip; prints "# rtt <label> <ms>". */
static void
rtt(Fix *f, const char *label)
{
	static guint k;
	char *ping = g_strdup_printf("ping %u %s", ++k, label);
	char *pong = g_strdup_printf("pong %u %s", k, label);
	gint64 t0 = g_get_monotonic_time();
	guint m = host_mark();
	double ms = -1;

	host_send_im(f->buddy, f->vaddr, ping);
	if (host_wait(m, HOST_EV_MESSAGE, f->victim, BUDDY_NAME, PURPLE_MESSAGE_RECV, ping,
	              T_MESSAGE) != NULL) {
		m = host_mark();
		host_send_im(f->victim, BUDDY_NAME, pong);
		if (host_wait(m, HOST_EV_MESSAGE, f->buddy, f->vaddr, PURPLE_MESSAGE_RECV, pong,
		              T_MESSAGE) != NULL)
			ms = (double) (g_get_monotonic_time() - t0) / 1000.0;
	}
	g_test_message("rtt %s %.1f ms", label, ms);
	g_assert_cmpfloat(ms, >=, 0);
	g_free(ping);
	g_free(pong);
}

/* Since `since`, the victim's user was shown nothing about strangers: no
 * dialog, no conversation but the buddy's. */
static void
assert_quiet(Fix *f, guint since)
{
	GPtrArray *all = host_find_all(since, HOST_EV_MESSAGE, f->victim, NULL, 0, NULL);

	for (guint i = 0; i < all->len; i++) {
		const HostEvent *ev = g_ptr_array_index(all, i);

		if (g_strcmp0(ev->peer, BUDDY_NAME) != 0) {
			g_test_message("shown to the user: %s: %s", ev->peer ? ev->peer : "-",
			               ev->text ? ev->text : "");
			g_test_fail();
		}
	}
	g_ptr_array_unref(all);
	g_assert_null(host_find(since, HOST_EV_NOTIFY, NULL, NULL, 0, NULL));
	g_assert_null(host_find(since, HOST_EV_REQUEST, NULL, NULL, 0, NULL));
}

/* ---- /sources/one-64-one-backoff ----------------------------------------- */

/* §9: for IPv6 the source is the /64.  A failed guess from one address of
 * it backs off every address of it; the handshakes in progress from it are
 * counted together (4 at most); the next /64 is another source. */
static void
test_one_64(Fix *f, gconstpointer data)
{
	static const char *const same_64[] = {
		"2001:db8:1::a:2", "2001:db8:1::ffff:1", "2001:db8:1:0:1234:5678:9abc:def0",
	};
	RawSession s[PARLEY_MAX_HANDSHAKES_PER_ADDR], extra;
	RawConn *c[PARLEY_MAX_HANDSHAKES_PER_ADDR], *ec;
	guint since, i;
	gint64 t_close;
	char src[64];

	if (!f->ready)
		return;
	since = host_mark();
	/* a wrong guess from one address of the /64: 1 s of backoff */
	g_assert_true(guess(f, "2001:db8:1::a:1"));
	t_close = now_ms();
	settle(2);
	STOP_IF_FAILED();
	/* other addresses of the /64 are refused meanwhile */
	for (i = 0; i < G_N_ELEMENTS(same_64); i++) {
		gboolean in = guess(f, same_64[i]);

		if (now_ms() < t_close + 1000)
			g_assert_false(in);
		else
			g_test_message("%s tried %" G_GINT64_FORMAT " ms after the failure: not checked",
			               same_64[i], now_ms() - t_close);
	}
	/* the next /64 is another source */
	g_assert_true(guess(f, "2001:db8:1:1::1"));
	settle(2);
	STOP_IF_FAILED();

	/* after the backoff, four handshakes at once from four addresses of
	 * the /64, and not a fifth from a fifth address */
	host_run_for((guint) MAX(0, t_close + 1000 + 50 - now_ms()));
	for (i = 0; i < PARLEY_MAX_HANDSHAKES_PER_ADDR; i++) {
		g_snprintf(src, sizeof src, "2001:db8:1::b:%x", i);
		g_assert_cmpint(try_hs1(f, src, wrong_prs, &s[i], &c[i]), ==, RAW_REPLY_HS2);
	}
	g_assert_cmpint(try_hs1(f, "2001:db8:1::b:ff", wrong_prs, &extra, &ec), ==,
	                RAW_REPLY_ERROR);
	g_assert_cmpint(extra.error_code, ==, PARLEY_ERR_BUSY);
	raw_session_clear(&extra);
	atk_close(f, ec);
	rtt(f, "one-64");
	/* all four fail: five failures of the /64, 16 s for all of it */
	for (i = 0; i < PARLEY_MAX_HANDSHAKES_PER_ADDR; i++) {
		if (s[i].hs2 != NULL)
			g_assert_cmpint(raw_session_finish(&s[i]), ==, PARLEY_ERR_AUTH);
		raw_session_clear(&s[i]);
		atk_close(f, c[i]);
	}
	settle(2);
	g_assert_false(guess(f, "2001:db8:1::c:1"));
	host_run_for(1100);
	g_assert_false(guess(f, "2001:db8:1::c:2"));
	assert_quiet(f, since);
}

/* ---- /sources/spray-keeps-backoff -------------------------------------- */

static gboolean
answered(const RawConn *c)
{
	guint32 len;

	if (c->eof)
		return TRUE;
	if (c->in->len < 4)
		return FALSE;
	memcpy(&len, c->in->data, 4);
	return c->in->len >= 4 + (gsize) GUINT32_FROM_BE(len);
}

typedef struct {
	RawConn **c;
	guint n;
} Batch;

static gboolean
all_answered(gpointer data)
{
	Batch *b = data;

	for (guint i = 0; i < b->n; i++)
		if (!answered(b->c[i]))
			return FALSE;
	return TRUE;
}

/* HS1 (a wrong guess's) from count fresh /64s of group, SPRAY_BATCH at a
 * time; a connection let in (HS2) hangs up, which is a failure.  Counts
 * what each got. */
static void
spray(Fix *f, guint group, guint count, guint *let_in, guint *busy)
{
	RawConn *c[SPRAY_BATCH];
	Batch b = { c, 0 };
	GByteArray *p, *fr;
	guint done, i;

	*let_in = *busy = 0;
	p = raw_hs1_payload(PARLEY_VERSION, NULL, atk_salt, ITERATIONS, 0, "sprayer");
	fr = raw_frame(p->data, p->len);
	for (done = 0; done < count && !g_test_failed(); done += b.n) {
		b.n = 0;
		for (i = 0; i < MIN(SPRAY_BATCH, count - done); i++) {
			char *src = fresh(group, done + i);

			c[i] = raw_connect_ip(src, VICTIM_IP, f->vport);
			g_free(src);
			if (c[i] == NULL) {
				g_test_fail();
				break;
			}
			b.n++;
			raw_send(c[i], fr->data, fr->len);
		}
		g_assert_true(host_run_until(all_answered, &b, T_SESSION));
		for (i = 0; i < b.n; i++) {
			GByteArray *ans = raw_take_frame(c[i]);
			int code = ans != NULL ? raw_error_code(ans) : -2;

			if (code == PARLEY_ERR_BUSY) {
				(*busy)++;
			} else if (code == -1 && ans->len > 4 && memcmp(ans->data, "PRLY", 4) == 0) {
				(*let_in)++;
			} else {
				g_test_message("sprayed source %u: unexpected answer (%d)", done + i, code);
				g_test_fail();
			}
			if (ans != NULL)
				g_byte_array_unref(ans);
			raw_close(c[i]);
		}
	}
	g_byte_array_unref(fr);
	g_byte_array_unref(p);
}

/* §9: a source that is backing off is never forgotten to make room.  The
 * victim's /64 fails four times at once (8 s of backoff); then 10 000
 * fresh /64s call with a guess.  The budget lets the first few fail and
 * refuses the rest; the /64 stays refused meanwhile, and when its block is
 * over its next failure is its fifth: 16 s, where a forgotten count would
 * give 1 s.  (The guard's own table bound, 4096 sources, takes hours of
 * strangers' failures to fill under the budget: test-guard.c fills it.) */
static void
test_spray(Fix *f, gconstpointer data)
{
	RawSession s[PARLEY_MAX_HANDSHAKES_PER_ADDR];
	RawConn *c[PARLEY_MAX_HANDSHAKES_PER_ADDR];
	gint64 t_fail, t0, spray_ms, t5 = 0, deadline;
	guint since, i, let_in = 0, busy = 0, n = 0;
	gboolean proven = FALSE;
	char src[64];

	if (!f->ready)
		return;
	since = host_mark();
	for (i = 0; i < PARLEY_MAX_HANDSHAKES_PER_ADDR; i++) {
		g_snprintf(src, sizeof src, "2001:db8:1::a:%x", i);
		g_assert_cmpint(try_hs1(f, src, wrong_prs, &s[i], &c[i]), ==, RAW_REPLY_HS2);
	}
	for (i = 0; i < PARLEY_MAX_HANDSHAKES_PER_ADDR; i++) {
		if (s[i].hs2 != NULL)
			g_assert_cmpint(raw_session_finish(&s[i]), ==, PARLEY_ERR_AUTH);
		raw_session_clear(&s[i]);
		atk_close(f, c[i]);
	}
	settle(2);
	t_fail = now_ms();
	STOP_IF_FAILED();

	t0 = now_ms();
	spray(f, 2, SPRAY, &let_in, &busy);
	spray_ms = now_ms() - t0;
	g_test_message("spray: %u HS1 from fresh /64s in %.1f s: %u let in, %u refused (ERROR 4)",
	               SPRAY, (double) spray_ms / 1000, let_in, busy);
	g_assert_cmpuint(let_in + busy, ==, SPRAY);
	/* the budget's 10 less the /64's 4, and what came back meanwhile */
	g_assert_cmpuint(let_in, <=, PARLEY_STRANGER_BUDGET - PARLEY_MAX_HANDSHAKES_PER_ADDR +
	                             spray_ms / REFILL_MS + 1);
	settle(2);
	STOP_IF_FAILED();
	if (now_ms() < t_fail + 8000 - 500)
		g_assert_false(guess(f, "2001:db8:1::d:1"));
	rtt(f, "spray");

	/* the block over, the /64 guesses again (let in once the budget has a
	 * token: strangers share it) */
	host_run_for((guint) MAX(0, t_fail + 8000 + 50 - now_ms()));
	deadline = now_ms() + 2 * REFILL_MS + T_REPLY;
	for (i = 0; t5 == 0 && now_ms() < deadline; i++) {
		g_snprintf(src, sizeof src, "2001:db8:1::e:%x", i);
		if (guess(f, src)) {
			settle(2);
			t5 = now_ms();
		} else {
			host_run_for(250);
		}
	}
	g_assert_cmpint(t5, >, 0);
	STOP_IF_FAILED();
	/* its fifth failure: 16 s.  Past 1 s the /64 is still refused, while
	 * a stranger elsewhere is let in: the refusal is the /64's own
	 * backoff, not an empty budget */
	host_run_for(1100);
	while (!proven && now_ms() < t5 + 16000 - 1000) {
		char *other = fresh(3, n++);

		g_assert_false(guess(f, "2001:db8:1::f:1"));
		proven = guess(f, other);
		g_free(other);
		if (!proven)
			host_run_for(250);
	}
	g_test_message("%s still backing off %.1f s after its fifth failure, while a stranger "
	               "was let in", VICTIM_64, (double) (now_ms() - t5) / 1000);
	g_assert_true(proven);
	assert_quiet(f, since);
}

/* ---- /sources/budget ------------------------------------------------------ */

static gboolean
buddy_offline(gpointer data)
{
	Fix *f = data;

	return !host_buddy_online(f->victim, BUDDY_NAME);
}

/* The buddy signs off and on again: it calls the victim, which lets it in
 * (it completed a handshake since the victim signed on: a friend). */
static void
buddy_reconnect(Fix *f)
{
	host_sign_off(f->buddy);
	g_assert_true(host_run_until(buddy_offline, f, T_MESSAGE));
	g_assert_true(host_sign_on(f->buddy, T_SESSION));
	host_conv(f->buddy, f->vaddr);
	g_assert_true(host_run_until(both_online, f, T_SESSION));
}

/* §9 per account: an attacker spraying wrong guesses from fresh /64s, as
 * fast as it can, gets 10 through at once and then one per 6 s (at most
 * 10 + t / 6 s in t seconds: 10 a minute once the burst is spent).  The
 * spray lasts until BUDGET_TAIL_MS after its first failure, long enough
 * to see two tokens come back.  Meanwhile the buddy, a friend, signs off
 * and calls again, and is let in at once while strangers are refused. */
static void
test_budget(Fix *f, gconstpointer data)
{
	GArray *times = g_array_new(FALSE, FALSE, sizeof(gint64));
	gint64 t0, t1 = 0, t10 = 0, t_end, t;
	guint since, tries = 0, refused = 0, n = 0, most, least, i;
	gboolean reconnected = FALSE;
	GString *gaps;

	if (!f->ready)
		goto out;
	since = host_mark();
	t0 = now_ms();
	while (!g_test_failed() && now_ms() - t0 < 2 * BUDGET_TAIL_MS &&
	       (t1 == 0 || now_ms() - t1 < BUDGET_TAIL_MS)) {
		char *src = fresh(3, n++);

		if (guess(f, src)) {
			/* the victim counts the failure when it reads our close,
			 * after this */
			t = now_ms();
			g_array_append_val(times, t);
			tries++;
			if (t1 == 0)
				t1 = t;
			if (tries == PARLEY_STRANGER_BUDGET)
				t10 = t;
		} else {
			refused++;
		}
		g_free(src);
		if (!reconnected && t10 != 0 && refused > 0) {
			gint64 t_r = now_ms();

			/* the budget is spent: strangers get ERROR 4, the buddy
			 * gets a session */
			buddy_reconnect(f);
			reconnected = TRUE;
			g_test_message("budget spent %.1f s after the first failure; the buddy called "
			               "again and was let in %.1f s later", (double) (t10 - t1) / 1000,
			               (double) (now_ms() - t_r) / 1000);
			/* a stranger right after it is still refused: so no token
			 * came back before the buddy was let in, and it took none */
			if (now_ms() - t1 < REFILL_MS - 500) {
				char *probe = fresh(3, n++);

				g_assert_false(guess(f, probe));
				refused++;
				g_free(probe);
			} else {
				g_test_message("the buddy took too long to tell: not checked");
			}
			rtt(f, "budget-spent");
		}
		host_run_for(10);
	}
	t_end = now_ms();
	g_assert_cmpint(t1, >, 0);
	/* tokens come back at the victim's first failure + 6 s, 12 s, ...:
	 * at most this many tries, and (each try taking far less than a
	 * second) at least this many */
	most = PARLEY_STRANGER_BUDGET + (guint) ((t_end - t1) / REFILL_MS);
	least = PARLEY_STRANGER_BUDGET + (guint) (MAX(0, t_end - t1 - 1500) / REFILL_MS);
	gaps = g_string_new(NULL);
	for (i = PARLEY_STRANGER_BUDGET; i < times->len; i++)
		g_string_append_printf(gaps, " %.1f s", (double) (g_array_index(times, gint64, i) -
		                                                  g_array_index(times, gint64, i - 1))
		                                        / 1000);
	g_test_message("%u wrong guesses from fresh /64s in %.1f s: %u got HS2 and failed "
	               "(%u to %u allowed), %u refused with ERROR 4; after the burst of %u, "
	               "the next tries came after%s: %.1f a minute", tries + refused,
	               (double) (t_end - t0) / 1000, tries, least, most, refused,
	               PARLEY_STRANGER_BUDGET, gaps->len > 0 ? gaps->str : " (none)",
	               tries > PARLEY_STRANGER_BUDGET ? 60000.0 * (tries - PARLEY_STRANGER_BUDGET) /
	               (double) (g_array_index(times, gint64, tries - 1) - t10) : 0.0);
	g_string_free(gaps, TRUE);
	g_assert_true(reconnected);
	g_assert_cmpuint(tries, <=, most);
	g_assert_cmpuint(tries, >=, least);
	g_assert_true(host_buddy_online(f->victim, BUDDY_NAME));
	assert_quiet(f, since);
out:
	g_array_free(times, TRUE);
}

/* ---- /sources/refuse-strangers ------------------------------------------- */

static gboolean
buddy_is_online(gpointer data)
{
	gpointer *a = data;

	return host_buddy_online(a[0], a[1]);
}

/* §9: with "Accept connections from strangers" off, a caller that is no
 * buddy gets ERROR 6 before any PBKDF2 (a salt nobody used, at the most
 * iterations, would keep a worker busy for a while), whatever it knows;
 * buddies - the buddy account, and a raw peer added as a buddy - are let
 * in.  Nothing was counted: switched on, the budget is whole. */
static void
test_refuse_strangers(Fix *f, gconstpointer data)
{
	static const char *const mallory_ip = "2001:db8:4:ff::b";
	gpointer who[2];
	char *mallory = g_strdup_printf("[%s]:7000", mallory_ip);
	uint8_t salt[PARLEY_SALT_LEN];
	GByteArray *p, *fr;
	RawSession s;
	RawConn *c;
	guint since, i;
	char *src;

	if (!f->ready)
		goto out;
	since = host_mark();
	for (i = 0; i < 30; i++) {
		src = fresh(4, i);
		c = atk(f, src);
		g_free(src);
		if (c == NULL)
			goto out;
		parley_random_bytes(salt, sizeof(salt));
		p = raw_hs1_payload(PARLEY_VERSION, NULL, salt, PARLEY_MAX_ITERATIONS, 0, "stranger");
		fr = raw_frame(p->data, p->len);
		raw_send(c, fr->data, fr->len);
		g_byte_array_unref(fr);
		g_byte_array_unref(p);
		fr = raw_wait_frame(c, T_REPLY);
		g_assert_nonnull(fr);
		g_assert_cmpint(fr != NULL ? raw_error_code(fr) : -1, ==, PARLEY_ERR_REFUSED);
		if (fr != NULL)
			g_byte_array_unref(fr);
		g_assert_true(raw_wait_eof(c, T_REPLY));
		g_assert_cmpuint(host_kdf_busy(), ==, 0);
		atk_close(f, c);
		STOP_IF_FAILED();
	}
	/* one that knows the passphrase is a stranger all the same */
	g_assert_cmpint(try_hs1(f, "2001:db8:4:100::1", atk_prs, &s, &c), ==, RAW_REPLY_ERROR);
	g_assert_cmpint(s.error_code, ==, PARLEY_ERR_REFUSED);
	raw_session_clear(&s);
	atk_close(f, c);
	assert_quiet(f, since);

	/* a buddy from the same prefix, on its listen port */
	host_add_buddy(f->victim, mallory);
	c = atk(f, mallory_ip);
	raw_session_init(&s, c);
	g_assert_true(raw_session_handshake(&s, "mallory", 7000, atk_salt, ITERATIONS, atk_prs,
	                                    T_SESSION));
	who[0] = f->victim;
	who[1] = mallory;
	g_assert_true(host_run_until(buddy_is_online, who, T_MESSAGE));
	raw_session_clear(&s);
	atk_close(f, c);
	/* the buddy account too, calling again */
	buddy_reconnect(f);
	rtt(f, "refuse-strangers");
	STOP_IF_FAILED();

	/* switched on: strangers are let in, and the budget is whole */
	purple_account_set_bool(f->victim, "accept-strangers", TRUE);
	for (i = 0; i < PARLEY_STRANGER_BUDGET; i++) {
		src = fresh(4, 0x200 + i);
		g_assert_true(guess(f, src));
		g_free(src);
	}
	src = fresh(4, 0x300);
	g_assert_false(guess(f, src));
	g_free(src);
out:
	g_free(mallory);
}

/* Classic mode: the original tool says nothing before it is given a salt,
 * so a caller that is no buddy is closed at once, without a salt and
 * without a PBKDF2; a buddy (on the default port, the original tool's)
 * gets its salt. */
static void
test_refuse_strangers_classic(Fix *f, gconstpointer data)
{
	RawConn *c;

	if (!f->ready)
		return;
	host_add_buddy(f->victim, "2001:db8:5::b");
	c = atk(f, "2001:db8:5::1");
	if (c == NULL)
		return;
	g_assert_true(raw_wait_eof(c, T_REPLY));
	g_assert_cmpuint(c->received, ==, 0);
	g_assert_cmpuint(host_kdf_busy(), ==, 0);
	atk_close(f, c);

	c = atk(f, "2001:db8:5::b");
	if (c == NULL)
		return;
	host_run_for(500);
	g_assert_cmpuint(c->received, ==, PARLEY_SALT_LEN);
	g_assert_false(c->eof);
	atk_close(f, c);

	/* switched on: a stranger gets its salt too */
	purple_account_set_bool(f->victim, "accept-strangers", TRUE);
	c = atk(f, "2001:db8:5::2");
	if (c == NULL)
		return;
	host_run_for(500);
	g_assert_cmpuint(c->received, ==, PARLEY_SALT_LEN);
	g_assert_false(c->eof);
	atk_close(f, c);
}

/* ---- main ------------------------------------------------------------------ */

int
main(int argc, char **argv)
{
	static const Case plain = { FALSE, FALSE };
	static const Case refusing = { TRUE, FALSE };
	static const Case refusing_classic = { TRUE, TRUE };
	GError *error = NULL;
	char *why = NULL;
	int rc;

	if (!enter_netns(argc, argv, &why)) {
		/* the whole program is skipped, not failed: the TAP plan says why */
		printf("1..0 # SKIP no network namespace of its own: %s\n", why);
		g_free(why);
		return 0;
	}
	g_test_init(&argc, &argv, NULL);
	g_test_set_nonfatal_assertions();
	g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_ERROR);
	g_setenv("PARLEY_TEST_HANDSHAKE_TIMEOUT_MS", G_STRINGIFY(HS_TIMEOUT_MS), TRUE);

	if (!host_init(&error)) {
		printf("Bail out! cannot start the libpurple host: %s\n", error->message);
		g_error_free(error);
		return 1;
	}
	parley_random_bytes(atk_salt, sizeof(atk_salt));
	raw_prs(PASSPHRASE, atk_salt, ITERATIONS, atk_prs);
	raw_prs(WRONG_GUESS, atk_salt, ITERATIONS, wrong_prs);

	SOURCES_TEST("/sources/one-64-one-backoff", &plain, test_one_64);
	SOURCES_TEST("/sources/spray-keeps-backoff", &plain, test_spray);
	SOURCES_TEST("/sources/budget", &plain, test_budget);
	SOURCES_TEST("/sources/refuse-strangers", &refusing, test_refuse_strangers);
	SOURCES_TEST("/sources/refuse-strangers-classic", &refusing_classic,
	             test_refuse_strangers_classic);

	rc = g_test_run();
	parley_wipe(atk_prs, sizeof(atk_prs));
	parley_wipe(wrong_prs, sizeof(wrong_prs));
	host_shutdown();
	return rc;
}
