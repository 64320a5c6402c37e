/*
 * crypto.c - thin wrappers over libgcrypt for everything Parley computes.
 *
 * Every key, PRS, shared secret and hash of a secret that passes through
 * here lives either in a caller's buffer, in libgcrypt's secure memory
 * (opened with GCRY_MD_FLAG_SECURE / GCRY_CIPHER_SECURE / gcry_mpi_snew),
 * or in a local that is wiped before return - with one exception, the
 * keyed HMAC state while PBKDF2 runs (parley_pbkdf2_sha256 says why).
 * Every function that can fail says so (G_GNUC_WARN_UNUSED_RESULT) and
 * wipes its output when it does; none hands back a made-up value.
 * The one computation not handed to libgcrypt is the Elligator 2 map,
 * which runs on field25519.c so that it takes constant time (§10).
 * Nothing here logs.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1       /* explicit_bzero() in glibc's <string.h> */
#endif

#include <string.h>
#include <gcrypt.h>

#include "crypto.h"
#include "field25519.h"

#define SECMEM_POOL_SIZE   (64 * 1024)
/* Each further pool once the first is full (see init_libgcrypt). */
#define SECMEM_EXPAND_SIZE (64 * 1024)

#define SHA256_LEN         32
#define SHA512_LEN         64
#define GCM_NONCE_LEN      12
#define GCM_TAG_LEN        16
#define X25519_LEN         32
#define HKDF_MAX_OUT       (255 * SHA256_LEN)

/* CPace (draft-irtf-cfrg-cpace): SHA-512's input block size. */
#define CPACE_S_IN_BYTES   128
#define CPACE_DSI          "CPace255"
#define CPACE_DSI_LEN      8
#define PARLEY_CI          "parley/2"
#define PARLEY_CI_LEN      8
#define CPACE_SID_LEN      16

/* Curve25519 in Montgomery form: v^2 = u^3 + J u^2 + u (K = 1). */
#define CURVE25519_J       486662UL

/* ------------------------------------------------------------------------ */
/* Initialisation and memory                                                */

static gboolean
init_libgcrypt(void)
{
	/* A host (or another plugin) may own libgcrypt already: then its
	 * choices about secure memory and the like stand, and we only make
	 * sure the library is new enough for the API we were compiled with. */
	if (gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P))
		return gcry_check_version(GCRYPT_VERSION) != NULL;

	if (gcry_check_version(GCRYPT_VERSION) == NULL)
		return FALSE;

	/* As a plugin we usually run without privileges, where mlock() may
	 * fail; libgcrypt then uses unlocked memory, which is still wiped on
	 * free.  That is no reason to print warnings into the host's stderr. */
	gcry_control(GCRYCTL_DISABLE_SECMEM_WARN);
	gcry_control(GCRYCTL_SUSPEND_SECMEM_WARN);
	gcry_control(GCRYCTL_INIT_SECMEM, SECMEM_POOL_SIZE, 0);
	/* A listener with many peers holds more secure memory than the first
	 * pool: a chain key and two cipher contexts per connection.  Without
	 * this, a full pool makes libgcrypt's own secure allocations fail -
	 * new handshakes then fail with wrong tags, and an HMAC that cannot
	 * get 32 bytes at its final step aborts the process.  Further pools
	 * are not locked; what is freed in them is still wiped. */
	gcry_control(GCRYCTL_AUTO_EXPAND_SECMEM, (unsigned int) SECMEM_EXPAND_SIZE);
	gcry_control(GCRYCTL_RESUME_SECMEM_WARN);
	gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
	return TRUE;
}

gboolean
parley_crypto_init(void)
{
	/* 0: not yet run; 1: failed; 2: ready (g_once_init_leave needs != 0) */
	static gsize state = 0;

	if (g_once_init_enter(&state)) {
		gsize result = init_libgcrypt() ? 2 : 1;
		g_once_init_leave(&state, result);
	}
	return state == 2;
}

void
parley_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		explicit_bzero(p, len);
}

void *
parley_secure_alloc(size_t len)
{
	void *p;

	parley_crypto_init();
	if (len == 0)
		len = 1;
	/* The pool is small (it is mlock'ed where possible); once it is used
	 * up, ordinary memory is better than failing, and is still wiped by
	 * parley_secure_free(). */
	p = gcry_calloc_secure(1, len);
	if (p == NULL)
		p = gcry_xcalloc(1, len);  /* aborts on OOM, like g_malloc */
	return p;
}

void
parley_secure_free(void *p, size_t len)
{
	if (p == NULL)
		return;
	parley_wipe(p, len);
	gcry_free(p);
}

gboolean
parley_ct_equal(const void *a, const void *b, size_t len)
{
	const volatile uint8_t *x = a;
	const volatile uint8_t *y = b;
	uint8_t diff = 0;
	size_t i;

	/* No early exit: the time depends on len only. */
	for (i = 0; i < len; i++)
		diff |= x[i] ^ y[i];
	return diff == 0;
}

void
parley_random_bytes(void *buf, size_t len)
{
	parley_crypto_init();
	if (len > 0)
		gcry_randomize(buf, len, GCRY_STRONG_RANDOM);
}

/* ------------------------------------------------------------------------ */
/* Hashes, MACs, KDFs                                                       */

/* Open a hash handle in secure memory; in ordinary memory if the secure
 * pool is full and libgcrypt may not expand it (a host initialised it),
 * as parley_secure_alloc() does: gcry_md_close() wipes the handle either
 * way. */
static gcry_error_t
md_open(gcry_md_hd_t *md, int algo, unsigned int flags)
{
	gcry_error_t err = gcry_md_open(md, algo, flags | GCRY_MD_FLAG_SECURE);

	if (err)
		err = gcry_md_open(md, algo, flags);
	return err;
}

/* RFC 8018 §5.2 with PRF = HMAC-SHA256, on one HMAC handle keyed once:
 * each iteration resets it, which restores the keyed inner state, so an
 * iteration costs two SHA-256 blocks.  (libgcrypt's gcry_kdf_derive sets
 * the key again in every iteration.)
 *
 * The handle is deliberately not in secure memory.  An HMAC handle's final
 * step allocates a 32-byte buffer in the handle's kind of memory, and
 * libgcrypt's secure allocator is a first-fit walk over the blocks alive in
 * its pools under one process-wide lock: 200,000 such walks made a PBKDF2
 * cost some 15 % more with an empty pool, three times as much with a
 * thousand connections' keys in the pools, and forty times with a full
 * pool that may not grow - while holding up the main thread's own secure
 * allocations.  What this changes: the keyed HMAC state (the passphrase's
 * equivalent) lives in ordinary memory while PBKDF2 runs and is wiped by
 * gcry_md_close(); the per-iteration buffer is freed by libgcrypt unwiped
 * and holds the inner hash of the last iteration, from which nothing can
 * be computed without the passphrase, and against which a guess costs a
 * whole PBKDF2.  U and T, and so PRS, stay in secure memory. */
gboolean
parley_pbkdf2_sha256(const void *pass, size_t pass_len,
                     const void *salt, size_t salt_len,
                     unsigned long iterations,
                     void *out, size_t out_len)
{
	gcry_md_hd_t md;
	uint8_t *dst = out;
	uint8_t *u, *t;             /* U_j and T_i, in secure memory */
	guint32 block;
	size_t done = 0;
	gboolean ok = TRUE;

	g_return_val_if_fail(out != NULL || out_len == 0, FALSE);

	parley_crypto_init();
	/* Some libgcrypt versions refuse an empty passphrase; callers refuse
	 * it earlier anyway, so treat it as an error everywhere - as are the
	 * other inputs gcry_kdf_derive refuses (no salt, too long a result). */
	if (pass_len == 0 || iterations == 0 || out_len == 0 || salt_len == 0 ||
	    salt == NULL || out_len > (size_t) G_MAXUINT32 * SHA256_LEN) {
		parley_wipe(out, out_len);
		return FALSE;
	}
	if (gcry_md_open(&md, GCRY_MD_SHA256, GCRY_MD_FLAG_HMAC)) {
		parley_wipe(out, out_len);
		return FALSE;
	}
	if (gcry_md_setkey(md, pass, pass_len)) {
		gcry_md_close(md);
		parley_wipe(out, out_len);
		return FALSE;
	}
	u = parley_secure_alloc(2 * SHA256_LEN);
	t = u + SHA256_LEN;

	/* T_i = U_1 ^ U_2 ^ ... ^ U_c, U_1 = PRF(P, S || INT(i)),
	 * U_j = PRF(P, U_{j-1}); DK = T_1 || T_2 || ... cut to out_len */
	for (block = 1; ok && done < out_len; block++) {
		uint8_t be[4];
		const unsigned char *d;
		unsigned long j;
		size_t k, n;

		be[0] = (uint8_t) (block >> 24);
		be[1] = (uint8_t) (block >> 16);
		be[2] = (uint8_t) (block >> 8);
		be[3] = (uint8_t) block;
		gcry_md_reset(md);
		gcry_md_write(md, salt, salt_len);
		gcry_md_write(md, be, sizeof(be));
		d = gcry_md_read(md, GCRY_MD_SHA256);
		if (d == NULL) {
			ok = FALSE;
			break;
		}
		memcpy(u, d, SHA256_LEN);
		memcpy(t, u, SHA256_LEN);
		for (j = 1; j < iterations; j++) {
			/* reset keeps the key: back to the state after ipad */
			gcry_md_reset(md);
			gcry_md_write(md, u, SHA256_LEN);
			d = gcry_md_read(md, GCRY_MD_SHA256);
			if (d == NULL) {
				ok = FALSE;
				break;
			}
			memcpy(u, d, SHA256_LEN);
			for (k = 0; k < SHA256_LEN; k++)
				t[k] ^= u[k];
		}
		n = MIN(out_len - done, (size_t) SHA256_LEN);
		memcpy(dst + done, t, n);
		done += n;
	}
	gcry_md_close(md);
	parley_secure_free(u, 2 * SHA256_LEN);
	if (!ok)
		parley_wipe(out, out_len);
	return ok;
}

/* HMAC over one buffer into out (digest length of algo); on failure out
 * is wiped and FALSE returned. */
static gboolean
hmac(int algo, const void *key, size_t key_len,
     const void *data, size_t data_len, uint8_t *out, size_t out_len)
{
	gcry_md_hd_t md;
	const unsigned char *d;
	gboolean ok = FALSE;

	g_return_val_if_fail(out != NULL, FALSE);
	g_return_val_if_fail(key != NULL || key_len == 0, FALSE);
	g_return_val_if_fail(data != NULL || data_len == 0, FALSE);

	parley_crypto_init();
	/* Secure flag: the key and the inner/outer states stay in secmem (and
	 * so does the buffer libgcrypt's HMAC allocates at its final step). */
	if (md_open(&md, algo, GCRY_MD_FLAG_HMAC) == 0) {
		if (gcry_md_setkey(md, key, key_len) == 0) {
			if (data_len > 0)
				gcry_md_write(md, data, data_len);
			d = gcry_md_read(md, algo);
			if (d != NULL) {
				memcpy(out, d, out_len);
				ok = TRUE;
			}
		}
		gcry_md_close(md);
	}
	if (!ok)
		parley_wipe(out, out_len);
	return ok;
}

gboolean
parley_hmac_sha256(const void *key, size_t key_len,
                   const void *data, size_t data_len, uint8_t out[32])
{
	return hmac(GCRY_MD_SHA256, key, key_len, data, data_len, out, SHA256_LEN);
}

gboolean
parley_hmac_sha512(const void *key, size_t key_len,
                   const void *data, size_t data_len, uint8_t out[64])
{
	return hmac(GCRY_MD_SHA512, key, key_len, data, data_len, out, SHA512_LEN);
}

gboolean
parley_sha512(const void *data, size_t len, uint8_t out[64])
{
	gcry_buffer_t iov;

	g_return_val_if_fail(out != NULL, FALSE);
	g_return_val_if_fail(data != NULL || len == 0, FALSE);

	parley_crypto_init();
	/* gcry_md_hash_buffer() would abort the process on an error and
	 * return nothing; the iovec form reports it. */
	memset(&iov, 0, sizeof iov);
	iov.data = (void *) (data != NULL ? data : "");
	iov.len = len;
	if (gcry_md_hash_buffers(GCRY_MD_SHA512, 0, out, &iov, 1) != 0) {
		parley_wipe(out, SHA512_LEN);
		return FALSE;
	}
	return TRUE;
}

gboolean
parley_hkdf_extract(const void *salt, size_t salt_len,
                    const void *ikm, size_t ikm_len, uint8_t prk[32])
{
	static const uint8_t zero_salt[SHA256_LEN];

	/* RFC 5869 §2.2: no salt means HashLen zero bytes. */
	if (salt == NULL || salt_len == 0) {
		salt = zero_salt;
		salt_len = sizeof zero_salt;
	}
	return parley_hmac_sha256(salt, salt_len, ikm, ikm_len, prk);
}

gboolean
parley_hkdf_expand(const uint8_t prk[32],
                   const void *info, size_t info_len,
                   void *out, size_t out_len)
{
	gcry_md_hd_t md;
	uint8_t *dst = out;
	const unsigned char *t = NULL;
	size_t done = 0;
	unsigned char counter;

	g_return_val_if_fail(prk != NULL, FALSE);
	g_return_val_if_fail(out != NULL || out_len == 0, FALSE);

	if (out_len > HKDF_MAX_OUT) {
		parley_wipe(out, out_len);
		return FALSE;
	}
	if (out_len == 0)
		return TRUE;

	parley_crypto_init();
	if (md_open(&md, GCRY_MD_SHA256, GCRY_MD_FLAG_HMAC)) {
		parley_wipe(out, out_len);
		return FALSE;
	}
	if (gcry_md_setkey(md, prk, SHA256_LEN)) {
		gcry_md_close(md);
		parley_wipe(out, out_len);
		return FALSE;
	}

	/* RFC 5869 §2.3: T(i) = HMAC(PRK, T(i-1) || info || i), T(0) empty.
	 * T(i-1) is read straight from the handle before it is reset (reset
	 * keeps the HMAC key), so it never leaves secure memory except into
	 * the caller's output. */
	for (counter = 1; done < out_len; counter++) {
		size_t n;

		if (t != NULL) {
			uint8_t prev[SHA256_LEN];

			memcpy(prev, t, SHA256_LEN);
			gcry_md_reset(md);
			gcry_md_write(md, prev, SHA256_LEN);
			parley_wipe(prev, sizeof prev);
		}
		if (info_len > 0)
			gcry_md_write(md, info, info_len);
		gcry_md_write(md, &counter, 1);
		t = gcry_md_read(md, GCRY_MD_SHA256);
		if (t == NULL) {
			gcry_md_close(md);
			parley_wipe(out, out_len);
			return FALSE;
		}
		n = MIN(out_len - done, (size_t) SHA256_LEN);
		memcpy(dst + done, t, n);
		done += n;
	}
	gcry_md_close(md);
	return TRUE;
}

/* ------------------------------------------------------------------------ */
/* AES-GCM                                                                  */

struct ParleyAead {
	gcry_cipher_hd_t hd;
};

ParleyAead *
parley_aead_new(const void *key, size_t key_len)
{
	ParleyAead *aead;
	gcry_cipher_hd_t hd;
	int algo;

	g_return_val_if_fail(key != NULL, NULL);

	if (key_len == 16)
		algo = GCRY_CIPHER_AES128;
	else if (key_len == 32)
		algo = GCRY_CIPHER_AES256;
	else
		return NULL;

	parley_crypto_init();
	/* Secure flag: the expanded key schedule lives in secmem - or, once
	 * the pool is full and may not grow (a host initialised libgcrypt),
	 * in ordinary memory, which gcry_cipher_close() wipes too: a
	 * connection that cannot be keyed would be worse. */
	if (gcry_cipher_open(&hd, algo, GCRY_CIPHER_MODE_GCM, GCRY_CIPHER_SECURE) &&
	    gcry_cipher_open(&hd, algo, GCRY_CIPHER_MODE_GCM, 0))
		return NULL;
	if (gcry_cipher_setkey(hd, key, key_len)) {
		gcry_cipher_close(hd);
		return NULL;
	}
	aead = g_new0(ParleyAead, 1);
	aead->hd = hd;
	return aead;
}

void
parley_aead_free(ParleyAead *aead)
{
	if (aead == NULL)
		return;
	/* gcry_cipher_close wipes the context, key schedule included. */
	gcry_cipher_close(aead->hd);
	g_free(aead);
}

/* Start a record: forget the previous one, keep the key, set the nonce and
 * absorb the associated data.  No allocation (hot path). */
static gboolean
aead_start(ParleyAead *aead, const uint8_t nonce[12],
           const void *aad, size_t aad_len)
{
	if (gcry_cipher_reset(aead->hd))
		return FALSE;
	if (gcry_cipher_setiv(aead->hd, nonce, GCM_NONCE_LEN))
		return FALSE;
	if (aad_len > 0 && gcry_cipher_authenticate(aead->hd, aad, aad_len))
		return FALSE;
	return TRUE;
}

gboolean
parley_aead_seal(ParleyAead *aead, const uint8_t nonce[12],
                 const void *aad, size_t aad_len,
                 const void *pt, size_t len,
                 void *ct, uint8_t tag[16])
{
	gcry_error_t err = 0;

	g_return_val_if_fail(aead != NULL && nonce != NULL && tag != NULL, FALSE);
	g_return_val_if_fail(aad != NULL || aad_len == 0, FALSE);
	g_return_val_if_fail((pt != NULL && ct != NULL) || len == 0, FALSE);

	if (!aead_start(aead, nonce, aad, aad_len))
		goto fail;
	if (len > 0) {
		/* libgcrypt's in-place form is (out, len, NULL, 0). */
		if (pt == ct)
			err = gcry_cipher_encrypt(aead->hd, ct, len, NULL, 0);
		else
			err = gcry_cipher_encrypt(aead->hd, ct, len, pt, len);
		if (err)
			goto fail;
	}
	if (gcry_cipher_gettag(aead->hd, tag, GCM_TAG_LEN))
		goto fail;
	return TRUE;

fail:
	/* Nothing half-encrypted may go out. */
	if (len > 0)
		parley_wipe(ct, len);
	parley_wipe(tag, GCM_TAG_LEN);
	return FALSE;
}

gboolean
parley_aead_open(ParleyAead *aead, const uint8_t nonce[12],
                 const void *aad, size_t aad_len,
                 const void *ct, size_t len,
                 const uint8_t tag[16], void *pt)
{
	gcry_error_t err = 0;

	g_return_val_if_fail(aead != NULL && nonce != NULL && tag != NULL, FALSE);
	g_return_val_if_fail(aad != NULL || aad_len == 0, FALSE);
	g_return_val_if_fail((pt != NULL && ct != NULL) || len == 0, FALSE);

	if (!aead_start(aead, nonce, aad, aad_len))
		goto fail;
	/* GCM's tag covers the ciphertext, which libgcrypt absorbs while
	 * decrypting; so decrypt first, then check the tag (in constant time,
	 * gcry_cipher_checktag) and wipe everything if it does not match. */
	if (len > 0) {
		if (pt == ct)
			err = gcry_cipher_decrypt(aead->hd, pt, len, NULL, 0);
		else
			err = gcry_cipher_decrypt(aead->hd, pt, len, ct, len);
		if (err)
			goto fail;
	}
	if (gcry_cipher_checktag(aead->hd, tag, GCM_TAG_LEN))
		goto fail;
	return TRUE;

fail:
	if (len > 0)
		parley_wipe(pt, len);
	return FALSE;
}

gboolean
parley_aes_gcm_seal(const void *key, size_t key_len,
                    const uint8_t nonce[12],
                    const void *aad, size_t aad_len,
                    const void *pt, size_t len,
                    void *ct, uint8_t tag[16])
{
	ParleyAead *aead = parley_aead_new(key, key_len);
	gboolean ok;

	if (aead == NULL) {
		if (len > 0 && ct != NULL)
			parley_wipe(ct, len);
		if (tag != NULL)
			parley_wipe(tag, GCM_TAG_LEN);
		return FALSE;
	}
	ok = parley_aead_seal(aead, nonce, aad, aad_len, pt, len, ct, tag);
	parley_aead_free(aead);
	return ok;
}

gboolean
parley_aes_gcm_open(const void *key, size_t key_len,
                    const uint8_t nonce[12],
                    const void *aad, size_t aad_len,
                    const void *ct, size_t len,
                    const uint8_t tag[16], void *pt)
{
	ParleyAead *aead = parley_aead_new(key, key_len);
	gboolean ok;

	if (aead == NULL) {
		if (len > 0 && pt != NULL)
			parley_wipe(pt, len);
		return FALSE;
	}
	ok = parley_aead_open(aead, nonce, aad, aad_len, ct, len, tag, pt);
	parley_aead_free(aead);
	return ok;
}

/* ------------------------------------------------------------------------ */
/* X25519                                                                   */

/* Little-endian bytes -> a secure MPI, without a non-secure copy. */
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

/* RFC 7748 §5 on libgcrypt's EC context API rather than
 * gcry_ecc_mul_point(): that one copies the scalar and the point into
 * ordinary heap unless the caller's buffers happen to lie in secure memory,
 * and hands the result back through a buffer it frees unwiped - so K, every
 * rekey's dh and the CPace generator would be left behind in freed memory.
 * Here the clamped scalar is an opaque MPI copied from secure memory (so
 * libgcrypt's own copies of it are secure too), the point and the result
 * are secure MPIs, and the result is read out bit by bit without any
 * buffer.  libgcrypt wipes MPI limbs when it frees them. */
gboolean
parley_x25519(uint8_t out[32], const uint8_t scalar[32],
              const uint8_t point[32])
{
	uint8_t *k, *u;             /* secure: clamped scalar, decoded u */
	uint8_t r[X25519_LEN];
	gcry_ctx_t ctx = NULL;
	gcry_mpi_t mk = NULL, mu = NULL, p = NULL, one = NULL, x = NULL;
	gcry_mpi_point_t P = NULL, Q = NULL;
	uint8_t acc = 0;
	gboolean ok = FALSE;
	size_t i;

	g_return_val_if_fail(out != NULL && scalar != NULL && point != NULL,
	                     FALSE);

	parley_crypto_init();
	memset(r, 0, sizeof r);
	k = parley_secure_alloc(2 * X25519_LEN);
	u = k + X25519_LEN;
	/* RFC 7748 §5: decodeScalar25519 and decodeUCoordinate.  libgcrypt
	 * clamps an opaque scalar itself too; doing it here as well is
	 * idempotent and keeps us right whatever a future version decides. */
	memcpy(k, scalar, X25519_LEN);
	k[0] &= 248;
	k[31] &= 127;
	k[31] |= 64;
	memcpy(u, point, X25519_LEN);
	u[31] &= 127;

	if (gcry_mpi_ec_new(&ctx, NULL, "Curve25519") != 0)
		goto out;
	/* An opaque scalar is taken as little-endian bytes (RFC 7748). */
	mk = gcry_mpi_set_opaque_copy(NULL, k, 8 * X25519_LEN);
	/* A non-canonical u (p <= u < 2^255) is reduced, as §5 allows. */
	mu = mpi_from_le(u, X25519_LEN);
	p = gcry_mpi_ec_get_mpi("p", ctx, 1);
	one = gcry_mpi_set_ui(NULL, 1);
	x = gcry_mpi_snew(8 * X25519_LEN);
	P = gcry_mpi_point_new(0);
	Q = gcry_mpi_point_new(0);
	if (mk == NULL || p == NULL)
		goto out;
	gcry_mpi_mod(mu, mu, p);
	gcry_mpi_point_set(P, mu, NULL, one);
	gcry_mpi_ec_mul(Q, mk, P, ctx);
	/* The point at infinity (a low-order input) has no affine u: that is
	 * X25519's all-zero output. */
	if (gcry_mpi_ec_get_affine(x, NULL, Q, ctx) != 0)
		goto out;
	for (i = 0; i < 8 * X25519_LEN; i++)
		r[i / 8] |= (uint8_t) ((gcry_mpi_test_bit(x, (unsigned int) i) != 0)
		                       << (i % 8));
	/* RFC 7748 §6.1: an all-zero result means a low-order input; the
	 * check must not branch on the secret bytes. */
	for (i = 0; i < X25519_LEN; i++)
		acc |= r[i];
	ok = acc != 0;

out:
	gcry_mpi_point_release(Q);
	gcry_mpi_point_release(P);
	gcry_mpi_release(x);
	gcry_mpi_release(one);
	gcry_mpi_release(p);
	gcry_mpi_release(mu);
	gcry_mpi_release(mk);
	gcry_ctx_release(ctx);
	parley_secure_free(k, 2 * X25519_LEN);
	if (ok)
		memcpy(out, r, X25519_LEN);
	else
		parley_wipe(out, X25519_LEN);
	parley_wipe(r, sizeof r);
	return ok;
}

gboolean
parley_x25519_base(uint8_t out[32], const uint8_t scalar[32])
{
	static const uint8_t nine[X25519_LEN] = { 9 };

	return parley_x25519(out, scalar, nine);
}

/* ------------------------------------------------------------------------ */
/* CPace strings (draft-irtf-cfrg-cpace, "CPace function definitions")      */

/* prepend_len: the LEB128 encoding of len, written to buf (up to 10 bytes
 * for a 64-bit size_t); returns its length. */
static size_t
leb128(uint8_t buf[10], size_t len)
{
	size_t n = 0;

	do {
		uint8_t b = len & 0x7f;

		len >>= 7;
		buf[n++] = len ? (b | 0x80) : b;
	} while (len);
	return n;
}

static size_t
leb128_len(size_t len)
{
	uint8_t tmp[10];

	return leb128(tmp, len);
}

void
parley_lv_append(GByteArray *out, const void *data, size_t len)
{
	uint8_t prefix[10];

	g_return_if_fail(out != NULL);
	g_return_if_fail(data != NULL || len == 0);
	g_return_if_fail(len <= G_MAXUINT);

	g_byte_array_append(out, prefix, (guint) leb128(prefix, len));
	if (len > 0)
		g_byte_array_append(out, data, (guint) len);
}

gboolean
parley_lv_put(uint8_t *buf, size_t cap, size_t *at, const void *data, size_t len)
{
	uint8_t prefix[10];
	size_t n;

	g_return_val_if_fail(buf != NULL && at != NULL && *at <= cap, FALSE);
	g_return_val_if_fail(data != NULL || len == 0, FALSE);

	n = leb128(prefix, len);
	if (len > cap - *at || n > cap - *at - len)
		return FALSE;
	memcpy(buf + *at, prefix, n);
	if (len > 0)
		memcpy(buf + *at + n, data, len);
	*at += n + len;
	return TRUE;
}

/* len_zpad = max(0, s_in_bytes - 1 - len(prepend_len(PRS))
 *                   - len(prepend_len(DSI))) */
static size_t
cpace_zpad_len(size_t dsi_len, size_t prs_len)
{
	size_t used = 1 + leb128_len(prs_len) + prs_len
	                + leb128_len(dsi_len) + dsi_len;

	return used < CPACE_S_IN_BYTES ? CPACE_S_IN_BYTES - used : 0;
}

void
parley_cpace_generator_string(GByteArray *out,
                              const void *dsi, size_t dsi_len,
                              const void *prs, size_t prs_len,
                              const void *ci, size_t ci_len,
                              const void *sid, size_t sid_len)
{
	uint8_t prefix[10];
	size_t zpad;
	guint at;

	g_return_if_fail(out != NULL);

	zpad = cpace_zpad_len(dsi_len, prs_len);

	/* lv_cat(DSI, PRS, zero_bytes(len_zpad), CI, sid) */
	parley_lv_append(out, dsi, dsi_len);
	parley_lv_append(out, prs, prs_len);
	g_byte_array_append(out, prefix, (guint) leb128(prefix, zpad));
	at = out->len;
	g_byte_array_set_size(out, at + (guint) zpad);
	memset(out->data + at, 0, zpad);
	parley_lv_append(out, ci, ci_len);
	parley_lv_append(out, sid, sid_len);
}

/* ------------------------------------------------------------------------ */
/* Elligator 2 (RFC 9380 §6.7.1, map_to_curve_elligator2, curve25519)       */

/* Constant time (PROTOCOL.md §10): u is derived from the PRS with a sid
 * the caller chooses, so the map runs in field25519's fixed sequence of
 * operations - inv0 and is_square by fixed exponents, the two choices by
 * masks - whatever u is.  (libgcrypt's exported MPI arithmetic is not
 * constant time; docs/security.md says why it is not used here.) */
void
parley_elligator2_x25519(uint8_t g[32], const uint8_t u_bytes[32])
{
	ParleyFe u, one, j, neg_j, t, x1, x2, gx1, chi;
	uint32_t is_square;

	g_return_if_fail(g != NULL && u_bytes != NULL);

	parley_fe_set_small(&one, 1);
	parley_fe_set_small(&j, CURVE25519_J);
	parley_fe_set_small(&t, 0);
	parley_fe_sub(&neg_j, &t, &j);
	/* decodeUCoordinate(u, 255): bit 255 ignored; u >= p is fine, the
	 * arithmetic is mod p. */
	parley_fe_from_bytes(&u, u_bytes);

	/* 1. x1 = -(J / K) * inv0(1 + Z * u^2)   (K = 1, Z = 2).  1 + 2u^2
	 * never vanishes (-1/2 is not a square mod p), but inv0(0) = 0 as the
	 * RFC says, at no extra cost.  (Z = 2 is RFC 9380's choice for
	 * curve25519.) */
	parley_fe_sq(&t, &u);
	parley_fe_add(&t, &t, &t);
	parley_fe_add(&t, &t, &one);
	parley_fe_invert(&t, &t);
	parley_fe_mul(&x1, &neg_j, &t);
	/* 2. If x1 == 0, set x1 = -(J / K)   (by mask) */
	parley_fe_cmov(&x1, &neg_j, parley_fe_is_zero(&x1));
	/* 3. gx1 = x1^3 + (J / K) * x1^2 + x1 / K^2 = x1 * (x1 * (x1 + J) + 1) */
	parley_fe_add(&gx1, &x1, &j);
	parley_fe_mul(&gx1, &gx1, &x1);
	parley_fe_add(&gx1, &gx1, &one);
	parley_fe_mul(&gx1, &gx1, &x1);
	/* 4. x2 = -x1 - (J / K) */
	parley_fe_sub(&x2, &neg_j, &x1);
	/* 6./7. x = is_square(gx1) ? x1 : x2, where is_square(a) is
	 * a^((p-1)/2) in {0, 1} (Euler's criterion).  The y coordinate is not
	 * needed for X25519. */
	parley_fe_legendre(&chi, &gx1);
	is_square = parley_fe_is_zero(&chi) | parley_fe_equal(&chi, &one);
	parley_fe_cmov(&x2, &x1, is_square);
	parley_fe_to_bytes(g, &x2);

	parley_fe_clear(&u);
	parley_fe_clear(&t);
	parley_fe_clear(&x1);
	parley_fe_clear(&x2);
	parley_fe_clear(&gx1);
	parley_fe_clear(&chi);
}

gboolean
parley_cpace_generator(uint8_t g[32],
                       const void *prs, size_t prs_len,
                       const uint8_t sid[16])
{
	GByteArray *gen_str;
	uint8_t hash[SHA512_LEN];
	gboolean ok;

	g_return_val_if_fail(g != NULL && sid != NULL, FALSE);
	g_return_val_if_fail(prs != NULL || prs_len == 0, FALSE);

	/* The generator string holds PRS: size it up front so that appending
	 * never reallocates and leaves an unwiped copy behind.  It is at most
	 * 128 bytes plus PRS plus the short fields and their prefixes. */
	gen_str = g_byte_array_sized_new((guint) (prs_len + CPACE_S_IN_BYTES
	                                          + 64));
	parley_cpace_generator_string(gen_str, CPACE_DSI, CPACE_DSI_LEN,
	                              prs, prs_len, PARLEY_CI, PARLEY_CI_LEN,
	                              sid, CPACE_SID_LEN);

	/* gen_str_hash = H.hash(gen_str)[0:32]; decodeUCoordinate (bit 255
	 * cleared) happens inside the map. */
	ok = parley_sha512(gen_str->data, gen_str->len, hash);
	parley_wipe(gen_str->data, gen_str->len);
	g_byte_array_unref(gen_str);

	if (ok)
		parley_elligator2_x25519(g, hash);
	parley_wipe(hash, sizeof hash);
	if (!ok)
		parley_wipe(g, X25519_LEN);
	return ok;
}
