/*
 * test-crypto.c - src/crypto.c against published test vectors, byte for
 * byte, plus the wiping and failure behaviour its header promises.
 *
 * Vector sources (typed in from the documents):
 *   RFC 7914 §11 (PBKDF2-HMAC-SHA256), RFC 5869 appendix A (HKDF),
 *   RFC 4231 (HMAC-SHA-256/512), FIPS 180-2 appendix C (SHA-512 "abc"),
 *   RFC 7748 §5.2 and §6.1 (X25519), McGrew & Viega, "The Galois/Counter
 *   Mode of Operation", test cases 1-4 and 13-16 (AES-GCM),
 *   draft-irtf-cfrg-cpace appendix "Test vector for CPace using group X25519
 *   and hash SHA-512" (generator, Ya, Yb, K, ISK_IR, low-order points),
 *   and tests/data/parley-v2.json (handshakes[0], lv_cat_examples).
 * The extra Elligator 2 vectors were computed with an independent
 * implementation of RFC 9380 §6.7.1 in Python.  The constant-time field
 * (src/field25519.c) and map are also checked against libgcrypt's MPI
 * arithmetic: the field operation by operation, the map against the
 * MPI-based map Parley used before (tests/elligator2-mpi.c) on 100,000
 * inputs (their choice follows the GTest seed: --seed replays a run).
 */
#include <string.h>
#include <glib.h>
#include <gcrypt.h>

#include "crypto.h"
#include "elligator2-mpi.h"
#include "field25519.h"
#include "errors.h"
#include "event.h"

/* ------------------------------------------------------------------------ */
/* helpers (self-contained: this program does not need tests/testutil.c)   */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode hex (whitespace ignored) into a g_malloc'd buffer; the test fails
 * on malformed input.  Always returns a non-NULL buffer. */
static uint8_t *
unhex(const char *hex, size_t *len)
{
	uint8_t *out = g_malloc(strlen(hex) / 2 + 1);
	size_t n = 0;
	int hi = -1;

	for (; *hex; hex++) {
		int v;

		if (g_ascii_isspace(*hex))
			continue;
		v = hexval(*hex);
		g_assert_cmpint(v, >=, 0);
		if (hi < 0) {
			hi = v;
		} else {
			out[n++] = (uint8_t) (hi << 4 | v);
			hi = -1;
		}
	}
	g_assert_cmpint(hi, ==, -1);
	*len = n;
	return out;
}

/* Decode hex that must be exactly want bytes into buf. */
static void
unhex_into(uint8_t *buf, size_t want, const char *hex)
{
	size_t n;
	uint8_t *b = unhex(hex, &n);

	g_assert_cmpuint(n, ==, want);
	memcpy(buf, b, n);
	g_free(b);
}

#define assert_hex(buf, len, hex) G_STMT_START {                   \
	size_t ah_n_;                                              \
	uint8_t *ah_b_ = unhex((hex), &ah_n_);                     \
	g_assert_cmpmem((buf), (len), ah_b_, ah_n_);               \
	g_free(ah_b_);                                             \
} G_STMT_END

static gboolean
all_zero(const void *p, size_t len)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i] != 0)
			return FALSE;
	return TRUE;
}

/* ------------------------------------------------------------------------ */
/* basics                                                                   */

static void
test_init(void)
{
	g_assert_true(parley_crypto_init());
	g_assert_true(parley_crypto_init());
}

static void
test_wipe(void)
{
	uint8_t buf[100];

	memset(buf, 0xa5, sizeof buf);
	parley_wipe(buf + 10, 80);
	g_assert_cmpuint(buf[9], ==, 0xa5);
	g_assert_true(all_zero(buf + 10, 80));
	g_assert_cmpuint(buf[90], ==, 0xa5);
	parley_wipe(NULL, 10);          /* allowed, does nothing */
	parley_wipe(buf, 0);
	g_assert_cmpuint(buf[0], ==, 0xa5);
}

static void
test_ct_equal(void)
{
	uint8_t a[64], b[64];
	size_t i;

	for (i = 0; i < sizeof a; i++)
		a[i] = b[i] = (uint8_t) (i * 7);
	g_assert_true(parley_ct_equal(a, b, sizeof a));
	g_assert_true(parley_ct_equal(a, b, 0));
	for (i = 0; i < sizeof a; i++) {
		b[i] ^= 0x80;
		g_assert_false(parley_ct_equal(a, b, sizeof a));
		b[i] ^= 0x81;
		g_assert_false(parley_ct_equal(a, b, sizeof a));
		b[i] ^= 0x01;
	}
	g_assert_true(parley_ct_equal(a, b, sizeof a));
}

static void
test_secure_alloc(void)
{
	const size_t sizes[] = { 0, 1, 32, 4096, 200 * 1024 /* > the pool */ };
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(sizes); i++) {
		uint8_t *p = parley_secure_alloc(sizes[i]);

		g_assert_nonnull(p);
		g_assert_true(all_zero(p, sizes[i]));
		memset(p, 0x5a, sizes[i]);
		parley_secure_free(p, sizes[i]);
	}
	parley_secure_free(NULL, 10);

	/* Many live blocks at once: the pool runs out and we fall back. */
	{
		uint8_t *blocks[64];

		for (i = 0; i < G_N_ELEMENTS(blocks); i++) {
			blocks[i] = parley_secure_alloc(4096);
			g_assert_nonnull(blocks[i]);
			memset(blocks[i], (int) i, 4096);
		}
		for (i = 0; i < G_N_ELEMENTS(blocks); i++) {
			g_assert_cmpuint(blocks[i][4095], ==, (uint8_t) i);
			parley_secure_free(blocks[i], 4096);
		}
	}
}

static void
test_random(void)
{
	uint8_t a[32], b[32];

	memset(a, 0, sizeof a);
	memset(b, 0, sizeof b);
	parley_random_bytes(a, sizeof a);
	parley_random_bytes(b, sizeof b);
	g_assert_false(all_zero(a, sizeof a));
	g_assert_false(parley_ct_equal(a, b, sizeof a));
	parley_random_bytes(NULL, 0);
}

/* ------------------------------------------------------------------------ */
/* PBKDF2-HMAC-SHA256: RFC 7914 §11                                         */

static void
test_pbkdf2_rfc7914_1(void)
{
	uint8_t out[64];

	g_assert_true(parley_pbkdf2_sha256("passwd", 6, "salt", 4, 1,
	                                   out, sizeof out));
	assert_hex(out, sizeof out,
	           "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
	           "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
}

static void
test_pbkdf2_rfc7914_2(void)
{
	uint8_t out[64];

	g_assert_true(parley_pbkdf2_sha256("Password", 8, "NaCl", 4, 80000,
	                                   out, sizeof out));
	assert_hex(out, sizeof out,
	           "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
	           "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d");
}

static void
test_pbkdf2_refused(void)
{
	uint8_t out[32];

	/* An empty passphrase is refused, and the output is wiped. */
	memset(out, 0xaa, sizeof out);
	g_assert_false(parley_pbkdf2_sha256("", 0, "salt", 4, 1000,
	                                    out, sizeof out));
	g_assert_true(all_zero(out, sizeof out));

	memset(out, 0xaa, sizeof out);
	g_assert_false(parley_pbkdf2_sha256("pw", 2, "salt", 4, 0,
	                                    out, sizeof out));
	g_assert_true(all_zero(out, sizeof out));
}

/* Output lengths that are not a multiple of the hash size: DK is a prefix
 * of the longer DK (the second block cut short). */
static void
test_pbkdf2_partial_block(void)
{
	uint8_t out[40];

	g_assert_true(parley_pbkdf2_sha256("passwd", 6, "salt", 4, 1, out, sizeof out));
	assert_hex(out, sizeof out,
	           "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
	           "49ca9cccf179b645");
	g_assert_true(parley_pbkdf2_sha256("Password", 8, "NaCl", 4, 80000, out, 20));
	assert_hex(out, 20, "4ddcd8f60b98be21830cee5ef22701f9641a4418");
}

/* ------------------------------------------------------------------------ */
/* HMAC and SHA-512: RFC 4231 test cases 1 and 2, FIPS 180-2 "abc"          */

static void
test_hmac_rfc4231_1(void)
{
	uint8_t key[20], out256[32], out512[64];

	memset(key, 0x0b, sizeof key);
	g_assert_true(parley_hmac_sha256(key, sizeof key, "Hi There", 8, out256));
	assert_hex(out256, sizeof out256,
	           "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	g_assert_true(parley_hmac_sha512(key, sizeof key, "Hi There", 8, out512));
	assert_hex(out512, sizeof out512,
	           "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
	           "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854");
}

static void
test_hmac_rfc4231_2(void)
{
	static const char data[] = "what do ya want for nothing?";
	uint8_t out256[32], out512[64];

	g_assert_true(parley_hmac_sha256("Jefe", 4, data, strlen(data), out256));
	assert_hex(out256, sizeof out256,
	           "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	g_assert_true(parley_hmac_sha512("Jefe", 4, data, strlen(data), out512));
	assert_hex(out512, sizeof out512,
	           "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
	           "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
}

/* An empty key is legal HMAC (value from Python's hmac module). */
static void
test_hmac_empty_key(void)
{
	uint8_t out[32];

	g_assert_true(parley_hmac_sha256("", 0, "abc", 3, out));
	assert_hex(out, sizeof out,
	           "fd7adb152c05ef80dccf50a1fa4c05d5a3ec6da95575fc312ae7c5d091836351");
}

static void
test_sha512_abc(void)
{
	uint8_t out[64];

	g_assert_true(parley_sha512("abc", 3, out));
	assert_hex(out, sizeof out,
	           "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
	           "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
	g_assert_true(parley_sha512("", 0, out));
	assert_hex(out, sizeof out,
	           "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
	           "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e");
}

/* ------------------------------------------------------------------------ */
/* HKDF-SHA256: RFC 5869 appendix A.1-A.3                                   */

typedef struct {
	const char *ikm, *salt, *info, *prk, *okm;
} HkdfVector;

static const HkdfVector hkdf_a1 = {
	"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
	"000102030405060708090a0b0c",
	"f0f1f2f3f4f5f6f7f8f9",
	"077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
	"3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
	"34007208d5b887185865",
};

static const HkdfVector hkdf_a2 = {
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
	"404142434445464748494a4b4c4d4e4f",
	"606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
	"808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
	"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
	"b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
	"d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeef"
	"f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
	"06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
	"b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
	"59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
	"cc30c58179ec3e87c14c01d5c1f3434f1d87",
};

static const HkdfVector hkdf_a3 = {
	"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
	"",
	"",
	"19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
	"8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
	"9d201395faa4b61a96c8",
};

static void
test_hkdf(gconstpointer data)
{
	const HkdfVector *v = data;
	size_t ikm_len, salt_len, info_len, okm_len;
	uint8_t *ikm = unhex(v->ikm, &ikm_len);
	uint8_t *salt = unhex(v->salt, &salt_len);
	uint8_t *info = unhex(v->info, &info_len);
	uint8_t *okm_want = unhex(v->okm, &okm_len);
	uint8_t *okm = g_malloc(okm_len);
	uint8_t prk[32];

	g_assert_true(parley_hkdf_extract(salt, salt_len, ikm, ikm_len, prk));
	assert_hex(prk, sizeof prk, v->prk);
	g_assert_true(parley_hkdf_expand(prk, info, info_len, okm, okm_len));
	g_assert_cmpmem(okm, okm_len, okm_want, okm_len);

	/* A shorter output is a prefix of the longer one. */
	g_assert_true(parley_hkdf_expand(prk, info, info_len, okm, 33));
	g_assert_cmpmem(okm, 33, okm_want, 33);

	g_free(okm);
	g_free(okm_want);
	g_free(info);
	g_free(salt);
	g_free(ikm);
}

static void
test_hkdf_limits(void)
{
	uint8_t prk[32], out[8], *big;

	memset(prk, 1, sizeof prk);
	g_assert_true(parley_hkdf_expand(prk, NULL, 0, out, 0));

	big = g_malloc(255 * 32 + 1);
	g_assert_true(parley_hkdf_expand(prk, "x", 1, big, 255 * 32));
	memset(big, 0xaa, 255 * 32 + 1);
	g_assert_false(parley_hkdf_expand(prk, "x", 1, big, 255 * 32 + 1));
	g_assert_true(all_zero(big, 255 * 32 + 1));
	g_free(big);
}

/* ------------------------------------------------------------------------ */
/* AES-GCM: McGrew & Viega test cases                                       */

typedef struct {
	const char *key, *iv, *pt, *aad, *ct, *tag;
} GcmVector;

#define GCM_K128   "feffe9928665731c6d6a8f9467308308"
#define GCM_IV     "cafebabefacedbaddecaf888"
#define GCM_P64    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" \
                   "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255"
#define GCM_P60    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" \
                   "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
#define GCM_AAD    "feedfacedeadbeeffeedfacedeadbeefabaddad2"

/* Test case 1: AES-128, zero key, empty plaintext, no AAD. */
static const GcmVector gcm_tc1 = {
	"00000000000000000000000000000000", "000000000000000000000000",
	"", "", "",
	"58e2fccefa7e3061367f1d57a4e7455a",
};

/* Test case 2: AES-128, zero key, one zero block. */
static const GcmVector gcm_tc2 = {
	"00000000000000000000000000000000", "000000000000000000000000",
	"00000000000000000000000000000000", "",
	"0388dace60b6a392f328c2b971b2fe78",
	"ab6e47d42cec13bdf53a67b21257bddf",
};

static const GcmVector gcm_tc3 = {
	GCM_K128, GCM_IV, GCM_P64, "",
	"42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
	"21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
	"4d5c2af327cd64a62cf35abd2ba6fab4",
};

static const GcmVector gcm_tc4 = {
	GCM_K128, GCM_IV, GCM_P60, GCM_AAD,
	"42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
	"21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
	"5bc94fbc3221a5db94fae95ae7121a47",
};

/* Test case 13: AES-256, zero key, empty plaintext, no AAD. */
static const GcmVector gcm_tc13 = {
	"0000000000000000000000000000000000000000000000000000000000000000",
	"000000000000000000000000", "", "", "",
	"530f8afbc74536b9a963b4f1c4cb738b",
};

static const GcmVector gcm_tc15 = {
	GCM_K128 GCM_K128, GCM_IV, GCM_P64, "",
	"522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	"8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
	"b094dac5d93471bdec1a502270e3cc6c",
};

static const GcmVector gcm_tc16 = {
	GCM_K128 GCM_K128, GCM_IV, GCM_P60, GCM_AAD,
	"522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	"8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
	"76fc6ece0f4e1768cddf8853bb2d551b",
};

typedef struct {
	uint8_t *key, *pt, *aad, *ct, *tag;
	size_t key_len, len, aad_len;
	uint8_t iv[12];
} Gcm;

static void
gcm_load(Gcm *g, const GcmVector *v)
{
	size_t ct_len, tag_len;

	g->key = unhex(v->key, &g->key_len);
	g->pt = unhex(v->pt, &g->len);
	g->aad = unhex(v->aad, &g->aad_len);
	g->ct = unhex(v->ct, &ct_len);
	g->tag = unhex(v->tag, &tag_len);
	g_assert_cmpuint(ct_len, ==, g->len);
	g_assert_cmpuint(tag_len, ==, 16);
	unhex_into(g->iv, sizeof g->iv, v->iv);
}

static void
gcm_unload(Gcm *g)
{
	g_free(g->key);
	g_free(g->pt);
	g_free(g->aad);
	g_free(g->ct);
	g_free(g->tag);
}

/* Checks one vector through the one-shot functions and through a reusable
 * context (used twice, so that per-record reset is exercised), including
 * in-place operation and rejection of a flipped tag bit. */
static void
test_gcm(gconstpointer data)
{
	Gcm g;
	ParleyAead *aead;
	uint8_t tag[16], *buf;
	size_t alloc;
	int round;

	gcm_load(&g, data);
	alloc = g.len + 1;              /* never a zero-size allocation */
	buf = g_malloc(alloc);

	/* one-shot seal and open */
	g_assert_true(parley_aes_gcm_seal(g.key, g.key_len, g.iv, g.aad,
	                                  g.aad_len, g.pt, g.len, buf, tag));
	g_assert_cmpmem(buf, g.len, g.ct, g.len);
	g_assert_cmpmem(tag, 16, g.tag, 16);
	memset(buf, 0xaa, alloc);
	g_assert_true(parley_aes_gcm_open(g.key, g.key_len, g.iv, g.aad,
	                                  g.aad_len, g.ct, g.len, g.tag, buf));
	g_assert_cmpmem(buf, g.len, g.pt, g.len);

	/* a reusable context, twice over */
	aead = parley_aead_new(g.key, g.key_len);
	g_assert_nonnull(aead);
	for (round = 0; round < 2; round++) {
		memset(tag, 0, sizeof tag);
		g_assert_true(parley_aead_seal(aead, g.iv, g.aad, g.aad_len,
		                               g.pt, g.len, buf, tag));
		g_assert_cmpmem(buf, g.len, g.ct, g.len);
		g_assert_cmpmem(tag, 16, g.tag, 16);
		memset(buf, 0xaa, alloc);
		g_assert_true(parley_aead_open(aead, g.iv, g.aad, g.aad_len,
		                               g.ct, g.len, g.tag, buf));
		g_assert_cmpmem(buf, g.len, g.pt, g.len);
	}

	/* in place: pt == ct */
	memcpy(buf, g.pt, g.len);
	g_assert_true(parley_aead_seal(aead, g.iv, g.aad, g.aad_len,
	                               buf, g.len, buf, tag));
	g_assert_cmpmem(buf, g.len, g.ct, g.len);
	g_assert_cmpmem(tag, 16, g.tag, 16);
	g_assert_true(parley_aead_open(aead, g.iv, g.aad, g.aad_len,
	                               buf, g.len, tag, buf));
	g_assert_cmpmem(buf, g.len, g.pt, g.len);

	/* a flipped tag bit: refused, and the output is wiped */
	memcpy(tag, g.tag, 16);
	tag[15] ^= 0x01;
	memset(buf, 0xaa, alloc);
	g_assert_false(parley_aead_open(aead, g.iv, g.aad, g.aad_len,
	                                g.ct, g.len, tag, buf));
	g_assert_true(all_zero(buf, g.len));
	memset(buf, 0xaa, alloc);
	g_assert_false(parley_aes_gcm_open(g.key, g.key_len, g.iv, g.aad,
	                                   g.aad_len, g.ct, g.len, tag, buf));
	g_assert_true(all_zero(buf, g.len));

	/* the context still works after a failure */
	g_assert_true(parley_aead_open(aead, g.iv, g.aad, g.aad_len,
	                               g.ct, g.len, g.tag, buf));
	g_assert_cmpmem(buf, g.len, g.pt, g.len);

	parley_aead_free(aead);
	g_free(buf);
	gcm_unload(&g);
}

/* A listener with many peers holds far more cipher contexts than
 * libgcrypt's first secure-memory pool (64 KiB) can take: contexts, HMAC
 * and PBKDF2 must go on working, with the right results, however many
 * contexts are alive (the pool was once exhausted at some 30 contexts, and
 * handshakes then failed with wrong tags). */
static void
test_many_contexts(void)
{
	enum { N = 3000 };
	static const uint8_t key[32] = { 1, 2, 3 }, nonce[12] = { 4, 5, 6 };
	ParleyAead **all = g_new0(ParleyAead *, N);
	uint8_t pt[16] = "sixteen bytes..", ct[16], back[16], tag[16], ref_ct[16], ref_tag[16];
	uint8_t mac[32], dk[64];
	void *p;
	int i;

	g_assert_true(parley_aes_gcm_seal(key, 32, nonce, NULL, 0, pt, 16, ref_ct, ref_tag));
	for (i = 0; i < N; i++) {
		all[i] = parley_aead_new(key, 32);
		g_assert_nonnull(all[i]);
	}
	for (i = 0; i < N; i += 499) {
		g_assert_true(parley_aead_seal(all[i], nonce, NULL, 0, pt, 16, ct, tag));
		g_assert_cmpmem(ct, 16, ref_ct, 16);
		g_assert_cmpmem(tag, 16, ref_tag, 16);
		g_assert_true(parley_aead_open(all[i], nonce, NULL, 0, ct, 16, tag, back));
		g_assert_cmpmem(back, 16, pt, 16);
	}

	/* with all of them alive: secure memory, HMAC, PBKDF2 */
	p = parley_secure_alloc(64);
	g_assert_nonnull(p);
	parley_secure_free(p, 64);
	g_assert_true(parley_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac));
	assert_hex(mac, sizeof mac,
	           "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	g_assert_true(parley_pbkdf2_sha256("passwd", 6, "salt", 4, 1, dk, sizeof dk));
	assert_hex(dk, sizeof dk,
	           "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
	           "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");

	for (i = 0; i < N; i++)
		parley_aead_free(all[i]);
	g_free(all);
}

/* Every single-bit change of ciphertext, AAD, nonce or tag is refused. */
static void
test_gcm_tamper(void)
{
	Gcm g;
	ParleyAead *aead;
	uint8_t pt[60], ct[60], tag[16], iv[12];
	size_t i;

	gcm_load(&g, &gcm_tc16);
	aead = parley_aead_new(g.key, g.key_len);
	g_assert_nonnull(aead);

	for (i = 0; i < 8 * g.len; i++) {
		memcpy(ct, g.ct, g.len);
		ct[i / 8] ^= (uint8_t) (1u << (i % 8));
		memset(pt, 0xaa, sizeof pt);
		g_assert_false(parley_aead_open(aead, g.iv, g.aad, g.aad_len,
		                                ct, g.len, g.tag, pt));
		g_assert_true(all_zero(pt, sizeof pt));
	}
	for (i = 0; i < g.aad_len; i++) {
		g.aad[i] ^= 0x40;
		g_assert_false(parley_aead_open(aead, g.iv, g.aad, g.aad_len,
		                                g.ct, g.len, g.tag, pt));
		g.aad[i] ^= 0x40;
	}
	for (i = 0; i < sizeof iv; i++) {
		memcpy(iv, g.iv, sizeof iv);
		iv[i] ^= 0x02;
		g_assert_false(parley_aead_open(aead, iv, g.aad, g.aad_len,
		                                g.ct, g.len, g.tag, pt));
	}
	for (i = 0; i < 8 * sizeof tag; i++) {
		memcpy(tag, g.tag, sizeof tag);
		tag[i / 8] ^= (uint8_t) (1u << (i % 8));
		g_assert_false(parley_aead_open(aead, g.iv, g.aad, g.aad_len,
		                                g.ct, g.len, tag, pt));
	}
	/* dropping the AAD altogether */
	g_assert_false(parley_aead_open(aead, g.iv, NULL, 0,
	                                g.ct, g.len, g.tag, pt));

	parley_aead_free(aead);
	gcm_unload(&g);
}

/* Zero-length plaintext with AAD only (a record header and nothing else). */
static void
test_gcm_aad_only(void)
{
	uint8_t key[32], iv[12], tag[16], tag2[16];
	static const uint8_t aad[5] = { 0x17, 0, 0, 0, 1 };
	ParleyAead *aead;

	memset(key, 0x42, sizeof key);
	memset(iv, 0x24, sizeof iv);
	aead = parley_aead_new(key, sizeof key);
	g_assert_nonnull(aead);
	g_assert_true(parley_aead_seal(aead, iv, aad, sizeof aad,
	                               NULL, 0, NULL, tag));
	g_assert_true(parley_aes_gcm_seal(key, sizeof key, iv, aad, sizeof aad,
	                                  NULL, 0, NULL, tag2));
	g_assert_cmpmem(tag, 16, tag2, 16);
	/* computed with pyca/cryptography's AESGCM */
	assert_hex(tag, 16, "c2cbf16e2ee4b98707bd3d912e6af544");
	g_assert_true(parley_aead_open(aead, iv, aad, sizeof aad,
	                               NULL, 0, tag, NULL));
	tag[0] ^= 1;
	g_assert_false(parley_aead_open(aead, iv, aad, sizeof aad,
	                                NULL, 0, tag, NULL));
	parley_aead_free(aead);
}

static void
test_gcm_bad_key(void)
{
	uint8_t key[24] = { 0 }, iv[12] = { 0 }, pt[4] = { 1, 2, 3, 4 };
	uint8_t ct[4], tag[16];

	g_assert_null(parley_aead_new(key, 24));
	g_assert_null(parley_aead_new(key, 0));
	memset(ct, 0xaa, sizeof ct);
	memset(tag, 0xaa, sizeof tag);
	g_assert_false(parley_aes_gcm_seal(key, 24, iv, NULL, 0, pt, 4, ct, tag));
	g_assert_true(all_zero(ct, sizeof ct));
	g_assert_true(all_zero(tag, sizeof tag));
	memset(pt, 0xaa, sizeof pt);
	g_assert_false(parley_aes_gcm_open(key, 24, iv, NULL, 0, ct, 4, tag, pt));
	g_assert_true(all_zero(pt, sizeof pt));
	parley_aead_free(NULL);
}

/* ------------------------------------------------------------------------ */
/* X25519: RFC 7748                                                         */

static void
check_x25519(const char *scalar, const char *u, const char *want)
{
	uint8_t k[32], p[32], out[32];

	unhex_into(k, 32, scalar);
	unhex_into(p, 32, u);
	g_assert_true(parley_x25519(out, k, p));
	assert_hex(out, 32, want);
}

static void
test_x25519_rfc7748_vector1(void)
{
	check_x25519("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
	             "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
	             "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
}

static void
test_x25519_rfc7748_vector2(void)
{
	/* u has bit 255 set: it must be masked */
	check_x25519("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
	             "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
	             "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");
}

static void
x25519_iterate(int n, const char *want)
{
	uint8_t k[32] = { 9 }, u[32] = { 9 }, r[32];
	int i;

	/* RFC 7748 §5.2: k, u = X25519(k, u), k */
	for (i = 0; i < n; i++) {
		g_assert_true(parley_x25519(r, k, u));
		memcpy(u, k, 32);
		memcpy(k, r, 32);
	}
	assert_hex(k, 32, want);
}

static void
test_x25519_iterated_1(void)
{
	x25519_iterate(1, "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079");
}

static void
test_x25519_iterated_1000(void)
{
	x25519_iterate(1000, "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
}

static void
test_x25519_rfc7748_dh(void)
{
	uint8_t a[32], b[32], pa[32], pb[32], ka[32], kb[32];

	unhex_into(a, 32, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
	unhex_into(b, 32, "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
	g_assert_true(parley_x25519_base(pa, a));
	assert_hex(pa, 32, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
	g_assert_true(parley_x25519_base(pb, b));
	assert_hex(pb, 32, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
	g_assert_true(parley_x25519(ka, a, pb));
	g_assert_true(parley_x25519(kb, b, pa));
	assert_hex(ka, 32, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
	g_assert_cmpmem(ka, 32, kb, 32);
}

static void
test_x25519_zero(void)
{
	uint8_t k[32], zero[32] = { 0 }, out[32];

	memset(k, 0x77, sizeof k);
	memset(out, 0xaa, sizeof out);
	g_assert_false(parley_x25519(out, k, zero));
	g_assert_true(all_zero(out, sizeof out));
}

/* draft-irtf-cfrg-cpace, "Test vectors for G_X25519.scalar_mult_vfy: low
 * order points" (the same as negative.low_order_points in parley-v2.json). */
static const struct {
	const char *u, *q;      /* q == NULL: the result is zero, abort */
} low_order[] = {
	{ "0000000000000000000000000000000000000000000000000000000000000000", NULL },
	{ "0100000000000000000000000000000000000000000000000000000000000000", NULL },
	{ "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", NULL },
	{ "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", NULL },
	{ "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157", NULL },
	{ "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", NULL },
	{ "daffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	  "d8e2c776bbacd510d09fd9278b7edcd25fc5ae9adfba3b6e040e8d3b71b21806" },
	{ "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", NULL },
	{ "dbffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	  "c85c655ebe8be44ba9c0ffde69f2fe10194458d137f09bbff725ce58803cdb38" },
	{ "d9ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	  "db64dafa9b8fdd136914e61461935fe92aa372cb056314e1231bc4ec12417456" },
	{ "cdeb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880",
	  "e062dcd5376d58297be2618c7498f55baa07d7e03184e8aada20bca28888bf7a" },
	{ "4c9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7",
	  "993c6ad11c4c29da9a56f7691fd0ff8d732e49de6250b6c2e80003ff4629a175" },
};

static void
test_x25519_low_order(void)
{
	uint8_t s[32], u[32], out[32];
	size_t i;

	unhex_into(s, 32, "af46e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449aff");
	for (i = 0; i < G_N_ELEMENTS(low_order); i++) {
		g_test_message("u%zx", i);
		unhex_into(u, 32, low_order[i].u);
		memset(out, 0xaa, sizeof out);
		if (low_order[i].q == NULL) {
			g_assert_false(parley_x25519(out, s, u));
			g_assert_true(all_zero(out, sizeof out));
		} else {
			g_assert_true(parley_x25519(out, s, u));
			assert_hex(out, 32, low_order[i].q);
		}
	}
}

/* ------------------------------------------------------------------------ */
/* CPace strings and the generator                                          */

static void
test_lv_cat(void)
{
	GByteArray *a = g_byte_array_new();
	uint8_t big[128];

	/* draft-irtf-cfrg-cpace "Testvector for lv_cat()", also in
	 * parley-v2.json lv_cat_examples[0] */
	parley_lv_append(a, "1234", 4);
	parley_lv_append(a, "5", 1);
	parley_lv_append(a, "", 0);
	parley_lv_append(a, "678", 3);
	assert_hex(a->data, a->len, "043132333401350003363738");

	/* prepend_len(bytes(range(127))) and (range(128)): the first two-byte
	 * length; lv_cat_examples[1] is 128 zero bytes */
	for (guint i = 0; i < sizeof big; i++)
		big[i] = (uint8_t) i;
	g_byte_array_set_size(a, 0);
	parley_lv_append(a, big, 127);
	g_assert_cmpuint(a->len, ==, 128);
	g_assert_cmpuint(a->data[0], ==, 0x7f);
	g_assert_cmpmem(a->data + 1, 127, big, 127);
	g_byte_array_set_size(a, 0);
	parley_lv_append(a, big, 128);
	g_assert_cmpuint(a->len, ==, 130);
	g_assert_cmpuint(a->data[0], ==, 0x80);
	g_assert_cmpuint(a->data[1], ==, 0x01);
	g_assert_cmpmem(a->data + 2, 128, big, 128);
	memset(big, 0, sizeof big);
	g_byte_array_set_size(a, 0);
	parley_lv_append(a, big, 128);
	assert_hex(a->data, a->len,
	           "8001000000000000000000000000000000000000000000000000000000000000"
	           "0000000000000000000000000000000000000000000000000000000000000000"
	           "0000000000000000000000000000000000000000000000000000000000000000"
	           "0000000000000000000000000000000000000000000000000000000000000000"
	           "0000");
	/* 300 = 0xac 0x02 */
	g_byte_array_set_size(a, 0);
	{
		uint8_t *z = g_malloc0(300);

		parley_lv_append(a, z, 300);
		g_free(z);
	}
	g_assert_cmpuint(a->len, ==, 302);
	g_assert_cmpuint(a->data[0], ==, 0xac);
	g_assert_cmpuint(a->data[1], ==, 0x02);
	g_byte_array_unref(a);
}

/* parley_lv_put: the same bytes as parley_lv_append, into a fixed buffer
 * that never grows; what does not fit is refused whole. */
static void
test_lv_put(void)
{
	uint8_t buf[140], big[128];
	size_t at = 0;

	g_assert_true(parley_lv_put(buf, sizeof buf, &at, "1234", 4));
	g_assert_true(parley_lv_put(buf, sizeof buf, &at, "5", 1));
	g_assert_true(parley_lv_put(buf, sizeof buf, &at, "", 0));
	g_assert_true(parley_lv_put(buf, sizeof buf, &at, "678", 3));
	assert_hex(buf, at, "043132333401350003363738");

	memset(big, 0, sizeof big);
	at = 0;
	g_assert_true(parley_lv_put(buf, sizeof buf, &at, big, 128));
	g_assert_cmpuint(at, ==, 130);
	g_assert_cmpuint(buf[0], ==, 0x80);
	g_assert_cmpuint(buf[1], ==, 0x01);

	/* 130 + 1 + 9 fits exactly; one more byte does not, and nothing of
	 * it is written */
	memset(buf + 130, 0xee, sizeof buf - 130);
	g_assert_false(parley_lv_put(buf, sizeof buf, &at, "123456789x", 10));
	g_assert_cmpuint(at, ==, 130);
	g_assert_cmpuint(buf[130], ==, 0xee);
	g_assert_true(parley_lv_put(buf, sizeof buf, &at, "123456789", 9));
	g_assert_cmpuint(at, ==, sizeof buf);
	g_assert_false(parley_lv_put(buf, sizeof buf, &at, "", 0));
	g_assert_cmpuint(at, ==, sizeof buf);
}

/* draft-irtf-cfrg-cpace, "Test vector for CPace using group X25519 and hash
 * SHA-512" */
#define DRAFT_CI   "0b415f696e69746961746f720b425f726573706f6e646572"
#define DRAFT_SID  "7e4b4791d6a8ef019b936c79fb7f2c57"

static void
test_cpace_draft_generator(void)
{
	GByteArray *gs = g_byte_array_new();
	size_t ci_len, sid_len;
	uint8_t *ci = unhex(DRAFT_CI, &ci_len);
	uint8_t *sid = unhex(DRAFT_SID, &sid_len);
	uint8_t hash[64], g[32];

	parley_cpace_generator_string(gs, "CPace255", 8, "Password", 8,
	                              ci, ci_len, sid, sid_len);
	g_assert_cmpuint(gs->len, ==, 170);
	assert_hex(gs->data, gs->len,
	           "0843506163653235350850617373776f72646d000000000000000000"
	           "00000000000000000000000000000000000000000000000000000000"
	           "00000000000000000000000000000000000000000000000000000000"
	           "00000000000000000000000000000000000000000000000000000000"
	           "00000000000000000000000000000000180b415f696e69746961746f"
	           "720b425f726573706f6e646572107e4b4791d6a8ef019b936c79fb7f"
	           "2c57");
	g_assert_true(parley_sha512(gs->data, gs->len, hash));
	assert_hex(hash, 32,
	           "03998087bdb1a2617bbe25ef5a7c18cd4f84f902328701790958755e"
	           "e4aed1d3");
	/* The map clears bit 255 itself (decoded element ...e4aed153). */
	parley_elligator2_x25519(g, hash);
	assert_hex(g, 32,
	           "d04bf6d41f6a289632a2e929fa29bebd51092512a7829fdde7d314b6"
	           "2f05a73f");
	hash[31] &= 0x7f;
	assert_hex(hash, 32,
	           "03998087bdb1a2617bbe25ef5a7c18cd4f84f902328701790958755e"
	           "e4aed153");
	parley_elligator2_x25519(g, hash);
	assert_hex(g, 32,
	           "d04bf6d41f6a289632a2e929fa29bebd51092512a7829fdde7d314b6"
	           "2f05a73f");

	g_free(sid);
	g_free(ci);
	g_byte_array_unref(gs);
}

static void
test_cpace_draft_exchange(void)
{
	uint8_t g[32], ya[32], yb[32], Ya[32], Yb[32], ka[32], kb[32];
	uint8_t sid[16], isk[64];
	GByteArray *t = g_byte_array_new();

	unhex_into(g, 32, "d04bf6d41f6a289632a2e929fa29bebd51092512a7829fdde7d314b6"
	                  "2f05a73f");
	unhex_into(sid, 16, DRAFT_SID);
	unhex_into(ya, 32, "21b4f4bd9e64ed355c3eb676a28ebedaf6d8f17bdc365995b3190971"
	                   "53044080");
	unhex_into(yb, 32, "848b0779ff415f0af4ea14df9dd1d3c29ac41d836c7808896c4eba19"
	                   "c51ac40a");

	g_assert_true(parley_x25519(Ya, ya, g));
	assert_hex(Ya, 32, "1d13c89278cdadd826f6d8d7f887701430f8380ddc17611cdd6dc989"
	                   "ce0c9f32");
	g_assert_true(parley_x25519(Yb, yb, g));
	assert_hex(Yb, 32, "248cccf6d5cdc3646f0ad593f9e6cef4e69d4945f8372e623512ecea"
	                   "32185623");
	g_assert_true(parley_x25519(ka, ya, Yb));
	g_assert_true(parley_x25519(kb, yb, Ya));
	assert_hex(ka, 32, "5b067effbdc0b2a0e1d907b21ebb25cfedb96a852179a847c37e43ee"
	                   "71322c6b");
	g_assert_cmpmem(ka, 32, kb, 32);

	/* ISK_IR = H(lv_cat(DSI || "_ISK", sid, K) || transcript_ir(...)) */
	parley_lv_append(t, "CPace255_ISK", 12);
	parley_lv_append(t, sid, 16);
	parley_lv_append(t, ka, 32);
	parley_lv_append(t, Ya, 32);
	parley_lv_append(t, "ADa", 3);
	parley_lv_append(t, Yb, 32);
	parley_lv_append(t, "ADb", 3);
	assert_hex(t->data, t->len,
	           "0c43506163653235355f49534b107e4b4791d6a8ef019b936c79fb7f"
	           "2c57205b067effbdc0b2a0e1d907b21ebb25cfedb96a852179a847c3"
	           "7e43ee71322c6b201d13c89278cdadd826f6d8d7f887701430f8380d"
	           "dc17611cdd6dc989ce0c9f320341446120248cccf6d5cdc3646f0ad5"
	           "93f9e6cef4e69d4945f8372e623512ecea3218562303414462");
	g_assert_true(parley_sha512(t->data, t->len, isk));
	assert_hex(isk, 64,
	           "6e19b875f7a561d6b3ca3dbb9ef42ac55de3e717881018204b8922b4"
	           "d5e53bb2aa82c300bea7b65d2b671da71922ddf6472301b79bc270ad"
	           "fa8bf413285f2263");
	g_byte_array_unref(t);
}

/* Elligator 2 on inputs that reach both branches and the edges of the
 * field (u = 0, p - 1, p, 2^256 - 1); expected values from an independent
 * Python implementation of RFC 9380 §6.7.1. */
static const struct {
	const char *u, *g;
} ell2[] = {
	{ "0000000000000000000000000000000000000000000000000000000000000000",
	  "0000000000000000000000000000000000000000000000000000000000000000" },
	{ "0100000000000000000000000000000000000000000000000000000000000000",
	  "9cdb525555555555555555555555555555555555555555555555555555555555" },
	{ "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	  "9cdb525555555555555555555555555555555555555555555555555555555555" },
	{ "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	  "0000000000000000000000000000000000000000000000000000000000000000" },
	{ "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	  "1e5942dd97c756040d27755f1e5b11349cd47d796c45d07052f7e5b11541c349" },
	{ "a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0",
	  "4e4f2e5ed55e3fe54667e2a6bf7b6f8ddaef6038d1ea8a6f0bfec16ce9792d41" },
	{ "5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f",
	  "6747a0833faa2796aff9f01888e8a5078be08c9358b6d4c1d0ae742714b42f6c" },
	{ "a4abd4448c49562d828115d13a1fccea927f52b4d5459297f8b43e42da89238b",
	  "c9939ab950a53c24d3b3f7a47b66c765a2ac8091b99713c8dcbfab4a9694f71d" },
	{ "121b4774a759924a2929c4a412fb6e31b9aaa746466840efcc4a76d69a94149e",
	  "b12fa60ee2328b273fd3ed3ebbb27aa65e9d662f8f7223a2eb9f350b000fe30a" },
};

static void
test_elligator2(void)
{
	uint8_t u[32], g[32];
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(ell2); i++) {
		g_test_message("vector %zu", i);
		unhex_into(u, 32, ell2[i].u);
		parley_elligator2_x25519(g, u);
		assert_hex(g, 32, ell2[i].g);
	}
}

/* ------------------------------------------------------------------------ */
/* field25519.c against libgcrypt's MPI arithmetic                           */

/* Where limb i of a ParleyFe starts, and what a carried limb stays below
 * (field25519.h). */
static const unsigned fe_pos[10] = { 0, 26, 51, 77, 102, 128, 153, 179, 204, 230 };

static uint32_t
fe_limb_bound(int i)
{
	if (i == 1)
		return (1u << 25) + (1u << 14);
	return (i & 1) ? 1u << 25 : 1u << 26;
}

static gcry_mpi_t
mpi_p25519(void)
{
	gcry_mpi_t p = gcry_mpi_set_ui(NULL, 1);

	gcry_mpi_mul_2exp(p, p, 255);
	gcry_mpi_sub_ui(p, p, 19);
	return p;
}

/* The integer the limbs of f stand for (not reduced). */
static gcry_mpi_t
mpi_of_fe(const ParleyFe *f)
{
	gcry_mpi_t x = gcry_mpi_new(0), t = gcry_mpi_new(0);
	int i;

	for (i = 0; i < 10; i++) {
		gcry_mpi_set_ui(t, f->v[i]);
		gcry_mpi_mul_2exp(t, t, fe_pos[i]);
		gcry_mpi_add(x, x, t);
	}
	gcry_mpi_release(t);
	return x;
}

/* 32 little-endian bytes with bit 255 cleared, as an MPI. */
static gcry_mpi_t
mpi_of_le255(const uint8_t s[32])
{
	uint8_t be[32];
	gcry_mpi_t x = NULL;
	size_t i;

	for (i = 0; i < 32; i++)
		be[i] = s[31 - i];
	be[0] &= 0x7f;
	g_assert_cmpint(gcry_mpi_scan(&x, GCRYMPI_FMT_USG, be, 32, NULL), ==, 0);
	return x;
}

/* x mod p, as 32 canonical little-endian bytes. */
static void
mpi_to_le_mod(uint8_t out[32], gcry_mpi_t x, gcry_mpi_t p)
{
	gcry_mpi_t r = gcry_mpi_new(0);
	uint8_t be[32];
	size_t n = 0, i;

	gcry_mpi_mod(r, x, p);
	g_assert_cmpint(gcry_mpi_print(GCRYMPI_FMT_USG, be, 32, &n, r), ==, 0);
	memset(out, 0, 32);
	for (i = 0; i < n; i++)
		out[i] = be[n - 1 - i];
	gcry_mpi_release(r);
}

/* f is carried and stands for want mod p; to_bytes gives it canonically. */
static void
assert_fe(const ParleyFe *f, gcry_mpi_t want, gcry_mpi_t p)
{
	uint8_t a[32], b[32];
	gcry_mpi_t x;
	int i;

	for (i = 0; i < 10; i++)
		g_assert_cmpuint(f->v[i], <, fe_limb_bound(i));
	x = mpi_of_fe(f);
	mpi_to_le_mod(a, x, p);
	mpi_to_le_mod(b, want, p);
	g_assert_cmpmem(a, 32, b, 32);
	parley_fe_to_bytes(a, f);
	g_assert_cmpmem(a, 32, b, 32);
	g_assert_cmpuint(parley_fe_is_zero(f), ==, all_zero(b, 32));
	gcry_mpi_release(x);
}

/* Random 32 bytes of one of several shapes, all following the GTest seed:
 * uniform, small, just below p, at or above p (bit 255 random in all). */
static void
rand_le32(uint8_t s[32])
{
	guint32 shape = (guint32) g_test_rand_int_range(0, 8);
	size_t i;

	for (i = 0; i < 32; i++)
		s[i] = (uint8_t) g_test_rand_int();
	if (shape == 0) {                       /* small: below 2^32 */
		memset(s + 4, 0, 27);
		s[31] &= 0x80;
	} else if (shape == 1 || shape == 2) {  /* p - k, k < 2^16 */
		guint32 k = (guint32) g_test_rand_int_range(0, 65536);
		uint8_t bit = s[31] & 0x80;

		memset(s, 0xff, 32);
		s[31] = 0x7f | bit;
		/* 2^255 - 1 - (18 + k) */
		k += 18;
		s[0] = (uint8_t) (0xff - (k & 0xff));
		s[1] = (uint8_t) (0xff - (k >> 8));
	} else if (shape == 3) {                /* p .. 2^255 - 1 */
		memset(s + 1, 0xff, 31);
		s[31] |= 0x7f;
		s[0] = (uint8_t) (0xed + g_test_rand_int_range(0, 19));
	}
}

/* Two carried elements and the integers they stand for, through every
 * operation, compared with MPI; with_pow adds the two exponentiations. */
static void
check_field_ops(const ParleyFe *a, const ParleyFe *b, gboolean with_pow,
                gcry_mpi_t p)
{
	gcry_mpi_t ma = mpi_of_fe(a), mb = mpi_of_fe(b), w = gcry_mpi_new(0);
	gcry_mpi_t e = gcry_mpi_new(0);
	ParleyFe c, d;

	parley_fe_add(&c, a, b);
	gcry_mpi_addm(w, ma, mb, p);
	assert_fe(&c, w, p);
	parley_fe_sub(&c, a, b);
	gcry_mpi_subm(w, ma, mb, p);
	assert_fe(&c, w, p);
	parley_fe_mul(&c, a, b);
	gcry_mpi_mulm(w, ma, mb, p);
	assert_fe(&c, w, p);
	parley_fe_sq(&c, a);
	gcry_mpi_mulm(w, ma, ma, p);
	assert_fe(&c, w, p);

	/* aliasing: h = f op h */
	d = *b;
	parley_fe_mul(&d, a, &d);
	gcry_mpi_mulm(w, ma, mb, p);
	assert_fe(&d, w, p);

	gcry_mpi_subm(w, ma, mb, p);
	g_assert_cmpuint(parley_fe_equal(a, b), ==, gcry_mpi_cmp_ui(w, 0) == 0);
	g_assert_cmpuint(parley_fe_equal(a, a), ==, 1);
	d = *a;
	parley_fe_cmov(&d, b, 0);
	g_assert_cmpmem(&d, sizeof d, a, sizeof *a);
	parley_fe_cmov(&d, b, 1);
	g_assert_cmpmem(&d, sizeof d, b, sizeof *b);

	if (with_pow) {
		/* inv0: a^(p-2), 0 for 0 */
		gcry_mpi_sub_ui(e, p, 2);
		gcry_mpi_powm(w, ma, e, p);
		parley_fe_invert(&c, a);
		assert_fe(&c, w, p);
		gcry_mpi_sub_ui(e, p, 1);
		gcry_mpi_rshift(e, e, 1);
		gcry_mpi_powm(w, ma, e, p);
		parley_fe_legendre(&c, a);
		assert_fe(&c, w, p);
	}
	gcry_mpi_release(e);
	gcry_mpi_release(w);
	gcry_mpi_release(mb);
	gcry_mpi_release(ma);
}

static void
test_field25519(void)
{
	static const char *const edges[] = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
		"0000000000000000000000000000000000000000000000000000000000000040",
		"ffffff0300000000000000000000000000000000000000000000000000000000",
		"0000000000000000000000000000000000000000000000000000feffffffff7f",
	};
	gcry_mpi_t p = mpi_p25519(), w;
	ParleyFe a, b, c, x, top;
	uint8_t s[32], t[32];
	size_t i, j;
	int n;

	g_assert_true(parley_crypto_init());

	/* from_bytes / to_bytes on the edges, and every pair of them. */
	for (i = 0; i < G_N_ELEMENTS(edges); i++) {
		unhex_into(s, 32, edges[i]);
		parley_fe_from_bytes(&a, s);
		w = mpi_of_le255(s);
		assert_fe(&a, w, p);
		gcry_mpi_release(w);
		for (j = 0; j < G_N_ELEMENTS(edges); j++) {
			unhex_into(t, 32, edges[j]);
			parley_fe_from_bytes(&b, t);
			check_field_ops(&a, &b, j == 0, p);
		}
	}

	/* Every limb at the largest value a carried element may hold. */
	for (i = 0; i < 10; i++)
		top.v[i] = fe_limb_bound((int) i) - 1;
	w = mpi_of_fe(&top);
	assert_fe(&top, w, p);
	gcry_mpi_release(w);
	check_field_ops(&top, &top, TRUE, p);
	parley_fe_set_small(&b, 0);
	check_field_ops(&b, &top, TRUE, p);
	check_field_ops(&top, &b, FALSE, p);

	/* inv0(0) = 0, and p (as bytes) is zero. */
	parley_fe_set_small(&a, 0);
	parley_fe_invert(&b, &a);
	g_assert_cmpuint(parley_fe_is_zero(&b), ==, 1);
	unhex_into(s, 32, edges[3]);
	parley_fe_from_bytes(&a, s);
	g_assert_cmpuint(parley_fe_is_zero(&a), ==, 1);

	/* Random operands, and outputs fed back in (carried limbs with their
	 * excess, not fresh from bytes). */
	parley_fe_set_small(&x, 7);
	for (n = 0; n < 20000; n++) {
		rand_le32(s);
		rand_le32(t);
		parley_fe_from_bytes(&a, s);
		parley_fe_from_bytes(&b, t);
		check_field_ops(&a, &b, n % 20 == 0, p);
		parley_fe_mul(&c, &a, &x);
		check_field_ops(&c, &x, FALSE, p);
		parley_fe_sub(&x, &c, &b);
	}
	gcry_mpi_release(p);
}

/* The constant-time map gives what the MPI-based map gave, byte for byte:
 * on the edges of the field, every non-canonical input (p .. 2^255 - 1),
 * and 100,000 random inputs of several shapes, reaching both branches. */
static void
test_elligator2_vs_mpi(void)
{
	static const char *const edges[] = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"0200000000000000000000000000000000000000000000000000000000000000",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"ebffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
		"0000000000000000000000000000000000000000000000000000000000000080",
		"0000000000000000000000000000000000000000000000000000000000000040",
	};
	uint8_t u[32], g1[32], g2[32];
	guint squares = 0, non_squares = 0;
	gboolean sq;
	gcry_mpi_t p = mpi_p25519(), w = gcry_mpi_new(0), e = gcry_mpi_new(0);
	gcry_mpi_t two = gcry_mpi_set_ui(NULL, 2);
	size_t i;
	int n;

	g_assert_true(parley_crypto_init());

	for (i = 0; i < G_N_ELEMENTS(edges); i++) {
		unhex_into(u, 32, edges[i]);
		parley_elligator2_x25519(g1, u);
		g_assert_true(ref_elligator2_mpi(g2, u, &sq));
		g_assert_cmpmem(g1, 32, g2, 32);
	}
	/* p + k for k = 0..18: the non-canonical encodings, with and without
	 * bit 255 */
	for (n = 0; n < 2 * 19; n++) {
		memset(u, 0xff, 32);
		u[31] = n < 19 ? 0x7f : 0xff;
		u[0] = (uint8_t) (0xed + n % 19);
		parley_elligator2_x25519(g1, u);
		g_assert_true(ref_elligator2_mpi(g2, u, &sq));
		g_assert_cmpmem(g1, 32, g2, 32);
	}
	for (n = 0; n < 100000; n++) {
		rand_le32(u);
		parley_elligator2_x25519(g1, u);
		g_assert_true(ref_elligator2_mpi(g2, u, &sq));
		if (memcmp(g1, g2, 32) != 0) {
			GString *hex = g_string_new(NULL);

			for (i = 0; i < 32; i++)
				g_string_append_printf(hex, "%02x", u[i]);
			g_test_message("input %d differs: u = %s", n, hex->str);
			g_string_free(hex, TRUE);
		}
		g_assert_cmpmem(g1, 32, g2, 32);
		if (sq)
			squares++;
		else
			non_squares++;
	}
	g_test_message("gx1 square: %u, not: %u", squares, non_squares);
	g_assert_cmpuint(squares, >, 10000);
	g_assert_cmpuint(non_squares, >, 10000);

	/* The exceptional case of step 1, 1 + 2u^2 = 0, needs u^2 = -1/2,
	 * which is not a square mod p: (-1/2)^((p-1)/2) = -1.  So it cannot
	 * be reached, and inv0's zero case (tested above) is never used. */
	gcry_mpi_invm(w, two, p);
	gcry_mpi_subm(w, p, w, p);          /* -1/2 */
	gcry_mpi_sub_ui(e, p, 1);
	gcry_mpi_rshift(e, e, 1);
	gcry_mpi_powm(w, w, e, p);
	gcry_mpi_sub_ui(e, p, 1);
	g_assert_cmpint(gcry_mpi_cmp(w, e), ==, 0);

	gcry_mpi_release(two);
	gcry_mpi_release(e);
	gcry_mpi_release(w);
	gcry_mpi_release(p);
}

/* tests/data/parley-v2.json, handshakes[0] ("ascii"): the whole crypto
 * path of a handshake, from the passphrase to the epoch-0 keys, with the
 * version-2 commitment. */
static void
test_parley_v2_handshake0(void)
{
	static const char pass[] = "correct horse battery staple";
	uint8_t salt[16], sid[16], ya[32], yb[32], prs[32], g[32];
	uint8_t Ya[32], Yb[32], ka[32], kb[32], isk[64], mac_key[64], tag[64];
	uint8_t prk[32], okm[32], h[64];
	GByteArray *b = g_byte_array_new();
	size_t ada_len;
	uint8_t *ada;

	unhex_into(salt, 16, "7672cc30c3d836530db7a34da472cfeb");
	unhex_into(sid, 16, "d3fb89eddfba1497fb07cf450b69bee6");
	unhex_into(ya, 32, "ac6d840a5696db6a8e06822cc6faf63dae49b6a3d5cfd4fa177279537d07e315");
	unhex_into(yb, 32, "09ac528357a2161be37574c55db1309606570353c0b6f2a1b7b9d9b4262d58b9");
	ada = unhex("7672cc30c3d836530db7a34da472cfeb00030d40138805616c696365", &ada_len);

	/* §3 PRS */
	g_assert_true(parley_pbkdf2_sha256(pass, strlen(pass), salt, 16, 200000,
	                                   prs, 32));
	assert_hex(prs, 32, "d31343894e197f662ffaed937c41c01e340a9713c3632131146ff8a8f4fffedc");

	/* §4 generator string (CI "parley/2"), its hash, u and g */
	parley_cpace_generator_string(b, "CPace255", 8, prs, 32, "parley/2", 8,
	                              sid, 16);
	assert_hex(b->data, b->len,
	           "08435061636532353520d31343894e197f662ffaed937c41c01e340a9713c363"
	           "2131146ff8a8f4fffedc55000000000000000000000000000000000000000000"
	           "0000000000000000000000000000000000000000000000000000000000000000"
	           "0000000000000000000000000000000000000000000000000000000000000000"
	           "087061726c65792f3210d3fb89eddfba1497fb07cf450b69bee6");
	g_assert_true(parley_sha512(b->data, b->len, h));
	assert_hex(h, 32, "c5f3abb260f6a43c5a58327c140892b598e88a61871d42da4e9604f0210a5d06");
	h[31] &= 0x7f;
	assert_hex(h, 32, "c5f3abb260f6a43c5a58327c140892b598e88a61871d42da4e9604f0210a5d06");
	g_assert_true(parley_cpace_generator(g, prs, 32, sid));
	assert_hex(g, 32, "61c549f3d590f0a6538c993e1386db69b365952b4476d56b867e42e81ac8e931");

	/* Ya, its commitment (HS1), Yb, K */
	g_assert_true(parley_x25519(Ya, ya, g));
	assert_hex(Ya, 32, "c9fd7c3ba790001ab0c130f56c39b3ebf156fa11f6189f93db886f0ebe072643");
	g_byte_array_set_size(b, 0);
	parley_lv_append(b, "parley/2 commit", 15);
	parley_lv_append(b, sid, 16);
	parley_lv_append(b, Ya, 32);
	parley_lv_append(b, ada, ada_len);
	assert_hex(b->data, b->len,
	           "0f7061726c65792f3220636f6d6d697410d3fb89eddfba1497fb07cf450b69be"
	           "e620c9fd7c3ba790001ab0c130f56c39b3ebf156fa11f6189f93db886f0ebe07"
	           "26431c7672cc30c3d836530db7a34da472cfeb00030d40138805616c696365");
	g_assert_true(parley_sha512(b->data, b->len, h));
	assert_hex(h, 32, "70c275a1af516689a32172975a32e5dadb32c6d8e6a192c8d998b1e9cbcc468a");
	g_assert_true(parley_x25519(Yb, yb, g));
	assert_hex(Yb, 32, "ed7e6d2e18988b0f789424e770dd2c78cbac68c3a4cf1050d54772c3c492fe1f");
	g_assert_true(parley_x25519(ka, ya, Yb));
	g_assert_true(parley_x25519(kb, yb, Ya));
	g_assert_cmpmem(ka, 32, kb, 32);
	assert_hex(ka, 32, "4b60a123dab7a3b35fb9da23960ae2d181b243d986a8bae287a1148ceee9757d");

	/* ISK */
	g_byte_array_set_size(b, 0);
	parley_lv_append(b, "CPace255_ISK", 12);
	parley_lv_append(b, sid, 16);
	parley_lv_append(b, ka, 32);
	parley_lv_append(b, Ya, 32);
	parley_lv_append(b, ada, ada_len);
	parley_lv_append(b, Yb, 32);
	parley_lv_append(b, "\003bob", 4);
	g_assert_true(parley_sha512(b->data, b->len, isk));
	assert_hex(isk, 64,
	           "b7bdf8e3918bcdab528d6400399930bbc847b7086e816fb65ed664911406f739"
	           "cf50b2d197d34d547936994d62606f3a259faa9ecfad787544b249a0291a67cc");

	/* key confirmation: mac_key, Ta (HS3), Tb (HS4) */
	g_byte_array_set_size(b, 0);
	g_byte_array_append(b, (const guint8 *) "CPaceMac", 8);
	g_byte_array_append(b, sid, 16);
	g_byte_array_append(b, isk, 64);
	g_assert_true(parley_sha512(b->data, b->len, mac_key));
	assert_hex(mac_key, 64,
	           "d8d24abcb91824b6a2d44e97868d622d58a86c695453152a756a7aa2e48063ad"
	           "8ce0d2b73d11fd38753d8c2e3081b6ef863f765852bb418303710e7dbdf2cfbc");
	g_byte_array_set_size(b, 0);
	parley_lv_append(b, Ya, 32);
	parley_lv_append(b, ada, ada_len);
	g_assert_true(parley_hmac_sha512(mac_key, 64, b->data, b->len, tag));
	assert_hex(tag, 64,
	           "a06af6203a6aa5ad920f95627c0d11f7fef6c0fa750b73202334d564a656b30d"
	           "706070d4ef9f7947d14f214f13d7ede66bf2a94e98d619f1c030f199cbd6457a");
	g_byte_array_set_size(b, 0);
	parley_lv_append(b, Yb, 32);
	parley_lv_append(b, "\003bob", 4);
	g_assert_true(parley_hmac_sha512(mac_key, 64, b->data, b->len, tag));
	assert_hex(tag, 64,
	           "71024f30a79b5807ca78e662955495ef181a902d35e17a1196b57fe7d682d8aa"
	           "94add1793f988d325c646a5ba324374644b2458b243141a1c5107cbfcca8f7a2");

	/* §5 key schedule */
	g_assert_true(parley_hkdf_extract(sid, 16, isk, 64, prk));
	assert_hex(prk, 32, "55829a6beba540c65ab1ef5c9a0aba8060616b926266d3e2e5f272e572fa32e1");
	g_assert_true(parley_hkdf_expand(prk, "parley/2 i2r key", 16, okm, 32));
	assert_hex(okm, 32, "b1833d131ed5e1c58be5fd97f9d89f2d5003b98402f247fe70a64b3e23f11e6d");
	g_assert_true(parley_hkdf_expand(prk, "parley/2 i2r iv", 15, okm, 12));
	assert_hex(okm, 12, "082612f1c206a4eee04e3d6f");
	g_assert_true(parley_hkdf_expand(prk, "parley/2 r2i key", 16, okm, 32));
	assert_hex(okm, 32, "dae819045e831a6acd4a26d3c67b7fc3b194d30a6d8d1ac5e0e1d10df8a1e961");
	g_assert_true(parley_hkdf_expand(prk, "parley/2 r2i iv", 15, okm, 12));
	assert_hex(okm, 12, "d4366ed83d16686b9a245a0f");
	g_assert_true(parley_hkdf_expand(prk, "parley/2 chain", 14, okm, 32));
	assert_hex(okm, 32, "3cc773e54026d4c1a0203ab5982cd1980da63b4bc6c13580255de143f0df3178");
	g_assert_true(parley_hkdf_expand(prk, "parley/2 code", 13, okm, 4));
	assert_hex(okm, 4, "a5177f2e");

	g_free(ada);
	g_byte_array_unref(b);
}

/* A PRS of 128 bytes or more: two-byte length prefix, no padding. */
static void
test_cpace_generator_long_prs(void)
{
	uint8_t prs[200], sid[16], g1[32], g2[32], h[64];
	GByteArray *b = g_byte_array_new();

	memset(prs, 0x33, sizeof prs);
	memset(sid, 0x44, sizeof sid);
	parley_cpace_generator_string(b, "CPace255", 8, prs, sizeof prs,
	                              "parley/2", 8, sid, 16);
	/* 9 + (2 + 200) + (1 + 0) + 9 + 17 */
	g_assert_cmpuint(b->len, ==, 238);
	g_assert_cmpuint(b->data[9], ==, 0xc8);
	g_assert_cmpuint(b->data[10], ==, 0x01);
	g_assert_cmpuint(b->data[211], ==, 0x00);      /* zero-length zpad */
	g_assert_true(parley_sha512(b->data, b->len, h));
	parley_elligator2_x25519(g1, h);
	g_assert_true(parley_cpace_generator(g2, prs, sizeof prs, sid));
	g_assert_cmpmem(g1, 32, g2, 32);

	/* zpad is exactly 0 when DSI and PRS fill the block: 1 + 9 + 1 + 117 */
	g_byte_array_set_size(b, 0);
	parley_cpace_generator_string(b, "CPace255", 8, prs, 117,
	                              "parley/2", 8, sid, 16);
	g_assert_cmpuint(b->len, ==, 9 + 118 + 1 + 9 + 17);
	g_byte_array_set_size(b, 0);
	parley_cpace_generator_string(b, "CPace255", 8, prs, 116,
	                              "parley/2", 8, sid, 16);
	g_assert_cmpuint(b->len, ==, 9 + 117 + 2 + 9 + 17);
	g_byte_array_unref(b);
}

/* ------------------------------------------------------------------------ */
/* errors.c and event.c                                                     */

static void
test_strerror(void)
{
	const char *unknown = parley_strerror((ParleyError) 999);
	int e;

	g_assert_nonnull(unknown);
	for (e = PARLEY_ERR_NONE; e <= PARLEY_ERR_STATE; e++) {
		const char *s;

		if (e > PARLEY_ERR_REFUSED && e < PARLEY_ERR_LOCAL)
			continue;
		s = parley_strerror((ParleyError) e);
		g_assert_nonnull(s);
		g_assert_cmpuint(strlen(s), >, 5);
		g_assert_cmpint(s[strlen(s) - 1], ==, '.');
		g_assert_true(g_ascii_isupper(s[0]));
		g_assert_true(s != unknown);
	}
	g_assert_cmpstr(parley_strerror(PARLEY_ERR_AUTH), ==,
	                "The passphrases do not match.");
}

static void
test_event_clear(void)
{
	ParleyEvent ev;
	static const uint8_t zero[sizeof(ParleyEvent)];

	memset(&ev, 0, sizeof ev);
	ev.type = PARLEY_EV_MESSAGE;
	ev.text = g_strdup("secret\0text");
	ev.text_len = 6;
	ev.peer_name = g_strdup("alice");
	memset(ev.sid, 0x11, sizeof ev.sid);
	parley_event_clear(&ev);
	g_assert_cmpmem(&ev, sizeof ev, zero, sizeof zero);

	/* clearing twice, or an empty event, is fine */
	parley_event_clear(&ev);
	g_assert_null(ev.text);
	g_assert_null(ev.peer_name);
}

/* ------------------------------------------------------------------------ */

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	if (!parley_crypto_init()) {
		g_printerr("libgcrypt too old\n");
		return 1;
	}

	g_test_add_func("/crypto/init", test_init);
	g_test_add_func("/crypto/wipe", test_wipe);
	g_test_add_func("/crypto/ct-equal", test_ct_equal);
	g_test_add_func("/crypto/secure-alloc", test_secure_alloc);
	g_test_add_func("/crypto/random", test_random);

	g_test_add_func("/crypto/pbkdf2/rfc7914-1", test_pbkdf2_rfc7914_1);
	g_test_add_func("/crypto/pbkdf2/rfc7914-2", test_pbkdf2_rfc7914_2);
	g_test_add_func("/crypto/pbkdf2/refused", test_pbkdf2_refused);
	g_test_add_func("/crypto/pbkdf2/partial-block", test_pbkdf2_partial_block);

	g_test_add_func("/crypto/hmac/rfc4231-1", test_hmac_rfc4231_1);
	g_test_add_func("/crypto/hmac/rfc4231-2", test_hmac_rfc4231_2);
	g_test_add_func("/crypto/hmac/empty-key", test_hmac_empty_key);
	g_test_add_func("/crypto/sha512/fips180-abc", test_sha512_abc);

	g_test_add_data_func("/crypto/hkdf/rfc5869-a1", &hkdf_a1, test_hkdf);
	g_test_add_data_func("/crypto/hkdf/rfc5869-a2", &hkdf_a2, test_hkdf);
	g_test_add_data_func("/crypto/hkdf/rfc5869-a3", &hkdf_a3, test_hkdf);
	g_test_add_func("/crypto/hkdf/limits", test_hkdf_limits);

	g_test_add_data_func("/crypto/aes-gcm/tc1", &gcm_tc1, test_gcm);
	g_test_add_data_func("/crypto/aes-gcm/tc2", &gcm_tc2, test_gcm);
	g_test_add_data_func("/crypto/aes-gcm/tc3", &gcm_tc3, test_gcm);
	g_test_add_data_func("/crypto/aes-gcm/tc4", &gcm_tc4, test_gcm);
	g_test_add_data_func("/crypto/aes-gcm/tc13", &gcm_tc13, test_gcm);
	g_test_add_data_func("/crypto/aes-gcm/tc15", &gcm_tc15, test_gcm);
	g_test_add_data_func("/crypto/aes-gcm/tc16", &gcm_tc16, test_gcm);
	g_test_add_func("/crypto/aes-gcm/tamper", test_gcm_tamper);
	g_test_add_func("/crypto/aes-gcm/aad-only", test_gcm_aad_only);
	g_test_add_func("/crypto/aes-gcm/bad-key", test_gcm_bad_key);
	g_test_add_func("/crypto/aes-gcm/many-contexts", test_many_contexts);

	g_test_add_func("/crypto/x25519/rfc7748-5.2-1", test_x25519_rfc7748_vector1);
	g_test_add_func("/crypto/x25519/rfc7748-5.2-2", test_x25519_rfc7748_vector2);
	g_test_add_func("/crypto/x25519/rfc7748-iterated-1", test_x25519_iterated_1);
	g_test_add_func("/crypto/x25519/rfc7748-iterated-1000", test_x25519_iterated_1000);
	g_test_add_func("/crypto/x25519/rfc7748-6.1", test_x25519_rfc7748_dh);
	g_test_add_func("/crypto/x25519/zero", test_x25519_zero);
	g_test_add_func("/crypto/x25519/low-order", test_x25519_low_order);

	g_test_add_func("/crypto/cpace/lv-cat", test_lv_cat);
	g_test_add_func("/crypto/cpace/lv-put", test_lv_put);
	g_test_add_func("/crypto/cpace/draft-generator", test_cpace_draft_generator);
	g_test_add_func("/crypto/cpace/draft-exchange", test_cpace_draft_exchange);
	g_test_add_func("/crypto/cpace/elligator2", test_elligator2);
	g_test_add_func("/crypto/field25519/mpi", test_field25519);
	g_test_add_func("/crypto/cpace/elligator2-vs-mpi", test_elligator2_vs_mpi);
	g_test_add_func("/crypto/cpace/long-prs", test_cpace_generator_long_prs);
	g_test_add_func("/crypto/parley-v2/handshake-0", test_parley_v2_handshake0);

	g_test_add_func("/errors/strerror", test_strerror);
	g_test_add_func("/event/clear", test_event_clear);

	return g_test_run();
}
