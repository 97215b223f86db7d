/* SPDX-License-Identifier: MIT */
/* "attn" kernels for AArch64 NEON (baseline, no flags; compiled on every
 * arch, empty off aarch64).
 *
 * The same algorithm as simd/x86/attn_avx2.c, on 4-float vectors: tiles of
 * rows gathered from the runs (attn_rows.h); per tile the dot products (each K row converted once with fcvtl and
 * FMA'd for every head, in two passes for the recipe's lanes 0-7 and 8-15;
 * 4 rows' lanes summed by one add tree), one max and rescale per head, a
 * vector exp, then the V rows converted once and accumulated into the heads'
 * o, kept in registers JC vectors at a time. d must be a multiple of 8 (else
 * the scalar reference). decode is bit-exact with the scalar reference: the
 * recipe of simd/attn_c.c (same TILE, 16 lanes and tree, exp, FMA order;
 * issue 3), as the x86 tiers.
 * block_score follows the family's one recipe (attn.h), bit-exact with the
 * scalar reference; summary_add is bit-exact (compare + select, not fmin/fmax, which treat NaN
 * and -0 differently from the reference's comparisons). */
#if defined(__aarch64__)

#include <arm_neon.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "attn.h"
#include "attn_rows.h"

decl_attn_decode_fn(attn_decode_f16_neon);
decl_attn_decode_fn(attn_decode_f32_neon);
decl_block_score_fn(attn_block_score_f16_neon);
decl_block_score_fn(attn_block_score_f32_neon);
decl_summary_add_fn(attn_summary_add_neon);
/* the scalar references, for shapes the vector code does not take */
decl_attn_decode_fn(attn_decode_f16_c);
decl_attn_decode_fn(attn_decode_f32_c);
decl_block_score_fn(attn_block_score_f16_c);
decl_block_score_fn(attn_block_score_f32_c);

#define INLINE static inline __attribute__((always_inline))

#define TILE ATTN_TILE /* rows per softmax step (a multiple of 4) */
#define MAX_G 8

/* ---- helpers ------------------------------------------------------------------ */

#include "exp_neon.h" /* the exp of every tier (simd/exp_recipe.h) */

/* 8 elements of a cache (f16 bits or f32) from element i, as two vectors. */
INLINE void load8(const void *rows, int f16, size_t i, float32x4_t *lo, float32x4_t *hi)
{
    if (f16) {
        const float16x8_t h = vreinterpretq_f16_u16(vld1q_u16((const uint16_t *)rows + i));
        *lo = vcvt_f32_f16(vget_low_f16(h));
        *hi = vcvt_high_f32_f16(h);
    } else {
        *lo = vld1q_f32((const float *)rows + i);
        *hi = vld1q_f32((const float *)rows + i + 4);
    }
}

/* Lane i = the sum of the 8 lanes of row i of a[0..32) (8 floats a row) in
 * the recipe's tree: lane j + lane j+4, then j + j+2, then j + j+1. */
INLINE float32x4_t tree4x8(const float *a)
{
    float32x4_t x[4];
    for (int r = 0; r < 4; r++)
        x[r] = vaddq_f32(vld1q_f32(a + 8 * r), vld1q_f32(a + 8 * r + 4));
    const float32x4_t ab = vaddq_f32(vcombine_f32(vget_low_f32(x[0]), vget_low_f32(x[1])),
                                     vcombine_f32(vget_high_f32(x[0]), vget_high_f32(x[1])));
    const float32x4_t cd = vaddq_f32(vcombine_f32(vget_low_f32(x[2]), vget_low_f32(x[3])),
                                     vcombine_f32(vget_high_f32(x[2]), vget_high_f32(x[3])));
    return vpaddq_f32(ab, cd);
}

/* The recipe's sum of 16 lanes a[0..4) (lanes 4c..4c+3 in a[c]). */
INLINE float tree16(const float32x4_t *a)
{
    const float32x4_t h = vaddq_f32(vaddq_f32(a[0], a[2]), vaddq_f32(a[1], a[3]));
    const float32x2_t u = vadd_f32(vget_low_f32(h), vget_high_f32(h));
    return vget_lane_f32(u, 0) + vget_lane_f32(u, 1);
}

/* ---- decode --------------------------------------------------------------------- */

typedef struct tile_buf {
    float part[MAX_G][TILE][8]; /* per row: lane i + lane i+8 of q.k */
    float p[MAX_G][TILE];       /* scores, then exp(score - m_new) */
    float alpha[MAX_G];         /* exp(m_old - m_new) */
} tile_buf;

/* Step 1 on rows k[0..KU): the recipe's 16 lanes of q_g . k_u, element
 * j in lane j % 16, and part[g][u] = lanes 0-7 + lanes 8-15. Two passes
 * over the rows, lanes 0-7 (the chunks j = 0, 16, ...) then 8-15 (j = 8,
 * 24, ...), so that 2*G*KU accumulators suffice; KU rows at once share each
 * load of q. */
INLINE void rows_dots(const char *const *k, int f16, int d, const float *q, const int G, const int KU,
                      float *part)
{
    for (int h = 0; h < 2; h++) {
        float32x4_t a0[MAX_G][4], a1[MAX_G][4];
#pragma GCC unroll 8
        for (int g = 0; g < G; g++)
#pragma GCC unroll 4
            for (int u = 0; u < KU; u++)
                a0[g][u] = a1[g][u] = vdupq_n_f32(0.0f);
        for (int j = 8 * h; j < d; j += 16) {
#pragma GCC unroll 4
            for (int u = 0; u < KU; u++) {
                float32x4_t lo, hi;
                load8(k[u], f16, (size_t)j, &lo, &hi);
#pragma GCC unroll 8
                for (int g = 0; g < G; g++) {
                    a0[g][u] = vfmaq_f32(a0[g][u], lo, vld1q_f32(q + (size_t)g * d + j));
                    a1[g][u] = vfmaq_f32(a1[g][u], hi, vld1q_f32(q + (size_t)g * d + j + 4));
                }
            }
        }
#pragma GCC unroll 8
        for (int g = 0; g < G; g++)
#pragma GCC unroll 4
            for (int u = 0; u < KU; u++) {
                float *dst = part + ((size_t)g * TILE + u) * 8;
                if (h) {
                    a0[g][u] = vaddq_f32(vld1q_f32(dst), a0[g][u]);
                    a1[g][u] = vaddq_f32(vld1q_f32(dst + 4), a1[g][u]);
                }
                vst1q_f32(dst, a0[g][u]);
                vst1q_f32(dst + 4, a1[g][u]);
            }
    }
}

/* Step 1: part[g][t] for the tile's rows, zeros up to a multiple of 4. */
INLINE void tile_dots(const attn_tile *r, int f16, int d, const float *q, const int G, const int KU,
                      tile_buf *b)
{
    const int nt = r->n;
    int t = 0;
    for (; t + KU <= nt; t += KU)
        rows_dots(r->k + t, f16, d, q, G, KU, b->part[0][t]);
    for (; t < nt; t++)
        rows_dots(r->k + t, f16, d, q, G, 1, b->part[0][t]);
    for (; t < ((nt + 3) & ~3); t++)
#pragma GCC unroll 8
        for (int g = 0; g < G; g++) {
            vst1q_f32(b->part[g][t], vdupq_n_f32(0.0f));
            vst1q_f32(b->part[g][t] + 4, vdupq_n_f32(0.0f));
        }
}

/* Step 2 for head g: scores, the tile's max, p = exp(s - m_new), l and m. */
INLINE void tile_softmax(tile_buf *b, int g, int nt, float scale, float *m, float *l)
{
    const float32x4_t neg_inf = vdupq_n_f32(-INFINITY);
    const uint32x4_t lane = {0, 1, 2, 3};
    float32x4_t mx = neg_inf;
    for (int t = 0; t < nt; t += 4) {
        float32x4_t s = vmulq_n_f32(tree4x8(b->part[g][t]), scale);
        if (t + 4 > nt) /* rows past the tile score -inf: p = 0 */
            s = vbslq_f32(vcltq_u32(lane, vdupq_n_u32((uint32_t)(nt - t))), s, neg_inf);
        vst1q_f32(b->p[g] + t, s);
        mx = vmaxq_f32(mx, s);
    }
    const float tile_max = vmaxvq_f32(mx) + 0.0f, m_old = *m; /* -0 -> +0, as the recipe */
    const float m_new = tile_max > m_old ? tile_max : m_old;
    b->alpha[g] = m_new == m_old ? 1.0f : vgetq_lane_f32(exp4(vdupq_n_f32(m_old - m_new)), 0); /* m_old = -inf: 0 */
    const float32x4_t vm = vdupq_n_f32(m_new);
    float32x4_t sum[4] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
    for (int t = 0; t < nt; t += 4) { /* row t in lane t % 16; rows past nt have p = 0 */
        const float32x4_t e = exp4(vsubq_f32(vld1q_f32(b->p[g] + t), vm));
        vst1q_f32(b->p[g] + t, e);
        sum[(t >> 2) & 3] = vaddq_f32(sum[(t >> 2) & 3], e);
    }
    *l = *l * b->alpha[g] + tree16(sum);
    *m = m_new;
}

/* Step 3 on JC pairs of vectors (8 floats each) of each head's o, from
 * element j: rescale, add the tile's rows; 2*G*JC accumulators. */
INLINE void tile_values(const attn_tile *r, int f16, int d, int j, const int G, const int JC,
                        const tile_buf *b, float *o)
{
    float32x4_t acc[MAX_G][8];
#pragma GCC unroll 8
    for (int g = 0; g < G; g++)
#pragma GCC unroll 8
        for (int c = 0; c < 2 * JC; c++)
            acc[g][c] = vmulq_n_f32(vld1q_f32(o + (size_t)g * d + j + 4 * c), b->alpha[g]);
    for (int t = 0; t < r->n; t++) {
        const char *row = r->v[t];
#pragma GCC unroll 4
        for (int c = 0; c < JC; c++) {
            float32x4_t lo, hi;
            load8(row, f16, (size_t)j + 8 * (size_t)c, &lo, &hi);
#pragma GCC unroll 8
            for (int g = 0; g < G; g++) {
                acc[g][2 * c] = vfmaq_n_f32(acc[g][2 * c], lo, b->p[g][t]);
                acc[g][2 * c + 1] = vfmaq_n_f32(acc[g][2 * c + 1], hi, b->p[g][t]);
            }
        }
    }
#pragma GCC unroll 8
    for (int g = 0; g < G; g++)
#pragma GCC unroll 8
        for (int c = 0; c < 2 * JC; c++)
            vst1q_f32(o + (size_t)g * d + j + 4 * c, acc[g][c]);
}

INLINE void decode_tile(const attn_tile *r, int f16, int d, const float *q, const int G, const int KU,
                        const int JC, float scale, float *m, float *l, float *o)
{
    tile_buf b;
    tile_dots(r, f16, d, q, G, KU, &b);
#pragma GCC unroll 8
    for (int g = 0; g < G; g++)
        tile_softmax(&b, g, r->n, scale, &m[g], &l[g]);
    int j = 0;
    if (JC >= 4)
        for (; j + 32 <= d; j += 32)
            tile_values(r, f16, d, j, G, 4, &b, o);
    if (JC >= 2)
        for (; j + 16 <= d; j += 16)
            tile_values(r, f16, d, j, G, 2, &b, o);
    for (; j < d; j += 8)
        tile_values(r, f16, d, j, G, 1, &b, o);
}

INLINE void decode_g(const resa_attn_run *runs, int n_runs, int f16, int d, const float *q,
                     const int G, const int KU, const int JC, float scale, float *m, float *l,
                     float *o)
{
    attn_cursor cur = attn_cursor_start(runs, n_runs, (size_t)d * (f16 ? 2 : 4));
    attn_tile r;
    for (attn_next_tile(&cur, &r); r.n > 0; attn_next_tile(&cur, &r))
        decode_tile(&r, f16, d, q, G, KU, JC, scale, m, l, o);
}

/* One instance per group size: 2*G*KU accumulators of the dot products,
 * 2*G*JC of o (at most 24 of the 32 registers). */
INLINE void decode(const resa_attn_run *runs, int n_runs, int f16, int d, const float *q, int group,
                   float scale, float *m, float *l, float *o)
{
    switch (group) {
    case 1: decode_g(runs, n_runs, f16, d, q, 1, 4, 4, scale, m, l, o); break;
    case 2: decode_g(runs, n_runs, f16, d, q, 2, 4, 4, scale, m, l, o); break;
    case 3: decode_g(runs, n_runs, f16, d, q, 3, 2, 4, scale, m, l, o); break;
    case 4: decode_g(runs, n_runs, f16, d, q, 4, 2, 2, scale, m, l, o); break;
    case 5: decode_g(runs, n_runs, f16, d, q, 5, 1, 2, scale, m, l, o); break;
    case 6: decode_g(runs, n_runs, f16, d, q, 6, 1, 2, scale, m, l, o); break;
    case 7: decode_g(runs, n_runs, f16, d, q, 7, 1, 1, scale, m, l, o); break;
    default: decode_g(runs, n_runs, f16, d, q, 8, 1, 1, scale, m, l, o); break;
    }
}

static int decode_shape_ok(int d, int group)
{
    return d > 0 && d % 8 == 0 && group >= 1 && group <= MAX_G;
}

void attn_decode_f16_neon(const resa_attn_run *runs, int n_runs, int d, const float *q, int group,
                          float scale, float *m, float *l, float *o)
{
    if (!decode_shape_ok(d, group))
        attn_decode_f16_c(runs, n_runs, d, q, group, scale, m, l, o);
    else
        decode(runs, n_runs, 1, d, q, group, scale, m, l, o);
}

void attn_decode_f32_neon(const resa_attn_run *runs, int n_runs, int d, const float *q, int group,
                          float scale, float *m, float *l, float *o)
{
    if (!decode_shape_ok(d, group))
        attn_decode_f32_c(runs, n_runs, d, q, group, scale, m, l, o);
    else
        decode(runs, n_runs, 0, d, q, group, scale, m, l, o);
}

/* ---- block scores --------------------------------------------------------------- */

/* The 16 lanes of block i's bound (attn.h's recipe) in four vectors a[0..4)
 * (lanes 4r..4r+3 in a[r]): fma of q times kmin where q's sign bit is set,
 * else kmax. d a multiple of 8. Then the recipe's tree. */
INLINE float block_bound(const float *qbar, const void *kmin, const void *kmax, int f16, size_t i, int d)
{
    float32x4_t a[4] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
    for (int j = 0; j < d; j += 8) {
        const size_t e = i * (size_t)d + (size_t)j;
        float32x4_t mn0, mn1, mx0, mx1;
        load8(kmin, f16, e, &mn0, &mn1);
        load8(kmax, f16, e, &mx0, &mx1);
        const float32x4_t q0 = vld1q_f32(qbar + j), q1 = vld1q_f32(qbar + j + 4);
        const uint32x4_t n0 = vreinterpretq_u32_s32(vshrq_n_s32(vreinterpretq_s32_f32(q0), 31));
        const uint32x4_t n1 = vreinterpretq_u32_s32(vshrq_n_s32(vreinterpretq_s32_f32(q1), 31));
        const int r = j % 16 ? 2 : 0;
        a[r] = vfmaq_f32(a[r], q0, vbslq_f32(n0, mn0, mx0));
        a[r + 1] = vfmaq_f32(a[r + 1], q1, vbslq_f32(n1, mn1, mx1));
    }
    return tree16(a);
}

INLINE void block_score(const float *qbar, const void *kmin, const void *kmax, int f16, int d,
                        int n_blocks, float *scores)
{
    for (int i = 0; i < n_blocks; i++)
        scores[i] = block_bound(qbar, kmin, kmax, f16, (size_t)i, d);
}

void attn_block_score_f16_neon(const float *qbar, const void *kmin, const void *kmax, int d,
                               int n_blocks, float *scores)
{
    if (d % 8)
        attn_block_score_f16_c(qbar, kmin, kmax, d, n_blocks, scores);
    else
        block_score(qbar, kmin, kmax, 1, d, n_blocks, scores);
}

void attn_block_score_f32_neon(const float *qbar, const void *kmin, const void *kmax, int d,
                               int n_blocks, float *scores)
{
    if (d % 8)
        attn_block_score_f32_c(qbar, kmin, kmax, d, n_blocks, scores);
    else
        block_score(qbar, kmin, kmax, 0, d, n_blocks, scores);
}

/* ---- summaries ------------------------------------------------------------------ */

void attn_summary_add_neon(float *kmin, float *kmax, const float *k, int d, int first)
{
    int j = 0;
    for (; j + 4 <= d; j += 4) {
        const float32x4_t x = vld1q_f32(k + j);
        if (first) {
            vst1q_f32(kmin + j, x);
            vst1q_f32(kmax + j, x);
        } else { /* k < mn ? k : mn, as the reference */
            const float32x4_t mn = vld1q_f32(kmin + j), mx = vld1q_f32(kmax + j);
            vst1q_f32(kmin + j, vbslq_f32(vcltq_f32(x, mn), x, mn));
            vst1q_f32(kmax + j, vbslq_f32(vcgtq_f32(x, mx), x, mx));
        }
    }
    for (; j < d; j++) {
        if (first) {
            kmin[j] = kmax[j] = k[j];
            continue;
        }
        kmin[j] = k[j] < kmin[j] ? k[j] : kmin[j];
        kmax[j] = k[j] > kmax[j] ? k[j] : kmax[j];
    }
}

#else
typedef int resa_attn_neon_unused; /* ISO C: a translation unit is not empty */
#endif
