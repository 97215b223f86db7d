/* SPDX-License-Identifier: MIT */
/* Minimal JSON output for --json. (json_string and the like are jansson's, linked
 * into resa serve: these are json_write_*.) */
#ifndef RESA_CLI_JSON_H
#define RESA_CLI_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Writes s (n bytes) as a JSON string; invalid UTF-8 becomes U+FFFD. */
void json_write_string(FILE *f, const char *s, size_t n);
void json_write_int_array(FILE *f, const int32_t *v, int n);

#endif
