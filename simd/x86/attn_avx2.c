/* "attn" kernels for AVX2 + FMA + F16C (compile with -mavx2 -mfma -mf16c).
 *
 * decode works on tiles of up to TILE rows, so that the softmax bookkeeping
 * is paid once per tile instead of once per row:
 *   1. partial dot products: each K row is converted to f32 once and FMA'd
 *      into one accumulator per query head (KU rows at a time, sharing each
 *      load of q); the 8 lanes of 8 rows are summed together by one
 *      transpose-add (hsum8x8);
 *   2. per head: the tile's max, one rescale factor alpha = exp(m - m_new),
 *      and p = exp(s - m_new) for the whole tile with a vector exp;
 *   3. o = alpha*o + sum_t p_t v_t: each V row is converted once and serves
 *      every head; the heads' o is kept in registers JC vectors at a time
 *      (group*JC accumulators), the rescale folded into their load.
 * The group size is a compile-time constant in each instance (1..8), so the
 * accumulators live in registers. d must be a multiple of 8 (other shapes
 * take the scalar reference); group at most 8.
 *
 * Differences from the scalar reference: the order of the dot product sums
 * (about d/8 roundings less), our exp (about 1 ulp) instead of libm's, and
 * the order in which the rows' terms of l and o are added (tile by tile).
 * block_score computes the same products as the reference but adds them
 * with FMAs in another order; summary_add is bit-exact. */
#if defined(__x86_64__)

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <immintrin.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "attn.h"

decl_attn_decode_fn(attn_decode_f16_avx2);
decl_attn_decode_fn(attn_decode_f32_avx2);
decl_block_score_fn(attn_block_score_avx2);
decl_summary_add_fn(attn_summary_add_avx2);
/* the scalar references, for shapes the vector code does not take */
decl_attn_decode_fn(attn_decode_f16_c);
decl_attn_decode_fn(attn_decode_f32_c);
decl_block_score_fn(attn_block_score_c);

#define INLINE static inline __attribute__((always_inline))

#define TILE 64  /* rows per softmax step (a multiple of 8) */
#define MAX_G 8  /* query heads per KV head */

/* ---- helpers ------------------------------------------------------------------ */

/* exp(x) for x <= 0 (scores minus their running max), about 1 ulp:
 * x = n ln2 + r with |r| <= ln2/2 (ln2 in two parts, so n*ln2_hi is exact),
 * exp(r) = 1 + r + r^2 P(r) with Cephes' degree-5 P, then 2^n through the
 * exponent bits. Below -87.3 (n < -126, where the bit trick fails) the
 * result is 0: next to the row of the max (p = 1), such a p is invisible;
 * -inf and NaN give 0 too. x = 0 gives exactly 1. */
INLINE __m256 exp8(__m256 x)
{
    const __m256 lo = _mm256_set1_ps(-87.33f);
    const __m256 keep = _mm256_cmp_ps(x, lo, _CMP_GE_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, lo), _mm256_set1_ps(88.0f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_and_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(e)), keep);
}

/* 8 elements of a cache (f16 bits or f32) from element i, as floats. */
INLINE __m256 load8(const void *rows, int f16, size_t i)
{
    if (f16)
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)rows + i)));
    return _mm256_loadu_ps((const float *)rows + i);
}

/* Lane i = the sum of the 8 lanes of vector i of a[0..64). */
INLINE __m256 hsum8x8(const float *a)
{
    const __m256 t0 = _mm256_hadd_ps(_mm256_load_ps(a), _mm256_load_ps(a + 8));
    const __m256 t1 = _mm256_hadd_ps(_mm256_load_ps(a + 16), _mm256_load_ps(a + 24));
    const __m256 t2 = _mm256_hadd_ps(_mm256_load_ps(a + 32), _mm256_load_ps(a + 40));
    const __m256 t3 = _mm256_hadd_ps(_mm256_load_ps(a + 48), _mm256_load_ps(a + 56));
    const __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3); /* (a0..a3 | a4..a7) halves */
    return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

INLINE float hsum(__m256 x)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

INLINE float hmax(__m256 x)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)));
}

/* ---- decode --------------------------------------------------------------------- */

/* Scratch of one tile, per head. */
typedef struct tile_buf {
    _Alignas(32) float part[MAX_G][TILE][8]; /* per row: 8 partial sums of q.k */
    _Alignas(32) float p[MAX_G][TILE];       /* scores, then exp(score - m_new) */
    float alpha[MAX_G];                      /* exp(m_old - m_new) */
} tile_buf;

/* Step 1 on rows [t, t+KU): part[g][t+u] = the 8 lane sums of q_g * k_{t+u}.
 * KU rows at once share each load of q and give KU*G independent chains. */
INLINE void rows_dots(const void *k, int f16, size_t row, int d, const float *q, const int G,
                      const int KU, float *part)
{
    __m256 acc[MAX_G][4];
#pragma GCC unroll 8
    for (int g = 0; g < G; g++)
#pragma GCC unroll 4
        for (int u = 0; u < KU; u++)
            acc[g][u] = _mm256_setzero_ps();
    for (int j = 0; j < d; j += 8) {
#pragma GCC unroll 4
        for (int u = 0; u < KU; u++) {
            const __m256 kf = load8(k, f16, row + (size_t)u * d + (size_t)j);
#pragma GCC unroll 8
            for (int g = 0; g < G; g++)
                acc[g][u] = _mm256_fmadd_ps(kf, _mm256_loadu_ps(q + (size_t)g * d + j), acc[g][u]);
        }
    }
#pragma GCC unroll 8
    for (int g = 0; g < G; g++)
#pragma GCC unroll 4
        for (int u = 0; u < KU; u++)
            _mm256_store_ps(part + ((size_t)g * TILE + u) * 8, acc[g][u]);
}

/* Step 1: part[g][t] for rows [t0, t0+nt), zeros up to a multiple of 8. */
INLINE void tile_dots(const void *k, int f16, size_t t0, int nt, int d, const float *q, const int G,
                      const int KU, tile_buf *b)
{
    int t = 0;
    for (; t + KU <= nt; t += KU)
        rows_dots(k, f16, (t0 + (size_t)t) * (size_t)d, d, q, G, KU, b->part[0][t]);
    for (; t < nt; t++)
        rows_dots(k, f16, (t0 + (size_t)t) * (size_t)d, d, q, G, 1, b->part[0][t]);
    for (; t < ((nt + 7) & ~7); t++) /* the lanes past nt of the last 8 */
#pragma GCC unroll 8
        for (int g = 0; g < G; g++)
            _mm256_store_ps(b->part[g][t], _mm256_setzero_ps());
}

/* Step 2 for head g: scores, the tile's max, p = exp(s - m_new), l and m. */
INLINE void tile_softmax(tile_buf *b, int g, int nt, float scale, float *m, float *l)
{
    const __m256 vscale = _mm256_set1_ps(scale), neg_inf = _mm256_set1_ps(-INFINITY);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256 mx = neg_inf;
    for (int t = 0; t < nt; t += 8) {
        __m256 s = _mm256_mul_ps(hsum8x8(b->part[g][t]), vscale);
        if (t + 8 > nt) /* rows past the tile score -inf: p = 0 */
            s = _mm256_blendv_ps(s, neg_inf, _mm256_castsi256_ps(_mm256_cmpgt_epi32(
                                                 lane, _mm256_set1_epi32(nt - t - 1))));
        _mm256_store_ps(b->p[g] + t, s);
        mx = _mm256_max_ps(mx, s);
    }
    const float tile_max = hmax(mx), m_old = *m;
    const float m_new = tile_max > m_old ? tile_max : m_old;
    b->alpha[g] = m_new == m_old ? 1.0f : expf(m_old - m_new); /* m_old = -inf: 0 */
    const __m256 vm = _mm256_set1_ps(m_new);
    __m256 sum = _mm256_setzero_ps();
    for (int t = 0; t < nt; t += 8) {
        const __m256 e = exp8(_mm256_sub_ps(_mm256_load_ps(b->p[g] + t), vm));
        _mm256_store_ps(b->p[g] + t, e);
        sum = _mm256_add_ps(sum, e);
    }
    *l = *l * b->alpha[g] + hsum(sum);
    *m = m_new;
}

/* Step 3 on JC vectors of each head's o, from element j: rescale, add the
 * tile's rows. G*JC accumulators stay in registers across the tile. */
INLINE void tile_values(const void *v, int f16, size_t t0, int nt, int d, int j, const int G,
                        const int JC, const tile_buf *b, float *o)
{
    __m256 acc[MAX_G][8];
#pragma GCC unroll 8
    for (int g = 0; g < G; g++)
#pragma GCC unroll 8
        for (int c = 0; c < JC; c++)
            acc[g][c] = _mm256_mul_ps(_mm256_loadu_ps(o + (size_t)g * d + j + 8 * c),
                                      _mm256_set1_ps(b->alpha[g]));
    for (int t = 0; t < nt; t++) {
        const size_t row = (t0 + (size_t)t) * (size_t)d + (size_t)j;
        __m256 p[MAX_G];
#pragma GCC unroll 8
        for (int g = 0; g < G; g++)
            p[g] = _mm256_broadcast_ss(&b->p[g][t]);
#pragma GCC unroll 8
        for (int c = 0; c < JC; c++) {
            const __m256 vf = load8(v, f16, row + 8 * (size_t)c);
#pragma GCC unroll 8
            for (int g = 0; g < G; g++)
                acc[g][c] = _mm256_fmadd_ps(p[g], vf, acc[g][c]);
        }
    }
#pragma GCC unroll 8
    for (int g = 0; g < G; g++)
#pragma GCC unroll 8
        for (int c = 0; c < JC; c++)
            _mm256_storeu_ps(o + (size_t)g * d + j + 8 * c, acc[g][c]);
}

/* Rows [t0, t0+nt), nt <= TILE. JC: vectors of o per pass (G*JC registers). */
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
    if (JC >= 8)
        for (; j + 64 <= d; j += 64)
            tile_values(v, f16, t0, nt, d, j, G, 8, &b, o);
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

/* One instance per group size. KU rows per step of the dot products and JC
 * vectors of o per pass keep G*KU (G*JC) accumulators, the shared loads of q
 * (the broadcasts of p) within the 16 registers. */
INLINE void decode(const void *k, const void *v, int f16, int n, int d, const float *q, int group,
                   float scale, float *m, float *l, float *o)
{
    switch (group) {
    case 1: decode_g(k, v, f16, n, d, q, 1, 4, 8, scale, m, l, o); break;
    case 2: decode_g(k, v, f16, n, d, q, 2, 4, 4, scale, m, l, o); break;
    case 3: decode_g(k, v, f16, n, d, q, 3, 4, 2, scale, m, l, o); break;
    case 4: decode_g(k, v, f16, n, d, q, 4, 2, 2, scale, m, l, o); break;
    case 5: decode_g(k, v, f16, n, d, q, 5, 2, 1, scale, m, l, o); break;
    case 6: decode_g(k, v, f16, n, d, q, 6, 2, 1, scale, m, l, o); break;
    case 7: decode_g(k, v, f16, n, d, q, 7, 1, 1, scale, m, l, o); break;
    default: decode_g(k, v, f16, n, d, q, 8, 1, 1, scale, m, l, o); break;
    }
}

static int decode_shape_ok(int d, int group)
{
    return d > 0 && d % 8 == 0 && group >= 1 && group <= MAX_G;
}

void attn_decode_f16_avx2(const void *k, const void *v, int n, int d, const float *q, int group,
                          float scale, float *m, float *l, float *o)
{
    if (!decode_shape_ok(d, group))
        attn_decode_f16_c(k, v, n, d, q, group, scale, m, l, o);
    else
        decode(k, v, 1, n, d, q, group, scale, m, l, o);
}

void attn_decode_f32_avx2(const void *k, const void *v, int n, int d, const float *q, int group,
                          float scale, float *m, float *l, float *o)
{
    if (!decode_shape_ok(d, group))
        attn_decode_f32_c(k, v, n, d, q, group, scale, m, l, o);
    else
        decode(k, v, 0, n, d, q, group, scale, m, l, o);
}

/* ---- block scores --------------------------------------------------------------- */

/* 8 partial sums of block i's bound. max(q*kmax, q*kmin) is q times kmax
 * where q >= 0 and kmin where q < 0 (kmin <= kmax): a blend on q's sign
 * bit, then one FMA. d a multiple of 8. */
INLINE __m256 block_bound(const float *qbar, const float *kmin, const float *kmax, int d)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int j = 0;
    for (; j + 16 <= d; j += 16) {
        const __m256 q0 = _mm256_loadu_ps(qbar + j), q1 = _mm256_loadu_ps(qbar + j + 8);
        a0 = _mm256_fmadd_ps(q0, _mm256_blendv_ps(_mm256_loadu_ps(kmax + j), _mm256_loadu_ps(kmin + j), q0), a0);
        a1 = _mm256_fmadd_ps(q1, _mm256_blendv_ps(_mm256_loadu_ps(kmax + j + 8), _mm256_loadu_ps(kmin + j + 8), q1), a1);
    }
    if (j < d) {
        const __m256 q0 = _mm256_loadu_ps(qbar + j);
        a0 = _mm256_fmadd_ps(q0, _mm256_blendv_ps(_mm256_loadu_ps(kmax + j), _mm256_loadu_ps(kmin + j), q0), a0);
    }
    return _mm256_add_ps(a0, a1);
}

void attn_block_score_avx2(const float *qbar, const float *kmin, const float *kmax, int d,
                           int n_blocks, float *scores)
{
    if (d % 8) {
        attn_block_score_c(qbar, kmin, kmax, d, n_blocks, scores);
        return;
    }
    int i = 0;
    for (; i + 8 <= n_blocks; i += 8) { /* 8 blocks, one transpose-add */
        _Alignas(32) float part[8][8];
        for (int b = 0; b < 8; b++) {
            const size_t off = (size_t)(i + b) * d;
            _mm256_store_ps(part[b], block_bound(qbar, kmin + off, kmax + off, d));
        }
        _mm256_storeu_ps(scores + i, hsum8x8(part[0]));
    }
    for (; i < n_blocks; i++)
        scores[i] = hsum(block_bound(qbar, kmin + (size_t)i * d, kmax + (size_t)i * d, d));
}

/* ---- summaries ------------------------------------------------------------------ */

/* min_ps(k, mn) is k < mn ? k : mn, exactly the reference's update (NaN
 * keys and -0 vs +0 included). */
void attn_summary_add_avx2(float *kmin, float *kmax, const float *k, int d, int first)
{
    int j = 0;
    for (; j + 8 <= d; j += 8) {
        const __m256 x = _mm256_loadu_ps(k + j);
        if (first) {
            _mm256_storeu_ps(kmin + j, x);
            _mm256_storeu_ps(kmax + j, x);
        } else {
            _mm256_storeu_ps(kmin + j, _mm256_min_ps(x, _mm256_loadu_ps(kmin + j)));
            _mm256_storeu_ps(kmax + j, _mm256_max_ps(x, _mm256_loadu_ps(kmax + j)));
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
typedef int resa_attn_avx2_unused; /* ISO C: a translation unit is not empty */
#endif
