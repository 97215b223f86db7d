/* SPDX-License-Identifier: MIT */
/* The adaptive budget (blocks_select_adaptive, docs/design.md §1 step 3')
 * against a brute-force reference written here in long double: every
 * block's estimated mass from its score and length, every older block
 * sorted (score descending, NaN lowest, then lower index), the shortest
 * prefix after the forced local blocks whose mass reaches p of the total,
 * clamped to the floor and ceiling. Checked on random scores, ties, +-0,
 * NaN and infinities:
 * - coverage 1 reads the ceiling (blocks whose estimate underflowed too);
 * - the chosen set equals the reference's (when the coverage boundary is
 *   not within 1e-9 of the total mass, where summation order may decide);
 * - always: the set is the forced blocks plus the best-ranked older blocks
 *   (ties to the lower index), its size is within [floor, ceiling], it
 *   covers >= p of the estimated mass unless the ceiling binds, and
 *   dropping its last-ranked older block would cover < p unless the floor
 *   binds (minimality); the reported coverage equals the reference's.
 *
 *   test_adaptive [--seed=N] [-v]
 *
 * Ends with "N passed, N failed"; exit status 0 when none failed. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blocks.h"
#include "sampling.h"

static int n_pass, n_fail, verbose;

static int check(int ok, const char *fmt, ...)
{
    ok ? n_pass++ : n_fail++;
    if ((!ok && n_fail <= 30) || (ok && verbose)) {
        va_list ap;
        va_start(ap, fmt);
        printf("%s - ", ok ? "ok" : "not ok");
        vprintf(fmt, ap);
        printf("\n");
        va_end(ap);
    }
    return ok;
}

static uint64_t rng_state;
static uint64_t rnd(void) { return rng_next(&rng_state); }
static int rndi(int lo, int hi) { return lo + (int)(rnd() % (uint64_t)(hi - lo + 1)); }
static double rndu(void) { return (double)(rnd() >> 11) * 0x1p-53; } /* [0, 1) */

/* ---- the reference ---------------------------------------------------------- */

static const float *cmp_s;

static long double rank_score(float s) { return isnan(s) ? -INFINITY : (long double)s; }

static int cmp_rank(const void *pa, const void *pb)
{
    const int a = *(const int *)pa, b = *(const int *)pb;
    const long double sa = rank_score(cmp_s[a]), sb = rank_score(cmp_s[b]);
    if (sa != sb)
        return sa > sb ? -1 : 1;
    return (a > b) - (a < b);
}

typedef struct ref {
    int forced, cand, lo, hi;   /* lo, hi: bounds on the older blocks taken */
    int *order;                 /* older blocks, best first */
    long double *w, z, forced_w;
} ref;

static void ref_build(ref *r, const float *s, int M, int n_local, const blocks_adaptive *a)
{
    r->forced = n_local < 0 ? 0 : n_local > M ? M : n_local;
    r->cand = M - r->forced;
    int lo = a->k_min > r->forced ? a->k_min : r->forced, hi = a->k_max > lo ? a->k_max : lo;
    lo = lo > M ? M : lo;
    hi = hi > M ? M : hi;
    r->lo = lo - r->forced;
    r->hi = hi - r->forced;
    long double smax = -INFINITY;
    for (int i = 0; i < M; i++)
        if (!isnan(s[i]) && s[i] > smax)
            smax = s[i];
    r->w = malloc(((size_t)M + 1) * sizeof *r->w);
    r->z = 0;
    for (int i = 0; i < M; i++) {
        const long double n_i = fminl(a->block_size, a->n_keys - (long double)i * a->block_size);
        long double w;
        if (isnan(s[i]) || s[i] == -INFINITY)
            w = 0;
        else if (smax == INFINITY)
            w = s[i] == INFINITY ? n_i : 0;
        else
            w = n_i * expl((long double)a->scale * ((long double)s[i] - smax));
        r->w[i] = w;
        r->z += w;
    }
    r->forced_w = 0;
    for (int i = r->cand; i < M; i++)
        r->forced_w += r->w[i];
    r->order = malloc(((size_t)r->cand + 1) * sizeof *r->order);
    for (int i = 0; i < r->cand; i++)
        r->order[i] = i;
    cmp_s = s;
    qsort(r->order, (size_t)r->cand, sizeof *r->order, cmp_rank);
}

/* Mass of the forced blocks and the best j older ones. */
static long double ref_mass(const ref *r, int j)
{
    long double m = r->forced_w;
    for (int i = 0; i < j; i++)
        m += r->w[r->order[i]];
    return m;
}

/* ---- one case ------------------------------------------------------------------ */

static void run_case(const float *s, int M, int n_local, const blocks_adaptive *a, const char *what)
{
    int *out = malloc(((size_t)M + 4) * sizeof *out);
    uint64_t *work = malloc(((size_t)2 * M + 1) * sizeof *work);
    for (int i = 0; i < M + 4; i++)
        out[i] = -7;
    double covered = -1;
    const int n = blocks_select_adaptive(s, M, n_local, a, work, out, &covered);
    ref r;
    ref_build(&r, s, M, n_local, a);
    const long double need = (long double)a->coverage * r.z, eps = 1e-9L * r.z;
    /* the reference's count of older blocks */
    int j_ref = 0;
    while (j_ref < r.hi && (a->coverage >= 1 || ref_mass(&r, j_ref) < need))
        j_ref++;
    if (j_ref < r.lo)
        j_ref = r.lo;
    int ok = 1;
    const int j = n - r.forced; /* older blocks the code took */
    ok &= j >= r.lo && j <= r.hi;
    /* the set: the best j older blocks and the forced ones, ascending */
    if (ok) {
        char *sel = calloc((size_t)M + 1, 1);
        for (int i = 0; i < j; i++)
            sel[r.order[i]] = 1;
        for (int i = r.cand; i < M; i++)
            sel[i] = 1;
        int k = 0;
        for (int i = 0; i < M; i++)
            if (sel[i])
                ok &= k < n && out[k++] == i;
        ok &= k == n;
        free(sel);
    }
    for (int i = M; i < M + 4; i++)
        ok &= out[i] == -7;
    if (ok) {
        const long double mass = ref_mass(&r, j);
        /* covers p unless the ceiling binds; minimal unless the floor binds */
        ok &= j == r.hi || mass >= need - eps;
        ok &= j == r.lo || a->coverage >= 1 || ref_mass(&r, j - 1) < need + eps;
        /* equal to the reference unless the boundary is a near-tie in mass */
        const int near = a->coverage < 1 && (fabsl(ref_mass(&r, j_ref) - need) <= eps ||
                         (j_ref > 0 && fabsl(ref_mass(&r, j_ref - 1) - need) <= eps));
        ok &= j == j_ref || near;
        const long double want = r.z > 0 ? mass / r.z : 1;
        ok &= fabsl((long double)covered - want) <= 1e-9L;
        /* the fixed budget's estimate of the same selection agrees */
        ok &= fabsl((long double)blocks_covered(s, M, a, out, n) - want) <= 1e-9L;
    }
    if (!ok && n_fail < 10)
        printf("# %s: M=%d n_local=%d k=[%d,%d] p=%g T=%d: took %d older blocks, reference %d of [%d,%d], "
               "covered %g\n", what, M, n_local, a->k_min, a->k_max, a->coverage, a->n_keys, j, j_ref, r.lo,
               r.hi, covered);
    check(ok, "%s: M=%d n_local=%d p=%g", what, M, n_local, a->coverage);
    free(out), free(work), free(r.w), free(r.order);
}

/* Scores of a few shapes: attention-like spreads, ties, specials. */
static void gen_scores(float *s, int M, int kind)
{
    const double spread = 1 + 40 * rndu();
    const int hot = rndi(0, M > 0 ? M - 1 : 0);
    for (int i = 0; i < M; i++) {
        switch (kind) {
        case 0: s[i] = (float)(spread * (2 * rndu() - 1)); break;
        case 1: s[i] = 1.5f; break;                                    /* all equal */
        case 2: s[i] = (float)rndi(-1, 1) * 8; break;                  /* three values */
        case 3: s[i] = (rnd() & 1) ? 0.0f : -0.0f; break;              /* +0 == -0 */
        case 4: s[i] = rndi(0, 5) == 0 ? NAN : rndi(0, 7) == 0 ? INFINITY : rndi(0, 7) == 0 ? -INFINITY
                                                                                         : (float)rndi(-30, 30);
                break;
        case 5: s[i] = (float)(i == hot ? 60 + spread : spread * rndu()); break; /* one needle */
        default: s[i] = (float)(1e4 * (2 * rndu() - 1)); break;        /* exp underflows */
        }
    }
}

static void test_random(void)
{
    const int before = n_fail;
    for (int c = 0; c < 6000; c++) {
        const int M = c % 60 == 0 ? rndi(1000, 5000) : c % 7 == 0 ? rndi(0, 3) : rndi(1, 300);
        const int b = (int[]){ 1, 4, 16, 16, 32 }[rndi(0, 4)];
        const int T = M > 0 ? (M - 1) * b + rndi(1, b) : 0;
        const int n_local = c % 11 == 0 ? M + rndi(0, 2) : rndi(0, 3);
        const double cov[] = { 0.5, 0.9, 0.95, 0.99, 1.0 };
        const blocks_adaptive a = { .coverage = c % 3 ? cov[rndi(0, 4)] : rndu(), .scale = 1.0 / sqrt((double)rndi(16, 128)),
                                    .block_size = b, .n_keys = T, .k_min = rndi(-1, 20),
                                    .k_max = c % 4 == 0 ? M : rndi(0, M + 2) };
        float *s = malloc(((size_t)M + 1) * sizeof *s);
        gen_scores(s, M, rndi(0, 6));
        run_case(s, M, n_local, &a, "random");
        free(s);
    }
    printf("%s - adaptive selection vs brute force (6000 random cases)\n", n_fail == before ? "ok" : "not ok");
}

/* blocks_covered (the error-driven rectification's estimate, docs/design.md
 * §1 step 5') on random subsets: the reference's mass share in long double. */
static void test_covered(void)
{
    int bad = 0;
    for (int c = 0; c < 3000; c++) {
        const int M = c % 7 == 0 ? rndi(0, 3) : rndi(1, 400);
        const int b = (int[]){ 1, 4, 16, 32 }[rndi(0, 3)];
        const int T = M > 0 ? (M - 1) * b + rndi(1, b) : 0;
        const blocks_adaptive a = { .coverage = 1, .scale = 1.0 / sqrt((double)rndi(16, 128)), .block_size = b,
                                    .n_keys = T, .k_min = 0, .k_max = M };
        float *s = malloc(((size_t)M + 1) * sizeof *s);
        int *sel = malloc(((size_t)M + 1) * sizeof *sel);
        gen_scores(s, M, rndi(0, 6));
        const double p_take = rndu();
        int n = 0;
        for (int i = 0; i < M; i++)
            if (rndu() < p_take)
                sel[n++] = i;
        ref r;
        ref_build(&r, s, M, 0, &a);
        long double m = 0;
        for (int i = 0; i < n; i++)
            m += r.w[sel[i]];
        const long double want = r.z > 0 ? m / r.z : 1;
        const double got = blocks_covered(s, M, &a, sel, n);
        if (!(fabsl((long double)got - want) <= 1e-9L)) {
            if (bad++ < 5)
                printf("# covered: M=%d n=%d T=%d: %.17g, reference %.17Lg\n", M, n, T, got, want);
        }
        free(s), free(sel), free(r.w), free(r.order);
    }
    check(bad == 0, "estimated mass share of a selection vs brute force (3000 random subsets, %d off)", bad);
    printf("%s - estimated mass share of a selection vs brute force (3000 random subsets)\n", bad ? "not ok" : "ok");
}

/* Named cases whose answer is known without the reference. */
static void test_named(void)
{
    int out[64];
    uint64_t work[128];
    double cov;
    float s[32];
    /* one block holds nearly all the mass: p = 0.9 takes it alone */
    for (int i = 0; i < 32; i++)
        s[i] = 0;
    s[5] = 200;
    blocks_adaptive a = { .coverage = 0.9, .scale = 0.125, .block_size = 16, .n_keys = 512, .k_min = 0, .k_max = 32 };
    int n = blocks_select_adaptive(s, 32, 1, &a, work, out, &cov);
    check(n == 2 && out[0] == 5 && out[1] == 31 && cov > 0.9, "needle: the hot block and the local one (%d)", n);
    /* floor: at least k_min blocks even when the mass needs fewer */
    a.k_min = 6;
    n = blocks_select_adaptive(s, 32, 1, &a, work, out, &cov);
    check(n == 6 && out[0] == 0 && out[1] == 1 && out[2] == 2 && out[3] == 3 && out[4] == 5,
          "floor: ties after the needle go to the lower ids (%d)", n);
    /* uniform scores: p of the blocks (all full), ceiling binds below */
    for (int i = 0; i < 32; i++)
        s[i] = 1;
    a = (blocks_adaptive){ .coverage = 0.5, .scale = 0.125, .block_size = 16, .n_keys = 512, .k_min = 0, .k_max = 32 };
    n = blocks_select_adaptive(s, 32, 1, &a, work, out, &cov);
    check(n == 16 && out[0] == 0 && out[14] == 14 && out[15] == 31, "uniform: half the blocks cover half (%d)", n);
    a.k_max = 8;
    n = blocks_select_adaptive(s, 32, 1, &a, work, out, &cov);
    check(n == 8 && fabs(cov - 0.25) < 1e-12, "ceiling: 8 blocks, a quarter covered (%d, %g)", n, cov);
    /* p = 1 with a ceiling of every block: every block (the dense step) */
    a.coverage = 1.0;
    a.k_max = 32;
    s[3] = -1e30f;
    n = blocks_select_adaptive(s, 32, 1, &a, work, out, &cov);
    check(n == 32, "p = 1: every block, even a weightless one (%d)", n);
    /* the partial last block weighs its positions only */
    for (int i = 0; i < 4; i++)
        s[i] = 0;
    a = (blocks_adaptive){ .coverage = 0.6, .scale = 1, .block_size = 16, .n_keys = 49, .k_min = 0, .k_max = 4 };
    n = blocks_select_adaptive(s, 4, 1, &a, work, out, &cov);
    check(n == 3 && fabs(cov - 33.0 / 49) < 1e-12, "partial last block weighs its 1 position of 49 (%d)", n);
    n = blocks_select_adaptive(s, 0, 1, &a, work, out, &cov);
    check(n == 0 && cov == 1.0, "no blocks");
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
    printf("# seed %llu (repeat with --seed=%llu)\n", (unsigned long long)seed, (unsigned long long)seed);
    rng_state = seed;
    test_named();
    test_random();
    test_covered();
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
