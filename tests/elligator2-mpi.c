/*
 * elligator2-mpi.c - the MPI-based Elligator 2 map (see elligator2-mpi.h):
 * the code src/crypto.c ran before, step for step, in secure MPIs as it did.
 */
#include <string.h>
#include <gcrypt.h>

#include "elligator2-mpi.h"

#define CURVE25519_J 486662UL
#define ELLIGATOR2_Z 2UL

/* Little-endian bytes -> a secure MPI. */
static gcry_mpi_t
mpi_from_le(const uint8_t *b, size_t len)
{
	gcry_mpi_t x = gcry_mpi_snew(8 * len);
	size_t i;

	gcry_mpi_set_ui(x, 0);
	for (i = len; i-- > 0;) {
		gcry_mpi_mul_ui(x, x, 256);
		gcry_mpi_add_ui(x, x, b[i]);
	}
	return x;
}

/* 0 <= x < p -> 32 little-endian bytes. */
static gboolean
mpi_to_le32(uint8_t out[32], gcry_mpi_t x)
{
	uint8_t be[32];
	size_t n = 0, i;
	gboolean ok;

	memset(out, 0, 32);
	ok = gcry_mpi_print(GCRYMPI_FMT_USG, be, sizeof be, &n, x) == 0 && n <= 32;
	if (ok) {
		for (i = 0; i < n; i++)
			out[i] = be[n - 1 - i];
	}
	memset(be, 0, sizeof be);
	return ok;
}

gboolean
ref_elligator2_mpi(uint8_t g[32], const uint8_t u_bytes[32],
                   gboolean *is_square_out)
{
	uint8_t buf[32];
	gcry_mpi_t p, neg_j, e, u, t, inv, x1, x2, gx1, chi;
	int is_square;
	gboolean ok;

	/* Public constants: p = 2^255 - 19, -J mod p, (p - 1) / 2. */
	p = gcry_mpi_set_ui(NULL, 1);
	gcry_mpi_mul_2exp(p, p, 255);
	gcry_mpi_sub_ui(p, p, 19);
	neg_j = gcry_mpi_copy(p);
	gcry_mpi_sub_ui(neg_j, neg_j, CURVE25519_J);
	e = gcry_mpi_new(255);
	gcry_mpi_sub_ui(e, p, 1);
	gcry_mpi_rshift(e, e, 1);

	/* decodeUCoordinate(u, 255): clear bit 255, little-endian, mod p. */
	memcpy(buf, u_bytes, sizeof buf);
	buf[31] &= 0x7f;
	u = mpi_from_le(buf, sizeof buf);
	gcry_mpi_mod(u, u, p);

	t = gcry_mpi_snew(256);
	inv = gcry_mpi_snew(256);
	x1 = gcry_mpi_snew(256);
	x2 = gcry_mpi_snew(256);
	gx1 = gcry_mpi_snew(256);
	chi = gcry_mpi_snew(256);

	/* 1. x1 = -(J / K) * inv0(1 + Z * u^2)   (K = 1) */
	gcry_mpi_mulm(t, u, u, p);
	gcry_mpi_mul_ui(t, t, ELLIGATOR2_Z);
	gcry_mpi_add_ui(t, t, 1);
	gcry_mpi_mod(t, t, p);
	if (gcry_mpi_cmp_ui(t, 0) == 0 || !gcry_mpi_invm(inv, t, p))
		gcry_mpi_set_ui(inv, 0);
	gcry_mpi_mulm(x1, neg_j, inv, p);
	/* 2. If x1 == 0, set x1 = -(J / K) */
	if (gcry_mpi_cmp_ui(x1, 0) == 0)
		gcry_mpi_set(x1, neg_j);
	/* 3. gx1 = x1 * (x1 * (x1 + J) + 1) */
	gcry_mpi_add_ui(gx1, x1, CURVE25519_J);
	gcry_mpi_mulm(gx1, gx1, x1, p);
	gcry_mpi_add_ui(gx1, gx1, 1);
	gcry_mpi_mulm(gx1, gx1, x1, p);
	/* 4. x2 = -x1 - (J / K) */
	gcry_mpi_subm(x2, neg_j, x1, p);
	/* 6./7. x = is_square(gx1) ? x1 : x2 (Euler's criterion) */
	gcry_mpi_powm(chi, gx1, e, p);
	is_square = gcry_mpi_cmp_ui(chi, 0) == 0 || gcry_mpi_cmp_ui(chi, 1) == 0;

	ok = mpi_to_le32(g, is_square ? x1 : x2);
	if (is_square_out != NULL)
		*is_square_out = is_square != 0;

	gcry_mpi_release(chi);
	gcry_mpi_release(gx1);
	gcry_mpi_release(x2);
	gcry_mpi_release(x1);
	gcry_mpi_release(inv);
	gcry_mpi_release(t);
	gcry_mpi_release(u);
	gcry_mpi_release(e);
	gcry_mpi_release(neg_j);
	gcry_mpi_release(p);
	memset(buf, 0, sizeof buf);
	return ok;
}
