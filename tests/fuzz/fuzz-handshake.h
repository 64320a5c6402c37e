/*
 * fuzz-handshake.h - everything the session targets know about the §4
 * handshake, in one place: the fixed inputs of handshake 0 of
 * tests/data/parley-v2.json, the randomness and configuration a side is
 * given for it, the frames each side must write, and fz_hs_establish(),
 * which brings a new session to ESTABLISHED with the vectors' frames (the
 * starting state of fuzz_records).
 *
 * A starting state is computed once per process: the first inputs that
 * need it run the vector handshake for real, and fuzz-memo.c keeps for
 * good (fz_memo_pin() around the set-up) the X25519 and generator results
 * they computed; every later input restores that state by replaying the
 * handshake through the core's own API with no X25519 or Elligator 2
 * arithmetic left in it - a few hashes and two AES key schedules.  The state is rebuilt, not copied:
 * the session struct is private to session.c and libgcrypt cannot copy a
 * keyed cipher.  (It is computed in inputs, not in LLVMFuzzerInitialize,
 * so that libFuzzer counts the edges of that arithmetic as covered, as it
 * did when every input computed it.)
 *
 * Version 2 (PROTOCOL.md §4): I writes HS1 (a commitment to Ya) given its
 * PRS and HS3 on HS2, and is established on HS4; R writes HS2 given its
 * PRS and HS4 on HS3, when it is established.  When the handshake changes
 * again, what changes for the harness is this file - the constants,
 * fz_hs_first_output(), fz_hs_established_output(), fz_hs_establish() -
 * make-corpus.py's check of the constants and its seeds.  The targets
 * call only what is below.
 */
#ifndef PARLEY_FUZZ_HANDSHAKE_H
#define PARLEY_FUZZ_HANDSHAKE_H

#include "fuzz-common.h"
#include "fuzz-memo.h"
#include "record.h"
#include "session.h"

/* ---- the vectors (tests/data/parley-v2.json, handshake 0 "ascii") ------ */

#define FZ_HS0_SALT    "7672cc30c3d836530db7a34da472cfeb"
#define FZ_HS0_ITER    200000u
#define FZ_HS0_SID     "d3fb89eddfba1497fb07cf450b69bee6"
#define FZ_HS0_YA      "ac6d840a5696db6a8e06822cc6faf63dae49b6a3d5cfd4fa177279537d07e315"
#define FZ_HS0_YB      "09ac528357a2161be37574c55db1309606570353c0b6f2a1b7b9d9b4262d58b9"
#define FZ_HS0_NAME_I  "alice"
#define FZ_HS0_NAME_R  "bob"
#define FZ_HS0_PORT    5000
#define FZ_HS0_PRS     "d31343894e197f662ffaed937c41c01e340a9713c3632131146ff8a8f4fffedc"
#define FZ_HS0_KEY_IR  "b1833d131ed5e1c58be5fd97f9d89f2d5003b98402f247fe70a64b3e23f11e6d"
#define FZ_HS0_IV_IR   "082612f1c206a4eee04e3d6f"
#define FZ_HS0_KEY_RI  "dae819045e831a6acd4a26d3c67b7fc3b194d30a6d8d1ac5e0e1d10df8a1e961"
#define FZ_HS0_IV_RI   "d4366ed83d16686b9a245a0f"
#define FZ_HS0_CHAIN   "3cc773e54026d4c1a0203ab5982cd1980da63b4bc6c13580255de143f0df3178"
#define FZ_HS0_CODE    "780 526"
#define FZ_HS0_HS1     "0000005250524c590201d3fb89eddfba1497fb07cf450b69bee670c275a1af516689" \
                       "a32172975a32e5dadb32c6d8e6a192c8d998b1e9cbcc468a7672cc30c3d836530db7" \
                       "a34da472cfeb00030d40138805616c696365"
#define FZ_HS0_HS2     "0000002a50524c590202ed7e6d2e18988b0f789424e770dd2c78cbac68c3a4cf1050" \
                       "d54772c3c492fe1f03626f62"
#define FZ_HS0_HS3     "0000006650524c590203c9fd7c3ba790001ab0c130f56c39b3ebf156fa11f6189f93" \
                       "db886f0ebe072643a06af6203a6aa5ad920f95627c0d11f7fef6c0fa750b73202334" \
                       "d564a656b30d706070d4ef9f7947d14f214f13d7ede66bf2a94e98d619f1c030f199" \
                       "cbd6457a"
#define FZ_HS0_HS4     "0000004650524c59020471024f30a79b5807ca78e662955495ef181a902d35e17a11" \
                       "96b57fe7d682d8aa94add1793f988d325c646a5ba324374644b2458b243141a1c510" \
                       "7cbfcca8f7a2"
/* The conversation's ephemeral scalars, in the order each side draws them
 * when driven as the conversation seeds do (steps 11, 18, 21 for I;
 * 12, 17, 22, 23 for R). */
#define FZ_CONV_E_I    { "0cf782d7492fb4de94e39069b3244a1b1201bd3d7a4586e6bafa865ed4bc4a8f", \
                         "4d1a35703861513162ab9bd392dd3239059d5c749110aaaa1c3934651e766d9b", \
                         "8c180f67a648744a2af4bc90cfad57c8a933933405a27b1cd3afc0c2020f1834" }
#define FZ_CONV_E_R    { "db45ce1caf11dd6558457e3004fe4325417e8d6c26a72907f0cd0738072c096a", \
                         "f2d4c837136777b66c00567f226d037d1a796609106c9148f99b1023fa382475", \
                         "410617748336b16d1d51c018593ddf0e6b14884fad128d02d5f8c11a2c194094", \
                         "8b08a362a1d01b43619acd0fd43b098abedb395ff286a909b3c11dd2539ddcef" }

static uint8_t fz_hs_prs[PARLEY_PRS_LEN];
static uint8_t fz_hs_salt[PARLEY_SALT_LEN];
static uint8_t fz_hs_sid[PARLEY_SID_LEN];
static uint8_t fz_hs1[PARLEY_FRAME_HEADER_LEN + 82];
static uint8_t fz_hs2[PARLEY_FRAME_HEADER_LEN + 42];
static uint8_t fz_hs3[PARLEY_FRAME_HEADER_LEN + 102];
static uint8_t fz_hs4[PARLEY_FRAME_HEADER_LEN + 70];
static ParleyEpochKeys fz_hs_keys0;     /* epoch 0, both directions (§5) */

/* The handshake's draws of one side, first in r's queue: sid and ya for
 * I, yb for R. */
static void
fz_hs_random(FzRandom *r, gboolean initiator)
{
	if (initiator) {
		fz_random_push_hex(r, FZ_HS0_SID);
		fz_random_push_hex(r, FZ_HS0_YA);
	} else {
		fz_random_push_hex(r, FZ_HS0_YB);
	}
}

/* A side's configuration for handshake 0 (the rekey policy and the
 * randomness are the caller's). */
static void
fz_hs_config(ParleySessionConfig *sc, gboolean initiator)
{
	sc->initiator = initiator;
	sc->name = initiator ? FZ_HS0_NAME_I : FZ_HS0_NAME_R;
	sc->listen_port = FZ_HS0_PORT;
	sc->salt = fz_hs_salt;
	sc->iterations = FZ_HS0_ITER;
}

/* What a side writes once given the PRS, before any input: I its HS1, R
 * nothing (it waits for HS1).  *len 0: nothing. */
static const uint8_t *
fz_hs_first_output(gboolean initiator, size_t *len)
{
	*len = initiator ? sizeof(fz_hs1) : 0;
	return initiator ? fz_hs1 : NULL;
}

/* What a side writes in the call that makes it ESTABLISHED: R its HS4 (on
 * HS3), I nothing (on HS4).  *len 0: nothing. */
static const uint8_t *
fz_hs_established_output(gboolean initiator, size_t *len)
{
	*len = initiator ? 0 : sizeof(fz_hs4);
	return initiator ? NULL : fz_hs4;
}

/* Events of a session in its handshake: only NEED_KDF and ESTABLISHED. */
static void
fz_hs_drain(ParleySession *s, guint *kdf_id, gboolean *established)
{
	ParleyEvent ev;

	while (parley_session_next_event(s, &ev)) {
		if (ev.type == PARLEY_EV_NEED_KDF)
			*kdf_id = ev.kdf_id;
		if (ev.type == PARLEY_EV_ESTABLISHED) {
			FZ_CHECK(strcmp(ev.code, FZ_HS0_CODE) == 0);
			*established = TRUE;
		}
		FZ_CHECK(ev.type == PARLEY_EV_NEED_KDF || ev.type == PARLEY_EV_ESTABLISHED);
		parley_event_clear(&ev);
	}
}

/* Bring s - just made with fz_hs_config() and fz_hs_random() - to
 * ESTABLISHED with the vectors' frames: R is fed HS1, the PRS and HS3; I
 * is given the PRS and fed HS2 and HS4.  Every frame s writes is the
 * vectors';
 * s is left with no output and no events. */
static void
fz_hs_establish(ParleySession *s, gboolean initiator, gint64 now)
{
	GByteArray *out = parley_session_output(s);
	guint kdf_id = 0;
	gboolean established = FALSE;

	fz_memo_pin(TRUE);
	if (initiator) {
		fz_hs_drain(s, &kdf_id, &established);
		FZ_CHECK(kdf_id != 0);
		parley_session_provide_prs(s, kdf_id, fz_hs_prs, now);
		FZ_CHECK(out->len == sizeof(fz_hs1) &&
		         memcmp(out->data, fz_hs1, sizeof(fz_hs1)) == 0);
		g_byte_array_set_size(out, 0);
		parley_session_feed(s, fz_hs2, sizeof(fz_hs2), now);
		FZ_CHECK(out->len == sizeof(fz_hs3) &&
		         memcmp(out->data, fz_hs3, sizeof(fz_hs3)) == 0);
		fz_hs_drain(s, &kdf_id, &established);
		FZ_CHECK(!established);
		g_byte_array_set_size(out, 0);
		parley_session_feed(s, fz_hs4, sizeof(fz_hs4), now);
		FZ_CHECK(out->len == 0);
	} else {
		parley_session_feed(s, fz_hs1, sizeof(fz_hs1), now);
		fz_hs_drain(s, &kdf_id, &established);
		FZ_CHECK(kdf_id != 0);
		parley_session_provide_prs(s, kdf_id, fz_hs_prs, now);
		FZ_CHECK(out->len == sizeof(fz_hs2) &&
		         memcmp(out->data, fz_hs2, sizeof(fz_hs2)) == 0);
		g_byte_array_set_size(out, 0);
		parley_session_feed(s, fz_hs3, sizeof(fz_hs3), now);
		FZ_CHECK(out->len == sizeof(fz_hs4) &&
		         memcmp(out->data, fz_hs4, sizeof(fz_hs4)) == 0);
	}
	g_byte_array_set_size(out, 0);
	fz_hs_drain(s, &kdf_id, &established);
	FZ_CHECK(established);
	FZ_CHECK(parley_session_state(s) == PARLEY_SESSION_ESTABLISHED);
	fz_memo_pin(FALSE);
}

/* Once per process, from LLVMFuzzerInitialize (after fz_init): the
 * vectors' values. */
static void
fz_hs_init_once(void)
{
	fz_unhex(FZ_HS0_PRS, fz_hs_prs, sizeof(fz_hs_prs));
	fz_unhex(FZ_HS0_SALT, fz_hs_salt, sizeof(fz_hs_salt));
	fz_unhex(FZ_HS0_SID, fz_hs_sid, sizeof(fz_hs_sid));
	fz_unhex(FZ_HS0_HS1, fz_hs1, sizeof(fz_hs1));
	fz_unhex(FZ_HS0_HS2, fz_hs2, sizeof(fz_hs2));
	fz_unhex(FZ_HS0_HS3, fz_hs3, sizeof(fz_hs3));
	fz_unhex(FZ_HS0_HS4, fz_hs4, sizeof(fz_hs4));
	fz_unhex(FZ_HS0_KEY_IR, fz_hs_keys0.key_IR, sizeof(fz_hs_keys0.key_IR));
	fz_unhex(FZ_HS0_IV_IR, fz_hs_keys0.iv_IR, sizeof(fz_hs_keys0.iv_IR));
	fz_unhex(FZ_HS0_KEY_RI, fz_hs_keys0.key_RI, sizeof(fz_hs_keys0.key_RI));
	fz_unhex(FZ_HS0_IV_RI, fz_hs_keys0.iv_RI, sizeof(fz_hs_keys0.iv_RI));
	fz_unhex(FZ_HS0_CHAIN, fz_hs_keys0.chain, sizeof(fz_hs_keys0.chain));
}

#endif
