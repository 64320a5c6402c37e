/*
 * testutil.h - helpers shared by the test programs: a small JSON reader for
 * the vector files in tests/data/, and hex conversion.
 *
 * Ownership: tj_load() returns a tree freed with tj_free(); every node
 * returned by the accessors belongs to that tree.  Buffers returned by
 * t_hex()/tj_hex() and strings from t_tohex() are g_malloc'd, caller frees.
 */
#ifndef PARLEY_TESTUTIL_H
#define PARLEY_TESTUTIL_H

#include <glib.h>
#include <stdint.h>

typedef struct TJson TJson;

/* Parse tests/data/<name> (found through G_TEST_SRCDIR / g_test_build_filename
 * (G_TEST_DIST, "data", name)).  Aborts the test on a parse error. */
TJson *tj_load(const char *name);
TJson *tj_parse(const char *text, size_t len);   /* NULL on a parse error */
void tj_free(TJson *root);

/* Navigate: "handshakes/0/inputs/salt" (object keys and array indexes,
 * separated by '/').  Returns NULL when absent. */
TJson *tj_path(TJson *node, const char *path);
/* Like tj_path, but the test fails if the path is absent. */
TJson *tj_need(TJson *node, const char *path);

guint tj_len(TJson *array_or_object);          /* element count */
TJson *tj_at(TJson *array, guint i);
const char *tj_key_at(TJson *object, guint i); /* i-th key of an object */
gboolean tj_is_null(TJson *n);
gboolean tj_is_string(TJson *n);

const char *tj_str(TJson *n);                  /* fails the test if not a string */
gint64 tj_int(TJson *n);                       /* fails the test if not a number */
gboolean tj_bool(TJson *n);                    /* fails the test if not a bool */

/* Shorthands on a path: string, integer, bool, and hex-decoded bytes. */
const char *tj_pstr(TJson *node, const char *path);
gint64 tj_pint(TJson *node, const char *path);
gboolean tj_pbool(TJson *node, const char *path, gboolean dflt); /* dflt if absent */
uint8_t *tj_phex(TJson *node, const char *path, size_t *len);

uint8_t *t_hex(const char *hex, size_t *len);  /* fails the test on bad hex */
char *t_tohex(const void *data, size_t len);

/* Compare a buffer with a hex string, printing both in hex on mismatch. */
#define t_assert_hex(buf, len, hex) G_STMT_START { \
	char *t_h_ = t_tohex((buf), (len)); \
	g_assert_cmpstr(t_h_, ==, (hex)); \
	g_free(t_h_); \
} G_STMT_END

#endif
