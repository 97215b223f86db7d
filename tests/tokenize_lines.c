/* SPDX-License-Identifier: MIT */
/* Test driver for the reference comparison (tests/reference/compare_tokenize.py):
 *
 *   tokenize_lines MODEL FILE [--special]
 *
 * Loads MODEL's vocabulary (internal API: the GGUF reader and the tokenizer,
 * no weights) and, for each line of FILE, the line with its trailing '\n'
 * when it has one, prints the token ids separated by spaces, one output line
 * per input line. No BOS is added. --special parses special tokens. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "tokenizer.h"

static char *read_all(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, fp)) > 0;) {
        n += got;
        if (n == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb)
                free(buf);
            buf = nb;
        }
    }
    if (ferror(fp)) {
        free(buf);
        buf = NULL;
    }
    fclose(fp);
    *len = n;
    return buf;
}

static int print_line(const resa_tokenizer *t, const char *s, size_t n, int special, int32_t **ids, int *cap)
{
    int k = tokenizer_encode(t, s, n, 0, special, *ids, *cap);
    if (k > *cap) {
        int32_t *p = realloc(*ids, (size_t)k * sizeof *p);
        if (!p)
            return -1;
        *ids = p;
        *cap = k;
        k = tokenizer_encode(t, s, n, 0, special, *ids, *cap);
    }
    if (k < 0)
        return -1;
    for (int i = 0; i < k; i++)
        printf(i ? " %d" : "%d", (*ids)[i]);
    putchar('\n');
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "--special"))) {
        fprintf(stderr, "usage: tokenize_lines MODEL FILE [--special]\n");
        return 2;
    }
    int special = argc == 4;
    gguf_file *f;
    resa_tokenizer *t;
    if (gguf_open(argv[1], &f) || tokenizer_load(f, &t)) {
        fprintf(stderr, "tokenize_lines: %s\n", resa_last_error());
        return 1;
    }
    size_t len;
    char *text = read_all(argv[2], &len);
    if (!text) {
        fprintf(stderr, "tokenize_lines: cannot read %s\n", argv[2]);
        return 1;
    }
    int cap = 256, rc = 0;
    int32_t *ids = malloc((size_t)cap * sizeof *ids);
    for (size_t p = 0; p < len && ids && !rc;) {
        const char *nl = memchr(text + p, '\n', len - p);
        size_t n = nl ? (size_t)(nl - (text + p)) + 1 : len - p;
        rc = print_line(t, text + p, n, special, &ids, &cap);
        p += n;
    }
    if (rc || !ids)
        fprintf(stderr, "tokenize_lines: %s\n", ids ? resa_last_error() : "out of memory");
    free(ids);
    free(text);
    tokenizer_free(t);
    gguf_close(f);
    return rc || !ids ? 1 : 0;
}
