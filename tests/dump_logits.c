/* SPDX-License-Identifier: MIT */
/* dump_logits — teacher-forced logits of a token sequence, for comparison
 * against a reference implementation (tests/reference/compare_logits.py).
 *
 *   dump_logits MODEL TOKENS_FILE OUT_FILE [-t THREADS] [--kv-type f16|f32]
 *
 * TOKENS_FILE holds whitespace-separated token ids ("-" reads stdin). The
 * program decodes all of them in one resa_decode_all_logits call from an
 * empty cache and writes n * n_vocab float32 values, little-endian, row by
 * row (position-major), to OUT_FILE. Uses only the public API. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* fileno */
#endif
#include "resa.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *prog = "dump_logits";

static void usage(FILE *f)
{
    fprintf(f, "usage: %s MODEL TOKENS_FILE OUT_FILE [-t THREADS] [--kv-type f16|f32]\n",
            prog);
}

static int fail(const char *what, const char *detail)
{
    fprintf(stderr, "%s: %s: %s\n", prog, what, detail && *detail ? detail : "unknown error");
    return 1;
}

/* Reads whitespace-separated decimal ids; returns count or -1. */
static int read_tokens(const char *path, int32_t **out)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot open %s: %s\n", prog, path, strerror(errno));
        return -1;
    }
    size_t cap = 1024, n = 0;
    int32_t *v = malloc(cap * sizeof *v);
    if (!v) {
        fprintf(stderr, "%s: out of memory\n", prog);
        if (f != stdin) fclose(f);
        return -1;
    }
    char word[64];
    int c;
    for (;;) {
        size_t len = 0;
        while ((c = fgetc(f)) != EOF && (c == ' ' || c == '\t' || c == '\n' || c == '\r'))
            ;
        if (c == EOF) break;
        while (c != EOF && !(c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
            if (len + 1 >= sizeof word) {
                word[sizeof word - 1] = '\0';
                fprintf(stderr, "%s: %s: token %zu: word too long\n", prog, path, n);
                goto bad;
            }
            word[len++] = (char)c;
            c = fgetc(f);
        }
        word[len] = '\0';
        char *end;
        errno = 0;
        long id = strtol(word, &end, 10);
        if (*end != '\0' || errno != 0 || id < 0 || id > INT32_MAX) {
            fprintf(stderr, "%s: %s: token %zu: not a token id: '%s'\n", prog, path, n, word);
            goto bad;
        }
        if (n == cap) {
            if (cap > (size_t)INT_MAX / 2) {
                fprintf(stderr, "%s: %s: too many tokens\n", prog, path);
                goto bad;
            }
            int32_t *nv = realloc(v, 2 * cap * sizeof *v);
            if (!nv) {
                fprintf(stderr, "%s: out of memory\n", prog);
                goto bad;
            }
            v = nv;
            cap *= 2;
        }
        v[n++] = (int32_t)id;
        if (c == EOF) break;
    }
    if (ferror(f)) {
        fprintf(stderr, "%s: error reading %s\n", prog, path);
        goto bad;
    }
    if (f != stdin) fclose(f);
    *out = v;
    return (int)n;
bad:
    if (f != stdin) fclose(f);
    free(v);
    return -1;
}

static int host_is_little_endian(void)
{
    const uint32_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

int main(int argc, char **argv)
{
    const char *pos[3];
    int npos = 0, threads = 0;
    resa_kv_type kv = RESA_KV_F16;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "-t") == 0 || strcmp(a, "--threads") == 0) {
            if (i + 1 >= argc) { usage(stderr); return 2; }
            char *end;
            long t = strtol(argv[++i], &end, 10);
            if (*end != '\0' || t < 0 || t > 4096) {
                fprintf(stderr, "%s: bad thread count '%s'\n", prog, argv[i]);
                return 2;
            }
            threads = (int)t;
        } else if (strcmp(a, "--kv-type") == 0) {
            if (i + 1 >= argc) { usage(stderr); return 2; }
            const char *k = argv[++i];
            if (strcmp(k, "f16") == 0) kv = RESA_KV_F16;
            else if (strcmp(k, "f32") == 0) kv = RESA_KV_F32;
            else {
                fprintf(stderr, "%s: bad --kv-type '%s' (want f16 or f32)\n", prog, k);
                return 2;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "%s: unknown option '%s'\n", prog, a);
            usage(stderr);
            return 2;
        } else {
            if (npos == 3) { usage(stderr); return 2; }
            pos[npos++] = a;
        }
    }
    if (npos != 3) { usage(stderr); return 2; }
    if (!host_is_little_endian()) return fail("unsupported host", "big-endian");

    int32_t *toks = NULL;
    int n = read_tokens(pos[1], &toks);
    if (n < 0) return 1;
    if (n == 0) {
        free(toks);
        return fail(pos[1], "no token ids");
    }

    resa_model *model = NULL;
    if (resa_model_load(pos[0], &model) != RESA_OK) {
        free(toks);
        return fail("cannot load model", resa_last_error());
    }
    const resa_model_info *info = resa_model_get_info(model);
    int n_vocab = info->n_vocab;
    for (int i = 0; i < n; i++) {
        if (toks[i] >= n_vocab) {
            fprintf(stderr, "%s: %s: token %d: id %d out of range (n_vocab %d)\n", prog, pos[1],
                    i, (int)toks[i], n_vocab);
            resa_model_free(model);
            free(toks);
            return 1;
        }
    }

    resa_params p;
    resa_params_default(&p);
    p.n_ctx = n; /* exactly enough for one pass */
    p.n_threads = threads;
    p.kv_type = kv;
    resa_context *ctx = NULL;
    if (resa_context_new(model, &p, &ctx) != RESA_OK) {
        resa_model_free(model);
        free(toks);
        return fail("cannot create context", resa_last_error());
    }

    int rc = 0;
    FILE *out = NULL;
    int out_regular = 0; /* only a regular file is removed after a failure */
    size_t count = (size_t)n * (size_t)n_vocab;
    float *logits = malloc(count * sizeof *logits);
    if (!logits) {
        rc = fail("out of memory", "logits buffer");
        goto done;
    }
    /* Create the output before the (long) decode so that a bad path fails fast. */
    out = strcmp(pos[2], "-") == 0 ? stdout : fopen(pos[2], "wb");
    if (!out) {
        fprintf(stderr, "%s: cannot create %s: %s\n", prog, pos[2], strerror(errno));
        rc = 1;
        goto done;
    }
    if (out != stdout) {
        struct stat st;
        out_regular = fstat(fileno(out), &st) == 0 && S_ISREG(st.st_mode);
    }
    if (resa_decode_all_logits(ctx, toks, n, logits) != RESA_OK) {
        rc = fail("decode failed", resa_last_error());
        goto done;
    }
    {
        size_t w = fwrite(logits, sizeof *logits, count, out);
        int cerr = out == stdout ? fflush(out) : fclose(out);
        out = NULL;
        if (w != count || cerr != 0) {
            fprintf(stderr, "%s: error writing %s: %s\n", prog, pos[2], strerror(errno));
            if (out_regular) remove(pos[2]);
            rc = 1;
        }
    }

done:
    if (out && out != stdout) {
        fclose(out);
        if (out_regular) remove(pos[2]); /* no partial output */
    }
    free(logits);
    resa_context_free(ctx);
    resa_model_free(model);
    free(toks);
    return rc;
}
