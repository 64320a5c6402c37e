/*
 * fuzz-session.h - the driver shared by fuzz_responder and fuzz_initiator:
 * one native session (src/session.c) with the fixed inputs of handshake 0
 * of the vectors, fed the fuzz input as the bytes its peer sends, with the
 * local side's calls (PRS, refusals, sends, rekeys, ticks, close) mixed in.
 *
 * Input: cfg (1) | script (fuzz-common.h: frames, and "A5 op hi lo"
 * actions).  cfg:
 *   0x01  coalesce: consecutive frames go to the core in one feed call
 *   0x02  the PRS is not provided by itself: only action 0 provides it
 *   0x0c  rekey after {0 (never), 1, 3, 20} messages sent
 *   0x10  rekey after 1 minute
 *   0x20  end with parley_session_eof()
 *   0x40  end with parley_session_close(), its events left queued for
 *         parley_session_free() to free
 * Actions (op % 11): 0 provide the PRS, 1 provide a wrong PRS, 2 provide
 * with a stale id, 3 refuse, 4 tick(+arg ms), 5 send a message of arg
 * bytes (0xffff: one byte too long), 6 typing, 7 rekey, 8 ping,
 * 9 close(arg), 10 eof.
 *
 * The handshake's inputs, frames and set-up are fuzz-handshake.h's.
 * The randomness is the vectors': sid and ya for I, yb for R, then the
 * conversation's ephemeral scalars in the order that side draws them, so
 * a seed made of the real frames (with rekey actions where the
 * conversation has them) goes through the handshake and every epoch.
 *
 * Checked: every event and every output frame (fuzz-common.h); the state
 * agrees with the events; nothing happens after CLOSED; the API results
 * agree with the state; a session is only ever established with the
 * vectors' code, and the handshake frames a side writes before any input
 * and when it becomes established are the vectors' (fuzz-handshake.h).
 */
#ifndef PARLEY_FUZZ_SESSION_H
#define PARLEY_FUZZ_SESSION_H

#include "fuzz-handshake.h"

typedef struct {
	ParleySession *s;
	FzRandom rnd;
	gint64 now;
	gboolean initiator;
	gboolean auto_prs;
	guint kdf_pending;          /* id of the NEED_KDF not yet answered */
	gboolean established_seen;
	gboolean closed_seen;
	const uint8_t *expect;      /* the vectors' frame that must be the */
	size_t expect_len;          /* next output (fuzz-handshake.h) */
	guint64 msg_counter;
} FzSession;

static void
fz_session_init_once(void)
{
	fz_init();
	fz_hs_init_once();
}

static void
fz_session_provide(FzSession *f, guint id, const uint8_t *prs)
{
	parley_session_provide_prs(f->s, id, prs, f->now);
	if (id == f->kdf_pending)
		f->kdf_pending = 0;
}

/* Output: whole frames; the handshake frames a side writes are the
 * vectors'. */
static void
fz_session_output(FzSession *f)
{
	GByteArray *out = parley_session_output(f->s);

	fz_check_frames(out->data, out->len);
	if (f->expect != NULL) {
		FZ_CHECK(out->len >= f->expect_len &&
		         memcmp(out->data, f->expect, f->expect_len) == 0);
		f->expect = NULL;
	}
	if (f->closed_seen)
		FZ_CHECK(parley_session_state(f->s) == PARLEY_SESSION_CLOSED);
	g_byte_array_set_size(out, 0);
}

static void
fz_session_drain(FzSession *f)
{
	ParleyEvent ev;

	/* An established or closed session has nothing more to say about
	 * its handshake; output produced after CLOSED is checked below. */
	while (parley_session_next_event(f->s, &ev)) {
		fz_check_event(&ev, &f->closed_seen);
		switch (ev.type) {
		case PARLEY_EV_NEED_KDF:
			FZ_CHECK(ev.kdf_len == PARLEY_PRS_LEN);
			FZ_CHECK(f->kdf_pending == 0);
			FZ_CHECK(!f->established_seen);
			f->kdf_pending = ev.kdf_id;
			break;
		case PARLEY_EV_ESTABLISHED:
			FZ_CHECK(!f->established_seen);
			FZ_CHECK(strcmp(ev.code, FZ_HS0_CODE) == 0);
			FZ_CHECK(strcmp(parley_session_code(f->s), FZ_HS0_CODE) == 0);
			FZ_CHECK(strcmp(ev.peer_name, f->initiator ? FZ_HS0_NAME_R
			                                           : FZ_HS0_NAME_I) == 0);
			f->established_seen = TRUE;
			f->expect = fz_hs_established_output(f->initiator,
			                                     &f->expect_len);
			break;
		case PARLEY_EV_MESSAGE:
		case PARLEY_EV_ACK:
		case PARLEY_EV_TYPING:
		case PARLEY_EV_REKEYED:
			FZ_CHECK(f->established_seen);
			break;
		case PARLEY_EV_UNDECRYPTABLE:
			FZ_CHECK(!"classic-only event from a native session");
			break;
		default:
			break;
		}
		parley_event_clear(&ev);
	}
	if (f->closed_seen)
		FZ_CHECK(parley_session_state(f->s) == PARLEY_SESSION_CLOSED);
	else if (f->established_seen)
		FZ_CHECK(parley_session_state(f->s) == PARLEY_SESSION_ESTABLISHED);
	else
		FZ_CHECK(parley_session_state(f->s) == PARLEY_SESSION_HANDSHAKE);

	if (f->auto_prs && f->kdf_pending != 0 && !f->closed_seen)
		fz_session_provide(f, f->kdf_pending, fz_hs_prs);
}

/* Drain until quiet (answering a NEED_KDF makes output, and may fail). */
static void
fz_session_settle(FzSession *f)
{
	gboolean was_closed;

	do {
		fz_session_drain(f);
		fz_session_output(f);
		was_closed = f->closed_seen;
		fz_session_drain(f);
	} while (parley_session_output(f->s)->len > 0 && !was_closed);
	fz_session_output(f);
}

static void
fz_session_action(FzSession *f, guint op, guint arg)
{
	gboolean est = parley_session_state(f->s) == PARLEY_SESSION_ESTABLISHED;
	gboolean closed = parley_session_state(f->s) == PARLEY_SESSION_CLOSED;
	ParleyError err;

	switch (op % 11) {
	case 0:
		if (f->kdf_pending != 0)
			fz_session_provide(f, f->kdf_pending, fz_hs_prs);
		break;
	case 1:
		if (f->kdf_pending != 0) {
			uint8_t wrong[PARLEY_PRS_LEN];

			memcpy(wrong, fz_hs_prs, sizeof(wrong));
			wrong[arg % sizeof(wrong)] ^= (uint8_t) (1 + (arg >> 8));
			fz_session_provide(f, f->kdf_pending, wrong);
		}
		break;
	case 2: {
		/* a late or unknown id changes nothing */
		guint id = f->kdf_pending + 1 + arg % 3;

		parley_session_provide_prs(f->s, id, fz_hs_prs, f->now);
		FZ_CHECK(parley_session_output(f->s)->len == 0);
		FZ_CHECK(parley_session_state(f->s) ==
		         (closed ? PARLEY_SESSION_CLOSED : est ? PARLEY_SESSION_ESTABLISHED
		                                               : PARLEY_SESSION_HANDSHAKE));
		break;
	}
	case 3: {
		ParleyError code = (ParleyError) (PARLEY_ERR_VERSION + arg % 6);
		GString *reason = NULL;

		if (arg & 0x100) {
			/* over the 200-byte limit, cut at a character boundary */
			reason = g_string_new(NULL);
			for (guint i = 0; i < 40 + (arg >> 9); i++)
				g_string_append(reason, "\xc3\xa9\xe2\x82\xac");   /* é€ */
		}
		parley_session_refuse(f->s, code, reason != NULL ? reason->str : NULL);
		if (reason != NULL)
			g_string_free(reason, TRUE);
		if (!est)
			FZ_CHECK(parley_session_state(f->s) == PARLEY_SESSION_CLOSED);
		break;
	}
	case 4: {
		gint64 next;

		f->now += arg;
		next = parley_session_tick(f->s, f->now);
		FZ_CHECK(next == -1 || next > f->now);
		if (parley_session_state(f->s) == PARLEY_SESSION_CLOSED)
			FZ_CHECK(next == -1);
		break;
	}
	case 5: {
		size_t len = arg == 0xffff ? PARLEY_MAX_TEXT + 1 : arg;
		char *text = g_malloc(len + 1);
		uint8_t id[PARLEY_MSG_ID_LEN];

		memset(text, 'a' + (int) (arg % 26), len);
		parley_put_be64(id, ++f->msg_counter);
		err = parley_session_send_message(f->s, id, text, len, f->now);
		g_free(text);
		if (len > PARLEY_MAX_TEXT)
			FZ_CHECK(err == PARLEY_ERR_TEXT_TOO_LONG);
		else
			FZ_CHECK(err == (est ? PARLEY_ERR_NONE : PARLEY_ERR_STATE));
		break;
	}
	case 6:
		err = parley_session_send_typing(f->s, (int) (arg % 3));
		FZ_CHECK(err == (est ? PARLEY_ERR_NONE : PARLEY_ERR_STATE));
		break;
	case 7:
		err = parley_session_rekey(f->s, f->now);
		FZ_CHECK(est ? (err == PARLEY_ERR_NONE || err == PARLEY_ERR_BUSY)
		             : err == PARLEY_ERR_STATE);
		if (est && err == PARLEY_ERR_NONE)
			FZ_CHECK(parley_session_rekey_pending(f->s));
		break;
	case 8:
		err = parley_session_send_ping(f->s, f->now);
		FZ_CHECK(err == (est ? PARLEY_ERR_NONE : PARLEY_ERR_STATE));
		break;
	case 9:
		parley_session_close(f->s, (int) (arg & 0xff));
		FZ_CHECK(parley_session_state(f->s) == PARLEY_SESSION_CLOSED);
		break;
	case 10:
		parley_session_eof(f->s, f->now);
		FZ_CHECK(parley_session_state(f->s) == PARLEY_SESSION_CLOSED);
		break;
	}
	if (closed) {
		/* after CLOSED every call is a no-op */
		FZ_CHECK(parley_session_output(f->s)->len == 0);
		FZ_CHECK(parley_session_state(f->s) == PARLEY_SESSION_CLOSED);
	}
}

static void
fz_session_run(gboolean initiator, const uint8_t *data, size_t size)
{
	static const char *const e_i[] = FZ_CONV_E_I;
	static const char *const e_r[] = FZ_CONV_E_R;
	FzIn in = { data, size };
	guint cfg = fz_u8(&in);
	static const guint rekey_n[] = { 0, 1, 3, 20 };
	ParleySessionConfig sc = { 0 };
	FzSession f;
	FzStep st;

	memset(&f, 0, sizeof(f));
	f.initiator = initiator;
	f.now = 1000000;
	f.auto_prs = !(cfg & 0x02);
	fz_random_init(&f.rnd, 0x5041524c4559ULL);
	fz_hs_random(&f.rnd, initiator);
	if (initiator) {
		for (guint i = 0; i < G_N_ELEMENTS(e_i); i++)
			fz_random_push_hex(&f.rnd, e_i[i]);
	} else {
		for (guint i = 0; i < G_N_ELEMENTS(e_r); i++)
			fz_random_push_hex(&f.rnd, e_r[i]);
	}

	fz_hs_config(&sc, initiator);
	sc.rekey_messages = rekey_n[(cfg >> 2) & 3];
	sc.rekey_minutes = (cfg & 0x10) ? 1 : 0;
	sc.random = fz_random;
	sc.random_data = &f.rnd;
	/* the set-up every input repeats: its arithmetic is kept (fuzz-memo.h) */
	fz_memo_pin(TRUE);
	f.s = parley_session_new(&sc, f.now);
	FZ_CHECK(f.s != NULL);
	FZ_CHECK(parley_session_is_initiator(f.s) == initiator);

	/* I asks for its PRS at once; given it, what a side writes before
	 * any input is the vectors' (I: HS1, fuzz-handshake.h) */
	fz_session_drain(&f);
	if (initiator)
		FZ_CHECK(f.kdf_pending != 0 || f.auto_prs);
	if (f.auto_prs) {
		GByteArray *out = parley_session_output(f.s);
		size_t len;
		const uint8_t *first = fz_hs_first_output(initiator, &len);

		FZ_CHECK(out->len == len &&
		         (len == 0 || memcmp(out->data, first, len) == 0));
	}
	if (initiator)
		FZ_CHECK(memcmp(parley_session_sid(f.s), fz_hs_sid, PARLEY_SID_LEN) == 0);
	fz_session_settle(&f);
	fz_memo_pin(FALSE);

	for (fz_next_step(&in, cfg & 0x01, &st); st.kind != FZ_STEP_END;
	     fz_next_step(&in, cfg & 0x01, &st)) {
		if (st.kind == FZ_STEP_ACTION) {
			fz_session_action(&f, st.op, st.arg);
		} else {
			uint8_t *chunk = fz_dup(st.p, st.len);
			gboolean closed = parley_session_state(f.s) == PARLEY_SESSION_CLOSED;

			parley_session_feed(f.s, chunk, st.len, f.now);
			free(chunk);
			if (closed)
				FZ_CHECK(parley_session_output(f.s)->len == 0);
		}
		fz_session_settle(&f);
	}
	if (cfg & 0x20) {
		parley_session_eof(f.s, f.now);
		fz_session_settle(&f);
		FZ_CHECK(f.closed_seen);
	}
	if (cfg & 0x40)
		parley_session_close(f.s, 2);
	parley_session_free(f.s);
}

#endif
