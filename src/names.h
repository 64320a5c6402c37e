/*
 * names.h - text a peer chooses that the user reads: the name it announces
 * in its handshake (§4), made safe to show.
 *
 * Nothing a peer announces is proof of who it is: the plugin shows it only
 * beside what the user chose (a buddy's alias wins), never in its place.
 *
 * Ownership: returns a new string (g_free).  No I/O, no libpurple.
 */
#ifndef PARLEY_NAMES_H
#define PARLEY_NAMES_H

#include <glib.h>

/* The name with every control character (C0, DEL, C1), bidirectional
 * control (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069),
 * zero-width and line or paragraph separator removed, invalid UTF-8
 * replaced by U+FFFD, and white space at either end trimmed.  NULL or a
 * name with nothing left gives NULL. */
char *parley_name_sanitize(const char *name);

#endif
