/*
 * core.c - the protocol core measured in this process, each figure next to
 * its reference:
 *
 *   record layer   seal (record.c) + frame reassembly (frame.c) + open, for
 *                  16 KiB and 100-byte messages, against bare libgcrypt
 *                  AES-256-GCM (one handle per direction, keyed once) on
 *                  buffers of the same sizes;
 *   session path   the same messages through the whole session API: send,
 *                  feed, MESSAGE event, the ACK it seals and its opening on
 *                  the sender (what one delivered message costs the core);
 *   handshake      CPU per side of a whole handshake (version 2: four
 *                  frames, checked) through session.h,
 *                  cold (PRS by parley_pbkdf2_sha256 inline, as the worker
 *                  would) and warm (PRS from a prs_cache, as the glue does
 *                  on a reconnection), against one bare PBKDF2;
 *   rekey          CPU per side of one §8 rekey.
 *
 * CPU is the thread's (CLOCK_THREAD_CPUTIME_ID), so neighbours on a shared
 * machine slow the wall clock but not these figures; rates are bytes or
 * records per CPU-second.  Core and reference alternate in rounds and the
 * median round counts.
 */
#include "config.h"

#include <string.h>
#include <gcrypt.h>

#include "bench.h"
#include "constants.h"
#include "crypto.h"
#include "frame.h"
#include "prs_cache.h"
#include "record.h"
#include "session.h"

#define ROUNDS          7
#define BIG_LEN         16384
#define SMALL_LEN       BENCH_MSG_LEN
#define INNER_MSG       0x01

static const uint8_t bench_salt[PARLEY_SALT_LEN] = {
	0x70, 0x61, 0x72, 0x6c, 0x65, 0x79, 0x2d, 0x62,
	0x65, 0x6e, 0x63, 0x68, 0x2d, 0x73, 0x61, 0x6c
};

static gint64
now_ms(void)
{
	return g_get_monotonic_time() / 1000;
}

/* ---- record layer ----------------------------------------------------------- */

/* Records per CPU-second through record.c and frame.c. */
static double
record_rate(size_t len, guint n)
{
	uint8_t key[PARLEY_KEY_LEN], iv[PARLEY_IV_LEN];
	ParleyRecordDir tx = { 0 }, rx = { 0 };
	ParleyFrameReader reader;
	GByteArray *out = g_byte_array_sized_new((guint) len + 64);
	uint8_t *body = g_malloc(len);
	uint8_t *inner = g_malloc(len + 1);
	gint64 t;
	guint i;

	parley_random_bytes(key, sizeof(key));
	parley_random_bytes(iv, sizeof(iv));
	memset(body, 'x', len);
	BENCH_CHECK(parley_record_dir_set(&tx, key, iv, 0));
	BENCH_CHECK(parley_record_dir_set(&rx, key, iv, 0));
	parley_frame_reader_init(&reader);

	t = bench_thread_cpu_ns();
	for (i = 0; i < n; i++) {
		const uint8_t *payload;
		size_t plen, used;

		g_byte_array_set_size(out, 0);
		BENCH_CHECK(parley_record_seal(&tx, INNER_MSG, body, len, out));
		if (parley_frame_reader_feed(&reader, out->data, out->len, &used, &payload,
		                             &plen) != PARLEY_FRAME_READY ||
		    !parley_record_open(&rx, payload, plen, inner))
			g_error("record round trip failed");
	}
	t = bench_thread_cpu_ns() - t;

	parley_frame_reader_clear(&reader);
	parley_record_dir_clear(&tx);
	parley_record_dir_clear(&rx);
	g_byte_array_unref(out);
	g_free(body);
	g_free(inner);
	return (double) n * 1e9 / (double) MAX(t, 1);
}

/* The same with bare libgcrypt: seal type||body (len + 1 bytes) into a
 * wire buffer with the 5-byte header as AAD, open it into another. */
static double
bare_rate(size_t len, guint n)
{
	gcry_cipher_hd_t enc, dec;
	uint8_t key[32], nonce[12] = { 0 }, aad[5] = { 0x17 }, tag[16];
	size_t m = len + 1;
	uint8_t *pt = g_malloc(m), *ct = g_malloc(m), *back = g_malloc(m);
	gint64 t;
	guint i;

	parley_random_bytes(key, sizeof(key));
	memset(pt, 'x', m);
	if (gcry_cipher_open(&enc, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_GCM, 0) ||
	    gcry_cipher_open(&dec, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_GCM, 0) ||
	    gcry_cipher_setkey(enc, key, sizeof(key)) || gcry_cipher_setkey(dec, key, sizeof(key)))
		g_error("libgcrypt AES-256-GCM unavailable");

	t = bench_thread_cpu_ns();
	for (i = 0; i < n; i++) {
		nonce[11] = (uint8_t) i;
		nonce[10] = (uint8_t) (i >> 8);
		gcry_cipher_setiv(enc, nonce, sizeof(nonce));
		gcry_cipher_authenticate(enc, aad, sizeof(aad));
		gcry_cipher_encrypt(enc, ct, m, pt, m);
		gcry_cipher_gettag(enc, tag, sizeof(tag));
		gcry_cipher_setiv(dec, nonce, sizeof(nonce));
		gcry_cipher_authenticate(dec, aad, sizeof(aad));
		gcry_cipher_decrypt(dec, back, m, ct, m);
		if (gcry_cipher_checktag(dec, tag, sizeof(tag)))
			g_error("bare round trip failed");
	}
	t = bench_thread_cpu_ns() - t;

	gcry_cipher_close(enc);
	gcry_cipher_close(dec);
	g_free(pt);
	g_free(ct);
	g_free(back);
	return (double) n * 1e9 / (double) MAX(t, 1);
}

/* ---- sessions ----------------------------------------------------------------- */

typedef enum {
	PRS_COLD,                   /* PBKDF2 inline, then stored in the cache */
	PRS_WARM                    /* found in the cache */
} PrsMode;

typedef struct {
	ParleySession *s;
	ParleyPrsCache *cache;      /* this side's, as each account has one */
	gint64 cpu;                 /* ns spent in this side's calls */
	gboolean established;
	guint messages, acks, rekeys;
} Side;

/* The glue's part of NEED_KDF: the passphrase as §3 bytes, then the cache
 * or PBKDF2. */
static void
provide_prs(Side *x, const ParleyEvent *ev, PrsMode mode)
{
	ParleyError err;
	size_t len;
	uint8_t *pass = parley_passphrase_nfc(BENCH_PASSPHRASE, &len, &err);
	uint8_t prs[PARLEY_PRS_LEN];

	if (mode == PRS_WARM) {
		if (!parley_prs_cache_lookup(x->cache, pass, len, ev->kdf_salt,
		                             ev->kdf_iterations, prs))
			g_error("PRS cache miss in a warm handshake");
	} else {
		if (!parley_pbkdf2_sha256(pass, len, ev->kdf_salt, PARLEY_SALT_LEN,
		                          ev->kdf_iterations, prs, sizeof(prs)))
			g_error("PBKDF2 failed");
		parley_prs_cache_store(x->cache, pass, len, ev->kdf_salt, ev->kdf_iterations, prs);
	}
	parley_secure_free(pass, len);
	parley_session_provide_prs(x->s, ev->kdf_id, prs, now_ms());
	parley_wipe(prs, sizeof(prs));
}

/* Everything the session has to say, as the glue handles it. */
static void
drain(Side *x, PrsMode mode)
{
	ParleyEvent ev;

	while (parley_session_next_event(x->s, &ev)) {
		switch (ev.type) {
		case PARLEY_EV_NEED_KDF:
			provide_prs(x, &ev, mode);
			break;
		case PARLEY_EV_ESTABLISHED:
			x->established = TRUE;
			break;
		case PARLEY_EV_MESSAGE:
			x->messages++;
			break;
		case PARLEY_EV_ACK:
			x->acks++;
			break;
		case PARLEY_EV_REKEYED:
			x->rekeys++;
			break;
		case PARLEY_EV_ERROR:
		case PARLEY_EV_CLOSED:
			g_error("benchmark session failed: %s", parley_strerror(ev.error));
			break;
		default:
			break;
		}
		parley_event_clear(&ev);
	}
}

/* Hand what from wrote to to, counting to's CPU.  FALSE if nothing went. */
static gboolean
transfer(Side *from, Side *to, PrsMode mode)
{
	GByteArray *out = parley_session_output(from->s);
	gint64 t;

	if (out->len == 0)
		return FALSE;
	t = bench_thread_cpu_ns();
	parley_session_feed(to->s, out->data, out->len, now_ms());
	g_byte_array_set_size(out, 0);
	drain(to, mode);
	to->cpu += bench_thread_cpu_ns() - t;
	return TRUE;
}

/* PROTOCOL.md §4, version 2: HS1 I->R, HS2 R->I, HS3 I->R, HS4 R->I, each
 * its own flight (version 1 had three) */
#define HANDSHAKE_FLIGHTS 4

/* A whole handshake; i and r must have their caches. */
static void
handshake(Side *i, Side *r, PrsMode mode)
{
	ParleySessionConfig ci = { 0 }, cr = { 0 };
	guint flights = 0;
	gint64 t;

	ci.initiator = TRUE;
	ci.name = "alice";
	ci.listen_port = PARLEY_DEFAULT_PORT;
	ci.salt = bench_salt;
	ci.iterations = PARLEY_DEFAULT_ITERATIONS;
	cr.name = "bob";
	i->cpu = r->cpu = 0;
	i->established = r->established = FALSE;

	t = bench_thread_cpu_ns();
	i->s = parley_session_new(&ci, now_ms());
	drain(i, mode);                 /* NEED_KDF -> HS1 */
	i->cpu += bench_thread_cpu_ns() - t;
	t = bench_thread_cpu_ns();
	r->s = parley_session_new(&cr, now_ms());
	r->cpu += bench_thread_cpu_ns() - t;

	while (!(i->established && r->established)) {
		gboolean there = transfer(i, r, mode);
		gboolean back = transfer(r, i, mode);

		flights += there + back;
		if (!there && !back)
			g_error("handshake stalled");
	}
	/* what the figures are labelled as */
	if (flights != HANDSHAKE_FLIGHTS)
		g_error("the handshake took %u flights, not %u", flights, HANDSHAKE_FLIGHTS);
}

static void
side_end(Side *x)
{
	g_clear_pointer(&x->s, parley_session_free);
}

/* Messages of len bytes per CPU-second of both sides, each delivered and
 * acknowledged. */
static double
session_rate(Side *a, Side *b, size_t len, guint n)
{
	char *text = g_malloc(len);
	uint8_t id[PARLEY_MSG_ID_LEN] = { 0 };
	gint64 t;
	guint k;

	memset(text, 'x', len);
	a->cpu = b->cpu = 0;
	for (k = 0; k < n; k++) {
		id[0] = (uint8_t) k;
		t = bench_thread_cpu_ns();
		parley_session_send_message(a->s, id, text, len, now_ms());
		a->cpu += bench_thread_cpu_ns() - t;
		transfer(a, b, PRS_WARM);       /* MESSAGE, and the ACK sealed */
		transfer(b, a, PRS_WARM);       /* the ACK opened */
	}
	g_free(text);
	return (double) n * 1e9 / (double) MAX(a->cpu + b->cpu, 1);
}

/* ---- the figures ---------------------------------------------------------------- */

static void
run_record(BenchFigures *f, const char *tag, size_t len, guint n, Side *a, Side *b)
{
	double core[ROUNDS], bare[ROUNDS], sess[ROUNDS];
	double c, r, s;
	char name[64];
	int k;

	for (k = 0; k < ROUNDS; k++) {
		core[k] = record_rate(len, n);
		bare[k] = bare_rate(len, n);
		sess[k] = session_rate(a, b, len, n / 4);
	}
	c = bench_median(core, ROUNDS);
	r = bench_median(bare, ROUNDS);
	s = bench_median(sess, ROUNDS);
#define SET(fmt, v) (g_snprintf(name, sizeof(name), fmt, tag), bench_fig_set(f, name, v))
	SET("record_%s_records_s", c);
	SET("record_%s_mb_s", c * (double) len / 1e6);
	SET("bare_%s_records_s", r);
	SET("bare_%s_mb_s", r * (double) len / 1e6);
	SET("record_%s_ratio", c / r);
	SET("session_%s_msgs_s", s);
	SET("session_%s_mb_s", s * (double) len / 1e6);
	SET("session_%s_ratio", s / r);
#undef SET
}

/* The reference: one bare libgcrypt PBKDF2 on ordinary buffers. */
static double
pbkdf2_cpu_ms(void)
{
	uint8_t prs[PARLEY_PRS_LEN];
	gint64 t = bench_thread_cpu_ns();

	if (gcry_kdf_derive(BENCH_PASSPHRASE, strlen(BENCH_PASSPHRASE), GCRY_KDF_PBKDF2,
	                    GCRY_MD_SHA256, bench_salt, PARLEY_SALT_LEN,
	                    PARLEY_DEFAULT_ITERATIONS, sizeof(prs), prs))
		g_error("gcry_kdf_derive failed");
	return (double) (bench_thread_cpu_ns() - t) / 1e6;
}

static void
run_handshakes(BenchFigures *f, gboolean quick)
{
	guint cold_n = quick ? 3 : 7, warm_n = quick ? 50 : 300;
	double *ci = g_new(double, cold_n), *cr = g_new(double, cold_n);
	double *pb = g_new(double, cold_n), *ratio = g_new(double, cold_n);
	double *wi = g_new(double, warm_n), *wr = g_new(double, warm_n);
	Side i = { 0 }, r = { 0 };
	guint k;

	/* each cold handshake between two bare PBKDF2s: the ratio to their
	 * mean cancels the machine's drift (a shared machine's neighbours
	 * change how fast a CPU-second is) */
	for (k = 0; k < cold_n; k++) {
		double before = pbkdf2_cpu_ms();

		i.cache = parley_prs_cache_new();
		r.cache = parley_prs_cache_new();
		handshake(&i, &r, PRS_COLD);
		ci[k] = (double) i.cpu / 1e6;
		cr[k] = (double) r.cpu / 1e6;
		side_end(&i);
		side_end(&r);
		pb[k] = (before + pbkdf2_cpu_ms()) / 2;
		ratio[k] = MAX(ci[k], cr[k]) / pb[k];
		if (k + 1 < cold_n) {
			parley_prs_cache_free(i.cache);
			parley_prs_cache_free(r.cache);
		}
	}
	/* the caches of the last cold run are warm now */
	for (k = 0; k < warm_n; k++) {
		handshake(&i, &r, PRS_WARM);
		wi[k] = (double) i.cpu / 1e6;
		wr[k] = (double) r.cpu / 1e6;
		side_end(&i);
		side_end(&r);
	}
	parley_prs_cache_free(i.cache);
	parley_prs_cache_free(r.cache);

	bench_fig_set(f, "pbkdf2_cpu_ms", bench_median(pb, cold_n));
	bench_fig_set(f, "hs_cold_initiator_cpu_ms", bench_median(ci, cold_n));
	bench_fig_set(f, "hs_cold_responder_cpu_ms", bench_median(cr, cold_n));
	bench_fig_set(f, "hs_cold_ratio", bench_median(ratio, cold_n));
	bench_fig_set(f, "hs_warm_initiator_cpu_ms", bench_median(wi, warm_n));
	bench_fig_set(f, "hs_warm_responder_cpu_ms", bench_median(wr, warm_n));
	bench_fig_set(f, "hs_warm_initiator_p99_ms", bench_quantile(wi, warm_n, 0.99));
	bench_fig_set(f, "hs_warm_responder_p99_ms", bench_quantile(wr, warm_n, 0.99));
	g_free(ci);
	g_free(cr);
	g_free(pb);
	g_free(ratio);
	g_free(wi);
	g_free(wr);
}

static void
run_rekeys(BenchFigures *f, Side *a, Side *b, guint n)
{
	double *ra = g_new(double, n), *rb = g_new(double, n);
	guint k;

	for (k = 0; k < n; k++) {
		gint64 t;

		a->cpu = b->cpu = 0;
		t = bench_thread_cpu_ns();
		if (parley_session_rekey(a->s, now_ms()) != PARLEY_ERR_NONE)
			g_error("rekey refused");
		a->cpu += bench_thread_cpu_ns() - t;
		transfer(a, b, PRS_WARM);       /* REKEY -> REKEY_ACK, epoch n+1 */
		transfer(b, a, PRS_WARM);       /* REKEY_ACK -> epoch n+1 */
		ra[k] = (double) a->cpu / 1e6;
		rb[k] = (double) b->cpu / 1e6;
	}
	if (a->rekeys != n || b->rekeys != n)
		g_error("rekeys: %u and %u of %u", a->rekeys, b->rekeys, n);
	bench_fig_set(f, "rekey_asker_cpu_ms", bench_median(ra, n));
	bench_fig_set(f, "rekey_answerer_cpu_ms", bench_median(rb, n));
	bench_fig_set(f, "rekey_asker_p99_ms", bench_quantile(ra, n, 0.99));
	bench_fig_set(f, "rekey_answerer_p99_ms", bench_quantile(rb, n, 0.99));
	g_free(ra);
	g_free(rb);
}

/* What a handshake and a rekey are made of: one X25519 scalar
 * multiplication and one CPace generator (SHA-512 and the Elligator 2
 * map), in libgcrypt. */
static void
run_primitives(BenchFigures *f, guint n)
{
	uint8_t scalar[32], point[32], out[32], prs[PARLEY_PRS_LEN], sid[PARLEY_SID_LEN];
	double *x = g_new(double, n), *g = g_new(double, n);
	guint k;

	parley_random_bytes(scalar, sizeof(scalar));
	parley_random_bytes(prs, sizeof(prs));
	parley_random_bytes(sid, sizeof(sid));
	BENCH_CHECK(parley_x25519_base(point, scalar));
	for (k = 0; k < n; k++) {
		gint64 t = bench_thread_cpu_ns();

		BENCH_CHECK(parley_x25519(out, scalar, point));
		x[k] = (double) (bench_thread_cpu_ns() - t) / 1e6;
		t = bench_thread_cpu_ns();
		BENCH_CHECK(parley_cpace_generator(out, prs, sizeof(prs), sid));
		g[k] = (double) (bench_thread_cpu_ns() - t) / 1e6;
		sid[0]++;
	}
	bench_fig_set(f, "x25519_cpu_ms", bench_median(x, n));
	bench_fig_set(f, "cpace_generator_cpu_ms", bench_median(g, n));
	g_free(x);
	g_free(g);
}

void
bench_core_run(BenchFigures *f, gboolean quick)
{
	Side a = { 0 }, b = { 0 };

	if (!parley_crypto_init())
		g_error("libgcrypt too old");

	run_handshakes(f, quick);
	run_primitives(f, quick ? 100 : 500);

	/* one established pair for the record and rekey figures */
	a.cache = parley_prs_cache_new();
	b.cache = parley_prs_cache_new();
	handshake(&a, &b, PRS_COLD);
	run_record(f, "16k", BIG_LEN, quick ? 500 : 2000, &a, &b);
	run_record(f, "100b", SMALL_LEN, quick ? 20000 : 100000, &a, &b);
	run_rekeys(f, &a, &b, quick ? 100 : 500);
	side_end(&a);
	side_end(&b);
	parley_prs_cache_free(a.cache);
	parley_prs_cache_free(b.cache);
}
