/* Block summaries, scores and selection of Rectified Sparse Attention
 * (DESIGN.md §1). See blocks.h for the contracts. */
#include "blocks.h"

#include <math.h>
#include <stddef.h>

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
        return resa_f16_to_f32(((const resa_f16 *)keys)[row + (size_t)j]);
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

/* Total order for selection: higher score first, then lower index; NaN lowest. */
static inline int better(const float *scores, int a, int b)
{
    float sa = isnan(scores[a]) ? -INFINITY : scores[a];
    float sb = isnan(scores[b]) ? -INFINITY : scores[b];
    return sa > sb || (sa == sb && a < b);
}

/* Min-heap on `better`: h[0] is the worst kept block. */
static void sift_worst(const float *scores, int *h, int n, int i)
{
    for (;;) {
        int c = 2 * i + 1;
        if (c >= n)
            return;
        if (c + 1 < n && better(scores, h[c], h[c + 1]))
            c++;
        if (!better(scores, h[i], h[c]))
            return;
        int t = h[i]; h[i] = h[c]; h[c] = t;
        i = c;
    }
}

/* Max-heap on the id, for the final ascending sort (qsort may allocate). */
static void sift_id(int *h, int n, int i)
{
    for (;;) {
        int c = 2 * i + 1;
        if (c >= n)
            return;
        if (c + 1 < n && h[c + 1] > h[c])
            c++;
        if (h[i] >= h[c])
            return;
        int t = h[i]; h[i] = h[c]; h[c] = t;
        i = c;
    }
}

static void sort_ids(int *a, int n)
{
    for (int i = n / 2 - 1; i >= 0; i--)
        sift_id(a, n, i);
    for (int m = n - 1; m > 0; m--) {
        int t = a[0]; a[0] = a[m]; a[m] = t;
        sift_id(a, m, 0);
    }
}

int blocks_select(const float *scores, int n_blocks, int n_local, int k, int *out)
{
    int m = n_blocks > 0 ? n_blocks : 0;
    int forced = n_local < 0 ? 0 : n_local > m ? m : n_local;
    int total = k > forced ? k : forced;
    if (total > m)
        total = m;
    int r = total - forced, cand = m - forced; /* r of the cand older blocks */
    /* Keep the r best of blocks [0, cand) in a heap whose root is the worst kept. */
    for (int i = 0; i < r; i++)
        out[i] = i;
    for (int i = r / 2 - 1; i >= 0; i--)
        sift_worst(scores, out, r, i);
    for (int i = r; i < cand; i++) {
        if (r > 0 && better(scores, i, out[0])) {
            out[0] = i;
            sift_worst(scores, out, r, 0);
        }
    }
    sort_ids(out, r);
    /* The local blocks have the highest ids, so appending keeps the order. */
    for (int i = 0; i < forced; i++)
        out[r + i] = cand + i;
    return total;
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
