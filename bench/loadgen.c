/*
 * loadgen.c - the load generator: many native Parley connections to one
 * listening account, spoken with the protocol core (session.h) in one
 * epoll loop.
 *
 *   bench loadgen PORT N [INFLIGHT]
 *
 * Every connection dials 127.0.0.1:PORT as an initiator with the same salt
 * and passphrase, so the listener runs PBKDF2 once and finds PRS in its
 * cache afterwards (§3), and this side computes PRS once too.  Each comes
 * from its own loopback source address (127.1.x.y): to the listener they
 * are a thousand different strangers, as a thousand peers would be, and
 * §9's per-address limit does not serialise them.  At most INFLIGHT
 * handshakes run at once (default 8, under the listener's limit of 16); a
 * refusal (ERROR 4, busy) is retried after a short wait.
 *
 * Dialogue with the conductor: "warm" once the first connection is up
 * (the listener's PBKDF2 done); on "go" the N others are established, in
 * three phases ("phase 1", "phase 2", each answered with "go"), and
 * "established" said; on "cold" one more connection with a new salt (the
 * listener's PBKDF2 with all the others up) and "cold-done"; on "send" each sends one 100-byte message and
 * "acked" is said when every ACK came back; at EOF on stdin all close.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "bench.h"
#include "constants.h"
#include "crypto.h"
#include "session.h"

#define RETRY_MS      50
#define STDIN_TAG     ((void *) 1)

typedef struct {
	guint index;
	int fd;
	ParleySession *s;
	gboolean connected;
	gboolean established;
	gboolean busy;              /* refused with ERROR 4: try again */
	gboolean acked;
	gint64 retry_at;            /* ns, 0: none */
} Conn;

static struct {
	guint16 port;
	int ep;
	uint8_t salt[PARLEY_SALT_LEN];
	uint8_t prs[PARLEY_PRS_LEN];
	Conn *conns;
	guint n;                    /* connections in all, the first included */
	guint established;
	guint inflight;
	guint acked;
	guint retries;
	guint failures;
	BenchLines in;
} g;

static gint64
now_ms(void)
{
	return bench_now_ns() / 1000000;
}

static void
conn_close(Conn *c)
{
	if (c->fd >= 0) {
		epoll_ctl(g.ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	g_clear_pointer(&c->s, parley_session_free);
	c->connected = FALSE;
}

static void
conn_watch(Conn *c, gboolean want_write)
{
	struct epoll_event ev = { 0 };

	ev.events = EPOLLIN | (want_write ? EPOLLOUT : 0);
	ev.data.ptr = c;
	epoll_ctl(g.ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void
conn_flush(Conn *c)
{
	GByteArray *out;
	gsize done = 0;

	if (c->s == NULL || c->fd < 0)
		return;
	out = parley_session_output(c->s);
	while (done < out->len) {
		ssize_t n = send(c->fd, out->data + done, out->len - done, MSG_NOSIGNAL);

		if (n > 0)
			done += (gsize) n;
		else if (n < 0 && errno == EINTR)
			continue;
		else
			break;
	}
	if (done > 0)
		g_byte_array_remove_range(out, 0, (guint) done);
	conn_watch(c, out->len > 0);
}

static void
conn_start(Conn *c)
{
	struct sockaddr_in src = { 0 }, dst = { 0 };
	struct epoll_event ev = { 0 };
	int on = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		g_error("socket: %s", g_strerror(errno));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	src.sin_family = AF_INET;
	/* the first from 127.0.0.1, the others from 127.1.x.y */
	src.sin_addr.s_addr = c->index == 0 ? htonl(0x7f000001) :
	                      htonl(0x7f010000u | ((c->index / 250) << 8) | (c->index % 250 + 1));
	if (bind(c->fd, (struct sockaddr *) &src, sizeof(src)) != 0)
		g_error("bind: %s", g_strerror(errno));
	dst.sin_family = AF_INET;
	dst.sin_port = htons(g.port);
	dst.sin_addr.s_addr = htonl(0x7f000001);
	if (connect(c->fd, (struct sockaddr *) &dst, sizeof(dst)) != 0 && errno != EINPROGRESS)
		g_error("connect: %s", g_strerror(errno));
	ev.events = EPOLLOUT;
	ev.data.ptr = c;
	epoll_ctl(g.ep, EPOLL_CTL_ADD, c->fd, &ev);
	c->busy = FALSE;
	c->retry_at = 0;
	g.inflight++;
}

static void
conn_events(Conn *c)
{
	ParleyEvent ev;
	gboolean closed = FALSE;

	while (c->s != NULL && parley_session_next_event(c->s, &ev)) {
		switch (ev.type) {
		case PARLEY_EV_NEED_KDF:
			/* one salt for all: the PRS computed at start */
			parley_session_provide_prs(c->s, ev.kdf_id, g.prs, now_ms());
			break;
		case PARLEY_EV_ESTABLISHED:
			c->established = TRUE;
			g.established++;
			g.inflight--;
			break;
		case PARLEY_EV_ACK:
			if (!c->acked) {
				c->acked = TRUE;
				g.acked++;
			}
			break;
		case PARLEY_EV_ERROR:
			if (ev.from_peer && ev.error == PARLEY_ERR_BUSY)
				c->busy = TRUE;
			else
				fprintf(stderr, "loadgen: connection %u: %s\n", c->index,
				        parley_strerror(ev.error));
			break;
		case PARLEY_EV_CLOSED:
			closed = TRUE;
			break;
		default:
			break;
		}
		parley_event_clear(&ev);
	}
	conn_flush(c);
	if (!closed)
		return;
	if (!c->established)
		g.inflight--;
	else
		g.established--;
	c->established = FALSE;
	conn_close(c);
	if (c->busy) {
		g.retries++;
		c->retry_at = bench_now_ns() + (gint64) RETRY_MS * 1000000;
	} else {
		g.failures++;
	}
}

static void
conn_io(Conn *c, uint32_t events)
{
	uint8_t buf[16384];

	if (!c->connected) {
		ParleySessionConfig cfg = { 0 };
		int err = 0;
		socklen_t len = sizeof(err);
		char name[32];

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0)
			g_error("connection %u: %s", c->index, g_strerror(err));
		c->connected = TRUE;
		g_snprintf(name, sizeof(name), "load-%u", c->index);
		cfg.initiator = TRUE;
		cfg.name = name;
		cfg.salt = g.salt;
		cfg.iterations = PARLEY_DEFAULT_ITERATIONS;
		c->s = parley_session_new(&cfg, now_ms());
		conn_events(c);
		return;
	}
	for (;;) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

		if (n > 0) {
			parley_session_feed(c->s, buf, (size_t) n, now_ms());
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		parley_session_eof(c->s, now_ms());
		break;
	}
	conn_events(c);
}

/* One round of the loop: I/O, retries, commands.  Returns a command line
 * if one came (caller frees). */
static char *
loop_once(int timeout_ms)
{
	struct epoll_event evs[256];
	char *cmd = NULL;
	gboolean stdin_ready = FALSE;
	int n, i;
	guint k;

	n = epoll_wait(g.ep, evs, G_N_ELEMENTS(evs), timeout_ms);
	for (i = 0; i < n; i++) {
		if (evs[i].data.ptr == STDIN_TAG)
			stdin_ready = TRUE;
		else
			conn_io(evs[i].data.ptr, evs[i].events);
	}
	/* one command per round; a second one read with it waits its turn */
	if (stdin_ready || memchr(g.in.buf->str, '\n', g.in.buf->len) != NULL) {
		cmd = bench_lines_next(&g.in, 0);
		if (cmd == NULL && g.in.eof)
			cmd = g_strdup("eof");
	}
	for (k = 0; k < g.n; k++) {
		Conn *c = &g.conns[k];

		if (c->retry_at != 0 && bench_now_ns() >= c->retry_at)
			conn_start(c);
	}
	return cmd;
}

static void
wait_command(const char *want)
{
	for (;;) {
		char *cmd = loop_once(100);

		if (cmd != NULL && strcmp(cmd, want) == 0) {
			g_free(cmd);
			return;
		}
		if (cmd != NULL && strcmp(cmd, "eof") == 0)
			exit(0);
		g_free(cmd);
	}
}

int
bench_loadgen_main(int argc, char **argv)
{
	guint inflight_max = 8, next = 1, k;
	struct epoll_event ev = { 0 };
	uint8_t *pass;
	size_t len;
	ParleyError err;
	gint64 t0, t1, elapsed[3], total;
	guint tenth, phase;

	if (argc < 4) {
		fprintf(stderr, "usage: bench loadgen PORT N [INFLIGHT]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	g.port = (guint16) atoi(argv[2]);
	g.n = (guint) atoi(argv[3]) + 1;
	if (argc > 4)
		inflight_max = (guint) MAX(atoi(argv[4]), 1);
	if ((guint) bench_raise_nofile() < g.n + 16)
		g_error("need %u file descriptors", g.n + 16);
	parley_crypto_init();

	/* §3: one account dialling many times: one salt, PRS once */
	parley_random_bytes(g.salt, sizeof(g.salt));
	pass = parley_passphrase_nfc(BENCH_PASSPHRASE, &len, &err);
	BENCH_CHECK(parley_pbkdf2_sha256(pass, len, g.salt, sizeof(g.salt),
	                                 PARLEY_DEFAULT_ITERATIONS, g.prs, sizeof(g.prs)));
	parley_secure_free(pass, len);

	g.ep = epoll_create1(EPOLL_CLOEXEC);
	bench_lines_init(&g.in, STDIN_FILENO);
	ev.events = EPOLLIN;
	ev.data.ptr = STDIN_TAG;
	epoll_ctl(g.ep, EPOLL_CTL_ADD, STDIN_FILENO, &ev);
	g.conns = g_new0(Conn, g.n + 1);       /* and the cold one */
	for (k = 0; k < g.n + 1; k++) {
		g.conns[k].index = k;
		g.conns[k].fd = -1;
	}

	/* the first: the listener's PBKDF2, its cache warm afterwards */
	conn_start(&g.conns[0]);
	while (g.established < 1) {
		g_free(loop_once(100));
		if (g.failures > 0)
			g_error("the first connection failed");
	}
	printf("warm\n");
	wait_command("go");

	/* Three phases - the first tenth, up to the last tenth, the last
	 * tenth - with a pause between them in which the conductor reads the
	 * listener's CPU time: does a handshake cost it more when many
	 * connections are up?  The pauses are not counted. */
	tenth = MAX((g.n - 1) / 10, 1);
	for (phase = 0; phase < 3; phase++) {
		guint upto = phase == 0 ? 1 + tenth : phase == 1 ? g.n - tenth : g.n;
		gint64 t = bench_now_ns();

		while (g.established < upto) {
			while (next < upto && g.inflight < inflight_max)
				conn_start(&g.conns[next++]);
			g_free(loop_once(10));
			if (g.failures > 0)
				g_error("%u connections failed", g.failures);
		}
		elapsed[phase] = bench_now_ns() - t;
		if (phase < 2) {
			printf("phase %u\n", phase + 1);
			wait_command("go");
		}
	}
	total = elapsed[0] + elapsed[1] + elapsed[2];
	bench_report("scale_establish_s", (double) total / 1e9);
	bench_report("scale_handshakes_s", (double) (g.n - 1) * 1e9 / (double) total);
	bench_report("scale_first_tenth_handshakes_s", (double) tenth * 1e9 / (double) elapsed[0]);
	bench_report("scale_last_tenth_handshakes_s", (double) tenth * 1e9 / (double) elapsed[2]);
	bench_report("scale_busy_retries", g.retries);
	printf("established\n");

	/* one more, from a new salt: the listener's PBKDF2 (and its secure
	 * memory) with all the others up.  Our own PBKDF2 is done first and
	 * not counted. */
	wait_command("cold");
	parley_random_bytes(g.salt, sizeof(g.salt));
	pass = parley_passphrase_nfc(BENCH_PASSPHRASE, &len, &err);
	BENCH_CHECK(parley_pbkdf2_sha256(pass, len, g.salt, sizeof(g.salt),
	                                 PARLEY_DEFAULT_ITERATIONS, g.prs, sizeof(g.prs)));
	parley_secure_free(pass, len);
	t0 = bench_now_ns();
	conn_start(&g.conns[g.n]);
	while (g.established < g.n + 1) {
		g_free(loop_once(10));
		if (g.failures > 0)
			g_error("the cold connection failed");
	}
	bench_report("scale_cold_handshake_ms", (double) (bench_now_ns() - t0) / 1e6);
	g.n++;
	printf("cold-done\n");
	wait_command("send");

	t0 = bench_now_ns();
	for (k = 0; k < g.n; k++) {
		Conn *c = &g.conns[k];
		uint8_t id[PARLEY_MSG_ID_LEN];
		char text[BENCH_MSG_LEN];

		parley_random_bytes(id, sizeof(id));
		memset(text, 'x', sizeof(text));
		parley_session_send_message(c->s, id, text, sizeof(text), now_ms());
		conn_flush(c);
	}
	while (g.acked < g.n) {
		g_free(loop_once(10));
		if (g.failures > 0)
			g_error("%u connections failed", g.failures);
	}
	t1 = bench_now_ns();
	bench_report("scale_messages_acked_ms", (double) (t1 - t0) / 1e6);
	printf("acked\n");
	wait_command("eof");
	return 0;
}
