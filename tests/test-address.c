/*
 * test-address.c - src/address.c: the address forms of PROTOCOL.md §9
 * (buddy names), their canonical text, the errors users see, and host
 * comparison without DNS.
 */
#include <string.h>
#include <glib.h>

#include "address.h"
#include "constants.h"

typedef struct {
	const char *text;
	const char *host;           /* canonical host */
	guint16 port;
	const char *canonical;      /* parley_address_format(host, port) */
} Valid;

static const Valid valid[] = {
	/* names */
	{ "example.org", "example.org", 5000, "example.org" },
	{ "example.org:5001", "example.org", 5001, "example.org:5001" },
	{ "Example.ORG:5000", "example.org", 5000, "example.org" },
	{ "localhost", "localhost", 5000, "localhost" },
	{ "localhost:1", "localhost", 1, "localhost:1" },
	{ "a", "a", 5000, "a" },
	{ "a-b.c-d.e", "a-b.c-d.e", 5000, "a-b.c-d.e" },
	{ "xn--bcher-kva.example", "xn--bcher-kva.example", 5000, "xn--bcher-kva.example" },
	{ "host1.example:65535", "host1.example", 65535, "host1.example:65535" },
	{ "0host:00080", "0host", 80, "0host:80" },               /* leading zeros */
	{ "123.example", "123.example", 5000, "123.example" },    /* digits, not last */
	{ "1.2.3.4a", "1.2.3.4a", 5000, "1.2.3.4a" },
	/* IPv4 */
	{ "192.0.2.1", "192.0.2.1", 5000, "192.0.2.1" },
	{ "192.0.2.1:5002", "192.0.2.1", 5002, "192.0.2.1:5002" },
	{ "0.0.0.0:9", "0.0.0.0", 9, "0.0.0.0:9" },
	{ "255.255.255.255", "255.255.255.255", 5000, "255.255.255.255" },
	{ "127.0.0.1:5000", "127.0.0.1", 5000, "127.0.0.1" },
	/* IPv6, bare (all host) and bracketed */
	{ "::1", "::1", 5000, "::1" },
	{ "fe80::1", "fe80::1", 5000, "fe80::1" },
	{ "2001:DB8:0:0:0:0:0:1", "2001:db8::1", 5000, "2001:db8::1" },
	{ "::ffff:192.0.2.1", "::ffff:192.0.2.1", 5000, "::ffff:192.0.2.1" },
	{ "::1:5001", "::1:5001", 5000, "::1:5001" },   /* no brackets: all host */
	/* RFC 5952 normal form: longest zero run, first of equals, not one zero */
	{ "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1", 5000, "2001:db8::1:0:0:1" },
	{ "2001:0:0:1:0:0:0:1", "2001:0:0:1::1", 5000, "2001:0:0:1::1" },
	{ "2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1", 5000, "2001:db8:0:1:1:1:1:1" },
	{ "1:0:0:0:0:0:0:0", "1::", 5000, "1::" },
	{ "::0.1.80.1", "::1:5001", 5000, "::1:5001" },
	{ "[::FFFF:C000:0201]:7", "::ffff:192.0.2.1", 7, "[::ffff:192.0.2.1]:7" },
	{ "[::1]", "::1", 5000, "::1" },
	{ "[::1]:5001", "::1", 5001, "[::1]:5001" },
	{ "[::1]:5000", "::1", 5000, "::1" },
	{ "[2001:db8::a]:443", "2001:db8::a", 443, "[2001:db8::a]:443" },
	{ "[2001:0db8:0000::000a]:443", "2001:db8::a", 443, "[2001:db8::a]:443" },
	{ "[::]:1", "::", 1, "[::]:1" },
};

/* (text, error code, a piece of the message) */
typedef struct {
	const char *text;
	ParleyAddressError code;
	const char *why;
} Invalid;

static const Invalid invalid[] = {
	{ "", PARLEY_ADDRESS_ERROR_EMPTY, "empty" },
	/* white space is an error, not trimmed */
	{ " example.org", PARLEY_ADDRESS_ERROR_SPACE, "begin or end with a space" },
	{ "example.org ", PARLEY_ADDRESS_ERROR_SPACE, "begin or end with a space" },
	{ "\texample.org", PARLEY_ADDRESS_ERROR_SPACE, "space" },
	{ "example.org\n", PARLEY_ADDRESS_ERROR_SPACE, "\xe2\x80\x9c" "example.org\\n\xe2\x80\x9d" },
	{ " ", PARLEY_ADDRESS_ERROR_SPACE, "space" },
	{ "exa mple.org", PARLEY_ADDRESS_ERROR_HOST, "contains a space" },
	{ "example.org :5000", PARLEY_ADDRESS_ERROR_HOST, "contains a space" },
	{ "exa\xc2\xa0mple.org", PARLEY_ADDRESS_ERROR_HOST, "U+00A0" },
	{ "example.org: 5000", PARLEY_ADDRESS_ERROR_PORT, "from 1 to 65535" },
	/* ports */
	{ "foo:99999", PARLEY_ADDRESS_ERROR_PORT, "the port must be a number from 1 to 65535" },
	{ "foo:65536", PARLEY_ADDRESS_ERROR_PORT, "from 1 to 65535" },
	{ "foo:0", PARLEY_ADDRESS_ERROR_PORT, "from 1 to 65535" },
	{ "foo:00000", PARLEY_ADDRESS_ERROR_PORT, "from 1 to 65535" },
	{ "foo:-1", PARLEY_ADDRESS_ERROR_PORT, "from 1 to 65535" },
	{ "foo:+80", PARLEY_ADDRESS_ERROR_PORT, "from 1 to 65535" },
	{ "foo:80a", PARLEY_ADDRESS_ERROR_PORT, "from 1 to 65535" },
	{ "foo:0x50", PARLEY_ADDRESS_ERROR_PORT, "from 1 to 65535" },
	{ "foo:4294967297", PARLEY_ADDRESS_ERROR_PORT, "from 1 to 65535" },  /* 2^32+1 */
	{ "foo:", PARLEY_ADDRESS_ERROR_PORT, "port is missing" },
	{ "[::1]:", PARLEY_ADDRESS_ERROR_PORT, "port is missing" },
	{ "[::1]:70000", PARLEY_ADDRESS_ERROR_PORT, "from 1 to 65535" },
	/* hosts */
	{ ":5000", PARLEY_ADDRESS_ERROR_HOST, "host is missing" },
	{ ":", PARLEY_ADDRESS_ERROR_HOST, "host is missing" },
	{ "-foo.example", PARLEY_ADDRESS_ERROR_HOST, "begins or ends with" },
	{ "foo-.example", PARLEY_ADDRESS_ERROR_HOST, "begins or ends with" },
	{ "foo.-example", PARLEY_ADDRESS_ERROR_HOST, "begins or ends with" },
	{ "foo..example", PARLEY_ADDRESS_ERROR_HOST, "two in a row" },
	{ ".example", PARLEY_ADDRESS_ERROR_HOST, "begin or end with" },
	{ "example.", PARLEY_ADDRESS_ERROR_HOST, "begin or end with" },
	{ "example.org.:5000", PARLEY_ADDRESS_ERROR_HOST, "begin or end with" },
	{ ".", PARLEY_ADDRESS_ERROR_HOST, "begin or end with" },
	{ "under_score.example", PARLEY_ADDRESS_ERROR_HOST, "\xe2\x80\x9c_\xe2\x80\x9d" },
	{ "b\xc3\xbc" "cher.example", PARLEY_ADDRESS_ERROR_HOST, "xn--" },
	{ "bad\xff.example", PARLEY_ADDRESS_ERROR_HOST, "the byte 0xFF" },
	{ "a/b", PARLEY_ADDRESS_ERROR_HOST, "\xe2\x80\x9c/\xe2\x80\x9d" },
	{ "user@host", PARLEY_ADDRESS_ERROR_HOST, "\xe2\x80\x9c@\xe2\x80\x9d" },
	{ "a\x01" "b", PARLEY_ADDRESS_ERROR_HOST, "U+0001" },
	{ "a\x01" "b", PARLEY_ADDRESS_ERROR_HOST, "\xe2\x80\x9c" "a\\x01b\xe2\x80\x9d" },
	/* numeric last label: must be an IPv4 literal */
	{ "1.2.3", PARLEY_ADDRESS_ERROR_HOST, "not a valid IPv4 address" },
	{ "256.1.1.1", PARLEY_ADDRESS_ERROR_HOST, "not a valid IPv4 address" },
	{ "1.2.3.4.5", PARLEY_ADDRESS_ERROR_HOST, "not a valid IPv4 address" },
	{ "01.2.3.4", PARLEY_ADDRESS_ERROR_HOST, "not a valid IPv4 address" },
	{ "1234", PARLEY_ADDRESS_ERROR_HOST, "not a valid IPv4 address" },
	{ "example.123:80", PARLEY_ADDRESS_ERROR_HOST, "last part of a host name" },
	{ "0x7f.0.0.1", PARLEY_ADDRESS_ERROR_HOST, "last part of a host name" },
	{ "1-2.3", PARLEY_ADDRESS_ERROR_HOST, "last part of a host name" },
	/* IPv6 */
	{ "1::2::3", PARLEY_ADDRESS_ERROR_HOST, "IPv6" },
	{ "fe80::1%eth0", PARLEY_ADDRESS_ERROR_HOST, "zone ids" },
	{ "::1::5000", PARLEY_ADDRESS_ERROR_HOST, "[address]:port" },
	{ "host:80:90", PARLEY_ADDRESS_ERROR_HOST, "[address]:port" },
	{ "[::1", PARLEY_ADDRESS_ERROR_HOST, "no matching" },
	{ "[]", PARLEY_ADDRESS_ERROR_HOST, "inside brackets" },
	{ "[]:5000", PARLEY_ADDRESS_ERROR_HOST, "inside brackets" },
	{ "[192.0.2.1]:5000", PARLEY_ADDRESS_ERROR_HOST, "inside brackets" },
	{ "[example.org]", PARLEY_ADDRESS_ERROR_HOST, "inside brackets" },
	{ "[fe80::1%eth0]:5000", PARLEY_ADDRESS_ERROR_HOST, "zone ids" },
	{ "[::1]5000", PARLEY_ADDRESS_ERROR_HOST, "after" },
	{ "[::1]:5000:1", PARLEY_ADDRESS_ERROR_PORT, "from 1 to 65535" },
	{ "[[::1]]", PARLEY_ADDRESS_ERROR_HOST, "inside brackets" },
	{ "::1]", PARLEY_ADDRESS_ERROR_HOST, "IPv6" },
};

static void
test_valid(void)
{
	guint i;

	for (i = 0; i < G_N_ELEMENTS(valid); i++) {
		const Valid *v = &valid[i];
		GError *error = NULL;
		char *host = NULL, *text, *host2 = NULL;
		guint16 port = 0, port2 = 0;

		g_test_message("%s", v->text);
		g_assert_true(parley_address_parse(v->text, &host, &port, &error));
		g_assert_no_error(error);
		g_assert_cmpstr(host, ==, v->host);
		g_assert_cmpuint(port, ==, v->port);

		/* canonical text, and back */
		text = parley_address_format(host, port);
		g_assert_cmpstr(text, ==, v->canonical);
		g_assert_true(parley_address_parse(text, &host2, &port2, NULL));
		g_assert_cmpstr(host2, ==, host);
		g_assert_cmpuint(port2, ==, port);

		/* outputs are optional */
		g_assert_true(parley_address_parse(v->text, NULL, NULL, NULL));
		g_free(text);
		g_free(host);
		g_free(host2);
	}
}

static void
test_invalid(void)
{
	guint i;

	for (i = 0; i < G_N_ELEMENTS(invalid); i++) {
		const Invalid *b = &invalid[i];
		GError *error = NULL;
		char *host = (char *) "untouched";
		guint16 port = 1;

		{
			char *esc = g_strescape(b->text, NULL);

			g_test_message("%s", esc);
			g_free(esc);
		}
		g_assert_false(parley_address_parse(b->text, &host, &port, &error));
		g_assert_error(error, PARLEY_ADDRESS_ERROR, (gint) b->code);
		g_assert_null(host);
		g_assert_cmpuint(port, ==, 0);
		/* one sentence, valid UTF-8, naming the problem */
		g_assert_true(g_utf8_validate(error->message, -1, NULL));
		g_test_message("  -> %s", error->message);
		g_assert_nonnull(strstr(error->message, b->why));
		g_assert_true(g_str_has_suffix(error->message, "."));
		g_clear_error(&error);
		/* NULL error is fine too */
		g_assert_false(parley_address_parse(b->text, NULL, NULL, NULL));
	}
}

/* The example sentence of the brief, word for word. */
static void
test_message_text(void)
{
	GError *error = NULL;

	g_assert_false(parley_address_parse("foo:99999", NULL, NULL, &error));
	g_assert_cmpstr(error->message, ==,
	                "\xe2\x80\x9c" "foo:99999\xe2\x80\x9d is not a valid Parley address: "
	                "the port must be a number from 1 to 65535.");
	g_clear_error(&error);

	g_assert_false(parley_address_parse("", NULL, NULL, &error));
	g_assert_cmpstr(error->message, ==, "An empty text is not a valid Parley address.");
	g_clear_error(&error);
}

static void
test_lengths(void)
{
	GString *s = g_string_new(NULL);
	GError *error = NULL;
	char *label63 = g_strnfill(63, 'a');
	char *label64 = g_strnfill(64, 'a');
	char *host = NULL;

	/* 63-byte labels are fine, 64 are not */
	g_assert_true(parley_address_parse(label63, NULL, NULL, NULL));
	g_assert_false(parley_address_parse(label64, NULL, NULL, &error));
	g_assert_error(error, PARLEY_ADDRESS_ERROR, PARLEY_ADDRESS_ERROR_HOST);
	g_assert_nonnull(strstr(error->message, "longer than 63"));
	g_clear_error(&error);

	/* 253 bytes in all are fine: 63+1+63+1+63+1+61 */
	g_string_printf(s, "%s.%s.%s.", label63, label63, label63);
	while (s->len < 253)
		g_string_append_c(s, 'b');
	g_assert_cmpuint(s->len, ==, 253);
	g_assert_true(parley_address_parse(s->str, &host, NULL, NULL));
	g_assert_cmpstr(host, ==, s->str);
	g_free(host);
	/* 254 are not */
	g_string_append_c(s, 'b');
	g_assert_false(parley_address_parse(s->str, NULL, NULL, &error));
	g_assert_nonnull(strstr(error->message, "longer than 253"));
	/* a long text is shortened in the message */
	g_assert_nonnull(strstr(error->message, "\xe2\x80\xa6\xe2\x80\x9d is not"));
	g_assert_cmpuint(strlen(error->message), <, 200);
	g_clear_error(&error);

	g_string_free(s, TRUE);
	g_free(label63);
	g_free(label64);
}

static void
test_format(void)
{
	static const struct {
		const char *host;
		guint16 port;
		const char *text;
	} cases[] = {
		{ "example.org", 5000, "example.org" },
		{ "example.org", 5001, "example.org:5001" },
		{ "EXAMPLE.org", 1, "example.org:1" },
		{ "192.0.2.1", 65535, "192.0.2.1:65535" },
		{ "::1", 5000, "::1" },
		{ "::1", 5001, "[::1]:5001" },
		{ "2001:DB8::0:1", 5000, "2001:db8::1" },
		{ "2001:db8::1", 80, "[2001:db8::1]:80" },
	};
	guint i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *t = parley_address_format(cases[i].host, cases[i].port);

		g_assert_cmpstr(t, ==, cases[i].text);
		g_free(t);
	}

	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*port != 0*");
	g_assert_null(parley_address_format("example.org", 0));
	g_test_assert_expected_messages();
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*v6 != NULL*");
	g_assert_null(parley_address_format("not:v6", 5000));
	g_test_assert_expected_messages();
}

static void
test_same_host(void)
{
	static const struct {
		const char *a, *b;
		gboolean same;
	} cases[] = {
		{ "example.org", "example.org", TRUE },
		{ "Example.ORG", "example.org", TRUE },
		{ "example.org", "example.com", FALSE },
		{ "192.0.2.1", "192.0.2.1", TRUE },
		{ "192.0.2.1", "192.0.2.2", FALSE },
		{ "::ffff:127.0.0.1", "127.0.0.1", TRUE },
		{ "::ffff:192.0.2.1", "192.0.2.1", TRUE },
		{ "::FFFF:c000:0201", "192.0.2.1", TRUE },
		{ "2001:db8::1", "2001:DB8:0:0:0:0:0:1", TRUE },
		{ "[2001:db8::1]", "2001:db8::1", TRUE },
		{ "2001:db8::1", "2001:db8::2", FALSE },
		/* the local host, in all its spellings */
		{ "localhost", "127.0.0.1", TRUE },
		{ "LocalHost", "::1", TRUE },
		{ "127.0.0.1", "::1", TRUE },
		{ "[::1]", "localhost", TRUE },
		{ "::ffff:127.0.0.1", "localhost", TRUE },
		{ "127.0.0.2", "127.0.0.1", FALSE },
		{ "127.0.0.2", "localhost", FALSE },
		/* no DNS: a name is not its address */
		{ "example.org", "192.0.2.1", FALSE },
		{ "localhost.example", "localhost", FALSE },
		{ "::", "0.0.0.0", FALSE },
	};
	guint i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_test_message("%s / %s", cases[i].a, cases[i].b);
		g_assert_cmpint(parley_address_same_host(cases[i].a, cases[i].b), ==, cases[i].same);
		g_assert_cmpint(parley_address_same_host(cases[i].b, cases[i].a), ==, cases[i].same);
	}
}

static void
test_bad_arguments(void)
{
	GError *error = g_error_new_literal(PARLEY_ADDRESS_ERROR, 0, "already set");

	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*text != NULL*");
	g_assert_false(parley_address_parse(NULL, NULL, NULL, NULL));
	g_test_assert_expected_messages();
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*error == NULL*");
	g_assert_false(parley_address_parse("example.org", NULL, NULL, &error));
	g_test_assert_expected_messages();
	g_clear_error(&error);
	g_test_expect_message(NULL, G_LOG_LEVEL_CRITICAL, "*b != NULL*");
	g_assert_false(parley_address_same_host("a", NULL));
	g_test_assert_expected_messages();
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/address/valid", test_valid);
	g_test_add_func("/address/invalid", test_invalid);
	g_test_add_func("/address/message-text", test_message_text);
	g_test_add_func("/address/lengths", test_lengths);
	g_test_add_func("/address/format", test_format);
	g_test_add_func("/address/same-host", test_same_host);
	g_test_add_func("/address/bad-arguments", test_bad_arguments);
	return g_test_run();
}
