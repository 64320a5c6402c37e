/*
 * guard.h - the responder's admission rules for strangers (PROTOCOL.md §9).
 *
 * Counts handshakes in progress (from an HS1 that passed its checks until
 * HS3 or failure): at most PARLEY_MAX_HANDSHAKES in all and
 * PARLEY_MAX_HANDSHAKES_PER_ADDR from one source address.  Slows online
 * guessing: a handshake fails when HS2 was sent and no valid HS3 came (an
 * ERROR, a bad Ta, a close, the timeout); after the k-th consecutive failure
 * from an address, its HS1 are refused for 2^(k-1) s, at most
 * PARLEY_FAIL_BACKOFF_CAP_S; a success resets the count.
 *
 * Time is injected (now_ms, any monotonic millisecond clock), so the rules
 * are tested without waiting.  Memory stays bounded: an address is only
 * remembered while it has a handshake in progress or recent failures;
 * failures are forgotten PARLEY_FAIL_FORGET_S after the address was last
 * heard of, and at most PARLEY_GUARD_MAX_ADDRS addresses are kept (the one
 * idle the longest is forgotten first).
 *
 * addr is the source address as text, spelled the same way every time
 * (e.g. the numeric host from getnameinfo(NI_NUMERICHOST), without the
 * port); the guard compares it byte for byte.  A caller that wants IPv6
 * hosts of one /64 treated as one source passes the prefix instead.
 *
 * Ownership: the caller owns the guard (parley_guard_new / _free); addr
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
 * PARLEY_MAX_HANDSHAKES_PER_ADDR are in progress from addr. */
ParleyError parley_guard_admit(ParleyGuard *g, const char *addr, gint64 now_ms);

/* A handshake admitted for addr has ended: release its slot and record the
 * verdict.  Exactly once per successful admit. */
void parley_guard_finish(ParleyGuard *g, const char *addr,
                         ParleyGuardOutcome outcome, gint64 now_ms);

/* When addr may send HS1 again, in the clock of now_ms; 0 if it is not
 * blocked at now_ms. */
gint64 parley_guard_blocked_until(ParleyGuard *g, const char *addr, gint64 now_ms);

/* Handshakes in progress in all. */
guint parley_guard_in_progress(ParleyGuard *g);

/* Addresses remembered now (for tests and debug logs). */
guint parley_guard_tracked(ParleyGuard *g);

#endif
