/*
 * test-guard.c - src/guard.c: PROTOCOL.md §9's limits, with an injected
 * clock: 16 handshakes in all and 4 per source, the failure backoff 1, 2,
 * 4, ... 256, 300, 300 s, success resets, an aborted handshake gives no
 * verdict; the account-wide budget for strangers' failures (a burst of 10,
 * then one every 6 s, held by handshakes in progress) that friends do not
 * draw on; and a bounded table that forgets no source backing off.
 */
#include <glib.h>

#include "constants.h"
#include "errors.h"
#include "guard.h"

#define S(x) ((gint64) (x) * 1000)     /* seconds to ms */
#define T0   S(1000000)                /* an arbitrary monotonic start */

static void
test_total_limit(void)
{
	ParleyGuard *g = parley_guard_new();
	char addr[32];
	guint i;

	/* friends, so that only the work limits apply (strangers stop at the
	 * budget, see test_budget_held) */
	for (i = 0; i < PARLEY_MAX_HANDSHAKES; i++) {
		g_snprintf(addr, sizeof addr, "192.0.2.%u", i);
		parley_guard_befriend(g, addr);
		g_assert_cmpint(parley_guard_admit(g, addr, T0), ==, PARLEY_ERR_NONE);
	}
	g_assert_cmpuint(parley_guard_in_progress(g), ==, PARLEY_MAX_HANDSHAKES);
	/* the seventeenth is refused, from a new address or a known one */
	g_assert_cmpint(parley_guard_admit(g, "198.51.100.1", T0), ==, PARLEY_ERR_BUSY);
	g_assert_cmpint(parley_guard_admit(g, "192.0.2.0", T0), ==, PARLEY_ERR_BUSY);
	/* a refused stranger leaves no record */
	g_assert_cmpuint(parley_guard_tracked(g), ==, PARLEY_MAX_HANDSHAKES);

	parley_guard_finish(g, "192.0.2.5", PARLEY_GUARD_SUCCEEDED, T0 + 1);
	g_assert_cmpuint(parley_guard_in_progress(g), ==, PARLEY_MAX_HANDSHAKES - 1);
	g_assert_cmpint(parley_guard_admit(g, "198.51.100.1", T0 + 2), ==, PARLEY_ERR_NONE);
	g_assert_cmpint(parley_guard_admit(g, "198.51.100.2", T0 + 2), ==, PARLEY_ERR_BUSY);

	for (i = 0; i < PARLEY_MAX_HANDSHAKES; i++) {
		if (i == 5)
			continue;
		g_snprintf(addr, sizeof addr, "192.0.2.%u", i);
		parley_guard_finish(g, addr, PARLEY_GUARD_ABORTED, T0 + 3);
	}
	parley_guard_finish(g, "198.51.100.1", PARLEY_GUARD_SUCCEEDED, T0 + 3);
	g_assert_cmpuint(parley_guard_in_progress(g), ==, 0);
	g_assert_cmpuint(parley_guard_tracked(g), ==, 0);
	parley_guard_free(g);
}

static void
test_per_address_limit(void)
{
	ParleyGuard *g = parley_guard_new();
	guint i;

	for (i = 0; i < PARLEY_MAX_HANDSHAKES_PER_ADDR; i++)
		g_assert_cmpint(parley_guard_admit(g, "203.0.113.7", T0), ==, PARLEY_ERR_NONE);
	g_assert_cmpint(parley_guard_admit(g, "203.0.113.7", T0), ==, PARLEY_ERR_BUSY);
	/* other addresses are not affected */
	g_assert_cmpint(parley_guard_admit(g, "203.0.113.8", T0), ==, PARLEY_ERR_NONE);
	g_assert_cmpint(parley_guard_admit(g, "2001:db8::1", T0), ==, PARLEY_ERR_NONE);
	g_assert_cmpuint(parley_guard_in_progress(g), ==, PARLEY_MAX_HANDSHAKES_PER_ADDR + 2);

	/* one ends without a verdict: a slot is free again, no block */
	parley_guard_finish(g, "203.0.113.7", PARLEY_GUARD_ABORTED, T0 + 1);
	g_assert_cmpint(parley_guard_blocked_until(g, "203.0.113.7", T0 + 1), ==, 0);
	g_assert_cmpint(parley_guard_admit(g, "203.0.113.7", T0 + 1), ==, PARLEY_ERR_NONE);
	g_assert_cmpint(parley_guard_admit(g, "203.0.113.7", T0 + 1), ==, PARLEY_ERR_BUSY);

	for (i = 0; i < PARLEY_MAX_HANDSHAKES_PER_ADDR; i++)
		parley_guard_finish(g, "203.0.113.7", PARLEY_GUARD_ABORTED, T0 + 2);
	parley_guard_finish(g, "203.0.113.8", PARLEY_GUARD_ABORTED, T0 + 2);
	parley_guard_finish(g, "2001:db8::1", PARLEY_GUARD_ABORTED, T0 + 2);
	g_assert_cmpuint(parley_guard_in_progress(g), ==, 0);
	g_assert_cmpuint(parley_guard_tracked(g), ==, 0);
	parley_guard_free(g);
}

/* One failure of a fresh handshake from addr at time now; returns the end
 * of the block it causes. */
static gint64
fail_once(ParleyGuard *g, const char *addr, gint64 now)
{
	g_assert_cmpint(parley_guard_admit(g, addr, now), ==, PARLEY_ERR_NONE);
	parley_guard_finish(g, addr, PARLEY_GUARD_FAILED, now);
	return parley_guard_blocked_until(g, addr, now);
}

static void
test_backoff_schedule(void)
{
	/* §9: 2^(k-1) s after the k-th consecutive failure, capped at 300 s */
	static const gint64 expect_s[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300 };
	ParleyGuard *g = parley_guard_new();
	gint64 now = T0;
	guint k;

	for (k = 0; k < G_N_ELEMENTS(expect_s); k++) {
		gint64 until = fail_once(g, "203.0.113.9", now);

		g_assert_cmpint(until, ==, now + S(expect_s[k]));
		/* refused up to the last millisecond, and the refusal does not
		 * extend the block */
		g_assert_cmpint(parley_guard_admit(g, "203.0.113.9", now), ==, PARLEY_ERR_BUSY);
		g_assert_cmpint(parley_guard_admit(g, "203.0.113.9", until - 1), ==, PARLEY_ERR_BUSY);
		g_assert_cmpint(parley_guard_blocked_until(g, "203.0.113.9", until - 1), ==, until);
		g_assert_cmpint(parley_guard_blocked_until(g, "203.0.113.9", until), ==, 0);
		/* another address is not blocked */
		g_assert_cmpint(parley_guard_blocked_until(g, "203.0.113.10", now), ==, 0);
		now = until;
	}
	parley_guard_free(g);
}

static void
test_success_resets(void)
{
	ParleyGuard *g = parley_guard_new();
	gint64 now = T0;
	int i;

	for (i = 0; i < 5; i++)
		now = fail_once(g, "198.51.100.3", now);
	/* the sixth attempt succeeds */
	g_assert_cmpint(parley_guard_admit(g, "198.51.100.3", now), ==, PARLEY_ERR_NONE);
	parley_guard_finish(g, "198.51.100.3", PARLEY_GUARD_SUCCEEDED, now + 10);
	g_assert_cmpint(parley_guard_blocked_until(g, "198.51.100.3", now + 10), ==, 0);
	g_assert_cmpuint(parley_guard_tracked(g), ==, 0);
	/* the count starts again at one */
	now += 20;
	g_assert_cmpint(fail_once(g, "198.51.100.3", now), ==, now + S(1));
	parley_guard_free(g);
}

/* Two handshakes in parallel, one fails, then the other succeeds: the
 * success clears the block the failure started. */
static void
test_success_clears_block(void)
{
	ParleyGuard *g = parley_guard_new();

	g_assert_cmpint(parley_guard_admit(g, "198.51.100.4", T0), ==, PARLEY_ERR_NONE);
	g_assert_cmpint(parley_guard_admit(g, "198.51.100.4", T0), ==, PARLEY_ERR_NONE);
	parley_guard_finish(g, "198.51.100.4", PARLEY_GUARD_FAILED, T0 + 5);
	g_assert_cmpint(parley_guard_blocked_until(g, "198.51.100.4", T0 + 5), ==, T0 + 5 + S(1));
	parley_guard_finish(g, "198.51.100.4", PARLEY_GUARD_SUCCEEDED, T0 + 6);
	g_assert_cmpint(parley_guard_blocked_until(g, "198.51.100.4", T0 + 6), ==, 0);
	g_assert_cmpint(parley_guard_admit(g, "198.51.100.4", T0 + 6), ==, PARLEY_ERR_NONE);
	parley_guard_finish(g, "198.51.100.4", PARLEY_GUARD_ABORTED, T0 + 7);
	g_assert_cmpuint(parley_guard_tracked(g), ==, 0);
	parley_guard_free(g);
}

/* Parallel failures count one by one, and a later, shorter block never
 * shortens a running one. */
static void
test_parallel_failures(void)
{
	ParleyGuard *g = parley_guard_new();
	guint i;

	for (i = 0; i < PARLEY_MAX_HANDSHAKES_PER_ADDR; i++)
		g_assert_cmpint(parley_guard_admit(g, "198.51.100.5", T0), ==, PARLEY_ERR_NONE);
	for (i = 0; i < PARLEY_MAX_HANDSHAKES_PER_ADDR; i++)
		parley_guard_finish(g, "198.51.100.5", PARLEY_GUARD_FAILED, T0 + i);
	/* fourth failure: 8 s from the last one */
	g_assert_cmpint(parley_guard_blocked_until(g, "198.51.100.5", T0),
	                ==, T0 + (PARLEY_MAX_HANDSHAKES_PER_ADDR - 1) + S(8));
	g_assert_cmpuint(parley_guard_in_progress(g), ==, 0);
	parley_guard_free(g);
}

static void
test_aborted_no_verdict(void)
{
	ParleyGuard *g = parley_guard_new();
	gint64 now = T0;

	/* no failures on file: an abort leaves nothing behind */
	g_assert_cmpint(parley_guard_admit(g, "192.0.2.77", now), ==, PARLEY_ERR_NONE);
	parley_guard_finish(g, "192.0.2.77", PARLEY_GUARD_ABORTED, now);
	g_assert_cmpuint(parley_guard_tracked(g), ==, 0);

	/* two failures, then an abort: neither counted nor reset */
	now = fail_once(g, "192.0.2.77", now);
	now = fail_once(g, "192.0.2.77", now);
	g_assert_cmpint(parley_guard_admit(g, "192.0.2.77", now), ==, PARLEY_ERR_NONE);
	parley_guard_finish(g, "192.0.2.77", PARLEY_GUARD_ABORTED, now + 3);
	g_assert_cmpint(parley_guard_blocked_until(g, "192.0.2.77", now + 3), ==, 0);
	g_assert_cmpuint(parley_guard_tracked(g), ==, 1);
	/* the next failure is the third: 4 s */
	now += 10;
	g_assert_cmpint(fail_once(g, "192.0.2.77", now), ==, now + S(4));
	parley_guard_free(g);
}

static void
test_forget_old_failures(void)
{
	ParleyGuard *g = parley_guard_new();
	gint64 now = T0, last;
	int i;

	for (i = 0; i < 9; i++)
		now = fail_once(g, "192.0.2.99", now);
	/* the ninth failure happened at `last`; its block is 256 s */
	last = now - S(256);
	g_assert_cmpuint(parley_guard_tracked(g), ==, 1);

	/* still remembered just before PARLEY_FAIL_FORGET_S ... */
	g_assert_cmpint(parley_guard_admit(g, "192.0.2.1", last + S(PARLEY_FAIL_FORGET_S) - 1),
	                ==, PARLEY_ERR_NONE);
	parley_guard_finish(g, "192.0.2.1", PARLEY_GUARD_ABORTED, last + S(PARLEY_FAIL_FORGET_S) - 1);
	g_assert_cmpuint(parley_guard_tracked(g), ==, 1);
	/* ... forgotten by the first admit after it */
	now = last + S(PARLEY_FAIL_FORGET_S);
	g_assert_cmpint(parley_guard_admit(g, "192.0.2.1", now), ==, PARLEY_ERR_NONE);
	g_assert_cmpuint(parley_guard_tracked(g), ==, 1);      /* 192.0.2.1 only */
	parley_guard_finish(g, "192.0.2.1", PARLEY_GUARD_ABORTED, now);
	g_assert_cmpuint(parley_guard_tracked(g), ==, 0);
	/* the count starts again */
	g_assert_cmpint(fail_once(g, "192.0.2.99", now), ==, now + S(1));
	parley_guard_free(g);
}

/* A fresh source for the n-th sprayed stranger: its own IPv6 /64. */
static void
spray_source(char *buf, gsize len, guint n)
{
	g_snprintf(buf, len, "2001:db8:%x:%x::/64", n >> 16, n & 0xffff);
}

/* One HS1 from addr at now: if let in, the handshake fails at once.
 * Returns whether it was let in. */
static gboolean
try_fail(ParleyGuard *g, const char *addr, gint64 now)
{
	if (parley_guard_admit(g, addr, now) != PARLEY_ERR_NONE)
		return FALSE;
	parley_guard_finish(g, addr, PARLEY_GUARD_FAILED, now);
	return TRUE;
}

/* Spend the whole budget at now with fresh sources from first on; returns
 * the next unused source number. */
static guint
drain(ParleyGuard *g, guint first, gint64 now)
{
	char addr[48];
	guint n = first;

	while (parley_guard_budget(g, now) > 0) {
		spray_source(addr, sizeof addr, n++);
		g_assert_true(try_fail(g, addr, now));
	}
	return n;
}

/* §9: strangers' failures draw on one budget: a spray of guesses from
 * fresh sources, each of which its own rule would let in, gets
 * PARLEY_STRANGER_BUDGET through at once and no more. */
static void
test_budget_burst(void)
{
	ParleyGuard *g = parley_guard_new();
	char addr[48];
	guint i, through = 0;

	g_assert_cmpuint(parley_guard_budget(g, T0), ==, PARLEY_STRANGER_BUDGET);
	for (i = 0; i < 20; i++) {
		spray_source(addr, sizeof addr, i);
		through += try_fail(g, addr, T0);
	}
	g_assert_cmpuint(through, ==, PARLEY_STRANGER_BUDGET);
	g_assert_cmpuint(parley_guard_budget(g, T0), ==, 0);
	/* the refused left nothing behind */
	g_assert_cmpuint(parley_guard_tracked(g), ==, PARLEY_STRANGER_BUDGET);
	/* a source that never failed is refused too */
	g_assert_cmpint(parley_guard_blocked_until(g, "198.51.100.1", T0), ==, 0);
	g_assert_cmpint(parley_guard_admit(g, "198.51.100.1", T0 + S(5)), ==, PARLEY_ERR_BUSY);
	g_assert_cmpuint(parley_guard_in_progress(g), ==, 0);
	parley_guard_free(g);
}

/* One token back every PARLEY_STRANGER_REFILL_S, up to the budget; a
 * refused HS1 does not delay it. */
static void
test_budget_refill(void)
{
	ParleyGuard *g = parley_guard_new();
	const gint64 refill = S(PARLEY_STRANGER_REFILL_S);
	gint64 t;
	guint n, k;

	n = drain(g, 0, T0);
	g_assert_cmpuint(n, ==, PARLEY_STRANGER_BUDGET);
	/* refused up to the last millisecond before the first token; refusals
	 * on the way cost nothing */
	for (t = T0; t < T0 + refill; t += 500)
		g_assert_cmpint(parley_guard_admit(g, "198.51.100.2", t), ==, PARLEY_ERR_BUSY);
	g_assert_cmpint(parley_guard_admit(g, "198.51.100.2", T0 + refill - 1), ==,
	                PARLEY_ERR_BUSY);
	/* one token, for one stranger */
	g_assert_cmpuint(parley_guard_budget(g, T0 + refill), ==, 1);
	g_assert_true(try_fail(g, "198.51.100.2", T0 + refill));
	g_assert_cmpint(parley_guard_admit(g, "198.51.100.3", T0 + refill), ==, PARLEY_ERR_BUSY);
	/* the next one 6 s after that */
	g_assert_cmpuint(parley_guard_budget(g, T0 + 2 * refill - 1), ==, 0);
	g_assert_cmpuint(parley_guard_budget(g, T0 + 2 * refill), ==, 1);

	/* left alone, the bucket fills at one per 6 s, to the budget and no
	 * further, however long it waits */
	t = T0 + 2 * refill;
	for (k = 1; k <= PARLEY_STRANGER_BUDGET; k++)
		g_assert_cmpuint(parley_guard_budget(g, t + (k - 1) * refill), ==, k);
	g_assert_cmpuint(parley_guard_budget(g, t + S(86400)), ==, PARLEY_STRANGER_BUDGET);
	n = drain(g, 100, t + S(86400));
	g_assert_cmpuint(n - 100, ==, PARLEY_STRANGER_BUDGET);
	parley_guard_free(g);
}

/* Failures spread over a minute and over ten: never more than the burst
 * plus one per 6 s in any window, so 10 a minute once the burst is spent
 * (14 400 a day); and one source alone is held back by its own backoff
 * long before the budget matters. */
static void
test_budget_spam_minute(void)
{
	ParleyGuard *g = parley_guard_new();
	GArray *times = g_array_new(FALSE, FALSE, sizeof(gint64));
	const gint64 minute = S(60);
	char addr[48];
	guint i, j, n, through;
	gint64 t;

	/* 20 guesses from fresh sources over a minute (one every 3 s), after
	 * an earlier burst spent the bucket: 10 get through, one per 6 s */
	n = drain(g, 0, T0);
	through = 0;
	for (i = 0; i < 20; i++) {
		spray_source(addr, sizeof addr, n++);
		through += try_fail(g, addr, T0 + (i + 1) * S(3));
	}
	g_test_message("20 fresh sources over a minute, bucket spent: %u through", through);
	g_assert_cmpuint(through, ==, 10);

	/* one source that spams a guess a second for a minute: its backoff
	 * (1, 2, 4, 8, 16, 32 s) lets 6 through, which the budget also pays */
	t = T0 + S(3600);
	through = 0;
	for (i = 0; i < 60; i++)
		through += try_fail(g, "192.0.2.200", t + i * S(1));
	g_test_message("one source, a guess a second for a minute: %u through", through);
	g_assert_cmpuint(through, ==, 6);
	parley_guard_free(g);

	/* ten minutes of a guess every 250 ms from fresh sources, starting
	 * with a full bucket */
	g = parley_guard_new();
	for (i = 0; i < 2400; i++) {
		spray_source(addr, sizeof addr, i);
		t = T0 + (gint64) i * 250;
		if (try_fail(g, addr, t))
			g_array_append_val(times, t);
	}
	g_test_message("a guess every 250 ms for 10 minutes: %u through", times->len);
	/* the burst, then one per 6 s: 10 + 100 (the last token comes at
	 * 600 s, after the last try) */
	g_assert_cmpuint(times->len, ==, PARLEY_STRANGER_BUDGET + 99);
	for (i = 0; i < times->len; i++) {
		gint64 from = g_array_index(times, gint64, i);
		guint in_minute = 0;

		for (j = i; j < times->len && g_array_index(times, gint64, j) < from + minute; j++)
			in_minute++;
		/* any minute: at most the burst plus 60 / 6 */
		g_assert_cmpuint(in_minute, <=, PARLEY_STRANGER_BUDGET + 60 / PARLEY_STRANGER_REFILL_S);
		/* once the burst is spent, 10 a minute */
		if (from >= T0 + minute)
			g_assert_cmpuint(in_minute, <=, 60 / PARLEY_STRANGER_REFILL_S);
	}
	g_array_free(times, TRUE);
	parley_guard_free(g);
}

/* A stranger's handshake in progress holds the token its failure would
 * take: handshakes running at once cannot overdraw the budget.  The token
 * goes back when the handshake ends without failing, or when the source
 * proves the passphrase. */
static void
test_budget_held(void)
{
	ParleyGuard *g = parley_guard_new();
	char addr[48];
	guint i;

	for (i = 0; i < PARLEY_STRANGER_BUDGET; i++) {
		spray_source(addr, sizeof addr, i);
		g_assert_cmpint(parley_guard_admit(g, addr, T0), ==, PARLEY_ERR_NONE);
	}
	g_assert_cmpuint(parley_guard_budget(g, T0), ==, 0);
	g_assert_cmpint(parley_guard_admit(g, "198.51.100.7", T0), ==, PARLEY_ERR_BUSY);
	/* all ten fail: ten tokens, not more */
	for (i = 0; i < PARLEY_STRANGER_BUDGET; i++) {
		spray_source(addr, sizeof addr, i);
		parley_guard_finish(g, addr, PARLEY_GUARD_FAILED, T0 + 1);
	}
	g_assert_cmpuint(parley_guard_budget(g, T0 + S(PARLEY_STRANGER_REFILL_S) + 1), ==, 1);
	parley_guard_free(g);

	g = parley_guard_new();
	/* no verdict, or a success: the token goes back */
	g_assert_cmpint(parley_guard_admit(g, "198.51.100.8", T0), ==, PARLEY_ERR_NONE);
	g_assert_cmpuint(parley_guard_budget(g, T0), ==, PARLEY_STRANGER_BUDGET - 1);
	parley_guard_finish(g, "198.51.100.8", PARLEY_GUARD_ABORTED, T0);
	g_assert_cmpuint(parley_guard_budget(g, T0), ==, PARLEY_STRANGER_BUDGET);
	g_assert_cmpint(parley_guard_admit(g, "198.51.100.8", T0), ==, PARLEY_ERR_NONE);
	parley_guard_finish(g, "198.51.100.8", PARLEY_GUARD_SUCCEEDED, T0);
	g_assert_cmpuint(parley_guard_budget(g, T0), ==, PARLEY_STRANGER_BUDGET);

	/* four at once from a stranger; one proves the passphrase: the other
	 * three hold nothing any more, and their failures take no token (the
	 * per-source rule still counts them) */
	for (i = 0; i < PARLEY_MAX_HANDSHAKES_PER_ADDR; i++)
		g_assert_cmpint(parley_guard_admit(g, "203.0.113.4", T0), ==, PARLEY_ERR_NONE);
	g_assert_cmpuint(parley_guard_budget(g, T0), ==,
	                 PARLEY_STRANGER_BUDGET - PARLEY_MAX_HANDSHAKES_PER_ADDR);
	parley_guard_finish(g, "203.0.113.4", PARLEY_GUARD_SUCCEEDED, T0 + 1);
	g_assert_true(parley_guard_is_friend(g, "203.0.113.4"));
	g_assert_cmpuint(parley_guard_budget(g, T0 + 1), ==, PARLEY_STRANGER_BUDGET);
	for (i = 1; i < PARLEY_MAX_HANDSHAKES_PER_ADDR; i++)
		parley_guard_finish(g, "203.0.113.4", PARLEY_GUARD_FAILED, T0 + 2);
	g_assert_cmpuint(parley_guard_budget(g, T0 + 2), ==, PARLEY_STRANGER_BUDGET);
	g_assert_cmpint(parley_guard_blocked_until(g, "203.0.113.4", T0 + 2), ==, T0 + 2 + S(4));
	g_assert_cmpuint(parley_guard_in_progress(g), ==, 0);
	parley_guard_free(g);
}

/* A friend (completed a handshake since the guard was made, either way)
 * is let in while strangers have spent the budget, and its own failures
 * only back it off: they take nothing from the budget. */
static void
test_friends_unaffected(void)
{
	ParleyGuard *g = parley_guard_new();
	const gint64 refill = S(PARLEY_STRANGER_REFILL_S);
	gint64 now = T0, until;
	guint i;

	g_assert_false(parley_guard_is_friend(g, "192.0.2.10"));
	g_assert_cmpint(parley_guard_admit(g, "192.0.2.10", now), ==, PARLEY_ERR_NONE);
	parley_guard_finish(g, "192.0.2.10", PARLEY_GUARD_SUCCEEDED, now);
	g_assert_true(parley_guard_is_friend(g, "192.0.2.10"));
	g_assert_cmpuint(parley_guard_tracked(g), ==, 0);     /* nothing else kept */
	/* a handshake this account started makes a friend too */
	parley_guard_befriend(g, "2001:db8:1:2::/64");
	g_assert_true(parley_guard_is_friend(g, "2001:db8:1:2::/64"));

	drain(g, 0, now);
	g_assert_cmpint(parley_guard_admit(g, "198.51.100.9", now), ==, PARLEY_ERR_BUSY);
	/* friends: the work limits, nothing more */
	for (i = 0; i < PARLEY_MAX_HANDSHAKES_PER_ADDR; i++)
		g_assert_cmpint(parley_guard_admit(g, "192.0.2.10", now), ==, PARLEY_ERR_NONE);
	g_assert_cmpint(parley_guard_admit(g, "192.0.2.10", now), ==, PARLEY_ERR_BUSY);
	for (i = 0; i < PARLEY_MAX_HANDSHAKES_PER_ADDR; i++)
		parley_guard_finish(g, "192.0.2.10", PARLEY_GUARD_ABORTED, now);
	g_assert_cmpint(parley_guard_admit(g, "2001:db8:1:2::/64", now), ==, PARLEY_ERR_NONE);
	parley_guard_finish(g, "2001:db8:1:2::/64", PARLEY_GUARD_SUCCEEDED, now);

	/* a friend guessing wrong backs off by its own schedule (1, 2 s),
	 * and the strangers' next token still comes 6 s after the drain */
	for (i = 0; i < 2; i++) {
		until = fail_once(g, "192.0.2.10", now);
		g_assert_cmpint(until, ==, now + S(1 << i));
		g_assert_cmpint(parley_guard_admit(g, "192.0.2.10", until - 1), ==, PARLEY_ERR_BUSY);
		now = until;
	}
	g_assert_cmpint(now, <, T0 + refill);
	g_assert_cmpuint(parley_guard_budget(g, T0 + refill - 1), ==, 0);
	g_assert_cmpuint(parley_guard_budget(g, T0 + refill), ==, 1);
	/* still a friend after failing: a success resets its count */
	g_assert_true(parley_guard_is_friend(g, "192.0.2.10"));
	g_assert_cmpint(parley_guard_admit(g, "192.0.2.10", now), ==, PARLEY_ERR_NONE);
	parley_guard_finish(g, "192.0.2.10", PARLEY_GUARD_SUCCEEDED, now);
	g_assert_cmpint(fail_once(g, "192.0.2.10", now), ==, now + S(1));
	parley_guard_free(g);
}

/* Friends are remembered up to PARLEY_GUARD_MAX_FRIENDS; the one that
 * proved itself least recently makes room. */
static void
test_friends_bounded(void)
{
	ParleyGuard *g = parley_guard_new();
	char addr[48];
	guint i;

	for (i = 0; i < PARLEY_GUARD_MAX_FRIENDS + 10; i++) {
		g_snprintf(addr, sizeof addr, "10.1.%u.%u", i >> 8, i & 0xff);
		parley_guard_befriend(g, addr);
		if (i == PARLEY_GUARD_MAX_FRIENDS - 1)
			parley_guard_befriend(g, "10.1.0.0");   /* proven again: newest */
	}
	g_assert_true(parley_guard_is_friend(g, "10.1.0.0"));
	for (i = 1; i <= 10; i++) {
		g_snprintf(addr, sizeof addr, "10.1.%u.%u", i >> 8, i & 0xff);
		g_assert_false(parley_guard_is_friend(g, addr));
	}
	g_assert_true(parley_guard_is_friend(g, "10.1.0.11"));
	g_snprintf(addr, sizeof addr, "10.1.%u.%u", (PARLEY_GUARD_MAX_FRIENDS + 9) >> 8,
	           (PARLEY_GUARD_MAX_FRIENDS + 9) & 0xff);
	g_assert_true(parley_guard_is_friend(g, addr));
	g_assert_cmpuint(parley_guard_tracked(g), ==, 0);
	parley_guard_free(g);
}

/* Two days of a scan as fast as the budget allows (a failure every 6 s
 * from a fresh source): the table never holds more than
 * PARLEY_GUARD_MAX_ADDRS, a full table refuses newcomers rather than
 * forget anyone, and sources are forgotten a day after they were last
 * heard of. */
static void
test_bounded_table(void)
{
	ParleyGuard *g = parley_guard_new();
	const gint64 step = S(PARLEY_STRANGER_REFILL_S);
	gint64 now = T0;
	guint i, max_tracked = 0, through = 0, refused = 0;
	char addr[48];

	/* Handshakes in progress are never forgotten, whatever happens. */
	for (i = 0; i < PARLEY_MAX_HANDSHAKES_PER_ADDR; i++)
		g_assert_cmpint(parley_guard_admit(g, "victim", now), ==, PARLEY_ERR_NONE);

	for (i = 0; now < T0 + S(2 * 86400); i++) {
		spray_source(addr, sizeof addr, i);
		now += step;
		if (try_fail(g, addr, now))
			through++;
		else
			refused++;
		max_tracked = MAX(max_tracked, parley_guard_tracked(g));
	}
	g_test_message("two days: %u let in and failed, %u refused (table full)", through, refused);
	g_assert_cmpuint(max_tracked, ==, PARLEY_GUARD_MAX_ADDRS);
	/* refused while full: from 4095 sources on (6.8 h) until the first of
	 * them is forgotten (a day after it failed) */
	g_assert_cmpuint(refused, >, 0);
	g_assert_cmpuint(parley_guard_in_progress(g), ==, PARLEY_MAX_HANDSHAKES_PER_ADDR);
	/* the victim's handshakes are still counted and can finish */
	g_assert_cmpint(parley_guard_admit(g, "victim", now), ==, PARLEY_ERR_BUSY);
	for (i = 0; i < PARLEY_MAX_HANDSHAKES_PER_ADDR; i++)
		parley_guard_finish(g, "victim", PARLEY_GUARD_ABORTED, now);

	/* Much later, one admit prunes every stale record. */
	now += S(PARLEY_FAIL_FORGET_S) + 1;
	g_assert_cmpint(parley_guard_admit(g, "192.0.2.1", now), ==, PARLEY_ERR_NONE);
	g_assert_cmpuint(parley_guard_tracked(g), ==, 1);
	parley_guard_finish(g, "192.0.2.1", PARLEY_GUARD_ABORTED, now);
	g_assert_cmpuint(parley_guard_tracked(g), ==, 0);
	parley_guard_free(g);
}

/* §9: a source that is backing off is never forgotten to make room.  The
 * table is filled with strangers' failures (as fast as the budget allows,
 * 6.8 h), with two sources backing off: one that failed ten times hours
 * ago (its next failure costs 300 s) and one blocked right now.  Then 10
 * 000 fresh sources spray HS1: all are refused (the budget would have let
 * some in: the table refuses them), and both backoffs are intact.  The
 * guard used to evict the record heard of least recently, which erased
 * the first one's count. */
static void
test_full_table_keeps_backoff(void)
{
	ParleyGuard *g = parley_guard_new();
	const char *old = "2001:db8:aaaa:1::/64", *now_blocked = "203.0.113.66";
	gint64 now = T0, until = 0;
	char addr[48];
	guint i;

	/* the old one: ten failures, each after its block ended */
	for (i = 0; i < 10; i++) {
		until = fail_once(g, old, now);
		now = until;
	}
	/* fill the table but for one record, a stranger every 6 s */
	for (i = 0; parley_guard_tracked(g) < PARLEY_GUARD_MAX_ADDRS - 1; i++) {
		spray_source(addr, sizeof addr, i);
		now += S(PARLEY_STRANGER_REFILL_S);
		g_assert_true(try_fail(g, addr, now));
	}
	/* the one blocked now: nine failures, 256 s */
	for (i = 0; i < 9; i++) {
		until = fail_once(g, now_blocked, now);
		if (i < 8)
			now = until;
	}
	g_assert_cmpint(until, ==, now + S(256));
	g_assert_cmpuint(parley_guard_tracked(g), ==, PARLEY_GUARD_MAX_ADDRS);
	g_test_message("table full %.1f h after the old source's last failure",
	               (double) (now - T0) / S(3600));
	g_assert_cmpint(parley_guard_blocked_until(g, old, now), ==, 0);

	/* the spray: 10 000 fresh sources within 10 s */
	g_assert_cmpuint(parley_guard_budget(g, now + 1), >, 0);
	for (i = 0; i < 10000; i++) {
		spray_source(addr, sizeof addr, 0x10000 + i);
		g_assert_cmpint(parley_guard_admit(g, addr, now + 1 + i), ==, PARLEY_ERR_BUSY);
	}
	now += 1 + i;
	g_assert_cmpuint(parley_guard_tracked(g), ==, PARLEY_GUARD_MAX_ADDRS);
	g_assert_cmpuint(parley_guard_budget(g, now), >, 0);
	/* both backoffs intact: the blocked one is still blocked, and the old
	 * one's next failure costs the cap, not 1 s */
	g_assert_cmpint(parley_guard_blocked_until(g, now_blocked, now), ==, until);
	g_assert_cmpint(parley_guard_admit(g, now_blocked, now), ==, PARLEY_ERR_BUSY);
	g_assert_cmpint(fail_once(g, old, now), ==, now + S(PARLEY_FAIL_BACKOFF_CAP_S));

	/* a friend is let in although the table is full, and leaves no
	 * record behind when it is done */
	parley_guard_befriend(g, "192.0.2.77");
	g_assert_cmpint(parley_guard_admit(g, "192.0.2.77", now), ==, PARLEY_ERR_NONE);
	g_assert_cmpuint(parley_guard_tracked(g), ==, PARLEY_GUARD_MAX_ADDRS + 1);
	parley_guard_finish(g, "192.0.2.77", PARLEY_GUARD_SUCCEEDED, now);
	g_assert_cmpuint(parley_guard_tracked(g), ==, PARLEY_GUARD_MAX_ADDRS);
	parley_guard_free(g);
}

static void
test_bad_arguments(void)
{
	ParleyGuard *g = parley_guard_new();

	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*in_progress > 0*");
	parley_guard_finish(g, "192.0.2.1", PARLEY_GUARD_FAILED, T0);
	g_test_assert_expected_messages();
	g_assert_cmpuint(parley_guard_in_progress(g), ==, 0);
	g_assert_cmpint(parley_guard_blocked_until(g, "192.0.2.1", T0), ==, 0);

	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*addr != NULL*");
	g_assert_cmpint(parley_guard_admit(g, NULL, T0), ==, PARLEY_ERR_STATE);
	g_test_assert_expected_messages();
	parley_guard_free(g);
	parley_guard_free(NULL);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/guard/total-limit", test_total_limit);
	g_test_add_func("/guard/per-address-limit", test_per_address_limit);
	g_test_add_func("/guard/backoff-schedule", test_backoff_schedule);
	g_test_add_func("/guard/success-resets", test_success_resets);
	g_test_add_func("/guard/success-clears-block", test_success_clears_block);
	g_test_add_func("/guard/parallel-failures", test_parallel_failures);
	g_test_add_func("/guard/aborted-no-verdict", test_aborted_no_verdict);
	g_test_add_func("/guard/forget-old-failures", test_forget_old_failures);
	g_test_add_func("/guard/budget-burst", test_budget_burst);
	g_test_add_func("/guard/budget-refill", test_budget_refill);
	g_test_add_func("/guard/budget-spam-a-minute", test_budget_spam_minute);
	g_test_add_func("/guard/budget-held-in-progress", test_budget_held);
	g_test_add_func("/guard/friends-unaffected", test_friends_unaffected);
	g_test_add_func("/guard/friends-bounded", test_friends_bounded);
	g_test_add_func("/guard/bounded-table", test_bounded_table);
	g_test_add_func("/guard/full-table-keeps-backoff", test_full_table_keeps_backoff);
	g_test_add_func("/guard/bad-arguments", test_bad_arguments);
	return g_test_run();
}
