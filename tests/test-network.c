/*
 * test-network.c - Parley over a broken network: two accounts in the
 * headless libpurple host (host.c) talking through the fault-injecting
 * proxy (faultproxy.c), which cuts, stalls and trickles their connection.
 * What is checked is what the users see: every message shown exactly once,
 * in order, on both sides, and a message that cannot be delivered reported
 * with its text (PROTOCOL.md §7).
 *
 * The arrangement: Alice listens; Bob does not (listen off), and Bob's
 * buddy for Alice is the proxy's address, so every connection between them
 * is Bob -> proxy -> Alice.  Bob, not listening, announces no port in HS1,
 * so Alice matches his calls (which come from the proxy, on 127.0.0.1) to
 * her only buddy on 127.0.0.1 (§9 matching by address); that buddy's
 * address is a port held bound but never listening, so Alice's own redials
 * are refused at once and never reach Bob around the proxy.  Bob therefore
 * shows up under the same buddy at Alice across every reconnection.
 *
 * Assertions are non-fatal; a case stops at the first check whose failure
 * would make the rest meaningless.
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
#include "faultproxy.h"
#include "host.h"

#include "under-valgrind.h"

#define PASSPHRASE "network trouble is no excuse"

/* Waits, in ms; valgrind runs everything some 30 times slower. */
static guint scale = 1;
#define T_SESSION   (15000 * scale)   /* sign-on, handshakes with PBKDF2 */
#define T_MESSAGE   (5000 * scale)
#define T_QUIET     (500 * scale)     /* to see that nothing more comes */

/* PARLEY_TEST_RETRY_MS for this program: redial quickly after a cut */
#define RETRY_MS "100"

#define STOP_IF_FAILED() G_STMT_START { if (g_test_failed()) return; } G_STMT_END

/* ---- what one side has shown from the other ------------------------------- */

typedef struct {
	PurpleAccount *acct;
	const char *peer;           /* the conversation: the buddy's name here */
	guint cursor;               /* the log up to here has been read */
	GPtrArray *texts;           /* char*, received messages in order */
} Inbox;

static void
inbox_init(Inbox *in, PurpleAccount *acct, const char *peer, guint since)
{
	in->acct = acct;
	in->peer = peer;
	in->cursor = since;
	in->texts = g_ptr_array_new_with_free_func(g_free);
}

static void
inbox_clear(Inbox *in)
{
	g_clear_pointer(&in->texts, g_ptr_array_unref);
}

/* Read what was shown since the last call: the log is long by the end of
 * a thousand messages, so read each event once. */
static guint
inbox_update(Inbox *in)
{
	guint end = host_mark();
	GPtrArray *all = host_find_all(in->cursor, HOST_EV_MESSAGE, in->acct, in->peer,
	                               PURPLE_MESSAGE_RECV, NULL);
	guint i;

	for (i = 0; i < all->len; i++)
		g_ptr_array_add(in->texts,
		                g_strdup(((const HostEvent *) g_ptr_array_index(all, i))->text));
	g_ptr_array_unref(all);
	in->cursor = end;
	return in->texts->len;
}

/* The text of message i from sender: it carries its index, and a length
 * that varies, so that frames are cut at every kind of place. */
static char *
message_text(const char *sender, guint i)
{
	static const char filler[] =
		"the quick brown fox jumps over the lazy dog; ünïcödé, Ελληνικά, 日本語, 🙂 ";
	GString *s = g_string_new(NULL);
	guint len = (i * 37u) % 160u;

	g_string_printf(s, "%s #%04u ", sender, i);
	while (len > 0) {
		guint take = MIN(len, (guint) sizeof(filler) - 1);

		g_string_append_len(s, filler, take);
		len -= take;
	}
	/* cut on a character boundary */
	while (!g_utf8_validate(s->str, (gssize) s->len, NULL))
		g_string_truncate(s, s->len - 1);
	return g_string_free(s, FALSE);
}

/* The inbox holds exactly messages first..first+n-1 of sender, each once,
 * in order. */
static void
check_inbox(Inbox *in, const char *sender, guint first, guint n)
{
	GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
	guint i, repeats = 0, wrong = 0;

	inbox_update(in);
	for (i = 0; i < in->texts->len; i++) {
		const char *got = g_ptr_array_index(in->texts, i);
		char *want = message_text(sender, first + i);

		if (!g_hash_table_add(seen, (gpointer) got))
			repeats++;
		if (i < n && strcmp(got, want) != 0) {
			if (wrong++ == 0)
				g_test_message("%s: message %u shown as \"%.20s...\", expected \"%.20s...\"",
				               purple_account_get_username(in->acct), i, got, want);
		}
		g_free(want);
	}
	if (repeats > 0)
		g_test_message("%s: %u messages from %s shown more than once",
		               purple_account_get_username(in->acct), repeats, sender);
	g_hash_table_destroy(seen);
	g_assert_cmpuint(repeats, ==, 0);
	g_assert_cmpuint(wrong, ==, 0);
	g_assert_cmpuint(in->texts->len, ==, n);
}

/* ---- Alice, Bob and the proxy between them -------------------------------- */

typedef struct {
	guint trickle_ms;           /* the proxy trickles from the start */
	guint delay_ms;             /* the proxy delays both ways from the start */
} NetOpts;

typedef struct {
	PurpleAccount *alice, *bob;
	FaultProxy *proxy;
	char *alice_addr;           /* Alice at Bob: the proxy */
	char *bob_addr;             /* Bob at Alice: a port nobody listens on */
	int dead_fd;                /* holds that port */
	Inbox at_alice, at_bob;     /* what each has shown from the other */
	guint mark;
	gboolean ready;
} Net;

/* A port on 127.0.0.1 that refuses connections for as long as fd stays
 * open: bound, never listening. */
static guint16
dead_port(int *fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	*fd = socket(AF_INET, SOCK_STREAM, 0);
	g_assert_cmpint(*fd, >=, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g_assert_cmpint(bind(*fd, (struct sockaddr *) &sa, sizeof(sa)), ==, 0);
	g_assert_cmpint(getsockname(*fd, (struct sockaddr *) &sa, &len), ==, 0);
	return ntohs(sa.sin_port);
}

static gboolean
both_online(gpointer data)
{
	Net *f = data;

	return host_buddy_online(f->alice, f->bob_addr) && host_buddy_online(f->bob, f->alice_addr);
}

static void
net_setup(Net *f, gconstpointer data)
{
	static const NetOpts defaults = { 0 };
	static guint n;
	const NetOpts *o = data != NULL ? data : &defaults;
	GError *error = NULL;
	char *name;

	n++;
	f->mark = host_mark();
	f->dead_fd = -1;
	name = g_strdup_printf("alice-%u", n);
	f->alice = host_account_new(name, PASSPHRASE, 0);
	g_free(name);
	name = g_strdup_printf("bob-%u", n);
	f->bob = host_account_new(name, PASSPHRASE, 0);
	g_free(name);
	/* Bob only calls out: every connection goes through the proxy */
	purple_account_set_bool(f->bob, "listen", FALSE);

	f->proxy = fault_proxy_new(host_account_port(f->alice), &error);
	g_assert_no_error(error);
	if (f->proxy == NULL) {
		g_clear_error(&error);
		return;
	}
	if (o->trickle_ms != 0)
		fault_proxy_set_trickle(f->proxy, o->trickle_ms);
	if (o->delay_ms != 0)
		fault_proxy_set_delay(f->proxy, FAULT_PROXY_BOTH, o->delay_ms);
	f->alice_addr = fault_proxy_address(f->proxy);
	f->bob_addr = g_strdup_printf("127.0.0.1:%u", dead_port(&f->dead_fd));
	host_add_buddy(f->alice, f->bob_addr);
	host_add_buddy(f->bob, f->alice_addr);
	inbox_init(&f->at_alice, f->alice, f->bob_addr, f->mark);
	inbox_init(&f->at_bob, f->bob, f->alice_addr, f->mark);

	g_assert_true(host_sign_on(f->alice, T_SESSION));
	STOP_IF_FAILED();
	host_conv(f->alice, f->bob_addr);
	g_assert_true(host_sign_on(f->bob, T_SESSION));
	STOP_IF_FAILED();
	host_conv(f->bob, f->alice_addr);
	f->ready = host_run_until(both_online, f, T_SESSION * (o->trickle_ms != 0 ? 3 : 1));
	g_assert_true(f->ready);
	/* one connection, through the proxy */
	g_assert_cmpuint(fault_proxy_accepted(f->proxy), ==, 1);
}

static void
net_teardown(Net *f, gconstpointer data)
{
	if (f->bob != NULL)
		host_account_delete(f->bob);
	if (f->alice != NULL)
		host_account_delete(f->alice);
	host_run_for(50);
	fault_proxy_free(f->proxy);
	if (f->dead_fd >= 0)
		close(f->dead_fd);
	/* nothing in the case made GLib complain or misused the loop */
	host_assert_clean(f->mark);
	if (g_test_failed())
		host_dump(f->mark);
	inbox_clear(&f->at_alice);
	inbox_clear(&f->at_bob);
	g_free(f->alice_addr);
	g_free(f->bob_addr);
}

#define NET_TEST(path, func, opts) \
	g_test_add(path, Net, opts, net_setup, func, net_teardown)

/* ---- helpers ---------------------------------------------------------------- */

/* No message waits for an acknowledgement on either side. */
static gboolean
outboxes_empty(gpointer data)
{
	Net *f = data;
	char *da = host_session_details(f->alice, f->bob_addr);
	char *db = host_session_details(f->bob, f->alice_addr);
	gboolean empty = da != NULL && db != NULL && strstr(da, "waiting for delivery") == NULL &&
	                 strstr(db, "waiting for delivery") == NULL;

	g_free(da);
	g_free(db);
	return empty;
}

typedef struct {
	Net *f;
	guint want_alice, want_bob;
} Want;

static gboolean
all_shown(gpointer data)
{
	Want *w = data;

	return inbox_update(&w->f->at_alice) >= w->want_alice &&
	       inbox_update(&w->f->at_bob) >= w->want_bob;
}

/* Wait until Alice has shown want_alice messages from Bob and Bob
 * want_bob from Alice, then a little longer for repeats, and until every
 * acknowledgement is back. */
static void
wait_all_shown(Net *f, guint want_alice, guint want_bob, guint timeout_ms)
{
	Want w = { f, want_alice, want_bob };

	if (!host_run_until(all_shown, &w, timeout_ms))
		g_test_message("after %u ms: alice shows %u of %u, bob %u of %u", timeout_ms,
		               f->at_alice.texts->len, want_alice, f->at_bob.texts->len, want_bob);
	host_run_for(T_QUIET);
	g_assert_true(host_run_until(outboxes_empty, f, T_MESSAGE));
}

static void
send_numbered(PurpleAccount *from, const char *to, const char *sender, guint i)
{
	char *text = message_text(sender, i);

	host_send_im(from, to, text);
	g_free(text);
}

/* No "not delivered" notice, on either side, since the case began. */
static void
check_nothing_lost(Net *f)
{
	const HostEvent *ev = host_find(f->mark, HOST_EV_MESSAGE, NULL, NULL,
	                                PURPLE_MESSAGE_ERROR, "not delivered");

	if (ev != NULL)
		g_test_message("%s: %s", ev->account, ev->text);
	g_assert_null(ev);
}

/* ---- /network/cuts-1000 ----------------------------------------------------- */

#define N_MESSAGES 1000
#define N_CUTS     10
#define TICK_MS    20

typedef struct {
	Net *f;
	guint sent[2];              /* by Alice, by Bob */
	gint64 start_ms;
	gint64 cut_at[N_CUTS];      /* ms after start, ascending */
	guint cuts;
	guint resets;               /* of them, with RST */
	guint stalls;               /* of them, after a stall */
	gint64 stall_until;         /* stalled now, cut at this time */
	guint send_timer;
	guint cut_timer;
} Traffic;

/* Mostly a few messages a tick, sometimes a burst of dozens, and now and
 * then more than the receiver's 256 remembered msg_ids at once. */
static guint
burst_size(void)
{
	gint32 r = g_test_rand_int_range(0, 100);

	if (r < 2)
		return (guint) g_test_rand_int_range(200, 320);
	if (r < 10)
		return (guint) g_test_rand_int_range(10, 40);
	return (guint) g_test_rand_int_range(0, 5);
}

static gboolean
send_tick(gpointer data)
{
	Traffic *t = data;
	int first = g_test_rand_bit() ? 0 : 1, k;

	for (k = 0; k < 2; k++) {
		int side = (first + k) % 2;
		guint burst = burst_size(), i;

		for (i = 0; i < burst && t->sent[side] < N_MESSAGES; i++) {
			if (side == 0)
				send_numbered(t->f->alice, t->f->bob_addr, "alice", t->sent[0]++);
			else
				send_numbered(t->f->bob, t->f->alice_addr, "bob", t->sent[1]++);
		}
	}
	if (t->sent[0] < N_MESSAGES || t->sent[1] < N_MESSAGES)
		return G_SOURCE_CONTINUE;
	t->send_timer = 0;
	return G_SOURCE_REMOVE;
}

static gboolean
cut_tick(gpointer data)
{
	Traffic *t = data;
	gint64 now = g_get_monotonic_time() / 1000;
	static const FaultProxyDir dirs[] = {
		FAULT_PROXY_UP, FAULT_PROXY_DOWN, FAULT_PROXY_BOTH
	};

	if (t->stall_until != 0) {
		/* a link that froze, then died: what it held is lost */
		if (now < t->stall_until)
			return G_SOURCE_CONTINUE;
		t->stall_until = 0;
	} else if (now - t->start_ms < t->cut_at[t->cuts] ||
	           fault_proxy_active(t->f->proxy) == 0) {
		/* a cut comes at its moment, or as soon after as there is a
		 * connection to cut */
		return G_SOURCE_CONTINUE;
	} else if (g_test_rand_bit()) {
		fault_proxy_set_stall(t->f->proxy, dirs[g_test_rand_int_range(0, 3)], TRUE);
		t->stall_until = now + g_test_rand_int_range(50, 500);
		t->stalls++;
		return G_SOURCE_CONTINUE;
	}
	if (g_test_rand_bit()) {
		fault_proxy_reset_all(t->f->proxy);
		t->resets++;
	} else {
		fault_proxy_cut_all(t->f->proxy);
	}
	fault_proxy_set_stall(t->f->proxy, FAULT_PROXY_BOTH, FALSE);
	t->cuts++;
	if (t->cuts < N_CUTS)
		return G_SOURCE_CONTINUE;
	t->cut_timer = 0;
	return G_SOURCE_REMOVE;
}

static gint
cmp_gint64(gconstpointer a, gconstpointer b)
{
	gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

	return x < y ? -1 : x > y;
}

typedef struct {
	Traffic *t;
	Want w;
} CutsDone;

static gboolean
cuts_done(gpointer data)
{
	CutsDone *d = data;

	return d->t->cuts == N_CUTS && d->t->send_timer == 0 && all_shown(&d->w);
}

static void
test_cuts_1000(Net *f, gconstpointer data)
{
	Traffic t = { f };
	CutsDone d = { &t, { f, N_MESSAGES, N_MESSAGES } };
	guint i;
	gint64 took;

	if (!f->ready)
		return;
	/* the sending takes some 3 s: cut within it (a cut that finds no
	 * connection waits for the next one); half the cuts come after the
	 * link froze for a moment, one way or both, so what it held then -
	 * messages, or the ACKs for messages already shown - is lost with it */
	for (i = 0; i < N_CUTS; i++)
		t.cut_at[i] = g_test_rand_int_range(100, 3500);
	qsort(t.cut_at, N_CUTS, sizeof(t.cut_at[0]), cmp_gint64);
	t.start_ms = g_get_monotonic_time() / 1000;
	t.send_timer = g_timeout_add(TICK_MS, send_tick, &t);
	t.cut_timer = g_timeout_add(5, cut_tick, &t);

	host_run_until(cuts_done, &d, 90000 * scale);
	took = g_get_monotonic_time() / 1000 - t.start_ms;
	if (t.send_timer != 0)
		g_source_remove(t.send_timer);
	if (t.cut_timer != 0)
		g_source_remove(t.cut_timer);
	g_test_message("%u cuts (%u with RST, %u after a stall), %u connections, "
	               "%" G_GINT64_FORMAT " ms; %" G_GUINT64_FORMAT " bytes up, "
	               "%" G_GUINT64_FORMAT " down",
	               t.cuts, t.resets, t.stalls, fault_proxy_accepted(f->proxy), took,
	               fault_proxy_bytes(f->proxy, FAULT_PROXY_UP),
	               fault_proxy_bytes(f->proxy, FAULT_PROXY_DOWN));
	g_assert_cmpuint(t.sent[0], ==, N_MESSAGES);
	g_assert_cmpuint(t.sent[1], ==, N_MESSAGES);
	g_assert_cmpuint(t.cuts, ==, N_CUTS);
	g_assert_cmpuint(fault_proxy_cut_count(f->proxy), >=, N_CUTS);

	wait_all_shown(f, N_MESSAGES, N_MESSAGES, T_MESSAGE);
	check_inbox(&f->at_alice, "bob", 0, N_MESSAGES);
	check_inbox(&f->at_bob, "alice", 0, N_MESSAGES);
	check_nothing_lost(f);
	/* and the session is up again at the end, on a new connection */
	g_assert_true(host_run_until(both_online, f, T_SESSION));
	g_assert_cmpuint(fault_proxy_accepted(f->proxy), >=, N_CUTS + 1);
}

/* ---- /network/unacked-window -------------------------------------------------- */

typedef struct {
	Inbox *in;
	guint want;
	guint last;
	gint64 last_change_ms;
	guint quiet_ms;
} Settle;

/* want shown, or nothing new for quiet_ms after the first one */
static gboolean
settled(gpointer data)
{
	Settle *s = data;
	guint n = inbox_update(s->in);
	gint64 now = g_get_monotonic_time() / 1000;

	if (n != s->last) {
		s->last = n;
		s->last_change_ms = now;
	}
	return n >= s->want || (n > 0 && now - s->last_change_ms >= s->quiet_ms);
}

#define N_WINDOW 600

/* Bob sends more than Alice remembers msg_ids of (256, §7) while every
 * acknowledgement is held up; then the connection breaks and comes back.
 * Bob resends what was not acknowledged: Alice must recognise every
 * message she has shown already. */
static void
test_unacked_window(Net *f, gconstpointer data)
{
	Settle s = { &f->at_alice, N_WINDOW, 0, 0, 1000 * scale };
	guint i, shown;

	if (!f->ready)
		return;
	fault_proxy_set_stall(f->proxy, FAULT_PROXY_DOWN, TRUE);
	for (i = 0; i < N_WINDOW; i++)
		send_numbered(f->bob, f->alice_addr, "bob", i);
	s.last_change_ms = g_get_monotonic_time() / 1000;
	host_run_until(settled, &s, T_SESSION);
	/* the proxy reads her last acknowledgements */
	host_run_for(200);
	shown = inbox_update(&f->at_alice);
	g_test_message("alice showed %u messages with no acknowledgement back", shown);
	g_assert_cmpuint(shown, >, 0);
	/* no more on the wire unacknowledged than she can tell apart */
	g_assert_cmpuint(shown, <=, PARLEY_SEEN_IDS);
	/* the acknowledgements are lost with the connection */
	g_assert_cmpuint(fault_proxy_buffered(f->proxy, FAULT_PROXY_DOWN), >, 0);
	fault_proxy_cut_all(f->proxy);
	fault_proxy_set_stall(f->proxy, FAULT_PROXY_DOWN, FALSE);

	wait_all_shown(f, N_WINDOW, 0, T_SESSION);
	check_inbox(&f->at_alice, "bob", 0, N_WINDOW);
	check_nothing_lost(f);
	g_assert_cmpuint(fault_proxy_accepted(f->proxy), >=, 2);
}

/* ---- /network/trickle --------------------------------------------------------- */

static const NetOpts trickle = { .trickle_ms = 1 };

#define N_TRICKLE 6

static void
test_trickle(Net *f, gconstpointer data)
{
	guint i, m;

	/* the handshake came one byte at a time (setup) */
	if (!f->ready)
		return;
	g_assert_nonnull(host_find(f->mark, HOST_EV_MESSAGE, f->alice, f->bob_addr,
	                           PURPLE_MESSAGE_SYSTEM, "Secure session with"));
	g_assert_nonnull(host_find(f->mark, HOST_EV_MESSAGE, f->bob, f->alice_addr,
	                           PURPLE_MESSAGE_SYSTEM, "Secure session with"));
	/* messages both ways, interleaved */
	for (i = 0; i < N_TRICKLE; i++) {
		send_numbered(f->alice, f->bob_addr, "alice", i);
		send_numbered(f->bob, f->alice_addr, "bob", i);
	}
	/* and a rekey in the middle of the next ones */
	m = host_mark();
	g_assert_true(host_menu_action(f->bob, f->alice_addr, "Rekey now"));
	for (i = N_TRICKLE; i < 2 * N_TRICKLE; i++) {
		send_numbered(f->alice, f->bob_addr, "alice", i);
		send_numbered(f->bob, f->alice_addr, "bob", i);
	}
	wait_all_shown(f, 2 * N_TRICKLE, 2 * N_TRICKLE, 60000 * scale);
	check_inbox(&f->at_alice, "bob", 0, 2 * N_TRICKLE);
	check_inbox(&f->at_bob, "alice", 0, 2 * N_TRICKLE);
	g_assert_cmpint(host_last_rekey_epoch(m, f->alice, f->bob_addr), ==, 1);
	g_assert_cmpint(host_last_rekey_epoch(m, f->bob, f->alice_addr), ==, 1);
	check_nothing_lost(f);
	g_assert_null(host_find(f->mark, HOST_EV_MESSAGE, NULL, NULL, PURPLE_MESSAGE_ERROR, NULL));

	/* every byte went on its own, on the one connection */
	g_test_message("%" G_GUINT64_FORMAT " bytes up, %" G_GUINT64_FORMAT " down, one at a time",
	               fault_proxy_bytes(f->proxy, FAULT_PROXY_UP),
	               fault_proxy_bytes(f->proxy, FAULT_PROXY_DOWN));
	g_assert_cmpuint(fault_proxy_bytes(f->proxy, FAULT_PROXY_UP), >, 1000);
	g_assert_cmpuint(fault_proxy_bytes(f->proxy, FAULT_PROXY_DOWN), >, 1000);
	g_assert_cmpuint(fault_proxy_writes(f->proxy, FAULT_PROXY_BOTH), ==,
	                 fault_proxy_bytes(f->proxy, FAULT_PROXY_BOTH));
	g_assert_cmpuint(fault_proxy_accepted(f->proxy), ==, 1);
}

/* ---- /network/stall ----------------------------------------------------------- */

#define N_BEFORE 3
#define N_STALLED 20

static void
test_stall(Net *f, gconstpointer data)
{
	guint i, m;

	if (!f->ready)
		return;
	for (i = 0; i < N_BEFORE; i++) {
		send_numbered(f->alice, f->bob_addr, "alice", i);
		send_numbered(f->bob, f->alice_addr, "bob", i);
	}
	wait_all_shown(f, N_BEFORE, N_BEFORE, T_MESSAGE);
	STOP_IF_FAILED();

	/* the link freezes; both go on writing */
	fault_proxy_set_stall(f->proxy, FAULT_PROXY_BOTH, TRUE);
	m = host_mark();
	for (i = N_BEFORE; i < N_BEFORE + N_STALLED; i++) {
		send_numbered(f->alice, f->bob_addr, "alice", i);
		send_numbered(f->bob, f->alice_addr, "bob", i);
		host_run_for(20);
	}
	host_run_for(3000);
	g_assert_null(host_find(m, HOST_EV_MESSAGE, NULL, NULL, PURPLE_MESSAGE_RECV, NULL));
	g_assert_cmpuint(fault_proxy_buffered(f->proxy, FAULT_PROXY_UP), >, 0);
	g_assert_cmpuint(fault_proxy_buffered(f->proxy, FAULT_PROXY_DOWN), >, 0);
	/* a frozen link is not a lost one */
	g_assert_true(both_online(f));

	fault_proxy_set_stall(f->proxy, FAULT_PROXY_BOTH, FALSE);
	wait_all_shown(f, N_BEFORE + N_STALLED, N_BEFORE + N_STALLED, T_MESSAGE);
	check_inbox(&f->at_alice, "bob", 0, N_BEFORE + N_STALLED);
	check_inbox(&f->at_bob, "alice", 0, N_BEFORE + N_STALLED);
	check_nothing_lost(f);
	/* the same connection carried it all, and nobody was told of trouble */
	g_assert_cmpuint(fault_proxy_accepted(f->proxy), ==, 1);
	g_assert_null(host_find(f->mark, HOST_EV_MESSAGE, NULL, NULL, PURPLE_MESSAGE_ERROR, NULL));
	g_assert_null(host_find(f->mark, HOST_EV_BUDDY_OFF, NULL, NULL, 0, NULL));
}

/* ---- /network/give-up --------------------------------------------------------- */

#define GIVE_UP_MS 2000
#define LOST_TEXT "this one never arrives — ünïcödé <b>&amp;</b>"

static void
test_give_up(Net *f, gconstpointer data)
{
	guint m;
	gint64 sent_ms;
	const HostEvent *ev;
	GPtrArray *notices;
	char *want, *after;

	if (!f->ready)
		return;
	g_setenv("PARLEY_TEST_GIVE_UP_MS", G_STRINGIFY(GIVE_UP_MS), TRUE);
	/* Bob's message goes onto the wire and no further */
	fault_proxy_set_stall(f->proxy, FAULT_PROXY_UP, TRUE);
	m = host_mark();
	sent_ms = g_get_monotonic_time() / 1000;
	host_send_im(f->bob, f->alice_addr, LOST_TEXT);
	host_run_for(200);
	g_assert_cmpuint(fault_proxy_buffered(f->proxy, FAULT_PROXY_UP), >, 0);
	/* then the route goes, and Alice is never reachable again */
	g_assert_true(fault_proxy_set_listening(f->proxy, FALSE));
	g_assert_cmpuint(fault_proxy_cut_all(f->proxy), ==, 1);

	want = g_strdup_printf("not delivered: \"%s\"", LOST_TEXT);
	ev = host_wait(m, HOST_EV_MESSAGE, f->bob, f->alice_addr, PURPLE_MESSAGE_ERROR, want,
	               GIVE_UP_MS + T_MESSAGE);
	g_assert_nonnull(ev);
	if (ev != NULL) {
		g_test_message("%s after %" G_GINT64_FORMAT " ms", ev->text, ev->time_ms - sent_ms);
		g_assert_cmpint(ev->time_ms - sent_ms, >=, GIVE_UP_MS - 50);
		g_assert_cmpint(ev->time_ms - sent_ms, <, GIVE_UP_MS + 3000 * (gint64) scale);
	}
	g_free(want);
	/* said once, and Alice never saw it */
	notices = host_find_all(m, HOST_EV_MESSAGE, f->bob, f->alice_addr, PURPLE_MESSAGE_ERROR,
	                        "not delivered");
	g_assert_cmpuint(notices->len, ==, 1);
	g_ptr_array_unref(notices);
	g_assert_null(host_find(m, HOST_EV_MESSAGE, f->alice, NULL, PURPLE_MESSAGE_RECV, NULL));
	g_unsetenv("PARLEY_TEST_GIVE_UP_MS");
	STOP_IF_FAILED();

	/* when Alice can be reached again, the message given up stays given up:
	 * the next one arrives alone */
	g_assert_true(fault_proxy_set_listening(f->proxy, TRUE));
	fault_proxy_set_stall(f->proxy, FAULT_PROXY_UP, FALSE);
	g_assert_true(host_run_until(both_online, f, T_SESSION));
	m = host_mark();
	after = message_text("bob", 0);
	host_send_im(f->bob, f->alice_addr, after);
	g_free(after);
	wait_all_shown(f, 1, 0, T_MESSAGE);
	check_inbox(&f->at_alice, "bob", 0, 1);
}

/* ---- /network/delay ----------------------------------------------------------- */

/* A link with 40 ms one way: the handshake (setup) and everything after it
 * wait in the proxy, and nothing is lost, reordered or shown twice.  What
 * it took is only reported: no assertion here depends on timing. */
static const NetOpts delayed = { .delay_ms = 40 };

#define N_DELAY 10

static gboolean
proxy_empty(gpointer data)
{
	Net *f = data;

	return fault_proxy_buffered(f->proxy, FAULT_PROXY_BOTH) == 0;
}

static void
test_delay(Net *f, gconstpointer data)
{
	gint64 t0;
	guint i, m;

	if (!f->ready)
		return;
	t0 = g_get_monotonic_time();
	for (i = 0; i < N_DELAY; i++) {
		send_numbered(f->alice, f->bob_addr, "alice", i);
		send_numbered(f->bob, f->alice_addr, "bob", i);
	}
	/* a rekey while messages are on the way in both directions, and a
	 * stall on top of the delay */
	m = host_mark();
	g_assert_true(host_menu_action(f->alice, f->bob_addr, "Rekey now"));
	fault_proxy_set_stall(f->proxy, FAULT_PROXY_UP, TRUE);
	for (i = N_DELAY; i < 2 * N_DELAY; i++) {
		send_numbered(f->alice, f->bob_addr, "alice", i);
		send_numbered(f->bob, f->alice_addr, "bob", i);
	}
	host_run_for(100);
	fault_proxy_set_stall(f->proxy, FAULT_PROXY_UP, FALSE);
	wait_all_shown(f, 2 * N_DELAY, 2 * N_DELAY, T_SESSION);
	g_test_message("%u messages each way through 40 ms each way in %.0f ms", 2 * N_DELAY,
	               (double) (g_get_monotonic_time() - t0) / 1000);
	check_inbox(&f->at_alice, "bob", 0, 2 * N_DELAY);
	check_inbox(&f->at_bob, "alice", 0, 2 * N_DELAY);
	g_assert_cmpint(host_last_rekey_epoch(m, f->alice, f->bob_addr), ==, 1);
	g_assert_cmpint(host_last_rekey_epoch(m, f->bob, f->alice_addr), ==, 1);
	check_nothing_lost(f);
	g_assert_null(host_find(f->mark, HOST_EV_MESSAGE, NULL, NULL, PURPLE_MESSAGE_ERROR, NULL));
	/* what the proxy held it has let go (a keepalive may be on its way) */
	g_assert_true(host_run_until(proxy_empty, f, T_MESSAGE));
	g_assert_cmpuint(fault_proxy_accepted(f->proxy), ==, 1);
}

/* ---- main ------------------------------------------------------------------- */

int
main(int argc, char **argv)
{
	GError *error = NULL;
	int rc;

	g_test_init(&argc, &argv, NULL);
	g_test_set_nonfatal_assertions();
	/* GTest makes warnings fatal; the host records them instead and every
	 * case checks that none came */
	g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_ERROR);
	if (UNDER_VALGRIND())
		scale = 30;
	g_setenv("PARLEY_TEST_RETRY_MS", RETRY_MS, TRUE);
	g_unsetenv("PARLEY_TEST_GIVE_UP_MS");

	if (!host_init(&error)) {
		g_printerr("# cannot start the libpurple host: %s\n", error->message);
		printf("Bail out! %s\n", error->message);
		g_error_free(error);
		return 1;
	}

	NET_TEST("/network/trickle", test_trickle, &trickle);
	NET_TEST("/network/stall", test_stall, NULL);
	NET_TEST("/network/unacked-window", test_unacked_window, NULL);
	NET_TEST("/network/cuts-1000", test_cuts_1000, NULL);
	NET_TEST("/network/give-up", test_give_up, NULL);
	NET_TEST("/network/delay", test_delay, &delayed);

	rc = g_test_run();
	host_shutdown();
	return rc;
}
