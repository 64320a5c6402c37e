/*
 * fuzz-memo.c - memoised X25519, CPace generator and key schedule for the
 * fuzz targets (what and why: fuzz-memo.h).
 *
 * Cost on the machine the budget was set on: one X25519 (libgcrypt's
 * gcry_ecc_mul_point) takes about 115 us and one CPace generator (SHA-512
 * and the Elligator 2 map in MPI arithmetic) about 55 us, against about
 * 200 us per input for 5,000 executions per second.  A handshake costs two
 * X25519 and a generator per side, a rekey two X25519 per side.  The key
 * schedule (record.c: an epoch's five values, HKDF over libgcrypt's HMAC,
 * a few allocations each under AddressSanitizer) is cheaper, but every
 * input derives epoch 0 and most derive several epochs more.
 *
 * The table is 4-way set-associative (a set per hash of the arguments; a
 * new result replaces the least recently used one of its set that is not
 * pinned), so its size is fixed whatever the fuzzer tries.  Nothing here is
 * secret: the scalars and keys are the vectors' or the input's.
 */
#include "fuzz-memo.h"

#include <stdint.h>
#include <string.h>

#include "crypto.h"
#include "record.h"

/* What run.sh's -Wl,--wrap makes of the real functions. */
gboolean __real_parley_x25519(uint8_t out[32], const uint8_t scalar[32],
                              const uint8_t point[32]);
gboolean __real_parley_x25519_base(uint8_t out[32], const uint8_t scalar[32]);
__typeof__(parley_cpace_generator) __real_parley_cpace_generator;
gboolean __wrap_parley_x25519(uint8_t out[32], const uint8_t scalar[32],
                              const uint8_t point[32]);
gboolean __wrap_parley_x25519_base(uint8_t out[32], const uint8_t scalar[32]);
gboolean __wrap_parley_cpace_generator(uint8_t g[32], const void *prs,
                                       size_t prs_len, const uint8_t sid[16]);
__typeof__(parley_epoch_keys_expand) __real_parley_epoch_keys_expand;
__typeof__(parley_epoch_keys_ratchet) __real_parley_epoch_keys_ratchet;
gboolean __wrap_parley_epoch_keys_expand(const uint8_t prk[32], ParleyEpochKeys *keys);
gboolean __wrap_parley_epoch_keys_ratchet(const uint8_t chain[PARLEY_CHAIN_LEN],
                                          const uint8_t dh[32], ParleyEpochKeys *next);

/* Some of these returned void until they could fail, and return gboolean
 * since: call the real one either way and give its result, TRUE for a
 * void one (whose callers ignore what the wrapper returns). */
#define CALL_REAL(fn, ...) \
	__builtin_choose_expr( \
		__builtin_types_compatible_p(__typeof__(fn(__VA_ARGS__)), void), \
		(fn(__VA_ARGS__), TRUE), fn(__VA_ARGS__))

/* The memo's own branches are not the core's behaviour: a miss must not
 * look like new coverage to libFuzzer (it would keep inputs that only made
 * it compute a new point), so nothing here is instrumented for it. */
#define NO_COVERAGE __attribute__((no_sanitize("coverage")))

#define SETS      4096                  /* a power of two */
#define WAYS      4
#define KEY_MAX   96                    /* kind, length, then the arguments */
#define PRS_MAX   (KEY_MAX - 2 - 16)
#define OUT_MAX   sizeof(ParleyEpochKeys)

enum { KIND_X25519 = 1, KIND_GENERATOR, KIND_EXPAND, KIND_RATCHET };

typedef struct {
	uint8_t key[KEY_MAX];
	size_t key_len;                     /* 0: empty */
	uint8_t out[OUT_MAX];               /* as long as the kind's result */
	gboolean ok;
	gboolean pinned;
	guint computed;                     /* times the real function ran */
	guint64 used;                       /* when it was last asked for */
} Slot;

static Slot table[SETS][WAYS];
static gboolean pinning;
static guint64 ticks;                   /* lookups so far: the LRU clock */

NO_COVERAGE void
fz_memo_pin(gboolean on)
{
	pinning = on;
}

/* The set a key belongs in, by FNV-1a: the arguments are the fuzzer's or
 * the vectors', not an adversary's; an even spread is all that is needed. */
NO_COVERAGE static Slot *
set_for(const uint8_t *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ key[i]) * 0x100000001b3ULL;
	return table[(h ^ (h >> 32)) & (SETS - 1)];
}

/* The key's slot in its set, or NULL. */
NO_COVERAGE static Slot *
find(Slot *set, const uint8_t *key, size_t len)
{
	for (guint w = 0; w < WAYS; w++)
		if (set[w].key_len == len && memcmp(set[w].key, key, len) == 0)
			return &set[w];
	return NULL;
}

/* A result is handed out once it has been computed twice.  libFuzzer
 * runs an empty input before the corpus without collecting its coverage;
 * for the session targets that input is a whole set-up, and if its
 * results were handed out from then on, no input would ever be seen to
 * reach the arithmetic's code.  The second time, an input is. */
NO_COVERAGE static gboolean
lookup(const uint8_t *key, size_t len, void *out, size_t out_len, gboolean *ok)
{
	Slot *s = find(set_for(key, len), key, len);

	if (s == NULL)
		return FALSE;
	s->used = ++ticks;
	if (s->computed < 2)
		return FALSE;
	memcpy(out, s->out, out_len);
	*ok = s->ok;
	return TRUE;
}

/* Keep a result: in its own slot, or in place of the least recently used
 * one of its set that is not pinned. */
NO_COVERAGE static void
remember(const uint8_t *key, size_t len, const void *out, size_t out_len, gboolean ok)
{
	Slot *set = set_for(key, len);
	Slot *s = find(set, key, len);

	if (s != NULL) {
		s->computed++;
		s->pinned |= pinning;
		return;
	}
	for (guint w = 0; w < WAYS; w++)
		if ((pinning || !set[w].pinned) && (s == NULL || set[w].used < s->used))
			s = &set[w];
	if (s == NULL)
		return;                         /* a set of pinned results */
	memcpy(s->key, key, len);
	s->key_len = len;
	memcpy(s->out, out, out_len);
	s->ok = ok;
	s->pinned = pinning;
	s->computed = 1;
	s->used = ++ticks;
}

/* X25519 and X25519 with u = 9 share their entries (crypto.c defines
 * the second as the first); each calls its own real function. */
NO_COVERAGE static gboolean
x25519(uint8_t out[32], const uint8_t scalar[32], const uint8_t point[32],
       gboolean base)
{
	uint8_t key[2 + 64];
	gboolean ok;

	key[0] = KIND_X25519;
	key[1] = 64;
	memcpy(key + 2, scalar, 32);
	memcpy(key + 2 + 32, point, 32);
	if (lookup(key, sizeof(key), out, 32, &ok))
		return ok;
	/* on failure the real one leaves out wiped: so does the memo */
	ok = base ? __real_parley_x25519_base(out, scalar)
	          : __real_parley_x25519(out, scalar, point);
	remember(key, sizeof(key), out, 32, ok);
	return ok;
}

NO_COVERAGE gboolean
__wrap_parley_x25519(uint8_t out[32], const uint8_t scalar[32],
                     const uint8_t point[32])
{
	/* a caller's bug is the real function's to report */
	if (out == NULL || scalar == NULL || point == NULL)
		return __real_parley_x25519(out, scalar, point);
	return x25519(out, scalar, point, FALSE);
}

NO_COVERAGE gboolean
__wrap_parley_x25519_base(uint8_t out[32], const uint8_t scalar[32])
{
	static const uint8_t nine[32] = { 9 };

	if (out == NULL || scalar == NULL)
		return __real_parley_x25519_base(out, scalar);
	return x25519(out, scalar, nine, TRUE);
}

NO_COVERAGE gboolean
__wrap_parley_cpace_generator(uint8_t g[32], const void *prs, size_t prs_len,
                              const uint8_t sid[16])
{
	uint8_t key[KEY_MAX];
	size_t len = 2 + 16 + prs_len;
	gboolean ok;

	if (g == NULL || sid == NULL || (prs == NULL && prs_len > 0) ||
	    prs_len > PRS_MAX)
		return CALL_REAL(__real_parley_cpace_generator, g, prs, prs_len, sid);
	key[0] = KIND_GENERATOR;
	key[1] = (uint8_t) prs_len;
	memcpy(key + 2, sid, 16);
	if (prs_len > 0)
		memcpy(key + 2 + 16, prs, prs_len);
	if (lookup(key, len, g, 32, &ok))
		return ok;
	ok = CALL_REAL(__real_parley_cpace_generator, g, prs, prs_len, sid);
	remember(key, len, g, 32, ok);
	return ok;
}

/* §5: an epoch's keys from a PRK. */
NO_COVERAGE gboolean
__wrap_parley_epoch_keys_expand(const uint8_t prk[32], ParleyEpochKeys *keys)
{
	uint8_t key[2 + 32];
	gboolean ok;

	if (prk == NULL || keys == NULL)
		return CALL_REAL(__real_parley_epoch_keys_expand, prk, keys);
	key[0] = KIND_EXPAND;
	key[1] = 32;
	memcpy(key + 2, prk, 32);
	if (lookup(key, sizeof(key), keys, sizeof(*keys), &ok))
		return ok;
	ok = CALL_REAL(__real_parley_epoch_keys_expand, prk, keys);
	remember(key, sizeof(key), keys, sizeof(*keys), ok);
	return ok;
}

/* §8: the next epoch's keys from the chain key and the exchange. */
NO_COVERAGE gboolean
__wrap_parley_epoch_keys_ratchet(const uint8_t chain[PARLEY_CHAIN_LEN],
                                 const uint8_t dh[32], ParleyEpochKeys *next)
{
	uint8_t key[2 + PARLEY_CHAIN_LEN + 32];
	gboolean ok;

	if (chain == NULL || dh == NULL || next == NULL)
		return CALL_REAL(__real_parley_epoch_keys_ratchet, chain, dh, next);
	key[0] = KIND_RATCHET;
	key[1] = PARLEY_CHAIN_LEN + 32;
	memcpy(key + 2, chain, PARLEY_CHAIN_LEN);
	memcpy(key + 2 + PARLEY_CHAIN_LEN, dh, 32);
	if (lookup(key, sizeof(key), next, sizeof(*next), &ok))
		return ok;
	ok = CALL_REAL(__real_parley_epoch_keys_ratchet, chain, dh, next);
	remember(key, sizeof(key), next, sizeof(*next), ok);
	return ok;
}
