/*
 * testutil.c - a small, strict JSON reader for the vector files and hex
 * helpers (see testutil.h).
 *
 * Strict means RFC 8259 as written: no trailing commas, no comments, no
 * leading zeros, no raw control characters in strings, no lone surrogates,
 * nothing but whitespace after the top-level value.  Strings are decoded to
 * UTF-8 (\uXXXX surrogate pairs joined); they may contain NUL, so their
 * length is kept.  Numbers without fraction or exponent are gint64 (overflow
 * is a parse error); others are kept as doubles and tj_int() accepts them
 * only when integral.
 *
 * Test failures go through g_assertion_message(), like g_assert_*: the
 * message names the path (or the file) involved.
 */
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
	TJ_NULL,
	TJ_BOOL,
	TJ_INT,
	TJ_DOUBLE,
	TJ_STRING,
	TJ_ARRAY,
	TJ_OBJECT
} TJType;

struct TJson {
	TJType type;
	gboolean b;
	gint64 i;
	double d;
	char *s;          /* TJ_STRING: NUL-terminated UTF-8 */
	size_t slen;
	GPtrArray *items; /* TJ_ARRAY / TJ_OBJECT: TJson * values */
	GPtrArray *keys;  /* TJ_OBJECT: char * keys, parallel to items */
};

/* Deeper nesting than this is refused rather than risking the stack. */
#define TJ_MAX_DEPTH 256

typedef struct {
	const char *p;
	const char *end;
	int depth;
} Parser;

static void
fail_msg(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static void
fail_msg(const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_assertion_message(G_LOG_DOMAIN, __FILE__, __LINE__, G_STRFUNC, msg);
	g_free(msg);
}

static TJson *
node_new(TJType type)
{
	TJson *n = g_new0(TJson, 1);

	n->type = type;
	return n;
}

void
tj_free(TJson *root)
{
	if (root == NULL)
		return;
	if (root->items != NULL) {
		for (guint i = 0; i < root->items->len; i++)
			tj_free(g_ptr_array_index(root->items, i));
		g_ptr_array_free(root->items, TRUE);
	}
	if (root->keys != NULL)
		g_ptr_array_free(root->keys, TRUE);
	g_free(root->s);
	g_free(root);
}

static void
skip_ws(Parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static gboolean
literal(Parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return FALSE;
	ps->p += n;
	return TRUE;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static gboolean
read_u4(Parser *ps, gunichar *out)
{
	gunichar v = 0;

	if (ps->end - ps->p < 4)
		return FALSE;
	for (int k = 0; k < 4; k++) {
		int h = hexval(ps->p[k]);

		if (h < 0)
			return FALSE;
		v = (v << 4) | (gunichar)h;
	}
	ps->p += 4;
	*out = v;
	return TRUE;
}

/* Parses a string starting at the opening quote into a g_malloc'd UTF-8
 * buffer.  Raw bytes must already be valid UTF-8. */
static char *
parse_string(Parser *ps, size_t *len_out)
{
	GString *out;

	if (ps->p >= ps->end || *ps->p != '"')
		return NULL;
	ps->p++;
	out = g_string_new(NULL);
	for (;;) {
		unsigned char c;

		if (ps->p >= ps->end)
			goto bad;
		c = (unsigned char)*ps->p;
		if (c == '"') {
			ps->p++;
			break;
		}
		if (c < 0x20)
			goto bad;
		if (c != '\\') {
			/* Copy one raw UTF-8 sequence, validating it. */
			const char *next;

			if (c < 0x80) {
				g_string_append_c(out, (char)c);
				ps->p++;
				continue;
			}
			if (g_utf8_get_char_validated(ps->p, ps->end - ps->p) >= 0x80000000u)
				goto bad;
			next = g_utf8_next_char(ps->p);
			g_string_append_len(out, ps->p, next - ps->p);
			ps->p = next;
			continue;
		}
		ps->p++;
		if (ps->p >= ps->end)
			goto bad;
		c = (unsigned char)*ps->p++;
		switch (c) {
		case '"': g_string_append_c(out, '"'); break;
		case '\\': g_string_append_c(out, '\\'); break;
		case '/': g_string_append_c(out, '/'); break;
		case 'b': g_string_append_c(out, '\b'); break;
		case 'f': g_string_append_c(out, '\f'); break;
		case 'n': g_string_append_c(out, '\n'); break;
		case 'r': g_string_append_c(out, '\r'); break;
		case 't': g_string_append_c(out, '\t'); break;
		case 'u': {
			gunichar u, lo;

			if (!read_u4(ps, &u))
				goto bad;
			if (u >= 0xDC00 && u <= 0xDFFF)
				goto bad;       /* lone low surrogate */
			if (u >= 0xD800 && u <= 0xDBFF) {
				if (!literal(ps, "\\u") || !read_u4(ps, &lo) ||
				    lo < 0xDC00 || lo > 0xDFFF)
					goto bad;
				u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
			}
			g_string_append_unichar(out, u);
			break;
		}
		default:
			goto bad;
		}
	}
	*len_out = out->len;
	return g_string_free(out, FALSE);
bad:
	g_string_free(out, TRUE);
	return NULL;
}

static TJson *
parse_number(Parser *ps)
{
	const char *start = ps->p;
	gboolean is_int = TRUE;
	char *buf, *endp;
	TJson *n;

	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	if (ps->p >= ps->end || !g_ascii_isdigit(*ps->p))
		return NULL;
	if (*ps->p == '0') {
		ps->p++;
		if (ps->p < ps->end && g_ascii_isdigit(*ps->p))
			return NULL;    /* leading zero */
	} else {
		while (ps->p < ps->end && g_ascii_isdigit(*ps->p))
			ps->p++;
	}
	if (ps->p < ps->end && *ps->p == '.') {
		is_int = FALSE;
		ps->p++;
		if (ps->p >= ps->end || !g_ascii_isdigit(*ps->p))
			return NULL;
		while (ps->p < ps->end && g_ascii_isdigit(*ps->p))
			ps->p++;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		is_int = FALSE;
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (ps->p >= ps->end || !g_ascii_isdigit(*ps->p))
			return NULL;
		while (ps->p < ps->end && g_ascii_isdigit(*ps->p))
			ps->p++;
	}

	buf = g_strndup(start, ps->p - start);
	if (is_int) {
		gint64 v;

		errno = 0;
		v = g_ascii_strtoll(buf, &endp, 10);
		if (errno != 0 || *endp != '\0') {
			g_free(buf);
			return NULL;    /* out of gint64 range */
		}
		n = node_new(TJ_INT);
		n->i = v;
	} else {
		n = node_new(TJ_DOUBLE);
		n->d = g_ascii_strtod(buf, &endp);
	}
	g_free(buf);
	return n;
}

static TJson *parse_value(Parser *ps);

static TJson *
parse_array(Parser *ps)
{
	TJson *n = node_new(TJ_ARRAY);

	n->items = g_ptr_array_new();
	ps->p++;                        /* '[' */
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
		return n;
	}
	for (;;) {
		TJson *v = parse_value(ps);

		if (v == NULL)
			goto bad;
		g_ptr_array_add(n->items, v);
		skip_ws(ps);
		if (ps->p >= ps->end)
			goto bad;
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p == ']') {
			ps->p++;
			return n;
		}
		goto bad;
	}
bad:
	tj_free(n);
	return NULL;
}

static TJson *
parse_object(Parser *ps)
{
	TJson *n = node_new(TJ_OBJECT);

	n->items = g_ptr_array_new();
	n->keys = g_ptr_array_new_with_free_func(g_free);
	ps->p++;                        /* '{' */
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		return n;
	}
	for (;;) {
		size_t klen;
		char *key;
		TJson *v;

		skip_ws(ps);
		key = parse_string(ps, &klen);
		if (key == NULL)
			goto bad;
		g_ptr_array_add(n->keys, key);
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != ':')
			goto bad;
		ps->p++;
		v = parse_value(ps);
		if (v == NULL)
			goto bad;
		g_ptr_array_add(n->items, v);
		skip_ws(ps);
		if (ps->p >= ps->end)
			goto bad;
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p == '}') {
			ps->p++;
			return n;
		}
		goto bad;
	}
bad:
	/* keys may be one ahead of items here; tj_free frees both lists. */
	tj_free(n);
	return NULL;
}

static TJson *
parse_value(Parser *ps)
{
	TJson *n = NULL;

	skip_ws(ps);
	if (ps->p >= ps->end)
		return NULL;
	if (++ps->depth > TJ_MAX_DEPTH)
		return NULL;
	switch (*ps->p) {
	case '{':
		n = parse_object(ps);
		break;
	case '[':
		n = parse_array(ps);
		break;
	case '"': {
		size_t len;
		char *s = parse_string(ps, &len);

		if (s != NULL) {
			n = node_new(TJ_STRING);
			n->s = s;
			n->slen = len;
		}
		break;
	}
	case 't':
		if (literal(ps, "true")) {
			n = node_new(TJ_BOOL);
			n->b = TRUE;
		}
		break;
	case 'f':
		if (literal(ps, "false"))
			n = node_new(TJ_BOOL);
		break;
	case 'n':
		if (literal(ps, "null"))
			n = node_new(TJ_NULL);
		break;
	default:
		n = parse_number(ps);
		break;
	}
	ps->depth--;
	return n;
}

TJson *
tj_parse(const char *text, size_t len)
{
	Parser ps = { text, text + len, 0 };
	TJson *root;

	g_return_val_if_fail(text != NULL || len == 0, NULL);
	root = parse_value(&ps);
	if (root == NULL)
		return NULL;
	skip_ws(&ps);
	if (ps.p != ps.end) {
		tj_free(root);
		return NULL;
	}
	return root;
}

TJson *
tj_load(const char *name)
{
	char *path = g_test_build_filename(G_TEST_DIST, "data", name, NULL);
	GError *err = NULL;
	char *text = NULL;
	gsize len = 0;
	TJson *root = NULL;

	if (!g_file_get_contents(path, &text, &len, &err)) {
		fail_msg("cannot read %s: %s", path, err->message);
		g_error_free(err);
	} else {
		root = tj_parse(text, len);
		if (root == NULL)
			fail_msg("%s: JSON parse error", path);
	}
	g_free(text);
	g_free(path);
	return root;
}

/* One path component [seg, seg_end) applied to node. */
static TJson *
step(TJson *node, const char *seg, size_t seg_len)
{
	if (node->type == TJ_OBJECT) {
		for (guint i = 0; i < node->keys->len; i++) {
			const char *k = g_ptr_array_index(node->keys, i);

			if (strlen(k) == seg_len && memcmp(k, seg, seg_len) == 0)
				return g_ptr_array_index(node->items, i);
		}
		return NULL;
	}
	if (node->type == TJ_ARRAY) {
		guint64 idx = 0;

		if (seg_len == 0 || seg_len > 9)
			return NULL;
		for (size_t k = 0; k < seg_len; k++) {
			if (!g_ascii_isdigit(seg[k]))
				return NULL;
			idx = idx * 10 + (guint64)(seg[k] - '0');
		}
		if (idx >= node->items->len)
			return NULL;
		return g_ptr_array_index(node->items, (guint)idx);
	}
	return NULL;
}

TJson *
tj_path(TJson *node, const char *path)
{
	const char *p = path;

	if (node == NULL || path == NULL)
		return NULL;
	while (*p != '\0' && node != NULL) {
		const char *slash = strchr(p, '/');
		size_t seg_len = slash ? (size_t)(slash - p) : strlen(p);

		node = step(node, p, seg_len);
		p += seg_len;
		if (*p == '/')
			p++;
	}
	return node;
}

TJson *
tj_need(TJson *node, const char *path)
{
	TJson *n = tj_path(node, path);

	if (n == NULL)
		fail_msg("JSON path '%s' is absent", path);
	return n;
}

guint
tj_len(TJson *n)
{
	if (n == NULL || n->items == NULL) {
		fail_msg("tj_len: not an array or object");
		return 0;
	}
	return n->items->len;
}

TJson *
tj_at(TJson *array, guint i)
{
	if (array == NULL || array->type != TJ_ARRAY || i >= array->items->len) {
		fail_msg("tj_at(%u): not an array or out of range", i);
		return NULL;
	}
	return g_ptr_array_index(array->items, i);
}

const char *
tj_key_at(TJson *object, guint i)
{
	if (object == NULL || object->type != TJ_OBJECT || i >= object->keys->len) {
		fail_msg("tj_key_at(%u): not an object or out of range", i);
		return NULL;
	}
	return g_ptr_array_index(object->keys, i);
}

gboolean
tj_is_null(TJson *n)
{
	return n != NULL && n->type == TJ_NULL;
}

gboolean
tj_is_string(TJson *n)
{
	return n != NULL && n->type == TJ_STRING;
}

const char *
tj_str(TJson *n)
{
	if (n == NULL || n->type != TJ_STRING) {
		fail_msg("tj_str: not a string");
		return "";
	}
	return n->s;
}

gint64
tj_int(TJson *n)
{
	if (n != NULL && n->type == TJ_INT)
		return n->i;
	if (n != NULL && n->type == TJ_DOUBLE && n->d == (double)(gint64)n->d)
		return (gint64)n->d;
	fail_msg("tj_int: not an integer");
	return 0;
}

gboolean
tj_bool(TJson *n)
{
	if (n == NULL || n->type != TJ_BOOL) {
		fail_msg("tj_bool: not a boolean");
		return FALSE;
	}
	return n->b;
}

const char *
tj_pstr(TJson *node, const char *path)
{
	TJson *n = tj_need(node, path);

	if (n == NULL)
		return "";
	if (n->type != TJ_STRING) {
		fail_msg("JSON path '%s' is not a string", path);
		return "";
	}
	return n->s;
}

gint64
tj_pint(TJson *node, const char *path)
{
	TJson *n = tj_need(node, path);

	if (n == NULL)
		return 0;
	if (n->type != TJ_INT &&
	    !(n->type == TJ_DOUBLE && n->d == (double)(gint64)n->d)) {
		fail_msg("JSON path '%s' is not an integer", path);
		return 0;
	}
	return tj_int(n);
}

gboolean
tj_pbool(TJson *node, const char *path, gboolean dflt)
{
	TJson *n = tj_path(node, path);

	if (n == NULL)
		return dflt;
	if (n->type != TJ_BOOL) {
		fail_msg("JSON path '%s' is not a boolean", path);
		return dflt;
	}
	return n->b;
}

uint8_t *
tj_phex(TJson *node, const char *path, size_t *len)
{
	const char *s = tj_pstr(node, path);
	size_t n = strlen(s);

	for (size_t k = 0; k < n; k++) {
		if (hexval(s[k]) < 0) {
			fail_msg("JSON path '%s' is not hex", path);
			break;
		}
	}
	if (n % 2 != 0)
		fail_msg("JSON path '%s' has an odd number of hex digits", path);
	return t_hex(s, len);
}

uint8_t *
t_hex(const char *hex, size_t *len)
{
	size_t n = strlen(hex);
	/* +1 so that an empty string still gives a non-NULL buffer */
	uint8_t *out = g_malloc0(n / 2 + 1);

	if (n % 2 != 0)
		fail_msg("t_hex: odd number of hex digits in \"%s\"", hex);
	for (size_t k = 0; k + 1 < n; k += 2) {
		int hi = hexval(hex[k]), lo = hexval(hex[k + 1]);

		if (hi < 0 || lo < 0) {
			fail_msg("t_hex: bad hex digit in \"%s\"", hex);
			break;
		}
		out[k / 2] = (uint8_t)((hi << 4) | lo);
	}
	if (len != NULL)
		*len = n / 2;
	return out;
}

char *
t_tohex(const void *data, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *b = data;
	char *out = g_malloc(len * 2 + 1);

	for (size_t k = 0; k < len; k++) {
		out[2 * k] = digits[b[k] >> 4];
		out[2 * k + 1] = digits[b[k] & 0x0f];
	}
	out[len * 2] = '\0';
	return out;
}
