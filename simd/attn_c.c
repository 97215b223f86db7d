/* SPDX-License-Identifier: MIT */
/* Scalar references of the "attn" family (contracts in attn.h): the plain
 * statement of each kernel, the spec the SIMD tiers are tested against, and
 * the kernels of machines without a SIMD tier.
 *
 * decode is one recipe that every tier computes bit for bit (issue 3: greedy
 * tokens must not depend on the SIMD tier). Each call folds its rows into
 * the online-softmax state TILE rows at a time, from its first row, the
 * runs laid end to end (attn_rows.h); per head and tile:
 *   1. scores s_t = dot(q, k_t) * scale, the dot over 16 lanes (element j
 *      into lane j % 16 by fmaf, in order of j, from +0), the lanes added by
 *      sum16() (halves folded onto halves, as block_score's);
 *   2. the tile's max (+0 for -0), m_new = max(m, tile max); alpha =
 *      exp(m - m_new) where m moves, else 1; p_t = exp(s_t - m_new), exp
 *      being elem_exp_c(), the exp of every tier; l = l * alpha + (the p_t
 *      over 16 lanes, row t into lane t % 16, added by sum16()), two roundings;
 *   3. o_j = o_j * alpha, then o_j = fma(p_t, v_tj, o_j) in order of t. */
#include <math.h>
#include <stddef.h>

#include "attn.h"
#include "attn_rows.h"
#include "elem.h"

decl_attn_decode_fn(attn_decode_f16_c);
decl_attn_decode_fn(attn_decode_f32_c);
decl_block_score_fn(attn_block_score_f16_c);
decl_block_score_fn(attn_block_score_f32_c);
decl_summary_add_fn(attn_summary_add_c);

/* Element j of a row of a cache of type f16 (raw bits) or f32. */
static inline float elem_of(const void *row, int f16, int j)
{
    return f16 ? type_f16_to_f32(((const resa_f16 *)row)[j]) : ((const float *)row)[j];
}

/* Element j of row t of summaries or rows laid out t*d. */
static inline float elem_at(const void *rows, int f16, size_t t, int d, int j)
{
    return elem_of((const char *)rows + t * (size_t)d * (f16 ? 2 : 4), f16, j);
}

#define TILE ATTN_TILE /* rows per softmax step, in every tier */

/* The sum of 16 lanes: lane i + lane i+w for w = 8, 4, 2, 1. */
static float sum16(float *a)
{
    for (int w = 8; w >= 1; w /= 2)
        for (int i = 0; i < w; i++)
            a[i] += a[i + w];
    return a[0];
}

static float row_dot(const void *k, int f16, int d, const float *q)
{
    float lane[16] = {0};
    for (int j = 0; j < d; j++)
        lane[j % 16] = fmaf(q[j], elem_of(k, f16, j), lane[j % 16]);
    return sum16(lane);
}

/* One head: folds the nt <= TILE rows k[t], v[t] into (m, l, o). */
static void decode_tile(const char *const *k, const char *const *v, int f16, int nt, int d,
                        const float *q, float scale, float *m, float *l, float *o)
{
    float p[TILE], tile_max = -INFINITY;
    for (int t = 0; t < nt; t++) {
        p[t] = row_dot(k[t], f16, d, q) * scale;
        tile_max = p[t] > tile_max ? p[t] : tile_max;
    }
    tile_max += 0.0f; /* -0 -> +0: a vector max may pick either zero */
    const float m_old = *m, m_new = tile_max > m_old ? tile_max : m_old;
    float alpha = 1.0f;
    if (m_new != m_old) { /* what was summed so far shrinks; m = -inf at the start: alpha = 0 */
        const float x = m_old - m_new;
        elem_exp_c(&alpha, &x, 1);
    }
    for (int t = 0; t < nt; t++)
        p[t] -= m_new;
    elem_exp_c(p, p, nt);
    float lane[16] = {0};
    for (int t = 0; t < nt; t++)
        lane[t % 16] += p[t];
    *l = *l * alpha + sum16(lane);
    *m = m_new;
    for (int j = 0; j < d; j++) {
        float acc = o[j] * alpha;
        for (int t = 0; t < nt; t++)
            acc = fmaf(p[t], elem_of(v[t], f16, j), acc);
        o[j] = acc;
    }
}

static void decode(const resa_attn_run *runs, int n_runs, int f16, int d, const float *q, int group,
                   float scale, float *m, float *l, float *o)
{
    attn_cursor cur = attn_cursor_start(runs, n_runs, (size_t)d * (f16 ? 2 : 4));
    const char *k[TILE], *v[TILE];
    for (int nt; (nt = attn_next_rows(&cur, TILE, k, v)) > 0;)
        for (int g = 0; g < group; g++)
            decode_tile(k, v, f16, nt, d, q + (size_t)g * d, scale, &m[g], &l[g], o + (size_t)g * d);
}

void attn_decode_f16_c(const resa_attn_run *runs, int n_runs, int d, const float *q, int group,
                       float scale, float *m, float *l, float *o)
{
    decode(runs, n_runs, 1, d, q, group, scale, m, l, o);
}

void attn_decode_f32_c(const resa_attn_run *runs, int n_runs, int d, const float *q, int group,
                       float scale, float *m, float *l, float *o)
{
    decode(runs, n_runs, 0, d, q, group, scale, m, l, o);
}

/* The block-score recipe (attn.h) written out: 16 lanes of fmaf chains,
 * then the fixed pairwise tree. The SIMD tiers hold the same lanes in one
 * zmm, two ymm or four q registers. */
static void block_score(const float *qbar, const void *kmin, const void *kmax, int f16, int d,
                        int n_blocks, float *scores)
{
    for (int i = 0; i < n_blocks; i++) {
        float lane[16] = {0};
        for (int j = 0; j < d; j++) {
            const void *bound = signbit(qbar[j]) ? kmin : kmax;
            lane[j % 16] = fmaf(qbar[j], elem_at(bound, f16, (size_t)i, d, j), lane[j % 16]);
        }
        for (int w = 8; w >= 1; w /= 2)
            for (int l = 0; l < w; l++)
                lane[l] += lane[l + w];
        scores[i] = lane[0];
    }
}

void attn_block_score_f16_c(const float *qbar, const void *kmin, const void *kmax, int d,
                            int n_blocks, float *scores)
{
    block_score(qbar, kmin, kmax, 1, d, n_blocks, scores);
}

void attn_block_score_f32_c(const float *qbar, const void *kmin, const void *kmax, int d,
                            int n_blocks, float *scores)
{
    block_score(qbar, kmin, kmax, 0, d, n_blocks, scores);
}

void attn_summary_add_c(float *kmin, float *kmax, const float *k, int d, int first)
{
    for (int j = 0; j < d; j++) {
        if (first) {
            kmin[j] = kmax[j] = k[j];
            continue;
        }
        if (k[j] < kmin[j])
            kmin[j] = k[j];
        if (k[j] > kmax[j])
            kmax[j] = k[j];
    }
}
