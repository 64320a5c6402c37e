/*
 * crypto.h - thin wrappers over libgcrypt for everything Parley computes.
 *
 * Conventions: sizes are in the prototypes; the caller owns every buffer;
 * functions that can fail return gboolean (TRUE on success), are marked
 * G_GNUC_WARN_UNUSED_RESULT, and leave their outputs wiped (all zero) on
 * failure - a caller that ignored the result would hold no key at all, but
 * every caller must check it and fail closed.  libgcrypt fails only on
 * OOM in its pools, a disabled algorithm or a caller's bad argument; none
 * of that may turn into an all-zero key that is then used.
 * Nothing here logs.
 */
#ifndef PARLEY_CRYPTO_H
#define PARLEY_CRYPTO_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

/* Initialise libgcrypt once.  Safe to call many times and from a host that
 * has already initialised it (then its settings are left alone).  Returns
 * FALSE if libgcrypt is older than the version we were built against. */
gboolean parley_crypto_init(void);

/* Wipe memory in a way the compiler cannot drop. */
void parley_wipe(void *p, size_t len);

/* Secure-memory allocation (libgcrypt's pool; falls back to normal memory
 * if the pool is exhausted).  parley_secure_free wipes before freeing and
 * accepts NULL. */
void *parley_secure_alloc(size_t len);
void parley_secure_free(void *p, size_t len);

/* Constant-time comparison: TRUE when the buffers are equal. */
gboolean parley_ct_equal(const void *a, const void *b, size_t len);

/* Cryptographically strong random bytes (GCRY_STRONG_RANDOM). */
void parley_random_bytes(void *buf, size_t len);

/* PBKDF2-HMAC-SHA256. */
gboolean parley_pbkdf2_sha256(const void *pass, size_t pass_len,
                              const void *salt, size_t salt_len,
                              unsigned long iterations,
                              void *out, size_t out_len) G_GNUC_WARN_UNUSED_RESULT;

/* HMAC-SHA256 / HMAC-SHA512 over one buffer.  out is 32 / 64 bytes. */
gboolean parley_hmac_sha256(const void *key, size_t key_len,
                            const void *data, size_t data_len,
                            uint8_t out[32]) G_GNUC_WARN_UNUSED_RESULT;
gboolean parley_hmac_sha512(const void *key, size_t key_len,
                            const void *data, size_t data_len,
                            uint8_t out[64]) G_GNUC_WARN_UNUSED_RESULT;

/* SHA-512 over one buffer. */
gboolean parley_sha512(const void *data, size_t len,
                       uint8_t out[64]) G_GNUC_WARN_UNUSED_RESULT;

/* HKDF-SHA256 (RFC 5869).  Expand produces up to 255*32 bytes and refuses
 * more (FALSE, out wiped). */
gboolean parley_hkdf_extract(const void *salt, size_t salt_len,
                             const void *ikm, size_t ikm_len,
                             uint8_t prk[32]) G_GNUC_WARN_UNUSED_RESULT;
gboolean parley_hkdf_expand(const uint8_t prk[32],
                            const void *info, size_t info_len,
                            void *out, size_t out_len) G_GNUC_WARN_UNUSED_RESULT;

/* AES-GCM with a 12-byte nonce and a 16-byte tag, for 16- or 32-byte keys.
 * seal writes len bytes of ciphertext to ct and the tag to tag.
 * open writes len bytes of plaintext to pt only if the tag verifies
 * (checked in constant time); on failure pt is wiped and FALSE returned.
 * pt and ct may be the same buffer. */
gboolean parley_aes_gcm_seal(const void *key, size_t key_len,
                             const uint8_t nonce[12],
                             const void *aad, size_t aad_len,
                             const void *pt, size_t len,
                             void *ct, uint8_t tag[16]) G_GNUC_WARN_UNUSED_RESULT;
gboolean parley_aes_gcm_open(const void *key, size_t key_len,
                             const uint8_t nonce[12],
                             const void *aad, size_t aad_len,
                             const void *ct, size_t len,
                             const uint8_t tag[16], void *pt) G_GNUC_WARN_UNUSED_RESULT;

/* A reusable AES-GCM context, keyed once (one per direction and epoch).
 * parley_aead_new returns NULL for a key that is not 16 or 32 bytes or when
 * libgcrypt cannot key a context. */
typedef struct ParleyAead ParleyAead;
ParleyAead *parley_aead_new(const void *key, size_t key_len) G_GNUC_WARN_UNUSED_RESULT;
void parley_aead_free(ParleyAead *aead);          /* NULL is fine */
gboolean parley_aead_seal(ParleyAead *aead, const uint8_t nonce[12],
                          const void *aad, size_t aad_len,
                          const void *pt, size_t len,
                          void *ct, uint8_t tag[16]) G_GNUC_WARN_UNUSED_RESULT;
gboolean parley_aead_open(ParleyAead *aead, const uint8_t nonce[12],
                          const void *aad, size_t aad_len,
                          const void *ct, size_t len,
                          const uint8_t tag[16], void *pt) G_GNUC_WARN_UNUSED_RESULT;

/* X25519 (RFC 7748): out = X25519(scalar, point).  The scalar is given
 * unclamped (clamping happens inside, as RFC 7748 says).  Returns FALSE if
 * the result is all zeros (low-order input) or libgcrypt failed, with out
 * wiped.  The scalar, the point and the result reach libgcrypt only in
 * secure memory, so none of them is left behind in freed heap. */
gboolean parley_x25519(uint8_t out[32], const uint8_t scalar[32],
                       const uint8_t point[32]) G_GNUC_WARN_UNUSED_RESULT;
/* out = X25519(scalar, 9). */
gboolean parley_x25519_base(uint8_t out[32],
                            const uint8_t scalar[32]) G_GNUC_WARN_UNUSED_RESULT;

/* CPace (draft-irtf-cfrg-cpace, CPACE-X25519-SHA512).  */

/* lv_cat: append each argument prefixed by its LEB128 length.  The array
 * grows as needed: never use it for secrets (see parley_lv_put). */
void parley_lv_append(GByteArray *out, const void *data, size_t len);

/* lv_cat into a fixed buffer, for inputs that hold secrets: writes
 * prepend_len(len) || data at buf + *at and advances *at.  If that would
 * not fit in cap bytes, writes nothing and returns FALSE. */
gboolean parley_lv_put(uint8_t *buf, size_t cap, size_t *at,
                       const void *data, size_t len) G_GNUC_WARN_UNUSED_RESULT;

/* generator_string(DSI, PRS, CI, sid, s_in_bytes = 128) into out. */
void parley_cpace_generator_string(GByteArray *out,
                                   const void *dsi, size_t dsi_len,
                                   const void *prs, size_t prs_len,
                                   const void *ci, size_t ci_len,
                                   const void *sid, size_t sid_len);

/* Elligator 2 map (RFC 9380 map_to_curve_elligator2 for curve25519, u only)
 * of a field element given as 32 little-endian bytes (decodeUCoordinate with
 * 255 bits: bit 255 is cleared first).  Runs in constant time (PROTOCOL.md
 * §10: no branch, memory access or early exit depends on u) and cannot
 * fail. */
void parley_elligator2_x25519(uint8_t g[32], const uint8_t u[32]);

/* The whole CPace generator: g = map(decodeUCoordinate(SHA-512(gen_str)[0:32])).
 * FALSE (g wiped) if a hash or the map failed. */
gboolean parley_cpace_generator(uint8_t g[32],
                                const void *prs, size_t prs_len,
                                const uint8_t sid[16]) G_GNUC_WARN_UNUSED_RESULT;

#endif
