/*
 * test-classic.c - classic mode (PROTOCOL.md §11): the published vectors in
 * tests/data/classic.json byte for byte, then two classic cores wired back
 * to back (with a fast stand-in for PBKDF2: the core only asks for keys).
 */
#include <string.h>

#include "classic.h"
#include "constants.h"
#include "crypto.h"
#include "frame.h"
#include "testutil.h"

/* ---- helpers ----------------------------------------------------------- */

/* Randomness from a script: each call must ask for exactly the length of
 * the next chunk (salt 16, nonce 12), so the test also checks the order in
 * which the core draws. */
typedef struct {
	GPtrArray *chunks;          /* GBytes */
	guint next;
} Script;

static void
script_random(void *buf, size_t len, gpointer data)
{
	Script *s = data;
	GBytes *b;

	g_assert_cmpuint(s->next, <, s->chunks->len);
	b = g_ptr_array_index(s->chunks, s->next++);
	g_assert_cmpuint(g_bytes_get_size(b), ==, len);
	memcpy(buf, g_bytes_get_data(b, NULL), len);
}

static void
script_add_hex(Script *s, TJson *node, const char *path)
{
	size_t len;
	uint8_t *b = tj_phex(node, path, &len);

	g_ptr_array_add(s->chunks, g_bytes_new_take(b, len));
}

/* Deterministic "randomness" for the back-to-back tests. */
static void
grand_random(void *buf, size_t len, gpointer data)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t) g_rand_int_range(data, 0, 256);
}

static GByteArray *
make_frame(const uint8_t *payload, size_t len)
{
	GByteArray *f = g_byte_array_new();

	parley_frame_write(f, payload, len);
	return f;
}

static void
feed_hex_frame(ParleyClassic *c, const char *payload_hex, gint64 now)
{
	size_t len;
	uint8_t *p = t_hex(payload_hex, &len);
	GByteArray *f = make_frame(p, len);

	parley_classic_feed(c, f->data, f->len, now);
	g_byte_array_unref(f);
	g_free(p);
}

static void
expect_event(ParleyClassic *c, ParleyEventType type, ParleyEvent *ev)
{
	memset(ev, 0, sizeof(*ev));
	g_assert_true(parley_classic_next_event(c, ev));
	g_assert_cmpint(ev->type, ==, type);
}

static void
expect_only(ParleyClassic *c, ParleyEventType type)
{
	ParleyEvent ev;

	expect_event(c, type, &ev);
	parley_event_clear(&ev);
}

static void
expect_message(ParleyClassic *c, const char *text)
{
	ParleyEvent ev;

	expect_event(c, PARLEY_EV_MESSAGE, &ev);
	g_assert_cmpstr(ev.text, ==, text);
	g_assert_cmpuint(ev.text_len, ==, strlen(text));
	parley_event_clear(&ev);
}

static void
expect_no_event(ParleyClassic *c)
{
	ParleyEvent ev;

	memset(&ev, 0, sizeof(ev));
	g_assert_false(parley_classic_next_event(c, &ev));
}

static guint
expect_need_kdf(ParleyClassic *c, const uint8_t *salt)
{
	ParleyEvent ev;
	guint id;

	expect_event(c, PARLEY_EV_NEED_KDF, &ev);
	g_assert_cmpuint(ev.kdf_iterations, ==, PARLEY_CLASSIC_ITERATIONS);
	g_assert_cmpuint(ev.kdf_len, ==, PARLEY_CLASSIC_KEY_LEN);
	if (salt != NULL)
		g_assert_cmpmem(ev.kdf_salt, PARLEY_SALT_LEN, salt, PARLEY_SALT_LEN);
	id = ev.kdf_id;
	parley_event_clear(&ev);
	return id;
}

static void
output_take(ParleyClassic *c, GByteArray *into)
{
	GByteArray *o = parley_classic_output(c);

	if (into != NULL)
		g_byte_array_append(into, o->data, o->len);
	g_byte_array_remove_range(o, 0, o->len);
}

static void
assert_output_hex(ParleyClassic *c, const char *hex)
{
	GByteArray *o = parley_classic_output(c);

	t_assert_hex(o->data, o->len, hex);
	g_byte_array_remove_range(o, 0, o->len);
}

/* TRUE if buf holds one whole frame whose payload opens under key. */
static gboolean
frame_opens_with(const uint8_t *buf, size_t len, const uint8_t *key)
{
	uint32_t n;
	uint8_t *pt;
	gboolean ok;

	g_assert_cmpuint(len, >=, 4 + 28);
	n = parley_get_be32(buf);
	g_assert_cmpuint(n + 4, <=, len);
	pt = g_malloc(n);
	ok = parley_aes_gcm_open(key, 16, buf + 4, NULL, 0, buf + 4 + 28, n - 28,
	                         buf + 4 + 12, pt);
	g_free(pt);
	return ok;
}

/* The back-to-back tests' stand-in for PBKDF2: fast, deterministic, and
 * different for different passphrases or salts. */
static void
fake_kdf(const char *pass, const uint8_t *salt, uint8_t key[16])
{
	GHmac *h = g_hmac_new(G_CHECKSUM_SHA256, (const guchar *) pass, strlen(pass));
	guint8 d[32];
	gsize dlen = sizeof(d);

	g_hmac_update(h, salt, PARLEY_SALT_LEN);
	g_hmac_get_digest(h, d, &dlen);
	g_hmac_unref(h);
	memcpy(key, d, 16);
}

/* ---- vectors ----------------------------------------------------------- */

static void
test_vectors_session(gconstpointer data)
{
	const char *path = data;
	TJson *root = tj_load("classic.json");
	TJson *s = tj_need(root, path);
	Script script = { g_ptr_array_new_with_free_func((GDestroyNotify) g_bytes_unref), 0 };
	ParleyClassic *lis, *con;
	ParleyError err;
	ParleyEvent ev;
	uint8_t *latin1, *salt, *key, *new_salt, *new_key, derived[16];
	size_t latin1_len, n;
	guint id;
	GString *frames = g_string_new(NULL);
	GByteArray *wire = g_byte_array_new();
	TJson *msgs = tj_need(s, "messages");
	guint nmsg = tj_len(msgs);
	TJson *last;
	const char *utf8_pass = tj_pstr(s, "passphrase");

	/* messages[0 .. nmsg-2] under key, the last one after the rekey */
	g_assert_cmpuint(nmsg, >=, 2);
	last = tj_at(msgs, nmsg - 1);

	/* §11 passphrase: NFC, then Latin-1, not UTF-8. */
	latin1 = parley_classic_passphrase(utf8_pass, &latin1_len, &err);
	g_assert_cmpint(err, ==, PARLEY_ERR_NONE);
	g_assert_nonnull(latin1);
	t_assert_hex(latin1, latin1_len, tj_pstr(s, "passphrase_latin1"));
	{
		char *h = t_tohex(utf8_pass, strlen(utf8_pass));

		g_assert_cmpstr(h, ==, tj_pstr(s, "passphrase_utf8_NOT_used"));
		g_free(h);
	}

	/* The keys really are PBKDF2 over those bytes (200000 iterations). */
	salt = tj_phex(s, "salt", &n);
	key = tj_phex(s, "key", &n);
	new_salt = tj_phex(s, "rekey/new_salt", &n);
	new_key = tj_phex(s, "rekey/new_key", &n);
	g_assert_cmpint(tj_pint(s, "iterations"), ==, PARLEY_CLASSIC_ITERATIONS);
	g_assert_true(parley_pbkdf2_sha256(latin1, latin1_len, salt, 16,
	                                   PARLEY_CLASSIC_ITERATIONS, derived, 16));
	t_assert_hex(derived, 16, tj_pstr(s, "key"));
	g_assert_true(parley_pbkdf2_sha256(latin1, latin1_len, new_salt, 16,
	                                   PARLEY_CLASSIC_ITERATIONS, derived, 16));
	t_assert_hex(derived, 16, tj_pstr(s, "rekey/new_key"));

	/* The listener draws: salt, a nonce per message, the rekey salt, the
	 * last message's nonce. */
	script_add_hex(&script, s, "salt");
	for (guint i = 0; i + 1 < nmsg; i++)
		script_add_hex(&script, tj_at(msgs, i), "nonce");
	script_add_hex(&script, s, "rekey/new_salt");
	script_add_hex(&script, last, "nonce");

	/* -- sending side: the listener -- */
	lis = parley_classic_new(PARLEY_CLASSIC_LISTENER, script_random, &script, 0);
	assert_output_hex(lis, tj_pstr(s, "listener_sends_first"));
	id = expect_need_kdf(lis, salt);
	expect_no_event(lis);
	parley_classic_provide_kdf(lis, id, key, 16, 0);
	expect_only(lis, PARLEY_EV_ESTABLISHED);
	expect_no_event(lis);
	g_assert_cmpuint(parley_classic_key_generation(lis), ==, 1);

	/* The messages before the rekey wait for the 2-second start. */
	for (guint i = 0; i + 1 < nmsg; i++) {
		TJson *m = tj_at(msgs, i);
		const char *text = tj_pstr(m, "plaintext");
		char *hex = t_tohex(text, strlen(text));

		g_assert_cmpstr(hex, ==, tj_pstr(m, "plaintext_utf8"));
		g_free(hex);
		g_assert_cmpstr(tj_pstr(m, "key"), ==, tj_pstr(s, "key"));
		g_assert_cmpint(parley_classic_send(lis, text, strlen(text), 10), ==,
		                PARLEY_ERR_NONE);
		g_string_append(frames, tj_pstr(m, "frame"));
	}
	g_assert_cmpuint(parley_classic_output(lis)->len, ==, 0);
	g_assert_cmpuint(parley_classic_queued(lis), ==, nmsg - 1);
	g_assert_cmpint(parley_classic_tick(lis, 10), ==, 2000);
	g_assert_cmpint(parley_classic_tick(lis, 1999), ==, 2000);
	g_assert_cmpuint(parley_classic_output(lis)->len, ==, 0);
	g_assert_cmpint(parley_classic_tick(lis, 2000), ==, -1);
	assert_output_hex(lis, frames->str);
	g_assert_cmpuint(parley_classic_queued(lis), ==, 0);
	g_assert_cmpuint(parley_classic_sent_since_rekey(lis), ==, nmsg - 1);

	/* Rekey: the frame goes out once the new key is ready, then the
	 * message typed meanwhile, under the new key. */
	g_assert_cmpint(parley_classic_rekey(lis, 2100), ==, PARLEY_ERR_NONE);
	id = expect_need_kdf(lis, new_salt);
	expect_no_event(lis);
	g_assert_cmpuint(parley_classic_sent_since_rekey(lis), ==, 0);
	g_assert_cmpint(parley_classic_send(lis, tj_pstr(last, "plaintext"),
	                                    strlen(tj_pstr(last, "plaintext")), 2100),
	                ==, PARLEY_ERR_NONE);
	g_assert_cmpuint(parley_classic_output(lis)->len, ==, 0);
	g_assert_cmpuint(parley_classic_queued(lis), ==, 1);
	g_assert_cmpstr(tj_pstr(last, "key"), ==, tj_pstr(s, "rekey/new_key"));
	parley_classic_provide_kdf(lis, id, new_key, 16, 2200);
	expect_event(lis, PARLEY_EV_REKEYED, &ev);
	g_assert_cmpuint(ev.epoch, ==, 2);
	g_assert_false(ev.by_peer);
	parley_event_clear(&ev);
	expect_no_event(lis);
	g_string_assign(frames, tj_pstr(s, "rekey/frame"));
	g_string_append(frames, tj_pstr(last, "frame"));
	assert_output_hex(lis, frames->str);
	g_assert_cmpuint(parley_classic_sent_since_rekey(lis), ==, 1);
	g_assert_cmpuint(script.next, ==, script.chunks->len);
	parley_classic_free(lis);

	/* -- receiving side: the connector -- */
	con = parley_classic_new(PARLEY_CLASSIC_CONNECTOR, NULL, NULL, 0);
	expect_no_event(con);
	g_assert_cmpuint(parley_classic_output(con)->len, ==, 0);
	g_assert_cmpint(parley_classic_tick(con, 0), ==, -1);

	/* The salt may come in pieces. */
	parley_classic_feed(con, salt, 5, 100);
	expect_no_event(con);
	parley_classic_feed(con, salt + 5, 11, 100);
	id = expect_need_kdf(con, salt);
	expect_no_event(con);
	g_assert_cmpint(parley_classic_tick(con, 100), ==, 2100);

	/* All frames before the rekey in one buffer; the first and three
	 * bytes of the second arrive before the key is ready and wait. */
	for (guint i = 0; i + 1 < nmsg; i++) {
		size_t flen;
		uint8_t *f = tj_phex(tj_at(msgs, i), "frame", &flen);

		g_byte_array_append(wire, f, (guint) flen);
		if (i == 0)
			n = flen + 3;
		g_free(f);
	}
	parley_classic_feed(con, wire->data, n, 150);
	expect_no_event(con);
	parley_classic_provide_kdf(con, id, key, 16, 200);
	expect_only(con, PARLEY_EV_ESTABLISHED);
	expect_message(con, tj_pstr(msgs, "0/plaintext"));
	expect_no_event(con);
	/* The rest byte by byte. */
	for (size_t i = n; i < wire->len; i++)
		parley_classic_feed(con, wire->data + i, 1, 300);
	for (guint i = 1; i + 1 < nmsg; i++)
		expect_message(con, tj_pstr(tj_at(msgs, i), "plaintext"));
	expect_no_event(con);

	feed_hex_frame(con, tj_pstr(s, "rekey/payload"), 400);
	id = expect_need_kdf(con, new_salt);
	expect_no_event(con);
	parley_classic_provide_kdf(con, id, new_key, 16, 500);
	expect_event(con, PARLEY_EV_REKEYED, &ev);
	g_assert_cmpuint(ev.epoch, ==, 2);
	g_assert_true(ev.by_peer);
	parley_event_clear(&ev);
	g_assert_cmpuint(parley_classic_key_generation(con), ==, 2);

	/* previous_key_rule: fails under the new key, decrypts under the
	 * previous one. */
	g_assert_cmpstr(tj_pstr(s, "previous_key_rule/key"), ==, tj_pstr(s, "key"));
	feed_hex_frame(con, tj_pstr(s, "previous_key_rule/payload"), 600);
	expect_message(con, tj_pstr(s, "previous_key_rule/plaintext"));
	feed_hex_frame(con, tj_pstr(last, "payload"), 600);
	expect_message(con, tj_pstr(last, "plaintext"));
	expect_no_event(con);
	g_assert_cmpuint(parley_classic_output(con)->len, ==, 0);
	parley_classic_free(con);

	parley_secure_free(latin1, latin1_len);
	g_free(salt);
	g_free(key);
	g_free(new_salt);
	g_free(new_key);
	g_string_free(frames, TRUE);
	g_byte_array_unref(wire);
	g_ptr_array_unref(script.chunks);
	tj_free(root);
}

/* An established connector of the `ascii` session (key given directly). */
static ParleyClassic *
ascii_connector(TJson *root)
{
	ParleyClassic *c = parley_classic_new(PARLEY_CLASSIC_CONNECTOR, NULL, NULL, 0);
	size_t n;
	uint8_t *salt = tj_phex(root, "sessions/0/salt", &n);
	uint8_t *key = tj_phex(root, "sessions/0/key", &n);
	guint id;

	parley_classic_feed(c, salt, 16, 0);
	id = expect_need_kdf(c, salt);
	parley_classic_provide_kdf(c, id, key, 16, 0);
	expect_only(c, PARLEY_EV_ESTABLISHED);
	g_free(salt);
	g_free(key);
	return c;
}

static void
test_vectors_undecryptable(void)
{
	TJson *root = tj_load("classic.json");
	TJson *list = tj_need(root, "undecryptable");
	ParleyClassic *c = ascii_connector(root);

	g_assert_cmpuint(tj_len(list), ==, 4);
	for (guint i = 0; i < tj_len(list); i++) {
		TJson *u = tj_at(list, i);

		g_test_message("undecryptable: %s", tj_pstr(u, "name"));
		feed_hex_frame(c, tj_pstr(u, "payload"), 10);
		/* Reported, no NEED_KDF (not even for the 15-byte "rekey"),
		 * and the connection stays open. */
		expect_only(c, PARLEY_EV_UNDECRYPTABLE);
		expect_no_event(c);
		/* A good frame still decrypts afterwards. */
		feed_hex_frame(c, tj_pstr(root, "sessions/0/messages/0/payload"), 10);
		expect_message(c, tj_pstr(root, "sessions/0/messages/0/plaintext"));
	}
	g_assert_cmpuint(parley_classic_key_generation(c), ==, 1);
	g_assert_cmpint(parley_classic_send(c, "still open", 10, 10), ==, PARLEY_ERR_NONE);
	parley_classic_free(c);
	tj_free(root);
}

/* Flipping any bit of a record makes it undecryptable, never a message. */
static void
test_vectors_flip_every_byte(void)
{
	TJson *root = tj_load("classic.json");
	ParleyClassic *c = ascii_connector(root);
	size_t len;
	uint8_t *p = tj_phex(root, "sessions/0/messages/2/payload", &len);

	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			GByteArray *f;

			p[i] ^= (uint8_t) (1u << bit);
			f = make_frame(p, len);
			parley_classic_feed(c, f->data, f->len, 10);
			expect_only(c, PARLEY_EV_UNDECRYPTABLE);
			expect_no_event(c);
			g_byte_array_unref(f);
			p[i] ^= (uint8_t) (1u << bit);
		}
	}
	{
		GByteArray *f = make_frame(p, len);

		parley_classic_feed(c, f->data, f->len, 10);
		expect_message(c, tj_pstr(root, "sessions/0/messages/2/plaintext"));
		g_byte_array_unref(f);
	}
	g_free(p);
	parley_classic_free(c);
	tj_free(root);
}

static void
test_vectors_nfc_then_latin1(void)
{
	TJson *root = tj_load("classic.json");
	TJson *list = tj_need(root, "nfc_then_latin1");

	g_assert_cmpuint(tj_len(list), ==, 2);
	for (guint i = 0; i < tj_len(list); i++) {
		TJson *v = tj_at(list, i);
		const char *typed = tj_pstr(v, "passphrase");
		char *hex = t_tohex(typed, strlen(typed));
		char *nfc = g_utf8_normalize(typed, -1, G_NORMALIZE_NFC);
		ParleyError err = PARLEY_ERR_STATE;
		size_t len;
		uint8_t *b;

		g_assert_cmpstr(hex, ==, tj_pstr(v, "passphrase_input_utf8"));
		g_assert_cmpstr(nfc, ==, tj_pstr(v, "nfc"));
		b = parley_classic_passphrase(typed, &len, &err);
		g_assert_cmpint(err, ==, PARLEY_ERR_NONE);
		t_assert_hex(b, len, tj_pstr(v, "passphrase_latin1"));

		/* The second one is the latin1 session's passphrase. */
		if (i == 1) {
			size_t n;
			uint8_t *salt = tj_phex(root, "sessions/1/salt", &n);
			uint8_t key[16];

			t_assert_hex(b, len, tj_pstr(root, "sessions/1/passphrase_latin1"));
			g_assert_true(parley_pbkdf2_sha256(b, len, salt, 16,
			                                   PARLEY_CLASSIC_ITERATIONS, key, 16));
			t_assert_hex(key, 16, tj_pstr(root, "sessions/1/key"));
			g_free(salt);
		}
		parley_secure_free(b, len);
		g_free(nfc);
		g_free(hex);
	}
	tj_free(root);
}

static void
test_vectors_non_latin1_refused(void)
{
	TJson *root = tj_load("classic.json");
	TJson *list = tj_need(root, "non_latin1_passphrase_refused");

	g_assert_cmpuint(tj_len(list), >=, 1);
	for (guint i = 0; i < tj_len(list); i++) {
		ParleyError err = PARLEY_ERR_NONE;
		size_t len = 99;

		g_assert_null(parley_classic_passphrase(tj_str(tj_at(list, i)), &len, &err));
		g_assert_cmpint(err, ==, PARLEY_ERR_NOT_LATIN1);
		g_assert_cmpuint(len, ==, 0);
	}
	tj_free(root);
}

static void
test_passphrase_refused(void)
{
	ParleyError err = PARLEY_ERR_NONE;
	size_t len;
	uint8_t *b;

	g_assert_null(parley_classic_passphrase("", &len, &err));
	g_assert_cmpint(err, ==, PARLEY_ERR_PASSPHRASE_EMPTY);
	g_assert_null(parley_classic_passphrase("caf\xc3", &len, &err));
	g_assert_cmpint(err, ==, PARLEY_ERR_MALFORMED);
	g_assert_null(parley_classic_passphrase("\xc3\xa9\xed\xa0\x80", &len, &err));
	g_assert_cmpint(err, ==, PARLEY_ERR_MALFORMED);
	/* Latin-1 text is unchanged by NFC, U+00FF is the last one allowed. */
	b = parley_classic_passphrase("\xc3\xbf\xc3\xa9 x", &len, &err);
	g_assert_cmpint(err, ==, PARLEY_ERR_NONE);
	t_assert_hex(b, len, "ffe92078");
	parley_secure_free(b, len);
	g_assert_null(parley_classic_passphrase("\xc5\x80", &len, &err));  /* U+0140 */
	g_assert_cmpint(err, ==, PARLEY_ERR_NOT_LATIN1);
}

/* ---- two cores back to back -------------------------------------------- */

typedef struct {
	ParleyClassic *c;
	const char *pass;
	GRand *rng;
	gboolean hold_kdf;          /* leave NEED_KDF unanswered */
	gboolean reverse_kdf;       /* answer pending ones newest first */
	GArray *kdf_ids;            /* guint, unanswered requests */
	GArray *kdf_salts;          /* 16-byte salts, unanswered requests */
	GArray *all_salts;          /* every salt asked for, in order */
	GPtrArray *got;             /* received texts */
	GString *log;               /* every event, compactly */
	guint undecryptable;
	guint last_epoch;           /* 1 once established */
	guint closed;
	ParleyError close_err;
	guint proving;              /* MESSAGEs opened under a key of our salt */
} Peer;

typedef struct {
	Peer a;                     /* listener */
	Peer b;                     /* connector */
	gint64 now;
	GRand *chunking;            /* how delivered bytes are split */
} Pair;

static void
peer_init(Peer *p, ParleyClassicRole role, const char *pass, guint32 seed)
{
	memset(p, 0, sizeof(*p));
	p->pass = pass;
	p->rng = g_rand_new_with_seed(seed);
	p->kdf_ids = g_array_new(FALSE, FALSE, sizeof(guint));
	p->kdf_salts = g_array_new(FALSE, FALSE, PARLEY_SALT_LEN);
	p->all_salts = g_array_new(FALSE, FALSE, PARLEY_SALT_LEN);
	p->got = g_ptr_array_new_with_free_func(g_free);
	p->log = g_string_new(NULL);
	p->c = parley_classic_new(role, grand_random, p->rng, 0);
}

static void
peer_clear(Peer *p)
{
	parley_classic_free(p->c);
	g_rand_free(p->rng);
	g_array_unref(p->kdf_ids);
	g_array_unref(p->kdf_salts);
	g_array_unref(p->all_salts);
	g_ptr_array_unref(p->got);
	g_string_free(p->log, TRUE);
}

/* Drain events into the peer's record; returns how many there were. */
static guint
peer_events(Peer *p)
{
	ParleyEvent ev;
	guint n = 0;

	while (parley_classic_next_event(p->c, &ev)) {
		n++;
		switch (ev.type) {
		case PARLEY_EV_NEED_KDF:
			g_array_append_val(p->kdf_ids, ev.kdf_id);
			g_array_append_vals(p->kdf_salts, ev.kdf_salt, 1);
			g_array_append_vals(p->all_salts, ev.kdf_salt, 1);
			g_string_append(p->log, "K ");
			break;
		case PARLEY_EV_ESTABLISHED:
			g_assert_cmpuint(p->last_epoch, ==, 0);
			p->last_epoch = 1;
			g_string_append(p->log, "E ");
			break;
		case PARLEY_EV_MESSAGE:
			p->proving += ev.proves;
			g_ptr_array_add(p->got, g_strdup(ev.text));
			g_string_append_printf(p->log, "M:%s ", ev.text);
			break;
		case PARLEY_EV_UNDECRYPTABLE:
			p->undecryptable++;
			g_string_append(p->log, "U ");
			break;
		case PARLEY_EV_REKEYED:
			/* keys are installed one after another */
			g_assert_cmpuint(ev.epoch, ==, p->last_epoch + 1);
			g_assert_cmpuint(ev.epoch, <=, parley_classic_key_generation(p->c));
			p->last_epoch = ev.epoch;
			g_string_append_printf(p->log, "R%u%s ", ev.epoch,
			                       ev.by_peer ? "p" : "o");
			break;
		case PARLEY_EV_ERROR:
			g_string_append_printf(p->log, "X%d ", ev.error);
			break;
		case PARLEY_EV_CLOSED:
			p->closed++;
			p->close_err = ev.error;
			g_string_append(p->log, "C ");
			break;
		default:
			g_assert_not_reached();
		}
		parley_event_clear(&ev);
	}
	return n;
}

/* Answer pending NEED_KDFs (unless held) with the fake KDF. */
static guint
peer_answer(Peer *p, gint64 now)
{
	guint n = p->kdf_ids->len;

	if (p->hold_kdf)
		return 0;
	for (guint k = 0; k < n; k++) {
		guint i = p->reverse_kdf ? n - 1 - k : k;
		const uint8_t *salt = (const uint8_t *) p->kdf_salts->data + i * PARLEY_SALT_LEN;
		uint8_t key[16];

		fake_kdf(p->pass, salt, key);
		parley_classic_provide_kdf(p->c, g_array_index(p->kdf_ids, guint, i),
		                           key, 16, now);
	}
	g_array_set_size(p->kdf_ids, 0);
	g_array_set_size(p->kdf_salts, 0);
	return n;
}

/* Move what from has written to to, split at random points. */
static gsize
deliver(Pair *pr, Peer *from, Peer *to)
{
	GByteArray *o = parley_classic_output(from->c);
	gsize total = o->len, off = 0;
	uint8_t *copy;

	if (total == 0)
		return 0;
	copy = g_memdup2(o->data, total);
	g_byte_array_remove_range(o, 0, o->len);
	while (off < total) {
		gsize chunk = (gsize) g_rand_int_range(pr->chunking, 1, 200);

		chunk = MIN(chunk, total - off);     /* (MIN evaluates twice) */

		parley_classic_feed(to->c, copy + off, chunk, pr->now);
		off += chunk;
	}
	g_free(copy);
	return total;
}

/* Run both sides until nothing moves any more. */
static void
settle(Pair *pr)
{
	for (int round = 0; round < 1000; round++) {
		guint moved = 0;

		moved += peer_events(&pr->a);
		moved += peer_events(&pr->b);
		moved += peer_answer(&pr->a, pr->now);
		moved += peer_answer(&pr->b, pr->now);
		parley_classic_tick(pr->a.c, pr->now);
		parley_classic_tick(pr->b.c, pr->now);
		moved += (guint) deliver(pr, &pr->a, &pr->b);
		moved += (guint) deliver(pr, &pr->b, &pr->a);
		if (moved == 0)
			return;
	}
	g_assert_not_reached();
}

static void
pair_init(Pair *pr, const char *pass_a, const char *pass_b)
{
	memset(pr, 0, sizeof(*pr));
	pr->chunking = g_rand_new_with_seed(7);
	peer_init(&pr->a, PARLEY_CLASSIC_LISTENER, pass_a, 1);
	peer_init(&pr->b, PARLEY_CLASSIC_CONNECTOR, pass_b, 2);
}

/* Both established and past the 2-second start. */
static void
pair_start(Pair *pr, const char *pass_a, const char *pass_b)
{
	pair_init(pr, pass_a, pass_b);
	settle(pr);
	pr->now = PARLEY_CLASSIC_START_DELAY_MS;
	settle(pr);
	g_assert_cmpstr(pr->a.log->str, ==, "K E ");
	g_assert_cmpstr(pr->b.log->str, ==, "K E ");
	g_string_truncate(pr->a.log, 0);
	g_string_truncate(pr->b.log, 0);
}

static void
pair_clear(Pair *pr)
{
	peer_clear(&pr->a);
	peer_clear(&pr->b);
	g_rand_free(pr->chunking);
}

static void
send_text(Peer *p, const char *text, gint64 now)
{
	ParleyError err = parley_classic_send(p->c, text, strlen(text), now);

	if (err != PARLEY_ERR_NONE) {
		peer_events(p);
		g_test_message("send %s: %d, log: %s", text, err, p->log->str);
	}
	g_assert_cmpint(err, ==, PARLEY_ERR_NONE);
}

static void
assert_got(Peer *p, const char *prefix, guint n)
{
	g_assert_cmpuint(p->got->len, ==, n);
	for (guint i = 0; i < n; i++) {
		char *want = g_strdup_printf("%s%u", prefix, i);

		g_assert_cmpstr(g_ptr_array_index(p->got, i), ==, want);
		g_free(want);
	}
}

static const uint8_t *
salt_at(Peer *p, guint i)
{
	g_assert_cmpuint(i, <, p->all_salts->len);
	return (const uint8_t *) p->all_salts->data + i * PARLEY_SALT_LEN;
}

/* Only the newest salt of an array (the last key asked for). */
static const uint8_t *
last_salt(Peer *p)
{
	return salt_at(p, p->all_salts->len - 1);
}

/* 45 messages each way: each side rekeys by itself after its 20th and 40th
 * message, the rekeys cross, nothing is lost.  Two rhythms: delivered after
 * each pair of messages, and in bursts with KDFs finishing newest first. */
static void
run_45(gboolean bursts)
{
	Pair pr;

	pair_start(&pr, "correct horse", "correct horse");
	pr.a.reverse_kdf = pr.b.reverse_kdf = bursts;
	for (guint i = 0; i < 45; i++) {
		char *ta = g_strdup_printf("a%u", i);
		char *tb = g_strdup_printf("b%u", i);

		pr.now += 100;
		send_text(&pr.a, ta, pr.now);
		send_text(&pr.b, tb, pr.now);
		if (!bursts || i % 7 == 6) {
			settle(&pr);
		} else if (i % 3 == 0) {
			/* deliver without answering KDFs: frames queue */
			peer_events(&pr.a);
			peer_events(&pr.b);
			deliver(&pr, &pr.a, &pr.b);
			deliver(&pr, &pr.b, &pr.a);
		}
		g_free(ta);
		g_free(tb);
	}
	settle(&pr);
	assert_got(&pr.a, "b", 45);
	assert_got(&pr.b, "a", 45);
	g_assert_cmpuint(pr.a.undecryptable, ==, 0);
	g_assert_cmpuint(pr.b.undecryptable, ==, 0);
	g_assert_cmpuint(pr.a.closed + pr.b.closed, ==, 0);
	/* first key + two own rekeys + two of the peer's */
	g_assert_cmpuint(parley_classic_key_generation(pr.a.c), ==, 5);
	g_assert_cmpuint(parley_classic_key_generation(pr.b.c), ==, 5);
	g_assert_cmpuint(parley_classic_sent_since_rekey(pr.a.c), ==, 5);
	g_assert_cmpuint(parley_classic_sent_since_rekey(pr.b.c), ==, 5);
	g_assert_cmpuint(parley_classic_queued(pr.a.c), ==, 0);
	g_assert_cmpuint(parley_classic_queued(pr.b.c), ==, 0);
	pair_clear(&pr);
}

static void
test_b2b_auto_rekey_45(void)
{
	run_45(FALSE);
}

static void
test_b2b_auto_rekey_45_bursts(void)
{
	run_45(TRUE);
}

/* The automatic rekey starts right after the 20th message is written;
 * the 21st waits for the new key and follows the rekey frame. */
static void
test_b2b_rekey_after_20th(void)
{
	Pair pr;
	GByteArray *wire = g_byte_array_new();
	uint8_t key[16];

	pair_start(&pr, "correct horse", "correct horse");
	pr.a.hold_kdf = TRUE;
	for (guint i = 0; i < 19; i++) {
		char *t = g_strdup_printf("a%u", i);

		send_text(&pr.a, t, pr.now);
		g_free(t);
	}
	peer_events(&pr.a);
	g_assert_cmpstr(pr.a.log->str, ==, "");
	g_assert_cmpuint(parley_classic_sent_since_rekey(pr.a.c), ==, 19);
	send_text(&pr.a, "a19", pr.now);
	peer_events(&pr.a);
	g_assert_cmpstr(pr.a.log->str, ==, "K ");
	g_assert_cmpuint(parley_classic_sent_since_rekey(pr.a.c), ==, 0);
	g_assert_cmpuint(parley_classic_queued(pr.a.c), ==, 0);
	output_take(pr.a.c, wire);          /* a0..a19, all written */
	parley_classic_feed(pr.b.c, wire->data, wire->len, pr.now);
	peer_events(&pr.b);
	assert_got(&pr.b, "a", 20);

	send_text(&pr.a, "a20", pr.now);
	g_assert_cmpuint(parley_classic_queued(pr.a.c), ==, 1);
	g_assert_cmpuint(parley_classic_output(pr.a.c)->len, ==, 0);
	pr.a.hold_kdf = FALSE;
	peer_answer(&pr.a, pr.now);
	g_assert_cmpuint(parley_classic_queued(pr.a.c), ==, 0);
	g_assert_cmpuint(parley_classic_sent_since_rekey(pr.a.c), ==, 1);
	/* rekey frame (4 + 25 bytes), then a20 under the new key */
	g_byte_array_set_size(wire, 0);
	output_take(pr.a.c, wire);
	g_assert_cmpuint(wire->len, ==, 29 + 4 + 28 + 3);
	g_assert_cmpuint(parley_get_be32(wire->data), ==, 25);
	g_assert_cmpmem(wire->data + 4, 9, "__REKEY__", 9);
	g_assert_cmpmem(wire->data + 13, 16, last_salt(&pr.a), 16);
	fake_kdf("correct horse", last_salt(&pr.a), key);
	g_assert_true(frame_opens_with(wire->data + 29, wire->len - 29, key));
	parley_classic_feed(pr.b.c, wire->data, wire->len, pr.now);
	settle(&pr);
	assert_got(&pr.b, "a", 21);
	g_assert_true(g_str_has_suffix(pr.b.log->str, "M:a19 K R2p M:a20 "));
	g_byte_array_unref(wire);
	pair_clear(&pr);
}

static void
test_b2b_manual_rekey(void)
{
	Pair pr;
	uint8_t key[16];

	pair_start(&pr, "correct horse", "correct horse");
	send_text(&pr.a, "a0", pr.now);
	send_text(&pr.b, "b0", pr.now);
	settle(&pr);
	g_assert_cmpint(parley_classic_rekey(pr.a.c, pr.now), ==, PARLEY_ERR_NONE);
	/* Asking again while it derives does not queue another one. */
	g_assert_cmpint(parley_classic_rekey(pr.a.c, pr.now), ==, PARLEY_ERR_NONE);
	settle(&pr);
	g_assert_cmpstr(pr.a.log->str, ==, "M:b0 K R2o ");
	g_assert_cmpstr(pr.b.log->str, ==, "M:a0 K R2p ");
	g_assert_cmpuint(parley_classic_sent_since_rekey(pr.a.c), ==, 0);
	g_assert_cmpuint(parley_classic_sent_since_rekey(pr.b.c), ==, 1);

	/* Both now send under the new key. */
	fake_kdf("correct horse", last_salt(&pr.a), key);
	send_text(&pr.a, "a1", pr.now);
	send_text(&pr.b, "b1", pr.now);
	g_assert_true(frame_opens_with(parley_classic_output(pr.a.c)->data,
	                               parley_classic_output(pr.a.c)->len, key));
	g_assert_true(frame_opens_with(parley_classic_output(pr.b.c)->data,
	                               parley_classic_output(pr.b.c)->len, key));
	settle(&pr);
	assert_got(&pr.a, "b", 2);
	assert_got(&pr.b, "a", 2);
	pair_clear(&pr);
}

/* A message in flight under the old key while the other side rekeys is
 * read through the key window; nothing is lost either way. */
static void
test_b2b_rekey_crossing_message(void)
{
	Pair pr;

	pair_start(&pr, "correct horse", "correct horse");
	send_text(&pr.a, "a0", pr.now);        /* in flight, old key */
	parley_classic_rekey(pr.b.c, pr.now);
	peer_events(&pr.b);
	peer_answer(&pr.b, pr.now);            /* B's rekey frame is out */
	send_text(&pr.b, "b0", pr.now);        /* new key */

	/* a0 reaches B after B switched keys. */
	deliver(&pr, &pr.a, &pr.b);
	peer_events(&pr.b);
	g_assert_cmpstr(pr.b.log->str, ==, "K R2o M:a0 ");

	/* A sees B's rekey; while the key derives, b0 waits and what A
	 * types waits too, then goes under the new key. */
	pr.a.hold_kdf = TRUE;
	deliver(&pr, &pr.b, &pr.a);
	send_text(&pr.a, "a1", pr.now);
	peer_events(&pr.a);
	g_assert_cmpstr(pr.a.log->str, ==, "K ");
	g_assert_cmpuint(parley_classic_queued(pr.a.c), ==, 1);
	g_assert_cmpuint(parley_classic_output(pr.a.c)->len, ==, 0);
	pr.a.hold_kdf = FALSE;
	settle(&pr);
	g_assert_cmpstr(pr.a.log->str, ==, "K R2p M:b0 ");
	assert_got(&pr.a, "b", 1);
	assert_got(&pr.b, "a", 2);
	g_assert_cmpuint(pr.a.undecryptable + pr.b.undecryptable, ==, 0);
	pair_clear(&pr);
}

/* Both rekey at once: each installs its own key, then the peer's; the
 * crossed-rekey rule makes each send under its own key again, both read
 * each other through the window, and the next rekey brings them onto one
 * key. */
static void
test_b2b_simultaneous_rekeys(void)
{
	Pair pr;
	uint8_t ka[16], kb[16], kc[16];
	GByteArray *o;

	pair_start(&pr, "correct horse", "correct horse");
	parley_classic_rekey(pr.a.c, pr.now);
	parley_classic_rekey(pr.b.c, pr.now);
	peer_events(&pr.a);
	peer_events(&pr.b);
	peer_answer(&pr.a, pr.now);
	peer_answer(&pr.b, pr.now);
	fake_kdf("correct horse", last_salt(&pr.a), ka);
	fake_kdf("correct horse", last_salt(&pr.b), kb);
	send_text(&pr.a, "a0", pr.now);
	send_text(&pr.b, "b0", pr.now);
	settle(&pr);
	assert_got(&pr.a, "b", 1);
	assert_got(&pr.b, "a", 1);
	g_assert_cmpuint(parley_classic_key_generation(pr.a.c), ==, 3);
	g_assert_cmpuint(parley_classic_key_generation(pr.b.c), ==, 3);

	for (guint i = 1; i < 12; i++) {
		char *ta = g_strdup_printf("a%u", i);
		char *tb = g_strdup_printf("b%u", i);

		send_text(&pr.a, ta, pr.now);
		send_text(&pr.b, tb, pr.now);
		settle(&pr);
		g_free(ta);
		g_free(tb);
	}
	assert_got(&pr.a, "b", 12);
	assert_got(&pr.b, "a", 12);

	/* Each sends under its own key now (§11 crossed rekeys). */
	send_text(&pr.a, "a12", pr.now);
	send_text(&pr.b, "b12", pr.now);
	o = parley_classic_output(pr.a.c);
	g_assert_true(frame_opens_with(o->data, o->len, ka));
	o = parley_classic_output(pr.b.c);
	g_assert_true(frame_opens_with(o->data, o->len, kb));
	settle(&pr);

	/* The next rekey, by either side, converges. */
	parley_classic_rekey(pr.b.c, pr.now);
	settle(&pr);
	fake_kdf("correct horse", last_salt(&pr.b), kc);
	send_text(&pr.a, "a13", pr.now);
	send_text(&pr.b, "b13", pr.now);
	o = parley_classic_output(pr.a.c);
	g_assert_true(frame_opens_with(o->data, o->len, kc));
	o = parley_classic_output(pr.b.c);
	g_assert_true(frame_opens_with(o->data, o->len, kc));
	settle(&pr);
	assert_got(&pr.a, "b", 14);
	assert_got(&pr.b, "a", 14);
	g_assert_cmpuint(pr.a.undecryptable + pr.b.undecryptable, ==, 0);
	pair_clear(&pr);
}

/* §11: nothing is sent until 2 s after the salt and the first key; a rekey
 * asked for earlier waits for the start too. */
static void
test_b2b_start_delay(void)
{
	Pair pr;

	pair_init(&pr, "correct horse", "correct horse");
	peer_events(&pr.a);
	peer_answer(&pr.a, 0);
	pr.now = 500;
	pr.b.hold_kdf = TRUE;
	deliver(&pr, &pr.a, &pr.b);            /* the salt, at 500 */
	peer_events(&pr.a);
	peer_events(&pr.b);
	g_assert_cmpstr(pr.a.log->str, ==, "K E ");
	g_assert_cmpstr(pr.b.log->str, ==, "K ");

	send_text(&pr.a, "a0", 600);
	g_assert_cmpint(parley_classic_rekey(pr.a.c, 600), ==, PARLEY_ERR_NONE);
	send_text(&pr.a, "a1", 600);
	send_text(&pr.b, "b0", 600);
	peer_events(&pr.a);
	g_assert_cmpstr(pr.a.log->str, ==, "K E ");   /* no NEED_KDF yet */
	g_assert_cmpint(parley_classic_tick(pr.a.c, 1999), ==, 2000);
	g_assert_cmpint(parley_classic_tick(pr.b.c, 1999), ==, 2500);
	g_assert_cmpuint(parley_classic_output(pr.a.c)->len, ==, 0);
	g_assert_cmpuint(parley_classic_output(pr.b.c)->len, ==, 0);
	g_assert_cmpuint(parley_classic_queued(pr.a.c), ==, 2);

	/* A starts at 2000: its rekey first, then both messages under the
	 * new key. */
	g_assert_cmpint(parley_classic_tick(pr.a.c, 2000), ==, -1);
	peer_events(&pr.a);
	g_assert_cmpstr(pr.a.log->str, ==, "K E K ");
	peer_answer(&pr.a, 2000);
	peer_events(&pr.a);
	g_assert_cmpuint(parley_classic_output(pr.a.c)->len, >, 0);

	/* B's key is late: at 2500 it still may not send. */
	g_assert_cmpint(parley_classic_tick(pr.b.c, 2499), ==, 2500);
	g_assert_cmpint(parley_classic_tick(pr.b.c, 2500), ==, -1);
	g_assert_cmpuint(parley_classic_output(pr.b.c)->len, ==, 0);
	pr.now = 3000;
	pr.b.hold_kdf = FALSE;
	peer_answer(&pr.b, 3000);              /* sends at once */
	g_assert_cmpuint(parley_classic_output(pr.b.c)->len, >, 0);
	settle(&pr);
	assert_got(&pr.a, "b", 1);
	assert_got(&pr.b, "a", 2);
	g_assert_cmpstr(pr.b.log->str, ==, "K E K R2p M:a0 M:a1 ");
	pair_clear(&pr);
}

/* Two rekeys in a row from A; B's KDFs finish in the opposite order.  B
 * installs the keys in wire order, decrypts the frames queued meanwhile in
 * order, and sends what its user typed meanwhile under the newest key. */
static void
test_b2b_frames_queued_while_deriving(void)
{
	Pair pr;
	uint8_t k3[16], key[16];
	GByteArray *o;
	guint id2, id3;

	pair_start(&pr, "correct horse", "correct horse");
	parley_classic_rekey(pr.a.c, pr.now);
	peer_events(&pr.a);
	peer_answer(&pr.a, pr.now);
	send_text(&pr.a, "a0", pr.now);
	parley_classic_rekey(pr.a.c, pr.now);
	peer_events(&pr.a);
	peer_answer(&pr.a, pr.now);
	send_text(&pr.a, "a1", pr.now);
	fake_kdf("correct horse", last_salt(&pr.a), k3);

	pr.b.hold_kdf = TRUE;
	deliver(&pr, &pr.a, &pr.b);
	send_text(&pr.b, "b0", pr.now);
	peer_events(&pr.b);
	g_assert_cmpstr(pr.b.log->str, ==, "K K ");
	g_assert_cmpuint(parley_classic_queued(pr.b.c), ==, 1);
	g_assert_cmpuint(parley_classic_output(pr.b.c)->len, ==, 0);
	id2 = g_array_index(pr.b.kdf_ids, guint, 0);
	id3 = g_array_index(pr.b.kdf_ids, guint, 1);

	/* The second key first: nothing may happen yet. */
	fake_kdf("correct horse", salt_at(&pr.b, 2), key);
	parley_classic_provide_kdf(pr.b.c, id3, key, 16, pr.now);
	peer_events(&pr.b);
	g_assert_cmpstr(pr.b.log->str, ==, "K K ");
	g_assert_cmpuint(parley_classic_output(pr.b.c)->len, ==, 0);
	fake_kdf("correct horse", salt_at(&pr.b, 1), key);
	parley_classic_provide_kdf(pr.b.c, id2, key, 16, pr.now);
	peer_events(&pr.b);
	g_assert_cmpstr(pr.b.log->str, ==, "K K R2p M:a0 R3p M:a1 ");
	g_assert_cmpuint(parley_classic_queued(pr.b.c), ==, 0);
	o = parley_classic_output(pr.b.c);
	g_assert_true(frame_opens_with(o->data, o->len, k3));
	g_array_set_size(pr.b.kdf_ids, 0);
	g_array_set_size(pr.b.kdf_salts, 0);
	pr.b.hold_kdf = FALSE;
	settle(&pr);
	assert_got(&pr.a, "b", 1);
	g_assert_cmpuint(pr.a.undecryptable + pr.b.undecryptable, ==, 0);
	pair_clear(&pr);
}

/* §2: a header of 0 or over MAX_FRAME closes at once. */
static void
test_b2b_oversize_frame(void)
{
	static const uint8_t headers[][4] = {
		{ 0x00, 0x02, 0x00, 0x01 },     /* MAX_FRAME + 1 */
		{ 0x00, 0x00, 0x00, 0x00 },
		{ 0xa3, 0xe5, 0x04, 0x74 },     /* a native peer's salt */
	};

	for (guint i = 0; i < G_N_ELEMENTS(headers); i++) {
		Pair pr;
		ParleyEvent ev;

		pair_start(&pr, "correct horse", "correct horse");
		/* Exactly MAX_FRAME is fine (just incomplete here). */
		if (i == 0) {
			static const uint8_t max[4] = { 0x00, 0x02, 0x00, 0x00 };
			ParleyClassic *c = pr.a.c;

			parley_classic_feed(c, max, 4, pr.now);
			expect_no_event(c);
		}
		parley_classic_feed(pr.b.c, headers[i], 2, pr.now);
		expect_no_event(pr.b.c);
		parley_classic_feed(pr.b.c, headers[i] + 2, 2, pr.now);
		expect_event(pr.b.c, PARLEY_EV_ERROR, &ev);
		g_assert_cmpint(ev.error, ==, PARLEY_ERR_FRAME_LENGTH);
		parley_event_clear(&ev);
		expect_event(pr.b.c, PARLEY_EV_CLOSED, &ev);
		g_assert_cmpint(ev.error, ==, PARLEY_ERR_FRAME_LENGTH);
		parley_event_clear(&ev);
		expect_no_event(pr.b.c);

		/* Closed for good. */
		g_assert_cmpint(parley_classic_send(pr.b.c, "x", 1, pr.now), ==, PARLEY_ERR_STATE);
		g_assert_cmpint(parley_classic_rekey(pr.b.c, pr.now), ==, PARLEY_ERR_STATE);
		g_assert_cmpint(parley_classic_tick(pr.b.c, pr.now), ==, -1);
		parley_classic_feed(pr.b.c, (const uint8_t *) "\0\0\0\1x", 5, pr.now);
		expect_no_event(pr.b.c);
		g_assert_cmpuint(parley_classic_output(pr.b.c)->len, ==, 0);
		pair_clear(&pr);
	}
}

/* Different passphrases: every frame is undecryptable, nothing closes. */
static void
test_b2b_wrong_passphrase(void)
{
	Pair pr;

	pair_init(&pr, "correct horse", "correct h0rse");
	settle(&pr);
	pr.now = PARLEY_CLASSIC_START_DELAY_MS;
	for (guint i = 0; i < 3; i++) {
		send_text(&pr.a, "hello", pr.now);
		send_text(&pr.b, "hi", pr.now);
	}
	settle(&pr);
	g_assert_cmpuint(pr.a.undecryptable, ==, 3);
	g_assert_cmpuint(pr.b.undecryptable, ==, 3);
	/* A rekey does not help, and does not close either. */
	parley_classic_rekey(pr.a.c, pr.now);
	settle(&pr);
	send_text(&pr.a, "hello", pr.now);
	settle(&pr);
	g_assert_cmpuint(pr.b.undecryptable, ==, 4);
	g_assert_cmpuint(pr.a.got->len + pr.b.got->len, ==, 0);
	g_assert_cmpuint(pr.a.closed + pr.b.closed, ==, 0);
	g_assert_cmpstr(pr.b.log->str, ==, "K E U U U K R2p U ");
	pair_clear(&pr);
}

/* Text: at most 65536 bytes, refused beyond, never truncated; empty text
 * and invalid UTF-8 (shown with U+FFFD) go through. */
static void
test_b2b_text(void)
{
	Pair pr;
	char *big = g_malloc(PARLEY_MAX_TEXT + 1);

	memset(big, 'x', PARLEY_MAX_TEXT + 1);
	pair_start(&pr, "correct horse", "correct horse");
	g_assert_cmpint(parley_classic_send(pr.a.c, big, PARLEY_MAX_TEXT + 1, pr.now), ==,
	                PARLEY_ERR_TEXT_TOO_LONG);
	g_assert_cmpuint(parley_classic_queued(pr.a.c), ==, 0);
	g_assert_cmpuint(parley_classic_output(pr.a.c)->len, ==, 0);
	g_assert_cmpint(parley_classic_send(pr.a.c, big, PARLEY_MAX_TEXT, pr.now), ==,
	                PARLEY_ERR_NONE);
	g_assert_cmpint(parley_classic_send(pr.a.c, "", 0, pr.now), ==, PARLEY_ERR_NONE);
	g_assert_cmpint(parley_classic_send(pr.a.c, "ok\xff\0z", 5, pr.now), ==,
	                PARLEY_ERR_NONE);
	settle(&pr);
	g_assert_cmpuint(pr.b.got->len, ==, 3);
	big[PARLEY_MAX_TEXT] = '\0';
	g_assert_cmpstr(g_ptr_array_index(pr.b.got, 0), ==, big);
	g_assert_cmpstr(g_ptr_array_index(pr.b.got, 1), ==, "");
	g_assert_cmpstr(g_ptr_array_index(pr.b.got, 2), ==, "ok\xef\xbf\xbd\xef\xbf\xbdz");
	g_free(big);
	pair_clear(&pr);
}

/* A peer cannot make us queue unbounded PBKDF2 work. */
static void
test_b2b_rekey_flood(void)
{
	Pair pr;
	uint8_t rekey[25];
	ParleyEvent ev;
	guint i;

	pair_start(&pr, "correct horse", "correct horse");
	memcpy(rekey, "__REKEY__", 9);
	for (i = 0; i < PARLEY_CLASSIC_KEY_WINDOW; i++) {
		GByteArray *f;

		memset(rekey + 9, (int) i, 16);
		f = make_frame(rekey, sizeof(rekey));
		parley_classic_feed(pr.b.c, f->data, f->len, pr.now);
		g_byte_array_unref(f);
		expect_need_kdf(pr.b.c, rekey + 9);
	}
	{
		GByteArray *f = make_frame(rekey, sizeof(rekey));

		parley_classic_feed(pr.b.c, f->data, f->len, pr.now);
		g_byte_array_unref(f);
	}
	expect_event(pr.b.c, PARLEY_EV_ERROR, &ev);
	g_assert_cmpint(ev.error, ==, PARLEY_ERR_PROTOCOL);
	parley_event_clear(&ev);
	expect_only(pr.b.c, PARLEY_EV_CLOSED);
	/* Answers that come back after the close are ignored. */
	{
		uint8_t key[16] = { 0 };

		parley_classic_provide_kdf(pr.b.c, 5, key, 16, pr.now);
		expect_no_event(pr.b.c);
	}
	pair_clear(&pr);
}

/* The peer rekeys, sends more and closes while the new key still derives:
 * what it sent is read once the key is ready, then the connection ends
 * (it was once dropped without a word). */
static void
test_eof_while_deriving(void)
{
	Pair pr;
	GByteArray *o;

	pair_start(&pr, "correct horse", "correct horse");
	for (guint i = 0; i < 3; i++) {
		char *t = g_strdup_printf("m%u", i);

		send_text(&pr.b, t, pr.now);
		g_free(t);
	}
	settle(&pr);
	pr.a.hold_kdf = TRUE;
	g_assert_cmpint(parley_classic_rekey(pr.b.c, pr.now), ==, PARLEY_ERR_NONE);
	settle(&pr);
	for (guint i = 3; i < 6; i++) {
		char *t = g_strdup_printf("m%u", i);

		send_text(&pr.b, t, pr.now);
		g_free(t);
	}
	settle(&pr);
	/* A holds three frames behind the peer's key, and the peer is gone */
	assert_got(&pr.a, "m", 3);
	parley_classic_eof(pr.a.c);
	peer_events(&pr.a);
	g_assert_cmpuint(pr.a.closed, ==, 0);
	g_assert_false(parley_classic_is_closed(pr.a.c));
	/* nothing more is read meanwhile */
	o = g_byte_array_new();
	parley_frame_write(o, (const uint8_t *) "junk", 4);
	parley_classic_feed(pr.a.c, o->data, o->len, pr.now);
	g_byte_array_unref(o);
	pr.a.hold_kdf = FALSE;
	peer_answer(&pr.a, pr.now);
	peer_events(&pr.a);
	assert_got(&pr.a, "m", 6);
	g_assert_cmpuint(pr.a.undecryptable, ==, 0);
	g_assert_cmpuint(pr.a.closed, ==, 1);
	g_assert_cmpint(pr.a.close_err, ==, PARLEY_ERR_CLOSED);
	pair_clear(&pr);
}

/* ---- probation: what proves the passphrase ----------------------------- */

/* A message under a key of our own salt proves its sender knows the
 * passphrase; under a key of the peer's salt it may be a replay.  The
 * listener chose the first salt; each side its own rekeys'. */
static void
test_proof_by_key_origin(void)
{
	Pair pr;

	pair_start(&pr, "correct horse", "correct horse");
	send_text(&pr.b, "m0", pr.now);
	send_text(&pr.a, "m0", pr.now);
	settle(&pr);
	g_assert_cmpuint(pr.a.proving, ==, 1);         /* under A's salt */
	g_assert_cmpuint(pr.b.proving, ==, 0);         /* under A's salt too */
	/* B's own rekey: A's next message comes under B's salt */
	g_assert_cmpint(parley_classic_rekey(pr.b.c, pr.now), ==, PARLEY_ERR_NONE);
	settle(&pr);
	send_text(&pr.a, "m1", pr.now);
	settle(&pr);
	g_assert_cmpuint(pr.b.proving, ==, 1);
	assert_got(&pr.b, "m", 2);
	pair_clear(&pr);
}

/* On probation the listener takes one guess: the right passphrase ends
 * probation with the first message. */
static void
test_probation_passed(void)
{
	Pair pr;

	pair_init(&pr, "correct horse", "correct horse");
	parley_classic_set_probation(pr.a.c);
	g_assert_true(parley_classic_on_probation(pr.a.c));
	settle(&pr);
	pr.now = PARLEY_CLASSIC_START_DELAY_MS;
	settle(&pr);
	send_text(&pr.b, "m0", pr.now);
	settle(&pr);
	g_assert_cmpuint(pr.a.proving, ==, 1);
	g_assert_false(parley_classic_on_probation(pr.a.c));
	/* afterwards, the peer's rekeys and unreadable frames are as ever */
	g_assert_cmpint(parley_classic_rekey(pr.b.c, pr.now), ==, PARLEY_ERR_NONE);
	settle(&pr);
	send_text(&pr.b, "m1", pr.now);
	settle(&pr);
	assert_got(&pr.a, "m", 2);
	g_assert_cmpuint(pr.a.closed, ==, 0);
	pair_clear(&pr);
}

/* A wrong guess ends the connection, and what follows it is not read. */
static void
test_probation_wrong_guess(void)
{
	Pair pr;

	pair_init(&pr, "correct horse", "wrong horse");
	parley_classic_set_probation(pr.a.c);
	settle(&pr);
	pr.now = PARLEY_CLASSIC_START_DELAY_MS;
	settle(&pr);
	send_text(&pr.b, "guess", pr.now);
	/* the next frames come in the same delivery as the wrong one */
	send_text(&pr.b, "more", pr.now);
	settle(&pr);
	g_assert_cmpuint(pr.a.closed, ==, 1);
	g_assert_cmpint(pr.a.close_err, ==, PARLEY_ERR_AUTH);
	g_assert_cmpuint(pr.a.undecryptable, ==, 0);
	g_assert_cmpuint(pr.a.got->len, ==, 0);
	g_assert_true(parley_classic_is_closed(pr.a.c));
	pair_clear(&pr);
}

/* A rekey from the peer before any proof: refused (its key could be one
 * for which the peer holds a recorded frame). */
static void
test_probation_peer_rekey(void)
{
	Pair pr;

	pair_init(&pr, "correct horse", "correct horse");
	parley_classic_set_probation(pr.a.c);
	settle(&pr);
	pr.now = PARLEY_CLASSIC_START_DELAY_MS;
	settle(&pr);
	g_assert_cmpint(parley_classic_rekey(pr.b.c, pr.now), ==, PARLEY_ERR_NONE);
	send_text(&pr.b, "under my own key", pr.now);
	settle(&pr);
	g_assert_cmpuint(pr.a.closed, ==, 1);
	g_assert_cmpint(pr.a.close_err, ==, PARLEY_ERR_PROTOCOL);
	g_assert_cmpuint(pr.a.got->len, ==, 0);
	pair_clear(&pr);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_assert_true(parley_crypto_init());

	g_test_add_data_func("/classic/vectors/ascii", "sessions/0", test_vectors_session);
	g_test_add_data_func("/classic/vectors/latin1", "sessions/1", test_vectors_session);
	g_test_add_func("/classic/vectors/undecryptable", test_vectors_undecryptable);
	g_test_add_func("/classic/vectors/flip-every-byte", test_vectors_flip_every_byte);
	g_test_add_func("/classic/vectors/nfc-then-latin1", test_vectors_nfc_then_latin1);
	g_test_add_func("/classic/vectors/non-latin1-refused", test_vectors_non_latin1_refused);
	g_test_add_func("/classic/passphrase/refused", test_passphrase_refused);
	g_test_add_func("/classic/b2b/auto-rekey-45", test_b2b_auto_rekey_45);
	g_test_add_func("/classic/b2b/auto-rekey-45-bursts", test_b2b_auto_rekey_45_bursts);
	g_test_add_func("/classic/b2b/rekey-after-20th", test_b2b_rekey_after_20th);
	g_test_add_func("/classic/b2b/manual-rekey", test_b2b_manual_rekey);
	g_test_add_func("/classic/b2b/rekey-crossing-message", test_b2b_rekey_crossing_message);
	g_test_add_func("/classic/b2b/simultaneous-rekeys", test_b2b_simultaneous_rekeys);
	g_test_add_func("/classic/b2b/start-delay", test_b2b_start_delay);
	g_test_add_func("/classic/b2b/frames-queued-while-deriving",
	                test_b2b_frames_queued_while_deriving);
	g_test_add_func("/classic/b2b/oversize-frame", test_b2b_oversize_frame);
	g_test_add_func("/classic/b2b/wrong-passphrase", test_b2b_wrong_passphrase);
	g_test_add_func("/classic/b2b/text", test_b2b_text);
	g_test_add_func("/classic/b2b/rekey-flood", test_b2b_rekey_flood);
	g_test_add_func("/classic/b2b/eof-while-deriving", test_eof_while_deriving);
	g_test_add_func("/classic/proof/by-key-origin", test_proof_by_key_origin);
	g_test_add_func("/classic/probation/passed", test_probation_passed);
	g_test_add_func("/classic/probation/wrong-guess", test_probation_wrong_guess);
	g_test_add_func("/classic/probation/peer-rekey", test_probation_peer_rekey);
	return g_test_run();
}
