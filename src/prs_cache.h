/*
 * prs_cache.h - a responder's cache of PRS values (PROTOCOL.md §3).
 *
 * §3: "A responder MAY cache up to 16 entries" of PRS per (passphrase,
 * salt, iterations), so reconnections skip PBKDF2.  This cache holds
 * PARLEY_PRS_CACHE_ENTRIES of them and evicts the least recently used.
 *
 * The passphrase itself is never stored.  An entry is found by
 * HMAC-SHA256(key = salt || iterations as 4 bytes big-endian,
 * data = passphrase); that value and the PRS live in libgcrypt secure
 * memory and are compared in constant time.
 *
 * Ownership: the caller owns the cache (parley_prs_cache_new /
 * parley_prs_cache_free, which wipes every entry).  All buffers passed in
 * stay the caller's; nothing is retained but the derived key and a copy of
 * the PRS.  Not thread-safe: use it from one thread (the UI thread, where
 * the PBKDF2 results are delivered).  No libpurple.
 */
#ifndef PARLEY_PRS_CACHE_H
#define PARLEY_PRS_CACHE_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>
#include "constants.h"

typedef struct ParleyPrsCache ParleyPrsCache;

ParleyPrsCache *parley_prs_cache_new(void);

/* Wipe every entry and free the cache.  NULL is fine. */
void parley_prs_cache_free(ParleyPrsCache *c);

/* On a hit, copy the PRS to prs_out, make the entry the most recently used
 * and return TRUE.  On a miss return FALSE with prs_out wiped. */
gboolean parley_prs_cache_lookup(ParleyPrsCache *c,
                                 const uint8_t *pass, size_t pass_len,
                                 const uint8_t salt[PARLEY_SALT_LEN],
                                 guint32 iterations,
                                 uint8_t prs_out[PARLEY_PRS_LEN]);

/* Remember prs for (pass, salt, iterations) as the most recently used
 * entry, replacing the entry for the same inputs if there is one, or else
 * a free slot, or else the least recently used entry.  (If libgcrypt
 * cannot compute the entry's key, nothing is stored, and a lookup of it
 * misses.) */
void parley_prs_cache_store(ParleyPrsCache *c,
                            const uint8_t *pass, size_t pass_len,
                            const uint8_t salt[PARLEY_SALT_LEN],
                            guint32 iterations,
                            const uint8_t prs[PARLEY_PRS_LEN]);

/* Wipe and forget every entry (e.g. when the passphrase is changed). */
void parley_prs_cache_clear(ParleyPrsCache *c);

/* Number of entries held, 0..PARLEY_PRS_CACHE_ENTRIES. */
guint parley_prs_cache_size(ParleyPrsCache *c);

#endif
