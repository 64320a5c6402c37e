/*
 * test-i18n.c - the plugins speak the user's language: under LANGUAGE=de
 * (and fr) libpurple loads them in the headless host (host.c), and what a
 * user reads comes from Parley's catalogs - an account option's label, the
 * plugin's summary, the conversation notices for a queued message and for
 * an established session, and the "Add Buddy" error that the address
 * parser builds from pieces.  Without LANGUAGE the same places stay in
 * English.
 *
 * Each language runs in a subprocess of its own: the plugins translate
 * their option labels once, when libpurple probes them, and the host is one
 * libpurple core per process.  The catalogs are the ones po/ builds, laid
 * out by "make check" as tests/locale/LL/LC_MESSAGES/parley.mo in the build
 * tree; the plugins find them through PARLEY_LOCALEDIR.  The machine needs
 * only the C.UTF-8 locale: glibc honours LANGUAGE in every locale but "C".
 */
#include "config.h"

#include <locale.h>
#include <string.h>

#include <glib.h>
#include <purple.h>

#include "host.h"

#define PASSPHRASE "correct horse battery staple"
#define PORT_SETTING "port"            /* the prpl's "Listen port" option */
#define T_SESSION 20000                /* sign-on, handshake with PBKDF2 */

typedef struct {
	const char *language;           /* LANGUAGE; "" for none */
	const char *port_label;         /* the "Listen port" account option */
	const char *summary;            /* the protocol plugin's summary */
	const char *add_buddy_title;    /* the Add Buddy error dialog ... */
	const char *bad_address;        /* ... and its reason for "a b" */
	const char *not_yet;            /* "Not connected to %s yet: ..." */
	const char *established;        /* "Secure session with %s established." */
	const char *code;               /* "Verification code:" in the same notice */
} Lang;

static const Lang german = {
	"de",
	"Port für eingehende Verbindungen",
	"Direkter, Ende-zu-Ende-verschlüsselter Chat mit einer gemeinsamen Passphrase",
	"Buddy hinzufügen",
	"„a b“ ist keine gültige Parley-Adresse: der Hostname enthält ein Leerzeichen;",
	"Noch nicht mit ",
	"Sichere Sitzung mit ",
	"Prüfcode: ",
};

static const Lang french = {
	"fr",
	"Port d'écoute",
	"Discussion directe, chiffrée de bout en bout, avec une phrase de passe partagée",
	"Ajouter un contact",
	"« a b » n'est pas une adresse Parley valide : le nom d'hôte contient un espace ; il ne peut contenir que",
	"Pas encore connecté à ",
	"Session sécurisée avec ",
	"Code de vérification : ",
};

static const Lang english = {
	"",
	"Listen port",
	"Direct, end-to-end encrypted chat with a shared passphrase",
	"Add Buddy",
	"\xe2\x80\x9c" "a b\xe2\x80\x9d is not a valid Parley address: the host name contains a space;",
	"Not connected to ",
	"Secure session with ",
	"Verification code: ",
};

static const char *
option_label(PurplePlugin *prpl, const char *setting)
{
	GList *l;

	for (l = PURPLE_PLUGIN_PROTOCOL_INFO(prpl)->protocol_options; l != NULL; l = l->next) {
		if (g_strcmp0(purple_account_option_get_setting(l->data), setting) == 0)
			return purple_account_option_get_text(l->data);
	}
	return NULL;
}

/* The subprocess: the locale first, then libpurple and the plugins. */
static void
run_in_language(const Lang *lang)
{
	GError *error = NULL;
	PurplePlugin *prpl;
	PurpleAccount *a, *b;
	char *dir, *mo, *addr_a, *addr_b;
	const HostEvent *ev;
	guint mark;

	dir = g_test_build_filename(G_TEST_BUILT, "locale", NULL);
	if (*lang->language != '\0') {
		mo = g_build_filename(dir, lang->language, "LC_MESSAGES", GETTEXT_PACKAGE ".mo", NULL);
		if (!g_file_test(mo, G_FILE_TEST_EXISTS))
			g_error("%s is missing: \"make check\" builds it from po/", mo);
		g_free(mo);
	}
	g_setenv("PARLEY_LOCALEDIR", dir, TRUE);
	g_free(dir);
	g_setenv("LANGUAGE", lang->language, TRUE);
	g_setenv("LC_ALL", "C.UTF-8", TRUE);
	g_setenv("LANG", "C.UTF-8", TRUE);
	/* a refused dial is retried soon (bernd signs on after it) */
	g_setenv("PARLEY_TEST_RETRY_MS", "200", FALSE);
	g_assert_nonnull(setlocale(LC_ALL, ""));

	if (!host_init(&error))
		g_error("cannot start the libpurple host: %s", error->message);
	g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_ERROR);

	/* translated when libpurple probed the plugin */
	prpl = purple_find_prpl("prpl-parley");
	g_assert_nonnull(prpl);
	g_assert_cmpstr(option_label(prpl, PORT_SETTING), ==, lang->port_label);
	g_assert_cmpstr(purple_plugin_get_summary(prpl), ==, lang->summary);

	a = host_account_new("anna", PASSPHRASE, 0);
	b = host_account_new("bernd", PASSPHRASE, 0);
	addr_a = host_account_address(a, FALSE);
	addr_b = host_account_address(b, FALSE);
	host_add_buddy(a, addr_b);
	host_add_buddy(b, addr_a);
	g_assert_true(host_sign_on(a, T_SESSION));

	/* a message to bernd before he is there: queued, with a notice */
	mark = host_mark();
	host_conv(a, addr_b);
	host_send_im(a, addr_b, "hello");
	ev = host_wait(mark, HOST_EV_MESSAGE, a, addr_b, PURPLE_MESSAGE_SYSTEM,
	               lang->not_yet, 5000);
	if (ev == NULL)
		host_dump(mark);
	g_assert_nonnull(ev);
	g_test_message("%s", ev->text);

	/* bernd signs on: the notice of the established session */
	g_assert_true(host_sign_on(b, T_SESSION));
	host_conv(b, addr_a);
	ev = host_wait(mark, HOST_EV_MESSAGE, a, addr_b, PURPLE_MESSAGE_SYSTEM,
	               lang->established, T_SESSION);
	if (ev == NULL)
		host_dump(mark);
	g_assert_nonnull(ev);
	g_test_message("%s", ev->text);
	g_assert_nonnull(strstr(ev->text, lang->code));

	/* the address parser's message, built from translated pieces */
	mark = host_mark();
	host_add_buddy(a, "a b");
	ev = host_wait(mark, HOST_EV_NOTIFY, NULL, NULL, 0, NULL, 5000);
	g_assert_nonnull(ev);
	g_test_message("%s: %s", ev->title, ev->secondary);
	g_assert_cmpstr(ev->title, ==, lang->add_buddy_title);
	g_assert_true(g_str_has_prefix(ev->secondary, lang->bad_address));

	g_free(addr_a);
	g_free(addr_b);
	host_account_delete(a);
	host_account_delete(b);
	host_shutdown();
}

static void
test_language(gconstpointer data)
{
	const Lang *lang = data;
	locale_t utf8;

	if (g_test_subprocess()) {
		run_in_language(lang);
		return;
	}
	utf8 = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t) 0);
	if (utf8 == (locale_t) 0) {
		g_test_skip("this machine has no C.UTF-8 locale");
		return;
	}
	freelocale(utf8);
	g_test_trap_subprocess(NULL, 120 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
	g_test_trap_assert_passed();
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_data_func("/i18n/de", &german, test_language);
	g_test_add_data_func("/i18n/fr", &french, test_language);
	g_test_add_data_func("/i18n/untranslated", &english, test_language);
	return g_test_run();
}
