/* SPDX-License-Identifier: MIT */
/* Token sampling: greedy, or temperature with top-k and top-p (nucleus)
 * filtering, from a seeded generator so runs are reproducible. */
#include "sampling.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

struct resa_sampler {
    resa_sampler_params p;
    uint64_t rng;
    int n_vocab;
    int *idx;     /* candidate token ids, sorted by logit */
    float *prob;
};

uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double rng_uniform(uint64_t *s) { return (double)(rng_next(s) >> 11) * 0x1.0p-53; }

void resa_sampler_init(resa_sampler_params *p, size_t size)
{
    resa_sampler_params d = { .size = sizeof d, .temp = 0.8f, .top_k = 40, .top_p = 0.95f, .seed = 0 };
    memcpy(p, &d, size < sizeof d ? size : sizeof d);
    p->size = size < sizeof d ? size : sizeof d;
}

resa_sampler *resa_sampler_new(const resa_sampler_params *in, int n_vocab)
{
    /* fields past the caller's size (an older header) keep their defaults */
    resa_sampler_params all;
    resa_sampler_init(&all, sizeof all);
    if (!in || in->size <= offsetof(resa_sampler_params, temp)) {
        error_set(RESA_ERR_ARG, "sampler parameters without their size (use resa_sampler_default)");
        return NULL;
    }
    memcpy(&all, in, in->size < sizeof all ? in->size : sizeof all);
    const resa_sampler_params *p = &all;
    if (p->temp < 0 || p->top_k < 0 || !(p->top_p > 0.0f && p->top_p <= 1.0f) || n_vocab < 1) {
        error_set(RESA_ERR_ARG, "invalid sampler parameters (temp %g, top-k %d, top-p %g)", p->temp,
                  p->top_k, p->top_p);
        return NULL;
    }
    resa_sampler *s = calloc(1, sizeof *s);
    if (s) {
        s->idx = malloc((size_t)n_vocab * sizeof *s->idx);
        s->prob = malloc((size_t)n_vocab * sizeof *s->prob);
    }
    if (!s || !s->idx || !s->prob) {
        resa_sampler_free(s);
        error_set(RESA_ERR_NOMEM, "out of memory");
        return NULL;
    }
    s->p = *p;
    s->rng = p->seed;
    s->n_vocab = n_vocab;
    return s;
}

void resa_sampler_free(resa_sampler *s)
{
    if (!s)
        return;
    free(s->idx);
    free(s->prob);
    free(s);
}

/* The first position of the largest logit. Eight running maxima, not one
 * compared with every logit in turn: a vocabulary of 262K (Gemma 3) made the
 * one-chain loop 4% of a decode step. */
static int argmax(const float *x, int n)
{
    float m[8];
    int i = 0;
    for (int j = 0; j < 8; j++)
        m[j] = x[0];
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            m[j] = x[i + j] > m[j] ? x[i + j] : m[j];
    for (; i < n; i++)
        m[0] = x[i] > m[0] ? x[i] : m[0];
    float best = m[0];
    for (int j = 1; j < 8; j++)
        best = m[j] > best ? m[j] : best;
    for (i = 0; i < n; i++)
        if (x[i] == best)
            return i;
    return 0; /* NaN logits: never equal; the caller gets a valid id */
}

/* The sampler's order: higher logit first, ties the lower id first
 * (deterministic). */
static int ahead(const float *l, int a, int b)
{
    return l[a] > l[b] || (l[a] == l[b] && a < b);
}

static _Thread_local const float *sort_logits;
static int by_logit_desc(const void *a, const void *b)
{
    const int ia = *(const int *)a, ib = *(const int *)b;
    return ia == ib ? 0 : ahead(sort_logits, ia, ib) ? -1 : 1;
}

/* heap[0..n) with the last in order at the root: the k best so far */
static void sift_down(const float *l, int *heap, int n, int i)
{
    for (;;) {
        int worst = i;
        const int a = 2 * i + 1, b = a + 1;
        if (a < n && ahead(l, heap[worst], heap[a]))
            worst = a;
        if (b < n && ahead(l, heap[worst], heap[b]))
            worst = b;
        if (worst == i)
            return;
        const int t = heap[i];
        heap[i] = heap[worst];
        heap[worst] = t;
        i = worst;
    }
}

/* idx[0..m) = the first m ids in the sampler's order, sorted: a heap of the
 * m best so far (one comparison for most ids), then a sort of those m.
 * Sorting the whole vocabulary instead took 50 ms a token on Gemma 3's 262K
 * (sampled generation ran at a quarter of greedy's speed). */
static void best_ids(resa_sampler *s, const float *logits, int m)
{
    for (int i = 0; i < m; i++)
        s->idx[i] = i;
    for (int i = m / 2 - 1; i >= 0; i--)
        sift_down(logits, s->idx, m, i);
    for (int i = m; i < s->n_vocab; i++)
        if (ahead(logits, i, s->idx[0])) {
            s->idx[0] = i;
            sift_down(logits, s->idx, m, 0);
        }
    sort_logits = logits; /* qsort has no user pointer in C11 */
    qsort(s->idx, (size_t)m, sizeof *s->idx, by_logit_desc);
}

/* Without top-k every id is a candidate, but top-p and the draw read them
 * best first and nearly always stop early: sort the best m, and eight
 * times as many when a walk reaches the end of them (the first m stay
 * where they were: the order is total). */
#define FIRST_SORTED 64

static int more_sorted(resa_sampler *s, const float *logits, int m, float mx)
{
    const int m2 = (int)((long)m * 8 < s->n_vocab ? (long)m * 8 : s->n_vocab);
    best_ids(s, logits, m2);
    for (int i = m; i < m2; i++)
        s->prob[i] = expf((logits[s->idx[i]] - mx) / s->p.temp);
    return m2;
}

int32_t resa_sample(resa_sampler *s, const float *logits)
{
    if (!s || !logits) {
        error_set(RESA_ERR_ARG, "resa_sample: NULL %s", s ? "logits" : "sampler");
        return -1;
    }
    if (s->p.temp <= 0.0f || s->p.top_k == 1)
        return argmax(logits, s->n_vocab);
    const int all = s->n_vocab, top_k = s->p.top_k > 0 && s->p.top_k < all;
    /* m: candidates sorted, with their weights in prob[0..m) */
    int n = top_k ? s->p.top_k : all, m = top_k || all < FIRST_SORTED ? n : FIRST_SORTED;
    best_ids(s, logits, m);
    const float mx = logits[s->idx[0]];
    double sum = 0.0;
    for (int i = 0; i < m; i++)
        s->prob[i] = expf((logits[s->idx[i]] - mx) / s->p.temp);
    if (m == n)
        for (int i = 0; i < m; i++)
            sum += s->prob[i];
    else /* the whole vocabulary's mass, in id order */
        for (int i = 0; i < all; i++)
            sum += expf((logits[i] - mx) / s->p.temp);
    /* top-p: the smallest prefix whose mass reaches p */
    if (m == n || s->p.top_p < 1.0f) {
        double cum = 0.0;
        for (int i = 0; i < n; i++) {
            if (i == m)
                m = more_sorted(s, logits, m, mx);
            cum += s->prob[i] / sum;
            if (cum >= s->p.top_p) {
                n = i + 1;
                break;
            }
        }
    }
    double total = 0.0;
    if (n == all && m < n)
        total = sum;
    else
        for (int i = 0; i < n; i++)
            total += s->prob[i];
    double r = rng_uniform(&s->rng) * total;
    for (int i = 0; i < n; i++) {
        if (i == m)
            m = more_sorted(s, logits, m, mx);
        r -= s->prob[i];
        if (r < 0.0)
            return s->idx[i];
    }
    return s->idx[n - 1];
}
