/*
 * test-guard.c - src/guard.c: PROTOCOL.md §9's limits on strangers, with an
 * injected clock: 16 handshakes in all and 4 per address, the failure
 * backoff 1, 2, 4, ... 256, 300, 300 s, success resets, an aborted
 * handshake gives no verdict, and the table stays bounded under a scan.
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

	for (i = 0; i < PARLEY_MAX_HANDSHAKES; i++) {
		g_snprintf(addr, sizeof addr, "192.0.2.%u", i);
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

static void
test_bounded_table(void)
{
	ParleyGuard *g = parley_guard_new();
	gint64 now = T0;
	guint i, max_tracked = 0;
	char addr[48];

	/* Handshakes in progress are never forgotten, whatever happens. */
	for (i = 0; i < PARLEY_MAX_HANDSHAKES_PER_ADDR; i++)
		g_assert_cmpint(parley_guard_admit(g, "victim", now), ==, PARLEY_ERR_NONE);

	/* A scan: 100000 addresses, each failing once, one per millisecond
	 * (so within PARLEY_FAIL_FORGET_S: only the cap bounds the table). */
	for (i = 0; i < 100000; i++) {
		g_snprintf(addr, sizeof addr, "2001:db8::%x:%x", i >> 16, i & 0xffff);
		now++;
		g_assert_cmpint(fail_once(g, addr, now), ==, now + S(1));
		max_tracked = MAX(max_tracked, parley_guard_tracked(g));
	}
	g_assert_cmpuint(max_tracked, ==, PARLEY_GUARD_MAX_ADDRS);
	g_assert_cmpuint(parley_guard_in_progress(g), ==, PARLEY_MAX_HANDSHAKES_PER_ADDR);
	/* the most recent failures are still on file, the oldest evicted */
	g_assert_cmpint(parley_guard_blocked_until(g, "2001:db8::1:869f", now), ==, now + S(1));
	g_assert_cmpint(parley_guard_blocked_until(g, "2001:db8::0:0", now), ==, 0);
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

/* Many failing addresses and a full table: a blocked address stays
 * blocked as long as it is among the PARLEY_GUARD_MAX_ADDRS most recent. */
static void
test_eviction_order(void)
{
	ParleyGuard *g = parley_guard_new();
	gint64 now = T0;
	guint i;
	char addr[32];

	/* all within the same millisecond, so every block is still running
	 * and order of arrival alone decides */
	for (i = 0; i < PARLEY_GUARD_MAX_ADDRS; i++) {
		g_snprintf(addr, sizeof addr, "10.0.%u.%u", i >> 8, i & 0xff);
		g_assert_cmpint(fail_once(g, addr, now), ==, now + S(1));
	}
	g_assert_cmpuint(parley_guard_tracked(g), ==, PARLEY_GUARD_MAX_ADDRS);
	/* a refused HS1 does not refresh 10.0.0.0: it is still the oldest */
	g_assert_cmpint(parley_guard_admit(g, "10.0.0.0", now), ==, PARLEY_ERR_BUSY);
	/* one more address evicts 10.0.0.0, and only it */
	g_assert_cmpint(fail_once(g, "10.99.0.0", now), ==, now + S(1));
	g_assert_cmpuint(parley_guard_tracked(g), ==, PARLEY_GUARD_MAX_ADDRS);
	g_assert_cmpint(parley_guard_blocked_until(g, "10.0.0.0", now), ==, 0);
	g_assert_cmpint(parley_guard_blocked_until(g, "10.0.0.1", now), ==, now + S(1));
	g_assert_cmpint(parley_guard_blocked_until(g, "10.0.15.255", now), ==, now + S(1));
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
	g_test_add_func("/guard/bounded-table", test_bounded_table);
	g_test_add_func("/guard/eviction-order", test_eviction_order);
	g_test_add_func("/guard/bad-arguments", test_bad_arguments);
	return g_test_run();
}
