/*
 * field25519.c - arithmetic modulo 2^255 - 19 in constant time (see
 * field25519.h for the representation and what "carried" means).
 *
 * Bounds, for a reader checking that nothing overflows: a carried element
 * has v[i] < 2^w(i) (w = 26, 25, 26, ...) except v[1] < 2^25 + 2^14, so
 * its value is below 2^255 + 2^40 < 2p.  The premultiplied limbs (2, 4 or
 * 19 times a limb) stay below 2^31.  In a product every term is below
 * 19 * 2^52 < 2^56.3 and each of the ten sums has ten terms: < 2^59.7,
 * well inside 64 bits (a square adds the same terms, in pairs).
 *
 * Secrets: every ParleyFe that lives across calls is wiped with
 * parley_fe_clear().  The scratch of a single add, sub or mul (its limb
 * sums and products) is left in that call's dead stack frame, which the
 * next call overwrites - as libgcrypt leaves its own mpih scratch.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1       /* explicit_bzero() in glibc's <string.h> */
#endif

#include <string.h>

#include "field25519.h"

#define MASK26 0x3ffffffu
#define MASK25 0x1ffffffu

/* Width and mask of limb i: public, so indexing by i leaks nothing. */
#define WIDTH(i) (26u - ((unsigned) (i) & 1u))
#define MASK(i)  (((i) & 1) ? MASK25 : MASK26)

/* Where limb i starts: ceil(25.5 i). */
static const uint8_t limb_pos[10] = {
	0, 26, 51, 77, 102, 128, 153, 179, 204, 230
};

/* 2p, limb by limb: added before a subtraction so no limb goes negative
 * (a carried subtrahend is below it in every limb). */
static const uint32_t two_p[10] = {
	2 * (MASK26 - 18), 2 * MASK25, 2 * MASK26, 2 * MASK25, 2 * MASK26,
	2 * MASK25, 2 * MASK26, 2 * MASK25, 2 * MASK26, 2 * MASK25
};

/* Hide a mask from the optimiser, so that it cannot turn the arithmetic
 * select below back into a branch on the secret bit. */
static inline uint32_t
opaque(uint32_t x)
{
#if defined(__GNUC__) || defined(__clang__)
	__asm__("" : "+r"(x));
#endif
	return x;
}

/* Carry t (limbs of any size below 2^63) into h: each limb to its width,
 * the overflow of the top limb folded back in times 19 (2^255 = 19). */
static void
carry(ParleyFe *h, uint64_t t[10])
{
	uint64_t c;
	int i;

	for (i = 0; i < 9; i++) {
		c = t[i] >> WIDTH(i);
		t[i] &= MASK(i);
		t[i + 1] += c;
	}
	c = t[9] >> 25;
	t[9] &= MASK25;
	t[0] += 19 * c;
	c = t[0] >> 26;
	t[0] &= MASK26;
	t[1] += c;
	for (i = 0; i < 10; i++)
		h->v[i] = (uint32_t) t[i];
}

static uint32_t
load32_le(const uint8_t *p)
{
	return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
	       | (uint32_t) p[3] << 24;
}

void
parley_fe_from_bytes(ParleyFe *h, const uint8_t s[32])
{
	int i;

	/* Each limb lies within the four bytes from its first one (the
	 * last ends at bit 254 of s[28..31], leaving bit 255 out). */
	for (i = 0; i < 10; i++)
		h->v[i] = (load32_le(s + limb_pos[i] / 8) >> (limb_pos[i] % 8))
		          & MASK(i);
}

void
parley_fe_to_bytes(uint8_t s[32], const ParleyFe *h)
{
	ParleyFe t = *h;
	uint64_t acc = 0;
	uint32_t q, c;
	unsigned bits = 0;
	size_t o = 0;
	int i;

	/* The value is below 2p, so q = floor((value + 19) / 2^255) is 1
	 * exactly when value >= p; then value - p = value + 19 - 2^255. */
	q = (t.v[0] + 19) >> 26;
	for (i = 1; i < 10; i++)
		q = (t.v[i] + q) >> WIDTH(i);
	t.v[0] += 19 * q;
	for (i = 0; i < 9; i++) {
		c = t.v[i] >> WIDTH(i);
		t.v[i] &= MASK(i);
		t.v[i + 1] += c;
	}
	t.v[9] &= MASK25;           /* drops the 2^255 of "- p" */

	for (i = 0; i < 10; i++) {
		acc |= (uint64_t) t.v[i] << bits;
		bits += WIDTH(i);
		while (bits >= 8) {
			s[o++] = (uint8_t) acc;
			acc >>= 8;
			bits -= 8;
		}
	}
	s[o] = (uint8_t) acc;       /* o = 31: the last 7 bits */
	explicit_bzero(&t, sizeof t);
	explicit_bzero(&acc, sizeof acc);
}

void
parley_fe_set_small(ParleyFe *h, uint32_t x)
{
	memset(h, 0, sizeof *h);
	h->v[0] = x & MASK26;
	h->v[1] = x >> 26;
}

void
parley_fe_add(ParleyFe *h, const ParleyFe *f, const ParleyFe *g)
{
	uint64_t t[10];
	int i;

	for (i = 0; i < 10; i++)
		t[i] = (uint64_t) f->v[i] + g->v[i];
	carry(h, t);
}

void
parley_fe_sub(ParleyFe *h, const ParleyFe *f, const ParleyFe *g)
{
	uint64_t t[10];
	int i;

	for (i = 0; i < 10; i++)
		t[i] = (uint64_t) f->v[i] + two_p[i] - g->v[i];
	carry(h, t);
}

/* Schoolbook product: limb i times limb j lands at weight
 * ceil(25.5 i) + ceil(25.5 j), which is the weight of limb i + j, or
 * twice it when i and j are both odd (the _2 factors); past limb 9 it
 * wraps around times 19 (the _19 factors).  Written out term by term:
 * straight-line code, nothing but the fixed sequence of 32 x 32 -> 64-bit
 * multiplications and additions. */
void
parley_fe_mul(ParleyFe *h, const ParleyFe *f, const ParleyFe *g)
{
	const uint32_t f0 = f->v[0], f1 = f->v[1], f2 = f->v[2], f3 = f->v[3],
	               f4 = f->v[4], f5 = f->v[5], f6 = f->v[6], f7 = f->v[7],
	               f8 = f->v[8], f9 = f->v[9];
	const uint32_t g0 = g->v[0], g1 = g->v[1], g2 = g->v[2], g3 = g->v[3],
	               g4 = g->v[4], g5 = g->v[5], g6 = g->v[6], g7 = g->v[7],
	               g8 = g->v[8], g9 = g->v[9];
	const uint32_t f1_2 = 2 * f1, f3_2 = 2 * f3, f5_2 = 2 * f5, f7_2 = 2 * f7,
	               f9_2 = 2 * f9;
	const uint32_t g1_19 = 19 * g1, g2_19 = 19 * g2, g3_19 = 19 * g3,
	               g4_19 = 19 * g4, g5_19 = 19 * g5, g6_19 = 19 * g6,
	               g7_19 = 19 * g7, g8_19 = 19 * g8, g9_19 = 19 * g9;
	uint64_t t[10];

	t[0] = (uint64_t) f0 * g0 + (uint64_t) f1_2 * g9_19 +
	       (uint64_t) f2 * g8_19 + (uint64_t) f3_2 * g7_19 +
	       (uint64_t) f4 * g6_19 + (uint64_t) f5_2 * g5_19 +
	       (uint64_t) f6 * g4_19 + (uint64_t) f7_2 * g3_19 +
	       (uint64_t) f8 * g2_19 + (uint64_t) f9_2 * g1_19;
	t[1] = (uint64_t) f0 * g1 + (uint64_t) f1 * g0 + (uint64_t) f2 * g9_19 +
	       (uint64_t) f3 * g8_19 + (uint64_t) f4 * g7_19 +
	       (uint64_t) f5 * g6_19 + (uint64_t) f6 * g5_19 +
	       (uint64_t) f7 * g4_19 + (uint64_t) f8 * g3_19 +
	       (uint64_t) f9 * g2_19;
	t[2] = (uint64_t) f0 * g2 + (uint64_t) f1_2 * g1 + (uint64_t) f2 * g0 +
	       (uint64_t) f3_2 * g9_19 + (uint64_t) f4 * g8_19 +
	       (uint64_t) f5_2 * g7_19 + (uint64_t) f6 * g6_19 +
	       (uint64_t) f7_2 * g5_19 + (uint64_t) f8 * g4_19 +
	       (uint64_t) f9_2 * g3_19;
	t[3] = (uint64_t) f0 * g3 + (uint64_t) f1 * g2 + (uint64_t) f2 * g1 +
	       (uint64_t) f3 * g0 + (uint64_t) f4 * g9_19 + (uint64_t) f5 * g8_19 +
	       (uint64_t) f6 * g7_19 + (uint64_t) f7 * g6_19 +
	       (uint64_t) f8 * g5_19 + (uint64_t) f9 * g4_19;
	t[4] = (uint64_t) f0 * g4 + (uint64_t) f1_2 * g3 + (uint64_t) f2 * g2 +
	       (uint64_t) f3_2 * g1 + (uint64_t) f4 * g0 +
	       (uint64_t) f5_2 * g9_19 + (uint64_t) f6 * g8_19 +
	       (uint64_t) f7_2 * g7_19 + (uint64_t) f8 * g6_19 +
	       (uint64_t) f9_2 * g5_19;
	t[5] = (uint64_t) f0 * g5 + (uint64_t) f1 * g4 + (uint64_t) f2 * g3 +
	       (uint64_t) f3 * g2 + (uint64_t) f4 * g1 + (uint64_t) f5 * g0 +
	       (uint64_t) f6 * g9_19 + (uint64_t) f7 * g8_19 +
	       (uint64_t) f8 * g7_19 + (uint64_t) f9 * g6_19;
	t[6] = (uint64_t) f0 * g6 + (uint64_t) f1_2 * g5 + (uint64_t) f2 * g4 +
	       (uint64_t) f3_2 * g3 + (uint64_t) f4 * g2 + (uint64_t) f5_2 * g1 +
	       (uint64_t) f6 * g0 + (uint64_t) f7_2 * g9_19 +
	       (uint64_t) f8 * g8_19 + (uint64_t) f9_2 * g7_19;
	t[7] = (uint64_t) f0 * g7 + (uint64_t) f1 * g6 + (uint64_t) f2 * g5 +
	       (uint64_t) f3 * g4 + (uint64_t) f4 * g3 + (uint64_t) f5 * g2 +
	       (uint64_t) f6 * g1 + (uint64_t) f7 * g0 + (uint64_t) f8 * g9_19 +
	       (uint64_t) f9 * g8_19;
	t[8] = (uint64_t) f0 * g8 + (uint64_t) f1_2 * g7 + (uint64_t) f2 * g6 +
	       (uint64_t) f3_2 * g5 + (uint64_t) f4 * g4 + (uint64_t) f5_2 * g3 +
	       (uint64_t) f6 * g2 + (uint64_t) f7_2 * g1 + (uint64_t) f8 * g0 +
	       (uint64_t) f9_2 * g9_19;
	t[9] = (uint64_t) f0 * g9 + (uint64_t) f1 * g8 + (uint64_t) f2 * g7 +
	       (uint64_t) f3 * g6 + (uint64_t) f4 * g5 + (uint64_t) f5 * g4 +
	       (uint64_t) f6 * g3 + (uint64_t) f7 * g2 + (uint64_t) f8 * g1 +
	       (uint64_t) f9 * g0;
	carry(h, t);
}

/* The same sum as parley_fe_mul(f, f), each cross term i < j taken once
 * and doubled (55 products instead of 100). */
void
parley_fe_sq(ParleyFe *h, const ParleyFe *f)
{
	const uint32_t f0 = f->v[0], f1 = f->v[1], f2 = f->v[2], f3 = f->v[3],
	               f4 = f->v[4], f5 = f->v[5], f6 = f->v[6], f7 = f->v[7],
	               f8 = f->v[8], f9 = f->v[9];
	const uint32_t f0_2 = 2 * f0, f1_2 = 2 * f1, f1_4 = 4 * f1, f2_2 = 2 * f2,
	               f3_2 = 2 * f3, f3_4 = 4 * f3, f4_2 = 2 * f4, f5_2 = 2 * f5,
	               f5_4 = 4 * f5, f5_19 = 19 * f5, f6_2 = 2 * f6,
	               f6_19 = 19 * f6, f7_2 = 2 * f7, f7_4 = 4 * f7,
	               f7_19 = 19 * f7, f8_2 = 2 * f8, f8_19 = 19 * f8,
	               f9_2 = 2 * f9, f9_19 = 19 * f9;
	uint64_t t[10];

	t[0] = (uint64_t) f0 * f0 + (uint64_t) f1_4 * f9_19 +
	       (uint64_t) f2_2 * f8_19 + (uint64_t) f3_4 * f7_19 +
	       (uint64_t) f4_2 * f6_19 + (uint64_t) f5_2 * f5_19;
	t[1] = (uint64_t) f0_2 * f1 + (uint64_t) f2_2 * f9_19 +
	       (uint64_t) f3_2 * f8_19 + (uint64_t) f4_2 * f7_19 +
	       (uint64_t) f5_2 * f6_19;
	t[2] = (uint64_t) f0_2 * f2 + (uint64_t) f1_2 * f1 +
	       (uint64_t) f3_4 * f9_19 + (uint64_t) f4_2 * f8_19 +
	       (uint64_t) f5_4 * f7_19 + (uint64_t) f6 * f6_19;
	t[3] = (uint64_t) f0_2 * f3 + (uint64_t) f1_2 * f2 +
	       (uint64_t) f4_2 * f9_19 + (uint64_t) f5_2 * f8_19 +
	       (uint64_t) f6_2 * f7_19;
	t[4] = (uint64_t) f0_2 * f4 + (uint64_t) f1_4 * f3 + (uint64_t) f2 * f2 +
	       (uint64_t) f5_4 * f9_19 + (uint64_t) f6_2 * f8_19 +
	       (uint64_t) f7_2 * f7_19;
	t[5] = (uint64_t) f0_2 * f5 + (uint64_t) f1_2 * f4 + (uint64_t) f2_2 * f3 +
	       (uint64_t) f6_2 * f9_19 + (uint64_t) f7_2 * f8_19;
	t[6] = (uint64_t) f0_2 * f6 + (uint64_t) f1_4 * f5 + (uint64_t) f2_2 * f4 +
	       (uint64_t) f3_2 * f3 + (uint64_t) f7_4 * f9_19 +
	       (uint64_t) f8 * f8_19;
	t[7] = (uint64_t) f0_2 * f7 + (uint64_t) f1_2 * f6 + (uint64_t) f2_2 * f5 +
	       (uint64_t) f3_2 * f4 + (uint64_t) f8_2 * f9_19;
	t[8] = (uint64_t) f0_2 * f8 + (uint64_t) f1_4 * f7 + (uint64_t) f2_2 * f6 +
	       (uint64_t) f3_4 * f5 + (uint64_t) f4 * f4 + (uint64_t) f9_2 * f9_19;
	t[9] = (uint64_t) f0_2 * f9 + (uint64_t) f1_2 * f8 + (uint64_t) f2_2 * f7 +
	       (uint64_t) f3_2 * f6 + (uint64_t) f4_2 * f5;
	carry(h, t);
}

/* h = f^(2^n), n public. */
static void
sq_times(ParleyFe *h, const ParleyFe *f, int n)
{
	int i;

	parley_fe_sq(h, f);
	for (i = 1; i < n; i++)
		parley_fe_sq(h, h);
}

/* The part both fixed exponents share: out = z^(2^250 - 1), with z^2 and
 * z^11 from the way there.  254 squarings and 11 multiplications. */
static void
pow_2_250_1(ParleyFe *out, ParleyFe *z2, ParleyFe *z11, const ParleyFe *z)
{
	ParleyFe t, z9, e5, e10, e20, e50, e100;   /* e_n = z^(2^n - 1) */

	parley_fe_sq(z2, z);
	sq_times(&t, z2, 2);                    /* z^8 */
	parley_fe_mul(&z9, &t, z);
	parley_fe_mul(z11, &z9, z2);
	parley_fe_sq(&t, z11);                  /* z^22 */
	parley_fe_mul(&e5, &t, &z9);            /* z^31 */
	sq_times(&t, &e5, 5);
	parley_fe_mul(&e10, &t, &e5);
	sq_times(&t, &e10, 10);
	parley_fe_mul(&e20, &t, &e10);
	sq_times(&t, &e20, 20);
	parley_fe_mul(&t, &t, &e20);            /* 2^40 - 1 */
	sq_times(&t, &t, 10);
	parley_fe_mul(&e50, &t, &e10);
	sq_times(&t, &e50, 50);
	parley_fe_mul(&e100, &t, &e50);
	sq_times(&t, &e100, 100);
	parley_fe_mul(&t, &t, &e100);           /* 2^200 - 1 */
	sq_times(&t, &t, 50);
	parley_fe_mul(out, &t, &e50);

	parley_fe_clear(&t);
	parley_fe_clear(&z9);
	parley_fe_clear(&e5);
	parley_fe_clear(&e10);
	parley_fe_clear(&e20);
	parley_fe_clear(&e50);
	parley_fe_clear(&e100);
}

void
parley_fe_invert(ParleyFe *h, const ParleyFe *f)
{
	ParleyFe t, z2, z11;

	/* p - 2 = 2^255 - 21 = (2^250 - 1) * 2^5 + 11 */
	pow_2_250_1(&t, &z2, &z11, f);
	sq_times(&t, &t, 5);
	parley_fe_mul(h, &t, &z11);
	parley_fe_clear(&t);
	parley_fe_clear(&z2);
	parley_fe_clear(&z11);
}

void
parley_fe_legendre(ParleyFe *h, const ParleyFe *f)
{
	ParleyFe t, z2, z11, z6;

	/* (p - 1) / 2 = 2^254 - 10 = (2^250 - 1) * 2^4 + 6 */
	pow_2_250_1(&t, &z2, &z11, f);
	sq_times(&t, &t, 4);
	parley_fe_sq(&z6, &z2);                 /* z^4 */
	parley_fe_mul(&z6, &z6, &z2);
	parley_fe_mul(h, &t, &z6);
	parley_fe_clear(&t);
	parley_fe_clear(&z2);
	parley_fe_clear(&z11);
	parley_fe_clear(&z6);
}

uint32_t
parley_fe_is_zero(const ParleyFe *f)
{
	uint8_t s[32];
	uint32_t acc = 0;
	int i;

	parley_fe_to_bytes(s, f);
	for (i = 0; i < 32; i++)
		acc |= s[i];
	explicit_bzero(s, sizeof s);
	/* acc in 0..255: acc - 1 wraps to 2^32 - 1 only for 0 */
	return ((acc - 1) >> 8) & 1;
}

uint32_t
parley_fe_equal(const ParleyFe *f, const ParleyFe *g)
{
	ParleyFe d;
	uint32_t r;

	parley_fe_sub(&d, f, g);
	r = parley_fe_is_zero(&d);
	parley_fe_clear(&d);
	return r;
}

void
parley_fe_cmov(ParleyFe *h, const ParleyFe *f, uint32_t b)
{
	uint32_t mask = opaque(0u - b);
	int i;

	for (i = 0; i < 10; i++)
		h->v[i] ^= mask & (h->v[i] ^ f->v[i]);
}

void
parley_fe_clear(ParleyFe *f)
{
	explicit_bzero(f, sizeof *f);
}
