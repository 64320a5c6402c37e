/*
 * fuzz-common.h - what the libFuzzer targets in tests/fuzz/ share: the
 * fixed inputs of handshake 0 of tests/data/parley-v1.json and the keys
 * of classic.json, deterministic randomness, the input cursor and the
 * "script" reader of the session targets, and the checks every target
 * applies to events and output.
 *
 * Header-only (static functions) so each target is one translation unit
 * built with the core sources; run.sh compiles them, nothing else does.
 * make-corpus.py checks the hex constants below against the vector files.
 *
 * Any invariant that does not hold calls abort(), which libFuzzer reports
 * as a crash with the input that caused it.
 */
#ifndef PARLEY_FUZZ_COMMON_H
#define PARLEY_FUZZ_COMMON_H

#include <gcrypt.h>
#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "constants.h"
#include "crypto.h"
#include "event.h"
#include "frame.h"

/* ---- invariants -------------------------------------------------------- */

#define FZ_CHECK(cond) G_STMT_START { \
	if (G_UNLIKELY(!(cond))) { \
		fprintf(stderr, "%s:%d: invariant failed: %s\n", \
		        __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} G_STMT_END

/* ---- the vectors (tests/data/parley-v1.json, handshake 0 "ascii") ------ */

#define FZ_HS0_SALT    "7672cc30c3d836530db7a34da472cfeb"
#define FZ_HS0_ITER    200000u
#define FZ_HS0_SID     "d3fb89eddfba1497fb07cf450b69bee6"
#define FZ_HS0_YA      "ac6d840a5696db6a8e06822cc6faf63dae49b6a3d5cfd4fa177279537d07e315"
#define FZ_HS0_YB      "09ac528357a2161be37574c55db1309606570353c0b6f2a1b7b9d9b4262d58b9"
#define FZ_HS0_NAME_I  "alice"
#define FZ_HS0_NAME_R  "bob"
#define FZ_HS0_PORT    5000
#define FZ_HS0_PRS     "d31343894e197f662ffaed937c41c01e340a9713c3632131146ff8a8f4fffedc"
#define FZ_HS0_KEY_IR  "5bbe001ad42d32e290475480bb2a8ce4b732f67203941202a337f6c84beb98ba"
#define FZ_HS0_IV_IR   "b6e7b3ff98ca61459f765a3f"
#define FZ_HS0_KEY_RI  "aaec478eae0f26aa36f2ef8c48290cac6ed19d91c8904e3eb8d867c7722345cd"
#define FZ_HS0_IV_RI   "9da325aacd2a3fe5f3248ac8"
#define FZ_HS0_CHAIN   "810aa0bca608c49a32f272be9d741686c7ca4c2dcb88c0eaf1ef98d6982109af"
#define FZ_HS0_CODE    "172 767"
#define FZ_HS0_HS1     "0000005250524c590101d3fb89eddfba1497fb07cf450b69bee67eb597b35a368216" \
                       "ee42a4655915906910e2b0246a92cad19486cbd93f1f23607672cc30c3d836530db7" \
                       "a34da472cfeb00030d40138805616c696365"
#define FZ_HS0_HS2     "0000006a50524c5901026b055b73143c8f19b62ce1ed37d89612a8f131b8cb1daa96" \
                       "849462a74d8c275903626f620d89973a41ae3af758670f8589a91b4187a39f41ad79" \
                       "ac65d0a5ca028a9d79e782cb76a6f2bb670db1eb0d44b4b05c7fe0f57d71b493498a" \
                       "5d752d7b40b1ec08"
#define FZ_HS0_HS3     "0000004650524c59010336847f1826bab93650737563e9392d77229ba6af39d8bd55" \
                       "b9eb9d2b0c475b71fe2ec78b83654fd995c5a02a8b08286ed512b718f4ceb9044a4d" \
                       "3d890612cf6b"
/* The conversation's ephemeral scalars, in the order each side draws them
 * when driven as the conversation seeds do (steps 11, 18, 21 for I;
 * 12, 17, 22, 23 for R). */
#define FZ_CONV_E_I    { "0cf782d7492fb4de94e39069b3244a1b1201bd3d7a4586e6bafa865ed4bc4a8f", \
                         "4d1a35703861513162ab9bd392dd3239059d5c749110aaaa1c3934651e766d9b", \
                         "8c180f67a648744a2af4bc90cfad57c8a933933405a27b1cd3afc0c2020f1834" }
#define FZ_CONV_E_R    { "db45ce1caf11dd6558457e3004fe4325417e8d6c26a72907f0cd0738072c096a", \
                         "f2d4c837136777b66c00567f226d037d1a796609106c9148f99b1023fa382475", \
                         "410617748336b16d1d51c018593ddf0e6b14884fad128d02d5f8c11a2c194094", \
                         "8b08a362a1d01b43619acd0fd43b098abedb395ff286a909b3c11dd2539ddcef" }

/* tests/data/classic.json: every salt of the two sessions and its key. */
#define FZ_CLASSIC_KEYS { \
	{ "a3e5047461fcbfa0ff658870b20c149f", "14670167bc29f173a5ab3d578505e7af" }, \
	{ "c6c835c23f80b7bbabf49ec173e7465b", "8471fcbd3b00e68fb5479d410dc842fc" }, \
	{ "b66bad3ad2853e981744fd06755babef", "5960c4fd7ee6a5aaf950e10679230b87" }, \
	{ "058ff8622783a58d8502f09a7571fd7d", "6739c396db873ebf6aa4c01b7457f4a4" } }

static void
fz_unhex(const char *hex, uint8_t *out, size_t len)
{
	FZ_CHECK(strlen(hex) == 2 * len);
	for (size_t i = 0; i < len; i++) {
		int hi = g_ascii_xdigit_value(hex[2 * i]);
		int lo = g_ascii_xdigit_value(hex[2 * i + 1]);

		FZ_CHECK(hi >= 0 && lo >= 0);
		out[i] = (uint8_t) (hi << 4 | lo);
	}
}

/* ---- set-up ------------------------------------------------------------ */

/* Once per process, from LLVMFuzzerInitialize.  libgcrypt is initialised
 * here first with secure memory disabled, so its "secure" allocations come
 * from malloc, where AddressSanitizer and LeakSanitizer see them (the
 * mlock'ed pool is invisible to both); parley_crypto_init() then finds the
 * library initialised and leaves that choice alone.  GLib criticals (a
 * g_return_if_fail in the core) are made fatal: they are findings too. */
static void
fz_init(void)
{
	if (!gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P)) {
		FZ_CHECK(gcry_check_version(GCRYPT_VERSION) != NULL);
		gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
		gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
	}
	FZ_CHECK(parley_crypto_init());
	g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
}

/* ---- deterministic randomness ----------------------------------------- */

/* A queue of exact values, each handed out only to a draw of its length
 * (so a 32-byte scalar is not eaten by an 8-byte PING nonce), then a
 * splitmix64 stream.  Reset for every input: runs are reproducible. */
#define FZ_RAND_MAX_FIXED 8

typedef struct {
	uint8_t fixed[FZ_RAND_MAX_FIXED][32];
	size_t fixed_len[FZ_RAND_MAX_FIXED];
	guint n_fixed, next_fixed;
	uint64_t state;
} FzRandom;

static void
fz_random_init(FzRandom *r, uint64_t seed)
{
	memset(r, 0, sizeof(*r));
	r->state = seed;
}

static void
fz_random_push_hex(FzRandom *r, const char *hex)
{
	FZ_CHECK(r->n_fixed < FZ_RAND_MAX_FIXED && strlen(hex) <= 64);
	r->fixed_len[r->n_fixed] = strlen(hex) / 2;
	fz_unhex(hex, r->fixed[r->n_fixed], r->fixed_len[r->n_fixed]);
	r->n_fixed++;
}

static uint64_t
fz_splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
fz_random(void *buf, size_t len, gpointer data)
{
	FzRandom *r = data;
	uint8_t *p = buf;

	if (r->next_fixed < r->n_fixed && r->fixed_len[r->next_fixed] == len) {
		memcpy(buf, r->fixed[r->next_fixed], len);
		r->next_fixed++;
		return;
	}
	for (size_t i = 0; i < len; i++) {
		if (i % 8 == 0) {
			uint64_t v = fz_splitmix(&r->state);

			memcpy(p + i, &v, MIN(8, len - i));
		}
	}
}

/* ---- reading the input ------------------------------------------------- */

typedef struct {
	const uint8_t *p;
	size_t n;
} FzIn;

static guint
fz_u8(FzIn *in)
{
	guint v;

	if (in->n == 0)
		return 0;
	v = in->p[0];
	in->p++;
	in->n--;
	return v;
}

static guint
fz_u16(FzIn *in)
{
	guint hi = fz_u8(in);

	return hi << 8 | fz_u8(in);
}

/* Up to want bytes (fewer at the end of the input). */
static const uint8_t *
fz_take(FzIn *in, size_t want, size_t *got)
{
	const uint8_t *p = in->p;

	*got = MIN(want, in->n);
	in->p += *got;
	in->n -= *got;
	return p;
}

/* Exactly len bytes into out, zero-padded at the end of the input. */
static void
fz_fill(FzIn *in, uint8_t *out, size_t len)
{
	size_t got;
	const uint8_t *p = fz_take(in, len, &got);

	memcpy(out, p, got);
	memset(out + got, 0, len - got);
}

/* A copy of a slice in its own allocation, so that AddressSanitizer
 * catches a read past the end of what one feed call was given. */
static uint8_t *
fz_dup(const uint8_t *p, size_t len)
{
	uint8_t *d = malloc(len > 0 ? len : 1);

	FZ_CHECK(d != NULL);
	if (len > 0)
		memcpy(d, p, len);
	return d;
}

/* ---- the script of the session targets --------------------------------- */

/* The session targets read their input as what arrives on the wire, so a
 * seed is a real byte stream (frames from the vectors).  A 4-byte group
 * starting with FZ_ACTION_MARK is not wire data but an action of the
 * local side ("A5 op hi lo": op and a 16-bit argument) - a length whose
 * top byte is 0xA5 would be refused as over MAX_FRAME anyway, and other
 * refused lengths (0, 0x00020001, 0xffffffff, ...) still reach the core.
 * Everything else is cut at frame boundaries: one feed per whole frame
 * (or per run of frames when coalescing), and the rest in one piece. */
#define FZ_ACTION_MARK 0xA5

typedef enum {
	FZ_STEP_END,
	FZ_STEP_ACTION,
	FZ_STEP_BYTES
} FzStepKind;

typedef struct {
	FzStepKind kind;
	guint op, arg;              /* ACTION */
	const uint8_t *p;           /* BYTES */
	size_t len;
} FzStep;

static size_t
fz_frame_extent(const uint8_t *p, size_t n)
{
	uint32_t len;

	if (n < PARLEY_FRAME_HEADER_LEN)
		return n;
	len = parley_get_be32(p);
	if (len == 0 || len > PARLEY_MAX_FRAME ||
	    (size_t) len > n - PARLEY_FRAME_HEADER_LEN)
		return n;   /* refused or cut short: the rest goes as it is */
	return PARLEY_FRAME_HEADER_LEN + len;
}

static void
fz_next_step(FzIn *in, gboolean coalesce, FzStep *st)
{
	memset(st, 0, sizeof(*st));
	if (in->n == 0) {
		st->kind = FZ_STEP_END;
		return;
	}
	if (in->n >= 4 && in->p[0] == FZ_ACTION_MARK) {
		st->kind = FZ_STEP_ACTION;
		st->op = in->p[1];
		st->arg = (guint) in->p[2] << 8 | in->p[3];
		in->p += 4;
		in->n -= 4;
		return;
	}
	st->kind = FZ_STEP_BYTES;
	st->p = in->p;
	do {
		size_t e = fz_frame_extent(in->p, in->n);

		st->len += e;
		in->p += e;
		in->n -= e;
	} while (coalesce && in->n > 0 && in->p[0] != FZ_ACTION_MARK);
}

/* ---- checks on what a core emits ---------------------------------------- */

/* Every event a core emits, whatever the input.  closed_seen: a CLOSED
 * event was already drained (nothing may follow it). */
static void
fz_check_event(const ParleyEvent *ev, gboolean *closed_seen)
{
	FZ_CHECK(!*closed_seen);
	switch (ev->type) {
	case PARLEY_EV_NEED_KDF:
		FZ_CHECK(ev->kdf_id != 0);
		FZ_CHECK(ev->kdf_len == PARLEY_PRS_LEN ||
		         ev->kdf_len == PARLEY_CLASSIC_KEY_LEN);
		FZ_CHECK(ev->kdf_iterations >= PARLEY_MIN_ITERATIONS &&
		         ev->kdf_iterations <= PARLEY_MAX_ITERATIONS);
		break;
	case PARLEY_EV_MESSAGE:
		FZ_CHECK(ev->text != NULL);
		/* fall through */
	case PARLEY_EV_ERROR:
		/* (classic mode's ERROR carries no reason: the glue copes) */
		if (ev->text != NULL) {
			FZ_CHECK(strlen(ev->text) == ev->text_len);
			FZ_CHECK(g_utf8_validate(ev->text, (gssize) ev->text_len, NULL));
		}
		break;
	case PARLEY_EV_ESTABLISHED:
	case PARLEY_EV_ACK:
	case PARLEY_EV_TYPING:
	case PARLEY_EV_REKEYED:
	case PARLEY_EV_UNDECRYPTABLE:
		break;
	case PARLEY_EV_CLOSED:
		*closed_seen = TRUE;
		break;
	default:
		FZ_CHECK(!"unknown event type");
	}
	if (ev->type == PARLEY_EV_TYPING)
		FZ_CHECK(ev->typing >= 0 && ev->typing <= 2);
	if (ev->peer_name != NULL)
		FZ_CHECK(g_utf8_validate(ev->peer_name, -1, NULL));
}

/* A core's output is whole frames of legal length, nothing else (the
 * classic listener's raw salt is taken off before this is called). */
static void
fz_check_frames(const uint8_t *p, size_t n)
{
	while (n > 0) {
		uint32_t len;

		FZ_CHECK(n >= PARLEY_FRAME_HEADER_LEN);
		len = parley_get_be32(p);
		FZ_CHECK(len >= 1 && len <= PARLEY_MAX_FRAME);
		FZ_CHECK((size_t) len <= n - PARLEY_FRAME_HEADER_LEN);
		p += PARLEY_FRAME_HEADER_LEN + len;
		n -= PARLEY_FRAME_HEADER_LEN + len;
	}
}

#endif
