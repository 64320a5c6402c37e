/*
 * faultproxy.h - a fault-injecting TCP proxy for tests, on the GLib main
 * loop: it listens on 127.0.0.1 (an ephemeral port) and forwards each
 * connection it accepts to 127.0.0.1:target_port, while the test breaks the
 * network on command:
 *
 *   cut      close both sides of every current connection; bytes the proxy
 *            holds are lost, as they are when a route goes away (FIN, or RST
 *            with fault_proxy_reset_all);
 *   stall    stop forwarding in one or both directions, but go on reading
 *            and buffering (up to FAULT_PROXY_MAX_BUFFER a direction), as a
 *            congested or frozen link does;
 *   trickle  forward one byte a direction per tick (every interval_ms), so
 *            the receiver sees every frame, handshake included, split into
 *            single bytes;
 *   delay    hold every chunk it reads for delay_ms before forwarding it,
 *            in order, as a link with that one-way latency does (a round
 *            trip through the proxy then takes the two directions' delays
 *            more); it combines with stall and trickle, which act on what
 *            the delay has released;
 *   refuse   stop listening, so new connections are refused (existing ones
 *            stay), and listen again on the same port later.
 *
 * It only ever binds and connects to the IPv4 loopback address.  The client
 * is the side that connects to the proxy; "up" is client -> target, "down"
 * target -> client.
 *
 * Ownership: fault_proxy_new() returns a proxy the caller frees with
 * fault_proxy_free(), which closes every socket and removes every source it
 * added to the default main context.  Strings returned as char * are the
 * caller's (g_free).
 */
#ifndef PARLEY_TEST_FAULTPROXY_H
#define PARLEY_TEST_FAULTPROXY_H

#include <glib.h>

/* bytes the proxy holds per direction of a connection before it stops
 * reading from the sender (then TCP's own flow control takes over) */
#define FAULT_PROXY_MAX_BUFFER (4u << 20)

typedef struct FaultProxy FaultProxy;

typedef enum {
	FAULT_PROXY_UP = 1 << 0,        /* client -> target */
	FAULT_PROXY_DOWN = 1 << 1,      /* target -> client */
	FAULT_PROXY_BOTH = FAULT_PROXY_UP | FAULT_PROXY_DOWN
} FaultProxyDir;

/* A proxy listening on 127.0.0.1, forwarding to 127.0.0.1:target_port.
 * NULL with *error set if it cannot listen. */
FaultProxy *fault_proxy_new(guint16 target_port, GError **error);
/* Close every connection and the listener.  NULL is fine. */
void fault_proxy_free(FaultProxy *fp);

/* The port it listens on (kept across fault_proxy_set_listening). */
guint16 fault_proxy_port(const FaultProxy *fp);
/* "127.0.0.1:PORT": the address a client dials.  Caller frees. */
char *fault_proxy_address(const FaultProxy *fp);

/* Close both sides of every current connection with FIN (cut) or RST
 * (reset); what the proxy held for them is dropped.  Returns how many
 * connections were cut. */
guint fault_proxy_cut_all(FaultProxy *fp);
guint fault_proxy_reset_all(FaultProxy *fp);
/* Stop (stall TRUE) or resume forwarding in the given directions.  A
 * stalled direction keeps reading into the proxy's buffer; an EOF from the
 * sender is passed on only once the direction resumes and has drained. */
void fault_proxy_set_stall(FaultProxy *fp, FaultProxyDir dirs, gboolean stall);
/* Forward one byte a direction per connection every interval_ms (1 or
 * more); 0 forwards at full speed again. */
void fault_proxy_set_trickle(FaultProxy *fp, guint interval_ms);
/* Hold each chunk read in the given directions for delay_ms before
 * forwarding it (0: at once again): the chunk read at t goes out at
 * t + delay_ms (CLOCK_MONOTONIC, to well under a millisecond: a timerfd, not
 * the main loop's millisecond timeouts), after everything read before it.
 * An EOF is passed on delay_ms after it was read, too.  The delay applies to
 * what is read from now on; bytes held already keep their time.  TCP's own
 * handshake with the proxy is not delayed: a connection is accepted and the
 * target called at once, so only the bytes carry the latency. */
void fault_proxy_set_delay(FaultProxy *fp, FaultProxyDir dirs, guint delay_ms);
/* FALSE closes the listening socket (connections are refused, existing ones
 * go on); TRUE listens again on the same port.  FALSE if it could not. */
gboolean fault_proxy_set_listening(FaultProxy *fp, gboolean listening);

/* ---- counters, since the proxy was created ----------------------------- */

/* Connections accepted (whether or not the target answered). */
guint fault_proxy_accepted(const FaultProxy *fp);
/* Connections open now. */
guint fault_proxy_active(const FaultProxy *fp);
/* Connections closed by fault_proxy_cut_all / fault_proxy_reset_all. */
guint fault_proxy_cut_count(const FaultProxy *fp);
/* Bytes forwarded (written to the receiving side) in these directions. */
guint64 fault_proxy_bytes(const FaultProxy *fp, FaultProxyDir dirs);
/* Write calls that forwarded bytes in these directions (in trickle mode,
 * one a byte). */
guint64 fault_proxy_writes(const FaultProxy *fp, FaultProxyDir dirs);
/* Bytes held now, read but not yet forwarded (delayed ones included), in
 * these directions. */
gsize fault_proxy_buffered(const FaultProxy *fp, FaultProxyDir dirs);

#endif
