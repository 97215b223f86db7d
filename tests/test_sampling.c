/* SPDX-License-Identifier: MIT */
/* Sampling: properties that must hold, checked against a float64 reference
 * distribution computed here. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resa.h"

static int passed, failed;

static void check(int ok, const char *what)
{
    if (ok) {
        passed++;
        printf("ok - %s\n", what);
    } else {
        failed++;
        printf("not ok - %s\n", what);
    }
}

#define V 50

/* Empirical frequencies over `draws` draws from a vocabulary of n vs
 * softmax(logits/temp) restricted to the allowed set; returns the largest
 * absolute error (1 for any draw outside the set). */
static double freq_error(const float *logits, int n, const resa_sampler_params *p, const int *allowed, int draws)
{
    resa_sampler *s = resa_sampler_new(p, n);
    int *count = calloc((size_t)n, sizeof *count);
    if (!s || !count) {
        resa_sampler_free(s);
        free(count);
        return 1.0;
    }
    for (int i = 0; i < draws; i++)
        count[resa_sample(s, logits)]++;
    resa_sampler_free(s);
    double z = 0, err = 0;
    for (int i = 0; i < n; i++)
        z += allowed[i] ? exp((double)logits[i] / p->temp) : 0.0;
    for (int i = 0; i < n && err < 1.0; i++) {
        const double e = !allowed[i] ? (count[i] ? 1.0 : 0.0)
                                     : fabs(count[i] / (double)draws - exp((double)logits[i] / p->temp) / z);
        err = e > err ? e : err;
    }
    free(count);
    return err;
}

static double max_freq_error(const float *logits, const resa_sampler_params *p, const int *allowed)
{
    return freq_error(logits, V, p, allowed, 200000);
}

/* A vocabulary the size of a real one with heavy ties: top-k must keep
 * exactly the first k of the order (higher logit, then lower id), as a full
 * sort would. The reference walks the levels from the top, ids ascending. */
static int big_vocab_top_k(void)
{
    enum { BV = 100000, K = 40, LEVELS = 16, DRAWS = 20000 };
    static float logits[BV];
    static int allowed[BV];
    uint64_t x = 99;
    for (int i = 0; i < BV; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        logits[i] = (float)((x >> 33) % LEVELS) * 0.25f;
    }
    int kept = 0;
    for (int level = LEVELS - 1; level >= 0 && kept < K; level--)
        for (int i = 0; i < BV && kept < K; i++)
            if (logits[i] == (float)level * 0.25f) {
                allowed[i] = 1;
                kept++;
            }
    resa_sampler_params p;
    resa_sampler_default(&p);
    p.temp = 1;
    p.top_k = K;
    p.top_p = 1;
    p.seed = 3;
    return freq_error(logits, BV, &p, allowed, DRAWS) < 0.02;
}

/* Without top-k the sampler sorts lazily (the best 64, then 8x more as a
 * walk needs them): a vocabulary of 30000 whose 300 high logits take
 * several hundred candidates to cover, in 16 tied levels. Without top-p
 * every id keeps its softmax share; with top-p 0.9 only the nucleus of the
 * full order (higher logit, then lower id) may come out. */
static int big_vocab_lazy(float top_p)
{
    enum { BV = 30000, HIGH = 300, LEVELS = 16, DRAWS = 4000 };
    static float logits[BV];
    static int allowed[BV], order[HIGH];
    uint64_t x = 5;
    for (int i = 0; i < BV; i++)
        logits[i] = -30.0f;
    for (int h = 0; h < HIGH; h++) { /* distinct ids spread over the vocabulary */
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        logits[h * (BV / HIGH) + (int)((x >> 40) % (BV / HIGH))] = (float)((x >> 20) % LEVELS) * 0.125f;
    }
    int n = 0;
    for (int level = LEVELS - 1; level >= 0; level--)
        for (int i = 0; i < BV; i++)
            if (logits[i] == (float)level * 0.125f)
                order[n++] = i;
    double z = 0;
    for (int i = 0; i < BV; i++)
        z += exp((double)logits[i]);
    int keep = BV;
    if (top_p < 1.0f) {
        double cum = 0;
        for (keep = 0; keep < n && cum < top_p;)
            cum += exp((double)logits[order[keep++]]) / z;
    }
    for (int i = 0; i < BV; i++)
        allowed[i] = keep == BV;
    for (int j = 0; j < keep && j < n; j++)
        allowed[order[j]] = 1;
    resa_sampler_params p;
    resa_sampler_default(&p);
    p.temp = 1;
    p.top_k = 0;
    p.top_p = top_p;
    p.seed = 11;
    const double err = freq_error(logits, BV, &p, allowed, DRAWS);
    printf("# top-p %g: nucleus %d ids, largest frequency error %.4f\n", top_p, keep, err);
    return err < 0.02 && keep > 64; /* the nucleus must reach past the first sorted 64 */
}

int main(void)
{
    float logits[V];
    uint64_t x = 12345;
    for (int i = 0; i < V; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        logits[i] = (float)((x >> 40) % 1000) / 250.0f; /* 0 .. 4 */
    }
    int best = 0;
    for (int i = 1; i < V; i++)
        if (logits[i] > logits[best])
            best = i;

    resa_sampler_params p;
    resa_sampler_default(&p);
    p.temp = 0;
    resa_sampler *s = resa_sampler_new(&p, V);
    check(resa_sample(s, logits) == best, "temp 0 picks the argmax");
    resa_sampler_free(s);

    p.temp = 5;
    p.top_k = 1;
    s = resa_sampler_new(&p, V);
    int all_best = 1;
    for (int i = 0; i < 100; i++)
        all_best &= resa_sample(s, logits) == best;
    check(all_best, "top-k 1 picks the argmax at any temperature");
    resa_sampler_free(s);

    /* same seed, same sequence; different seed, different sequence */
    p.temp = 1;
    p.top_k = 0;
    p.top_p = 1;
    p.seed = 7;
    resa_sampler *a = resa_sampler_new(&p, V), *b = resa_sampler_new(&p, V);
    p.seed = 8;
    resa_sampler *c = resa_sampler_new(&p, V);
    int same = 1, differ = 0;
    for (int i = 0; i < 200; i++) {
        int ta = resa_sample(a, logits), tb = resa_sample(b, logits), tc = resa_sample(c, logits);
        same &= ta == tb;
        differ |= ta != tc;
    }
    check(same, "a seed reproduces its sequence");
    check(differ, "another seed gives another sequence");
    resa_sampler_free(a);
    resa_sampler_free(b);
    resa_sampler_free(c);

    int allowed[V];
    for (int i = 0; i < V; i++)
        allowed[i] = 1;
    p.seed = 1;
    check(max_freq_error(logits, &p, allowed) < 0.01, "temp 1 draws follow softmax(logits)");
    p.temp = 0.5f;
    check(max_freq_error(logits, &p, allowed) < 0.01, "temp 0.5 draws follow softmax(logits/0.5)");

    /* top-k 5: only the 5 largest logits may come out, renormalized */
    p.temp = 1;
    p.top_k = 5;
    int order[V];
    for (int i = 0; i < V; i++)
        order[i] = i;
    for (int i = 0; i < V; i++) /* selection sort by logit, descending, ties by id */
        for (int j = i + 1; j < V; j++)
            if (logits[order[j]] > logits[order[i]] ||
                (logits[order[j]] == logits[order[i]] && order[j] < order[i])) {
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
    for (int i = 0; i < V; i++)
        allowed[order[i]] = i < 5;
    check(max_freq_error(logits, &p, allowed) < 0.01, "top-k 5 keeps the 5 best, renormalized");

    /* top-p: the smallest prefix (by probability) whose mass reaches p */
    p.top_k = 0;
    p.top_p = 0.5f;
    double z = 0, cum = 0;
    for (int i = 0; i < V; i++)
        z += exp(logits[i]);
    int keep = 0;
    while (cum < 0.5 && keep < V)
        cum += exp(logits[order[keep++]]) / z;
    for (int i = 0; i < V; i++)
        allowed[order[i]] = i < keep;
    check(max_freq_error(logits, &p, allowed) < 0.01, "top-p 0.5 keeps the nucleus");

    check(big_vocab_top_k(), "top-k 40 of 100000 logits in 16 levels: only the 40 first by (logit, id) come out, "
                             "renormalized");

    check(big_vocab_lazy(1.0f), "no top-k, no top-p, 30000 logits: every id keeps its softmax share");
    check(big_vocab_lazy(0.9f), "no top-k, top-p 0.9, 30000 logits: only the nucleus comes out, renormalized");

    p.top_p = 0;
    check(resa_sampler_new(&p, V) == NULL && resa_last_error()[0], "top-p 0 is rejected with a message");
    p.top_p = 1;
    p.temp = -1;
    check(resa_sampler_new(&p, V) == NULL, "negative temperature is rejected");

    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
