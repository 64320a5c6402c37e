/*
 * record.h - §5/§6/§8 key material and the AES-256-GCM record layer.
 *
 * A ParleyEpochKeys holds what one epoch derives (both directions and the
 * chain key for the next rekey); a ParleyRecordDir is one direction of one
 * epoch, keyed once, counting its own sequence numbers.
 *
 * Ownership: both are embedded in their owner; _clear wipes them.
 */
#ifndef PARLEY_RECORD_H
#define PARLEY_RECORD_H

#include <glib.h>
#include <stdint.h>
#include "constants.h"
#include "crypto.h"

typedef struct {
	uint8_t key_IR[PARLEY_KEY_LEN];
	uint8_t iv_IR[PARLEY_IV_LEN];
	uint8_t key_RI[PARLEY_KEY_LEN];
	uint8_t iv_RI[PARLEY_IV_LEN];
	uint8_t chain[PARLEY_CHAIN_LEN];
} ParleyEpochKeys;

/* Expand the five epoch values from a PRK with the §5 labels. */
void parley_epoch_keys_expand(const uint8_t prk[32], ParleyEpochKeys *keys);

/* §8 ratchet: PRK' = HKDF-Extract(salt = chain, IKM = dh), then expand.
 * dh must already have been checked for all zeros. */
void parley_epoch_keys_ratchet(const uint8_t chain[PARLEY_CHAIN_LEN],
                               const uint8_t dh[32], ParleyEpochKeys *next);

void parley_epoch_keys_clear(ParleyEpochKeys *keys);

typedef struct {
	ParleyAead *aead;           /* NULL while unset */
	uint8_t iv[PARLEY_IV_LEN];
	uint32_t epoch;
	uint64_t seq;               /* next sequence number */
} ParleyRecordDir;

/* Key a direction for an epoch; seq starts at 0.  Replaces (and wipes)
 * what was there. */
void parley_record_dir_set(ParleyRecordDir *dir, const uint8_t key[32],
                           const uint8_t iv[PARLEY_IV_LEN], uint32_t epoch);
void parley_record_dir_clear(ParleyRecordDir *dir);
/* Move src into dst (dst's keys are wiped first); src is left unset. */
void parley_record_dir_move(ParleyRecordDir *dst, ParleyRecordDir *src);
static inline gboolean
parley_record_dir_is_set(const ParleyRecordDir *dir)
{
	return dir->aead != NULL;
}

/* Append a complete frame holding one record of inner (type || body) to
 * out, sealed under dir's key and next seq.  The plaintext is encrypted in
 * place inside out, with no intermediate copy. */
void parley_record_seal(ParleyRecordDir *dir, uint8_t type,
                        const void *body, size_t body_len, GByteArray *out);

/* The epoch a record claims (payload must be >= PARLEY_RECORD_MIN_LEN). */
uint32_t parley_record_epoch(const uint8_t *payload);

/* Open a record under dir's key and expected seq.  On success writes the
 * inner plaintext (payload_len - 21 bytes) to inner, advances seq and
 * returns TRUE; on failure nothing changes and inner is wiped. */
gboolean parley_record_open(ParleyRecordDir *dir, const uint8_t *payload,
                            size_t payload_len, uint8_t *inner);

#endif
