/*
 * guard.c - the responder's admission rules for strangers (PROTOCOL.md §9).
 *
 * One record per source address that has a handshake in progress or
 * failures on file, in a hash table for lookup and in a queue ordered by
 * when the address was last heard of (admitted or finished), oldest first.
 * A record with nothing in progress and no failures is dropped at once, so
 * a stranger who connects and leaves costs nothing afterwards; the queue
 * lets admit() forget stale failures and evict the oldest record in time
 * proportional to what it removes.  Records with a handshake in progress
 * are never dropped (there are at most PARLEY_MAX_HANDSHAKES of them).
 */
#include <string.h>

#include "guard.h"

#define MS_PER_S          1000
#define FORGET_MS         ((gint64) PARLEY_FAIL_FORGET_S * MS_PER_S)
/* 2^(k-1) reaches the cap at this k; beyond it the wait is the cap. */
#define BACKOFF_SHIFT_MAX 30

typedef struct {
	char *addr;                 /* owned; also the hash table's key */
	guint in_progress;
	guint failures;             /* consecutive, saturating */
	gint64 blocked_until;       /* ms; meaningful when failures > 0 */
	gint64 last_ms;             /* last admit or finish */
	GList link;                 /* in by_age; data points to this record */
} Record;

struct ParleyGuard {
	GHashTable *records;        /* addr -> Record*, frees records */
	GQueue by_age;              /* Records, least recently heard of first */
	guint in_progress;
};

static void
record_free(gpointer data)
{
	Record *r = data;

	g_free(r->addr);
	g_free(r);
}

ParleyGuard *
parley_guard_new(void)
{
	ParleyGuard *g = g_new0(ParleyGuard, 1);

	g->records = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, record_free);
	g_queue_init(&g->by_age);
	return g;
}

void
parley_guard_free(ParleyGuard *g)
{
	if (g == NULL)
		return;
	/* The queue's links live inside the records: nothing else to free. */
	g_hash_table_destroy(g->records);
	g_free(g);
}

static void
forget(ParleyGuard *g, Record *r)
{
	g_queue_unlink(&g->by_age, &r->link);
	g_hash_table_remove(g->records, r->addr);  /* frees r */
}

static void
touch(ParleyGuard *g, Record *r, gint64 now_ms)
{
	r->last_ms = now_ms;
	g_queue_unlink(&g->by_age, &r->link);
	g_queue_push_tail_link(&g->by_age, &r->link);
}

/* Forget addresses not heard of for FORGET_MS.  Their block has expired
 * too: a block lasts at most the cap, which is less than FORGET_MS. */
static void
prune(ParleyGuard *g, gint64 now_ms)
{
	GList *l = g->by_age.head;

	while (l != NULL) {
		Record *r = l->data;

		l = l->next;
		if (r->in_progress > 0)
			continue;           /* at most PARLEY_MAX_HANDSHAKES of these */
		if (now_ms - r->last_ms < FORGET_MS)
			break;              /* the rest are newer */
		forget(g, r);
	}
}

/* Make room for one more record by forgetting the one heard of least
 * recently that has nothing in progress.  FALSE if there is none. */
static gboolean
evict_oldest(ParleyGuard *g)
{
	GList *l;

	for (l = g->by_age.head; l != NULL; l = l->next) {
		Record *r = l->data;

		if (r->in_progress == 0) {
			forget(g, r);
			return TRUE;
		}
	}
	return FALSE;
}

/* §9: after the k-th consecutive failure, 2^(k-1) s, at most the cap. */
static gint64
backoff_ms(guint failures)
{
	guint shift = failures - 1;
	gint64 s;

	if (shift > BACKOFF_SHIFT_MAX)
		shift = BACKOFF_SHIFT_MAX;
	s = (gint64) 1 << shift;
	if (s > PARLEY_FAIL_BACKOFF_CAP_S)
		s = PARLEY_FAIL_BACKOFF_CAP_S;
	return s * MS_PER_S;
}

ParleyError
parley_guard_admit(ParleyGuard *g, const char *addr, gint64 now_ms)
{
	Record *r;

	g_return_val_if_fail(g != NULL, PARLEY_ERR_STATE);
	g_return_val_if_fail(addr != NULL, PARLEY_ERR_STATE);

	prune(g, now_ms);
	r = g_hash_table_lookup(g->records, addr);

	/* Refusals change nothing: a refused HS1 neither extends a block nor
	 * keeps a record alive. */
	if (r != NULL && r->failures > 0 && now_ms < r->blocked_until)
		return PARLEY_ERR_BUSY;
	if (g->in_progress >= PARLEY_MAX_HANDSHAKES)
		return PARLEY_ERR_BUSY;
	if (r != NULL && r->in_progress >= PARLEY_MAX_HANDSHAKES_PER_ADDR)
		return PARLEY_ERR_BUSY;

	if (r == NULL) {
		if (g_hash_table_size(g->records) >= PARLEY_GUARD_MAX_ADDRS &&
		    !evict_oldest(g))
			return PARLEY_ERR_BUSY;   /* cannot happen: cap > 16 */
		r = g_new0(Record, 1);
		r->addr = g_strdup(addr);
		r->link.data = r;
		g_hash_table_insert(g->records, r->addr, r);
		g_queue_push_tail_link(&g->by_age, &r->link);
	}
	r->in_progress++;
	g->in_progress++;
	touch(g, r, now_ms);
	return PARLEY_ERR_NONE;
}

void
parley_guard_finish(ParleyGuard *g, const char *addr,
                    ParleyGuardOutcome outcome, gint64 now_ms)
{
	Record *r;

	g_return_if_fail(g != NULL);
	g_return_if_fail(addr != NULL);
	r = g_hash_table_lookup(g->records, addr);
	/* finish without a matching admit: a caller bug */
	g_return_if_fail(r != NULL && r->in_progress > 0);

	r->in_progress--;
	g->in_progress--;

	switch (outcome) {
	case PARLEY_GUARD_FAILED: {
		gint64 until;

		if (r->failures < G_MAXUINT)
			r->failures++;
		until = now_ms + backoff_ms(r->failures);
		/* Concurrent handshakes may finish out of order: never
		 * shorten a block already running. */
		if (until > r->blocked_until)
			r->blocked_until = until;
		break;
	}
	case PARLEY_GUARD_SUCCEEDED:
		/* The peer proved it knows the passphrase. */
		r->failures = 0;
		r->blocked_until = 0;
		break;
	case PARLEY_GUARD_ABORTED:
	default:
		break;
	}

	if (r->in_progress == 0 && r->failures == 0)
		forget(g, r);
	else
		touch(g, r, now_ms);
}

gint64
parley_guard_blocked_until(ParleyGuard *g, const char *addr, gint64 now_ms)
{
	Record *r;

	g_return_val_if_fail(g != NULL, 0);
	g_return_val_if_fail(addr != NULL, 0);
	r = g_hash_table_lookup(g->records, addr);
	if (r == NULL || r->failures == 0 || now_ms >= r->blocked_until)
		return 0;
	return r->blocked_until;
}

guint
parley_guard_in_progress(ParleyGuard *g)
{
	g_return_val_if_fail(g != NULL, 0);
	return g->in_progress;
}

guint
parley_guard_tracked(ParleyGuard *g)
{
	g_return_val_if_fail(g != NULL, 0);
	return g_hash_table_size(g->records);
}
