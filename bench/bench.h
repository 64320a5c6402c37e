/*
 * bench.h - what the parts of the benchmark program share.
 *
 * One program, several roles (argv[1]): with no role it is the conductor,
 * which measures the protocol core in its own process (core.c) and starts
 * copies of itself for everything that needs libpurple or a second process:
 * two headless hosts chatting over loopback ("e2e-a", "e2e-b"), one
 * listening host ("listen"), all in e2e.c, two hosts and the fault proxy
 * between them for the handshake over a round trip ("rtt-a", "rtt-b",
 * "rtt-link", rtt.c), and the load generator ("loadgen", loadgen.c).  A child reports what it measured as lines on its stdout,
 *
 *   fig <name> <value>
 *
 * and is told what to do next by lines on its stdin; anything else it has
 * to say goes to stderr.  The conductor prints one line per figure and a
 * JSON summary (bench.c).
 *
 * Every figure is measured next to its reference in the same run: CPU
 * figures with CLOCK_THREAD_CPUTIME_ID (the machine may be shared, so wall
 * time would measure the neighbours), throughput against bare libgcrypt on
 * the same buffers.
 *
 * Ownership: BenchFigures owns its names; a BenchChild owns its pipes and
 * is reaped by bench_child_wait().
 */
#ifndef PARLEY_BENCH_H
#define PARLEY_BENCH_H

#include <glib.h>

/* A core call that cannot fail on a working libgcrypt: if it does, the
 * figures would mean nothing, so stop. */
#define BENCH_CHECK(expr) G_STMT_START { \
	if (!(expr)) \
		g_error("bench: %s failed", #expr); \
} G_STMT_END
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* the passphrase every benchmark account and load generator shares */
#define BENCH_PASSPHRASE "correct horse battery staple"
/* the messages of the end-to-end and scale runs */
#define BENCH_MSG_LEN    100

/* ---- clocks ------------------------------------------------------------ */

gint64 bench_now_ns(void);            /* CLOCK_MONOTONIC */
gint64 bench_thread_cpu_ns(void);     /* CLOCK_THREAD_CPUTIME_ID */
/* CPU time of the whole process, all threads, user and system (s). */
double bench_process_cpu_s(void);
/* Resident set size of this process, from /proc/self/statm, in KiB. */
long bench_rss_kib(void);
/* Raise RLIMIT_NOFILE to its hard limit; returns the soft limit now. */
long bench_raise_nofile(void);

/* ---- statistics --------------------------------------------------------- */

/* The q-quantile (0..1) of n samples (sorted in place). */
double bench_quantile(double *v, size_t n, double q);
double bench_median(double *v, size_t n);

/* ---- figures -------------------------------------------------------------- */

typedef struct {
	GHashTable *values;         /* name -> double* */
	GPtrArray *order;           /* names in the order first set */
} BenchFigures;

void bench_figures_init(BenchFigures *f);
void bench_figures_clear(BenchFigures *f);
void bench_fig_set(BenchFigures *f, const char *name, double v);
gboolean bench_fig_get(const BenchFigures *f, const char *name, double *v);
/* Parse "fig <name> <value>" lines; TRUE if line was one. */
gboolean bench_fig_parse(BenchFigures *f, const char *line);
/* In a child: report a figure to the conductor. */
void bench_report(const char *name, double v);

/* ---- lines from a pipe ------------------------------------------------------ */

typedef struct {
	int fd;
	GString *buf;               /* read, not yet returned */
	gboolean eof;
} BenchLines;

void bench_lines_init(BenchLines *r, int fd);
void bench_lines_clear(BenchLines *r);     /* does not close fd */
/* The next line (without its newline; caller frees), waiting until
 * deadline_ns (bench_now_ns() clock; 0: only what is there now); NULL at
 * EOF or when none came in time. */
char *bench_lines_next(BenchLines *r, gint64 deadline_ns);

/* ---- children ------------------------------------------------------------ */

typedef struct {
	pid_t pid;
	FILE *in;                   /* its stdin: our commands */
	BenchLines out;             /* its stdout: its figures and replies */
	const char *role;
} BenchChild;

/* Start this program again as argv (argv[0] is replaced with our own
 * executable; NULL-terminated), stdin and stdout piped to us, stderr
 * shared.  FALSE if it could not be started. */
gboolean bench_child_start(BenchChild *c, char **argv);
/* Read lines until one starts with prefix (figures on the way are stored
 * in figs); returns it (caller frees) or NULL at EOF or after timeout_ms. */
char *bench_child_expect(BenchChild *c, BenchFigures *figs, const char *prefix,
                         guint timeout_ms);
void bench_child_say(BenchChild *c, const char *line);
/* Close its stdin, collect its remaining figures, wait for it to exit;
 * kill it after timeout_ms.  Returns its exit status (or -1). */
int bench_child_wait(BenchChild *c, BenchFigures *figs, guint timeout_ms);

/* ---- the parts ------------------------------------------------------------ */

/* core.c: record layer, handshake and rekey CPU, in this process. */
void bench_core_run(BenchFigures *f, gboolean quick);

/* e2e.c: the roles that run a headless libpurple host (tests/host.c). */
int bench_e2e_b_main(int argc, char **argv);
int bench_e2e_a_main(int argc, char **argv);
int bench_listen_main(int argc, char **argv);

/* rtt.c: the handshake through a link with a round trip.  bench_rtt_run
 * (the conductor) starts the roles, collects their figures and adds the
 * round-trip model's; bench_rtt_print prints them side by side. */
int bench_rtt_a_main(int argc, char **argv);
int bench_rtt_b_main(int argc, char **argv);
int bench_rtt_link_main(int argc, char **argv);
gboolean bench_rtt_run(BenchFigures *f, gboolean quick);
void bench_rtt_print(const BenchFigures *f);

/* loadgen.c */
int bench_loadgen_main(int argc, char **argv);

#endif
