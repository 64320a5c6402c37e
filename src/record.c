/*
 * record.c - key schedule expansion (§5, §8) and records (§6).
 */
#include "record.h"

#include <string.h>

#include "frame.h"

gboolean
parley_epoch_keys_expand_with(ParleyHkdfExpandFunc expand, const uint8_t prk[32],
                              ParleyEpochKeys *k)
{
	static const char l_key_ir[] = "parley/2 i2r key";
	static const char l_iv_ir[] = "parley/2 i2r iv";
	static const char l_key_ri[] = "parley/2 r2i key";
	static const char l_iv_ri[] = "parley/2 r2i iv";
	static const char l_chain[] = "parley/2 chain";
	gboolean ok;

	g_return_val_if_fail(expand != NULL && prk != NULL && k != NULL, FALSE);

	/* Each step runs only if the ones before succeeded; one failure and
	 * nothing of this epoch is kept - not even the values that did come
	 * out - so no caller can key a direction with a half-derived set. */
	ok = expand(prk, l_key_ir, strlen(l_key_ir), k->key_IR, sizeof(k->key_IR)) &&
	     expand(prk, l_iv_ir, strlen(l_iv_ir), k->iv_IR, sizeof(k->iv_IR)) &&
	     expand(prk, l_key_ri, strlen(l_key_ri), k->key_RI, sizeof(k->key_RI)) &&
	     expand(prk, l_iv_ri, strlen(l_iv_ri), k->iv_RI, sizeof(k->iv_RI)) &&
	     expand(prk, l_chain, strlen(l_chain), k->chain, sizeof(k->chain));
	if (!ok)
		parley_epoch_keys_clear(k);
	return ok;
}

gboolean
parley_epoch_keys_expand(const uint8_t prk[32], ParleyEpochKeys *k)
{
	return parley_epoch_keys_expand_with(parley_hkdf_expand, prk, k);
}

gboolean
parley_epoch_keys_ratchet(const uint8_t chain[PARLEY_CHAIN_LEN],
                          const uint8_t dh[32], ParleyEpochKeys *next)
{
	uint8_t prk[32];
	gboolean ok;

	ok = parley_hkdf_extract(chain, PARLEY_CHAIN_LEN, dh, 32, prk) &&
	     parley_epoch_keys_expand(prk, next);
	parley_wipe(prk, sizeof(prk));
	if (!ok)
		parley_epoch_keys_clear(next);
	return ok;
}

void
parley_epoch_keys_clear(ParleyEpochKeys *keys)
{
	parley_wipe(keys, sizeof(*keys));
}

gboolean
parley_record_dir_set(ParleyRecordDir *dir, const uint8_t key[32],
                      const uint8_t iv[PARLEY_IV_LEN], uint32_t epoch)
{
	parley_record_dir_clear(dir);
	dir->aead = parley_aead_new(key, PARLEY_KEY_LEN);
	if (dir->aead == NULL)
		return FALSE;           /* left unset: seals and opens nothing */
	memcpy(dir->iv, iv, PARLEY_IV_LEN);
	dir->epoch = epoch;
	dir->seq = 0;
	return TRUE;
}

void
parley_record_dir_clear(ParleyRecordDir *dir)
{
	parley_aead_free(dir->aead);
	parley_wipe(dir, sizeof(*dir));
}

void
parley_record_dir_move(ParleyRecordDir *dst, ParleyRecordDir *src)
{
	parley_record_dir_clear(dst);
	*dst = *src;
	parley_wipe(src, sizeof(*src));
}

/* nonce = iv XOR (zero_bytes(4) || seq (8)) */
static void
make_nonce(const ParleyRecordDir *dir, uint8_t nonce[PARLEY_IV_LEN])
{
	uint8_t s[8];
	int i;

	memcpy(nonce, dir->iv, PARLEY_IV_LEN);
	parley_put_be64(s, dir->seq);
	for (i = 0; i < 8; i++)
		nonce[4 + i] ^= s[i];
}

gboolean
parley_record_seal(ParleyRecordDir *dir, uint8_t type, const void *body,
                   size_t body_len, GByteArray *out)
{
	size_t inner_len = 1 + body_len;
	size_t rec_len = PARLEY_RECORD_HEADER_LEN + inner_len + PARLEY_GCM_TAG_LEN;
	guint start = out->len;
	uint8_t nonce[PARLEY_IV_LEN];
	uint8_t *p;
	gboolean ok;

	g_return_val_if_fail(parley_record_dir_is_set(dir), FALSE);
	g_return_val_if_fail(body != NULL || body_len == 0, FALSE);
	g_return_val_if_fail(rec_len <= PARLEY_MAX_FRAME, FALSE);

	/* §6: seq MUST NOT reach 2^32 - whatever the record. */
	if (parley_record_dir_used_up(dir))
		return FALSE;

	g_byte_array_set_size(out, start + PARLEY_FRAME_HEADER_LEN + (guint) rec_len);
	p = out->data + start;
	parley_put_be32(p, (uint32_t) rec_len);
	p += PARLEY_FRAME_HEADER_LEN;
	/* aad = 0x17 || epoch */
	p[0] = PARLEY_RECORD_TYPE;
	parley_put_be32(p + 1, dir->epoch);
	p[PARLEY_RECORD_HEADER_LEN] = type;
	if (body_len > 0)
		memcpy(p + PARLEY_RECORD_HEADER_LEN + 1, body, body_len);

	make_nonce(dir, nonce);
	ok = parley_aead_seal(dir->aead, nonce, p, PARLEY_RECORD_HEADER_LEN,
	                      p + PARLEY_RECORD_HEADER_LEN, inner_len,
	                      p + PARLEY_RECORD_HEADER_LEN,
	                      p + PARLEY_RECORD_HEADER_LEN + inner_len);
	parley_wipe(nonce, sizeof(nonce));
	if (!ok) {
		/* The plaintext was copied in: wipe it (aead_seal wiped what it
		 * wrote) and take the half-made frame back out. */
		parley_wipe(out->data + start, out->len - start);
		g_byte_array_set_size(out, start);
		return FALSE;
	}
	dir->seq++;
	return TRUE;
}

uint32_t
parley_record_epoch(const uint8_t *payload)
{
	return parley_get_be32(payload + 1);
}

gboolean
parley_record_open(ParleyRecordDir *dir, const uint8_t *payload,
                   size_t payload_len, uint8_t *inner)
{
	uint8_t nonce[PARLEY_IV_LEN];
	size_t inner_len;
	gboolean ok;

	g_return_val_if_fail(parley_record_dir_is_set(dir), FALSE);
	if (payload_len < PARLEY_RECORD_MIN_LEN || payload[0] != PARLEY_RECORD_TYPE)
		return FALSE;
	inner_len = payload_len - PARLEY_RECORD_HEADER_LEN - PARLEY_GCM_TAG_LEN;
	/* §6: the sender may not use seq 2^32 in this epoch, so no record
	 * that would carry it is genuine, whatever its tag says. */
	if (parley_record_dir_used_up(dir)) {
		parley_wipe(inner, inner_len);
		return FALSE;
	}
	make_nonce(dir, nonce);
	ok = parley_aead_open(dir->aead, nonce, payload, PARLEY_RECORD_HEADER_LEN,
	                      payload + PARLEY_RECORD_HEADER_LEN, inner_len,
	                      payload + payload_len - PARLEY_GCM_TAG_LEN, inner);
	parley_wipe(nonce, sizeof(nonce));
	if (!ok)
		return FALSE;
	dir->seq++;
	return TRUE;
}
