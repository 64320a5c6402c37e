/*
 * address.h - peer addresses, which are also buddy names (PROTOCOL.md §9).
 *
 * Accepted forms (the port defaults to PARLEY_DEFAULT_PORT):
 *   host            example.org, 192.0.2.1
 *   host:port       example.org:5001, 192.0.2.1:5001
 *   [v6] [v6]:port  [2001:db8::1], [2001:db8::1]:5001
 *   v6              2001:db8::1, ::1, fe80::1 - text with two or more ':'
 *                   and no brackets is all host (so "::1:5001" is the
 *                   address ::1:5001 on port 5000; use brackets for a port)
 *
 * host is one of:
 *   - an IPv4 literal in dotted-quad form (four decimal numbers 0..255,
 *     no leading zeros);
 *   - an IPv6 literal (RFC 4291 text, including ::ffff:a.b.c.d forms);
 *     zone ids ("fe80::1%eth0") are not accepted;
 *   - a DNS name: labels of ASCII letters, digits and '-', 1..63 bytes, not
 *     beginning or ending with '-', joined by single dots, 253 bytes at
 *     most, no trailing dot.  Underscores are refused (they are not valid in
 *     host names, RFC 1123); so is non-ASCII text (write an internationalised
 *     name in its xn-- form); a last label of digits only must make a valid
 *     IPv4 literal, so "1.2.3" and "300.1.1.1" are refused, not looked up.
 * port is 1..65535 written in decimal digits only (leading zeros allowed).
 * Leading or trailing white space is an error, not trimmed.
 *
 * Ownership: strings returned (host_out, parley_address_format) are newly
 * allocated, caller frees with g_free.  Errors are GErrors in
 * PARLEY_ADDRESS_ERROR with an English sentence naming the problem.
 * Thread-safe (no state); no I/O (no DNS lookups); no libpurple.
 */
#ifndef PARLEY_ADDRESS_H
#define PARLEY_ADDRESS_H

#include <glib.h>
#include "constants.h"

#define PARLEY_ADDRESS_ERROR (parley_address_error_quark())
GQuark parley_address_error_quark(void);

typedef enum {
	PARLEY_ADDRESS_ERROR_EMPTY,     /* the text is empty */
	PARLEY_ADDRESS_ERROR_SPACE,     /* leading or trailing white space */
	PARLEY_ADDRESS_ERROR_HOST,      /* the host part is not valid */
	PARLEY_ADDRESS_ERROR_PORT       /* the port part is not valid */
} ParleyAddressError;

/* Parse text into host and port.  On success returns TRUE, with *host_out
 * (if host_out is not NULL) set to the canonical spelling of the host:
 * DNS names in lower case, IPv6 literals in RFC 5952 form without
 * brackets ("2001:db8::1"), IPv4 literals as given; and *port_out (if not
 * NULL) to the port.  On failure returns FALSE and sets error; *host_out is
 * set to NULL and *port_out to 0. */
gboolean parley_address_parse(const char *text, char **host_out,
                              guint16 *port_out, GError **error);

/* The canonical text of an address (the buddy name): "host" when port is
 * PARLEY_DEFAULT_PORT, else "host:port"; an IPv6 host as bare "v6" on the
 * default port, else "[v6]:port".  host is as returned by
 * parley_address_parse (names are lower-cased and IPv6 literals normalised
 * here too).  parley_address_parse(parley_address_format(h, p)) gives back
 * h and p.  port must not be 0.  Returns a new string. */
char *parley_address_format(const char *host, guint16 port);

/* Whether two hosts (as returned by parley_address_parse, or any spelling
 * of one; brackets around IPv6 literals are tolerated) name the same host
 * without a DNS lookup: IP literals are compared as addresses, with
 * ::ffff:a.b.c.d equal to a.b.c.d; names are compared without regard to
 * ASCII case; "localhost", 127.0.0.1 and ::1 are all equal (other 127.x.y.z
 * addresses are distinct hosts).  A name and an IP literal are never equal
 * otherwise. */
gboolean parley_address_same_host(const char *a, const char *b);

/* What parley_address_same_host compares: a and b are the same host exactly
 * when their keys are equal (strcmp).  For a caller that compares one host
 * with many: keep the keys.  Returns a new string (g_free). */
char *parley_address_host_key(const char *host);

#endif
