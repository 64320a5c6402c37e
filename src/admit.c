/*
 * admit.c - the responder's admission of an incoming connection, once per
 * connection (PROTOCOL.md §4, §9, §11).  See admit.h for the rules.
 */
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "address.h"
#include "admit.h"

struct ParleyAdmission {
	GHashTable *own_sids;       /* GBytes * (§4) */
	ParleyGuard *guard;
	gboolean accept_strangers;  /* §9: FALSE lets in buddies only */
};

ParleyAdmission *
parley_admission_new(void)
{
	ParleyAdmission *a = g_new0(ParleyAdmission, 1);

	a->own_sids = g_hash_table_new_full(g_bytes_hash, g_bytes_equal,
	                                    (GDestroyNotify) g_bytes_unref, NULL);
	a->guard = parley_guard_new();
	a->accept_strangers = TRUE;
	return a;
}

void
parley_admission_free(ParleyAdmission *a)
{
	if (a == NULL)
		return;
	g_hash_table_destroy(a->own_sids);
	parley_guard_free(a->guard);
	g_free(a);
}

void
parley_admission_set_accept_strangers(ParleyAdmission *a, gboolean accept)
{
	g_return_if_fail(a != NULL);
	a->accept_strangers = accept;
}

void
parley_admission_add_own_sid(ParleyAdmission *a, const uint8_t sid[PARLEY_SID_LEN])
{
	g_return_if_fail(a != NULL && sid != NULL);
	g_hash_table_add(a->own_sids, g_bytes_new(sid, PARLEY_SID_LEN));
}

void
parley_admission_remove_own_sid(ParleyAdmission *a, const uint8_t sid[PARLEY_SID_LEN])
{
	GBytes *b;

	g_return_if_fail(a != NULL && sid != NULL);
	b = g_bytes_new_static(sid, PARLEY_SID_LEN);
	g_hash_table_remove(a->own_sids, b);
	g_bytes_unref(b);
}

char *
parley_admit_source(const char *ip)
{
	struct in6_addr a6;
	struct in_addr a4;
	char buf[INET6_ADDRSTRLEN];

	g_return_val_if_fail(ip != NULL, NULL);
	if (inet_pton(AF_INET, ip, &a4) == 1) {
		inet_ntop(AF_INET, &a4, buf, sizeof(buf));
		return g_strdup(buf);
	}
	if (inet_pton(AF_INET6, ip, &a6) != 1)
		return NULL;
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		memcpy(&a4, &a6.s6_addr[12], 4);
		inet_ntop(AF_INET, &a4, buf, sizeof(buf));
		return g_strdup(buf);
	}
	/* §9: one IPv6 /64 is one source (a host gets a whole /64) */
	memset(&a6.s6_addr[8], 0, 8);
	inet_ntop(AF_INET6, &a6, buf, sizeof(buf));
	return g_strconcat(buf, "/64", NULL);
}

/* Step 2 of admit.h: which known peer calls.  Returns FALSE to refuse
 * (a stranger who would get a buddy's entry); else *matched / *match, and
 * *buddy: the match is on the buddy list. */
static gboolean
match_peer(ParleyAdmitMode mode, const char *key, guint16 listen_port,
           const ParleyAdmitPeer *peers, guint n_peers,
           gboolean *matched, guint *match, gboolean *buddy)
{
	gboolean have_only = FALSE, several = FALSE, default_buddy = FALSE;
	gboolean have_default = FALSE, only_buddy = FALSE, on_default_buddy = FALSE;
	guint only = 0, on_default = 0;

	*matched = FALSE;
	*buddy = FALSE;
	for (guint i = 0; i < n_peers; i++) {
		const ParleyAdmitPeer *p = &peers[i];

		if (p->host_key == NULL || strcmp(p->host_key, key) != 0)
			continue;
		if (mode == PARLEY_ADMIT_NATIVE && listen_port != 0) {
			if (p->port == listen_port) {
				*matched = TRUE;
				*match = p->id;
				*buddy = p->buddy;
				return TRUE;
			}
			continue;
		}
		/* the same peer may be listed under several keys */
		if (!have_only) {
			have_only = TRUE;
			only = p->id;
			only_buddy = p->buddy;
		} else if (p->id != only) {
			several = TRUE;
		}
		if (p->port == PARLEY_DEFAULT_PORT) {
			have_default = TRUE;
			on_default = p->id;
			on_default_buddy = p->buddy;
			default_buddy = default_buddy || p->buddy;
		}
	}
	if (mode == PARLEY_ADMIT_NATIVE && listen_port != 0)
		return TRUE;                        /* a stranger */
	if (mode == PARLEY_ADMIT_CLASSIC && have_default) {
		*matched = TRUE;
		*match = on_default;
		*buddy = on_default_buddy;
		return TRUE;
	}
	if (have_only && !several) {
		*matched = TRUE;
		*match = only;
		*buddy = only_buddy;
		return TRUE;
	}
	/* several peers on the host and the caller does not say which: it is
	 * a stranger, named after the default port - never a buddy's entry */
	return !(several && default_buddy);
}

ParleyError
parley_admission_admit(ParleyAdmission *a, ParleyAdmitMode mode,
                       const char *ip, guint16 listen_port, const uint8_t *sid,
                       const ParleyAdmitPeer *peers, guint n_peers,
                       gint64 now_ms, ParleyAdmitTicket *ticket)
{
	char *source, *key;
	gboolean matched, buddy;
	guint match = 0;
	ParleyError err;

	g_return_val_if_fail(a != NULL && ip != NULL && ticket != NULL, PARLEY_ERR_STATE);
	g_return_val_if_fail(ticket->source == NULL && !ticket->holding, PARLEY_ERR_STATE);
	g_return_val_if_fail(mode == PARLEY_ADMIT_CLASSIC || sid != NULL, PARLEY_ERR_STATE);

	/* 1. §4: our own HS1 came back to us */
	if (mode == PARLEY_ADMIT_NATIVE) {
		GBytes *b = g_bytes_new_static(sid, PARLEY_SID_LEN);
		gboolean own = g_hash_table_contains(a->own_sids, b);

		g_bytes_unref(b);
		if (own)
			return PARLEY_ERR_LOOPBACK;
	}
	source = parley_admit_source(ip);
	if (source == NULL)
		return PARLEY_ERR_REFUSED;

	/* 2. who calls: decides the passphrase */
	key = parley_address_host_key(ip);
	if (!match_peer(mode, key, mode == PARLEY_ADMIT_NATIVE ? listen_port : 0,
	                peers, n_peers, &matched, &match, &buddy)) {
		g_free(key);
		g_free(source);
		return PARLEY_ERR_REFUSED;
	}
	g_free(key);

	/* 3. §9: an account that accepts no strangers lets in buddies only,
	 * before the guard counts anything (no slot, no token, no record) */
	if (!a->accept_strangers && !buddy) {
		g_free(source);
		return PARLEY_ERR_REFUSED;
	}

	/* 4. §9: the guard */
	err = parley_guard_admit(a->guard, source, now_ms);
	if (err != PARLEY_ERR_NONE) {
		g_free(source);
		return err;
	}
	ticket->source = source;
	ticket->matched = matched;
	ticket->match = match;
	ticket->holding = TRUE;
	ticket->proven = FALSE;
	return PARLEY_ERR_NONE;
}

void
parley_admission_finish(ParleyAdmission *a, ParleyAdmitTicket *ticket,
                        ParleyGuardOutcome outcome, gint64 now_ms)
{
	g_return_if_fail(a != NULL && ticket != NULL);
	/* a connection whose slot went at a timeout may still prove itself */
	if (outcome == PARLEY_GUARD_SUCCEEDED)
		ticket->proven = TRUE;
	if (!ticket->holding)
		return;
	ticket->holding = FALSE;
	parley_guard_finish(a->guard, ticket->source, outcome, now_ms);
}

gboolean
parley_admit_may_derive(const ParleyAdmitTicket *ticket, guint running)
{
	if (ticket == NULL || ticket->proven)
		return TRUE;
	return running < PARLEY_MAX_KDF_RUNNING;
}

void
parley_admit_ticket_clear(ParleyAdmission *a, ParleyAdmitTicket *ticket, gint64 now_ms)
{
	g_return_if_fail(a != NULL && ticket != NULL);
	parley_admission_finish(a, ticket, PARLEY_GUARD_ABORTED, now_ms);
	g_clear_pointer(&ticket->source, g_free);
	ticket->matched = FALSE;
	ticket->proven = FALSE;
}

void
parley_admission_befriend(ParleyAdmission *a, const char *ip)
{
	char *source;

	g_return_if_fail(a != NULL && ip != NULL);
	source = parley_admit_source(ip);
	if (source != NULL)
		parley_guard_befriend(a->guard, source);
	g_free(source);
}

ParleyGuard *
parley_admission_guard(ParleyAdmission *a)
{
	g_return_val_if_fail(a != NULL, NULL);
	return a->guard;
}
