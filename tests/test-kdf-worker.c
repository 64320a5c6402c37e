/*
 * test-kdf-worker.c - src/kdf_worker.c: results equal PBKDF2 computed
 * inline, done() runs in the submitting thread's context, cancel in every
 * phase, at most two computations at once, shutdown with jobs in flight.
 *
 * Every test ends with parley_kdf_shutdown(), which also resets the
 * concurrency statistic, so the tests do not see each other's jobs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1           /* memmem */
#endif
#include <string.h>
#include <glib.h>

#include "constants.h"
#include "crypto.h"
#include "kdf_worker.h"

/* ---- freed memory: free() and realloc() replaced, as in test-session.c:
 * while armed, each block handed back (from any thread) is searched for the
 * watched bytes, and realloc() always moves.  Not under AddressSanitizer. */
#if defined(__SANITIZE_ADDRESS__)
#define FREE_WATCH 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define FREE_WATCH 0
#endif
#endif
#if !defined(FREE_WATCH) && defined(__GLIBC__)
#define FREE_WATCH 1
#endif
#ifndef FREE_WATCH
#define FREE_WATCH 0
#endif

static const uint8_t *watch_p[2];
static size_t watch_len[2];
static gint watch_armed, watch_hits;

#if FREE_WATCH
#include <malloc.h>

void *__libc_malloc(size_t n);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);

void
free(void *p)
{
	if (p != NULL && g_atomic_int_get(&watch_armed)) {
		size_t len = malloc_usable_size(p);
		int i;

		for (i = 0; i < 2; i++)
			if (watch_len[i] > 0 && len >= watch_len[i] &&
			    memmem(p, len, watch_p[i], watch_len[i]) != NULL)
				g_atomic_int_inc(&watch_hits);
	}
	__libc_free(p);
}

void *
realloc(void *p, size_t n)
{
	void *q;

	if (p == NULL || !g_atomic_int_get(&watch_armed))
		return __libc_realloc(p, n);
	if (n == 0) {
		free(p);
		return NULL;
	}
	q = __libc_malloc(n);
	if (q == NULL)
		return NULL;
	memcpy(q, p, MIN(malloc_usable_size(p), n));
	free(p);
	return q;
}
#endif

/* Valgrind runs one thread at a time and, unless --fair-sched=yes, may let
 * one worker starve the other: then "both workers were busy at once" is not
 * guaranteed, only "never more than two". */
#include "under-valgrind.h"

#define FAST_ITERATIONS   1000u     /* quick, where only plumbing matters */
#define SLOW_ITERATIONS   50000u    /* long enough to overlap or be cancelled */
#define WAIT_LIMIT_US     (120 * G_USEC_PER_SEC)  /* generous for valgrind */

typedef struct {
	guint calls;
	gboolean ok;
	uint8_t out[PARLEY_KDF_MAX_OUT];
	size_t out_len;
	GThread *thread;
} Result;

static void
record_done(const uint8_t *out, size_t out_len, gboolean ok, gpointer user_data)
{
	Result *r = user_data;

	r->calls++;
	r->ok = ok;
	r->out_len = out_len;
	r->thread = g_thread_self();
	if (ok) {
		g_assert_nonnull(out);
		g_assert_cmpuint(out_len, <=, sizeof r->out);
		memcpy(r->out, out, out_len);
	} else {
		g_assert_null(out);
		g_assert_cmpuint(out_len, ==, 0);
	}
}

static void
never_done(const uint8_t *out, size_t out_len, gboolean ok, gpointer user_data)
{
	g_assert_not_reached();
}

/* Iterate ctx until *flag becomes true; fail the test after WAIT_LIMIT_US. */
static void
iterate_until(GMainContext *ctx, const guint *counter, guint target)
{
	gint64 deadline = g_get_monotonic_time() + WAIT_LIMIT_US;

	while (*counter < target) {
		g_assert_cmpint(g_get_monotonic_time(), <, deadline);
		if (!g_main_context_iteration(ctx, FALSE))
			g_usleep(1000);
	}
}

/* Iterate ctx until no job is busy. */
static void
iterate_until_idle(GMainContext *ctx)
{
	gint64 deadline = g_get_monotonic_time() + WAIT_LIMIT_US;

	while (parley_kdf_busy() > 0) {
		g_assert_cmpint(g_get_monotonic_time(), <, deadline);
		if (!g_main_context_iteration(ctx, FALSE))
			g_usleep(1000);
	}
}

/* A few more iterations, to give a wrongly delivered result its chance. */
static void
drain(GMainContext *ctx)
{
	int i;

	for (i = 0; i < 20; i++) {
		while (g_main_context_iteration(ctx, FALSE))
			;
		g_usleep(1000);
	}
}

static void
test_matches_inline(void)
{
	static const struct {
		const char *pass;
		const char *salt;
		guint32 iterations;
		size_t out_len;
	} cases[] = {
		{ "correct horse battery staple", "0123456789abcdef", FAST_ITERATIONS, PARLEY_PRS_LEN },
		{ "p", "salt", 1, 16 },
		{ "another passphrase", "fedcba9876543210", 2 * FAST_ITERATIONS, PARLEY_PRS_LEN },
		{ "a longer passphrase that goes past one SHA-256 block of sixty-four bytes",
		  "0123456789abcdef", FAST_ITERATIONS, PARLEY_KDF_MAX_OUT },
	};
	Result results[G_N_ELEMENTS(cases)];
	guint finished = 0, i;
	GThread *self = g_thread_self();

	memset(results, 0, sizeof results);
	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		ParleyKdfJob *job;

		job = parley_kdf_submit((const uint8_t *) cases[i].pass, strlen(cases[i].pass),
		                        (const uint8_t *) cases[i].salt, strlen(cases[i].salt),
		                        cases[i].iterations, cases[i].out_len,
		                        record_done, &results[i]);
		g_assert_nonnull(job);
	}
	/* done() is only called from the main loop, never synchronously. */
	for (i = 0; i < G_N_ELEMENTS(cases); i++)
		g_assert_cmpuint(results[i].calls, ==, 0);

	while (finished < G_N_ELEMENTS(cases)) {
		iterate_until(NULL, &results[finished].calls, 1);
		finished++;
	}
	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		uint8_t expect[PARLEY_KDF_MAX_OUT];

		g_assert_true(parley_pbkdf2_sha256(cases[i].pass, strlen(cases[i].pass),
		                                   cases[i].salt, strlen(cases[i].salt),
		                                   cases[i].iterations,
		                                   expect, cases[i].out_len));
		g_assert_cmpuint(results[i].calls, ==, 1);
		g_assert_true(results[i].ok);
		g_assert_true(results[i].thread == self);
		g_assert_cmpmem(results[i].out, results[i].out_len, expect, cases[i].out_len);
	}
	g_assert_cmpuint(parley_kdf_busy(), ==, 0);
	parley_kdf_shutdown();
}

/* RFC 7914 §11, first PBKDF2-HMAC-SHA256 vector, through the worker. */
static void
test_published_vector(void)
{
	static const uint8_t expect[64] = {
		0x55, 0xac, 0x04, 0x6e, 0x56, 0xe3, 0x08, 0x9f, 0xec, 0x16, 0x91, 0xc2,
		0x25, 0x44, 0xb6, 0x05, 0xf9, 0x41, 0x85, 0x21, 0x6d, 0xde, 0x04, 0x65,
		0xe6, 0x8b, 0x9d, 0x57, 0xc2, 0x0d, 0xac, 0xbc, 0x49, 0xca, 0x9c, 0xcc,
		0xf1, 0x79, 0xb6, 0x45, 0x99, 0x16, 0x64, 0xb3, 0x9d, 0x77, 0xef, 0x31,
		0x7c, 0x71, 0xb8, 0x45, 0xb1, 0xe3, 0x0b, 0xd5, 0x09, 0x11, 0x20, 0x41,
		0xd3, 0xa1, 0x97, 0x83,
	};
	Result r = { 0 };

	g_assert_nonnull(parley_kdf_submit((const uint8_t *) "passwd", 6,
	                                   (const uint8_t *) "salt", 4, 1, 64,
	                                   record_done, &r));
	iterate_until(NULL, &r.calls, 1);
	g_assert_true(r.ok);
	g_assert_cmpmem(r.out, r.out_len, expect, sizeof expect);
	parley_kdf_shutdown();
}

static void
test_failure_reported(void)
{
	Result r = { 0 };

	/* An empty passphrase is refused by parley_pbkdf2_sha256(): the job
	 * still completes, with ok = FALSE. */
	g_assert_nonnull(parley_kdf_submit((const uint8_t *) "", 0,
	                                   (const uint8_t *) "salt", 4,
	                                   FAST_ITERATIONS, PARLEY_PRS_LEN,
	                                   record_done, &r));
	iterate_until(NULL, &r.calls, 1);
	g_assert_false(r.ok);
	g_assert_true(r.thread == g_thread_self());
	g_assert_cmpuint(parley_kdf_busy(), ==, 0);
	parley_kdf_shutdown();
}

/* A thread with its own thread-default context gets its results there. */
static gpointer
own_context_thread(gpointer data)
{
	GMainContext *ctx = g_main_context_new();
	Result r = { 0 };
	uint8_t expect[PARLEY_PRS_LEN];

	g_main_context_push_thread_default(ctx);
	g_assert_nonnull(parley_kdf_submit((const uint8_t *) "pass", 4,
	                                   (const uint8_t *) "salt", 4,
	                                   FAST_ITERATIONS, PARLEY_PRS_LEN,
	                                   record_done, &r));
	iterate_until(ctx, &r.calls, 1);
	g_main_context_pop_thread_default(ctx);
	g_main_context_unref(ctx);

	g_assert_true(parley_pbkdf2_sha256("pass", 4, "salt", 4, FAST_ITERATIONS,
	                                   expect, sizeof expect));
	g_assert_true(r.ok);
	g_assert_cmpmem(r.out, r.out_len, expect, sizeof expect);
	return r.thread;
}

static void
test_thread_default_context(void)
{
	GThread *t = g_thread_new("kdf-client", own_context_thread, NULL);
	GThread *done_on;

	done_on = g_thread_join(t);
	/* done() ran on the submitting thread, not here and not on a worker */
	g_assert_true(done_on == t);
	g_assert_true(done_on != g_thread_self());
	parley_kdf_shutdown();
}

static void
test_cancel_queued(void)
{
	Result busy1 = { 0 }, busy2 = { 0 };
	ParleyKdfJob *queued[3];
	guint i;

	/* Two slow jobs take both workers; the next three wait in the queue. */
	g_assert_nonnull(parley_kdf_submit((const uint8_t *) "a", 1, (const uint8_t *) "s", 1,
	                                   SLOW_ITERATIONS, 32, record_done, &busy1));
	g_assert_nonnull(parley_kdf_submit((const uint8_t *) "b", 1, (const uint8_t *) "s", 1,
	                                   SLOW_ITERATIONS, 32, record_done, &busy2));
	for (i = 0; i < G_N_ELEMENTS(queued); i++) {
		queued[i] = parley_kdf_submit((const uint8_t *) "c", 1, (const uint8_t *) "s", 1,
		                              SLOW_ITERATIONS, 32, never_done, NULL);
		g_assert_nonnull(queued[i]);
	}
	g_assert_cmpuint(parley_kdf_busy(), ==, 5);
	for (i = 0; i < G_N_ELEMENTS(queued); i++)
		parley_kdf_cancel(queued[i]);

	iterate_until_idle(NULL);
	drain(NULL);
	g_assert_cmpuint(busy1.calls, ==, 1);
	g_assert_cmpuint(busy2.calls, ==, 1);
	g_assert_true(busy1.ok && busy2.ok);
	parley_kdf_shutdown();
}

static void
test_cancel_running(void)
{
	ParleyKdfJob *job;
	gint64 deadline = g_get_monotonic_time() + WAIT_LIMIT_US;

	/* the worker holds the job after PBKDF2, however fast it ran */
	parley_kdf_hold(TRUE);
	job = parley_kdf_submit((const uint8_t *) "pass", 4, (const uint8_t *) "salt", 4,
	                        SLOW_ITERATIONS, 32, never_done, NULL);
	g_assert_nonnull(job);
	/* Wait until a worker has picked it up (the statistic was reset by the
	 * previous test's shutdown). */
	while (parley_kdf_max_concurrent_seen() == 0) {
		g_assert_cmpint(g_get_monotonic_time(), <, deadline);
		g_usleep(100);
	}
	parley_kdf_cancel(job);
	/* Still busy while the worker has it: a cancelled job frees no slot */
	g_usleep(50000);
	drain(NULL);
	g_assert_cmpuint(parley_kdf_busy(), ==, 1);
	/* then freed, and done is never called */
	parley_kdf_hold(FALSE);
	iterate_until_idle(NULL);
	drain(NULL);
	g_assert_cmpuint(parley_kdf_busy(), ==, 0);
	parley_kdf_shutdown();
}

/* parley_kdf_shutdown() lets held workers go rather than wait for ever. */
static void
test_shutdown_releases_hold(void)
{
	Result r = { 0 };
	gint64 deadline = g_get_monotonic_time() + WAIT_LIMIT_US;

	parley_kdf_hold(TRUE);
	g_assert_nonnull(parley_kdf_submit((const uint8_t *) "pass", 4, (const uint8_t *) "salt",
	                                   4, FAST_ITERATIONS, 32, record_done, &r));
	while (parley_kdf_max_concurrent_seen() == 0) {
		g_assert_cmpint(g_get_monotonic_time(), <, deadline);
		g_usleep(100);
	}
	parley_kdf_shutdown();
	drain(NULL);
	g_assert_cmpuint(r.calls, ==, 0);
	g_assert_cmpuint(parley_kdf_busy(), ==, 0);
	/* and the next job runs normally */
	g_assert_nonnull(parley_kdf_submit((const uint8_t *) "pass", 4, (const uint8_t *) "salt",
	                                   4, FAST_ITERATIONS, 32, record_done, &r));
	iterate_until_idle(NULL);
	g_assert_cmpuint(r.calls, ==, 1);
	g_assert_true(r.ok);
	parley_kdf_shutdown();
}

static void
test_cancel_after_finish(void)
{
	GMainContext *ctx = g_main_context_new();
	ParleyKdfJob *job;
	gint64 deadline = g_get_monotonic_time() + WAIT_LIMIT_US;

	g_main_context_push_thread_default(ctx);
	job = parley_kdf_submit((const uint8_t *) "pass", 4, (const uint8_t *) "salt", 4,
	                        FAST_ITERATIONS, 32, never_done, NULL);
	g_assert_nonnull(job);
	/* The worker is done and the result is queued on ctx, not yet run
	 * (g_main_context_pending() checks without dispatching). */
	while (!g_main_context_pending(ctx)) {
		g_assert_cmpint(g_get_monotonic_time(), <, deadline);
		g_usleep(100);
	}
	g_assert_cmpuint(parley_kdf_busy(), ==, 1);
	parley_kdf_cancel(job);
	/* The queued result was dropped and the job freed at once. */
	g_assert_cmpuint(parley_kdf_busy(), ==, 0);
	drain(ctx);
	g_main_context_pop_thread_default(ctx);
	g_main_context_unref(ctx);
	parley_kdf_shutdown();
}

/* Neither the passphrase nor the PRS reaches freed heap on the way
 * through the worker: delivered, or cancelled with its result waiting. */
static void
test_freed_memory(void)
{
	static const char pass[] = "ferret-moehre-4711-lantern";
	static const char salt[] = "0123456789abcdef";
	uint8_t prs[PARLEY_PRS_LEN];
	Result r;
	GMainContext *ctx;
	ParleyKdfJob *job;
	gint64 deadline;

	if (!FREE_WATCH) {
		g_test_skip("free() cannot be watched in this build");
		return;
	}
	g_assert_true(parley_pbkdf2_sha256(pass, strlen(pass), salt, 16,
	                                   FAST_ITERATIONS, prs, sizeof prs));
	watch_p[0] = (const uint8_t *) pass;
	watch_len[0] = strlen(pass);
	watch_p[1] = prs;
	watch_len[1] = sizeof prs;
	g_atomic_int_set(&watch_hits, 0);
	g_atomic_int_set(&watch_armed, 1);

	memset(&r, 0, sizeof r);
	g_assert_nonnull(parley_kdf_submit((const uint8_t *) pass, strlen(pass),
	                                   (const uint8_t *) salt, 16, FAST_ITERATIONS,
	                                   sizeof prs, record_done, &r));
	iterate_until(NULL, &r.calls, 1);
	g_assert_true(r.ok);
	g_assert_cmpmem(r.out, r.out_len, prs, sizeof prs);
	parley_wipe(r.out, sizeof r.out);

	ctx = g_main_context_new();
	g_main_context_push_thread_default(ctx);
	job = parley_kdf_submit((const uint8_t *) pass, strlen(pass),
	                        (const uint8_t *) salt, 16, FAST_ITERATIONS,
	                        sizeof prs, never_done, NULL);
	deadline = g_get_monotonic_time() + WAIT_LIMIT_US;
	while (!g_main_context_pending(ctx)) {
		g_assert_cmpint(g_get_monotonic_time(), <, deadline);
		g_usleep(100);
	}
	parley_kdf_cancel(job);
	drain(ctx);
	g_main_context_pop_thread_default(ctx);
	g_main_context_unref(ctx);
	parley_kdf_shutdown();

	g_atomic_int_set(&watch_armed, 0);
	g_assert_cmpint(g_atomic_int_get(&watch_hits), ==, 0);
	parley_wipe(prs, sizeof prs);
}

static void
test_two_at_once(void)
{
	enum { N = 12 };
	Result r[N];
	guint i, all = 0;

	memset(r, 0, sizeof r);
	for (i = 0; i < N; i++) {
		char pass[16];

		g_snprintf(pass, sizeof pass, "pass-%u", i);
		g_assert_nonnull(parley_kdf_submit((const uint8_t *) pass, strlen(pass),
		                                   (const uint8_t *) "0123456789abcdef", 16,
		                                   SLOW_ITERATIONS, PARLEY_PRS_LEN,
		                                   record_done, &r[i]));
	}
	g_assert_cmpuint(parley_kdf_busy(), ==, N);
	for (i = 0; i < N; i++) {
		iterate_until(NULL, &r[i].calls, 1);
		all += r[i].calls;
	}
	g_assert_cmpuint(all, ==, N);
	for (i = 0; i < N; i++) {
		char pass[16];
		uint8_t expect[PARLEY_PRS_LEN];

		g_snprintf(pass, sizeof pass, "pass-%u", i);
		g_assert_true(parley_pbkdf2_sha256(pass, strlen(pass), "0123456789abcdef", 16,
		                                   SLOW_ITERATIONS, expect, sizeof expect));
		g_assert_true(r[i].ok);
		g_assert_cmpmem(r[i].out, r[i].out_len, expect, sizeof expect);
	}
	/* §9: never more than two; with twelve jobs queued at once both
	 * workers were in use (which also shows the counter works). */
	g_assert_cmpuint(parley_kdf_max_concurrent_seen(), <=, PARLEY_MAX_KDF_RUNNING);
	if (!UNDER_VALGRIND())
		g_assert_cmpuint(parley_kdf_max_concurrent_seen(), ==, PARLEY_MAX_KDF_RUNNING);
	else
		g_assert_cmpuint(parley_kdf_max_concurrent_seen(), >=, 1);
	g_assert_cmpuint(parley_kdf_busy(), ==, 0);
	parley_kdf_shutdown();
}

/* done() may submit the next job; the delivered one no longer counts. */
typedef struct {
	guint remaining;
	guint calls;
	guint busy_seen_in_done;
} Chain;

static void
chain_done(const uint8_t *out, size_t out_len, gboolean ok, gpointer user_data)
{
	Chain *c = user_data;

	g_assert_true(ok);
	c->calls++;
	c->busy_seen_in_done = MAX(c->busy_seen_in_done, parley_kdf_busy());
	if (c->remaining > 0) {
		c->remaining--;
		g_assert_nonnull(parley_kdf_submit((const uint8_t *) "p", 1,
		                                   (const uint8_t *) "s", 1,
		                                   FAST_ITERATIONS, 32, chain_done, c));
	}
}

static void
test_submit_from_done(void)
{
	Chain c = { 4, 0, 0 };

	g_assert_nonnull(parley_kdf_submit((const uint8_t *) "p", 1, (const uint8_t *) "s", 1,
	                                   FAST_ITERATIONS, 32, chain_done, &c));
	iterate_until(NULL, &c.calls, 5);
	g_assert_cmpuint(c.busy_seen_in_done, ==, 0);
	g_assert_cmpuint(parley_kdf_busy(), ==, 0);
	parley_kdf_shutdown();
}

static void
test_shutdown_in_flight(void)
{
	GMainContext *ctx = g_main_context_new();
	Result after = { 0 };
	gint64 deadline = g_get_monotonic_time() + WAIT_LIMIT_US;
	guint i;

	g_main_context_push_thread_default(ctx);
	/* One finished with its result waiting in the main loop ... */
	g_assert_nonnull(parley_kdf_submit((const uint8_t *) "pass", 4,
	                                   (const uint8_t *) "salt", 4,
	                                   1, 32, never_done, NULL));
	while (!g_main_context_pending(ctx)) {
		g_assert_cmpint(g_get_monotonic_time(), <, deadline);
		g_usleep(100);
	}
	/* ... two running and four queued. */
	for (i = 0; i < 6; i++)
		g_assert_nonnull(parley_kdf_submit((const uint8_t *) "pass", 4,
		                                   (const uint8_t *) "salt", 4,
		                                   SLOW_ITERATIONS, 32, never_done, NULL));
	g_assert_cmpuint(parley_kdf_busy(), ==, 7);
	parley_kdf_shutdown();
	g_assert_cmpuint(parley_kdf_busy(), ==, 0);
	drain(ctx);

	/* The module works again after a shutdown. */
	g_assert_nonnull(parley_kdf_submit((const uint8_t *) "pass", 4,
	                                   (const uint8_t *) "salt", 4,
	                                   FAST_ITERATIONS, 32, record_done, &after));
	iterate_until(ctx, &after.calls, 1);
	g_assert_true(after.ok);
	g_main_context_pop_thread_default(ctx);
	g_main_context_unref(ctx);
	parley_kdf_shutdown();
	/* Twice in a row, and with nothing to do, is fine. */
	parley_kdf_shutdown();
}

static void
test_bad_arguments(void)
{
	Result r = { 0 };

	/* caller bugs: refused with a critical, nothing queued */
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*done != NULL*");
	g_assert_null(parley_kdf_submit((const uint8_t *) "p", 1, (const uint8_t *) "s", 1,
	                                FAST_ITERATIONS, 32, NULL, NULL));
	g_test_assert_expected_messages();
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*out_len > 0*");
	g_assert_null(parley_kdf_submit((const uint8_t *) "p", 1, (const uint8_t *) "s", 1,
	                                FAST_ITERATIONS, 0, record_done, &r));
	g_test_assert_expected_messages();
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*out_len > 0*");
	g_assert_null(parley_kdf_submit((const uint8_t *) "p", 1, (const uint8_t *) "s", 1,
	                                FAST_ITERATIONS, PARLEY_KDF_MAX_OUT + 1,
	                                record_done, &r));
	g_test_assert_expected_messages();
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*pass != NULL*");
	g_assert_null(parley_kdf_submit(NULL, 1, (const uint8_t *) "s", 1,
	                                FAST_ITERATIONS, 32, record_done, &r));
	g_test_assert_expected_messages();
	g_assert_cmpuint(parley_kdf_busy(), ==, 0);
	g_assert_cmpuint(r.calls, ==, 0);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	parley_crypto_init();
	g_test_add_func("/kdf-worker/matches-inline", test_matches_inline);
	g_test_add_func("/kdf-worker/published-vector", test_published_vector);
	g_test_add_func("/kdf-worker/failure-reported", test_failure_reported);
	g_test_add_func("/kdf-worker/thread-default-context", test_thread_default_context);
	g_test_add_func("/kdf-worker/cancel-queued", test_cancel_queued);
	g_test_add_func("/kdf-worker/cancel-running", test_cancel_running);
	g_test_add_func("/kdf-worker/shutdown-releases-hold", test_shutdown_releases_hold);
	g_test_add_func("/kdf-worker/cancel-after-finish", test_cancel_after_finish);
	g_test_add_func("/kdf-worker/freed-memory", test_freed_memory);
	g_test_add_func("/kdf-worker/two-at-once", test_two_at_once);
	g_test_add_func("/kdf-worker/submit-from-done", test_submit_from_done);
	g_test_add_func("/kdf-worker/shutdown-in-flight", test_shutdown_in_flight);
	g_test_add_func("/kdf-worker/bad-arguments", test_bad_arguments);
	return g_test_run();
}
