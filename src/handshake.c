/*
 * handshake.c - §4 CPace (CPACE-X25519-SHA512, initiator-responder) with
 * explicit key confirmation, and the §5 key schedule.
 */
#include "handshake.h"

#include <string.h>

#include "crypto.h"
#include "frame.h"

#define HS_PREFIX_LEN 6                         /* magic, version, type */
#define HS1_FIXED_LEN (HS_PREFIX_LEN + PARLEY_SID_LEN + PARLEY_COMMIT_LEN + \
                       PARLEY_SALT_LEN + 4 + 2 + 1)   /* 77, then the name */
#define HS2_FIXED_LEN (HS_PREFIX_LEN + PARLEY_POINT_LEN + 1)  /* 39, then the name */
#define HS3_LEN       (HS_PREFIX_LEN + PARLEY_POINT_LEN + PARLEY_TAG_LEN)  /* 102 */
#define HS4_LEN       (HS_PREFIX_LEN + PARLEY_TAG_LEN)                     /* 70 */

static const char ISK_DSI[] = "CPace255_ISK";
static const char MAC_DSI[] = "CPaceMac";
static const char COMMIT_DSI[] = "parley/2 commit";

/* The hash inputs below, each lv_cat field with a one-byte length (all are
 * under 128 bytes): ISK's input holds K, so it is built in a fixed buffer
 * on the stack and wiped, never in heap that grows. */
#define AD_MAX        (PARLEY_SALT_LEN + 4 + 2 + 1 + PARLEY_NAME_MAX)  /* ADa */
#define ISK_IN_MAX    ((1 + sizeof(ISK_DSI) - 1) + (1 + PARLEY_SID_LEN) + (1 + 32) + \
                       2 * ((1 + PARLEY_POINT_LEN) + (1 + AD_MAX)))
#define MAC_IN_LEN    (sizeof(MAC_DSI) - 1 + PARLEY_SID_LEN + PARLEY_ISK_LEN)
#define TAG_IN_MAX    ((1 + PARLEY_POINT_LEN) + (1 + AD_MAX))
#define COMMIT_IN_MAX ((1 + sizeof(COMMIT_DSI) - 1) + (1 + PARLEY_SID_LEN) + \
                       (1 + PARLEY_POINT_LEN) + (1 + AD_MAX))

struct ParleyHandshakeSecrets {
	uint8_t y[PARLEY_SCALAR_LEN];        /* ya or yb */
	uint8_t K[32];
	uint8_t isk[PARLEY_ISK_LEN];
	uint8_t mac_key[64];
	uint8_t g[32];
};

static void
draw(ParleyRandomFunc random, gpointer rdata, void *buf, size_t len)
{
	if (random != NULL)
		random(buf, len, rdata);
	else
		parley_random_bytes(buf, len);
}

static void
hs_common_init(ParleyHandshake *hs)
{
	memset(hs, 0, sizeof(*hs));
	hs->ADa = g_byte_array_new();
	hs->ADb = g_byte_array_new();
	hs->secret = parley_secure_alloc(sizeof(*hs->secret));
	memset(hs->secret, 0, sizeof(*hs->secret));
}

void
parley_handshake_init_initiator(ParleyHandshake *hs, const char *name,
                                guint16 listen_port,
                                const uint8_t salt[PARLEY_SALT_LEN],
                                guint32 iterations,
                                ParleyRandomFunc random, gpointer rdata)
{
	size_t name_len = strlen(name);
	uint8_t buf[PARLEY_SALT_LEN + 4 + 2 + 1];

	g_return_if_fail(name_len >= 1 && name_len <= PARLEY_NAME_MAX);
	hs_common_init(hs);
	hs->initiator = TRUE;
	hs->state = PARLEY_HS_I_START;
	memcpy(hs->salt, salt, PARLEY_SALT_LEN);
	hs->iterations = iterations;
	hs->listen_port = listen_port;
	/* the order of the draws is fixed, so transcripts replay */
	draw(random, rdata, hs->sid, PARLEY_SID_LEN);
	draw(random, rdata, hs->secret->y, PARLEY_SCALAR_LEN);

	/* ADa = salt (16) | iterations (4) | listen_port (2) | name_len (1) | name */
	memcpy(buf, salt, PARLEY_SALT_LEN);
	parley_put_be32(buf + PARLEY_SALT_LEN, iterations);
	parley_put_be16(buf + PARLEY_SALT_LEN + 4, listen_port);
	buf[PARLEY_SALT_LEN + 6] = (uint8_t) name_len;
	g_byte_array_append(hs->ADa, buf, sizeof(buf));
	g_byte_array_append(hs->ADa, (const guint8 *) name, (guint) name_len);
}

void
parley_handshake_init_responder(ParleyHandshake *hs, const char *name)
{
	size_t name_len = strlen(name);
	uint8_t n;

	g_return_if_fail(name_len >= 1 && name_len <= PARLEY_NAME_MAX);
	hs_common_init(hs);
	hs->state = PARLEY_HS_R_WAIT_HS1;
	/* ADb = name_len (1) | name */
	n = (uint8_t) name_len;
	g_byte_array_append(hs->ADb, &n, 1);
	g_byte_array_append(hs->ADb, (const guint8 *) name, (guint) name_len);
}

void
parley_handshake_clear(ParleyHandshake *hs)
{
	if (hs->secret != NULL)
		parley_secure_free(hs->secret, sizeof(*hs->secret));
	if (hs->ADa != NULL)
		g_byte_array_unref(hs->ADa);
	if (hs->ADb != NULL)
		g_byte_array_unref(hs->ADb);
	parley_wipe(hs, sizeof(*hs));
}

static void
fail(ParleyHandshake *hs)
{
	hs->state = PARLEY_HS_FAILED;
	if (hs->secret != NULL)
		parley_wipe(hs->secret, sizeof(*hs->secret));
}

/* magic, version, type, in the order §4 prescribes. */
static ParleyError
check_prefix(const uint8_t *p, size_t len, uint8_t type)
{
	if (len < PARLEY_MAGIC_LEN || memcmp(p, PARLEY_MAGIC, PARLEY_MAGIC_LEN) != 0)
		return PARLEY_ERR_MALFORMED;
	if (len < PARLEY_MAGIC_LEN + 1)
		return PARLEY_ERR_MALFORMED;
	if (p[4] != PARLEY_VERSION)
		return PARLEY_ERR_VERSION;
	if (len < HS_PREFIX_LEN || p[5] != type)
		return PARLEY_ERR_MALFORMED;
	return PARLEY_ERR_NONE;
}

static void
put_prefix(GByteArray *b, uint8_t type)
{
	const uint8_t pre[HS_PREFIX_LEN] = { 'P', 'R', 'L', 'Y', PARLEY_VERSION, type };

	g_byte_array_append(b, pre, sizeof(pre));
}

gboolean
parley_handshake_is_error_frame(const uint8_t *p, size_t len)
{
	return len >= HS_PREFIX_LEN &&
	       memcmp(p, PARLEY_MAGIC, PARLEY_MAGIC_LEN) == 0 &&
	       p[5] == PARLEY_HS_ERROR;
}

void
parley_handshake_write_error(GByteArray *out, int code, const char *reason)
{
	GByteArray *b = g_byte_array_new();
	uint8_t c = (uint8_t) code;
	size_t rlen = reason != NULL ? strlen(reason) : 0;

	if (rlen > PARLEY_ERROR_REASON_MAX) {
		const char *end = reason + PARLEY_ERROR_REASON_MAX;

		/* cut at a character boundary */
		while (end > reason && (((uint8_t) *end) & 0xC0) == 0x80)
			end--;
		rlen = (size_t) (end - reason);
	}
	put_prefix(b, PARLEY_HS_ERROR);
	g_byte_array_append(b, &c, 1);
	if (rlen > 0)
		g_byte_array_append(b, (const guint8 *) reason, (guint) rlen);
	parley_frame_write(out, b->data, b->len);
	g_byte_array_unref(b);
}

/* ISK = SHA-512(lv_cat("CPace255_ISK", sid, K) || lv_cat(Ya, ADa) ||
 *               lv_cat(Yb, ADb));  mac_key = SHA-512("CPaceMac" || sid || ISK)
 * FALSE (isk and mac_key wiped) if a hash failed. */
static gboolean
compute_isk(ParleyHandshake *hs)
{
	ParleyHandshakeSecrets *s = hs->secret;
	uint8_t in[MAX(ISK_IN_MAX, MAC_IN_LEN)];
	size_t n = 0;
	gboolean ok;

	ok = parley_lv_put(in, sizeof(in), &n, ISK_DSI, strlen(ISK_DSI)) &&
	     parley_lv_put(in, sizeof(in), &n, hs->sid, PARLEY_SID_LEN) &&
	     parley_lv_put(in, sizeof(in), &n, s->K, sizeof(s->K)) &&
	     parley_lv_put(in, sizeof(in), &n, hs->Ya, PARLEY_POINT_LEN) &&
	     parley_lv_put(in, sizeof(in), &n, hs->ADa->data, hs->ADa->len) &&
	     parley_lv_put(in, sizeof(in), &n, hs->Yb, PARLEY_POINT_LEN) &&
	     parley_lv_put(in, sizeof(in), &n, hs->ADb->data, hs->ADb->len) &&
	     parley_sha512(in, n, s->isk);
	parley_wipe(in, sizeof(in));
	if (ok) {
		memcpy(in, MAC_DSI, strlen(MAC_DSI));
		memcpy(in + strlen(MAC_DSI), hs->sid, PARLEY_SID_LEN);
		memcpy(in + strlen(MAC_DSI) + PARLEY_SID_LEN, s->isk, PARLEY_ISK_LEN);
		ok = parley_sha512(in, MAC_IN_LEN, s->mac_key);
		parley_wipe(in, sizeof(in));
	}
	if (!ok) {
		parley_wipe(s->isk, sizeof(s->isk));
		parley_wipe(s->mac_key, sizeof(s->mac_key));
	}
	return ok;
}

/* T = HMAC-SHA-512(mac_key, lv_cat(Y, AD)); FALSE (tag wiped) on failure */
static gboolean
compute_tag(const ParleyHandshake *hs, const uint8_t *Y, const GByteArray *ad,
            uint8_t tag[PARLEY_TAG_LEN])
{
	uint8_t in[TAG_IN_MAX];
	size_t n = 0;
	gboolean ok;

	ok = parley_lv_put(in, sizeof(in), &n, Y, PARLEY_POINT_LEN) &&
	     parley_lv_put(in, sizeof(in), &n, ad->data, ad->len) &&
	     parley_hmac_sha512(hs->secret->mac_key, sizeof(hs->secret->mac_key),
	                        in, n, tag);
	parley_wipe(in, sizeof(in));
	if (!ok)
		parley_wipe(tag, PARLEY_TAG_LEN);
	return ok;
}

/* commit = SHA-512(lv_cat("parley/2 commit", sid, Ya, ADa))[0:32] (§4) */
static gboolean
compute_commit(const ParleyHandshake *hs, const uint8_t Ya[PARLEY_POINT_LEN],
               uint8_t commit[PARLEY_COMMIT_LEN])
{
	uint8_t in[COMMIT_IN_MAX];
	uint8_t h[64];
	size_t n = 0;
	gboolean ok;

	ok = parley_lv_put(in, sizeof(in), &n, COMMIT_DSI, strlen(COMMIT_DSI)) &&
	     parley_lv_put(in, sizeof(in), &n, hs->sid, PARLEY_SID_LEN) &&
	     parley_lv_put(in, sizeof(in), &n, Ya, PARLEY_POINT_LEN) &&
	     parley_lv_put(in, sizeof(in), &n, hs->ADa->data, hs->ADa->len) &&
	     parley_sha512(in, n, h);
	if (ok)
		memcpy(commit, h, PARLEY_COMMIT_LEN);
	parley_wipe(in, sizeof(in));
	parley_wipe(h, sizeof(h));
	return ok;
}

ParleyError
parley_handshake_create_hs1(ParleyHandshake *hs, const uint8_t prs[PARLEY_PRS_LEN],
                            GByteArray *out)
{
	GByteArray *b;

	g_return_val_if_fail(hs->state == PARLEY_HS_I_START, PARLEY_ERR_STATE);

	/* g from PRS and sid; Ya = X25519(ya, g), kept secret until HS3 */
	if (!parley_cpace_generator(hs->secret->g, prs, PARLEY_PRS_LEN, hs->sid)) {
		fail(hs);
		return PARLEY_ERR_LOCAL;
	}
	if (!parley_x25519(hs->Ya, hs->secret->y, hs->secret->g)) {
		/* Only if the map gave a low-order point: cannot happen for a
		 * non-degenerate input, but never send a zero Ya. */
		fail(hs);
		return PARLEY_ERR_MALFORMED;
	}
	/* §4: I is bound to Ya before it sees Yb */
	if (!compute_commit(hs, hs->Ya, hs->commit)) {
		fail(hs);
		return PARLEY_ERR_LOCAL;
	}

	b = g_byte_array_new();
	put_prefix(b, PARLEY_HS1);
	g_byte_array_append(b, hs->sid, PARLEY_SID_LEN);
	g_byte_array_append(b, hs->commit, PARLEY_COMMIT_LEN);
	g_byte_array_append(b, hs->ADa->data, hs->ADa->len);
	parley_frame_write(out, b->data, b->len);
	g_byte_array_unref(b);
	hs->state = PARLEY_HS_I_SENT_HS1;
	return PARLEY_ERR_NONE;
}

ParleyError
parley_handshake_consume_hs1(ParleyHandshake *hs, const uint8_t *p, size_t len)
{
	ParleyError err;
	size_t name_len = 0;
	guint32 iterations;
	const uint8_t *ad;

	g_return_val_if_fail(hs->state == PARLEY_HS_R_WAIT_HS1, PARLEY_ERR_STATE);

	err = check_prefix(p, len, PARLEY_HS1);
	if (err == PARLEY_ERR_NONE) {
		if (len < HS1_FIXED_LEN) {
			err = PARLEY_ERR_MALFORMED;
		} else {
			name_len = p[HS1_FIXED_LEN - 1];
			if (name_len < 1 || name_len > PARLEY_NAME_MAX ||
			    len != HS1_FIXED_LEN + name_len)
				err = PARLEY_ERR_MALFORMED;
		}
	}
	if (err != PARLEY_ERR_NONE) {
		fail(hs);
		return err;
	}

	ad = p + HS_PREFIX_LEN + PARLEY_SID_LEN + PARLEY_COMMIT_LEN;
	iterations = parley_get_be32(ad + PARLEY_SALT_LEN);
	/* §3: refuse before any PBKDF2 work */
	if (iterations < PARLEY_MIN_ITERATIONS || iterations > PARLEY_MAX_ITERATIONS) {
		fail(hs);
		return PARLEY_ERR_MALFORMED;
	}

	memcpy(hs->sid, p + HS_PREFIX_LEN, PARLEY_SID_LEN);
	memcpy(hs->commit, p + HS_PREFIX_LEN + PARLEY_SID_LEN, PARLEY_COMMIT_LEN);
	g_byte_array_append(hs->ADa, ad, (guint) (len - (size_t) (ad - p)));
	memcpy(hs->salt, ad, PARLEY_SALT_LEN);
	hs->iterations = iterations;
	hs->listen_port = parley_get_be16(ad + PARLEY_SALT_LEN + 4);
	hs->peer_name_len = name_len;
	memcpy(hs->peer_name, p + HS1_FIXED_LEN, name_len);
	hs->state = PARLEY_HS_R_GOT_HS1;
	return PARLEY_ERR_NONE;
}

ParleyError
parley_handshake_create_hs2(ParleyHandshake *hs, const uint8_t prs[PARLEY_PRS_LEN],
                            ParleyRandomFunc random, gpointer rdata, GByteArray *out)
{
	GByteArray *b;

	g_return_val_if_fail(hs->state == PARLEY_HS_R_GOT_HS1, PARLEY_ERR_STATE);

	/* §4: Yb is fixed here, before R has seen Ya */
	if (!parley_cpace_generator(hs->secret->g, prs, PARLEY_PRS_LEN, hs->sid)) {
		fail(hs);
		return PARLEY_ERR_LOCAL;
	}
	draw(random, rdata, hs->secret->y, PARLEY_SCALAR_LEN);
	if (!parley_x25519(hs->Yb, hs->secret->y, hs->secret->g)) {
		fail(hs);
		return PARLEY_ERR_MALFORMED;
	}

	b = g_byte_array_new();
	put_prefix(b, PARLEY_HS2);
	g_byte_array_append(b, hs->Yb, PARLEY_POINT_LEN);
	g_byte_array_append(b, hs->ADb->data, hs->ADb->len);
	parley_frame_write(out, b->data, b->len);
	g_byte_array_unref(b);
	hs->state = PARLEY_HS_R_SENT_HS2;
	return PARLEY_ERR_NONE;
}

ParleyError
parley_handshake_consume_hs2(ParleyHandshake *hs, const uint8_t *p, size_t len)
{
	ParleyError err;
	size_t name_len = 0;

	g_return_val_if_fail(hs->state == PARLEY_HS_I_SENT_HS1, PARLEY_ERR_STATE);

	err = check_prefix(p, len, PARLEY_HS2);
	if (err == PARLEY_ERR_NONE) {
		if (len < HS2_FIXED_LEN) {
			err = PARLEY_ERR_MALFORMED;
		} else {
			name_len = p[HS2_FIXED_LEN - 1];
			if (name_len < 1 || name_len > PARLEY_NAME_MAX ||
			    len != HS2_FIXED_LEN + name_len)
				err = PARLEY_ERR_MALFORMED;
		}
	}
	if (err != PARLEY_ERR_NONE) {
		fail(hs);
		return err;
	}

	memcpy(hs->Yb, p + HS_PREFIX_LEN, PARLEY_POINT_LEN);
	/* K = X25519(ya, Yb); a low-order Yb gives zero: abort (ERROR 2) */
	if (!parley_x25519(hs->secret->K, hs->secret->y, hs->Yb)) {
		fail(hs);
		return PARLEY_ERR_MALFORMED;
	}
	g_byte_array_append(hs->ADb, p + HS_PREFIX_LEN + PARLEY_POINT_LEN,
	                    (guint) (1 + name_len));
	if (!compute_isk(hs)) {
		fail(hs);
		return PARLEY_ERR_LOCAL;
	}
	hs->peer_name_len = name_len;
	memcpy(hs->peer_name, p + HS2_FIXED_LEN, name_len);
	hs->state = PARLEY_HS_I_GOT_HS2;
	return PARLEY_ERR_NONE;
}

ParleyError
parley_handshake_create_hs3(ParleyHandshake *hs, GByteArray *out)
{
	uint8_t payload[HS3_LEN] = { 'P', 'R', 'L', 'Y', PARLEY_VERSION, PARLEY_HS3 };

	g_return_val_if_fail(hs->state == PARLEY_HS_I_GOT_HS2, PARLEY_ERR_STATE);
	/* Ya revealed, with Ta = HMAC-SHA-512(mac_key, lv_cat(Ya, ADa)) */
	memcpy(payload + HS_PREFIX_LEN, hs->Ya, PARLEY_POINT_LEN);
	if (!compute_tag(hs, hs->Ya, hs->ADa, payload + HS_PREFIX_LEN + PARLEY_POINT_LEN)) {
		fail(hs);
		return PARLEY_ERR_LOCAL;
	}
	parley_frame_write(out, payload, sizeof(payload));
	parley_wipe(payload, sizeof(payload));
	hs->state = PARLEY_HS_I_SENT_HS3;
	return PARLEY_ERR_NONE;
}

ParleyError
parley_handshake_consume_hs3(ParleyHandshake *hs, const uint8_t *p, size_t len)
{
	ParleyError err;
	uint8_t commit[PARLEY_COMMIT_LEN];
	uint8_t Ta[PARLEY_TAG_LEN];
	gboolean ok;

	g_return_val_if_fail(hs->state == PARLEY_HS_R_SENT_HS2, PARLEY_ERR_STATE);

	err = check_prefix(p, len, PARLEY_HS3);
	if (err == PARLEY_ERR_NONE && len != HS3_LEN)
		err = PARLEY_ERR_MALFORMED;
	if (err != PARLEY_ERR_NONE) {
		fail(hs);
		return err;
	}
	memcpy(hs->Ya, p + HS_PREFIX_LEN, PARLEY_POINT_LEN);

	/* §4, in this order: the commitment of HS1 ... */
	if (!compute_commit(hs, hs->Ya, commit)) {
		fail(hs);
		return PARLEY_ERR_LOCAL;
	}
	ok = parley_ct_equal(commit, hs->commit, PARLEY_COMMIT_LEN);
	parley_wipe(commit, sizeof(commit));
	if (!ok) {
		fail(hs);
		return PARLEY_ERR_MALFORMED;
	}
	/* ... K = X25519(yb, Ya), all zero for a low-order Ya ... */
	if (!parley_x25519(hs->secret->K, hs->secret->y, hs->Ya)) {
		fail(hs);
		return PARLEY_ERR_MALFORMED;
	}
	/* ... ISK, mac_key, and Ta in constant time */
	if (!compute_isk(hs) || !compute_tag(hs, hs->Ya, hs->ADa, Ta)) {
		fail(hs);
		return PARLEY_ERR_LOCAL;
	}
	ok = parley_ct_equal(Ta, p + HS_PREFIX_LEN + PARLEY_POINT_LEN, PARLEY_TAG_LEN);
	parley_wipe(Ta, sizeof(Ta));
	if (!ok) {
		fail(hs);
		return PARLEY_ERR_AUTH;
	}
	hs->state = PARLEY_HS_R_GOT_HS3;
	return PARLEY_ERR_NONE;
}

ParleyError
parley_handshake_create_hs4(ParleyHandshake *hs, GByteArray *out)
{
	uint8_t payload[HS4_LEN] = { 'P', 'R', 'L', 'Y', PARLEY_VERSION, PARLEY_HS4 };

	g_return_val_if_fail(hs->state == PARLEY_HS_R_GOT_HS3, PARLEY_ERR_STATE);
	/* Tb = HMAC-SHA-512(mac_key, lv_cat(Yb, ADb)): R confirms last */
	if (!compute_tag(hs, hs->Yb, hs->ADb, payload + HS_PREFIX_LEN)) {
		fail(hs);
		return PARLEY_ERR_LOCAL;
	}
	parley_frame_write(out, payload, sizeof(payload));
	parley_wipe(payload, sizeof(payload));
	hs->state = PARLEY_HS_DONE;
	return PARLEY_ERR_NONE;
}

ParleyError
parley_handshake_consume_hs4(ParleyHandshake *hs, const uint8_t *p, size_t len)
{
	ParleyError err;
	uint8_t Tb[PARLEY_TAG_LEN];
	gboolean ok;

	g_return_val_if_fail(hs->state == PARLEY_HS_I_SENT_HS3, PARLEY_ERR_STATE);

	err = check_prefix(p, len, PARLEY_HS4);
	if (err == PARLEY_ERR_NONE && len != HS4_LEN)
		err = PARLEY_ERR_MALFORMED;
	if (err != PARLEY_ERR_NONE) {
		fail(hs);
		return err;
	}
	if (!compute_tag(hs, hs->Yb, hs->ADb, Tb)) {
		fail(hs);
		return PARLEY_ERR_LOCAL;
	}
	ok = parley_ct_equal(Tb, p + HS_PREFIX_LEN, PARLEY_TAG_LEN);
	parley_wipe(Tb, sizeof(Tb));
	if (!ok) {
		fail(hs);
		return PARLEY_ERR_AUTH;
	}
	hs->state = PARLEY_HS_DONE;
	return PARLEY_ERR_NONE;
}

gboolean
parley_handshake_derive_keys(const ParleyHandshake *hs, ParleyEpochKeys *keys,
                             char code[8])
{
	static const char l_code[] = "parley/2 code";
	uint8_t prk[32];
	uint8_t c[PARLEY_CODE_LEN];
	guint32 v;
	gboolean ok;

	g_return_val_if_fail(hs->state == PARLEY_HS_DONE, FALSE);

	/* §5: PRK = HKDF-Extract(salt = sid, IKM = ISK); every value or none */
	ok = parley_hkdf_extract(hs->sid, PARLEY_SID_LEN, hs->secret->isk,
	                         PARLEY_ISK_LEN, prk) &&
	     parley_epoch_keys_expand(prk, keys) &&
	     parley_hkdf_expand(prk, l_code, strlen(l_code), c, sizeof(c));
	if (ok) {
		v = parley_get_be32(c) % 1000000u;
		g_snprintf(code, 8, "%03u %03u", v / 1000u, v % 1000u);
	} else {
		parley_epoch_keys_clear(keys);
		memset(code, 0, 8);
	}
	parley_wipe(prk, sizeof(prk));
	parley_wipe(c, sizeof(c));
	return ok;
}
