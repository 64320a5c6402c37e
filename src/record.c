/*
 * record.c - key schedule expansion (§5, §8) and records (§6).
 */
#include "record.h"

#include <string.h>

#include "frame.h"

void
parley_epoch_keys_expand(const uint8_t prk[32], ParleyEpochKeys *k)
{
	static const char l_key_ir[] = "parley/1 i2r key";
	static const char l_iv_ir[] = "parley/1 i2r iv";
	static const char l_key_ri[] = "parley/1 r2i key";
	static const char l_iv_ri[] = "parley/1 r2i iv";
	static const char l_chain[] = "parley/1 chain";

	parley_hkdf_expand(prk, l_key_ir, strlen(l_key_ir), k->key_IR, sizeof(k->key_IR));
	parley_hkdf_expand(prk, l_iv_ir, strlen(l_iv_ir), k->iv_IR, sizeof(k->iv_IR));
	parley_hkdf_expand(prk, l_key_ri, strlen(l_key_ri), k->key_RI, sizeof(k->key_RI));
	parley_hkdf_expand(prk, l_iv_ri, strlen(l_iv_ri), k->iv_RI, sizeof(k->iv_RI));
	parley_hkdf_expand(prk, l_chain, strlen(l_chain), k->chain, sizeof(k->chain));
}

void
parley_epoch_keys_ratchet(const uint8_t chain[PARLEY_CHAIN_LEN],
                          const uint8_t dh[32], ParleyEpochKeys *next)
{
	uint8_t prk[32];

	parley_hkdf_extract(chain, PARLEY_CHAIN_LEN, dh, 32, prk);
	parley_epoch_keys_expand(prk, next);
	parley_wipe(prk, sizeof(prk));
}

void
parley_epoch_keys_clear(ParleyEpochKeys *keys)
{
	parley_wipe(keys, sizeof(*keys));
}

void
parley_record_dir_set(ParleyRecordDir *dir, const uint8_t key[32],
                      const uint8_t iv[PARLEY_IV_LEN], uint32_t epoch)
{
	parley_record_dir_clear(dir);
	dir->aead = parley_aead_new(key, PARLEY_KEY_LEN);
	memcpy(dir->iv, iv, PARLEY_IV_LEN);
	dir->epoch = epoch;
	dir->seq = 0;
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

void
parley_record_seal(ParleyRecordDir *dir, uint8_t type, const void *body,
                   size_t body_len, GByteArray *out)
{
	size_t inner_len = 1 + body_len;
	size_t rec_len = PARLEY_RECORD_HEADER_LEN + inner_len + PARLEY_GCM_TAG_LEN;
	guint start = out->len;
	uint8_t nonce[PARLEY_IV_LEN];
	uint8_t *p;

	g_return_if_fail(parley_record_dir_is_set(dir));
	g_return_if_fail(rec_len <= PARLEY_MAX_FRAME);

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
	parley_aead_seal(dir->aead, nonce, p, PARLEY_RECORD_HEADER_LEN,
	                 p + PARLEY_RECORD_HEADER_LEN, inner_len,
	                 p + PARLEY_RECORD_HEADER_LEN,
	                 p + PARLEY_RECORD_HEADER_LEN + inner_len);
	dir->seq++;
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

	g_return_val_if_fail(parley_record_dir_is_set(dir), FALSE);
	if (payload_len < PARLEY_RECORD_MIN_LEN || payload[0] != PARLEY_RECORD_TYPE)
		return FALSE;
	inner_len = payload_len - PARLEY_RECORD_HEADER_LEN - PARLEY_GCM_TAG_LEN;
	make_nonce(dir, nonce);
	if (!parley_aead_open(dir->aead, nonce, payload, PARLEY_RECORD_HEADER_LEN,
	                      payload + PARLEY_RECORD_HEADER_LEN, inner_len,
	                      payload + payload_len - PARLEY_GCM_TAG_LEN, inner))
		return FALSE;
	dir->seq++;
	return TRUE;
}
