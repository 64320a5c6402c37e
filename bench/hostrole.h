/*
 * hostrole.h - what the benchmark's roles that run a headless libpurple
 * host (tests/host.c) share: starting the host and its accounts, sending
 * as the user does, and the commands the conductor sends on stdin.
 * e2e.c (e2e-a, e2e-b, listen) and rtt.c (rtt-a, rtt-b) use it.
 *
 * Ownership: accounts belong to libpurple (host.h); a line handed to a
 * BenchCommandFunc belongs to the caller and lives for the call.
 */
#ifndef PARLEY_BENCH_HOSTROLE_H
#define PARLEY_BENCH_HOSTROLE_H

#include <glib.h>
#include <purple.h>

/* Line-buffered stdout (figures and replies go to the conductor as they
 * come), as many descriptors as allowed, and the host started; exits the
 * process if the host cannot start. */
void bench_host_init(void);

/* A Parley account named name with the benchmark's passphrase, listening
 * (on a free port) or not, signed on; exits the process if it cannot sign
 * on.  BENCH_REKEY_MESSAGES=N sets its "rekey-messages" option. */
PurpleAccount *bench_host_account(const char *name, gboolean listen);

/* Send text in the IM conversation with who, as the user does (our texts
 * hold nothing HTML would change). */
void bench_host_send(PurpleAccount *acct, const char *who, const char *text);

/* Call handle with each line the conductor writes on stdin; at EOF,
 * bench_host_quitting() turns TRUE. */
typedef void (*BenchCommandFunc)(const char *line);
void bench_host_watch_stdin(BenchCommandFunc handle);
/* A HostCondFunc: TRUE once stdin has closed. */
gboolean bench_host_quitting(gpointer data);

#endif
