/*
 * test-prs-cache.c - src/prs_cache.c: §3's responder cache of PRS values.
 * Hits and misses on each input, least-recently-used eviction after
 * PARLEY_PRS_CACHE_ENTRIES, recency refreshed by lookups, clear and free
 * (run under valgrind for the latter: nothing may leak).
 */
#include <string.h>
#include <glib.h>

#include "constants.h"
#include "crypto.h"
#include "prs_cache.h"

static const uint8_t SALT_A[PARLEY_SALT_LEN] = "0123456789abcde";
static const uint8_t SALT_B[PARLEY_SALT_LEN] = "0123456789abcdX";

#define PASS(s) (const uint8_t *) (s), strlen(s)

/* A PRS that tells entries apart: every byte is n. */
static void
fake_prs(uint8_t prs[PARLEY_PRS_LEN], guint n)
{
	memset(prs, (int) (n & 0xff), PARLEY_PRS_LEN);
}

static gboolean
has(ParleyPrsCache *c, const char *pass, guint n)
{
	uint8_t got[PARLEY_PRS_LEN], want[PARLEY_PRS_LEN];

	if (!parley_prs_cache_lookup(c, PASS(pass), SALT_A, PARLEY_MIN_ITERATIONS, got))
		return FALSE;
	fake_prs(want, n);
	g_assert_cmpmem(got, sizeof got, want, sizeof want);
	return TRUE;
}

static void
test_hit_and_miss(void)
{
	ParleyPrsCache *c = parley_prs_cache_new();
	uint8_t prs[PARLEY_PRS_LEN], got[PARLEY_PRS_LEN];
	uint8_t zero[PARLEY_PRS_LEN] = { 0 };

	g_assert_cmpuint(parley_prs_cache_size(c), ==, 0);
	memset(got, 0xee, sizeof got);
	g_assert_false(parley_prs_cache_lookup(c, PASS("secret"), SALT_A,
	                                       PARLEY_MIN_ITERATIONS, got));
	/* a miss leaves the output wiped, never stale */
	g_assert_cmpmem(got, sizeof got, zero, sizeof zero);

	parley_random_bytes(prs, sizeof prs);
	parley_prs_cache_store(c, PASS("secret"), SALT_A, PARLEY_MIN_ITERATIONS, prs);
	g_assert_cmpuint(parley_prs_cache_size(c), ==, 1);
	g_assert_true(parley_prs_cache_lookup(c, PASS("secret"), SALT_A,
	                                      PARLEY_MIN_ITERATIONS, got));
	g_assert_cmpmem(got, sizeof got, prs, sizeof prs);

	/* each input is part of the key */
	g_assert_false(parley_prs_cache_lookup(c, PASS("secreT"), SALT_A,
	                                       PARLEY_MIN_ITERATIONS, got));
	g_assert_false(parley_prs_cache_lookup(c, PASS("secret "), SALT_A,
	                                       PARLEY_MIN_ITERATIONS, got));
	g_assert_false(parley_prs_cache_lookup(c, PASS("secre"), SALT_A,
	                                       PARLEY_MIN_ITERATIONS, got));
	g_assert_false(parley_prs_cache_lookup(c, PASS("secret"), SALT_B,
	                                       PARLEY_MIN_ITERATIONS, got));
	g_assert_false(parley_prs_cache_lookup(c, PASS("secret"), SALT_A,
	                                       PARLEY_MIN_ITERATIONS + 1, got));
	g_assert_false(parley_prs_cache_lookup(c, PASS("secret"), SALT_A,
	                                       PARLEY_MIN_ITERATIONS << 8, got));
	g_assert_cmpmem(got, sizeof got, zero, sizeof zero);
	parley_prs_cache_free(c);
}

/* The same passphrase under two salts, or two iteration counts, makes two
 * entries that do not overwrite each other. */
static void
test_separate_entries(void)
{
	ParleyPrsCache *c = parley_prs_cache_new();
	uint8_t p1[PARLEY_PRS_LEN], p2[PARLEY_PRS_LEN], p3[PARLEY_PRS_LEN];
	uint8_t got[PARLEY_PRS_LEN];

	fake_prs(p1, 1);
	fake_prs(p2, 2);
	fake_prs(p3, 3);
	parley_prs_cache_store(c, PASS("pw"), SALT_A, PARLEY_MIN_ITERATIONS, p1);
	parley_prs_cache_store(c, PASS("pw"), SALT_B, PARLEY_MIN_ITERATIONS, p2);
	parley_prs_cache_store(c, PASS("pw"), SALT_A, PARLEY_MAX_ITERATIONS, p3);
	g_assert_cmpuint(parley_prs_cache_size(c), ==, 3);
	g_assert_true(parley_prs_cache_lookup(c, PASS("pw"), SALT_A, PARLEY_MIN_ITERATIONS, got));
	g_assert_cmpmem(got, sizeof got, p1, sizeof p1);
	g_assert_true(parley_prs_cache_lookup(c, PASS("pw"), SALT_B, PARLEY_MIN_ITERATIONS, got));
	g_assert_cmpmem(got, sizeof got, p2, sizeof p2);
	g_assert_true(parley_prs_cache_lookup(c, PASS("pw"), SALT_A, PARLEY_MAX_ITERATIONS, got));
	g_assert_cmpmem(got, sizeof got, p3, sizeof p3);
	parley_prs_cache_free(c);
}

/* Storing the same inputs again replaces the entry rather than adding one. */
static void
test_store_replaces(void)
{
	ParleyPrsCache *c = parley_prs_cache_new();
	uint8_t prs[PARLEY_PRS_LEN];

	fake_prs(prs, 7);
	parley_prs_cache_store(c, PASS("pw"), SALT_A, PARLEY_MIN_ITERATIONS, prs);
	fake_prs(prs, 8);
	parley_prs_cache_store(c, PASS("pw"), SALT_A, PARLEY_MIN_ITERATIONS, prs);
	g_assert_cmpuint(parley_prs_cache_size(c), ==, 1);
	g_assert_true(has(c, "pw", 8));
	parley_prs_cache_free(c);
}

static void
store_n(ParleyPrsCache *c, guint first, guint count)
{
	guint i;

	for (i = first; i < first + count; i++) {
		char pass[16];
		uint8_t prs[PARLEY_PRS_LEN];

		g_snprintf(pass, sizeof pass, "pass-%u", i);
		fake_prs(prs, i);
		parley_prs_cache_store(c, PASS(pass), SALT_A, PARLEY_MIN_ITERATIONS, prs);
	}
}

static gboolean
has_n(ParleyPrsCache *c, guint i)
{
	char pass[16];

	g_snprintf(pass, sizeof pass, "pass-%u", i);
	return has(c, pass, i);
}

static void
test_evicts_lru(void)
{
	ParleyPrsCache *c = parley_prs_cache_new();
	guint i;

	store_n(c, 0, PARLEY_PRS_CACHE_ENTRIES);
	g_assert_cmpuint(parley_prs_cache_size(c), ==, PARLEY_PRS_CACHE_ENTRIES);
	/* (lookups refresh recency, so check in insertion order: the order
	 * of recency stays 0 oldest ... 15 newest) */
	for (i = 0; i < PARLEY_PRS_CACHE_ENTRIES; i++)
		g_assert_true(has_n(c, i));

	/* the seventeenth evicts the oldest, entry 0 */
	store_n(c, PARLEY_PRS_CACHE_ENTRIES, 1);
	g_assert_cmpuint(parley_prs_cache_size(c), ==, PARLEY_PRS_CACHE_ENTRIES);
	g_assert_false(has_n(c, 0));
	for (i = 1; i <= PARLEY_PRS_CACHE_ENTRIES; i++)
		g_assert_true(has_n(c, i));

	/* and the next one evicts entry 1 */
	store_n(c, PARLEY_PRS_CACHE_ENTRIES + 1, 1);
	g_assert_false(has_n(c, 1));
	g_assert_true(has_n(c, 2));
	parley_prs_cache_free(c);
}

static void
test_lookup_refreshes(void)
{
	ParleyPrsCache *c = parley_prs_cache_new();
	guint i;

	store_n(c, 0, PARLEY_PRS_CACHE_ENTRIES);
	/* entry 0 is the oldest; using it makes entry 1 the oldest */
	g_assert_true(has_n(c, 0));
	store_n(c, 100, 1);
	g_assert_true(has_n(c, 0));
	g_assert_false(has_n(c, 1));
	for (i = 2; i < PARLEY_PRS_CACHE_ENTRIES; i++)
		g_assert_true(has_n(c, i));
	g_assert_true(has_n(c, 100));

	/* a miss refreshes nothing: 0 was used before 2..15 and 100 above,
	 * so 0 is the oldest now and goes next */
	g_assert_false(has_n(c, 1));
	store_n(c, 101, 1);
	g_assert_false(has_n(c, 0));
	g_assert_true(has_n(c, 101));
	parley_prs_cache_free(c);
}

/* Re-storing an entry also makes it the most recently used. */
static void
test_store_refreshes(void)
{
	ParleyPrsCache *c = parley_prs_cache_new();

	store_n(c, 0, PARLEY_PRS_CACHE_ENTRIES);
	store_n(c, 0, 1);                   /* refresh entry 0 */
	store_n(c, 50, 1);                  /* evicts entry 1 */
	g_assert_false(has_n(c, 1));
	g_assert_true(has_n(c, 0));
	g_assert_cmpuint(parley_prs_cache_size(c), ==, PARLEY_PRS_CACHE_ENTRIES);
	parley_prs_cache_free(c);
}

static void
test_clear(void)
{
	ParleyPrsCache *c = parley_prs_cache_new();
	guint i;

	store_n(c, 0, PARLEY_PRS_CACHE_ENTRIES);
	parley_prs_cache_clear(c);
	g_assert_cmpuint(parley_prs_cache_size(c), ==, 0);
	for (i = 0; i < PARLEY_PRS_CACHE_ENTRIES; i++)
		g_assert_false(has_n(c, i));
	/* usable again after clearing */
	store_n(c, 3, 1);
	g_assert_true(has_n(c, 3));
	g_assert_cmpuint(parley_prs_cache_size(c), ==, 1);
	parley_prs_cache_free(c);
}

/* Free with full and empty caches, and NULL (valgrind checks the rest). */
static void
test_free(void)
{
	ParleyPrsCache *c = parley_prs_cache_new();

	store_n(c, 0, PARLEY_PRS_CACHE_ENTRIES + 3);
	parley_prs_cache_free(c);
	parley_prs_cache_free(parley_prs_cache_new());
	parley_prs_cache_free(NULL);
}

static void
test_bad_arguments(void)
{
	ParleyPrsCache *c = parley_prs_cache_new();
	uint8_t prs[PARLEY_PRS_LEN];

	fake_prs(prs, 9);
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*salt != NULL*");
	g_assert_false(parley_prs_cache_lookup(c, PASS("pw"), NULL,
	                                       PARLEY_MIN_ITERATIONS, prs));
	g_test_assert_expected_messages();
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*pass != NULL*");
	parley_prs_cache_store(c, NULL, 3, SALT_A, PARLEY_MIN_ITERATIONS, prs);
	g_test_assert_expected_messages();
	g_assert_cmpuint(parley_prs_cache_size(c), ==, 0);
	parley_prs_cache_free(c);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	parley_crypto_init();
	g_test_add_func("/prs-cache/hit-and-miss", test_hit_and_miss);
	g_test_add_func("/prs-cache/separate-entries", test_separate_entries);
	g_test_add_func("/prs-cache/store-replaces", test_store_replaces);
	g_test_add_func("/prs-cache/evicts-lru", test_evicts_lru);
	g_test_add_func("/prs-cache/lookup-refreshes", test_lookup_refreshes);
	g_test_add_func("/prs-cache/store-refreshes", test_store_refreshes);
	g_test_add_func("/prs-cache/clear", test_clear);
	g_test_add_func("/prs-cache/free", test_free);
	g_test_add_func("/prs-cache/bad-arguments", test_bad_arguments);
	return g_test_run();
}
