/*
 * test-admit.c - src/admit.c and src/names.c: who may start a handshake
 * with the responder, decided once per connection (PROTOCOL.md §4, §9,
 * §11), with an injected clock; and what a peer's announced name may show.
 *
 * The cases follow what went wrong before admission was decided once: a
 * classic connection's every key request took a guard slot (four rekeys
 * stalled it), a caller without a listen port on a host with two peers
 * was given a buddy's entry without its passphrase, and per-address
 * limits did not hold for one IPv6 /64.  Then §9 of version 2: an account
 * may refuse strangers, and strangers' failures share one budget that
 * friends do not draw on.
 */
#include <string.h>

#include <glib.h>

#include "address.h"
#include "admit.h"
#include "constants.h"
#include "names.h"

#define S(x) ((gint64) (x) * 1000)     /* seconds to ms */
#define T0   S(1000000)

static const uint8_t sid_a[PARLEY_SID_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
static const uint8_t sid_b[PARLEY_SID_LEN] = { 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1 };

/* A peer table: names as buddy names, keys computed as the glue does. */
typedef struct {
	ParleyAdmitPeer peers[8];
	char *keys[8];
	guint n;
} Table;

static void
table_add(Table *t, const char *name, gboolean buddy)
{
	char *host;
	guint16 port;

	g_assert_true(parley_address_parse(name, &host, &port, NULL));
	t->keys[t->n] = parley_address_host_key(host);
	t->peers[t->n].host_key = t->keys[t->n];
	t->peers[t->n].port = port;
	t->peers[t->n].buddy = buddy;
	t->peers[t->n].id = t->n;
	t->n++;
	g_free(host);
}

static void
table_clear(Table *t)
{
	for (guint i = 0; i < t->n; i++)
		g_free(t->keys[i]);
	t->n = 0;
}

static void
test_source(void)
{
	static const struct {
		const char *ip, *source;
	} cases[] = {
		{ "192.0.2.7", "192.0.2.7" },
		{ "::ffff:192.0.2.7", "192.0.2.7" },          /* mapped counts as IPv4 */
		{ "2001:db8:1:2::1", "2001:db8:1:2::/64" },
		{ "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64" },
		{ "2001:db8:1:3::1", "2001:db8:1:3::/64" },
		{ "::1", "::/64" },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *s = parley_admit_source(cases[i].ip);

		g_assert_cmpstr(s, ==, cases[i].source);
		g_free(s);
	}
	g_assert_null(parley_admit_source("example.org"));
	g_assert_null(parley_admit_source(""));
}

/* §4: our own unfinished HS1 coming back is refused before anything else
 * (no guard slot, no match). */
static void
test_loopback(void)
{
	ParleyAdmission *a = parley_admission_new();
	ParleyAdmitTicket t = { 0 };

	parley_admission_add_own_sid(a, sid_a);
	g_assert_cmpint(parley_admission_admit(a, PARLEY_ADMIT_NATIVE, "127.0.0.1", 5000, sid_a,
	                                       NULL, 0, T0, &t), ==, PARLEY_ERR_LOOPBACK);
	g_assert_null(t.source);
	g_assert_false(t.holding);
	g_assert_cmpuint(parley_guard_in_progress(parley_admission_guard(a)), ==, 0);
	/* another sid is a caller like any other */
	g_assert_cmpint(parley_admission_admit(a, PARLEY_ADMIT_NATIVE, "127.0.0.1", 5000, sid_b,
	                                       NULL, 0, T0, &t), ==, PARLEY_ERR_NONE);
	parley_admit_ticket_clear(a, &t, T0);
	/* once the handshake is over, the sid is no longer ours */
	parley_admission_remove_own_sid(a, sid_a);
	g_assert_cmpint(parley_admission_admit(a, PARLEY_ADMIT_NATIVE, "127.0.0.1", 5000, sid_a,
	                                       NULL, 0, T0, &t), ==, PARLEY_ERR_NONE);
	parley_admit_ticket_clear(a, &t, T0);
	g_assert_cmpuint(parley_guard_in_progress(parley_admission_guard(a)), ==, 0);
	parley_admission_free(a);
}

static ParleyError
admit(ParleyAdmission *a, ParleyAdmitMode mode, const char *ip, guint16 port,
      const Table *tab, ParleyAdmitTicket *t)
{
	return parley_admission_admit(a, mode, ip, port, mode == PARLEY_ADMIT_NATIVE ? sid_b : NULL,
	                              tab != NULL ? tab->peers : NULL, tab != NULL ? tab->n : 0,
	                              T0, t);
}

static void
test_match_native(void)
{
	ParleyAdmission *a = parley_admission_new();
	ParleyAdmitTicket t = { 0 };
	Table tab = { 0 };

	table_add(&tab, "192.0.2.1", TRUE);          /* id 0, port 5000 */
	table_add(&tab, "192.0.2.1:5001", TRUE);     /* id 1 */
	table_add(&tab, "198.51.100.9", TRUE);       /* id 2 */

	/* a listen port picks the peer with that port on the host */
	g_assert_cmpint(admit(a, PARLEY_ADMIT_NATIVE, "192.0.2.1", 5001, &tab, &t), ==, 0);
	g_assert_true(t.matched);
	g_assert_cmpuint(t.match, ==, 1);
	parley_admit_ticket_clear(a, &t, T0);
	/* ... or none: a stranger, never the host's other peer */
	g_assert_cmpint(admit(a, PARLEY_ADMIT_NATIVE, "192.0.2.1", 5002, &tab, &t), ==, 0);
	g_assert_false(t.matched);
	parley_admit_ticket_clear(a, &t, T0);
	/* no listen port, one peer on the host: that peer */
	g_assert_cmpint(admit(a, PARLEY_ADMIT_NATIVE, "198.51.100.9", 0, &tab, &t), ==, 0);
	g_assert_true(t.matched);
	g_assert_cmpuint(t.match, ==, 2);
	parley_admit_ticket_clear(a, &t, T0);
	/* no listen port, two peers on the host, one of them a buddy on the
	 * default port: a stranger would be named after that buddy, so the
	 * caller is refused rather than given the buddy's entry */
	g_assert_cmpint(admit(a, PARLEY_ADMIT_NATIVE, "192.0.2.1", 0, &tab, &t), ==,
	                PARLEY_ERR_REFUSED);
	g_assert_null(t.source);
	g_assert_cmpuint(parley_guard_in_progress(parley_admission_guard(a)), ==, 0);
	/* an unknown host: a stranger */
	g_assert_cmpint(admit(a, PARLEY_ADMIT_NATIVE, "203.0.113.5", 0, &tab, &t), ==, 0);
	g_assert_false(t.matched);
	parley_admit_ticket_clear(a, &t, T0);
	table_clear(&tab);

	/* two peers on a host, neither on the default port, or the one there
	 * a stranger's old entry: the caller is a stranger */
	table_add(&tab, "192.0.2.1:5001", TRUE);
	table_add(&tab, "192.0.2.1:5002", TRUE);
	g_assert_cmpint(admit(a, PARLEY_ADMIT_NATIVE, "192.0.2.1", 0, &tab, &t), ==, 0);
	g_assert_false(t.matched);
	parley_admit_ticket_clear(a, &t, T0);
	table_add(&tab, "192.0.2.1", FALSE);
	g_assert_cmpint(admit(a, PARLEY_ADMIT_NATIVE, "192.0.2.1", 0, &tab, &t), ==, 0);
	g_assert_false(t.matched);
	parley_admit_ticket_clear(a, &t, T0);
	table_clear(&tab);

	/* one peer listed under two keys (its name, and the address a DNS
	 * name resolved to) is still one peer */
	table_add(&tab, "peer.example:5001", TRUE);
	tab.keys[tab.n] = parley_address_host_key("192.0.2.44");
	tab.peers[tab.n] = tab.peers[0];
	tab.peers[tab.n].host_key = tab.keys[tab.n];
	tab.n++;
	g_assert_cmpint(admit(a, PARLEY_ADMIT_NATIVE, "192.0.2.44", 0, &tab, &t), ==, 0);
	g_assert_true(t.matched);
	g_assert_cmpuint(t.match, ==, 0);
	parley_admit_ticket_clear(a, &t, T0);
	g_assert_cmpint(admit(a, PARLEY_ADMIT_NATIVE, "192.0.2.44", 5001, &tab, &t), ==, 0);
	g_assert_true(t.matched);
	parley_admit_ticket_clear(a, &t, T0);
	table_clear(&tab);

	/* loopback spellings are one host */
	table_add(&tab, "localhost:5003", TRUE);
	g_assert_cmpint(admit(a, PARLEY_ADMIT_NATIVE, "127.0.0.1", 5003, &tab, &t), ==, 0);
	g_assert_true(t.matched);
	parley_admit_ticket_clear(a, &t, T0);
	g_assert_cmpint(admit(a, PARLEY_ADMIT_NATIVE, "::1", 5003, &tab, &t), ==, 0);
	g_assert_true(t.matched);
	parley_admit_ticket_clear(a, &t, T0);
	table_clear(&tab);
	g_assert_cmpuint(parley_guard_in_progress(parley_admission_guard(a)), ==, 0);
	parley_admission_free(a);
}

/* The original tool listens on the default port and announces nothing:
 * the peer there is the one that calls. */
static void
test_match_classic(void)
{
	ParleyAdmission *a = parley_admission_new();
	ParleyAdmitTicket t = { 0 };
	Table tab = { 0 };

	table_add(&tab, "192.0.2.1:5001", TRUE);
	table_add(&tab, "192.0.2.1", TRUE);
	g_assert_cmpint(admit(a, PARLEY_ADMIT_CLASSIC, "192.0.2.1", 0, &tab, &t), ==, 0);
	g_assert_true(t.matched);
	g_assert_cmpuint(t.match, ==, 1);
	parley_admit_ticket_clear(a, &t, T0);
	table_clear(&tab);

	table_add(&tab, "192.0.2.1:5001", TRUE);
	g_assert_cmpint(admit(a, PARLEY_ADMIT_CLASSIC, "192.0.2.1", 0, &tab, &t), ==, 0);
	g_assert_true(t.matched);
	parley_admit_ticket_clear(a, &t, T0);
	table_add(&tab, "192.0.2.1:5002", TRUE);
	g_assert_cmpint(admit(a, PARLEY_ADMIT_CLASSIC, "192.0.2.1", 0, &tab, &t), ==, 0);
	g_assert_false(t.matched);
	parley_admit_ticket_clear(a, &t, T0);
	table_clear(&tab);
	parley_admission_free(a);
}

/* One guard slot per connection, released once whatever calls finish:
 * the stall came from a slot taken per key request. */
static void
test_one_slot(void)
{
	ParleyAdmission *a = parley_admission_new();
	ParleyGuard *g = parley_admission_guard(a);
	ParleyAdmitTicket t[PARLEY_MAX_HANDSHAKES_PER_ADDR + 1];
	guint i;

	memset(t, 0, sizeof(t));
	for (i = 0; i < PARLEY_MAX_HANDSHAKES_PER_ADDR; i++)
		g_assert_cmpint(admit(a, PARLEY_ADMIT_CLASSIC, "192.0.2.8", 0, NULL, &t[i]), ==, 0);
	g_assert_cmpint(admit(a, PARLEY_ADMIT_CLASSIC, "192.0.2.8", 0, NULL, &t[i]), ==,
	                PARLEY_ERR_BUSY);
	g_assert_cmpuint(parley_guard_in_progress(g), ==, PARLEY_MAX_HANDSHAKES_PER_ADDR);

	/* the verdict, then every other path that ends a connection */
	parley_admission_finish(a, &t[0], PARLEY_GUARD_SUCCEEDED, T0);
	parley_admission_finish(a, &t[0], PARLEY_GUARD_FAILED, T0);
	parley_admission_finish(a, &t[0], PARLEY_GUARD_ABORTED, T0);
	parley_admit_ticket_clear(a, &t[0], T0);
	g_assert_cmpuint(parley_guard_in_progress(g), ==, PARLEY_MAX_HANDSHAKES_PER_ADDR - 1);
	/* a later failure of a finished connection is no guess on record */
	g_assert_cmpint(parley_guard_blocked_until(g, "192.0.2.8", T0), ==, 0);

	/* a proven connection stays proven, even after its slot went */
	parley_admission_finish(a, &t[1], PARLEY_GUARD_ABORTED, T0);
	g_assert_false(t[1].proven);
	parley_admission_finish(a, &t[1], PARLEY_GUARD_SUCCEEDED, T0);
	g_assert_true(t[1].proven);
	g_assert_cmpuint(parley_guard_in_progress(g), ==, PARLEY_MAX_HANDSHAKES_PER_ADDR - 2);

	for (i = 1; i < PARLEY_MAX_HANDSHAKES_PER_ADDR; i++)
		parley_admit_ticket_clear(a, &t[i], T0);
	g_assert_cmpuint(parley_guard_in_progress(g), ==, 0);
	g_assert_cmpuint(parley_guard_tracked(g), ==, 0);
	parley_admission_free(a);
}

/* A failed guess backs off the whole source: an IPv6 /64, or an IPv4
 * address however it is spelt. */
static void
test_backoff_by_source(void)
{
	ParleyAdmission *a = parley_admission_new();
	ParleyAdmitTicket t = { 0 };

	g_assert_cmpint(admit(a, PARLEY_ADMIT_NATIVE, "2001:db8:1:2::1", 5000, NULL, &t), ==, 0);
	parley_admission_finish(a, &t, PARLEY_GUARD_FAILED, T0);
	parley_admit_ticket_clear(a, &t, T0);
	g_assert_cmpint(admit(a, PARLEY_ADMIT_NATIVE, "2001:db8:1:2::99", 5000, NULL, &t), ==,
	                PARLEY_ERR_BUSY);
	g_assert_cmpint(admit(a, PARLEY_ADMIT_NATIVE, "2001:db8:1:2:1:2:3:4", 5000, NULL, &t), ==,
	                PARLEY_ERR_BUSY);
	/* the next /64 is another source */
	g_assert_cmpint(admit(a, PARLEY_ADMIT_NATIVE, "2001:db8:1:3::1", 5000, NULL, &t), ==, 0);
	parley_admit_ticket_clear(a, &t, T0);

	g_assert_cmpint(admit(a, PARLEY_ADMIT_CLASSIC, "192.0.2.9", 0, NULL, &t), ==, 0);
	parley_admission_finish(a, &t, PARLEY_GUARD_FAILED, T0);
	parley_admit_ticket_clear(a, &t, T0);
	g_assert_cmpint(admit(a, PARLEY_ADMIT_NATIVE, "::ffff:192.0.2.9", 5000, NULL, &t), ==,
	                PARLEY_ERR_BUSY);
	/* after the first backoff (1 s) it may try again */
	g_assert_cmpint(parley_admission_admit(a, PARLEY_ADMIT_NATIVE, "::ffff:192.0.2.9", 5000,
	                                       sid_b, NULL, 0, T0 + S(1), &t), ==, 0);
	parley_admit_ticket_clear(a, &t, T0 + S(1));
	parley_admission_free(a);
}

/* §9 "refusing strangers": with the account's setting off, only a caller
 * whose match is a buddy is let in; every other caller is refused with
 * ERROR 6 before the guard counts anything (no slot, no record, no token,
 * no backoff), in both modes. */
static void
test_refuse_strangers(void)
{
	ParleyAdmission *a = parley_admission_new();
	ParleyGuard *g = parley_admission_guard(a);
	ParleyAdmitTicket t = { 0 };
	Table tab = { 0 };
	guint i;

	table_add(&tab, "192.0.2.1:5001", TRUE);         /* id 0: a buddy */
	table_add(&tab, "198.51.100.9", FALSE);          /* id 1: a stranger's entry */
	table_add(&tab, "[2001:db8:1:2::5]", TRUE);      /* id 2: a buddy, default port */
	parley_admission_set_accept_strangers(a, FALSE);

	/* a buddy, by its listen port; in classic mode, alone on its host */
	g_assert_cmpint(admit(a, PARLEY_ADMIT_NATIVE, "192.0.2.1", 5001, &tab, &t), ==, 0);
	g_assert_true(t.matched);
	g_assert_cmpuint(t.match, ==, 0);
	parley_admit_ticket_clear(a, &t, T0);
	g_assert_cmpint(admit(a, PARLEY_ADMIT_CLASSIC, "192.0.2.1", 0, &tab, &t), ==, 0);
	g_assert_cmpuint(t.match, ==, 0);
	parley_admit_ticket_clear(a, &t, T0);
	g_assert_cmpint(admit(a, PARLEY_ADMIT_NATIVE, "2001:db8:1:2::5", 0, &tab, &t), ==, 0);
	g_assert_cmpuint(t.match, ==, 2);
	parley_admit_ticket_clear(a, &t, T0);

	/* a stranger, however often it calls */
	for (i = 0; i < 100; i++) {
		g_assert_cmpint(admit(a, PARLEY_ADMIT_NATIVE, "203.0.113.5", 5000, &tab, &t), ==,
		                PARLEY_ERR_REFUSED);
		g_assert_null(t.source);
		g_assert_false(t.holding);
		g_assert_cmpint(admit(a, PARLEY_ADMIT_CLASSIC, "203.0.113.5", 0, &tab, &t), ==,
		                PARLEY_ERR_REFUSED);
	}
	/* the buddy's host on another port is not the buddy ... */
	g_assert_cmpint(admit(a, PARLEY_ADMIT_NATIVE, "192.0.2.1", 5002, &tab, &t), ==,
	                PARLEY_ERR_REFUSED);
	/* ... nor is a stranger's old entry, nor the buddy's neighbour in its
	 * /64 (a match is by address; the /64 is for counting) */
	g_assert_cmpint(admit(a, PARLEY_ADMIT_NATIVE, "198.51.100.9", 0, &tab, &t), ==,
	                PARLEY_ERR_REFUSED);
	g_assert_cmpint(admit(a, PARLEY_ADMIT_CLASSIC, "198.51.100.9", 0, &tab, &t), ==,
	                PARLEY_ERR_REFUSED);
	g_assert_cmpint(admit(a, PARLEY_ADMIT_NATIVE, "2001:db8:1:2::6", 0, &tab, &t), ==,
	                PARLEY_ERR_REFUSED);
	/* our own HS1 coming back is still told apart */
	parley_admission_add_own_sid(a, sid_b);
	g_assert_cmpint(admit(a, PARLEY_ADMIT_NATIVE, "203.0.113.5", 5000, &tab, &t), ==,
	                PARLEY_ERR_LOOPBACK);
	parley_admission_remove_own_sid(a, sid_b);

	/* nothing was counted */
	g_assert_cmpuint(parley_guard_in_progress(g), ==, 0);
	g_assert_cmpuint(parley_guard_tracked(g), ==, 0);
	g_assert_cmpuint(parley_guard_budget(g, T0), ==, PARLEY_STRANGER_BUDGET);

	/* the setting back on: strangers are let in again */
	parley_admission_set_accept_strangers(a, TRUE);
	g_assert_cmpint(admit(a, PARLEY_ADMIT_NATIVE, "203.0.113.5", 5000, &tab, &t), ==, 0);
	g_assert_false(t.matched);
	parley_admit_ticket_clear(a, &t, T0);
	table_clear(&tab);
	parley_admission_free(a);
}

/* §9 per account: guesses sprayed from fresh /64s spend the strangers'
 * budget (10 at once); a source that completed a handshake since the
 * admission was made (sign-on) is a friend - any address of its /64 - and
 * is let in meanwhile, its own failures backing off only itself; so is a
 * source this account dialled and completed a handshake with. */
static void
test_budget_friends(void)
{
	ParleyAdmission *a = parley_admission_new();
	ParleyAdmitTicket t = { 0 };
	char ip[64];
	guint i, through = 0;
	ParleyError err;

	/* a peer completes a handshake from one address of its /64 */
	g_assert_cmpint(admit(a, PARLEY_ADMIT_NATIVE, "2001:db8:1:2::1", 5000, NULL, &t), ==, 0);
	parley_admission_finish(a, &t, PARLEY_GUARD_SUCCEEDED, T0);
	parley_admit_ticket_clear(a, &t, T0);

	/* twenty wrong guesses from twenty /64s: ten fail, the rest are
	 * refused with ERROR 4 */
	for (i = 0; i < 20; i++) {
		g_snprintf(ip, sizeof ip, "2001:db8:2:%x::1", i);
		err = admit(a, PARLEY_ADMIT_NATIVE, ip, 5000, NULL, &t);
		if (err == PARLEY_ERR_NONE) {
			parley_admission_finish(a, &t, PARLEY_GUARD_FAILED, T0);
			parley_admit_ticket_clear(a, &t, T0);
			through++;
		} else {
			g_assert_cmpint(err, ==, PARLEY_ERR_BUSY);
			g_assert_null(t.source);
		}
	}
	g_assert_cmpuint(through, ==, PARLEY_STRANGER_BUDGET);
	g_assert_cmpint(admit(a, PARLEY_ADMIT_CLASSIC, "192.0.2.9", 0, NULL, &t), ==,
	                PARLEY_ERR_BUSY);

	/* the friend, from another address of its /64, is let in; a wrong
	 * guess from there backs off that /64 only (1 s) */
	g_assert_cmpint(admit(a, PARLEY_ADMIT_NATIVE, "2001:db8:1:2::99", 5000, NULL, &t), ==, 0);
	parley_admission_finish(a, &t, PARLEY_GUARD_FAILED, T0);
	parley_admit_ticket_clear(a, &t, T0);
	g_assert_cmpint(admit(a, PARLEY_ADMIT_NATIVE, "2001:db8:1:2::1", 5000, NULL, &t), ==,
	                PARLEY_ERR_BUSY);
	g_assert_cmpint(parley_admission_admit(a, PARLEY_ADMIT_NATIVE, "2001:db8:1:2::1", 5000,
	                                       sid_b, NULL, 0, T0 + S(1), &t), ==, 0);
	parley_admit_ticket_clear(a, &t, T0 + S(1));
	g_assert_cmpuint(parley_guard_budget(parley_admission_guard(a), T0 + S(1)), ==, 0);

	/* a source this account dialled and completed a handshake with (an
	 * IPv4-mapped address: the same source as the IPv4 one) */
	parley_admission_befriend(a, "::ffff:192.0.2.50");
	g_assert_cmpint(admit(a, PARLEY_ADMIT_CLASSIC, "192.0.2.50", 0, NULL, &t), ==, 0);
	parley_admit_ticket_clear(a, &t, T0);
	parley_admission_befriend(a, "not an address");      /* nothing to befriend */
	parley_admission_free(a);

	/* friends are this admission's (this sign-on's): a new one starts
	 * with strangers only */
	a = parley_admission_new();
	g_assert_false(parley_guard_is_friend(parley_admission_guard(a), "2001:db8:1:2::/64"));
	parley_admission_free(a);
}

static void
test_may_derive(void)
{
	ParleyAdmitTicket t = { 0 };

	/* our own connections always may */
	g_assert_true(parley_admit_may_derive(NULL, 100));
	/* a caller that has proven nothing: at most PARLEY_MAX_KDF_RUNNING */
	t.holding = TRUE;
	g_assert_true(parley_admit_may_derive(&t, PARLEY_MAX_KDF_RUNNING - 1));
	g_assert_false(parley_admit_may_derive(&t, PARLEY_MAX_KDF_RUNNING));
	t.holding = FALSE;
	g_assert_false(parley_admit_may_derive(&t, PARLEY_MAX_KDF_RUNNING));
	/* a proven one (its classic rekeys) is not a stranger any more */
	t.proven = TRUE;
	g_assert_true(parley_admit_may_derive(&t, 100));
}

static void
test_bad_arguments(void)
{
	ParleyAdmission *a = parley_admission_new();
	ParleyAdmitTicket t = { 0 };

	/* not an address: refused, nothing held */
	g_assert_cmpint(admit(a, PARLEY_ADMIT_NATIVE, "not an address", 5000, NULL, &t), ==,
	                PARLEY_ERR_REFUSED);
	g_assert_null(t.source);
	/* a ticket in use cannot be admitted again */
	g_assert_cmpint(admit(a, PARLEY_ADMIT_NATIVE, "192.0.2.1", 5000, NULL, &t), ==, 0);
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*ticket->source == NULL*");
	g_assert_cmpint(admit(a, PARLEY_ADMIT_NATIVE, "192.0.2.1", 5000, NULL, &t), ==,
	                PARLEY_ERR_STATE);
	g_test_assert_expected_messages();
	parley_admit_ticket_clear(a, &t, T0);
	/* native admission needs HS1's sid */
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*sid != NULL*");
	g_assert_cmpint(parley_admission_admit(a, PARLEY_ADMIT_NATIVE, "192.0.2.1", 5000, NULL,
	                                       NULL, 0, T0, &t), ==, PARLEY_ERR_STATE);
	g_test_assert_expected_messages();
	parley_admission_free(a);
	parley_admission_free(NULL);
}

static void
test_name_sanitize(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "Bob", "Bob" },
		{ "  Bob  ", "Bob" },
		{ "Bo\nb", "Bob" },
		{ "B\x1b[31mob", "B[31mob" },
		{ "\xe2\x80\xae" "boB", "boB" },                    /* RLO */
		{ "Bob\xe2\x81\xa6" "x\xe2\x81\xa9", "Bobx" },      /* LRI .. PDI */
		{ "B\xe2\x80\x8bob", "Bob" },                       /* zero-width space */
		{ "B\xc2\x85ob", "Bob" },                           /* NEL (C1) */
		{ "J\xc3\xbcrgen", "J\xc3\xbcrgen" },               /* letters stay */
		{ "\xff" "x", "\xef\xbf\xbdx" },                    /* invalid: U+FFFD */
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *s = parley_name_sanitize(cases[i].in);

		g_assert_cmpstr(s, ==, cases[i].out);
		g_free(s);
	}
	g_assert_null(parley_name_sanitize(NULL));
	g_assert_null(parley_name_sanitize(""));
	g_assert_null(parley_name_sanitize("\xe2\x80\x8f\n \t"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/admit/source", test_source);
	g_test_add_func("/admit/loopback", test_loopback);
	g_test_add_func("/admit/match-native", test_match_native);
	g_test_add_func("/admit/match-classic", test_match_classic);
	g_test_add_func("/admit/one-slot-per-connection", test_one_slot);
	g_test_add_func("/admit/backoff-by-source", test_backoff_by_source);
	g_test_add_func("/admit/refuse-strangers", test_refuse_strangers);
	g_test_add_func("/admit/budget-and-friends", test_budget_friends);
	g_test_add_func("/admit/may-derive", test_may_derive);
	g_test_add_func("/admit/bad-arguments", test_bad_arguments);
	g_test_add_func("/names/sanitize", test_name_sanitize);
	return g_test_run();
}
