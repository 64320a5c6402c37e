/*
 * record.h - §5/§6/§8 key material and the AES-256-GCM record layer.
 *
 * A ParleyEpochKeys holds what one epoch derives (both directions and the
 * chain key for the next rekey); a ParleyRecordDir is one direction of one
 * epoch, keyed once, counting its own sequence numbers.
 *
 * Fail closed: every function here that derives, keys, seals or opens can
 * fail (libgcrypt out of memory, §6's sequence limit) and says so with a
 * G_GNUC_WARN_UNUSED_RESULT gboolean.  A failed derivation leaves the keys
 * wiped, a failed set leaves the direction unset, and an unset or used-up
 * direction neither seals nor opens anything.
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

/* The HKDF-Expand the key schedule runs: parley_hkdf_expand. */
typedef gboolean (*ParleyHkdfExpandFunc)(const uint8_t prk[32],
                                         const void *info, size_t info_len,
                                         void *out, size_t out_len);

/* Expand the five epoch values from a PRK with the §5 labels.  If any
 * expansion fails, all five are wiped and FALSE is returned. */
gboolean parley_epoch_keys_expand(const uint8_t prk[32],
                                  ParleyEpochKeys *keys) G_GNUC_WARN_UNUSED_RESULT;
/* The same with the HKDF-Expand given by the caller (the key schedule
 * does not care where it comes from; the core's tests give one that
 * fails, which libgcrypt only does when it runs out of memory). */
gboolean parley_epoch_keys_expand_with(ParleyHkdfExpandFunc expand,
                                       const uint8_t prk[32],
                                       ParleyEpochKeys *keys) G_GNUC_WARN_UNUSED_RESULT;

/* §8 ratchet: PRK' = HKDF-Extract(salt = chain, IKM = dh), then expand.
 * dh must already have been checked for all zeros.  On failure next is
 * wiped and FALSE returned. */
gboolean parley_epoch_keys_ratchet(const uint8_t chain[PARLEY_CHAIN_LEN],
                                   const uint8_t dh[32],
                                   ParleyEpochKeys *next) G_GNUC_WARN_UNUSED_RESULT;

void parley_epoch_keys_clear(ParleyEpochKeys *keys);

typedef struct {
	ParleyAead *aead;           /* NULL while unset */
	uint8_t iv[PARLEY_IV_LEN];
	uint32_t epoch;
	uint64_t seq;               /* next sequence number */
} ParleyRecordDir;

/* Key a direction for an epoch; seq starts at 0.  Replaces (and wipes)
 * what was there.  If libgcrypt cannot key it, the direction is left unset
 * (wiped) and FALSE returned. */
gboolean parley_record_dir_set(ParleyRecordDir *dir, const uint8_t key[32],
                               const uint8_t iv[PARLEY_IV_LEN],
                               uint32_t epoch) G_GNUC_WARN_UNUSED_RESULT;
void parley_record_dir_clear(ParleyRecordDir *dir);
/* Move src into dst (dst's keys are wiped first); src is left unset. */
void parley_record_dir_move(ParleyRecordDir *dst, ParleyRecordDir *src);
static inline gboolean
parley_record_dir_is_set(const ParleyRecordDir *dir)
{
	return dir->aead != NULL;
}
/* §6: seq 2^32 - 1 has been used; this direction can carry no more
 * records in its epoch (the sender had to rekey first). */
static inline gboolean
parley_record_dir_used_up(const ParleyRecordDir *dir)
{
	return dir->seq >= PARLEY_SEQ_LIMIT;
}

/* Append a complete frame holding one record of inner (type || body) to
 * out, sealed under dir's key and next seq, and advance seq.  The plaintext
 * is encrypted in place inside out, with no intermediate copy.  Returns
 * FALSE, with out and seq as they were, when dir is used up (§6) or
 * libgcrypt fails. */
gboolean parley_record_seal(ParleyRecordDir *dir, uint8_t type,
                            const void *body, size_t body_len,
                            GByteArray *out) G_GNUC_WARN_UNUSED_RESULT;

/* The epoch a record claims (payload must be >= PARLEY_RECORD_MIN_LEN). */
uint32_t parley_record_epoch(const uint8_t *payload);

/* Open a record under dir's key and expected seq.  On success writes the
 * inner plaintext (payload_len - 21 bytes) to inner, advances seq and
 * returns TRUE; on failure nothing changes and inner is wiped.  A used-up
 * direction (§6: the record would carry seq 2^32 or more) opens
 * nothing. */
gboolean parley_record_open(ParleyRecordDir *dir, const uint8_t *payload,
                            size_t payload_len,
                            uint8_t *inner) G_GNUC_WARN_UNUSED_RESULT;

#endif
