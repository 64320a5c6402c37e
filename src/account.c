/*
 * account.c - the purple glue: sockets, sessions, peers and what the user
 * sees.  Everything here runs on the main loop; PBKDF2 runs on the
 * kdf_worker threads and comes back here.
 *
 * Object model: a ParleyAccount (gc->proto_data) owns ParleyPeers (one per
 * buddy address, plus strangers who knew the passphrase) and ParleyConns
 * (one per TCP connection).  A peer points at its established connection
 * and its outgoing attempt; a connection points back at its peer once it
 * knows who is calling.  Connections are only freed from conn_process(),
 * at the end of the callback that handles them, or from account close.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <glib/gi18n-lib.h>

#include "account.h"
#include "address.h"
#include "admit.h"
#include "buddy_passphrase.h"
#include "classic.h"
#include "constants.h"
#include "crypto.h"
#include "kdf_worker.h"
#include "names.h"
#include "prs_cache.h"
#include "session.h"

struct ParleyAccount {
	PurpleAccount *account;
	PurpleConnection *gc;
	char *name;
	uint8_t salt[PARLEY_SALT_LEN];
	guint32 iterations;
	guint16 listen_port;        /* announced in HS1; 0 when not listening */
	guint rekey_messages;
	guint rekey_minutes;
	PurpleNetworkListenData *listen_data[2];
	int listen_fd[2];
	guint listen_watch[2];
	guint listen_pause[2];      /* accepting again after running out of fds */
	gboolean classic;           /* speaks classic mode (§11) only */
	GHashTable *peers;          /* buddy name -> ParleyPeer* */
	GList *conns;               /* ParleyConn* */
	GList *kdf_requests;        /* KdfRequest* */
	/* who may call (§4 loopback, per account so that two accounts of one
	 * process can talk to each other; §9 guard; the peer match) */
	ParleyAdmission *admission;
	ParleyPrsCache *prs_cache;
	gboolean closing;
};

struct ParleyPeer {
	ParleyAccount *pa;
	char *name;                 /* the buddy name: an address */
	char *host;
	char *host_key;             /* parley_address_host_key(host), kept: an
	                             * incoming call is compared with every peer */
	char *reached_key;          /* host key of the address a DNS name last
	                             * resolved to (our dial reached it), or NULL */
	GPtrArray *resolved_keys;   /* host keys a DNS name resolves to (char*) */
	PurpleDnsQueryData *dns;    /* that lookup, while it runs */
	guint16 port;
	ParleyConn *conn;           /* established, or NULL */
	ParleyConn *dialing;        /* our outgoing attempt, or NULL */
	ParleyOutbox outbox;        /* sent, not yet acknowledged (§7) */
	ParleySeenIds seen;         /* shown already (§7) */
	guint retry_timer;
	guint retry_delay_s;
	guint give_up_timer;
	gboolean hold;              /* do not redial by ourselves (auth failed, loopback) */
	gboolean no_listen;         /* it called us announcing no listen port:
	                             * never dialled, it calls back (§9) */
	gint64 retry_at;            /* when retry_timer fires */
	gboolean told_waiting;      /* "will be sent when connected" said once */
	char *announced;            /* the name the peer announced */
};

typedef struct KdfRequest KdfRequest;

typedef struct {
	struct ParleyConn *c;
	guint kdf_id;
} KdfWaiter;

struct ParleyConn {
	ParleyAccount *pa;
	ParleyPeer *peer;
	guint id;                   /* for the debug log */
	gboolean initiator;
	int fd;
	guint read_watch;
	guint write_watch;
	guint timer;
	gint64 timer_at;
	guint kick;
	PurpleProxyConnectData *connect_data;
	ParleySession *session;     /* native mode, or */
	ParleyClassic *classic;     /* classic mode (§11) */
	gboolean undecrypt_told;    /* "could not decrypt" said for this run */
	char *remote_ip;
	gboolean established;
	/* incoming: what admission decided, once (at HS1, or at accept in
	 * classic mode); holds a §9 guard slot until the verdict */
	ParleyAdmitTicket ticket;
	gboolean admit_done;
	gboolean hs2_sent;
	/* classic, incoming, until a frame from the caller decrypts: then the
	 * guard's verdict, and a stranger is closed (plugin rule) */
	gint64 proof_deadline;
	/* classic, from a caller that is no buddy: it was given a salt and
	 * cost a PBKDF2, so ending without proof counts as a failed guess
	 * (§9), as a native handshake past HS2 does */
	gboolean counts_as_guess;
	char *source;               /* incoming: parley_admit_source(remote_ip) */
	guint kdf_id;
	KdfRequest *kdf;            /* PBKDF2 we wait for */
	gboolean own_sid;           /* sid registered for the loopback check */
	uint8_t sid[PARLEY_SID_LEN];
	ParleyError error;
	gboolean error_from_peer;
	int bye_reason;
};

/* Coalesced PBKDF2: connections that need the same PRS wait on one job. */
struct KdfRequest {
	ParleyAccount *pa;
	uint8_t *tag;               /* HMAC(salt || iterations, passphrase),
	                             * 32 bytes: it allows guessing at HMAC speed,
	                             * so it lives in secure memory */
	uint8_t salt[PARLEY_SALT_LEN];
	guint32 iterations;
	size_t out_len;
	uint8_t *pass;              /* secure copy, for the cache */
	size_t pass_len;
	ParleyKdfJob *job;
	GList *waiters;             /* ParleyConn* */
};

static guint next_conn_id = 1;
/* the "conversation-created" signal, once connected */
static PurplePlugin *watching_plugin;
static gboolean watching;

static void conn_kick(ParleyConn *c);
static gboolean conn_process(ParleyConn *c);
static void conn_destroy(ParleyConn *c);
static void peer_dial(ParleyPeer *p);
static void peer_schedule_retry(ParleyPeer *p);
static void peer_arm_give_up(ParleyPeer *p);
static void classic_report_unsent(ParleyPeer *p);
static void peer_reached(ParleyPeer *p, ParleyConn *c);
static char *sockaddr_ip(const struct sockaddr_storage *ss);
static gboolean peer_is_buddy(ParleyPeer *p);

static gint64
now_ms(void)
{
	return g_get_monotonic_time() / 1000;
}

static gint64
env_ms(const char *name, gint64 dflt)
{
	const char *v = g_getenv(name);

	return v != NULL && *v != '\0' ? g_ascii_strtoll(v, NULL, 10) : dflt;
}

static gboolean
pref_bool(const char *leaf)
{
	char *path = g_strconcat(PARLEY_PREFS_ROOT "/", leaf, NULL);
	gboolean v = purple_prefs_exists(path) ? purple_prefs_get_bool(path) : TRUE;

	g_free(path);
	return v;
}

static gint64
give_up_ms(void)
{
	int minutes = PARLEY_GIVE_UP_MINUTES;

	if (purple_prefs_exists(PARLEY_PREFS_ROOT "/give-up-minutes"))
		minutes = purple_prefs_get_int(PARLEY_PREFS_ROOT "/give-up-minutes");
	if (minutes < 1)
		minutes = 1;
	/* tests shorten the wait */
	return env_ms("PARLEY_TEST_GIVE_UP_MS", (gint64) minutes * 60000);
}

/* ---- what the conversation says ---------------------------------------- */

void
parley_conv_notice(PurpleAccount *account, const char *who, gboolean force,
                   PurpleMessageFlags flags, const char *text)
{
	PurpleConversation *conv;
	char *html;

	conv = purple_find_conversation_with_account(PURPLE_CONV_TYPE_IM, who, account);
	if (conv == NULL && !force)
		return;
	if (conv == NULL)
		conv = purple_conversation_new(PURPLE_CONV_TYPE_IM, account, who);
	html = g_markup_escape_text(text, -1);
	purple_conversation_write(conv, NULL, html, flags | PURPLE_MESSAGE_NO_LINKIFY,
	                          time(NULL));
	g_free(html);
}

/* How the conversation names a peer: a buddy by its alias (the user's
 * own, else the name it announced, else its address); anyone else by its
 * address alone - a stranger may announce a buddy's name. */
static const char *
peer_display(ParleyPeer *p)
{
	PurpleBuddy *b = purple_find_buddy(p->pa->account, p->name);

	return b != NULL ? purple_buddy_get_alias(b) : p->name;
}

static char *
established_text(ParleyPeer *p, const char *code)
{
	if (!pref_bool("show-code"))
		return g_strdup_printf(_("Secure session with %s established."),
		                       peer_display(p));
	return g_strdup_printf(_("Secure session with %s established. Verification code: %s "
	                         "- compare it with %s's (by voice, in person); if the codes "
	                         "differ, someone is in between."),
	                       peer_display(p), code, peer_display(p));
}

/* ---- the protocol engine of a connection: native or classic --------- */

static gboolean
eng_exists(const ParleyConn *c)
{
	return c->session != NULL || c->classic != NULL;
}

static void
eng_feed(ParleyConn *c, const uint8_t *data, size_t len)
{
	if (c->classic != NULL)
		parley_classic_feed(c->classic, data, len, now_ms());
	else
		parley_session_feed(c->session, data, len, now_ms());
}

static void
eng_eof(ParleyConn *c)
{
	if (c->classic != NULL)
		parley_classic_eof(c->classic);
	else
		parley_session_eof(c->session, now_ms());
}

static gboolean
eng_closed(const ParleyConn *c)
{
	if (c->classic != NULL)
		return parley_classic_is_closed(c->classic);
	return parley_session_state(c->session) == PARLEY_SESSION_CLOSED;
}

/* Close from our side: BYE with reason on a native session. */
static void
eng_close(ParleyConn *c, int bye_reason)
{
	if (c->classic != NULL)
		parley_classic_close(c->classic);
	else if (c->session != NULL)
		parley_session_close(c->session, bye_reason);
}

static gint64
eng_tick(ParleyConn *c)
{
	if (c->classic != NULL)
		return parley_classic_tick(c->classic, now_ms());
	return parley_session_tick(c->session, now_ms());
}

static gboolean
eng_next_event(ParleyConn *c, ParleyEvent *ev)
{
	if (c->classic != NULL)
		return parley_classic_next_event(c->classic, ev);
	return parley_session_next_event(c->session, ev);
}

static GByteArray *
eng_output(ParleyConn *c)
{
	return c->classic != NULL ? parley_classic_output(c->classic)
	                          : parley_session_output(c->session);
}

static void
eng_provide(ParleyConn *c, guint kdf_id, const uint8_t *out, size_t len)
{
	if (c->classic != NULL)
		parley_classic_provide_kdf(c->classic, kdf_id, out, len, now_ms());
	else
		parley_session_provide_prs(c->session, kdf_id, out, now_ms());
}

/* Hand one message to an established connection. */
static void
eng_send(ParleyConn *c, ParleyOutMsg *m)
{
	if (c->classic != NULL)
		parley_classic_send(c->classic, m->text, m->len, now_ms());
	else
		parley_session_send_message(c->session, m->msg_id, m->text, m->len, now_ms());
	m->written = TRUE;
}

G_STATIC_ASSERT(PARLEY_MAX_UNACKED <= PARLEY_SEEN_IDS);

/* §7 on a native session: hand the peer's oldest PARLEY_MAX_UNACKED
 * messages to its connection, those not handed to it yet, in order.  A
 * resend after a reconnection is only recognised by the receiver while it
 * still remembers the msg_id (the last PARLEY_SEEN_IDS); with no more than
 * this many unacknowledged on the wire, no message can fall out of its
 * memory before its ACK is back.  Returns TRUE if it sent any. */
static gboolean
peer_fill_window(ParleyPeer *p)
{
	GList *l;
	guint i;
	gboolean sent = FALSE;

	if (p->conn == NULL || p->conn->session == NULL)
		return FALSE;
	for (l = p->outbox.msgs.head, i = 0; l != NULL && i < PARLEY_MAX_UNACKED;
	     l = l->next, i++) {
		ParleyOutMsg *m = l->data;

		if (!m->written) {
			eng_send(p->conn, m);
			sent = TRUE;
		}
	}
	return sent;
}

/* ---- PBKDF2 requests ----------------------------------------------------- */

static void
kdf_request_free(KdfRequest *r)
{
	r->pa->kdf_requests = g_list_remove(r->pa->kdf_requests, r);
	if (r->pass != NULL)
		parley_secure_free(r->pass, r->pass_len);
	parley_secure_free(r->tag, 32);
	g_list_free_full(r->waiters, g_free);
	parley_wipe(r, sizeof(*r));
	g_free(r);
}

static void
kdf_done(const uint8_t *out, size_t out_len, gboolean ok, gpointer data)
{
	KdfRequest *r = data;
	GList *waiters = r->waiters, *l;

	r->waiters = NULL;
	r->job = NULL;
	/* classic salts are fresh for every key: nothing worth caching */
	if (ok && r->out_len == PARLEY_PRS_LEN)
		parley_prs_cache_store(r->pa->prs_cache, r->pass, r->pass_len, r->salt,
		                       r->iterations, out);
	for (l = waiters; l != NULL; l = l->next) {
		KdfWaiter *w = l->data;
		ParleyConn *c = w->c;

		c->kdf = NULL;
		if (!ok) {
			eng_close(c, 2);
		} else {
			eng_provide(c, w->kdf_id, out, out_len);
			if (!c->initiator && c->session != NULL)
				c->hs2_sent = TRUE;
		}
		/* processed from the main loop, one at a time */
		conn_kick(c);
	}
	g_list_free_full(waiters, g_free);
	kdf_request_free(r);
}

static void
kdf_detach(ParleyConn *c)
{
	GList *rl, *rnext, *l, *next;

	for (rl = c->pa->kdf_requests; rl != NULL; rl = rnext) {
		KdfRequest *r = rl->data;

		rnext = rl->next;
		for (l = r->waiters; l != NULL; l = next) {
			KdfWaiter *w = l->data;

			next = l->next;
			if (w->c == c) {
				g_free(w);
				r->waiters = g_list_delete_link(r->waiters, l);
			}
		}
		if (r->waiters == NULL) {
			parley_kdf_cancel(r->job);
			kdf_request_free(r);
		}
	}
	c->kdf = NULL;
}

/* The passphrase for this peer: its own if set (§4), else the account's;
 * NULL while its own is not remembered and not given (buddy_passphrase.h). */
static const char *
passphrase_for(ParleyAccount *pa, ParleyPeer *p)
{
	return parley_buddy_passphrase_get(pa->account, p != NULL ? p->name : NULL);
}

/* A key request that may not run now (§9: a caller that has proven
 * nothing may not make more than PARLEY_MAX_KDF_RUNNING run at once):
 * ERROR 4 natively; classic mode has no error frame, the caller is just
 * closed. */
static void
conn_refuse_kdf(ParleyConn *c)
{
	purple_debug_info(PARLEY_DEBUG, "conn %u: too many key derivations running: "
	                  "refused\n", c->id);
	if (c->session != NULL)
		parley_session_refuse(c->session, PARLEY_ERR_BUSY, NULL);
	else
		eng_close(c, 2);
}

/* A classic caller the user knows: matched by address to a buddy (not to
 * the entry of an earlier stranger). */
static gboolean
conn_known(const ParleyConn *c)
{
	return c->peer != NULL && peer_is_buddy(c->peer);
}

/* A classic caller that is no buddy and has not proven the passphrase:
 * nothing of it reaches the user or the entry it may have matched. */
static gboolean
conn_unproven_stranger(const ParleyConn *c)
{
	return c->classic != NULL && !c->initiator && !c->ticket.proven && !conn_known(c);
}

/* Is this key request held to §9's cap on strangers' PBKDF2?  Never our
 * own work (our dial, our own rekeys); a native caller's HS1 always (who
 * it claims to be is not proven yet); a classic caller's salt and rekeys
 * unless it is a buddy, whose connections must not be closed because
 * strangers keep the workers busy. */
static gboolean
kdf_capped(const ParleyConn *c, const ParleyEvent *ev)
{
	if (c->initiator || !ev->by_peer)
		return FALSE;
	if (c->session != NULL)
		return TRUE;
	return !conn_known(c);
}

/* NEED_KDF: answer from the cache, join a running job, or start one (or
 * refuse, see conn_refuse_kdf).  The passphrase is the one admission
 * chose: the matched peer's, else the account's. */
static void
conn_need_kdf(ParleyConn *c, const ParleyEvent *ev)
{
	ParleyAccount *pa = c->pa;
	ParleyError err;
	size_t len;
	/* §3 NFC UTF-8 natively; §11 NFC then Latin-1 in classic mode */
	uint8_t *pass = c->classic != NULL ?
		parley_classic_passphrase(passphrase_for(pa, c->peer), &len, &err) :
		parley_passphrase_nfc(passphrase_for(pa, c->peer), &len, &err);
	uint8_t prs[PARLEY_PRS_LEN];
	uint8_t tagkey[PARLEY_SALT_LEN + 4];
	uint8_t tag[32];
	KdfRequest *r = NULL;
	GList *l;

	if (pass == NULL) {
		eng_close(c, 2);
		return;
	}
	c->kdf_id = ev->kdf_id;
	if (c->session != NULL && parley_prs_cache_lookup(pa->prs_cache, pass, len, ev->kdf_salt,
	                            ev->kdf_iterations, prs)) {
		parley_secure_free(pass, len);
		parley_session_provide_prs(c->session, ev->kdf_id, prs, now_ms());
		parley_wipe(prs, sizeof(prs));
		if (!c->initiator)
			c->hs2_sent = TRUE;
		return;
	}

	memcpy(tagkey, ev->kdf_salt, PARLEY_SALT_LEN);
	memcpy(tagkey + PARLEY_SALT_LEN, &ev->kdf_iterations, 4);
	if (!parley_hmac_sha256(tagkey, sizeof(tagkey), pass, len, tag)) {
		/* fail closed: no key from a broken library */
		parley_secure_free(pass, len);
		parley_wipe(tag, sizeof(tag));
		eng_close(c, 2);
		return;
	}
	for (l = pa->kdf_requests; l != NULL; l = l->next) {
		KdfRequest *q = l->data;

		if (q->iterations == ev->kdf_iterations && q->out_len == ev->kdf_len &&
		    parley_ct_equal(q->tag, tag, sizeof(tag))) {
			r = q;
			break;
		}
	}
	if (r == NULL) {
		/* §9: a stranger may not make us run more than 2 PBKDF2 at once */
		if (kdf_capped(c, ev) && !parley_admit_may_derive(&c->ticket, parley_kdf_busy())) {
			parley_secure_free(pass, len);
			parley_wipe(tag, sizeof(tag));
			conn_refuse_kdf(c);
			return;
		}
		r = g_new0(KdfRequest, 1);
		r->pa = pa;
		r->tag = parley_secure_alloc(sizeof(tag));
		memcpy(r->tag, tag, sizeof(tag));
		memcpy(r->salt, ev->kdf_salt, PARLEY_SALT_LEN);
		r->iterations = ev->kdf_iterations;
		r->out_len = ev->kdf_len;
		r->pass = pass;
		r->pass_len = len;
		pass = NULL;
		r->job = parley_kdf_submit(r->pass, r->pass_len, r->salt, PARLEY_SALT_LEN,
		                           r->iterations, r->out_len, kdf_done, r);
		pa->kdf_requests = g_list_prepend(pa->kdf_requests, r);
	}
	if (pass != NULL)
		parley_secure_free(pass, len);
	parley_wipe(tag, sizeof(tag));
	parley_wipe(tagkey, sizeof(tagkey));
	{
		KdfWaiter *w = g_new0(KdfWaiter, 1);

		w->c = c;
		w->kdf_id = ev->kdf_id;
		r->waiters = g_list_append(r->waiters, w);
	}
	c->kdf = r;
}

/* ---- peers ------------------------------------------------------------- */

static void
peer_free(ParleyPeer *p)
{
	if (p->dns != NULL)
		purple_dnsquery_destroy(p->dns);
	if (p->resolved_keys != NULL)
		g_ptr_array_unref(p->resolved_keys);
	if (p->retry_timer)
		purple_timeout_remove(p->retry_timer);
	if (p->give_up_timer)
		purple_timeout_remove(p->give_up_timer);
	parley_outbox_clear(&p->outbox);
	g_free(p->name);
	g_free(p->host);
	g_free(p->host_key);
	g_free(p->reached_key);
	g_free(p->announced);
	g_free(p);
}

static void
peer_resolved_cb(GSList *hosts, gpointer data, const char *error_message)
{
	ParleyPeer *p = data;
	GSList *l;

	p->dns = NULL;
	if (p->resolved_keys == NULL)
		p->resolved_keys = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_set_size(p->resolved_keys, 0);
	/* pairs: the address's length, then the address */
	for (l = hosts; l != NULL && l->next != NULL; l = l->next->next) {
		struct sockaddr_storage ss;
		size_t len = GPOINTER_TO_SIZE(l->data);

		if (len > sizeof(ss))
			continue;
		memset(&ss, 0, sizeof(ss));
		memcpy(&ss, l->next->data, len);
		if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
			char *ip = sockaddr_ip(&ss);

			g_ptr_array_add(p->resolved_keys, parley_address_host_key(ip));
			g_free(ip);
		}
	}
	for (l = hosts; l != NULL; l = l->next->next)
		g_free(l->next->data);
	g_slist_free(hosts);
	purple_debug_info(PARLEY_DEBUG, "a buddy's name resolved to %u addresses%s%s\n",
	                  p->resolved_keys->len, error_message != NULL ? ": " : "",
	                  error_message != NULL ? error_message : "");
}

static ParleyPeer *
peer_get(ParleyAccount *pa, const char *name, GError **error)
{
	ParleyPeer *p = g_hash_table_lookup(pa->peers, name);
	char *host;
	guint16 port;

	if (p != NULL)
		return p;
	if (!parley_address_parse(name, &host, &port, error))
		return NULL;
	p = g_new0(ParleyPeer, 1);
	p->pa = pa;
	p->name = g_strdup(name);
	p->host = host;
	p->host_key = parley_address_host_key(host);
	p->port = port;
	parley_outbox_init(&p->outbox);
	parley_seen_init(&p->seen);
	g_hash_table_insert(pa->peers, p->name, p);
	/* a DNS name: learn its addresses, so that the peer is recognised
	 * when it calls (admission compares addresses, not names) */
	if (g_str_has_prefix(p->host_key, "n:"))
		p->dns = purple_dnsquery_a_account(pa->account, p->host, p->port,
		                                   peer_resolved_cb, p);
	return p;
}

static gboolean
peer_is_buddy(ParleyPeer *p)
{
	return purple_find_buddy(p->pa->account, p->name) != NULL;
}

static void
peer_set_online(ParleyPeer *p, gboolean online)
{
	if (!peer_is_buddy(p))
		return;
	/* classic peers are never probed (the original tool accepts one
	 * connection only): without a session their presence is unknown */
	purple_prpl_got_user_status(p->pa->account, p->name,
	                            online ? "available" : p->pa->classic ? "unknown" : "offline",
	                            NULL);
}

/* Admission of an incoming connection, once (admit.h decides): the
 * §4 loopback check, the peer match (and so the passphrase), the §9
 * guard.  Every peer is offered under its name's host key, and a DNS-named
 * one also under the address our dial last reached it at.  On success
 * c->peer is the matched peer, or NULL for a stranger (account
 * passphrase). */
static ParleyError
conn_admit(ParleyConn *c, ParleyAdmitMode mode, guint16 listen_port, const uint8_t *sid)
{
	ParleyAccount *pa = c->pa;
	GPtrArray *byid = g_ptr_array_new();
	GArray *cands = g_array_new(FALSE, TRUE, sizeof(ParleyAdmitPeer));
	GHashTableIter it;
	gpointer k, v;
	ParleyError err;

	c->admit_done = TRUE;
	g_hash_table_iter_init(&it, pa->peers);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		ParleyPeer *p = v;
		ParleyAdmitPeer cand = { p->host_key, p->port, peer_is_buddy(p), byid->len };

		g_array_append_val(cands, cand);
		if (p->reached_key != NULL) {
			cand.host_key = p->reached_key;
			g_array_append_val(cands, cand);
		}
		for (guint i = 0; p->resolved_keys != NULL && i < p->resolved_keys->len; i++) {
			cand.host_key = g_ptr_array_index(p->resolved_keys, i);
			g_array_append_val(cands, cand);
		}
		g_ptr_array_add(byid, p);
	}
	/* §9 "refusing strangers": read at each admission, so a change in the
	 * account's settings applies to the next caller */
	parley_admission_set_accept_strangers(pa->admission,
		purple_account_get_bool(pa->account, PARLEY_OPT_STRANGERS, TRUE));
	err = parley_admission_admit(pa->admission, mode, c->remote_ip, listen_port, sid,
	                             (const ParleyAdmitPeer *) (void *) cands->data, cands->len,
	                             now_ms(), &c->ticket);
	if (err == PARLEY_ERR_NONE)
		c->peer = c->ticket.matched ? g_ptr_array_index(byid, c->ticket.match) : NULL;
	purple_debug_info(PARLEY_DEBUG, "conn %u: %s (%s)\n", c->id,
	                  err == PARLEY_ERR_NONE ? "admitted" : "not admitted",
	                  err != PARLEY_ERR_NONE ? parley_strerror(err) :
	                  c->peer != NULL ? "a known peer" : "a stranger");
	g_array_free(cands, TRUE);
	g_ptr_array_free(byid, TRUE);
	return err;
}

/* The verdict on a connection that ends before its handshake finished:
 * past HS2 natively, past the salt for a classic caller that is no buddy,
 * a failed guess (§9); before that, none. */
static ParleyGuardOutcome
conn_unfinished_verdict(const ParleyConn *c)
{
	return c->hs2_sent || c->counts_as_guess ? PARLEY_GUARD_FAILED : PARLEY_GUARD_ABORTED;
}

/* The admission's verdict on an incoming connection's handshake (once;
 * later calls do nothing).  A handshake we started and completed makes
 * the peer's source a friend too (§9). */
static void
conn_verdict(ParleyConn *c, ParleyGuardOutcome outcome)
{
	parley_admission_finish(c->pa->admission, &c->ticket, outcome, now_ms());
	if (c->initiator && outcome == PARLEY_GUARD_SUCCEEDED && c->remote_ip != NULL)
		parley_admission_befriend(c->pa->admission, c->remote_ip);
}

static gboolean
retry_cb(gpointer data)
{
	ParleyPeer *p = data;

	p->retry_timer = 0;
	peer_dial(p);
	return FALSE;
}

static void
peer_arm_retry(ParleyPeer *p, gint64 delay_ms)
{
	if (p->retry_timer)
		purple_timeout_remove(p->retry_timer);
	p->retry_at = now_ms() + delay_ms;
	p->retry_timer = purple_timeout_add((guint) delay_ms, retry_cb, p);
}

/* 5 s, doubling to 5 min; reset when a session is established.  A peer
 * that told us it does not listen is never dialled (§9): it calls back,
 * and what we have for it waits. */
static void
peer_schedule_retry(ParleyPeer *p)
{
	gint64 delay;

	if (p->pa->closing || p->hold || p->no_listen || p->conn != NULL ||
	    p->dialing != NULL || p->retry_timer != 0)
		return;
	if (p->pa->classic) {
		/* no redialling in classic mode: report what could not go */
		classic_report_unsent(p);
		return;
	}
	/* only buddies are redialled by themselves, or a stranger we owe messages */
	if (!peer_is_buddy(p) && parley_outbox_len(&p->outbox) == 0)
		return;
	p->retry_delay_s = p->retry_delay_s == 0 ? PARLEY_RETRY_FIRST_S
	                   : MIN(p->retry_delay_s * 2, PARLEY_RETRY_MAX_S);
	delay = env_ms("PARLEY_TEST_RETRY_MS", (gint64) p->retry_delay_s * 1000);
	purple_debug_info(PARLEY_DEBUG, "retrying a peer in %" G_GINT64_FORMAT " ms\n", delay);
	peer_arm_retry(p, delay);
}

/* The user wrote to a peer with no session: dial it now, or (while a
 * retry is pending) within PARLEY_RETRY_FIRST_S - one attempt at a time
 * however fast the user types, and the backoff grows only with attempts
 * that failed.  Not a peer that does not listen. */
static void
peer_dial_soon(ParleyPeer *p)
{
	gint64 soon;

	if (p->no_listen || p->conn != NULL || p->dialing != NULL)
		return;
	if (p->retry_timer == 0) {
		peer_dial(p);
		return;
	}
	soon = env_ms("PARLEY_TEST_RETRY_MS", (gint64) PARLEY_RETRY_FIRST_S * 1000);
	if (p->retry_at - now_ms() > soon)
		peer_arm_retry(p, soon);
}

/* §7: a message that will not reach p is said, with its text, in the
 * conversation (opened if need be): never sent (classic mode, which does
 * not redial), or not delivered (given up, or the account signs off). */
static void
peer_tell_lost(ParleyPeer *p, const ParleyOutMsg *m, gboolean never_sent)
{
	char *text = never_sent ?
		g_strdup_printf(_("Message to %s could not be sent: \"%s\""), peer_display(p), m->text) :
		g_strdup_printf(_("Message to %s not delivered: \"%s\""), peer_display(p), m->text);

	parley_conv_notice(p->pa->account, p->name, TRUE, PURPLE_MESSAGE_ERROR, text);
	g_free(text);
}

static gboolean
give_up_cb(gpointer data)
{
	ParleyPeer *p = data;
	ParleyOutMsg *m;

	p->give_up_timer = 0;
	while ((m = parley_outbox_take_expired(&p->outbox, now_ms(), give_up_ms())) != NULL) {
		peer_tell_lost(p, m, FALSE);
		parley_out_msg_free(m);
	}
	peer_arm_give_up(p);
	/* what was given up no longer holds the window */
	if (peer_fill_window(p))
		conn_kick(p->conn);
	return FALSE;
}

static void
peer_arm_give_up(ParleyPeer *p)
{
	gint64 at = parley_outbox_next_expiry(&p->outbox, give_up_ms());

	if (p->give_up_timer)
		purple_timeout_remove(p->give_up_timer);
	p->give_up_timer = 0;
	if (at >= 0)
		p->give_up_timer = purple_timeout_add((guint) MAX(at - now_ms(), 0) + 1,
		                                      give_up_cb, p);
}

/* ---- connections: I/O ------------------------------------------------ */

static void
sock_setup(int fd)
{
	int on = 1;
	int flags = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	/* one message is one small write; do not wait to coalesce it */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

/* Text form of a peer address, IPv4-mapped IPv6 shown as IPv4. */
static char *
sockaddr_ip(const struct sockaddr_storage *ss)
{
	char buf[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *) ss;

		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], buf, sizeof(buf));
		else
			inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof(buf));
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *) ss)->sin_addr, buf, sizeof(buf));
	}
	return g_strdup(buf);
}

static ParleyConn *
conn_new(ParleyAccount *pa, ParleyPeer *peer, gboolean initiator)
{
	ParleyConn *c = g_new0(ParleyConn, 1);

	c->pa = pa;
	c->peer = peer;
	c->initiator = initiator;
	c->fd = -1;
	c->id = next_conn_id++;
	pa->conns = g_list_prepend(pa->conns, c);
	return c;
}

static void
conn_start_session(ParleyConn *c)
{
	ParleyAccount *pa = c->pa;
	ParleySessionConfig cfg = { 0 };

	if (pa->classic) {
		/* §11: the listener sends its salt at once; the connector reads it */
		c->classic = parley_classic_new(c->initiator ? PARLEY_CLASSIC_CONNECTOR
		                                             : PARLEY_CLASSIC_LISTENER,
		                                NULL, NULL, now_ms());
		return;
	}
	cfg.initiator = c->initiator;
	cfg.name = pa->name;
	cfg.listen_port = pa->listen_port;
	cfg.salt = pa->salt;
	cfg.iterations = pa->iterations;
	cfg.rekey_messages = pa->rekey_messages;
	cfg.rekey_minutes = pa->rekey_minutes;
	cfg.handshake_timeout_ms = (guint) env_ms("PARLEY_TEST_HANDSHAKE_TIMEOUT_MS", 0);
	c->session = parley_session_new(&cfg, now_ms());
	if (c->initiator) {
		memcpy(c->sid, parley_session_sid(c->session), PARLEY_SID_LEN);
		parley_admission_add_own_sid(pa->admission, c->sid);
		c->own_sid = TRUE;
	}
}

static void
conn_forget_sid(ParleyConn *c)
{
	if (c->own_sid) {
		parley_admission_remove_own_sid(c->pa->admission, c->sid);
		c->own_sid = FALSE;
	}
}

static void conn_read_cb(gpointer data, gint fd, PurpleInputCondition cond);

static void
conn_write_cb(gpointer data, gint fd, PurpleInputCondition cond)
{
	conn_process(data);
}

/* Write what the session has for the wire; keep the rest for later.
 * Returns TRUE if the connection broke (the engine then has a CLOSED
 * event to hand out). */
static gboolean
conn_flush(ParleyConn *c)
{
	GByteArray *out;
	gsize done = 0;
	gboolean broke = FALSE;

	if (!eng_exists(c) || c->fd < 0)
		return FALSE;
	out = eng_output(c);
	while (done < out->len) {
		ssize_t n = send(c->fd, out->data + done, out->len - done, MSG_NOSIGNAL);

		if (n > 0) {
			done += (gsize) n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		/* the connection is broken: what is left can never go out */
		purple_debug_info(PARLEY_DEBUG, "conn %u: send failed: %s\n", c->id,
		                  g_strerror(errno));
		done = out->len;
		eng_eof(c);
		broke = TRUE;
		break;
	}
	if (done > 0)
		g_byte_array_remove_range(out, 0, (guint) done);
	if (out->len > 0 && c->write_watch == 0)
		c->write_watch = purple_input_add(c->fd, PURPLE_INPUT_WRITE, conn_write_cb, c);
	else if (out->len == 0 && c->write_watch != 0) {
		purple_input_remove(c->write_watch);
		c->write_watch = 0;
	}
	return broke;
}

static gboolean
conn_timer_cb(gpointer data)
{
	ParleyConn *c = data;

	c->timer = 0;
	conn_process(c);
	return FALSE;
}

static gboolean
conn_kick_cb(gpointer data)
{
	ParleyConn *c = data;

	c->kick = 0;
	conn_process(c);
	return FALSE;
}

/* Process a connection soon, from the main loop (not from the caller's
 * stack, which may be another connection's callback). */
static void
conn_kick(ParleyConn *c)
{
	if (c->kick == 0)
		c->kick = purple_timeout_add(0, conn_kick_cb, c);
}

static void
conn_arm_timer(ParleyConn *c, gint64 next)
{
	gint64 now = now_ms();

	if (next < 0) {
		if (c->timer)
			purple_timeout_remove(c->timer);
		c->timer = 0;
		return;
	}
	/* a timer that fires earlier is fine: the tick re-arms it */
	if (c->timer != 0 && c->timer_at <= next)
		return;
	if (c->timer)
		purple_timeout_remove(c->timer);
	c->timer_at = next;
	c->timer = purple_timeout_add((guint) MAX(next - now, 0) + 1, conn_timer_cb, c);
}

/* ---- classic mode (§11) ------------------------------------------------- */

static const char *
classic_warning(void)
{
	return _("Classic mode: this conversation uses the original tool's protocol, "
	         "which does not protect you the way Parley does. It has no forward "
	         "secrecy (a leaked passphrase exposes recorded messages), no protection "
	         "against replayed messages, and its key changes and salt are not "
	         "authenticated. Anyone who records one message can try passphrases "
	         "offline. A wrong passphrase only shows up as messages that cannot be "
	         "decrypted.");
}

/* A classic connection is being replaced or closed by us: the messages
 * handed to it that its engine still holds (before its 2-second start, or
 * while a key derives) never reached the wire and would be dropped with
 * it.  They are the last ones handed over (the outbox is in order): mark
 * them not written, so the next connection sends them. */
static void
classic_take_back(ParleyPeer *p, ParleyConn *old)
{
	guint queued = old->classic != NULL ? parley_classic_queued(old->classic) : 0;
	GList *l;

	for (l = p->outbox.msgs.tail; l != NULL && queued > 0; l = l->prev) {
		ParleyOutMsg *m = l->data;

		if (m->written) {
			m->written = FALSE;
			queued--;
		}
	}
}

static void
classic_established(ParleyConn *c)
{
	ParleyPeer *p = c->peer;
	GList *l;

	/* one connection per peer: the newest serves */
	if (p->conn != NULL && p->conn != c) {
		ParleyConn *old = p->conn;

		classic_take_back(p, old);
		eng_close(old, 2);
		conn_kick(old);
	}
	p->conn = c;
	if (c->initiator)
		peer_reached(p, c);
	peer_set_online(p, TRUE);
	purple_debug_info(PARLEY_DEBUG, "conn %u: classic session up\n", c->id);
	if (purple_find_conversation_with_account(PURPLE_CONV_TYPE_IM, p->name,
	                                          c->pa->account) != NULL)
		parley_conv_notice(c->pa->account, p->name, FALSE, PURPLE_MESSAGE_SYSTEM,
		                   classic_warning());
	else    /* conversation_created_cb writes the warning */
		purple_conversation_new(PURPLE_CONV_TYPE_IM, c->pa->account, p->name);
	/* messages typed while connecting go out in order (after the
	 * 2-second start the core keeps) */
	for (l = p->outbox.msgs.head; l != NULL; l = l->next) {
		ParleyOutMsg *m = l->data;

		if (!m->written)
			eng_send(c, m);
	}
}

/* Classic mode has no acknowledgements: a message is done once it is on
 * the wire, which is all the original tool's protocol can promise. */
static void
classic_check_written(ParleyConn *c)
{
	ParleyPeer *p = c->peer;
	GList *l, *next;

	if (p == NULL || p->conn != c || parley_classic_queued(c->classic) > 0 ||
	    eng_output(c)->len > 0)
		return;
	for (l = p->outbox.msgs.head; l != NULL; l = next) {
		ParleyOutMsg *m = l->data;

		next = l->next;
		if (m->written) {
			g_queue_delete_link(&p->outbox.msgs, l);
			parley_out_msg_free(m);
		}
	}
	peer_arm_give_up(p);
}

/* A classic peer we could not reach or lost with messages not yet on the
 * wire: say so with their text (the original tool listens only once, so
 * Parley does not keep redialling it). */
static void
classic_report_unsent(ParleyPeer *p)
{
	ParleyOutMsg *m;

	while ((m = g_queue_pop_head(&p->outbox.msgs)) != NULL) {
		peer_tell_lost(p, m, TRUE);
		parley_out_msg_free(m);
	}
	peer_arm_give_up(p);
}

/* ---- connections: events -------------------------------------------- */

/* A stranger proved the account's passphrase: it appears under its
 * address (its announced listen port, else the default one).  Never under
 * a buddy's entry: admission refuses the callers that would get one, and a
 * buddy added since under that name is not given to it either.  NULL when
 * there is no entry to give. */
static ParleyPeer *
stranger_peer(ParleyConn *c, guint16 listen_port)
{
	ParleyAccount *pa = c->pa;
	char *name = parley_address_format(c->remote_ip,
	                                   listen_port != 0 ? listen_port : PARLEY_DEFAULT_PORT);
	ParleyPeer *p = g_hash_table_lookup(pa->peers, name);

	if (p != NULL && peer_is_buddy(p)) {
		purple_debug_info(PARLEY_DEBUG, "conn %u: a stranger at a buddy's address: "
		                  "closed\n", c->id);
		p = NULL;
	} else if (p == NULL) {
		p = peer_get(pa, name, NULL);
	}
	g_free(name);
	return p;
}

/* Our dial reached p: remember where, so that a peer added by DNS name
 * is recognised when it calls from that address. */
static void
peer_reached(ParleyPeer *p, ParleyConn *c)
{
	char *key;

	if (c->remote_ip == NULL)
		return;
	key = parley_address_host_key(c->remote_ip);
	if (strcmp(key, p->host_key) == 0) {
		g_free(key);
		return;
	}
	g_free(p->reached_key);
	p->reached_key = key;
}

/* Classic, incoming: a frame from the caller decrypted.  Under a key of
 * our own salt (proves) the caller knows the passphrase: the guard's
 * verdict, a stranger gets its entry (never dialled: the original tool
 * listens only when started so) and its window now, and a buddy's new
 * connection takes over from its old one.  Under a key of the caller's
 * own salt the frame proves nothing (it may be a replay): a buddy's is
 * shown as classic mode always did, and a stranger cannot get there (on
 * probation its rekey ends the connection).  FALSE when the message is
 * not to be shown. */
static gboolean
classic_proven(ParleyConn *c, gboolean proves)
{
	if (c->initiator || c->ticket.proven)
		return TRUE;
	if (!proves)
		return conn_known(c);
	conn_verdict(c, PARLEY_GUARD_SUCCEEDED);
	c->proof_deadline = 0;
	c->counts_as_guess = FALSE;
	if (c->peer == NULL) {
		ParleyPeer *p = stranger_peer(c, 0);

		if (p == NULL) {
			eng_close(c, 2);
			return FALSE;
		}
		c->peer = p;
	}
	if (!peer_is_buddy(c->peer))
		c->peer->no_listen = TRUE;
	if (c->peer->conn != c)
		classic_established(c);
	return TRUE;
}

static void
conn_established(ParleyConn *c, const ParleyEvent *ev)
{
	ParleyAccount *pa = c->pa;
	ParleyPeer *p = c->peer;
	GList *l;
	char *text;

	c->established = TRUE;
	memcpy(c->sid, ev->sid, PARLEY_SID_LEN);
	conn_forget_sid(c);
	if (c->classic != NULL) {
		/* §11: the first key is in, but the caller has proven nothing
		 * yet (classic_proven).  A stranger is seen only then; a known
		 * peer's window opens now, so the user can write first, unless
		 * it has a session already (that one serves until this one
		 * proves itself). */
		if (p != NULL && p->dialing == c)
			p->dialing = NULL;
		if (p != NULL && (c->initiator || (conn_known(c) && p->conn == NULL)))
			classic_established(c);
		return;
	}
	conn_verdict(c, PARLEY_GUARD_SUCCEEDED);
	if (p == NULL) {
		p = stranger_peer(c, ev->peer_listen_port);
		if (p == NULL) {
			eng_close(c, 2);
			return;
		}
		c->peer = p;
	}
	if (p->dialing == c)
		p->dialing = NULL;
	if (c->initiator)
		peer_reached(p, c);
	else if (!peer_is_buddy(p))
		/* §9: a stranger that does not listen is never dialled (a
		 * buddy is, at the address the user gave) */
		p->no_listen = ev->peer_listen_port == 0;

	/* §9: two sessions between the same peers - both keep the smaller sid */
	if (p->conn != NULL && p->conn != c) {
		ParleyConn *old = p->conn;

		purple_debug_info(PARLEY_DEBUG, "conn %u and %u: duplicate, keeping one\n",
		                  old->id, c->id);
		if (memcmp(old->sid, c->sid, PARLEY_SID_LEN) < 0) {
			eng_close(c, 1);
			return;
		}
		p->conn = NULL;
		eng_close(old, 1);
		conn_kick(old);
	}
	p->conn = c;
	p->hold = FALSE;
	p->retry_delay_s = 0;
	if (p->retry_timer) {
		purple_timeout_remove(p->retry_timer);
		p->retry_timer = 0;
	}
	/* what a peer calls itself is shown without control or bidi
	 * characters, and never instead of a buddy's own alias (libpurple
	 * prefers the user's alias to this one) */
	g_free(p->announced);
	p->announced = parley_name_sanitize(ev->peer_name);
	if (peer_is_buddy(p) && p->announced != NULL)
		serv_got_alias(pa->gc, p->name, p->announced);
	peer_set_online(p, TRUE);
	purple_debug_info(PARLEY_DEBUG, "conn %u: established (%s)\n", c->id,
	                  c->initiator ? "initiator" : "responder");

	text = established_text(p, ev->code);
	parley_conv_notice(pa->account, p->name, parley_outbox_len(&p->outbox) > 0,
	                   PURPLE_MESSAGE_SYSTEM, text);
	g_free(text);
	p->told_waiting = FALSE;

	/* §7: everything not acknowledged goes (again), in order, same msg_id,
	 * as far as the window allows */
	for (l = p->outbox.msgs.head; l != NULL; l = l->next)
		((ParleyOutMsg *) l->data)->written = FALSE;
	peer_fill_window(p);
}

static char *
error_text(ParleyConn *c, const ParleyEvent *ev)
{
	const char *who = c->peer != NULL ? peer_display(c->peer)
	                  : (c->remote_ip != NULL ? c->remote_ip : "?");

	if (ev->from_peer) {
		switch (ev->error) {
		case PARLEY_ERR_AUTH:
			return g_strdup_printf(_("%s could not verify the passphrase: the passphrases "
			                         "do not match. No session was established."), who);
		case PARLEY_ERR_BUSY:
			return g_strdup_printf(_("%s is refusing connections for a while (too many "
			                         "attempts, or busy). Parley will try again later."), who);
		case PARLEY_ERR_LOOPBACK:
			return g_strdup_printf(_("%s is this account itself."), who);
		case PARLEY_ERR_REFUSED:
			return g_strdup_printf(_("%s refused the connection (it may not accept incoming "
			                         "connections)."), who);
		default:
			/* an ERROR's reason is not authenticated: anyone on the
			 * path could have written it, so only the code is shown */
			return g_strdup_printf(_("%s reported a protocol error (code %d)."), who,
			                       ev->wire_code);
		}
	}
	switch (ev->error) {
	case PARLEY_ERR_AUTH:
		return g_strdup_printf(_("The passphrases do not match: %s uses a different "
		                         "passphrase. No session was established."), who);
	default:
		return g_strdup_printf(_("Connection with %s: %s"), who,
		                       _(parley_strerror(ev->error)));
	}
}

static void
conn_error(ParleyConn *c, const ParleyEvent *ev)
{
	ParleyPeer *p = c->peer;
	char *text;
	gboolean force;

	c->error = ev->error;
	c->error_from_peer = ev->from_peer;
	purple_debug_info(PARLEY_DEBUG, "conn %u: error %d%s\n", c->id, ev->error,
	                  ev->from_peer ? " (from peer)" : "");
	if (p == NULL || conn_unproven_stranger(c))
		return;          /* a stranger's failed attempt: nothing to show */
	text = error_text(c, ev);
	/* a wrong passphrase needs the user: show it even with no window open */
	force = (ev->error == PARLEY_ERR_AUTH && peer_is_buddy(p)) ||
	        parley_outbox_len(&p->outbox) > 0;
	parley_conv_notice(c->pa->account, p->name, force, PURPLE_MESSAGE_ERROR, text);
	g_free(text);
	if (ev->error == PARLEY_ERR_AUTH || ev->error == PARLEY_ERR_LOOPBACK)
		p->hold = TRUE;   /* no redial loop: that would be online guessing */
}

static void
conn_closed(ParleyConn *c, const ParleyEvent *ev)
{
	ParleyAccount *pa = c->pa;
	ParleyPeer *p = c->peer;

	if (ev->error == PARLEY_ERR_BYE)
		c->bye_reason = ev->bye_reason;
	conn_verdict(c, conn_unfinished_verdict(c));
	conn_forget_sid(c);
	/* a stranger that proved nothing leaves no trace on any entry */
	if (p == NULL || conn_unproven_stranger(c))
		return;
	if (p->dialing == c)
		p->dialing = NULL;
	if (p->conn == c) {
		guint waiting = parley_outbox_len(&p->outbox);

		p->conn = NULL;
		peer_set_online(p, FALSE);
		if (!pa->closing && !pa->classic &&
		    !(ev->error == PARLEY_ERR_BYE && ev->bye_reason == 1)) {
			char *text;

			if (ev->error == PARLEY_ERR_BYE && ev->bye_reason == 0)
				text = g_strdup_printf(_("%s signed off."), peer_display(p));
			else if (ev->error == PARLEY_ERR_NONE)
				text = g_strdup_printf(_("Session with %s closed."), peer_display(p));
			else
				text = g_strdup_printf(_("Connection with %s lost."), peer_display(p));
			if (waiting > 0) {
				char *more = g_strdup_printf(g_dngettext(GETTEXT_PACKAGE,
					"%s %u message is waiting to be delivered.",
					"%s %u messages are waiting to be delivered.",
					waiting), text, waiting);

				g_free(text);
				text = more;
			}
			parley_conv_notice(pa->account, p->name, FALSE, PURPLE_MESSAGE_SYSTEM, text);
			g_free(text);
		} else if (!pa->closing && pa->classic) {
			char *text = g_strdup_printf(_("Classic session with %s ended."),
			                             peer_display(p));

			parley_conv_notice(pa->account, p->name, FALSE, PURPLE_MESSAGE_SYSTEM, text);
			g_free(text);
		}
	}
	if (!pa->closing && c->established && ev->error == PARLEY_ERR_NONE && !pa->classic)
		return;          /* we closed it ourselves (remove, reconnect) */
	if (!pa->closing && p->conn == NULL)
		peer_schedule_retry(p);
}

/* §4, §9: a native caller's HS1 (the responder's one key request) is
 * where it is admitted, once; refused, it gets the ERROR admission chose.
 * Every other key request (ours, or a classic engine's, rekeys included)
 * goes straight to the KDF. */
static void
conn_on_need_kdf(ParleyConn *c, const ParleyEvent *ev)
{
	ParleyError err;

	if (!c->initiator && c->session != NULL && !c->admit_done) {
		err = conn_admit(c, PARLEY_ADMIT_NATIVE, ev->peer_listen_port, ev->sid);
		if (err != PARLEY_ERR_NONE) {
			parley_session_refuse(c->session, err, NULL);
			return;
		}
	}
	/* the buddy's own passphrase, not remembered: no handshake with
	 * another while the user is asked for it; a caller is told to come
	 * back (ERROR 4), a classic one closed */
	if (c->peer != NULL && passphrase_for(c->pa, c->peer) == NULL) {
		parley_buddy_passphrase_needed(c->pa->account, c->peer->name, !c->initiator);
		if (c->session != NULL && !c->initiator)
			parley_session_refuse(c->session, PARLEY_ERR_BUSY, NULL);
		else
			eng_close(c, 2);
		return;
	}
	conn_need_kdf(c, ev);
}

static void
conn_handle_event(ParleyConn *c, ParleyEvent *ev)
{
	ParleyAccount *pa = c->pa;
	ParleyPeer *p;

	switch (ev->type) {
	case PARLEY_EV_NEED_KDF:
		conn_on_need_kdf(c, ev);
		break;
	case PARLEY_EV_ESTABLISHED:
		conn_established(c, ev);
		break;
	case PARLEY_EV_MESSAGE:
		if (c->classic != NULL && !classic_proven(c, ev->proves))
			break;
		p = c->peer;
		c->undecrypt_told = FALSE;
		/* §7: a repeat after a reconnect is acknowledged, not shown
		 * (classic mode has no msg_id: every frame is new) */
		if (p != NULL && (c->classic != NULL || parley_seen_add(&p->seen, ev->msg_id))) {
			char *esc = purple_markup_escape_text(ev->text, (gssize) ev->text_len);
			char *html = purple_strreplace(esc, "\n", "<br>");

			serv_got_im(pa->gc, p->name, html, PURPLE_MESSAGE_RECV, time(NULL));
			parley_wipe(esc, strlen(esc));
			parley_wipe(html, strlen(html));
			g_free(esc);
			g_free(html);
		}
		break;
	case PARLEY_EV_ACK:
		p = c->peer;
		if (p != NULL && parley_outbox_ack(&p->outbox, ev->msg_id)) {
			peer_arm_give_up(p);
			/* the window moves on (written out with this connection's
			 * output, or another's soon) */
			if (peer_fill_window(p) && p->conn != c)
				conn_kick(p->conn);
		}
		break;
	case PARLEY_EV_TYPING:
		if (c->peer == NULL)
			break;
		if (ev->typing == 0)
			serv_got_typing_stopped(pa->gc, c->peer->name);
		else
			serv_got_typing(pa->gc, c->peer->name, 0,
			                ev->typing == 1 ? PURPLE_TYPING : PURPLE_TYPED);
		break;
	case PARLEY_EV_REKEYED:
		purple_debug_info(PARLEY_DEBUG, "conn %u: epoch %u\n", c->id, ev->epoch);
		if (c->peer != NULL && pref_bool("announce-rekeys")) {
			/* classic keys count from 1 (the salt's); show epochs from 0 */
			guint epoch = c->classic != NULL ? ev->epoch - 1 : ev->epoch;
			char *text = ev->by_peer ?
				g_strdup_printf(_("Session key rotated (asked by %s); epoch %u."),
				                peer_display(c->peer), epoch) :
				g_strdup_printf(_("Session key rotated (asked by you); epoch %u."),
				                epoch);

			parley_conv_notice(pa->account, c->peer->name, FALSE, PURPLE_MESSAGE_SYSTEM, text);
			g_free(text);
		}
		break;
	case PARLEY_EV_ERROR:
		conn_error(c, ev);
		break;
	case PARLEY_EV_CLOSED:
		conn_closed(c, ev);
		break;
	case PARLEY_EV_UNDECRYPTABLE:
		/* before the caller proved anything: a wrong guess (§9); a
		 * caller that is no buddy was on probation, which has closed
		 * it without a word */
		if (!c->initiator && !c->ticket.proven) {
			conn_verdict(c, PARLEY_GUARD_FAILED);
			if (!conn_known(c)) {
				eng_close(c, 2);
				break;
			}
		}
		/* once per run of failures; the session goes on (§11) */
		if (c->peer != NULL && c->peer->conn == c && !c->undecrypt_told) {
			char *text = g_strdup_printf(_("A message from %s could not be decrypted - "
			                               "do the passphrases match?"),
			                             peer_display(c->peer));

			parley_conv_notice(pa->account, c->peer->name, TRUE, PURPLE_MESSAGE_ERROR, text);
			g_free(text);
			c->undecrypt_told = TRUE;
		}
		break;
	}
}

/* Classic, incoming: the caller had PARLEY_CLASSIC_PROOF_MS to send a
 * frame that decrypts.  One that is no buddy is closed, and that counts
 * as a failed guess; a buddy's connection stays (its user may be slow to
 * write), and its guard slot goes with no verdict. */
static void
conn_check_proof(ParleyConn *c)
{
	if (c->proof_deadline == 0 || now_ms() < c->proof_deadline)
		return;
	c->proof_deadline = 0;
	if (!conn_known(c)) {
		purple_debug_info(PARLEY_DEBUG, "conn %u: classic caller proved nothing in "
		                  "time: closed\n", c->id);
		conn_verdict(c, PARLEY_GUARD_FAILED);
		eng_close(c, 2);
	} else {
		conn_verdict(c, PARLEY_GUARD_ABORTED);
	}
}

/* Handle everything the session has to say, write its output, re-arm its
 * timer.  Returns FALSE when the connection is gone (freed). */
static gboolean
conn_process(ParleyConn *c)
{
	ParleyEvent ev;
	gint64 next;

	if (!eng_exists(c))
		return TRUE;
	for (;;) {
		gboolean any = FALSE;

		conn_check_proof(c);
		/* timers first: they may add events and output too */
		next = eng_tick(c);
		while (eng_next_event(c, &ev)) {
			conn_handle_event(c, &ev);
			parley_event_clear(&ev);
			any = TRUE;
		}
		/* a failed send closes the engine: its CLOSED is handled in
		 * the next round, like any other event */
		if (!conn_flush(c) && !any)
			break;
	}
	if (c->proof_deadline != 0 && (next < 0 || c->proof_deadline < next))
		next = c->proof_deadline;
	if (eng_closed(c)) {
		conn_destroy(c);
		return FALSE;
	}
	if (c->classic != NULL)
		classic_check_written(c);
	conn_arm_timer(c, next);
	return TRUE;
}

static void
conn_read_cb(gpointer data, gint fd, PurpleInputCondition cond)
{
	ParleyConn *c = data;
	uint8_t buf[16384];
	int rounds = 0;

	while (!eng_closed(c)) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n > 0) {
			eng_feed(c, buf, (size_t) n);
			/* let other connections have their turn */
			if ((size_t) n < sizeof(buf) || ++rounds >= 8)
				break;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		eng_eof(c);
		/* a classic engine may still read what waits for a key: the
		 * socket has nothing more, and would wake us without end */
		if (!eng_closed(c) && c->read_watch != 0) {
			purple_input_remove(c->read_watch);
			c->read_watch = 0;
		}
		break;
	}
	conn_process(c);
}

/* Free a connection.  Its session must be closed or absent. */
static void
conn_destroy(ParleyConn *c)
{
	ParleyAccount *pa = c->pa;

	if (c->peer != NULL) {
		if (c->peer->conn == c) {
			c->peer->conn = NULL;
			peer_set_online(c->peer, FALSE);
		}
		if (c->peer->dialing == c)
			c->peer->dialing = NULL;
	}
	conn_verdict(c, conn_unfinished_verdict(c));
	parley_admit_ticket_clear(pa->admission, &c->ticket, now_ms());
	conn_forget_sid(c);
	kdf_detach(c);
	if (c->connect_data != NULL)
		purple_proxy_connect_cancel(c->connect_data);
	if (c->read_watch)
		purple_input_remove(c->read_watch);
	if (c->write_watch)
		purple_input_remove(c->write_watch);
	if (c->timer)
		purple_timeout_remove(c->timer);
	if (c->kick)
		purple_timeout_remove(c->kick);
	if (c->fd >= 0)
		close(c->fd);
	parley_session_free(c->session);
	parley_classic_free(c->classic);
	pa->conns = g_list_remove(pa->conns, c);
	purple_debug_info(PARLEY_DEBUG, "conn %u: closed\n", c->id);
	g_free(c->remote_ip);
	g_free(c->source);
	g_free(c);
}

/* ---- outgoing and incoming connections -------------------------------- */

static void
conn_connected_cb(gpointer data, gint fd, const gchar *error_message)
{
	ParleyConn *c = data;
	ParleyPeer *p = c->peer;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	c->connect_data = NULL;
	if (fd < 0) {
		purple_debug_info(PARLEY_DEBUG, "conn %u: connect failed: %s\n", c->id,
		                  error_message != NULL ? error_message : "");
		conn_destroy(c);
		if (p != NULL)
			peer_schedule_retry(p);
		return;
	}
	c->fd = fd;
	sock_setup(fd);
	if (getpeername(fd, (struct sockaddr *) &ss, &len) == 0)
		c->remote_ip = sockaddr_ip(&ss);
	else
		c->remote_ip = g_strdup(p != NULL ? p->host : "?");
	conn_start_session(c);
	c->read_watch = purple_input_add(fd, PURPLE_INPUT_READ, conn_read_cb, c);
	purple_debug_info(PARLEY_DEBUG, "conn %u: connected\n", c->id);
	conn_process(c);
}

/* An incoming connection matched to p is under way (its first key still
 * deriving, say). */
static gboolean
peer_calling(ParleyPeer *p)
{
	GList *l;

	for (l = p->pa->conns; l != NULL; l = l->next) {
		ParleyConn *c = l->data;

		if (c->peer == p && !c->initiator && eng_exists(c) && !eng_closed(c))
			return TRUE;
	}
	return FALSE;
}

static void
peer_dial(ParleyPeer *p)
{
	ParleyAccount *pa = p->pa;
	ParleyConn *c;

	/* §9: a peer that does not listen is never dialled (and dialling its
	 * address could hand its messages to whoever listens there); nor one
	 * that is calling us right now: its session is coming */
	if (pa->closing || p->no_listen || p->conn != NULL || p->dialing != NULL ||
	    peer_calling(p))
		return;
	/* its own passphrase is asked for first; the answer dials */
	if (passphrase_for(pa, p) == NULL) {
		parley_buddy_passphrase_needed(pa->account, p->name, FALSE);
		return;
	}
	if (p->retry_timer) {
		purple_timeout_remove(p->retry_timer);
		p->retry_timer = 0;
	}
	c = conn_new(pa, p, TRUE);
	p->dialing = c;
	purple_debug_info(PARLEY_DEBUG, "conn %u: dialling\n", c->id);
	c->connect_data = purple_proxy_connect(pa->gc, pa->account, p->host, p->port,
	                                       conn_connected_cb, c);
	if (c->connect_data == NULL) {
		conn_destroy(c);
		peer_schedule_retry(p);
	}
}

static void listen_accept_cb(gpointer data, gint fd, PurpleInputCondition cond);

static void
listen_resume(ParleyAccount *pa, int slot)
{
	pa->listen_pause[slot] = 0;
	pa->listen_watch[slot] = purple_input_add(pa->listen_fd[slot], PURPLE_INPUT_READ,
	                                          listen_accept_cb, pa);
}

static gboolean
listen6_resume_cb(gpointer data)
{
	listen_resume(data, 0);
	return FALSE;
}

static gboolean
listen4_resume_cb(gpointer data)
{
	listen_resume(data, 1);
	return FALSE;
}

/* Out of file descriptors (or memory): the caller stays in the backlog and
 * the listening socket stays readable, so watching it now would spin.
 * Stop watching for a while. */
static void
listen_pause(ParleyAccount *pa, int fd, int err)
{
	int slot;

	for (slot = 0; slot < 2; slot++) {
		if (pa->listen_fd[slot] != fd || pa->listen_watch[slot] == 0)
			continue;
		purple_input_remove(pa->listen_watch[slot]);
		pa->listen_watch[slot] = 0;
		pa->listen_pause[slot] = purple_timeout_add(PARLEY_ACCEPT_PAUSE_MS,
		                                            slot == 0 ? listen6_resume_cb
		                                                      : listen4_resume_cb, pa);
		purple_debug_warning(PARLEY_DEBUG, "cannot accept (%s): pausing for %d ms\n",
		                     g_strerror(err), PARLEY_ACCEPT_PAUSE_MS);
	}
}

/* Accepted connections from one source that have proven nothing yet:
 * no valid HS3, no classic frame that decrypted (plugin rule, see
 * PARLEY_MAX_SILENT_PER_ADDR). */
static guint
count_silent(ParleyAccount *pa, const char *source)
{
	GList *l;
	guint n = 0;

	for (l = pa->conns; l != NULL; l = l->next) {
		const ParleyConn *c = l->data;

		if (!c->initiator && !c->ticket.proven && c->source != NULL &&
		    strcmp(c->source, source) == 0)
			n++;
	}
	return n;
}

static void
listen_accept_cb(gpointer data, gint fd, PurpleInputCondition cond)
{
	ParleyAccount *pa = data;
	int i;

	/* accept in batches: a burst of callers costs one wakeup */
	for (i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int cfd = accept(fd, (struct sockaddr *) &ss, &len);
		ParleyConn *c;
		char *ip, *source;

		if (cfd < 0) {
			int err = errno;

			if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM)
				listen_pause(pa, fd, err);
			break;
		}
		ip = sockaddr_ip(&ss);
		source = parley_admit_source(ip);
		if (source == NULL || count_silent(pa, source) >= PARLEY_MAX_SILENT_PER_ADDR) {
			purple_debug_info(PARLEY_DEBUG, "too many silent connections from one "
			                  "source: closing a new one\n");
			close(cfd);
			g_free(ip);
			g_free(source);
			continue;
		}
		sock_setup(cfd);
		c = conn_new(pa, NULL, FALSE);
		c->fd = cfd;
		c->remote_ip = ip;
		c->source = source;
		purple_debug_info(PARLEY_DEBUG, "conn %u: accepted\n", c->id);
		/* §11: a classic caller says nothing before it must be given a
		 * salt and cost a PBKDF2: it is admitted now, and must prove
		 * the passphrase (a frame that decrypts) in time */
		if (pa->classic) {
			if (conn_admit(c, PARLEY_ADMIT_CLASSIC, 0, NULL) != PARLEY_ERR_NONE) {
				conn_destroy(c);
				continue;
			}
			c->proof_deadline = now_ms() +
			                    env_ms("PARLEY_TEST_HANDSHAKE_TIMEOUT_MS",
			                           PARLEY_CLASSIC_PROOF_MS);
		}
		conn_start_session(c);
		if (pa->classic && !conn_known(c)) {
			/* one guess per connection, no key of its choosing */
			parley_classic_set_probation(c->classic);
			c->counts_as_guess = TRUE;
		}
		c->read_watch = purple_input_add(cfd, PURPLE_INPUT_READ, conn_read_cb, c);
		conn_process(c);
	}
}

static void
listen_cb(int listenfd, gpointer data, int slot)
{
	ParleyAccount *pa = data;

	pa->listen_data[slot] = NULL;
	if (listenfd < 0)
		return;
	/* libpurple's backlog is tiny; many callers may arrive at once */
	listen(listenfd, SOMAXCONN);
	pa->listen_fd[slot] = listenfd;
	pa->listen_watch[slot] = purple_input_add(listenfd, PURPLE_INPUT_READ,
	                                          listen_accept_cb, pa);
}

static void
listen6_cb(int listenfd, gpointer data)
{
	listen_cb(listenfd, data, 0);
}

static void
listen4_cb(int listenfd, gpointer data)
{
	listen_cb(listenfd, data, 1);
}

/* ---- the account ------------------------------------------------------ */

static gboolean
load_salt(ParleyAccount *pa)
{
	const char *hex = purple_account_get_string(pa->account, PARLEY_SETTING_SALT, NULL);
	char *fresh;
	int i;

	if (hex != NULL && strlen(hex) == 2 * PARLEY_SALT_LEN) {
		for (i = 0; i < PARLEY_SALT_LEN; i++) {
			int hi = g_ascii_xdigit_value(hex[2 * i]);
			int lo = g_ascii_xdigit_value(hex[2 * i + 1]);

			if (hi < 0 || lo < 0)
				break;
			pa->salt[i] = (uint8_t) (hi << 4 | lo);
		}
		if (i == PARLEY_SALT_LEN)
			return TRUE;
	}
	/* §3: one random salt per account, so responders can cache PRS */
	parley_random_bytes(pa->salt, PARLEY_SALT_LEN);
	fresh = g_malloc(2 * PARLEY_SALT_LEN + 1);
	for (i = 0; i < PARLEY_SALT_LEN; i++)
		g_snprintf(fresh + 2 * i, 3, "%02x", pa->salt[i]);
	purple_account_set_string(pa->account, PARLEY_SETTING_SALT, fresh);
	g_free(fresh);
	return TRUE;
}

void
parley_account_login(PurpleAccount *account)
{
	PurpleConnection *gc = purple_account_get_connection(account);
	const char *username = purple_account_get_username(account);
	const char *password = purple_account_get_password(account);
	ParleyAccount *pa;
	ParleyError err;
	size_t len;
	uint8_t *pass;
	int port, iterations;
	GSList *buddies, *l;
	gboolean classic;

	if (username == NULL || *username == '\0' || strlen(username) > PARLEY_NAME_MAX ||
	    !g_utf8_validate(username, -1, NULL)) {
		purple_connection_error_reason(gc, PURPLE_CONNECTION_ERROR_INVALID_USERNAME,
			_("The account name must be 1 to 64 bytes of text."));
		return;
	}
	classic = g_strcmp0(purple_account_get_string(account, PARLEY_OPT_PROTOCOL, "parley"),
	                    "classic") == 0;
	pass = classic ? parley_classic_passphrase(password, &len, &err)
	               : parley_passphrase_nfc(password, &len, &err);
	if (pass == NULL) {
		purple_connection_error_reason(gc, PURPLE_CONNECTION_ERROR_INVALID_SETTINGS,
			err == PARLEY_ERR_PASSPHRASE_EMPTY ?
			_("Parley needs a passphrase: enter it as the account's password.") :
			err == PARLEY_ERR_NOT_LATIN1 ?
			_("Classic mode cannot use this passphrase: the original tool encodes "
			  "passphrases as Latin-1, and this one has a character outside it (above "
			  "U+00FF). Choose a passphrase of Latin-1 characters, or use Parley's own "
			  "protocol.") :
			_("The passphrase is not valid text."));
		return;
	}
	parley_secure_free(pass, len);
	parley_account_watch_conversations(NULL);

	pa = g_new0(ParleyAccount, 1);
	pa->account = account;
	pa->gc = gc;
	purple_connection_set_protocol_data(gc, pa);
	pa->name = g_strdup(username);
	pa->classic = classic;
	pa->listen_fd[0] = pa->listen_fd[1] = -1;
	pa->peers = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
	                                  (GDestroyNotify) peer_free);
	pa->prs_cache = parley_prs_cache_new();
	pa->admission = parley_admission_new();
	load_salt(pa);
	iterations = purple_account_get_int(account, PARLEY_OPT_ITERATIONS,
	                                    PARLEY_DEFAULT_ITERATIONS);
	pa->iterations = (guint32) CLAMP(iterations, (int) PARLEY_MIN_ITERATIONS,
	                                 (int) PARLEY_MAX_ITERATIONS);
	pa->rekey_messages = (guint) MAX(0, purple_account_get_int(account,
	                                 PARLEY_OPT_REKEY_MESSAGES, PARLEY_REKEY_MESSAGES));
	pa->rekey_minutes = (guint) MAX(0, purple_account_get_int(account,
	                                PARLEY_OPT_REKEY_MINUTES, PARLEY_REKEY_MINUTES));
	port = purple_account_get_int(account, PARLEY_OPT_PORT, PARLEY_DEFAULT_PORT);

	if (purple_account_get_bool(account, PARLEY_OPT_LISTEN, TRUE)) {
		char *msg;

		if (port < 1 || port > 65535) {
			purple_connection_error_reason(gc, PURPLE_CONNECTION_ERROR_INVALID_SETTINGS,
				_("The listen port must be a number from 1 to 65535."));
			return;
		}
		/* IPv6 (dual-stack where the system allows), and IPv4 beside it
		 * where the IPv6 socket does not take IPv4 */
		pa->listen_data[0] = purple_network_listen_family((unsigned short) port, AF_INET6,
		                                                  SOCK_STREAM, listen6_cb, pa);
		pa->listen_data[1] = purple_network_listen_family((unsigned short) port, AF_INET,
		                                                  SOCK_STREAM, listen4_cb, pa);
		if (pa->listen_data[0] == NULL && pa->listen_data[1] == NULL) {
			msg = g_strdup_printf(_("Cannot listen on port %d: it is already in use "
			                        "(another program, or another Parley account). Choose "
			                        "another listen port in the account's settings."), port);
			purple_connection_error_reason(gc, PURPLE_CONNECTION_ERROR_NETWORK_ERROR, msg);
			g_free(msg);
			return;
		}
		pa->listen_port = (guint16) port;
	}
	purple_connection_set_state(gc, PURPLE_CONNECTED);

	/* connect to every buddy; classic buddies are not probed (the
	 * original tool accepts one connection and never listens again):
	 * they are dialled when the user writes to them */
	buddies = purple_find_buddies(account, NULL);
	for (l = buddies; l != NULL; l = l->next) {
		PurpleBuddy *b = l->data;
		ParleyPeer *p = peer_get(pa, purple_buddy_get_name(b), NULL);

		if (p == NULL)
			continue;
		if (classic)
			peer_set_online(p, FALSE);
		else
			peer_dial(p);
	}
	g_slist_free(buddies);
}

/* Sign-off: what was never delivered is said, with its text, in the
 * conversation (a classic message on the wire is as delivered as classic
 * mode can tell). */
static void
peer_report_undelivered(gpointer key, gpointer value, gpointer data)
{
	ParleyPeer *p = value;
	ParleyOutMsg *m;

	while ((m = g_queue_pop_head(&p->outbox.msgs)) != NULL) {
		if (!(p->pa->classic && m->written))
			peer_tell_lost(p, m, FALSE);
		parley_out_msg_free(m);
	}
}

void
parley_account_close(PurpleConnection *gc)
{
	ParleyAccount *pa = purple_connection_get_protocol_data(gc);
	int i;

	if (pa == NULL)
		return;
	pa->closing = TRUE;
	/* BYE on every established connection, then let go of everything */
	while (pa->conns != NULL) {
		ParleyConn *c = pa->conns->data;

		/* what a classic engine still holds is reported below */
		if (c->peer != NULL && c->peer->conn == c)
			classic_take_back(c->peer, c);
		if (eng_exists(c)) {
			eng_close(c, 0);
			conn_flush(c);
		}
		conn_destroy(c);
	}
	/* §7: nothing is lost silently, also at sign-off */
	g_hash_table_foreach(pa->peers, peer_report_undelivered, NULL);
	for (i = 0; i < 2; i++) {
		if (pa->listen_data[i] != NULL)
			purple_network_listen_cancel(pa->listen_data[i]);
		if (pa->listen_watch[i])
			purple_input_remove(pa->listen_watch[i]);
		if (pa->listen_pause[i])
			purple_timeout_remove(pa->listen_pause[i]);
		if (pa->listen_fd[i] >= 0)
			close(pa->listen_fd[i]);
	}
	g_hash_table_destroy(pa->peers);
	parley_prs_cache_free(pa->prs_cache);
	parley_admission_free(pa->admission);
	g_free(pa->name);
	parley_wipe(pa, sizeof(*pa));
	g_free(pa);
	purple_connection_set_protocol_data(gc, NULL);
}

void
parley_account_shutdown(void)
{
	if (watching)
		purple_signals_disconnect_by_handle(watching_plugin);
	watching = FALSE;
	watching_plugin = NULL;
	parley_kdf_shutdown();
}

/* A fresh §7 msg_id, from the strong generator like all of Parley's
 * randomness.  libgcrypt's generator costs the same (some 6 us here)
 * whatever it is asked for, which made it a third of the sender's work per
 * message: draw ids 32 at a time.  They are not secret, only unique. */
static void
new_msg_id(uint8_t id[PARLEY_MSG_ID_LEN])
{
	static uint8_t ids[32 * PARLEY_MSG_ID_LEN];
	static guint left;

	if (left == 0) {
		parley_random_bytes(ids, sizeof(ids));
		left = sizeof(ids) / PARLEY_MSG_ID_LEN;
	}
	left--;
	memcpy(id, ids + left * PARLEY_MSG_ID_LEN, PARLEY_MSG_ID_LEN);
	parley_wipe(ids + left * PARLEY_MSG_ID_LEN, PARLEY_MSG_ID_LEN);
}

int
parley_account_send_im(PurpleConnection *gc, const char *who, const char *message,
                       PurpleMessageFlags flags)
{
	ParleyAccount *pa = purple_connection_get_protocol_data(gc);
	GError *error = NULL;
	ParleyPeer *p;
	ParleyOutMsg *m;
	uint8_t id[PARLEY_MSG_ID_LEN];
	char *text;
	size_t len;

	p = peer_get(pa, who, &error);
	if (p == NULL) {
		purple_conv_present_error(who, pa->account, error->message);
		g_error_free(error);
		return -EINVAL;
	}
	/* Pidgin's HTML becomes plain text: tags go, entities are decoded,
	 * <br> becomes a newline, and literal newlines and tabs stay */
	purple_markup_html_to_xhtml(message, NULL, &text);
	len = strlen(text);
	if (len > PARLEY_MAX_TEXT) {
		parley_wipe(text, len);
		g_free(text);
		return -E2BIG;   /* libpurple says: the message is too large */
	}
	new_msg_id(id);
	m = parley_outbox_add(&p->outbox, id, text, len, now_ms());
	parley_wipe(text, len);
	g_free(text);

	if (p->conn != NULL) {
		/* classic mode has no ACKs: everything goes at once */
		if (p->conn->classic != NULL)
			eng_send(p->conn, m);
		else
			peer_fill_window(p);
		conn_kick(p->conn);
	} else {
		/* queued: connect now, send in order once the session is up */
		if (!p->told_waiting) {
			char *note = g_strdup_printf(pa->classic
			                             ? _("Not connected to %s yet: messages will be "
			                                 "sent once the classic session is up.")
			                             : _("Not connected to %s yet: messages will be "
			                                 "sent once the secure session is up."),
			                             peer_display(p));

			parley_conv_notice(pa->account, p->name, FALSE, PURPLE_MESSAGE_SYSTEM, note);
			g_free(note);
			p->told_waiting = TRUE;
		}
		p->hold = FALSE;
		peer_dial_soon(p);
	}
	peer_arm_give_up(p);
	return 1;
}

unsigned int
parley_account_send_typing(PurpleConnection *gc, const char *who, PurpleTypingState state)
{
	ParleyAccount *pa = purple_connection_get_protocol_data(gc);
	ParleyPeer *p = g_hash_table_lookup(pa->peers, who);

	/* classic mode has no typing notifications */
	if (p == NULL || p->conn == NULL || p->conn->session == NULL || !pref_bool("send-typing"))
		return 0;
	parley_session_send_typing(p->conn->session, state == PURPLE_TYPING ? 1 :
	                           state == PURPLE_TYPED ? 2 : 0);
	conn_kick(p->conn);
	return 0;
}

static gboolean
remove_invalid_buddy_cb(gpointer data)
{
	PurpleBuddy *b = data;

	purple_blist_remove_buddy(b);
	return FALSE;
}

void
parley_account_add_buddy(PurpleConnection *gc, PurpleBuddy *buddy)
{
	ParleyAccount *pa = purple_connection_get_protocol_data(gc);
	GError *error = NULL;
	ParleyPeer *p = peer_get(pa, purple_buddy_get_name(buddy), &error);

	if (p == NULL) {
		purple_notify_error(gc, _("Add Buddy"), _("This is not a Parley address."),
		                    error->message);
		g_error_free(error);
		/* not from inside libpurple's own add-buddy call */
		purple_timeout_add(0, remove_invalid_buddy_cb, buddy);
		return;
	}
	p->hold = FALSE;
	p->no_listen = FALSE;       /* the user gave an address to dial */
	if (pa->classic)
		peer_set_online(p, p->conn != NULL);
	else
		peer_dial(p);
}

void
parley_account_remove_buddy(PurpleConnection *gc, PurpleBuddy *buddy)
{
	ParleyAccount *pa = purple_connection_get_protocol_data(gc);
	ParleyPeer *p;
	GList *l, *next;

	if (pa == NULL)
		return;
	p = g_hash_table_lookup(pa->peers, purple_buddy_get_name(buddy));
	if (p == NULL)
		return;
	for (l = pa->conns; l != NULL; l = next) {
		ParleyConn *c = l->data;

		next = l->next;
		if (c->peer != p)
			continue;
		c->peer = NULL;
		if (eng_exists(c)) {
			eng_close(c, 0);
			conn_flush(c);
		}
		conn_destroy(c);
	}
	g_hash_table_remove(pa->peers, p->name);
}

/* ---- actions --------------------------------------------------------- */

static ParleyPeer *
find_peer(PurpleAccount *account, const char *who)
{
	PurpleConnection *gc = purple_account_get_connection(account);
	ParleyAccount *pa = gc != NULL ? purple_connection_get_protocol_data(gc) : NULL;

	return pa != NULL ? g_hash_table_lookup(pa->peers, who) : NULL;
}

gboolean
parley_account_rekey(PurpleAccount *account, const char *who, GString *why_not)
{
	ParleyPeer *p = find_peer(account, who);
	ParleyError err;

	if (p == NULL || p->conn == NULL) {
		g_string_assign(why_not, _("There is no secure session with this peer right now."));
		return FALSE;
	}
	err = p->conn->classic != NULL ? parley_classic_rekey(p->conn->classic, now_ms())
	                               : parley_session_rekey(p->conn->session, now_ms());
	if (err == PARLEY_ERR_BUSY) {
		g_string_assign(why_not, _("A key rotation is already under way; wait for it to "
		                           "finish."));
		return FALSE;
	}
	if (err != PARLEY_ERR_NONE) {
		g_string_assign(why_not, _(parley_strerror(err)));
		return FALSE;
	}
	conn_kick(p->conn);
	return TRUE;
}

void
parley_account_reconnect(PurpleAccount *account, const char *who)
{
	PurpleConnection *gc = purple_account_get_connection(account);
	ParleyAccount *pa = gc != NULL ? purple_connection_get_protocol_data(gc) : NULL;
	ParleyPeer *p;

	if (pa == NULL)
		return;
	p = peer_get(pa, who, NULL);
	if (p == NULL)
		return;
	p->hold = FALSE;
	p->retry_delay_s = 0;
	if (p->conn != NULL) {
		ParleyConn *c = p->conn;

		p->conn = NULL;
		peer_set_online(p, FALSE);
		classic_take_back(p, c);
		eng_close(c, 2);
		conn_kick(c);
	}
	peer_dial(p);
}

void
parley_account_passphrase_changed(PurpleAccount *account, const char *who)
{
	PurpleConnection *gc = purple_account_get_connection(account);
	ParleyAccount *pa = gc != NULL ? purple_connection_get_protocol_data(gc) : NULL;
	ParleyPeer *p = find_peer(account, who);
	GList *l;

	/* PRS computed from the old passphrase are of no more use */
	if (pa != NULL)
		parley_prs_cache_clear(pa->prs_cache);
	if (pa == NULL || p == NULL)
		return;
	/* Handshakes under way use the old passphrase: stop them all, so no
	 * session comes up with the passphrase the user just replaced.  Our
	 * own abort is no failed guess of the peer's. */
	for (l = pa->conns; l != NULL; l = l->next) {
		ParleyConn *c = l->data;

		if (c->peer != p || c == p->conn || !eng_exists(c) || eng_closed(c))
			continue;
		if (p->dialing == c)
			p->dialing = NULL;
		conn_verdict(c, PARLEY_GUARD_ABORTED);
		kdf_detach(c);
		eng_close(c, 2);
		conn_kick(c);
	}
	/* a new passphrase deserves a fresh attempt */
	parley_account_reconnect(account, who);
}

char *
parley_account_session_details(PurpleAccount *account, const char *who)
{
	ParleyPeer *p = find_peer(account, who);
	GString *s;
	char *esc;

	if (p == NULL)
		return NULL;
	s = g_string_new(NULL);
	esc = g_markup_escape_text(peer_display(p), -1);
	g_string_append_printf(s, _("<b>Peer:</b> %s<br>"), esc);
	g_free(esc);
	esc = g_markup_escape_text(p->name, -1);
	g_string_append_printf(s, _("<b>Address:</b> %s"), esc);
	g_free(esc);
	if (p->conn != NULL && p->conn->remote_ip != NULL) {
		esc = g_markup_escape_text(p->conn->remote_ip, -1);
		g_string_append_printf(s, " (%s)", esc);
		g_free(esc);
	}
	g_string_append(s, "<br>");
	if (p->conn == NULL) {
		g_string_append(s, _("<b>Session:</b> none (not connected)<br>"));
	} else if (p->conn->classic != NULL) {
		ParleyClassic *cl = p->conn->classic;

		g_string_append(s, _("<b>Protocol:</b> Classic (the original tool's; no forward "
		                     "secrecy, no replay protection)<br>"));
		g_string_append(s, _("<b>Cipher:</b> AES-128-GCM, keys from PBKDF2 over the "
		                     "passphrase<br>"));
		g_string_append_printf(s, _("<b>Current epoch:</b> %u<br>"),
		                       parley_classic_key_generation(cl) - 1);
		g_string_append_printf(s, _("<b>Messages since the last rekey:</b> %u<br>"),
		                       parley_classic_sent_since_rekey(cl));
		g_string_append(s, _("<b>Verification code:</b> none in classic mode<br>"));
	} else {
		ParleySession *ss = p->conn->session;

		g_string_append(s, _("<b>Protocol:</b> Parley version 2 (CPace over X25519)<br>"));
		g_string_append(s, _("<b>Cipher:</b> AES-256-GCM, keys rotated by X25519 ratchet<br>"));
		g_string_append_printf(s, _("<b>Current epoch:</b> %u<br>"),
		                       parley_session_send_epoch(ss));
		g_string_append_printf(s, _("<b>Messages since the last rekey:</b> %u<br>"),
		                       parley_session_messages_in_epoch(ss));
		g_string_append_printf(s, _("<b>Verification code:</b> %s<br>"),
		                       parley_session_code(ss));
		g_string_append_printf(s, _("<b>Started by:</b> %s<br>"),
		                       p->conn->initiator ? _("you") : _("the peer"));
	}
	if (parley_outbox_len(&p->outbox) > 0)
		g_string_append_printf(s, _("<b>Messages waiting for delivery:</b> %u<br>"),
		                       parley_outbox_len(&p->outbox));
	return g_string_free(s, FALSE);
}

void
parley_account_tooltip(PurpleBuddy *buddy, PurpleNotifyUserInfo *info)
{
	ParleyPeer *p = find_peer(purple_buddy_get_account(buddy), purple_buddy_get_name(buddy));
	char *v;

	if (p == NULL || p->conn == NULL)
		return;
	if (p->conn->classic != NULL) {
		purple_notify_user_info_add_pair_plaintext(info, _("Protocol"),
		                                           _("Classic (original tool)"));
		return;
	}
	if (p->announced != NULL)
		purple_notify_user_info_add_pair_plaintext(info, _("Name"), p->announced);
	v = g_strdup_printf("%u", parley_session_send_epoch(p->conn->session));
	purple_notify_user_info_add_pair_plaintext(info, _("Epoch"), v);
	g_free(v);
	purple_notify_user_info_add_pair_plaintext(info, _("Verification code"),
	                                           parley_session_code(p->conn->session));
}

static void
conversation_created_cb(PurpleConversation *conv, gpointer data)
{
	PurpleAccount *account = purple_conversation_get_account(conv);
	ParleyPeer *p;
	char *text;

	if (purple_conversation_get_type(conv) != PURPLE_CONV_TYPE_IM ||
	    strcmp(purple_account_get_protocol_id(account), PARLEY_PRPL_ID) != 0)
		return;
	p = find_peer(account, purple_conversation_get_name(conv));
	if (p == NULL || p->conn == NULL)
		return;
	if (p->conn->classic != NULL) {
		parley_conv_notice(account, p->name, FALSE,
		                   PURPLE_MESSAGE_SYSTEM | PURPLE_MESSAGE_NO_LOG, classic_warning());
		return;
	}
	text = established_text(p, parley_session_code(p->conn->session));
	parley_conv_notice(account, p->name, FALSE, PURPLE_MESSAGE_SYSTEM | PURPLE_MESSAGE_NO_LOG,
	                   text);
	g_free(text);
}

void
parley_account_watch_conversations(PurplePlugin *plugin)
{
	/* at plugin load only remember the handle: connecting then would
	 * be too early (and libpurple complains) */
	if (plugin != NULL) {
		watching_plugin = plugin;
		return;
	}
	if (watching || watching_plugin == NULL)
		return;
	watching = purple_signal_connect(purple_conversations_get_handle(),
	                                 "conversation-created", watching_plugin,
	                                 PURPLE_CALLBACK(conversation_created_cb), NULL) != 0;
}
