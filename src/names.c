/*
 * names.c - a peer's announced name, made safe to show (see names.h).
 */
#include <string.h>

#include "names.h"

/* Characters that change how the text around them is shown, or that
 * cannot be seen: a name using them could pass for another. */
static gboolean
hidden(gunichar ch)
{
	if (ch < 0x20 || (ch >= 0x7f && ch <= 0x9f))
		return TRUE;                        /* C0, DEL, C1 */
	switch (ch) {
	case 0x061c:                            /* Arabic letter mark */
	case 0x200b: case 0x200c: case 0x200d:  /* zero-width space, (non-)joiner */
	case 0x200e: case 0x200f:               /* LRM, RLM */
	case 0x2028: case 0x2029:               /* line, paragraph separator */
	case 0x2060: case 0xfeff:               /* word joiner, BOM */
		return TRUE;
	default:
		break;
	}
	return (ch >= 0x202a && ch <= 0x202e) ||   /* LRE, RLE, PDF, LRO, RLO */
	       (ch >= 0x2066 && ch <= 0x2069);     /* LRI, RLI, FSI, PDI */
}

char *
parley_name_sanitize(const char *name)
{
	char *valid, *p;
	GString *out;

	if (name == NULL)
		return NULL;
	valid = g_utf8_make_valid(name, -1);
	out = g_string_new(NULL);
	for (p = valid; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar ch = g_utf8_get_char(p);

		if (!hidden(ch))
			g_string_append_unichar(out, ch);
	}
	g_free(valid);
	g_strstrip(out->str);
	out->len = strlen(out->str);
	if (out->len == 0) {
		g_string_free(out, TRUE);
		return NULL;
	}
	return g_string_free(out, FALSE);
}
