/*
 * fuzz-handshake.h - everything the session targets know about the §4
 * handshake, in one place: the fixed inputs of handshake 0 of
 * tests/data/parley-v1.json, the randomness and configuration a side is
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
 * When the handshake changes (version 2: a commitment in HS1, four frames,
 * R established on HS3 and writing HS4, I on HS4), what changes for the
 * harness is this file - the constants, fz_hs_first_output(),
 * fz_hs_established_output(), fz_hs_establish() - make-corpus.py's check
 * of the constants and its seeds.  The targets call only what is below.
 */
#ifndef PARLEY_FUZZ_HANDSHAKE_H
#define PARLEY_FUZZ_HANDSHAKE_H

#include "fuzz-common.h"
#include "fuzz-memo.h"
#include "record.h"
#include "session.h"

/* ---- the vectors (tests/data/parley-v1.json, handshake 0 "ascii") ------ */

#define FZ_HS0_SALT    "7672cc30c3d836530db7a34da472cfeb"
#define FZ_HS0_ITER    200000u
#define FZ_HS0_SID     "d3fb89eddfba1497fb07cf450b69bee6"
#define FZ_HS0_YA      "ac6d840a5696db6a8e06822cc6faf63dae49b6a3d5cfd4fa177279537d07e315"
#define FZ_HS0_YB      "09ac528357a2161be37574c55db1309606570353c0b6f2a1b7b9d9b4262d58b9"
#define FZ_HS0_NAME_I  "alice"
#define FZ_HS0_NAME_R  "bob"
#define FZ_HS0_PORT    5000
#define FZ_HS0_PRS     "d31343894e197f662ffaed937c41c01e340a9713c3632131146ff8a8f4fffedc"
#define FZ_HS0_KEY_IR  "5bbe001ad42d32e290475480bb2a8ce4b732f67203941202a337f6c84beb98ba"
#define FZ_HS0_IV_IR   "b6e7b3ff98ca61459f765a3f"
#define FZ_HS0_KEY_RI  "aaec478eae0f26aa36f2ef8c48290cac6ed19d91c8904e3eb8d867c7722345cd"
#define FZ_HS0_IV_RI   "9da325aacd2a3fe5f3248ac8"
#define FZ_HS0_CHAIN   "810aa0bca608c49a32f272be9d741686c7ca4c2dcb88c0eaf1ef98d6982109af"
#define FZ_HS0_CODE    "172 767"
#define FZ_HS0_HS1     "0000005250524c590101d3fb89eddfba1497fb07cf450b69bee67eb597b35a368216" \
                       "ee42a4655915906910e2b0246a92cad19486cbd93f1f23607672cc30c3d836530db7" \
                       "a34da472cfeb00030d40138805616c696365"
#define FZ_HS0_HS2     "0000006a50524c5901026b055b73143c8f19b62ce1ed37d89612a8f131b8cb1daa96" \
                       "849462a74d8c275903626f620d89973a41ae3af758670f8589a91b4187a39f41ad79" \
                       "ac65d0a5ca028a9d79e782cb76a6f2bb670db1eb0d44b4b05c7fe0f57d71b493498a" \
                       "5d752d7b40b1ec08"
#define FZ_HS0_HS3     "0000004650524c59010336847f1826bab93650737563e9392d77229ba6af39d8bd55" \
                       "b9eb9d2b0c475b71fe2ec78b83654fd995c5a02a8b08286ed512b718f4ceb9044a4d" \
                       "3d890612cf6b"
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
static uint8_t fz_hs2[PARLEY_FRAME_HEADER_LEN + 106];
static uint8_t fz_hs3[PARLEY_FRAME_HEADER_LEN + 70];
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

/* What a side writes in the call that makes it ESTABLISHED: I its HS3 (on
 * HS2), R nothing (on HS3).  *len 0: nothing. */
static const uint8_t *
fz_hs_established_output(gboolean initiator, size_t *len)
{
	*len = initiator ? sizeof(fz_hs3) : 0;
	return initiator ? fz_hs3 : NULL;
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
 * is given the PRS and fed HS2.  Every frame s writes is the vectors';
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
	} else {
		parley_session_feed(s, fz_hs1, sizeof(fz_hs1), now);
		fz_hs_drain(s, &kdf_id, &established);
		FZ_CHECK(kdf_id != 0);
		parley_session_provide_prs(s, kdf_id, fz_hs_prs, now);
		FZ_CHECK(out->len == sizeof(fz_hs2) &&
		         memcmp(out->data, fz_hs2, sizeof(fz_hs2)) == 0);
		g_byte_array_set_size(out, 0);
		parley_session_feed(s, fz_hs3, sizeof(fz_hs3), now);
		FZ_CHECK(out->len == 0);
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
	fz_unhex(FZ_HS0_KEY_IR, fz_hs_keys0.key_IR, sizeof(fz_hs_keys0.key_IR));
	fz_unhex(FZ_HS0_IV_IR, fz_hs_keys0.iv_IR, sizeof(fz_hs_keys0.iv_IR));
	fz_unhex(FZ_HS0_KEY_RI, fz_hs_keys0.key_RI, sizeof(fz_hs_keys0.key_RI));
	fz_unhex(FZ_HS0_IV_RI, fz_hs_keys0.iv_RI, sizeof(fz_hs_keys0.iv_RI));
	fz_unhex(FZ_HS0_CHAIN, fz_hs_keys0.chain, sizeof(fz_hs_keys0.chain));
}

#endif
