/*
 * hostrole.c - what the roles that run a headless host share (hostrole.h).
 */
#include "config.h"

#include <stdlib.h>
#include <unistd.h>

#include <glib-unix.h>

#include "bench.h"
#include "host.h"
#include "hostrole.h"

void
bench_host_init(void)
{
	GError *error = NULL;

	setvbuf(stdout, NULL, _IOLBF, 0);
	bench_raise_nofile();
	if (!host_init(&error)) {
		fprintf(stderr, "host: %s\n", error->message);
		exit(1);
	}
}

PurpleAccount *
bench_host_account(const char *name, gboolean listen)
{
	PurpleAccount *acct = host_account_new(name, BENCH_PASSPHRASE, 0);

	purple_account_set_bool(acct, "listen", listen);
	/* for experiments: §8's automatic rekey after N messages (0: never) */
	if (g_getenv("BENCH_REKEY_MESSAGES") != NULL)
		purple_account_set_int(acct, "rekey-messages",
		                       atoi(g_getenv("BENCH_REKEY_MESSAGES")));
	if (!host_sign_on(acct, 30000)) {
		fprintf(stderr, "host: %s could not sign on\n", name);
		exit(1);
	}
	return acct;
}

void
bench_host_send(PurpleAccount *acct, const char *who, const char *text)
{
	purple_conv_im_send(PURPLE_CONV_IM(host_conv(acct, who)), text);
}

static BenchLines stdin_lines;
static gboolean quitting;

static gboolean
stdin_cb(gint fd, GIOCondition cond, gpointer data)
{
	BenchCommandFunc handle = (BenchCommandFunc) data;
	char *line;

	while ((line = bench_lines_next(&stdin_lines, 0)) != NULL) {
		handle(line);
		g_free(line);
	}
	if (stdin_lines.eof) {
		quitting = TRUE;
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

void
bench_host_watch_stdin(BenchCommandFunc handle)
{
	bench_lines_init(&stdin_lines, STDIN_FILENO);
	g_unix_fd_add(STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR, stdin_cb, (gpointer) handle);
}

gboolean
bench_host_quitting(gpointer data)
{
	return quitting;
}
