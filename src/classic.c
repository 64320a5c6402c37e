/*
 * classic.c - classic mode (PROTOCOL.md §11): the original tool's wire
 * format, as a state machine with no I/O, clock, RNG or PBKDF2 of its own.
 *
 * The one thing that needs care is ordering.  Keys change at rekeys that
 * either side starts, each key comes back from a slow PBKDF2 that the caller
 * runs elsewhere, and several may be outstanding and finish in any order.
 * So everything that depends on "which keys exist" goes through one FIFO,
 * the timeline, in the order it happened:
 *
 *   - ITEM_INSTALL: a key to install (the first one from the salt, one of
 *     our own rekeys, or one of the peer's).  It is appended, and NEED_KDF
 *     emitted, the moment the rekey happens; provide_kdf() fills in the key
 *     but the item is only acted on when it reaches the head.
 *   - ITEM_RX: a received frame (not a rekey) waiting to be decrypted.
 *
 * run_timeline() pops from the head until it meets an install whose key has
 * not arrived yet.  Keys are therefore installed in the order the rekeys
 * happened whatever order the KDFs finish in, and every frame is decrypted
 * with exactly the keys that existed when it arrived, after the frames
 * before it.  Messages the user sends wait in a second queue (outq) that is
 * only written out while the timeline holds no install, so nothing is ever
 * sent under a key that a pending rekey is about to replace.
 *
 * Our own rekey frame (`__REKEY__` || salt) is written when its key is
 * installed, i.e. when the key is ready, immediately followed by whatever
 * the user typed meanwhile under the new key (§11 "Sending").
 *
 * Secrets (keys, message text) live in secure memory or are wiped with
 * parley_wipe() when dropped; nothing here logs.
 */
#include "classic.h"

#include <string.h>

#include "constants.h"
#include "crypto.h"
#include "frame.h"
#include "session.h"


/* payload = nonce (12) | tag (16) | ciphertext */
#define CLASSIC_OVERHEAD          (PARLEY_CLASSIC_NONCE_LEN + PARLEY_GCM_TAG_LEN)
#define CLASSIC_REKEY_LEN         (PARLEY_CLASSIC_REKEY_TAG_LEN + PARLEY_SALT_LEN)

typedef enum {
	INSTALL_FIRST,              /* the key from the initial salt */
	INSTALL_OWN,                /* our rekey: write the rekey frame */
	INSTALL_PEER                /* the peer's rekey frame */
} InstallKind;

typedef enum {
	ITEM_RX,
	ITEM_INSTALL
} ItemKind;

typedef struct {
	ItemKind kind;
	/* ITEM_RX: a copy of the frame payload */
	uint8_t *payload;
	size_t len;
	/* ITEM_INSTALL */
	InstallKind why;
	guint kdf_id;
	uint8_t salt[PARLEY_SALT_LEN];
	uint8_t *key;               /* secure memory; NULL until provided */
} Item;

typedef struct {
	char *text;                 /* wiped when dropped */
	size_t len;
} OutMsg;

typedef struct {
	guint gen;                  /* 1 = the first key */
	gboolean ours;              /* from a salt this side chose */
	uint8_t key[PARLEY_CLASSIC_KEY_LEN];
} KeySlot;

struct ParleyClassic {
	ParleyClassicRole role;
	ParleyRandomFunc random;
	gpointer random_data;
	gboolean closed;            /* final: after ERROR + CLOSED */

	/* §11: the 16 raw salt bytes (connector: as they arrive) */
	uint8_t salt[PARLEY_SALT_LEN];
	size_t salt_have;
	gint64 start_at;            /* salt sent/received + 2 s; valid once
	                             * salt_have == PARLEY_SALT_LEN */
	gboolean started;           /* start_at passed and the first key ready */
	gboolean rekey_wanted;      /* manual rekey asked before the start */
	/* probation: until a frame opens under a key of our own salt, the
	 * peer's first rekey or undecryptable frame ends the connection */
	gboolean probation;
	/* the peer closed while frames wait for a key: they are read once
	 * it is ready, then the connection ends (CLOSED) */
	gboolean eof_pending;

	ParleyFrameReader reader;
	GQueue timeline;            /* Item *, see the top of the file */
	guint pending_kdf;          /* ITEM_INSTALL entries in the timeline */
	guint own_pending;          /* of which INSTALL_OWN */
	size_t queued_rx;           /* bytes of ITEM_RX payloads queued */
	GQueue outq;                /* OutMsg *, not yet written */

	/* The key window (§11): the last PARLEY_CLASSIC_KEY_WINDOW keys
	 * installed, newest first, in secure memory. */
	KeySlot *window;
	guint n_keys;
	guint generation;           /* keys installed so far */
	guint send_gen;             /* key we send under */
	guint own_gen;              /* key of our own latest rekey, 0 = none */
	guint sent_since_rekey;

	guint next_kdf_id;
	GQueue events;              /* ParleyEvent * */
	GByteArray *out;
};

static void
random_fill(ParleyClassic *c, void *buf, size_t len)
{
	if (c->random != NULL)
		c->random(buf, len, c->random_data);
	else
		parley_random_bytes(buf, len);
}

static ParleyEvent *
push_event(ParleyClassic *c, ParleyEventType type)
{
	return parley_event_push(&c->events, type);
}

static void
item_free(Item *it)
{
	if (it->payload != NULL)
		g_free(it->payload);        /* ciphertext: nothing to wipe */
	if (it->key != NULL)
		parley_secure_free(it->key, PARLEY_CLASSIC_KEY_LEN);
	g_free(it);
}

static void
outmsg_free(OutMsg *m)
{
	parley_wipe(m->text, m->len);
	g_free(m->text);
	g_free(m);
}

/* Drop every secret and everything queued (at a fatal error and at free). */
static void
drop_all(ParleyClassic *c)
{
	Item *it;
	OutMsg *m;

	while ((it = g_queue_pop_head(&c->timeline)) != NULL)
		item_free(it);
	while ((m = g_queue_pop_head(&c->outq)) != NULL)
		outmsg_free(m);
	c->pending_kdf = 0;
	c->own_pending = 0;
	c->queued_rx = 0;
	parley_wipe(c->window, PARLEY_CLASSIC_KEY_WINDOW * sizeof(KeySlot));
	c->n_keys = 0;
	parley_frame_reader_clear(&c->reader);
}

/* Fatal: ERROR then CLOSED, and the core stays closed. */
static void
fail(ParleyClassic *c, ParleyError err)
{
	ParleyEvent *ev;

	if (c->closed)
		return;
	ev = push_event(c, PARLEY_EV_ERROR);
	ev->error = err;
	ev = push_event(c, PARLEY_EV_CLOSED);
	ev->error = err;
	c->closed = TRUE;
	drop_all(c);
}

/* Ask the caller for PBKDF2(passphrase, salt, 200000, 16) and reserve the
 * key's place in the timeline (§11 key derivation). */
static void
request_key(ParleyClassic *c, InstallKind why, const uint8_t salt[PARLEY_SALT_LEN])
{
	Item *it = g_new0(Item, 1);
	ParleyEvent *ev;

	it->kind = ITEM_INSTALL;
	it->why = why;
	it->kdf_id = ++c->next_kdf_id;
	memcpy(it->salt, salt, PARLEY_SALT_LEN);
	g_queue_push_tail(&c->timeline, it);
	c->pending_kdf++;
	if (why == INSTALL_OWN)
		c->own_pending++;

	ev = push_event(c, PARLEY_EV_NEED_KDF);
	ev->kdf_id = it->kdf_id;
	/* our own rekey's key is our own work; the rest the peer caused */
	ev->by_peer = why != INSTALL_OWN;
	memcpy(ev->kdf_salt, salt, PARLEY_SALT_LEN);
	ev->kdf_iterations = PARLEY_CLASSIC_ITERATIONS;
	ev->kdf_len = PARLEY_CLASSIC_KEY_LEN;
}

/* §11 Sending: a new random salt; its rekey frame goes out once the key is
 * ready.  The 20-message count restarts here, at our own rekeys only. */
static void
start_own_rekey(ParleyClassic *c)
{
	uint8_t salt[PARLEY_SALT_LEN];

	random_fill(c, salt, sizeof(salt));
	request_key(c, INSTALL_OWN, salt);
	c->sent_since_rekey = 0;
}

static KeySlot *
find_key(ParleyClassic *c, guint gen)
{
	for (guint i = 0; i < c->n_keys; i++)
		if (c->window[i].gen == gen)
			return &c->window[i];
	return NULL;
}

/* The head of the timeline is an install whose key has arrived. */
static void
install(ParleyClassic *c, Item *it)
{
	ParleyEvent *ev;

	/* Window: newest first; the oldest of a full window is wiped. */
	if (c->n_keys == PARLEY_CLASSIC_KEY_WINDOW)
		c->n_keys--;
	/* (the move overwrites the dropped key, so nothing of it remains) */
	memmove(&c->window[1], &c->window[0], c->n_keys * sizeof(KeySlot));
	c->window[0].gen = ++c->generation;
	/* the listener chose the first salt; each side its own rekeys' */
	c->window[0].ours = it->why == INSTALL_OWN ||
	                    (it->why == INSTALL_FIRST && c->role == PARLEY_CLASSIC_LISTENER);
	memcpy(c->window[0].key, it->key, PARLEY_CLASSIC_KEY_LEN);
	c->n_keys++;
	/* Every later frame, in both directions, uses the new key. */
	c->send_gen = c->generation;

	/* REKEYED's epoch is the key generation (== key_generation()): the
	 * salt's key is 1, so the first rekey reports 2. */

	switch (it->why) {
	case INSTALL_FIRST:
		push_event(c, PARLEY_EV_ESTABLISHED);
		break;
	case INSTALL_OWN: {
		uint8_t frame[CLASSIC_REKEY_LEN];

		/* Own rekeys only start after the 2-second delay (see pump()),
		 * so the frame may go out right away, ahead of every message
		 * under the new key. */
		memcpy(frame, PARLEY_CLASSIC_REKEY_TAG, PARLEY_CLASSIC_REKEY_TAG_LEN);
		memcpy(frame + PARLEY_CLASSIC_REKEY_TAG_LEN, it->salt, PARLEY_SALT_LEN);
		parley_frame_write(c->out, frame, sizeof(frame));
		c->own_gen = c->generation;
		ev = push_event(c, PARLEY_EV_REKEYED);
		ev->epoch = c->generation;
		ev->by_peer = FALSE;
		break;
	}
	case INSTALL_PEER:
		ev = push_event(c, PARLEY_EV_REKEYED);
		ev->epoch = c->generation;
		ev->by_peer = TRUE;
		break;
	}
}

static gboolean
open_with(const KeySlot *k, const uint8_t *payload, size_t len, uint8_t *pt)
{
	return parley_aes_gcm_open(k->key, PARLEY_CLASSIC_KEY_LEN, payload,
	                           NULL, 0,
	                           payload + CLASSIC_OVERHEAD, len - CLASSIC_OVERHEAD,
	                           payload + PARLEY_CLASSIC_NONCE_LEN, pt);
}

/* A frame that did not decrypt: reported, and the connection stays open,
 * as in the original tool - unless it is on probation, where it is the
 * caller's one wrong guess: the connection ends, and nothing after the
 * frame is looked at. */
static void
undecryptable(ParleyClassic *c)
{
	if (c->probation) {
		fail(c, PARLEY_ERR_AUTH);
		return;
	}
	push_event(c, PARLEY_EV_UNDECRYPTABLE);
}

/* §11: an ordinary payload, nonce | tag | ciphertext. */
static void
receive_message(ParleyClassic *c, const uint8_t *payload, size_t len)
{
	KeySlot *cur, *hit = NULL;
	uint8_t *pt;
	size_t pt_len;
	ParleyEvent *ev;

	if (len < CLASSIC_OVERHEAD) {
		undecryptable(c);
		return;
	}
	pt_len = len - CLASSIC_OVERHEAD;
	pt = g_malloc(pt_len + 1);

	/* The current (sending) key first, then the rest of the window,
	 * newest first. */
	cur = find_key(c, c->send_gen);
	if (cur != NULL && open_with(cur, payload, len, pt))
		hit = cur;
	for (guint i = 0; hit == NULL && i < c->n_keys; i++) {
		if (&c->window[i] != cur && open_with(&c->window[i], payload, len, pt))
			hit = &c->window[i];
	}
	if (hit == NULL) {
		parley_wipe(pt, pt_len + 1);
		g_free(pt);
		undecryptable(c);
		return;
	}

	/* §11 crossed rekeys: the peer sends under the key of our own latest
	 * rekey although we have installed its key since; go back to ours so
	 * both sides converge. */
	if (hit != cur && c->own_gen != 0 && hit->gen == c->own_gen)
		c->send_gen = c->own_gen;

	/* Received texts are not held to PARLEY_MAX_TEXT: MAX_FRAME already
	 * bounds them, and the original tool has no such check. */
	ev = push_event(c, PARLEY_EV_MESSAGE);
	/* built at its final size: no piece of the text in outgrown heap */
	ev->text = parley_utf8_make_valid(pt, pt_len, &ev->text_len);
	/* A key of our own salt was never used before this connection, so
	 * its sender knows the passphrase; under a key of the peer's salt the
	 * frame may be a replay from another session. */
	ev->proves = hit->ours;
	if (hit->ours)
		c->probation = FALSE;
	parley_wipe(pt, pt_len + 1);
	g_free(pt);
}

static void end(ParleyClassic *c, ParleyError why);

/* Act on the timeline from its head until an install still lacks its key. */
static void
run_timeline(ParleyClassic *c)
{
	Item *it;

	while (!c->closed && (it = g_queue_peek_head(&c->timeline)) != NULL) {
		if (it->kind == ITEM_INSTALL && it->key == NULL)
			break;
		/* off the timeline first: handling it may fail the core, which
		 * empties the timeline */
		g_queue_pop_head(&c->timeline);
		if (it->kind == ITEM_INSTALL) {
			install(c, it);
			c->pending_kdf--;
			if (it->why == INSTALL_OWN)
				c->own_pending--;
		} else {
			c->queued_rx -= it->len;
			receive_message(c, it->payload, it->len);
		}
		item_free(it);
	}
	if (c->eof_pending && c->queued_rx == 0)
		end(c, PARLEY_ERR_CLOSED);
}

/* One whole frame from the reader (§2 already checked its length). */
static void
handle_frame(ParleyClassic *c, const uint8_t *payload, size_t len)
{
	Item *it;

	/* §11: `__REKEY__` and exactly 16 bytes is a rekey; any other
	 * payload, even one with that prefix, is a message.  Its key is
	 * requested now, so it derives while earlier frames are handled. */
	if (len == CLASSIC_REKEY_LEN &&
	    memcmp(payload, PARLEY_CLASSIC_REKEY_TAG, PARLEY_CLASSIC_REKEY_TAG_LEN) == 0) {
		if (c->pending_kdf >= PARLEY_CLASSIC_MAX_PENDING_KDF) {
			fail(c, PARLEY_ERR_PROTOCOL);
			return;
		}
		/* on probation, a key of the peer's choosing would let it
		 * replay a recorded frame as proof: refused */
		if (c->probation) {
			fail(c, PARLEY_ERR_PROTOCOL);
			return;
		}
		request_key(c, INSTALL_PEER, payload + PARLEY_CLASSIC_REKEY_TAG_LEN);
		return;
	}

	if (c->queued_rx + len > PARLEY_CLASSIC_MAX_QUEUED_RX) {
		fail(c, PARLEY_ERR_PROTOCOL);
		return;
	}
	it = g_new0(Item, 1);
	it->kind = ITEM_RX;
	it->payload = g_memdup2(payload, len);
	it->len = len;
	g_queue_push_tail(&c->timeline, it);
	c->queued_rx += len;
	run_timeline(c);
}

/* Encrypt and write one message under the sending key (§11 Sending). */
static void
send_message(ParleyClassic *c, const OutMsg *m)
{
	KeySlot *k = find_key(c, c->send_gen);
	size_t len = CLASSIC_OVERHEAD + m->len;
	uint8_t *payload = g_malloc(len);

	/* send_gen is always in the window (it is the newest key, or the
	 * key of our latest rekey made current again before any newer key
	 * was installed), and sealing with a 16-byte key cannot fail; if
	 * either ever did, fail closed rather than send anything. */
	random_fill(c, payload, PARLEY_CLASSIC_NONCE_LEN);
	if (k == NULL ||
	    !parley_aes_gcm_seal(k->key, PARLEY_CLASSIC_KEY_LEN, payload, NULL, 0,
	                         m->text, m->len, payload + CLASSIC_OVERHEAD,
	                         payload + PARLEY_CLASSIC_NONCE_LEN)) {
		g_free(payload);
		fail(c, PARLEY_ERR_STATE);
		return;
	}
	parley_frame_write(c->out, payload, len);
	g_free(payload);                    /* ciphertext */
}

/* Everything that may happen when time passes or the state changes: the
 * timeline, the 2-second start, deferred rekeys, the send queue. */
static void
pump(ParleyClassic *c, gint64 now_ms)
{
	OutMsg *m;

	if (c->closed)
		return;
	run_timeline(c);

	/* §11: the original tool drops what arrives before its own key is
	 * derived, so our first frame waits 2 s after the salt. */
	if (!c->started && c->n_keys > 0 && now_ms >= c->start_at)
		c->started = TRUE;
	if (!c->started)
		return;

	if (c->rekey_wanted) {
		c->rekey_wanted = FALSE;
		start_own_rekey(c);
	}

	/* Messages go out only while no key is pending, so each is sent
	 * under the key that will be current when the peer reads it.  The
	 * automatic rekey starts right after the 20th message since our last
	 * own rekey has been written: message 21 already waits for the new
	 * key (as in the original tool, which counts after sending). */
	while (!c->closed && c->pending_kdf == 0 &&
	       (m = g_queue_pop_head(&c->outq)) != NULL) {
		send_message(c, m);
		outmsg_free(m);
		if (c->closed)
			return;
		if (++c->sent_since_rekey >= PARLEY_CLASSIC_REKEY_MESSAGES)
			start_own_rekey(c);
	}
}

uint8_t *
parley_classic_passphrase(const char *utf8, size_t *len, ParleyError *err)
{
	ParleyError e = PARLEY_ERR_NONE;
	uint8_t *nfc;
	size_t nfc_len = 0;
	const char *end;
	uint8_t *out = NULL;
	size_t n = 0;

	g_return_val_if_fail(utf8 != NULL, NULL);
	g_return_val_if_fail(len != NULL, NULL);

	*len = 0;
	/* §11: NFC first (a decomposed "é" becomes one Latin-1 character),
	 * then one byte per code point, which must be <= U+00FF.  The NFC
	 * form is built in secure memory (§3's own function), so no copy of
	 * the passphrase is left in freed heap. */
	nfc = parley_passphrase_nfc(utf8, &nfc_len, &e);
	if (nfc == NULL)
		goto done;
	end = (const char *) nfc + nfc_len;
	for (const char *p = (const char *) nfc; p < end; p = g_utf8_next_char(p)) {
		if (g_utf8_get_char(p) > 0xFF) {
			e = PARLEY_ERR_NOT_LATIN1;
			goto done;
		}
		n++;
	}
	out = parley_secure_alloc(n);
	n = 0;
	for (const char *p = (const char *) nfc; p < end; p = g_utf8_next_char(p))
		out[n++] = (uint8_t) g_utf8_get_char(p);
	*len = n;

done:
	if (nfc != NULL)
		parley_secure_free(nfc, nfc_len);
	if (err != NULL)
		*err = e;
	return out;
}

ParleyClassic *
parley_classic_new(ParleyClassicRole role, ParleyRandomFunc random,
                   gpointer random_data, gint64 now_ms)
{
	ParleyClassic *c;

	g_return_val_if_fail(role == PARLEY_CLASSIC_LISTENER ||
	                     role == PARLEY_CLASSIC_CONNECTOR, NULL);

	c = g_new0(ParleyClassic, 1);
	c->role = role;
	c->random = random;
	c->random_data = random_data;
	c->window = parley_secure_alloc(PARLEY_CLASSIC_KEY_WINDOW * sizeof(KeySlot));
	memset(c->window, 0, PARLEY_CLASSIC_KEY_WINDOW * sizeof(KeySlot));
	parley_frame_reader_init(&c->reader);
	g_queue_init(&c->timeline);
	g_queue_init(&c->outq);
	g_queue_init(&c->events);
	c->out = g_byte_array_new();

	/* §11: right after accepting, the listener sends 16 random bytes,
	 * raw, and derives its key from them. */
	if (role == PARLEY_CLASSIC_LISTENER) {
		random_fill(c, c->salt, PARLEY_SALT_LEN);
		c->salt_have = PARLEY_SALT_LEN;
		g_byte_array_append(c->out, c->salt, PARLEY_SALT_LEN);
		c->start_at = now_ms + PARLEY_CLASSIC_START_DELAY_MS;
		request_key(c, INSTALL_FIRST, c->salt);
	}
	return c;
}

void
parley_classic_free(ParleyClassic *c)
{
	if (c == NULL)
		return;
	drop_all(c);
	parley_secure_free(c->window, PARLEY_CLASSIC_KEY_WINDOW * sizeof(KeySlot));
	parley_event_queue_clear(&c->events);
	g_byte_array_unref(c->out);
	parley_wipe(c, sizeof(*c));
	g_free(c);
}

void
parley_classic_set_probation(ParleyClassic *c)
{
	g_return_if_fail(c != NULL);
	g_return_if_fail(c->role == PARLEY_CLASSIC_LISTENER && c->generation == 0);
	c->probation = TRUE;
}

gboolean
parley_classic_on_probation(const ParleyClassic *c)
{
	g_return_val_if_fail(c != NULL, FALSE);
	return c->probation;
}

void
parley_classic_feed(ParleyClassic *c, const uint8_t *data, size_t len,
                    gint64 now_ms)
{
	g_return_if_fail(c != NULL);
	g_return_if_fail(data != NULL || len == 0);

	if (c->closed || c->eof_pending)
		return;

	/* §11: the connector reads exactly 16 salt bytes before anything
	 * else; they may come in pieces. */
	if (c->salt_have < PARLEY_SALT_LEN) {
		size_t take = MIN(len, PARLEY_SALT_LEN - c->salt_have);

		if (take > 0)
			memcpy(c->salt + c->salt_have, data, take);
		c->salt_have += take;
		data += take;
		len -= take;
		if (c->salt_have < PARLEY_SALT_LEN)
			return;
		c->start_at = now_ms + PARLEY_CLASSIC_START_DELAY_MS;
		request_key(c, INSTALL_FIRST, c->salt);
	}

	/* §2 frames from here on. */
	while (len > 0 && !c->closed) {
		const uint8_t *payload;
		size_t used, plen;
		ParleyFrameStatus st;

		st = parley_frame_reader_feed(&c->reader, data, len, &used,
		                              &payload, &plen);
		data += used;
		len -= used;
		if (st == PARLEY_FRAME_BAD_LENGTH) {
			fail(c, PARLEY_ERR_FRAME_LENGTH);
			return;
		}
		if (st == PARLEY_FRAME_NEED_MORE)
			break;
		handle_frame(c, payload, plen);
	}
	pump(c, now_ms);
}

void
parley_classic_provide_kdf(ParleyClassic *c, guint kdf_id,
                           const uint8_t *key, size_t key_len, gint64 now_ms)
{
	g_return_if_fail(c != NULL);
	g_return_if_fail(key != NULL && key_len == PARLEY_CLASSIC_KEY_LEN);

	/* After a fatal error the request is gone: nothing to do. */
	for (GList *l = c->timeline.head; l != NULL; l = l->next) {
		Item *it = l->data;

		if (it->kind == ITEM_INSTALL && it->kdf_id == kdf_id && it->key == NULL) {
			it->key = parley_secure_alloc(PARLEY_CLASSIC_KEY_LEN);
			memcpy(it->key, key, PARLEY_CLASSIC_KEY_LEN);
			break;
		}
	}
	pump(c, now_ms);
}

ParleyError
parley_classic_send(ParleyClassic *c, const char *text, size_t len,
                    gint64 now_ms)
{
	OutMsg *m;

	g_return_val_if_fail(c != NULL, PARLEY_ERR_STATE);
	g_return_val_if_fail(text != NULL || len == 0, PARLEY_ERR_STATE);

	if (c->closed)
		return PARLEY_ERR_STATE;
	/* Refused, never truncated. */
	if (len > PARLEY_MAX_TEXT)
		return PARLEY_ERR_TEXT_TOO_LONG;

	m = g_new0(OutMsg, 1);
	m->text = g_malloc(len + 1);
	if (len > 0)
		memcpy(m->text, text, len);
	m->len = len;
	g_queue_push_tail(&c->outq, m);
	pump(c, now_ms);
	return PARLEY_ERR_NONE;
}

ParleyError
parley_classic_rekey(ParleyClassic *c, gint64 now_ms)
{
	g_return_val_if_fail(c != NULL, PARLEY_ERR_STATE);

	if (c->closed)
		return PARLEY_ERR_STATE;
	/* A rekey of ours already on its way gives the user the new key
	 * they asked for; don't queue another PBKDF2 behind it. */
	if (c->own_pending || c->rekey_wanted)
		return PARLEY_ERR_NONE;
	/* Before the start delay has passed no frame may be sent, so the
	 * rekey waits for the start (pump). */
	if (!c->started)
		c->rekey_wanted = TRUE;
	else
		start_own_rekey(c);
	pump(c, now_ms);
	return PARLEY_ERR_NONE;
}

gint64
parley_classic_tick(ParleyClassic *c, gint64 now_ms)
{
	g_return_val_if_fail(c != NULL, -1);

	pump(c, now_ms);
	/* The only timer classic mode needs is the 2-second start. */
	if (c->closed || c->started || c->salt_have < PARLEY_SALT_LEN)
		return -1;
	if (now_ms < c->start_at)
		return c->start_at;
	return -1;                          /* waiting for the first key */
}

/* The end of the connection, without an ERROR (nothing went wrong). */
static void
end(ParleyClassic *c, ParleyError why)
{
	ParleyEvent *ev;

	if (c->closed)
		return;
	ev = push_event(c, PARLEY_EV_CLOSED);
	ev->error = why;
	c->closed = TRUE;
	drop_all(c);
}

void
parley_classic_eof(ParleyClassic *c)
{
	g_return_if_fail(c != NULL);
	/* §11: frames received while a key derives are read once it is
	 * ready - also when the peer has gone meanwhile (the original tool
	 * sends its rekey and its next messages, and its user may quit) */
	if (!c->closed && c->queued_rx > 0) {
		c->eof_pending = TRUE;
		parley_frame_reader_clear(&c->reader);
		return;
	}
	end(c, PARLEY_ERR_CLOSED);
}

void
parley_classic_close(ParleyClassic *c)
{
	g_return_if_fail(c != NULL);
	end(c, PARLEY_ERR_NONE);
}

gboolean
parley_classic_is_closed(const ParleyClassic *c)
{
	g_return_val_if_fail(c != NULL, TRUE);
	return c->closed;
}

gboolean
parley_classic_next_event(ParleyClassic *c, ParleyEvent *ev)
{
	g_return_val_if_fail(c != NULL, FALSE);
	g_return_val_if_fail(ev != NULL, FALSE);

	return parley_event_pop(&c->events, ev);  /* the strings move to the caller */
}

GByteArray *
parley_classic_output(ParleyClassic *c)
{
	g_return_val_if_fail(c != NULL, NULL);
	return c->out;
}

guint
parley_classic_key_generation(const ParleyClassic *c)
{
	g_return_val_if_fail(c != NULL, 0);
	return c->generation;
}

guint
parley_classic_sent_since_rekey(const ParleyClassic *c)
{
	g_return_val_if_fail(c != NULL, 0);
	return c->sent_since_rekey;
}

guint
parley_classic_queued(const ParleyClassic *c)
{
	g_return_val_if_fail(c != NULL, 0);
	return c->outq.length;
}
