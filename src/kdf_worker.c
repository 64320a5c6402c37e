/*
 * kdf_worker.c - PBKDF2 off the UI thread (PROTOCOL.md §3, §9).
 *
 * One lock (kdf_lock) guards everything shared: the pool pointer, the list
 * of active jobs, the counters, and each job's cancelled / delivered /
 * source fields.  A job has exactly one owner at a time, which passes it on
 * and never shares it:
 *
 *   submit --push--> worker thread --idle GSource--> deliver() in the
 *   submitting context --source destroyed--> job_free()
 *
 * The worker frees the job itself when it finds it cancelled; otherwise it
 * hands it to an idle source whose destroy notify frees it (after deliver()
 * ran, or when cancel/shutdown destroy the source before it ran).  So cancel
 * only has to set a flag and destroy a source, and the job's memory outlives
 * every thread that can still touch it.
 *
 * Lock order: kdf_lock may be held while taking GLib's own locks (pushing
 * to the pool, attaching a source), never the reverse; and kdf_lock is
 * never held while destroying a source, since the destroy notify takes it.
 */
#include <string.h>

#include "constants.h"
#include "crypto.h"
#include "kdf_worker.h"

struct ParleyKdfJob {
	/* inputs: pass is secure memory, wiped and freed right after PBKDF2 */
	uint8_t *pass;
	size_t pass_len;
	uint8_t *salt;
	size_t salt_len;
	guint32 iterations;

	/* output: secure memory, wiped after done() returns */
	uint8_t *out;
	size_t out_len;
	gboolean ok;

	ParleyKdfDone done;
	gpointer user_data;
	GMainContext *context;      /* where done() runs; we hold a ref */

	/* under kdf_lock */
	GSource *source;            /* pending delivery, we hold a ref; or NULL */
	gboolean cancelled;
	gboolean delivered;         /* deliver() is calling / has called done */
	GList link;                 /* in active_jobs while active */
	gboolean active;
};

static GMutex kdf_lock;
static GThreadPool *pool;       /* created lazily, freed by shutdown */
static GQueue active_jobs = G_QUEUE_INIT;
static guint running;           /* PBKDF2 computations in progress now */
static guint max_seen;          /* largest value of running seen */
static gboolean held;           /* parley_kdf_hold(): workers wait after PBKDF2 */
static GCond held_cond;         /* with kdf_lock: held was cleared */

/* Leave the active list (the job no longer counts as busy).
 * Called with kdf_lock held. */
static void
deactivate_locked(ParleyKdfJob *job)
{
	if (!job->active)
		return;
	g_queue_unlink(&active_jobs, &job->link);
	job->active = FALSE;
}

/* The last owner lets go.  Called without kdf_lock. */
static void
job_free(gpointer data)
{
	ParleyKdfJob *job = data;

	g_mutex_lock(&kdf_lock);
	deactivate_locked(job);
	g_mutex_unlock(&kdf_lock);

	/* pass and out are secure memory, wiped as they are freed.  The salt
	 * is public, but what is left of the job (the passphrase's length
	 * among it) is wiped too before it goes back to the allocator. */
	parley_secure_free(job->pass, job->pass_len);
	parley_secure_free(job->out, job->out_len);
	parley_wipe(job->salt, job->salt_len);
	g_free(job->salt);
	/* Still set only when deliver() ran or the context dropped the source:
	 * cancel and shutdown take the pointer themselves. */
	g_clear_pointer(&job->source, g_source_unref);
	g_main_context_unref(job->context);
	parley_wipe(job, sizeof(*job));
	g_free(job);
}

/* In the submitting context: hand the result over unless cancelled.  The
 * source's destroy notify (job_free) runs after this returns. */
static gboolean
deliver(gpointer data)
{
	ParleyKdfJob *job = data;
	gboolean call;

	g_mutex_lock(&kdf_lock);
	call = !job->cancelled;
	if (call) {
		job->delivered = TRUE;
		/* Not busy any more while done() runs, so done() may submit the
		 * next job without counting this one. */
		deactivate_locked(job);
	}
	g_mutex_unlock(&kdf_lock);

	if (call) {
		if (job->ok)
			job->done(job->out, job->out_len, TRUE, job->user_data);
		else
			job->done(NULL, 0, FALSE, job->user_data);
	}
	parley_wipe(job->out, job->out_len);
	return G_SOURCE_REMOVE;
}

/* On a pool thread. */
static void
work(gpointer data, gpointer pool_data)
{
	ParleyKdfJob *job = data;
	gboolean skip;
	GSource *source;

	(void) pool_data;

	g_mutex_lock(&kdf_lock);
	skip = job->cancelled;
	if (!skip) {
		running++;
		if (running > max_seen)
			max_seen = running;
	}
	g_mutex_unlock(&kdf_lock);

	if (!skip)
		job->ok = parley_pbkdf2_sha256(job->pass, job->pass_len,
		                               job->salt, job->salt_len,
		                               job->iterations,
		                               job->out, job->out_len);
	/* §3/STYLE 5: keep the passphrase only as long as the work needs it. */
	parley_secure_free(job->pass, job->pass_len);
	job->pass = NULL;
	job->pass_len = 0;

	g_mutex_lock(&kdf_lock);
	/* for tests: hold on to the job (still running, still busy) */
	while (held && !skip)
		g_cond_wait(&held_cond, &kdf_lock);
	if (!skip)
		running--;
	if (job->cancelled) {
		g_mutex_unlock(&kdf_lock);
		job_free(job);
		return;
	}
	/* Attach under the lock, so that cancel sees either no source and
	 * the cancelled flag stops us here, or the source and destroys it. */
	source = g_idle_source_new();
	g_source_set_priority(source, G_PRIORITY_DEFAULT);
	g_source_set_name(source, "[parley] kdf result");
	g_source_set_callback(source, deliver, job, job_free);
	job->source = source;
	g_source_attach(source, job->context);
	g_mutex_unlock(&kdf_lock);
}

ParleyKdfJob *
parley_kdf_submit(const uint8_t *pass, size_t pass_len,
                  const uint8_t *salt, size_t salt_len,
                  guint32 iterations, size_t out_len,
                  ParleyKdfDone done, gpointer user_data)
{
	ParleyKdfJob *job;

	g_return_val_if_fail(pass != NULL || pass_len == 0, NULL);
	g_return_val_if_fail(salt != NULL || salt_len == 0, NULL);
	g_return_val_if_fail(out_len > 0 && out_len <= PARLEY_KDF_MAX_OUT, NULL);
	g_return_val_if_fail(done != NULL, NULL);

	job = g_new0(ParleyKdfJob, 1);
	job->pass_len = pass_len;
	job->pass = parley_secure_alloc(pass_len);
	if (pass_len > 0)
		memcpy(job->pass, pass, pass_len);
	job->salt_len = salt_len;
	job->salt = g_malloc(salt_len > 0 ? salt_len : 1);
	if (salt_len > 0)
		memcpy(job->salt, salt, salt_len);
	job->iterations = iterations;
	job->out_len = out_len;
	job->out = parley_secure_alloc(out_len);
	job->done = done;
	job->user_data = user_data;
	job->context = g_main_context_ref_thread_default();
	job->link.data = job;

	g_mutex_lock(&kdf_lock);
	if (pool == NULL) {
		/* Shared (non-exclusive) threads: idle ones cost nothing of
		 * ours, and max_threads caps how many run work() at once. */
		pool = g_thread_pool_new(work, NULL, PARLEY_MAX_KDF_RUNNING,
		                         FALSE, NULL);
	}
	g_queue_push_tail_link(&active_jobs, &job->link);
	job->active = TRUE;
	/* Cannot fail for a non-exclusive pool. */
	g_thread_pool_push(pool, job, NULL);
	g_mutex_unlock(&kdf_lock);
	return job;
}

void
parley_kdf_cancel(ParleyKdfJob *job)
{
	GSource *source = NULL;
	gboolean delivered;

	g_return_if_fail(job != NULL);

	g_mutex_lock(&kdf_lock);
	delivered = job->delivered;
	if (!delivered) {
		job->cancelled = TRUE;
		source = g_steal_pointer(&job->source);
	}
	g_mutex_unlock(&kdf_lock);
	/* Only reachable from inside done(): afterwards the job is gone. */
	g_return_if_fail(!delivered);

	/* The worker has finished and the result waits in the main loop:
	 * drop it (the destroy notify frees the job).  We hold our own ref
	 * on the source, so this is safe even if it is being dispatched on
	 * another thread right now: deliver() sees the flag. */
	if (source != NULL) {
		g_source_destroy(source);
		g_source_unref(source);
	}
}

guint
parley_kdf_busy(void)
{
	guint n;

	g_mutex_lock(&kdf_lock);
	n = active_jobs.length;
	g_mutex_unlock(&kdf_lock);
	return n;
}

void
parley_kdf_shutdown(void)
{
	GThreadPool *old_pool;
	GSList *sources = NULL;
	GList *l;

	g_mutex_lock(&kdf_lock);
	for (l = active_jobs.head; l != NULL; l = l->next) {
		ParleyKdfJob *job = l->data;
		GSource *source;

		job->cancelled = TRUE;
		source = g_steal_pointer(&job->source);
		if (source != NULL)
			sources = g_slist_prepend(sources, source);
	}
	old_pool = g_steal_pointer(&pool);
	/* a held worker could never finish */
	held = FALSE;
	g_cond_broadcast(&held_cond);
	g_mutex_unlock(&kdf_lock);

	/* Results already waiting in a main loop: drop them (frees those jobs). */
	while (sources != NULL) {
		GSource *source = sources->data;

		sources = g_slist_delete_link(sources, sources);
		g_source_destroy(source);
		g_source_unref(source);
	}

	/* immediate = FALSE: queued jobs still pass through work(), which
	 * sees them cancelled and frees them at once; wait = TRUE: return only
	 * when no worker runs our code any more. */
	if (old_pool != NULL)
		g_thread_pool_free(old_pool, FALSE, TRUE);

	g_mutex_lock(&kdf_lock);
	max_seen = running;
	g_mutex_unlock(&kdf_lock);
}

guint
parley_kdf_max_concurrent_seen(void)
{
	guint n;

	g_mutex_lock(&kdf_lock);
	n = max_seen;
	g_mutex_unlock(&kdf_lock);
	return n;
}

void
parley_kdf_hold(gboolean hold)
{
	g_mutex_lock(&kdf_lock);
	held = hold;
	if (!hold)
		g_cond_broadcast(&held_cond);
	g_mutex_unlock(&kdf_lock);
}
