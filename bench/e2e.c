/*
 * e2e.c - the benchmark's roles that run a headless libpurple host
 * (tests/host.c) with the plugins loaded from PARLEY_PLUGIN_DIR.
 *
 *   e2e-b             an account that answers: "L ..." messages are echoed
 *                     at once from the received-im-msg signal, "T ..." are
 *                     counted, "!report" is answered with the counts and
 *                     the longest main-loop stall since the last report;
 *                     "reset" on stdin starts a stall window.
 *   e2e-a PORT MODE   the account that measures, with B as its buddy at
 *                     127.0.0.1:PORT: the cold handshake (stall), one-way
 *                     latency by ping-pong, throughput of acknowledged
 *                     messages, rekeys (stall).  Reports "fig" lines; says
 *                     "dial?" and waits for "dial" before the handshake.
 *   listen            one listening account for the load generator; answers
 *                     "rss", "stall", "cpu" and "count" on stdin.
 *
 * BENCH_REKEY_MESSAGES=N sets the accounts' "rekey-messages" option (for
 * experiments: 0 turns §8's automatic rekey off); BENCH_DEBUG_GAPS=MS logs
 * every main-loop gap longer than MS on stderr.
 *
 * The stall figures come from a GLib timeout that ticks every millisecond
 * in the host: the longest gap between two ticks is the longest time the
 * main loop could not run.  Times are CLOCK_MONOTONIC, which every process
 * on the machine shares, so a message can carry its send time and the
 * receiver computes the one-way latency itself.
 */
#include "config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <purple.h>

#include "bench.h"
#include "host.h"
#include "hostrole.h"

/* ---- the 1 ms ticker ------------------------------------------------------- */

/* The longest gap between two ticks, and the longest part of a gap that
 * was not spent waiting for a CPU: on a shared machine the scheduler may
 * keep a runnable main loop waiting for its turn (a whole 4 ms tick at
 * HZ=250), which no code of ours causes.  The kernel counts that time per
 * thread in /proc/thread-self/schedstat (second field). */
typedef struct {
	double gap_ms;              /* longest gap */
	double own_ms;              /* longest gap less its run-queue wait */
} Stall;

static struct {
	gint64 last;                /* ns of the last tick */
	gint64 last_wait;           /* run-queue wait (ns) at the last tick */
	gint64 max_gap, max_own;
	int schedstat;              /* fd, or -1 */
	gint64 debug_ns;            /* BENCH_DEBUG_GAPS=MS: log longer gaps */
} tick;

static gint64
runqueue_wait_ns(void)
{
	char buf[128];
	long long run = 0, wait = 0;
	ssize_t n;

	if (tick.schedstat < 0)
		return 0;
	n = pread(tick.schedstat, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "%lld %lld", &run, &wait) != 2)
		return 0;
	return wait;
}

/* Account for the gap that ends now. */
static void
tick_note(gint64 now)
{
	gint64 wait = runqueue_wait_ns();
	gint64 gap = now - tick.last;
	gint64 own = gap - (wait - tick.last_wait);

	tick.max_gap = MAX(tick.max_gap, gap);
	tick.max_own = MAX(tick.max_own, own);
	if (tick.debug_ns > 0 && gap > tick.debug_ns)
		fprintf(stderr, "%.3f tick: gap %.3f ms, %.3f ms of it waiting for a CPU\n",
		        (double) (g_get_monotonic_time() % 1000000000) / 1e6, (double) gap / 1e6,
		        (double) (wait - tick.last_wait) / 1e6);
	tick.last = now;
	tick.last_wait = wait;
}

static gboolean
tick_cb(gpointer data)
{
	tick_note(bench_now_ns());
	return G_SOURCE_CONTINUE;
}

static void
ticker_start(void)
{
	const char *debug = g_getenv("BENCH_DEBUG_GAPS");

	tick.schedstat = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
	tick.debug_ns = debug != NULL ? (gint64) (g_ascii_strtod(debug, NULL) * 1e6) : 0;
	tick.last = bench_now_ns();
	tick.last_wait = runqueue_wait_ns();
	g_timeout_add(1, tick_cb, NULL);
}

/* The longest stall since the last call, counting the gap running now
 * (the caller runs in the main loop's thread). */
static Stall
ticker_take(void)
{
	Stall st;

	tick_note(bench_now_ns());
	st.gap_ms = (double) tick.max_gap / 1e6;
	st.own_ms = (double) tick.max_own / 1e6;
	tick.max_gap = tick.max_own = 0;
	return st;
}

/* ---- common ------------------------------------------------------------------- */

static int signal_handle;

static PurpleAccount *
start_host(const char *name)
{
	bench_host_init();
	return bench_host_account(name, TRUE);
}

/* text of exactly BENCH_MSG_LEN bytes: prefix, then 'x' */
static char *
padded(const char *prefix)
{
	char *s = g_malloc(BENCH_MSG_LEN + 1);
	size_t n = MIN(strlen(prefix), (size_t) BENCH_MSG_LEN);

	memcpy(s, prefix, n);
	memset(s + n, 'x', BENCH_MSG_LEN - n);
	s[BENCH_MSG_LEN] = '\0';
	return s;
}

/* ---- e2e-b: the answering side ------------------------------------------------ */

static struct {
	guint counted;
	gint64 first_ns, last_ns;
} b;

static void
b_received(PurpleAccount *acct, char *sender, char *message, PurpleConversation *conv,
           PurpleMessageFlags flags, gpointer data)
{
	gint64 now = bench_now_ns();

	if (message[0] == 'T') {
		if (b.counted++ == 0)
			b.first_ns = now;
		b.last_ns = now;
	} else if (message[0] == 'L') {
		gint64 t0 = g_ascii_strtoll(message + 2, NULL, 10);
		char *prefix = g_strdup_printf("E %" G_GINT64_FORMAT " %" G_GINT64_FORMAT " ", t0, now);
		char *text = padded(prefix);

		bench_host_send(acct, sender, text);
		g_free(prefix);
		g_free(text);
	} else if (g_str_has_prefix(message, "!report")) {
		Stall st = ticker_take();
		char *text = g_strdup_printf("!r %u %" G_GINT64_FORMAT " %" G_GINT64_FORMAT
		                             " %.3f %.3f %.6f", b.counted, b.first_ns, b.last_ns,
		                             st.gap_ms, st.own_ms, bench_process_cpu_s());

		bench_host_send(acct, sender, text);
		g_free(text);
	}
}

/* e2e-b's commands: "reset" starts a stall window (the handshake's). */
static void
b_command(const char *line)
{
	if (strcmp(line, "reset") == 0) {
		ticker_take();
		printf("reset-ok\n");
	}
}

int
bench_e2e_b_main(int argc, char **argv)
{
	PurpleAccount *acct = start_host("bench-b");

	purple_signal_connect(purple_conversations_get_handle(), "received-im-msg",
	                      &signal_handle, PURPLE_CALLBACK(b_received), NULL);
	ticker_start();
	bench_host_watch_stdin(b_command);
	host_run_for(200);
	ticker_take();              /* what sign-on cost is not the handshake's */
	printf("ready port=%u\n", host_account_port(acct));
	host_run_until(bench_host_quitting, NULL, G_MAXINT);
	host_shutdown();
	return 0;
}

/* ---- e2e-a: the measuring side ----------------------------------------------- */

static struct {
	PurpleAccount *acct;
	char *buddy;
	GArray *oneway;             /* double ms, both directions */
	GArray *rtt;                /* double ms */
	guint echoes;
	gboolean got_report;
	guint b_counted;
	gint64 b_first, b_last;
	Stall b_stall;
	double b_cpu_s;             /* B's process CPU time at its report */
} a;

static void
a_received(PurpleAccount *acct, char *sender, char *message, PurpleConversation *conv,
           PurpleMessageFlags flags, gpointer data)
{
	gint64 now = bench_now_ns();

	if (message[0] == 'E') {
		gint64 t0, tb;
		double v;

		if (sscanf(message, "E %" G_GINT64_FORMAT " %" G_GINT64_FORMAT, &t0, &tb) != 2)
			return;
		v = (double) (tb - t0) / 1e6;
		g_array_append_val(a.oneway, v);
		v = (double) (now - tb) / 1e6;
		g_array_append_val(a.oneway, v);
		v = (double) (now - t0) / 1e6;
		g_array_append_val(a.rtt, v);
		a.echoes++;
	} else if (g_str_has_prefix(message, "!r ")) {
		if (sscanf(message, "!r %u %" G_GINT64_FORMAT " %" G_GINT64_FORMAT " %lf %lf %lf",
		           &a.b_counted, &a.b_first, &a.b_last, &a.b_stall.gap_ms,
		           &a.b_stall.own_ms, &a.b_cpu_s) == 6)
			a.got_report = TRUE;
	}
}

static gboolean
a_online(gpointer data)
{
	return host_buddy_online(a.acct, a.buddy);
}

static gboolean
a_reported(gpointer data)
{
	return a.got_report;
}

/* B's counts and its longest stall since its last report. */
static gboolean
a_ask_report(void)
{
	a.got_report = FALSE;
	bench_host_send(a.acct, a.buddy, "!report");
	return host_run_until(a_reported, NULL, 60000);
}

static gboolean
a_echoed(gpointer data)
{
	return a.echoes >= GPOINTER_TO_UINT(data);
}

/* Messages sent to B that B has not acknowledged yet (the plugin says so
 * in "Session details..."). */
static guint
a_waiting(void)
{
	char *details = host_session_details(a.acct, a.buddy);
	const char *at = details != NULL ? strstr(details, "waiting for delivery:") : NULL;
	guint n = 0;

	if (at != NULL) {
		at = strchr(at, ':') + 1;
		if (g_str_has_prefix(at, "</b>"))
			at += 4;
		n = (guint) strtoul(at, NULL, 10);
	}
	g_free(details);
	return n;
}

typedef struct {
	guint below;
	gint64 next_check;
	gint64 done_at;
} Drain;

/* The outbox has fewer than below messages (looked at once a ms). */
static gboolean
a_drained(gpointer data)
{
	Drain *d = data;
	gint64 now = bench_now_ns();

	if (now < d->next_check)
		return FALSE;
	d->next_check = now + 1000000;
	if (a_waiting() >= d->below)
		return FALSE;
	d->done_at = bench_now_ns();
	return TRUE;
}

static void
a_latency(guint n)
{
	guint k;
	double *v;

	for (k = 0; k < n; k++) {
		char *prefix = g_strdup_printf("L %" G_GINT64_FORMAT " ", bench_now_ns());
		char *text = padded(prefix);

		bench_host_send(a.acct, a.buddy, text);
		g_free(prefix);
		g_free(text);
		if (!host_run_until(a_echoed, GUINT_TO_POINTER(k + 1), 10000)) {
			fprintf(stderr, "e2e-a: echo %u did not come\n", k);
			exit(1);
		}
	}
	v = (double *) a.oneway->data;
	bench_report("e2e_latency_p50_ms", bench_quantile(v, a.oneway->len, 0.50));
	bench_report("e2e_latency_p99_ms", bench_quantile(v, a.oneway->len, 0.99));
	bench_report("e2e_latency_max_ms", bench_quantile(v, a.oneway->len, 1.0));
	v = (double *) a.rtt->data;
	bench_report("e2e_rtt_p50_ms", bench_quantile(v, a.rtt->len, 0.50));
	bench_report("e2e_rtt_p99_ms", bench_quantile(v, a.rtt->len, 0.99));
}

static void
a_throughput(guint n)
{
	/* at most this many unacknowledged: like a sender that does not
	 * queue without bound */
	const guint window = 4096, batch = 64;
	Drain d = { 0 };
	gint64 t0;
	guint sent = 0, before = 0, k, mark;
	char prefix[32];
	GPtrArray *rekeys;
	double a_cpu, b_cpu = 0;

	a.got_report = FALSE;
	if (a_ask_report()) {
		before = a.b_counted;
		b_cpu = a.b_cpu_s;
	}
	mark = host_mark();
	a_cpu = bench_process_cpu_s();
	t0 = bench_now_ns();
	while (sent < n) {
		for (k = 0; k < batch && sent < n; k++, sent++) {
			char *text;

			g_snprintf(prefix, sizeof(prefix), "T %u ", sent);
			text = padded(prefix);
			bench_host_send(a.acct, a.buddy, text);
			g_free(text);
		}
		/* let the plugin write and read the acknowledgements */
		while (g_main_context_iteration(NULL, FALSE))
			;
		if (sent % 1024 == 0 && a_waiting() > window) {
			d.below = window / 2;
			d.next_check = 0;
			host_run_until(a_drained, &d, 60000);
		}
	}
	d.below = 1;
	d.next_check = 0;
	if (!host_run_until(a_drained, &d, 120000)) {
		fprintf(stderr, "e2e-a: %u messages still unacknowledged\n", a_waiting());
		exit(1);
	}
	a_cpu = bench_process_cpu_s() - a_cpu;
	bench_report("e2e_messages", n);
	bench_report("e2e_msgs_s", (double) n * 1e9 / (double) (d.done_at - t0));
	/* §8's automatic rekeys (every 20 messages by default) on the way */
	rekeys = host_find_all(mark, HOST_EV_MESSAGE, a.acct, a.buddy, PURPLE_MESSAGE_SYSTEM,
	                       "Session key rotated");
	bench_report("e2e_throughput_rekeys", rekeys->len);
	g_ptr_array_unref(rekeys);
	if (a_ask_report() && a.b_counted - before == n && a.b_last > a.b_first) {
		bench_report("e2e_received_msgs_s",
		             (double) (n - 1) * 1e9 / (double) (a.b_last - a.b_first));
		/* CPU per message, all of each process (libpurple, the host, the
		 * plugin): what the rate would be with a CPU each to themselves */
		b_cpu = a.b_cpu_s - b_cpu;
		bench_report("e2e_cpu_per_msg_a_us", a_cpu * 1e6 / n);
		bench_report("e2e_cpu_per_msg_b_us", b_cpu * 1e6 / n);
		bench_report("e2e_cpu_bound_msgs_s", n / MAX(a_cpu, b_cpu));
	} else {
		fprintf(stderr, "e2e-a: B counted %u of %u\n", a.b_counted - before, n);
	}
}

typedef struct {
	guint since;
	gint epoch;
} RekeyWait;

static gboolean
a_rekeyed(gpointer data)
{
	RekeyWait *w = data;

	return host_last_rekey_epoch(w->since, a.acct, a.buddy) > w->epoch;
}

/* The figures of a stall window, both sides: the longest gap, and the
 * longest not spent waiting for a CPU. */
static void
report_stall(const char *what, Stall sa, Stall sb)
{
	char name[64];

	g_snprintf(name, sizeof(name), "stall_%s_a_ms", what);
	bench_report(name, sa.gap_ms);
	g_snprintf(name, sizeof(name), "stall_%s_b_ms", what);
	bench_report(name, sb.gap_ms);
	g_snprintf(name, sizeof(name), "stall_%s_ms", what);
	bench_report(name, MAX(sa.gap_ms, sb.gap_ms));
	g_snprintf(name, sizeof(name), "stall_%s_own_ms", what);
	bench_report(name, MAX(sa.own_ms, sb.own_ms));
}

static void
a_rekeys(guint n)
{
	Stall stall_a;
	guint k;
	char *details = host_session_details(a.acct, a.buddy);
	RekeyWait w = { 0, host_details_epoch(details) };

	g_free(details);
	a_ask_report();             /* B's stall window starts now */
	ticker_take();
	for (k = 0; k < n; k++) {
		w.since = host_mark();
		if (!host_menu_action(a.acct, a.buddy, "Rekey now") ||
		    !host_run_until(a_rekeyed, &w, 10000)) {
			fprintf(stderr, "e2e-a: rekey %u did not happen\n", k);
			exit(1);
		}
		w.epoch = host_last_rekey_epoch(w.since, a.acct, a.buddy);
		host_run_for(2);
	}
	stall_a = ticker_take();
	if (!a_ask_report()) {
		fprintf(stderr, "e2e-a: no report from B after the rekeys\n");
		exit(1);
	}
	report_stall("rekey", stall_a, a.b_stall);
	bench_report("e2e_rekeys", n);
}

int
bench_e2e_a_main(int argc, char **argv)
{
	gboolean quick = argc > 3 && strcmp(argv[3], "quick") == 0;
	gint64 t0, t1;
	Stall stall_a;
	BenchLines cmds;
	char *line;

	if (argc < 3) {
		fprintf(stderr, "usage: bench e2e-a PORT [quick|full]\n");
		return 2;
	}
	a.acct = start_host("bench-a");
	a.buddy = g_strdup_printf("127.0.0.1:%s", argv[2]);
	a.oneway = g_array_new(FALSE, FALSE, sizeof(double));
	a.rtt = g_array_new(FALSE, FALSE, sizeof(double));
	purple_signal_connect(purple_conversations_get_handle(), "received-im-msg",
	                      &signal_handle, PURPLE_CALLBACK(a_received), NULL);
	ticker_start();
	host_run_for(200);

	/* cold handshake: fresh accounts, fresh salt, empty PRS caches, so
	 * both sides run PBKDF2 (on the plugin's worker threads).  The
	 * conductor starts B's stall window first (what our own start-up cost
	 * B, sharing the CPUs, is not the handshake's). */
	bench_lines_init(&cmds, STDIN_FILENO);
	printf("dial?\n");
	line = bench_lines_next(&cmds, bench_now_ns() + (gint64) 60 * 1000000000);
	bench_lines_clear(&cmds);
	if (g_strcmp0(line, "dial") != 0) {
		fprintf(stderr, "e2e-a: no \"dial\" from the conductor\n");
		return 1;
	}
	g_free(line);
	host_run_for(20);
	ticker_take();
	t0 = bench_now_ns();
	host_add_buddy(a.acct, a.buddy);
	if (!host_run_until(a_online, NULL, 60000)) {
		fprintf(stderr, "e2e-a: no session with B\n");
		host_dump(0);
		return 1;
	}
	t1 = bench_now_ns();
	stall_a = ticker_take();
	host_conv(a.acct, a.buddy);
	if (!a_ask_report()) {
		fprintf(stderr, "e2e-a: no report from B\n");
		return 1;
	}
	bench_report("e2e_cold_handshake_ms", (double) (t1 - t0) / 1e6);
	report_stall("handshake", stall_a, a.b_stall);

	a_latency(quick ? 300 : 2000);
	a_throughput(quick ? 10000 : 100000);
	a_rekeys(quick ? 10 : 50);

	host_shutdown();
	return 0;
}

/* ---- listen: the account under load -------------------------------------------- */

static guint listen_count;

static void
listen_received(PurpleAccount *acct, char *sender, char *message, PurpleConversation *conv,
                PurpleMessageFlags flags, gpointer data)
{
	listen_count++;
}

static void
listen_command(const char *line)
{
	if (strcmp(line, "rss") == 0)
		printf("rss %ld\n", bench_rss_kib());
	else if (strcmp(line, "stall") == 0) {
		Stall st = ticker_take();

		printf("stall %.3f %.3f\n", st.gap_ms, st.own_ms);
	}
	else if (strcmp(line, "cpu") == 0)
		printf("cpu %.6f\n", bench_process_cpu_s());
	else if (strcmp(line, "count") == 0)
		printf("count %u\n", listen_count);
	else
		fprintf(stderr, "listen: unknown command %s\n", line);
}

int
bench_listen_main(int argc, char **argv)
{
	PurpleAccount *acct = start_host("bench-hub");

	/* An experiment: the kernel grows a process's descriptor table at 256,
	 * 512, 1024... descriptors, and in a process with several threads it
	 * waits for an RCU grace period to do so - the main loop stops then.
	 * BENCH_PREGROW_FDS=N grows it to N at start. */
	if (g_getenv("BENCH_PREGROW_FDS") != NULL) {
		int hi = atoi(g_getenv("BENCH_PREGROW_FDS"));

		if (hi > 0 && dup2(STDERR_FILENO, hi - 1) >= 0)
			close(hi - 1);
	}

	purple_signal_connect(purple_conversations_get_handle(), "received-im-msg",
	                      &signal_handle, PURPLE_CALLBACK(listen_received), NULL);
	ticker_start();
	bench_host_watch_stdin(listen_command);
	host_run_for(200);
	printf("ready port=%u\n", host_account_port(acct));
	host_run_until(bench_host_quitting, NULL, G_MAXINT);
	host_shutdown();
	return 0;
}
