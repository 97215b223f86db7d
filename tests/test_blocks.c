/* SPDX-License-Identifier: MIT */
/* Block summaries, scores, budget and selection (src/blocks.c) against
 * brute-force references written here: min/max recomputed from scratch (with
 * this file's own f16 decoder), scores and pooled queries in float64, budgets
 * in integer arithmetic, selection by sorting every block.
 *
 *   test_blocks [--seed=N] [-v]
 *
 * The seed is printed; pass it back to repeat a run. Ends with
 * "N passed, N failed"; exit status 0 when none failed. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blocks.h"
#include "types.h"
#include "sampling.h"

static int n_pass, n_fail, verbose;

/* Counts a check; prints failures (the first 50) and, with -v, passes. */
static int check(int ok, const char *fmt, ...)
{
    if (ok)
        n_pass++;
    else
        n_fail++;
    if ((!ok && n_fail <= 50) || (ok && verbose)) {
        va_list ap;
        va_start(ap, fmt);
        printf("%s - ", ok ? "ok" : "not ok");
        vprintf(fmt, ap);
        printf("\n");
        va_end(ap);
    }
    return ok;
}

/* ---- RNG (splitmix64) ----------------------------------------------------------- */

static uint64_t rng_state;

/* the project's seeded generator (splitmix64) */
static uint64_t rnd(void) { return rng_next(&rng_state); }

static int rndi(int lo, int hi) /* uniform in [lo, hi] */
{
    return lo + (int)(rnd() % (uint64_t)(hi - lo + 1));
}

static float rndf(void) /* uniform in [-1, 1) */
{
    return (float)((double)(rnd() >> 11) * 0x1p-52 - 1.0);
}

/* ---- f16: an independent decoder, and random finite halves ----------------------- */

static double ref_f16(uint16_t h)
{
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return s ? -v : v;
}

static uint16_t rnd_f16(void)
{
    for (;;) {
        uint16_t h = (uint16_t)rnd();
        if (((h >> 10) & 31) != 31)
            return h;
    }
}

/* ---- summaries ------------------------------------------------------------------- */

static int d_sizes[] = {1, 2, 3, 7, 16, 17, 64, 128};
static int b_sizes[] = {1, 2, 3, 5, 16, 32};

static double key_ref(const void *keys, int f16, int d, int p, int j)
{
    size_t i = (size_t)p * d + j;
    return f16 ? ref_f16(((const uint16_t *)keys)[i]) : ((const float *)keys)[i];
}

/* Compares the summaries of blocks [b0, b1] with min/max over the keys < T. */
static int summaries_match(const float *kmin, const float *kmax, const void *keys, int f16,
                           int d, int b, int T, int b0, int b1)
{
    for (int i = b0; i <= b1; i++) {
        int p1 = (i + 1) * b < T ? (i + 1) * b : T;
        for (int j = 0; j < d; j++) {
            double mn = INFINITY, mx = -INFINITY;
            for (int p = i * b; p < p1; p++) {
                double v = key_ref(keys, f16, d, p, j);
                mn = v < mn ? v : mn;
                mx = v > mx ? v : mx;
            }
            if ((double)kmin[(size_t)i * d + j] != mn || (double)kmax[(size_t)i * d + j] != mx)
                return 0;
        }
    }
    return 1;
}

static void fill_keys(void *keys, int f16, size_t n, int pos0)
{
    for (size_t i = 0; i < n; i++) {
        if (f16)
            ((uint16_t *)keys)[(size_t)pos0 + i] = rnd_f16();
        else /* sometimes a few values only, so min/max ties are common */
            ((float *)keys)[(size_t)pos0 + i] = (rnd() & 1) ? rndf() : (float)rndi(-2, 2);
    }
}

/* One (layer, head): append T keys, check; overwrite a range, recompute, check. */
static void test_summaries_case(int f16, int d, int b, int T)
{
    int M = (T + b - 1) / b;
    size_t nk = (size_t)T * d, ns = (size_t)(M + 1) * d; /* +1 block: guard */
    void *keys = malloc(nk * (f16 ? 2 : 4) + 1);
    float *kmin = malloc(ns * sizeof(float)), *kmax = malloc(ns * sizeof(float));
    float *row = malloc((size_t)d * sizeof(float));
    for (size_t i = 0; i < ns; i++)
        kmin[i] = kmax[i] = NAN; /* poison: every summary must be written */
    fill_keys(keys, f16, nk, 0);
    for (int p = 0; p < T; p++) {
        for (int j = 0; j < d; j++)
            row[j] = (float)key_ref(keys, f16, d, p, j);
        blocks_append_key(kmin, kmax, d, b, p, row);
    }
    check(summaries_match(kmin, kmax, keys, f16, d, b, T, 0, M - 1),
          "append %s d=%d b=%d T=%d", f16 ? "f16" : "f32", d, b, T);

    /* Rectification: overwrite positions [a, a+f) and recompute their blocks;
     * sometimes ask past the last block, which must stay untouched. */
    int a = rndi(0, T - 1), f = rndi(1, T - a);
    fill_keys(keys, f16, (size_t)f * d, a * d);
    int last = (rnd() & 3) ? (a + f - 1) / b : M + 3;
    blocks_recompute(kmin, kmax, d, b, keys, f16 ? RESA_TYPE_F16 : RESA_TYPE_F32, T, a / b, last);
    int guard_ok = 1;
    for (int j = 0; j < d; j++)
        guard_ok &= isnan(kmin[(size_t)M * d + j]) && isnan(kmax[(size_t)M * d + j]);
    check(summaries_match(kmin, kmax, keys, f16, d, b, T, 0, M - 1) && guard_ok,
          "recompute %s d=%d b=%d T=%d [%d,%d)", f16 ? "f16" : "f32", d, b, T, a, a + f);

    /* From scratch over poisoned summaries. */
    for (size_t i = 0; i < ns; i++)
        kmin[i] = kmax[i] = NAN;
    blocks_recompute(kmin, kmax, d, b, keys, f16 ? RESA_TYPE_F16 : RESA_TYPE_F32, T, 0, M - 1);
    check(summaries_match(kmin, kmax, keys, f16, d, b, T, 0, M - 1),
          "recompute all %s d=%d b=%d T=%d", f16 ? "f16" : "f32", d, b, T);
    free(keys), free(kmin), free(kmax), free(row);
}

static void test_summaries(void)
{
    int before = n_fail;
    for (int c = 0; c < 400; c++) {
        int d = d_sizes[rndi(0, 7)], b = b_sizes[rndi(0, 5)];
        /* include contexts shorter than one block and exact multiples */
        int T = (c % 4 == 0) ? rndi(1, b) : (c % 4 == 1) ? b * rndi(1, 9) : rndi(1, 300);
        test_summaries_case(c & 1, d, b, T);
    }
    printf("%s - summaries (append, recompute, f16/f32)\n", n_fail == before ? "ok" : "not ok");
}

static void test_f16_decoder(void)
{
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        double r = ref_f16((uint16_t)h), v = type_f16_to_f32((uint16_t)h);
        bad += !(r == v || (isnan(r) && isnan(v)));
    }
    check(!bad, "type_f16_to_f32 agrees with the test's decoder on all 65536 halves");
}

/* ---- scores and pooled query ---------------------------------------------------- */

static void test_scores(void)
{
    int before = n_fail;
    for (int c = 0; c < 300; c++) {
        int d = d_sizes[rndi(0, 7)], M = rndi(0, 70), g = rndi(1, 8);
        float *q = malloc((size_t)g * d * sizeof(float)), *qbar = malloc((size_t)d * sizeof(float));
        float *kmin = malloc(((size_t)M * d + 1) * sizeof(float));
        float *kmax = malloc(((size_t)M * d + 1) * sizeof(float));
        float *s = malloc((size_t)(M + 1) * sizeof(float));
        for (int i = 0; i < g * d; i++)
            q[i] = 4 * rndf();
        blocks_pooled_query(q, g, d, qbar);
        int ok = 1;
        for (int j = 0; j < d; j++) {
            double m = 0, a = 0;
            for (int h = 0; h < g; h++)
                m += q[h * d + j], a += fabs(q[h * d + j]);
            ok &= fabs(qbar[j] - m / g) <= (g + 2) * 0x1p-23 * a / g;
        }
        check(ok, "pooled query g=%d d=%d", g, d);
        for (size_t i = 0; i < (size_t)M * d; i++) {
            float x = 3 * rndf(), y = 3 * rndf();
            kmin[i] = x < y ? x : y;
            kmax[i] = x < y ? y : x;
        }
        s[M] = 12345.0f; /* guard */
        blocks_score(qbar, kmin, kmax, d, M, s);
        ok = s[M] == 12345.0f;
        for (int i = 0; i < M; i++) {
            double r = 0, a = 0;
            for (int j = 0; j < d; j++) {
                double t1 = (double)qbar[j] * kmax[(size_t)i * d + j];
                double t2 = (double)qbar[j] * kmin[(size_t)i * d + j];
                double t = t1 > t2 ? t1 : t2;
                r += t, a += fabs(t);
            }
            ok &= fabs(s[i] - r) <= (d + 2) * 0x1p-23 * a + 1e-30;
        }
        check(ok, "scores d=%d M=%d", d, M);
        free(q), free(qbar), free(kmin), free(kmax), free(s);
    }
    printf("%s - scores and pooled queries vs float64\n", n_fail == before ? "ok" : "not ok");
}

/* The point of the score: it bounds qbar.k for every key of the block. */
static void test_score_bound(void)
{
    int before = n_fail;
    for (int c = 0; c < 100; c++) {
        int d = d_sizes[rndi(0, 7)], b = b_sizes[rndi(0, 5)], T = rndi(1, 200);
        int M = (T + b - 1) / b;
        float *keys = malloc((size_t)T * d * sizeof(float)), *qbar = malloc((size_t)d * sizeof(float));
        float *kmin = malloc((size_t)M * d * sizeof(float)), *kmax = malloc((size_t)M * d * sizeof(float));
        float *s = malloc((size_t)M * sizeof(float));
        fill_keys(keys, 0, (size_t)T * d, 0);
        for (int j = 0; j < d; j++)
            qbar[j] = rndf();
        blocks_recompute(kmin, kmax, d, b, keys, RESA_TYPE_F32, T, 0, M - 1);
        blocks_score(qbar, kmin, kmax, d, M, s);
        int ok = 1;
        for (int p = 0; p < T; p++) {
            double dot = 0, a = 0;
            for (int j = 0; j < d; j++)
                dot += (double)qbar[j] * keys[(size_t)p * d + j], a += fabs(qbar[j]) * 2;
            ok &= dot <= s[p / b] + (d + 2) * 0x1p-23 * a;
        }
        check(ok, "score bounds q.k d=%d b=%d T=%d", d, b, T);
        free(keys), free(qbar), free(kmin), free(kmax), free(s);
    }
    printf("%s - score is an upper bound of q.k in its block\n", n_fail == before ? "ok" : "not ok");
}

/* ---- budget ---------------------------------------------------------------------- */

/* Intended budget for ratio num/den, in integers. */
static int ref_budget(int M, long num, long den, int n_min)
{
    if (M <= 0)
        return 0;
    long k = (num * M + den - 1) / den;
    long f = n_min < M ? n_min : M;
    k = k > f ? k : f;
    return (int)(k < 0 ? 0 : k > M ? M : k);
}

static void test_budget(void)
{
    static const struct { int M; float ratio; int n_min, want; } t[] = {
        {10, 0.1f, 0, 1},   {20, 0.1f, 0, 2},    {30, 0.1f, 0, 3},   {100, 0.1f, 0, 10},
        {11, 0.1f, 0, 2},   {10, 0.1f, 16, 10},  {100, 0.1f, 16, 16}, {1000, 0.1f, 16, 100},
        {10, 0.0f, 0, 0},   {10, 0.0f, 3, 3},    {10, 1.0f, 0, 10},  {10, 1.0f, 16, 10},
        {1, 0.1f, 16, 1},   {1, 0.0f, 0, 0},     {0, 0.1f, 16, 0},   {-3, 0.5f, 2, 0},
        {5, 2.0f, 0, 5},    {5, -1.0f, 0, 0},    {5, NAN, 2, 2},     {5, 0.5f, -4, 3},
        {8192, 0.1f, 16, 820}, {1, 1e-9f, 0, 1}, {3, 1.0f / 3, 0, 1}, {6, 1.0f / 3, 0, 2},
        {12, 0.25f, 0, 3}, {13, 0.25f, 0, 4},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int k = blocks_budget(t[i].M, t[i].ratio, t[i].n_min);
        check(k == t[i].want, "budget M=%d ratio=%g n_min=%d: %d, want %d", t[i].M,
              (double)t[i].ratio, t[i].n_min, k, t[i].want);
    }
    /* Sweeps: decimal ratios (as a user types them) and fractions n/den. */
    int bad = 0;
    for (int n = 0; n <= 1000; n++)
        for (int M = 0; M <= 1000; M++)
            bad += blocks_budget(M, (float)n / 1000, 0) != ref_budget(M, n, 1000, 0);
    for (int n = 0; n <= 100; n++)
        for (int M = 0; M <= 8192; M++)
            bad += blocks_budget(M, (float)n / 100, 0) != ref_budget(M, n, 100, 0);
    for (int c = 0; c < 200000; c++) {
        int den = rndi(1, 500), n = rndi(0, den), M = rndi(0, 4096), n_min = rndi(-2, 40);
        bad += blocks_budget(M, (float)n / den, n_min) != ref_budget(M, n, den, n_min);
    }
    check(!bad, "budget sweeps vs integer arithmetic (%d mismatches)", bad);
}

/* ---- selection -------------------------------------------------------------------- */

static const float *cmp_scores;

static double key_of(float s)
{
    return isnan(s) ? -INFINITY : s;
}

/* Higher score first, then lower index. */
static int cmp_rank(const void *pa, const void *pb)
{
    int a = *(const int *)pa, b = *(const int *)pb;
    double sa = key_of(cmp_scores[a]), sb = key_of(cmp_scores[b]);
    if (sa != sb)
        return sa > sb ? -1 : 1;
    return (a > b) - (a < b);
}

/* Sort every older block, take the best, add the local ones, list ascending. */
static int ref_select(const float *s, int M, int n_local, int k, int *out)
{
    if (M < 0)
        M = 0;
    int forced = n_local < 0 ? 0 : n_local > M ? M : n_local;
    int total = k > forced ? k : forced;
    total = total < M ? total : M;
    int *idx = malloc((size_t)M * sizeof(int) + 1);
    char *sel = calloc((size_t)M + 1, 1);
    for (int i = 0; i < M - forced; i++)
        idx[i] = i;
    cmp_scores = s;
    qsort(idx, (size_t)(M - forced), sizeof(int), cmp_rank);
    for (int i = 0; i < total - forced; i++)
        sel[idx[i]] = 1;
    for (int i = M - forced; i < M; i++)
        sel[i] = 1;
    int n = 0;
    for (int i = 0; i < M; i++)
        if (sel[i])
            out[n++] = i;
    free(idx), free(sel);
    return n;
}

static void gen_scores(float *s, int M, int kind)
{
    for (int i = 0; i < M; i++) {
        switch (kind) {
        case 0: s[i] = 10 * rndf(); break;
        case 1: s[i] = 1.5f; break;                              /* all equal */
        case 2: s[i] = (float)rndi(-1, 1); break;                /* three values */
        case 3: s[i] = (rnd() & 1) ? 0.0f : -0.0f; break;        /* +0 == -0 */
        case 4: s[i] = (float)(rndi(0, 5) == 0 ? NAN : rndi(0, 2) == 0 ? INFINITY : rndi(-3, 3));
                break;
        default: s[i] = (float)rndi(0, 3) * 0.25f; break;
        }
    }
}

static int run_select(const float *s, int M, int n_local, int k)
{
    const int G = 4; /* guard ints after out[M) */
    int *out = malloc((size_t)(M + G) * sizeof(int)), *want = malloc((size_t)(M + 1) * sizeof(int));
    uint64_t *work = malloc((size_t)(M + 1) * sizeof(uint64_t));
    for (int i = 0; i < M + G; i++)
        out[i] = -7;
    int n = blocks_select(s, M, n_local, k, work, out);
    int m = ref_select(s, M, n_local, k, want);
    int ok = n == m && !memcmp(out, want, (size_t)m * sizeof(int));
    for (int i = M; i < M + G; i++)
        ok &= out[i] == -7;
    if (!ok && n_fail < 10) {
        printf("# M=%d n_local=%d k=%d: got %d [", M, n_local, k, n);
        for (int i = 0; i < n && i < 20; i++)
            printf(" %d", out[i]);
        printf(" ] want %d [", m);
        for (int i = 0; i < m && i < 20; i++)
            printf(" %d", want[i]);
        printf(" ]\n");
    }
    free(out), free(want), free(work);
    return ok;
}

static void test_select(void)
{
    int before = n_fail;
    for (int c = 0; c < 20000; c++) {
        int M = c % 50 == 0 ? rndi(1000, 8192) : c % 5 == 0 ? rndi(0, 3) : rndi(0, 200);
        int kind = rndi(0, 5), n_local = rndi(-1, 3) + (c % 7 == 0 ? M : 0);
        int k = c % 3 == 0 ? blocks_budget(M, 0.1f, rndi(0, 20)) : rndi(-2, M + 3);
        float *s = malloc((size_t)(M + 1) * sizeof(float));
        gen_scores(s, M, kind);
        check(run_select(s, M, n_local, k), "select M=%d kind=%d n_local=%d k=%d", M, kind,
              n_local, k);
        free(s);
    }
    /* Named edge cases. */
    float s[40];
    gen_scores(s, 40, 0);
    int out[48], n;
    uint64_t work[48];
    n = blocks_select(s, 10, 1, blocks_budget(10, 0.1f, 16), work, out);
    check(n == 10, "fewer blocks than n_min: all %d selected", n);
    n = blocks_select(s, 1, 1, 1, work, out);
    check(n == 1 && out[0] == 0, "M=1");
    n = blocks_select(s, 1, 0, 0, work, out);
    check(n == 0, "M=1, k=0, no local block");
    n = blocks_select(s, 40, 1, 0, work, out);
    check(n == 1 && out[0] == 39, "k=0 keeps only the local block");
    n = blocks_select(s, 5, 9, 2, work, out);
    check(n == 5, "n_local > M selects all");
    n = blocks_select(s, 0, 1, 16, work, out);
    check(n == 0, "no blocks");
    for (int i = 0; i < 40; i++)
        s[i] = 1.0f;
    n = blocks_select(s, 40, 1, 4, work, out);
    check(n == 4 && out[0] == 0 && out[1] == 1 && out[2] == 2 && out[3] == 39,
          "all ties: lowest indices win");
    printf("%s - selection vs brute force\n", n_fail == before ? "ok" : "not ok");
}

int main(int argc, char **argv)
{
    uint64_t seed = (uint64_t)time(NULL);
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--seed=", 7))
            seed = strtoull(argv[i] + 7, NULL, 10);
        else if (!strcmp(argv[i], "-v"))
            verbose = 1;
        else {
            fprintf(stderr, "usage: %s [--seed=N] [-v]\n", argv[0]);
            return 99;
        }
    }
    printf("# seed %llu (repeat with --seed=%llu)\n", (unsigned long long)seed,
           (unsigned long long)seed);
    rng_state = seed;
    test_f16_decoder();
    test_summaries();
    test_scores();
    test_score_bound();
    test_budget();
    test_select();
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
