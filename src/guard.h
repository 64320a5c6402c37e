/*
 * guard.h - the responder's limits on who may start a handshake
 * (PROTOCOL.md §9), one guard per account.
 *
 * Every rule counts per source (the caller passes the source as text:
 * admit.c's parley_admit_source gives an IPv4 address or an IPv6 /64).
 *
 *   Work.  At most PARLEY_MAX_HANDSHAKES handshakes in progress (from an
 *     HS1 that passed its checks until the verdict), and
 *     PARLEY_MAX_HANDSHAKES_PER_ADDR from one source.
 *   Per source.  A handshake fails when HS2 was sent and no valid HS3
 *     came (an ERROR, a bad Ta, a close, the timeout); after the k-th
 *     consecutive failure from a source, its HS1 are refused for
 *     2^(k-1) s, at most PARLEY_FAIL_BACKOFF_CAP_S; a success resets the
 *     count.
 *   Per account.  A source that has completed a handshake with the
 *     account since the guard was made (sign-on) is a friend; every other
 *     source is a stranger.  Strangers' failures draw on one token bucket
 *     of PARLEY_STRANGER_BUDGET tokens, one back every
 *     PARLEY_STRANGER_REFILL_S: a failure takes a token, and with none
 *     left strangers' HS1 are refused.  A stranger's handshake in progress
 *     holds the token its failure would take, so handshakes running at
 *     once cannot overdraw the bucket: strangers fail at most
 *     BUDGET + t / REFILL times in any t seconds.  Friends keep only the
 *     per-source and work rules, so guesses sprayed from many sources
 *     cannot lock them out.
 *   Memory.  A source is remembered while it has a handshake in progress
 *     or failures on file; failures are forgotten PARLEY_FAIL_FORGET_S
 *     after the source was last heard of (its block is over long before),
 *     never to make room.  With PARLEY_GUARD_MAX_ADDRS sources on file, a
 *     stranger that is not among them is refused.  Friends are kept apart,
 *     at most PARLEY_GUARD_MAX_FRIENDS (the least recently proven goes),
 *     and are let in even when the table is full: only a passphrase
 *     holder makes a friend, so the records they add beyond the table's
 *     bound are few (and forgotten like the others).
 *
 * Refusals change nothing: a refused HS1 neither extends a block, nor
 * takes a token, nor keeps a record alive.
 *
 * Time is injected (now_ms, any monotonic millisecond clock), so the rules
 * are tested without waiting.  The guard compares sources byte for byte.
 *
 * Ownership: the caller owns the guard (parley_guard_new / _free); source
 * strings are copied.  Not thread-safe; no libpurple.
 */
#ifndef PARLEY_GUARD_H
#define PARLEY_GUARD_H

#include <glib.h>
#include "constants.h"
#include "errors.h"

typedef enum {
	PARLEY_GUARD_ABORTED,       /* ended before HS2 was sent: no verdict */
	PARLEY_GUARD_FAILED,        /* HS2 sent, no valid HS3 */
	PARLEY_GUARD_SUCCEEDED      /* valid HS3 received */
} ParleyGuardOutcome;

typedef struct ParleyGuard ParleyGuard;

ParleyGuard *parley_guard_new(void);
void parley_guard_free(ParleyGuard *g);      /* NULL is fine */

/* Called for an HS1 that passed its own checks.  Returns PARLEY_ERR_NONE and
 * counts one more handshake in progress from addr (end it with
 * parley_guard_finish), or PARLEY_ERR_BUSY (send ERROR 4) when addr is
 * backing off, or PARLEY_MAX_HANDSHAKES are in progress, or
 * PARLEY_MAX_HANDSHAKES_PER_ADDR are in progress from addr, or addr is a
 * stranger and the budget has no token to spare or the table is full. */
ParleyError parley_guard_admit(ParleyGuard *g, const char *addr, gint64 now_ms);

/* A handshake admitted for addr has ended: release its slot and record the
 * verdict (a stranger's failure takes its token; a success makes addr a
 * friend).  Exactly once per successful admit. */
void parley_guard_finish(ParleyGuard *g, const char *addr,
                         ParleyGuardOutcome outcome, gint64 now_ms);

/* addr completed a handshake that did not go through admit (one this
 * account started): it is a friend from now on. */
void parley_guard_befriend(ParleyGuard *g, const char *addr);

/* Whether addr is a friend. */
gboolean parley_guard_is_friend(ParleyGuard *g, const char *addr);

/* When addr may send HS1 again, in the clock of now_ms; 0 if it is not
 * blocked at now_ms. */
gint64 parley_guard_blocked_until(ParleyGuard *g, const char *addr, gint64 now_ms);

/* Tokens a new stranger's handshake could take at now_ms (those in the
 * bucket less those held by strangers' handshakes in progress). */
guint parley_guard_budget(ParleyGuard *g, gint64 now_ms);

/* Handshakes in progress in all. */
guint parley_guard_in_progress(ParleyGuard *g);

/* Sources with a record (failures or handshakes in progress) now, friends
 * not counted unless they have one (for tests and debug logs). */
guint parley_guard_tracked(ParleyGuard *g);

#endif
