/*
 * test-hostile.c - hostile peers against a Parley account in the headless
 * libpurple host (host.c), PROTOCOL.md §2, §4, §6, §8 and §9.
 *
 * Each case signs on a "victim" account listening on an ephemeral port of
 * 127.0.0.1 and an honest "friend" account in session with it, then lets a
 * raw-socket attacker (rawpeer.c, on the same GLib loop) misbehave.  Every
 * case checks that the victim stays signed on, that a message goes from
 * the friend to the victim and back while the attack runs (its round trip
 * is printed as "# rtt <attack> <ms>"), and that the user is told what
 * concerns them - and nothing about strangers.
 *
 * Attackers connect from their own loopback addresses (127.0.N.x, N the
 * case's number: Linux accepts any 127/8 source), so the online-guessing
 * counters they raise never touch the friend at 127.0.0.1.  Attackers who
 * need an established session run the handshake with the core's own
 * handshake.h and seal records with record.h, so the test holds every key
 * of its side.
 *
 * Memory and descriptors: the unfinished-handshakes case compares the
 * process's RSS between two identical rounds of 50 connections, its open
 * descriptors before and after, and the plugin's open connections (from
 * its debug log); fd-exhaustion lets callers outrun the descriptor limit.
 *
 * The plugin's handshake timeout is cut to HS_TIMEOUT_MS through
 * PARLEY_TEST_HANDSHAKE_TIMEOUT_MS.  The plugin carries its own copy of the
 * core: its PBKDF2 worker is asked about through the symbols of the loaded
 * module (host_plugin_symbol, host_kdf_busy), not through this program's
 * copy.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <glib.h>
#include <purple.h>

#include "constants.h"
#include "crypto.h"
#include "frame.h"
#include "host.h"
#include "rawpeer.h"
#include "testutil.h"

#define PASSPHRASE   "the victim and the friend share this"
#define WRONG_GUESS  "an attacker's wrong guess"
#define ITERATIONS   200000u
#define HS_TIMEOUT_MS 3000

#define T_SESSION    45000    /* both sides sign on and meet; slow under ASan on a busy machine */
#define T_MESSAGE    5000
#define T_REPLY      3000     /* an answer the plugin gives at once */
#define T_KDF_IDLE   60000    /* PBKDF2 at the most iterations, on a busy machine */
/* a round trip friend -> victim -> friend may take this long at most, even
 * with both PBKDF2 workers busy and attackers connected */
#define RTT_MAX_MS   2000.0

/* how much the victim's memory may grow between two identical rounds of
 * attack: blocks freed under AddressSanitizer wait in its quarantine */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#if defined(UNDER_ASAN)
#define RSS_SLACK    (64 * 1024 * 1024)
#else
#define RSS_SLACK    (2 * 1024 * 1024)
#endif

#define STOP_IF_FAILED() G_STMT_START { if (g_test_failed()) return; } G_STMT_END

/* the attacker's account salt, and PRS for the victim's passphrase (it
 * knows it: a peer gone rogue) and for a wrong guess */
static uint8_t atk_salt[PARLEY_SALT_LEN];
static uint8_t atk_prs[PARLEY_PRS_LEN];
static uint8_t wrong_prs[PARLEY_PRS_LEN];

/* the plugin's own PBKDF2 worker (kdf_worker.h), from the loaded module */
static guint (*plugin_kdf_max_seen)(void);
static void (*plugin_kdf_hold)(gboolean hold);

/* Wait until the plugin's PBKDF2 workers hold no job, not even a
 * cancelled one. */
static gboolean
wait_kdf_idle(void)
{
	return host_wait_settled(HOST_ANY_CONNS, T_KDF_IDLE);
}

/* ---- what the process holds --------------------------------------------- */

static gsize
rss_bytes(void)
{
	char *text = NULL;
	unsigned long size = 0, resident = 0;

	if (g_file_get_contents("/proc/self/statm", &text, NULL, NULL))
		sscanf(text, "%lu %lu", &size, &resident);
	g_free(text);
	return (gsize) resident * (gsize) sysconf(_SC_PAGESIZE);
}

static guint
open_fds(void)
{
	GDir *d = g_dir_open("/proc/self/fd", 0, NULL);
	guint n = 0;

	if (d == NULL)
		return 0;
	while (g_dir_read_name(d) != NULL)
		n++;
	g_dir_close(d);
	return n;
}

/* ---- the fixture: victim, friend, attackers ----------------------------- */

typedef struct {
	PurpleAccount *victim, *friend;
	char *vname, *fname;
	char *vaddr, *faddr;        /* their addresses: each one's buddy name at the other */
	guint16 vport;
	guint n;                    /* the case's number: attackers use 127.0.n.x */
	guint mark;
	gboolean ready;
	GPtrArray *raws;            /* RawConn* of the case, closed at teardown */
} Fix;

static gboolean
both_online(gpointer data)
{
	Fix *f = data;

	return host_buddy_online(f->victim, f->faddr) && host_buddy_online(f->friend, f->vaddr);
}

static void
fix_setup(Fix *f, gconstpointer data)
{
	static guint n;

	f->n = ++n;
	f->mark = host_mark();
	f->raws = g_ptr_array_new_with_free_func((GDestroyNotify) raw_close);
	f->vname = g_strdup_printf("victim-%u", n);
	f->fname = g_strdup_printf("friend-%u", n);
	f->victim = host_account_new(f->vname, PASSPHRASE, 0);
	f->friend = host_account_new(f->fname, PASSPHRASE, 0);
	f->vport = host_account_port(f->victim);
	f->vaddr = host_account_address(f->victim, FALSE);
	f->faddr = host_account_address(f->friend, FALSE);
	host_add_buddy(f->victim, f->faddr);
	host_add_buddy(f->friend, f->vaddr);
	g_assert_true(host_sign_on(f->victim, T_SESSION));
	g_assert_true(host_sign_on(f->friend, T_SESSION));
	STOP_IF_FAILED();
	host_conv(f->victim, f->faddr);
	host_conv(f->friend, f->vaddr);
	f->ready = host_run_until(both_online, f, T_SESSION);
	g_assert_true(f->ready);
	if (!f->ready) {
		host_dump(f->mark);
		return;
	}
	/* both dialled: the attack starts once the duplicate connection is
	 * gone (one is left, PROTOCOL.md §9: the plugin holds its two ends)
	 * and no PBKDF2 is left over: a case that counts the victim's
	 * handshakes or workers starts from nothing */
	g_assert_true(host_wait_settled(2, T_SESSION));
	f->ready = !g_test_failed();
}

static void
fix_teardown(Fix *f, gconstpointer data)
{
	g_ptr_array_unref(f->raws);
	host_run_for(50);
	/* whatever the attack did, the victim is still signed on */
	g_assert_true(purple_account_is_connected(f->victim));
	g_assert_null(host_find(f->mark, HOST_EV_CONN_ERROR, f->victim, NULL, 0, NULL));
	g_assert_null(host_find(f->mark, HOST_EV_SIGNED_OFF, f->victim, NULL, 0, NULL));
	/* and the friend's session survived it */
	g_assert_true(host_buddy_online(f->victim, f->faddr));
	/* nothing in the case made GLib complain or misused the loop */
	host_assert_clean(f->mark);
	if (g_test_failed())
		host_dump(f->mark);
	host_account_delete(f->victim);
	host_account_delete(f->friend);
	host_run_for(50);
	/* PBKDF2 cannot be stopped: let the case's last jobs finish rather
	 * than hand them to the next case (the workers serve the process) */
	plugin_kdf_hold(FALSE);
	g_assert_true(wait_kdf_idle());
	g_free(f->vname);
	g_free(f->fname);
	g_free(f->vaddr);
	g_free(f->faddr);
}

#define HOSTILE_TEST(path, func) g_test_add(path, Fix, NULL, fix_setup, func, fix_teardown)

static char *
atk_ip(const Fix *f, guint host)
{
	return g_strdup_printf("127.0.%u.%u", f->n, host);
}

/* A connection to the victim from 127.0.n.host, closed at teardown. */
static RawConn *
atk(Fix *f, guint host)
{
	char *ip = atk_ip(f, host);
	RawConn *c = raw_connect(ip, f->vport);

	g_free(ip);
	g_assert_nonnull(c);
	if (c != NULL)
		g_ptr_array_add(f->raws, c);
	return c;
}

/* Close one of the case's connections now. */
static void
atk_close(Fix *f, RawConn *c)
{
	g_ptr_array_remove(f->raws, c);
}

/* A friend -> victim -> friend round trip while the attack runs; prints
 * "# rtt <attack> <ms>". */
static void
rtt(Fix *f, const char *attack)
{
	static guint k;
	char *ping = g_strdup_printf("ping %u during %s", ++k, attack);
	char *pong = g_strdup_printf("pong %u during %s", k, attack);
	gint64 t0 = g_get_monotonic_time();
	guint m = host_mark();
	const HostEvent *ev;
	double ms = -1;

	host_send_im(f->friend, f->vaddr, ping);
	ev = host_wait(m, HOST_EV_MESSAGE, f->victim, f->faddr, PURPLE_MESSAGE_RECV, ping,
	               T_MESSAGE);
	g_assert_nonnull(ev);
	if (ev != NULL) {
		m = host_mark();
		host_send_im(f->victim, f->faddr, pong);
		ev = host_wait(m, HOST_EV_MESSAGE, f->friend, f->vaddr, PURPLE_MESSAGE_RECV, pong,
		               T_MESSAGE);
		g_assert_nonnull(ev);
		if (ev != NULL)
			ms = (double) (g_get_monotonic_time() - t0) / 1000.0;
	}
	g_test_message("rtt %s %.1f", attack, ms);
	g_assert_cmpfloat(ms, >=, 0);
	g_assert_cmpfloat(ms, <, RTT_MAX_MS);
	g_free(ping);
	g_free(pong);
}

/* Since `since` the victim's user saw nothing but the friend's messages:
 * strangers' failed attempts are not the user's business. */
static void
assert_quiet(Fix *f, guint since)
{
	GPtrArray *all;
	guint i;
	int k;

	for (k = HOST_EV_MESSAGE; k <= HOST_EV_REQUEST; k++) {
		all = host_find_all(since, k, NULL, NULL, 0, NULL);
		for (i = 0; i < all->len; i++) {
			const HostEvent *ev = g_ptr_array_index(all, i);
			gboolean ok;

			/* the round trips, and presence of the friend */
			ok = (ev->type == HOST_EV_MESSAGE &&
			      (ev->flags & (PURPLE_MESSAGE_ERROR | PURPLE_MESSAGE_SYSTEM)) == 0 &&
			      (g_strcmp0(ev->peer, f->faddr) == 0 ||
			       g_strcmp0(ev->peer, f->vaddr) == 0)) ||
			     ev->type == HOST_EV_TYPING || ev->type == HOST_EV_TYPED ||
			     ev->type == HOST_EV_TYPING_STOPPED;
			if (!ok)
				g_test_message("unexpected for the user: %s peer=%s %s",
				               host_event_type_name(ev->type), ev->peer ? ev->peer : "-",
				               ev->text ? ev->text : (ev->primary ? ev->primary : ""));
			g_assert_true(ok);
		}
		g_ptr_array_unref(all);
	}
}

/* The next frame is an ERROR with this code, and the victim then closes. */
static void
expect_error_and_close(RawConn *c, int code)
{
	GByteArray *fr = raw_wait_frame(c, T_REPLY);

	g_assert_nonnull(fr);
	g_assert_cmpint(raw_error_code(fr), ==, code);
	if (fr != NULL) {
		/* §4: "PRLY" 02 7F code reason, sent with version 02 */
		g_assert_cmpuint(fr->len, >=, 7);
		g_assert_cmpmem(fr->data, 6, "PRLY\x02\x7f", 6);
		g_assert_true(g_utf8_validate((const char *) fr->data + 7, fr->len - 7, NULL));
		g_byte_array_unref(fr);
	}
	g_assert_true(raw_wait_eof(c, T_REPLY));
	g_assert_cmpuint(c->in->len, ==, 0);
}

/* The victim closes without a word (records are never answered, §6). */
static void
expect_silent_close(RawConn *c, guint timeout_ms)
{
	g_assert_true(raw_wait_eof(c, timeout_ms));
	g_assert_cmpuint(c->in->len, ==, 0);
}

static void
send_frame(RawConn *c, const GByteArray *payload)
{
	GByteArray *fr = raw_frame(payload->data, payload->len);

	raw_send(c, fr->data, fr->len);
	g_byte_array_unref(fr);
}

/* §9: strangers' failed handshakes share one budget per account (10 at
 * once, then one per 6 s), which friends - sources that completed a
 * handshake since sign-on - do not draw on.  Cases that need more
 * strangers' handshakes at once than that first make their callers
 * friends: one handshake from 127.0.n.host with the victim's passphrase. */
static void
befriend(Fix *f, guint host)
{
	RawSession s;
	RawConn *c = atk(f, host);

	raw_session_init(&s, c);
	g_assert_true(raw_session_handshake(&s, "friendly", 0, atk_salt, ITERATIONS, atk_prs,
	                                    T_SESSION));
	raw_session_clear(&s);
	atk_close(f, c);
}

/* ---- an attacker with an established session ------------------------------ */

typedef struct {
	RawConn *c;
	RawSession s;
	char *who;                  /* its name at the victim: buddy or stranger */
} Mallory;

static gboolean
buddy_is_online(gpointer data)
{
	gpointer *a = data;

	return host_buddy_online(a[0], a[1]);
}

/* Connect from 127.0.n.host and complete a real handshake with the
 * victim's passphrase.  As a buddy, the victim knows it: the buddy's
 * address is the attacker's own source address and port (nothing listens
 * there: the victim's dials are refused), announced in HS1.  As a
 * stranger it announces no port, and appears under its bare address. */
static gboolean
mallory_up(Fix *f, Mallory *m, guint host, gboolean as_buddy)
{
	char *ip = atk_ip(f, host);
	guint16 port = 0;

	memset(m, 0, sizeof(*m));
	m->c = atk(f, host);
	raw_session_init(&m->s, m->c);
	if (m->c == NULL) {
		g_free(ip);
		return FALSE;
	}
	if (as_buddy) {
		struct sockaddr_in sa;
		socklen_t len = sizeof(sa);

		g_assert_cmpint(getsockname(m->c->fd, (struct sockaddr *) &sa, &len), ==, 0);
		port = ntohs(sa.sin_port);
		m->who = g_strdup_printf("%s:%u", ip, port);
		host_add_buddy(f->victim, m->who);
	} else {
		/* the default port goes unsaid in addresses */
		m->who = g_strdup(ip);
	}
	g_free(ip);
	if (!raw_session_handshake(&m->s, "mallory", port, atk_salt, ITERATIONS, atk_prs,
	                           T_SESSION)) {
		g_test_message("mallory's handshake failed");
		g_test_fail();
		return FALSE;
	}
	if (as_buddy) {
		gpointer a[2] = { f->victim, m->who };

		g_assert_true(host_run_until(buddy_is_online, a, T_MESSAGE));
	}
	return !g_test_failed();
}

static void
mallory_down(Mallory *m)
{
	raw_session_clear(&m->s);
	g_free(m->who);
}

static gboolean
has_acks(RawSession *s, gpointer data)
{
	return s->acks >= GPOINTER_TO_UINT(data);
}

/* A legitimate message from mallory, shown to the victim, ACKed. */
static void
mallory_says(Fix *f, Mallory *m, const char *text)
{
	guint m0 = host_mark();
	guint acks = m->s.acks;

	g_assert_true(raw_session_send_msg(&m->s, text));
	g_assert_nonnull(host_wait(m0, HOST_EV_MESSAGE, f->victim, m->who, PURPLE_MESSAGE_RECV,
	                           text, T_MESSAGE));
	g_assert_true(raw_session_run_until(&m->s, has_acks, GUINT_TO_POINTER(acks + 1),
	                                    T_MESSAGE));
}

/* The victim's user was told, in the conversation with the buddy, that
 * the connection failed with `why`, and that it was lost; the buddy is
 * offline. */
static void
assert_told(Fix *f, Mallory *m, guint since, const char *why)
{
	g_assert_nonnull(host_wait(since, HOST_EV_MESSAGE, f->victim, m->who, PURPLE_MESSAGE_ERROR,
	                           why, T_MESSAGE));
	g_assert_nonnull(host_wait(since, HOST_EV_MESSAGE, f->victim, m->who, PURPLE_MESSAGE_SYSTEM,
	                           "Connection with mallory lost", T_MESSAGE));
	g_assert_false(host_buddy_online(f->victim, m->who));
	/* and nothing else went wrong on the way: no error dialog */
	g_assert_null(host_find(since, HOST_EV_NOTIFY, NULL, NULL, 0, NULL));
}

/* ---- /hostile/frame-4gib ------------------------------------------------- */

static void
test_frame_4gib(Fix *f, gconstpointer data)
{
	RawConn *c;
	Mallory m;
	guint since;
	gsize rss0 = rss_bytes();
	static const uint8_t junk[65536];

	if (!f->ready)
		return;
	/* §2 during the handshake: ERROR 2 and close, no payload read */
	since = host_mark();
	c = atk(f, 1);
	raw_send(c, "\xff\xff\xff\xff", 4);
	/* the victim must not try to read (or hold) what follows */
	raw_send(c, junk, sizeof(junk));
	rtt(f, "frame-4gib");
	expect_error_and_close(c, PARLEY_ERR_MALFORMED);
	assert_quiet(f, since);
	/* nothing near 4 GiB was ever allocated */
	g_assert_cmpuint(rss_bytes(), <, rss0 + 16 * 1024 * 1024);
	STOP_IF_FAILED();

	/* on an established session with a buddy: closed without a word, and
	 * the user is told */
	if (!mallory_up(f, &m, 2, TRUE)) {
		mallory_down(&m);
		return;
	}
	mallory_says(f, &m, "hello from mallory before the 4 GiB frame");
	since = host_mark();
	raw_send(m.c, "\xff\xff\xff\xff", 4);
	rtt(f, "frame-4gib-established");
	expect_silent_close(m.c, T_REPLY);
	assert_told(f, &m, since, "impossible length");
	mallory_down(&m);
}

/* ---- /hostile/frame-zero ------------------------------------------------- */

static void
test_frame_zero(Fix *f, gconstpointer data)
{
	RawConn *c;
	Mallory m;
	guint since;

	if (!f->ready)
		return;
	/* §2 during the handshake: ERROR 2 and close */
	since = host_mark();
	c = atk(f, 1);
	raw_send(c, "\0\0\0\0", 4);
	rtt(f, "frame-zero");
	expect_error_and_close(c, PARLEY_ERR_MALFORMED);
	assert_quiet(f, since);
	STOP_IF_FAILED();

	/* between records of an established session: closed without a word */
	if (!mallory_up(f, &m, 2, TRUE)) {
		mallory_down(&m);
		return;
	}
	mallory_says(f, &m, "hello from mallory before the empty frame");
	since = host_mark();
	raw_send(m.c, "\0\0\0\0", 4);
	rtt(f, "frame-zero-established");
	expect_silent_close(m.c, T_REPLY);
	assert_told(f, &m, since, "impossible length");
	mallory_down(&m);
}

/* ---- /hostile/random-bytes --------------------------------------------- */

#define RANDOM_CONNS 12

static void
test_random_bytes(Fix *f, gconstpointer data)
{
	RawConn *c[RANDOM_CONNS];
	guint since, i;

	if (!f->ready)
		return;
	since = host_mark();
	for (i = 0; i < RANDOM_CONNS; i++) {
		/* reproducible noise: a fixed seed per connection */
		GRand *r = g_rand_new_with_seed(0x5eed0000u + i);
		uint8_t buf[4096];
		guint k;

		for (k = 0; k < sizeof(buf); k++)
			buf[k] = (uint8_t) g_rand_int_range(r, 0, 256);
		if (i >= RANDOM_CONNS - 4) {
			/* noise after a valid frame header and HS1 prefix */
			GByteArray *p = raw_hs1_payload(PARLEY_VERSION, NULL, buf + 100,
			                                 parley_get_be32(buf + 200), 0, "noise");

			memcpy(p->data + 6, buf, p->len - 6);
			c[i] = atk(f, 1 + i);
			send_frame(c[i], p);
			g_byte_array_unref(p);
		} else {
			c[i] = atk(f, 1 + i);
			raw_send(c[i], buf, sizeof(buf));
		}
		g_rand_free(r);
		STOP_IF_FAILED();
	}
	rtt(f, "random-bytes");
	/* each is closed: at once, or at the handshake timeout when the noise
	 * announced a frame longer than what came */
	for (i = 0; i < RANDOM_CONNS; i++) {
		GByteArray *fr;

		g_assert_true(raw_wait_eof(c[i], HS_TIMEOUT_MS + T_REPLY));
		g_assert_cmpint(c[i]->eof_ms - c[i]->opened_ms, <, HS_TIMEOUT_MS + T_REPLY);
		/* it said at most one thing: an ERROR */
		fr = raw_take_frame(c[i]);
		if (fr != NULL) {
			int code = raw_error_code(fr);

			g_assert_true(code == PARLEY_ERR_VERSION || code == PARLEY_ERR_MALFORMED);
			g_byte_array_unref(fr);
		}
		g_assert_cmpuint(c[i]->in->len, ==, 0);
	}
	assert_quiet(f, since);
}

/* ---- /hostile/slow-bytes ------------------------------------------------- */

#define SLOW_CONNS 3

typedef struct {
	RawConn *c[SLOW_CONNS];
	GByteArray *frame;          /* a valid HS1, dripped one byte a second */
	guint sent;
} Drip;

static gboolean
drip_cb(gpointer data)
{
	Drip *d = data;
	guint i;

	/* never removes itself: the test removes it */
	if (d->sent >= d->frame->len)
		return G_SOURCE_CONTINUE;
	for (i = 0; i < SLOW_CONNS; i++) {
		if (!d->c[i]->eof)
			raw_send(d->c[i], d->frame->data + d->sent, 1);
	}
	d->sent++;
	return G_SOURCE_CONTINUE;
}

static void
test_slow_bytes(Fix *f, gconstpointer data)
{
	Drip d = { { NULL } };
	GByteArray *p;
	RawSession s;
	RawConn *c;
	guint since, i, timer;

	if (!f->ready)
		return;
	since = host_mark();
	p = raw_hs1_payload(PARLEY_VERSION, NULL, atk_salt, ITERATIONS, 0, "slowloris");
	d.frame = raw_frame(p->data, p->len);
	g_byte_array_unref(p);
	for (i = 0; i < SLOW_CONNS; i++)
		d.c[i] = atk(f, 1 + i);
	STOP_IF_FAILED();
	drip_cb(&d);
	timer = g_timeout_add(1000, drip_cb, &d);
	host_run_for(1200);
	rtt(f, "slow-bytes");
	/* §4: cut at the handshake timeout, not before, without a word */
	for (i = 0; i < SLOW_CONNS; i++) {
		g_assert_true(raw_wait_eof(d.c[i], HS_TIMEOUT_MS + T_REPLY));
		g_assert_cmpint(d.c[i]->eof_ms - d.c[i]->opened_ms, >=, HS_TIMEOUT_MS - 100);
		g_assert_cmpint(d.c[i]->eof_ms - d.c[i]->opened_ms, <, HS_TIMEOUT_MS + T_REPLY);
		g_assert_cmpuint(d.c[i]->received, ==, 0);
	}
	g_source_remove(timer);
	g_byte_array_unref(d.frame);
	assert_quiet(f, since);
	STOP_IF_FAILED();

	/* no HS2 was sent: that was no failed guess, the address may try
	 * again at once */
	c = atk(f, 1);
	raw_session_init(&s, c);
	raw_session_send_hs1(&s, "slowloris", 0, atk_salt, ITERATIONS, wrong_prs);
	g_assert_cmpint(raw_session_wait_reply(&s, T_SESSION), ==, RAW_REPLY_HS2);
	raw_session_clear(&s);
}

/* ---- /hostile/version -------------------------------------------------- */

static void
test_version(Fix *f, gconstpointer data)
{
	/* 01: a version-1 peer; there is no fallback (§4) */
	static const uint8_t versions[] = { 0x00, 0x01, 0x03, 0xff };
	guint since, i;

	if (!f->ready)
		return;
	since = host_mark();
	for (i = 0; i < G_N_ELEMENTS(versions); i++) {
		GByteArray *p = raw_hs1_payload(versions[i], NULL, atk_salt, ITERATIONS, 0, "v2");
		RawConn *c = atk(f, 1 + i);

		send_frame(c, p);
		g_byte_array_unref(p);
		if (i == 0)
			rtt(f, "version");
		/* §4: ERROR 1 and close */
		expect_error_and_close(c, PARLEY_ERR_VERSION);
	}
	assert_quiet(f, since);
}

/* ---- /hostile/low-order-point -------------------------------------------- */

static void
test_low_order(Fix *f, gconstpointer data)
{
	TJson *root = tj_load("parley-v2.json");
	TJson *list = tj_need(root, "negative/low_order_points");
	guint since, i, n = 0;

	if (!f->ready) {
		tj_free(root);
		return;
	}
	/* no PBKDF2 of the setup's is still running */
	g_assert_true(wait_kdf_idle());
	since = host_mark();
	for (i = 0; i < tj_len(list); i++) {
		TJson *pt = tj_at(list, i);
		size_t len;
		uint8_t *hs1;
		RawConn *c;
		GByteArray *fr;

		if (!tj_pbool(pt, "must_abort", FALSE))
			continue;
		/* HS1 commits to the low-order Ya; the victim answers HS2
		 * (with its own passphrase: HS2 does not depend on Ya) */
		hs1 = tj_phex(pt, "hs1_with_this_Ya", &len);
		c = atk(f, 1 + i);
		fr = raw_frame(hs1, len);
		raw_send(c, fr->data, fr->len);
		g_byte_array_unref(fr);
		g_free(hs1);
		fr = raw_wait_frame(c, T_SESSION);
		g_assert_nonnull(fr);
		if (fr != NULL) {
			g_assert_cmpmem(fr->data, 6, "PRLY\x02\x02", 6);
			g_byte_array_unref(fr);
		}
		/* HS3 reveals it: §4, ERROR 2 before Ta is checked */
		hs1 = tj_phex(pt, "hs3_with_this_Ya", &len);
		fr = raw_frame(hs1, len);
		raw_send(c, fr->data, fr->len);
		g_byte_array_unref(fr);
		g_free(hs1);
		if (n++ == 0)
			rtt(f, "low-order-point");
		expect_error_and_close(c, PARLEY_ERR_MALFORMED);
	}
	g_assert_cmpuint(n, >=, 6);
	tj_free(root);
	assert_quiet(f, since);
}

/* ---- /hostile/iterations ----------------------------------------------- */

static void
test_iterations(Fix *f, gconstpointer data)
{
	static const guint32 bad[] = {
		4000000000u, G_MAXUINT32, PARLEY_MAX_ITERATIONS + 1, PARLEY_MIN_ITERATIONS - 1, 0
	};
	guint since, i;

	if (!f->ready)
		return;
	g_assert_true(wait_kdf_idle());
	since = host_mark();
	for (i = 0; i < G_N_ELEMENTS(bad); i++) {
		uint8_t salt[PARLEY_SALT_LEN];
		GByteArray *p;
		RawConn *c = atk(f, 1 + i);
		gint64 t0;

		/* a fresh salt: nothing the victim could have cached */
		parley_random_bytes(salt, sizeof(salt));
		p = raw_hs1_payload(PARLEY_VERSION, NULL, salt, bad[i], 0, "iterations");
		t0 = g_get_monotonic_time();
		send_frame(c, p);
		g_byte_array_unref(p);
		/* §3: refused before any PBKDF2 work - 4e9 iterations would take
		 * hours; the answer comes at once */
		expect_error_and_close(c, PARLEY_ERR_MALFORMED);
		g_assert_cmpint((g_get_monotonic_time() - t0) / 1000, <, T_REPLY);
		g_assert_cmpuint(host_kdf_busy(), ==, 0);
		if (i == 0)
			rtt(f, "iterations-4e9");
	}
	assert_quiet(f, since);
}

/* ---- /hostile/tampered-record -------------------------------------------- */

static void
test_tampered(Fix *f, gconstpointer data)
{
	Mallory m;
	GByteArray *fr;
	guint since;
	const char *bad = "this text was tampered with on the way";

	if (!f->ready)
		return;
	/* a buddy: its conversation is open (its first message opened it) */
	if (!mallory_up(f, &m, 1, TRUE)) {
		mallory_down(&m);
		return;
	}
	mallory_says(f, &m, "hello from mallory, honest so far");
	STOP_IF_FAILED();
	since = host_mark();
	fr = g_byte_array_new();
	raw_session_seal(&m.s, RAW_MSG, "12345678this text was tampered with on the way",
	                 8 + strlen(bad), fr);
	/* flip one bit of the ciphertext (frame header 4, record header 5) */
	fr->data[4 + PARLEY_RECORD_HEADER_LEN + 12] ^= 0x01;
	raw_send(m.c, fr->data, fr->len);
	g_byte_array_unref(fr);
	rtt(f, "tampered-record");
	/* §6: fatal, closed without sending anything, and the user is told */
	expect_silent_close(m.c, T_REPLY);
	assert_told(f, &m, since, "integrity check");
	/* nothing of the forged record reached the user */
	g_assert_null(host_find(since, HOST_EV_MESSAGE, f->victim, m.who, PURPLE_MESSAGE_RECV,
	                        NULL));
	g_assert_null(host_find(since, HOST_EV_MESSAGE, NULL, NULL, 0, bad));
	mallory_down(&m);
	STOP_IF_FAILED();

	/* a stranger who knew the passphrase: no conversation, nothing shown */
	since = host_mark();
	if (!mallory_up(f, &m, 2, FALSE)) {
		mallory_down(&m);
		return;
	}
	fr = g_byte_array_new();
	raw_session_seal(&m.s, RAW_MSG, "12345678stranger's forged text", 30, fr);
	fr->data[fr->len - 1] ^= 0x80;         /* the tag this time */
	raw_send(m.c, fr->data, fr->len);
	g_byte_array_unref(fr);
	rtt(f, "tampered-record-stranger");
	expect_silent_close(m.c, T_REPLY);
	host_run_for(100);
	assert_quiet(f, since);
	g_assert_null(purple_find_conversation_with_account(PURPLE_CONV_TYPE_IM, m.who,
	                                                    f->victim));
	mallory_down(&m);
}

/* ---- /hostile/replayed-record -------------------------------------------- */

static void
test_replayed(Fix *f, gconstpointer data)
{
	Mallory m;
	GByteArray *fr;
	guint since;
	const char *text = "say it once, mallory";
	uint8_t body[64];
	GPtrArray *shown;

	if (!f->ready)
		return;
	if (!mallory_up(f, &m, 1, TRUE)) {
		mallory_down(&m);
		return;
	}
	since = host_mark();
	parley_random_bytes(body, PARLEY_MSG_ID_LEN);
	memcpy(body + PARLEY_MSG_ID_LEN, text, strlen(text));
	fr = g_byte_array_new();
	raw_session_seal(&m.s, RAW_MSG, body, PARLEY_MSG_ID_LEN + strlen(text), fr);
	raw_send(m.c, fr->data, fr->len);
	g_assert_nonnull(host_wait(since, HOST_EV_MESSAGE, f->victim, m.who, PURPLE_MESSAGE_RECV,
	                           text, T_MESSAGE));
	/* the very same bytes again: seq 0 where 1 is expected */
	raw_send(m.c, fr->data, fr->len);
	g_byte_array_unref(fr);
	rtt(f, "replayed-record");
	/* the ACK for the first came; then the victim closed without a word */
	g_assert_true(raw_wait_eof(m.c, T_REPLY));
	raw_session_pump(&m.s);
	g_assert_cmpuint(m.s.acks, ==, 1);
	g_assert_cmpuint(m.c->in->len, ==, 0);
	assert_told(f, &m, since, "integrity check");
	/* shown once */
	host_run_for(100);
	shown = host_find_all(since, HOST_EV_MESSAGE, f->victim, m.who, PURPLE_MESSAGE_RECV, text);
	g_assert_cmpuint(shown->len, ==, 1);
	g_ptr_array_unref(shown);
	mallory_down(&m);
}

/* ---- /hostile/rekey-ack-unsolicited -------------------------------------- */

static void
test_rekey_ack(Fix *f, gconstpointer data)
{
	Mallory m;
	GByteArray *fr;
	guint since;
	uint8_t e[PARLEY_SCALAR_LEN], E[PARLEY_POINT_LEN];

	if (!f->ready)
		return;
	if (!mallory_up(f, &m, 1, TRUE)) {
		mallory_down(&m);
		return;
	}
	/* the user has the conversation open */
	host_conv(f->victim, m.who);
	since = host_mark();
	/* a REKEY_ACK sealed properly under epoch 0, with no REKEY pending */
	parley_random_bytes(e, sizeof(e));
	g_assert_true(parley_x25519_base(E, e));
	fr = g_byte_array_new();
	raw_session_seal(&m.s, RAW_REKEY_ACK, E, sizeof(E), fr);
	raw_send(m.c, fr->data, fr->len);
	g_byte_array_unref(fr);
	rtt(f, "rekey-ack-unsolicited");
	/* §8: a protocol error, fatal */
	expect_silent_close(m.c, T_REPLY);
	assert_told(f, &m, since, "broke the protocol");
	g_assert_null(host_find(since, HOST_EV_MESSAGE, f->victim, m.who, 0, "Session key rotated"));
	parley_wipe(e, sizeof(e));
	mallory_down(&m);
}

/* ---- /hostile/close-mid-frame ------------------------------------------- */

static void
test_close_mid_frame(Fix *f, gconstpointer data)
{
	Mallory m;
	RawSession s;
	RawConn *c;
	GByteArray *p, *fr;
	guint since;

	if (!f->ready)
		return;
	since = host_mark();
	/* in HS1: the victim closes too, and nothing counts against the
	 * address */
	c = atk(f, 1);
	p = raw_hs1_payload(PARLEY_VERSION, NULL, atk_salt, ITERATIONS, 0, "half");
	fr = raw_frame(p->data, p->len);
	raw_send(c, fr->data, fr->len / 2);
	raw_shutdown_write(c);
	rtt(f, "close-mid-hs1");
	expect_silent_close(c, T_REPLY);
	g_byte_array_unref(p);
	g_byte_array_unref(fr);

	/* in HS3, after HS2: a failed guess (§9: a close counts), so the
	 * address is refused for a second */
	c = atk(f, 2);
	raw_session_init(&s, c);
	raw_session_send_hs1(&s, "half", 0, atk_salt, ITERATIONS, wrong_prs);
	g_assert_cmpint(raw_session_wait_reply(&s, T_SESSION), ==, RAW_REPLY_HS2);
	raw_send(c, "\0\0\0\x66PRLY\x02\x03", 10);
	raw_shutdown_write(c);
	expect_silent_close(c, T_REPLY);
	raw_session_clear(&s);
	c = atk(f, 2);
	p = raw_hs1_payload(PARLEY_VERSION, NULL, atk_salt, ITERATIONS, 0, "half");
	send_frame(c, p);
	g_byte_array_unref(p);
	expect_error_and_close(c, PARLEY_ERR_BUSY);
	assert_quiet(f, since);
	STOP_IF_FAILED();

	/* in a record, on an established session with a buddy: lost */
	if (!mallory_up(f, &m, 3, TRUE)) {
		mallory_down(&m);
		return;
	}
	mallory_says(f, &m, "mallory, before the cut");
	since = host_mark();
	fr = g_byte_array_new();
	raw_session_seal(&m.s, RAW_MSG, "12345678cut in the middle", 25, fr);
	raw_send(m.c, fr->data, fr->len - 7);
	raw_shutdown_write(m.c);
	g_byte_array_unref(fr);
	rtt(f, "close-mid-record");
	expect_silent_close(m.c, T_REPLY);
	g_assert_nonnull(host_wait(since, HOST_EV_MESSAGE, f->victim, m.who, PURPLE_MESSAGE_SYSTEM,
	                           "Connection with mallory lost", T_MESSAGE));
	g_assert_null(host_find(since, HOST_EV_MESSAGE, f->victim, m.who, PURPLE_MESSAGE_RECV,
	                        NULL));
	g_assert_false(host_buddy_online(f->victim, m.who));
	mallory_down(&m);
}

/* ---- /hostile/unfinished-handshakes -------------------------------------- */

#define UNFINISHED 50

typedef struct {
	RawConn **c;
	guint n;
} AllClosed;

static gboolean
all_closed(gpointer data)
{
	AllClosed *a = data;
	guint i;

	for (i = 0; i < a->n; i++)
		if (!a->c[i]->eof)
			return FALSE;
	return TRUE;
}

/* 50 connections that never finish: half say nothing, half send HS1 and
 * stop.  Returns how many HS1 got HS2 and how many ERROR 4. */
static void
unfinished_round(Fix *f, guint first_host, const char *label, guint *hs2, guint *busy)
{
	RawConn *c[UNFINISHED];
	AllClosed a = { c, UNFINISHED };
	GByteArray *p;
	guint i;

	*hs2 = *busy = 0;
	for (i = 0; i < UNFINISHED; i++) {
		c[i] = atk(f, first_host + i);
		if (c[i] == NULL)
			return;
		if (i % 2 == 1) {
			p = raw_hs1_payload(PARLEY_VERSION, NULL, atk_salt, ITERATIONS, 0, "unfinished");
			send_frame(c[i], p);
			g_byte_array_unref(p);
		}
	}
	rtt(f, label);
	/* every one is closed by the handshake timeout */
	g_assert_true(host_run_until(all_closed, &a, HS_TIMEOUT_MS + T_SESSION));
	for (i = 0; i < UNFINISHED; i++) {
		GByteArray *fr = raw_take_frame(c[i]);

		g_assert_cmpint(c[i]->eof_ms - c[i]->opened_ms, <, HS_TIMEOUT_MS + T_SESSION);
		if (i % 2 == 0) {
			/* the silent ones: at the timeout, without a word */
			g_assert_null(fr);
			g_assert_cmpint(c[i]->eof_ms - c[i]->opened_ms, >=, HS_TIMEOUT_MS - 100);
		} else if (fr != NULL && raw_error_code(fr) == PARLEY_ERR_BUSY) {
			(*busy)++;
		} else if (fr != NULL && fr->len > 6 && memcmp(fr->data, "PRLY\x02\x02", 6) == 0) {
			(*hs2)++;
		} else {
			g_test_message("connection %u: unexpected answer", i);
			g_test_fail();
		}
		if (fr != NULL)
			g_byte_array_unref(fr);
		g_assert_cmpuint(c[i]->in->len, ==, 0);
		atk_close(f, c[i]);
	}
	host_run_for(100);
}

static void
test_unfinished(Fix *f, gconstpointer data)
{
	guint since, live0, fds0, hs2, busy, h;
	gsize rss1, rss2;
	RawSession s;
	RawConn *c;

	if (!f->ready)
		return;
	/* both rounds' callers (the even hosts) are friends: 16 handshakes
	 * at once are more than the strangers' budget */
	for (h = 2; h <= 2 * UNFINISHED; h += 2)
		befriend(f, h);
	g_assert_true(host_wait_settled(2, T_SESSION));
	STOP_IF_FAILED();
	since = host_mark();
	live0 = host_live_conns();
	fds0 = open_fds();

	/* warm-up round: the victim's first 16 HS1 (16 addresses) are let in
	 * and time out after HS2; the other 9 are refused (§9: 16 at most) */
	unfinished_round(f, 1, "unfinished-handshakes", &hs2, &busy);
	g_assert_cmpuint(hs2, ==, PARLEY_MAX_HANDSHAKES);
	g_assert_cmpuint(busy, ==, UNFINISHED / 2 - PARLEY_MAX_HANDSHAKES);
	STOP_IF_FAILED();
	/* nothing is left: every connection freed, every socket closed */
	g_assert_cmpuint(host_live_conns(), ==, live0);
	g_assert_cmpuint(open_fds(), ==, fds0);
	rss1 = rss_bytes();

	/* the same again, from new addresses: memory does not grow */
	unfinished_round(f, 1 + UNFINISHED, "unfinished-handshakes-again", &hs2, &busy);
	g_assert_cmpuint(hs2, ==, PARLEY_MAX_HANDSHAKES);
	g_assert_cmpuint(busy, ==, UNFINISHED / 2 - PARLEY_MAX_HANDSHAKES);
	g_assert_cmpuint(host_live_conns(), ==, live0);
	g_assert_cmpuint(open_fds(), ==, fds0);
	rss2 = rss_bytes();
	g_test_message("rss %zu KiB after the first round, %zu KiB after the second",
	               rss1 / 1024, rss2 / 1024);
	g_assert_cmpuint(rss2, <, rss1 + RSS_SLACK);

	/* the slots came back: a newcomer is let in, and a stranger who knows
	 * the passphrase still gets a session */
	c = atk(f, 200);
	raw_session_init(&s, c);
	g_assert_true(raw_session_handshake(&s, "newcomer", 0, atk_salt, ITERATIONS, atk_prs,
	                                    T_SESSION));
	raw_session_clear(&s);
	assert_quiet(f, since);
}

/* ---- /hostile/silent ------------------------------------------------------ */

#define SILENT_EXTRA 4

/* Connections from one address that never say a word: the victim holds
 * PARLEY_MAX_SILENT_PER_ADDR of them until the handshake timeout and closes
 * any more at once, so that one stranger cannot hold its descriptors.
 * Other addresses are let in meanwhile, and once the silent ones are gone
 * the address is let in again. */
static void
test_silent(Fix *f, gconstpointer data)
{
	RawConn *c[PARLEY_MAX_SILENT_PER_ADDR + SILENT_EXTRA];
	AllClosed held = { c, PARLEY_MAX_SILENT_PER_ADDR };
	RawSession s;
	guint since, i;

	if (!f->ready)
		return;
	since = host_mark();
	for (i = 0; i < G_N_ELEMENTS(c); i++) {
		c[i] = atk(f, 1);
		if (c[i] == NULL)
			return;
		/* accepted one by one, in this order */
		host_run_for(20);
	}
	/* the ones over the limit are closed at once, without a word */
	for (i = PARLEY_MAX_SILENT_PER_ADDR; i < G_N_ELEMENTS(c); i++) {
		expect_silent_close(c[i], T_REPLY);
		g_assert_cmpint(c[i]->eof_ms - c[i]->opened_ms, <, HS_TIMEOUT_MS / 3);
	}
	/* the others are held, waiting for their HS1 */
	for (i = 0; i < PARLEY_MAX_SILENT_PER_ADDR; i++)
		g_assert_false(c[i]->eof);
	STOP_IF_FAILED();
	rtt(f, "silent");

	/* a stranger from another address is let in and gets a session */
	raw_session_init(&s, atk(f, 2));
	g_assert_true(raw_session_handshake(&s, "other", 0, atk_salt, ITERATIONS, atk_prs,
	                                    T_SESSION));
	raw_session_clear(&s);
	STOP_IF_FAILED();

	/* the held ones are cut at the handshake timeout, without a word */
	g_assert_true(host_run_until(all_closed, &held, HS_TIMEOUT_MS + T_SESSION));
	for (i = 0; i < PARLEY_MAX_SILENT_PER_ADDR; i++) {
		g_assert_cmpuint(c[i]->in->len, ==, 0);
		g_assert_cmpint(c[i]->eof_ms - c[i]->opened_ms, >=, HS_TIMEOUT_MS - 100);
		atk_close(f, c[i]);
	}
	host_run_for(100);
	/* and the address is let in again */
	raw_session_init(&s, atk(f, 1));
	g_assert_true(raw_session_handshake(&s, "back", 0, atk_salt, ITERATIONS, atk_prs,
	                                    T_SESSION));
	raw_session_clear(&s);
	assert_quiet(f, since);
}

/* ---- /hostile/fd-exhaustion ---------------------------------------------- */

#define FD_CONNS 40
#define FD_ROOM  10

static double
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double) ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double) ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Callers faster than the process has file descriptors: the victim cannot
 * accept them all (EMFILE).  It must not spin on the listening socket that
 * stays readable meanwhile, and it takes the rest once it can. */
static void
test_fd_exhaustion(Fix *f, gconstpointer data)
{
	RawConn *c[FD_CONNS];
	AllClosed a = { c, FD_CONNS };
	struct rlimit saved, low;
	double cpu0, cpu;
	guint since, i;

	if (!f->ready)
		return;
	since = host_mark();
	for (i = 0; i < FD_CONNS; i++) {
		c[i] = atk(f, 1 + i);
		if (c[i] == NULL)
			return;
	}
	/* room for FD_ROOM more descriptors in the whole process */
	g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &saved), ==, 0);
	low = saved;
	low.rlim_cur = open_fds() + FD_ROOM;
	g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &low), ==, 0);
	cpu0 = cpu_seconds();
	host_run_for(1000);
	cpu = cpu_seconds() - cpu0;
	rtt(f, "fd-exhaustion");
	g_test_message("cpu %.2f s in 1 s with descriptors exhausted", cpu);
	g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &saved), ==, 0);
	/* no busy loop on the listening socket */
	g_assert_cmpfloat(cpu, <, 0.5);

	/* with descriptors back, every caller is taken, and cut at the
	 * handshake timeout */
	g_assert_true(host_run_until(all_closed, &a, HS_TIMEOUT_MS + T_SESSION));
	for (i = 0; i < FD_CONNS; i++)
		g_assert_cmpuint(c[i]->received, ==, 0);
	assert_quiet(f, since);
}

/* ---- /hostile/guessing ----------------------------------------------------- */

/* An HS1 from host: RAW_REPLY_HS2 (let in) or RAW_REPLY_ERROR (code in
 * *code).  *s is initialised on the connection (caller clears it). */
static RawReply
try_hs1(Fix *f, guint host, const uint8_t *prs, RawSession *s, RawConn **cp, int *code)
{
	RawConn *c = atk(f, host);
	RawReply r;

	raw_session_init(s, c);
	*cp = c;
	if (c == NULL)
		return RAW_REPLY_NONE;
	raw_session_send_hs1(s, "guesser", 0, atk_salt, ITERATIONS, prs);
	r = raw_session_wait_reply(s, T_SESSION);
	*code = s->error_code;
	if (r == RAW_REPLY_ERROR)
		g_assert_true(raw_wait_eof(c, T_REPLY));
	return r;
}

/* A wrong guess from host that got HS2: it learns from Tb that the guess
 * was wrong and hangs up.  Returns when it did (ms). */
static gint64
fail_guess(Fix *f, RawSession *s, RawConn *c)
{
	g_assert_cmpint(raw_session_finish(s), ==, PARLEY_ERR_AUTH);
	raw_session_clear(s);
	atk_close(f, c);
	return g_get_monotonic_time() / 1000;
}

/* After a failure at t_fail with backoff_ms: HS1 are refused with ERROR 4
 * until t_fail + backoff_ms (the victim counted the failure no earlier than
 * we hung up), and let in again soon after.  Returns the session that was
 * let in (with prs), on *s / *cp. */
static void
check_backoff(Fix *f, guint host, gint64 t_fail, gint64 backoff_ms, const uint8_t *prs,
              RawSession *s, RawConn **cp)
{
	RawReply r;
	int code = -1;
	guint refused = 0;
	gint64 t;

	/* at once, and half-way through */
	r = try_hs1(f, host, prs, s, cp, &code);
	g_assert_cmpint(r, ==, RAW_REPLY_ERROR);
	g_assert_cmpint(code, ==, PARLEY_ERR_BUSY);
	raw_session_clear(s);
	host_run_for((guint) MAX(0, t_fail + backoff_ms / 2 - g_get_monotonic_time() / 1000));
	t = g_get_monotonic_time() / 1000;
	r = try_hs1(f, host, prs, s, cp, &code);
	if (g_get_monotonic_time() / 1000 < t_fail + backoff_ms) {
		g_assert_cmpint(r, ==, RAW_REPLY_ERROR);
		g_assert_cmpint(code, ==, PARLEY_ERR_BUSY);
	}
	raw_session_clear(s);
	STOP_IF_FAILED();
	/* then from the end of the backoff on, until let in */
	host_run_for((guint) MAX(0, t_fail + backoff_ms + 50 - g_get_monotonic_time() / 1000));
	for (;;) {
		t = g_get_monotonic_time() / 1000;
		r = try_hs1(f, host, prs, s, cp, &code);
		if (r == RAW_REPLY_HS2)
			break;
		g_assert_cmpint(r, ==, RAW_REPLY_ERROR);
		g_assert_cmpint(code, ==, PARLEY_ERR_BUSY);
		raw_session_clear(s);
		refused++;
		if (g_test_failed() || t > t_fail + backoff_ms + T_REPLY) {
			g_test_message("still refused %" G_GINT64_FORMAT " ms after a failure with a "
			               "backoff of %" G_GINT64_FORMAT " ms", t - t_fail, backoff_ms);
			g_test_fail();
			return;
		}
		host_run_for(100);
	}
	g_test_message("backoff %" G_GINT64_FORMAT " ms: let in again after %" G_GINT64_FORMAT
	               " ms (%u refusals after its end)", backoff_ms, t - t_fail, refused);
	g_assert_cmpint(t - t_fail, >=, backoff_ms);
}

static void
test_guessing(Fix *f, gconstpointer data)
{
	RawSession s, other;
	RawConn *c, *oc;
	RawReply r;
	int code = -1;
	guint since;
	gint64 t_fail, backoff;
	int k;

	if (!f->ready)
		return;
	since = host_mark();
	/* the first guess: HS2 comes, Tb shows the guess is wrong */
	r = try_hs1(f, 1, wrong_prs, &s, &c, &code);
	g_assert_cmpint(r, ==, RAW_REPLY_HS2);
	STOP_IF_FAILED();
	t_fail = fail_guess(f, &s, c);

	/* §9: after the k-th failure, ERROR 4 for 2^(k-1) s */
	for (k = 1; k <= 3; k++) {
		backoff = (gint64) 1000 << (k - 1);
		if (k == 1) {
			/* another address is not concerned */
			r = try_hs1(f, 2, wrong_prs, &other, &oc, &code);
			g_assert_cmpint(r, ==, RAW_REPLY_HS2);
			raw_session_clear(&other);
			rtt(f, "guessing");
		}
		/* the last probe guesses right */
		check_backoff(f, 1, t_fail, backoff, k < 3 ? wrong_prs : atk_prs, &s, &c);
		STOP_IF_FAILED();
		if (k < 3) {
			t_fail = fail_guess(f, &s, c);
		} else {
			/* a success resets the count */
			g_assert_cmpint(raw_session_finish(&s), ==, PARLEY_ERR_NONE);
			host_run_for(100);
			raw_session_clear(&s);
			atk_close(f, c);
		}
	}
	STOP_IF_FAILED();
	/* so the next failure costs 1 s again, not 8 */
	r = try_hs1(f, 1, wrong_prs, &s, &c, &code);
	g_assert_cmpint(r, ==, RAW_REPLY_HS2);
	STOP_IF_FAILED();
	t_fail = fail_guess(f, &s, c);
	check_backoff(f, 1, t_fail, 1000, wrong_prs, &s, &c);
	raw_session_clear(&s);
	/* strangers' guesses are not shown to the user */
	assert_quiet(f, since);
}

/* ---- /hostile/kdf-cap --------------------------------------------------- */

#define KDF_CONNS 6
#define SLOW_ITERATIONS PARLEY_MAX_ITERATIONS

typedef struct {
	RawConn **c;
	guint n, want;
} Replies;

static gboolean
enough_replies(gpointer data)
{
	Replies *r = data;
	guint i, got = 0;

	for (i = 0; i < r->n; i++)
		if (r->c[i]->in->len > 0 || r->c[i]->eof)
			got++;
	return got >= r->want;
}

/* An HS1 with a salt nobody has used: the victim has no PRS for it. */
static RawConn *
fresh_salt_hs1(Fix *f, guint host, guint32 iterations)
{
	uint8_t salt[PARLEY_SALT_LEN];
	RawConn *c = atk(f, host);
	GByteArray *p;

	parley_random_bytes(salt, sizeof(salt));
	p = raw_hs1_payload(PARLEY_VERSION, NULL, salt, iterations, 0, "kdf");
	if (c != NULL)
		send_frame(c, p);
	g_byte_array_unref(p);
	return c;
}

static void
test_kdf_cap(Fix *f, gconstpointer data)
{
	RawConn *c[KDF_CONNS + 2];
	Replies want = { c, KDF_CONNS, KDF_CONNS - PARLEY_MAX_KDF_RUNNING };
	guint since, i, refused = 0, waiting = 0;
	RawConn *pending[PARLEY_MAX_KDF_RUNNING];
	RawSession s;

	if (!f->ready)
		return;
	since = host_mark();
	g_assert_true(wait_kdf_idle());
	/* six strangers from six addresses, each with its own salt and the
	 * most iterations allowed.  However fast PBKDF2 runs here, the workers
	 * keep their jobs until the case lets them go: the test, not the
	 * machine's speed, decides when the work is done. */
	plugin_kdf_hold(TRUE);
	for (i = 0; i < KDF_CONNS; i++) {
		c[i] = fresh_salt_hs1(f, 1 + i, SLOW_ITERATIONS);
		if (c[i] == NULL)
			return;
	}
	/* §9: two PBKDF2 at once; the others are told to come back later */
	g_assert_true(host_run_until(enough_replies, &want, T_SESSION));
	host_run_for(200);
	for (i = 0; i < KDF_CONNS; i++) {
		GByteArray *fr = raw_take_frame(c[i]);

		if (fr == NULL && !c[i]->eof) {
			if (waiting < PARLEY_MAX_KDF_RUNNING)
				pending[waiting] = c[i];
			waiting++;
			continue;
		}
		g_assert_nonnull(fr);
		g_assert_cmpint(raw_error_code(fr), ==, PARLEY_ERR_BUSY);
		g_assert_true(raw_wait_eof(c[i], T_REPLY));
		if (fr != NULL)
			g_byte_array_unref(fr);
		refused++;
	}
	g_assert_cmpuint(waiting, ==, PARLEY_MAX_KDF_RUNNING);
	g_assert_cmpuint(refused, ==, KDF_CONNS - PARLEY_MAX_KDF_RUNNING);
	g_assert_cmpuint(host_kdf_busy(), ==, PARLEY_MAX_KDF_RUNNING);
	g_assert_cmpuint(plugin_kdf_max_seen(), <=, PARLEY_MAX_KDF_RUNNING);
	STOP_IF_FAILED();
	/* the friend does not wait for PBKDF2 */
	rtt(f, "kdf-cap");

	/* hanging up does not free the workers: PBKDF2 cannot be stopped, so
	 * connect-and-close cannot stack up work either */
	for (i = 0; i < PARLEY_MAX_KDF_RUNNING; i++)
		atk_close(f, pending[i]);
	host_run_for(50);
	for (i = 0; i < 2; i++) {
		c[KDF_CONNS + i] = fresh_salt_hs1(f, 1 + KDF_CONNS + i, SLOW_ITERATIONS);
		if (c[KDF_CONNS + i] != NULL)
			expect_error_and_close(c[KDF_CONNS + i], PARLEY_ERR_BUSY);
	}
	g_assert_cmpuint(plugin_kdf_max_seen(), <=, PARLEY_MAX_KDF_RUNNING);

	/* once the workers are done, a stranger is let in again */
	plugin_kdf_hold(FALSE);
	g_assert_true(wait_kdf_idle());
	raw_session_init(&s, atk(f, 1 + KDF_CONNS + 2));
	if (s.conn != NULL) {
		uint8_t salt[PARLEY_SALT_LEN];

		parley_random_bytes(salt, sizeof(salt));
		raw_session_send_hs1(&s, "kdf", 0, salt, ITERATIONS, wrong_prs);
		g_assert_cmpint(raw_session_wait_reply(&s, T_SESSION), ==, RAW_REPLY_HS2);
	}
	raw_session_clear(&s);
	g_assert_cmpuint(plugin_kdf_max_seen(), ==, PARLEY_MAX_KDF_RUNNING);
	assert_quiet(f, since);
}

/* ---- /hostile/handshake-cap ----------------------------------------------- */

static void
test_handshake_cap(Fix *f, gconstpointer data)
{
	RawSession s[PARLEY_MAX_HANDSHAKES + 1];
	RawSession extra;
	RawConn *c;
	guint since, i, n = 0;
	int code;

	if (!f->ready)
		return;
	/* the four addresses of the 16 are friends: strangers would stop at
	 * the budget (10 at once); the fifth stays a stranger */
	for (i = 1; i <= 4; i++)
		befriend(f, i);
	g_assert_true(host_wait_settled(2, T_SESSION));
	STOP_IF_FAILED();
	since = host_mark();
	/* the victim computes PRS for the attacker's salt once: afterwards
	 * HS2 comes at once, so handshakes pile up without PBKDF2 */
	g_assert_cmpint(try_hs1(f, 100, wrong_prs, &extra, &c, &code), ==, RAW_REPLY_HS2);
	raw_session_clear(&extra);
	atk_close(f, c);
	STOP_IF_FAILED();

	/* 4 from one address (127.0.n.1) ... */
	for (i = 0; i < PARLEY_MAX_HANDSHAKES_PER_ADDR; i++) {
		g_assert_cmpint(try_hs1(f, 1, atk_prs, &s[n++], &c, &code), ==, RAW_REPLY_HS2);
		STOP_IF_FAILED();
	}
	/* ... and a 5th from it is refused (§9: 4 per address) */
	g_assert_cmpint(try_hs1(f, 1, atk_prs, &extra, &c, &code), ==, RAW_REPLY_ERROR);
	g_assert_cmpint(code, ==, PARLEY_ERR_BUSY);
	raw_session_clear(&extra);
	/* 12 more from three other addresses: 16 in progress */
	for (i = 0; i < PARLEY_MAX_HANDSHAKES - PARLEY_MAX_HANDSHAKES_PER_ADDR; i++) {
		guint host = 2 + i / PARLEY_MAX_HANDSHAKES_PER_ADDR;

		g_assert_cmpint(try_hs1(f, host, atk_prs, &s[n++], &c, &code), ==, RAW_REPLY_HS2);
		STOP_IF_FAILED();
	}
	/* the 17th, from a fifth address, is refused (§9: 16 in all) */
	g_assert_cmpint(try_hs1(f, 5, atk_prs, &extra, &c, &code), ==, RAW_REPLY_ERROR);
	g_assert_cmpint(code, ==, PARLEY_ERR_BUSY);
	raw_session_clear(&extra);
	rtt(f, "handshake-cap");
	STOP_IF_FAILED();

	/* one finishes (it knew the passphrase): its slot is free again */
	g_assert_cmpint(raw_session_finish(&s[n - 1]), ==, PARLEY_ERR_NONE);
	host_run_for(100);
	g_assert_cmpint(try_hs1(f, 5, atk_prs, &extra, &c, &code), ==, RAW_REPLY_HS2);
	raw_session_clear(&extra);
	for (i = 0; i < n; i++)
		raw_session_clear(&s[i]);
	assert_quiet(f, since);
}

/* ---- main ------------------------------------------------------------------ */

/* ---- /hostile/buddy-passphrase-not-bypassed ------------------------------ */

/* A buddy with a passphrase of its own shares its host with another buddy.
 * A caller from that host that announces no listen port cannot say which
 * of them it is: it used to be let in with the account's passphrase and
 * then attached to the buddy on the default port, whose own passphrase
 * was never tested.  Now it is refused; and alone on its host, the buddy's
 * own passphrase is asked, so the account's fails. */
static void
test_buddy_passphrase(Fix *f, gconstpointer data)
{
	char *ip1 = atk_ip(f, 1), *ip2 = atk_ip(f, 2);
	char *other = g_strdup_printf("%s:5001", ip1);
	guint since = host_mark();
	PurpleBuddy *b;
	RawSession s;
	RawConn *c;

	if (!f->ready)
		goto out;
	b = host_add_buddy(f->victim, ip1);
	purple_blist_node_set_string((PurpleBlistNode *) b, "parley-passphrase",
	                             "the buddy's own secret");
	host_add_buddy(f->victim, other);
	b = host_add_buddy(f->victim, ip2);
	purple_blist_node_set_string((PurpleBlistNode *) b, "parley-passphrase",
	                             "the buddy's own secret");

	c = atk(f, 1);
	raw_session_init(&s, c);
	raw_session_send_hs1(&s, "mallory", 0, atk_salt, ITERATIONS, atk_prs);
	g_assert_cmpint(raw_session_wait_reply(&s, T_REPLY), ==, RAW_REPLY_ERROR);
	g_assert_cmpint(s.error_code, ==, PARLEY_ERR_REFUSED);
	raw_session_clear(&s);

	c = atk(f, 2);
	raw_session_init(&s, c);
	raw_session_send_hs1(&s, "mallory", 0, atk_salt, ITERATIONS, atk_prs);
	g_assert_cmpint(raw_session_wait_reply(&s, T_SESSION), ==, RAW_REPLY_HS2);
	g_assert_cmpint(raw_session_finish(&s), ==, PARLEY_ERR_AUTH);
	raw_session_clear(&s);

	rtt(f, "buddy-passphrase");
	g_assert_false(host_buddy_online(f->victim, ip1));
	g_assert_false(host_buddy_online(f->victim, ip2));
	g_assert_null(host_find(since, HOST_EV_MESSAGE, f->victim, ip1, 0, "Secure session"));
	g_assert_null(host_find(since, HOST_EV_MESSAGE, f->victim, ip2, 0, "Secure session"));
out:
	g_free(ip1);
	g_free(ip2);
	g_free(other);
}

/* ---- /hostile/unauthenticated-text --------------------------------------- */

/* An ERROR frame is not authenticated: after establishment its reason is
 * anyone's words, and only its code is shown.  Announced names are shown
 * without control or bidi characters, and a stranger is named by its
 * address even when it announces a buddy's name. */
static void
test_unauthenticated_text(Fix *f, gconstpointer data)
{
	static const char lie[] = "Your session expired: type your passphrase here";
	char *ip2 = atk_ip(f, 2);
	GByteArray *err;
	PurpleBuddy *b;
	Mallory m;
	RawSession s;
	RawConn *c;
	guint since;

	if (!f->ready)
		goto out;
	if (!mallory_up(f, &m, 1, TRUE)) {
		mallory_down(&m);
		goto out;
	}
	mallory_says(f, &m, "an honest start");
	since = host_mark();
	err = g_byte_array_new();
	g_byte_array_append(err, (const guint8 *) "PRLY\x02\x7f\x02", 7);
	g_byte_array_append(err, (const guint8 *) lie, strlen(lie));
	send_frame(m.c, err);
	g_byte_array_unref(err);
	g_assert_nonnull(host_wait(since, HOST_EV_MESSAGE, f->victim, m.who, PURPLE_MESSAGE_ERROR,
	                           "(code 2)", T_MESSAGE));
	g_assert_null(host_find(since, HOST_EV_MESSAGE, NULL, NULL, 0, "passphrase here"));
	mallory_down(&m);

	/* a buddy announcing a name with a right-to-left override and an
	 * escape: its alias is the name without them */
	{
		struct sockaddr_in sa;
		socklen_t len = sizeof(sa);
		char *who;

		c = atk(f, 3);
		raw_session_init(&s, c);
		g_assert_cmpint(getsockname(c->fd, (struct sockaddr *) &sa, &len), ==, 0);
		who = g_strdup_printf("127.0.%u.3:%u", f->n, ntohs(sa.sin_port));
		b = host_add_buddy(f->victim, who);
		g_assert_true(raw_session_handshake(&s, "mal\xe2\x80\xaelory\x1b[2J", ntohs(sa.sin_port),
		                                    atk_salt, ITERATIONS, atk_prs, T_SESSION));
		host_run_for(200);
		g_assert_cmpstr(purple_buddy_get_server_alias(b), ==, "mallory[2J");
		raw_session_clear(&s);
		g_free(who);
	}

	/* a stranger announcing the friend's name is still its address */
	since = host_mark();
	c = atk(f, 2);
	raw_session_init(&s, c);
	g_assert_true(raw_session_handshake(&s, f->fname, 0, atk_salt, ITERATIONS, atk_prs,
	                                    T_SESSION));
	g_assert_true(raw_session_send_msg(&s, "guess who"));
	g_assert_nonnull(host_wait(since, HOST_EV_MESSAGE, f->victim, ip2, PURPLE_MESSAGE_RECV,
	                           "guess who", T_MESSAGE));
	host_run_for(100);
	g_assert_null(host_find(since, HOST_EV_MESSAGE, f->victim, ip2, 0, f->fname));
	raw_session_clear(&s);
out:
	g_free(ip2);
}

/* ---- /hostile/lost-closed ------------------------------------------------- */

/* An IPv4 address and port, from either family (the plugin's dual-stack
 * listener sees IPv4 callers as ::ffff:a.b.c.d). */
static gboolean
v4_of(const struct sockaddr_storage *ss, guint32 *addr, guint16 *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *) ss;

		*addr = s4->sin_addr.s_addr;
		*port = s4->sin_port;
		return TRUE;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *) ss;

		if (!IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			return FALSE;
		memcpy(addr, &s6->sin6_addr.s6_addr[12], 4);
		*port = s6->sin6_port;
		return TRUE;
	}
	return FALSE;
}

/* The plugin's own socket of the connection whose peer end is `peer`. */
static int
plugin_fd_of(int peer)
{
	struct sockaddr_storage want, got;
	socklen_t wl = sizeof(want);
	GDir *d = g_dir_open("/proc/self/fd", 0, NULL);
	const char *name;
	int found = -1;
	guint32 wa, ga;
	guint16 wp, gp;

	if (d == NULL || getsockname(peer, (struct sockaddr *) &want, &wl) != 0 ||
	    !v4_of(&want, &wa, &wp))
		goto out;
	while (found < 0 && (name = g_dir_read_name(d)) != NULL) {
		int fd = atoi(name);
		socklen_t gl = sizeof(got);

		if (fd != peer && getpeername(fd, (struct sockaddr *) &got, &gl) == 0 &&
		    v4_of(&got, &ga, &gp) && ga == wa && gp == wp)
			found = fd;
	}
out:
	if (d != NULL)
		g_dir_close(d);
	return found;
}

/* A send that fails, in a round with nothing else to handle, ends the
 * connection as any loss does: the user is told, the message waits, the
 * buddy is dialled again.  Its CLOSED used to be dropped with the
 * connection: no word, no redial. */
static void
test_lost_closed(Fix *f, gconstpointer data)
{
	Mallory m;
	guint since, dials;
	int fd;

	if (!f->ready)
		return;
	if (!mallory_up(f, &m, 1, TRUE)) {
		mallory_down(&m);
		return;
	}
	mallory_says(f, &m, "still here");
	STOP_IF_FAILED();
	fd = plugin_fd_of(m.c->fd);
	g_assert_cmpint(fd, >=, 0);
	if (fd < 0) {
		mallory_down(&m);
		return;
	}
	/* the plugin's next send fails (EPIPE); nothing comes to read */
	g_assert_cmpint(shutdown(fd, SHUT_WR), ==, 0);
	since = host_mark();
	dials = host_dials();
	host_send_im(f->victim, m.who, "this one has to wait");
	g_assert_nonnull(host_wait(since, HOST_EV_MESSAGE, f->victim, m.who, PURPLE_MESSAGE_SYSTEM,
	                           "Connection with mallory lost. 1 message is waiting",
	                           T_MESSAGE));
	g_assert_false(host_buddy_online(f->victim, m.who));
	/* a buddy is dialled again (nothing listens there: refused) */
	host_run_for(1000);
	g_assert_cmpuint(host_dials(), >, dials);
	mallory_down(&m);
}

/* ---- /hostile/no-redial-storm --------------------------------------------- */

static gboolean
has_messages(RawSession *s, gpointer data)
{
	return s->messages->len >= GPOINTER_TO_UINT(data);
}

/* A stranger that does not listen is never dialled: what the user writes
 * to it while it is away waits for it to call back.  It used to be dialled
 * at its address's default port once per message typed.  And a buddy that
 * cannot be reached is dialled once at a time, however fast the user types. */
static void
test_no_redial_storm(Fix *f, gconstpointer data)
{
	guint since, dials, i;
	RawSession s;
	RawConn *c;
	char *who = atk_ip(f, 2);
	char *gone;
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int probe;

	if (!f->ready)
		goto out;
	c = atk(f, 2);
	raw_session_init(&s, c);
	since = host_mark();
	g_assert_true(raw_session_handshake(&s, "passer-by", 0, atk_salt, ITERATIONS, atk_prs,
	                                    T_SESSION));
	g_assert_true(raw_session_send_msg(&s, "hi, I do not listen"));
	g_assert_nonnull(host_wait(since, HOST_EV_MESSAGE, f->victim, who, PURPLE_MESSAGE_RECV,
	                           "hi, I do not listen", T_MESSAGE));
	raw_session_clear(&s);
	atk_close(f, c);
	host_run_for(300);

	since = host_mark();
	dials = host_dials();
	for (i = 0; i < 20; i++) {
		char *t = g_strdup_printf("while you are away %u", i);

		host_send_im(f->victim, who, t);
		g_free(t);
		host_run_for(50);
	}
	host_run_for(1000);
	g_assert_cmpuint(host_dials(), ==, dials);
	g_assert_null(host_find(since, HOST_EV_MESSAGE, f->victim, who, PURPLE_MESSAGE_ERROR, NULL));

	/* it calls back: everything waiting arrives, in order */
	c = atk(f, 2);
	raw_session_init(&s, c);
	g_assert_true(raw_session_handshake(&s, "passer-by", 0, atk_salt, ITERATIONS, atk_prs,
	                                    T_SESSION));
	g_assert_true(raw_session_run_until(&s, has_messages, GUINT_TO_POINTER(20), T_MESSAGE));
	for (i = 0; i < MIN(s.messages->len, 20); i++) {
		char *t = g_strdup_printf("while you are away %u", i);

		g_assert_cmpstr(g_ptr_array_index(s.messages, i), ==, t);
		g_free(t);
	}
	raw_session_clear(&s);

	/* a buddy nobody answers for: one dial at a time, not one a message */
	probe = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g_assert_cmpint(bind(probe, (struct sockaddr *) &sa, sizeof(sa)), ==, 0);
	g_assert_cmpint(getsockname(probe, (struct sockaddr *) &sa, &len), ==, 0);
	gone = g_strdup_printf("127.0.0.1:%u", ntohs(sa.sin_port));   /* bound, not listening */
	host_add_buddy(f->victim, gone);
	host_run_for(300);
	dials = host_dials();
	for (i = 0; i < 20; i++) {
		host_send_im(f->victim, gone, "anyone?");
		host_run_for(25);
	}
	/* 0.5 s of typing; retries come at most every PARLEY_TEST_RETRY_MS
	 * (200 ms) while the user writes */
	g_assert_cmpuint(host_dials() - dials, <=, 5);
	close(probe);
	g_free(gone);
out:
	g_free(who);
}

/* ---- /hostile/buddy-dialled-though-it-called-without-port ------------------ */

/* A buddy that once called announcing no listen port is still a buddy:
 * what the user writes to it dials the address the user gave (only a
 * stranger's entry is left to call back). */
static void
test_buddy_still_dialled(Fix *f, gconstpointer data)
{
	char *who = atk_ip(f, 4);
	guint since, dials;
	RawSession s;
	RawConn *c;

	if (!f->ready)
		goto out;
	host_add_buddy(f->victim, who);
	host_run_for(300);
	c = atk(f, 4);
	raw_session_init(&s, c);
	since = host_mark();
	g_assert_true(raw_session_handshake(&s, "buddy", 0, atk_salt, ITERATIONS, atk_prs,
	                                    T_SESSION));
	g_assert_true(raw_session_send_msg(&s, "calling without a listen port"));
	g_assert_nonnull(host_wait(since, HOST_EV_MESSAGE, f->victim, who, PURPLE_MESSAGE_RECV,
	                           "calling without a listen port", T_MESSAGE));
	raw_session_clear(&s);
	atk_close(f, c);
	host_run_for(300);
	dials = host_dials();
	host_send_im(f->victim, who, "I will call you");
	host_run_for(500);
	g_assert_cmpuint(host_dials(), >, dials);
out:
	g_free(who);
}

int
main(int argc, char **argv)
{
	GError *error = NULL;
	int rc;

	g_test_init(&argc, &argv, NULL);
	g_test_set_nonfatal_assertions();
	g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_ERROR);
	/* §4's 30 s would make the slow attacks slow to test */
	g_setenv("PARLEY_TEST_HANDSHAKE_TIMEOUT_MS", G_STRINGIFY(HS_TIMEOUT_MS), TRUE);
	g_setenv("PARLEY_TEST_RETRY_MS", "200", FALSE);

	if (!host_init(&error)) {
		g_printerr("# cannot start the libpurple host: %s\n", error->message);
		printf("Bail out! %s\n", error->message);
		g_error_free(error);
		return 1;
	}
	/* the loaded plugin's own copy of kdf_worker.c, not this program's */
	*(void **) &plugin_kdf_max_seen = host_plugin_symbol("parley_kdf_max_concurrent_seen");
	*(void **) &plugin_kdf_hold = host_plugin_symbol("parley_kdf_hold");
	if (plugin_kdf_max_seen == NULL || plugin_kdf_hold == NULL) {
		printf("Bail out! the plugin's PBKDF2 worker cannot be asked\n");
		return 1;
	}

	parley_random_bytes(atk_salt, sizeof(atk_salt));
	raw_prs(PASSPHRASE, atk_salt, ITERATIONS, atk_prs);
	raw_prs(WRONG_GUESS, atk_salt, ITERATIONS, wrong_prs);

	HOSTILE_TEST("/hostile/frame-4gib", test_frame_4gib);
	HOSTILE_TEST("/hostile/frame-zero", test_frame_zero);
	HOSTILE_TEST("/hostile/random-bytes", test_random_bytes);
	HOSTILE_TEST("/hostile/slow-bytes", test_slow_bytes);
	HOSTILE_TEST("/hostile/version", test_version);
	HOSTILE_TEST("/hostile/low-order-point", test_low_order);
	HOSTILE_TEST("/hostile/iterations", test_iterations);
	HOSTILE_TEST("/hostile/tampered-record", test_tampered);
	HOSTILE_TEST("/hostile/replayed-record", test_replayed);
	HOSTILE_TEST("/hostile/rekey-ack-unsolicited", test_rekey_ack);
	HOSTILE_TEST("/hostile/close-mid-frame", test_close_mid_frame);
	HOSTILE_TEST("/hostile/unfinished-handshakes", test_unfinished);
	HOSTILE_TEST("/hostile/silent", test_silent);
	HOSTILE_TEST("/hostile/fd-exhaustion", test_fd_exhaustion);
	HOSTILE_TEST("/hostile/guessing", test_guessing);
	HOSTILE_TEST("/hostile/kdf-cap", test_kdf_cap);
	HOSTILE_TEST("/hostile/handshake-cap", test_handshake_cap);
	HOSTILE_TEST("/hostile/buddy-passphrase-not-bypassed", test_buddy_passphrase);
	HOSTILE_TEST("/hostile/unauthenticated-text", test_unauthenticated_text);
	HOSTILE_TEST("/hostile/lost-closed", test_lost_closed);
	HOSTILE_TEST("/hostile/no-redial-storm", test_no_redial_storm);
	HOSTILE_TEST("/hostile/buddy-dialled-though-it-called-without-port",
	             test_buddy_still_dialled);

	rc = g_test_run();
	parley_wipe(atk_prs, sizeof(atk_prs));
	parley_wipe(wrong_prs, sizeof(wrong_prs));
	host_shutdown();
	return rc;
}
