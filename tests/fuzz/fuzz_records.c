/*
 * fuzz_records.c - the record layer of an established native session
 * (§§6-8).  The session under test, S, is brought to ESTABLISHED by the
 * vector handshake (handshake 0, as fz_hs_establish() in fuzz-handshake.h
 * drives it: the responder, or with cfg 0x40 the initiator), then it is
 * fed records sealed by the harness with the real epoch-0 keys, so the
 * fuzzer reaches inner types, ACKs, PING/PONG, BYE and rekeys instead of
 * failing at the tag.  That starting state is built once per process; each
 * input replays it with the handshake's arithmetic memoised (fuzz-memo.h).
 * Every rekey scalar, S's or the mirror's, is one of fz_scalar()'s 16, so
 * their X25519 are memoised too: an input pays for X25519 only when it
 * seals a point of its own (a raw REKEY or REKEY_ACK body).  Which valid
 * scalar a side uses changes no path through S; invalid and low-order
 * points come as raw bodies.
 *
 * The harness plays S's peer as a "mirror": a second, independent
 * implementation of the other role's side of §§6-8 on record.h (its own
 * ParleyRecordDir per direction, the chain key, its pending rekey scalar,
 * the initiator-wins rule).  It seals what the input asks for, and it
 * reads S's output: every record S writes must open under the mirror's
 * keys and be legal (§6 table, §8 rules), S's ACKs must name the mirror's
 * messages in order, S's MESSAGE events must carry the mirror's texts, and
 * the mirror answers S's REKEY and PING as a peer must, so rekeys started
 * by either side (and crossed ones) go on for as many epochs as the input
 * likes.  While everything the mirror sent was legal ("trusted"), S must
 * not fail; once the input has sent something illegal (a raw or mutated
 * frame, a bad body, a REKEY whose scalar the mirror does not know) S may
 * close, and only the memory and state checks remain.
 *
 * Input: cfg (1) | ops.  cfg: 0x03 S rekeys after {0, 1, 3, 20} messages;
 * 0x04 S rekeys after 1 minute; 0x08 the mirror reads S's output after
 * every op (else only at op READ and at the end); 0x10 end with EOF; 0x20
 * end with S's events left queued for parley_session_free() to free; 0x40
 * S is the initiator (else the responder).
 * Ops (first byte % 16), with their operands:
 *    0 SEAL type(1) len(1) body     any inner type and body
 *    1 MSG len(2) text              a MSG with the next msg_id
 *    2 REKEY e(1)                   the mirror asks for a rekey, with
 *                                   scalar e % 16 of fz_scalar()'s set
 *    3 READ                         the mirror reads S's output
 *    4 RAW_FRAME len(1) bytes       a frame of 1 + len raw bytes
 *    5 RAW_BYTES len(1) bytes       raw bytes, no frame
 *    6 MUTATE pos(2) mask(1)        the last frame again, one byte xor mask
 *    7 S_SEND len(2) text           S sends (0xffff: 65536 bytes,
 *                                   0xfffe: one too many)
 *    8 S_TYPING state(1)
 *    9 S_REKEY
 *   10 S_PING
 *   11 S_TICK delta(2)              time passes, delta * 50 ms
 *   12 S_CLOSE reason(1)
 *   13 SPLIT pos(2)                 the next frame is fed in two pieces
 *   14 PEER_ERROR code(1) len(1) reason
 *   15 SEAL_EPOCH epoch(4) type(1)  a record whose header claims epoch
 */
#include "fuzz-handshake.h"
#include "handshake.h"

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

typedef struct {
	/* the mirror: the peer's side, epochs as §8 says */
	gboolean mirror_i;          /* the mirror is the initiator */
	ParleyRecordDir send, recv, recv_next;
	uint8_t chain[PARLEY_CHAIN_LEN];
	uint8_t e[PARLEY_SCALAR_LEN];
	gboolean pending;
	gint64 asked_in_epoch, answered_in_epoch;
	gboolean trusted;
	guint64 next_msg_id;

	/* expectations */
	GQueue s_must_ack;          /* guint64 ids of the mirror's MSGs */
	GQueue s_must_show;         /* GBytes: texts S's MESSAGE events carry */
	GQueue s_must_report_ack;   /* guint64 ids in S's ACK events */
	GQueue s_must_report_typing;/* GINT_TO_POINTER(state + 1) */
	GQueue s_sent;              /* GBytes: id (8) | text, S's own MSGs */
	GQueue pongs;               /* guint64 PING nonces the mirror sent */
	guint32 s_epoch;            /* last REKEYED epoch S reported */

	/* S and the wire */
	ParleySession *s;           /* the session under test */
	FzRandom s_rnd, m_rnd;
	gint64 now;
	gboolean s_closed;          /* S's CLOSED event was drained */
	GByteArray *inbox;          /* S's output the mirror has taken */
	GByteArray *last_frame;     /* the last frame the mirror fed to S */
	size_t split_at;            /* 0: feed the next frame whole */
} Rec;

static void process_s_output(Rec *x);

static guint64
be64(const uint8_t *p)
{
	return parley_get_be64(p);
}

static void
push_u64(GQueue *q, guint64 v)
{
	guint64 *p = g_new(guint64, 1);

	*p = v;
	g_queue_push_tail(q, p);
}

static guint64
pop_u64(GQueue *q)
{
	guint64 *p = g_queue_pop_head(q);
	guint64 v;

	FZ_CHECK(p != NULL);
	v = *p;
	g_free(p);
	return v;
}

/* ---- S's events -------------------------------------------------------- */

/* whole: S has been given whole frames only (not half of one) */
static void
drain_s(Rec *x, gboolean whole)
{
	ParleyEvent ev;

	while (parley_session_next_event(x->s, &ev)) {
		fz_check_event(&ev, &x->s_closed);
		switch (ev.type) {
		case PARLEY_EV_NEED_KDF:
		case PARLEY_EV_ESTABLISHED:
		case PARLEY_EV_UNDECRYPTABLE:
			FZ_CHECK(!"handshake event after the handshake");
			break;
		case PARLEY_EV_MESSAGE:
			if (x->trusted) {
				GBytes *want = g_queue_pop_head(&x->s_must_show);
				gsize wlen;
				const char *w;
				char *valid;

				FZ_CHECK(want != NULL);
				w = g_bytes_get_data(want, &wlen);
				valid = g_utf8_make_valid(w != NULL ? w : "", (gssize) wlen);
				FZ_CHECK(strcmp(valid, ev.text) == 0);
				g_free(valid);
				g_bytes_unref(want);
			}
			break;
		case PARLEY_EV_ACK:
			if (x->trusted)
				FZ_CHECK(pop_u64(&x->s_must_report_ack) == be64(ev.msg_id));
			break;
		case PARLEY_EV_TYPING:
			if (x->trusted) {
				gpointer t = g_queue_pop_head(&x->s_must_report_typing);

				FZ_CHECK(t != NULL && GPOINTER_TO_INT(t) - 1 == ev.typing);
			}
			break;
		case PARLEY_EV_REKEYED:
			FZ_CHECK(ev.epoch == x->s_epoch + 1);
			x->s_epoch = ev.epoch;
			break;
		case PARLEY_EV_ERROR:
			/* an honest peer only ever makes S close by ERROR,
			 * BYE or silence */
			if (x->trusted && !ev.from_peer)
				FZ_CHECK(ev.error == PARLEY_ERR_PEER_DEAD);
			break;
		default:
			break;
		}
		parley_event_clear(&ev);
	}
	FZ_CHECK(x->s_closed == (parley_session_state(x->s) == PARLEY_SESSION_CLOSED));
	if (x->trusted && !x->s_closed && whole) {
		/* S handles each frame as it arrives */
		FZ_CHECK(g_queue_is_empty(&x->s_must_show));
		FZ_CHECK(g_queue_is_empty(&x->s_must_report_ack));
		FZ_CHECK(g_queue_is_empty(&x->s_must_report_typing));
	}
}

/* ---- the wire from the mirror to S ------------------------------------ */

static void
feed_s(Rec *x, const uint8_t *p, size_t len, gboolean whole)
{
	gboolean closed = x->s_closed;
	guint before = parley_session_output(x->s)->len;
	uint8_t *c = fz_dup(p, len);

	parley_session_feed(x->s, c, len, x->now);
	free(c);
	if (closed)
		FZ_CHECK(parley_session_output(x->s)->len == before);
	drain_s(x, whole);
}

/* One whole frame from the mirror, maybe in two pieces (op SPLIT). */
static void
send_frame(Rec *x, const uint8_t *frame, size_t len)
{
	g_byte_array_set_size(x->last_frame, 0);
	g_byte_array_append(x->last_frame, frame, (guint) len);
	if (x->split_at > 0) {
		size_t at = x->split_at % len;

		x->split_at = 0;
		feed_s(x, frame, at, FALSE);
		feed_s(x, frame + at, len - at, TRUE);
	} else {
		feed_s(x, frame, len, TRUE);
	}
}

static void
seal_and_send(Rec *x, uint8_t type, const void *body, size_t len)
{
	GByteArray *f = g_byte_array_new();

	FZ_CHECK(parley_record_seal(&x->send, type, body, len, f));
	send_frame(x, f->data, f->len);
	g_byte_array_unref(f);
}

/* Key the mirror's directions: I to R is I's sending direction (§5). */
static void
mirror_set_keys(Rec *x, const ParleyEpochKeys *k, ParleyRecordDir *recv, guint32 epoch)
{
	FZ_CHECK(parley_record_dir_set(&x->send, x->mirror_i ? k->key_IR : k->key_RI,
	                               x->mirror_i ? k->iv_IR : k->iv_RI, epoch));
	FZ_CHECK(parley_record_dir_set(recv, x->mirror_i ? k->key_RI : k->key_IR,
	                               x->mirror_i ? k->iv_RI : k->iv_IR, epoch));
}

/* §8 derive: epoch n+1 from the chain and dh; the mirror sends with it at
 * once and receives with it from S's first record under it. */
static void
mirror_next_epoch(Rec *x, const uint8_t dh[32])
{
	ParleyEpochKeys k;
	guint32 epoch = x->send.epoch + 1;

	FZ_CHECK(parley_epoch_keys_ratchet(x->chain, dh, &k));
	mirror_set_keys(x, &k, &x->recv_next, epoch);
	memcpy(x->chain, k.chain, sizeof(x->chain));
	parley_epoch_keys_clear(&k);
}

/* The expectations a record from the mirror sets, for the types S shows
 * or answers.  Returns FALSE if the record is not what an honest I sends
 * (the mirror stops trusting the conversation). */
static gboolean
expect_inner(Rec *x, uint8_t type, const uint8_t *body, size_t len)
{
	switch (type) {
	case INNER_MSG:
		if (len < PARLEY_MSG_ID_LEN || len - PARLEY_MSG_ID_LEN > PARLEY_MAX_TEXT)
			return FALSE;
		push_u64(&x->s_must_ack, be64(body));
		g_queue_push_tail(&x->s_must_show,
		                  g_bytes_new(body + PARLEY_MSG_ID_LEN, len - PARLEY_MSG_ID_LEN));
		return TRUE;
	case INNER_ACK:
		if (len != PARLEY_MSG_ID_LEN)
			return FALSE;
		push_u64(&x->s_must_report_ack, be64(body));
		return TRUE;
	case INNER_TYPING:
		if (len != 1)
			return FALSE;
		g_queue_push_tail(&x->s_must_report_typing,
		                  GINT_TO_POINTER((body[0] <= 2 ? body[0] : 0) + 1));
		return TRUE;
	case INNER_REKEY:
	case INNER_REKEY_ACK:
		/* a scalar the mirror does not know: it cannot follow */
		return FALSE;
	case INNER_PING:
		if (len != 8)
			return FALSE;
		push_u64(&x->pongs, be64(body));
		return TRUE;
	case INNER_PONG:
	case INNER_BYE:
		return len == (type == INNER_PONG ? 8u : 1u);
	default:
		return TRUE;            /* unknown types are ignored (§6) */
	}
}

/* ---- the mirror reads S's output -------------------------------------- */

static void
mirror_answer_rekey(Rec *x, guint32 rec_epoch, const uint8_t *E_r)
{
	uint8_t e[PARLEY_SCALAR_LEN], E[PARLEY_POINT_LEN], dh[32];

	/* §8: S may ask once per epoch, under the epoch the mirror sends in */
	FZ_CHECK(rec_epoch == x->send.epoch);
	FZ_CHECK(x->answered_in_epoch != (gint64) rec_epoch);
	if (x->pending) {
		/* both asked: the initiator's request wins */
		if (x->mirror_i)
			return;
		x->pending = FALSE;
	}
	fz_random(e, sizeof(e), &x->m_rnd);
	FZ_CHECK(parley_x25519_base(E, e));
	FZ_CHECK(parley_x25519(dh, e, E_r));
	seal_and_send(x, INNER_REKEY_ACK, E, sizeof(E));
	x->answered_in_epoch = rec_epoch;
	mirror_next_epoch(x, dh);
}

static void
mirror_record(Rec *x, const uint8_t *p, size_t len)
{
	ParleyRecordDir *dir;
	guint32 epoch;
	uint8_t *inner;
	size_t ilen;
	const uint8_t *body;
	size_t blen;

	/* S writes records only, never ERROR, once established (§6) */
	FZ_CHECK(len >= PARLEY_RECORD_MIN_LEN && p[0] == PARLEY_RECORD_TYPE);
	epoch = parley_record_epoch(p);
	if (epoch == x->recv.epoch)
		dir = &x->recv;
	else {
		FZ_CHECK(parley_record_dir_is_set(&x->recv_next) &&
		         epoch == x->recv_next.epoch);
		dir = &x->recv_next;
	}
	ilen = len - PARLEY_RECORD_HEADER_LEN - PARLEY_GCM_TAG_LEN;
	inner = g_malloc(ilen);
	FZ_CHECK(parley_record_open(dir, p, len, inner));
	if (dir == &x->recv_next)
		parley_record_dir_move(&x->recv, &x->recv_next);
	body = inner + 1;
	blen = ilen - 1;

	switch (inner[0]) {
	case INNER_MSG: {
		GBytes *want = g_queue_pop_head(&x->s_sent);
		gsize wlen;
		const uint8_t *w;

		FZ_CHECK(want != NULL);
		w = g_bytes_get_data(want, &wlen);
		FZ_CHECK(blen == wlen && memcmp(body, w, wlen) == 0);
		g_bytes_unref(want);
		/* §7: the peer acknowledges what it has shown */
		push_u64(&x->s_must_report_ack, be64(body));
		seal_and_send(x, INNER_ACK, body, PARLEY_MSG_ID_LEN);
		break;
	}
	case INNER_ACK:
		FZ_CHECK(blen == PARLEY_MSG_ID_LEN);
		FZ_CHECK(pop_u64(&x->s_must_ack) == be64(body));
		break;
	case INNER_TYPING:
		FZ_CHECK(blen == 1 && body[0] <= 2);
		break;
	case INNER_REKEY:
		FZ_CHECK(blen == PARLEY_POINT_LEN);
		mirror_answer_rekey(x, epoch, body);
		break;
	case INNER_REKEY_ACK: {
		uint8_t dh[32];

		FZ_CHECK(blen == PARLEY_POINT_LEN);
		FZ_CHECK(x->pending);
		FZ_CHECK(parley_x25519(dh, x->e, body));
		x->pending = FALSE;
		mirror_next_epoch(x, dh);
		break;
	}
	case INNER_PING:
		FZ_CHECK(blen == 8);
		seal_and_send(x, INNER_PONG, body, 8);
		break;
	case INNER_PONG:
		FZ_CHECK(blen == 8);
		FZ_CHECK(pop_u64(&x->pongs) == be64(body));
		break;
	case INNER_BYE:
		FZ_CHECK(blen == 1);
		break;
	default:
		FZ_CHECK(!"S sent an inner type it does not know");
	}
	g_free(inner);
}

/* Take S's output and act on every whole record in it, in order; what the
 * mirror answers goes to S at once, and S's answers join the inbox. */
static void
process_s_output(Rec *x)
{
	GByteArray *out = parley_session_output(x->s);

	for (;;) {
		uint32_t len;

		fz_check_frames(out->data, out->len);
		if (!x->trusted) {
			g_byte_array_set_size(out, 0);
			g_byte_array_set_size(x->inbox, 0);
			return;
		}
		g_byte_array_append(x->inbox, out->data, out->len);
		g_byte_array_set_size(out, 0);
		if (x->inbox->len == 0)
			return;
		len = parley_get_be32(x->inbox->data);
		{
			/* the record leaves the inbox before the mirror acts */
			uint8_t *rec = g_memdup2(x->inbox->data + PARLEY_FRAME_HEADER_LEN, len);

			g_byte_array_remove_range(x->inbox, 0, PARLEY_FRAME_HEADER_LEN + len);
			mirror_record(x, rec, len);
			g_free(rec);
		}
	}
}

/* ---- ops --------------------------------------------------------------- */

static void
op_s_send(Rec *x, FzIn *in)
{
	guint v = fz_u16(in);
	size_t len, got = 0;
	char *text;
	uint8_t id[PARLEY_MSG_ID_LEN];
	ParleyError err;
	gboolean open = parley_session_state(x->s) == PARLEY_SESSION_ESTABLISHED;

	if (v >= 0xfffe) {
		len = v == 0xffff ? PARLEY_MAX_TEXT : PARLEY_MAX_TEXT + 1;
		text = g_malloc(len);
		memset(text, 'x', len);
	} else {
		const uint8_t *p = fz_take(in, v, &got);

		len = got;
		text = g_malloc(len + 1);
		if (len > 0)
			memcpy(text, p, len);
	}
	parley_put_be64(id, 0x5200000000000000ULL | x->next_msg_id++);
	err = parley_session_send_message(x->s, id, text, len, x->now);
	if (len > PARLEY_MAX_TEXT) {
		FZ_CHECK(err == PARLEY_ERR_TEXT_TOO_LONG);
	} else if (open) {
		GByteArray *b = g_byte_array_new();

		FZ_CHECK(err == PARLEY_ERR_NONE);
		g_byte_array_append(b, id, sizeof(id));
		g_byte_array_append(b, (const guint8 *) text, (guint) len);
		g_queue_push_tail(&x->s_sent, g_byte_array_free_to_bytes(b));
	} else {
		FZ_CHECK(err == PARLEY_ERR_STATE);
	}
	g_free(text);
}

static void
do_op(Rec *x, FzIn *in)
{
	guint op = fz_u8(in) % 16;
	gboolean open = parley_session_state(x->s) == PARLEY_SESSION_ESTABLISHED;
	guint before = parley_session_output(x->s)->len;
	size_t got;

	switch (op) {
	case 0: {                                   /* SEAL */
		uint8_t type = (uint8_t) fz_u8(in);
		const uint8_t *body = fz_take(in, fz_u8(in), &got);

		if (!expect_inner(x, type, body, got))
			x->trusted = FALSE;
		seal_and_send(x, type, body, got);
		break;
	}
	case 1: {                                   /* MSG */
		const uint8_t *text = fz_take(in, fz_u16(in), &got);
		GByteArray *b = g_byte_array_new();
		uint8_t id[PARLEY_MSG_ID_LEN];

		parley_put_be64(id, 0x4900000000000000ULL | x->next_msg_id++);
		g_byte_array_append(b, id, sizeof(id));
		g_byte_array_append(b, text, (guint) got);
		FZ_CHECK(expect_inner(x, INNER_MSG, b->data, b->len));
		seal_and_send(x, INNER_MSG, b->data, b->len);
		g_byte_array_unref(b);
		break;
	}
	case 2: {                                   /* REKEY */
		uint8_t E[PARLEY_POINT_LEN];

		/* §8: one at a time, at most one per epoch */
		if (x->pending || x->asked_in_epoch == (gint64) x->send.epoch)
			x->trusted = FALSE;
		fz_scalar(fz_u8(in), x->e);
		FZ_CHECK(parley_x25519_base(E, x->e));
		x->pending = TRUE;
		x->asked_in_epoch = x->send.epoch;
		seal_and_send(x, INNER_REKEY, E, sizeof(E));
		break;
	}
	case 3:                                     /* READ */
		process_s_output(x);
		break;
	case 4: {                                   /* RAW_FRAME */
		const uint8_t *p = fz_take(in, 1 + fz_u8(in), &got);
		GByteArray *f = g_byte_array_new();

		x->trusted = FALSE;
		if (got > 0) {
			parley_frame_write(f, p, got);
			send_frame(x, f->data, f->len);
		}
		g_byte_array_unref(f);
		break;
	}
	case 5: {                                   /* RAW_BYTES */
		const uint8_t *p = fz_take(in, fz_u8(in), &got);

		x->trusted = FALSE;
		feed_s(x, p, got, FALSE);
		break;
	}
	case 6: {                                   /* MUTATE / replay */
		guint pos = fz_u16(in);
		uint8_t mask = (uint8_t) fz_u8(in);

		if (x->last_frame->len > 0) {
			GByteArray *f = g_byte_array_sized_new(x->last_frame->len);

			g_byte_array_append(f, x->last_frame->data, x->last_frame->len);
			f->data[pos % f->len] ^= mask;
			x->trusted = FALSE;
			send_frame(x, f->data, f->len);
			g_byte_array_unref(f);
		}
		break;
	}
	case 7:                                     /* R_SEND */
		op_s_send(x, in);
		break;
	case 8: {                                   /* R_TYPING */
		ParleyError err = parley_session_send_typing(x->s, (int) (fz_u8(in) % 3));

		FZ_CHECK(err == (open ? PARLEY_ERR_NONE : PARLEY_ERR_STATE));
		break;
	}
	case 9: {                                   /* R_REKEY */
		ParleyError err = parley_session_rekey(x->s, x->now);

		FZ_CHECK(open ? (err == PARLEY_ERR_NONE || err == PARLEY_ERR_BUSY)
		              : err == PARLEY_ERR_STATE);
		break;
	}
	case 10: {                                  /* R_PING */
		ParleyError err = parley_session_send_ping(x->s, x->now);

		FZ_CHECK(err == (open ? PARLEY_ERR_NONE : PARLEY_ERR_STATE));
		break;
	}
	case 11: {                                  /* R_TICK */
		gint64 next;

		x->now += (gint64) fz_u16(in) * 50;
		next = parley_session_tick(x->s, x->now);
		FZ_CHECK(next == -1 || next > x->now);
		break;
	}
	case 12:                                    /* R_CLOSE */
		parley_session_close(x->s, (int) fz_u8(in));
		FZ_CHECK(parley_session_state(x->s) == PARLEY_SESSION_CLOSED);
		break;
	case 13:                                    /* SPLIT */
		x->split_at = fz_u16(in) + 1;
		break;
	case 14: {                                  /* PEER_ERROR */
		uint8_t code = (uint8_t) fz_u8(in);
		const uint8_t *reason = fz_take(in, fz_u8(in), &got);
		GByteArray *p = g_byte_array_new(), *f = g_byte_array_new();
		const uint8_t pre[] = { 'P', 'R', 'L', 'Y', PARLEY_VERSION, PARLEY_HS_ERROR };

		g_byte_array_append(p, pre, sizeof(pre));
		g_byte_array_append(p, &code, 1);
		g_byte_array_append(p, reason, (guint) got);
		parley_frame_write(f, p->data, p->len);
		send_frame(x, f->data, f->len);
		g_byte_array_unref(p);
		g_byte_array_unref(f);
		break;
	}
	case 15: {                                  /* SEAL_EPOCH */
		uint8_t hdr[4], type;
		guint32 keep;
		guint64 seq;

		fz_fill(in, hdr, sizeof(hdr));
		type = (uint8_t) fz_u8(in);
		keep = x->send.epoch;
		seq = x->send.seq;
		x->send.epoch = parley_get_be32(hdr);
		x->trusted = FALSE;
		seal_and_send(x, type, hdr, type == INNER_TYPING ? 1 : 0);
		x->send.epoch = keep;
		x->send.seq = seq + 1;
		break;
	}
	}
	/* after CLOSED, S writes nothing more */
	if (!open)
		FZ_CHECK(parley_session_output(x->s)->len <= before);
}

/* ---- set-up: S established by the vector handshake --------------------- */

/* S with the policy of cfg, established (fuzz-handshake.h), and the
 * mirror at epoch 0 as §5 derives it for the other role. */
static void
establish_s(Rec *x, guint cfg)
{
	static const guint rekey_n[] = { 0, 1, 3, 20 };
	gboolean initiator = (cfg & 0x40) != 0;
	ParleySessionConfig sc = { 0 };
	ParleyEpochKeys k0 = fz_hs_keys0;

	fz_random_init(&x->s_rnd, 0x53ULL);
	fz_hs_random(&x->s_rnd, initiator);
	fz_hs_config(&sc, initiator);
	sc.rekey_messages = rekey_n[cfg & 3];
	sc.rekey_minutes = (cfg & 0x04) ? 1 : 0;
	sc.random = fz_random;
	sc.random_data = &x->s_rnd;
	x->s = parley_session_new(&sc, x->now);
	FZ_CHECK(x->s != NULL);
	fz_hs_establish(x->s, initiator, x->now);

	x->mirror_i = !initiator;
	mirror_set_keys(x, &k0, &x->recv, 0);
	memcpy(x->chain, k0.chain, sizeof(x->chain));
	parley_epoch_keys_clear(&k0);
	x->asked_in_epoch = x->answered_in_epoch = -1;
	x->trusted = TRUE;
	fz_random_init(&x->m_rnd, 0x4dULL);
}

static void
free_bytes(gpointer p)
{
	g_bytes_unref(p);
}

static void
rec_clear(Rec *x)
{
	parley_session_free(x->s);
	parley_record_dir_clear(&x->send);
	parley_record_dir_clear(&x->recv);
	parley_record_dir_clear(&x->recv_next);
	g_queue_clear_full(&x->s_must_ack, g_free);
	g_queue_clear_full(&x->s_must_show, free_bytes);
	g_queue_clear_full(&x->s_must_report_ack, g_free);
	g_queue_clear(&x->s_must_report_typing);
	g_queue_clear_full(&x->s_sent, free_bytes);
	g_queue_clear_full(&x->pongs, g_free);
	g_byte_array_unref(x->inbox);
	g_byte_array_unref(x->last_frame);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	fz_init();
	fz_hs_init_once();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FzIn in = { data, size };
	guint cfg = fz_u8(&in);
	Rec x;

	memset(&x, 0, sizeof(x));
	x.now = 1000000;
	x.inbox = g_byte_array_new();
	x.last_frame = g_byte_array_new();
	establish_s(&x, cfg);

	while (in.n > 0) {
		do_op(&x, &in);
		if (in.n == 0 && (cfg & 0x20))
			break;
		drain_s(&x, TRUE);
		if (cfg & 0x08)
			process_s_output(&x);
	}
	process_s_output(&x);
	if (x.trusted && !x.s_closed) {
		/* everything the mirror sent was shown and acknowledged, and
		 * everything S sent has reached the mirror */
		FZ_CHECK(g_queue_is_empty(&x.s_must_ack));
		FZ_CHECK(g_queue_is_empty(&x.s_sent));
		FZ_CHECK(g_queue_is_empty(&x.pongs));
	}
	if (cfg & 0x20) {
		/* the last events are freed with the session */
		parley_session_close(x.s, 0);
	} else if (cfg & 0x10) {
		parley_session_eof(x.s, x.now);
		drain_s(&x, TRUE);
		FZ_CHECK(x.s_closed);
	}
	rec_clear(&x);
	return 0;
}
