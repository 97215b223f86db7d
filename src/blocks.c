/* SPDX-License-Identifier: MIT */
/* Block summaries, scores and selection of Rectified Sparse Attention
 * (docs/design.md §1). See blocks.h for the contracts. */
#include "blocks.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "types.h"

/* Folds one key value into a summary element; first sets, later widen. */
static inline void fold(float *mn, float *mx, float v, int first)
{
    if (first) {
        *mn = *mx = v;
        return;
    }
    if (v < *mn)
        *mn = v;
    if (v > *mx)
        *mx = v;
}

void blocks_append_key(float *kmin, float *kmax, int d, int block_size, int pos, const float *k)
{
    size_t off = (size_t)(pos / block_size) * (size_t)d;
    int first = pos % block_size == 0;
    for (int j = 0; j < d; j++)
        fold(&kmin[off + j], &kmax[off + j], k[j], first);
}

/* Element j of the key row at pos. */
static inline float key_at(const void *keys, int key_type, size_t row, int j)
{
    if (key_type == RESA_TYPE_F16)
        return type_f16_to_f32(((const resa_f16 *)keys)[row + (size_t)j]);
    return ((const float *)keys)[row + (size_t)j];
}

/* Only the touched blocks are rebuilt: O(f) per rectification, not O(T). */
void blocks_recompute(float *kmin, float *kmax, int d, int block_size, const void *keys,
                      int key_type, int T, int first_block, int last_block)
{
    if (first_block < 0)
        first_block = 0;
    for (int i = first_block; i <= last_block; i++) {
        int p0 = i * block_size;
        if (p0 >= T)
            break; /* no key below T: nothing to summarize */
        int p1 = p0 + block_size < T ? p0 + block_size : T;
        float *mn = kmin + (size_t)i * (size_t)d, *mx = kmax + (size_t)i * (size_t)d;
        for (int p = p0; p < p1; p++)
            for (int j = 0; j < d; j++)
                fold(&mn[j], &mx[j], key_at(keys, key_type, (size_t)p * (size_t)d, j), p == p0);
    }
}

/* Reads the summaries only (2*M*d floats): cheap next to the keys they stand for. */
void blocks_score(const float *qbar, const float *kmin, const float *kmax, int d, int n_blocks,
                  float *scores)
{
    for (int i = 0; i < n_blocks; i++) {
        const float *mn = kmin + (size_t)i * (size_t)d, *mx = kmax + (size_t)i * (size_t)d;
        float s = 0.0f;
        for (int j = 0; j < d; j++) {
            float a = qbar[j] * mx[j], b = qbar[j] * mn[j];
            s += a > b ? a : b;
        }
        scores[i] = s;
    }
}

int blocks_budget(int n_blocks, float ratio, int n_min)
{
    if (n_blocks <= 0)
        return 0;
    if (!(ratio > 0.0f)) /* also NaN */
        ratio = 0.0f;
    if (ratio > 1.0f)
        ratio = 1.0f;
    /* x = ratio*M is exact in double, but the float ratio is off the intended
     * one by up to 2^-24 relative (0.1f*10 = 1.0000000149): shrinking x by 2^-24
     * maps such products back to their integer, while an intended fraction
     * above n stays above n as long as it exceeds x*2^-23 (3-decimal ratios up
     * to M = 8192). */
    double x = (double)ratio * n_blocks;
    int k = (int)ceil(x - x * 0x1p-24);
    int floor_k = n_min < n_blocks ? n_min : n_blocks;
    if (k < floor_k)
        k = floor_k;
    if (k < 0)
        k = 0;
    return k > n_blocks ? n_blocks : k;
}

/* The selection's total order as one integer: a larger key is a better
 * block (higher score, then lower index; NaN lowest, -0 equal to +0). Keys
 * of different blocks differ, so "the r largest keys" is one exact set. */
static inline uint64_t rank_key(float s, int i)
{
    if (isnan(s))
        s = -INFINITY;
    if (s == 0.0f)
        s = 0.0f; /* -0 -> +0 */
    uint32_t b;
    memcpy(&b, &s, sizeof b);
    b = b & 0x80000000u ? ~b : b | 0x80000000u; /* float order as unsigned order */
    return (uint64_t)b << 32 | (uint32_t)~(uint32_t)i;
}

/* The key of rank r (0: the largest) of the n distinct keys in a, which it
 * reorders: Wirth's selection with a median-of-3 pivot, O(n) on average. */
/* The one of the three keys whose value is the median (the quickselects' pivot). */
static uint64_t *median3(uint64_t *p0, uint64_t *p1, uint64_t *p2)
{
    if (*p0 > *p1)
        return *p1 > *p2 ? p1 : *p0 > *p2 ? p2 : p0;
    return *p0 > *p2 ? p0 : *p1 > *p2 ? p2 : p1;
}

static uint64_t kth_largest(uint64_t *a, int n, int r)
{
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        const uint64_t x = *median3(&a[lo], &a[lo + (hi - lo) / 2], &a[hi]);
        int i = lo, j = hi;
        do {
            while (a[i] > x)
                i++;
            while (x > a[j])
                j--;
            if (i <= j) {
                const uint64_t t = a[i];
                a[i++] = a[j];
                a[j--] = t;
            }
        } while (i <= j);
        if (j < r)
            lo = i;
        if (r < i)
            hi = j;
    }
    return a[r];
}

int blocks_select(const float *scores, int n_blocks, int n_local, int k, uint64_t *work, int *out)
{
    int m = n_blocks > 0 ? n_blocks : 0;
    int forced = n_local < 0 ? 0 : n_local > m ? m : n_local;
    int total = k > forced ? k : forced;
    if (total > m)
        total = m;
    int r = total - forced, cand = m - forced; /* r of the cand older blocks */
    int n = 0;
    if (r > 0) {
        /* the r-th largest key is the threshold; one pass in index order
         * then lists the chosen blocks already sorted */
        for (int i = 0; i < cand; i++)
            work[i] = rank_key(scores[i], i);
        const uint64_t threshold = kth_largest(work, cand, r - 1);
        for (int i = 0; i < cand; i++)
            if (rank_key(scores[i], i) >= threshold)
                out[n++] = i;
    }
    /* The local blocks have the highest ids, so appending keeps the order. */
    for (int i = 0; i < forced; i++)
        out[n++] = cand + i;
    return n;
}

/* The largest score, NaN counting as -inf. */
static float max_score(const float *scores, int m)
{
    float s_max = -INFINITY;
    for (int i = 0; i < m; i++)
        if (scores[i] > s_max)
            s_max = scores[i];
    return s_max;
}

/* Block i's estimated mass relative to the largest score's: exp never
 * overflows, and the largest block weighs n_i (docs/design.md §1, step 3'). */
static double block_weight(const blocks_adaptive *a, int i, float si, float s_max)
{
    const int p0 = i * a->block_size, p1 = p0 + a->block_size < a->n_keys ? p0 + a->block_size : a->n_keys;
    const double n_i = p1 > p0 ? p1 - p0 : 0;
    if (isnan(si) || si == -INFINITY)
        return 0;
    if (s_max == INFINITY)
        return si == INFINITY ? n_i : 0;
    return n_i * exp(a->scale * ((double)si - (double)s_max));
}

double blocks_covered(const float *scores, int n_blocks, const blocks_adaptive *a, const int *sel, int n_sel)
{
    const float s_max = max_score(scores, n_blocks);
    double z = 0, c = 0;
    for (int i = 0, j = 0; i < n_blocks; i++) {
        const double wi = block_weight(a, i, scores[i], s_max);
        z += wi;
        if (j < n_sel && sel[j] == i) {
            c += wi;
            j++;
        }
    }
    return z > 0 ? c / z : 1.0;
}

/* The weight of a key's block. */
static inline double key_weight(const double *w, uint64_t key) { return w[(int)~(uint32_t)key]; }

/* The fewest of the n keys a, taken best first, whose weights added to *acc
 * reach need (all n if they never do); moves them to a[0, r) (in no order),
 * adds their weights to *acc and returns r. A quickselect that partitions by
 * key and keeps or drops the better side by its mass: O(n) on average, where
 * sorting the ceiling's keys cost O(n log n) per layer and KV head. */
static int shortest_prefix(uint64_t *a, int n, const double *w, double *acc, double need)
{
    int l = 0, h = n; /* a[0, l) taken; a[l, h) undecided; a[h, n) not needed */
    while (l < h && *acc < need) {
        /* pivot: the median of three, moved to a[h - 1] */
        uint64_t *med = median3(&a[l], &a[l + (h - l) / 2], &a[h - 1]);
        uint64_t t = *med;
        *med = a[h - 1];
        a[h - 1] = t;
        const uint64_t x = t;
        /* the keys above the pivot to a[l, s), with their mass */
        int s = l;
        double mass = 0;
        for (int i = l; i < h - 1; i++)
            if (a[i] > x) {
                mass += key_weight(w, a[i]);
                t = a[i];
                a[i] = a[s];
                a[s++] = t;
            }
        a[h - 1] = a[s];
        a[s] = x;
        if (*acc + mass >= need) {
            h = s; /* the answer is among the keys above the pivot */
        } else {   /* take them and the pivot, go on below it */
            *acc += mass + key_weight(w, x);
            l = s + 1;
        }
    }
    return l;
}

/* Rank order uses the score (rank_key), not the weight: the two agree on
 * every block but the partial last one, which is forced anyway (n_local >= 1
 * in every schedule the API accepts), and the score order is the one the
 * fixed budget and the CUDA radix select already share. */
int blocks_select_adaptive(const float *scores, int n_blocks, int n_local, const blocks_adaptive *a,
                           uint64_t *work, int *out, double *covered)
{
    const int m = n_blocks > 0 ? n_blocks : 0;
    const int forced = n_local < 0 ? 0 : n_local > m ? m : n_local, cand = m - forced;
    int lo = a->k_min > forced ? a->k_min : forced, hi = a->k_max > lo ? a->k_max : lo;
    lo = lo > m ? m : lo;
    hi = hi > m ? m : hi;
    double *w = (double *)(void *)(work + m);
    const float s_max = max_score(scores, m);
    double z = 0, acc = 0;
    for (int i = 0; i < m; i++)
        z += w[i] = block_weight(a, i, scores[i], s_max);
    for (int i = cand; i < m; i++)
        acc += w[i];
    const double need = a->coverage * z;
    const int r_min = lo - forced, r_max = hi - forced;
    int r = 0, sorted = 0, taken = 0; /* work[0, sorted): the ceiling's keys; [0, taken) the best */
    /* coverage 1 reads the ceiling, blocks of no estimated mass included: so
     * with a ceiling of every block it is the dense step, bit for bit */
    if (r_max > 0 && (acc < need || a->coverage >= 1)) {
        /* the ceiling's candidates; then the shortest best-first prefix
         * of them that reaches the needed mass */
        for (int i = 0; i < cand; i++)
            work[i] = rank_key(scores[i], i);
        const uint64_t thr = kth_largest(work, cand, r_max - 1);
        for (int i = 0; i < cand; i++) {
            const uint64_t key = rank_key(scores[i], i);
            if (key >= thr)
                work[sorted++] = key;
        }
        r = taken = a->coverage >= 1 ? sorted : shortest_prefix(work, sorted, w, &acc, need);
    }
    if (r < r_min)
        r = r_min;
    int n = 0;
    if (r > 0) {
        uint64_t thr;
        if (r <= taken) { /* work[0, r) are the r best keys, in no order */
            thr = work[0];
            for (int i = 1; i < r; i++)
                thr = work[i] < thr ? work[i] : thr;
        } else if (r <= sorted) { /* the floor raised the count */
            thr = kth_largest(work, sorted, r - 1);
        } else {
            for (int i = 0; i < cand; i++)
                work[i] = rank_key(scores[i], i);
            thr = kth_largest(work, cand, r - 1);
        }
        for (int i = 0; i < cand; i++)
            if (rank_key(scores[i], i) >= thr)
                out[n++] = i;
    }
    for (int i = 0; i < forced; i++)
        out[n++] = cand + i;
    if (covered) {
        double c = 0;
        for (int i = 0; i < n; i++)
            c += w[out[i]];
        *covered = z > 0 ? c / z : 1.0;
    }
    return n;
}

void blocks_pooled_query(const float *q, int group, int d, float *qbar)
{
    /* Only the ranking matters, but the mean keeps scores on the scale of q.k. */
    float inv = 1.0f / (float)group;
    for (int j = 0; j < d; j++) {
        float s = 0.0f;
        for (int h = 0; h < group; h++)
            s += q[(size_t)h * (size_t)d + j];
        qbar[j] = s * inv;
    }
}
