/*
 * host.c - the headless libpurple host (see host.h).
 *
 * What a UI gives libpurple, done the plainest way: an event loop on GLib,
 * conversation/notify/request/debug UI operations that write into an event
 * log instead of windows, and libpurple's own signals for presence and
 * typing.  libpurple's UIs (Pidgin, Finch, the nullclient example) were
 * the model for the event loop glue; this one also records misuse that a
 * real UI would only show as a busy loop or a GLib warning.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <purple.h>

#include "host.h"

#define PARLEY_PRPL "prpl-parley"
#define PARLEY_COMPANION "core-parley"
#define MIN_ITERATIONS 200000

static char *user_dir;
static GPtrArray *events;               /* HostEvent*, seq = index + 1 */
static GHashTable *watches;             /* input handle -> Watch* */
static char *debug_filter;              /* NULL: libpurple debug off */
/* connections the plugin has open, by its debug log ("conn N: accepted",
 * "dialling" ... "closed") */
static GHashTable *live_conns;
static guint dials;                     /* "conn N: dialling" lines so far */
static void *plugin_module;             /* the loaded protocol plugin, for dlsym */
static guint (*plugin_kdf_busy)(void);
static char *pending_answer;
static gboolean answer_armed;
static char *pending_bool_id;           /* a fields dialog's boolean to set, or NULL */
static gboolean pending_bool;
static GList *open_requests;            /* Request* */
static int signal_handle;               /* our handle for purple signals */
static gboolean initialised;

/* ---- under AddressSanitizer ------------------------------------------ */

#if defined(__SANITIZE_ADDRESS__)
/* LeakSanitizer runs at exit.  libpurple and what its bundled plugins
 * load leave a few blocks behind that are not Parley's; name them, so that
 * a leak of Parley's or the host's still fails the test.  Suppressions
 * match on the allocation's whole stack: unwind fully at malloc (ASan's
 * fast unwinder stops at the first library built without frame pointers),
 * and keep the plugins mapped at exit (PURPLE_LEAKCHECK_HELP, host_init). */
const char *__asan_default_options(void);
const char *__lsan_default_suppressions(void);

const char *
__asan_default_options(void)
{
	return "fast_unwind_on_malloc=0";
}

const char *
__lsan_default_suppressions(void)
{
	return "leak:purple_prefs_connect_callback\n"  /* never disconnected by libpurple */
	       "leak:purple_media_manager_get\n"       /* GStreamer, PulseAudio (XMPP plugin) */
	       "leak:libpulse.so\n"
	       "leak:libgstreamer-1.0.so\n"
	       "leak:dbus_g_bus_get\n"                 /* libpurple's network init */
	       "leak:_dl_init\n"                       /* library constructors (GLib's) */
	       "leak:libtcl8.6.so\n"                   /* libpurple's Tcl and Perl loaders */
	       "leak:libperl.so\n"
	       "leak:libvulkan.so\n";
}
#endif

/* ---- the event log -------------------------------------------------- */

static HostEvent *
ev_new(HostEventType type, PurpleAccount *account, const char *peer)
{
	HostEvent *ev = g_new0(HostEvent, 1);

	ev->type = type;
	ev->account = account != NULL ? g_strdup(purple_account_get_username(account)) : NULL;
	ev->peer = g_strdup(peer);
	ev->time_ms = g_get_monotonic_time() / 1000;
	g_ptr_array_add(events, ev);
	ev->seq = events->len;
	return ev;
}

static void
ev_free(gpointer data)
{
	HostEvent *ev = data;

	g_free(ev->account);
	g_free(ev->peer);
	g_free(ev->title);
	g_free(ev->primary);
	g_free(ev->secondary);
	g_free(ev->html);
	g_free(ev->text);
	g_free(ev);
}

const char *
host_event_type_name(HostEventType type)
{
	static const char *names[] = {
		"message", "signed-on", "signed-off", "connection-error", "buddy-signed-on",
		"buddy-signed-off", "buddy-status", "typing", "typed", "typing-stopped", "notify",
		"request", "glib-log", "loop-misuse"
	};

	return (guint) type < G_N_ELEMENTS(names) ? names[type] : "?";
}

guint
host_mark(void)
{
	return events != NULL ? events->len : 0;
}

static gboolean
ev_matches(const HostEvent *ev, HostEventType type, const char *account, const char *peer,
           PurpleMessageFlags flags, const char *contains)
{
	if (ev->type != type)
		return FALSE;
	if (account != NULL && g_strcmp0(ev->account, account) != 0)
		return FALSE;
	if (peer != NULL && g_strcmp0(ev->peer, peer) != 0)
		return FALSE;
	if ((ev->flags & flags) != flags)
		return FALSE;
	if (contains != NULL) {
		gboolean in = (ev->text != NULL && strstr(ev->text, contains) != NULL) ||
		              (ev->primary != NULL && strstr(ev->primary, contains) != NULL) ||
		              (ev->secondary != NULL && strstr(ev->secondary, contains) != NULL);

		if (!in)
			return FALSE;
	}
	return TRUE;
}

static const char *
acct_name(PurpleAccount *account)
{
	return account != NULL ? purple_account_get_username(account) : NULL;
}

const HostEvent *
host_find(guint since, HostEventType type, PurpleAccount *account, const char *peer,
          PurpleMessageFlags flags, const char *contains)
{
	guint i;

	for (i = since; i < events->len; i++) {
		const HostEvent *ev = g_ptr_array_index(events, i);

		if (ev_matches(ev, type, acct_name(account), peer, flags, contains))
			return ev;
	}
	return NULL;
}

const HostEvent *
host_find_last(guint since, HostEventType type, PurpleAccount *account, const char *peer,
               PurpleMessageFlags flags, const char *contains)
{
	guint i;

	for (i = events->len; i > since; i--) {
		const HostEvent *ev = g_ptr_array_index(events, i - 1);

		if (ev_matches(ev, type, acct_name(account), peer, flags, contains))
			return ev;
	}
	return NULL;
}

GPtrArray *
host_find_all(guint since, HostEventType type, PurpleAccount *account, const char *peer,
              PurpleMessageFlags flags, const char *contains)
{
	GPtrArray *all = g_ptr_array_new();
	guint i;

	for (i = since; i < events->len; i++) {
		HostEvent *ev = g_ptr_array_index(events, i);

		if (ev_matches(ev, type, acct_name(account), peer, flags, contains))
			g_ptr_array_add(all, ev);
	}
	return all;
}

typedef struct {
	guint since;
	HostEventType type;
	PurpleAccount *account;
	const char *peer;
	PurpleMessageFlags flags;
	const char *contains;
	const HostEvent *found;
} Waiting;

static gboolean
waiting_done(gpointer data)
{
	Waiting *w = data;

	w->found = host_find(w->since, w->type, w->account, w->peer, w->flags, w->contains);
	return w->found != NULL;
}

const HostEvent *
host_wait(guint since, HostEventType type, PurpleAccount *account, const char *peer,
          PurpleMessageFlags flags, const char *contains, guint timeout_ms)
{
	Waiting w = { since, type, account, peer, flags, contains, NULL };

	host_run_until(waiting_done, &w, timeout_ms);
	return w.found;
}

void
host_dump(guint since)
{
	guint i;
	gint64 first_ms = 0;

	for (i = since; i < events->len; i++) {
		const HostEvent *ev = g_ptr_array_index(events, i);
		const char *t = ev->text != NULL ? ev->text : "";

		if (i == since)
			first_ms = ev->time_ms;
		g_printerr("# [%u] +%" G_GINT64_FORMAT "ms %s acct=%s peer=%s flags=0x%x "
		           "%s%s%s%s%s%s%.200s%s\n", ev->seq, ev->time_ms - first_ms,
		           host_event_type_name(ev->type), ev->account ? ev->account : "-",
		           ev->peer ? ev->peer : "-", ev->flags,
		           ev->title ? ev->title : "", ev->title ? " | " : "",
		           ev->primary ? ev->primary : "", ev->primary ? " | " : "",
		           ev->secondary ? ev->secondary : "", ev->secondary ? " | " : "",
		           t, strlen(t) > 200 ? "..." : "");
	}
}

void
host_assert_clean(guint since)
{
	int k;

	for (k = HOST_EV_GLIB_LOG; k <= HOST_EV_LOOP_MISUSE; k++) {
		GPtrArray *bad = host_find_all(since, k, NULL, NULL, 0, NULL);
		guint i;

		for (i = 0; i < bad->len; i++) {
			const HostEvent *ev = g_ptr_array_index(bad, i);

			g_test_message("%s: %s", host_event_type_name(ev->type), ev->text);
		}
		g_assert_cmpuint(bad->len, ==, 0);
		g_ptr_array_unref(bad);
	}
}

/* ---- the event loop on GLib ------------------------------------------ */

/* A UI maps hang-ups and errors to "readable" (the reader then sees EOF)
 * and to "writable" (the writer sees the error), as Pidgin does. */
#define READ_COND  (G_IO_IN | G_IO_PRI | G_IO_HUP | G_IO_ERR)
#define WRITE_COND (G_IO_OUT | G_IO_HUP | G_IO_ERR)

typedef struct {
	guint handle;
	int fd;
	PurpleInputCondition want;
	PurpleInputFunction func;
	gpointer data;
	GSource *source;            /* NULL once dead (fd closed under it) */
} Watch;

static void
loop_misuse(const char *what)
{
	HostEvent *ev = ev_new(HOST_EV_LOOP_MISUSE, NULL, NULL);

	ev->text = g_strdup(what);
	g_printerr("# host: event loop misuse: %s\n", what);
}

static gboolean
watch_dispatch(gint fd, GIOCondition cond, gpointer data)
{
	Watch *w = data;
	PurpleInputCondition pc = 0;

	if (cond & G_IO_NVAL) {
		/* The fd was closed before its watch was removed: a real UI would
		 * spin on it.  Stop watching; the handle stays valid for removal. */
		char *what = g_strdup_printf("fd %d closed while watched (handle %u)", fd, w->handle);

		loop_misuse(what);
		g_free(what);
		g_source_unref(w->source);
		w->source = NULL;
		return G_SOURCE_REMOVE;
	}
	if ((w->want & PURPLE_INPUT_READ) && (cond & READ_COND))
		pc |= PURPLE_INPUT_READ;
	if ((w->want & PURPLE_INPUT_WRITE) && (cond & WRITE_COND))
		pc |= PURPLE_INPUT_WRITE;
	if (pc != 0)
		w->func(w->data, fd, pc);      /* may remove this very watch */
	return G_SOURCE_CONTINUE;
}

static guint
loop_input_add(int fd, PurpleInputCondition cond, PurpleInputFunction func, gpointer data)
{
	static guint next_handle = 1;
	Watch *w = g_new0(Watch, 1);
	GIOCondition gc = 0;

	if (cond & PURPLE_INPUT_READ)
		gc |= READ_COND;
	if (cond & PURPLE_INPUT_WRITE)
		gc |= WRITE_COND;
	w->handle = next_handle++;
	w->fd = fd;
	w->want = cond;
	w->func = func;
	w->data = data;
	w->source = g_unix_fd_source_new(fd, gc);
	g_source_set_callback(w->source, (GSourceFunc) (void (*)(void)) watch_dispatch, w, NULL);
	g_source_attach(w->source, NULL);
	g_hash_table_insert(watches, GUINT_TO_POINTER(w->handle), w);
	return w->handle;
}

static void
watch_free(gpointer data)
{
	Watch *w = data;

	if (w->source != NULL) {
		g_source_destroy(w->source);
		g_source_unref(w->source);
	}
	g_free(w);
}

static gboolean
loop_input_remove(guint handle)
{
	if (!g_hash_table_remove(watches, GUINT_TO_POINTER(handle))) {
		char *what = g_strdup_printf("input_remove of unknown handle %u", handle);

		loop_misuse(what);
		g_free(what);
		return FALSE;
	}
	return TRUE;
}

static gboolean
loop_timeout_remove(guint handle)
{
	GSource *s = g_main_context_find_source_by_id(NULL, handle);

	/* g_source_remove() would log a critical for a source that already
	 * fired or was removed: record it instead, it is the caller's bug */
	if (s == NULL || g_source_is_destroyed(s)) {
		char *what = g_strdup_printf("timeout_remove of unknown source %u", handle);

		loop_misuse(what);
		g_free(what);
		return FALSE;
	}
	g_source_destroy(s);
	return TRUE;
}

static PurpleEventLoopUiOps loop_ops = {
	.timeout_add = g_timeout_add,
	.timeout_remove = loop_timeout_remove,
	.input_add = loop_input_add,
	.input_remove = loop_input_remove,
	.input_get_error = NULL,
	.timeout_add_seconds = g_timeout_add_seconds,
};

typedef struct {
	gboolean fired;
} Deadline;

static gboolean
deadline_cb(gpointer data)
{
	((Deadline *) data)->fired = TRUE;
	return G_SOURCE_REMOVE;
}

gboolean
host_run_until(HostCondFunc cond, gpointer data, guint timeout_ms)
{
	Deadline d = { FALSE };
	guint id = g_timeout_add(timeout_ms, deadline_cb, &d);
	gboolean ok;

	while (!(ok = cond != NULL && cond(data)) && !d.fired)
		g_main_context_iteration(NULL, TRUE);
	if (!d.fired)
		g_source_remove(id);
	return ok;
}

void
host_run_for(guint ms)
{
	host_run_until(NULL, NULL, ms);
}

/* ---- conversations ---------------------------------------------------- */

static void
conv_write(PurpleConversation *conv, const char *who, const char *alias,
           const char *message, PurpleMessageFlags flags, time_t mtime)
{
	HostEvent *ev = ev_new(HOST_EV_MESSAGE, purple_conversation_get_account(conv),
	                       purple_conversation_get_name(conv));

	ev->flags = flags;
	ev->title = g_strdup(who);     /* the sender as libpurple names it */
	ev->html = g_strdup(message);
	/* exactly what the user reads: entities decoded, <br> as a newline */
	ev->text = purple_unescape_html(message);
}

static PurpleConversationUiOps conv_ops = {
	.write_conv = conv_write,
};

/* ---- notify and request dialogs ----------------------------------------- */

static void *
notify_message(PurpleNotifyMsgType type, const char *title, const char *primary,
               const char *secondary)
{
	HostEvent *ev = ev_new(HOST_EV_NOTIFY, NULL, NULL);

	ev->reason = type;
	ev->title = g_strdup(title);
	ev->primary = g_strdup(primary);
	ev->secondary = g_strdup(secondary);
	return NULL;                /* closed at once: libpurple calls its callback */
}

static void *
notify_formatted(const char *title, const char *primary, const char *secondary,
                 const char *text)
{
	HostEvent *ev = ev_new(HOST_EV_NOTIFY, NULL, NULL);

	ev->title = g_strdup(title);
	ev->primary = g_strdup(primary);
	ev->secondary = g_strdup(secondary);
	ev->html = g_strdup(text);
	ev->text = text != NULL ? purple_markup_strip_html(text) : NULL;
	return NULL;
}

static PurpleNotifyUiOps notify_ops = {
	.notify_message = notify_message,
	.notify_formatted = notify_formatted,
};

typedef struct {
	PurpleRequestType type;
	GCallback ok_cb;
	GCallback cancel_cb;
	gpointer user_data;
	char *answer;
	gboolean cancel;
	guint idle;
	PurpleRequestFields *fields;    /* a fields dialog's; destroyed with it */
	char *bool_id;                  /* its boolean to set, or NULL */
	gboolean bool_value;
	char *label;                    /* title and primary text, to find it by */
} Request;

typedef void (*InputCb)(gpointer user_data, const char *text);
typedef void (*FieldsCb)(gpointer user_data, PurpleRequestFields *fields);

/* A fields dialog is filled in as a user would: the answer in its first
 * text field, the armed boolean set. */
static void
request_fill(Request *r)
{
	GList *g, *f;
	gboolean text_done = FALSE;

	for (g = purple_request_fields_get_groups(r->fields); g != NULL; g = g->next) {
		for (f = purple_request_field_group_get_fields(g->data); f != NULL; f = f->next) {
			PurpleRequestField *field = f->data;
			const char *id = purple_request_field_get_id(field);

			switch (purple_request_field_get_type(field)) {
			case PURPLE_REQUEST_FIELD_STRING:
				if (!text_done && r->answer != NULL)
					purple_request_field_string_set_value(field, r->answer);
				text_done = TRUE;
				break;
			case PURPLE_REQUEST_FIELD_BOOLEAN:
				if (r->bool_id != NULL && g_strcmp0(id, r->bool_id) == 0)
					purple_request_field_bool_set_value(field, r->bool_value);
				break;
			default:
				break;
			}
		}
	}
}

static gboolean
request_answer_cb(gpointer data)
{
	Request *r = data;

	r->idle = 0;
	if (r->type == PURPLE_REQUEST_FIELDS) {
		if (!r->cancel)
			request_fill(r);
		if (!r->cancel && r->ok_cb != NULL)
			((FieldsCb) r->ok_cb)(r->user_data, r->fields);
		else if (r->cancel && r->cancel_cb != NULL)
			((FieldsCb) r->cancel_cb)(r->user_data, r->fields);
	} else if (!r->cancel && r->ok_cb != NULL) {
		((InputCb) r->ok_cb)(r->user_data, r->answer);
	} else if (r->cancel && r->cancel_cb != NULL) {
		((InputCb) r->cancel_cb)(r->user_data, NULL);
	}
	/* as a dialog does after its button: libpurple then calls close_request */
	purple_request_close(r->type, r);
	return G_SOURCE_REMOVE;
}

/* Answer r from the main loop (after libpurple has recorded it): text in
 * it (NULL: Cancel), the boolean bool_id set to value. */
static void
request_answer_with(Request *r, const char *text, const char *bool_id, gboolean value)
{
	r->answer = g_strdup(text);
	r->cancel = text == NULL;
	r->bool_id = g_strdup(bool_id);
	r->bool_value = value;
	r->idle = g_idle_add(request_answer_cb, r);
}

/* ... with what is armed, which is used up. */
static void
request_take_answer(Request *r)
{
	request_answer_with(r, pending_answer, pending_bool_id, pending_bool);
	if (pending_answer != NULL)
		memset(pending_answer, 0, strlen(pending_answer));
	g_clear_pointer(&pending_answer, g_free);
	g_clear_pointer(&pending_bool_id, g_free);
	answer_armed = FALSE;
}

static Request *
request_new(PurpleRequestType type, HostEvent *ev, const char *title, const char *primary,
            const char *secondary, GCallback ok_cb, GCallback cancel_cb, void *user_data)
{
	Request *r = g_new0(Request, 1);

	ev->title = g_strdup(title);
	ev->primary = g_strdup(primary);
	ev->secondary = g_strdup(secondary);
	r->type = type;
	r->ok_cb = ok_cb;
	r->cancel_cb = cancel_cb;
	r->user_data = user_data;
	r->label = g_strdup_printf("%s\n%s", title != NULL ? title : "",
	                           primary != NULL ? primary : "");
	open_requests = g_list_append(open_requests, r);
	return r;
}

static void *
request_input(const char *title, const char *primary, const char *secondary,
              const char *default_value, gboolean multiline, gboolean masked, gchar *hint,
              const char *ok_text, GCallback ok_cb, const char *cancel_text,
              GCallback cancel_cb, PurpleAccount *account, const char *who,
              PurpleConversation *conv, void *user_data)
{
	HostEvent *ev = ev_new(HOST_EV_REQUEST, account, who);
	Request *r = request_new(PURPLE_REQUEST_INPUT, ev, title, primary, secondary, ok_cb,
	                         cancel_cb, user_data);

	ev->flags = masked ? 1 : 0;
	if (answer_armed)
		request_take_answer(r);
	return r;
}

/* What a fields dialog holds, for the log: "id" for a text field (with
 * ":masked", ":required"; never its text), "id=0" or "id=1" for a
 * boolean, "id" for the rest; separated by spaces. */
static char *
fields_summary(PurpleRequestFields *fields, gboolean *masked)
{
	GString *s = g_string_new(NULL);
	GList *g, *f;

	*masked = FALSE;
	for (g = purple_request_fields_get_groups(fields); g != NULL; g = g->next) {
		for (f = purple_request_field_group_get_fields(g->data); f != NULL; f = f->next) {
			PurpleRequestField *field = f->data;

			if (s->len > 0)
				g_string_append_c(s, ' ');
			g_string_append(s, purple_request_field_get_id(field));
			switch (purple_request_field_get_type(field)) {
			case PURPLE_REQUEST_FIELD_STRING:
				if (purple_request_field_string_is_masked(field)) {
					g_string_append(s, ":masked");
					*masked = TRUE;
				}
				if (purple_request_field_is_required(field))
					g_string_append(s, ":required");
				break;
			case PURPLE_REQUEST_FIELD_BOOLEAN:
				g_string_append_printf(s, "=%d",
				                       purple_request_field_bool_get_value(field) ? 1 : 0);
				break;
			default:
				break;
			}
		}
	}
	return g_string_free(s, FALSE);
}

static void *
request_fields(const char *title, const char *primary, const char *secondary,
               PurpleRequestFields *fields, const char *ok_text, GCallback ok_cb,
               const char *cancel_text, GCallback cancel_cb, PurpleAccount *account,
               const char *who, PurpleConversation *conv, void *user_data)
{
	HostEvent *ev = ev_new(HOST_EV_REQUEST, account, who);
	Request *r = request_new(PURPLE_REQUEST_FIELDS, ev, title, primary, secondary, ok_cb,
	                         cancel_cb, user_data);
	gboolean masked;

	r->fields = fields;
	ev->text = fields_summary(fields, &masked);
	ev->flags = masked ? 1 : 0;
	if (answer_armed)
		request_take_answer(r);
	return r;
}

static void
request_close(PurpleRequestType type, void *ui_handle)
{
	Request *r = ui_handle;

	open_requests = g_list_remove(open_requests, r);
	if (r->idle)
		g_source_remove(r->idle);
	if (r->answer != NULL)
		memset(r->answer, 0, strlen(r->answer));
	g_free(r->answer);
	g_free(r->bool_id);
	g_free(r->label);
	/* a UI owns the fields it was given (Pidgin and Finch destroy them) */
	if (r->fields != NULL)
		purple_request_fields_destroy(r->fields);
	g_free(r);
}

static PurpleRequestUiOps request_ops = {
	.request_input = request_input,
	.request_fields = request_fields,
	.close_request = request_close,
};

void
host_answer_next_input(const char *text)
{
	host_answer_next_fields(text, NULL, FALSE);
}

void
host_answer_next_fields(const char *text, const char *bool_id, gboolean value)
{
	g_free(pending_answer);
	g_free(pending_bool_id);
	pending_answer = g_strdup(text);
	pending_bool_id = g_strdup(bool_id);
	pending_bool = value;
	answer_armed = TRUE;
}

gboolean
host_answer_open(const char *contains, const char *text, const char *bool_id,
                 gboolean value)
{
	GList *l;

	for (l = open_requests; l != NULL; l = l->next) {
		Request *r = l->data;

		if (r->idle != 0 || (contains != NULL && strstr(r->label, contains) == NULL))
			continue;
		request_answer_with(r, text, bool_id, value);
		return TRUE;
	}
	return FALSE;
}

guint
host_open_requests(void)
{
	GList *l;
	guint n = 0;

	for (l = open_requests; l != NULL; l = l->next)
		n += ((Request *) l->data)->idle == 0;
	return n;
}

/* ---- debug and GLib logs ------------------------------------------------- */

static gboolean
debug_shown(const char *category)
{
	if (debug_filter == NULL)
		return FALSE;
	return strcmp(debug_filter, "1") == 0 || g_strcmp0(category, debug_filter) == 0;
}

/* The plugin's own category is always asked for: its connections are
 * followed (host_live_conns) whether or not the log is shown. */
static gboolean
debug_is_enabled(PurpleDebugLevel level, const char *category)
{
	return debug_shown(category) || g_strcmp0(category, "parley") == 0;
}

static void
follow_conns(const char *category, const char *arg_s)
{
	guint id;
	char what[32];

	if (live_conns == NULL || g_strcmp0(category, "parley") != 0 ||
	    sscanf(arg_s, "conn %u: %31[a-z]", &id, what) != 2)
		return;
	if (strcmp(what, "dialling") == 0)
		dials++;
	if (strcmp(what, "accepted") == 0 || strcmp(what, "dialling") == 0)
		g_hash_table_add(live_conns, GUINT_TO_POINTER(id));
	else if (strcmp(what, "closed") == 0)
		g_hash_table_remove(live_conns, GUINT_TO_POINTER(id));
}

static void
debug_print(PurpleDebugLevel level, const char *category, const char *arg_s)
{
	follow_conns(category, arg_s);
	if (!debug_shown(category))
		return;
	/* stderr: stdout carries TAP */
	g_printerr("%.3f %s: %s", (double) (g_get_monotonic_time() % 1000000000) / 1e6,
	           category != NULL ? category : "-", arg_s);
}

static PurpleDebugUiOps debug_ops = {
	.print = debug_print,
	.is_enabled = debug_is_enabled,
};

static void
glib_log(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) {
		HostEvent *ev = ev_new(HOST_EV_GLIB_LOG, NULL, NULL);

		ev->title = g_strdup(domain);
		ev->text = g_strdup(message);
		ev->reason = level;
		g_printerr("# host: %s-%s: %s\n", domain ? domain : "?",
		           (level & G_LOG_LEVEL_CRITICAL) ? "CRITICAL" :
		           (level & G_LOG_LEVEL_WARNING) ? "WARNING" : "ERROR", message);
		return;
	}
	if (debug_filter != NULL)
		g_log_default_handler(domain, level, message, data);
}

/* ---- signals: presence, typing, the account ------------------------------ */

static void
buddy_event(PurpleBuddy *buddy, HostEventType type)
{
	ev_new(type, purple_buddy_get_account(buddy), purple_buddy_get_name(buddy));
}

static void
buddy_signed_on_cb(PurpleBuddy *buddy, gpointer data)
{
	buddy_event(buddy, HOST_EV_BUDDY_ON);
}

static void
buddy_signed_off_cb(PurpleBuddy *buddy, gpointer data)
{
	buddy_event(buddy, HOST_EV_BUDDY_OFF);
}

static void
buddy_status_cb(PurpleBuddy *buddy, PurpleStatus *old_status, PurpleStatus *status,
                gpointer data)
{
	HostEvent *ev = ev_new(HOST_EV_BUDDY_STATUS, purple_buddy_get_account(buddy),
	                       purple_buddy_get_name(buddy));

	ev->text = g_strdup(purple_status_get_id(status));
}

static void
typing_cb(PurpleAccount *account, const char *name, gpointer data)
{
	ev_new(GPOINTER_TO_INT(data), account, name);
}

static void
signed_on_cb(PurpleConnection *gc, gpointer data)
{
	ev_new(HOST_EV_SIGNED_ON, purple_connection_get_account(gc), NULL);
}

static void
signed_off_cb(PurpleConnection *gc, gpointer data)
{
	ev_new(HOST_EV_SIGNED_OFF, purple_connection_get_account(gc), NULL);
}

static void
connection_error_cb(PurpleConnection *gc, PurpleConnectionError reason,
                    const char *description, gpointer data)
{
	HostEvent *ev = ev_new(HOST_EV_CONN_ERROR, purple_connection_get_account(gc), NULL);

	ev->reason = reason;
	ev->text = g_strdup(description);
}

static void
connect_signals(void)
{
	void *blist = purple_blist_get_handle();
	void *convs = purple_conversations_get_handle();
	void *conns = purple_connections_get_handle();

	purple_signal_connect(blist, "buddy-signed-on", &signal_handle,
	                      PURPLE_CALLBACK(buddy_signed_on_cb), NULL);
	purple_signal_connect(blist, "buddy-signed-off", &signal_handle,
	                      PURPLE_CALLBACK(buddy_signed_off_cb), NULL);
	purple_signal_connect(blist, "buddy-status-changed", &signal_handle,
	                      PURPLE_CALLBACK(buddy_status_cb), NULL);
	purple_signal_connect(convs, "buddy-typing", &signal_handle,
	                      PURPLE_CALLBACK(typing_cb), GINT_TO_POINTER(HOST_EV_TYPING));
	purple_signal_connect(convs, "buddy-typed", &signal_handle,
	                      PURPLE_CALLBACK(typing_cb), GINT_TO_POINTER(HOST_EV_TYPED));
	purple_signal_connect(convs, "buddy-typing-stopped", &signal_handle,
	                      PURPLE_CALLBACK(typing_cb), GINT_TO_POINTER(HOST_EV_TYPING_STOPPED));
	purple_signal_connect(conns, "signed-on", &signal_handle,
	                      PURPLE_CALLBACK(signed_on_cb), NULL);
	purple_signal_connect(conns, "signed-off", &signal_handle,
	                      PURPLE_CALLBACK(signed_off_cb), NULL);
	purple_signal_connect(conns, "connection-error", &signal_handle,
	                      PURPLE_CALLBACK(connection_error_cb), NULL);
}

/* ---- the core --------------------------------------------------------- */

/* Runs right after libpurple registered its own preferences, before the
 * network code reads them: keep every packet on this machine. */
static void
ui_prefs_init(void)
{
	purple_prefs_add_none("/purple/network");
	purple_prefs_add_bool("/purple/network/map_ports", FALSE);   /* no UPnP, NAT-PMP */
	purple_prefs_add_bool("/purple/network/auto_ip", FALSE);     /* no discovery */
	purple_prefs_add_string("/purple/network/public_ip", "127.0.0.1");
	purple_prefs_add_string("/purple/network/stun_server", "");
	purple_prefs_add_none("/purple/logging");
	purple_prefs_add_bool("/purple/logging/log_ims", FALSE);
	purple_prefs_add_bool("/purple/logging/log_chats", FALSE);
	purple_prefs_add_bool("/purple/logging/log_system", FALSE);
}

static void
ui_init(void)
{
	purple_conversations_set_ui_ops(&conv_ops);
	purple_notify_set_ui_ops(&notify_ops);
	purple_request_set_ui_ops(&request_ops);
}

/* No buddy list window; but as for Pidgin and Finch, blist UI operations
 * make libpurple write blist.xml (it fills in its own saving functions,
 * which it calls only for a UI that has some). */
static PurpleBlistUiOps blist_ops;

void
host_save_blist(void)
{
	purple_blist_set_ui_ops(&blist_ops);
}

static PurpleCoreUiOps core_ops = {
	.ui_prefs_init = ui_prefs_init,
	.ui_init = ui_init,
};

static char *
plugin_dir(void)
{
	const char *dir = g_getenv("PARLEY_PLUGIN_DIR");
	const char *built = g_getenv("G_TEST_BUILDDIR");

	if (dir != NULL && *dir != '\0')
		return g_strdup(dir);
	if (built != NULL && *built != '\0')
		return g_build_filename(built, "..", ".libs", NULL);
	return g_build_filename(".libs", NULL);
}

gboolean
host_init(GError **error)
{
	char *dir;
	char *prpl_path;
	PurplePlugin *companion, *prpl;

	g_return_val_if_fail(!initialised, FALSE);

	/* what Pidgin and Finch do with these signals */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_IGN);

	events = g_ptr_array_new_with_free_func(ev_free);
	live_conns = g_hash_table_new(g_direct_hash, g_direct_equal);
	watches = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, watch_free);
	/* libpurple then keeps plugins mapped at exit: leak reports name them */
	g_setenv("PURPLE_LEAKCHECK_HELP", "1", FALSE);
	debug_filter = g_strdup(g_getenv("PARLEY_TEST_DEBUG"));
	if (debug_filter != NULL && *debug_filter == '\0')
		g_clear_pointer(&debug_filter, g_free);
	g_log_set_default_handler(glib_log, NULL);

	user_dir = g_dir_make_tmp("parley-test-XXXXXX", error);
	if (user_dir == NULL)
		return FALSE;
	dir = plugin_dir();
	prpl_path = g_build_filename(dir, "libparley." G_MODULE_SUFFIX, NULL);
	if (!g_file_test(prpl_path, G_FILE_TEST_EXISTS)) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
		            "%s not found: build the plugins first, or set PARLEY_PLUGIN_DIR",
		            prpl_path);
		g_free(prpl_path);
		g_free(dir);
		return FALSE;
	}
	g_free(prpl_path);

	purple_util_set_user_dir(user_dir);
	purple_debug_set_enabled(FALSE);      /* our debug_ops print, to stderr */
	purple_debug_set_ui_ops(&debug_ops);
	purple_core_set_ui_ops(&core_ops);
	purple_eventloop_set_ui_ops(&loop_ops);
	/* before core init: libpurple probes its search paths there, and loads
	 * the protocol plugins it finds */
	purple_plugins_add_search_path(dir);
	g_free(dir);

	if (!purple_core_init(HOST_UI_ID)) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "purple_core_init failed");
		return FALSE;
	}
	initialised = TRUE;
	purple_set_blist(purple_blist_new());
	purple_blist_load();
	purple_prefs_load();
	purple_pounces_load();
	connect_signals();

	/* what "Available" in the status box does: accounts go online */
	purple_savedstatus_activate(purple_savedstatus_new(NULL, PURPLE_STATUS_AVAILABLE));

	prpl = purple_find_prpl(PARLEY_PRPL);
	if (prpl == NULL) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
		            "libpurple did not load the protocol plugin " PARLEY_PRPL);
		return FALSE;
	}
	/* the loaded plugin's own symbols (its copy of kdf_worker.c, not a
	 * test program's) */
	plugin_module = prpl->path != NULL ? dlopen(prpl->path, RTLD_LAZY | RTLD_NOLOAD) : NULL;
	if (plugin_module != NULL)
		*(void **) &plugin_kdf_busy = dlsym(plugin_module, "parley_kdf_busy");
	if (plugin_kdf_busy == NULL) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
		            "the protocol plugin's PBKDF2 worker cannot be asked");
		return FALSE;
	}
	companion = purple_plugins_find_with_id(PARLEY_COMPANION);
	if (companion == NULL || !purple_plugin_load(companion)) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
		            "could not load the companion plugin " PARLEY_COMPANION);
		return FALSE;
	}
	return TRUE;
}

static void
remove_tree(const char *path)
{
	GDir *dir = g_dir_open(path, 0, NULL);
	const char *name;

	if (dir != NULL) {
		while ((name = g_dir_read_name(dir)) != NULL) {
			char *child = g_build_filename(path, name, NULL);

			if (g_file_test(child, G_FILE_TEST_IS_DIR) &&
			    !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
				remove_tree(child);
			else
				g_unlink(child);
			g_free(child);
		}
		g_dir_close(dir);
	}
	g_rmdir(path);
}

void
host_shutdown(void)
{
	GList *accounts, *l;

	if (!initialised)
		return;
	accounts = g_list_copy(purple_accounts_get_all());
	for (l = accounts; l != NULL; l = l->next)
		purple_accounts_delete(l->data);
	g_list_free(accounts);
	host_run_for(50);
	purple_core_quit();
	initialised = FALSE;
	/* what the plugins and libpurple left in the loop is theirs; ours goes */
	while (g_main_context_iteration(NULL, FALSE))
		;
	g_hash_table_destroy(watches);
	watches = NULL;
	if (user_dir != NULL)
		remove_tree(user_dir);
	g_clear_pointer(&user_dir, g_free);
	g_clear_pointer(&events, g_ptr_array_unref);
	g_clear_pointer(&live_conns, g_hash_table_destroy);
	if (plugin_module != NULL)
		dlclose(plugin_module);
	plugin_module = NULL;
	plugin_kdf_busy = NULL;
	g_clear_pointer(&debug_filter, g_free);
	g_clear_pointer(&pending_answer, g_free);
	g_clear_pointer(&pending_bool_id, g_free);
}

gpointer
host_plugin_symbol(const char *name)
{
	return plugin_module != NULL ? dlsym(plugin_module, name) : NULL;
}

guint
host_dials(void)
{
	return dials;
}

guint
host_live_conns(void)
{
	return live_conns != NULL ? g_hash_table_size(live_conns) : 0;
}

guint
host_kdf_busy(void)
{
	return plugin_kdf_busy();
}

static gboolean
settled(gpointer data)
{
	guint conns = GPOINTER_TO_UINT(data);

	return (conns == HOST_ANY_CONNS || host_live_conns() == conns) && host_kdf_busy() == 0;
}

static gboolean
tick_cb(gpointer data)
{
	return G_SOURCE_CONTINUE;
}

gboolean
host_wait_settled(guint conns, guint timeout_ms)
{
	/* a worker that finishes a cancelled job tells the main loop nothing:
	 * look now and then */
	guint tick = g_timeout_add(50, tick_cb, NULL);
	gboolean ok = host_run_until(settled, GUINT_TO_POINTER(conns), timeout_ms);

	g_source_remove(tick);
	if (!ok)
		g_test_message("the plugin did not settle: %u connections, %u PBKDF2 jobs",
		               host_live_conns(), host_kdf_busy());
	return ok;
}

const char *
host_user_dir(void)
{
	return user_dir;
}

/* Binds a listening-style socket (SO_REUSEADDR, as libpurple's listeners
 * have) to port on every address, IPv4 and IPv6 at once where possible;
 * port 0 lets the kernel choose.  Returns the port bound, or 0. */
static guint16
try_bind(guint16 port)
{
	struct sockaddr_in6 s6;
	struct sockaddr_in s4;
	socklen_t len;
	int fd, on = 1, off = 0;
	guint16 got = 0;
	gboolean v6_decides = TRUE; /* the dual-stack bind answers for both */

	fd = socket(AF_INET6, SOCK_STREAM, 0);
	if (fd >= 0) {
		memset(&s6, 0, sizeof(s6));
		s6.sin6_family = AF_INET6;
		s6.sin6_addr = in6addr_any;
		s6.sin6_port = htons(port);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
		len = sizeof(s6);
		if (bind(fd, (struct sockaddr *) &s6, sizeof(s6)) == 0) {
			if (getsockname(fd, (struct sockaddr *) &s6, &len) == 0)
				got = ntohs(s6.sin6_port);
		} else if (errno != EADDRINUSE) {
			v6_decides = FALSE; /* no IPv6 here: IPv4 alone decides */
		}
		close(fd);
		if (v6_decides)
			return got;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	g_assert_cmpint(fd, >=, 0);
	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	s4.sin_addr.s_addr = htonl(INADDR_ANY);
	s4.sin_port = htons(port);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	len = sizeof(s4);
	if (bind(fd, (struct sockaddr *) &s4, sizeof(s4)) == 0 &&
	    getsockname(fd, (struct sockaddr *) &s4, &len) == 0)
		got = ntohs(s4.sin_port);
	close(fd);
	return got;
}

/* A port nothing uses now, for the plugin to listen on later.  It is
 * taken from below the kernel's ephemeral range: a port from inside it
 * can become the local end of any outgoing connection (of this process,
 * or of a test running beside it) before the plugin binds it, and a
 * connected socket's port cannot be listened on. */
static guint16
free_port(void)
{
	char *text = NULL;
	guint low = 0, high = 0, from, i;
	guint16 port;

	if (g_file_get_contents("/proc/sys/net/ipv4/ip_local_port_range", &text, NULL, NULL))
		sscanf(text, "%u %u", &low, &high);
	g_free(text);
	from = MAX(low / 2, 1024);
	for (i = 0; low > from && i < 200; i++) {
		port = try_bind((guint16) g_random_int_range(from, low));
		if (port != 0)
			return port;
	}
	/* no room below the range: let the kernel choose */
	port = try_bind(0);
	g_assert_cmpuint(port, !=, 0);
	return port;
}

gboolean
host_have_ipv6(void)
{
	struct sockaddr_in6 s6;
	socklen_t len = sizeof(s6);
	int l, c;
	gboolean ok = FALSE;

	l = socket(AF_INET6, SOCK_STREAM, 0);
	if (l < 0)
		return FALSE;
	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	s6.sin6_addr = in6addr_loopback;
	if (bind(l, (struct sockaddr *) &s6, sizeof(s6)) == 0 && listen(l, 1) == 0 &&
	    getsockname(l, (struct sockaddr *) &s6, &len) == 0) {
		c = socket(AF_INET6, SOCK_STREAM, 0);
		if (c >= 0) {
			ok = connect(c, (struct sockaddr *) &s6, sizeof(s6)) == 0;
			close(c);
		}
	}
	close(l);
	return ok;
}

/* ---- accounts and buddies ------------------------------------------ */

PurpleAccount *
host_account_new(const char *name, const char *passphrase, guint16 port)
{
	PurpleAccount *account = purple_account_new(name, PARLEY_PRPL);

	purple_account_set_password(account, passphrase);
	purple_account_set_remember_password(account, TRUE);
	purple_account_set_int(account, "port", port != 0 ? port : free_port());
	purple_account_set_bool(account, "listen", TRUE);
	purple_account_set_int(account, "iterations", MIN_ITERATIONS);
	purple_accounts_add(account);
	return account;
}

guint16
host_account_port(PurpleAccount *account)
{
	return (guint16) purple_account_get_int(account, "port", 0);
}

char *
host_account_address(PurpleAccount *account, gboolean ipv6)
{
	return g_strdup_printf(ipv6 ? "[::1]:%u" : "127.0.0.1:%u", host_account_port(account));
}

typedef struct {
	PurpleAccount *account;
	guint since;
} SignOn;

static gboolean
sign_on_done(gpointer data)
{
	SignOn *s = data;

	return purple_account_is_connected(s->account) ||
	       host_find(s->since, HOST_EV_CONN_ERROR, s->account, NULL, 0, NULL) != NULL ||
	       purple_account_is_disconnected(s->account);
}

gboolean
host_sign_on(PurpleAccount *account, guint timeout_ms)
{
	SignOn s = { account, host_mark() };

	purple_account_set_enabled(account, HOST_UI_ID, TRUE);
	host_run_until(sign_on_done, &s, timeout_ms);
	return purple_account_is_connected(account);
}

void
host_sign_off(PurpleAccount *account)
{
	purple_account_set_enabled(account, HOST_UI_ID, FALSE);
}

void
host_account_delete(PurpleAccount *account)
{
	purple_accounts_delete(account);
}

PurpleBuddy *
host_add_buddy(PurpleAccount *account, const char *address)
{
	PurpleGroup *group = purple_find_group("Parley");
	PurpleBuddy *buddy;

	if (group == NULL) {
		group = purple_group_new("Parley");
		purple_blist_add_group(group, NULL);
	}
	buddy = purple_buddy_new(account, address, NULL);
	purple_blist_add_buddy(buddy, NULL, group, NULL);
	purple_account_add_buddy(account, buddy);
	return buddy;
}

gboolean
host_buddy_online(PurpleAccount *account, const char *who)
{
	PurpleBuddy *b = purple_find_buddy(account, who);

	return b != NULL && PURPLE_BUDDY_IS_ONLINE(b);
}

/* ---- what a user does ----------------------------------------------- */

PurpleConversation *
host_conv(PurpleAccount *account, const char *who)
{
	PurpleConversation *conv =
		purple_find_conversation_with_account(PURPLE_CONV_TYPE_IM, who, account);

	if (conv == NULL)
		conv = purple_conversation_new(PURPLE_CONV_TYPE_IM, account, who);
	return conv;
}

void
host_conv_close(PurpleAccount *account, const char *who)
{
	PurpleConversation *conv =
		purple_find_conversation_with_account(PURPLE_CONV_TYPE_IM, who, account);

	if (conv != NULL)
		purple_conversation_destroy(conv);
}

void
host_send_html(PurpleAccount *account, const char *who, const char *html)
{
	purple_conv_im_send(PURPLE_CONV_IM(host_conv(account, who)), html);
}

void
host_send_im(PurpleAccount *account, const char *who, const char *text)
{
	/* Pidgin's entry hands libpurple markup: the text escaped, each line
	 * break a <br> (gtk_imhtml_get_markup) */
	char *esc = purple_markup_escape_text(text, -1);
	char *html = purple_strreplace(esc, "\n", "<br>");

	host_send_html(account, who, html);
	g_free(esc);
	g_free(html);
}

void
host_typing(PurpleAccount *account, const char *who, PurpleTypingState state)
{
	PurpleConnection *gc = purple_account_get_connection(account);

	if (gc != NULL)
		serv_send_typing(gc, who, state);
}

typedef void (*MenuCb)(PurpleBlistNode *node, gpointer data);

gboolean
host_menu_action(PurpleAccount *account, const char *who, const char *label)
{
	PurpleBuddy *b = purple_find_buddy(account, who);
	PurplePlugin *prpl = purple_find_prpl(purple_account_get_protocol_id(account));
	PurplePluginProtocolInfo *info = prpl != NULL ? PURPLE_PLUGIN_PROTOCOL_INFO(prpl) : NULL;
	GList *menu, *l;
	PurpleMenuAction *found = NULL;

	if (b == NULL || info == NULL || info->blist_node_menu == NULL)
		return FALSE;
	menu = info->blist_node_menu((PurpleBlistNode *) b);
	for (l = menu; l != NULL; l = l->next) {
		PurpleMenuAction *a = l->data;

		if (a != NULL && g_strcmp0(a->label, label) == 0 && a->callback != NULL)
			found = a;
	}
	if (found != NULL)
		((MenuCb) found->callback)((PurpleBlistNode *) b, found->data);
	g_list_free_full(menu, (GDestroyNotify) purple_menu_action_free);
	return found != NULL;
}

PurpleCmdStatus
host_command(PurpleAccount *account, const char *who, const char *cmdline, char **error)
{
	PurpleConversation *conv = host_conv(account, who);
	char *err = NULL;
	char *markup = purple_markup_escape_text(cmdline, -1);
	PurpleCmdStatus st = purple_cmd_do_command(conv, cmdline, markup, &err);

	g_free(markup);
	if (error != NULL)
		*error = err;
	else
		g_free(err);
	return st;
}

/* ---- what a user reads --------------------------------------------- */

char *
host_session_details(PurpleAccount *account, const char *who)
{
	guint m = host_mark();
	const HostEvent *ev;

	if (!host_menu_action(account, who, "Session details..."))
		return NULL;
	ev = host_find(m, HOST_EV_NOTIFY, NULL, NULL, 0, NULL);
	return ev != NULL && ev->html != NULL ? g_strdup(ev->html) : NULL;
}

static char *
match_group(const char *pattern, const char *text)
{
	GRegex *re = g_regex_new(pattern, 0, 0, NULL);
	GMatchInfo *mi = NULL;
	char *found = NULL;

	g_assert_nonnull(re);
	if (text != NULL && g_regex_match(re, text, 0, &mi))
		found = g_match_info_fetch(mi, 1);
	g_match_info_free(mi);
	g_regex_unref(re);
	return found;
}

gint
host_details_epoch(const char *details)
{
	char *n = match_group("Current epoch:(?:</b>)?\\s*([0-9]+)", details);
	gint v = n != NULL ? (gint) g_ascii_strtoll(n, NULL, 10) : -1;

	g_free(n);
	return v;
}

char *
host_find_code(const char *text)
{
	return match_group("Verification code:(?:</b>)?\\s*([0-9]{3} [0-9]{3})", text);
}

gint
host_last_rekey_epoch(guint since, PurpleAccount *account, const char *who)
{
	const HostEvent *ev = host_find_last(since, HOST_EV_MESSAGE, account, who,
	                                     PURPLE_MESSAGE_SYSTEM, "Session key rotated");
	char *n = ev != NULL ? match_group("epoch ([0-9]+)", ev->text) : NULL;
	gint v = n != NULL ? (gint) g_ascii_strtoll(n, NULL, 10) : -1;

	g_free(n);
	return v;
}
