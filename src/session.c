/*
 * session.c - a native Parley connection: handshake (§4), key schedule
 * (§5), records (§6), delivery events (§7) and rekeys (§8), with no I/O.
 *
 * Receive path, always in this order: frame length (frame.c) -> epoch
 * selects the key -> AEAD open with the expected seq (record.c) -> only
 * then the inner type is looked at and state changes.  Every failure of a
 * connection is final: the session emits ERROR (when there is something to
 * tell) and CLOSED, wipes its keys, and ignores everything after.
 */
#include "session.h"

#include <string.h>

#include "crypto.h"
#include "frame.h"
#include "handshake.h"
#include "record.h"

/* §6 inner types */
enum {
	INNER_MSG = 0x01,
	INNER_ACK = 0x02,
	INNER_TYPING = 0x03,
	INNER_REKEY = 0x04,
	INNER_REKEY_ACK = 0x05,
	INNER_PING = 0x06,
	INNER_PONG = 0x07,
	INNER_BYE = 0x08
};

#define NO_EPOCH ((gint64) -1)
/* records this size or smaller are opened on the stack */
#define SMALL_INNER 512

struct ParleySession {
	ParleySessionState state;
	gboolean initiator;
	guint rekey_messages;
	guint rekey_minutes;
	ParleyRandomFunc random;
	gpointer random_data;

	ParleyFrameReader reader;
	GByteArray *out;
	GQueue events;

	/* handshake */
	ParleyHandshake hs;
	gint64 handshake_deadline;
	guint kdf_next_id;
	guint kdf_pending;          /* id of the outstanding NEED_KDF, 0 if none */
	uint8_t sid[PARLEY_SID_LEN];
	char code[8];

	/* records: the send epoch is always the newest one derived */
	ParleyRecordDir send;
	ParleyRecordDir recv;
	ParleyRecordDir recv_next;  /* recv epoch + 1, once derived */
	uint8_t *chain;             /* chain key of the send epoch (secure) */
	guint msgs_in_epoch;
	gint64 epoch_started_ms;

	/* §8 rekey state */
	uint8_t *rekey_e;           /* our pending ephemeral (secure), or NULL */
	gint64 asked_in_epoch;      /* send epoch of our last REKEY */
	gint64 answered_in_epoch;   /* recv epoch of the last REKEY we answered */

	/* §6 keepalive */
	gint64 last_rx_ms;
	gint64 last_ping_ms;

	ParleyError error;          /* why fail() closed the session */
};

/* §3 NFC (UAX #15: full canonical decomposition, canonical ordering,
 * canonical composition) of valid UTF-8, built from GLib's per-character
 * primitives so that every intermediate form of the passphrase lives in
 * secure memory: g_utf8_normalize() keeps a UCS-4 copy in ordinary heap
 * and frees it unwiped.  GLib's tables are the same either way, so the
 * result is byte for byte what g_utf8_normalize(G_NORMALIZE_NFC) gives
 * (test-session checks that on a corpus). */
static uint8_t *
nfc_secure(const char *utf8, size_t *out_len)
{
	size_t n_chars = (size_t) g_utf8_strlen(utf8, -1);
	size_t cap = n_chars * G_UNICHAR_MAX_DECOMPOSITION_LENGTH;
	gunichar *wc = parley_secure_alloc(cap * sizeof(gunichar));
	size_t n = 0, kept = 0, bytes = 0, i, j;
	gssize starter = -1;        /* index in wc[0..kept) of the last starter */
	int last_cc = -1;           /* class of the last kept mark after it */
	const char *p;
	uint8_t *out;

	/* full canonical decomposition (Hangul included) */
	for (p = utf8; *p != '\0'; p = g_utf8_next_char(p))
		n += g_unichar_fully_decompose(g_utf8_get_char(p), FALSE, wc + n,
		                               G_UNICHAR_MAX_DECOMPOSITION_LENGTH);
	/* canonical ordering: a stable sort of each run of marks by class
	 * (a starter, class 0, is never passed) */
	for (i = 1; i < n; i++) {
		gunichar c = wc[i];
		int cc = g_unichar_combining_class(c);

		for (j = i; cc != 0 && j > 0 &&
		     g_unichar_combining_class(wc[j - 1]) > cc; j--)
			wc[j] = wc[j - 1];
		wc[j] = c;
	}
	/* canonical composition: a character joins the last starter unless
	 * something in between blocks it (a starter, or a mark of the same
	 * or a higher class) */
	for (i = 0; i < n; i++) {
		gunichar c = wc[i], composed;
		int cc = g_unichar_combining_class(c);

		if (starter >= 0 && (last_cc < 0 || last_cc < cc) &&
		    g_unichar_compose(wc[starter], c, &composed)) {
			wc[starter] = composed;
			continue;
		}
		if (cc == 0) {
			starter = (gssize) kept;
			last_cc = -1;
		} else {
			last_cc = cc;
		}
		wc[kept++] = c;
	}
	/* UTF-8, sized exactly */
	for (i = 0; i < kept; i++)
		bytes += (size_t) g_unichar_to_utf8(wc[i], NULL);
	out = parley_secure_alloc(bytes + 1);
	for (i = 0, j = 0; i < kept; i++)
		j += (size_t) g_unichar_to_utf8(wc[i], (char *) out + j);
	out[bytes] = '\0';
	parley_secure_free(wc, cap * sizeof(gunichar));
	*out_len = bytes;
	return out;
}

uint8_t *
parley_passphrase_nfc(const char *utf8, size_t *len, ParleyError *err)
{
	*len = 0;
	if (utf8 == NULL || *utf8 == '\0') {
		*err = PARLEY_ERR_PASSPHRASE_EMPTY;
		return NULL;
	}
	if (!g_utf8_validate(utf8, -1, NULL)) {
		*err = PARLEY_ERR_MALFORMED;
		return NULL;
	}
	*err = PARLEY_ERR_NONE;
	return nfc_secure(utf8, len);
}

char *
parley_utf8_make_valid(const uint8_t *p, size_t len, size_t *out_len)
{
	static const char fffd[] = "\357\277\275";   /* U+FFFD */
	const char *rest, *bad;
	size_t left, need = 0, at = 0, ok;
	char *out;

	g_return_val_if_fail(p != NULL || len == 0, NULL);

	/* The same walk as g_utf8_make_valid(): the longest valid prefix,
	 * then one U+FFFD for the byte that stops it (a NUL included), on to
	 * the next byte.  Once to measure, once to copy into a buffer of the
	 * final size: the text never sits in a buffer that grows. */
	for (rest = (const char *) p, left = len; left > 0; rest = bad + 1, left -= ok + 1) {
		if (g_utf8_validate_len(rest, left, &bad)) {
			need += left;
			break;
		}
		ok = (size_t) (bad - rest);
		need += ok + 3;
	}
	out = g_malloc(need + 1);
	for (rest = (const char *) p, left = len; left > 0; rest = bad + 1, left -= ok + 1) {
		if (g_utf8_validate_len(rest, left, &bad)) {
			memcpy(out + at, rest, left);
			at += left;
			break;
		}
		ok = (size_t) (bad - rest);
		memcpy(out + at, rest, ok);
		memcpy(out + at + ok, fffd, 3);
		at += ok + 3;
	}
	out[at] = '\0';
	if (out_len != NULL)
		*out_len = at;
	return out;
}

static const char *
wire_reason(ParleyError code)
{
	switch (code) {
	case PARLEY_ERR_VERSION: return "unsupported version";
	case PARLEY_ERR_MALFORMED: return "malformed or invalid message";
	case PARLEY_ERR_AUTH: return "passphrases do not match";
	case PARLEY_ERR_BUSY: return "busy, try again later";
	case PARLEY_ERR_LOOPBACK: return "connection to self";
	case PARLEY_ERR_REFUSED: return "connection refused";
	default: return "";
	}
}

static void
draw(ParleySession *s, void *buf, size_t len)
{
	if (s->random != NULL)
		s->random(buf, len, s->random_data);
	else
		parley_random_bytes(buf, len);
}

static ParleyEvent *
push_event(ParleySession *s, ParleyEventType type)
{
	return parley_event_push(&s->events, type);
}

/* Drop every secret the connection holds. */
static void
wipe_keys(ParleySession *s)
{
	parley_handshake_clear(&s->hs);
	parley_record_dir_clear(&s->send);
	parley_record_dir_clear(&s->recv);
	parley_record_dir_clear(&s->recv_next);
	if (s->chain != NULL) {
		parley_secure_free(s->chain, PARLEY_CHAIN_LEN);
		s->chain = NULL;
	}
	if (s->rekey_e != NULL) {
		parley_secure_free(s->rekey_e, PARLEY_SCALAR_LEN);
		s->rekey_e = NULL;
	}
	parley_frame_reader_clear(&s->reader);
}

/* The code a handshake failure is told to the peer with: a wire code as
 * is; a local failure (libgcrypt) is nothing the peer did, and has no
 * code - the connection just closes. */
static ParleyError
wire_code(ParleyError err)
{
	return err < PARLEY_ERR_LOCAL ? err : PARLEY_ERR_NONE;
}

/* The end of a connection.  send_code: an ERROR code to send first (only
 * during the handshake; records are never answered, §6), or 0. */
static void
fail(ParleySession *s, ParleyError err, ParleyError send_code)
{
	ParleyEvent *ev;

	if (s->state == PARLEY_SESSION_CLOSED)
		return;
	s->error = err;
	send_code = wire_code(send_code);
	if (send_code != PARLEY_ERR_NONE)
		parley_handshake_write_error(s->out, send_code, wire_reason(send_code));
	ev = push_event(s, PARLEY_EV_ERROR);
	ev->error = err;
	ev->wire_code = send_code;
	ev->text = g_strdup(parley_strerror(err));
	ev->text_len = strlen(ev->text);
	ev = push_event(s, PARLEY_EV_CLOSED);
	ev->error = err;
	s->state = PARLEY_SESSION_CLOSED;
	wipe_keys(s);
}

ParleySession *
parley_session_new(const ParleySessionConfig *cfg, gint64 now_ms)
{
	ParleySession *s;
	size_t name_len;

	g_return_val_if_fail(cfg != NULL && cfg->name != NULL, NULL);
	name_len = strlen(cfg->name);
	g_return_val_if_fail(name_len >= 1 && name_len <= PARLEY_NAME_MAX &&
	                     g_utf8_validate(cfg->name, -1, NULL), NULL);
	g_return_val_if_fail(!cfg->initiator || (cfg->salt != NULL &&
	                     cfg->iterations >= PARLEY_MIN_ITERATIONS &&
	                     cfg->iterations <= PARLEY_MAX_ITERATIONS), NULL);

	s = g_new0(ParleySession, 1);
	s->state = PARLEY_SESSION_HANDSHAKE;
	s->initiator = cfg->initiator;
	s->rekey_messages = cfg->rekey_messages;
	s->rekey_minutes = cfg->rekey_minutes;
	s->random = cfg->random;
	s->random_data = cfg->random_data;
	s->out = g_byte_array_new();
	g_queue_init(&s->events);
	parley_frame_reader_init(&s->reader);
	s->handshake_deadline = now_ms + (cfg->handshake_timeout_ms != 0 ?
	                        cfg->handshake_timeout_ms : PARLEY_HANDSHAKE_TIMEOUT_MS);
	s->asked_in_epoch = NO_EPOCH;
	s->answered_in_epoch = NO_EPOCH;

	if (s->initiator) {
		ParleyEvent *ev;

		parley_handshake_init_initiator(&s->hs, cfg->name, cfg->listen_port,
		                                cfg->salt, cfg->iterations,
		                                s->random, s->random_data);
		memcpy(s->sid, s->hs.sid, PARLEY_SID_LEN);
		/* §4: I needs PRS before it can send HS1 */
		ev = push_event(s, PARLEY_EV_NEED_KDF);
		ev->kdf_id = s->kdf_pending = ++s->kdf_next_id;
		memcpy(ev->kdf_salt, cfg->salt, PARLEY_SALT_LEN);
		ev->kdf_iterations = cfg->iterations;
		ev->kdf_len = PARLEY_PRS_LEN;
		memcpy(ev->sid, s->sid, PARLEY_SID_LEN);
	} else {
		parley_handshake_init_responder(&s->hs, cfg->name);
	}
	return s;
}

void
parley_session_free(ParleySession *s)
{
	if (s == NULL)
		return;
	wipe_keys(s);
	parley_event_queue_clear(&s->events);
	parley_wipe(s->out->data, s->out->len);
	g_byte_array_unref(s->out);
	parley_wipe(s, sizeof(*s));
	g_free(s);
}

static char *
valid_utf8(const uint8_t *p, size_t len)
{
	return parley_utf8_make_valid(p, len, NULL);
}

/* An ERROR frame from the peer, at any time (§4): show it and close.
 *
 * ERROR frames are plaintext and unauthenticated (§4).  During the
 * handshake that is all there is: the code and the reason are the peer's
 * stated reason.  Once established, every genuine word from the peer
 * comes in an authenticated record, and an ERROR frame may be anyone's -
 * whoever can write into the TCP stream can end it, as with a reset, but
 * must not put words in the peer's mouth: no reason text, and no claim
 * such as "passphrases differ" (which key confirmation has disproved)
 * that would make the caller stop reconnecting.  session.h says what the
 * events carry. */
static void
peer_error(ParleySession *s, const uint8_t *p, size_t len)
{
	ParleyEvent *ev;
	int code = len > 6 ? p[6] : 0;
	ParleyError err = (code >= PARLEY_ERR_VERSION && code <= PARLEY_ERR_REFUSED) ?
	                  (ParleyError) code : PARLEY_ERR_MALFORMED;
	gboolean established = s->state == PARLEY_SESSION_ESTABLISHED;

	if (established)
		err = PARLEY_ERR_CLOSED;
	ev = push_event(s, PARLEY_EV_ERROR);
	ev->error = err;
	ev->from_peer = TRUE;
	ev->wire_code = code;
	if (!established) {
		ev->text = len > 7 ? valid_utf8(p + 7, MIN(len - 7, PARLEY_ERROR_REASON_MAX))
		                   : g_strdup("");
		ev->text_len = strlen(ev->text);
	}
	ev = push_event(s, PARLEY_EV_CLOSED);
	ev->error = err;
	ev->from_peer = TRUE;
	s->state = PARLEY_SESSION_CLOSED;
	wipe_keys(s);
}

/* Key both directions of one epoch for our role (§5, §8: I sends with
 * the I->R keys).  Either both are set, or neither is (FALSE). */
static gboolean
key_epoch(const ParleySession *s, const ParleyEpochKeys *k, guint32 epoch,
          ParleyRecordDir *send, ParleyRecordDir *recv)
{
	if (parley_record_dir_set(send, s->initiator ? k->key_IR : k->key_RI,
	                          s->initiator ? k->iv_IR : k->iv_RI, epoch) &&
	    parley_record_dir_set(recv, s->initiator ? k->key_RI : k->key_IR,
	                          s->initiator ? k->iv_RI : k->iv_IR, epoch))
		return TRUE;
	parley_record_dir_clear(send);
	parley_record_dir_clear(recv);
	return FALSE;
}

/* §5: epoch-0 keys, then the session is established.  Everything is
 * derived and keyed into locals first; if any of it fails the session
 * fails (PARLEY_ERR_LOCAL) with no key set, and FALSE is returned. */
static gboolean
establish(ParleySession *s, gint64 now_ms)
{
	ParleyEpochKeys k;
	ParleyRecordDir send = { 0 }, recv = { 0 };
	char code[8];
	ParleyEvent *ev;
	gboolean ok;

	ok = parley_handshake_derive_keys(&s->hs, &k, code) &&
	     key_epoch(s, &k, 0, &send, &recv);
	if (!ok) {
		parley_epoch_keys_clear(&k);
		fail(s, PARLEY_ERR_LOCAL, PARLEY_ERR_NONE);
		return FALSE;
	}
	parley_record_dir_move(&s->send, &send);
	parley_record_dir_move(&s->recv, &recv);
	s->chain = parley_secure_alloc(PARLEY_CHAIN_LEN);
	memcpy(s->chain, k.chain, PARLEY_CHAIN_LEN);
	parley_epoch_keys_clear(&k);
	memcpy(s->code, code, sizeof(s->code));

	ev = push_event(s, PARLEY_EV_ESTABLISHED);
	ev->peer_name = valid_utf8(s->hs.peer_name, s->hs.peer_name_len);
	ev->peer_listen_port = s->initiator ? 0 : s->hs.listen_port;
	memcpy(ev->sid, s->sid, PARLEY_SID_LEN);
	memcpy(ev->code, s->code, sizeof(ev->code));

	/* the handshake's secrets are dead now */
	parley_handshake_clear(&s->hs);
	s->state = PARLEY_SESSION_ESTABLISHED;
	s->epoch_started_ms = now_ms;
	s->last_rx_ms = now_ms;
	s->last_ping_ms = now_ms;
	return TRUE;
}

static void
handle_handshake_frame(ParleySession *s, const uint8_t *p, size_t len, gint64 now_ms)
{
	ParleyError err;

	if (parley_handshake_is_error_frame(p, len)) {
		peer_error(s, p, len);
		return;
	}

	switch (s->hs.state) {
	case PARLEY_HS_R_WAIT_HS1: {
		ParleyEvent *ev;

		err = parley_handshake_consume_hs1(&s->hs, p, len);
		if (err != PARLEY_ERR_NONE) {
			fail(s, err, err);
			return;
		}
		memcpy(s->sid, s->hs.sid, PARLEY_SID_LEN);
		/* The caller picks the passphrase for this caller and may
		 * refuse it (limits, loopback) before any PBKDF2 work. */
		ev = push_event(s, PARLEY_EV_NEED_KDF);
		ev->kdf_id = s->kdf_pending = ++s->kdf_next_id;
		memcpy(ev->kdf_salt, s->hs.salt, PARLEY_SALT_LEN);
		ev->kdf_iterations = s->hs.iterations;
		ev->kdf_len = PARLEY_PRS_LEN;
		ev->by_peer = TRUE;
		ev->peer_name = valid_utf8(s->hs.peer_name, s->hs.peer_name_len);
		ev->peer_listen_port = s->hs.listen_port;
		memcpy(ev->sid, s->sid, PARLEY_SID_LEN);
		return;
	}
	case PARLEY_HS_I_SENT_HS1:
		/* §4: K, ISK; then Ya is revealed with Ta */
		err = parley_handshake_consume_hs2(&s->hs, p, len);
		if (err == PARLEY_ERR_NONE)
			err = parley_handshake_create_hs3(&s->hs, s->out);
		if (err != PARLEY_ERR_NONE)
			fail(s, err, err);
		return;
	case PARLEY_HS_R_SENT_HS2: {
		GByteArray *hs4;

		/* a bad commitment or Ya: ERROR 2; a Ta mismatch means the
		 * passphrases differ: ERROR 3 */
		err = parley_handshake_consume_hs3(&s->hs, p, len);
		if (err != PARLEY_ERR_NONE) {
			fail(s, err, err);
			return;
		}
		/* HS4 goes out only once our keys are set: a peer must not
		 * establish with a side that could not. */
		hs4 = g_byte_array_new();
		err = parley_handshake_create_hs4(&s->hs, hs4);
		if (err != PARLEY_ERR_NONE)
			fail(s, err, err);
		else if (establish(s, now_ms))
			g_byte_array_append(s->out, hs4->data, hs4->len);
		g_byte_array_unref(hs4);
		return;
	}
	case PARLEY_HS_I_SENT_HS3:
		/* a Tb mismatch: I tells R (ERROR 3) and its user that the
		 * passphrases differ */
		err = parley_handshake_consume_hs4(&s->hs, p, len);
		if (err != PARLEY_ERR_NONE) {
			fail(s, err, err);
			return;
		}
		(void) establish(s, now_ms);
		return;
	default:
		/* Nothing may arrive while our PBKDF2 runs: the peer is
		 * waiting for us.  Check the version as §4 asks, then refuse. */
		if (len >= 5 && memcmp(p, PARLEY_MAGIC, PARLEY_MAGIC_LEN) == 0 &&
		    p[4] != PARLEY_VERSION)
			fail(s, PARLEY_ERR_VERSION, PARLEY_ERR_VERSION);
		else
			fail(s, PARLEY_ERR_MALFORMED, PARLEY_ERR_MALFORMED);
		return;
	}
}

static gboolean start_rekey(ParleySession *s);

static gboolean
may_ask_rekey(const ParleySession *s)
{
	return s->state == PARLEY_SESSION_ESTABLISHED && s->rekey_e == NULL &&
	       s->asked_in_epoch != (gint64) s->send.epoch;
}

/* Seal one record in the send direction (§6).  If it cannot be sealed the
 * session fails and FALSE is returned; nothing goes out in that case:
 *  - §6's limit: seq 2^32 - 1 has gone and the peer never answered the
 *    REKEY we sent when seq passed PARLEY_SEQ_REKEY_AT - a protocol
 *    failure (PARLEY_ERR_PROTOCOL);
 *  - libgcrypt failed: PARLEY_ERR_LOCAL. */
static gboolean
send_record(ParleySession *s, uint8_t type, const void *body, size_t len)
{
	if (!parley_record_seal(&s->send, type, body, len, s->out)) {
		fail(s, parley_record_dir_used_up(&s->send) ? PARLEY_ERR_PROTOCOL
		                                            : PARLEY_ERR_LOCAL,
		     PARLEY_ERR_NONE);
		return FALSE;
	}
	/* §6/§8: rekey before seq could reach 2^32, whatever kind of record
	 * brought it near - not after MSGs only.  Not after our own REKEY
	 * (it is the rekey), nor after REKEY_ACK (this epoch ends with it),
	 * nor after BYE (the connection does). */
	if (type != INNER_REKEY && type != INNER_REKEY_ACK && type != INNER_BYE &&
	    s->send.seq >= PARLEY_SEQ_REKEY_AT && may_ask_rekey(s))
		return start_rekey(s);
	return TRUE;
}

/* §8 requester: REKEY(E_P) under the current keys; state PENDING. */
static gboolean
start_rekey(ParleySession *s)
{
	uint8_t *e = parley_secure_alloc(PARLEY_SCALAR_LEN);
	uint8_t E[PARLEY_POINT_LEN];

	/* X25519 of the base point only fails when libgcrypt does: fail
	 * closed rather than spin on the main loop */
	draw(s, e, PARLEY_SCALAR_LEN);
	if (!parley_x25519_base(E, e)) {
		parley_secure_free(e, PARLEY_SCALAR_LEN);
		fail(s, PARLEY_ERR_LOCAL, PARLEY_ERR_NONE);
		return FALSE;
	}
	/* pending before sealing: send_record does not recurse into us */
	s->rekey_e = e;
	if (!send_record(s, INNER_REKEY, E, sizeof(E)))
		return FALSE;           /* fail() has wiped rekey_e */
	s->asked_in_epoch = s->send.epoch;
	return TRUE;
}

/* §8 derive: epoch n+1 from chain_n and dh, into locals.  Our new send
 * direction and the peer's next receive direction, and the next chain key,
 * or FALSE with nothing set. */
static gboolean
derive_next(const ParleySession *s, const uint8_t dh[32], ParleyRecordDir *send,
            ParleyRecordDir *recv_next, uint8_t chain[PARLEY_CHAIN_LEN])
{
	ParleyEpochKeys k;
	gboolean ok;

	ok = parley_epoch_keys_ratchet(s->chain, dh, &k) &&
	     key_epoch(s, &k, s->send.epoch + 1, send, recv_next);
	if (ok)
		memcpy(chain, k.chain, PARLEY_CHAIN_LEN);
	parley_epoch_keys_clear(&k);
	return ok;
}

/* Commit epoch n+1: we send with it at once, and receive with it from the
 * peer's first record under it. */
static void
next_epoch(ParleySession *s, ParleyRecordDir *send, ParleyRecordDir *recv_next,
           const uint8_t chain[PARLEY_CHAIN_LEN], gboolean by_peer, gint64 now_ms)
{
	ParleyEvent *ev;

	parley_record_dir_move(&s->send, send);
	parley_record_dir_move(&s->recv_next, recv_next);
	memcpy(s->chain, chain, PARLEY_CHAIN_LEN);
	s->msgs_in_epoch = 0;
	s->epoch_started_ms = now_ms;

	ev = push_event(s, PARLEY_EV_REKEYED);
	ev->epoch = s->send.epoch;
	ev->by_peer = by_peer;
}

static void
handle_rekey(ParleySession *s, guint32 rec_epoch, const uint8_t E_peer[32], gint64 now_ms)
{
	uint8_t *e;
	uint8_t E[PARLEY_POINT_LEN];
	uint8_t dh[32];
	uint8_t chain[PARLEY_CHAIN_LEN];
	ParleyRecordDir send = { 0 }, recv_next = { 0 };
	gboolean ok;

	/* At most one REKEY per epoch from the peer, and it must come under
	 * the epoch we send in (both sides derive the same sequence). */
	if (s->answered_in_epoch == (gint64) rec_epoch || rec_epoch != s->send.epoch) {
		fail(s, PARLEY_ERR_PROTOCOL, PARLEY_ERR_NONE);
		return;
	}
	if (s->rekey_e != NULL) {
		/* Both asked at once: the initiator's request wins. */
		if (s->initiator)
			return;
		parley_secure_free(s->rekey_e, PARLEY_SCALAR_LEN);
		s->rekey_e = NULL;
	}

	e = parley_secure_alloc(PARLEY_SCALAR_LEN);
	draw(s, e, PARLEY_SCALAR_LEN);
	if (!parley_x25519_base(E, e)) {
		parley_secure_free(e, PARLEY_SCALAR_LEN);
		fail(s, PARLEY_ERR_LOCAL, PARLEY_ERR_NONE);
		return;
	}
	/* check dh before answering, and derive before answering: a
	 * REKEY_ACK commits us to epoch n+1 */
	if (!parley_x25519(dh, e, E_peer)) {
		parley_secure_free(e, PARLEY_SCALAR_LEN);
		fail(s, PARLEY_ERR_PROTOCOL, PARLEY_ERR_NONE);
		return;
	}
	parley_secure_free(e, PARLEY_SCALAR_LEN);
	ok = derive_next(s, dh, &send, &recv_next, chain);
	parley_wipe(dh, sizeof(dh));
	if (!ok) {
		fail(s, PARLEY_ERR_LOCAL, PARLEY_ERR_NONE);
		return;
	}
	/* REKEY_ACK under our current sending keys (§8) */
	if (send_record(s, INNER_REKEY_ACK, E, sizeof(E))) {
		s->answered_in_epoch = rec_epoch;
		next_epoch(s, &send, &recv_next, chain, TRUE, now_ms);
	}
	parley_record_dir_clear(&send);
	parley_record_dir_clear(&recv_next);
	parley_wipe(chain, sizeof(chain));
}

static void
handle_rekey_ack(ParleySession *s, const uint8_t E_peer[32], gint64 now_ms)
{
	uint8_t dh[32];
	uint8_t chain[PARLEY_CHAIN_LEN];
	ParleyRecordDir send = { 0 }, recv_next = { 0 };
	gboolean ok;

	if (s->rekey_e == NULL) {
		fail(s, PARLEY_ERR_PROTOCOL, PARLEY_ERR_NONE);
		return;
	}
	ok = parley_x25519(dh, s->rekey_e, E_peer);
	parley_secure_free(s->rekey_e, PARLEY_SCALAR_LEN);
	s->rekey_e = NULL;
	if (!ok) {
		fail(s, PARLEY_ERR_PROTOCOL, PARLEY_ERR_NONE);
		return;
	}
	ok = derive_next(s, dh, &send, &recv_next, chain);
	parley_wipe(dh, sizeof(dh));
	if (!ok)
		fail(s, PARLEY_ERR_LOCAL, PARLEY_ERR_NONE);
	else
		next_epoch(s, &send, &recv_next, chain, FALSE, now_ms);
	parley_record_dir_clear(&send);
	parley_record_dir_clear(&recv_next);
	parley_wipe(chain, sizeof(chain));
}

/* The content of an authenticated record (§6 table). */
static void
handle_inner(ParleySession *s, guint32 rec_epoch, const uint8_t *in, size_t len,
             gint64 now_ms)
{
	const uint8_t *body = in + 1;
	size_t blen = len - 1;
	ParleyEvent *ev;

	switch (in[0]) {
	case INNER_MSG:
		if (blen < PARLEY_MSG_ID_LEN || blen - PARLEY_MSG_ID_LEN > PARLEY_MAX_TEXT)
			break;
		ev = push_event(s, PARLEY_EV_MESSAGE);
		ev->proves = TRUE;          /* an authenticated record */
		memcpy(ev->msg_id, body, PARLEY_MSG_ID_LEN);
		ev->text = valid_utf8(body + PARLEY_MSG_ID_LEN, blen - PARLEY_MSG_ID_LEN);
		ev->text_len = strlen(ev->text);
		/* §7: acknowledged once handed to the user, which the caller
		 * does with the event before writing our output. */
		send_record(s, INNER_ACK, body, PARLEY_MSG_ID_LEN);
		return;
	case INNER_ACK:
		if (blen != PARLEY_MSG_ID_LEN)
			break;
		ev = push_event(s, PARLEY_EV_ACK);
		memcpy(ev->msg_id, body, PARLEY_MSG_ID_LEN);
		return;
	case INNER_TYPING:
		if (blen != 1)
			break;
		ev = push_event(s, PARLEY_EV_TYPING);
		ev->typing = body[0] <= 2 ? body[0] : 0;
		return;
	case INNER_REKEY:
		if (blen != PARLEY_POINT_LEN)
			break;
		handle_rekey(s, rec_epoch, body, now_ms);
		return;
	case INNER_REKEY_ACK:
		if (blen != PARLEY_POINT_LEN)
			break;
		handle_rekey_ack(s, body, now_ms);
		return;
	case INNER_PING:
		if (blen != 8)
			break;
		send_record(s, INNER_PONG, body, 8);
		return;
	case INNER_PONG:
		if (blen != 8)
			break;
		return;
	case INNER_BYE:
		if (blen != 1)
			break;
		ev = push_event(s, PARLEY_EV_CLOSED);
		ev->error = PARLEY_ERR_BYE;
		ev->from_peer = TRUE;
		ev->bye_reason = body[0];
		s->state = PARLEY_SESSION_CLOSED;
		wipe_keys(s);
		return;
	default:
		/* unknown types are ignored (forward compatibility) */
		return;
	}
	/* a known type with a body of the wrong length */
	fail(s, PARLEY_ERR_PROTOCOL, PARLEY_ERR_NONE);
}

static void
handle_record(ParleySession *s, const uint8_t *p, size_t len, gint64 now_ms)
{
	uint8_t small[SMALL_INNER];
	uint8_t *inner;
	size_t inner_len;
	ParleyRecordDir *dir;
	guint32 epoch;

	if (parley_handshake_is_error_frame(p, len)) {
		peer_error(s, p, len);
		return;
	}
	if (len < PARLEY_RECORD_MIN_LEN || p[0] != PARLEY_RECORD_TYPE) {
		fail(s, PARLEY_ERR_RECORD, PARLEY_ERR_NONE);
		return;
	}
	/* §8: the current receive epoch, or the next one once derived */
	epoch = parley_record_epoch(p);
	if (epoch == s->recv.epoch)
		dir = &s->recv;
	else if (parley_record_dir_is_set(&s->recv_next) && epoch == s->recv_next.epoch)
		dir = &s->recv_next;
	else {
		fail(s, PARLEY_ERR_RECORD, PARLEY_ERR_NONE);
		return;
	}

	inner_len = len - PARLEY_RECORD_HEADER_LEN - PARLEY_GCM_TAG_LEN;
	inner = inner_len <= sizeof(small) ? small : g_malloc(inner_len);
	if (!parley_record_open(dir, p, len, inner)) {
		/* tampering, replay, reordering or reflection: close, say nothing */
		fail(s, PARLEY_ERR_RECORD, PARLEY_ERR_NONE);
	} else {
		/* the first record under the new epoch retires the old keys */
		if (dir == &s->recv_next)
			parley_record_dir_move(&s->recv, &s->recv_next);
		s->last_rx_ms = now_ms;
		handle_inner(s, epoch, inner, inner_len, now_ms);
	}
	parley_wipe(inner, inner_len);
	if (inner != small)
		g_free(inner);
}

void
parley_session_feed(ParleySession *s, const uint8_t *data, size_t len, gint64 now_ms)
{
	g_return_if_fail(s != NULL);

	while (s->state != PARLEY_SESSION_CLOSED && len > 0) {
		const uint8_t *payload;
		size_t plen, used;
		ParleyFrameStatus st;

		st = parley_frame_reader_feed(&s->reader, data, len, &used, &payload, &plen);
		data += used;
		len -= used;
		if (st == PARLEY_FRAME_BAD_LENGTH) {
			/* §2: close without reading the payload; during the
			 * handshake tell the peer first (ERROR 2). */
			fail(s, PARLEY_ERR_FRAME_LENGTH,
			     s->state == PARLEY_SESSION_HANDSHAKE ? PARLEY_ERR_MALFORMED
			                                          : PARLEY_ERR_NONE);
			return;
		}
		if (st == PARLEY_FRAME_NEED_MORE)
			return;
		if (s->state == PARLEY_SESSION_HANDSHAKE)
			handle_handshake_frame(s, payload, plen, now_ms);
		else
			handle_record(s, payload, plen, now_ms);
	}
}

void
parley_session_eof(ParleySession *s, gint64 now_ms)
{
	ParleyEvent *ev;

	g_return_if_fail(s != NULL);
	if (s->state == PARLEY_SESSION_CLOSED)
		return;
	ev = push_event(s, PARLEY_EV_CLOSED);
	ev->error = PARLEY_ERR_CLOSED;
	s->state = PARLEY_SESSION_CLOSED;
	wipe_keys(s);
}

void
parley_session_provide_prs(ParleySession *s, guint kdf_id,
                           const uint8_t prs[PARLEY_PRS_LEN], gint64 now_ms)
{
	ParleyError err;

	g_return_if_fail(s != NULL && prs != NULL);
	/* a late answer for a session that moved on is simply dropped */
	if (s->state != PARLEY_SESSION_HANDSHAKE || kdf_id == 0 || kdf_id != s->kdf_pending)
		return;
	s->kdf_pending = 0;
	if (s->initiator)
		err = parley_handshake_create_hs1(&s->hs, prs, s->out);
	else
		err = parley_handshake_create_hs2(&s->hs, prs, s->random, s->random_data,
		                                  s->out);
	if (err != PARLEY_ERR_NONE)
		fail(s, err, err);
}

void
parley_session_refuse(ParleySession *s, ParleyError code, const char *reason)
{
	ParleyEvent *ev;

	g_return_if_fail(s != NULL);
	g_return_if_fail(code >= PARLEY_ERR_VERSION && code <= PARLEY_ERR_REFUSED);
	if (s->state != PARLEY_SESSION_HANDSHAKE)
		return;
	parley_handshake_write_error(s->out, code, reason != NULL ? reason : wire_reason(code));
	ev = push_event(s, PARLEY_EV_CLOSED);
	ev->error = code;
	ev->wire_code = code;
	s->state = PARLEY_SESSION_CLOSED;
	wipe_keys(s);
}

ParleyError
parley_session_send_message(ParleySession *s, const uint8_t msg_id[PARLEY_MSG_ID_LEN],
                            const char *text, size_t len, gint64 now_ms)
{
	uint8_t small[SMALL_INNER];
	uint8_t *body;
	gboolean sent;

	g_return_val_if_fail(s != NULL && msg_id != NULL && (text != NULL || len == 0),
	                     PARLEY_ERR_STATE);
	if (len > PARLEY_MAX_TEXT)
		return PARLEY_ERR_TEXT_TOO_LONG;
	if (s->state != PARLEY_SESSION_ESTABLISHED)
		return PARLEY_ERR_STATE;

	body = PARLEY_MSG_ID_LEN + len <= sizeof(small) ? small
	       : g_malloc(PARLEY_MSG_ID_LEN + len);
	memcpy(body, msg_id, PARLEY_MSG_ID_LEN);
	if (len > 0)
		memcpy(body + PARLEY_MSG_ID_LEN, text, len);
	sent = send_record(s, INNER_MSG, body, PARLEY_MSG_ID_LEN + len);
	parley_wipe(body, PARLEY_MSG_ID_LEN + len);
	if (body != small)
		g_free(body);
	if (!sent)
		return s->error;

	/* §8 automatic rekey after N messages (send_record has seen to the
	 * sequence limit) */
	s->msgs_in_epoch++;
	if (may_ask_rekey(s) && s->rekey_messages > 0 &&
	    s->msgs_in_epoch >= s->rekey_messages && !start_rekey(s))
		return s->error;
	return PARLEY_ERR_NONE;
}

ParleyError
parley_session_send_typing(ParleySession *s, int state)
{
	uint8_t b = (uint8_t) state;

	g_return_val_if_fail(s != NULL && state >= 0 && state <= 2, PARLEY_ERR_STATE);
	if (s->state != PARLEY_SESSION_ESTABLISHED)
		return PARLEY_ERR_STATE;
	if (!send_record(s, INNER_TYPING, &b, 1))
		return s->error;
	return PARLEY_ERR_NONE;
}

ParleyError
parley_session_rekey(ParleySession *s, gint64 now_ms)
{
	g_return_val_if_fail(s != NULL, PARLEY_ERR_STATE);
	if (s->state != PARLEY_SESSION_ESTABLISHED)
		return PARLEY_ERR_STATE;
	if (!may_ask_rekey(s))
		return PARLEY_ERR_BUSY;
	if (!start_rekey(s))
		return s->error;
	return PARLEY_ERR_NONE;
}

ParleyError
parley_session_send_ping(ParleySession *s, gint64 now_ms)
{
	uint8_t nonce[8];

	g_return_val_if_fail(s != NULL, PARLEY_ERR_STATE);
	if (s->state != PARLEY_SESSION_ESTABLISHED)
		return PARLEY_ERR_STATE;
	draw(s, nonce, sizeof(nonce));
	if (!send_record(s, INNER_PING, nonce, sizeof(nonce)))
		return s->error;
	s->last_ping_ms = now_ms;
	return PARLEY_ERR_NONE;
}

void
parley_session_close(ParleySession *s, int bye_reason)
{
	ParleyEvent *ev;
	uint8_t b = (uint8_t) bye_reason;

	g_return_if_fail(s != NULL);
	if (s->state == PARLEY_SESSION_CLOSED)
		return;
	if (s->state == PARLEY_SESSION_ESTABLISHED &&
	    !parley_record_seal(&s->send, INNER_BYE, &b, 1, s->out)) {
		/* BYE is a courtesy: with no usable key (§6's limit,
		 * libgcrypt) the connection closes without it */
	}
	ev = push_event(s, PARLEY_EV_CLOSED);
	ev->error = PARLEY_ERR_NONE;
	s->state = PARLEY_SESSION_CLOSED;
	wipe_keys(s);
}

static gint64
earliest(gint64 a, gint64 b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return MIN(a, b);
}

gint64
parley_session_tick(ParleySession *s, gint64 now_ms)
{
	gint64 next = -1;

	g_return_val_if_fail(s != NULL, -1);

	switch (s->state) {
	case PARLEY_SESSION_HANDSHAKE:
		if (now_ms >= s->handshake_deadline) {
			fail(s, PARLEY_ERR_TIMEOUT, PARLEY_ERR_NONE);
			return -1;
		}
		return s->handshake_deadline;
	case PARLEY_SESSION_ESTABLISHED:
		break;
	default:
		return -1;
	}

	/* §6 keepalive: close after 180 s of silence, PING after 60 s */
	if (now_ms - s->last_rx_ms >= PARLEY_DEAD_PEER_MS) {
		fail(s, PARLEY_ERR_PEER_DEAD, PARLEY_ERR_NONE);
		return -1;
	}
	if (now_ms - s->last_rx_ms >= PARLEY_PING_IDLE_MS &&
	    now_ms - s->last_ping_ms >= PARLEY_PING_IDLE_MS &&
	    parley_session_send_ping(s, now_ms) != PARLEY_ERR_NONE)
		return -1;              /* the session failed */
	next = s->last_rx_ms + PARLEY_DEAD_PEER_MS;
	next = earliest(next, MAX(s->last_rx_ms, s->last_ping_ms) + PARLEY_PING_IDLE_MS);

	/* §8 time-based rekey */
	if (s->rekey_minutes > 0) {
		gint64 due = s->epoch_started_ms + (gint64) s->rekey_minutes * 60000;

		if (now_ms >= due && may_ask_rekey(s)) {
			if (!start_rekey(s))
				return -1;
		} else if (now_ms < due)
			next = earliest(next, due);
	}
	return next;
}

gboolean
parley_session_next_event(ParleySession *s, ParleyEvent *ev)
{
	g_return_val_if_fail(s != NULL && ev != NULL, FALSE);
	return parley_event_pop(&s->events, ev);
}

GByteArray *
parley_session_output(ParleySession *s)
{
	return s->out;
}

ParleySessionState
parley_session_state(const ParleySession *s)
{
	return s->state;
}

gboolean
parley_session_is_initiator(const ParleySession *s)
{
	return s->initiator;
}

const uint8_t *
parley_session_sid(const ParleySession *s)
{
	return s->sid;
}

guint32
parley_session_send_epoch(const ParleySession *s)
{
	return s->send.epoch;
}

guint
parley_session_messages_in_epoch(const ParleySession *s)
{
	return s->msgs_in_epoch;
}

gboolean
parley_session_rekey_pending(const ParleySession *s)
{
	return s->rekey_e != NULL;
}

const char *
parley_session_code(const ParleySession *s)
{
	return s->code;
}

void
parley_session_set_seq_for_tests(ParleySession *s, guint64 send_seq, guint64 recv_seq)
{
	g_return_if_fail(s != NULL && s->state == PARLEY_SESSION_ESTABLISHED);
	s->send.seq = send_seq;
	s->recv.seq = recv_seq;
}
