/*
 * util.c - clocks, statistics, figures and child processes for the
 * benchmark (bench.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1       /* pipe2() */
#endif
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "bench.h"

gint64
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

gint64
bench_thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

long
bench_rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, resident = 0;

	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

double
bench_process_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6 +
	       (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6;
}

long
bench_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return (long) rl.rlim_cur;
}

/* ---- statistics ---------------------------------------------------------- */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

double
bench_quantile(double *v, size_t n, double q)
{
	size_t i;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	/* nearest rank */
	i = (size_t) (q * (double) n + 0.5);
	if (i > 0)
		i--;
	return v[MIN(i, n - 1)];
}

double
bench_median(double *v, size_t n)
{
	return bench_quantile(v, n, 0.5);
}

/* ---- figures --------------------------------------------------------------- */

void
bench_figures_init(BenchFigures *f)
{
	f->values = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	f->order = g_ptr_array_new();
}

void
bench_figures_clear(BenchFigures *f)
{
	g_ptr_array_unref(f->order);
	g_hash_table_destroy(f->values);
}

void
bench_fig_set(BenchFigures *f, const char *name, double v)
{
	double *p = g_hash_table_lookup(f->values, name);

	if (p == NULL) {
		char *key = g_strdup(name);

		p = g_new(double, 1);
		g_hash_table_insert(f->values, key, p);
		g_ptr_array_add(f->order, key);
	}
	*p = v;
}

gboolean
bench_fig_get(const BenchFigures *f, const char *name, double *v)
{
	double *p = g_hash_table_lookup(f->values, name);

	if (p != NULL && v != NULL)
		*v = *p;
	return p != NULL;
}

gboolean
bench_fig_parse(BenchFigures *f, const char *line)
{
	char name[128];
	double v;

	if (sscanf(line, "fig %127s %lf", name, &v) != 2)
		return FALSE;
	bench_fig_set(f, name, v);
	return TRUE;
}

void
bench_report(const char *name, double v)
{
	printf("fig %s %.6g\n", name, v);
	fflush(stdout);
}

/* ---- children ------------------------------------------------------------- */

gboolean
bench_child_start(BenchChild *c, char **argv)
{
	int to_child[2], from_child[2];
	char *self;
	pid_t pid;

	memset(c, 0, sizeof(*c));
	c->role = argv[1];
	if (pipe2(to_child, O_CLOEXEC) != 0)
		return FALSE;
	if (pipe2(from_child, O_CLOEXEC) != 0) {
		close(to_child[0]);
		close(to_child[1]);
		return FALSE;
	}
	self = g_file_read_link("/proc/self/exe", NULL);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		g_free(self);
		return FALSE;
	}
	if (pid == 0) {
		dup2(to_child[0], STDIN_FILENO);
		dup2(from_child[1], STDOUT_FILENO);
		execv(self != NULL ? self : argv[0], argv);
		_exit(127);
	}
	g_free(self);
	close(to_child[0]);
	close(from_child[1]);
	c->pid = pid;
	c->in = fdopen(to_child[1], "w");
	bench_lines_init(&c->out, from_child[0]);
	return c->in != NULL;
}

/* ---- lines ----------------------------------------------------------------- */

void
bench_lines_init(BenchLines *r, int fd)
{
	r->fd = fd;
	r->buf = g_string_new(NULL);
	r->eof = FALSE;
}

void
bench_lines_clear(BenchLines *r)
{
	if (r->buf != NULL)
		g_string_free(r->buf, TRUE);
	r->buf = NULL;
}

/* A complete line already buffered, or NULL. */
static char *
take_line(BenchLines *r)
{
	char *nl = memchr(r->buf->str, '\n', r->buf->len);
	char *line;

	if (nl == NULL)
		return NULL;
	line = g_strndup(r->buf->str, (gsize) (nl - r->buf->str));
	g_string_erase(r->buf, 0, (gssize) (nl - r->buf->str) + 1);
	return line;
}

char *
bench_lines_next(BenchLines *r, gint64 deadline_ns)
{
	for (;;) {
		char *line = take_line(r);
		struct pollfd pfd = { r->fd, POLLIN, 0 };
		char chunk[4096];
		gint64 left;
		ssize_t n;
		int p;

		if (line != NULL)
			return line;
		if (r->eof)
			return NULL;
		left = (deadline_ns - bench_now_ns()) / 1000000;
		p = poll(&pfd, 1, (int) CLAMP(left, 0, G_MAXINT));
		if (p < 0 && errno == EINTR)
			continue;
		if (p <= 0)
			return NULL;        /* nothing within the deadline */
		n = read(r->fd, chunk, sizeof(chunk));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			r->eof = TRUE;
			return NULL;
		}
		g_string_append_len(r->buf, chunk, n);
	}
}

char *
bench_child_expect(BenchChild *c, BenchFigures *figs, const char *prefix, guint timeout_ms)
{
	gint64 deadline = bench_now_ns() + (gint64) timeout_ms * 1000000;
	char *line;

	while ((line = bench_lines_next(&c->out, deadline)) != NULL) {
		if (g_str_has_prefix(line, prefix))
			return line;
		if (!bench_fig_parse(figs, line))
			fprintf(stderr, "# %s: %s\n", c->role, line);
		g_free(line);
	}
	fprintf(stderr, "# %s: no \"%s\" within %u ms\n", c->role, prefix, timeout_ms);
	return NULL;
}

void
bench_child_say(BenchChild *c, const char *line)
{
	fprintf(c->in, "%s\n", line);
	fflush(c->in);
}

int
bench_child_wait(BenchChild *c, BenchFigures *figs, guint timeout_ms)
{
	gint64 deadline = bench_now_ns() + (gint64) timeout_ms * 1000000;
	char *line;
	int status = -1;

	if (c->pid <= 0)
		return -1;
	if (c->in != NULL)
		fclose(c->in);
	c->in = NULL;
	while ((line = bench_lines_next(&c->out, deadline)) != NULL) {
		if (!bench_fig_parse(figs, line))
			fprintf(stderr, "# %s: %s\n", c->role, line);
		g_free(line);
	}
	if (bench_now_ns() >= deadline) {
		fprintf(stderr, "# %s: still running, killed\n", c->role);
		kill(c->pid, SIGKILL);
	}
	if (waitpid(c->pid, &status, 0) != c->pid)
		status = -1;
	close(c->out.fd);
	bench_lines_clear(&c->out);
	c->pid = 0;
	return status;
}
