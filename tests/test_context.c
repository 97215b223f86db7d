/* SPDX-License-Identifier: MIT */
/* resa_context_set_mode and resa_context_truncate on the real model: one
 * prefilled cache serving several modes must behave exactly like a fresh
 * context for each.
 *
 *   test_context MODEL
 *
 * - truncate, then decode on: the same logits (bit for bit), K/V and block
 *   summaries as a context that never saw the forgotten tokens, with the
 *   forgotten tokens chosen different so a stale entry shows;
 * - truncate inside a resa period keeps the pending steps below the cut: the
 *   next rectification comes at the same step and gives the same logits;
 * - a sparse-capable context switched to dense decodes exactly like a
 *   dense context; switching away from resa rectifies the pending steps;
 * - bad requests (dense context to sparse, resa without a period, truncate
 *   out of range) fail with a message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "kv_probe.h"
#include "resa.h"

static int passed, failed;

static void check(int ok, const char *what)
{
    printf("%s - %s\n", ok ? "ok" : "not ok", what);
    ok ? passed++ : failed++;
}

/* A small budget (min 2 blocks of 16) so selection depends on the summaries. */
static resa_context *new_ctx(const resa_model *m, resa_mode mode, int f)
{
    resa_params p;
    resa_params_default(&p);
    p.n_ctx = 512;
    p.n_threads = 2;
    p.mode = mode;
    p.min_blocks = 2;
    p.rect_every = mode == RESA_MODE_SPARSE ? 0 : f;
    resa_context *c;
    if (resa_context_new(m, &p, &c)) {
        fprintf(stderr, "test_context: %s\n", resa_last_error());
        exit(99);
    }
    return c;
}

/* P is not a multiple of the block size: the block holding P-1 is partial,
 * the case where a forgotten key would linger in a summary. */
#define P 203
#define N_STEPS 24
static int32_t seq_a[P + N_STEPS], seq_b[P + N_STEPS];

static void make_sequences(const resa_model *m)
{
    static const char a[] =
        "Rivers carve their valleys slowly, grain by grain, over thousands of years; the water "
        "that reaches the sea has travelled through forests, towns and fields on the way. ";
    static const char b[] =
        "Compilers translate source code into machine instructions, checking types, folding "
        "constants and allocating registers before the linker joins the pieces together. ";
    int32_t ia[128], ib[128];
    const int na = resa_tokenize(m, a, strlen(a), 0, 0, ia, 128);
    const int nb = resa_tokenize(m, b, strlen(b), 0, 0, ib, 128);
    for (int i = 0; i < P + N_STEPS; i++) {
        seq_a[i] = ia[i % na];
        seq_b[i] = ib[(i * 7) % nb];
    }
}

/* Decodes seq[from..to) one token at a time; logits of each step into out
 * (may be NULL). */
static void steps(resa_context *c, const int32_t *seq, int from, int to, float *out)
{
    const size_t nv = (size_t)resa_model_get_info(c->engine->model)->n_vocab;
    for (int i = from; i < to; i++) {
        if (resa_decode(c, &seq[i], 1, NULL, NULL)) {
            fprintf(stderr, "test_context: %s\n", resa_last_error());
            exit(99);
        }
        if (out)
            memcpy(out + (size_t)(i - from) * nv, resa_logits(c), nv * sizeof(float));
    }
}

/* K, V and summaries of positions [0, n_past) identical in a and b. */
static int same_cache(const resa_context *ca, const resa_context *cb)
{
    const kv_probe a = probe_ctx(ca), b = probe_ctx(cb);
    return probe_same_cache(&a, &b);
}

/* A cache prefilled once, run dense over other tokens, cut back and run
 * sparse must equal a fresh sparse run. */
static void test_truncate_sparse(const resa_model *m, size_t nv)
{
    float *want = malloc((size_t)N_STEPS * nv * sizeof(float));
    float *got = malloc((size_t)N_STEPS * nv * sizeof(float));
    resa_context *fresh = new_ctx(m, RESA_MODE_SPARSE, 0);
    resa_context *reused = new_ctx(m, RESA_MODE_RESA, 8);
    resa_decode(fresh, seq_a, P, NULL, NULL);
    steps(fresh, seq_a, P, P + N_STEPS, want);
    resa_decode(reused, seq_a, P, NULL, NULL);
    resa_context_set_mode(reused, RESA_MODE_DENSE);
    steps(reused, seq_b, P, P + N_STEPS, NULL);
    check(resa_context_truncate(reused, P) == RESA_OK && resa_context_n_past(reused) == P,
          "truncate back to the prefix");
    check(resa_context_set_mode(reused, RESA_MODE_SPARSE) == RESA_OK &&
              resa_context_mode(reused) == RESA_MODE_SPARSE,
          "switch to sparse");
    steps(reused, seq_a, P, P + N_STEPS, got);
    check(!memcmp(want, got, (size_t)N_STEPS * nv * sizeof(float)),
          "after truncate, sparse steps give a fresh context's logits bit for bit");
    check(same_cache(fresh, reused), "... and the same K/V and block summaries");
    resa_context_free(fresh);
    resa_context_free(reused);
    free(want);
    free(got);
}

/* Cut inside a resa period: steps below the cut stay pending, so the next
 * rectification comes when a fresh run's does. */
static void test_truncate_pending(const resa_model *m, size_t nv)
{
    enum { F = 8, CUT = 10, JUNK = 3 }; /* rectification after step 8; 2 pending at the cut */
    float *want = malloc((size_t)N_STEPS * nv * sizeof(float));
    float *got = malloc((size_t)N_STEPS * nv * sizeof(float));
    resa_context *fresh = new_ctx(m, RESA_MODE_RESA, F);
    resa_context *reused = new_ctx(m, RESA_MODE_RESA, F);
    resa_decode(fresh, seq_a, P, NULL, NULL);
    steps(fresh, seq_a, P, P + N_STEPS, want);
    resa_decode(reused, seq_a, P, NULL, NULL);
    steps(reused, seq_a, P, P + CUT, got);
    steps(reused, seq_b, P + CUT, P + CUT + JUNK, NULL);
    resa_context_truncate(reused, P + CUT);
    steps(reused, seq_a, P + CUT, P + N_STEPS, got + (size_t)CUT * nv);
    check(!memcmp(want, got, (size_t)N_STEPS * nv * sizeof(float)),
          "truncate inside a resa period: same logits as a fresh run, bit for bit");
    check(resa_context_rectifications(fresh) == N_STEPS / F &&
              resa_context_rectifications(reused) == N_STEPS / F,
          "... rectifying at the same steps");
    check(same_cache(fresh, reused), "... with the same K/V and block summaries");
    resa_context_free(fresh);
    resa_context_free(reused);
    free(want);
    free(got);
}

/* Dense steps of a sparse-capable context are dense steps. */
static void test_dense_switch(const resa_model *m, size_t nv)
{
    float *want = malloc((size_t)N_STEPS * nv * sizeof(float));
    float *got = malloc((size_t)N_STEPS * nv * sizeof(float));
    resa_context *dense = new_ctx(m, RESA_MODE_DENSE, 0);
    resa_context *resa = new_ctx(m, RESA_MODE_RESA, 8);
    resa_decode(dense, seq_a, P, NULL, NULL);
    steps(dense, seq_a, P, P + N_STEPS, want);
    resa_decode(resa, seq_a, P, NULL, NULL);
    resa_context_set_mode(resa, RESA_MODE_DENSE);
    steps(resa, seq_a, P, P + N_STEPS, got);
    check(!memcmp(want, got, (size_t)N_STEPS * nv * sizeof(float)) &&
              resa_context_rectifications(resa) == 0,
          "a resa context set to dense decodes exactly like a dense context");
    /* leaving resa mid-period rectifies the pending steps */
    resa_context_set_mode(resa, RESA_MODE_RESA);
    steps(resa, seq_b, 0, 3, NULL);
    resa_context_set_mode(resa, RESA_MODE_SPARSE);
    check(resa_context_rectifications(resa) == 1, "leaving resa mode rectifies its pending steps");
    resa_context_free(dense);
    resa_context_free(resa);
    free(want);
    free(got);
}

static void test_errors(const resa_model *m)
{
    resa_context *dense = new_ctx(m, RESA_MODE_DENSE, 0);
    resa_context *sparse = new_ctx(m, RESA_MODE_SPARSE, 0);
    check(resa_context_set_mode(dense, RESA_MODE_SPARSE) == RESA_ERR_ARG &&
              strstr(resa_last_error(), "dense"),
          "a dense context cannot switch to sparse (no summaries)");
    check(resa_context_set_mode(sparse, RESA_MODE_RESA) == RESA_ERR_ARG &&
              strstr(resa_last_error(), "rectification period"),
          "a context without a rectification period cannot switch to resa");
    check(resa_context_set_mode(sparse, (resa_mode)7) == RESA_ERR_ARG, "unknown mode");
    resa_decode(dense, seq_a, 20, NULL, NULL);
    check(resa_context_truncate(dense, 21) == RESA_ERR_ARG && resa_context_truncate(dense, -1) &&
              resa_context_n_past(dense) == 20,
          "truncate out of range fails and keeps the cache");
    check(resa_context_truncate(dense, 0) == RESA_OK && resa_context_n_past(dense) == 0,
          "truncate to 0 empties a dense context");
    resa_context_free(dense);
    resa_context_free(sparse);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_context MODEL\n");
        return 99;
    }
    resa_model *m;
    if (resa_model_load(argv[1], &m)) {
        fprintf(stderr, "test_context: %s\n", resa_last_error());
        return 99;
    }
    const size_t nv = (size_t)resa_model_get_info(m)->n_vocab;
    make_sequences(m);
    test_truncate_sparse(m, nv);
    test_truncate_pending(m, nv);
    test_dense_switch(m, nv);
    test_errors(m);
    resa_model_free(m);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
