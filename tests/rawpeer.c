/*
 * rawpeer.c - a Parley peer on raw sockets for the end-to-end tests (see
 * rawpeer.h).  The socket side is plain POSIX on the host's GLib loop; the
 * protocol side is the core's handshake and record layer, used the way
 * session.c uses them, minus every check a hostile test wants to skip.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <glib.h>
#include <glib-unix.h>

#include "crypto.h"
#include "frame.h"
#include "host.h"
#include "rawpeer.h"
#include "session.h"

static gint64
now_ms(void)
{
	return g_get_monotonic_time() / 1000;
}

/* ---- the connection --------------------------------------------------- */

static gboolean
conn_readable(gint fd, GIOCondition cond, gpointer data)
{
	RawConn *c = data;
	uint8_t buf[16384];

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n > 0) {
			g_byte_array_append(c->in, buf, (guint) n);
			c->received += (gsize) n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return G_SOURCE_CONTINUE;
		/* 0: an orderly close; an error (ECONNRESET) ends it too */
		c->eof = TRUE;
		c->eof_ms = now_ms();
		c->watch = 0;
		return G_SOURCE_REMOVE;
	}
}

RawConn *
raw_connect(const char *src_ip, guint16 port)
{
	return raw_connect_ip(src_ip, "127.0.0.1", port);
}

/* A numeric address and port as a socket address; its length, 0 if ip is
 * not an address. */
static socklen_t
sockaddr_of(const char *ip, guint16 port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *) ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *) ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		return sizeof(*s4);
	}
	if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		return sizeof(*s6);
	}
	return 0;
}

RawConn *
raw_connect_ip(const char *src_ip, const char *dst_ip, guint16 port)
{
	struct sockaddr_storage sa;
	socklen_t len;
	RawConn *c;
	int fd, on = 1;

	len = sockaddr_of(dst_ip, port, &sa);
	g_return_val_if_fail(len != 0, NULL);
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		g_test_message("socket: %s", g_strerror(errno));
		return NULL;
	}
	if (src_ip != NULL) {
		struct sockaddr_storage src;
		socklen_t src_len = sockaddr_of(src_ip, 0, &src);

		/* an address of a prefix routed to lo, not configured on it */
		if (src.ss_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &on, sizeof(on));
		if (src_len == 0 || src.ss_family != sa.ss_family ||
		    bind(fd, (struct sockaddr *) &src, src_len) != 0) {
			g_test_message("bind %s: %s", src_ip, g_strerror(errno));
			close(fd);
			return NULL;
		}
	}
	/* on loopback the kernel completes this from the listen backlog,
	 * without the plugin's accept(): it does not need the main loop */
	if (connect(fd, (struct sockaddr *) &sa, len) != 0) {
		g_test_message("connect to %s port %u: %s", dst_ip, port, g_strerror(errno));
		close(fd);
		return NULL;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));

	c = g_new0(RawConn, 1);
	c->fd = fd;
	c->in = g_byte_array_new();
	c->opened_ms = now_ms();
	c->watch = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR, conn_readable, c);
	return c;
}

gboolean
raw_send(RawConn *c, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t done = 0;
	gint64 deadline = now_ms() + 10000;

	if (c == NULL || c->fd < 0)
		return FALSE;
	while (done < len) {
		ssize_t n = send(c->fd, p + done, len - done, MSG_NOSIGNAL);

		if (n > 0) {
			done += (size_t) n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && now_ms() < deadline) {
			/* the plugin reads on this very loop: let it */
			g_main_context_iteration(NULL, FALSE);
			continue;
		}
		return FALSE;
	}
	return TRUE;
}

void
raw_shutdown_write(RawConn *c)
{
	if (c != NULL && c->fd >= 0)
		shutdown(c->fd, SHUT_WR);
}

void
raw_close(RawConn *c)
{
	if (c == NULL)
		return;
	if (c->watch != 0)
		g_source_remove(c->watch);
	if (c->fd >= 0)
		close(c->fd);
	g_byte_array_unref(c->in);
	g_free(c);
}

GByteArray *
raw_take_frame(RawConn *c)
{
	GByteArray *f;
	guint32 n;

	if (c->in->len < PARLEY_FRAME_HEADER_LEN)
		return NULL;
	n = parley_get_be32(c->in->data);
	if (n == 0 || n > PARLEY_MAX_FRAME) {
		f = g_byte_array_new();
		g_byte_array_append(f, c->in->data, PARLEY_FRAME_HEADER_LEN);
		g_byte_array_remove_range(c->in, 0, PARLEY_FRAME_HEADER_LEN);
		return f;
	}
	if (c->in->len < PARLEY_FRAME_HEADER_LEN + n)
		return NULL;
	f = g_byte_array_new();
	g_byte_array_append(f, c->in->data + PARLEY_FRAME_HEADER_LEN, n);
	g_byte_array_remove_range(c->in, 0, PARLEY_FRAME_HEADER_LEN + n);
	return f;
}

typedef struct {
	RawConn *c;
	GByteArray *frame;
} FrameWait;

static gboolean
frame_or_eof(gpointer data)
{
	FrameWait *w = data;

	if (w->frame == NULL)
		w->frame = raw_take_frame(w->c);
	return w->frame != NULL || w->c->eof;
}

GByteArray *
raw_wait_frame(RawConn *c, guint timeout_ms)
{
	FrameWait w = { c, NULL };

	host_run_until(frame_or_eof, &w, timeout_ms);
	/* the frame may have come with the EOF */
	if (w.frame == NULL)
		w.frame = raw_take_frame(c);
	return w.frame;
}

static gboolean
is_eof(gpointer data)
{
	return ((RawConn *) data)->eof;
}

gboolean
raw_wait_eof(RawConn *c, guint timeout_ms)
{
	return host_run_until(is_eof, c, timeout_ms);
}

int
raw_error_code(const GByteArray *payload)
{
	if (payload == NULL || payload->len < 7 ||
	    memcmp(payload->data, PARLEY_MAGIC, PARLEY_MAGIC_LEN) != 0 ||
	    payload->data[5] != PARLEY_HS_ERROR)
		return -1;
	return payload->data[6];
}

GByteArray *
raw_frame(const void *payload, size_t len)
{
	GByteArray *f = g_byte_array_sized_new((guint) len + PARLEY_FRAME_HEADER_LEN);
	uint8_t h[PARLEY_FRAME_HEADER_LEN];

	parley_put_be32(h, (uint32_t) len);
	g_byte_array_append(f, h, sizeof(h));
	g_byte_array_append(f, payload, (guint) len);
	return f;
}

GByteArray *
raw_hs1_payload(uint8_t version, const uint8_t commit[PARLEY_COMMIT_LEN],
                const uint8_t salt[PARLEY_SALT_LEN], guint32 iterations,
                guint16 listen_port, const char *name)
{
	GByteArray *p = g_byte_array_new();
	uint8_t buf[PARLEY_POINT_LEN];
	uint8_t head[6] = { 'P', 'R', 'L', 'Y', version, PARLEY_HS1 };
	uint8_t n = (uint8_t) strlen(name);

	g_byte_array_append(p, head, sizeof(head));
	parley_random_bytes(buf, PARLEY_SID_LEN);
	g_byte_array_append(p, buf, PARLEY_SID_LEN);
	if (commit == NULL) {
		parley_random_bytes(buf, PARLEY_COMMIT_LEN);
		commit = buf;
	}
	g_byte_array_append(p, commit, PARLEY_COMMIT_LEN);
	g_byte_array_append(p, salt, PARLEY_SALT_LEN);
	parley_put_be32(buf, iterations);
	parley_put_be16(buf + 4, listen_port);
	buf[6] = n;
	g_byte_array_append(p, buf, 7);
	g_byte_array_append(p, (const guint8 *) name, n);
	return p;
}

/* ---- the native session ------------------------------------------------- */

/* HS4 comes at once after HS3 (no PBKDF2 between them); generous for a
 * busy machine under a sanitizer */
#define RAW_HS4_WAIT_MS 20000

void
raw_session_init(RawSession *s, RawConn *conn)
{
	memset(s, 0, sizeof(*s));
	s->conn = conn;
	s->error_code = -1;
	s->messages = g_ptr_array_new_with_free_func(g_free);
	s->epoch_keys = g_ptr_array_new_with_free_func(g_free);
	s->dh = g_ptr_array_new_with_free_func((GDestroyNotify) g_bytes_unref);
}

void
raw_session_clear(RawSession *s)
{
	guint i;

	if (s->hs_live)
		parley_handshake_clear(&s->hs);
	if (s->hs2 != NULL)
		g_byte_array_unref(s->hs2);
	parley_record_dir_clear(&s->send);
	parley_record_dir_clear(&s->recv);
	parley_record_dir_clear(&s->recv_next);
	if (s->rekey_e != NULL)
		parley_secure_free(s->rekey_e, PARLEY_SCALAR_LEN);
	for (i = 0; i < s->epoch_keys->len; i++)
		parley_wipe(g_ptr_array_index(s->epoch_keys, i), sizeof(ParleyEpochKeys));
	g_ptr_array_unref(s->epoch_keys);
	g_ptr_array_unref(s->dh);
	g_ptr_array_unref(s->messages);
	parley_wipe(s, sizeof(*s));
}

void
raw_session_send_hs1(RawSession *s, const char *name, guint16 listen_port,
                     const uint8_t salt[PARLEY_SALT_LEN], guint32 iterations,
                     const uint8_t prs[PARLEY_PRS_LEN])
{
	GByteArray *out = g_byte_array_new();

	parley_handshake_init_initiator(&s->hs, name, listen_port, salt, iterations, NULL, NULL);
	s->hs_live = TRUE;
	g_assert_cmpint(parley_handshake_create_hs1(&s->hs, prs, out), ==, PARLEY_ERR_NONE);
	raw_send(s->conn, out->data, out->len);
	g_byte_array_unref(out);
}

RawReply
raw_session_wait_reply(RawSession *s, guint timeout_ms)
{
	GByteArray *f = raw_wait_frame(s->conn, timeout_ms);

	if (f == NULL)
		return s->conn->eof ? RAW_REPLY_CLOSED : RAW_REPLY_NONE;
	if (raw_error_code(f) >= 0) {
		s->error_code = raw_error_code(f);
		g_byte_array_unref(f);
		return RAW_REPLY_ERROR;
	}
	if (f->len > 6 && memcmp(f->data, "PRLY\x02\x02", 6) == 0) {
		if (s->hs2 != NULL)
			g_byte_array_unref(s->hs2);
		s->hs2 = f;
		return RAW_REPLY_HS2;
	}
	g_byte_array_unref(f);
	return RAW_REPLY_OTHER;
}

static void
keep_keys(RawSession *s, const ParleyEpochKeys *k)
{
	g_ptr_array_add(s->epoch_keys, g_memdup2(k, sizeof(*k)));
}

ParleyError
raw_session_finish(RawSession *s)
{
	ParleyEpochKeys k;
	GByteArray *out, *hs4;
	ParleyError err;

	g_return_val_if_fail(s->hs2 != NULL && s->hs_live, PARLEY_ERR_STATE);
	err = parley_handshake_consume_hs2(&s->hs, s->hs2->data, s->hs2->len);
	if (err != PARLEY_ERR_NONE)
		return err;
	out = g_byte_array_new();
	g_assert_cmpint(parley_handshake_create_hs3(&s->hs, out), ==, PARLEY_ERR_NONE);
	raw_send(s->conn, out->data, out->len);
	g_byte_array_unref(out);

	/* §4: R checks HS3 and confirms last, with HS4 (or ERROR 3 when the
	 * passphrases differ) */
	hs4 = raw_wait_frame(s->conn, RAW_HS4_WAIT_MS);
	if (hs4 == NULL)
		return PARLEY_ERR_CLOSED;
	if (raw_error_code(hs4) >= 0) {
		s->error_code = raw_error_code(hs4);
		g_byte_array_unref(hs4);
		return s->error_code == PARLEY_ERR_AUTH ? PARLEY_ERR_AUTH : PARLEY_ERR_MALFORMED;
	}
	err = parley_handshake_consume_hs4(&s->hs, hs4->data, hs4->len);
	g_byte_array_unref(hs4);
	if (err != PARLEY_ERR_NONE)
		return err;

	/* §5, as I: we send I->R and receive R->I */
	g_assert_true(parley_handshake_derive_keys(&s->hs, &k, s->code));
	g_assert_true(parley_record_dir_set(&s->send, k.key_IR, k.iv_IR, 0));
	g_assert_true(parley_record_dir_set(&s->recv, k.key_RI, k.iv_RI, 0));
	memcpy(s->chain, k.chain, PARLEY_CHAIN_LEN);
	keep_keys(s, &k);
	parley_epoch_keys_clear(&k);
	parley_handshake_clear(&s->hs);
	s->hs_live = FALSE;
	s->established = TRUE;
	return PARLEY_ERR_NONE;
}

gboolean
raw_session_handshake(RawSession *s, const char *name, guint16 listen_port,
                      const uint8_t salt[PARLEY_SALT_LEN], guint32 iterations,
                      const uint8_t prs[PARLEY_PRS_LEN], guint timeout_ms)
{
	RawReply r;

	raw_session_send_hs1(s, name, listen_port, salt, iterations, prs);
	r = raw_session_wait_reply(s, timeout_ms);
	if (r != RAW_REPLY_HS2) {
		g_test_message("handshake: reply %d, error code %d", r, s->error_code);
		return FALSE;
	}
	return raw_session_finish(s) == PARLEY_ERR_NONE;
}

void
raw_session_seal(RawSession *s, uint8_t type, const void *body, size_t len, GByteArray *out)
{
	g_assert_true(parley_record_seal(&s->send, type, body, len, out));
}

static void
seal_send(RawSession *s, uint8_t type, const void *body, size_t len)
{
	GByteArray *out = g_byte_array_new();

	raw_session_seal(s, type, body, len, out);
	raw_send(s->conn, out->data, out->len);
	g_byte_array_unref(out);
}

gboolean
raw_session_send_msg(RawSession *s, const char *text)
{
	size_t len = strlen(text);
	uint8_t *body = g_malloc(PARLEY_MSG_ID_LEN + len);
	GByteArray *out = g_byte_array_new();
	gboolean ok;

	parley_random_bytes(body, PARLEY_MSG_ID_LEN);
	memcpy(body + PARLEY_MSG_ID_LEN, text, len);
	raw_session_seal(s, RAW_MSG, body, PARLEY_MSG_ID_LEN + len, out);
	ok = raw_send(s->conn, out->data, out->len);
	g_byte_array_unref(out);
	g_free(body);
	return ok;
}

/* §8 as the answerer: REKEY_ACK under the current keys, then epoch n+1. */
static void
answer_rekey(RawSession *s, const uint8_t E_peer[PARLEY_POINT_LEN])
{
	uint8_t e[PARLEY_SCALAR_LEN], E[PARLEY_POINT_LEN], dh[32];
	ParleyEpochKeys k;
	guint32 epoch = s->send.epoch + 1;

	do
		parley_random_bytes(e, sizeof(e));
	while (!parley_x25519_base(E, e));
	if (!parley_x25519(dh, e, E_peer)) {
		s->closed = TRUE;
		return;
	}
	seal_send(s, RAW_REKEY_ACK, E, sizeof(E));
	g_assert_true(parley_epoch_keys_ratchet(s->chain, dh, &k));
	g_assert_true(parley_record_dir_set(&s->send, k.key_IR, k.iv_IR, epoch));
	g_assert_true(parley_record_dir_set(&s->recv_next, k.key_RI, k.iv_RI, epoch));
	memcpy(s->chain, k.chain, PARLEY_CHAIN_LEN);
	keep_keys(s, &k);
	g_ptr_array_add(s->dh, g_bytes_new(dh, sizeof(dh)));
	parley_epoch_keys_clear(&k);
	parley_wipe(e, sizeof(e));
	parley_wipe(dh, sizeof(dh));
	s->rekeys++;
}

static void
handle_inner(RawSession *s, const uint8_t *in, size_t len)
{
	const uint8_t *body = in + 1;
	size_t blen = len - 1;

	switch (in[0]) {
	case RAW_MSG:
		if (blen < PARLEY_MSG_ID_LEN)
			break;
		g_ptr_array_add(s->messages, g_strndup((const char *) body + PARLEY_MSG_ID_LEN,
		                                       blen - PARLEY_MSG_ID_LEN));
		seal_send(s, RAW_ACK, body, PARLEY_MSG_ID_LEN);
		break;
	case RAW_ACK:
		s->acks++;
		break;
	case RAW_REKEY:
		if (blen == PARLEY_POINT_LEN)
			answer_rekey(s, body);
		break;
	case RAW_PING:
		if (blen == 8)
			seal_send(s, RAW_PONG, body, 8);
		break;
	case RAW_BYE:
		s->closed = TRUE;
		break;
	default:
		break;
	}
}

void
raw_session_pump(RawSession *s)
{
	GByteArray *f;

	while (!s->closed && s->established && (f = raw_take_frame(s->conn)) != NULL) {
		ParleyRecordDir *dir = NULL;
		uint8_t *inner;
		size_t inner_len;

		if (raw_error_code(f) >= 0) {
			s->error_code = raw_error_code(f);
			s->closed = TRUE;
		} else if (f->len >= PARLEY_RECORD_MIN_LEN) {
			guint32 epoch = parley_record_epoch(f->data);

			if (epoch == s->recv.epoch)
				dir = &s->recv;
			else if (parley_record_dir_is_set(&s->recv_next) && epoch == s->recv_next.epoch)
				dir = &s->recv_next;
		}
		if (dir == NULL) {
			s->closed = TRUE;
			g_byte_array_unref(f);
			break;
		}
		inner_len = f->len - PARLEY_RECORD_HEADER_LEN - PARLEY_GCM_TAG_LEN;
		inner = g_malloc(inner_len);
		if (!parley_record_open(dir, f->data, f->len, inner)) {
			s->closed = TRUE;
		} else {
			if (dir == &s->recv_next)
				parley_record_dir_move(&s->recv, &s->recv_next);
			handle_inner(s, inner, inner_len);
		}
		parley_wipe(inner, inner_len);
		g_free(inner);
		g_byte_array_unref(f);
	}
}

typedef struct {
	RawSession *s;
	RawSessionCond cond;
	gpointer data;
} PumpWait;

static gboolean
pump_done(gpointer data)
{
	PumpWait *w = data;

	raw_session_pump(w->s);
	return w->cond(w->s, w->data) || w->s->closed || w->s->conn->eof;
}

gboolean
raw_session_run_until(RawSession *s, RawSessionCond cond, gpointer data, guint timeout_ms)
{
	PumpWait w = { s, cond, data };

	host_run_until(pump_done, &w, timeout_ms);
	raw_session_pump(s);
	return cond(s, data);
}

/* ---- odds and ends -------------------------------------------------------- */

void
raw_prs(const char *passphrase, const uint8_t salt[PARLEY_SALT_LEN], guint32 iterations,
        uint8_t prs[PARLEY_PRS_LEN])
{
	ParleyError err;
	size_t len;
	uint8_t *pass = parley_passphrase_nfc(passphrase, &len, &err);

	g_assert_nonnull(pass);
	g_assert_true(parley_pbkdf2_sha256(pass, len, salt, PARLEY_SALT_LEN, iterations,
	                                   prs, PARLEY_PRS_LEN));
	parley_secure_free(pass, len);
}
