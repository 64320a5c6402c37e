/*
 * faultproxy.c - the fault-injecting TCP proxy (see faultproxy.h).
 *
 * Plain non-blocking sockets watched with g_unix_fd_add().  Each accepted
 * connection is a Link of two ends (0: the client that called us, 1: our
 * connection to the target) and two flows (0 up: read from end 0, written
 * to end 1; 1 down: the reverse).  Every event on a link "pumps" it: read
 * what may be read, write what may be written, pass EOFs on, then set each
 * end's watch to what it now waits for.  An end that waits for nothing has
 * no watch at all, so a hung-up socket cannot spin the loop.
 *
 * Delay: what a flow reads is appended to its buffer at once, but only its
 * leading "ready" bytes may be written; the rest is a queue of chunks, each
 * with the time it may go.  One timerfd per proxy (CLOCK_MONOTONIC, the
 * clock of g_get_monotonic_time) wakes the loop at the earliest of them,
 * to the microsecond: GLib's own timeouts round up to whole milliseconds,
 * which over the several hops of a handshake would add up.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#include <glib-unix.h>

#include "faultproxy.h"

#define READ_CHUNK 65536

typedef struct Link Link;

typedef struct {
	int fd;
	guint watch;
	GIOCondition cond;          /* what the watch waits for; 0: no watch */
} End;

/* bytes a delayed flow read at one time: they may go at due */
typedef struct {
	gint64 due;                 /* g_get_monotonic_time() microseconds */
	gsize len;
} Held;

typedef struct {
	GByteArray *buf;            /* read from the source, not yet written */
	gsize ready;                /* its leading bytes that may be written */
	GQueue held;                /* Held*, the rest of buf, oldest first */
	gboolean eof;               /* the source has said EOF */
	gint64 eof_due;             /* when that EOF may be passed on */
	gboolean shut;              /* EOF passed on to the destination */
} Flow;

struct Link {
	FaultProxy *fp;
	End end[2];                 /* 0: the client, 1: the target */
	Flow flow[2];               /* 0: up (end 0 -> end 1), 1: down */
	gboolean connecting;        /* our connect to the target is under way */
};

struct FaultProxy {
	guint16 target_port;
	guint16 port;
	int listen_fd;
	guint listen_watch;
	GList *links;               /* Link* */
	FaultProxyDir stalled;
	guint trickle_ms;
	guint trickle_timer;
	guint delay_ms[2];          /* per flow: 0 up, 1 down */
	int timer_fd;               /* the delay's timerfd, or -1 */
	guint timer_watch;
	gint64 timer_due;           /* what it is armed for; 0: nothing */
	guint accepted;
	guint cut;
	guint64 bytes[2];
	guint64 writes[2];
};

static void link_pump(Link *l);
static void link_finish_connect(Link *l);
static void timer_arm(FaultProxy *fp);

/* ---- sockets ------------------------------------------------------------ */

static void
sock_setup(int fd)
{
	int on = 1;

	g_unix_set_fd_nonblocking(fd, TRUE, NULL);
	/* a byte written is a byte sent: trickle must not be coalesced here */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

static void
loopback(struct sockaddr_in *sa, guint16 port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

/* ---- links -------------------------------------------------------------- */

static void
end_unwatch(End *e)
{
	if (e->watch != 0)
		g_source_remove(e->watch);
	e->watch = 0;
	e->cond = 0;
}

static void
link_free(Link *l, gboolean reset)
{
	int i;

	l->fp->links = g_list_remove(l->fp->links, l);
	for (i = 0; i < 2; i++) {
		end_unwatch(&l->end[i]);
		if (l->end[i].fd >= 0) {
			if (reset) {
				/* an abortive close: the peer gets RST, not FIN */
				struct linger lg = { 1, 0 };

				setsockopt(l->end[i].fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			}
			close(l->end[i].fd);
		}
		g_byte_array_unref(l->flow[i].buf);
		g_queue_clear_full(&l->flow[i].held, g_free);
	}
	g_free(l);
}

static gboolean
flow_stalled(const Link *l, int f)
{
	return (l->fp->stalled & (f == 0 ? FAULT_PROXY_UP : FAULT_PROXY_DOWN)) != 0;
}

static gboolean
link_io_cb(gint fd, GIOCondition cond, gpointer data)
{
	Link *l = data;
	int e = fd == l->end[0].fd ? 0 : 1;

	/* the pump sets the watches anew: this one is gone either way */
	l->end[e].watch = 0;
	l->end[e].cond = 0;
	if (l->connecting && e == 1)
		link_finish_connect(l);
	else
		link_pump(l);
	return G_SOURCE_REMOVE;
}

/* Watch each end for what it waits for now. */
static void
link_watch(Link *l)
{
	int e;

	for (e = 0; e < 2; e++) {
		End *end = &l->end[e];
		const Flow *in = &l->flow[e];           /* read from this end */
		const Flow *out = &l->flow[1 - e];      /* written to this end */
		GIOCondition want = 0;

		if (l->connecting) {
			/* the client waits (its bytes queue in its socket) until the
			 * target answers */
			want = e == 1 ? G_IO_OUT : 0;
		} else {
			if (!in->eof && in->buf->len < FAULT_PROXY_MAX_BUFFER)
				want |= G_IO_IN;
			if (out->ready > 0 && !flow_stalled(l, 1 - e) && l->fp->trickle_ms == 0)
				want |= G_IO_OUT;
		}
		if (want == end->cond)
			continue;
		end_unwatch(end);
		if (want != 0) {
			end->watch = g_unix_fd_add(end->fd, want, link_io_cb, l);
			end->cond = want;
		}
	}
}

/* n bytes just appended to flow f: ready at once, or held for the delay
 * (behind what is held already, whatever its delay: order is kept). */
static void
flow_hold(Link *l, int f, gsize n, gint64 now)
{
	Flow *flow = &l->flow[f];
	guint delay = l->fp->delay_ms[f];
	Held *h;

	if (delay == 0 && g_queue_is_empty(&flow->held)) {
		flow->ready += n;
		return;
	}
	h = g_queue_peek_tail(&flow->held);
	if (h != NULL && h->due == now + (gint64) delay * 1000) {
		h->len += n;
		return;
	}
	h = g_new(Held, 1);
	h->due = now + (gint64) delay * 1000;
	h->len = n;
	g_queue_push_tail(&flow->held, h);
}

/* What the delay has released by now becomes ready. */
static void
flow_release(Flow *flow, gint64 now)
{
	Held *h;

	while ((h = g_queue_peek_head(&flow->held)) != NULL && h->due <= now) {
		flow->ready += h->len;
		g_free(g_queue_pop_head(&flow->held));
	}
}

/* Read what end e has, into flow e.  FALSE if the link broke. */
static gboolean
link_read(Link *l, int e)
{
	Flow *f = &l->flow[e];
	guint8 buf[READ_CHUNK];
	gint64 now = g_get_monotonic_time();
	int rounds;

	for (rounds = 0; rounds < 16 && !f->eof && f->buf->len < FAULT_PROXY_MAX_BUFFER;
	     rounds++) {
		ssize_t n = recv(l->end[e].fd, buf,
		                 MIN(sizeof(buf), FAULT_PROXY_MAX_BUFFER - f->buf->len), 0);

		if (n > 0) {
			g_byte_array_append(f->buf, buf, (guint) n);
			flow_hold(l, e, (gsize) n, now);
			continue;
		}
		if (n == 0) {
			f->eof = TRUE;
			f->eof_due = now + (gint64) l->fp->delay_ms[e] * 1000;
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		return FALSE;           /* reset by the peer */
	}
	return TRUE;
}

/* Write up to max bytes of flow f to its destination.  FALSE if the link
 * broke. */
static gboolean
link_write(Link *l, int f, gsize max)
{
	Flow *flow = &l->flow[f];
	int fd = l->end[1 - f].fd;

	while (flow->ready > 0 && max > 0) {
		ssize_t n = send(fd, flow->buf->data, MIN(flow->ready, max), MSG_NOSIGNAL);

		if (n > 0) {
			g_byte_array_remove_range(flow->buf, 0, (guint) n);
			flow->ready -= (gsize) n;
			l->fp->bytes[f] += (guint64) n;
			l->fp->writes[f]++;
			max -= (gsize) n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return TRUE;
		return FALSE;
	}
	return TRUE;
}

/* Pass an EOF on once everything before it has gone out. */
static void
link_pass_eof(Link *l, int f)
{
	Flow *flow = &l->flow[f];

	if (flow->eof && !flow->shut && flow->buf->len == 0 && !flow_stalled(l, f) &&
	    flow->eof_due <= g_get_monotonic_time()) {
		shutdown(l->end[1 - f].fd, SHUT_WR);
		flow->shut = TRUE;
	}
}

static void
link_finish_connect(Link *l)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(l->end[1].fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err != 0) {
		/* the target is not there: the client sees its call closed */
		link_free(l, FALSE);
		return;
	}
	l->connecting = FALSE;
	link_pump(l);
}

static void
link_pump(Link *l)
{
	int f;

	if (l->connecting) {
		link_watch(l);
		return;
	}
	for (f = 0; f < 2; f++) {
		if (!link_read(l, f)) {
			link_free(l, FALSE);
			return;
		}
	}
	for (f = 0; f < 2; f++)
		flow_release(&l->flow[f], g_get_monotonic_time());
	for (f = 0; f < 2; f++) {
		if (flow_stalled(l, f) || l->fp->trickle_ms != 0)
			continue;
		if (!link_write(l, f, G_MAXSIZE)) {
			link_free(l, FALSE);
			return;
		}
	}
	for (f = 0; f < 2; f++)
		link_pass_eof(l, f);
	if (l->flow[0].shut && l->flow[1].shut) {
		/* both sides have said all they had to say */
		link_free(l, FALSE);
		return;
	}
	link_watch(l);
	timer_arm(l->fp);
}

/* ---- the delay's timer -------------------------------------------------- */

static void pump_all(FaultProxy *fp);

static gboolean
timer_cb(gint fd, GIOCondition cond, gpointer data)
{
	FaultProxy *fp = data;
	guint64 expirations;

	if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		g_warning("faultproxy: timerfd: %s", g_strerror(errno));
	fp->timer_due = 0;
	pump_all(fp);
	return G_SOURCE_CONTINUE;
}

/* Wake the loop when the next held chunk or EOF is due.  Set only when
 * that time changes; a wake-up with nothing due is harmless (it pumps). */
static void
timer_arm(FaultProxy *fp)
{
	gint64 now = g_get_monotonic_time(), due = 0;
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };
	GList *it;
	int f;

	for (it = fp->links; it != NULL; it = it->next) {
		Link *l = it->data;

		for (f = 0; f < 2; f++) {
			Flow *flow = &l->flow[f];
			const Held *h = g_queue_peek_head(&flow->held);

			if (h != NULL && (due == 0 || h->due < due))
				due = h->due;
			if (flow->eof && !flow->shut && flow->eof_due > now &&
			    (due == 0 || flow->eof_due < due))
				due = flow->eof_due;
		}
	}
	if (due == 0 || due == fp->timer_due)
		return;
	if (fp->timer_fd < 0) {
		fp->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (fp->timer_fd < 0)
			g_error("faultproxy: timerfd_create: %s", g_strerror(errno));
		fp->timer_watch = g_unix_fd_add(fp->timer_fd, G_IO_IN, timer_cb, fp);
	}
	its.it_value.tv_sec = due / G_USEC_PER_SEC;
	its.it_value.tv_nsec = (due % G_USEC_PER_SEC) * 1000;
	if (timerfd_settime(fp->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
		g_error("faultproxy: timerfd_settime: %s", g_strerror(errno));
	fp->timer_due = due;
}

/* ---- the listener ------------------------------------------------------- */

static gboolean
accept_cb(gint fd, GIOCondition cond, gpointer data)
{
	FaultProxy *fp = data;
	int i;

	for (i = 0; i < 16; i++) {
		struct sockaddr_in sa;
		int cfd = accept(fd, NULL, NULL);
		int tfd;
		Link *l;

		if (cfd < 0)
			break;
		fp->accepted++;
		sock_setup(cfd);
		tfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (tfd < 0) {
			close(cfd);
			continue;
		}
		sock_setup(tfd);
		loopback(&sa, fp->target_port);
		l = g_new0(Link, 1);
		l->fp = fp;
		l->end[0].fd = cfd;
		l->end[1].fd = tfd;
		l->flow[0].buf = g_byte_array_new();
		l->flow[1].buf = g_byte_array_new();
		fp->links = g_list_prepend(fp->links, l);
		if (connect(tfd, (struct sockaddr *) &sa, sizeof(sa)) == 0) {
			link_pump(l);
		} else if (errno == EINPROGRESS) {
			l->connecting = TRUE;
			link_watch(l);
		} else {
			link_free(l, FALSE);
		}
	}
	return G_SOURCE_CONTINUE;
}

static gboolean
listen_on(FaultProxy *fp, guint16 port, GError **error)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int on = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "socket: %s",
		            g_strerror(errno));
		return FALSE;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	loopback(&sa, port);
	if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0 || listen(fd, 64) != 0 ||
	    getsockname(fd, (struct sockaddr *) &sa, &len) != 0) {
		int e = errno;

		close(fd);
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
		            "cannot listen on 127.0.0.1:%u: %s", port, g_strerror(e));
		return FALSE;
	}
	g_unix_set_fd_nonblocking(fd, TRUE, NULL);
	fp->listen_fd = fd;
	fp->port = ntohs(sa.sin_port);
	fp->listen_watch = g_unix_fd_add(fd, G_IO_IN, accept_cb, fp);
	return TRUE;
}

static void
listen_stop(FaultProxy *fp)
{
	if (fp->listen_watch != 0)
		g_source_remove(fp->listen_watch);
	fp->listen_watch = 0;
	if (fp->listen_fd >= 0)
		close(fp->listen_fd);
	fp->listen_fd = -1;
}

/* ---- the proxy ---------------------------------------------------------- */

FaultProxy *
fault_proxy_new(guint16 target_port, GError **error)
{
	FaultProxy *fp;

	g_return_val_if_fail(target_port != 0, NULL);
	fp = g_new0(FaultProxy, 1);
	fp->target_port = target_port;
	fp->listen_fd = -1;
	fp->timer_fd = -1;
	if (!listen_on(fp, 0, error)) {
		g_free(fp);
		return NULL;
	}
	return fp;
}

void
fault_proxy_free(FaultProxy *fp)
{
	if (fp == NULL)
		return;
	while (fp->links != NULL)
		link_free(fp->links->data, FALSE);
	listen_stop(fp);
	if (fp->trickle_timer != 0)
		g_source_remove(fp->trickle_timer);
	if (fp->timer_watch != 0)
		g_source_remove(fp->timer_watch);
	if (fp->timer_fd >= 0)
		close(fp->timer_fd);
	g_free(fp);
}

guint16
fault_proxy_port(const FaultProxy *fp)
{
	return fp->port;
}

char *
fault_proxy_address(const FaultProxy *fp)
{
	return g_strdup_printf("127.0.0.1:%u", fp->port);
}

static guint
cut(FaultProxy *fp, gboolean reset)
{
	guint n = 0;

	while (fp->links != NULL) {
		link_free(fp->links->data, reset);
		n++;
	}
	fp->cut += n;
	return n;
}

guint
fault_proxy_cut_all(FaultProxy *fp)
{
	return cut(fp, FALSE);
}

guint
fault_proxy_reset_all(FaultProxy *fp)
{
	return cut(fp, TRUE);
}

/* Pump every link (a setting changed). */
static void
pump_all(FaultProxy *fp)
{
	GList *links = g_list_copy(fp->links), *it;

	/* a pump may free its link, never another */
	for (it = links; it != NULL; it = it->next)
		link_pump(it->data);
	g_list_free(links);
}

void
fault_proxy_set_stall(FaultProxy *fp, FaultProxyDir dirs, gboolean stall)
{
	if (stall)
		fp->stalled |= dirs;
	else
		fp->stalled &= ~dirs;
	pump_all(fp);
}

static gboolean
trickle_cb(gpointer data)
{
	FaultProxy *fp = data;
	GList *links = g_list_copy(fp->links), *it;

	for (it = links; it != NULL; it = it->next) {
		Link *l = it->data;
		gboolean ok = TRUE;
		int f;

		if (l->connecting)
			continue;
		for (f = 0; f < 2 && ok; f++) {
			if (!flow_stalled(l, f))
				ok = link_write(l, f, 1);
		}
		if (!ok) {
			link_free(l, FALSE);
			continue;
		}
		/* EOFs, and reading on where the buffer had been full */
		link_pump(l);
	}
	g_list_free(links);
	return G_SOURCE_CONTINUE;
}

void
fault_proxy_set_trickle(FaultProxy *fp, guint interval_ms)
{
	if (fp->trickle_timer != 0)
		g_source_remove(fp->trickle_timer);
	fp->trickle_timer = 0;
	fp->trickle_ms = interval_ms;
	if (interval_ms != 0)
		fp->trickle_timer = g_timeout_add(interval_ms, trickle_cb, fp);
	pump_all(fp);
}

void
fault_proxy_set_delay(FaultProxy *fp, FaultProxyDir dirs, guint delay_ms)
{
	g_return_if_fail(fp != NULL);
	if (dirs & FAULT_PROXY_UP)
		fp->delay_ms[0] = delay_ms;
	if (dirs & FAULT_PROXY_DOWN)
		fp->delay_ms[1] = delay_ms;
}

gboolean
fault_proxy_set_listening(FaultProxy *fp, gboolean listening)
{
	if (!listening) {
		listen_stop(fp);
		return TRUE;
	}
	if (fp->listen_fd >= 0)
		return TRUE;
	return listen_on(fp, fp->port, NULL);
}

guint
fault_proxy_accepted(const FaultProxy *fp)
{
	return fp->accepted;
}

guint
fault_proxy_active(const FaultProxy *fp)
{
	return g_list_length(fp->links);
}

guint
fault_proxy_cut_count(const FaultProxy *fp)
{
	return fp->cut;
}

guint64
fault_proxy_bytes(const FaultProxy *fp, FaultProxyDir dirs)
{
	return ((dirs & FAULT_PROXY_UP) ? fp->bytes[0] : 0) +
	       ((dirs & FAULT_PROXY_DOWN) ? fp->bytes[1] : 0);
}

guint64
fault_proxy_writes(const FaultProxy *fp, FaultProxyDir dirs)
{
	return ((dirs & FAULT_PROXY_UP) ? fp->writes[0] : 0) +
	       ((dirs & FAULT_PROXY_DOWN) ? fp->writes[1] : 0);
}

gsize
fault_proxy_buffered(const FaultProxy *fp, FaultProxyDir dirs)
{
	gsize n = 0;
	GList *it;

	for (it = fp->links; it != NULL; it = it->next) {
		const Link *l = it->data;

		if (dirs & FAULT_PROXY_UP)
			n += l->flow[0].buf->len;
		if (dirs & FAULT_PROXY_DOWN)
			n += l->flow[1].buf->len;
	}
	return n;
}
