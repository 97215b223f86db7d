/* SPDX-License-Identifier: MIT */
/* The window-only KV cache of sliding-window layers (docs/design.md §3.3)
 * against the full one.
 *
 *   test_swa_ring MODEL [STEPS]
 *
 * For a model with windowed layers (gemma3), contexts that keep only the
 * windows' rings and contexts with swa_full (every position, the layout
 * the rings replace) are run on the same tokens over 2048 positions, past
 * several turns of the ring (its length comes from kv_ring_blocks' formula,
 * restated here):
 * - dense and resa (rect_every 8, a budget that skips blocks): every
 *   logit, bit for bit, through prompts, decode steps, rectifications, a
 *   truncation the ring can serve, one it cannot (RESA_ERR_UNSUPPORTED, the
 *   context unchanged), a reset, and a benchmark fill; at the end the rows
 *   the rings still hold equal the full cache's;
 * - the pool's size: the plain formula with swa_full, and that minus the
 *   windowed layers' forgotten pages without it (gemma3 270M at 32K
 *   positions printed for the record);
 * - an engine's pool holds rings for n_seq_max sequences: free positions
 *   count them, a sequence without a ring page to take is refused with
 *   RESA_ERR_CONTEXT, and a rectification period longer than the rings
 *   were sized for is refused.
 * For a model without windowed layers (SmolLM2) only the size is checked:
 * the plain formula, whatever swa_full says. STEPS (default 1400): decode
 * steps of each run, fewer for a slow model. */
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

#define N_CTX 2048
#define BLOCK 16
#define N_BATCH 64 /* passes of 256 rows: a ring of window + 256 positions */

static void params_of(resa_params *p, resa_mode mode, int swa_full)
{
    resa_params_default(p);
    p->n_ctx = N_CTX;
    p->n_threads = 2;
    p->n_batch = N_BATCH;
    p->block_size = BLOCK;
    p->mode = mode;
    p->min_blocks = 2; /* sparse steps skip blocks of the global layers */
    p->rect_every = mode == RESA_MODE_RESA ? 8 : 32;
    p->swa_full = swa_full;
}

static resa_context *new_ctx(const resa_model *m, resa_mode mode, int swa_full)
{
    resa_params p;
    params_of(&p, mode, swa_full);
    resa_context *c;
    if (resa_context_new(m, &p, &c)) {
        fprintf(stderr, "test_swa_ring: %s\n", resa_last_error());
        exit(99);
    }
    return c;
}

static int n_windowed(const resa_model *m)
{
    int n = 0;
    for (int l = 0; l < m->hp.n_layer; l++)
        n += hparams_layer_swa(&m->hp, l);
    return n;
}

/* The ring length of docs/design.md §3.3, in blocks: window - 1 + reach
 * positions (reach: a pass's rows, here 256; the period + 1 is less) touch
 * at most 1 + ceil((window + reach - 2) / b) blocks. */
static int ring_blocks(const resa_model *m)
{
    const int reach = 256;
    return 1 + (m->hp.n_swa + reach - 2 + BLOCK - 1) / BLOCK;
}

/* The pool's size stated from the shapes: K and V of n_ctx positions (whole
 * pages) of every layer, summaries per page of every layer unless dense;
 * with rings, the windowed layers hold ring pages instead (n_seq_max rings)
 * and no summaries. */
static size_t expected_bytes(const resa_model *m, int n_ctx, resa_mode mode, int rings, int n_seq)
{
    const size_t row = (size_t)m->hp.n_head_kv * m->hp.head_dim * 2, pages = ((size_t)n_ctx + BLOCK - 1) / BLOCK;
    const int n_win = rings ? n_windowed(m) : 0, n_main = m->hp.n_layer - n_win;
    const size_t ring_pages = (size_t)ring_blocks(m) * n_seq < pages ? (size_t)ring_blocks(m) * n_seq : pages;
    return 2 * row * BLOCK * (n_main * pages + n_win * ring_pages) + (mode != RESA_MODE_DENSE ? 2 * row * n_main * pages : 0);
}

static size_t bytes_of(const resa_model *m, int n_ctx, resa_mode mode, int swa_full, int n_seq)
{
    resa_params p;
    params_of(&p, mode, swa_full);
    p.n_ctx = n_ctx;
    p.n_seq_max = n_seq;
    return resa_kv_cache_bytes(m, &p);
}

static void test_sizes(const resa_model *m)
{
    const int win = n_windowed(m) > 0;
    for (int mode = RESA_MODE_DENSE; mode >= RESA_MODE_RESA; mode--) {
        const size_t full = bytes_of(m, N_CTX, mode, 1, 1), ring = bytes_of(m, N_CTX, mode, 0, 1);
        char what[160];
        snprintf(what, sizeof what, "%s pool, swa_full: %zu bytes, the plain formula's", resa_mode_name(mode), full);
        check(full == expected_bytes(m, N_CTX, mode, 0, 1), what);
        snprintf(what, sizeof what, "%s pool without swa_full: %zu bytes, %s", resa_mode_name(mode), ring,
                 win ? "windowed layers in rings" : "the same (no windowed layers)");
        check(ring == expected_bytes(m, N_CTX, mode, win, 1) && (win ? ring < full : ring == full), what);
    }
    if (win) {
        const size_t two = bytes_of(m, N_CTX, RESA_MODE_DENSE, 0, 2);
        check(two == expected_bytes(m, N_CTX, RESA_MODE_DENSE, 1, 2), "n_seq_max 2: two rings");
        /* the record: the model's trained context, f16, default mode (summaries) and dense */
        for (int mode = RESA_MODE_AUTO; mode >= RESA_MODE_DENSE; mode -= 2) {
            resa_params p;
            resa_params_default(&p);
            p.mode = mode;
            const size_t ring = resa_kv_cache_bytes(m, &p);
            p.swa_full = 1;
            const size_t full = resa_kv_cache_bytes(m, &p);
            printf("# %d positions, f16, mode %s (n_batch 512): %zu bytes (%.1f MiB) window-only, %zu bytes "
                   "(%.1f MiB) with swa_full\n", m->hp.n_ctx_train, resa_mode_name(mode), ring,
                   ring / 1048576.0, full, full / 1048576.0);
        }
    }
}

static int32_t toks[N_CTX];

static void make_tokens(const resa_model *m)
{
    static const char text[] =
        "Rivers carve their valleys slowly, grain by grain, over thousands of years; the water "
        "finds every weakness in the rock and widens it, season after season, until a canyon "
        "opens where once a meadow lay. Travellers who follow the river today see only the end "
        "of that patient work, and few of them stop to count the years it took. ";
    int32_t ids[256];
    const int n = resa_tokenize(m, text, strlen(text), 0, 0, ids, 256);
    for (int i = 0; i < N_CTX; i++) /* not a pure repeat: the shift changes every lap */
        toks[i] = ids[(i + i / n) % n];
}

static int same_logits(const resa_context *a, const resa_context *b, int n_vocab)
{
    return !memcmp(resa_logits(a), resa_logits(b), (size_t)n_vocab * sizeof(float));
}

/* Both take the same input; 1 when both succeed with the same logits. */
static int feed(resa_context *a, resa_context *b, const int32_t *t, int n, int n_vocab)
{
    if (resa_decode(a, t, n, NULL, NULL) || resa_decode(b, t, n, NULL, NULL)) {
        fprintf(stderr, "test_swa_ring: %s\n", resa_last_error());
        exit(99);
    }
    return same_logits(a, b, n_vocab);
}

/* Decode steps from the contexts' position to `to`, teacher-forced with
 * toks shifted by `salt`; the first step whose logits differ, or -1. */
static int steps_to(resa_context *a, resa_context *b, int to, int salt, int n_vocab)
{
    for (int p = resa_context_n_past(a); p < to; p++) {
        const int32_t t = toks[(p + salt) % N_CTX];
        if (!feed(a, b, &t, 1, n_vocab))
            return p;
    }
    return -1;
}

/* The rows the ring still holds, K and V of every layer, and the windowed
 * layers' first held position past zero (the ring went round). */
static int same_held_rows(const resa_context *ring, const resa_context *full, int *first_held)
{
    const kv_probe a = probe_ctx(ring), b = probe_ctx(full);
    float x[RESA_MAX_HEAD_DIM], y[RESA_MAX_HEAD_DIM];
    *first_held = 0;
    for (int l = 0; l < a.n_layer; l++) {
        const int lo = kv_layer_first_pos(&a.kv, l);
        *first_held = lo > *first_held ? lo : *first_held;
        for (int h = 0; h < a.n_head_kv; h++)
            for (int part = KV_PART_K; part <= KV_PART_V; part++)
                for (int p = lo; p < a.n_past; p++) {
                    probe_read(&a, (resa_kv_part)part, l, h, p, x);
                    probe_read(&b, (resa_kv_part)part, l, h, p, y);
                    if (memcmp(x, y, (size_t)a.head_dim * sizeof *x))
                        return 0;
                }
    }
    return 1;
}

static void test_same(const resa_model *m, resa_mode mode, int n_steps)
{
    const int n_vocab = m->hp.n_vocab, ring_pos = ring_blocks(m) * BLOCK;
    resa_context *a = new_ctx(m, mode, 0), *b = new_ctx(m, mode, 1);
    const char *mn = resa_mode_name(mode);
    char what[200];
    /* prompts of several passes, the second starting where the first left */
    int ok = feed(a, b, toks, 300, n_vocab) && feed(a, b, toks + 300, 200, n_vocab);
    snprintf(what, sizeof what, "%s: two prompts (500 positions, ring of %d) give the same logits", mn, ring_pos);
    check(ok, what);
    const int end = 500 + n_steps < N_CTX - 100 ? 500 + n_steps : N_CTX - 100;
    int bad = steps_to(a, b, end, 0, n_vocab);
    snprintf(what, sizeof what, "%s: decode to %d (%.1f ring lengths): the same logits at every step (first "
             "difference at %d)", mn, end, (double)end / ring_pos, bad);
    check(bad < 0, what);
    if (mode == RESA_MODE_RESA) {
        snprintf(what, sizeof what, "resa: %d and %d rectifications", resa_context_rectifications(a),
                 resa_context_rectifications(b));
        check(resa_context_rectifications(a) == resa_context_rectifications(b) &&
                  resa_context_rectifications(a) >= (end - 500) / 8 - 1, what);
    }
    int first_held;
    snprintf(what, sizeof what, "%s: the rows the rings hold equal the full cache's", mn);
    check(same_held_rows(a, b, &first_held) && first_held > 0, what);

    /* a truncation the ring serves: back 37 positions (mid-block, inside a
     * rectification period), then other tokens */
    const int cut = resa_context_n_past(a) - 37;
    check(!resa_context_truncate(a, cut) && !resa_context_truncate(b, cut), "a short truncation is served");
    bad = steps_to(a, b, cut + 60, 7, n_vocab);
    snprintf(what, sizeof what, "%s: after it, the same logits (first difference at %d)", mn, bad);
    check(bad < 0, what);

    /* one the ring cannot serve: refused, nothing changed */
    const int n_past = resa_context_n_past(a), far = n_past - ring_pos - 100;
    const resa_status st = resa_context_truncate(a, far);
    snprintf(what, sizeof what, "%s: truncating to %d of %d is refused (%s)", mn, far, n_past, resa_last_error());
    check(st == RESA_ERR_UNSUPPORTED && strstr(resa_last_error(), "swa_full") && resa_context_n_past(a) == n_past,
          what);
    bad = steps_to(a, b, n_past + 20, 0, n_vocab);
    check(bad < 0, "after the refusal the context decodes on as before");
    /* the full cache can: what the ring context would need swa_full for */
    check(!resa_context_truncate(b, far), "with swa_full the same truncation is served");

    /* a reset gives the rings back; a new prompt and steps agree again */
    resa_context_reset(a);
    resa_context_reset(b);
    ok = feed(a, b, toks + 11, 700, n_vocab);
    bad = steps_to(a, b, 760, 11, n_vocab);
    snprintf(what, sizeof what, "%s: after a reset, a 700-token prompt and steps agree (first difference at %d)",
             mn, bad);
    check(ok && bad < 0, what);
    /* a prompt after decode steps (in resa, after a rectification of the
     * pending ones) */
    ok = feed(a, b, toks + 900, 150, n_vocab);
    snprintf(what, sizeof what, "%s: a prompt after decode steps agrees", mn);
    check(ok, what);
    resa_context_free(a);
    resa_context_free(b);
}

/* resa bench's fill: a short prefill repeated far past the ring, then steps. */
static void test_fill(const resa_model *m)
{
    const int n_vocab = m->hp.n_vocab;
    resa_context *a = new_ctx(m, RESA_MODE_RESA, 0), *b = new_ctx(m, RESA_MODE_RESA, 1);
    feed(a, b, toks, 100, n_vocab);
    check(!resa_context_fill_repeat(a, 1500) && !resa_context_fill_repeat(b, 1500), "fill to 1500");
    const int bad = steps_to(a, b, 1520, 3, n_vocab);
    char what[120];
    snprintf(what, sizeof what, "after the fill, steps agree (first difference at %d)", bad);
    check(bad < 0, what);
    resa_context_free(a);
    resa_context_free(b);
}

static resa_engine *new_engine(const resa_model *m, int n_seq)
{
    resa_params p;
    params_of(&p, RESA_MODE_DENSE, 0);
    p.n_seq_max = n_seq;
    resa_engine *e;
    if (resa_engine_new(m, &p, &e)) {
        fprintf(stderr, "test_swa_ring: %s\n", resa_last_error());
        exit(99);
    }
    return e;
}

static resa_status step(resa_engine *e, resa_seq *s, int n)
{
    const int32_t *t = toks + resa_seq_n_past(s);
    return resa_engine_step(e, 1, &s, &t, &n);
}

static void test_engine(const resa_model *m)
{
    const int R = ring_blocks(m), past = (R + 1) * BLOCK; /* steps that fill a ring whatever the window */
    resa_engine *e = new_engine(m, 1);
    resa_seq *s1, *s2;
    check(!resa_seq_new(e, NULL, &s1) && !resa_seq_new(e, NULL, &s2), "two sequences");
    check(resa_engine_free_positions(e) == N_CTX, "an empty pool: every position free");
    check(!step(e, s1, 40), "a short sequence takes ring pages as it grows");
    check(resa_engine_free_positions(e) == (R - 3) * BLOCK, "free positions: what the ring region has left");
    check(!step(e, s1, past), "one sequence past its ring");
    check(resa_engine_free_positions(e) == 0, "with n_seq_max 1 and its ring taken, nothing is free");
    const resa_status st = step(e, s2, 10);
    char what[300];
    snprintf(what, sizeof what, "a second sequence finds no ring page (%s)", resa_last_error());
    check(st == RESA_ERR_CONTEXT && strstr(resa_last_error(), "n_seq_max") && resa_seq_n_past(s2) == 0, what);
    resa_seq_free(s1);
    check(resa_engine_free_positions(e) == N_CTX, "freed: every position free again");
    check(!step(e, s2, 10), "now the second sequence runs");
    resa_engine_free(e);

    e = new_engine(m, 2);
    check(!resa_seq_new(e, NULL, &s1) && !resa_seq_new(e, NULL, &s2), "n_seq_max 2: two sequences");
    check(!step(e, s1, past) && !step(e, s2, past), "both past their rings");
    check(resa_engine_free_positions(e) == 0, "both rings taken: nothing free for a third");
    resa_params p;
    params_of(&p, RESA_MODE_DENSE, 0); /* a dense sequence, which a sparse engine could switch to resa */
    p.rect_every = 300;
    resa_seq *s3;
    snprintf(what, sizeof what, "a rectification period past the rings' reach is refused (%s)",
             resa_seq_new(e, &p, &s3) ? resa_last_error() : "accepted");
    check(strstr(what, "swa_full") != NULL, what);
    resa_engine_free(e);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: test_swa_ring MODEL [STEPS]\n");
        return 99;
    }
    resa_model *m;
    if (resa_model_load(argv[1], &m)) {
        fprintf(stderr, "test_swa_ring: %s\n", resa_last_error());
        return 99;
    }
    const int n_steps = argc == 3 ? atoi(argv[2]) : 1400;
    test_sizes(m);
    if (n_windowed(m)) {
        if (ring_blocks(m) * BLOCK * 2 > N_CTX - 200) {
            fprintf(stderr, "test_swa_ring: a window of %d leaves no room for ring turns in %d positions\n",
                    m->hp.n_swa, N_CTX);
            return 99;
        }
        make_tokens(m);
        test_same(m, RESA_MODE_DENSE, n_steps);
        test_same(m, RESA_MODE_RESA, n_steps);
        test_fill(m);
        test_engine(m);
    }
    resa_model_free(m);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
