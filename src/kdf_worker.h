/*
 * kdf_worker.h - PBKDF2 off the UI thread (PROTOCOL.md §3, §9).
 *
 * §3: PBKDF2 MUST NOT run on the thread of the UI event loop.  §9: a
 * responder runs at most PARLEY_MAX_KDF_RUNNING computations at once.  Jobs
 * go to one process-wide GThreadPool with that many threads; the result
 * comes back as a call of done() in the GMainContext that was the
 * thread-default when the job was submitted, never on the worker thread.
 *
 * Ownership:
 *  - parley_kdf_submit() copies the passphrase into secure memory (wiped as
 *    soon as PBKDF2 has run) and the salt; the caller's buffers can be freed
 *    as soon as it returns.
 *  - The returned ParleyKdfJob is a handle owned by this module, not by the
 *    caller.  It is valid until done() is called, until parley_kdf_cancel()
 *    or until parley_kdf_shutdown(), whichever comes first; the caller must
 *    forget it then (it is invalid inside done() too).
 *  - The out buffer passed to done() is secure memory owned by the job and
 *    wiped as soon as done() returns: copy what you need.
 *  - user_data is never freed by this module.
 *
 * Threads: submit, cancel, busy and shutdown may be called from any thread,
 * but "done is not called after cancel" holds only when cancel is called
 * on the thread that runs the job's GMainContext (the normal case: the UI
 * thread).  Nothing here includes libpurple.
 */
#ifndef PARLEY_KDF_WORKER_H
#define PARLEY_KDF_WORKER_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>
#include "constants.h"

typedef struct ParleyKdfJob ParleyKdfJob;

/* Called once per job that was not cancelled, in the submitting context.
 * ok is TRUE when PBKDF2 succeeded: out then holds out_len bytes.  When ok
 * is FALSE (e.g. an empty passphrase or zero iterations), out is NULL and
 * out_len is 0. */
typedef void (*ParleyKdfDone)(const uint8_t *out, size_t out_len,
                              gboolean ok, gpointer user_data);

/* Queue PBKDF2-HMAC-SHA256(pass, salt, iterations, out_len) and return the
 * job's handle (never NULL for valid arguments).  Jobs run in submission
 * order, at most PARLEY_MAX_KDF_RUNNING at a time.  done must not be NULL;
 * out_len must be 1..PARLEY_KDF_MAX_OUT. */
ParleyKdfJob *parley_kdf_submit(const uint8_t *pass, size_t pass_len,
                                const uint8_t *salt, size_t salt_len,
                                guint32 iterations, size_t out_len,
                                ParleyKdfDone done, gpointer user_data);

/* Cancel a job: done will not be called for it, whether it is queued,
 * running (PBKDF2 itself cannot be interrupted: the worker finishes and
 * throws the result away) or finished with its result waiting in the main
 * loop.  The job's memory is freed once no thread uses it any more.  Call
 * at most once, and only before done ran; the handle is invalid after. */
void parley_kdf_cancel(ParleyKdfJob *job);

/* Jobs submitted and not yet delivered, plus cancelled jobs a worker still
 * holds (queued or running): the work in hand, for §9's "at most 2 PBKDF2
 * computations at once" (a responder refuses a stranger with ERROR 4 when
 * this is >= PARLEY_MAX_KDF_RUNNING). */
guint parley_kdf_busy(void);

/* For plugin unload: cancel every job (done is called for none of them),
 * then wait until the workers have finished with them, so no thread runs
 * this module's code after it returns.  Every outstanding handle becomes
 * invalid.  Must not be called from done() or from a worker.  A later
 * submit starts a new pool. */
void parley_kdf_shutdown(void);

/* For tests: the largest number of PBKDF2 computations seen running at the
 * same time since the module started or since the last shutdown. */
guint parley_kdf_max_concurrent_seen(void);

/* For tests: while held, a worker that has finished a PBKDF2 computation
 * waits before it lets go of the job, which stays running and busy; a
 * test can so keep the workers occupied for as long as it needs, however
 * fast the machine.  parley_kdf_hold(FALSE) lets them go on, as does
 * parley_kdf_shutdown().  Never held unless a test asks. */
void parley_kdf_hold(gboolean hold);

#endif
