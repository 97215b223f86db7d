/* SPDX-License-Identifier: MIT */
/* resa serve: UTF-8 at the edges of generated text. A token may end inside
 * a character, and JSON strings must be valid UTF-8. */
#ifndef RESA_SERVE_UTF8_H
#define RESA_SERVE_UTF8_H

#include <stddef.h>

/* n, less the bytes of a character that s[0..n) starts but does not finish. */
size_t utf8_complete_prefix(const char *s, size_t n);
/* A copy of s[0..n) with every invalid byte replaced by U+FFFD; NUL-terminated,
 * its length in *out_len. NULL when out of memory. */
char *utf8_sanitize(const char *s, size_t n, size_t *out_len);

#endif
