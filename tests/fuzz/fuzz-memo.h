/*
 * fuzz-memo.h - the fuzz targets' X25519, CPace generator and key
 * schedule, memoised (fuzz-memo.c).  run.sh links every target with
 *
 *     -Wl,--wrap=parley_x25519 -Wl,--wrap=parley_x25519_base
 *     -Wl,--wrap=parley_cpace_generator
 *     -Wl,--wrap=parley_epoch_keys_expand -Wl,--wrap=parley_epoch_keys_ratchet
 *
 * so that every call to these (from handshake.c, session.c or a harness)
 * reaches fuzz-memo.c first.  They are pure functions: a result
 * already computed for the same arguments is handed back at once, anything
 * new is computed by the real function and remembered.  The core runs the
 * same code with the same results as without; only the arithmetic that
 * every input repeats (the vector handshake, the rekeys) is done once per
 * process instead of once per input.
 *
 * Results computed while pinning (around the set-up every input of a
 * target repeats) are never evicted by the ones fuzzing computes later.
 */
#ifndef PARLEY_FUZZ_MEMO_H
#define PARLEY_FUZZ_MEMO_H

#include <glib.h>

/* From TRUE to FALSE, every result computed is kept for good. */
void fz_memo_pin(gboolean on);

#endif
