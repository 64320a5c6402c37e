/*
 * rtt.c - the handshake over a link with a round trip: what protocol
 * version 2's fourth frame costs in wall time (PROTOCOL.md §4, "Changes
 * from version 1").
 *
 * Version 1 had three frames (HS1 with Ya; HS2 with Yb and Tb; HS3 with
 * Ta); version 2 has four (HS1 a commitment; HS2 Yb; HS3 Ya and Ta; HS4
 * Tb), and records only after HS4.  Counted from the initiator's first
 * byte, in round trips of the link, the milestones are:
 *
 *                                        version 1   version 2
 *   initiator (I) established             1 RTT       2 RTT     (HS2 / HS4)
 *   responder (R) established             1.5 RTT     1.5 RTT   (HS3)
 *   I's first message shown at R          1.5 RTT     2.5 RTT
 *
 * The roles, each a copy of the benchmark program:
 *
 *   rtt-b                 the responder: a host with one listening account
 *                         and no buddies; notes when its session with the
 *                         caller is established and when the caller's "F"
 *                         message is shown, and sends both times back.
 *   rtt-link PORT MS      two fault proxies (tests/faultproxy.c) to
 *                         127.0.0.1:PORT, one forwarding at once, one
 *                         holding every chunk MS ms each way.
 *   rtt-a P0 P1 MS W C    the initiator, an account that does not listen
 *                         (so R never calls it back), dialling R through
 *                         the proxy on P0 (no delay) and on P1 (MS ms each
 *                         way), in turns: C cold rounds (a fresh account,
 *                         so a fresh salt: PBKDF2 on both sides) and W warm
 *                         ones (both find PRS in their caches) per link.
 *
 * A round: A adds R's address as a buddy (the dial: the plugin connects at
 * once) and at once types "F k", which waits in the outbox until the
 * session is up and goes right after it.  A notes when its conversation
 * says the session is established; R sends its two times back; then A
 * removes the buddy (closing the connection) and the next round starts.
 * Times are CLOCK_MONOTONIC, shared by the processes.  BENCH_DEBUG_RTT=1
 * prints every round's times on stderr.
 *
 * The model: the rounds without delay give T0 for each milestone (the
 * processing, PBKDF2 included when cold, and the proxy's hop); with the
 * delay, a version needing k one-way trips to a milestone reaches it at
 * T0 + k * MS.  The conductor (bench_rtt_run) prints the measured times
 * next to the model for version 1, for version 1 plus one round trip, and
 * for version 2.  What the model leaves out: the TCP handshake, which the
 * proxy does not delay (a real link adds its round trip before HS1, to
 * both versions alike).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>
#include <purple.h>

#include "bench.h"
#include "faultproxy.h"
#include "host.h"
#include "hostrole.h"

/* what the caller, which does not listen, is called at R: its address
 * with the default port (§9) */
#define CALLER_AT_R      "127.0.0.1"
#define ESTABLISHED_TEXT "Secure session with"
#define RTT_ONE_WAY_MS   50
#define ROUND_TIMEOUT_MS 30000

static int signal_handle;

/* ---- rtt-b: the responder --------------------------------------------------- */

static struct {
	gint64 est_ns;              /* the last session established */
	gint64 msg_ns;              /* the last "F" shown */
	guint round;
	char *caller;
} rb;

static gboolean
b_reply(gpointer data)
{
	char *text = g_strdup_printf("R %u %" G_GINT64_FORMAT " %" G_GINT64_FORMAT, rb.round,
	                             rb.est_ns, rb.msg_ns);

	bench_host_send(data, rb.caller, text);
	g_free(text);
	return G_SOURCE_REMOVE;
}

/* What the conversation shows, when it shows it. */
static void
b_wrote(PurpleAccount *acct, const char *who, char *message, PurpleConversation *conv,
        PurpleMessageFlags flags, gpointer data)
{
	gint64 now = bench_now_ns();

	if ((flags & PURPLE_MESSAGE_SYSTEM) && strstr(message, ESTABLISHED_TEXT) != NULL) {
		rb.est_ns = now;
	} else if ((flags & PURPLE_MESSAGE_RECV) && g_str_has_prefix(message, "F ")) {
		rb.msg_ns = now;
		rb.round = (guint) strtoul(message + 2, NULL, 10);
		g_free(rb.caller);
		rb.caller = g_strdup(purple_conversation_get_name(conv));
		/* not from inside the conversation's own write */
		g_idle_add(b_reply, acct);
	}
}

/* stdin only tells rtt-b when to quit (EOF) */
static void
b_command(const char *line)
{
}

int
bench_rtt_b_main(int argc, char **argv)
{
	PurpleAccount *acct;

	bench_host_init();
	acct = bench_host_account("bench-rtt-b", TRUE);
	purple_signal_connect(purple_conversations_get_handle(), "wrote-im-msg",
	                      &signal_handle, PURPLE_CALLBACK(b_wrote), NULL);
	/* the plugin notes a stranger's session in a conversation only if
	 * one is open */
	host_conv(acct, CALLER_AT_R);
	bench_host_watch_stdin(b_command);
	host_run_for(100);
	printf("ready port=%u\n", host_account_port(acct));
	host_run_until(bench_host_quitting, NULL, G_MAXINT);
	g_free(rb.caller);
	host_shutdown();
	return 0;
}

/* ---- rtt-link: the proxies ------------------------------------------------------ */

static gboolean
link_stdin_cb(gint fd, GIOCondition cond, gpointer data)
{
	char buf[256];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n > 0 || (n < 0 && errno == EINTR))
		return G_SOURCE_CONTINUE;
	g_main_loop_quit(data);
	return G_SOURCE_REMOVE;
}

int
bench_rtt_link_main(int argc, char **argv)
{
	GError *error = NULL;
	FaultProxy *plain, *slow;
	GMainLoop *loop;
	guint port, delay;

	if (argc < 4) {
		fprintf(stderr, "usage: bench rtt-link PORT DELAY_MS\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	port = (guint) atoi(argv[2]);
	delay = (guint) atoi(argv[3]);
	plain = fault_proxy_new((guint16) port, &error);
	slow = plain != NULL ? fault_proxy_new((guint16) port, &error) : NULL;
	if (slow == NULL) {
		fprintf(stderr, "rtt-link: %s\n", error->message);
		g_error_free(error);
		fault_proxy_free(plain);
		return 1;
	}
	fault_proxy_set_delay(slow, FAULT_PROXY_BOTH, delay);
	loop = g_main_loop_new(NULL, FALSE);
	g_unix_fd_add(STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR, link_stdin_cb, loop);
	printf("ready ports=%u,%u\n", fault_proxy_port(plain), fault_proxy_port(slow));
	g_main_loop_run(loop);
	g_main_loop_unref(loop);
	fault_proxy_free(plain);
	fault_proxy_free(slow);
	return 0;
}

/* ---- rtt-a: the initiator ---------------------------------------------------------- */

enum { MS_I, MS_R, MS_MSG, N_MILESTONES };         /* the milestones */
enum { KIND_WARM, KIND_COLD, N_KINDS };
enum { LINK_PLAIN, LINK_SLOW, N_LINKS };

static const char *const milestone_name[N_MILESTONES] = { "initiator", "responder", "message" };
static const char *const kind_name[N_KINDS] = { "warm", "cold" };

static struct {
	PurpleAccount *acct;
	guint accounts;             /* made so far */
	const char *buddy;          /* the round's */
	gint64 est_ns;              /* when our conversation said established */
	gboolean replied;
	guint round;
	gint64 r_est_ns, r_msg_ns;  /* R's times */
	guint delay_ms[N_LINKS];    /* each way */
	GArray *ms[N_KINDS][N_LINKS][N_MILESTONES];     /* double, ms from the dial */
} ra;

static void
a_wrote(PurpleAccount *acct, const char *who, char *message, PurpleConversation *conv,
        PurpleMessageFlags flags, gpointer data)
{
	if (ra.buddy != NULL && ra.est_ns == 0 && (flags & PURPLE_MESSAGE_SYSTEM) &&
	    strcmp(purple_conversation_get_name(conv), ra.buddy) == 0 &&
	    strstr(message, ESTABLISHED_TEXT) != NULL)
		ra.est_ns = bench_now_ns();
}

static void
a_received(PurpleAccount *acct, char *sender, char *message, PurpleConversation *conv,
           PurpleMessageFlags flags, gpointer data)
{
	guint k;
	gint64 e, m;

	if (sscanf(message, "R %u %" G_GINT64_FORMAT " %" G_GINT64_FORMAT, &k, &e, &m) == 3 &&
	    k == ra.round) {
		ra.r_est_ns = e;
		ra.r_msg_ns = m;
		ra.replied = TRUE;
	}
}

static gboolean
a_replied(gpointer data)
{
	return ra.replied && ra.est_ns != 0;
}

/* A new account, so a new salt and empty PRS caches on both sides. */
static void
a_fresh_account(void)
{
	char *name = g_strdup_printf("bench-rtt-a%u", ++ra.accounts);

	if (ra.acct != NULL)
		host_account_delete(ra.acct);
	/* not listening: R sees a caller it may never call back */
	ra.acct = bench_host_account(name, FALSE);
	g_free(name);
	host_run_for(50);
}

/* One dial to addr, through link; the times go into ra.ms[kind][link].
 * Every round waits as long afterwards, whatever its link, so that no
 * round starts from a longer rest than another. */
static gboolean
a_round(const char *addr, int kind, int link)
{
	guint settle_ms = 2 * MAX(ra.delay_ms[LINK_PLAIN], ra.delay_ms[LINK_SLOW]);
	static guint rounds;
	PurpleBuddy *b;
	char text[32];
	gint64 t0;
	double v;
	gboolean ok;

	ra.buddy = addr;
	ra.est_ns = 0;
	ra.replied = FALSE;
	ra.round = ++rounds;
	g_snprintf(text, sizeof(text), "F %u", ra.round);

	t0 = bench_now_ns();
	b = host_add_buddy(ra.acct, addr);          /* the dial */
	bench_host_send(ra.acct, addr, text);       /* queued until the session is up */
	ok = host_run_until(a_replied, NULL, ROUND_TIMEOUT_MS) && ra.r_est_ns > t0;
	if (ok) {
		v = (double) (ra.est_ns - t0) / 1e6;
		g_array_append_val(ra.ms[kind][link][MS_I], v);
		v = (double) (ra.r_est_ns - t0) / 1e6;
		g_array_append_val(ra.ms[kind][link][MS_R], v);
		v = (double) (ra.r_msg_ns - t0) / 1e6;
		g_array_append_val(ra.ms[kind][link][MS_MSG], v);
		if (g_getenv("BENCH_DEBUG_RTT") != NULL)
			fprintf(stderr, "rtt-a: round %u, %s, %u ms each way: I established %.1f ms, "
			        "R established %.1f ms, message at R %.1f ms\n", ra.round,
			        kind_name[kind], ra.delay_ms[link], (double) (ra.est_ns - t0) / 1e6,
			        (double) (ra.r_est_ns - t0) / 1e6, v);
	} else {
		fprintf(stderr, "rtt-a: %s round %u through %s: no session, or no times from R, "
		        "in %u ms\n", kind_name[kind], ra.round, addr, ROUND_TIMEOUT_MS);
		host_dump(0);
	}
	/* our ACK of R's reply reaches R; then hang up, and give R the time
	 * to see the BYE before the next call */
	host_run_for(settle_ms + 20);
	purple_account_remove_buddy(ra.acct, b, purple_buddy_get_group(b));
	purple_blist_remove_buddy(b);
	host_run_for(settle_ms + 100);
	ra.buddy = NULL;
	return ok;
}

int
bench_rtt_a_main(int argc, char **argv)
{
	char *addr[N_LINKS];
	guint warm, cold, r;
	int k, l, m, n;
	gboolean ok = TRUE;

	if (argc < 7) {
		fprintf(stderr, "usage: bench rtt-a PORT0 PORT1 DELAY_MS WARM COLD\n");
		return 2;
	}
	addr[LINK_PLAIN] = g_strdup_printf("127.0.0.1:%s", argv[2]);
	addr[LINK_SLOW] = g_strdup_printf("127.0.0.1:%s", argv[3]);
	ra.delay_ms[LINK_PLAIN] = 0;
	ra.delay_ms[LINK_SLOW] = (guint) atoi(argv[4]);
	warm = (guint) atoi(argv[5]);
	cold = MAX((guint) atoi(argv[6]), 1);       /* the first makes the caches */
	for (k = 0; k < N_KINDS; k++)
		for (l = 0; l < N_LINKS; l++)
			for (m = 0; m < N_MILESTONES; m++)
				ra.ms[k][l][m] = g_array_new(FALSE, FALSE, sizeof(double));

	bench_host_init();
	purple_signal_connect(purple_conversations_get_handle(), "wrote-im-msg",
	                      &signal_handle, PURPLE_CALLBACK(a_wrote), NULL);
	purple_signal_connect(purple_conversations_get_handle(), "received-im-msg",
	                      &signal_handle, PURPLE_CALLBACK(a_received), NULL);

	/* the two links in turns, so both see the same neighbours, and each
	 * first in every other turn */
	for (r = 0; r < MAX(warm, cold) && ok; r++) {
		for (n = 0; n < N_LINKS && ok; n++) {
			l = (int) ((r + (guint) n) % N_LINKS);
			if (r < cold) {
				a_fresh_account();
				ok = a_round(addr[l], KIND_COLD, l);
			}
			if (r < warm && ok)
				ok = a_round(addr[l], KIND_WARM, l);
		}
	}

	if (ok) {
		bench_report("rtt_one_way_ms", ra.delay_ms[LINK_SLOW]);
		bench_report("rtt_rounds_warm", warm);
		bench_report("rtt_rounds_cold", cold);
		for (k = 0; k < N_KINDS; k++) {
			for (m = 0; m < N_MILESTONES; m++) {
				for (l = 0; l < N_LINKS; l++) {
					GArray *a = ra.ms[k][l][m];
					char name[64];

					if (a->len == 0)
						continue;
					g_snprintf(name, sizeof(name), "rtt_%s_%s%s_ms", kind_name[k],
					           milestone_name[m], l == LINK_PLAIN ? "_nodelay" : "");
					bench_report(name, bench_median((double *) a->data, a->len));
				}
			}
		}
		/* how far PBKDF2 on a shared machine spreads the cold rounds */
		for (l = 0; l < N_LINKS; l++) {
			GArray *a = ra.ms[KIND_COLD][l][MS_I];
			const char *tag = l == LINK_PLAIN ? "_nodelay" : "";
			char name[64];

			g_snprintf(name, sizeof(name), "rtt_cold_initiator%s_min_ms", tag);
			bench_report(name, bench_quantile((double *) a->data, a->len, 0));
			g_snprintf(name, sizeof(name), "rtt_cold_initiator%s_max_ms", tag);
			bench_report(name, bench_quantile((double *) a->data, a->len, 1));
		}
	}
	for (k = 0; k < N_KINDS; k++)
		for (l = 0; l < N_LINKS; l++)
			for (m = 0; m < N_MILESTONES; m++)
				g_array_unref(ra.ms[k][l][m]);
	g_free(addr[LINK_PLAIN]);
	g_free(addr[LINK_SLOW]);
	host_shutdown();
	return ok ? 0 : 1;
}

/* ---- the conductor's part --------------------------------------------------------- */

/* One-way trips to each milestone, per version. */
static const double trips_v1[N_MILESTONES] = { 2, 3, 3 };
static const double trips_v2[N_MILESTONES] = { 4, 3, 5 };

static gboolean
expect_port(BenchChild *c, BenchFigures *f, guint *port)
{
	char *line = bench_child_expect(c, f, "ready", 60000);
	gboolean ok = line != NULL && sscanf(line, "ready port=%u", port) == 1;

	g_free(line);
	return ok;
}

gboolean
bench_rtt_run(BenchFigures *f, gboolean quick)
{
	char *b_argv[] = { "bench", "rtt-b", NULL };
	char *l_argv[] = { "bench", "rtt-link", NULL, NULL, NULL };
	char *a_argv[] = { "bench", "rtt-a", NULL, NULL, NULL, NULL, NULL, NULL };
	BenchChild a, b, link;
	guint port = 0, p0 = 0, p1 = 0;
	char *line;
	int status = -1;
	int k, m;

	if (!bench_child_start(&b, b_argv))
		return FALSE;
	if (!expect_port(&b, f, &port))
		goto out_b;
	l_argv[2] = g_strdup_printf("%u", port);
	l_argv[3] = g_strdup_printf("%u", RTT_ONE_WAY_MS);
	if (!bench_child_start(&link, l_argv))
		goto out_b;
	line = bench_child_expect(&link, f, "ready", 10000);
	if (line == NULL || sscanf(line, "ready ports=%u,%u", &p0, &p1) != 2) {
		g_free(line);
		goto out_link;
	}
	g_free(line);
	a_argv[2] = g_strdup_printf("%u", p0);
	a_argv[3] = g_strdup_printf("%u", p1);
	a_argv[4] = g_strdup_printf("%u", RTT_ONE_WAY_MS);
	a_argv[5] = g_strdup(quick ? "3" : "5");        /* warm rounds per link */
	a_argv[6] = g_strdup(quick ? "1" : "5");        /* cold rounds per link */
	if (bench_child_start(&a, a_argv))
		status = bench_child_wait(&a, f, 300000);
	for (k = 2; k < 7; k++)
		g_free(a_argv[k]);
out_link:
	bench_child_wait(&link, f, 10000);
out_b:
	bench_child_wait(&b, f, 30000);
	g_free(l_argv[2]);
	g_free(l_argv[3]);
	if (status != 0)
		return FALSE;

	/* the model, from this run's rounds without delay */
	for (k = 0; k < N_KINDS; k++) {
		double one_way, worst = 0;

		if (!bench_fig_get(f, "rtt_one_way_ms", &one_way))
			return FALSE;
		for (m = 0; m < N_MILESTONES; m++) {
			char name[64];
			double t0, measured, v2;

			g_snprintf(name, sizeof(name), "rtt_%s_%s_nodelay_ms", kind_name[k],
			           milestone_name[m]);
			if (!bench_fig_get(f, name, &t0))
				return FALSE;
			g_snprintf(name, sizeof(name), "rtt_%s_%s_ms", kind_name[k], milestone_name[m]);
			if (!bench_fig_get(f, name, &measured))
				return FALSE;
			v2 = t0 + trips_v2[m] * one_way;
			g_snprintf(name, sizeof(name), "rtt_%s_%s_v1_model_ms", kind_name[k],
			           milestone_name[m]);
			bench_fig_set(f, name, t0 + trips_v1[m] * one_way);
			g_snprintf(name, sizeof(name), "rtt_%s_%s_v2_model_ms", kind_name[k],
			           milestone_name[m]);
			bench_fig_set(f, name, v2);
			worst = MAX(worst, ABS(measured - v2));
		}
		bench_fig_set(f, k == KIND_WARM ? "rtt_warm_off_model_ms" : "rtt_cold_off_model_ms",
		              worst);
	}
	return TRUE;
}

void
bench_rtt_print(const BenchFigures *f)
{
	static const char *const what[N_MILESTONES] = {
		"initiator established", "responder established", "I's first message at R"
	};
	double one_way, rounds[N_KINDS], lo[N_LINKS], hi[N_LINKS];
	int k, m;

	if (!bench_fig_get(f, "rtt_one_way_ms", &one_way) ||
	    !bench_fig_get(f, "rtt_rounds_warm", &rounds[KIND_WARM]) ||
	    !bench_fig_get(f, "rtt_rounds_cold", &rounds[KIND_COLD]))
		return;
	printf("\n# protocol version 2 over a link of %.0f ms each way (RTT %.0f ms), through the "
	       "fault proxy\n# ms from the dial, medians of %.0f warm and %.0f cold rounds per link.  "
	       "T0: the same rounds\n# without delay, in this run.  Models: T0 plus the round trips "
	       "each version needs,\n# v1: I established 1 RTT, R established 1.5, I's first "
	       "message at R 1.5; v2: 2, 1.5, 2.5.\n# \"vs v1\": (measured - v1 model) / RTT, the "
	       "round trips version 2 adds.\n", one_way, 2 * one_way, rounds[KIND_WARM],
	       rounds[KIND_COLD]);
	printf("%-30s %7s %8s %9s %8s %9s %8s %6s\n", "", "T0", "v1", "v1+1 RTT", "v2",
	       "measured", "meas-v2", "vs v1");
	for (k = 0; k < N_KINDS; k++) {
		for (m = 0; m < N_MILESTONES; m++) {
			char name[64], label[64];
			double t0, measured, v1;

			g_snprintf(name, sizeof(name), "rtt_%s_%s_nodelay_ms", kind_name[k],
			           milestone_name[m]);
			if (!bench_fig_get(f, name, &t0))
				continue;
			g_snprintf(name, sizeof(name), "rtt_%s_%s_ms", kind_name[k], milestone_name[m]);
			if (!bench_fig_get(f, name, &measured))
				continue;
			v1 = t0 + trips_v1[m] * one_way;
			g_snprintf(label, sizeof(label), "%s, %s", kind_name[k], what[m]);
			printf("%-30s %7.1f %8.1f %9.1f %8.1f %9.1f %+8.1f %+6.2f\n", label, t0, v1,
			       v1 + 2 * one_way, t0 + trips_v2[m] * one_way, measured,
			       measured - (t0 + trips_v2[m] * one_way),
			       (measured - v1) / (2 * one_way));
		}
	}
	if (bench_fig_get(f, "rtt_cold_initiator_nodelay_min_ms", &lo[0]) &&
	    bench_fig_get(f, "rtt_cold_initiator_nodelay_max_ms", &hi[0]) &&
	    bench_fig_get(f, "rtt_cold_initiator_min_ms", &lo[1]) &&
	    bench_fig_get(f, "rtt_cold_initiator_max_ms", &hi[1]))
		printf("# cold rounds: I established after %.0f to %.0f ms without delay, %.0f to %.0f "
		       "ms with it\n# (PBKDF2 on both sides, on a shared machine): the cold rows hold "
		       "only to that spread\n", lo[0], hi[0], lo[1], hi[1]);
}
