/*
 * address.c - peer addresses, which are also buddy names (PROTOCOL.md §9).
 *
 * IP literals are checked and normalised with inet_pton()/inet_ntop(),
 * which are pure conversions in libc (no lookup, no I/O).  GLib's
 * GInetAddress would do the same but lives in GIO, which the core does not
 * link; g_hostname_is_ip_address() accepts zone ids that inet_pton() does
 * not, and we want one strict definition.
 *
 * The GError messages are shown to the user (Add Buddy), so they are
 * translated here, in the plugins' gettext domain.
 */
#include "config.h"

#include <string.h>
#include <arpa/inet.h>

#include <glib/gi18n-lib.h>

#include "address.h"

#define MAX_NAME_LEN     253   /* RFC 1035 §2.3.4, without the final dot */
#define MAX_LABEL_LEN    63
#define MAX_PORT         65535
#define SHOWN_TEXT_MAX   80    /* longer input is shortened in messages */
#define SHOWN_TEXT_HEAD  60

G_DEFINE_QUARK(parley-address-error-quark, parley_address_error)

/* The user's text as quoted in a message: valid UTF-8, control characters
 * written as \n, \t or \xNN so the sentence stays on one line, and long
 * text cut short with an ellipsis. */
static char *
shown(const char *text)
{
	char *valid = g_utf8_make_valid(text, -1);
	GString *out = g_string_new(NULL);
	const char *p;
	glong n = 0;
	gboolean cut = g_utf8_strlen(valid, -1) > SHOWN_TEXT_MAX;

	for (p = valid; *p != '\0'; p = g_utf8_next_char(p), n++) {
		guchar c = (guchar) *p;

		if (cut && n == SHOWN_TEXT_HEAD) {
			g_string_append(out, "\xe2\x80\xa6");
			break;
		}
		if (c == '\n')
			g_string_append(out, "\\n");
		else if (c == '\t')
			g_string_append(out, "\\t");
		else if (c < 0x20 || c == 0x7f)
			g_string_append_printf(out, "\\x%02X", (guint) c);
		else
			g_string_append_len(out, p, g_utf8_next_char(p) - p);
	}
	g_free(valid);
	return g_string_free(out, FALSE);
}

/* Fail with "“text” is not a valid Parley address: reason." */
static gboolean G_GNUC_PRINTF(4, 5)
fail(GError **error, ParleyAddressError code, const char *text,
     const char *reason_fmt, ...)
{
	char *quoted, *reason;
	va_list ap;

	va_start(ap, reason_fmt);
	reason = g_strdup_vprintf(reason_fmt, ap);
	va_end(ap);
	quoted = shown(text);
	g_set_error(error, PARLEY_ADDRESS_ERROR, code,
	            /* TRANSLATORS: the user's text, then one of the reasons below */
	            _("\xe2\x80\x9c%s\xe2\x80\x9d is not a valid Parley address: %s."),
	            quoted, reason);
	g_free(quoted);
	g_free(reason);
	return FALSE;
}

/* A character as a message shows it: “x”, or U+XXXX when not printable. */
static char *
describe_char(const char *p)
{
	gunichar c = g_utf8_get_char_validated(p, -1);
	char buf[8] = { 0 };

	if (c == (gunichar) -1 || c == (gunichar) -2)
		/* TRANSLATORS: completes "the host name contains %s" */
		return g_strdup_printf(_("the byte 0x%02X"), (guint) (guchar) *p);
	if (c == ' ')
		/* TRANSLATORS: completes "the host name contains %s" */
		return g_strdup(_("a space"));
	if (!g_unichar_isprint(c) || g_unichar_isspace(c))
		return g_strdup_printf("U+%04X", (guint) c);
	g_unichar_to_utf8(c, buf);
	/* TRANSLATORS: a character quoted in an address error */
	return g_strdup_printf(_("\xe2\x80\x9c%s\xe2\x80\x9d"), buf);
}

/* RFC 5952 text of an IPv6 address: lower-case hex without leading zeros,
 * the longest run of two or more zero groups (the first of equals) as
 * "::", and ::ffff:a.b.c.d for IPv4-mapped addresses (§5).  Written out
 * here because glibc's inet_ntop() prints ::1:5001 as "::0.1.80.1". */
static char *
format_ipv6(const struct in6_addr *a)
{
	GString *s = g_string_sized_new(INET6_ADDRSTRLEN);
	guint w[8];
	int i, best = -1, best_len = 0, run = -1;

	if (IN6_IS_ADDR_V4MAPPED(a)) {
		g_string_printf(s, "::ffff:%u.%u.%u.%u", a->s6_addr[12], a->s6_addr[13],
		                a->s6_addr[14], a->s6_addr[15]);
		return g_string_free(s, FALSE);
	}
	for (i = 0; i < 8; i++)
		w[i] = ((guint) a->s6_addr[2 * i] << 8) | a->s6_addr[2 * i + 1];
	for (i = 0; i <= 8; i++) {
		if (i < 8 && w[i] == 0) {
			if (run < 0)
				run = i;
		} else if (run >= 0) {
			if (i - run > best_len && i - run >= 2) {
				best = run;
				best_len = i - run;
			}
			run = -1;
		}
	}
	for (i = 0; i < 8; i++) {
		if (i == best) {
			g_string_append(s, "::");
			i += best_len - 1;
			continue;
		}
		if (s->len > 0 && s->str[s->len - 1] != ':')
			g_string_append_c(s, ':');
		g_string_append_printf(s, "%x", w[i]);
	}
	return g_string_free(s, FALSE);
}

/* Normalised IPv6 text of s, or NULL if s is not an IPv6 literal. */
static char *
ipv6_canonical(const char *s)
{
	struct in6_addr a;

	if (inet_pton(AF_INET6, s, &a) != 1)
		return NULL;
	return format_ipv6(&a);
}

static gboolean
is_ipv4(const char *s)
{
	struct in_addr a;

	/* inet_pton takes exactly four decimal parts 0..255 and refuses
	 * leading zeros, unlike inet_aton's "127.1" or "0x7f.1". */
	return inet_pton(AF_INET, s, &a) == 1;
}

static gboolean
is_name_char(char c)
{
	return g_ascii_isalnum(c) || c == '-' || c == '.';
}

/* Check a host that is not in brackets and has no ':': an IPv4 literal or
 * a DNS name.  On success *canon is its canonical spelling. */
static gboolean
check_name_or_ipv4(const char *host, const char *text, char **canon, GError **error)
{
	size_t len = strlen(host);
	const char *p, *label, *last_label;
	gboolean all_digits;

	for (p = host; *p != '\0'; p++) {
		if (!is_name_char(*p)) {
			char *what = describe_char(p);
			gboolean r;

			if ((guchar) *p >= 0x80)
				r = fail(error, PARLEY_ADDRESS_ERROR_HOST, text,
				         _("the host name contains %s; only ASCII letters, digits, "
				            "\xe2\x80\x9c-\xe2\x80\x9d and \xe2\x80\x9c.\xe2\x80\x9d are allowed "
				            "(write an international name in its \xe2\x80\x9cxn--\xe2\x80\x9d form)"),
				         what);
			else
				r = fail(error, PARLEY_ADDRESS_ERROR_HOST, text,
				         _("the host name contains %s; only letters, digits, "
				            "\xe2\x80\x9c-\xe2\x80\x9d and \xe2\x80\x9c.\xe2\x80\x9d are allowed"),
				         what);
			g_free(what);
			return r;
		}
	}
	if (host[0] == '.' || host[len - 1] == '.' || strstr(host, "..") != NULL)
		return fail(error, PARLEY_ADDRESS_ERROR_HOST, text,
		            _("the host name must not begin or end with "
		               "\xe2\x80\x9c.\xe2\x80\x9d or have two in a row"));

	/* The last label decides between an IPv4 literal and a name: a
	 * top-level domain is never all digits (RFC 3696 §2). */
	last_label = strrchr(host, '.');
	last_label = last_label != NULL ? last_label + 1 : host;
	all_digits = TRUE;
	for (p = last_label; *p != '\0'; p++)
		if (!g_ascii_isdigit(*p))
			all_digits = FALSE;
	if (all_digits) {
		if (is_ipv4(host)) {
			*canon = g_strdup(host);
			return TRUE;
		}
		if (strspn(host, "0123456789.") == len)
			return fail(error, PARLEY_ADDRESS_ERROR_HOST, text,
			            _("\xe2\x80\x9c%s\xe2\x80\x9d is not a valid IPv4 address "
			               "(four numbers from 0 to 255, without leading zeros, "
			               "separated by dots)"), host);
		return fail(error, PARLEY_ADDRESS_ERROR_HOST, text,
		            _("the last part of a host name must not be all digits"));
	}

	if (len > MAX_NAME_LEN)
		return fail(error, PARLEY_ADDRESS_ERROR_HOST, text,
		            _("the host name is longer than %d characters"), MAX_NAME_LEN);
	for (label = host; label != NULL; ) {
		const char *dot = strchr(label, '.');
		size_t llen = dot != NULL ? (size_t) (dot - label) : strlen(label);

		if (llen > MAX_LABEL_LEN)
			return fail(error, PARLEY_ADDRESS_ERROR_HOST, text,
			            _("a part of the host name between dots is longer than "
			               "%d characters"), MAX_LABEL_LEN);
		if (label[0] == '-' || label[llen - 1] == '-')
			return fail(error, PARLEY_ADDRESS_ERROR_HOST, text,
			            _("a part of the host name begins or ends with "
			               "\xe2\x80\x9c-\xe2\x80\x9d"));
		label = dot != NULL ? dot + 1 : NULL;
	}
	*canon = g_ascii_strdown(host, -1);
	return TRUE;
}

/* Report a host that should have been an IPv6 literal; a zone id gets
 * its own sentence, since that is a form users meet (fe80::1%eth0). */
static gboolean
ipv6_fail(GError **error, const char *host, const char *text, const char *reason)
{
	if (strchr(host, '%') != NULL)
		return fail(error, PARLEY_ADDRESS_ERROR_HOST, text,
		            _("IPv6 zone ids (the \xe2\x80\x9c%%\xe2\x80\x9d part) are not supported"));
	return fail(error, PARLEY_ADDRESS_ERROR_HOST, text, "%s", reason);
}

/* Port text: decimal digits only, 1..65535. */
static gboolean
parse_port(const char *s, const char *text, guint16 *port, GError **error)
{
	guint v = 0;
	const char *p;

	if (*s == '\0')
		return fail(error, PARLEY_ADDRESS_ERROR_PORT, text,
		            _("the port is missing after \xe2\x80\x9c:\xe2\x80\x9d"));
	for (p = s; *p != '\0'; p++) {
		if (!g_ascii_isdigit(*p) || (v = v * 10 + (guint) (*p - '0')) > MAX_PORT)
			return fail(error, PARLEY_ADDRESS_ERROR_PORT, text,
			            _("the port must be a number from 1 to %d"), MAX_PORT);
	}
	if (v == 0)
		return fail(error, PARLEY_ADDRESS_ERROR_PORT, text,
		            _("the port must be a number from 1 to %d"), MAX_PORT);
	*port = (guint16) v;
	return TRUE;
}

gboolean
parley_address_parse(const char *text, char **host_out, guint16 *port_out,
                     GError **error)
{
	char *host = NULL, *canon = NULL;
	guint16 port = PARLEY_DEFAULT_PORT;
	size_t len;
	gboolean ok = FALSE;

	if (host_out != NULL)
		*host_out = NULL;
	if (port_out != NULL)
		*port_out = 0;
	g_return_val_if_fail(text != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	len = strlen(text);
	if (len == 0) {
		g_set_error_literal(error, PARLEY_ADDRESS_ERROR, PARLEY_ADDRESS_ERROR_EMPTY,
		                    _("An empty text is not a valid Parley address."));
		return FALSE;
	}
	if (g_ascii_isspace(text[0]) || g_ascii_isspace(text[len - 1]))
		return fail(error, PARLEY_ADDRESS_ERROR_SPACE, text,
		            _("it must not begin or end with a space"));

	if (text[0] == '[') {
		/* [v6] or [v6]:port */
		const char *close = strchr(text, ']');

		if (close == NULL)
			return fail(error, PARLEY_ADDRESS_ERROR_HOST, text,
			            _("the \xe2\x80\x9c[\xe2\x80\x9d has no matching \xe2\x80\x9c]\xe2\x80\x9d"));
		host = g_strndup(text + 1, (gsize) (close - text - 1));
		canon = ipv6_canonical(host);
		if (canon == NULL) {
			ipv6_fail(error, host, text,
			          _("inside brackets there must be an IPv6 address"));
			goto out;
		}
		if (close[1] == ':') {
			if (!parse_port(close + 2, text, &port, error))
				goto out;
		} else if (close[1] != '\0') {
			fail(error, PARLEY_ADDRESS_ERROR_HOST, text,
			     _("after \xe2\x80\x9c]\xe2\x80\x9d only \xe2\x80\x9c:\xe2\x80\x9d "
			        "and a port may follow"));
			goto out;
		}
	} else {
		const char *colon = strchr(text, ':');

		if (colon != NULL && strchr(colon + 1, ':') != NULL) {
			/* two or more colons without brackets: all host, IPv6 */
			canon = ipv6_canonical(text);
			if (canon == NULL) {
				ipv6_fail(error, text, text,
				          _("with more than one \xe2\x80\x9c:\xe2\x80\x9d it must be an "
				             "IPv6 address (with a port, write [address]:port)"));
				goto out;
			}
		} else {
			host = colon != NULL ? g_strndup(text, (gsize) (colon - text))
			                     : g_strdup(text);
			if (host[0] == '\0') {
				fail(error, PARLEY_ADDRESS_ERROR_HOST, text,
				     _("the host is missing before \xe2\x80\x9c:\xe2\x80\x9d"));
				goto out;
			}
			if (!check_name_or_ipv4(host, text, &canon, error))
				goto out;
			if (colon != NULL && !parse_port(colon + 1, text, &port, error))
				goto out;
		}
	}

	ok = TRUE;
	if (host_out != NULL)
		*host_out = g_steal_pointer(&canon);
	if (port_out != NULL)
		*port_out = port;
out:
	g_free(host);
	g_free(canon);
	return ok;
}

char *
parley_address_format(const char *host, guint16 port)
{
	char *v6, *out;

	g_return_val_if_fail(host != NULL && host[0] != '\0', NULL);
	g_return_val_if_fail(port != 0, NULL);

	v6 = strchr(host, ':') != NULL ? ipv6_canonical(host) : NULL;
	/* a ':' in anything but an IPv6 literal would make the text ambiguous */
	g_return_val_if_fail(v6 != NULL || strchr(host, ':') == NULL, NULL);
	if (v6 != NULL) {
		if (port == PARLEY_DEFAULT_PORT)
			return v6;
		out = g_strdup_printf("[%s]:%u", v6, (guint) port);
		g_free(v6);
		return out;
	}
	if (port == PARLEY_DEFAULT_PORT)
		return g_ascii_strdown(host, -1);
	v6 = g_ascii_strdown(host, -1);
	out = g_strdup_printf("%s:%u", v6, (guint) port);
	g_free(v6);
	return out;
}

/* What same_host compares: "lo" for the local host, "4:" + dotted quad,
 * "6:" + canonical IPv6, or "n:" + the lower-cased name. */
char *
parley_address_host_key(const char *host)
{
	size_t len;
	char *bare, *key;
	struct in6_addr a6;
	struct in_addr a4;
	char buf[INET6_ADDRSTRLEN];

	g_return_val_if_fail(host != NULL, NULL);
	len = strlen(host);
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']')
		bare = g_strndup(host + 1, len - 2);
	else
		bare = g_strdup(host);

	if (inet_pton(AF_INET6, bare, &a6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			memcpy(&a4, &a6.s6_addr[12], 4);
			goto v4;
		}
		if (IN6_IS_ADDR_LOOPBACK(&a6)) {
			key = g_strdup("lo");
		} else {
			char *text = format_ipv6(&a6);

			key = g_strconcat("6:", text, NULL);
			g_free(text);
		}
		g_free(bare);
		return key;
	}
	if (inet_pton(AF_INET, bare, &a4) == 1)
		goto v4;
	if (g_ascii_strcasecmp(bare, "localhost") == 0) {
		key = g_strdup("lo");
	} else {
		char *low = g_ascii_strdown(bare, -1);

		key = g_strconcat("n:", low, NULL);
		g_free(low);
	}
	g_free(bare);
	return key;

v4:
	g_free(bare);
	if (ntohl(a4.s_addr) == 0x7f000001u)    /* 127.0.0.1 */
		return g_strdup("lo");
	inet_ntop(AF_INET, &a4, buf, sizeof buf);
	return g_strconcat("4:", buf, NULL);
}

gboolean
parley_address_same_host(const char *a, const char *b)
{
	char *ka, *kb;
	gboolean same;

	g_return_val_if_fail(a != NULL, FALSE);
	g_return_val_if_fail(b != NULL, FALSE);

	ka = parley_address_host_key(a);
	kb = parley_address_host_key(b);
	same = strcmp(ka, kb) == 0;
	g_free(ka);
	g_free(kb);
	return same;
}
