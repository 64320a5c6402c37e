/*
 * prs_cache.c - a responder's cache of PRS values (PROTOCOL.md §3).
 *
 * Sixteen slots in one block of secure memory.  Recency is a counter
 * stamped on an entry when it is stored or found; the smallest stamp is the
 * least recently used.  Sixteen entries make a linear scan the simplest
 * correct structure, and the scan always visits every slot, so the time of
 * a lookup does not depend on where (or whether) it hits.
 *
 * Why a keyed hash and not the passphrase: the passphrase may be reused
 * elsewhere and is only needed while PBKDF2 runs (STYLE 5).  The key is a
 * fast hash of it, so memory that leaks the cache allows guessing the
 * passphrase at HMAC speed rather than PBKDF2 speed; but such a leak also
 * hands over the PRS itself, which is all a peer needs to pass a handshake
 * with that salt, so the keyed hash does not weaken the cache further.
 */
#include <string.h>

#include "crypto.h"
#include "prs_cache.h"

#define KEY_LEN         32      /* HMAC-SHA256 */
#define KEY_SALT_LEN    (PARLEY_SALT_LEN + 4)

typedef struct {
	uint8_t key[KEY_LEN];
	uint8_t prs[PARLEY_PRS_LEN];
	guint64 stamp;              /* 0: slot free */
} Entry;

struct ParleyPrsCache {
	Entry *entries;             /* PARLEY_PRS_CACHE_ENTRIES, secure memory */
	guint64 clock;              /* last stamp handed out */
};

#define ENTRIES_SIZE (PARLEY_PRS_CACHE_ENTRIES * sizeof(Entry))

/* key = HMAC-SHA256(salt || be32(iterations), passphrase).  FALSE (key
 * wiped) if the HMAC failed: a caller then neither finds nor stores
 * anything, since an all-zero key would match another failed one. */
static gboolean
derive_key(const uint8_t *pass, size_t pass_len,
           const uint8_t salt[PARLEY_SALT_LEN], guint32 iterations,
           uint8_t key[KEY_LEN])
{
	uint8_t hk[KEY_SALT_LEN];
	gboolean ok;

	memcpy(hk, salt, PARLEY_SALT_LEN);
	hk[PARLEY_SALT_LEN + 0] = (uint8_t) (iterations >> 24);
	hk[PARLEY_SALT_LEN + 1] = (uint8_t) (iterations >> 16);
	hk[PARLEY_SALT_LEN + 2] = (uint8_t) (iterations >> 8);
	hk[PARLEY_SALT_LEN + 3] = (uint8_t) iterations;
	ok = parley_hmac_sha256(hk, sizeof hk, pass, pass_len, key);
	parley_wipe(hk, sizeof hk);
	return ok;
}

/* The used slot whose key equals key, or -1.  Visits every slot. */
static int
find(const ParleyPrsCache *c, const uint8_t key[KEY_LEN])
{
	int found = -1;
	int i;

	for (i = 0; i < PARLEY_PRS_CACHE_ENTRIES; i++) {
		const Entry *e = &c->entries[i];
		gboolean eq = parley_ct_equal(e->key, key, KEY_LEN);

		if (eq && e->stamp != 0 && found < 0)
			found = i;
	}
	return found;
}

static guint64
next_stamp(ParleyPrsCache *c)
{
	/* 2^64 stores will not happen; the counter never wraps to 0. */
	return ++c->clock;
}

ParleyPrsCache *
parley_prs_cache_new(void)
{
	ParleyPrsCache *c = g_new0(ParleyPrsCache, 1);

	c->entries = parley_secure_alloc(ENTRIES_SIZE);  /* zeroed: all free */
	return c;
}

void
parley_prs_cache_free(ParleyPrsCache *c)
{
	if (c == NULL)
		return;
	parley_secure_free(c->entries, ENTRIES_SIZE);   /* wipes */
	g_free(c);
}

gboolean
parley_prs_cache_lookup(ParleyPrsCache *c,
                        const uint8_t *pass, size_t pass_len,
                        const uint8_t salt[PARLEY_SALT_LEN],
                        guint32 iterations,
                        uint8_t prs_out[PARLEY_PRS_LEN])
{
	uint8_t key[KEY_LEN];
	int i;

	g_return_val_if_fail(prs_out != NULL, FALSE);
	parley_wipe(prs_out, PARLEY_PRS_LEN);
	g_return_val_if_fail(c != NULL, FALSE);
	g_return_val_if_fail(pass != NULL || pass_len == 0, FALSE);
	g_return_val_if_fail(salt != NULL, FALSE);

	if (!derive_key(pass, pass_len, salt, iterations, key))
		return FALSE;           /* a miss: the caller runs PBKDF2 */
	i = find(c, key);
	parley_wipe(key, sizeof key);
	if (i < 0)
		return FALSE;
	memcpy(prs_out, c->entries[i].prs, PARLEY_PRS_LEN);
	c->entries[i].stamp = next_stamp(c);
	return TRUE;
}

void
parley_prs_cache_store(ParleyPrsCache *c,
                       const uint8_t *pass, size_t pass_len,
                       const uint8_t salt[PARLEY_SALT_LEN],
                       guint32 iterations,
                       const uint8_t prs[PARLEY_PRS_LEN])
{
	uint8_t key[KEY_LEN];
	Entry *e;
	int i;

	g_return_if_fail(c != NULL);
	g_return_if_fail(pass != NULL || pass_len == 0);
	g_return_if_fail(salt != NULL);
	g_return_if_fail(prs != NULL);

	if (!derive_key(pass, pass_len, salt, iterations, key))
		return;                 /* not cached; nothing lost but time */
	i = find(c, key);
	if (i < 0) {
		/* A free slot has stamp 0, so the smallest stamp is a free slot
		 * if there is one, else the least recently used entry. */
		int j;

		i = 0;
		for (j = 1; j < PARLEY_PRS_CACHE_ENTRIES; j++)
			if (c->entries[j].stamp < c->entries[i].stamp)
				i = j;
	}
	e = &c->entries[i];
	memcpy(e->key, key, KEY_LEN);
	memcpy(e->prs, prs, PARLEY_PRS_LEN);
	e->stamp = next_stamp(c);
	parley_wipe(key, sizeof key);
}

void
parley_prs_cache_clear(ParleyPrsCache *c)
{
	g_return_if_fail(c != NULL);
	parley_wipe(c->entries, ENTRIES_SIZE);
}

guint
parley_prs_cache_size(ParleyPrsCache *c)
{
	guint n = 0;
	int i;

	g_return_val_if_fail(c != NULL, 0);
	for (i = 0; i < PARLEY_PRS_CACHE_ENTRIES; i++)
		if (c->entries[i].stamp != 0)
			n++;
	return n;
}
