/* SPDX-License-Identifier: MIT */
/* Engines of many sequences on the real model (docs/design.md §3):
 *
 *   test_engine MODEL
 *
 * - batch invariance: sequences of different modes and lengths, stepped
 *   together (some prefilling while others decode or rectify, their pages
 *   interleaved in one pool), give bit for bit the logits and greedy tokens
 *   each gives alone in an engine of its own;
 * - page reuse: a sequence made after another was freed takes its pages and
 *   still gives the alone-run's logits, K/V and block summaries, bit for bit;
 * - a step the pool cannot hold fails with RESA_ERR_CONTEXT and changes nothing;
 * - bad steps (a sequence twice, no tokens, a foreign sequence) fail. */
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

static void must(resa_status st, const char *what)
{
    if (st) {
        fprintf(stderr, "test_engine: %s: %s\n", what, resa_last_error());
        exit(99);
    }
}

/* One sequence's part in the test: its schedule, prompt, when it starts. */
typedef struct spec {
    const char *name;
    resa_mode mode;
    int rect_every, min_blocks;
    int prompt_len, start_step, n_steps;
} spec;

#define N_SPECS 4
static const spec specs[N_SPECS] = {
    { "resa f=8", RESA_MODE_RESA, 8, 2, 150, 0, 40 },
    { "dense", RESA_MODE_DENSE, 0, 2, 37, 0, 40 },
    { "sparse", RESA_MODE_SPARSE, 0, 2, 301, 3, 30 },
    { "resa f=4, late", RESA_MODE_RESA, 4, 2, 90, 12, 20 },
};
#define MAX_STEPS 64

static int32_t text_ids[1024];
static int n_text_ids;

static void make_text(const resa_model *m)
{
    static const char text[] =
        "Glaciers move because ice deforms under its own weight; where the bed is wet, the whole "
        "mass slides. Surveyors mark stakes on the surface and measure them a year later, and the "
        "numbers show that the centre flows faster than the edges, like honey in a channel. ";
    int32_t ids[256];
    const int n = resa_tokenize(m, text, strlen(text), 0, 0, ids, 256);
    for (int i = 0; i < 1024; i++)
        text_ids[i] = ids[(i * 5 + i / n) % n];
    n_text_ids = 1024;
}

static resa_params engine_params(int n_ctx)
{
    resa_params p;
    resa_params_default(&p);
    p.n_ctx = n_ctx;
    p.n_threads = 2;
    p.n_batch = 128; /* prompts of more than one chunk */
    return p;
}

static resa_params seq_params(const spec *s)
{
    resa_params p;
    resa_params_default(&p);
    p.mode = s->mode;
    p.rect_every = s->rect_every;
    p.min_blocks = s->min_blocks;
    return p;
}

/* What a sequence produced: greedy tokens and each step's logits. */
typedef struct trace {
    int32_t tokens[MAX_STEPS];
    float *logits; /* (n_steps + 1, n_vocab): after the prompt, then after each step */
    int rectifications;
} trace;

static int32_t argmax(const float *x, int n)
{
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        best = x[i] > x[best] ? i : best;
    return best;
}

/* A sequence being stepped: which input it takes next. */
typedef struct runner {
    const spec *sp;
    resa_seq *seq;
    trace *tr;
    int step; /* 0: the prompt, then decode steps */
} runner;

/* The input of r for this step; records the logits of the last one. */
static void runner_input(runner *r, const int32_t **tokens, int *n)
{
    if (r->step == 0) {
        *tokens = text_ids + r->sp->prompt_len % 7;
        *n = r->sp->prompt_len;
    } else {
        *tokens = &r->tr->tokens[r->step - 1];
        *n = 1;
    }
}

static void runner_record(runner *r, int n_vocab)
{
    const float *lg = resa_seq_logits(r->seq);
    memcpy(r->tr->logits + (size_t)r->step * n_vocab, lg, (size_t)n_vocab * sizeof *lg);
    r->tr->tokens[r->step] = argmax(lg, n_vocab);
    r->step++;
}

/* Steps the runners together (those whose start has come) until each has
 * taken its prompt and n_steps tokens. */
static void run_together(resa_engine *e, runner *rs, int n, int n_vocab)
{
    for (int t = 0;; t++) {
        resa_seq *seqs[N_SPECS];
        const int32_t *tokens[N_SPECS];
        int n_tokens[N_SPECS], idx[N_SPECS], k = 0;
        for (int i = 0; i < n; i++)
            if (t >= rs[i].sp->start_step && rs[i].step <= rs[i].sp->n_steps) {
                seqs[k] = rs[i].seq;
                runner_input(&rs[i], &tokens[k], &n_tokens[k]);
                idx[k++] = i;
            }
        if (k == 0 && t > 0) {
            int left = 0;
            for (int i = 0; i < n; i++)
                left |= rs[i].step <= rs[i].sp->n_steps;
            if (!left)
                break;
            continue;
        }
        must(resa_engine_step(e, k, seqs, tokens, n_tokens), "step");
        for (int j = 0; j < k; j++)
            runner_record(&rs[idx[j]], n_vocab);
    }
    for (int i = 0; i < n; i++)
        rs[i].tr->rectifications = resa_seq_rectifications(rs[i].seq);
}

static void run_alone(const resa_model *m, const spec *sp, trace *tr, int n_vocab)
{
    resa_params ep = engine_params(1024);
    resa_engine *e;
    must(resa_engine_new(m, &ep, &e), "engine");
    resa_params p = seq_params(sp);
    runner r = { .sp = sp, .tr = tr };
    must(resa_seq_new(e, &p, &r.seq), "sequence");
    spec once = *sp;
    once.start_step = 0;
    r.sp = &once;
    run_together(e, &r, 1, n_vocab);
    resa_engine_free(e);
}

/* The same schedule through the single-sequence API (which rectifies at
 * once, inside the f-th step, where the engine folds it into the next). */
static void run_context(const resa_model *m, const spec *sp, trace *tr, int n_vocab)
{
    resa_params p = seq_params(sp);
    p.n_ctx = 1024;
    p.n_threads = 2;
    p.n_batch = 128;
    resa_context *c;
    must(resa_context_new(m, &p, &c), "context");
    for (int step = 0; step <= sp->n_steps; step++) {
        const int32_t *tokens = step ? &tr->tokens[step - 1] : text_ids + sp->prompt_len % 7;
        must(resa_decode(c, tokens, step ? 1 : sp->prompt_len, NULL, NULL), "decode");
        memcpy(tr->logits + (size_t)step * n_vocab, resa_logits(c), (size_t)n_vocab * sizeof(float));
        tr->tokens[step] = argmax(resa_logits(c), n_vocab);
    }
    /* the engine's count lags by the one due at the end, if any */
    tr->rectifications = resa_context_rectifications(c) - (sp->mode == RESA_MODE_RESA &&
                                                           sp->n_steps % sp->rect_every == 0);
    resa_context_free(c);
}

static int same_trace(const trace *a, const trace *b, int n_steps, int n_vocab)
{
    return !memcmp(a->tokens, b->tokens, (size_t)(n_steps + 1) * sizeof a->tokens[0]) &&
           !memcmp(a->logits, b->logits, (size_t)(n_steps + 1) * n_vocab * sizeof(float)) &&
           a->rectifications == b->rectifications;
}

static trace new_trace(int n_vocab)
{
    trace t = {0};
    t.logits = calloc((size_t)(MAX_STEPS + 1) * n_vocab, sizeof(float));
    if (!t.logits)
        exit(99);
    return t;
}

/* K, V and summaries of positions [0, n_past) identical in two sequences. */
static int same_cache(const resa_seq *sa, const resa_seq *sb)
{
    const kv_probe a = probe_seq(sa), b = probe_seq(sb);
    return probe_same_cache(&a, &b);
}

static void test_batch_invariance(const resa_model *m, int n_vocab)
{
    trace alone[N_SPECS], together[N_SPECS];
    for (int i = 0; i < N_SPECS; i++) {
        alone[i] = new_trace(n_vocab);
        together[i] = new_trace(n_vocab);
        run_alone(m, &specs[i], &alone[i], n_vocab);
    }
    resa_params ep = engine_params(4 * 1024);
    resa_engine *e;
    must(resa_engine_new(m, &ep, &e), "engine");
    runner rs[N_SPECS];
    for (int i = 0; i < N_SPECS; i++) {
        resa_params p = seq_params(&specs[i]);
        rs[i] = (runner){ .sp = &specs[i], .tr = &together[i] };
        must(resa_seq_new(e, &p, &rs[i].seq), "sequence");
    }
    run_together(e, rs, N_SPECS, n_vocab);
    int interleaved = 0; /* the pages of the sequences alternate in the pool */
    for (int i = 1; i < rs[0].seq->n_pages; i++)
        interleaved |= rs[0].seq->pages[i] != rs[0].seq->pages[i - 1] + 1;
    check(interleaved, "the sequences' pages interleave in the pool");
    for (int i = 0; i < N_SPECS; i++) {
        char what[160];
        snprintf(what, sizeof what, "%s: logits and greedy tokens in a step of 4 sequences equal "
                 "its run alone, bit for bit (%d rectifications)", specs[i].name,
                 together[i].rectifications);
        check(same_trace(&alone[i], &together[i], specs[i].n_steps, n_vocab), what);
    }
    check(together[0].rectifications >= 4 && together[3].rectifications >= 4,
          "the resa sequences rectified inside shared steps");
    trace ctx = new_trace(n_vocab);
    run_context(m, &specs[0], &ctx, n_vocab);
    check(same_trace(&alone[0], &ctx, specs[0].n_steps, n_vocab),
          "resa f=8: the single-sequence API (rectifying at once) gives the engine's bits");
    free(ctx.logits);

    /* page reuse: free the longest sequence, start a new one on its pages */
    const int free_before = resa_engine_free_positions(e);
    resa_seq_free(rs[2].seq);
    check(resa_engine_free_positions(e) > free_before, "a freed sequence's pages return to the pool");
    spec reuse = specs[0];
    reuse.name = "reuse";
    reuse.prompt_len = 260;
    reuse.n_steps = 12;
    trace t_alone = new_trace(n_vocab), t_reused = new_trace(n_vocab);
    run_alone(m, &reuse, &t_alone, n_vocab);
    resa_params p = seq_params(&reuse);
    runner r = { .sp = &reuse, .tr = &t_reused };
    must(resa_seq_new(e, &p, &r.seq), "sequence");
    reuse.start_step = 0;
    run_together(e, &r, 1, n_vocab);
    check(same_trace(&t_alone, &t_reused, reuse.n_steps, n_vocab),
          "a sequence on reused pages gives the alone-run's logits, bit for bit");
    /* the same schedule once more alone, to compare the caches */
    resa_engine *e2;
    must(resa_engine_new(m, &ep, &e2), "engine");
    runner r2 = { .sp = &reuse, .tr = &t_alone };
    must(resa_seq_new(e2, &p, &r2.seq), "sequence");
    run_together(e2, &r2, 1, n_vocab);
    check(same_cache(r.seq, r2.seq), "... and the same K/V and block summaries (no trace of the "
                                     "pages' previous owner)");
    resa_engine_free(e2);
    free(t_alone.logits);
    free(t_reused.logits);
    resa_engine_free(e);
    for (int i = 0; i < N_SPECS; i++) {
        free(alone[i].logits);
        free(together[i].logits);
    }
}

static void test_bad_steps(const resa_model *m)
{
    resa_params ep = engine_params(256); /* 16 pages of 16 */
    resa_engine *e, *other;
    must(resa_engine_new(m, &ep, &e), "engine");
    must(resa_engine_new(m, &ep, &other), "engine");
    resa_seq *a, *b, *foreign;
    must(resa_seq_new(e, NULL, &a), "sequence");
    must(resa_seq_new(e, NULL, &b), "sequence");
    must(resa_seq_new(other, NULL, &foreign), "sequence");
    const int32_t *t200 = text_ids, *t100 = text_ids + 200;
    resa_seq *both[2] = { a, b };
    const int32_t *toks[2] = { t200, t100 };
    int ns[2] = { 200, 100 };
    check(resa_engine_step(e, 2, both, toks, ns) == RESA_ERR_CONTEXT && resa_seq_n_past(a) == 0 &&
              resa_seq_n_past(b) == 0 && resa_engine_free_positions(e) == 256,
          "a step the pool cannot hold fails and changes nothing");
    ns[1] = 40;
    check(resa_engine_step(e, 2, both, toks, ns) == RESA_OK && resa_seq_n_past(a) == 200 &&
              resa_seq_n_past(b) == 40 && resa_engine_free_positions(e) == 0,
          "... and one it can hold runs (pages of 16 taken as needed)");
    resa_seq *twice[2] = { a, a };
    int ones[2] = { 1, 1 };
    check(resa_engine_step(e, 2, twice, toks, ones) == RESA_ERR_ARG, "a sequence twice in a step fails");
    int zero = 0;
    check(resa_engine_step(e, 1, &a, toks, &zero) == RESA_ERR_ARG, "an input of no tokens fails");
    check(resa_engine_step(e, 1, &foreign, toks, ones) == RESA_ERR_ARG,
          "a sequence of another engine fails");
    check(resa_seq_truncate(a, 20) == RESA_OK && resa_engine_free_positions(e) == 256 - 32 - 48,
          "truncation gives pages back");
    resa_engine_free(other);
    resa_engine_free(e);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_engine MODEL\n");
        return 99;
    }
    resa_model *m;
    if (resa_model_load(argv[1], &m)) {
        fprintf(stderr, "test_engine: %s\n", resa_last_error());
        return 99;
    }
    make_text(m);
    const int n_vocab = resa_model_get_info(m)->n_vocab;
    test_batch_invariance(m, n_vocab);
    test_bad_steps(m);
    resa_model_free(m);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
