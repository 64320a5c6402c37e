/*
 * field25519.h - arithmetic modulo p = 2^255 - 19 in constant time, for
 * the Elligator 2 map of CPace (PROTOCOL.md §4, §10).
 *
 * Why it exists: the map runs on a value derived from the PRS with a sid
 * the caller chooses, so it must take the same time and touch the same
 * memory whatever its input (§10).  libgcrypt has constant-time arithmetic
 * for this field, but only inside its EC code (ec_mulm_25519,
 * mpih_set_cond): what it exports (gcry_mpi_mulm, gcry_mpi_invm,
 * gcry_mpi_powm) normalises, divides and inverts with branches and loop
 * counts that depend on the values.  docs/security.md has the details.
 *
 * Representation: ten unsigned limbs, alternately 26 and 25 bits wide
 * (radix 2^25.5), so that every product fits a 32 x 32 -> 64-bit multiply
 * and the code is the same portable C99 on 32- and 64-bit machines.  An
 * element is not kept reduced below p; every function here returns its
 * result "carried" (each limb at most a little over its width), which is
 * what every function here expects of its inputs.  Only
 * parley_fe_to_bytes() produces the canonical value.
 *
 * Constant time: no branch, loop count or memory index depends on a
 * field element; exponents are fixed (public) addition chains.  This
 * assumes, as every portable implementation of this field does, that the
 * CPU multiplies 32-bit numbers in constant time.
 *
 * Ownership: ParleyFe is a plain value; callers own it and wipe secret
 * ones with parley_fe_clear().  Outputs may alias inputs.  No libpurple,
 * no allocation, nothing fails.
 */
#ifndef PARLEY_FIELD25519_H
#define PARLEY_FIELD25519_H

#include <stdint.h>

typedef struct {
	uint32_t v[10];             /* value = sum v[i] * 2^ceil(25.5 i) */
} ParleyFe;

/* h = the 255-bit little-endian number in s (bit 255 ignored, as
 * decodeUCoordinate does); values from p to 2^255 - 1 are accepted and
 * mean the same as the value minus p. */
void parley_fe_from_bytes(ParleyFe *h, const uint8_t s[32]);
/* s = h reduced into [0, p), 32 little-endian bytes (bit 255 clear). */
void parley_fe_to_bytes(uint8_t s[32], const ParleyFe *h);
/* h = x, for a public constant x < 2^25. */
void parley_fe_set_small(ParleyFe *h, uint32_t x);

void parley_fe_add(ParleyFe *h, const ParleyFe *f, const ParleyFe *g);
void parley_fe_sub(ParleyFe *h, const ParleyFe *f, const ParleyFe *g);
void parley_fe_mul(ParleyFe *h, const ParleyFe *f, const ParleyFe *g);
void parley_fe_sq(ParleyFe *h, const ParleyFe *f);

/* h = f^(p - 2): 1/f, and 0 for f = 0 (RFC 9380's inv0). */
void parley_fe_invert(ParleyFe *h, const ParleyFe *f);
/* h = f^((p - 1) / 2), Euler's criterion: 0 if f = 0, 1 if f is a
 * non-zero square, p - 1 otherwise. */
void parley_fe_legendre(ParleyFe *h, const ParleyFe *f);

/* 1 if f = 0 mod p (any representation), else 0. */
uint32_t parley_fe_is_zero(const ParleyFe *f);
/* 1 if f = g mod p, else 0. */
uint32_t parley_fe_equal(const ParleyFe *f, const ParleyFe *g);
/* h = f if b = 1, h unchanged if b = 0 (b must be 0 or 1), by masks. */
void parley_fe_cmov(ParleyFe *h, const ParleyFe *f, uint32_t b);

/* Wipe f in a way the compiler cannot drop. */
void parley_fe_clear(ParleyFe *f);

#endif
