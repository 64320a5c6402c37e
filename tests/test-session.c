/*
 * test-session.c - the native protocol core (§§3-8) against the vectors of
 * tests/data/parley-v2.json byte for byte, then two cores wired back to
 * back, then every way a peer can misbehave, the §6 sequence limit, and
 * what the core leaves behind in freed memory.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1           /* memmem */
#endif
#include <string.h>

#include "crypto.h"
#include "frame.h"
#include "handshake.h"
#include "record.h"
#include "session.h"
#include "testutil.h"

/* ---- freed memory: does a secret reach the allocator unwiped? ----
 *
 * This program replaces free() and realloc() (glibc's allocator still does
 * the work, reached as __libc_free / __libc_malloc / __libc_realloc).  While
 * a watch is armed, every block handed back is searched for the watched
 * bytes first, and realloc() always moves, so that a buffer which glibc
 * might have grown in place is caught as if it had moved.  Not with
 * AddressSanitizer, which owns the allocator: those cases skip. */
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

#define WATCH_MAX 4

static struct {
	const uint8_t *p;
	size_t len;
} watch[WATCH_MAX];
static gint watch_armed;        /* read in free(), from any thread */
static gint watch_hits;

#if FREE_WATCH
#include <malloc.h>

void *__libc_malloc(size_t n);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);

static void
watch_scan(const void *block, size_t len)
{
	int i;

	for (i = 0; i < WATCH_MAX; i++)
		if (watch[i].len > 0 && len >= watch[i].len &&
		    memmem(block, len, watch[i].p, watch[i].len) != NULL)
			g_atomic_int_inc(&watch_hits);
}

void
free(void *p)
{
	if (p != NULL && g_atomic_int_get(&watch_armed))
		watch_scan(p, malloc_usable_size(p));
	__libc_free(p);
}

void *
realloc(void *p, size_t n)
{
	void *q;
	size_t old;

	if (p == NULL || !g_atomic_int_get(&watch_armed))
		return __libc_realloc(p, n);
	if (n == 0) {
		free(p);
		return NULL;
	}
	old = malloc_usable_size(p);
	q = __libc_malloc(n);
	if (q == NULL)
		return NULL;
	memcpy(q, p, MIN(old, n));
	free(p);
	return q;
}
#endif

/* Watch for these bytes (up to WATCH_MAX patterns; len 0 ends the list)
 * in every block freed until watch_stop().  The patterns must stay alive
 * and unchanged meanwhile, and must not themselves be heap blocks that get
 * freed. */
static void
watch_start(const void *p0, size_t l0, const void *p1, size_t l1)
{
	memset(watch, 0, sizeof(watch));
	watch[0].p = p0;
	watch[0].len = l0;
	watch[1].p = p1;
	watch[1].len = l1;
	g_atomic_int_set(&watch_hits, 0);
	g_atomic_int_set(&watch_armed, 1);
}

/* Disarm; the number of freed blocks that held a watched pattern. */
static gint
watch_stop(void)
{
	g_atomic_int_set(&watch_armed, 0);
	memset(watch, 0, sizeof(watch));
	return g_atomic_int_get(&watch_hits);
}

static gboolean
all_bytes(const void *p, size_t len, uint8_t v)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i] != v)
			return FALSE;
	return TRUE;
}

static gboolean
watch_skip(void)
{
	if (!FREE_WATCH)
		g_test_skip("free() cannot be watched in this build (sanitizer or not glibc)");
	return !FREE_WATCH;
}

/* ---- a peer: a session, its injected randomness, what it reported ---- */

typedef struct {
	ParleySession *s;
	GQueue rand;                /* of GBytes: exact values to draw, in order */
	gboolean real_random;       /* after the queue runs out */
	GPtrArray *events;          /* of ParleyEvent* */
	const char *pass;           /* for the fast stand-in KDF */
	gboolean auto_kdf;
	gint64 now;
} Peer;

static void
peer_random(void *buf, size_t len, gpointer data)
{
	Peer *p = data;
	GBytes *b = g_queue_pop_head(&p->rand);

	if (b == NULL) {
		g_assert_true(p->real_random);
		parley_random_bytes(buf, len);
		return;
	}
	g_assert_cmpuint(g_bytes_get_size(b), ==, len);
	memcpy(buf, g_bytes_get_data(b, NULL), len);
	g_bytes_unref(b);
}

static void
peer_push_rand(Peer *p, const uint8_t *data, size_t len)
{
	g_queue_push_tail(&p->rand, g_bytes_new(data, len));
}

static void
peer_push_rand_hex(Peer *p, TJson *node, const char *path)
{
	size_t len;
	uint8_t *b = tj_phex(node, path, &len);

	peer_push_rand(p, b, len);
	g_free(b);
}

static void
free_event(gpointer e)
{
	parley_event_clear(e);
	g_free(e);
}

static void
peer_init(Peer *p, const char *pass)
{
	memset(p, 0, sizeof(*p));
	g_queue_init(&p->rand);
	p->events = g_ptr_array_new_with_free_func(free_event);
	p->pass = pass;
	p->auto_kdf = TRUE;
	p->real_random = TRUE;
	p->now = 1000000;
}

static void
peer_clear(Peer *p)
{
	parley_session_free(p->s);
	g_queue_clear_full(&p->rand, (GDestroyNotify) g_bytes_unref);
	g_ptr_array_unref(p->events);
}

static const uint8_t test_salt[16] = "0123456789abcdef";

/* A fast stand-in for PBKDF2 in tests that are not about it:
 * HMAC-SHA256(passphrase, salt || iterations). */
static void
fake_prs(const char *pass, const uint8_t salt[16], guint32 iterations, uint8_t prs[32])
{
	uint8_t in[20];

	memcpy(in, salt, 16);
	memcpy(in + 16, &iterations, 4);
	g_assert_true(parley_hmac_sha256(pass, strlen(pass), in, sizeof(in), prs));
}

static void
peer_new_session(Peer *p, gboolean initiator, const char *name, guint rekey_messages)
{
	ParleySessionConfig cfg = { 0 };

	cfg.initiator = initiator;
	cfg.name = name;
	cfg.listen_port = initiator ? 5000 : 0;
	cfg.salt = test_salt;
	cfg.iterations = PARLEY_DEFAULT_ITERATIONS;
	cfg.rekey_messages = rekey_messages;
	cfg.random = peer_random;
	cfg.random_data = p;
	p->s = parley_session_new(&cfg, p->now);
	g_assert_nonnull(p->s);
}

/* Drain events; answer NEED_KDF with the stand-in KDF when asked to. */
static void
peer_drain(Peer *p)
{
	ParleyEvent ev;

	while (parley_session_next_event(p->s, &ev)) {
		ParleyEvent *copy = g_new(ParleyEvent, 1);

		*copy = ev;
		g_ptr_array_add(p->events, copy);
		if (ev.type == PARLEY_EV_NEED_KDF && p->auto_kdf) {
			uint8_t prs[32];

			fake_prs(p->pass, ev.kdf_salt, ev.kdf_iterations, prs);
			parley_session_provide_prs(p->s, ev.kdf_id, prs, p->now);
		}
	}
}

static void
transfer(Peer *from, Peer *to)
{
	GByteArray *out = parley_session_output(from->s);
	GByteArray *copy = g_byte_array_sized_new(out->len);

	g_byte_array_append(copy, out->data, out->len);
	g_byte_array_set_size(out, 0);
	parley_session_feed(to->s, copy->data, copy->len, to->now);
	g_byte_array_unref(copy);
}

static void
pump(Peer *a, Peer *b)
{
	for (;;) {
		peer_drain(a);
		peer_drain(b);
		if (parley_session_output(a->s)->len > 0)
			transfer(a, b);
		else if (parley_session_output(b->s)->len > 0)
			transfer(b, a);
		else
			break;
	}
}

static guint
count_events(Peer *p, ParleyEventType type)
{
	guint i, n = 0;

	for (i = 0; i < p->events->len; i++)
		if (((ParleyEvent *) p->events->pdata[i])->type == type)
			n++;
	return n;
}

static ParleyEvent *
last_event(Peer *p, ParleyEventType type)
{
	guint i;

	for (i = p->events->len; i > 0; i--)
		if (((ParleyEvent *) p->events->pdata[i - 1])->type == type)
			return p->events->pdata[i - 1];
	return NULL;
}

/* Take exactly one frame off a session's output and compare it. */
static void
expect_output_hex(Peer *p, const char *hex)
{
	GByteArray *out = parley_session_output(p->s);
	size_t len;
	uint8_t *want = t_hex(hex, &len);

	g_assert_cmpuint(out->len, >=, len);
	t_assert_hex(out->data, len, hex);
	g_byte_array_remove_range(out, 0, (guint) len);
	g_free(want);
}

static void
feed_hex(Peer *p, const char *hex)
{
	size_t len;
	uint8_t *b = t_hex(hex, &len);

	parley_session_feed(p->s, b, len, p->now);
	g_free(b);
}

static void
feed_payload_hex(Peer *p, const char *hex)
{
	size_t len;
	uint8_t *b = t_hex(hex, &len);
	GByteArray *f = g_byte_array_new();

	parley_frame_write(f, b, len);
	parley_session_feed(p->s, f->data, f->len, p->now);
	g_byte_array_unref(f);
	g_free(b);
}

/* ---- the vector handshakes ---- */

/* Run handshake h of the vector file between I and R with its fixed
 * inputs, checking every frame; leaves both established. */
static void
vector_handshake(TJson *h, Peer *I, Peer *R)
{
	ParleySessionConfig cfg = { 0 };
	ParleyEvent *ev;
	size_t len;
	uint8_t *salt = tj_phex(h, "inputs/salt", &len);
	uint8_t *prs = tj_phex(h, "cpace/PRS", &len);
	char *name_I, *name_R;
	gsize nlen;

	peer_init(I, NULL);
	peer_init(R, NULL);
	I->auto_kdf = R->auto_kdf = FALSE;
	I->real_random = R->real_random = FALSE;
	name_I = (char *) tj_phex(h, "inputs/name_I_utf8", &nlen);
	name_I = g_realloc(name_I, nlen + 1);
	name_I[nlen] = '\0';
	name_R = (char *) tj_phex(h, "inputs/name_R_utf8", &nlen);
	name_R = g_realloc(name_R, nlen + 1);
	name_R[nlen] = '\0';

	/* I draws sid, then ya; R draws yb */
	peer_push_rand_hex(I, h, "inputs/sid");
	peer_push_rand_hex(I, h, "inputs/ya");
	peer_push_rand_hex(R, h, "inputs/yb");

	cfg.initiator = TRUE;
	cfg.name = name_I;
	cfg.listen_port = (guint16) tj_pint(h, "inputs/listen_port");
	cfg.salt = salt;
	cfg.iterations = (guint32) tj_pint(h, "inputs/iterations");
	cfg.random = peer_random;
	cfg.random_data = I;
	I->s = parley_session_new(&cfg, I->now);
	cfg.initiator = FALSE;
	cfg.name = name_R;
	cfg.random_data = R;
	R->s = parley_session_new(&cfg, R->now);

	/* I asks for PRS with its salt and iterations */
	peer_drain(I);
	ev = last_event(I, PARLEY_EV_NEED_KDF);
	g_assert_nonnull(ev);
	g_assert_cmpmem(ev->kdf_salt, 16, salt, 16);
	g_assert_cmpuint(ev->kdf_iterations, ==, tj_pint(h, "inputs/iterations"));
	g_assert_cmpuint(ev->kdf_len, ==, 32);
	g_assert_cmpuint(parley_session_output(I->s)->len, ==, 0);
	parley_session_provide_prs(I->s, ev->kdf_id, prs, I->now);
	expect_output_hex(I, tj_pstr(h, "frames/HS1/frame"));

	/* R: HS1 -> asks for PRS, telling who calls */
	feed_hex(R, tj_pstr(h, "frames/HS1/frame"));
	peer_drain(R);
	ev = last_event(R, PARLEY_EV_NEED_KDF);
	g_assert_nonnull(ev);
	g_assert_cmpmem(ev->kdf_salt, 16, salt, 16);
	g_assert_cmpstr(ev->peer_name, ==, name_I);
	g_assert_cmpuint(ev->peer_listen_port, ==, tj_pint(h, "inputs/listen_port"));
	g_assert_cmpuint(parley_session_output(R->s)->len, ==, 0);
	parley_session_provide_prs(R->s, ev->kdf_id, prs, R->now);
	expect_output_hex(R, tj_pstr(h, "frames/HS2/frame"));

	/* I: HS2 -> HS3 (Ya revealed), not established yet */
	feed_hex(I, tj_pstr(h, "frames/HS2/frame"));
	expect_output_hex(I, tj_pstr(h, "frames/HS3/frame"));
	peer_drain(I);
	g_assert_null(last_event(I, PARLEY_EV_ESTABLISHED));
	g_assert_cmpint(parley_session_state(I->s), ==, PARLEY_SESSION_HANDSHAKE);

	/* R: HS3 -> HS4, established */
	feed_hex(R, tj_pstr(h, "frames/HS3/frame"));
	expect_output_hex(R, tj_pstr(h, "frames/HS4/frame"));
	peer_drain(R);
	ev = last_event(R, PARLEY_EV_ESTABLISHED);
	g_assert_nonnull(ev);
	g_assert_cmpstr(ev->code, ==, tj_pstr(h, "keys/code"));
	g_assert_cmpstr(ev->peer_name, ==, name_I);

	/* I: HS4 -> established, nothing to send */
	feed_hex(I, tj_pstr(h, "frames/HS4/frame"));
	g_assert_cmpuint(parley_session_output(I->s)->len, ==, 0);
	peer_drain(I);
	ev = last_event(I, PARLEY_EV_ESTABLISHED);
	g_assert_nonnull(ev);
	g_assert_cmpstr(ev->code, ==, tj_pstr(h, "keys/code"));
	g_assert_cmpstr(ev->peer_name, ==, name_R);
	g_assert_cmpstr(parley_session_code(I->s), ==, parley_session_code(R->s));
	g_assert_cmpint(parley_session_state(I->s), ==, PARLEY_SESSION_ESTABLISHED);
	g_assert_cmpint(parley_session_state(R->s), ==, PARLEY_SESSION_ESTABLISHED);

	g_free(name_I);
	g_free(name_R);
	g_free(salt);
	g_free(prs);
}

static void
test_vector_handshake(gconstpointer data)
{
	TJson *root = tj_load("parley-v2.json");
	TJson *h = tj_need(root, data);
	Peer I, R;

	vector_handshake(h, &I, &R);
	peer_clear(&I);
	peer_clear(&R);
	tj_free(root);
}

/* §3: the passphrase as typed -> NFC UTF-8 -> PBKDF2 gives PRS. */
static void
test_vector_prs(gconstpointer data)
{
	TJson *root = tj_load("parley-v2.json");
	TJson *h = tj_need(root, data);
	size_t len, nlen, slen;
	uint8_t *typed = tj_phex(h, "inputs/passphrase_input_utf8", &len);
	uint8_t *want = tj_phex(h, "inputs/passphrase_nfc_utf8", &nlen);
	uint8_t *salt = tj_phex(h, "inputs/salt", &slen);
	char *typed_str = g_strndup((char *) typed, len);
	ParleyError err;
	uint8_t *nfc = parley_passphrase_nfc(typed_str, &len, &err);
	uint8_t prs[32];

	g_assert_nonnull(nfc);
	g_assert_cmpmem(nfc, len, want, nlen);
	g_assert_true(parley_pbkdf2_sha256(nfc, len, salt, slen,
	              (unsigned long) tj_pint(h, "inputs/iterations"), prs, sizeof(prs)));
	t_assert_hex(prs, 32, tj_pstr(h, "cpace/PRS"));
	parley_secure_free(nfc, len);
	g_assert_null(parley_passphrase_nfc("", &len, &err));
	g_assert_cmpint(err, ==, PARLEY_ERR_PASSPHRASE_EMPTY);
	g_assert_null(parley_passphrase_nfc("\xff\xfe", &len, &err));
	g_assert_cmpint(err, ==, PARLEY_ERR_MALFORMED);
	g_free(typed);
	g_free(typed_str);
	g_free(want);
	g_free(salt);
	tj_free(root);
}

/* ---- the vector conversation, record by record ---- */

static TJson *
conv_step(TJson *conv, gint64 step)
{
	TJson *c = tj_at(conv, (guint) (step - 1));

	g_assert_cmpint(tj_pint(c, "step"), ==, step);
	return c;
}

static void
test_vector_conversation(void)
{
	TJson *root = tj_load("parley-v2.json");
	TJson *conv = tj_need(root, "conversation");
	TJson *timeline = tj_need(root, "timeline");
	Peer I, R;
	guint i;

	vector_handshake(tj_need(root, "handshakes/0"), &I, &R);
	g_ptr_array_set_size(I.events, 0);
	g_ptr_array_set_size(R.events, 0);

	/* every random value each side draws, in the order it draws them */
	for (i = 0; i < tj_len(conv); i++) {
		TJson *c = tj_at(conv, i);
		const char *type = tj_pstr(c, "type");
		Peer *p = g_str_has_prefix(tj_pstr(c, "dir"), "I") ? &I : &R;

		if (strcmp(type, "PING") == 0)
			peer_push_rand_hex(p, c, "ping_nonce");
		else if (strcmp(type, "REKEY") == 0 || strcmp(type, "REKEY_ACK") == 0)
			peer_push_rand_hex(p, c, "e");
	}

	for (i = 0; i < tj_len(timeline); i++) {
		TJson *t = tj_at(timeline, i);
		TJson *sendj = tj_path(t, "send");

		if (sendj != NULL) {
			TJson *c = conv_step(conv, tj_int(sendj));
			const char *type = tj_pstr(c, "type");
			Peer *p = g_str_has_prefix(tj_pstr(c, "dir"), "I") ? &I : &R;

			if (!tj_pbool(c, "auto", FALSE)) {
				if (strcmp(type, "MSG") == 0) {
					size_t idl;
					uint8_t *id = tj_phex(c, "msg_id", &idl);
					const char *text = tj_pstr(c, "text");

					g_assert_cmpint(parley_session_send_message(p->s, id, text,
					                strlen(text), p->now), ==, PARLEY_ERR_NONE);
					g_free(id);
				} else if (strcmp(type, "TYPING") == 0) {
					g_assert_cmpint(parley_session_send_typing(p->s,
					                (int) tj_pint(c, "state")), ==, PARLEY_ERR_NONE);
				} else if (strcmp(type, "PING") == 0) {
					g_assert_cmpint(parley_session_send_ping(p->s, p->now), ==,
					                PARLEY_ERR_NONE);
				} else if (strcmp(type, "REKEY") == 0) {
					g_assert_cmpint(parley_session_rekey(p->s, p->now), ==,
					                PARLEY_ERR_NONE);
				} else if (strcmp(type, "BYE") == 0) {
					parley_session_close(p->s, (int) tj_pint(c, "reason"));
				} else {
					g_assert_not_reached();
				}
			}
			/* an automatic record was produced when its trigger arrived */
			expect_output_hex(p, tj_pstr(c, "frame"));
		} else {
			TJson *c = conv_step(conv, tj_pint(t, "deliver"));
			const char *type = tj_pstr(c, "type");
			Peer *to = g_str_has_prefix(tj_pstr(c, "dir"), "I") ? &R : &I;
			guint before = to->events->len;
			ParleyEvent *ev;

			feed_hex(to, tj_pstr(c, "frame"));
			peer_drain(to);
			if (strcmp(type, "MSG") == 0) {
				const char *text = tj_pstr(c, "text");

				ev = last_event(to, PARLEY_EV_MESSAGE);
				g_assert_nonnull(ev);
				g_assert_cmpstr(ev->text, ==, text);
				g_assert_cmpuint(ev->text_len, ==, strlen(text));
				t_assert_hex(ev->msg_id, 8, tj_pstr(c, "msg_id"));
			} else if (strcmp(type, "ACK") == 0) {
				ev = last_event(to, PARLEY_EV_ACK);
				g_assert_nonnull(ev);
				t_assert_hex(ev->msg_id, 8, tj_pstr(c, "msg_id"));
			} else if (strcmp(type, "TYPING") == 0) {
				ev = last_event(to, PARLEY_EV_TYPING);
				g_assert_nonnull(ev);
				g_assert_cmpint(ev->typing, ==, tj_pint(c, "state"));
			} else if (strcmp(type, "REKEY") == 0 && tj_pbool(c, "ignored", FALSE)) {
				/* the loser of a simultaneous rekey: nothing happens */
				g_assert_cmpuint(to->events->len, ==, before);
				g_assert_cmpuint(parley_session_output(to->s)->len, ==, 0);
			} else if (strcmp(type, "REKEY") == 0 || strcmp(type, "REKEY_ACK") == 0) {
				ev = last_event(to, PARLEY_EV_REKEYED);
				g_assert_nonnull(ev);
				g_assert_cmpuint(ev->epoch, ==, tj_pint(c, "epoch") + 1);
				g_assert_cmpint(ev->by_peer, ==, strcmp(type, "REKEY") == 0);
			} else if (strcmp(type, "BYE") == 0) {
				ev = last_event(to, PARLEY_EV_CLOSED);
				g_assert_nonnull(ev);
				g_assert_cmpint(ev->error, ==, PARLEY_ERR_BYE);
				g_assert_cmpint(ev->bye_reason, ==, tj_pint(c, "reason"));
				g_assert_cmpint(parley_session_state(to->s), ==,
				                PARLEY_SESSION_CLOSED);
			}
			/* no error, ever */
			g_assert_null(last_event(to, PARLEY_EV_ERROR));
		}
	}
	g_assert_cmpuint(parley_session_output(I.s)->len, ==, 0);
	g_assert_cmpuint(parley_session_output(R.s)->len, ==, 0);
	g_assert_true(g_queue_is_empty(&I.rand));
	g_assert_true(g_queue_is_empty(&R.rand));
	peer_clear(&I);
	peer_clear(&R);
	tj_free(root);
}

/* The epochs' key material, through the same functions the session uses. */
static void
test_vector_epochs(void)
{
	TJson *root = tj_load("parley-v2.json");
	TJson *epochs = tj_need(root, "epochs");
	guint i;

	for (i = 1; i < tj_len(epochs); i++) {
		TJson *e = tj_at(epochs, i);
		size_t l;
		uint8_t *er = tj_phex(e, "e_requester", &l);
		uint8_t *ea = tj_phex(e, "e_answerer", &l);
		uint8_t *chain = tj_phex(e, "chain_prev", &l);
		uint8_t Er[32], Ea[32], dh1[32], dh2[32];
		ParleyEpochKeys k;

		g_assert_true(parley_x25519_base(Er, er));
		g_assert_true(parley_x25519_base(Ea, ea));
		t_assert_hex(Er, 32, tj_pstr(e, "E_requester"));
		t_assert_hex(Ea, 32, tj_pstr(e, "E_answerer"));
		g_assert_true(parley_x25519(dh1, er, Ea));
		g_assert_true(parley_x25519(dh2, ea, Er));
		g_assert_cmpmem(dh1, 32, dh2, 32);
		t_assert_hex(dh1, 32, tj_pstr(e, "dh"));
		g_assert_true(parley_epoch_keys_ratchet(chain, dh1, &k));
		t_assert_hex(k.key_IR, 32, tj_pstr(e, "key_IR"));
		t_assert_hex(k.iv_IR, 12, tj_pstr(e, "iv_IR"));
		t_assert_hex(k.key_RI, 32, tj_pstr(e, "key_RI"));
		t_assert_hex(k.iv_RI, 12, tj_pstr(e, "iv_RI"));
		t_assert_hex(k.chain, 32, tj_pstr(e, "chain"));
		parley_epoch_keys_clear(&k);
		g_free(er);
		g_free(ea);
		g_free(chain);
	}
	tj_free(root);
}

/* ---- negative vectors ---- */

static void
assert_closed_with(Peer *p, ParleyError err)
{
	ParleyEvent *ev;

	peer_drain(p);
	ev = last_event(p, PARLEY_EV_CLOSED);
	g_assert_nonnull(ev);
	g_assert_cmpint(ev->error, ==, err);
	g_assert_cmpint(parley_session_state(p->s), ==, PARLEY_SESSION_CLOSED);
}

/* Records a receiver must reject: fatal, and nothing is sent back (§6). */
static void
test_vector_bad_records(void)
{
	TJson *root = tj_load("parley-v2.json");
	TJson *list = tj_need(root, "negative/records");
	TJson *conv = tj_need(root, "conversation");
	guint i;

	for (i = 0; i < tj_len(list); i++) {
		TJson *c = tj_at(list, i);
		const char *name = tj_pstr(c, "name");
		Peer I, R, *rx;
		TJson *after = tj_path(c, "after_steps");
		guint j;

		g_test_message("negative record: %s", name);
		vector_handshake(tj_need(root, "handshakes/0"), &I, &R);
		rx = strcmp(tj_pstr(c, "receiver"), "I") == 0 ? &I : &R;
		for (j = 0; after != NULL && j < tj_len(after); j++) {
			feed_hex(rx, tj_pstr(conv_step(conv, tj_int(tj_at(after, j))), "frame"));
			/* drop the automatic answers */
			g_byte_array_set_size(parley_session_output(rx->s), 0);
		}
		peer_drain(rx);
		g_ptr_array_set_size(rx->events, 0);
		feed_payload_hex(rx, tj_pstr(c, "payload"));
		assert_closed_with(rx, strcmp(name, "rekey_ack_without_pending") == 0 ?
		                   PARLEY_ERR_PROTOCOL : PARLEY_ERR_RECORD);
		g_assert_null(last_event(rx, PARLEY_EV_MESSAGE));
		g_assert_cmpuint(parley_session_output(rx->s)->len, ==, 0);
		peer_clear(&I);
		peer_clear(&R);
	}
	tj_free(root);
}

/* A responder fed one HS1; returns its output payload (after the header). */
static void
expect_error_frame(Peer *p, int code)
{
	GByteArray *out = parley_session_output(p->s);

	g_assert_cmpuint(out->len, >=, 4 + 7);
	g_assert_cmpuint(parley_get_be32(out->data), ==, out->len - 4);
	g_assert_cmpmem(out->data + 4, 6, "PRLY\x02\x7f", 6);
	g_assert_cmpint(out->data[10], ==, code);
	g_assert_true(g_utf8_validate((char *) out->data + 11, out->len - 11, NULL));
}

/* Handshake 1's initiator ("alice", its sid, ya, salt and PRS) with HS1
 * sent and its output cleared. */
static void
vector_initiator(Peer *I, TJson *h)
{
	ParleySessionConfig cfg = { 0 };
	size_t l;
	uint8_t *salt = tj_phex(h, "inputs/salt", &l);
	uint8_t *prs = tj_phex(h, "cpace/PRS", &l);
	ParleyEvent *ev;

	peer_init(I, NULL);
	I->real_random = FALSE;
	I->auto_kdf = FALSE;
	peer_push_rand_hex(I, h, "inputs/sid");
	peer_push_rand_hex(I, h, "inputs/ya");
	cfg.initiator = TRUE;
	cfg.name = tj_pstr(h, "inputs/name_I");
	cfg.listen_port = (guint16) tj_pint(h, "inputs/listen_port");
	cfg.salt = salt;
	cfg.iterations = (guint32) tj_pint(h, "inputs/iterations");
	cfg.random = peer_random;
	cfg.random_data = I;
	I->s = parley_session_new(&cfg, I->now);
	peer_drain(I);
	ev = last_event(I, PARLEY_EV_NEED_KDF);
	g_assert_nonnull(ev);
	parley_session_provide_prs(I->s, ev->kdf_id, prs, I->now);
	expect_output_hex(I, tj_pstr(h, "frames/HS1/frame"));
	g_byte_array_set_size(parley_session_output(I->s), 0);
	g_free(salt);
	g_free(prs);
}

/* Handshake 1's responder ("bob", its yb, or yb_path's) fed hs1 (a
 * payload) and given prs: it has sent HS2 (output cleared). */
static void
vector_responder(Peer *R, TJson *h, TJson *ybnode, const char *yb_path,
                 const char *hs1, const uint8_t *prs)
{
	ParleySessionConfig cfg = { 0 };
	ParleyEvent *ev;

	peer_init(R, NULL);
	R->real_random = FALSE;
	R->auto_kdf = FALSE;
	peer_push_rand_hex(R, ybnode, yb_path);
	cfg.name = tj_pstr(h, "inputs/name_R");
	cfg.random = peer_random;
	cfg.random_data = R;
	R->s = parley_session_new(&cfg, R->now);
	feed_payload_hex(R, hs1);
	peer_drain(R);
	ev = last_event(R, PARLEY_EV_NEED_KDF);
	g_assert_nonnull(ev);
	parley_session_provide_prs(R->s, ev->kdf_id, prs, R->now);
	g_assert_cmpuint(parley_session_output(R->s)->len, >, 0);
}

/* The output is an ERROR frame like this vector's: the same code (its
 * reason text is free, §4). */
static void
expect_error_like(Peer *p, const char *hex)
{
	size_t l;
	uint8_t *want = t_hex(hex, &l);

	g_assert_cmpuint(l, >=, 7);
	g_assert_cmpmem(want, 6, "PRLY\x02\x7f", 6);
	expect_error_frame(p, want[6]);
	g_free(want);
}

/* The whole output is exactly this payload, framed. */
static void
expect_output_payload(Peer *p, const char *hex)
{
	GByteArray *out = parley_session_output(p->s);

	g_assert_cmpuint(out->len, >=, 4);
	g_assert_cmpuint(parley_get_be32(out->data), ==, out->len - 4);
	t_assert_hex(out->data + 4, out->len - 4, hex);
}

/* §4: a low-order Ya can only be seen at HS3 now (R answers HS1 without
 * it): ERROR 2 before Ta is checked.  A low-order Yb: I answers HS2 with
 * ERROR 2 and sends no HS3. */
static void
test_vector_low_order(void)
{
	TJson *root = tj_load("parley-v2.json");
	TJson *list = tj_need(root, "negative/low_order_points");
	TJson *h = tj_need(root, "handshakes/0");
	size_t l;
	uint8_t *prs = tj_phex(h, "cpace/PRS", &l);
	guint i, n = 0;

	for (i = 0; i < tj_len(list); i++) {
		TJson *c = tj_at(list, i);
		Peer I, R;

		if (!tj_pbool(c, "must_abort", FALSE))
			continue;
		g_test_message("low-order point %s", tj_pstr(c, "name"));
		n++;

		/* as Ya: HS1 commits to it; R answers with handshake 1's HS2
		 * (it does not depend on Ya), then refuses HS3 */
		vector_responder(&R, h, h, "inputs/yb", tj_pstr(c, "hs1_with_this_Ya"), prs);
		expect_output_payload(&R, tj_pstr(c, "responder_hs2"));
		g_byte_array_set_size(parley_session_output(R.s), 0);
		feed_payload_hex(&R, tj_pstr(c, "hs3_with_this_Ya"));
		expect_error_like(&R, tj_pstr(c, "responder_sends"));
		assert_closed_with(&R, PARLEY_ERR_MALFORMED);
		g_assert_cmpuint(count_events(&R, PARLEY_EV_ESTABLISHED), ==, 0);
		peer_clear(&R);

		/* as Yb */
		vector_initiator(&I, h);
		feed_payload_hex(&I, tj_pstr(c, "hs2_with_this_Yb"));
		expect_error_like(&I, tj_pstr(c, "initiator_sends"));
		assert_closed_with(&I, PARLEY_ERR_MALFORMED);
		g_assert_cmpuint(count_events(&I, PARLEY_EV_ESTABLISHED), ==, 0);
		peer_clear(&I);
	}
	g_assert_cmpuint(n, >=, 7);
	g_free(prs);
	tj_free(root);
}

/* Malformed handshake frames, each where it is due (§4): the ERROR code
 * expected, nothing established, no PBKDF2 asked for an HS1. */
static void
test_vector_hs_malformed(gconstpointer data)
{
	const char *which = data;
	TJson *root = tj_load("parley-v2.json");
	char *path = g_strdup_printf("negative/%s_malformed", which);
	TJson *list = tj_need(root, path);
	TJson *h = tj_need(root, "handshakes/0");
	size_t l;
	uint8_t *prs = tj_phex(h, "cpace/PRS", &l);
	guint i;

	for (i = 0; i < tj_len(list); i++) {
		TJson *c = tj_at(list, i);
		int code = (int) tj_pint(c, "expected_error_code");
		Peer p;

		g_test_message("malformed %s: %s", which, tj_pstr(c, "name"));
		if (strcmp(which, "hs1") == 0) {
			peer_init(&p, "x");
			peer_new_session(&p, FALSE, "bob", 0);
		} else if (strcmp(which, "hs2") == 0) {
			vector_initiator(&p, h);
		} else if (strcmp(which, "hs3") == 0) {
			vector_responder(&p, h, h, "inputs/yb", tj_pstr(h, "frames/HS1/payload"), prs);
			g_byte_array_set_size(parley_session_output(p.s), 0);
		} else {
			vector_initiator(&p, h);
			feed_hex(&p, tj_pstr(h, "frames/HS2/frame"));
			expect_output_hex(&p, tj_pstr(h, "frames/HS3/frame"));
			g_byte_array_set_size(parley_session_output(p.s), 0);
		}
		feed_payload_hex(&p, tj_pstr(c, "payload"));
		expect_error_frame(&p, code);
		assert_closed_with(&p, code);
		g_assert_cmpuint(count_events(&p, PARLEY_EV_ESTABLISHED), ==, 0);
		if (strcmp(which, "hs1") == 0)
			g_assert_cmpuint(count_events(&p, PARLEY_EV_NEED_KDF), ==, 0);
		peer_clear(&p);
	}
	g_free(prs);
	g_free(path);
	tj_free(root);
}

/* §4: R checks the commitment first: an HS3 whose Ya (with a Ta right for
 * it) is not the committed one gets ERROR 2. */
static void
test_vector_commit_mismatch(void)
{
	TJson *root = tj_load("parley-v2.json");
	TJson *m = tj_need(root, "negative/commit_mismatch");
	TJson *h = tj_need(root, "handshakes/0");
	size_t l;
	uint8_t *prs = tj_phex(h, "cpace/PRS", &l);
	Peer R;

	vector_responder(&R, h, h, "inputs/yb", tj_pstr(m, "HS1"), prs);
	expect_output_payload(&R, tj_pstr(m, "HS2"));
	g_byte_array_set_size(parley_session_output(R.s), 0);
	feed_payload_hex(&R, tj_pstr(m, "HS3"));
	expect_error_like(&R, tj_pstr(m, "responder_sends"));
	assert_closed_with(&R, PARLEY_ERR_MALFORMED);
	g_assert_cmpuint(count_events(&R, PARLEY_EV_ESTABLISHED), ==, 0);
	peer_clear(&R);
	g_free(prs);
	tj_free(root);
}

/* R answers with another passphrase: I cannot tell until R rejects its Ta
 * (ERROR 3); and if R skipped that check, I rejects Tb (ERROR 3). */
static void
test_vector_wrong_passphrase(void)
{
	TJson *root = tj_load("parley-v2.json");
	TJson *w = tj_need(root, "negative/wrong_passphrase");
	TJson *h = tj_need(root, "handshakes/0");
	Peer I, R;
	ParleyEvent *ev;
	size_t l;
	uint8_t *prs_r = tj_phex(w, "PRS_R", &l);

	/* R computes its PRS from its own passphrase */
	{
		ParleyError err;
		uint8_t *pass = parley_passphrase_nfc(tj_pstr(w, "passphrase_R"), &l, &err);
		uint8_t *salt = tj_phex(h, "inputs/salt", &l);
		uint8_t prs[32];
		size_t pl = strlen(tj_pstr(w, "passphrase_R"));

		g_assert_true(parley_pbkdf2_sha256(pass, pl, salt, 16, 200000, prs, 32));
		g_assert_cmpmem(prs, 32, prs_r, 32);
		parley_secure_free(pass, pl);
		g_free(salt);
	}

	vector_responder(&R, h, w, "yb", tj_pstr(w, "HS1"), prs_r);
	expect_output_payload(&R, tj_pstr(w, "HS2"));
	g_byte_array_set_size(parley_session_output(R.s), 0);

	/* I, with the right passphrase, answers HS2 with HS3 */
	vector_initiator(&I, h);
	feed_payload_hex(&I, tj_pstr(w, "HS2"));
	expect_output_payload(&I, tj_pstr(w, "HS3"));
	g_byte_array_set_size(parley_session_output(I.s), 0);

	/* R rejects Ta: ERROR 3, closed */
	feed_payload_hex(&R, tj_pstr(w, "HS3"));
	expect_output_payload(&R, tj_pstr(w, "example_error_frame_payload"));
	assert_closed_with(&R, PARLEY_ERR_AUTH);
	ev = last_event(&R, PARLEY_EV_ERROR);
	g_assert_false(ev->from_peer);
	g_assert_cmpint(ev->wire_code, ==, 3);

	/* I receives that ERROR 3 and tells its user the passphrases differ */
	transfer(&R, &I);
	assert_closed_with(&I, PARLEY_ERR_AUTH);
	ev = last_event(&I, PARLEY_EV_ERROR);
	g_assert_true(ev->from_peer);
	g_assert_cmpint(ev->wire_code, ==, 3);
	g_assert_cmpstr(ev->text, ==, "passphrases do not match");
	peer_clear(&I);
	peer_clear(&R);

	/* a responder that skipped the Ta check: I rejects its Tb */
	vector_initiator(&I, h);
	feed_payload_hex(&I, tj_pstr(w, "HS2"));
	g_byte_array_set_size(parley_session_output(I.s), 0);
	feed_payload_hex(&I, tj_pstr(w, "HS4_unchecked"));
	expect_error_frame(&I, 3);
	assert_closed_with(&I, PARLEY_ERR_AUTH);
	ev = last_event(&I, PARLEY_EV_ERROR);
	g_assert_false(ev->from_peer);
	g_assert_cmpuint(count_events(&I, PARLEY_EV_ESTABLISHED), ==, 0);
	peer_clear(&I);

	g_free(prs_r);
	tj_free(root);
}

static void
test_vector_frame_headers(void)
{
	TJson *root = tj_load("parley-v2.json");
	TJson *list = tj_need(root, "negative/frame_headers");
	guint i;

	for (i = 0; i < tj_len(list); i++) {
		TJson *c = tj_at(list, i);
		Peer R;

		peer_init(&R, "x");
		peer_new_session(&R, FALSE, "bob", 0);
		feed_hex(&R, tj_pstr(c, "header"));
		peer_drain(&R);
		if (tj_pbool(c, "must_close", FALSE)) {
			assert_closed_with(&R, PARLEY_ERR_FRAME_LENGTH);
			/* during the handshake the peer is told: ERROR 2 */
			expect_error_frame(&R, 2);
		} else {
			g_assert_cmpuint(R.events->len, ==, 0);
			g_assert_cmpint(parley_session_state(R.s), ==, PARLEY_SESSION_HANDSHAKE);
		}
		peer_clear(&R);
	}
	tj_free(root);
}

/* ---- two cores back to back ---- */

typedef struct {
	Peer I;
	Peer R;
} Pair;

static void
pair_setup(Pair *p, gconstpointer data)
{
	guint rekey_messages = GPOINTER_TO_UINT(data);

	peer_init(&p->I, "shared secret");
	peer_init(&p->R, "shared secret");
	peer_new_session(&p->I, TRUE, "alice", rekey_messages);
	peer_new_session(&p->R, FALSE, "bob", rekey_messages);
	pump(&p->I, &p->R);
	g_assert_cmpint(parley_session_state(p->I.s), ==, PARLEY_SESSION_ESTABLISHED);
	g_assert_cmpint(parley_session_state(p->R.s), ==, PARLEY_SESSION_ESTABLISHED);
}

static void
pair_teardown(Pair *p, gconstpointer data)
{
	peer_clear(&p->I);
	peer_clear(&p->R);
}

static void
send_text(Peer *p, const char *text)
{
	uint8_t id[8];

	parley_random_bytes(id, sizeof(id));
	g_assert_cmpint(parley_session_send_message(p->s, id, text, strlen(text), p->now),
	                ==, PARLEY_ERR_NONE);
}

static void
test_pair_handshake(Pair *p, gconstpointer data)
{
	ParleyEvent *a = last_event(&p->I, PARLEY_EV_ESTABLISHED);
	ParleyEvent *b = last_event(&p->R, PARLEY_EV_ESTABLISHED);

	g_assert_cmpstr(a->code, ==, b->code);
	g_assert_cmpuint(strlen(a->code), ==, 7);
	g_assert_cmpstr(a->peer_name, ==, "bob");
	g_assert_cmpstr(b->peer_name, ==, "alice");
	g_assert_cmpuint(b->peer_listen_port, ==, 5000);
	g_assert_cmpmem(a->sid, 16, b->sid, 16);
	g_assert_true(parley_session_is_initiator(p->I.s));
	g_assert_false(parley_session_is_initiator(p->R.s));
}

/* 1,000 messages each way, interleaved, with the automatic rekey every 20
 * messages: every message arrives once, in order, and is acknowledged. */
static void
test_pair_thousand(Pair *p, gconstpointer data)
{
	guint i, got_i = 0, got_r = 0, acks_i = 0, acks_r = 0;

	for (i = 0; i < 1000; i++) {
		char *a = g_strdup_printf("from alice %u", i);
		char *b = g_strdup_printf("from bob %u \xe2\x9c\x93", i);

		send_text(&p->I, a);
		send_text(&p->R, b);
		if (i % 7 == 0)
			pump(&p->I, &p->R);
		g_free(a);
		g_free(b);
	}
	pump(&p->I, &p->R);
	for (i = 0; i < p->R.events->len; i++) {
		ParleyEvent *ev = p->R.events->pdata[i];

		if (ev->type == PARLEY_EV_MESSAGE) {
			char *want = g_strdup_printf("from alice %u", got_r++);

			g_assert_cmpstr(ev->text, ==, want);
			g_free(want);
		} else if (ev->type == PARLEY_EV_ACK) {
			acks_r++;
		}
		g_assert_cmpint(ev->type, !=, PARLEY_EV_ERROR);
	}
	for (i = 0; i < p->I.events->len; i++) {
		ParleyEvent *ev = p->I.events->pdata[i];

		if (ev->type == PARLEY_EV_MESSAGE) {
			char *want = g_strdup_printf("from bob %u \xe2\x9c\x93", got_i++);

			g_assert_cmpstr(ev->text, ==, want);
			g_free(want);
		} else if (ev->type == PARLEY_EV_ACK) {
			acks_i++;
		}
		g_assert_cmpint(ev->type, !=, PARLEY_EV_ERROR);
	}
	g_assert_cmpuint(got_r, ==, 1000);
	g_assert_cmpuint(got_i, ==, 1000);
	g_assert_cmpuint(acks_i, ==, 1000);
	g_assert_cmpuint(acks_r, ==, 1000);
	/* rekeys happened - a side asks at its 20th message of an epoch and
	 * is answered within the next batch of 7 - one epoch step each, and
	 * both sides agree on where they are */
	g_assert_cmpuint(count_events(&p->I, PARLEY_EV_REKEYED), >=, 1000 / (20 + 7));
	g_assert_cmpuint(count_events(&p->I, PARLEY_EV_REKEYED), ==,
	                 parley_session_send_epoch(p->I.s));
	g_assert_cmpuint(parley_session_send_epoch(p->I.s), ==,
	                 parley_session_send_epoch(p->R.s));
}

static void
test_pair_auto_rekey(Pair *p, gconstpointer data)
{
	guint i;

	for (i = 0; i < 19; i++)
		send_text(&p->I, "x");
	pump(&p->I, &p->R);
	g_assert_cmpuint(count_events(&p->I, PARLEY_EV_REKEYED), ==, 0);
	g_assert_cmpuint(parley_session_messages_in_epoch(p->I.s), ==, 19);
	send_text(&p->I, "twentieth");
	g_assert_true(parley_session_rekey_pending(p->I.s));
	pump(&p->I, &p->R);
	g_assert_cmpuint(count_events(&p->I, PARLEY_EV_REKEYED), ==, 1);
	g_assert_cmpuint(count_events(&p->R, PARLEY_EV_REKEYED), ==, 1);
	g_assert_false(last_event(&p->I, PARLEY_EV_REKEYED)->by_peer);
	g_assert_true(last_event(&p->R, PARLEY_EV_REKEYED)->by_peer);
	g_assert_cmpuint(parley_session_send_epoch(p->I.s), ==, 1);
	g_assert_cmpuint(parley_session_send_epoch(p->R.s), ==, 1);
	g_assert_cmpuint(parley_session_messages_in_epoch(p->I.s), ==, 0);
	send_text(&p->R, "after");
	pump(&p->I, &p->R);
	g_assert_cmpstr(last_event(&p->I, PARLEY_EV_MESSAGE)->text, ==, "after");
}

static void
test_pair_rekey_either(Pair *p, gconstpointer data)
{
	guint round;

	for (round = 0; round < 6; round++) {
		Peer *asker = round % 2 ? &p->R : &p->I;

		g_assert_cmpint(parley_session_rekey(asker->s, asker->now), ==, PARLEY_ERR_NONE);
		/* one rekey at a time */
		g_assert_cmpint(parley_session_rekey(asker->s, asker->now), ==, PARLEY_ERR_BUSY);
		send_text(&p->I, "during");
		send_text(&p->R, "during");
		pump(&p->I, &p->R);
		g_assert_cmpuint(parley_session_send_epoch(p->I.s), ==, round + 1);
		g_assert_cmpuint(parley_session_send_epoch(p->R.s), ==, round + 1);
	}
	g_assert_cmpuint(count_events(&p->I, PARLEY_EV_MESSAGE), ==, 6);
	g_assert_cmpuint(count_events(&p->R, PARLEY_EV_MESSAGE), ==, 6);
	g_assert_null(last_event(&p->I, PARLEY_EV_ERROR));
	g_assert_null(last_event(&p->R, PARLEY_EV_ERROR));
}

/* Both ask at once: the initiator's request wins, one epoch step. */
static void
test_pair_simultaneous_rekey(Pair *p, gconstpointer data)
{
	g_assert_cmpint(parley_session_rekey(p->I.s, p->I.now), ==, PARLEY_ERR_NONE);
	g_assert_cmpint(parley_session_rekey(p->R.s, p->R.now), ==, PARLEY_ERR_NONE);
	/* cross the two REKEYs on the wire */
	{
		GByteArray *oi = g_byte_array_new(), *or = g_byte_array_new();

		g_byte_array_append(oi, parley_session_output(p->I.s)->data,
		                    parley_session_output(p->I.s)->len);
		g_byte_array_append(or, parley_session_output(p->R.s)->data,
		                    parley_session_output(p->R.s)->len);
		g_byte_array_set_size(parley_session_output(p->I.s), 0);
		g_byte_array_set_size(parley_session_output(p->R.s), 0);
		parley_session_feed(p->R.s, oi->data, oi->len, 0);
		parley_session_feed(p->I.s, or->data, or->len, 0);
		g_byte_array_unref(oi);
		g_byte_array_unref(or);
	}
	pump(&p->I, &p->R);
	g_assert_cmpuint(count_events(&p->I, PARLEY_EV_REKEYED), ==, 1);
	g_assert_cmpuint(count_events(&p->R, PARLEY_EV_REKEYED), ==, 1);
	/* I asked and won: for R it was the peer's rekey */
	g_assert_false(last_event(&p->I, PARLEY_EV_REKEYED)->by_peer);
	g_assert_true(last_event(&p->R, PARLEY_EV_REKEYED)->by_peer);
	g_assert_cmpuint(parley_session_send_epoch(p->I.s), ==, 1);
	g_assert_cmpuint(parley_session_send_epoch(p->R.s), ==, 1);
	g_assert_false(parley_session_rekey_pending(p->I.s));
	g_assert_false(parley_session_rekey_pending(p->R.s));
	send_text(&p->I, "still talking");
	send_text(&p->R, "me too");
	pump(&p->I, &p->R);
	g_assert_cmpstr(last_event(&p->R, PARLEY_EV_MESSAGE)->text, ==, "still talking");
	g_assert_cmpstr(last_event(&p->I, PARLEY_EV_MESSAGE)->text, ==, "me too");
}

static void
test_pair_wrong_passphrase(void)
{
	Peer I, R;

	peer_init(&I, "one passphrase");
	peer_init(&R, "another passphrase");
	peer_new_session(&I, TRUE, "alice", 20);
	peer_new_session(&R, FALSE, "bob", 20);
	pump(&I, &R);
	assert_closed_with(&I, PARLEY_ERR_AUTH);
	assert_closed_with(&R, PARLEY_ERR_AUTH);
	g_assert_cmpuint(count_events(&I, PARLEY_EV_ESTABLISHED), ==, 0);
	g_assert_cmpuint(count_events(&R, PARLEY_EV_ESTABLISHED), ==, 0);
	peer_clear(&I);
	peer_clear(&R);
}

/* Capture the next frame a peer sends, without delivering it. */
static GByteArray *
take_output(Peer *p)
{
	GByteArray *out = parley_session_output(p->s);
	GByteArray *copy = g_byte_array_new();

	g_byte_array_append(copy, out->data, out->len);
	g_byte_array_set_size(out, 0);
	return copy;
}

/* A flipped bit anywhere in a record - type byte, epoch, ciphertext, tag -
 * closes the connection without showing anything or answering.  A
 * failure is final, so each flip gets a fresh pair. */
static void
test_pair_flipped_bits(Pair *p, gconstpointer data)
{
	GByteArray *rec;
	guint i, len;

	send_text(&p->I, "integrity");
	rec = take_output(&p->I);
	len = rec->len;
	g_byte_array_unref(rec);
	for (i = 4; i < len; i++) {
		Pair q;
		GByteArray *r2;

		pair_setup(&q, GUINT_TO_POINTER(0));
		send_text(&q.I, "integrity");
		r2 = take_output(&q.I);
		r2->data[i] ^= (uint8_t) (1u << (i % 8));
		parley_session_feed(q.R.s, r2->data, r2->len, 0);
		assert_closed_with(&q.R, PARLEY_ERR_RECORD);
		g_assert_null(last_event(&q.R, PARLEY_EV_MESSAGE));
		g_assert_cmpuint(parley_session_output(q.R.s)->len, ==, 0);
		g_byte_array_unref(r2);
		pair_teardown(&q, NULL);
	}
}

static void
test_pair_replay(Pair *p, gconstpointer data)
{
	GByteArray *rec;

	send_text(&p->I, "once");
	rec = take_output(&p->I);
	parley_session_feed(p->R.s, rec->data, rec->len, 0);
	peer_drain(&p->R);
	g_assert_cmpstr(last_event(&p->R, PARLEY_EV_MESSAGE)->text, ==, "once");
	parley_session_feed(p->R.s, rec->data, rec->len, 0);
	assert_closed_with(&p->R, PARLEY_ERR_RECORD);
	g_assert_cmpuint(count_events(&p->R, PARLEY_EV_MESSAGE), ==, 1);
	g_byte_array_unref(rec);
}

static void
test_pair_reorder(Pair *p, gconstpointer data)
{
	GByteArray *r1, *r2;

	send_text(&p->I, "first");
	r1 = take_output(&p->I);
	send_text(&p->I, "second");
	r2 = take_output(&p->I);
	parley_session_feed(p->R.s, r2->data, r2->len, 0);
	assert_closed_with(&p->R, PARLEY_ERR_RECORD);
	g_assert_cmpuint(count_events(&p->R, PARLEY_EV_MESSAGE), ==, 0);
	g_byte_array_unref(r1);
	g_byte_array_unref(r2);
}

static void
test_pair_wrong_epoch(Pair *p, gconstpointer data)
{
	GByteArray *rec;

	send_text(&p->I, "epoch?");
	rec = take_output(&p->I);
	/* claim epoch 7: not current, not next */
	rec->data[4 + 4] = 7;
	parley_session_feed(p->R.s, rec->data, rec->len, 0);
	assert_closed_with(&p->R, PARLEY_ERR_RECORD);
	g_byte_array_unref(rec);
}

static void
test_pair_reflection(Pair *p, gconstpointer data)
{
	GByteArray *rec;

	send_text(&p->I, "mirror");
	rec = take_output(&p->I);
	parley_session_feed(p->I.s, rec->data, rec->len, 0);
	assert_closed_with(&p->I, PARLEY_ERR_RECORD);
	g_byte_array_unref(rec);
}

static void
test_pair_truncated(Pair *p, gconstpointer data)
{
	GByteArray *rec;

	send_text(&p->I, "cut short");
	rec = take_output(&p->I);
	parley_session_feed(p->R.s, rec->data, rec->len - 3, 0);
	peer_drain(&p->R);
	/* waits for the rest: no event, no hang */
	g_assert_null(last_event(&p->R, PARLEY_EV_MESSAGE));
	g_assert_cmpint(parley_session_state(p->R.s), ==, PARLEY_SESSION_ESTABLISHED);
	parley_session_eof(p->R.s, 0);
	assert_closed_with(&p->R, PARLEY_ERR_CLOSED);
	g_byte_array_unref(rec);
}

/* Records sealed by hand with the epoch-0 keys of the vector handshake. */
static void
test_vector_unknown_inner(void)
{
	TJson *root = tj_load("parley-v2.json");
	TJson *h = tj_need(root, "handshakes/0");
	Peer I, R;
	ParleyRecordDir dir = { 0 };
	size_t l;
	uint8_t *key = tj_phex(h, "keys/key_IR", &l);
	uint8_t *iv = tj_phex(h, "keys/iv_IR", &l);
	GByteArray *f = g_byte_array_new();
	const uint8_t body[] = "future extension";
	uint8_t msg[8 + 5] = "idid0000hello";

	vector_handshake(h, &I, &R);
	g_assert_true(parley_record_dir_set(&dir, key, iv, 0));
	g_assert_true(parley_record_seal(&dir, 0x42, body, sizeof(body), f));
	g_assert_true(parley_record_seal(&dir, 0x01, msg, sizeof(msg), f));
	/* known types with bodies of the wrong length are protocol errors */
	parley_session_feed(R.s, f->data, f->len, 0);
	peer_drain(&R);
	g_assert_cmpstr(last_event(&R, PARLEY_EV_MESSAGE)->text, ==, "hello");
	g_assert_null(last_event(&R, PARLEY_EV_ERROR));

	g_byte_array_set_size(f, 0);
	g_assert_true(parley_record_seal(&dir, 0x03, "\x01\x01", 2, f));
	parley_session_feed(R.s, f->data, f->len, 0);
	assert_closed_with(&R, PARLEY_ERR_PROTOCOL);

	parley_record_dir_clear(&dir);
	g_byte_array_unref(f);
	g_free(key);
	g_free(iv);
	peer_clear(&I);
	peer_clear(&R);
	tj_free(root);
}

/* A text over 65536 bytes is refused by the sender, and by a receiver. */
static void
test_pair_text_limits(Pair *p, gconstpointer data)
{
	char *big = g_malloc(PARLEY_MAX_TEXT + 1);
	uint8_t id[8] = { 0 };

	memset(big, 'a', PARLEY_MAX_TEXT + 1);
	g_assert_cmpint(parley_session_send_message(p->I.s, id, big, PARLEY_MAX_TEXT + 1, 0),
	                ==, PARLEY_ERR_TEXT_TOO_LONG);
	g_assert_cmpuint(parley_session_output(p->I.s)->len, ==, 0);
	g_assert_cmpint(parley_session_send_message(p->I.s, id, big, PARLEY_MAX_TEXT, 0),
	                ==, PARLEY_ERR_NONE);
	pump(&p->I, &p->R);
	g_assert_cmpuint(last_event(&p->R, PARLEY_EV_MESSAGE)->text_len, ==, PARLEY_MAX_TEXT);
	/* invalid UTF-8 arrives with replacement characters */
	g_assert_cmpint(parley_session_send_message(p->I.s, id, "a\xffz", 3, 0), ==,
	                PARLEY_ERR_NONE);
	pump(&p->I, &p->R);
	g_assert_cmpstr(last_event(&p->R, PARLEY_EV_MESSAGE)->text, ==, "a\xef\xbf\xbdz");
	g_free(big);
}

static void
test_pair_typing_and_close(Pair *p, gconstpointer data)
{
	g_assert_cmpint(parley_session_send_typing(p->I.s, 1), ==, PARLEY_ERR_NONE);
	pump(&p->I, &p->R);
	g_assert_cmpint(last_event(&p->R, PARLEY_EV_TYPING)->typing, ==, 1);
	parley_session_close(p->R.s, 0);
	assert_closed_with(&p->R, PARLEY_ERR_NONE);
	pump(&p->I, &p->R);
	assert_closed_with(&p->I, PARLEY_ERR_BYE);
	g_assert_true(last_event(&p->I, PARLEY_EV_CLOSED)->from_peer);
	g_assert_cmpint(parley_session_send_typing(p->I.s, 0), ==, PARLEY_ERR_STATE);
}

/* §6 keepalive and §4 handshake timeout, with time given by the test. */
static void
test_pair_timers(Pair *p, gconstpointer data)
{
	gint64 t0 = p->I.now, next;

	next = parley_session_tick(p->I.s, t0 + 1000);
	g_assert_cmpint(next, ==, t0 + PARLEY_PING_IDLE_MS);
	parley_session_tick(p->I.s, t0 + PARLEY_PING_IDLE_MS);
	g_assert_cmpuint(parley_session_output(p->I.s)->len, >, 0);   /* PING */
	pump(&p->I, &p->R);                                             /* PONG */
	g_assert_cmpint(parley_session_state(p->I.s), ==, PARLEY_SESSION_ESTABLISHED);
	/* R hears nothing for 180 s: closes */
	parley_session_tick(p->R.s, t0 + PARLEY_PING_IDLE_MS + PARLEY_DEAD_PEER_MS);
	assert_closed_with(&p->R, PARLEY_ERR_PEER_DEAD);
}

static void
test_handshake_timeout(void)
{
	Peer R;
	gint64 next;

	peer_init(&R, "x");
	peer_new_session(&R, FALSE, "bob", 0);
	next = parley_session_tick(R.s, R.now);
	g_assert_cmpint(next, ==, R.now + PARLEY_HANDSHAKE_TIMEOUT_MS);
	parley_session_tick(R.s, next - 1);
	g_assert_cmpint(parley_session_state(R.s), ==, PARLEY_SESSION_HANDSHAKE);
	parley_session_tick(R.s, next);
	assert_closed_with(&R, PARLEY_ERR_TIMEOUT);
	peer_clear(&R);
}

/* A responder may refuse a caller before PBKDF2 (limits, loopback). */
static void
test_refuse(void)
{
	Peer I, R;

	peer_init(&I, "p");
	peer_init(&R, "p");
	R.auto_kdf = FALSE;
	peer_new_session(&I, TRUE, "alice", 0);
	peer_new_session(&R, FALSE, "bob", 0);
	pump(&I, &R);
	g_assert_cmpuint(count_events(&R, PARLEY_EV_NEED_KDF), ==, 1);
	parley_session_refuse(R.s, PARLEY_ERR_BUSY, NULL);
	expect_error_frame(&R, 4);
	pump(&I, &R);
	assert_closed_with(&I, PARLEY_ERR_BUSY);
	g_assert_true(last_event(&I, PARLEY_EV_ERROR)->from_peer);
	peer_clear(&I);
	peer_clear(&R);
}

/* A late PBKDF2 result for a session that already failed is ignored. */
static void
test_late_kdf(void)
{
	Peer I;
	ParleyEvent *ev;
	uint8_t prs[32] = { 1 };

	peer_init(&I, "p");
	I.auto_kdf = FALSE;
	peer_new_session(&I, TRUE, "alice", 0);
	peer_drain(&I);
	ev = last_event(&I, PARLEY_EV_NEED_KDF);
	parley_session_tick(I.s, I.now + PARLEY_HANDSHAKE_TIMEOUT_MS);
	parley_session_provide_prs(I.s, ev->kdf_id, prs, I.now);
	g_assert_cmpuint(parley_session_output(I.s)->len, ==, 0);
	assert_closed_with(&I, PARLEY_ERR_TIMEOUT);
	peer_clear(&I);
}

/* ---- §4: an ERROR frame once established is not the peer's word ---- */

static void
feed_error_frame(Peer *p, uint8_t code, const char *reason)
{
	GByteArray *payload = g_byte_array_new(), *f = g_byte_array_new();
	const uint8_t pre[] = { 'P', 'R', 'L', 'Y', PARLEY_VERSION, 0x7f };

	g_byte_array_append(payload, pre, sizeof(pre));
	g_byte_array_append(payload, &code, 1);
	g_byte_array_append(payload, (const guint8 *) reason, (guint) strlen(reason));
	parley_frame_write(f, payload->data, payload->len);
	parley_session_feed(p->s, f->data, f->len, p->now);
	g_byte_array_unref(payload);
	g_byte_array_unref(f);
}

static void
test_pair_error_after_established(Pair *p, gconstpointer data)
{
	ParleyEvent *ev;

	/* anyone on the path can inject this: "passphrases differ" */
	feed_error_frame(&p->I, 3, "your passphrase is wrong, type it again at evil.example");
	assert_closed_with(&p->I, PARLEY_ERR_CLOSED);
	g_assert_cmpuint(parley_session_output(p->I.s)->len, ==, 0);
	ev = last_event(&p->I, PARLEY_EV_ERROR);
	g_assert_nonnull(ev);
	g_assert_true(ev->from_peer);
	g_assert_cmpint(ev->wire_code, ==, 3);
	/* not AUTH: key confirmation proved the passphrases equal, and AUTH
	 * would make the glue stop reconnecting */
	g_assert_cmpint(ev->error, ==, PARLEY_ERR_CLOSED);
	g_assert_null(ev->text);
	g_assert_cmpuint(ev->text_len, ==, 0);
	g_assert_true(last_event(&p->I, PARLEY_EV_CLOSED)->from_peer);
}

/* During the handshake the reason is all there is, and is shown. */
static void
test_error_during_handshake(void)
{
	Peer I;
	ParleyEvent *ev;

	peer_init(&I, "p");
	peer_new_session(&I, TRUE, "alice", 0);
	peer_drain(&I);
	g_byte_array_set_size(parley_session_output(I.s), 0);
	feed_error_frame(&I, 4, "busy \xff");
	assert_closed_with(&I, PARLEY_ERR_BUSY);
	ev = last_event(&I, PARLEY_EV_ERROR);
	g_assert_true(ev->from_peer);
	g_assert_cmpint(ev->wire_code, ==, 4);
	g_assert_cmpstr(ev->text, ==, "busy \xef\xbf\xbd");
	peer_clear(&I);
}

/* ---- §6: seq never reaches 2^32, whatever the record, either way ---- */

#define SEQ_LIMIT PARLEY_SEQ_LIMIT

/* Both directions I -> R at seq, R -> I untouched (no record has gone
 * yet after pair_setup). */
static void
pair_jump_seq(Pair *p, guint64 seq)
{
	parley_session_set_seq_for_tests(p->I.s, seq, 0);
	parley_session_set_seq_for_tests(p->R.s, 0, seq);
}

typedef enum { BY_TYPING, BY_PING, BY_ACK, BY_PONG } SendKind;

/* Make I send one record of this kind: directly, or as its answer to R. */
static void
i_sends(Pair *p, SendKind kind)
{
	uint8_t id[8] = { 7 };

	switch (kind) {
	case BY_TYPING:
		(void) parley_session_send_typing(p->I.s, 1);
		break;
	case BY_PING:
		(void) parley_session_send_ping(p->I.s, p->I.now);
		break;
	case BY_ACK:
		g_assert_cmpint(parley_session_send_message(p->R.s, id, "hi", 2, p->R.now),
		                ==, PARLEY_ERR_NONE);
		transfer(&p->R, &p->I);
		break;
	case BY_PONG:
		g_assert_cmpint(parley_session_send_ping(p->R.s, p->R.now), ==,
		                PARLEY_ERR_NONE);
		transfer(&p->R, &p->I);
		break;
	}
}

/* Near the limit, any record - not only a MSG - makes the sender rekey
 * (§8 "before seq would reach 2^32"), and the pair goes on in epoch 1. */
static void
test_seq_rekey_before_limit(gconstpointer data)
{
	SendKind kind = GPOINTER_TO_INT(data);
	Pair p;

	pair_setup(&p, GUINT_TO_POINTER(0));
	pair_jump_seq(&p, PARLEY_SEQ_REKEY_AT - 1);
	i_sends(&p, kind);
	g_assert_cmpint(parley_session_state(p.I.s), ==, PARLEY_SESSION_ESTABLISHED);
	g_assert_true(parley_session_rekey_pending(p.I.s));
	pump(&p.I, &p.R);
	g_assert_cmpuint(parley_session_send_epoch(p.I.s), ==, 1);
	g_assert_cmpuint(parley_session_send_epoch(p.R.s), ==, 1);
	send_text(&p.I, "after the rekey");
	pump(&p.I, &p.R);
	g_assert_cmpstr(last_event(&p.R, PARLEY_EV_MESSAGE)->text, ==, "after the rekey");
	g_assert_null(last_event(&p.I, PARLEY_EV_ERROR));
	g_assert_null(last_event(&p.R, PARLEY_EV_ERROR));
	pair_teardown(&p, NULL);
}

/* The peer never answers our REKEY: the records up to seq 2^32 - 1 go,
 * and then nothing - the session fails instead of sealing seq 2^32. */
static void
test_seq_limit_unanswered(gconstpointer data)
{
	SendKind kind = GPOINTER_TO_INT(data);
	Pair p;
	GByteArray *out;
	guint before;

	pair_setup(&p, GUINT_TO_POINTER(0));
	pair_jump_seq(&p, SEQ_LIMIT - 3);
	/* seq 2^32 - 3, then our REKEY at 2^32 - 2, then 2^32 - 1: the last */
	g_assert_cmpint(parley_session_send_typing(p.I.s, 1), ==, PARLEY_ERR_NONE);
	g_assert_true(parley_session_rekey_pending(p.I.s));
	g_assert_cmpint(parley_session_send_typing(p.I.s, 0), ==, PARLEY_ERR_NONE);
	/* three records are out; R never answers (they are lost on the way,
	 * so R stays in epoch 0 and can still make I send) */
	out = parley_session_output(p.I.s);
	g_assert_cmpuint(out->len, >, 0);
	g_byte_array_set_size(out, 0);
	before = out->len;
	i_sends(&p, kind);
	assert_closed_with(&p.I, PARLEY_ERR_PROTOCOL);
	g_assert_cmpuint(out->len, ==, before);     /* nothing sealed at 2^32 */
	if (kind == BY_ACK)
		/* the message was shown; its ACK could not go (the sender
		 * resends it on the next connection, §7) */
		g_assert_nonnull(last_event(&p.I, PARLEY_EV_MESSAGE));
	pair_teardown(&p, NULL);
}

/* A MSG or a REKEY asked for at the limit itself goes nowhere either. */
static void
test_seq_limit_msg_and_rekey(void)
{
	Pair p;
	uint8_t id[8] = { 1 };

	pair_setup(&p, GUINT_TO_POINTER(0));
	pair_jump_seq(&p, SEQ_LIMIT);
	g_assert_cmpint(parley_session_send_message(p.I.s, id, "x", 1, p.I.now), ==,
	                PARLEY_ERR_PROTOCOL);
	g_assert_cmpuint(parley_session_output(p.I.s)->len, ==, 0);
	assert_closed_with(&p.I, PARLEY_ERR_PROTOCOL);
	pair_teardown(&p, NULL);

	pair_setup(&p, GUINT_TO_POINTER(0));
	pair_jump_seq(&p, SEQ_LIMIT);
	g_assert_cmpint(parley_session_rekey(p.I.s, p.I.now), ==, PARLEY_ERR_PROTOCOL);
	g_assert_cmpuint(parley_session_output(p.I.s)->len, ==, 0);
	assert_closed_with(&p.I, PARLEY_ERR_PROTOCOL);
	pair_teardown(&p, NULL);

	/* and BYE: the connection just closes */
	pair_setup(&p, GUINT_TO_POINTER(0));
	pair_jump_seq(&p, SEQ_LIMIT);
	parley_session_close(p.I.s, 0);
	g_assert_cmpuint(parley_session_output(p.I.s)->len, ==, 0);
	assert_closed_with(&p.I, PARLEY_ERR_NONE);
	pair_teardown(&p, NULL);
}

/* A record sealed by hand under the vector's I->R keys with any seq. */
static void
seal_at(const uint8_t key[32], const uint8_t iv[12], guint64 seq, uint8_t type,
        const void *body, size_t body_len, GByteArray *f)
{
	uint8_t rec[PARLEY_RECORD_HEADER_LEN + 16 + PARLEY_GCM_TAG_LEN];
	uint8_t nonce[12], s[8];
	size_t inner_len = 1 + body_len;
	int i;

	g_assert_cmpuint(inner_len, <=, 16);
	rec[0] = PARLEY_RECORD_TYPE;
	parley_put_be32(rec + 1, 0);
	rec[PARLEY_RECORD_HEADER_LEN] = type;
	memcpy(rec + PARLEY_RECORD_HEADER_LEN + 1, body, body_len);
	memcpy(nonce, iv, 12);
	parley_put_be64(s, seq);
	for (i = 0; i < 8; i++)
		nonce[4 + i] ^= s[i];
	g_assert_true(parley_aes_gcm_seal(key, 32, nonce, rec, PARLEY_RECORD_HEADER_LEN,
	                                  rec + PARLEY_RECORD_HEADER_LEN, inner_len,
	                                  rec + PARLEY_RECORD_HEADER_LEN,
	                                  rec + PARLEY_RECORD_HEADER_LEN + inner_len));
	parley_frame_write(f, rec, PARLEY_RECORD_HEADER_LEN + inner_len + PARLEY_GCM_TAG_LEN);
}

/* §6 for a receiver: seq 2^32 - 1 is the last record it takes in an
 * epoch; one that would carry 2^32 is refused, genuine tag or not. */
static void
test_seq_limit_receiver(void)
{
	TJson *root = tj_load("parley-v2.json");
	TJson *h = tj_need(root, "handshakes/0");
	Peer I, R;
	size_t l;
	uint8_t *key = tj_phex(h, "keys/key_IR", &l);
	uint8_t *iv = tj_phex(h, "keys/iv_IR", &l);
	GByteArray *f = g_byte_array_new();
	ParleyRecordDir dir = { 0 };
	uint8_t inner[2];

	vector_handshake(h, &I, &R);
	parley_session_set_seq_for_tests(R.s, 0, SEQ_LIMIT - 1);
	seal_at(key, iv, SEQ_LIMIT - 1, 0x03, "\x01", 1, f);
	parley_session_feed(R.s, f->data, f->len, R.now);
	peer_drain(&R);
	g_assert_cmpint(last_event(&R, PARLEY_EV_TYPING)->typing, ==, 1);
	g_assert_cmpint(parley_session_state(R.s), ==, PARLEY_SESSION_ESTABLISHED);

	g_byte_array_set_size(f, 0);
	seal_at(key, iv, SEQ_LIMIT, 0x03, "\x02", 1, f);
	parley_session_feed(R.s, f->data, f->len, R.now);
	assert_closed_with(&R, PARLEY_ERR_RECORD);
	g_assert_cmpint(last_event(&R, PARLEY_EV_TYPING)->typing, ==, 1);
	g_assert_cmpuint(count_events(&R, PARLEY_EV_TYPING), ==, 1);
	g_assert_cmpuint(parley_session_output(R.s)->len, ==, 0);

	/* the record layer itself: a used-up direction opens and seals
	 * nothing */
	g_assert_true(parley_record_dir_set(&dir, key, iv, 0));
	dir.seq = SEQ_LIMIT;
	g_assert_true(parley_record_dir_used_up(&dir));
	g_assert_false(parley_record_open(&dir, f->data + 4, f->len - 4, inner));
	g_assert_cmpuint(dir.seq, ==, SEQ_LIMIT);
	g_byte_array_set_size(f, 0);
	g_assert_false(parley_record_seal(&dir, 0x03, "\x01", 1, f));
	g_assert_cmpuint(f->len, ==, 0);
	dir.seq = SEQ_LIMIT - 1;
	g_assert_true(parley_record_seal(&dir, 0x03, "\x01", 1, f));
	g_assert_true(parley_record_dir_used_up(&dir));

	parley_record_dir_clear(&dir);
	g_byte_array_unref(f);
	g_free(key);
	g_free(iv);
	peer_clear(&I);
	peer_clear(&R);
	tj_free(root);
}

/* ---- fail closed: a key schedule that fails sets no key ---- */

static guint expand_calls, expand_fail_at;

/* parley_hkdf_expand, made to fail for real at call number expand_fail_at:
 * that call asks for more than HKDF can give (255 * HashLen). */
static gboolean
failing_expand(const uint8_t prk[32], const void *info, size_t info_len,
               void *out, size_t out_len)
{
	uint8_t *big;
	gboolean ok;

	if (++expand_calls != expand_fail_at)
		return parley_hkdf_expand(prk, info, info_len, out, out_len);
	big = g_malloc(255 * 32 + 1);
	memset(big, 0xaa, 255 * 32 + 1);
	ok = parley_hkdf_expand(prk, info, info_len, big, 255 * 32 + 1);
	g_assert_false(ok);
	g_assert_true(all_bytes(big, 255 * 32 + 1, 0));
	g_free(big);
	memset(out, 0xaa, out_len);         /* what a careless one would leave */
	return FALSE;
}

static void
test_record_derivation_fails(void)
{
	uint8_t prk[32];
	ParleyEpochKeys k, good;
	ParleyRecordDir dir = { 0 };
	GByteArray *f = g_byte_array_new();
	uint8_t payload[PARLEY_RECORD_MIN_LEN] = { PARLEY_RECORD_TYPE };
	uint8_t inner[1];

	memset(prk, 0x5c, sizeof(prk));
	expand_fail_at = 0;
	g_assert_true(parley_epoch_keys_expand(prk, &good));
	/* each of the five expansions failing in turn: nothing usable is
	 * left, not even what the steps before it derived */
	for (expand_fail_at = 1; expand_fail_at <= 5; expand_fail_at++) {
		expand_calls = 0;
		memset(&k, 0x11, sizeof(k));
		g_assert_false(parley_epoch_keys_expand_with(failing_expand, prk, &k));
		g_assert_cmpuint(expand_calls, ==, expand_fail_at);
		g_assert_true(all_bytes(&k, sizeof(k), 0));
	}
	/* and when none fails, the same keys as the real schedule */
	expand_fail_at = 0;
	expand_calls = 0;
	g_assert_true(parley_epoch_keys_expand_with(failing_expand, prk, &k));
	g_assert_cmpmem(&k, sizeof(k), &good, sizeof(good));
	parley_epoch_keys_clear(&k);
	parley_epoch_keys_clear(&good);

	/* A direction that was never set (as after a failed set) refuses to
	 * seal or open: a caller bug, reported, and nothing goes out. */
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*parley_record_dir_is_set*");
	g_assert_false(parley_record_seal(&dir, 0x03, "\x01", 1, f));
	g_test_assert_expected_messages();
	g_assert_cmpuint(f->len, ==, 0);
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*parley_record_dir_is_set*");
	g_assert_false(parley_record_open(&dir, payload, sizeof(payload), inner));
	g_test_assert_expected_messages();
	g_byte_array_unref(f);
}

/* ---- what the core leaves in freed memory ---- */

static void
test_freed_watch_works(void)
{
	uint8_t pattern[16];
	uint8_t *b;
	GByteArray *a;

	if (watch_skip())
		return;
	parley_random_bytes(pattern, sizeof(pattern));
	watch_start(pattern, sizeof(pattern), NULL, 0);
	b = g_malloc(100);
	memcpy(b + 40, pattern, sizeof(pattern));
	g_free(b);
	g_assert_cmpint(watch_stop(), ==, 1);

	/* a growing array leaves its old block behind */
	watch_start(pattern, sizeof(pattern), NULL, 0);
	a = g_byte_array_new();
	g_byte_array_append(a, pattern, sizeof(pattern));
	g_byte_array_set_size(a, 4096);
	parley_wipe(a->data, a->len);
	g_byte_array_unref(a);
	g_assert_cmpint(watch_stop(), ==, 1);
	parley_wipe(pattern, sizeof(pattern));
}

/* X25519: neither the scalar (as given, clamped, or big-endian), the
 * point, nor the shared secret is left in freed heap (libgcrypt's
 * gcry_ecc_mul_point copies the first two and returns the third through
 * buffers it frees unwiped). */
static void
test_freed_x25519(void)
{
	uint8_t sc[32], pt[32], out[32], clamped[32], be[32];
	int i;

	if (watch_skip())
		return;
	parley_random_bytes(sc, sizeof(sc));
	parley_random_bytes(pt, sizeof(pt));
	g_assert_true(parley_x25519_base(pt, pt));         /* a real point */
	g_assert_true(parley_x25519(out, sc, pt));
	memcpy(clamped, sc, 32);
	clamped[0] &= 248;
	clamped[31] &= 127;
	clamped[31] |= 64;
	for (i = 0; i < 32; i++)
		be[i] = clamped[31 - i];

	watch_start(out, 16, clamped + 8, 16);
	watch[2].p = be + 8;
	watch[2].len = 16;
	watch[3].p = out + 16;
	watch[3].len = 16;
	g_assert_true(parley_x25519(out, sc, pt));
	g_assert_cmpint(watch_stop(), ==, 0);

	/* the CPace generator, which is as good as the PRS */
	{
		uint8_t prs[32], sid[16], g[32];

		parley_random_bytes(prs, sizeof(prs));
		parley_random_bytes(sid, sizeof(sid));
		g_assert_true(parley_cpace_generator(g, prs, sizeof(prs), sid));
		watch_start(g, 16, prs, 16);
		g_assert_true(parley_cpace_generator(g, prs, sizeof(prs), sid));
		g_assert_true(parley_x25519(out, sc, g));
		g_assert_cmpint(watch_stop(), ==, 0);
		parley_wipe(prs, sizeof(prs));
		parley_wipe(g, sizeof(g));
	}
	parley_wipe(sc, sizeof(sc));
	parley_wipe(out, sizeof(out));
	parley_wipe(clamped, sizeof(clamped));
	parley_wipe(be, sizeof(be));
}

/* The vector handshake: CPace's K (and ISK) never reach freed heap - K
 * went into an ISK input that grew (and so moved) as it was built. */
static void
test_freed_handshake(void)
{
	TJson *root = tj_load("parley-v2.json");
	TJson *h = tj_need(root, "handshakes/0");
	Peer I, R;
	size_t l;
	uint8_t *hex_k = tj_phex(h, "cpace/K", &l);
	uint8_t *hex_isk = tj_phex(h, "cpace/ISK", &l);
	uint8_t K[32], isk[64];

	if (watch_skip()) {
		g_free(hex_k);
		g_free(hex_isk);
		tj_free(root);
		return;
	}
	memcpy(K, hex_k, 32);
	memcpy(isk, hex_isk, 64);
	parley_wipe(hex_k, 32);
	parley_wipe(hex_isk, 64);
	g_free(hex_k);
	g_free(hex_isk);

	watch_start(K, 16, K + 16, 16);
	watch[2].p = isk;
	watch[2].len = 16;
	vector_handshake(h, &I, &R);
	peer_clear(&I);
	peer_clear(&R);
	g_assert_cmpint(watch_stop(), ==, 0);
	parley_wipe(K, sizeof(K));
	parley_wipe(isk, sizeof(isk));
	tj_free(root);
}

/* §3 NFC: no form of the passphrase (UTF-8, or UCS-4 as GLib's
 * normaliser holds it) is left in freed heap. */
static void
test_freed_passphrase_nfc(void)
{
	/* decomposed: "e" + U+0301 in the middle, so normalising changes it */
	static const char typed[] = "quokka-lantern-7726-cafe\xcc\x81-brulee";
	static const gunichar ucs4[] = { 'q', 'u', 'o', 'k', 'k', 'a', '-', 'l' };
	static const char nfc_want[] = "quokka-lantern-7726-caf\xc3\xa9-brulee";
	uint8_t *nfc;
	size_t len;
	ParleyError err;

	if (watch_skip())
		return;
	watch_start(ucs4, sizeof(ucs4), "quokka-lantern", 14);
	nfc = parley_passphrase_nfc(typed, &len, &err);
	g_assert_nonnull(nfc);
	g_assert_cmpmem(nfc, len, nfc_want, strlen(nfc_want));
	parley_secure_free(nfc, len);
	g_assert_cmpint(watch_stop(), ==, 0);
}

/* A message with invalid UTF-8 grows into its U+FFFDs in one allocation
 * of the final size: no piece of it left in an outgrown buffer. */
static void
test_freed_message_text(Pair *p, gconstpointer data)
{
	char text[300];
	uint8_t id[8] = { 3 };
	ParleyEvent *ev;

	if (watch_skip())
		return;
	memcpy(text, "narwhal-teapot-3158 ", 20);
	memset(text + 20, 0xff, sizeof(text) - 20);
	g_assert_cmpint(parley_session_send_message(p->I.s, id, text, sizeof(text), p->I.now),
	                ==, PARLEY_ERR_NONE);
	watch_start("narwhal-teapot-3158", 19, NULL, 0);
	transfer(&p->I, &p->R);
	peer_drain(&p->R);
	ev = last_event(&p->R, PARLEY_EV_MESSAGE);
	g_assert_nonnull(ev);
	g_assert_cmpuint(ev->text_len, ==, 20 + 3 * (sizeof(text) - 20));
	g_ptr_array_set_size(p->R.events, 0);       /* cleared: wiped, freed */
	g_assert_cmpint(watch_stop(), ==, 0);
}

/* parley_utf8_make_valid and parley_passphrase_nfc give exactly what
 * GLib's g_utf8_make_valid and g_utf8_normalize(NFC) give. */
static void
test_text_same_as_glib(void)
{
	static const gunichar alphabet[] = {
		'a', 'e', 'o', 'A', 0xe9, 0xc5, 0x212b, 0x2126, 0x300, 0x301, 0x302,
		0x303, 0x308, 0x323, 0x327, 0x328, 0x345, 0x344, 0x1e9b, 0x1ec7,
		0x3b1, 0x3c9, 0x1f00, 0x958, 0x915, 0x93c, 0x928, 0xf71, 0xf72,
		0xf73, 0x1100, 0x1161, 0x11a8, 0xac00, 0xd7a3, 0x1d15e, 0x1d165,
		0x1d16e, 0x5d0, 0x5b4, 0x5bc, 0x30ab, 0x3099, 0x304b, 0xfb2c,
	};
	GRand *r = g_rand_new_with_seed(0x9a71e7);
	guint i, j;

	for (i = 0; i < 20000; i++) {
		GString *in = g_string_new(NULL);
		guint n = (guint) g_rand_int_range(r, 1, 12);
		char *want;
		uint8_t *got;
		size_t len;
		ParleyError err;

		for (j = 0; j < n; j++)
			g_string_append_unichar(in, alphabet[g_rand_int_range(r, 0,
			                                     G_N_ELEMENTS(alphabet))]);
		want = g_utf8_normalize(in->str, -1, G_NORMALIZE_NFC);
		got = parley_passphrase_nfc(in->str, &len, &err);
		g_assert_nonnull(got);
		g_assert_cmpmem(got, len, want, strlen(want));
		parley_secure_free(got, len);
		g_free(want);
		g_string_free(in, TRUE);
	}
	for (i = 0; i < 20000; i++) {
		uint8_t b[24];
		guint n = (guint) g_rand_int_range(r, 0, (gint) sizeof(b));
		char *want, *got;
		size_t len;

		for (j = 0; j < n; j++) {
			/* mostly valid pieces, some stray bytes and NULs */
			static const uint8_t pick[] = { 'x', 0, 0x80, 0xbf, 0xc3, 0xa9, 0xe2,
			                                0x9c, 0x93, 0xf0, 0x9f, 0x98, 0x80,
			                                0xed, 0xa0, 0xff, 0xc0, 0xf4, 0x90 };

			b[j] = pick[g_rand_int_range(r, 0, sizeof(pick))];
		}
		want = g_utf8_make_valid((const char *) b, n);
		got = parley_utf8_make_valid(b, n, &len);
		g_assert_cmpstr(got, ==, want);
		g_assert_cmpuint(len, ==, strlen(want));
		g_free(want);
		g_free(got);
	}
	g_rand_free(r);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	parley_crypto_init();

	g_test_add_data_func("/session/vectors/handshake-ascii", "handshakes/0",
	                     test_vector_handshake);
	g_test_add_data_func("/session/vectors/handshake-nfc", "handshakes/1",
	                     test_vector_handshake);
	g_test_add_data_func("/session/vectors/prs-ascii", "handshakes/0", test_vector_prs);
	g_test_add_data_func("/session/vectors/prs-nfc", "handshakes/1", test_vector_prs);
	g_test_add_func("/session/vectors/epochs", test_vector_epochs);
	g_test_add_func("/session/vectors/conversation", test_vector_conversation);
	g_test_add_func("/session/vectors/bad-records", test_vector_bad_records);
	g_test_add_func("/session/vectors/low-order-points", test_vector_low_order);
	g_test_add_data_func("/session/vectors/hs1-malformed", "hs1", test_vector_hs_malformed);
	g_test_add_data_func("/session/vectors/hs2-malformed", "hs2", test_vector_hs_malformed);
	g_test_add_data_func("/session/vectors/hs3-malformed", "hs3", test_vector_hs_malformed);
	g_test_add_data_func("/session/vectors/hs4-malformed", "hs4", test_vector_hs_malformed);
	g_test_add_func("/session/vectors/commit-mismatch", test_vector_commit_mismatch);
	g_test_add_func("/session/vectors/wrong-passphrase", test_vector_wrong_passphrase);
	g_test_add_func("/session/vectors/frame-headers", test_vector_frame_headers);
	g_test_add_func("/session/vectors/unknown-inner-type", test_vector_unknown_inner);

#define PAIR(path, fn, rekey) \
	g_test_add(path, Pair, GUINT_TO_POINTER(rekey), pair_setup, fn, pair_teardown)
	PAIR("/session/pair/handshake", test_pair_handshake, 20);
	PAIR("/session/pair/thousand-each-way", test_pair_thousand, 20);
	PAIR("/session/pair/auto-rekey-after-20", test_pair_auto_rekey, 20);
	PAIR("/session/pair/rekey-either-side", test_pair_rekey_either, 0);
	PAIR("/session/pair/simultaneous-rekey", test_pair_simultaneous_rekey, 0);
	PAIR("/session/pair/flipped-bit", test_pair_flipped_bits, 0);
	PAIR("/session/pair/replayed-record", test_pair_replay, 0);
	PAIR("/session/pair/reordered-record", test_pair_reorder, 0);
	PAIR("/session/pair/wrong-epoch", test_pair_wrong_epoch, 0);
	PAIR("/session/pair/reflected-record", test_pair_reflection, 0);
	PAIR("/session/pair/truncated-frame", test_pair_truncated, 0);
	PAIR("/session/pair/text-limits", test_pair_text_limits, 0);
	PAIR("/session/pair/typing-and-bye", test_pair_typing_and_close, 0);
	PAIR("/session/pair/keepalive", test_pair_timers, 0);
	g_test_add_func("/session/pair/wrong-passphrase", test_pair_wrong_passphrase);
	g_test_add_func("/session/handshake-timeout", test_handshake_timeout);
	g_test_add_func("/session/refuse", test_refuse);
	g_test_add_func("/session/late-kdf-result", test_late_kdf);
	PAIR("/session/pair/error-after-established", test_pair_error_after_established, 0);
	g_test_add_func("/session/error-during-handshake", test_error_during_handshake);

	g_test_add_data_func("/session/seq-limit/rekey-before/typing",
	                     GINT_TO_POINTER(BY_TYPING), test_seq_rekey_before_limit);
	g_test_add_data_func("/session/seq-limit/rekey-before/ping",
	                     GINT_TO_POINTER(BY_PING), test_seq_rekey_before_limit);
	g_test_add_data_func("/session/seq-limit/rekey-before/ack",
	                     GINT_TO_POINTER(BY_ACK), test_seq_rekey_before_limit);
	g_test_add_data_func("/session/seq-limit/rekey-before/pong",
	                     GINT_TO_POINTER(BY_PONG), test_seq_rekey_before_limit);
	g_test_add_data_func("/session/seq-limit/unanswered/typing",
	                     GINT_TO_POINTER(BY_TYPING), test_seq_limit_unanswered);
	g_test_add_data_func("/session/seq-limit/unanswered/ping",
	                     GINT_TO_POINTER(BY_PING), test_seq_limit_unanswered);
	g_test_add_data_func("/session/seq-limit/unanswered/ack",
	                     GINT_TO_POINTER(BY_ACK), test_seq_limit_unanswered);
	g_test_add_data_func("/session/seq-limit/unanswered/pong",
	                     GINT_TO_POINTER(BY_PONG), test_seq_limit_unanswered);
	g_test_add_func("/session/seq-limit/msg-rekey-bye", test_seq_limit_msg_and_rekey);
	g_test_add_func("/session/seq-limit/receiver", test_seq_limit_receiver);

	g_test_add_func("/session/record/derivation-fails", test_record_derivation_fails);

	g_test_add_func("/session/freed/watch-works", test_freed_watch_works);
	g_test_add_func("/session/freed/x25519", test_freed_x25519);
	g_test_add_func("/session/freed/handshake", test_freed_handshake);
	g_test_add_func("/session/freed/passphrase-nfc", test_freed_passphrase_nfc);
	PAIR("/session/freed/message-text", test_freed_message_text, 0);
	g_test_add_func("/session/text-same-as-glib", test_text_same_as_glib);
	return g_test_run();
}
