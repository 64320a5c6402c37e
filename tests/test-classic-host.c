/*
 * test-classic-host.c - classic mode (PROTOCOL.md §11) end to end: a
 * classic Parley account in the headless libpurple host (host.c) talks to
 * classic_peer.py, an independent stand-in for the original Python tool
 * (pycryptodome; it behaves as the original does, not as Parley refines it).
 *
 * Most cases run in both roles: "parley-dials" (the Python peer listens and
 * Parley dials its buddy 127.0.0.1:PORT when the user writes) and
 * "parley-listens" (the Python peer connects to the Parley account, which
 * shows it as "127.0.0.1").  The peer is driven over pipes from the GLib
 * main loop, so host_run_until() can wait on what it reports.
 *
 * Assertions are non-fatal (one failing case must not hide the others); a
 * case stops at the first check whose failure would make the rest
 * meaningless.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <glib.h>
#include <glib-unix.h>
#include <purple.h>

#include "constants.h"
#include "crypto.h"
#include "host.h"
#include "testutil.h"

#define PASSPHRASE "correct horse battery staple"
#define PYTHON "/usr/bin/python3"    /* Debian's, with python3-pycryptodome */

/* Waits, in ms.  PBKDF2 (200000 iterations) takes some 0.1-0.3 s per key
 * on each side, and Parley waits 2 s after the salt before its first frame. */
#define T_SESSION   20000
#define T_MESSAGE   10000
#define T_QUIET     500             /* to see that nothing more comes */

#define STOP_IF_FAILED() G_STMT_START { if (g_test_failed()) return; } G_STMT_END

/* ---- JSON strings, the peer's way of passing text (read with testutil) - */

/* text (UTF-8) as a JSON string literal: quotes, backslashes and control
 * characters escaped, everything else as it is. */
static char *
json_encode(const char *text)
{
	GString *s = g_string_new("\"");
	const unsigned char *p;

	for (p = (const unsigned char *) text; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_printf(s, "\\%c", *p);
		else if (*p < 0x20)
			g_string_append_printf(s, "\\u%04x", *p);
		else
			g_string_append_c(s, (char) *p);
	}
	g_string_append_c(s, '"');
	return g_string_free(s, FALSE);
}

/* ---- the Python peer --------------------------------------------------------- */

typedef struct {
	char *label;                /* for the log */
	GPid pid;
	int in_fd;                  /* its stdin: commands */
	int out_fd;                 /* its stdout: events */
	guint watch;
	GString *partial;           /* an event line not complete yet */
	GPtrArray *lines;           /* char *: every event so far */
	GArray *times;              /* gint64: when each came, monotonic ms */
	gboolean eof;
	guint16 port;               /* listening: its port */
} Peer;

static char *
peer_script(void)
{
	return g_test_build_filename(G_TEST_DIST, "classic_peer.py", NULL);
}

/* Take every whole line the peer has written so far, without waiting. */
static void
peer_drain(Peer *p)
{
	char buf[65536];

	while (!p->eof) {
		ssize_t n = read(p->out_fd, buf, sizeof(buf));
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;                  /* EAGAIN: nothing more now */
		if (n == 0) {
			p->eof = TRUE;
			break;
		}
		g_string_append_len(p->partial, buf, n);
		while ((nl = memchr(p->partial->str, '\n', p->partial->len)) != NULL) {
			gint64 now = g_get_monotonic_time() / 1000;

			g_ptr_array_add(p->lines, g_strndup(p->partial->str,
			                                    (gsize) (nl - p->partial->str)));
			g_array_append_val(p->times, now);
			g_string_erase(p->partial, 0, nl - p->partial->str + 1);
		}
	}
}

static gboolean
peer_readable(gint fd, GIOCondition cond, gpointer data)
{
	Peer *p = data;

	peer_drain(p);
	if (p->eof) {
		p->watch = 0;
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

/* Start classic_peer.py with these options (NULL-terminated). */
static Peer *
peer_start(const char *label, ...)
{
	GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
	char **envp = g_get_environ();
	GError *error = NULL;
	Peer *p = g_new0(Peer, 1);
	const char *arg;
	va_list ap;
	gboolean ok;

	g_ptr_array_add(argv, g_strdup(PYTHON));
	g_ptr_array_add(argv, peer_script());
	va_start(ap, label);
	while ((arg = va_arg(ap, const char *)) != NULL)
		g_ptr_array_add(argv, g_strdup(arg));
	va_end(ap);
	g_ptr_array_add(argv, NULL);
	/* argv and stdin as UTF-8 whatever the locale; no bytecode in srcdir */
	envp = g_environ_setenv(envp, "PYTHONUTF8", "1", TRUE);
	envp = g_environ_setenv(envp, "PYTHONDONTWRITEBYTECODE", "1", TRUE);

	p->label = g_strdup(label);
	p->partial = g_string_new(NULL);
	p->lines = g_ptr_array_new_with_free_func(g_free);
	p->times = g_array_new(FALSE, FALSE, sizeof(gint64));
	p->in_fd = p->out_fd = -1;
	/* The host ignores SIGCHLD (as Pidgin does), so the kernel reaps the
	 * peer; a GSubprocess would install GLib's own SIGCHLD handler over
	 * that, which is why this is plain g_spawn with the pipes watched. */
	ok = g_spawn_async_with_pipes(NULL, (char **) argv->pdata, envp,
	                              G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &p->pid,
	                              &p->in_fd, &p->out_fd, NULL, &error);
	g_ptr_array_unref(argv);
	g_strfreev(envp);
	if (!ok) {
		g_test_message("cannot start %s: %s", PYTHON, error->message);
		g_error_free(error);
		p->eof = TRUE;
		return p;
	}
	g_unix_set_fd_nonblocking(p->out_fd, TRUE, NULL);
	g_unix_set_fd_nonblocking(p->in_fd, TRUE, NULL);
	p->watch = g_unix_fd_add(p->out_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, peer_readable, p);
	return p;
}

/* Line i is the event `what` ("recv" matches "recv ..." too). */
static gboolean
line_is(const Peer *p, guint i, const char *what)
{
	const char *l = g_ptr_array_index(p->lines, i);
	size_t n = strlen(what);

	return strncmp(l, what, n) == 0 && (l[n] == '\0' || l[n] == ' ');
}

static guint
peer_mark(const Peer *p)
{
	return p->lines->len;
}

static gint
peer_find(const Peer *p, guint since, const char *what)
{
	guint i;

	for (i = since; i < p->lines->len; i++)
		if (line_is(p, i, what))
			return (gint) i;
	return -1;
}

static guint
peer_count(const Peer *p, guint since, const char *what)
{
	guint i, n = 0;

	for (i = since; i < p->lines->len; i++)
		n += line_is(p, i, what);
	return n;
}

/* The texts the peer received (decoded), oldest first. */
static GPtrArray *
peer_texts(const Peer *p, guint since)
{
	GPtrArray *texts = g_ptr_array_new_with_free_func(g_free);
	guint i;

	for (i = since; i < p->lines->len; i++) {
		if (line_is(p, i, "recv")) {
			const char *l = g_ptr_array_index(p->lines, i) + strlen("recv ");
			TJson *t = tj_parse(l, strlen(l));
			gboolean ok = t != NULL && tj_is_string(t);

			g_assert_true(ok);
			g_ptr_array_add(texts, g_strdup(ok ? tj_str(t) : ""));
			tj_free(t);
		}
	}
	return texts;
}

/* How many times the peer received exactly this text after since. */
static guint
peer_count_text(const Peer *p, guint since, const char *text)
{
	GPtrArray *texts = peer_texts(p, since);
	guint i, n = 0;

	for (i = 0; i < texts->len; i++)
		n += g_strcmp0(g_ptr_array_index(texts, i), text) == 0;
	g_ptr_array_unref(texts);
	return n;
}

typedef struct {
	Peer *p;
	guint since;
	const char *what;
	const char *text;           /* "recv" of exactly this text */
	guint n;                    /* at least n of them */
} PeerWait;

static guint
peer_wait_count(const PeerWait *w)
{
	return w->text != NULL ? peer_count_text(w->p, w->since, w->text)
	                       : peer_count(w->p, w->since, w->what);
}

static gboolean
peer_wait_done(gpointer data)
{
	PeerWait *w = data;

	/* an exited peer reports nothing more */
	return peer_wait_count(w) >= w->n || w->p->watch == 0;
}

/* Iterate the main loop until the peer reported n events `what` after
 * since; FALSE on timeout (or if it exited). */
static gboolean
peer_wait_n(Peer *p, guint since, const char *what, guint n, guint timeout_ms)
{
	PeerWait w = { p, since, what, NULL, n };

	host_run_until(peer_wait_done, &w, timeout_ms);
	return peer_wait_count(&w) >= n;
}

static gboolean
peer_wait(Peer *p, guint since, const char *what, guint timeout_ms)
{
	return peer_wait_n(p, since, what, 1, timeout_ms);
}

/* Wait until the peer received this text. */
static gboolean
peer_wait_text(Peer *p, guint since, const char *text, guint timeout_ms)
{
	PeerWait w = { p, since, "recv", text, 1 };

	host_run_until(peer_wait_done, &w, timeout_ms);
	return peer_wait_count(&w) >= 1;
}

static gboolean
peer_exited(gpointer data)
{
	return ((Peer *) data)->watch == 0;
}

/* Wait for n events `what` WITHOUT iterating the main loop: Parley stands
 * still meanwhile (it reads nothing of what the peer sends). */
static gboolean
peer_wait_still_n(Peer *p, guint since, const char *what, guint n, guint timeout_ms)
{
	gint64 end = g_get_monotonic_time() / 1000 + timeout_ms;

	for (;;) {
		struct pollfd pfd = { p->out_fd, POLLIN, 0 };
		gint64 left;

		peer_drain(p);
		if (peer_count(p, since, what) >= n)
			return TRUE;
		left = end - g_get_monotonic_time() / 1000;
		if (p->eof || left <= 0)
			return FALSE;
		poll(&pfd, 1, (int) left);
	}
}

static gboolean
peer_wait_still(Peer *p, guint since, const char *what, guint timeout_ms)
{
	return peer_wait_still_n(p, since, what, 1, timeout_ms);
}

/* Write a command line; take the peer's events meanwhile, so that neither
 * side can block the other on a full pipe. */
static void G_GNUC_PRINTF(2, 3)
peer_cmd(Peer *p, const char *fmt, ...)
{
	va_list ap;
	char *cmd, *line;
	size_t len, done = 0;

	va_start(ap, fmt);
	cmd = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	line = g_strconcat(cmd, "\n", NULL);
	g_free(cmd);
	len = strlen(line);
	while (done < len && p->in_fd >= 0) {
		struct pollfd pfd[2] = { { p->in_fd, POLLOUT, 0 }, { p->out_fd, POLLIN, 0 } };
		ssize_t n;

		poll(pfd, p->eof ? 1 : 2, 1000);
		if (!p->eof && (pfd[1].revents & (POLLIN | POLLHUP)))
			peer_drain(p);
		if (!(pfd[0].revents & (POLLOUT | POLLERR | POLLHUP)))
			continue;
		n = write(p->in_fd, line + done, len - done);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			g_test_message("%s: cannot write a command: %s", p->label, g_strerror(errno));
			break;
		}
		done += (size_t) n;
	}
	g_free(line);
}

/* The user of the peer types text. */
static void
peer_say(Peer *p, const char *text)
{
	char *j = json_encode(text);

	peer_cmd(p, "send %s", j);
	g_free(j);
}

/* What the peer reported, into the test log (TAP comments: the log keeps
 * them, where the driver may drop stderr). */
static void
peer_dump(const Peer *p)
{
	guint i;

	for (i = 0; i < p->lines->len; i++) {
		const char *l = g_ptr_array_index(p->lines, i);

		g_test_message("%s [%u] +%" G_GINT64_FORMAT " ms: %.160s%s", p->label, i,
		               g_array_index(p->times, gint64, i) - g_array_index(p->times, gint64, 0),
		               l, strlen(l) > 160 ? "..." : "");
	}
}

/* End of input: the peer closes its connection and exits. */
static void
peer_stop(Peer *p)
{
	if (p == NULL)
		return;
	if (p->in_fd >= 0) {
		close(p->in_fd);
		p->in_fd = -1;
	}
	if (p->watch != 0)
		host_run_until(peer_exited, p, 5000);
	if (p->watch != 0) {
		g_source_remove(p->watch);
		p->watch = 0;
		/* still running after 5 s (so the pid is still its own) */
		g_test_message("%s did not exit: killing it", p->label);
		kill(p->pid, SIGKILL);
	}
	if (p->out_fd >= 0)
		close(p->out_fd);
	g_spawn_close_pid(p->pid);
	g_string_free(p->partial, TRUE);
	g_ptr_array_unref(p->lines);
	g_array_unref(p->times);
	g_free(p->label);
	g_free(p);
}

/* A Python peer that listens on an ephemeral port; its port in p->port. */
static Peer *
peer_listen(const char *label, const char *pass, guint window)
{
	char *w = g_strdup_printf("%u", window != 0 ? window : 1);
	Peer *p = peer_start(label, "--listen", "0", "--passphrase", pass, "--window", w, NULL);
	gint i;

	g_free(w);
	g_assert_true(peer_wait(p, 0, "listening", T_SESSION));
	i = peer_find(p, 0, "listening");
	if (i >= 0)
		p->port = (guint16) g_ascii_strtoull((char *) g_ptr_array_index(p->lines, i) +
		                                     strlen("listening "), NULL, 10);
	g_assert_cmpuint(p->port, !=, 0);
	return p;
}

static Peer *
peer_connect(const char *label, const char *pass, guint window, guint16 port)
{
	char *w = g_strdup_printf("%u", window != 0 ? window : 1);
	char *to = g_strdup_printf("127.0.0.1:%u", port);
	Peer *p = peer_start(label, "--connect", to, "--passphrase", pass, "--window", w, NULL);

	g_free(w);
	g_free(to);
	return p;
}

/* ---- a classic account and one Python peer ------------------------------ */

typedef enum {
	PARLEY_DIALS,               /* Python listens; Parley dials its buddy */
	PARLEY_LISTENS              /* Python connects to Parley's listen port */
} Role;

typedef struct {
	Role role;
	const char *parley_pass;    /* NULL: PASSPHRASE */
	const char *python_pass;    /* NULL: PASSPHRASE */
	guint window;               /* the peer's --window; 0: the original's 1 */
	gboolean no_session;        /* the case starts the session itself */
	gboolean trapped;           /* run in a subprocess (see run_trapped) */
	gboolean stranger;          /* listens: the peer is no buddy of Parley's */
	gboolean no_peer;           /* listens: the case connects the peer itself */
} Opts;

typedef struct {
	const Opts *o;
	PurpleAccount *acct;
	char *name;
	Peer *py;
	char *who;                  /* the peer's name at Parley */
	Peer *extra;                /* a second peer, for cases that need one */
	guint mark;                 /* the log when the case began */
} Fix;

#define CASE_DIALS(path, func, ...) \
	static const Opts func##_dials = { PARLEY_DIALS, __VA_ARGS__ }; \
	g_test_add(path "/parley-dials", Fix, &func##_dials, fix_setup, func, fix_teardown)
#define CASE_LISTENS(path, func, ...) \
	static const Opts func##_listens = { PARLEY_LISTENS, __VA_ARGS__ }; \
	g_test_add(path "/parley-listens", Fix, &func##_listens, fix_setup, func, fix_teardown)
#define CASE_BOTH(path, func, ...) \
	CASE_DIALS(path, func, __VA_ARGS__); CASE_LISTENS(path, func, __VA_ARGS__)

static const char *
python_pass(const Fix *f)
{
	return f->o->python_pass != NULL ? f->o->python_pass : PASSPHRASE;
}

/* A signed-on classic account (its buddies added first). */
static PurpleAccount *
classic_account(const char *name, const char *pass, const char *buddy)
{
	PurpleAccount *a = host_account_new(name, pass, 0);

	purple_account_set_string(a, "protocol", "classic");
	if (buddy != NULL)
		host_add_buddy(a, buddy);
	g_assert_true(host_sign_on(a, T_SESSION));
	return a;
}

/* Messages Parley showed from who after since, oldest first (the texts
 * belong to the log). */
static GPtrArray *
parley_texts(const Fix *f, const char *who, guint since)
{
	GPtrArray *all = host_find_all(since, HOST_EV_MESSAGE, f->acct, who,
	                               PURPLE_MESSAGE_RECV, NULL);
	GPtrArray *texts = g_ptr_array_new();
	guint i;

	for (i = 0; i < all->len; i++)
		g_ptr_array_add(texts, ((HostEvent *) g_ptr_array_index(all, i))->text);
	g_ptr_array_unref(all);
	return texts;
}

typedef struct {
	const Fix *f;
	const char *who;
	guint since;
	guint n;
} ParleyWait;

static gboolean
parley_wait_done(gpointer data)
{
	ParleyWait *w = data;
	GPtrArray *t = parley_texts(w->f, w->who, w->since);
	gboolean done = t->len >= w->n;

	g_ptr_array_unref(t);
	return done;
}

static gboolean
parley_wait_n(const Fix *f, const char *who, guint since, guint n, guint timeout_ms)
{
	ParleyWait w = { f, who, since, n };

	return host_run_until(parley_wait_done, &w, timeout_ms);
}

/* Parley's user writes text; the peer gets it, exactly. */
static void
parley_to_python(Fix *f, Peer *py, const char *who, const char *text)
{
	guint pm = peer_mark(py);

	host_send_im(f->acct, who, text);
	g_assert_true(peer_wait_text(py, pm, text, T_MESSAGE));
}

/* The peer's user writes text; Parley shows it, exactly. */
static void
python_to_parley(Fix *f, Peer *py, const char *who, const char *text)
{
	guint m = host_mark();
	const HostEvent *ev;

	peer_say(py, text);
	ev = host_wait(m, HOST_EV_MESSAGE, f->acct, who, PURPLE_MESSAGE_RECV, NULL, T_MESSAGE);
	g_assert_nonnull(ev);
	g_assert_cmpstr(ev != NULL ? ev->text : NULL, ==, text);
}

/* The session is up: Parley dialled (when its user wrote) or accepted, and
 * one message went each way. */
static void
session_start(Fix *f)
{
	guint m = host_mark();

	if (f->o->role == PARLEY_DIALS) {
		parley_to_python(f, f->py, f->who, "hello from Parley");
		STOP_IF_FAILED();
		python_to_parley(f, f->py, f->who, "hello from Python");
	} else {
		g_assert_true(peer_wait(f->py, 0, "key-ready", T_SESSION));
		/* a buddy's conversation says at once what kind of session it
		 * is; a stranger's is only opened by its first readable message */
		if (!f->o->stranger)
			g_assert_nonnull(host_wait(m, HOST_EV_MESSAGE, f->acct, f->who,
			                           PURPLE_MESSAGE_SYSTEM, "Classic mode", T_SESSION));
		STOP_IF_FAILED();
		python_to_parley(f, f->py, f->who, "hello from Python");
		STOP_IF_FAILED();
		g_assert_nonnull(host_find(m, HOST_EV_MESSAGE, f->acct, f->who,
		                           PURPLE_MESSAGE_SYSTEM, "Classic mode"));
		parley_to_python(f, f->py, f->who, "hello from Parley");
	}
}

static gint
by_seq(gconstpointer a, gconstpointer b)
{
	const HostEvent *x = *(HostEvent * const *) a, *y = *(HostEvent * const *) b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The host's event log since `since`, into the test log (as host_dump()
 * does on stderr). */
static void
log_dump(guint since)
{
	GPtrArray *all = g_ptr_array_new();
	gint64 t0 = -1;
	guint i;
	int k;

	for (k = HOST_EV_MESSAGE; k <= HOST_EV_LOOP_MISUSE; k++) {
		GPtrArray *some = host_find_all(since, k, NULL, NULL, 0, NULL);

		for (i = 0; i < some->len; i++)
			g_ptr_array_add(all, g_ptr_array_index(some, i));
		g_ptr_array_unref(some);
	}
	g_ptr_array_sort(all, by_seq);
	for (i = 0; i < all->len; i++) {
		const HostEvent *ev = g_ptr_array_index(all, i);
		const char *t = ev->text != NULL ? ev->text : "";

		if (t0 < 0)
			t0 = ev->time_ms;
		g_test_message("[%u] +%" G_GINT64_FORMAT " ms %s %s flags=0x%x %s%s%.160s%s", ev->seq,
		               ev->time_ms - t0, host_event_type_name(ev->type),
		               ev->peer != NULL ? ev->peer : "-", ev->flags,
		               ev->primary != NULL ? ev->primary : "", ev->primary != NULL ? " | " : "",
		               t, strlen(t) > 160 ? "..." : "");
	}
	g_ptr_array_unref(all);
}

/* A case that may crash the program runs in a subprocess of its own (a
 * fresh host), so that a crash fails that case only.  In the parent this
 * runs it there and returns TRUE: the parent's fixture is empty. */
static gboolean
run_trapped(Fix *f)
{
	void (*was)(int);

	if (!f->o->trapped || g_test_subprocess())
		return FALSE;
	/* the host ignores SIGCHLD, which would lose the child's status */
	was = signal(SIGCHLD, SIG_DFL);
	g_test_trap_subprocess(NULL, 120 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
	signal(SIGCHLD, was);
	g_test_trap_assert_passed();
	return TRUE;
}

static void
fix_setup(Fix *f, gconstpointer data)
{
	static guint n;
	const Opts *o = data;

	f->o = o;
	f->mark = host_mark();
	if (o->trapped && !g_test_subprocess())
		return;                 /* set up in the subprocess */
	f->name = g_strdup_printf("classic-%u", ++n);
	if (o->role == PARLEY_DIALS) {
		f->py = peer_listen("py", python_pass(f), o->window);
		STOP_IF_FAILED();
		f->who = g_strdup_printf("127.0.0.1:%u", f->py->port);
		f->acct = classic_account(f->name, o->parley_pass != NULL ? o->parley_pass
		                                                          : PASSPHRASE, f->who);
	} else {
		/* the original tool announces nothing: Parley knows it by its
		 * address, as the buddy the user added (or, a stranger, as the
		 * address it calls from) */
		f->who = g_strdup("127.0.0.1");
		f->acct = classic_account(f->name, o->parley_pass != NULL ? o->parley_pass
		                                                          : PASSPHRASE,
		                          o->stranger ? NULL : f->who);
		STOP_IF_FAILED();
		if (o->no_peer)
			return;
		f->py = peer_connect("py", python_pass(f), o->window, host_account_port(f->acct));
	}
	STOP_IF_FAILED();
	if (!o->no_session)
		session_start(f);
}

static void
fix_teardown(Fix *f, gconstpointer data)
{
	if (f->acct != NULL)
		host_account_delete(f->acct);
	host_run_for(50);
	/* nothing in the case made GLib complain or misused the loop */
	host_assert_clean(f->mark);
	if (g_test_failed()) {
		log_dump(f->mark);
		if (f->py != NULL)
			peer_dump(f->py);
		if (f->extra != NULL)
			peer_dump(f->extra);
	}
	peer_stop(f->py);
	peer_stop(f->extra);
	g_free(f->who);
	g_free(f->name);
}

/* Nothing went wrong on either side since these marks: no undecryptable
 * message, no error line, the connection still up. */
static void
check_clean(Fix *f, guint since, guint py_since)
{
	g_assert_null(host_find(since, HOST_EV_MESSAGE, f->acct, NULL, PURPLE_MESSAGE_ERROR, NULL));
	g_assert_cmpuint(peer_count(f->py, py_since, "undecryptable"), ==, 0);
	g_assert_cmpuint(peer_count(f->py, py_since, "closed"), ==, 0);
	g_assert_cmpuint(peer_count(f->py, py_since, "error"), ==, 0);
	g_assert_true(purple_account_is_connected(f->acct));
}

/* The i-th (from 1) of a numbered series of messages. */
static char *
numbered(const char *prefix, guint i)
{
	return g_strdup_printf("%s %02u", prefix, i);
}

/* `got` holds exactly the n messages of the series, in order. */
static void
check_sequence(GPtrArray *got, const char *prefix, guint n)
{
	guint i;

	g_assert_cmpuint(got->len, ==, n);
	for (i = 0; i < MIN(got->len, n); i++) {
		char *want = numbered(prefix, i + 1);

		g_assert_cmpstr(g_ptr_array_index(got, i), ==, want);
		g_free(want);
	}
}

/* ---- /classic-host/messages-both-ways ------------------------------------ */

static void
test_messages(Fix *f, gconstpointer data)
{
	static const char *texts[] = {
		"plain ascii",
		"Grüße, ça va? 日本語 and 🎉 (outside the BMP)",
		"two\nlines, <b>not bold</b> & \"quoted\" \\ backslash",
		"  leading and trailing spaces  ",
	};
	GPtrArray *warnings;
	char *big;
	guint m, pm, i;
	gint c, r;

	STOP_IF_FAILED();     /* the setup did not get there */
	if (f->o->role == PARLEY_DIALS) {
		/* §11: classic buddies are not probed; nothing dials before the
		 * user writes */
		host_run_for(1500);
		g_assert_cmpint(peer_find(f->py, 0, "connected"), <, 0);
	}
	m = host_mark();
	session_start(f);
	STOP_IF_FAILED();

	/* the warning, once, when the session started */
	warnings = host_find_all(f->mark, HOST_EV_MESSAGE, f->acct, f->who,
	                         PURPLE_MESSAGE_SYSTEM, "Classic mode: this conversation uses "
	                         "the original tool's protocol");
	g_assert_cmpuint(warnings->len, ==, 1);
	if (warnings->len > 0)
		g_assert_nonnull(strstr(((HostEvent *) g_ptr_array_index(warnings, 0))->text,
		                        "no forward secrecy"));
	g_ptr_array_unref(warnings);
	/* §11: Parley's first frame comes 2 s after the salt (the peer's
	 * "connected" is no later than the salt; its first "recv" is that frame) */
	c = peer_find(f->py, 0, "connected");
	r = peer_find(f->py, 0, "recv");
	g_assert_cmpint(c, >=, 0);
	g_assert_cmpint(r, >, c);
	if (c >= 0 && r > c)
		g_assert_cmpint(g_array_index(f->py->times, gint64, r) -
		                g_array_index(f->py->times, gint64, c), >=,
		                PARLEY_CLASSIC_START_DELAY_MS - 100);

	pm = peer_mark(f->py);
	m = host_mark();
	for (i = 0; i < G_N_ELEMENTS(texts); i++) {
		parley_to_python(f, f->py, f->who, texts[i]);
		python_to_parley(f, f->py, f->who, texts[i]);
	}
	/* the longest text Parley sends, and one as long from the peer */
	big = g_malloc(PARLEY_MAX_TEXT + 1);
	for (i = 0; i < PARLEY_MAX_TEXT; i++)
		big[i] = (char) ('a' + i % 26);
	big[PARLEY_MAX_TEXT] = '\0';
	parley_to_python(f, f->py, f->who, big);
	python_to_parley(f, f->py, f->who, big);
	g_free(big);
	/* each exactly once */
	g_assert_cmpuint(peer_count(f->py, pm, "recv"), ==, G_N_ELEMENTS(texts) + 1);
	{
		GPtrArray *t = parley_texts(f, f->who, m);

		g_assert_cmpuint(t->len, ==, G_N_ELEMENTS(texts) + 1);
		g_ptr_array_unref(t);
	}
	check_clean(f, f->mark, 0);
}

/* ---- /classic-host/auto-rekey-45 --------------------------------------- */

#define N_AUTO 45

/* Parley's user read that Parley rotated the key `mine` times itself and
 * followed `theirs` rotations of the peer's. */
static void
check_parley_rekeys(Fix *f, guint since, guint mine, guint theirs)
{
	char *asked = g_strdup_printf("(asked by %s)", f->who);
	GPtrArray *own = host_find_all(since, HOST_EV_MESSAGE, f->acct, f->who,
	                               PURPLE_MESSAGE_SYSTEM, "Session key rotated (asked by you)");
	GPtrArray *peer = host_find_all(since, HOST_EV_MESSAGE, f->acct, f->who,
	                                PURPLE_MESSAGE_SYSTEM, asked);

	g_assert_cmpuint(own->len, ==, mine);
	g_assert_cmpuint(peer->len, ==, theirs);
	g_ptr_array_unref(own);
	g_ptr_array_unref(peer);
	g_free(asked);
}

/* 45 one way, then 45 the other: each sender's two automatic rekeys (after
 * 20 and 40 sent; the hello counts) are followed by the other side, with
 * the original tool's single key. */
static void
test_auto_rekey(Fix *f, gconstpointer data)
{
	guint m, pm, i;
	GPtrArray *got;

	STOP_IF_FAILED();     /* the setup did not get there */
	m = host_mark();
	pm = peer_mark(f->py);
	for (i = 1; i <= N_AUTO; i++) {
		char *t = numbered("from Parley", i);

		host_send_im(f->acct, f->who, t);
		g_free(t);
	}
	g_assert_true(peer_wait_n(f->py, pm, "recv", N_AUTO, T_SESSION));
	host_run_for(T_QUIET);
	got = peer_texts(f->py, pm);
	check_sequence(got, "from Parley", N_AUTO);
	g_ptr_array_unref(got);
	g_assert_cmpuint(peer_count(f->py, pm, "rekeyed peer"), ==, 2);
	check_parley_rekeys(f, m, 2, 0);
	STOP_IF_FAILED();

	for (i = 1; i <= N_AUTO; i++) {
		char *t = numbered("from Python", i);

		peer_say(f->py, t);
		g_free(t);
	}
	g_assert_true(parley_wait_n(f, f->who, m, N_AUTO, T_SESSION));
	host_run_for(T_QUIET);
	got = parley_texts(f, f->who, m);
	check_sequence(got, "from Python", N_AUTO);
	g_ptr_array_unref(got);
	g_assert_cmpuint(peer_count(f->py, pm, "rekeyed self"), ==, 2);
	check_parley_rekeys(f, m, 2, 2);
	/* epochs count every rotation, from 0 at the salt's key */
	g_assert_cmpint(host_last_rekey_epoch(m, f->acct, f->who), ==, 4);
	check_clean(f, f->mark, 0);
}

/* Both at once, the peer keeping 8 keys as Parley does: the automatic
 * rekeys cross messages in flight, and nothing is lost or repeated. */
static void
test_auto_rekey_interleaved(Fix *f, gconstpointer data)
{
	guint m, pm, i;
	GPtrArray *got;

	STOP_IF_FAILED();     /* the setup did not get there */
	m = host_mark();
	pm = peer_mark(f->py);
	for (i = 1; i <= N_AUTO; i++) {
		char *a = numbered("from Parley", i);
		char *b = numbered("from Python", i);

		peer_say(f->py, b);
		host_send_im(f->acct, f->who, a);
		/* a few messages a second, as people type in a hurry */
		host_run_for(20);
		g_free(a);
		g_free(b);
	}
	g_assert_true(peer_wait_n(f->py, pm, "recv", N_AUTO, T_SESSION));
	g_assert_true(parley_wait_n(f, f->who, m, N_AUTO, T_SESSION));
	host_run_for(T_QUIET);
	got = peer_texts(f->py, pm);
	check_sequence(got, "from Parley", N_AUTO);
	g_ptr_array_unref(got);
	got = parley_texts(f, f->who, m);
	check_sequence(got, "from Python", N_AUTO);
	g_ptr_array_unref(got);
	g_assert_cmpuint(peer_count(f->py, pm, "rekeyed self"), ==, 2);
	g_assert_cmpuint(peer_count(f->py, pm, "rekeyed peer"), >=, 2);
	check_parley_rekeys(f, m, 2, 2);
	check_clean(f, f->mark, 0);
	STOP_IF_FAILED();
	/* and they still talk */
	parley_to_python(f, f->py, f->who, "afterwards, from Parley");
	python_to_parley(f, f->py, f->who, "afterwards, from Python");
}

/* ---- /classic-host/manual-rekey ------------------------------------------ */

static void
check_rekey_notice(Fix *f, guint since, const char *by, gint epoch)
{
	char *want = g_strdup_printf("Session key rotated (asked by %s); epoch %d.", by, epoch);

	g_assert_nonnull(host_wait(since, HOST_EV_MESSAGE, f->acct, f->who, PURPLE_MESSAGE_SYSTEM,
	                           want, T_MESSAGE));
	g_free(want);
}

static void
test_manual_rekey(Fix *f, gconstpointer data)
{
	guint m, pm;
	char *details;
	PurpleCmdStatus st;
	char *err = NULL;

	STOP_IF_FAILED();     /* the setup did not get there */
	/* the buddy menu: the user adds an incoming peer as a buddy first */
	if (purple_find_buddy(f->acct, f->who) == NULL)
		host_add_buddy(f->acct, f->who);
	m = host_mark();
	pm = peer_mark(f->py);
	g_assert_true(host_menu_action(f->acct, f->who, "Rekey now"));
	check_rekey_notice(f, m, "you", 1);
	g_assert_true(peer_wait(f->py, pm, "rekeyed peer", T_MESSAGE));
	STOP_IF_FAILED();
	details = host_session_details(f->acct, f->who);
	g_assert_cmpint(host_details_epoch(details), ==, 1);
	g_free(details);
	parley_to_python(f, f->py, f->who, "after Parley's rekey, from Parley");
	python_to_parley(f, f->py, f->who, "after Parley's rekey, from Python");
	STOP_IF_FAILED();

	/* the peer's user asks */
	m = host_mark();
	pm = peer_mark(f->py);
	peer_cmd(f->py, "rekey");
	g_assert_true(peer_wait(f->py, pm, "rekeyed self", T_MESSAGE));
	check_rekey_notice(f, m, f->who, 2);
	STOP_IF_FAILED();
	python_to_parley(f, f->py, f->who, "after Python's rekey, from Python");
	parley_to_python(f, f->py, f->who, "after Python's rekey, from Parley");
	STOP_IF_FAILED();

	/* /rekey in the conversation */
	m = host_mark();
	pm = peer_mark(f->py);
	st = host_command(f->acct, f->who, "rekey", &err);
	g_assert_cmpint(st, ==, PURPLE_CMD_STATUS_OK);
	g_assert_null(err);
	g_free(err);
	g_assert_nonnull(host_find(m, HOST_EV_MESSAGE, f->acct, f->who, PURPLE_MESSAGE_SYSTEM,
	                           "Rotating the session key"));
	check_rekey_notice(f, m, "you", 3);
	g_assert_true(peer_wait(f->py, pm, "rekeyed peer", T_MESSAGE));
	STOP_IF_FAILED();
	parley_to_python(f, f->py, f->who, "after /rekey, from Parley");
	python_to_parley(f, f->py, f->who, "after /rekey, from Python");
	g_assert_null(host_find(f->mark, HOST_EV_NOTIFY, NULL, NULL, 0, "not rotated"));
	check_clean(f, f->mark, 0);
}

/* ---- /classic-host/rekey-crossing-message ------------------------------ */

/* A message sent under the old key arrives after the receiver switched to
 * a new one: read through the key window (§11), not lost.  The peer keeps
 * 8 keys here, as Parley does (the original keeps one and drops it). */
static void
test_rekey_crossing(Fix *f, gconstpointer data)
{
	guint m, pm;
	PurpleCmdStatus st;

	STOP_IF_FAILED();     /* the setup did not get there */
	/* Parley receives: its rekey is held up on the way (the peer stops
	 * reading) while the peer's user sends under the old key. */
	m = host_mark();
	pm = peer_mark(f->py);
	peer_cmd(f->py, "hold");
	st = host_command(f->acct, f->who, "rekey", NULL);
	g_assert_cmpint(st, ==, PURPLE_CMD_STATUS_OK);
	check_rekey_notice(f, m, "you", 1);
	STOP_IF_FAILED();
	peer_say(f->py, "crossing Parley's rekey");
	g_assert_true(peer_wait(f->py, pm, "sent", T_MESSAGE));
	g_assert_nonnull(host_wait(m, HOST_EV_MESSAGE, f->acct, f->who, PURPLE_MESSAGE_RECV,
	                           "crossing Parley's rekey", T_MESSAGE));
	g_assert_cmpuint(peer_count(f->py, pm, "rekeyed peer"), ==, 0);
	peer_cmd(f->py, "release");
	g_assert_true(peer_wait(f->py, pm, "rekeyed peer", T_MESSAGE));
	STOP_IF_FAILED();
	parley_to_python(f, f->py, f->who, "after the first crossing, from Parley");
	python_to_parley(f, f->py, f->who, "after the first crossing, from Python");
	STOP_IF_FAILED();

	/* The peer receives: it rekeys (and switches at once) while Parley,
	 * standing still, has not read the rekey yet and sends under the old
	 * key. */
	m = host_mark();
	pm = peer_mark(f->py);
	peer_cmd(f->py, "rekey");
	g_assert_true(peer_wait_still(f->py, pm, "rekeyed self", T_MESSAGE));
	host_send_im(f->acct, f->who, "crossing Python's rekey");
	g_assert_true(peer_wait_text(f->py, pm, "crossing Python's rekey", T_MESSAGE));
	check_rekey_notice(f, m, f->who, 2);
	STOP_IF_FAILED();
	python_to_parley(f, f->py, f->who, "after the second crossing, from Python");
	parley_to_python(f, f->py, f->who, "after the second crossing, from Parley");
	check_clean(f, f->mark, 0);
}

/* ---- /classic-host/simultaneous-rekey ------------------------------------ */

/* Both rekey at the same moment, each frame crossing the other: each side
 * installs its own key and then the other's.  The peer is the original
 * (one key): it ends on Parley's key; Parley ends on the peer's, sees the
 * peer's next message under its own and goes back to it (§11 crossed
 * rekeys), and from then on both send under one key. */
static void
test_simultaneous_rekey(Fix *f, gconstpointer data)
{
	guint m, pm, i;
	PurpleCmdStatus st;
	GPtrArray *got;

	STOP_IF_FAILED();     /* the setup did not get there */
	m = host_mark();
	pm = peer_mark(f->py);
	/* the peer will not read Parley's rekey before sending its own */
	peer_cmd(f->py, "hold");
	peer_cmd(f->py, "rekey");
	g_assert_true(peer_wait_still(f->py, pm, "rekeyed self", T_MESSAGE));
	/* and Parley starts its own before reading the peer's */
	st = host_command(f->acct, f->who, "rekey", NULL);
	g_assert_cmpint(st, ==, PURPLE_CMD_STATUS_OK);
	check_rekey_notice(f, m, "you", 1);
	STOP_IF_FAILED();
	check_rekey_notice(f, m, f->who, 2);
	peer_cmd(f->py, "release");
	g_assert_true(peer_wait(f->py, pm, "rekeyed peer", T_MESSAGE));
	STOP_IF_FAILED();

	/* the peer first (with one key it cannot read what Parley would send
	 * under the peer's key now) */
	m = host_mark();
	pm = peer_mark(f->py);
	for (i = 1; i <= 5; i++) {
		char *a = numbered("after the crossed rekeys, Python", i);
		char *b = numbered("after the crossed rekeys, Parley", i);

		python_to_parley(f, f->py, f->who, a);
		parley_to_python(f, f->py, f->who, b);
		g_free(a);
		g_free(b);
	}
	/* then both at once */
	for (i = 6; i <= 10; i++) {
		char *a = numbered("after the crossed rekeys, Python", i);
		char *b = numbered("after the crossed rekeys, Parley", i);

		peer_say(f->py, a);
		host_send_im(f->acct, f->who, b);
		g_free(a);
		g_free(b);
	}
	g_assert_true(peer_wait_n(f->py, pm, "recv", 10, T_MESSAGE));
	g_assert_true(parley_wait_n(f, f->who, m, 10, T_MESSAGE));
	host_run_for(T_QUIET);
	got = peer_texts(f->py, pm);
	check_sequence(got, "after the crossed rekeys, Parley", 10);
	g_ptr_array_unref(got);
	got = parley_texts(f, f->who, m);
	check_sequence(got, "after the crossed rekeys, Python", 10);
	g_ptr_array_unref(got);
	check_clean(f, f->mark, 0);
}

/* ---- /classic-host/two-rekeys-in-a-row ---------------------------------- */

/* The peer rekeys twice before Parley reads either (as when its user pastes
 * 40 lines: automatic rekeys after 20 and 40): Parley derives both keys at
 * once, installs them in order, and reads on. */
static void
test_two_rekeys(Fix *f, gconstpointer data)
{
	guint m, pm;

	STOP_IF_FAILED();     /* the setup did not get there */
	m = host_mark();
	pm = peer_mark(f->py);
	peer_cmd(f->py, "rekey");
	peer_cmd(f->py, "rekey");
	/* Parley stands still meanwhile: it reads both rekeys at once */
	g_assert_true(peer_wait_still_n(f->py, pm, "rekeyed self", 2, T_MESSAGE));
	peer_say(f->py, "after two rekeys, from Python");
	check_rekey_notice(f, m, f->who, 1);
	STOP_IF_FAILED();
	check_rekey_notice(f, m, f->who, 2);
	g_assert_nonnull(host_wait(m, HOST_EV_MESSAGE, f->acct, f->who, PURPLE_MESSAGE_RECV,
	                           "after two rekeys, from Python", T_MESSAGE));
	STOP_IF_FAILED();
	parley_to_python(f, f->py, f->who, "after two rekeys, from Parley");
	check_clean(f, f->mark, 0);
}

/* ---- /classic-host/wrong-passphrase ----------------------------------- */

static void
test_wrong_passphrase(Fix *f, gconstpointer data)
{
	guint m = host_mark();
	const char *told = "could not be decrypted - do the passphrases match?";
	GPtrArray *all;
	char *want;

	STOP_IF_FAILED();     /* the setup did not get there */
	/* Parley writes first when it dials; the peer reports what it cannot
	 * read (after Parley's 2-second start) */
	if (f->o->role == PARLEY_DIALS)
		host_send_im(f->acct, f->who, "can you read this?");
	g_assert_true(peer_wait(f->py, 0, "key-ready", T_SESSION));
	if (f->o->role == PARLEY_LISTENS) {
		g_assert_nonnull(host_wait(m, HOST_EV_MESSAGE, f->acct, f->who,
		                           PURPLE_MESSAGE_SYSTEM, "Classic mode", T_SESSION));
		host_send_im(f->acct, f->who, "can you read this?");
	}
	g_assert_true(peer_wait(f->py, 0, "undecryptable", T_SESSION));
	STOP_IF_FAILED();

	/* two from the peer: one notice for the run, naming the peer */
	peer_say(f->py, "first unreadable");
	peer_say(f->py, "second unreadable");
	g_assert_nonnull(host_wait(m, HOST_EV_MESSAGE, f->acct, f->who, PURPLE_MESSAGE_ERROR,
	                           told, T_MESSAGE));
	host_run_for(T_QUIET * 2);
	all = host_find_all(m, HOST_EV_MESSAGE, f->acct, f->who, PURPLE_MESSAGE_ERROR, told);
	g_assert_cmpuint(all->len, ==, 1);
	g_ptr_array_unref(all);
	want = g_strdup_printf("A message from %s %s", f->who, told);
	g_assert_nonnull(host_find(m, HOST_EV_MESSAGE, f->acct, f->who, PURPLE_MESSAGE_ERROR,
	                           want));
	g_free(want);
	/* nothing unreadable is shown as a message */
	g_assert_null(host_find(m, HOST_EV_MESSAGE, f->acct, f->who, PURPLE_MESSAGE_RECV, NULL));

	/* the session stays up on both sides */
	host_send_im(f->acct, f->who, "still unreadable");
	g_assert_true(peer_wait_n(f->py, 0, "undecryptable", 2, T_MESSAGE));
	g_assert_cmpuint(peer_count(f->py, 0, "recv"), ==, 0);
	g_assert_cmpuint(peer_count(f->py, 0, "closed"), ==, 0);
	g_assert_true(purple_account_is_connected(f->acct));
	g_assert_null(host_find(m, HOST_EV_MESSAGE, f->acct, f->who, 0, "ended"));
	g_assert_null(host_find(m, HOST_EV_CONN_ERROR, f->acct, NULL, 0, NULL));
}

/* ---- /classic-host/latin1-passphrase ----------------------------------- */

#define CREME_NFC "Cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e \xc3\xa0 No\xc3\xabl"
/* the same, decomposed: e + U+0300, u + U+0302, ... */
#define CREME_NFD "Cre\xcc\x80me bru\xcc\x82le\xcc\x81" "e a\xcc\x80 Noe\xcc\x88l"

static void
test_latin1(Fix *f, gconstpointer data)
{
	/* the session came up and a message went each way: the keys match */
	STOP_IF_FAILED();
	parley_to_python(f, f->py, f->who,
	                 "Cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e, s'il vous pla\xc3\xaet");
	python_to_parley(f, f->py, f->who, "\xc3\x80 No\xc3\xabl !");
	check_clean(f, f->mark, 0);
}

/* ---- /classic-host/non-latin1-refused ------------------------------------- */

static gboolean
no_connection(gpointer data)
{
	return purple_account_get_connection(data) == NULL;
}

static void
test_non_latin1(void)
{
	static const char *passes[] = {
		"Prix: 10 \xe2\x82\xac",              /* the euro sign, U+20AC */
		"\xe6\x97\xa5\xe6\x9c\xac",           /* 日本 */
	};
	guint i;

	for (i = 0; i < G_N_ELEMENTS(passes); i++) {
		guint m = host_mark();
		char *name = g_strdup_printf("not-latin1-%u", i);
		PurpleAccount *a = host_account_new(name, passes[i], 0);
		const HostEvent *ev;

		purple_account_set_string(a, "protocol", "classic");
		g_assert_false(host_sign_on(a, T_SESSION));
		ev = host_find(m, HOST_EV_CONN_ERROR, a, NULL, 0, NULL);
		g_assert_nonnull(ev);
		if (ev != NULL) {
			g_assert_cmpint(ev->reason, ==, PURPLE_CONNECTION_ERROR_INVALID_SETTINGS);
			g_assert_nonnull(strstr(ev->text, "Classic mode cannot use this passphrase"));
			g_assert_nonnull(strstr(ev->text, "Latin-1"));
		}
		/* libpurple disconnects from a timeout that holds the account:
		 * let it run before the account goes */
		g_assert_true(host_run_until(no_connection, a, T_MESSAGE));
		g_assert_false(purple_account_is_connected(a));
		host_account_delete(a);
		/* Parley's own protocol takes it */
		m = host_mark();
		a = host_account_new(name, passes[i], 0);
		g_assert_true(host_sign_on(a, T_SESSION));
		g_assert_null(host_find(m, HOST_EV_CONN_ERROR, a, NULL, 0, NULL));
		host_account_delete(a);
		g_free(name);
		if (g_test_failed())
			log_dump(m);
	}
	host_run_for(50);
}

/* ---- /classic-host/oversize-frame ---------------------------------------- */

static void
test_oversize(Fix *f, gconstpointer data)
{
	char *b_who;
	guint m, pm, bm;
	GString *frame;
	guint i;

	STOP_IF_FAILED();     /* the setup did not get there */
	/* a second conversation, with another peer Parley dials */
	f->extra = peer_listen("py-b", PASSPHRASE, 0);
	STOP_IF_FAILED();
	b_who = g_strdup_printf("127.0.0.1:%u", f->extra->port);
	host_add_buddy(f->acct, b_who);
	parley_to_python(f, f->extra, b_who, "hello B");
	python_to_parley(f, f->extra, b_who, "hello from B");
	if (g_test_failed()) {
		g_free(b_who);
		return;
	}

	/* exactly MAX_FRAME is allowed: an unreadable message, no more */
	m = host_mark();
	pm = peer_mark(f->py);
	frame = g_string_new(NULL);
	g_string_append_printf(frame, "raw %08x", PARLEY_MAX_FRAME);
	for (i = 0; i < PARLEY_MAX_FRAME; i++)
		g_string_append(frame, "00");
	peer_cmd(f->py, "%s", frame->str);
	g_string_free(frame, TRUE);
	g_assert_nonnull(host_wait(m, HOST_EV_MESSAGE, f->acct, f->who, PURPLE_MESSAGE_ERROR,
	                           "could not be decrypted", T_MESSAGE));
	host_run_for(T_QUIET);
	g_assert_cmpint(peer_find(f->py, pm, "closed"), <, 0);

	/* one byte more: that connection is closed at once, without waiting
	 * for (or buffering) the payload */
	peer_cmd(f->py, "raw %08x", PARLEY_MAX_FRAME + 1);
	g_assert_true(peer_wait(f->py, pm, "closed", T_MESSAGE));
	host_run_for(T_QUIET);

	/* the account stays up, and the other conversation goes on */
	g_assert_true(purple_account_is_connected(f->acct));
	g_assert_null(host_find(m, HOST_EV_CONN_ERROR, f->acct, NULL, 0, NULL));
	g_assert_null(host_find(m, HOST_EV_SIGNED_OFF, f->acct, NULL, 0, NULL));
	bm = peer_mark(f->extra);
	parley_to_python(f, f->extra, b_who, "B, are you still there?");
	python_to_parley(f, f->extra, b_who, "yes, still here");
	g_assert_cmpuint(peer_count(f->extra, bm, "closed"), ==, 0);
	g_assert_cmpuint(peer_count(f->extra, 0, "undecryptable"), ==, 0);
	g_assert_null(host_find(m, HOST_EV_MESSAGE, f->acct, b_who, PURPLE_MESSAGE_ERROR, NULL));
	g_free(b_who);
}

/* ---- /classic-host/add-buddy-no-dial ------------------------------------ */

/* §11: a buddy added while signed on is not probed either (the original
 * tool accepts one connection): Parley dials when its user writes. */
static void
test_add_buddy_no_dial(Fix *f, gconstpointer data)
{
	char *b_who;

	STOP_IF_FAILED();     /* the setup did not get there */
	f->extra = peer_listen("py-b", PASSPHRASE, 0);
	STOP_IF_FAILED();
	b_who = g_strdup_printf("127.0.0.1:%u", f->extra->port);
	host_add_buddy(f->acct, b_who);
	host_run_for(1500);
	g_assert_cmpint(peer_find(f->extra, 0, "connected"), <, 0);
	parley_to_python(f, f->extra, b_who, "now I write");
	g_assert_cmpuint(peer_count(f->extra, 0, "connected"), ==, 1);
	g_free(b_who);
}

/* ---- /classic-host/rekeys-then-eof ------------------------------------------- */

/* Two rekeys from the peer, back to back, and the connection ends while
 * their keys are still being derived: the derivations that finish later
 * find nothing (the connection is gone), and the account goes on. */
static void
test_rekeys_then_eof(Fix *f, gconstpointer data)
{
	static const char salt_a[] = "000102030405060708090a0b0c0d0e0f";
	static const char salt_b[] = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
	/* "__REKEY__" */
	static const char tag[] = "5f5f52454b45595f5f";
	guint m, pm;

	if (run_trapped(f))
		return;
	STOP_IF_FAILED();     /* the setup did not get there */
	m = host_mark();
	pm = peer_mark(f->py);
	peer_cmd(f->py, "raw %08x%s%s%08x%s%s", 25, tag, salt_a, 25, tag, salt_b);
	peer_cmd(f->py, "close");
	g_assert_true(peer_wait(f->py, pm, "closed", T_MESSAGE));
	/* long enough for every derivation to finish */
	host_run_for(2000);
	g_assert_true(purple_account_is_connected(f->acct));
	g_assert_null(host_find(m, HOST_EV_CONN_ERROR, f->acct, NULL, 0, NULL));
}

/* ---- /classic-host/unreachable ------------------------------------------- */

static guint16
closed_port(void)
{
	struct sockaddr_in s4;
	socklen_t len = sizeof(s4);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	guint16 port = 0;

	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	s4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *) &s4, sizeof(s4)) == 0 &&
	    getsockname(fd, (struct sockaddr *) &s4, &len) == 0)
		port = ntohs(s4.sin_port);
	if (fd >= 0)
		close(fd);                  /* bound, never listened: refused */
	return port;
}

/* No redialling in classic mode: what could not go is reported, with its
 * text. */
static void
test_unreachable(Fix *f, gconstpointer data)
{
	guint16 port = closed_port();
	char *who = g_strdup_printf("127.0.0.1:%u", port);
	char *want = g_strdup_printf("Message to %s could not be sent: \"lost words\"", who);
	guint m = host_mark();

	STOP_IF_FAILED();     /* the setup did not get there */
	g_assert_cmpuint(port, !=, 0);
	host_add_buddy(f->acct, who);
	host_send_im(f->acct, who, "lost words");
	g_assert_nonnull(host_wait(m, HOST_EV_MESSAGE, f->acct, who, PURPLE_MESSAGE_ERROR, want,
	                           T_MESSAGE));
	/* before that, the user was told it waits for a classic session, not
	 * for a secure one */
	g_assert_nonnull(host_find(m, HOST_EV_MESSAGE, f->acct, who, PURPLE_MESSAGE_SYSTEM,
	                           "once the classic session is up"));
	g_assert_null(host_find(m, HOST_EV_MESSAGE, f->acct, who, 0, "secure session"));
	g_assert_true(purple_account_is_connected(f->acct));
	g_free(want);
	g_free(who);
}

/* ---- /classic-host/incoming/many-rekeys --------------------------------- */

/* Parley's user rotates the key from the buddy menu; the peer follows. */
static void
rekey_by_parley(Fix *f, Peer *py)
{
	guint m = host_mark(), pm = peer_mark(py);

	g_assert_true(host_menu_action(f->acct, f->who, "Rekey now"));
	g_assert_nonnull(host_wait(m, HOST_EV_MESSAGE, f->acct, f->who, PURPLE_MESSAGE_SYSTEM,
	                           "Session key rotated (asked by you)", T_MESSAGE));
	g_assert_true(peer_wait(py, pm, "rekeyed peer", T_MESSAGE));
}

/* The peer's user rotates the key; Parley follows. */
static void
rekey_by_python(Fix *f, Peer *py)
{
	guint m = host_mark(), pm = peer_mark(py);
	char *asked = g_strdup_printf("Session key rotated (asked by %s)", f->who);

	peer_cmd(py, "rekey");
	g_assert_true(peer_wait(py, pm, "rekeyed self", T_MESSAGE));
	g_assert_nonnull(host_wait(m, HOST_EV_MESSAGE, f->acct, f->who, PURPLE_MESSAGE_SYSTEM,
	                           asked, T_MESSAGE));
	g_free(asked);
}

/* n numbered messages each way, Parley's first; every one arrives, once
 * and in order (each side's automatic rekeys after every 20 included). */
static void
both_ways(Fix *f, Peer *py, const char *tag, guint n)
{
	char *from_parley = g_strdup_printf("%s, from Parley", tag);
	char *from_python = g_strdup_printf("%s, from Python", tag);
	guint m = host_mark(), pm = peer_mark(py), i;
	GPtrArray *got;

	for (i = 1; i <= n; i++) {
		char *t = numbered(from_parley, i);

		host_send_im(f->acct, f->who, t);
		g_free(t);
	}
	g_assert_true(peer_wait_n(py, pm, "recv", n, T_SESSION));
	for (i = 1; i <= n; i++) {
		char *t = numbered(from_python, i);

		peer_say(py, t);
		g_free(t);
	}
	g_assert_true(parley_wait_n(f, f->who, m, n, T_SESSION));
	host_run_for(T_QUIET);
	got = peer_texts(py, pm);
	check_sequence(got, from_parley, n);
	g_ptr_array_unref(got);
	got = parley_texts(f, f->who, m);
	check_sequence(got, from_python, n);
	g_ptr_array_unref(got);
	g_free(from_parley);
	g_free(from_python);
}

/* An incoming classic connection through many rekeys, automatic and
 * manual, from both ends.  Every key request used to go through
 * admission again: the fifth found the guard busy, and the connection
 * waited for a key that never came. */
static void
test_incoming_many_rekeys(Fix *f, gconstpointer data)
{
	guint m = host_mark(), i;

	STOP_IF_FAILED();     /* the setup did not get there */
	/* two automatic rekeys each way */
	both_ways(f, f->py, "automatic", N_AUTO);
	STOP_IF_FAILED();
	for (i = 0; i < 4; i++) {
		char *tag = g_strdup_printf("round %u", i + 1);

		rekey_by_parley(f, f->py);
		rekey_by_python(f, f->py);
		both_ways(f, f->py, tag, 3);
		g_free(tag);
		STOP_IF_FAILED();
	}
	/* 4 automatic + 8 manual rotations after the salt's key */
	g_assert_cmpint(host_last_rekey_epoch(m, f->acct, f->who), ==, 12);
	check_clean(f, f->mark, 0);
}

/* ---- /classic-host/incoming/again-and-again ----------------------------- */

#define N_AGAIN 100

static void
wait_ended(Fix *f, guint since)
{
	char *want = g_strdup_printf("Classic session with %s ended.", f->who);

	g_assert_nonnull(host_wait(since, HOST_EV_MESSAGE, f->acct, f->who, PURPLE_MESSAGE_SYSTEM,
	                           want, T_MESSAGE));
	g_free(want);
}

/* One more incoming session from the same address: up, n each way, over. */
static void
incoming_session(Fix *f, const char *tag, guint n)
{
	guint m = host_mark();
	Peer *py = peer_connect(tag, PASSPHRASE, 8, host_account_port(f->acct));

	g_assert_true(peer_wait(py, 0, "key-ready", T_SESSION));
	python_to_parley(f, py, f->who, "hello again");
	parley_to_python(f, py, f->who, "welcome back");
	if (!g_test_failed())
		both_ways(f, py, tag, n);
	if (g_test_failed())
		peer_dump(py);
	m = host_mark();
	peer_stop(py);
	wait_ended(f, m);
}

/* The same classic peer calls again and again, and Parley calls it in
 * between: a connection of an ended session was once left behind as the
 * peer's, and the next call from that address closed it again (freed). */
static void
test_incoming_again(Fix *f, gconstpointer data)
{
	guint m, pm;
	char *who_listening;
	Peer *py;
	static const char tag[] = "5f5f52454b45595f5f";     /* "__REKEY__" */
	static const char salt[] = "00112233445566778899aabbccddeeff";

	if (run_trapped(f))
		return;
	STOP_IF_FAILED();     /* the setup did not get there */
	both_ways(f, f->py, "first", N_AGAIN);
	m = host_mark();
	peer_stop(f->py);
	f->py = NULL;
	wait_ended(f, m);
	STOP_IF_FAILED();

	/* Parley dials the peer, now listening, as a buddy of its own */
	f->extra = peer_listen("py-listening", PASSPHRASE, 8);
	STOP_IF_FAILED();
	who_listening = g_strdup_printf("127.0.0.1:%u", f->extra->port);
	host_add_buddy(f->acct, who_listening);
	parley_to_python(f, f->extra, who_listening, "I call you this time");
	python_to_parley(f, f->extra, who_listening, "and I answer");
	m = host_mark();
	peer_stop(f->extra);
	f->extra = NULL;
	g_free(who_listening);
	STOP_IF_FAILED();

	incoming_session(f, "second", N_AGAIN);
	STOP_IF_FAILED();
	incoming_session(f, "third", N_AGAIN);
	STOP_IF_FAILED();

	/* a fourth closes in the middle of its rekey */
	py = peer_connect("fourth", PASSPHRASE, 8, host_account_port(f->acct));
	g_assert_true(peer_wait(py, 0, "key-ready", T_SESSION));
	python_to_parley(f, py, f->who, "one message, then a rekey cut short");
	pm = peer_mark(py);
	m = host_mark();
	peer_cmd(py, "raw %08x%s%s", 25, tag, salt);
	peer_cmd(py, "close");
	g_assert_true(peer_wait(py, pm, "closed", T_MESSAGE));
	wait_ended(f, m);
	peer_stop(py);
	STOP_IF_FAILED();

	/* and a fifth still gets through */
	incoming_session(f, "fifth", 5);
	g_assert_true(purple_account_is_connected(f->acct));
	g_assert_null(host_find(f->mark, HOST_EV_MESSAGE, f->acct, NULL, PURPLE_MESSAGE_ERROR, NULL));
}

/* ---- /classic-host/stranger/... ----------------------------------------- */

/* A classic caller who is no buddy: nothing is shown, no conversation
 * opens, until one of its frames decrypts. */
static void
test_stranger_shown_late(Fix *f, gconstpointer data)
{
	guint m = host_mark();

	f->py = peer_connect("py", PASSPHRASE, 1, host_account_port(f->acct));
	g_assert_true(peer_wait(f->py, 0, "key-ready", T_SESSION));
	/* past Parley's 2-second start: still not a word */
	host_run_for(PARLEY_CLASSIC_START_DELAY_MS + 500);
	g_assert_null(host_find(m, HOST_EV_MESSAGE, f->acct, NULL, 0, NULL));
	g_assert_null(purple_find_conversation_with_account(PURPLE_CONV_TYPE_IM, f->who, f->acct));
	python_to_parley(f, f->py, f->who, "it is me");
	g_assert_nonnull(host_find(m, HOST_EV_MESSAGE, f->acct, f->who, PURPLE_MESSAGE_SYSTEM,
	                           "Classic mode"));
	parley_to_python(f, f->py, f->who, "so it is");
	check_clean(f, f->mark, 0);
}

/* A stranger whose first frame does not decrypt is closed without a
 * word: no conversation, no notice, nothing of it kept. */
static void
test_stranger_wrong_passphrase(Fix *f, gconstpointer data)
{
	guint m = host_mark();

	f->py = peer_connect("py", "not the passphrase", 1, host_account_port(f->acct));
	g_assert_true(peer_wait(f->py, 0, "key-ready", T_SESSION));
	peer_say(f->py, "let me in");
	g_assert_true(peer_wait(f->py, 0, "closed", T_SESSION));
	host_run_for(T_QUIET);
	g_assert_null(host_find(m, HOST_EV_MESSAGE, f->acct, NULL, 0, NULL));
	g_assert_null(purple_find_conversation_with_account(PURPLE_CONV_TYPE_IM, f->who, f->acct));
	g_assert_true(purple_account_is_connected(f->acct));
	peer_stop(f->py);
	f->py = NULL;
	/* the right passphrase from there, once its 1-second backoff is over */
	host_run_for(1100);
	f->py = peer_connect("py-2", PASSPHRASE, 1, host_account_port(f->acct));
	g_assert_true(peer_wait(f->py, 0, "key-ready", T_SESSION));
	python_to_parley(f, f->py, f->who, "now with the right one");
}

/* A stranger that says nothing is closed when its time to prove the
 * passphrase is up (shortened here; PARLEY_CLASSIC_PROOF_MS otherwise). */
static void
test_stranger_idle(Fix *f, gconstpointer data)
{
	guint m = host_mark();
	gint64 t0;

	if (run_trapped(f))
		return;
	g_setenv("PARLEY_TEST_HANDSHAKE_TIMEOUT_MS", "4000", TRUE);
	t0 = g_get_monotonic_time() / 1000;
	f->py = peer_connect("py", PASSPHRASE, 1, host_account_port(f->acct));
	g_assert_true(peer_wait(f->py, 0, "key-ready", T_SESSION));
	g_assert_true(peer_wait(f->py, 0, "closed", 10000));
	g_assert_cmpint(g_get_monotonic_time() / 1000 - t0, >=, 4000);
	g_assert_null(host_find(m, HOST_EV_MESSAGE, f->acct, NULL, 0, NULL));
	g_assert_true(purple_account_is_connected(f->acct));
}

/* Strangers cannot make Parley derive keys without end: at most
 * PARLEY_MAX_HANDSHAKES_PER_ADDR connections from one address wait for
 * their proof, and __REKEY__ frames before any proof are bounded by the
 * PBKDF2 cap; an honest buddy still gets through meanwhile. */
static void
test_stranger_rekey_flood(Fix *f, gconstpointer data)
{
	static const char tag[] = "5f5f52454b45595f5f";
	Peer *flood[PARLEY_MAX_HANDSHAKES_PER_ADDR + 2];
	guint i, j, refused = 0;

	if (run_trapped(f))
		return;
	for (i = 0; i < G_N_ELEMENTS(flood); i++) {
		flood[i] = peer_connect("flood", "a guess", 1, host_account_port(f->acct));
		host_run_for(100);
	}
	for (i = 0; i < G_N_ELEMENTS(flood); i++) {
		GString *raw = g_string_new("raw ");

		/* four rekeys each, as fast as they go */
		for (j = 0; j < 4; j++)
			g_string_append_printf(raw, "%08x%s%032x", 25, tag, i * 16 + j);
		peer_cmd(flood[i], "%s", raw->str);
		g_string_free(raw, TRUE);
	}
	host_run_for(3000);
	for (i = 0; i < G_N_ELEMENTS(flood); i++)
		refused += peer_find(flood[i], 0, "closed") >= 0;
	/* the two beyond the per-address limit were turned away at once */
	g_assert_cmpuint(refused, >=, G_N_ELEMENTS(flood) - PARLEY_MAX_HANDSHAKES_PER_ADDR);
	g_assert_true(purple_account_is_connected(f->acct));
	g_assert_null(host_find(f->mark, HOST_EV_MESSAGE, f->acct, NULL, 0, NULL));
	for (i = 0; i < G_N_ELEMENTS(flood); i++)
		peer_stop(flood[i]);
	host_run_for(T_QUIET);
	/* every slot came back: a caller with the passphrase gets in */
	f->py = peer_connect("py", PASSPHRASE, 1, host_account_port(f->acct));
	g_assert_true(peer_wait(f->py, 0, "key-ready", T_SESSION));
	python_to_parley(f, f->py, f->who, "after the flood");
}

/* ---- /classic-host/stranger/replay-as-proof --------------------------------- */

/* Hex of one frame (length, then payload). */
static char *
frame_hex(const uint8_t *payload, size_t len)
{
	GString *s = g_string_new(NULL);

	g_string_append_printf(s, "%08x", (guint) len);
	for (size_t i = 0; i < len; i++)
		g_string_append_printf(s, "%02x", payload[i]);
	return g_string_free(s, FALSE);
}

/* Someone who recorded one classic session (a salt S0 and one frame under
 * its key) but does not know the passphrase calls as a stranger, rekeys to
 * S0 and replays the frame.  Rekeys are not authenticated, so the frame
 * decrypts; it once counted as proof, opened a conversation and showed
 * the replayed text.  A key of the caller's choosing proves nothing: on
 * probation the rekey ends the connection. */
static void
test_stranger_replay(Fix *f, gconstpointer data)
{
	static const char text[] = "words recorded last week";
	uint8_t s0[PARLEY_SALT_LEN], key[PARLEY_CLASSIC_KEY_LEN];
	uint8_t rekey[PARLEY_CLASSIC_REKEY_TAG_LEN + PARLEY_SALT_LEN];
	uint8_t payload[PARLEY_CLASSIC_NONCE_LEN + PARLEY_GCM_TAG_LEN + sizeof(text) - 1];
	guint m = host_mark();
	char *h1, *h2;

	/* the recording: a salt, and one frame under its key */
	parley_random_bytes(s0, sizeof(s0));
	g_assert_true(parley_pbkdf2_sha256(PASSPHRASE, strlen(PASSPHRASE), s0, sizeof(s0),
	                                   PARLEY_CLASSIC_ITERATIONS, key, sizeof(key)));
	parley_random_bytes(payload, PARLEY_CLASSIC_NONCE_LEN);
	g_assert_true(parley_aes_gcm_seal(key, sizeof(key), payload, NULL, 0, text,
	                                  sizeof(text) - 1,
	                                  payload + PARLEY_CLASSIC_NONCE_LEN + PARLEY_GCM_TAG_LEN,
	                                  payload + PARLEY_CLASSIC_NONCE_LEN));
	memcpy(rekey, PARLEY_CLASSIC_REKEY_TAG, PARLEY_CLASSIC_REKEY_TAG_LEN);
	memcpy(rekey + PARLEY_CLASSIC_REKEY_TAG_LEN, s0, sizeof(s0));
	h1 = frame_hex(rekey, sizeof(rekey));
	h2 = frame_hex(payload, sizeof(payload));

	/* the replayer knows no passphrase: it only reads the salt */
	f->py = peer_connect("replayer", "not the passphrase", 1, host_account_port(f->acct));
	g_assert_true(peer_wait(f->py, 0, "key-ready", T_SESSION));
	peer_cmd(f->py, "raw %s%s", h1, h2);
	g_assert_true(peer_wait(f->py, 0, "closed", T_SESSION));
	host_run_for(T_QUIET);
	g_assert_null(host_find(m, HOST_EV_MESSAGE, f->acct, NULL, 0, NULL));
	g_assert_null(purple_find_conversation_with_account(PURPLE_CONV_TYPE_IM, f->who, f->acct));
	g_assert_true(purple_account_is_connected(f->acct));
	g_free(h1);
	g_free(h2);
	parley_wipe(key, sizeof(key));
}

/* ---- /classic-host/stranger/one-guess-per-connection -------------------- */

/* A stranger's unreadable frame ends its connection, and nothing after it
 * in the same read is looked at: once a batch of guesses with the right
 * one last showed that one. */
static void
test_stranger_one_guess(Fix *f, gconstpointer data)
{
	guint m = host_mark();
	GString *raw = g_string_new("raw ");
	uint8_t junk[64];
	char *h;

	f->py = peer_connect("py", PASSPHRASE, 1, host_account_port(f->acct));
	g_assert_true(peer_wait(f->py, 0, "key-ready", T_SESSION));
	/* a wrong guess (junk that does not decrypt), then the right words
	 * right behind it */
	parley_random_bytes(junk, sizeof(junk));
	h = frame_hex(junk, sizeof(junk));
	g_string_append(raw, h);
	g_free(h);
	peer_cmd(f->py, "%s", raw->str);
	peer_say(f->py, "the right one, after a wrong one");
	g_string_free(raw, TRUE);
	host_run_for(T_QUIET * 4);
	g_assert_null(host_find(m, HOST_EV_MESSAGE, f->acct, NULL, 0, NULL));
	g_assert_null(purple_find_conversation_with_account(PURPLE_CONV_TYPE_IM, f->who, f->acct));
}

/* ---- /classic-host/stranger/old-entry-is-no-buddy --------------------------- */

/* After a stranger's session from an address, the next caller from there
 * is still a stranger (its entry is no buddy): on probation, and closed
 * without a word at its first unreadable frame; and the entry is never
 * dialled when the user writes to it. */
static void
test_stranger_old_entry(Fix *f, gconstpointer data)
{
	guint m, dials;

	f->py = peer_connect("py", PASSPHRASE, 1, host_account_port(f->acct));
	g_assert_true(peer_wait(f->py, 0, "key-ready", T_SESSION));
	python_to_parley(f, f->py, f->who, "a stranger, with the passphrase");
	STOP_IF_FAILED();
	m = host_mark();
	peer_stop(f->py);
	f->py = NULL;
	wait_ended(f, m);

	m = host_mark();
	f->py = peer_connect("py-2", "a guess", 1, host_account_port(f->acct));
	g_assert_true(peer_wait(f->py, 0, "key-ready", T_SESSION));
	peer_say(f->py, "guessing");
	g_assert_true(peer_wait(f->py, 0, "closed", T_SESSION));
	host_run_for(T_QUIET);
	g_assert_null(host_find(m, HOST_EV_MESSAGE, f->acct, NULL, 0, NULL));
	peer_stop(f->py);
	f->py = NULL;

	/* the original tool listens only when started so: Parley waits for
	 * the stranger to call again rather than dial its address */
	dials = host_dials();
	host_send_im(f->acct, f->who, "are you there?");
	host_run_for(1000);
	g_assert_cmpuint(host_dials(), ==, dials);
}

/* ---- /classic-host/incoming/close-after-rekey ----------------------------- */

/* The peer rekeys, writes on, and quits at once: what it wrote under the
 * new key arrives while Parley still derives that key, and is shown once
 * it is ready (it was lost without a word). */
static void
test_close_after_rekey(Fix *f, gconstpointer data)
{
	guint m = host_mark(), pm = peer_mark(f->py), i;
	GPtrArray *got;

	STOP_IF_FAILED();     /* the setup did not get there */
	for (i = 1; i <= 5; i++) {
		char *t = numbered("before and after", i);

		peer_say(f->py, t);
		g_free(t);
		if (i == 2)
			peer_cmd(f->py, "rekey");
	}
	g_assert_true(peer_wait_n(f->py, pm, "sent", 5, T_MESSAGE));
	peer_cmd(f->py, "close");
	g_assert_true(parley_wait_n(f, f->who, m, 5, T_SESSION));
	got = parley_texts(f, f->who, m);
	check_sequence(got, "before and after", 5);
	g_ptr_array_unref(got);
	g_assert_null(host_find(m, HOST_EV_MESSAGE, f->acct, f->who, PURPLE_MESSAGE_ERROR, NULL));
	wait_ended(f, m);
}

/* ---- main ----------------------------------------------------------------- */

int
main(int argc, char **argv)
{
	GError *error = NULL;
	char *script;
	int rc;

	g_test_init(&argc, &argv, NULL);
	g_test_set_nonfatal_assertions();
	/* GTest makes warnings fatal; the host records them instead and every
	 * case checks that none came */
	g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_ERROR);
	g_setenv("PARLEY_TEST_RETRY_MS", "200", FALSE);

	script = peer_script();
	if (!g_file_test(PYTHON, G_FILE_TEST_IS_EXECUTABLE) ||
	    !g_file_test(script, G_FILE_TEST_EXISTS) ||
	    !g_spawn_command_line_sync(PYTHON " -c 'import Cryptodome'", NULL, NULL, &rc, NULL) ||
	    !g_spawn_check_wait_status(rc, NULL)) {
		/* the whole program is skipped, not failed: the TAP plan says why */
		printf("1..0 # SKIP %s with python3-pycryptodome, or %s, not found\n", PYTHON,
		       script);
		g_free(script);
		return 0;
	}
	g_free(script);

	if (!host_init(&error)) {
		g_printerr("# cannot start the libpurple host: %s\n", error->message);
		printf("Bail out! %s\n", error->message);
		g_error_free(error);
		return 1;
	}

	CASE_BOTH("/classic-host/messages-both-ways", test_messages, .no_session = TRUE);
	CASE_BOTH("/classic-host/auto-rekey-45", test_auto_rekey, .window = 1);
	CASE_BOTH("/classic-host/auto-rekey-45-interleaved", test_auto_rekey_interleaved,
	          .window = 8);
	CASE_BOTH("/classic-host/manual-rekey", test_manual_rekey, .window = 1);
	CASE_BOTH("/classic-host/rekey-crossing-message", test_rekey_crossing, .window = 8);
	CASE_BOTH("/classic-host/simultaneous-rekey", test_simultaneous_rekey, .window = 1);
	CASE_BOTH("/classic-host/two-rekeys-in-a-row", test_two_rekeys, .window = 1);
	CASE_BOTH("/classic-host/wrong-passphrase", test_wrong_passphrase,
	          .python_pass = "correct horse battery stapler", .no_session = TRUE);
	CASE_BOTH("/classic-host/latin1-passphrase", test_latin1,
	          .parley_pass = CREME_NFC, .python_pass = CREME_NFC);
	{
		/* Parley normalises to NFC first; the original takes what is typed */
		static const Opts nfd = { PARLEY_DIALS, CREME_NFD, CREME_NFC };

		g_test_add("/classic-host/latin1-passphrase/nfd-at-parley", Fix, &nfd, fix_setup,
		           test_latin1, fix_teardown);
	}
	g_test_add_func("/classic-host/non-latin1-refused", test_non_latin1);
	CASE_BOTH("/classic-host/oversize-frame", test_oversize, .window = 1);
	CASE_DIALS("/classic-host/add-buddy-no-dial", test_add_buddy_no_dial, .window = 1);
	CASE_DIALS("/classic-host/unreachable", test_unreachable, .window = 1);
	CASE_BOTH("/classic-host/rekeys-then-eof", test_rekeys_then_eof, .window = 1,
	          .trapped = TRUE);
	CASE_LISTENS("/classic-host/incoming/many-rekeys", test_incoming_many_rekeys, .window = 8);
	CASE_LISTENS("/classic-host/incoming/again-and-again", test_incoming_again, .window = 8,
	             .trapped = TRUE);
	CASE_LISTENS("/classic-host/stranger/shown-on-first-message", test_stranger_shown_late,
	             .window = 1, .stranger = TRUE, .no_peer = TRUE);
	CASE_LISTENS("/classic-host/stranger/wrong-passphrase-closed",
	             test_stranger_wrong_passphrase, .window = 1, .stranger = TRUE,
	             .no_peer = TRUE);
	CASE_LISTENS("/classic-host/stranger/idle-timeout", test_stranger_idle, .window = 1,
	             .stranger = TRUE, .no_peer = TRUE, .trapped = TRUE);
	CASE_LISTENS("/classic-host/stranger/rekey-flood", test_stranger_rekey_flood, .window = 1,
	             .stranger = TRUE, .no_peer = TRUE, .trapped = TRUE);
	CASE_BOTH("/classic-host/incoming/close-after-rekey", test_close_after_rekey, .window = 1);
	CASE_LISTENS("/classic-host/stranger/replay-as-proof", test_stranger_replay, .window = 1,
	             .stranger = TRUE, .no_peer = TRUE);
	CASE_LISTENS("/classic-host/stranger/one-guess-per-connection", test_stranger_one_guess,
	             .window = 1, .stranger = TRUE, .no_peer = TRUE);
	CASE_LISTENS("/classic-host/stranger/old-entry-is-no-buddy", test_stranger_old_entry,
	             .window = 1, .stranger = TRUE, .no_peer = TRUE);

	rc = g_test_run();
	host_shutdown();
	return rc;
}
