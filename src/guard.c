/*
 * guard.c - the responder's limits on who may start a handshake
 * (PROTOCOL.md §9).  See guard.h for the rules.
 *
 * One record per source that has a handshake in progress or failures on
 * file, in a hash table for lookup and in a queue ordered by when the
 * source was last heard of (admitted or finished), oldest first.  A record
 * with nothing in progress and no failures is dropped at once, so a
 * stranger who connects and leaves costs nothing afterwards; the queue
 * lets admit() forget stale failures in time proportional to what it
 * removes.  Nothing else is ever dropped: a full table refuses strangers
 * instead of forgetting a source that is backing off.
 *
 * Friends live in a table of their own, with a queue in the order they
 * last proved the passphrase.
 *
 * The strangers' budget is a token bucket kept as one instant, budget_t
 * (the generic cell rate algorithm): the bucket holds one token per
 * REFILL_MS between budget_t and now, at most BUDGET of them, so a full
 * bucket is any budget_t at least BUDGET * REFILL_MS in the past, and
 * taking a token moves budget_t one REFILL_MS later.
 */
#include <string.h>

#include "guard.h"

#define MS_PER_S          1000
#define FORGET_MS         ((gint64) PARLEY_FAIL_FORGET_S * MS_PER_S)
#define REFILL_MS         ((gint64) PARLEY_STRANGER_REFILL_S * MS_PER_S)
#define FULL_MS           ((gint64) PARLEY_STRANGER_BUDGET * REFILL_MS)
/* 2^(k-1) reaches the cap at this k; beyond it the wait is the cap. */
#define BACKOFF_SHIFT_MAX 30

typedef struct {
	char *addr;                 /* owned; also the hash table's key */
	guint in_progress;
	guint reserved;             /* of those, admitted as a stranger: each
	                             * holds the token its failure takes */
	guint failures;             /* consecutive, saturating */
	gint64 blocked_until;       /* ms; meaningful when failures > 0 */
	gint64 last_ms;             /* last admit or finish */
	GList link;                 /* in by_age; data points to this record */
} Record;

typedef struct {
	char *addr;                 /* owned; also the hash table's key */
	GList link;                 /* in friends_by_age */
} Friend;

struct ParleyGuard {
	GHashTable *records;        /* addr -> Record*, frees records */
	GQueue by_age;              /* Records, least recently heard of first */
	guint in_progress;
	GHashTable *friends;        /* addr -> Friend*, frees friends */
	GQueue friends_by_age;      /* Friends, least recently proven first */
	gint64 budget_t;            /* the bucket's instant (see the top) */
	guint reserved;             /* tokens held by strangers' handshakes */
};

static void
record_free(gpointer data)
{
	Record *r = data;

	g_free(r->addr);
	g_free(r);
}

static void
friend_free(gpointer data)
{
	Friend *f = data;

	g_free(f->addr);
	g_free(f);
}

ParleyGuard *
parley_guard_new(void)
{
	ParleyGuard *g = g_new0(ParleyGuard, 1);

	g->records = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, record_free);
	g_queue_init(&g->by_age);
	g->friends = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, friend_free);
	g_queue_init(&g->friends_by_age);
	/* a full bucket: any instant FULL_MS before every clock reading */
	g->budget_t = G_MININT64;
	return g;
}

void
parley_guard_free(ParleyGuard *g)
{
	if (g == NULL)
		return;
	/* The queues' links live inside the entries: nothing else to free. */
	g_hash_table_destroy(g->records);
	g_hash_table_destroy(g->friends);
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

/* Forget sources not heard of for FORGET_MS.  Their block has expired
 * too: a block lasts at most the cap, which is less than FORGET_MS.  This
 * is the only way a source with failures is forgotten. */
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

/* ---- the strangers' budget (§9, per account) ---------------------------- */

/* The bucket's instant, with a full bucket's surplus dropped. */
static gint64
budget_base(const ParleyGuard *g, gint64 now_ms)
{
	return MAX(g->budget_t, now_ms - FULL_MS);
}

/* Tokens in the bucket, those held by handshakes in progress included. */
static guint
budget_tokens(const ParleyGuard *g, gint64 now_ms)
{
	gint64 d = now_ms - budget_base(g, now_ms);

	/* d < 0 only if the clock went back: no token until it catches up */
	return d <= 0 ? 0 : (guint) MIN(d / REFILL_MS, (gint64) PARLEY_STRANGER_BUDGET);
}

/* A stranger's failure takes the token its handshake held. */
static void
budget_take(ParleyGuard *g, gint64 now_ms)
{
	g->budget_t = budget_base(g, now_ms) + REFILL_MS;
}

/* ---- friends ------------------------------------------------------------ */

/* addr proved the passphrase: a friend (again, most recently).  Its
 * handshakes in progress stop holding tokens: friends draw on nothing. */
static void
befriend(ParleyGuard *g, const char *addr)
{
	Friend *f = g_hash_table_lookup(g->friends, addr);
	Record *r = g_hash_table_lookup(g->records, addr);

	if (f != NULL) {
		g_queue_unlink(&g->friends_by_age, &f->link);
	} else {
		if (g_hash_table_size(g->friends) >= PARLEY_GUARD_MAX_FRIENDS) {
			Friend *old = g->friends_by_age.head->data;

			g_queue_unlink(&g->friends_by_age, &old->link);
			g_hash_table_remove(g->friends, old->addr);   /* frees old */
		}
		f = g_new0(Friend, 1);
		f->addr = g_strdup(addr);
		f->link.data = f;
		g_hash_table_insert(g->friends, f->addr, f);
	}
	g_queue_push_tail_link(&g->friends_by_age, &f->link);

	if (r != NULL) {
		g->reserved -= r->reserved;
		r->reserved = 0;
	}
}

/* ---- the rules ------------------------------------------------------------ */

ParleyError
parley_guard_admit(ParleyGuard *g, const char *addr, gint64 now_ms)
{
	gboolean stranger;
	Record *r;

	g_return_val_if_fail(g != NULL, PARLEY_ERR_STATE);
	g_return_val_if_fail(addr != NULL, PARLEY_ERR_STATE);

	prune(g, now_ms);
	r = g_hash_table_lookup(g->records, addr);
	stranger = !g_hash_table_contains(g->friends, addr);

	/* Refusals change nothing: a refused HS1 neither extends a block,
	 * nor takes a token, nor keeps a record alive. */
	if (r != NULL && r->failures > 0 && now_ms < r->blocked_until)
		return PARLEY_ERR_BUSY;
	if (g->in_progress >= PARLEY_MAX_HANDSHAKES)
		return PARLEY_ERR_BUSY;
	if (r != NULL && r->in_progress >= PARLEY_MAX_HANDSHAKES_PER_ADDR)
		return PARLEY_ERR_BUSY;
	if (stranger) {
		/* the budget: a token to hold until the verdict */
		if (budget_tokens(g, now_ms) <= g->reserved)
			return PARLEY_ERR_BUSY;
		/* a full table forgets nobody to make room */
		if (r == NULL && g_hash_table_size(g->records) >= PARLEY_GUARD_MAX_ADDRS)
			return PARLEY_ERR_BUSY;
	}

	if (r == NULL) {
		r = g_new0(Record, 1);
		r->addr = g_strdup(addr);
		r->link.data = r;
		g_hash_table_insert(g->records, r->addr, r);
		g_queue_push_tail_link(&g->by_age, &r->link);
	}
	r->in_progress++;
	g->in_progress++;
	if (stranger) {
		r->reserved++;
		g->reserved++;
	}
	touch(g, r, now_ms);
	return PARLEY_ERR_NONE;
}

void
parley_guard_finish(ParleyGuard *g, const char *addr,
                    ParleyGuardOutcome outcome, gint64 now_ms)
{
	gboolean stranger = FALSE;
	Record *r;

	g_return_if_fail(g != NULL);
	g_return_if_fail(addr != NULL);
	r = g_hash_table_lookup(g->records, addr);
	/* finish without a matching admit: a caller bug */
	g_return_if_fail(r != NULL && r->in_progress > 0);

	r->in_progress--;
	g->in_progress--;
	/* A source's handshakes either all hold a token (a stranger's) or
	 * none does (befriend released them): this one is like the rest. */
	if (r->reserved > 0) {
		r->reserved--;
		g->reserved--;
		stranger = TRUE;
	}

	switch (outcome) {
	case PARLEY_GUARD_FAILED: {
		gint64 until;

		if (stranger)
			budget_take(g, now_ms);
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
		befriend(g, addr);
		break;
	case PARLEY_GUARD_ABORTED:
	default:
		break;                  /* a stranger's token goes back */
	}

	if (r->in_progress == 0 && r->failures == 0)
		forget(g, r);
	else
		touch(g, r, now_ms);
}

void
parley_guard_befriend(ParleyGuard *g, const char *addr)
{
	g_return_if_fail(g != NULL);
	g_return_if_fail(addr != NULL);
	befriend(g, addr);
}

gboolean
parley_guard_is_friend(ParleyGuard *g, const char *addr)
{
	g_return_val_if_fail(g != NULL, FALSE);
	g_return_val_if_fail(addr != NULL, FALSE);
	return g_hash_table_contains(g->friends, addr);
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
parley_guard_budget(ParleyGuard *g, gint64 now_ms)
{
	guint tokens;

	g_return_val_if_fail(g != NULL, 0);
	tokens = budget_tokens(g, now_ms);
	return tokens > g->reserved ? tokens - g->reserved : 0;
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
