/*
 * admit.h - the responder's admission of an incoming connection
 * (PROTOCOL.md §4, §9, §11), decided once per connection: at HS1 on a
 * native connection, at accept on a classic one.  Nothing after that
 * (a classic rekey's key request, a second event) goes through it again.
 *
 * What is decided, in this order:
 *   1. §4 loopback (native): HS1 carries a sid of one of this account's own
 *      unfinished outgoing handshakes -> PARLEY_ERR_LOOPBACK.
 *   2. Which peer the caller is, and so which passphrase the handshake
 *      uses (the peer's own, or the account's for a stranger):
 *        - native, listen_port != 0: the peer on the caller's host with
 *          that port; none: a stranger.
 *        - native, listen_port == 0 (it does not listen): the only peer on
 *          the caller's host; none: a stranger; several: a stranger too,
 *          unless a buddy among them has the default port - a stranger
 *          would be named after that buddy's address, so it is refused
 *          (PARLEY_ERR_REFUSED) rather than given the buddy's entry.
 *        - classic (the original tool listens on the default port): the
 *          peer on the caller's host with the default port, else the only
 *          peer on that host, else a stranger.
 *   3. §9 refusing strangers: when the account accepts no strangers
 *      (parley_admission_set_accept_strangers), a caller whose match is
 *      not a buddy (no match, or a stranger's entry) -> PARLEY_ERR_REFUSED,
 *      before the guard counts anything and before any PBKDF2.
 *   4. §9 guard (guard.h): the source (IPv4 address, or IPv6 /64) may not
 *      be backing off, may not have too many handshakes in progress, and a
 *      stranger (no handshake completed with this account since the
 *      admission was made, i.e. since sign-on) needs a token of the
 *      account's budget and room in the table -> PARLEY_ERR_BUSY.  A
 *      connection let in holds one guard slot until
 *      parley_admission_finish() gives the verdict.
 *
 * A stranger (match < 0) uses the account's passphrase; the caller must
 * never attach a stranger's connection to a buddy's entry.
 *
 * Ownership: the caller owns the ParleyAdmission (new/free) and the
 * tickets it embeds in its connections (parley_admit_ticket_clear frees
 * what a ticket holds and finishes it as aborted if it still holds a
 * slot).  Peers' host keys are borrowed for the call.  No I/O, no
 * libpurple; time is injected.
 */
#ifndef PARLEY_ADMIT_H
#define PARLEY_ADMIT_H

#include <glib.h>
#include <stdint.h>

#include "constants.h"
#include "errors.h"
#include "guard.h"

typedef enum {
	PARLEY_ADMIT_NATIVE,
	PARLEY_ADMIT_CLASSIC
} ParleyAdmitMode;

/* One known peer, as the caller's peer table has it.  A peer may appear
 * more than once (its name's host key, and addresses it resolved to) with
 * the same id. */
typedef struct {
	const char *host_key;       /* parley_address_host_key() form */
	guint16 port;               /* the port of its address */
	gboolean buddy;             /* on the buddy list (not a stranger's entry) */
	guint id;                   /* the caller's handle, returned as match */
} ParleyAdmitPeer;

/* What admission gave one connection; embedded in the caller's
 * connection, zero-initialised. */
typedef struct {
	char *source;               /* the guard's key for the caller */
	gboolean matched;           /* match is valid: a known peer */
	guint match;                /* that peer's id */
	gboolean holding;           /* a guard slot is held */
	gboolean proven;            /* the verdict was SUCCEEDED */
} ParleyAdmitTicket;

typedef struct ParleyAdmission ParleyAdmission;

/* A new admission accepts strangers. */
ParleyAdmission *parley_admission_new(void);
void parley_admission_free(ParleyAdmission *a);      /* NULL is fine */

/* §9 "refusing strangers" (the account's setting): when accept is FALSE,
 * only callers matching a buddy are let in (step 3 above).  Takes effect
 * at the next admission. */
void parley_admission_set_accept_strangers(ParleyAdmission *a, gboolean accept);

/* §4: the sids of this account's own unfinished outgoing handshakes. */
void parley_admission_add_own_sid(ParleyAdmission *a, const uint8_t sid[PARLEY_SID_LEN]);
void parley_admission_remove_own_sid(ParleyAdmission *a, const uint8_t sid[PARLEY_SID_LEN]);

/* The source a connection from ip (numeric text, IPv4 or IPv6) counts
 * as: the IPv4 address, an IPv4-mapped IPv6 address as IPv4, or the IPv6
 * /64 ("2001:db8:1:2::/64").  Returns a new string; NULL if ip is not an
 * address. */
char *parley_admit_source(const char *ip);

/* Decide on an incoming connection from ip (see the top of the file).
 * sid is HS1's (native) or NULL (classic); listen_port is HS1's (0 in
 * classic mode).  On PARLEY_ERR_NONE the ticket is filled in (it must be
 * empty) and holds a guard slot; otherwise the ticket is left empty and
 * the error is what to answer (ERROR 4, 5 or 6; a classic caller is just
 * closed).  A refusal counts nothing. */
ParleyError parley_admission_admit(ParleyAdmission *a, ParleyAdmitMode mode,
                                   const char *ip, guint16 listen_port,
                                   const uint8_t *sid,
                                   const ParleyAdmitPeer *peers, guint n_peers,
                                   gint64 now_ms, ParleyAdmitTicket *ticket);

/* The handshake of a connection let in has ended with this verdict
 * (native: PARLEY_GUARD_FAILED when HS2 was sent and no valid HS3 came;
 * classic: FAILED at the first frame that does not decrypt, SUCCEEDED at
 * the first that does).  Releases the guard slot; does nothing more if
 * the ticket holds none (already finished, or never admitted), so callers
 * may call it from every path that ends a connection.  SUCCEEDED marks
 * the ticket proven even then. */
void parley_admission_finish(ParleyAdmission *a, ParleyAdmitTicket *ticket,
                             ParleyGuardOutcome outcome, gint64 now_ms);

/* May this connection start a PBKDF2 now, with running jobs in progress
 * in the process?  A connection that has not proven the passphrase (an
 * admitted one before its verdict) may not make more than
 * PARLEY_MAX_KDF_RUNNING run at once (§9); ticket NULL (our own outgoing
 * connection) or a proven one always may. */
gboolean parley_admit_may_derive(const ParleyAdmitTicket *ticket, guint running);

/* §9: this account completed a handshake it started with ip (numeric
 * text): ip's source is a friend, as if it had called. */
void parley_admission_befriend(ParleyAdmission *a, const char *ip);

/* Finish as aborted if still holding a slot, and free the source. */
void parley_admit_ticket_clear(ParleyAdmission *a, ParleyAdmitTicket *ticket, gint64 now_ms);

/* The guard, for logs and tests. */
ParleyGuard *parley_admission_guard(ParleyAdmission *a);

#endif
