/*
 * test-secrets.c - nothing secret reaches the debug log (STYLE.md rule 11).
 *
 * Runs Parley sessions in the headless libpurple host with every line of
 * libpurple's debug log captured (all categories, all levels, verbose) and
 * every GLib log message too, then looks in that text for what must never
 * be there: the passphrases, the message texts, and the key material this
 * program can derive - PRS from the passphrases and the account salts
 * ("parley-salt"), and, through peers it plays itself on raw sockets
 * (rawpeer.c and the classic core), every session key, IV, chain key and
 * rekey secret of their sessions.  Binary secrets are looked for raw, in
 * hex (lower and upper case, whole and in 8-byte windows) and in base64.
 *
 * libpurple prints its debug log on stdout when purple_debug_set_enabled
 * (TRUE) is on, which would corrupt the TAP stream; a UI whose is_enabled
 * says yes to everything gets exactly the same lines, so that is what this
 * program installs.  "Unsafe" debugging stays off: it is the user's
 * explicit consent to log sensitive data, which the plugin must not need.
 *
 * Each case adds what it knows to the list of secrets and checks the whole
 * log so far.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1           /* memmem */
#endif
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <purple.h>

#include "classic.h"
#include "constants.h"
#include "crypto.h"
#include "host.h"
#include "rawpeer.h"
#include "session.h"

/* Distinctive words: a leak of any part of a text shows up as its token. */
#define PASS_AB      "passphrase alpha zebra-umbrella-9041"
#define PASS_C       "passphrase gamma quokka-lantern-7726"
#define PASS_WRONG   "passphrase wrong narwhal-teapot-3158"
/* Latin-1 only (classic mode), with a character outside ASCII */
#define PASS_CLASSIC "passphrase classic ferret-m\xc3\xb6hre-4711"
#define ITERATIONS   200000u

#define T_SESSION    20000
#define T_MESSAGE    5000

#define STOP_IF_FAILED() G_STMT_START { if (g_test_failed()) return; } G_STMT_END

/* ---- the captured log ------------------------------------------------- */

static GString *capture;
static guint capture_lines, parley_lines;
static gboolean echo;
static GLogFunc host_log_func;

static gboolean
debug_enabled(PurpleDebugLevel level, const char *category)
{
	return TRUE;
}

static void
debug_print(PurpleDebugLevel level, const char *category, const char *arg_s)
{
	g_string_append_printf(capture, "%d %s: %s", level, category != NULL ? category : "-",
	                       arg_s);
	if (capture->len > 0 && capture->str[capture->len - 1] != '\n')
		g_string_append_c(capture, '\n');
	capture_lines++;
	if (g_strcmp0(category, "parley") == 0)
		parley_lines++;
	if (echo)
		g_printerr("%s: %s", category != NULL ? category : "-", arg_s);
}

static PurpleDebugUiOps debug_ops = {
	.print = debug_print,
	.is_enabled = debug_enabled,
};

static void
glib_log(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
	g_string_append_printf(capture, "glib %s: %s\n", domain != NULL ? domain : "-", message);
	capture_lines++;
	host_log_func(domain, level, message, NULL);
}

/* ---- what must not be in it ------------------------------------------- */

typedef struct {
	char *name;                 /* what it is (printed; the value never is) */
	GBytes *data;
	gboolean binary;            /* key material: windows are looked for too */
} Secret;

static GPtrArray *secrets;

static void
secret_free(gpointer p)
{
	Secret *s = p;
	gsize len;
	gpointer d = (gpointer) g_bytes_get_data(s->data, &len);

	parley_wipe(d, len);
	g_bytes_unref(s->data);
	g_free(s->name);
	g_free(s);
}

static void
add_secret(const char *name, const void *data, size_t len, gboolean binary)
{
	Secret *s = g_new0(Secret, 1);

	s->name = g_strdup(name);
	s->data = g_bytes_new(data, len);
	s->binary = binary;
	g_ptr_array_add(secrets, s);
}

static void
add_text(const char *name, const char *text)
{
	add_secret(name, text, strlen(text), FALSE);
}

static void
add_key(const char *name, const void *data, size_t len)
{
	add_secret(name, data, len, TRUE);
}

static char *
to_hex(const uint8_t *p, size_t len, gboolean upper)
{
	char *s = g_malloc(2 * len + 1);
	size_t i;

	for (i = 0; i < len; i++)
		g_snprintf(s + 2 * i, 3, upper ? "%02X" : "%02x", p[i]);
	return s;
}

static gboolean
in_log(const void *needle, size_t len)
{
	return len > 0 && memmem(capture->str, capture->len, needle, len) != NULL;
}

/* Looks for s in every spelling; returns the first that is found. */
static const char *
leaked_as(const Secret *s)
{
	gsize len;
	const uint8_t *p = g_bytes_get_data(s->data, &len);
	const char *found = NULL;
	size_t off;
	int upper;

	if (in_log(p, len))
		return "raw";
	for (upper = 0; upper < 2 && found == NULL; upper++) {
		char *hex = to_hex(p, len, upper);

		if (in_log(hex, strlen(hex)))
			found = upper ? "hex (upper case)" : "hex";
		g_free(hex);
		/* a part of a key is a leak too */
		for (off = 0; s->binary && found == NULL && off + 8 <= len; off += 4) {
			hex = to_hex(p + off, 8, upper);
			if (in_log(hex, 16))
				found = "8 bytes of it in hex";
			g_free(hex);
		}
	}
	if (found == NULL) {
		char *b64 = g_base64_encode(p, len);

		/* without the padding, which depends on the length alone */
		if (in_log(b64, strcspn(b64, "=")))
			found = "base64";
		g_free(b64);
	}
	return found;
}

/* The whole log so far against every secret known so far. */
static void
check_log(void)
{
	guint i;

	g_test_message("log: %u lines (%u from parley), %" G_GSIZE_FORMAT " bytes; %u secrets",
	               capture_lines, parley_lines, capture->len, secrets->len);
	/* not vacuous: the plugin did log what it does */
	g_assert_cmpuint(parley_lines, >, 0);
	g_assert_nonnull(strstr(capture->str, "parley: conn "));
	for (i = 0; i < secrets->len; i++) {
		const Secret *s = g_ptr_array_index(secrets, i);
		const char *how = leaked_as(s);

		if (how != NULL)
			g_test_message("LEAK: %s is in the debug log (%s)", s->name, how);
		g_assert_null(how);
	}
}

/* PRS = PBKDF2(passphrase, salt, 200000) for a passphrase and a salt. */
static void
add_prs(const char *what, const char *passphrase, const uint8_t salt[PARLEY_SALT_LEN])
{
	uint8_t prs[PARLEY_PRS_LEN];
	char *name = g_strdup_printf("PRS of %s", what);

	raw_prs(passphrase, salt, ITERATIONS, prs);
	add_key(name, prs, sizeof(prs));
	parley_wipe(prs, sizeof(prs));
	g_free(name);
}

/* The account's salt, as the plugin stored it (hex). */
static gboolean
account_salt(PurpleAccount *a, uint8_t salt[PARLEY_SALT_LEN])
{
	const char *hex = purple_account_get_string(a, "parley-salt", NULL);
	int i;

	if (hex == NULL || strlen(hex) != 2 * PARLEY_SALT_LEN)
		return FALSE;
	for (i = 0; i < PARLEY_SALT_LEN; i++)
		salt[i] = (uint8_t) (g_ascii_xdigit_value(hex[2 * i]) << 4 |
		                     g_ascii_xdigit_value(hex[2 * i + 1]));
	return TRUE;
}

static void
add_epoch_keys(const char *who, guint epoch, const ParleyEpochKeys *k)
{
	char *n;

#define KEY(field) \
	n = g_strdup_printf("%s epoch %u " #field, who, epoch); \
	add_key(n, k->field, sizeof(k->field)); \
	g_free(n)
	KEY(key_IR);
	KEY(iv_IR);
	KEY(key_RI);
	KEY(iv_RI);
	KEY(chain);
#undef KEY
}

/* ---- helpers on the host ------------------------------------------------ */

static guint case_no;

static PurpleAccount *
account(const char *base, const char *pass, char **name)
{
	*name = g_strdup_printf("%s-%u", base, case_no);
	return host_account_new(*name, pass, 0);
}

typedef struct {
	PurpleAccount *a;
	const char *who;
} Buddy;

static gboolean
buddy_online(gpointer data)
{
	Buddy *b = data;

	return host_buddy_online(b->a, b->who);
}

/* from says text to who; wait until `to` shows it from from_name. */
static gboolean
say(PurpleAccount *from, const char *who, PurpleAccount *to, const char *from_name,
    const char *text)
{
	guint m = host_mark();

	host_send_im(from, who, text);
	return host_wait(m, HOST_EV_MESSAGE, to, from_name, PURPLE_MESSAGE_RECV, text,
	                 T_MESSAGE) != NULL;
}

static void
check_no_ui_trouble(guint since)
{
	g_assert_null(host_find(since, HOST_EV_GLIB_LOG, NULL, NULL, 0, NULL));
	g_assert_null(host_find(since, HOST_EV_LOOP_MISUSE, NULL, NULL, 0, NULL));
}

/* ---- /secrets/detector ---------------------------------------------------- */

/* The search finds what it looks for: a canary logged in each spelling. */
static void
test_detector(void)
{
	static const struct {
		const char *how;
		gboolean upper;
		int part;               /* 0 whole, 1 an 8-byte window, 2 base64, 3 raw */
	} spellings[] = {
		{ "hex", FALSE, 0 }, { "hex (upper case)", TRUE, 0 },
		{ "8 bytes of it in hex", FALSE, 1 }, { "8 bytes of it in hex", TRUE, 1 },
		{ "base64", FALSE, 2 },
	};
	uint8_t key[32];
	Secret canary = { (char *) "canary", NULL, TRUE };
	Secret text = { (char *) "canary text", NULL, FALSE };
	gsize keep = capture->len;
	guint i;

	parley_random_bytes(key, sizeof(key));
	canary.data = g_bytes_new(key, sizeof(key));
	text.data = g_bytes_new_static("canary sierra-gecko-5150", 24);
	g_assert_null(leaked_as(&canary));
	g_assert_null(leaked_as(&text));
	for (i = 0; i < G_N_ELEMENTS(spellings); i++) {
		char *s = spellings[i].part == 2 ? g_base64_encode(key, sizeof(key)) :
		          to_hex(key + (spellings[i].part == 1 ? 12 : 0),
		                 spellings[i].part == 1 ? 8 : sizeof(key), spellings[i].upper);

		purple_debug_info("canary", "a key: %s\n", s);
		g_assert_cmpstr(leaked_as(&canary), ==, spellings[i].how);
		g_string_truncate(capture, keep);
		g_free(s);
	}
	purple_debug_warning("canary", "text: canary sierra-gecko-5150 (in a sentence)\n");
	g_assert_cmpstr(leaked_as(&text), ==, "raw");
	g_string_truncate(capture, keep);
	g_assert_null(leaked_as(&text));
	/* GLib's log is captured too */
	g_message("text: canary sierra-gecko-5150");
	g_assert_cmpstr(leaked_as(&text), ==, "raw");
	g_string_truncate(capture, keep);
	g_bytes_unref(canary.data);
	g_bytes_unref(text.data);
	parley_wipe(key, sizeof(key));
}

/* ---- /secrets/native ------------------------------------------------------ */

static void
test_native(void)
{
	static const char *texts[] = {
		"first words alpha-kiwi-2290 from A",
		"reply bravo-mango-8812 from B, with ünïcödé",
		"after the rekey charlie-papaya-5571",
		"multi\nline delta-guava-1093\ntext",
	};
	PurpleAccount *a, *b;
	char *an, *bn, *aaddr, *baddr;
	uint8_t salt[PARLEY_SALT_LEN];
	guint m = host_mark(), i;
	Buddy on = { NULL, NULL };

	case_no++;
	add_text("the passphrase of A and B", PASS_AB);
	for (i = 0; i < G_N_ELEMENTS(texts); i++) {
		char *n = g_strdup_printf("message text %u", i);

		add_text(n, texts[i]);
		g_free(n);
	}
	add_text("a token of a message", "alpha-kiwi-2290");
	add_text("a token of a message", "bravo-mango-8812");
	add_text("a token of a message", "charlie-papaya-5571");
	add_text("a token of a message", "delta-guava-1093");

	a = account("secret-a", PASS_AB, &an);
	b = account("secret-b", PASS_AB, &bn);
	aaddr = host_account_address(a, FALSE);
	baddr = host_account_address(b, FALSE);
	host_add_buddy(a, baddr);
	host_add_buddy(b, aaddr);
	g_assert_true(host_sign_on(a, T_SESSION));
	g_assert_true(host_sign_on(b, T_SESSION));
	host_conv(a, baddr);
	host_conv(b, aaddr);
	on.a = a;
	on.who = baddr;
	g_assert_true(host_run_until(buddy_online, &on, T_SESSION));
	on.a = b;
	on.who = aaddr;
	g_assert_true(host_run_until(buddy_online, &on, T_SESSION));
	host_run_for(300);
	STOP_IF_FAILED();
	/* PRS each side computed: its own (as initiator) and the other's
	 * (as responder), from the salts the accounts keep */
	g_assert_true(account_salt(a, salt));
	add_prs("A's salt", PASS_AB, salt);
	g_assert_true(account_salt(b, salt));
	add_prs("B's salt", PASS_AB, salt);

	g_assert_true(say(a, baddr, b, aaddr, texts[0]));
	g_assert_true(say(b, aaddr, a, baddr, texts[1]));
	host_typing(a, baddr, PURPLE_TYPING);
	g_assert_true(host_menu_action(a, baddr, "Rekey now"));
	g_assert_nonnull(host_wait(m, HOST_EV_MESSAGE, b, aaddr, PURPLE_MESSAGE_SYSTEM,
	                           "Session key rotated", T_MESSAGE));
	g_assert_true(say(a, baddr, b, aaddr, texts[2]));
	g_assert_true(say(b, aaddr, a, baddr, texts[3]));
	/* a session that ends */
	host_sign_off(b);
	host_run_for(200);
	check_no_ui_trouble(m);
	host_account_delete(a);
	host_account_delete(b);
	host_run_for(100);
	check_log();
	g_free(an);
	g_free(bn);
	g_free(aaddr);
	g_free(baddr);
}

/* ---- /secrets/wrong-passphrase ------------------------------------------- */

static void
test_wrong_passphrase(void)
{
	static const char *queued = "typed before it worked echo-walrus-6402";
	static const char *later = "after the buddy passphrase foxtrot-bison-3317";
	PurpleAccount *a, *c;
	char *an, *cn, *aaddr, *caddr;
	uint8_t salt_a[PARLEY_SALT_LEN], salt_c[PARLEY_SALT_LEN];
	guint m = host_mark();
	Buddy on = { NULL, NULL };

	case_no++;
	add_text("A's passphrase", PASS_AB);
	add_text("C's passphrase", PASS_C);
	add_text("a queued message", queued);
	add_text("a token of a message", "echo-walrus-6402");
	add_text("a later message", later);
	add_text("a token of a message", "foxtrot-bison-3317");

	a = account("secret-a", PASS_AB, &an);
	c = account("secret-c", PASS_C, &cn);
	aaddr = host_account_address(a, FALSE);
	caddr = host_account_address(c, FALSE);
	host_add_buddy(a, caddr);
	host_add_buddy(c, aaddr);
	g_assert_true(host_sign_on(a, T_SESSION));
	g_assert_true(host_sign_on(c, T_SESSION));
	/* both dial, both fail on the passphrase */
	g_assert_nonnull(host_wait(m, HOST_EV_MESSAGE, a, caddr, PURPLE_MESSAGE_ERROR,
	                           "do not match", T_SESSION));
	g_assert_nonnull(host_wait(m, HOST_EV_MESSAGE, c, aaddr, PURPLE_MESSAGE_ERROR,
	                           "do not match", T_SESSION));
	STOP_IF_FAILED();
	g_assert_true(account_salt(a, salt_a));
	g_assert_true(account_salt(c, salt_c));
	add_prs("A's salt with A's passphrase", PASS_AB, salt_a);
	add_prs("C's salt with C's passphrase", PASS_C, salt_c);
	add_prs("C's salt with A's passphrase", PASS_AB, salt_c);
	add_prs("A's salt with C's passphrase", PASS_C, salt_a);

	/* the user writes anyway: it waits */
	host_send_im(a, caddr, queued);
	host_run_for(200);
	/* then sets the passphrase C uses for this buddy, in the masked dialog */
	host_answer_next_input(PASS_C);
	g_assert_true(host_menu_action(a, caddr, "Set passphrase..."));
	on.a = a;
	on.who = caddr;
	g_assert_true(host_run_until(buddy_online, &on, T_SESSION));
	g_assert_nonnull(host_wait(m, HOST_EV_MESSAGE, c, aaddr, PURPLE_MESSAGE_RECV, queued,
	                           T_SESSION));
	g_assert_true(say(a, caddr, c, aaddr, later));
	check_no_ui_trouble(m);
	host_account_delete(a);
	host_account_delete(c);
	host_run_for(100);
	check_log();
	g_free(an);
	g_free(cn);
	g_free(aaddr);
	g_free(caddr);
}

/* ---- /secrets/raw-peer ---------------------------------------------------- */

static gboolean
got_messages(RawSession *s, gpointer data)
{
	return s->messages->len >= GPOINTER_TO_UINT(data);
}

static gboolean
got_rekeys(RawSession *s, gpointer data)
{
	return s->rekeys >= GPOINTER_TO_UINT(data);
}

static void
test_raw_peer(void)
{
	static const char *to_a[] = {
		"raw peer says golf-heron-4420", "raw peer after the rekey hotel-lemur-9167",
	};
	static const char *from_a[] = {
		"A answers india-otter-1385", "A after the rekey juliet-yak-7740",
	};
	PurpleAccount *a;
	char *an, *who;
	RawConn *c;
	RawSession s, bad;
	uint8_t salt[PARLEY_SALT_LEN], prs[PARLEY_PRS_LEN];
	guint m = host_mark(), i;
	char *err = NULL;

	case_no++;
	add_text("the passphrase", PASS_AB);
	add_text("a wrong guess", PASS_WRONG);
	for (i = 0; i < 2; i++) {
		add_text("a message to A", to_a[i]);
		add_text("a message from A", from_a[i]);
	}
	add_text("a token of a message", "golf-heron-4420");
	add_text("a token of a message", "hotel-lemur-9167");
	add_text("a token of a message", "india-otter-1385");
	add_text("a token of a message", "juliet-yak-7740");

	a = account("secret-a", PASS_AB, &an);
	g_assert_true(host_sign_on(a, T_SESSION));
	STOP_IF_FAILED();

	/* a wrong guess first, from the same stranger */
	parley_random_bytes(salt, sizeof(salt));
	add_prs("the raw peer's salt with the passphrase", PASS_AB, salt);
	add_prs("the raw peer's salt with the wrong guess", PASS_WRONG, salt);
	c = raw_connect("127.0.0.5", host_account_port(a));
	g_assert_nonnull(c);
	STOP_IF_FAILED();
	raw_session_init(&bad, c);
	raw_prs(PASS_WRONG, salt, ITERATIONS, prs);
	raw_session_send_hs1(&bad, "rawpeer", 0, salt, ITERATIONS, prs);
	g_assert_cmpint(raw_session_wait_reply(&bad, T_SESSION), ==, RAW_REPLY_HS2);
	g_assert_cmpint(raw_session_finish(&bad), ==, PARLEY_ERR_AUTH);
	raw_session_clear(&bad);
	raw_close(c);

	/* then the right passphrase, after the backoff (§9: 1 s) */
	host_run_for(1200);
	c = raw_connect("127.0.0.5", host_account_port(a));
	g_assert_nonnull(c);
	STOP_IF_FAILED();
	raw_session_init(&s, c);
	raw_prs(PASS_AB, salt, ITERATIONS, prs);
	g_assert_true(raw_session_handshake(&s, "rawpeer", 0, salt, ITERATIONS, prs, T_SESSION));
	parley_wipe(prs, sizeof(prs));
	/* a stranger appears under its address (the default port unsaid) */
	who = g_strdup("127.0.0.5");

	g_assert_true(raw_session_send_msg(&s, to_a[0]));
	g_assert_nonnull(host_wait(m, HOST_EV_MESSAGE, a, who, PURPLE_MESSAGE_RECV, to_a[0],
	                           T_MESSAGE));
	host_send_im(a, who, from_a[0]);
	g_assert_true(raw_session_run_until(&s, got_messages, GUINT_TO_POINTER(1), T_MESSAGE));
	/* A's user asks for a rekey; the raw peer answers it */
	g_assert_cmpint(host_command(a, who, "rekey", &err), ==, PURPLE_CMD_STATUS_OK);
	g_free(err);
	g_assert_true(raw_session_run_until(&s, got_rekeys, GUINT_TO_POINTER(1), T_MESSAGE));
	g_assert_true(raw_session_send_msg(&s, to_a[1]));
	g_assert_nonnull(host_wait(m, HOST_EV_MESSAGE, a, who, PURPLE_MESSAGE_RECV, to_a[1],
	                           T_MESSAGE));
	host_send_im(a, who, from_a[1]);
	g_assert_true(raw_session_run_until(&s, got_messages, GUINT_TO_POINTER(2), T_MESSAGE));
	g_assert_cmpuint(s.messages->len, ==, 2);
	for (i = 0; i < s.messages->len && i < 2; i++)
		g_assert_cmpstr(g_ptr_array_index(s.messages, i), ==, from_a[i]);

	/* every key of both epochs, and the rekey's shared secret */
	for (i = 0; i < s.epoch_keys->len; i++)
		add_epoch_keys("the raw peer's session", i, g_ptr_array_index(s.epoch_keys, i));
	for (i = 0; i < s.dh->len; i++) {
		gsize len;
		const void *d = g_bytes_get_data(g_ptr_array_index(s.dh, i), &len);

		add_key("a rekey's X25519 shared secret", d, len);
	}
	g_assert_cmpuint(s.epoch_keys->len, ==, 2);

	/* the error path: a record that fails its check (its text must not be
	 * logged, decrypted or not) */
	{
		static const char *forged = "12345678forged record papa-lynx-6620";
		GByteArray *fr = g_byte_array_new();

		add_text("a forged record's text", forged + 8);
		add_text("a token of a message", "papa-lynx-6620");
		raw_session_seal(&s, RAW_MSG, forged, strlen(forged), fr);
		fr->data[fr->len - 3] ^= 0x10;
		raw_send(c, fr->data, fr->len);
		g_byte_array_unref(fr);
		g_assert_true(raw_wait_eof(c, T_MESSAGE));
		g_assert_nonnull(host_wait(m, HOST_EV_MESSAGE, a, who, PURPLE_MESSAGE_ERROR,
		                           "integrity", T_MESSAGE));
	}
	raw_session_clear(&s);
	raw_close(c);
	host_run_for(200);
	check_no_ui_trouble(m);
	host_account_delete(a);
	host_run_for(100);
	check_log();
	g_free(an);
	g_free(who);
}

/* ---- /secrets/classic ------------------------------------------------------ */

/* The original tool's side, played by the classic core on a raw socket:
 * it computes every key itself, so the test knows them all. */
typedef struct {
	RawConn *c;
	ParleyClassic *cl;
	uint8_t *pass;              /* Latin-1, secure memory */
	size_t pass_len;
	GPtrArray *texts;           /* received */
	guint keys;
	gboolean closed;
} RawClassic;

static void
classic_pump(RawClassic *r)
{
	gint64 now = g_get_monotonic_time() / 1000;
	ParleyEvent ev;
	GByteArray *out;

	if (r->c->in->len > 0) {
		parley_classic_feed(r->cl, r->c->in->data, r->c->in->len, now);
		g_byte_array_set_size(r->c->in, 0);
	}
	parley_classic_tick(r->cl, now);
	while (parley_classic_next_event(r->cl, &ev)) {
		if (ev.type == PARLEY_EV_NEED_KDF) {
			uint8_t key[PARLEY_KDF_MAX_OUT];

			g_assert_true(parley_pbkdf2_sha256(r->pass, r->pass_len, ev.kdf_salt,
			                                   PARLEY_SALT_LEN, ev.kdf_iterations, key,
			                                   ev.kdf_len));
			add_key("a classic key", key, ev.kdf_len);
			r->keys++;
			parley_classic_provide_kdf(r->cl, ev.kdf_id, key, ev.kdf_len, now);
			parley_wipe(key, sizeof(key));
		} else if (ev.type == PARLEY_EV_MESSAGE) {
			g_ptr_array_add(r->texts, g_strdup(ev.text));
		} else if (ev.type == PARLEY_EV_CLOSED) {
			r->closed = TRUE;
		}
		parley_event_clear(&ev);
	}
	out = parley_classic_output(r->cl);
	if (out->len > 0) {
		raw_send(r->c, out->data, out->len);
		g_byte_array_set_size(out, 0);
	}
}

typedef struct {
	RawClassic *r;
	guint texts, keys;
} ClassicWait;

static gboolean
classic_done(gpointer data)
{
	ClassicWait *w = data;

	classic_pump(w->r);
	return w->r->texts->len >= w->texts && w->r->keys >= w->keys;
}

/* Iterate (the core's timers need ticks) until the classic peer has
 * received texts messages and derived keys keys. */
static gboolean
classic_wait(RawClassic *r, guint texts, guint keys, guint timeout_ms)
{
	ClassicWait w = { r, texts, keys };

	return host_run_until(classic_done, &w, timeout_ms);
}

typedef struct {
	RawClassic *r;
	PurpleAccount *a;
	const char *who, *text;
	guint since;
} ShownWait;

static gboolean
shown_done(gpointer data)
{
	ShownWait *w = data;

	classic_pump(w->r);
	return host_find(w->since, HOST_EV_MESSAGE, w->a, w->who, PURPLE_MESSAGE_RECV,
	                 w->text) != NULL;
}

/* The raw classic peer sends text (after the core's start delay, so it is
 * pumped meanwhile) and account a shows it from who. */
static gboolean
classic_say(RawClassic *r, PurpleAccount *a, const char *who, const char *text)
{
	ShownWait w = { r, a, who, text, host_mark() };

	g_assert_cmpint(parley_classic_send(r->cl, text, strlen(text),
	                                    g_get_monotonic_time() / 1000), ==, PARLEY_ERR_NONE);
	return host_run_until(shown_done, &w, T_SESSION);
}

/* Wakes the loop up now and then, for the classic core's timers. */
static gboolean
wake(gpointer data)
{
	return G_SOURCE_CONTINUE;
}

static void
test_classic(void)
{
	static const char *texts[] = {
		"classic from W kilo-moose-2764", "classic from L lima-ibex-5083",
		"classic raw peer mike-tapir-3391", "classic to the raw peer november-koala-8526",
		"classic after the rekey oscar-dingo-1147",
	};
	PurpleAccount *l, *w;
	char *ln, *wn, *laddr, *raw_who, *w_who;
	RawClassic r = { NULL };
	ParleyError perr;
	guint m = host_mark(), i, tick;
	char *err = NULL;
	gboolean ok;

	case_no++;
	add_text("the classic passphrase", PASS_CLASSIC);
	for (i = 0; i < G_N_ELEMENTS(texts); i++)
		add_text("a classic message", texts[i]);
	add_text("a token of a message", "kilo-moose-2764");
	add_text("a token of a message", "lima-ibex-5083");
	add_text("a token of a message", "mike-tapir-3391");
	add_text("a token of a message", "november-koala-8526");
	add_text("a token of a message", "oscar-dingo-1147");

	/* L listens in classic mode; W dials it */
	l = account("secret-l", PASS_CLASSIC, &ln);
	purple_account_set_string(l, "protocol", "classic");
	w = account("secret-w", PASS_CLASSIC, &wn);
	purple_account_set_string(w, "protocol", "classic");
	laddr = host_account_address(l, FALSE);
	host_add_buddy(w, laddr);
	g_assert_true(host_sign_on(l, T_SESSION));
	g_assert_true(host_sign_on(w, T_SESSION));
	STOP_IF_FAILED();
	r.pass = parley_classic_passphrase(PASS_CLASSIC, &r.pass_len, &perr);
	g_assert_nonnull(r.pass);
	STOP_IF_FAILED();
	add_secret("the classic passphrase in Latin-1", r.pass, r.pass_len, FALSE);

	/* W writes first (it dials then); L answers the stranger it sees */
	w_who = g_strdup("127.0.0.1");
	host_send_im(w, laddr, texts[0]);
	g_assert_nonnull(host_wait(m, HOST_EV_MESSAGE, l, w_who, PURPLE_MESSAGE_RECV, texts[0],
	                           T_SESSION));
	g_assert_true(say(l, w_who, w, laddr, texts[1]));
	g_assert_true(host_menu_action(w, laddr, "Rekey now"));
	host_run_for(500);

	/* the raw peer: the test sees every salt, so it knows every key */
	r.c = raw_connect("127.0.0.6", host_account_port(l));
	g_assert_nonnull(r.c);
	STOP_IF_FAILED();
	r.cl = parley_classic_new(PARLEY_CLASSIC_CONNECTOR, NULL, NULL,
	                          g_get_monotonic_time() / 1000);
	r.texts = g_ptr_array_new_with_free_func(g_free);
	raw_who = g_strdup("127.0.0.6");
	tick = g_timeout_add(50, wake, NULL);
	g_assert_true(classic_wait(&r, 0, 1, T_SESSION));
	g_assert_true(classic_say(&r, l, raw_who, texts[2]));
	host_send_im(l, raw_who, texts[3]);
	g_assert_true(classic_wait(&r, 1, 1, T_MESSAGE));
	/* L's user rekeys: a new salt on the wire, a new key on both sides */
	g_assert_cmpint(host_command(l, raw_who, "rekey", &err), ==, PURPLE_CMD_STATUS_OK);
	g_free(err);
	host_send_im(l, raw_who, texts[4]);
	ok = classic_wait(&r, 2, 2, T_SESSION);
	g_assert_true(ok);
	/* and one rekey of the raw peer's own */
	g_assert_cmpint(parley_classic_rekey(r.cl, g_get_monotonic_time() / 1000), ==,
	                PARLEY_ERR_NONE);
	g_assert_true(classic_wait(&r, 2, 3, T_MESSAGE));
	/* L reads the next message under the raw peer's new key */
	g_assert_true(classic_say(&r, l, raw_who, texts[2]));
	for (i = 0; i < r.texts->len && i < 2; i++)
		g_assert_cmpstr(g_ptr_array_index(r.texts, i), ==, texts[3 + i]);
	g_source_remove(tick);

	parley_classic_free(r.cl);
	raw_close(r.c);
	g_ptr_array_unref(r.texts);
	parley_secure_free(r.pass, r.pass_len);
	host_run_for(200);
	check_no_ui_trouble(m);
	host_account_delete(l);
	host_account_delete(w);
	host_run_for(100);
	check_log();
	g_free(ln);
	g_free(wn);
	g_free(laddr);
	g_free(raw_who);
	g_free(w_who);
}

/* ---- main ---------------------------------------------------------------- */

int
main(int argc, char **argv)
{
	GError *error = NULL;
	int rc;

	g_test_init(&argc, &argv, NULL);
	g_test_set_nonfatal_assertions();
	g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_ERROR);
	g_setenv("PARLEY_TEST_RETRY_MS", "200", FALSE);
	capture = g_string_new(NULL);
	secrets = g_ptr_array_new_with_free_func(secret_free);

	if (!host_init(&error)) {
		g_printerr("# cannot start the libpurple host: %s\n", error->message);
		printf("Bail out! %s\n", error->message);
		g_error_free(error);
		return 1;
	}
	/* every debug line, verbose; every GLib message (the host's handler
	 * still records warnings) */
	echo = g_getenv("PARLEY_TEST_DEBUG") != NULL;
	purple_debug_set_ui_ops(&debug_ops);
	purple_debug_set_verbose(TRUE);
	host_log_func = g_log_set_default_handler(glib_log, NULL);

	g_test_add_func("/secrets/detector", test_detector);
	g_test_add_func("/secrets/native", test_native);
	g_test_add_func("/secrets/wrong-passphrase", test_wrong_passphrase);
	g_test_add_func("/secrets/raw-peer", test_raw_peer);
	g_test_add_func("/secrets/classic", test_classic);

	rc = g_test_run();
	host_shutdown();
	/* what libpurple logged while it shut down, too */
	if (rc == 0 && secrets->len > 0) {
		guint i;

		for (i = 0; i < secrets->len; i++)
			if (leaked_as(g_ptr_array_index(secrets, i)) != NULL)
				rc = 1;
	}
	g_ptr_array_unref(secrets);
	g_string_free(capture, TRUE);
	return rc;
}
