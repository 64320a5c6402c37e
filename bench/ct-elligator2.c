/*
 * ct-elligator2.c - does the Elligator 2 map's running time depend on its
 * input?  A statistical test in the manner of dudect (Reparaz, Balasch and
 * Verbauwhede, "Dude, is my code constant time?", DATE 2017).
 *
 *   ct-elligator2 [--quick] [--n N] [--only new|old] [--fixed prs|zero]
 *                 [--cpu K] [--seed S]
 *
 * Two input classes, chosen at random for each call: class 0 is one fixed
 * input (by default the map's u for a fixed PRS and sid, as an attacker
 * who keeps the sid fixed would make the responder compute again and
 * again; --fixed zero takes u = 0), class 1 a fresh random u each time.
 * Each call is timed on its own (rdtsc between fences on x86, else
 * CLOCK_MONOTONIC), pinned to one CPU.  Welch's t statistic between the two
 * classes' times is computed on all measurements, on the measurements
 * below each of 100 percentile thresholds (dudect's cropping, which cuts
 * off the interrupts and the neighbours' noise), and on the squared
 * deviations (a second-order test).  |t| above 4.5 says the classes take
 * different times, so the input leaks; a constant-time map stays below it
 * however long the test runs, while a leak grows with sqrt(N).
 *
 * Both maps run in the same process, batch by batch in turn, so that the
 * machine's load is the same for both: "new" is the map in the product
 * (src/crypto.c, constant time), "old" the MPI-based one it replaced, kept
 * for this comparison in tests/elligator2-mpi.c (not in the product).
 *
 * Prints numbers; judges nothing (exit status 0 when it ran).  "make bench"
 * runs it; CT_FLAGS passes options.  docs/security.md has the results.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1           /* sched_getcpu(), sched_setaffinity() */
#endif
#include "config.h"

#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>
#include <gcrypt.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define TIMER_NAME "cycles (rdtsc)"
#else
#define TIMER_NAME "ns (CLOCK_MONOTONIC)"
#endif

#include "crypto.h"
#include "elligator2-mpi.h"

#define DEFAULT_N      1000000  /* measurements per map */
#define QUICK_N        100000
#define BATCH          10000    /* measurements per map per turn */
#define N_PERCENTILES  100      /* dudect's cropping thresholds */
/* test 0: all; 1..N_PERCENTILES: cropped; last: second order */
#define N_TESTS        (N_PERCENTILES + 2)
/* dudect's minimum number of measurements for a test to count */
#define ENOUGH         10000
#define T_THRESHOLD    4.5

/* Welch's t-test, accumulated online (Welford). */
typedef struct {
	double n[2], mean[2], m2[2];
} TTest;

typedef struct {
	const char *name;
	void (*map)(uint8_t g[32], const uint8_t u[32]);
	int batches;                /* run so far: the first two not counted */
	double percentiles[N_PERCENTILES];
	TTest t[N_TESTS];
} Target;

static void
ttest_push(TTest *t, int cls, double x)
{
	double d = x - t->mean[cls];

	t->n[cls] += 1;
	t->mean[cls] += d / t->n[cls];
	t->m2[cls] += d * (x - t->mean[cls]);
}

static double
ttest_t(const TTest *t)
{
	double v0, v1;

	if (t->n[0] < 2 || t->n[1] < 2)
		return 0;
	v0 = t->m2[0] / (t->n[0] - 1);
	v1 = t->m2[1] / (t->n[1] - 1);
	if (v0 / t->n[0] + v1 / t->n[1] <= 0)
		return 0;
	return (t->mean[0] - t->mean[1]) / sqrt(v0 / t->n[0] + v1 / t->n[1]);
}

static inline uint64_t
ticks(void)
{
#if defined(__x86_64__) || defined(__i386__)
	uint64_t t;

	_mm_lfence();
	t = __rdtsc();
	_mm_lfence();
	return t;
#else
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
#endif
}

static void
map_new(uint8_t g[32], const uint8_t u[32])
{
	parley_elligator2_x25519(g, u);
}

static void
map_old(uint8_t g[32], const uint8_t u[32])
{
	if (!ref_elligator2_mpi(g, u, NULL))
		g_error("ct-elligator2: the MPI map failed");
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;

	return (x > y) - (x < y);
}

/* dudect's thresholds: the 1 - 0.5^(10 (i + 1) / 100) quantiles of a
 * batch, from the fastest 7 % up to all but the slowest 0.1 %.  (Taken
 * from the second batch: the first warms caches, libgcrypt's pools and the
 * CPU's clock up and runs slower than the rest.) */
static void
set_percentiles(Target *tg, const double *times, size_t n)
{
	double *s = g_memdup2(times, n * sizeof *s);
	int i;

	qsort(s, n, sizeof *s, cmp_double);
	for (i = 0; i < N_PERCENTILES; i++) {
		double q = 1 - pow(0.5, 10.0 * (i + 1) / N_PERCENTILES);

		tg->percentiles[i] = s[(size_t) (q * (double) (n - 1))];
	}
	g_free(s);
}

static void
update(Target *tg, const double *times, const uint8_t *cls, size_t n)
{
	size_t k;
	int i;

	for (k = 0; k < n; k++) {
		double x = times[k];

		ttest_push(&tg->t[0], cls[k], x);
		for (i = 0; i < N_PERCENTILES; i++)
			if (x < tg->percentiles[i])
				ttest_push(&tg->t[1 + i], cls[k], x);
		if (tg->t[0].n[0] > ENOUGH) {
			double c = x - tg->t[0].mean[cls[k]];

			ttest_push(&tg->t[N_TESTS - 1], cls[k], c * c);
		}
	}
}

/* One batch: classes and inputs drawn first, then each call timed alone. */
static void
run_batch(Target *tg, GRand *rng, const uint8_t fixed[32],
          uint8_t (*in)[32], uint8_t *cls, double *times)
{
	uint8_t g[32];
	size_t k;
	int b;

	for (k = 0; k < BATCH; k++) {
		cls[k] = (uint8_t) (g_rand_int(rng) & 1);
		if (cls[k] == 0) {
			memcpy(in[k], fixed, 32);
		} else {
			for (b = 0; b < 32; b += 4) {
				guint32 r = g_rand_int(rng);

				memcpy(in[k] + b, &r, 4);
			}
		}
	}
	for (k = 0; k < BATCH; k++) {
		uint64_t t0 = ticks();

		tg->map(g, in[k]);
		times[k] = (double) (ticks() - t0);
	}
	if (tg->batches == 1)
		set_percentiles(tg, times, BATCH);
	else if (tg->batches > 1)
		update(tg, times, cls, BATCH);
	tg->batches++;
}

static void
report(const Target *tg)
{
	const TTest *all = &tg->t[0];
	double max_t = 0;
	int i, max_i = 0;

	for (i = 0; i < N_TESTS; i++) {
		double t = fabs(ttest_t(&tg->t[i]));

		if (tg->t[i].n[0] + tg->t[i].n[1] < ENOUGH)
			continue;
		if (t > max_t) {
			max_t = t;
			max_i = i;
		}
	}
	printf("%-4s %9.0f %9.0f %12.1f %12.1f %9.2f %9.2f  %-14s %s\n",
	       tg->name, all->n[0], all->n[1], all->mean[0], all->mean[1],
	       fabs(ttest_t(all)), max_t,
	       max_i == 0 ? "all" : max_i == N_TESTS - 1 ? "2nd order"
	       : "cropped",
	       max_t > T_THRESHOLD ? "LEAK: times differ by class"
	       : "no leak detected");
	if (max_i > 0 && max_i < N_TESTS - 1)
		printf("     (largest |t| on the measurements below the %.1f %% "
		       "threshold: %.1f %% of them)\n",
		       100 * (1 - pow(0.5, 10.0 * max_i / N_PERCENTILES)),
		       100 * (tg->t[max_i].n[0] + tg->t[max_i].n[1])
		       / (all->n[0] + all->n[1]));
}

int
main(int argc, char **argv)
{
	Target targets[2] = {
		{ .name = "new", .map = map_new },
		{ .name = "old", .map = map_old },
	};
	gboolean use[2] = { TRUE, TRUE }, fixed_zero = FALSE;
	long n = DEFAULT_N, done;
	int cpu = -1, i, turn;
	guint32 seed;
	uint8_t fixed[32], (*in)[32], *cls;
	double *times;
	GRand *rng;
	cpu_set_t set;
	gint64 start;

	gcry_create_nonce(&seed, sizeof seed);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			n = QUICK_N;
		else if (strcmp(argv[i], "--n") == 0 && i + 1 < argc)
			n = atol(argv[++i]);
		else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
			i++;
			use[0] = strcmp(argv[i], "new") == 0;
			use[1] = strcmp(argv[i], "old") == 0;
		} else if (strcmp(argv[i], "--fixed") == 0 && i + 1 < argc)
			fixed_zero = strcmp(argv[++i], "zero") == 0;
		else if (strcmp(argv[i], "--cpu") == 0 && i + 1 < argc)
			cpu = atoi(argv[++i]);
		else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			seed = (guint32) strtoul(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: %s [--quick] [--n N] [--only new|old] "
			        "[--fixed prs|zero] [--cpu K] [--seed S]\n", argv[0]);
			return 2;
		}
	}
	if (n < 2 * BATCH || (!use[0] && !use[1])) {
		fprintf(stderr, "ct-elligator2: need --n >= %d and a map\n", 2 * BATCH);
		return 2;
	}
	if (!parley_crypto_init())
		g_error("ct-elligator2: libgcrypt too old");

	/* One CPU: no migrations between the two timestamps. */
	if (cpu < 0)
		cpu = sched_getcpu();
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (cpu < 0 || sched_setaffinity(0, sizeof set, &set) != 0)
		cpu = -1;

	/* The fixed class: u for a fixed PRS and sid, as the responder's
	 * cache and an attacker's fixed sid would give (or u = 0). */
	memset(fixed, 0, sizeof fixed);
	if (!fixed_zero) {
		static const uint8_t prs[32] = { 0x33, 0x33, 0x33, 0x33 };
		static const uint8_t sid[16] = { 0x44 };
		GByteArray *gs = g_byte_array_new();
		uint8_t h[64];

		parley_cpace_generator_string(gs, "CPace255", 8, prs, sizeof prs,
		                              "parley/1", 8, sid, sizeof sid);
		if (!parley_sha512(gs->data, gs->len, h))
			g_error("ct-elligator2: SHA-512 failed");
		memcpy(fixed, h, 32);
		g_byte_array_unref(gs);
	}

	printf("Elligator 2 map, dudect-style timing test: fixed input (%s) vs "
	       "random inputs\n", fixed_zero ? "u = 0" : "u of a fixed PRS and sid");
	printf("%ld measurements per map (after %d to warm up and set the "
	       "cropping thresholds), timer %s, %s, seed %u\n", n, 2 * BATCH,
	       TIMER_NAME,
	       cpu >= 0 ? "pinned to one CPU" : "not pinned", seed);
	fflush(stdout);

	rng = g_rand_new_with_seed(seed);
	in = g_malloc(BATCH * sizeof *in);
	cls = g_malloc(BATCH);
	times = g_malloc(BATCH * sizeof *times);
	start = g_get_monotonic_time();

	for (done = 0, turn = 0; done < n + 2 * BATCH; done += BATCH, turn++) {
		/* alternate which map goes first, so neither always follows
		 * the other's cache footprint */
		for (i = 0; i < 2; i++) {
			Target *tg = &targets[(turn + i) % 2];

			if (use[tg == &targets[0] ? 0 : 1])
				run_batch(tg, rng, fixed, in, cls, times);
		}
	}

	printf("map  n(fixed) n(random)  mean(fixed) mean(random)    |t|all   max|t|  max from       verdict (|t| > %.1f)\n",
	       T_THRESHOLD);
	for (i = 0; i < 2; i++)
		if (use[i])
			report(&targets[i]);
	printf("(%.0f s; means in %s per call)\n",
	       (double) (g_get_monotonic_time() - start) / 1e6, TIMER_NAME);

	g_free(times);
	g_free(cls);
	g_free(in);
	g_rand_free(rng);
	return 0;
}
