/*
 * bench.c - the benchmark's conductor and the dispatch to its roles.
 *
 *   bench [--quick] [--only core|e2e|rtt|scale] [--json FILE] [--conns N]
 *
 * Measures the protocol core here (core.c), then the plugins end to end in
 * two headless libpurple hosts (e2e.c), the handshake between two hosts
 * through a link with a round trip (rtt.c) and one listening host under a
 * load generator (loadgen.c), each a copy of this program in its own
 * process.  Prints one line per figure, then a JSON summary on stdout
 * (and into FILE with --json).  Exit status 0 when every measurement ran,
 * whether or not the targets were met (the summary says which were).
 *
 * PARLEY_PLUGIN_DIR names the folder holding the built plugins, as for the
 * tests ("make bench" sets it).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/utsname.h>

#include <gcrypt.h>
#include <purple.h>

#include "bench.h"

#define E2E_TIMEOUT_MS   600000
#define SCALE_TIMEOUT_MS 600000

typedef struct {
	const char *fig;            /* the figure judged */
	const char *what;           /* what it is, for the line */
	const char *unit;
	gboolean at_least;          /* target is a minimum (else a maximum) */
	double target;
} Target;

static const Target targets[] = {
	{ "record_16k_ratio", "record layer 16 KiB, core/bare", "", TRUE, 0.8 },
	{ "record_100b_ratio", "record layer 100 B, core/bare", "", TRUE, 0.5 },
	{ "hs_cold_ratio", "cold handshake CPU per side / one PBKDF2", "", FALSE, 1.15 },
	{ "hs_warm_initiator_cpu_ms", "warm handshake CPU, initiator", "ms", FALSE, 1.5 },
	{ "hs_warm_responder_cpu_ms", "warm handshake CPU, responder", "ms", FALSE, 1.5 },
	{ "rekey_asker_cpu_ms", "rekey CPU, side that asks", "ms", FALSE, 1.0 },
	{ "rekey_answerer_cpu_ms", "rekey CPU, side that answers", "ms", FALSE, 1.0 },
	{ "e2e_msgs_s", "end to end, 100 B messages acknowledged", "msg/s", TRUE, 20000 },
	{ "e2e_latency_p99_ms", "end to end, one-way latency p99", "ms", FALSE, 2.0 },
	{ "stall_handshake_ms", "longest main-loop stall, cold handshake", "ms", FALSE, 5.0 },
	{ "stall_rekey_ms", "longest main-loop stall, rekeys", "ms", FALSE, 5.0 },
	/* a tenth of the round trip: a trip more or less would be 50 ms */
	{ "rtt_warm_off_model_ms", "warm handshake, 100 ms RTT: |measured - v2 model|", "ms",
	  FALSE, 10.0 },
	{ "scale_kib_per_conn", "memory per idle connection (listener RSS)", "KiB", FALSE, 32.0 },
};

/* What each figure is, for the report (JSON keeps the bare names). */
typedef struct {
	const char *fig;
	const char *what;
	const char *unit;
} FigureInfo;

static const FigureInfo figure_info[] = {
	{ "pbkdf2_cpu_ms", "reference: bare libgcrypt PBKDF2, 200,000 iterations", "ms CPU" },
	{ "hs_cold_initiator_cpu_ms", "v2 handshake, 4 frames, cold (PBKDF2), initiator", "ms CPU" },
	{ "hs_cold_responder_cpu_ms", "v2 handshake, 4 frames, cold (PBKDF2), responder", "ms CPU" },
	{ "hs_cold_ratio", "cold handshake per side / bare PBKDF2", "x" },
	{ "hs_warm_initiator_cpu_ms", "v2 handshake, 4 frames, warm (PRS cached), initiator", "ms CPU" },
	{ "hs_warm_responder_cpu_ms", "v2 handshake, 4 frames, warm (PRS cached), responder", "ms CPU" },
	{ "hs_warm_initiator_p99_ms", "warm handshake, initiator, p99", "ms CPU" },
	{ "hs_warm_responder_p99_ms", "warm handshake, responder, p99", "ms CPU" },
	{ "x25519_cpu_ms", "one X25519 (libgcrypt)", "ms CPU" },
	{ "cpace_generator_cpu_ms", "one CPace generator (SHA-512, Elligator 2)", "ms CPU" },
	{ "record_16k_records_s", "record layer 16 KiB seal+open, core", "rec/s" },
	{ "record_16k_mb_s", "record layer 16 KiB seal+open, core", "MB/s" },
	{ "bare_16k_records_s", "record layer 16 KiB seal+open, bare libgcrypt", "rec/s" },
	{ "bare_16k_mb_s", "record layer 16 KiB seal+open, bare libgcrypt", "MB/s" },
	{ "record_16k_ratio", "record layer 16 KiB, core / bare", "x" },
	{ "session_16k_msgs_s", "session API 16 KiB message delivered + ACK", "msg/s" },
	{ "session_16k_mb_s", "session API 16 KiB message delivered + ACK", "MB/s" },
	{ "session_16k_ratio", "session API 16 KiB, core / bare record", "x" },
	{ "record_100b_records_s", "record layer 100 B seal+open, core", "rec/s" },
	{ "record_100b_mb_s", "record layer 100 B seal+open, core", "MB/s" },
	{ "bare_100b_records_s", "record layer 100 B seal+open, bare libgcrypt", "rec/s" },
	{ "bare_100b_mb_s", "record layer 100 B seal+open, bare libgcrypt", "MB/s" },
	{ "record_100b_ratio", "record layer 100 B, core / bare", "x" },
	{ "session_100b_msgs_s", "session API 100 B message delivered + ACK", "msg/s" },
	{ "session_100b_mb_s", "session API 100 B message delivered + ACK", "MB/s" },
	{ "session_100b_ratio", "session API 100 B, core / bare record", "x" },
	{ "rekey_asker_cpu_ms", "rekey, side that asks", "ms CPU" },
	{ "rekey_answerer_cpu_ms", "rekey, side that answers", "ms CPU" },
	{ "rekey_asker_p99_ms", "rekey, side that asks, p99", "ms CPU" },
	{ "rekey_answerer_p99_ms", "rekey, side that answers, p99", "ms CPU" },
	{ "e2e_cold_handshake_ms", "e2e cold v2 handshake, buddy added to both online", "ms" },
	{ "stall_handshake_a_ms", "longest main-loop gap, cold handshake, host A", "ms" },
	{ "stall_handshake_b_ms", "longest main-loop gap, cold handshake, host B", "ms" },
	{ "stall_handshake_ms", "longest main-loop gap, cold handshake", "ms" },
	{ "stall_handshake_own_ms", "  the same, less time waiting for a CPU", "ms" },
	{ "e2e_latency_p50_ms", "e2e one-way latency of one message, p50", "ms" },
	{ "e2e_latency_p99_ms", "e2e one-way latency of one message, p99", "ms" },
	{ "e2e_latency_max_ms", "e2e one-way latency of one message, max", "ms" },
	{ "e2e_rtt_p50_ms", "e2e message and its echo, p50", "ms" },
	{ "e2e_rtt_p99_ms", "e2e message and its echo, p99", "ms" },
	{ "e2e_messages", "e2e messages in the throughput run", "" },
	{ "e2e_msgs_s", "e2e 100 B messages, all acknowledged", "msg/s" },
	{ "e2e_throughput_rekeys", "  automatic rekeys during that run", "" },
	{ "e2e_cpu_per_msg_a_us", "  CPU per message, sending host (all of it)", "us" },
	{ "e2e_cpu_per_msg_b_us", "  CPU per message, receiving host (all of it)", "us" },
	{ "e2e_cpu_bound_msgs_s", "  the rate with a CPU to each host", "msg/s" },
	{ "e2e_received_msgs_s", "e2e 100 B messages, as the receiver shows them", "msg/s" },
	{ "stall_rekey_a_ms", "longest main-loop gap, rekeys, host A", "ms" },
	{ "stall_rekey_b_ms", "longest main-loop gap, rekeys, host B", "ms" },
	{ "stall_rekey_ms", "longest main-loop gap, rekeys", "ms" },
	{ "stall_rekey_own_ms", "  the same, less time waiting for a CPU", "ms" },
	{ "e2e_rekeys", "rekeys asked for from the buddy menu", "" },
	{ "rtt_one_way_ms", "rtt: the slow link's delay each way", "ms" },
	{ "rtt_rounds_warm", "rtt: warm rounds per link", "" },
	{ "rtt_rounds_cold", "rtt: cold rounds per link", "" },
	{ "rtt_warm_initiator_nodelay_ms", "rtt warm, no delay: initiator established", "ms" },
	{ "rtt_warm_initiator_ms", "rtt warm, 100 ms RTT: initiator established", "ms" },
	{ "rtt_warm_responder_nodelay_ms", "rtt warm, no delay: responder established", "ms" },
	{ "rtt_warm_responder_ms", "rtt warm, 100 ms RTT: responder established", "ms" },
	{ "rtt_warm_message_nodelay_ms", "rtt warm, no delay: I's first message at R", "ms" },
	{ "rtt_warm_message_ms", "rtt warm, 100 ms RTT: I's first message at R", "ms" },
	{ "rtt_cold_initiator_nodelay_ms", "rtt cold, no delay: initiator established", "ms" },
	{ "rtt_cold_initiator_ms", "rtt cold, 100 ms RTT: initiator established", "ms" },
	{ "rtt_cold_responder_nodelay_ms", "rtt cold, no delay: responder established", "ms" },
	{ "rtt_cold_responder_ms", "rtt cold, 100 ms RTT: responder established", "ms" },
	{ "rtt_cold_message_nodelay_ms", "rtt cold, no delay: I's first message at R", "ms" },
	{ "rtt_cold_message_ms", "rtt cold, 100 ms RTT: I's first message at R", "ms" },
	{ "rtt_cold_initiator_nodelay_min_ms", "rtt cold, no delay: I established, fastest", "ms" },
	{ "rtt_cold_initiator_nodelay_max_ms", "rtt cold, no delay: I established, slowest", "ms" },
	{ "rtt_cold_initiator_min_ms", "rtt cold, 100 ms RTT: I established, fastest", "ms" },
	{ "rtt_cold_initiator_max_ms", "rtt cold, 100 ms RTT: I established, slowest", "ms" },
	{ "rtt_warm_initiator_v1_model_ms", "rtt warm, model v1: I established (T0 + 1 RTT)", "ms" },
	{ "rtt_warm_initiator_v2_model_ms", "rtt warm, model v2: I established (T0 + 2 RTT)", "ms" },
	{ "rtt_warm_responder_v1_model_ms", "rtt warm, model v1: R established (T0 + 1.5 RTT)", "ms" },
	{ "rtt_warm_responder_v2_model_ms", "rtt warm, model v2: R established (T0 + 1.5 RTT)", "ms" },
	{ "rtt_warm_message_v1_model_ms", "rtt warm, model v1: message at R (T0 + 1.5 RTT)", "ms" },
	{ "rtt_warm_message_v2_model_ms", "rtt warm, model v2: message at R (T0 + 2.5 RTT)", "ms" },
	{ "rtt_warm_off_model_ms", "rtt warm: largest |measured - v2 model|", "ms" },
	{ "rtt_cold_initiator_v1_model_ms", "rtt cold, model v1: I established (T0 + 1 RTT)", "ms" },
	{ "rtt_cold_initiator_v2_model_ms", "rtt cold, model v2: I established (T0 + 2 RTT)", "ms" },
	{ "rtt_cold_responder_v1_model_ms", "rtt cold, model v1: R established (T0 + 1.5 RTT)", "ms" },
	{ "rtt_cold_responder_v2_model_ms", "rtt cold, model v2: R established (T0 + 1.5 RTT)", "ms" },
	{ "rtt_cold_message_v1_model_ms", "rtt cold, model v1: message at R (T0 + 1.5 RTT)", "ms" },
	{ "rtt_cold_message_v2_model_ms", "rtt cold, model v2: message at R (T0 + 2.5 RTT)", "ms" },
	{ "rtt_cold_off_model_ms", "rtt cold: largest |measured - v2 model|", "ms" },
	{ "scale_establish_s", "scale: time to establish all warm handshakes", "s" },
	{ "scale_handshakes_s", "scale: warm handshakes", "per s" },
	{ "scale_first_tenth_handshakes_s", "scale: warm handshakes, first tenth", "per s" },
	{ "scale_last_tenth_handshakes_s", "scale: warm handshakes, last tenth", "per s" },
	{ "scale_busy_retries", "scale: handshakes refused busy and retried", "" },
	{ "scale_listener_stall_ms", "scale: listener's longest main-loop gap", "ms" },
	{ "scale_listener_stall_own_ms", "  the same, less time waiting for a CPU", "ms" },
	{ "scale_listener_cpu_per_handshake_ms", "scale: listener process CPU per handshake", "ms" },
	{ "scale_listener_cpu_first_tenth_ms", "  with few connections up (first tenth)", "ms" },
	{ "scale_listener_cpu_last_tenth_ms", "  with most connections up (last tenth)", "ms" },
	{ "scale_cold_handshake_ms", "scale: one cold handshake with all up", "ms" },
	{ "scale_cold_stall_ms", "scale: listener's longest gap meanwhile", "ms" },
	{ "scale_cold_stall_own_ms", "  the same, less time waiting for a CPU", "ms" },
	{ "scale_messages_acked_ms", "scale: one message on each, until all ACKed", "ms" },
	{ "scale_connections", "scale: connections", "" },
	{ "scale_rss_before_kib", "scale: listener RSS with one connection", "KiB" },
	{ "scale_rss_idle_kib", "scale: listener RSS with all, idle", "KiB" },
	{ "scale_rss_after_msg_kib", "scale: listener RSS after one message each", "KiB" },
	{ "scale_kib_per_conn", "scale: memory per idle connection", "KiB" },
	{ "scale_kib_per_conn_after_msg", "scale: memory per connection after a message", "KiB" },
	{ "scale_messages_shown", "scale: messages the listener showed", "" },
};

static double
load_average(void)
{
	double l[3] = { -1, -1, -1 };

	if (getloadavg(l, 3) < 1)
		return -1;
	return l[0];
}

static char *
cpu_model(void)
{
	char *text = NULL, *model = NULL;
	char **lines, **l;

	if (g_file_get_contents("/proc/cpuinfo", &text, NULL, NULL)) {
		lines = g_strsplit(text, "\n", -1);
		for (l = lines; *l != NULL && model == NULL; l++) {
			if (g_str_has_prefix(*l, "model name")) {
				const char *colon = strchr(*l, ':');

				if (colon != NULL)
					model = g_strstrip(g_strdup(colon + 1));
			}
		}
		g_strfreev(lines);
		g_free(text);
	}
	return model != NULL ? model : g_strdup("unknown");
}

/* ---- the parts run as children ------------------------------------------ */

static gboolean
run_e2e(BenchFigures *f, gboolean quick)
{
	char *b_argv[] = { "bench", "e2e-b", NULL, NULL };
	char *a_argv[] = { "bench", "e2e-a", NULL, quick ? "quick" : "full", NULL };
	BenchChild a, b;
	char *line;
	guint port = 0;
	int status;

	if (!bench_child_start(&b, b_argv))
		return FALSE;
	line = bench_child_expect(&b, f, "ready", 60000);
	if (line == NULL || sscanf(line, "ready port=%u", &port) != 1) {
		g_free(line);
		bench_child_wait(&b, f, 5000);
		return FALSE;
	}
	g_free(line);
	a_argv[2] = g_strdup_printf("%u", port);
	if (!bench_child_start(&a, a_argv)) {
		g_free(a_argv[2]);
		bench_child_wait(&b, f, 5000);
		return FALSE;
	}
	/* B's stall window opens just before A dials */
	line = bench_child_expect(&a, f, "dial?", 60000);
	g_free(line);
	bench_child_say(&b, "reset");
	line = bench_child_expect(&b, f, "reset-ok", 10000);
	g_free(line);
	bench_child_say(&a, "dial");
	status = bench_child_wait(&a, f, E2E_TIMEOUT_MS);
	g_free(a_argv[2]);
	bench_child_wait(&b, f, 30000);
	return status == 0;
}

static gboolean
ask(BenchChild *c, BenchFigures *f, const char *cmd, const char *reply, double *v)
{
	char *line, *end = NULL;
	gboolean ok;

	bench_child_say(c, cmd);
	line = bench_child_expect(c, f, reply, 60000);
	ok = line != NULL && line[strlen(reply)] == ' ';
	if (ok) {
		*v = g_ascii_strtod(line + strlen(reply) + 1, &end);
		ok = end != line + strlen(reply) + 1;
	}
	g_free(line);
	return ok;
}

/* A command answered with two numbers: "<cmd> A B". */
static gboolean
ask2(BenchChild *c, BenchFigures *f, const char *cmd, double *v1, double *v2)
{
	char *line;
	gboolean ok;

	bench_child_say(c, cmd);
	line = bench_child_expect(c, f, cmd, 60000);
	ok = line != NULL && sscanf(line + strlen(cmd), " %lf %lf", v1, v2) == 2;
	g_free(line);
	return ok;
}

static gboolean
run_scale(BenchFigures *f, guint conns)
{
	char *l_argv[] = { "bench", "listen", NULL };
	char *g_argv[] = { "bench", "loadgen", NULL, NULL, NULL };
	BenchChild listener, gen;
	double rss0 = 0, rss1 = 0, rss2 = 0, stall = 0, stall_own = 0, count = 0;
	double cpu0 = 0, cpu1 = 0, phase_cpu[2] = { 0, 0 };
	guint k, tenth;
	char *line;
	guint port = 0;
	gboolean ok = FALSE;

	if (!bench_child_start(&listener, l_argv))
		return FALSE;
	line = bench_child_expect(&listener, f, "ready", 60000);
	if (line == NULL || sscanf(line, "ready port=%u", &port) != 1) {
		g_free(line);
		bench_child_wait(&listener, f, 5000);
		return FALSE;
	}
	g_free(line);
	g_argv[2] = g_strdup_printf("%u", port);
	g_argv[3] = g_strdup_printf("%u", conns);
	if (!bench_child_start(&gen, g_argv))
		goto out;

	/* one connection first: the listener's PBKDF2 (cold, on a worker
	 * thread, whose stack and arena are then in the baseline) */
	line = bench_child_expect(&gen, f, "warm", 60000);
	if (line == NULL)
		goto out_gen;
	g_free(line);
	g_usleep(200000);
	if (!ask(&listener, f, "rss", "rss", &rss0) || !ask2(&listener, f, "stall", &stall, &stall_own) ||
	    !ask(&listener, f, "cpu", "cpu", &cpu0))
		goto out_gen;

	/* the first tenth, most of the rest, the last tenth: the listener's
	 * CPU per handshake with few and with many connections up */
	bench_child_say(&gen, "go");
	for (k = 0; k < 2; k++) {
		line = bench_child_expect(&gen, f, "phase", SCALE_TIMEOUT_MS);
		if (line == NULL || !ask(&listener, f, "cpu", "cpu", &phase_cpu[k]))
			goto out_gen;
		g_free(line);
		bench_child_say(&gen, "go");
	}
	line = bench_child_expect(&gen, f, "established", SCALE_TIMEOUT_MS);
	if (line == NULL)
		goto out_gen;
	g_free(line);
	if (!ask(&listener, f, "cpu", "cpu", &cpu1))
		goto out_gen;
	/* version 2: the listener sent each HS4 before the generator could
	 * say established, so every HS3 is handled; let it settle */
	g_usleep(500000);
	if (!ask2(&listener, f, "stall", &stall, &stall_own) || !ask(&listener, f, "rss", "rss", &rss1))
		goto out_gen;
	bench_fig_set(f, "scale_listener_stall_ms", stall);
	bench_fig_set(f, "scale_listener_stall_own_ms", stall_own);
	/* the listener's whole process: glue, libpurple, the host */
	tenth = MAX(conns / 10, 1);
	bench_fig_set(f, "scale_listener_cpu_per_handshake_ms", (cpu1 - cpu0) * 1e3 / conns);
	bench_fig_set(f, "scale_listener_cpu_first_tenth_ms", (phase_cpu[0] - cpu0) * 1e3 / tenth);
	bench_fig_set(f, "scale_listener_cpu_last_tenth_ms", (cpu1 - phase_cpu[1]) * 1e3 / tenth);

	/* a cold handshake with all of them up: the listener's PBKDF2 on its
	 * worker thread, its main loop meanwhile */
	if (!ask2(&listener, f, "stall", &stall, &stall_own))
		goto out_gen;
	bench_child_say(&gen, "cold");
	line = bench_child_expect(&gen, f, "cold-done", SCALE_TIMEOUT_MS);
	if (line == NULL)
		goto out_gen;
	g_free(line);
	if (!ask2(&listener, f, "stall", &stall, &stall_own))
		goto out_gen;
	bench_fig_set(f, "scale_cold_stall_ms", stall);
	bench_fig_set(f, "scale_cold_stall_own_ms", stall_own);

	bench_child_say(&gen, "send");
	line = bench_child_expect(&gen, f, "acked", SCALE_TIMEOUT_MS);
	if (line == NULL)
		goto out_gen;
	g_free(line);
	g_usleep(200000);
	if (!ask(&listener, f, "rss", "rss", &rss2) || !ask(&listener, f, "count", "count", &count))
		goto out_gen;

	bench_fig_set(f, "scale_connections", conns);
	bench_fig_set(f, "scale_rss_before_kib", rss0);
	bench_fig_set(f, "scale_rss_idle_kib", rss1);
	bench_fig_set(f, "scale_rss_after_msg_kib", rss2);
	bench_fig_set(f, "scale_kib_per_conn", (rss1 - rss0) / conns);
	bench_fig_set(f, "scale_kib_per_conn_after_msg", (rss2 - rss0) / conns);
	bench_fig_set(f, "scale_messages_shown", count);
	ok = TRUE;
out_gen:
	bench_child_wait(&gen, f, 60000);
out:
	g_free(g_argv[2]);
	g_free(g_argv[3]);
	bench_child_wait(&listener, f, 60000);
	return ok;
}

/* ---- output ---------------------------------------------------------------- */

static const char *
fmt_value(double v, char *buf, size_t len)
{
	if (v >= 1000)
		g_snprintf(buf, len, "%.0f", v);
	else if (v >= 10)
		g_snprintf(buf, len, "%.1f", v);
	else
		g_snprintf(buf, len, "%.3f", v);
	return buf;
}

static void
print_figures(const BenchFigures *f)
{
	guint i;
	size_t k;

	for (i = 0; i < f->order->len; i++) {
		const char *name = g_ptr_array_index(f->order, i);
		const FigureInfo *info = NULL;
		double v = 0;
		char buf[32];

		for (k = 0; k < G_N_ELEMENTS(figure_info) && info == NULL; k++)
			if (strcmp(figure_info[k].fig, name) == 0)
				info = &figure_info[k];
		bench_fig_get(f, name, &v);
		printf("%-52s %10s %-7s %s\n", info != NULL ? info->what : name,
		       fmt_value(v, buf, sizeof(buf)), info != NULL ? info->unit : "", name);
	}
}

/* One line per target; the number met. */
static guint
print_targets(const BenchFigures *f, guint *measured)
{
	guint met = 0;
	size_t i;

	*measured = 0;
	for (i = 0; i < G_N_ELEMENTS(targets); i++) {
		const Target *t = &targets[i];
		double v;
		char a[32], b[32];
		gboolean ok;

		if (!bench_fig_get(f, t->fig, &v)) {
			printf("%-48s  not measured\n", t->what);
			continue;
		}
		(*measured)++;
		ok = t->at_least ? v >= t->target : v <= t->target;
		met += ok;
		printf("%-48s %10s %-5s target %s %-8s %s\n", t->what, fmt_value(v, a, sizeof(a)),
		       t->unit, t->at_least ? ">=" : "<=", fmt_value(t->target, b, sizeof(b)),
		       ok ? "met" : "MISSED");
	}
	return met;
}

static char *
json_summary(const BenchFigures *f, double load_start, double load_end, const char *cpu,
             gboolean quick)
{
	GString *s = g_string_new("{\n");
	struct utsname u;
	char *debian = NULL;
	guint i;
	size_t k;

	uname(&u);
	if (g_file_get_contents("/etc/debian_version", &debian, NULL, NULL))
		g_strstrip(debian);
	g_string_append_printf(s, "  \"machine\": {\"cpu\": \"%s\", \"cpus\": %u, \"memory_mib\": %ld, "
	                       "\"kernel\": \"%s %s\", \"debian\": \"%s\", \"compiler\": \"%s\", "
	                       "\"libgcrypt\": \"%s\", \"libpurple\": \"%s\", \"glib\": \"%u.%u.%u\"},\n",
	                       cpu, g_get_num_processors(),
	                       (long) (sysconf(_SC_PHYS_PAGES) / 1024 * (sysconf(_SC_PAGESIZE) / 1024)),
	                       u.sysname, u.release, debian != NULL ? debian : "?",
#ifdef __VERSION__
	                       "gcc " __VERSION__,
#else
	                       "?",
#endif
	                       gcry_check_version(NULL), purple_core_get_version(),
	                       glib_major_version, glib_minor_version, glib_micro_version);
	g_free(debian);
	g_string_append_printf(s, "  \"load_average\": {\"start\": %.2f, \"end\": %.2f},\n",
	                       load_start, load_end);
	g_string_append_printf(s, "  \"quick\": %s,\n", quick ? "true" : "false");
	g_string_append(s, "  \"figures\": {");
	for (i = 0; i < f->order->len; i++) {
		const char *name = g_ptr_array_index(f->order, i);
		double v = 0;

		bench_fig_get(f, name, &v);
		g_string_append_printf(s, "%s\n    \"%s\": %.6g", i ? "," : "", name, v);
	}
	g_string_append(s, "\n  },\n  \"targets\": {");
	for (k = 0; k < G_N_ELEMENTS(targets); k++) {
		const Target *t = &targets[k];
		double v;
		gboolean have = bench_fig_get(f, t->fig, &v);

		g_string_append_printf(s, "%s\n    \"%s\": {\"target\": \"%s %g\", \"met\": %s}",
		                       k ? "," : "", t->fig, t->at_least ? ">=" : "<=", t->target,
		                       !have ? "null" :
		                       (t->at_least ? v >= t->target : v <= t->target) ? "true" : "false");
	}
	g_string_append(s, "\n  }\n}\n");
	return g_string_free(s, FALSE);
}

static int
conduct(int argc, char **argv)
{
	gboolean quick = FALSE;
	const char *only = NULL, *json_path = NULL;
	guint conns = 1000, met, measured;
	double load_start = load_average(), load_end;
	gboolean ok = TRUE;
	BenchFigures f;
	char *cpu = cpu_model(), *json;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			quick = TRUE;
		else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
			only = argv[++i];
		else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
			json_path = argv[++i];
		else if (strcmp(argv[i], "--conns") == 0 && i + 1 < argc)
			conns = (guint) atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: %s [--quick] [--only core|e2e|rtt|scale] [--json FILE] "
			        "[--conns N]\n", argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	bench_raise_nofile();
	bench_figures_init(&f);
	printf("# Parley benchmark: %s, %u CPUs, load average %.2f at start%s\n", cpu,
	       g_get_num_processors(), load_start, quick ? " (quick run)" : "");

	if (only == NULL || strcmp(only, "core") == 0) {
		printf("# core: record layer, handshake and rekey CPU ...\n");
		bench_core_run(&f, quick);
	}
	if (only == NULL || strcmp(only, "e2e") == 0) {
		printf("# end to end: two libpurple hosts over loopback ...\n");
		ok &= run_e2e(&f, quick);
	}
	if (only == NULL || strcmp(only, "rtt") == 0) {
		printf("# the handshake through a link with a round trip: two libpurple hosts ...\n");
		ok &= bench_rtt_run(&f, quick);
	}
	if (only == NULL || strcmp(only, "scale") == 0) {
		printf("# scale: %u connections to one listening account ...\n", conns);
		ok &= run_scale(&f, quick ? MIN(conns, 200) : conns);
	}
	load_end = load_average();

	printf("\n# figures\n");
	print_figures(&f);
	bench_rtt_print(&f);
	printf("\n# targets\n");
	met = print_targets(&f, &measured);
	printf("\n# %u of %u measured targets met; load average %.2f at start, %.2f at end\n\n",
	       met, measured, load_start, load_end);
	json = json_summary(&f, load_start, load_end, cpu, quick);
	fputs(json, stdout);
	if (json_path != NULL && !g_file_set_contents(json_path, json, -1, NULL)) {
		fprintf(stderr, "cannot write %s\n", json_path);
		ok = FALSE;
	}
	g_free(json);
	g_free(cpu);
	bench_figures_clear(&f);
	if (!ok)
		fprintf(stderr, "# some measurements did not run (see above)\n");
	return ok ? 0 : 1;
}

int
main(int argc, char **argv)
{
	/* each role under its own name, for ps, top and perf */
	if (argc >= 2 && argv[1][0] != '-') {
		char *name = g_strdup_printf("bench-%s", argv[1]);

		prctl(PR_SET_NAME, name, 0, 0, 0);
		g_free(name);
	}
	if (argc >= 2 && strcmp(argv[1], "e2e-a") == 0)
		return bench_e2e_a_main(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "e2e-b") == 0)
		return bench_e2e_b_main(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "listen") == 0)
		return bench_listen_main(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "rtt-a") == 0)
		return bench_rtt_a_main(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "rtt-b") == 0)
		return bench_rtt_b_main(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "rtt-link") == 0)
		return bench_rtt_link_main(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "loadgen") == 0)
		return bench_loadgen_main(argc, argv);
	return conduct(argc, argv);
}
