/* "attn" kernels for AArch64 NEON (baseline, no flags; compiled on every
 * arch, empty off aarch64).
 *
 * The same algorithm as simd/x86/attn_avx2.c, on 4-float vectors: tiles of
 * rows; per tile the dot products (each K row converted once with fcvtl and
 * FMA'd for every head; 4 rows' lanes summed by one pairwise-add tree), one
 * max and rescale per head, a vector exp, then the V rows converted once and
 * accumulated into the heads' o, kept in registers JC vectors at a time. d
 * must be a multiple of 8 (else the scalar reference).
 * block_score adds the reference's products with FMAs in another order;
 * summary_add is bit-exact (compare + select, not fmin/fmax, which treat NaN
 * and -0 differently from the reference's comparisons). */
#if defined(__aarch64__)

#include <arm_neon.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "attn.h"

decl_attn_decode_fn(attn_decode_f16_neon);
decl_attn_decode_fn(attn_decode_f32_neon);
decl_block_score_fn(attn_block_score_neon);
decl_summary_add_fn(attn_summary_add_neon);
/* the scalar references, for shapes the vector code does not take */
decl_attn_decode_fn(attn_decode_f16_c);
decl_attn_decode_fn(attn_decode_f32_c);
decl_block_score_fn(attn_block_score_c);

#define INLINE static inline __attribute__((always_inline))

#define TILE 64 /* rows per softmax step (a multiple of 4) */
#define MAX_G 8

/* ---- helpers ------------------------------------------------------------------ */

/* exp(x) for x <= 0, about 1 ulp: x = n ln2 + r, |r| <= ln2/2, exp(r) =
 * 1 + r + r^2 P(r) (Cephes' degree-5 P), times 2^n through the exponent
 * bits. Below -87.33 (n < -126) the result is 0, -inf and NaN included;
 * x = 0 gives exactly 1. */
INLINE float32x4_t exp4(float32x4_t x)
{
    const float32x4_t lo = vdupq_n_f32(-87.33f);
    const uint32x4_t keep = vcgeq_f32(x, lo);
    x = vminq_f32(vmaxq_f32(x, lo), vdupq_n_f32(88.0f));
    const float32x4_t n = vrndnq_f32(vmulq_n_f32(x, 1.44269504f));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
    p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
    p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
    p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), p, vmulq_f32(r, r));
    const int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    const float32x4_t y = vmulq_f32(p, vreinterpretq_f32_s32(e));
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(y), keep));
}

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

/* Lane i = the sum of the 4 lanes of vector i of a[0..16). */
INLINE float32x4_t hsum4x4(const float *a)
{
    return vpaddq_f32(vpaddq_f32(vld1q_f32(a), vld1q_f32(a + 4)),
                      vpaddq_f32(vld1q_f32(a + 8), vld1q_f32(a + 12)));
}

/* ---- decode --------------------------------------------------------------------- */

typedef struct tile_buf {
    float part[MAX_G][TILE][4]; /* per row: 4 partial sums of q.k */
    float p[MAX_G][TILE];       /* scores, then exp(score - m_new) */
    float alpha[MAX_G];         /* exp(m_old - m_new) */
} tile_buf;

/* Step 1 on rows [t, t+KU): part[g][t+u] = 4 partial sums of q_g . k_{t+u}.
 * KU rows at once share each load of q and give KU*G independent chains. */
INLINE void rows_dots(const void *k, int f16, size_t row, int d, const float *q, const int G,
                      const int KU, float *part)
{
    float32x4_t a0[MAX_G][4], a1[MAX_G][4];
#pragma GCC unroll 8
    for (int g = 0; g < G; g++)
#pragma GCC unroll 4
        for (int u = 0; u < KU; u++)
            a0[g][u] = a1[g][u] = vdupq_n_f32(0.0f);
    for (int j = 0; j < d; j += 8) {
#pragma GCC unroll 4
        for (int u = 0; u < KU; u++) {
            float32x4_t lo, hi;
            load8(k, f16, row + (size_t)u * d + (size_t)j, &lo, &hi);
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
        for (int u = 0; u < KU; u++)
            vst1q_f32(part + ((size_t)g * TILE + u) * 4, vaddq_f32(a0[g][u], a1[g][u]));
}

/* Step 1: part[g][t] for rows [t0, t0+nt), zeros up to a multiple of 4. */
INLINE void tile_dots(const void *k, int f16, size_t t0, int nt, int d, const float *q, const int G,
                      const int KU, tile_buf *b)
{
    int t = 0;
    for (; t + KU <= nt; t += KU)
        rows_dots(k, f16, (t0 + (size_t)t) * (size_t)d, d, q, G, KU, b->part[0][t]);
    for (; t < nt; t++)
        rows_dots(k, f16, (t0 + (size_t)t) * (size_t)d, d, q, G, 1, b->part[0][t]);
    for (; t < ((nt + 3) & ~3); t++)
#pragma GCC unroll 8
        for (int g = 0; g < G; g++)
            vst1q_f32(b->part[g][t], vdupq_n_f32(0.0f));
}

/* Step 2 for head g: scores, the tile's max, p = exp(s - m_new), l and m. */
INLINE void tile_softmax(tile_buf *b, int g, int nt, float scale, float *m, float *l)
{
    const float32x4_t neg_inf = vdupq_n_f32(-INFINITY);
    const uint32x4_t lane = {0, 1, 2, 3};
    float32x4_t mx = neg_inf;
    for (int t = 0; t < nt; t += 4) {
        float32x4_t s = vmulq_n_f32(hsum4x4(b->part[g][t]), scale);
        if (t + 4 > nt) /* rows past the tile score -inf: p = 0 */
            s = vbslq_f32(vcltq_u32(lane, vdupq_n_u32((uint32_t)(nt - t))), s, neg_inf);
        vst1q_f32(b->p[g] + t, s);
        mx = vmaxq_f32(mx, s);
    }
    const float tile_max = vmaxvq_f32(mx), m_old = *m;
    const float m_new = tile_max > m_old ? tile_max : m_old;
    b->alpha[g] = m_new == m_old ? 1.0f : expf(m_old - m_new); /* m_old = -inf: 0 */
    const float32x4_t vm = vdupq_n_f32(m_new);
    float32x4_t sum = vdupq_n_f32(0.0f);
    for (int t = 0; t < nt; t += 4) {
        const float32x4_t e = exp4(vsubq_f32(vld1q_f32(b->p[g] + t), vm));
        vst1q_f32(b->p[g] + t, e);
        sum = vaddq_f32(sum, e);
    }
    *l = *l * b->alpha[g] + vaddvq_f32(sum);
    *m = m_new;
}

/* Step 3 on JC pairs of vectors (8 floats each) of each head's o, from
 * element j: rescale, add the tile's rows; 2*G*JC accumulators. */
INLINE void tile_values(const void *v, int f16, size_t t0, int nt, int d, int j, const int G,
                        const int JC, const tile_buf *b, float *o)
{
    float32x4_t acc[MAX_G][8];
#pragma GCC unroll 8
    for (int g = 0; g < G; g++)
#pragma GCC unroll 8
        for (int c = 0; c < 2 * JC; c++)
            acc[g][c] = vmulq_n_f32(vld1q_f32(o + (size_t)g * d + j + 4 * c), b->alpha[g]);
    for (int t = 0; t < nt; t++) {
        const size_t row = (t0 + (size_t)t) * (size_t)d + (size_t)j;
#pragma GCC unroll 4
        for (int c = 0; c < JC; c++) {
            float32x4_t lo, hi;
            load8(v, f16, row + 8 * (size_t)c, &lo, &hi);
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

INLINE void decode_tile(const void *k, const void *v, int f16, size_t t0, int nt, int d,
                        const float *q, const int G, const int KU, const int JC, float scale,
                        float *m, float *l, float *o)
{
    tile_buf b;
    tile_dots(k, f16, t0, nt, d, q, G, KU, &b);
#pragma GCC unroll 8
    for (int g = 0; g < G; g++)
        tile_softmax(&b, g, nt, scale, &m[g], &l[g]);
    int j = 0;
    if (JC >= 4)
        for (; j + 32 <= d; j += 32)
            tile_values(v, f16, t0, nt, d, j, G, 4, &b, o);
    if (JC >= 2)
        for (; j + 16 <= d; j += 16)
            tile_values(v, f16, t0, nt, d, j, G, 2, &b, o);
    for (; j < d; j += 8)
        tile_values(v, f16, t0, nt, d, j, G, 1, &b, o);
}

INLINE void decode_g(const void *k, const void *v, int f16, int n, int d, const float *q,
                     const int G, const int KU, const int JC, float scale, float *m, float *l,
                     float *o)
{
    for (int t0 = 0; t0 < n; t0 += TILE)
        decode_tile(k, v, f16, (size_t)t0, n - t0 < TILE ? n - t0 : TILE, d, q, G, KU, JC, scale,
                    m, l, o);
}

/* One instance per group size: 2*G*KU accumulators of the dot products,
 * 2*G*JC of o (at most 24 of the 32 registers). */
INLINE void decode(const void *k, const void *v, int f16, int n, int d, const float *q, int group,
                   float scale, float *m, float *l, float *o)
{
    switch (group) {
    case 1: decode_g(k, v, f16, n, d, q, 1, 4, 4, scale, m, l, o); break;
    case 2: decode_g(k, v, f16, n, d, q, 2, 4, 4, scale, m, l, o); break;
    case 3: decode_g(k, v, f16, n, d, q, 3, 2, 4, scale, m, l, o); break;
    case 4: decode_g(k, v, f16, n, d, q, 4, 2, 2, scale, m, l, o); break;
    case 5: decode_g(k, v, f16, n, d, q, 5, 1, 2, scale, m, l, o); break;
    case 6: decode_g(k, v, f16, n, d, q, 6, 1, 2, scale, m, l, o); break;
    case 7: decode_g(k, v, f16, n, d, q, 7, 1, 1, scale, m, l, o); break;
    default: decode_g(k, v, f16, n, d, q, 8, 1, 1, scale, m, l, o); break;
    }
}

static int decode_shape_ok(int d, int group)
{
    return d > 0 && d % 8 == 0 && group >= 1 && group <= MAX_G;
}

void attn_decode_f16_neon(const void *k, const void *v, int n, int d, const float *q, int group,
                          float scale, float *m, float *l, float *o)
{
    if (!decode_shape_ok(d, group))
        attn_decode_f16_c(k, v, n, d, q, group, scale, m, l, o);
    else
        decode(k, v, 1, n, d, q, group, scale, m, l, o);
}

void attn_decode_f32_neon(const void *k, const void *v, int n, int d, const float *q, int group,
                          float scale, float *m, float *l, float *o)
{
    if (!decode_shape_ok(d, group))
        attn_decode_f32_c(k, v, n, d, q, group, scale, m, l, o);
    else
        decode(k, v, 0, n, d, q, group, scale, m, l, o);
}

/* ---- block scores --------------------------------------------------------------- */

/* 4 partial sums of block i's bound: q times kmax where q >= 0, kmin where
 * q's sign bit is set (kmin <= kmax), one FMA. d a multiple of 8. */
INLINE float32x4_t block_bound(const float *qbar, const float *kmin, const float *kmax, int d)
{
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = vdupq_n_f32(0.0f);
    for (int j = 0; j < d; j += 8) {
        const float32x4_t q0 = vld1q_f32(qbar + j), q1 = vld1q_f32(qbar + j + 4);
        const uint32x4_t n0 = vreinterpretq_u32_s32(vshrq_n_s32(vreinterpretq_s32_f32(q0), 31));
        const uint32x4_t n1 = vreinterpretq_u32_s32(vshrq_n_s32(vreinterpretq_s32_f32(q1), 31));
        a0 = vfmaq_f32(a0, q0, vbslq_f32(n0, vld1q_f32(kmin + j), vld1q_f32(kmax + j)));
        a1 = vfmaq_f32(a1, q1, vbslq_f32(n1, vld1q_f32(kmin + j + 4), vld1q_f32(kmax + j + 4)));
    }
    return vaddq_f32(a0, a1);
}

void attn_block_score_neon(const float *qbar, const float *kmin, const float *kmax, int d,
                           int n_blocks, float *scores)
{
    if (d % 8) {
        attn_block_score_c(qbar, kmin, kmax, d, n_blocks, scores);
        return;
    }
    int i = 0;
    for (; i + 4 <= n_blocks; i += 4) { /* 4 blocks, one pairwise-add tree */
        float part[4][4];
        for (int b = 0; b < 4; b++) {
            const size_t off = (size_t)(i + b) * d;
            vst1q_f32(part[b], block_bound(qbar, kmin + off, kmax + off, d));
        }
        vst1q_f32(scores + i, hsum4x4(part[0]));
    }
    for (; i < n_blocks; i++)
        scores[i] = vaddvq_f32(block_bound(qbar, kmin + (size_t)i * d, kmax + (size_t)i * d, d));
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
