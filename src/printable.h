/* SPDX-License-Identifier: MIT */
/* Text that comes from a file (key and tensor names, token texts, merges,
 * general.name), made safe to show on a terminal or in a one-line error
 * message (docs/design.md §5.6). Every such string goes through
 * resa_printable before it is printed or formatted into a message. */
#ifndef RESA_PRINTABLE_H
#define RESA_PRINTABLE_H

#include <stddef.h>

/* A buffer for one escaped name in a message: up to 287 characters (64
 * bytes escaped as \xNN fit), longer ones are cut with "...". */
#define RESA_PRINTABLE_BUF 288

/* Writes s[0..n) into buf (cap bytes, NUL-terminated) and returns buf:
 * printable ASCII and valid UTF-8 of U+00A0 and above pass, except the
 * invisible direction controls (U+200E/F, U+202A..U+202E, U+2066..U+2069,
 * U+061C) and the line and paragraph separators; a backslash becomes "\\"
 * and every other byte "\xNN" (control characters, DEL, C1 controls,
 * invalid UTF-8). When it does not fit, it ends with "...". */
char *resa_printable(char *buf, size_t cap, const char *s, size_t n);

#endif
