/*
 * elligator2-mpi.h - the Elligator 2 map as Parley computed it before it
 * became constant time: libgcrypt MPI arithmetic (gcry_mpi_invm,
 * gcry_mpi_powm) and branches on the values.  Kept out of the product,
 * for two programs only: tests/test-crypto.c checks the constant-time map
 * against it as an independent reference, and bench/ct-elligator2.c times
 * both to show what the old one leaked.
 *
 * Not constant time, by design.  Ownership: the caller's buffers.
 */
#ifndef PARLEY_ELLIGATOR2_MPI_H
#define PARLEY_ELLIGATOR2_MPI_H

#include <glib.h>
#include <stdint.h>

/* g = map_to_curve_elligator2(decodeUCoordinate(u, 255)).u (RFC 9380
 * §6.7.1, curve25519); *is_square (if not NULL) says whether gx1 was a
 * square (x = x1) or not (x = x2).  FALSE, g zeroed, if libgcrypt
 * failed. */
gboolean ref_elligator2_mpi(uint8_t g[32], const uint8_t u[32],
                            gboolean *is_square);

#endif
