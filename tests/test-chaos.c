/*
 * test-chaos.c - a seeded chaos test: native and classic Parley accounts in
 * the headless libpurple host (host.c), a scripted random mix of messages,
 * dials, duplicate connections, rekeys from both ends, cuts and stalls
 * through fault proxies (faultproxy.c), sign-offs and sign-ons, and
 * strangers (rawpeer.c) with wrong passphrases and garbage, all at once.
 *
 * The script is drawn from a GRand seeded by a number printed at the start
 * ("# chaos seed N"); CHAOS_SEED=N replays it (the same actions at the same
 * times; what the plugin makes of them still depends on the machine's
 * timing).  CHAOS_SECONDS=N sets how long the chaos lasts (30 s by
 * default; setting up, healing and the checks add some 5-15 s); the script
 * is drawn in time order, so a shorter run replays a prefix of a longer
 * one.  To reduce a failure, CHAOS_WITHOUT=kind,... leaves kinds of action
 * out of the same script: msg, burst, rekey, rekey2, reconnect, dial2, cut,
 * stall, route, signoff, stranger, typing, combo, or every action on the
 * classic or the native pairs ("classic", "native").  CHAOS_VERBOSE=1
 * prints every action as it runs; PARLEY_TEST_DEBUG=parley adds the
 * plugin's debug log (host.h).
 *
 * The accounts, all in this one process:
 *
 *   A, B   native, both listening, each other's buddy (at [::1]:PORT where
 *          IPv6 works): both dial, so duplicate connections (§9) come up
 *          all the time;
 *   C      native, not listening; its buddies D and E are fault proxies in
 *          front of their ports, and D and E know C at a port that refuses
 *          (as in test-network.c), so every C-D and C-E connection goes
 *          through a proxy the test can cut, stall or take down;
 *   K, L   classic (§11), both listening; L knows K through a proxy, K
 *          knows L directly.
 *
 * At the end the network heals, every account signs on, and the test
 * waits for what was sent to arrive.  Then, for every direction of every
 * pair: each message sent is shown at the receiver exactly once, in order,
 * under the right conversation and with its exact text - or was reported
 * to its sender ("not delivered", "could not be sent").  Allowed besides,
 * because the protocol promises no more: a native repeat when the receiver
 * signed off and on in between (§7 remembers msg_ids only while signed
 * on), and a classic message lost when the link or the receiver went soon
 * after it was sent and before anything newer was shown (§11 has no
 * acknowledgements).  A message its sender signed off with, neither shown
 * nor reported, fails in a category of its own (CHAOS_ALLOW_SIGNOFF_DROP=1
 * allows it, should that be the design).  No error other than the expected
 * ones (busy, timeout, no session) is shown in a pair's conversation; one
 * more message gets through each way; the plugin settles on one connection
 * per pair, with the same verification code at both ends of a native one,
 * and no PBKDF2 job; after the accounts are deleted it holds no connection
 * and no job; GLib never complained and the loop was never misused.  Leaks
 * are left to valgrind and LeakSanitizer (host_shutdown).
 *
 * /chaos/checker feeds the invariant checker made-up histories (a lost,
 * repeated, reordered or altered message) and checks that it objects;
 * CHAOS_SELFTEST=drop|dup|swap|alter makes the live run's ledger misread
 * one message the same way, to see /chaos/mix fail.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
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
#include "rawpeer.h"

#include "under-valgrind.h"

#define PASSPHRASE         "chaos is no excuse to lose a message"
#define CLASSIC_PASSPHRASE "classic chaos passphrase"
#define DEFAULT_SECONDS    30

/* Waits, in ms; valgrind runs everything some 30 times slower. */
static guint scale = 1;
#define T_SESSION   (20000 * scale)   /* sign-on, a session up */
#define T_SETUP     (60000 * scale)   /* first sessions, all PBKDF2, busy machine */
#define T_HEAL      (90000 * scale)   /* everything sent arrives after the chaos */
#define T_MESSAGE   (10000 * scale)
#define T_CLASSIC   (20000 * scale)   /* dial, 2 s start, PBKDF2 on both ends */

/* the plugin's test knobs, unless the caller set them */
#define RETRY_MS             "200"
#define HANDSHAKE_TIMEOUT_MS "8000"
#define GIVE_UP_MS           "15000"

#define MAX_ACCTS   8
#define MAX_PAIRS   4

/* ---- what was sent, shown and reported, per direction of a pair --------- */

typedef struct {
	guint n;                    /* message number in its stream, from 1 */
	guint seq;                  /* host log position of the event */
} Mark;

typedef struct {
	guint seq;                  /* host log position then */
	gint64 ms;                  /* monotonic ms then */
} When;

/* A classic message lost with its connection must have been sent this
 * long before the connection went, at most: it may wait 2 s for the start
 * (§11) and for a key to derive at either end. */
#define CLASSIC_IN_FLIGHT_MS (6000 * (gint64) scale)
/* ... or this long after: the sender writes into a connection the other
 * end has just closed, before it reads the end of it */
#define CLASSIC_CROSSED_MS   (200 * (gint64) scale)

/* CHAOS_ALLOW_SIGNOFF_DROP=1: a message its sender signed off with,
 * neither shown nor reported, is allowed (should that be the design) */
static gboolean allow_signoff_drop;

typedef struct {
	char label[8];              /* "A>B" */
	char from, to;              /* account labels */
	gboolean classic;
	/* messages 1..sent: their text and the log position when sent */
	GPtrArray *texts;           /* char* */
	GArray *sent_at;            /* When */
	GArray *shown;              /* Mark: shown at the receiver, in log order */
	GArray *reported;           /* Mark: reported to the sender as not sent */
	GArray *altered;            /* Mark: shown with another text */
	GArray *wrong_conv;         /* Mark: shown in another conversation */
	GByteArray *state;          /* per message: 1 shown, 2 reported */
	guint accounted;            /* messages shown or reported */
	/* what excuses what (owned by the accounts and the pair) */
	GArray *rx_signons;         /* When: the receiver signed on again */
	GArray *rx_signoffs;        /* When: the receiver signed off */
	GArray *tx_signoffs;        /* When: the sender signed off */
	GArray *disrupts;           /* When: the pair's connection was cut */
	GArray *rx_closes;          /* When: the receiver closed it (reconnect) */
} Stream;

static guint
stream_sent(const Stream *st)
{
	return st->texts->len;
}

static void
stream_init(Stream *st, char from, char to, gboolean classic)
{
	memset(st, 0, sizeof(*st));
	g_snprintf(st->label, sizeof(st->label), "%c>%c", from, to);
	st->from = from;
	st->to = to;
	st->classic = classic;
	st->texts = g_ptr_array_new_with_free_func(g_free);
	st->sent_at = g_array_new(FALSE, FALSE, sizeof(When));
	st->shown = g_array_new(FALSE, FALSE, sizeof(Mark));
	st->reported = g_array_new(FALSE, FALSE, sizeof(Mark));
	st->altered = g_array_new(FALSE, FALSE, sizeof(Mark));
	st->wrong_conv = g_array_new(FALSE, FALSE, sizeof(Mark));
	st->state = g_byte_array_new();
}

static void
stream_clear(Stream *st)
{
	g_ptr_array_unref(st->texts);
	g_array_unref(st->sent_at);
	g_array_unref(st->shown);
	g_array_unref(st->reported);
	g_array_unref(st->altered);
	g_array_unref(st->wrong_conv);
	g_byte_array_unref(st->state);
}

static void
stream_add_sent(Stream *st, char *text, guint seq, gint64 ms)
{
	guint8 zero = 0;
	When w = { seq, ms };

	g_ptr_array_add(st->texts, text);
	g_array_append_val(st->sent_at, w);
	g_byte_array_append(st->state, &zero, 1);
}

static void
stream_note(Stream *st, guint n, guint8 bit)
{
	if (n == 0 || n > st->state->len)
		return;
	if (st->state->data[n - 1] == 0)
		st->accounted++;
	st->state->data[n - 1] |= bit;
}

static void
stream_add_shown(Stream *st, guint n, guint seq)
{
	Mark m = { n, seq };

	g_array_append_val(st->shown, m);
	stream_note(st, n, 1);
}

static void
stream_add_reported(Stream *st, guint n, guint seq)
{
	Mark m = { n, seq };

	g_array_append_val(st->reported, m);
	stream_note(st, n, 2);
}

/* Something in whens (When) happened between these log positions. */
static gboolean
any_between(const GArray *whens, guint after, guint before)
{
	guint i;

	for (i = 0; whens != NULL && i < whens->len; i++) {
		guint s = g_array_index(whens, When, i).seq;

		if (s > after && s < before)
			return TRUE;
	}
	return FALSE;
}

/* A classic connection went (disrupts) soon after the message was sent
 * (or just before), and before anything newer was shown: it may have been
 * on the wire. */
static gboolean
lost_in_flight(const GArray *disrupts, const When *sent, guint later)
{
	guint i;

	for (i = 0; disrupts != NULL && i < disrupts->len; i++) {
		const When *d = &g_array_index(disrupts, When, i);

		if (d->seq < later && d->ms - sent->ms <= CLASSIC_IN_FLIGHT_MS &&
		    (d->seq > sent->seq || sent->ms - d->ms <= CLASSIC_CROSSED_MS))
			return TRUE;
	}
	return FALSE;
}

static gboolean
marked(const GArray *marks, guint n)
{
	guint i;

	for (i = 0; i < marks->len; i++)
		if (g_array_index(marks, Mark, i).n == n)
			return TRUE;
	return FALSE;
}

typedef enum {
	V_LOST,                     /* never shown, never reported */
	V_DUP,                      /* shown twice, no excuse */
	V_ORDER,                    /* shown before an older one */
	V_UNKNOWN,                  /* shown, but never sent */
	V_ALTERED,                  /* shown with another text */
	V_WRONG_CONV,               /* shown under another peer */
	V_SIGNOFF_DROP,             /* dropped unreported when its sender signed off */
	V_COUNT
} ViolationKind;

static const char *violation_names[V_COUNT] = {
	"lost", "shown twice", "out of order", "unknown message", "altered",
	"wrong conversation", "dropped at the sender's sign-off"
};

typedef struct {
	const Stream *st;
	guint seq;
} Spot;

typedef struct {
	guint count[V_COUNT];
	GPtrArray *lines;           /* char*: what went wrong, one line each */
	GPtrArray *notes;           /* char*: allowed oddities */
	GArray *spots;              /* Spot: where to look in the log, a few */
} Verdict;

static void
verdict_init(Verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->lines = g_ptr_array_new_with_free_func(g_free);
	v->notes = g_ptr_array_new_with_free_func(g_free);
	v->spots = g_array_new(FALSE, FALSE, sizeof(Spot));
}

static void
verdict_clear(Verdict *v)
{
	g_ptr_array_unref(v->lines);
	g_ptr_array_unref(v->notes);
	g_array_unref(v->spots);
}

static guint
verdict_total(const Verdict *v)
{
	guint k, n = 0;

	for (k = 0; k < V_COUNT; k++)
		n += v->count[k];
	return n;
}

static void G_GNUC_PRINTF(5, 6)
violation(Verdict *v, ViolationKind k, const Stream *st, guint seq, const char *fmt, ...)
{
	va_list ap;
	char *what;
	guint i, here = 0;

	va_start(ap, fmt);
	what = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	v->count[k]++;
	for (i = 0; i < v->spots->len; i++)
		here += g_array_index(v->spots, Spot, i).st == st;
	if (here < 2) {
		Spot sp = { st, seq };

		g_array_append_val(v->spots, sp);
	}
	/* a few lines per kind and stream are enough to see the pattern */
	if (v->count[k] <= 12)
		g_ptr_array_add(v->lines, g_strdup_printf("%s %s: %s", st->label,
		                                          violation_names[k], what));
	g_free(what);
}

static void G_GNUC_PRINTF(3, 4)
note(Verdict *v, const Stream *st, const char *fmt, ...)
{
	va_list ap;
	char *what;

	va_start(ap, fmt);
	what = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (v->notes->len < 40)
		g_ptr_array_add(v->notes, g_strdup_printf("%s: %s", st->label, what));
	g_free(what);
}

/* The invariants of one stream (see the header comment). */
static void
stream_check(const Stream *st, Verdict *v)
{
	guint sent = stream_sent(st);
	guint *count = g_new0(guint, sent + 1);
	guint *last_seq = g_new0(guint, sent + 1);
	/* later[i]: when a message newer than #i was first shown */
	guint *later = g_new0(guint, sent + 2);
	guint i, newest = 0;

	for (i = 0; i < st->shown->len; i++) {
		const Mark *m = &g_array_index(st->shown, Mark, i);

		if (m->n == 0 || m->n > sent) {
			violation(v, V_UNKNOWN, st, m->seq, "#%u shown (log %u), %u sent", m->n,
			          m->seq, sent);
			continue;
		}
		if (count[m->n] > 0) {
			/* §7: the receiver forgets msg_ids when it signs off, and a
			 * native sender resends what was not acknowledged */
			if (!st->classic && any_between(st->rx_signons, last_seq[m->n], m->seq))
				note(v, st, "#%u shown again (log %u, %u) after the receiver signed on "
				     "again", m->n, last_seq[m->n], m->seq);
			else
				violation(v, V_DUP, st, m->seq, "#%u shown at log %u and again at %u",
				          m->n, last_seq[m->n], m->seq);
		} else {
			if (m->n < newest)
				violation(v, V_ORDER, st, m->seq, "#%u shown (log %u) after #%u", m->n,
				          m->seq, newest);
			newest = MAX(newest, m->n);
		}
		count[m->n]++;
		last_seq[m->n] = m->seq;
	}
	for (i = 0; i < st->altered->len; i++) {
		const Mark *m = &g_array_index(st->altered, Mark, i);

		violation(v, V_ALTERED, st, m->seq, "#%u shown with another text (log %u)", m->n,
		          m->seq);
	}
	for (i = 0; i < st->wrong_conv->len; i++) {
		const Mark *m = &g_array_index(st->wrong_conv, Mark, i);

		violation(v, V_WRONG_CONV, st, m->seq, "#%u shown in another conversation (log %u)",
		          m->n, m->seq);
	}
	/* first showings, then the earliest of those newer than each */
	for (i = 0; i <= sent + 1; i++)
		later[i] = G_MAXUINT;
	for (i = 0; i < st->shown->len; i++) {
		const Mark *m = &g_array_index(st->shown, Mark, i);

		if (m->n >= 1 && m->n <= sent)
			later[m->n] = MIN(later[m->n], m->seq);
	}
	for (i = sent; i >= 1; i--)
		later[i] = MIN(later[i], later[i + 1]);
	for (i = 1; i <= sent; i++)
		later[i] = later[i + 1];
	for (i = 1; i <= sent; i++) {
		const When *at = &g_array_index(st->sent_at, When, i - 1);
		gboolean rep = marked(st->reported, i);

		if (count[i] > 0) {
			if (rep)
				note(v, st, "#%u shown and also reported as not sent", i);
			continue;
		}
		if (rep)
			continue;
		/* §11 has no acknowledgements: what was on the wire when the
		 * link or the receiver went is lost */
		if (st->classic && (lost_in_flight(st->disrupts, at, later[i]) ||
		                    lost_in_flight(st->rx_signoffs, at, later[i]) ||
		                    lost_in_flight(st->rx_closes, at, later[i])))
			note(v, st, "#%u (sent at log %u) lost with a classic connection", i, at->seq);
		else if (any_between(st->tx_signoffs, at->seq, later[i]) && allow_signoff_drop)
			note(v, st, "#%u (sent at log %u) dropped when its sender signed off", i,
			     at->seq);
		else if (any_between(st->tx_signoffs, at->seq, later[i]))
			violation(v, V_SIGNOFF_DROP, st, at->seq, "#%u (sent at log %u) neither shown "
			          "nor reported; the sender signed off after sending it", i, at->seq);
		else
			violation(v, V_LOST, st, at->seq, "#%u (sent at log %u) neither shown nor "
			          "reported", i, at->seq);
	}
	g_free(count);
	g_free(last_seq);
	g_free(later);
}

/* ---- /chaos/checker: the checker objects to what it should -------------- */

typedef struct {
	Stream st;
	GArray *rx_signons, *rx_signoffs, *tx_signoffs, *disrupts, *rx_closes;
} FakeStream;

static void
fake_init(FakeStream *f, gboolean classic, guint sent)
{
	guint i;

	stream_init(&f->st, 'X', 'Y', classic);
	f->rx_signons = f->st.rx_signons = g_array_new(FALSE, FALSE, sizeof(When));
	f->rx_signoffs = f->st.rx_signoffs = g_array_new(FALSE, FALSE, sizeof(When));
	f->tx_signoffs = f->st.tx_signoffs = g_array_new(FALSE, FALSE, sizeof(When));
	f->disrupts = f->st.disrupts = g_array_new(FALSE, FALSE, sizeof(When));
	f->rx_closes = f->st.rx_closes = g_array_new(FALSE, FALSE, sizeof(When));
	/* message i sent at log 10 * i, i ms */
	for (i = 1; i <= sent; i++)
		stream_add_sent(&f->st, g_strdup_printf("[X>Y %u]", i), 10 * i, i);
}

static void
fake_clear(FakeStream *f)
{
	stream_clear(&f->st);
	g_array_unref(f->rx_signons);
	g_array_unref(f->rx_signoffs);
	g_array_unref(f->tx_signoffs);
	g_array_unref(f->disrupts);
	g_array_unref(f->rx_closes);
}

/* Check a made-up history: shown holds message numbers in the order shown
 * (at log 1000 + 10 * position), reported the numbers reported. */
static guint
fake_verdict(FakeStream *f, const guint *shown, guint n_shown, const guint *reported,
             guint n_reported, ViolationKind want)
{
	Verdict v;
	guint i, got;

	for (i = 0; i < n_shown; i++)
		stream_add_shown(&f->st, shown[i], 1000 + 10 * i);
	for (i = 0; i < n_reported; i++)
		stream_add_reported(&f->st, reported[i], 2000 + i);
	verdict_init(&v);
	stream_check(&f->st, &v);
	for (i = 0; i < v.lines->len; i++)
		g_test_message("checker says: %s", (char *) g_ptr_array_index(v.lines, i));
	got = want < V_COUNT ? v.count[want] : verdict_total(&v);
	if (want < V_COUNT)
		g_assert_cmpuint(verdict_total(&v), ==, v.count[want]);
	verdict_clear(&v);
	return got;
}

static void
test_checker(void)
{
	static const guint all[] = { 1, 2, 3, 4, 5 };
	static const guint lost[] = { 1, 2, 4, 5 };
	static const guint dup[] = { 1, 2, 3, 3, 4, 5 };
	static const guint swapped[] = { 1, 2, 4, 3, 5 };
	static const guint unknown[] = { 1, 2, 3, 4, 5, 6 };
	static const guint three[] = { 3 };
	FakeStream f;
	guint i;

	/* the honest history passes */
	fake_init(&f, FALSE, 5);
	g_assert_cmpuint(fake_verdict(&f, all, 5, NULL, 0, V_COUNT), ==, 0);
	fake_clear(&f);
	/* a lost message is caught; reported, it is fine */
	fake_init(&f, FALSE, 5);
	g_assert_cmpuint(fake_verdict(&f, lost, 4, NULL, 0, V_LOST), ==, 1);
	fake_clear(&f);
	fake_init(&f, FALSE, 5);
	g_assert_cmpuint(fake_verdict(&f, lost, 4, three, 1, V_COUNT), ==, 0);
	fake_clear(&f);
	/* a repeat is caught, unless the native receiver signed on in between */
	fake_init(&f, FALSE, 5);
	g_assert_cmpuint(fake_verdict(&f, dup, 6, NULL, 0, V_DUP), ==, 1);
	fake_clear(&f);
	fake_init(&f, FALSE, 5);
	/* between the two showings of #3 */
	g_array_append_val(f.rx_signons, ((When) { 1025, 1025 }));
	g_assert_cmpuint(fake_verdict(&f, dup, 6, NULL, 0, V_COUNT), ==, 0);
	fake_clear(&f);
	fake_init(&f, TRUE, 5);
	g_array_append_val(f.rx_signons, ((When) { 1025, 1025 }));
	g_assert_cmpuint(fake_verdict(&f, dup, 6, NULL, 0, V_DUP), ==, 1);
	fake_clear(&f);
	/* reordering, and a message nobody sent */
	fake_init(&f, FALSE, 5);
	g_assert_cmpuint(fake_verdict(&f, swapped, 5, NULL, 0, V_ORDER), ==, 1);
	fake_clear(&f);
	fake_init(&f, FALSE, 5);
	g_assert_cmpuint(fake_verdict(&f, unknown, 6, NULL, 0, V_UNKNOWN), ==, 1);
	fake_clear(&f);
	/* a sender's sign-off excuses nothing, in either mode, but is told
	 * apart; a classic receiver's sign-off is a cut */
	for (i = 0; i < 2; i++) {
		fake_init(&f, i == 1, 5);
		/* after #3 was sent */
		g_array_append_val(f.tx_signoffs, ((When) { 35, 35 }));
		g_assert_cmpuint(fake_verdict(&f, lost, 4, NULL, 0, V_SIGNOFF_DROP), ==, 1);
		fake_clear(&f);
	}
	fake_init(&f, TRUE, 5);
	g_array_append_val(f.rx_signoffs, ((When) { 35, 35 }));
	g_assert_cmpuint(fake_verdict(&f, lost, 4, NULL, 0, V_COUNT), ==, 0);
	fake_clear(&f);
	/* a cut excuses a classic loss, if it came after the message was sent
	 * and before anything newer was shown; never a native one */
	for (i = 0; i < 5; i++) {
		static const struct {
			When cut;
			gboolean excuses;
		} cuts[] = {
			{ { 35, 35 }, TRUE },           /* right after #3 */
			{ { 25, 2 }, TRUE },            /* just before: #3 crossed it */
			{ { 25, -1000 }, FALSE },       /* well before #3 was sent */
			{ { 1500, 40 }, FALSE },        /* after #4 was shown */
			{ { 35, 100000 }, FALSE },      /* too long after */
		};

		fake_init(&f, TRUE, 5);
		g_array_append_val(i % 2 == 0 ? f.disrupts : f.rx_closes, cuts[i].cut);
		g_assert_cmpuint(fake_verdict(&f, lost, 4, NULL, 0,
		                              cuts[i].excuses ? V_COUNT : V_LOST), ==,
		                 cuts[i].excuses ? 0 : 1);
		fake_clear(&f);
	}
	fake_init(&f, FALSE, 5);
	g_array_append_val(f.disrupts, ((When) { 35, 35 }));
	g_assert_cmpuint(fake_verdict(&f, lost, 4, NULL, 0, V_LOST), ==, 1);
	fake_clear(&f);
	/* an altered text */
	fake_init(&f, FALSE, 5);
	{
		Mark m = { 2, 1010 };

		g_array_append_val(f.st.altered, m);
	}
	g_assert_cmpuint(fake_verdict(&f, all, 5, NULL, 0, V_ALTERED), ==, 1);
	fake_clear(&f);
}

/* ---- the accounts, the pairs, the proxies -------------------------------- */

typedef struct {
	char label;
	char *name;
	PurpleAccount *acct;
	gboolean classic;
	gboolean listens;
	gboolean on;
	GArray *signons;            /* When: sign-ons after the first */
	GArray *signoffs;           /* When */
} Acct;

typedef struct {
	Acct *x, *y;
	char *y_at_x;               /* y's buddy name at x */
	char *x_at_y;               /* x's buddy name at y */
	/* NULL: x and y dial each other directly.  Else y reaches x only
	 * through this proxy, and x knows y at a port that refuses (when y
	 * does not listen) or directly (classic) */
	FaultProxy *proxy;
	gboolean classic;
	GArray *disrupts;           /* When: cuts */
	GArray *closes[2];          /* When: x, y closed the connection (reconnect) */
	Stream st[2];               /* x>y, y>x */
	char label[8];
} Pair;

/* ---- the script --------------------------------------------------------- */

typedef enum {
	ACT_MSG,
	ACT_BURST,
	ACT_REKEY,
	ACT_REKEY2,                 /* both ends ask at once (§8: I's request wins) */
	ACT_RECONNECT,
	ACT_DIAL2,                  /* both ends dial at once */
	ACT_CUT,
	ACT_STALL,
	ACT_UNSTALL,                /* the end of a stall: resume or cut */
	ACT_ROUTE_DOWN,
	ACT_ROUTE_UP,
	ACT_SIGN_OFF,
	ACT_SIGN_ON,
	ACT_STRANGER,
	ACT_TYPING,
	ACT_COMBO,                  /* a few of msg, rekey, reconnect, typing, cut at once */
	ACT_N
} ActType;

static const char *act_names[ACT_N] = {
	"message", "burst", "rekey", "both rekey", "reconnect", "both dial", "cut", "stall",
	"stall ends", "route down", "route up", "sign-off", "sign-on", "stranger", "typing", "combo"
};

/* CHAOS_WITHOUT names, by ActType (follow-ups go with their kind) */
static const char *act_kind[ACT_N] = {
	"msg", "burst", "rekey", "rekey2", "reconnect", "dial2", "cut", "stall", "stall", "route",
	"route", "signoff", "signoff", "stranger", "typing", "combo"
};

typedef enum {
	STR_WRONG_PASS,             /* HS1 with a wrong passphrase */
	STR_GARBAGE,                /* random bytes */
	STR_SILENT,                 /* connects and says nothing */
	STR_BAD_HEADER,             /* a frame header of 0 or over MAX_FRAME */
	STR_PARTIAL_HS1,            /* half an HS1, then nothing */
	STR_BAD_VERSION,            /* an HS1 of another version */
	STR_N
} StrangerKind;

static const char *stranger_names[STR_N] = {
	"wrong passphrase", "garbage", "silent", "bad header", "partial HS1", "bad version"
};

typedef struct {
	gint64 at;                  /* ms after the chaos began */
	ActType type;
	int pair;                   /* or the stream (ACT_MSG, ACT_BURST), or the account */
	int side;                   /* 0: x, 1: y */
	guint n;                    /* messages; stranger kind; stall directions; ... */
	guint32 arg;                /* a random number for the details */
	guint hold_ms;              /* a stranger's life; a stall's length */
} Action;

typedef struct {
	Acct accts[MAX_ACCTS];
	guint n_accts;
	Pair pairs[MAX_PAIRS];
	guint n_pairs;
	Stream *streams[2 * MAX_PAIRS];
	guint n_streams;
	int dead_fd[MAX_PAIRS];
	guint n_dead;

	guint32 seed;
	guint seconds;
	gboolean verbose;
	GArray *script;             /* Action */
	guint next;                 /* next action to run */
	gint64 start_ms;            /* monotonic ms when the chaos began */
	gint64 end_ms;
	guint mark;                 /* host log when the case began */
	guint chaos_mark;           /* host log when the chaos began */
	guint cursor;               /* host log read up to here */
	GPtrArray *done;            /* char*: the actions run, for a failure report */
	guint ran[ACT_N];
	guint skipped[ACT_N];
	guint strangers_by_kind[STR_N];
	GList *strangers;           /* Stranger* */
	GPtrArray *bad_errors;      /* char*: errors shown that should not have been */
	guint benign_errors;
	guint stranger_errors;      /* shown in strangers' conversations */
	GPtrArray *failures;        /* char*: other failed checks */
	const char *selftest;
	gboolean selftest_done;
	guint selftest_held;        /* "swap": #3 held back until #4 */
} Chaos;

static Chaos *chaos;            /* the one run, for the loop callbacks */

static gint64
now_ms(void)
{
	return g_get_monotonic_time() / 1000;
}

static gint64
rel_ms(void)
{
	return now_ms() - chaos->start_ms;
}

static void G_GNUC_PRINTF(1, 2)
failure(const char *fmt, ...)
{
	va_list ap;
	char *what;

	va_start(ap, fmt);
	what = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_test_message("FAILED: %s", what);
	g_ptr_array_add(chaos->failures, what);
}

static Acct *
acct_by_label(char label)
{
	guint i;

	for (i = 0; i < chaos->n_accts; i++)
		if (chaos->accts[i].label == label)
			return &chaos->accts[i];
	return NULL;
}

static Acct *
acct_by_name(const char *name)
{
	guint i;

	for (i = 0; name != NULL && i < chaos->n_accts; i++)
		if (strcmp(chaos->accts[i].name, name) == 0)
			return &chaos->accts[i];
	return NULL;
}

static Stream *
stream_by_labels(char from, char to)
{
	guint i;

	for (i = 0; i < chaos->n_streams; i++)
		if (chaos->streams[i]->from == from && chaos->streams[i]->to == to)
			return chaos->streams[i];
	return NULL;
}

/* The pair a stream belongs to, and which direction it is. */
static Pair *
pair_of_stream(const Stream *st, int *dir)
{
	guint i;

	for (i = 0; i < chaos->n_pairs; i++) {
		Pair *p = &chaos->pairs[i];

		if (st == &p->st[0] || st == &p->st[1]) {
			if (dir != NULL)
				*dir = st == &p->st[0] ? 0 : 1;
			return p;
		}
	}
	return NULL;
}

static gboolean
is_pair_buddy(const Acct *a, const char *who)
{
	guint i;

	for (i = 0; who != NULL && i < chaos->n_pairs; i++) {
		const Pair *p = &chaos->pairs[i];

		if ((p->x == a && strcmp(p->y_at_x, who) == 0) ||
		    (p->y == a && strcmp(p->x_at_y, who) == 0))
			return TRUE;
	}
	return FALSE;
}

/* ---- reading the log: what was shown, reported, said --------------------- */

/* "[A>B 12]..." */
static gboolean
parse_tag(const char *text, char *from, char *to, guint *n)
{
	return text != NULL && sscanf(text, "[%c>%c %u]", from, to, n) == 3;
}

/* Errors that chaos makes happen to honest peers. */
static gboolean
benign_error(const char *text)
{
	static const char *benign[] = {
		"refusing connections",              /* ERROR 4: backoff, PBKDF2 busy */
		"no secure session",                 /* /rekey with no session */
		"already under way",                 /* /rekey during one */
		"could not be set up in time",       /* a stalled or slow handshake */
	};
	guint i;

	for (i = 0; i < G_N_ELEMENTS(benign); i++)
		if (strstr(text, benign[i]) != NULL)
			return TRUE;
	return FALSE;
}

static void
ledger_message(const HostEvent *ev)
{
	Acct *at = acct_by_name(ev->account);
	char from, to;
	guint n;
	Stream *st;
	const char *q;

	if (at == NULL || ev->text == NULL)
		return;
	if (ev->flags & PURPLE_MESSAGE_RECV) {
		st = parse_tag(ev->text, &from, &to, &n) ? stream_by_labels(from, to) : NULL;
		if (st == NULL) {
			if (is_pair_buddy(at, ev->peer))
				failure("%c shows a message nobody sent, from %s: \"%.60s\"", at->label,
				        ev->peer, ev->text);
			return;
		}
		if (st->to != at->label) {
			failure("%c shows %s's message #%u", at->label, st->label, n);
			return;
		}
		/* CHAOS_SELFTEST: misread the first stream's #3 as a broken
		 * plugin would have shown it: not at all, twice, after #4, or
		 * altered */
		if (chaos->selftest != NULL && st == chaos->streams[0] && n == 3 &&
		    !chaos->selftest_done) {
			chaos->selftest_done = TRUE;
			if (strcmp(chaos->selftest, "drop") == 0)
				return;
			if (strcmp(chaos->selftest, "dup") == 0)
				stream_add_shown(st, n, ev->seq);
			if (strcmp(chaos->selftest, "swap") == 0) {
				chaos->selftest_held = ev->seq;
				return;
			}
			if (strcmp(chaos->selftest, "alter") == 0) {
				Mark m = { n, ev->seq };

				g_array_append_val(st->altered, m);
			}
		}
		stream_add_shown(st, n, ev->seq);
		if (chaos->selftest_held != 0 && st == chaos->streams[0] && n == 4) {
			stream_add_shown(st, 3, ev->seq);
			chaos->selftest_held = 0;
		}
		if (n >= 1 && n <= stream_sent(st) &&
		    strcmp(ev->text, g_ptr_array_index(st->texts, n - 1)) != 0) {
			Mark m = { n, ev->seq };

			g_array_append_val(st->altered, m);
		}
		{
			int dir;
			Pair *p = pair_of_stream(st, &dir);
			const char *want = dir == 0 ? p->x_at_y : p->y_at_x;

			if (g_strcmp0(ev->peer, want) != 0) {
				Mark m = { n, ev->seq };

				g_array_append_val(st->wrong_conv, m);
			}
		}
		return;
	}
	if (!(ev->flags & PURPLE_MESSAGE_ERROR))
		return;
	/* "Message to X not delivered: "..."" (native give-up), "Message to X
	 * could not be sent: "..."" (classic) */
	q = strstr(ev->text, "not delivered: \"");
	if (q == NULL)
		q = strstr(ev->text, "could not be sent: \"");
	if (q != NULL && parse_tag(strchr(q, '"') + 1, &from, &to, &n) &&
	    (st = stream_by_labels(from, to)) != NULL && st->from == at->label) {
		stream_add_reported(st, n, ev->seq);
		return;
	}
	if (!is_pair_buddy(at, ev->peer)) {
		chaos->stranger_errors++;
		return;
	}
	if (benign_error(ev->text)) {
		chaos->benign_errors++;
		return;
	}
	g_ptr_array_add(chaos->bad_errors,
	                g_strdup_printf("log %u, +%" G_GINT64_FORMAT " ms, %c about %s: %s",
	                                ev->seq, ev->time_ms - chaos->start_ms, at->label,
	                                ev->peer, ev->text));
}

/* Read the log written since the last call. */
static void
ledger_update(void)
{
	guint end = host_mark(), i;
	GPtrArray *all;

	if (chaos->cursor >= end)
		return;
	all = host_find_all(chaos->cursor, HOST_EV_MESSAGE, NULL, NULL, 0, NULL);
	for (i = 0; i < all->len; i++)
		ledger_message(g_ptr_array_index(all, i));
	g_ptr_array_unref(all);
	all = host_find_all(chaos->cursor, HOST_EV_CONN_ERROR, NULL, NULL, 0, NULL);
	for (i = 0; i < all->len; i++) {
		const HostEvent *ev = g_ptr_array_index(all, i);

		failure("account %s: connection error: %s", ev->account, ev->text);
	}
	g_ptr_array_unref(all);
	chaos->cursor = end;
}

/* ---- strangers -------------------------------------------------------------- */

typedef struct {
	StrangerKind kind;
	Acct *target;
	char *src;
	RawConn *c;
	RawSession s;
	gboolean s_live;
	gboolean finish;            /* wrong passphrase: on HS2, send HS3 (else hang) */
	gint64 close_at;            /* monotonic ms */
} Stranger;

static void
stranger_free(Stranger *s)
{
	if (s->s_live)
		raw_session_clear(&s->s);
	raw_close(s->c);
	g_free(s->src);
	g_free(s);
}

/* A stranger's salts: mostly a few (the victim caches their PRS), now and
 * then a fresh one (PBKDF2 for the victim) */
static void
stranger_salt(guint32 arg, uint8_t salt[PARLEY_SALT_LEN])
{
	GRand *r = g_rand_new_with_seed(arg % 5 == 0 ? arg : arg % 3);
	guint i;

	for (i = 0; i < PARLEY_SALT_LEN; i++)
		salt[i] = (uint8_t) g_rand_int(r);
	g_rand_free(r);
}

static void
stranger_start(const Action *a, Acct *target)
{
	Stranger *s = g_new0(Stranger, 1);
	GRand *r = g_rand_new_with_seed(a->arg);
	uint8_t salt[PARLEY_SALT_LEN], prs[PARLEY_PRS_LEN], buf[512];
	GByteArray *p, *f;
	guint i, len;

	s->kind = (StrangerKind) a->n;
	s->target = target;
	s->finish = (a->arg & 1) != 0;
	/* mostly a fresh source; some from two that come back (the backoff) */
	if (g_rand_int_range(r, 0, 10) < 3)
		s->src = g_strdup_printf("127.0.9.%d", g_rand_int_range(r, 1, 3));
	else
		s->src = g_strdup_printf("127.0.%d.%d", g_rand_int_range(r, 10, 250),
		                         g_rand_int_range(r, 1, 255));
	s->close_at = now_ms() + a->hold_ms;
	s->c = raw_connect(s->src, (guint16) purple_account_get_int(target->acct, "port", 0));
	if (s->c == NULL) {
		g_rand_free(r);
		stranger_free(s);
		return;
	}
	chaos->strangers_by_kind[s->kind]++;
	stranger_salt(a->arg, salt);
	switch (s->kind) {
	case STR_WRONG_PASS:
		/* any PRS but the right one is a wrong passphrase */
		for (i = 0; i < PARLEY_PRS_LEN; i++)
			prs[i] = (uint8_t) g_rand_int(r);
		raw_session_init(&s->s, s->c);
		s->s_live = TRUE;
		raw_session_send_hs1(&s->s, "stranger", 0, salt, PARLEY_MIN_ITERATIONS, prs);
		break;
	case STR_GARBAGE:
		len = (guint) g_rand_int_range(r, 1, sizeof(buf));
		for (i = 0; i < len; i++)
			buf[i] = (uint8_t) g_rand_int(r);
		raw_send(s->c, buf, len);
		break;
	case STR_SILENT:
		break;
	case STR_BAD_HEADER:
		raw_send(s->c, g_rand_boolean(r) ? "\0\0\0\0" : "\x7f\xff\xff\xff", 4);
		break;
	case STR_PARTIAL_HS1:
	case STR_BAD_VERSION:
		p = raw_hs1_payload(s->kind == STR_BAD_VERSION ? PARLEY_VERSION + 1 : PARLEY_VERSION,
		                    NULL, salt, PARLEY_MIN_ITERATIONS, 0, "stranger");
		f = raw_frame(p->data, p->len);
		raw_send(s->c, f->data, s->kind == STR_PARTIAL_HS1 ? f->len / 2 : f->len);
		g_byte_array_unref(p);
		g_byte_array_unref(f);
		break;
	case STR_N:
		break;
	}
	g_rand_free(r);
	chaos->strangers = g_list_prepend(chaos->strangers, s);
}

/* Advance one stranger; TRUE when it is done (closed). */
static gboolean
stranger_pump(Stranger *s)
{
	GByteArray *f;

	if (now_ms() >= s->close_at || s->c->eof)
		return TRUE;
	if (s->kind != STR_WRONG_PASS || !s->s_live || s->s.hs2 != NULL)
		return FALSE;
	f = raw_take_frame(s->c);
	if (f == NULL)
		return FALSE;
	if (f->len > 6 && memcmp(f->data, PARLEY_MAGIC, PARLEY_MAGIC_LEN) == 0 &&
	    f->data[4] == PARLEY_VERSION && f->data[5] == 0x02) {
		s->s.hs2 = f;
		/* HS3 with a Ta the victim cannot verify (it answers ERROR 3
		 * at once), or nothing: both count as a failed guess (§9) */
		if (s->finish && raw_session_finish(&s->s) == PARLEY_ERR_NONE)
			failure("a stranger with a wrong passphrase got into %c", s->target->label);
		return FALSE;           /* hangs on until close_at */
	}
	g_byte_array_unref(f);
	return TRUE;                /* ERROR 4 and the like: gone */
}

static void
strangers_pump(void)
{
	GList *l, *next;

	for (l = chaos->strangers; l != NULL; l = next) {
		next = l->next;
		if (stranger_pump(l->data)) {
			stranger_free(l->data);
			chaos->strangers = g_list_delete_link(chaos->strangers, l);
		}
	}
}

static void
strangers_close_all(void)
{
	g_list_free_full(chaos->strangers, (GDestroyNotify) stranger_free);
	chaos->strangers = NULL;
}

/* ---- drawing the script ----------------------------------------------------- */

static gboolean
without(const char *kinds, const char *kind)
{
	char **v;
	gboolean found = FALSE;
	guint i;

	if (kinds == NULL)
		return FALSE;
	v = g_strsplit(kinds, ",", -1);
	for (i = 0; v[i] != NULL; i++)
		if (strcmp(g_strstrip(v[i]), kind) == 0)
			found = TRUE;
	g_strfreev(v);
	return found;
}

static gint
by_time(gconstpointer a, gconstpointer b)
{
	const Action *x = a, *y = b;

	return x->at < y->at ? -1 : x->at > y->at;
}

/* The pairs with a proxy in them. */
static int
draw_proxied_pair(GRand *r)
{
	int idx[MAX_PAIRS];
	guint i, n = 0;

	for (i = 0; i < chaos->n_pairs; i++)
		if (chaos->pairs[i].proxy != NULL)
			idx[n++] = (int) i;
	return n > 0 ? idx[g_rand_int_range(r, 0, (gint32) n)] : -1;
}

static int
draw_listener(GRand *r)
{
	int idx[MAX_ACCTS];
	guint i, n = 0;

	for (i = 0; i < chaos->n_accts; i++)
		if (chaos->accts[i].listens)
			idx[n++] = (int) i;
	return idx[g_rand_int_range(r, 0, (gint32) n)];
}

/* Draw the whole script from the seed, in time order: actions and the
 * follow-ups they schedule (a sign-on after a sign-off, the end of a
 * stall).  Which actions make sense is decided when they run. */
static void
draw_script(void)
{
	GRand *r = g_rand_new_with_seed(chaos->seed);
	gint64 t = 0, dur = (gint64) chaos->seconds * 1000;
	gint64 off_until[MAX_ACCTS] = { 0 };
	GArray *script = g_array_new(FALSE, FALSE, sizeof(Action));
	const char *wo = g_getenv("CHAOS_WITHOUT");
	GArray *kept;
	guint i;

	for (;;) {
		Action a = { 0 }, b = { 0 };
		gint32 w;

		/* one event every 70 ms on average */
		t += g_rand_int_range(r, 1, 140);
		if (t >= dur)
			break;
		a.at = t;
		a.arg = g_rand_int(r);
		if (g_rand_int_range(r, 0, 100) < 75) {
			a.type = ACT_MSG;
			a.pair = g_rand_int_range(r, 0, (gint32) chaos->n_streams);
			a.n = 1;
			g_array_append_val(script, a);
			continue;
		}
		w = g_rand_int_range(r, 0, 100);
		a.pair = g_rand_int_range(r, 0, (gint32) chaos->n_pairs);
		a.side = g_rand_int_range(r, 0, 2);
		if (w < 10) {
			a.type = ACT_REKEY;
		} else if (w < 16) {
			a.type = ACT_REKEY2;
		} else if (w < 22) {
			a.type = ACT_RECONNECT;
		} else if (w < 29) {
			a.type = ACT_DIAL2;
		} else if (w < 38) {
			a.type = ACT_CUT;
			a.pair = draw_proxied_pair(r);
		} else if (w < 43) {
			a.type = ACT_STALL;
			a.pair = draw_proxied_pair(r);
			a.n = (guint) g_rand_int_range(r, 1, 4);       /* FaultProxyDir */
			a.hold_ms = (guint) g_rand_int_range(r, 50, 3000);
			b = a;
			b.type = ACT_UNSTALL;
			b.at = t + a.hold_ms;
			b.n = g_rand_boolean(r);                        /* then cut */
		} else if (w < 46) {
			a.type = ACT_ROUTE_DOWN;
			a.pair = draw_proxied_pair(r);
			a.hold_ms = (guint) g_rand_int_range(r, 100, 4000);
			b = a;
			b.type = ACT_ROUTE_UP;
			b.at = t + a.hold_ms;
		} else if (w < 53) {
			gint32 len = g_rand_int_range(r, 0, 100);
			int k = g_rand_int_range(r, 0, (gint32) chaos->n_accts);

			if (t < off_until[k])
				continue;       /* still off: draw on */
			a.type = ACT_SIGN_OFF;
			a.pair = k;
			/* mostly short; now and then longer than the give-up time */
			a.hold_ms = (guint) (len < 70 ? g_rand_int_range(r, 200, 3000)
			                     : len < 95 ? g_rand_int_range(r, 3000, 8000)
			                     : g_rand_int_range(r, 16000, 20000));
			b = a;
			b.type = ACT_SIGN_ON;
			b.at = t + a.hold_ms;
			off_until[k] = b.at + 100;
		} else if (w < 78) {
			gint32 k = g_rand_int_range(r, 0, 100);

			a.type = ACT_STRANGER;
			a.pair = draw_listener(r);
			a.n = k < 40 ? STR_WRONG_PASS : k < 65 ? STR_GARBAGE : k < 75 ? STR_SILENT
			      : k < 85 ? STR_BAD_HEADER : k < 95 ? STR_PARTIAL_HS1 : STR_BAD_VERSION;
			a.hold_ms = (guint) g_rand_int_range(r, 50, 6000);
		} else if (w < 82) {
			a.type = ACT_TYPING;
		} else if (w < 94) {
			a.type = ACT_COMBO;
			a.n = (guint) g_rand_int_range(r, 2, 5);
		} else {
			a.type = ACT_BURST;
			a.pair = g_rand_int_range(r, 0, (gint32) chaos->n_streams);
			a.n = (guint) g_rand_int_range(r, 20, 150);
		}
		g_array_append_val(script, a);
		if (b.at != 0)
			g_array_append_val(script, b);
	}
	g_rand_free(r);

	/* CHAOS_WITHOUT: the same script with some kinds left out */
	kept = g_array_new(FALSE, FALSE, sizeof(Action));
	for (i = 0; i < script->len; i++) {
		Action *a = &g_array_index(script, Action, i);
		gboolean classic;

		if (a->type == ACT_MSG || a->type == ACT_BURST)
			classic = chaos->streams[a->pair]->classic;
		else if (a->type == ACT_SIGN_OFF || a->type == ACT_SIGN_ON ||
		         a->type == ACT_STRANGER)
			classic = chaos->accts[a->pair].classic;
		else
			classic = chaos->pairs[a->pair].classic;
		if (without(wo, act_kind[a->type]) || without(wo, classic ? "classic" : "native"))
			continue;
		g_array_append_val(kept, *a);
	}
	g_array_unref(script);
	g_array_sort(kept, by_time);
	chaos->script = kept;
}

/* ---- running it -------------------------------------------------------------- */

static const char *fillers[] = {
	"",
	"hello",
	"the quick brown fox jumps over the lazy dog",
	"ünïcödé — Ελληνικά, 日本語, 🙂",
	"two\nlines",
	"<b>not bold</b> & \"quoted\" 'single'",
	"a longer one: lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do "
	"eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam",
};

static void G_GNUC_PRINTF(1, 2)
record(const char *fmt, ...)
{
	va_list ap;
	char *what, *line;

	va_start(ap, fmt);
	what = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	line = g_strdup_printf("+%" G_GINT64_FORMAT " ms (log %u): %s", rel_ms(), host_mark(),
	                       what);
	if (chaos->verbose)
		g_test_message("%s", line);
	g_ptr_array_add(chaos->done, line);
	g_free(what);
}

static Acct *
stream_sender(const Stream *st)
{
	return acct_by_label(st->from);
}

static const char *
stream_buddy(const Stream *st)
{
	int dir;
	Pair *p = pair_of_stream(st, &dir);

	return dir == 0 ? p->y_at_x : p->x_at_y;
}

static void
send_one(Stream *st, guint32 arg)
{
	Acct *from = stream_sender(st);
	guint n = stream_sent(st) + 1;
	const char *fill = fillers[arg % G_N_ELEMENTS(fillers)];
	char *text = g_strdup_printf("[%s %u]%s%s", st->label, n, *fill ? " " : "", fill);
	guint seq = host_mark();

	stream_add_sent(st, text, seq, now_ms());
	host_send_im(from->acct, stream_buddy(st), text);
}

static void
disrupt(Pair *p)
{
	When w = { host_mark(), now_ms() };

	g_array_append_val(p->disrupts, w);
}

/* One end of a pair closes its connection (reconnects). */
static void
closed_by(Pair *p, int side)
{
	When w = { host_mark(), now_ms() };

	g_array_append_val(p->closes[side], w);
}

static void
act_sign_off(Acct *a)
{
	When w;

	host_sign_off(a->acct);
	a->on = FALSE;
	w.seq = host_mark();
	w.ms = now_ms();
	g_array_append_val(a->signoffs, w);
}

static gboolean
act_sign_on(Acct *a)
{
	gboolean ok = host_sign_on(a->acct, T_SESSION);
	When w = { host_mark(), now_ms() };
	guint i;

	a->on = TRUE;
	g_array_append_val(a->signons, w);
	if (!ok) {
		failure("%c did not sign on again", a->label);
		return FALSE;
	}
	/* the user's windows: libpurple keeps them, open them anyway */
	for (i = 0; i < chaos->n_pairs; i++) {
		Pair *p = &chaos->pairs[i];

		if (p->x == a)
			host_conv(a->acct, p->y_at_x);
		if (p->y == a)
			host_conv(a->acct, p->x_at_y);
	}
	return TRUE;
}

static void run_action(const Action *a);

/* A few things on one pair in one turn of the loop, so that they cross
 * on the wire: a message, a rekey, a reconnect, typing, a cut. */
static void
run_combo(const Action *a, Pair *p)
{
	GRand *r = g_rand_new_with_seed(a->arg);
	GString *what = g_string_new(NULL);
	guint i;

	for (i = 0; i < a->n; i++) {
		Action sub = *a;
		gint32 k = g_rand_int_range(r, 0, 5);

		sub.side = g_rand_int_range(r, 0, 2);
		sub.arg = g_rand_int(r);
		sub.n = 1;
		switch (k) {
		case 0:
			sub.type = ACT_MSG;
			sub.pair = (int) (2 * (p - chaos->pairs) + sub.side);
			break;
		case 1:
			sub.type = ACT_REKEY;
			break;
		case 2:
			sub.type = ACT_RECONNECT;
			break;
		case 3:
			sub.type = ACT_TYPING;
			break;
		default:
			sub.type = p->proxy != NULL ? ACT_CUT : ACT_MSG;
			if (sub.type == ACT_MSG)
				sub.pair = (int) (2 * (p - chaos->pairs) + sub.side);
			break;
		}
		g_string_append_printf(what, "%s%s by %c", i > 0 ? ", " : "", act_names[sub.type],
		                       (sub.side == 0 ? p->x : p->y)->label);
		run_action(&sub);
	}
	record("%s: at once: %s", p->label, what->str);
	g_string_free(what, TRUE);
	g_rand_free(r);
}

static void
run_action(const Action *a)
{
	Pair *p = NULL;
	Acct *me = NULL, *other = NULL;
	const char *buddy = NULL, *obuddy = NULL;
	Stream *st = NULL;
	guint i;
	gboolean ran = TRUE;

	if (a->type == ACT_MSG || a->type == ACT_BURST) {
		st = chaos->streams[a->pair];
		me = stream_sender(st);
	} else if (a->type == ACT_SIGN_OFF || a->type == ACT_SIGN_ON || a->type == ACT_STRANGER) {
		me = &chaos->accts[a->pair];
	} else {
		p = &chaos->pairs[a->pair];
		me = a->side == 0 ? p->x : p->y;
		other = a->side == 0 ? p->y : p->x;
		buddy = a->side == 0 ? p->y_at_x : p->x_at_y;
		obuddy = a->side == 0 ? p->x_at_y : p->y_at_x;
	}

	switch (a->type) {
	case ACT_MSG:
	case ACT_BURST:
		if (!me->on) {
			ran = FALSE;
			break;
		}
		for (i = 0; i < a->n; i++)
			send_one(st, a->arg + i);
		if (a->type == ACT_BURST)
			record("%s: a burst of %u messages (to #%u)", st->label, a->n, stream_sent(st));
		break;
	case ACT_REKEY:
		if (!me->on) {
			ran = FALSE;
			break;
		}
		if (a->arg & 1)
			host_command(me->acct, buddy, "rekey", NULL);
		else
			host_menu_action(me->acct, buddy, "Rekey now");
		record("%s: %c asks for a rekey (%s)", p->label, me->label,
		       (a->arg & 1) ? "/rekey" : "menu");
		break;
	case ACT_REKEY2:
		if (!me->on || !other->on) {
			ran = FALSE;
			break;
		}
		/* in one turn of the loop: the two REKEYs cross */
		host_menu_action(me->acct, buddy, "Rekey now");
		host_menu_action(other->acct, obuddy, "Rekey now");
		record("%s: both ask for a rekey at once", p->label);
		break;
	case ACT_RECONNECT:
		if (!me->on) {
			ran = FALSE;
			break;
		}
		closed_by(p, a->side);
		host_menu_action(me->acct, buddy, "Reconnect");
		record("%s: %c reconnects", p->label, me->label);
		break;
	case ACT_DIAL2:
		if (!me->on || !other->on) {
			ran = FALSE;
			break;
		}
		/* in one turn of the loop: both connections cross */
		closed_by(p, 0);
		closed_by(p, 1);
		host_menu_action(me->acct, buddy, "Reconnect");
		host_menu_action(other->acct, obuddy, "Reconnect");
		record("%s: both reconnect at once", p->label);
		break;
	case ACT_CUT:
		i = (a->arg & 1) ? fault_proxy_reset_all(p->proxy) : fault_proxy_cut_all(p->proxy);
		disrupt(p);
		record("%s: cut %u connections (%s)", p->label, i, (a->arg & 1) ? "RST" : "FIN");
		break;
	case ACT_STALL:
		fault_proxy_set_stall(p->proxy, (FaultProxyDir) a->n, TRUE);
		record("%s: stall %s for %u ms, then %s", p->label,
		       a->n == FAULT_PROXY_UP ? "up" :
		       a->n == FAULT_PROXY_DOWN ? "down" : "both ways",
		       a->hold_ms, (a->arg & 1) ? "cut" : "resume");
		break;
	case ACT_UNSTALL:
		if (a->n) {
			i = fault_proxy_cut_all(p->proxy);
			disrupt(p);
			record("%s: the stalled link dies (%u connections)", p->label, i);
		} else {
			record("%s: the link resumes", p->label);
		}
		fault_proxy_set_stall(p->proxy, FAULT_PROXY_BOTH, FALSE);
		break;
	case ACT_ROUTE_DOWN:
		fault_proxy_set_listening(p->proxy, FALSE);
		i = fault_proxy_cut_all(p->proxy);
		disrupt(p);
		record("%s: the route goes down for %u ms (%u connections cut)", p->label,
		       a->hold_ms, i);
		break;
	case ACT_ROUTE_UP:
		if (!fault_proxy_set_listening(p->proxy, TRUE))
			g_test_message("%s: the proxy cannot listen again yet", p->label);
		record("%s: the route is back", p->label);
		break;
	case ACT_SIGN_OFF:
		if (!me->on) {
			ran = FALSE;
			break;
		}
		act_sign_off(me);
		record("%c signs off for %u ms", me->label, a->hold_ms);
		break;
	case ACT_SIGN_ON:
		if (me->on) {
			ran = FALSE;
			break;
		}
		act_sign_on(me);
		record("%c signs on", me->label);
		break;
	case ACT_STRANGER:
		if (!me->on) {
			ran = FALSE;
			break;
		}
		stranger_start(a, me);
		record("a stranger at %c: %s, for %u ms", me->label, stranger_names[a->n],
		       a->hold_ms);
		break;
	case ACT_TYPING:
		if (!me->on) {
			ran = FALSE;
			break;
		}
		host_typing(me->acct, buddy, a->arg % 3 == 0 ? PURPLE_TYPING :
		            a->arg % 3 == 1 ? PURPLE_TYPED : PURPLE_NOT_TYPING);
		break;
	case ACT_COMBO:
		run_combo(a, p);
		break;
	case ACT_N:
		break;
	}
	if (ran)
		chaos->ran[a->type]++;
	else
		chaos->skipped[a->type]++;
}

typedef struct {
	gint64 until_rel;
} Tick;

static gboolean
tick_due(gpointer data)
{
	Tick *t = data;

	strangers_pump();
	return rel_ms() >= t->until_rel;
}

static void
run_script(void)
{
	gint64 dur = (gint64) chaos->seconds * 1000;

	chaos->start_ms = now_ms();
	chaos->chaos_mark = host_mark();
	for (;;) {
		Tick t;

		while (chaos->next < chaos->script->len) {
			const Action *a = &g_array_index(chaos->script, Action, chaos->next);

			if (a->at > rel_ms() || a->at >= dur)
				break;
			chaos->next++;
			run_action(a);
		}
		if (rel_ms() >= dur)
			break;
		t.until_rel = chaos->next < chaos->script->len ?
		              g_array_index(chaos->script, Action, chaos->next).at : dur;
		t.until_rel = MIN(t.until_rel, dur);
		host_run_until(tick_due, &t, (guint) MAX(1, t.until_rel - rel_ms()));
		/* read the log as it grows: each event once */
		ledger_update();
	}
	chaos->end_ms = now_ms();
}

/* ---- healing and the final checks ------------------------------------------ */

static gboolean
pair_online(const Pair *p)
{
	return host_buddy_online(p->x->acct, p->y_at_x) && host_buddy_online(p->y->acct, p->x_at_y);
}

static gboolean outboxes_empty(gpointer data);

/* Every native message shown or reported, every native pair online.  Or,
 * if some message went missing, no use waiting: every pair online and
 * nothing waiting for delivery (looked at once a second). */
static gboolean
native_healed(gpointer data)
{
	static gint64 looked;
	guint i;
	gboolean all = TRUE;

	ledger_update();
	for (i = 0; i < chaos->n_pairs; i++)
		if (!chaos->pairs[i].classic && !pair_online(&chaos->pairs[i]))
			return FALSE;
	for (i = 0; i < chaos->n_streams; i++) {
		const Stream *st = chaos->streams[i];

		if (!st->classic && st->accounted < stream_sent(st))
			all = FALSE;
	}
	if (all)
		return TRUE;
	if (now_ms() - looked < 1000)
		return FALSE;
	looked = now_ms();
	if (host_kdf_busy() == 0 && outboxes_empty(GINT_TO_POINTER(1))) {
		/* what was on the wire has been read by now */
		host_run_for(500);
		ledger_update();
		return TRUE;
	}
	return FALSE;
}

/* Nothing waits for delivery at either end of any pair (data != NULL:
 * of any native pair). */
static gboolean
outboxes_empty(gpointer data)
{
	guint i;
	gboolean empty = TRUE;

	for (i = 0; i < chaos->n_pairs && empty; i++) {
		Pair *p = &chaos->pairs[i];
		char *dx, *dy;

		if (data != NULL && p->classic)
			continue;
		dx = host_session_details(p->x->acct, p->y_at_x);
		dy = host_session_details(p->y->acct, p->x_at_y);
		empty = dx != NULL && dy != NULL && strstr(dx, "waiting for delivery") == NULL &&
		        strstr(dy, "waiting for delivery") == NULL;
		g_free(dx);
		g_free(dy);
	}
	return empty;
}

typedef struct {
	Stream *st;
	guint n;
} ShownWait;

static gboolean
shown_done(gpointer data)
{
	ShownWait *w = data;

	ledger_update();
	return w->n <= w->st->state->len && (w->st->state->data[w->n - 1] & 1);
}

/* One more message through: sent now, shown within timeout_ms. */
static gboolean
final_message(Stream *st, guint timeout_ms)
{
	ShownWait w = { st, 0 };

	send_one(st, 1);
	w.n = stream_sent(st);
	if (!host_run_until(shown_done, &w, timeout_ms)) {
		failure("%s: the last message (#%u) did not get through after the chaos",
		        st->label, w.n);
		return FALSE;
	}
	return TRUE;
}

static void
stream_summary(const Stream *st)
{
	guint i, shown = 0, reported = 0;

	for (i = 0; i < st->state->len; i++) {
		shown += (st->state->data[i] & 1) != 0;
		reported += (st->state->data[i] & 2) != 0;
	}
	g_test_message("%s%s: %u sent, %u shown, %u reported as not sent, %u showings",
	               st->label, st->classic ? " (classic)" : "", stream_sent(st), shown,
	               reported, st->shown->len);
}

static gboolean
tick_cb(gpointer data)
{
	return G_SOURCE_CONTINUE;
}

static void
heal(void)
{
	guint i, tick;
	gboolean ok;

	strangers_close_all();
	for (i = 0; i < chaos->n_pairs; i++) {
		Pair *p = &chaos->pairs[i];

		if (p->proxy == NULL)
			continue;
		fault_proxy_set_stall(p->proxy, FAULT_PROXY_BOTH, FALSE);
		if (!fault_proxy_set_listening(p->proxy, TRUE))
			failure("%s: the proxy cannot listen again (its port was taken)", p->label);
	}
	for (i = 0; i < chaos->n_accts; i++)
		if (!chaos->accts[i].on)
			act_sign_on(&chaos->accts[i]);
	record("the network heals; everyone is signed on");
	/* native_healed looks at the outboxes now and then, whether or not
	 * the plugin does anything */
	tick = g_timeout_add(100, tick_cb, NULL);
	ok = host_run_until(native_healed, NULL, T_HEAL);
	g_source_remove(tick);
	if (!ok) {
		for (i = 0; i < chaos->n_pairs; i++)
			if (!chaos->pairs[i].classic && !pair_online(&chaos->pairs[i]))
				failure("%s: not online again %u s after the chaos", chaos->pairs[i].label,
				        T_HEAL / 1000);
		/* the streams' verdict says which messages are missing */
	}
	record("healed");
}

static void
final_checks(void)
{
	guint i, want = 0;

	/* one more message each way, native pairs first; classic ends one at a
	 * time (two at once would dial each other) */
	for (i = 0; i < chaos->n_streams; i++)
		if (!chaos->streams[i]->classic)
			final_message(chaos->streams[i], T_MESSAGE);
	for (i = 0; i < chaos->n_streams; i++)
		if (chaos->streams[i]->classic)
			final_message(chaos->streams[i], T_CLASSIC);
	record("the last messages went through");
	if (!host_run_until(outboxes_empty, NULL, T_MESSAGE))
		failure("messages still wait for delivery after the chaos");

	/* one connection per pair (its two ends), nothing deriving */
	for (i = 0; i < chaos->n_pairs; i++)
		want += 2;
	if (!host_wait_settled(want, T_MESSAGE))
		failure("the plugin holds %u connections and %u PBKDF2 jobs, not %u and 0",
		        host_live_conns(), host_kdf_busy(), want);
	/* both ends of each native pair talk about the same session */
	for (i = 0; i < chaos->n_pairs; i++) {
		Pair *p = &chaos->pairs[i];
		char *dx, *dy, *cx, *cy;

		if (p->classic)
			continue;
		dx = host_session_details(p->x->acct, p->y_at_x);
		dy = host_session_details(p->y->acct, p->x_at_y);
		cx = host_find_code(dx);
		cy = host_find_code(dy);
		if (cx == NULL || g_strcmp0(cx, cy) != 0)
			failure("%s: the ends show different sessions (codes %s and %s)", p->label,
			        cx != NULL ? cx : "none", cy != NULL ? cy : "none");
		g_free(dx);
		g_free(dy);
		g_free(cx);
		g_free(cy);
	}
	ledger_update();
}

/* ---- setting up -------------------------------------------------------------- */

/* A port on 127.0.0.1 that refuses connections while fd stays open. */
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

static Acct *
add_acct(char label, gboolean classic, gboolean listens)
{
	Acct *a = &chaos->accts[chaos->n_accts++];

	a->label = label;
	a->name = g_strdup_printf("chaos-%c", label);
	a->classic = classic;
	a->listens = listens;
	a->acct = host_account_new(a->name, classic ? CLASSIC_PASSPHRASE : PASSPHRASE, 0);
	if (classic)
		purple_account_set_string(a->acct, "protocol", "classic");
	if (!listens)
		purple_account_set_bool(a->acct, "listen", FALSE);
	a->signons = g_array_new(FALSE, FALSE, sizeof(When));
	a->signoffs = g_array_new(FALSE, FALSE, sizeof(When));
	return a;
}

static char *
addr_of(const Acct *a, gboolean ipv6)
{
	return host_account_address(a->acct, ipv6);
}

/* x and y; via_proxy: y reaches x through a proxy (and x reaches y
 * directly when y listens, else at a refusing port). */
static Pair *
add_pair(Acct *x, Acct *y, gboolean via_proxy, gboolean ipv6)
{
	Pair *p = &chaos->pairs[chaos->n_pairs++];
	GError *error = NULL;
	int k;

	p->x = x;
	p->y = y;
	p->classic = x->classic;
	g_snprintf(p->label, sizeof(p->label), "%c-%c", x->label, y->label);
	p->disrupts = g_array_new(FALSE, FALSE, sizeof(When));
	p->closes[0] = g_array_new(FALSE, FALSE, sizeof(When));
	p->closes[1] = g_array_new(FALSE, FALSE, sizeof(When));
	if (!via_proxy) {
		p->y_at_x = addr_of(y, ipv6);
		p->x_at_y = addr_of(x, ipv6);
	} else {
		p->proxy = fault_proxy_new(host_account_port(x->acct), &error);
		g_assert_no_error(error);
		p->x_at_y = fault_proxy_address(p->proxy);
		if (y->listens) {
			p->y_at_x = addr_of(y, FALSE);
		} else {
			int *fd = &chaos->dead_fd[chaos->n_dead++];

			p->y_at_x = g_strdup_printf("127.0.0.1:%u", dead_port(fd));
		}
	}
	host_add_buddy(x->acct, p->y_at_x);
	host_add_buddy(y->acct, p->x_at_y);
	for (k = 0; k < 2; k++) {
		Stream *st = &p->st[k];

		stream_init(st, k == 0 ? x->label : y->label, k == 0 ? y->label : x->label,
		            p->classic);
		st->rx_signons = (k == 0 ? y : x)->signons;
		st->rx_signoffs = (k == 0 ? y : x)->signoffs;
		st->tx_signoffs = (k == 0 ? x : y)->signoffs;
		st->disrupts = p->disrupts;
		st->rx_closes = p->closes[1 - k];
		chaos->streams[chaos->n_streams++] = st;
	}
	return p;
}

static gboolean
pair_online_cb(gpointer data)
{
	return pair_online(data);
}

static gboolean
setup(void)
{
	gboolean ipv6 = host_have_ipv6();
	Acct *a, *b, *c, *d, *e, *k, *l;
	guint i, native_pairs = 0;

	/* An account matches a caller that announces no listen port by its
	 * address alone, and only when it knows no other peer there: all of
	 * them are on the loopback here, so the accounts C calls through a
	 * proxy know no one else. */
	a = add_acct('A', FALSE, TRUE);
	b = add_acct('B', FALSE, TRUE);
	add_pair(a, b, FALSE, ipv6);
	c = add_acct('C', FALSE, FALSE);
	d = add_acct('D', FALSE, TRUE);
	e = add_acct('E', FALSE, TRUE);
	add_pair(d, c, TRUE, FALSE);
	add_pair(e, c, TRUE, FALSE);
	k = add_acct('K', TRUE, TRUE);
	l = add_acct('L', TRUE, TRUE);
	add_pair(k, l, TRUE, FALSE);

	/* one pair at a time: on a busy machine the PBKDF2 of every first
	 * handshake at once keeps responders busy (ERROR 4) for long */
	for (i = 0; i < chaos->n_pairs; i++) {
		Pair *p = &chaos->pairs[i];
		Acct *ends[2] = { p->x, p->y };
		int j;

		for (j = 0; j < 2; j++) {
			if (ends[j]->on)
				continue;
			if (!host_sign_on(ends[j]->acct, T_SESSION)) {
				failure("%c did not sign on", ends[j]->label);
				return FALSE;
			}
			ends[j]->on = TRUE;
		}
		host_conv(p->x->acct, p->y_at_x);
		host_conv(p->y->acct, p->x_at_y);
		if (p->classic)
			continue;
		native_pairs++;
		if (!host_run_until(pair_online_cb, p, T_SETUP)) {
			failure("%s did not come online before the chaos (%c sees %s %s, %c sees %s "
			        "%s)", p->label, p->x->label, p->y_at_x,
			        host_buddy_online(p->x->acct, p->y_at_x) ? "online" : "offline",
			        p->y->label, p->x_at_y,
			        host_buddy_online(p->y->acct, p->x_at_y) ? "online" : "offline");
			return FALSE;
		}
	}
	/* the duplicate connections of the first meeting are gone */
	if (!host_wait_settled(2 * native_pairs, T_SETUP)) {
		failure("the plugin did not settle before the chaos");
		return FALSE;
	}
	return TRUE;
}

static void
teardown(void)
{
	guint i;

	strangers_close_all();
	for (i = 0; i < chaos->n_accts; i++)
		host_account_delete(chaos->accts[i].acct);
	host_run_for(100);
	/* nothing is left: no connection, no PBKDF2 job */
	if (!host_wait_settled(0, T_MESSAGE))
		failure("after the accounts were deleted the plugin holds %u connections and "
		        "%u PBKDF2 jobs", host_live_conns(), host_kdf_busy());
	for (i = 0; i < chaos->n_pairs; i++) {
		Pair *p = &chaos->pairs[i];

		fault_proxy_free(p->proxy);
		stream_clear(&p->st[0]);
		stream_clear(&p->st[1]);
		g_array_unref(p->disrupts);
		g_array_unref(p->closes[0]);
		g_array_unref(p->closes[1]);
		g_free(p->y_at_x);
		g_free(p->x_at_y);
	}
	for (i = 0; i < chaos->n_dead; i++)
		close(chaos->dead_fd[i]);
	for (i = 0; i < chaos->n_accts; i++) {
		g_free(chaos->accts[i].name);
		g_array_unref(chaos->accts[i].signons);
		g_array_unref(chaos->accts[i].signoffs);
	}
}

/* ---- /chaos/mix ---------------------------------------------------------------- */

static guint
env_uint(const char *name, guint dflt)
{
	const char *v = g_getenv(name);

	return v != NULL && *v != '\0' ? (guint) g_ascii_strtoull(v, NULL, 10) : dflt;
}

static gint
by_seq(gconstpointer a, gconstpointer b)
{
	const HostEvent *x = *(HostEvent * const *) a, *y = *(HostEvent * const *) b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* What the two ends of a stream's pair were shown from log position from
 * to to (messages, presence, errors). */
static void
dump_pair(const Stream *st, guint from, guint to)
{
	Pair *p = pair_of_stream(st, NULL);
	GPtrArray *all = g_ptr_array_new();
	static const HostEventType types[] = {
		HOST_EV_MESSAGE, HOST_EV_BUDDY_ON, HOST_EV_BUDDY_OFF, HOST_EV_SIGNED_ON,
		HOST_EV_SIGNED_OFF
	};
	guint i, k;

	for (k = 0; k < G_N_ELEMENTS(types); k++) {
		for (i = 0; i < 2; i++) {
			Acct *a = i == 0 ? p->x : p->y;
			const char *who = types[k] == HOST_EV_SIGNED_ON || types[k] == HOST_EV_SIGNED_OFF
			                  ? NULL : i == 0 ? p->y_at_x : p->x_at_y;
			GPtrArray *some = host_find_all(from, types[k], a->acct, who, 0, NULL);
			guint j;

			for (j = 0; j < some->len; j++)
				if (((HostEvent *) g_ptr_array_index(some, j))->seq <= to)
					g_ptr_array_add(all, g_ptr_array_index(some, j));
			g_ptr_array_unref(some);
		}
	}
	g_ptr_array_sort(all, by_seq);
	g_test_message("---- %s around log %u-%u ----", p->label, from, to);
	for (i = 0; i < all->len; i++) {
		const HostEvent *ev = g_ptr_array_index(all, i);
		const char *t = ev->text != NULL ? ev->text : "";
		const char *nl = strchr(t, '\n');

		g_test_message("[%u] +%" G_GINT64_FORMAT " ms %s %s flags=0x%x %.*s", ev->seq,
		               ev->time_ms - chaos->start_ms, ev->account,
		               host_event_type_name(ev->type), ev->flags,
		               nl != NULL ? (int) (nl - t) : 120, t);
	}
	g_ptr_array_unref(all);
}

static void
print_report(const Verdict *v, gboolean failed)
{
	guint i;
	int k;

	g_test_message("chaos: %u actions run or skipped; %u expected errors shown (busy, "
	               "timeout, no session), %u in strangers' conversations",
	               chaos->next, chaos->benign_errors, chaos->stranger_errors);
	for (k = 0; k < ACT_N; k++)
		if (chaos->ran[k] + chaos->skipped[k] > 0)
			g_test_message("  %-10s %4u run, %3u skipped", act_names[k], chaos->ran[k],
			               chaos->skipped[k]);
	for (k = 0; k < STR_N; k++)
		if (chaos->strangers_by_kind[k] > 0)
			g_test_message("  stranger: %-16s %u", stranger_names[k],
			               chaos->strangers_by_kind[k]);
	for (i = 0; i < chaos->n_pairs; i++)
		if (chaos->pairs[i].proxy != NULL)
			g_test_message("  proxy of %s: %u connections, %u cut", chaos->pairs[i].label,
			               fault_proxy_accepted(chaos->pairs[i].proxy),
			               fault_proxy_cut_count(chaos->pairs[i].proxy));
	for (i = 0; i < chaos->n_streams; i++)
		stream_summary(chaos->streams[i]);
	for (i = 0; i < v->notes->len; i++)
		g_test_message("allowed: %s", (char *) g_ptr_array_index(v->notes, i));
	if (!failed)
		return;
	g_test_message("---- what the chaos did (seed %u) ----", chaos->seed);
	for (i = 0; i < chaos->done->len; i++)
		g_test_message("%s", (char *) g_ptr_array_index(chaos->done, i));
	for (i = 0; i < v->spots->len; i++) {
		const Spot *sp = &g_array_index(v->spots, Spot, i);

		dump_pair(sp->st, sp->seq > chaos->chaos_mark + 20 ? sp->seq - 20 : chaos->chaos_mark,
		          sp->seq + 60);
	}
}

static void
test_mix(void)
{
	Chaos c = { 0 };
	Verdict v;
	const char *seed_env = g_getenv("CHAOS_SEED");
	guint i;
	gboolean failed;

	chaos = &c;
	c.seed = seed_env != NULL && *seed_env != '\0' ?
	         (guint32) g_ascii_strtoull(seed_env, NULL, 10) : g_random_int();
	c.seconds = env_uint("CHAOS_SECONDS", DEFAULT_SECONDS);
	c.verbose = env_uint("CHAOS_VERBOSE", 0) != 0;
	c.selftest = g_getenv("CHAOS_SELFTEST");
	allow_signoff_drop = env_uint("CHAOS_ALLOW_SIGNOFF_DROP", 0) != 0;
	c.done = g_ptr_array_new_with_free_func(g_free);
	c.bad_errors = g_ptr_array_new_with_free_func(g_free);
	c.failures = g_ptr_array_new_with_free_func(g_free);
	g_test_message("chaos seed %u, %u s (replay: CHAOS_SEED=%u CHAOS_SECONDS=%u)", c.seed,
	               c.seconds, c.seed, c.seconds);
	g_printerr("# chaos seed %u, %u s\n", c.seed, c.seconds);
	c.mark = host_mark();

	if (setup()) {
		c.cursor = host_mark();
		draw_script();
		g_test_message("the script: %u actions", c.script->len);
		run_script();
		record("the chaos ends");
		ledger_update();
		heal();
		final_checks();
	}

	verdict_init(&v);
	for (i = 0; i < c.n_streams; i++)
		stream_check(c.streams[i], &v);
	for (i = 0; i < c.bad_errors->len && i < 20; i++)
		g_test_message("unexpected error shown: %s", (char *) g_ptr_array_index(c.bad_errors, i));
	for (i = 0; i < v.lines->len; i++)
		g_test_message("VIOLATION %s", (char *) g_ptr_array_index(v.lines, i));
	failed = verdict_total(&v) > 0 || c.bad_errors->len > 0 || c.failures->len > 0;
	print_report(&v, failed);
	if (failed) {
		GString *kinds = g_string_new(NULL);
		int k;

		for (k = 0; k < V_COUNT; k++)
			if (v.count[k] > 0)
				g_string_append_printf(kinds, "%s%u %s", kinds->len > 0 ? ", " : " (",
				                       v.count[k], violation_names[k]);
		if (kinds->len > 0)
			g_string_append_c(kinds, ')');
		g_test_message("chaos seed %u failed: %u violations%s, %u unexpected errors, %u "
		               "other failures (replay: CHAOS_SEED=%u CHAOS_SECONDS=%u)", c.seed,
		               verdict_total(&v), kinds->str, c.bad_errors->len, c.failures->len,
		               c.seed, c.seconds);
		g_string_free(kinds, TRUE);
	}
	g_assert_cmpuint(verdict_total(&v), ==, 0);
	g_assert_cmpuint(c.bad_errors->len, ==, 0);

	teardown();
	g_assert_cmpuint(c.failures->len, ==, 0);
	host_assert_clean(c.mark);

	verdict_clear(&v);
	if (c.script != NULL)
		g_array_unref(c.script);
	g_ptr_array_unref(c.done);
	g_ptr_array_unref(c.bad_errors);
	g_ptr_array_unref(c.failures);
	chaos = NULL;
}

/* ---- main ------------------------------------------------------------------------ */

int
main(int argc, char **argv)
{
	GError *error = NULL;
	int rc;

	g_test_init(&argc, &argv, NULL);
	g_test_set_nonfatal_assertions();
	/* GTest makes warnings fatal; the host records them instead and the
	 * case checks that none came */
	g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_ERROR);
	if (UNDER_VALGRIND())
		scale = 30;
	g_setenv("PARLEY_TEST_RETRY_MS", RETRY_MS, FALSE);
	g_setenv("PARLEY_TEST_HANDSHAKE_TIMEOUT_MS", HANDSHAKE_TIMEOUT_MS, FALSE);
	g_setenv("PARLEY_TEST_GIVE_UP_MS", GIVE_UP_MS, FALSE);

	g_test_add_func("/chaos/checker", test_checker);
	if (!host_init(&error)) {
		g_printerr("# cannot start the libpurple host: %s\n", error->message);
		printf("Bail out! %s\n", error->message);
		g_error_free(error);
		return 1;
	}
	g_test_add_func("/chaos/mix", test_mix);

	rc = g_test_run();
	host_shutdown();
	return rc;
}
