/*
 * fuzz-common.h - what the libFuzzer targets in tests/fuzz/ share: the keys
 * of tests/data/classic.json, deterministic randomness, the input cursor
 * and the "script" reader of the session targets, and the checks every
 * target applies to events and output.  (The native handshake's vectors
 * and set-up are in fuzz-handshake.h.)
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

/* ---- the vectors of classic mode (the native ones: fuzz-handshake.h) -- */

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
 * (so a 32-byte scalar is not eaten by an 8-byte PING nonce), then
 * scalars (32-byte draws) from the fixed set below and everything else
 * from a splitmix64 stream.  Reset for every input: runs are
 * reproducible. */
#define FZ_RAND_MAX_FIXED 8

typedef struct {
	uint8_t fixed[FZ_RAND_MAX_FIXED][32];
	size_t fixed_len[FZ_RAND_MAX_FIXED];
	guint n_fixed, next_fixed;
	uint64_t state;
	guint next_scalar;
} FzRandom;

static uint64_t
fz_splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Scalar i % FZ_SCALARS of a fixed set: the ephemeral scalars the session
 * targets draw (after the vectors') and the fuzz_records mirror picks.
 * Any 32 bytes are a valid X25519 scalar, so which one is drawn changes
 * no path through the core; there are few so that fuzz-memo.c computes
 * each X25519 they take part in once per process, not once per input. */
#define FZ_SCALARS 16

static void
fz_scalar(guint i, uint8_t out[32])
{
	uint64_t s = 0x5343414c4152ULL + (i % FZ_SCALARS) * 0x1000;

	for (guint k = 0; k < 4; k++) {
		uint64_t v = fz_splitmix(&s);

		memcpy(out + 8 * k, &v, 8);
	}
}

/* Each stream starts at its own place in the scalar set (seed % 16), so
 * two streams do not draw the same scalars at the same time. */
static void
fz_random_init(FzRandom *r, uint64_t seed)
{
	memset(r, 0, sizeof(*r));
	r->state = seed;
	r->next_scalar = (guint) (seed % FZ_SCALARS);
}

static void
fz_random_push_hex(FzRandom *r, const char *hex)
{
	FZ_CHECK(r->n_fixed < FZ_RAND_MAX_FIXED && strlen(hex) <= 64);
	r->fixed_len[r->n_fixed] = strlen(hex) / 2;
	fz_unhex(hex, r->fixed[r->n_fixed], r->fixed_len[r->n_fixed]);
	r->n_fixed++;
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
	if (len == PARLEY_SCALAR_LEN) {
		fz_scalar(r->next_scalar++, buf);
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
