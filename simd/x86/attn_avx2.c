/* SPDX-License-Identifier: MIT */
/* "attn" kernels for AVX2 + FMA + F16C (compile with -mavx2 -mfma -mf16c).
 *
 * decode works on tiles of up to TILE rows, gathered from the runs
 * (attn_rows.h), so that the softmax bookkeeping is paid once per tile
 * instead of once per row, however short the runs:
 *   1. dot products: each K row is converted to f32 once and FMA'd into
 *      one accumulator per query head (KU rows at a time, sharing each load
 *      of q), in two passes for the recipe's lanes 0-7 and 8-15; the lanes
 *      of 8 rows are summed together by one transpose-add (hsum8x8);
 *   2. per head: the tile's max, one rescale factor alpha = exp(m - m_new),
 *      and p = exp(s - m_new) for the whole tile with a vector exp, their
 *      sum over 16 lanes;
 *   3. o = alpha*o + sum_t p_t v_t: each V row is converted once and serves
 *      every head; the heads' o is kept in registers JC vectors at a time
 *      (group*JC accumulators), the rescale folded into their load.
 * The group size is a compile-time constant in each instance (1..8), so the
 * accumulators live in registers. d must be a multiple of 8 (other shapes
 * take the scalar reference); group at most 8.
 *
 * decode is bit-exact with the scalar reference: it computes the recipe of
 * simd/attn_c.c (same TILE, same 16 lanes and tree for the dots and for l,
 * the same exp, the same FMA order for o), as the other tiers do (issue 3).
 * block_score follows the family's one recipe (attn.h), bit-exact with the
 * scalar reference; summary_add is bit-exact. */
#if defined(__x86_64__)

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <immintrin.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "attn.h"
#include "attn_rows.h"
#include "prefetch.h"

decl_attn_decode_fn(attn_decode_f16_avx2);
decl_attn_decode_fn(attn_decode_f32_avx2);
decl_block_score_fn(attn_block_score_f16_avx2);
decl_block_score_fn(attn_block_score_f32_avx2);
decl_summary_add_fn(attn_summary_add_avx2);
/* the scalar references, for shapes the vector code does not take */
decl_attn_decode_fn(attn_decode_f16_c);
decl_attn_decode_fn(attn_decode_f32_c);
decl_block_score_fn(attn_block_score_f16_c);
decl_block_score_fn(attn_block_score_f32_c);

#define INLINE static inline __attribute__((always_inline))

#define TILE ATTN_TILE  /* rows per softmax step (a multiple of 8) */
#define MAX_G 8  /* query heads per KV head */

/* ---- helpers ------------------------------------------------------------------ */

#include "exp_avx2.h" /* the exp of every tier (simd/exp_recipe.h) */

/* 8 elements of a cache (f16 bits or f32) from element i, as floats. */
INLINE __m256 load8(const void *rows, int f16, size_t i)
{
    if (f16)
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)rows + i)));
    return _mm256_loadu_ps((const float *)rows + i);
}

/* Lane r = the sum of the 8 lanes of vector r of a[0..64), in the recipe's
 * tree (lane i + lane i+4, then i + i+2, then i + i+1), 8 rows at once:
 * rows r and r+4 share a vector for the first step, then shuffles pair the
 * lanes of rows (r, r+1 | r+4, r+5) and finally put the rows in order. */
INLINE __m256 hsum8x8(const float *a)
{
    __m256 u[4]; /* (row r: 4 sums | row r+4: 4 sums) */
    for (int r = 0; r < 4; r++) {
        const __m256 x = _mm256_load_ps(a + 8 * r), y = _mm256_load_ps(a + 8 * (r + 4));
        u[r] = _mm256_add_ps(_mm256_permute2f128_ps(x, y, 0x20), _mm256_permute2f128_ps(x, y, 0x31));
    }
    const __m256 w01 = _mm256_add_ps(_mm256_shuffle_ps(u[0], u[1], _MM_SHUFFLE(1, 0, 1, 0)),
                                     _mm256_shuffle_ps(u[0], u[1], _MM_SHUFFLE(3, 2, 3, 2)));
    const __m256 w23 = _mm256_add_ps(_mm256_shuffle_ps(u[2], u[3], _MM_SHUFFLE(1, 0, 1, 0)),
                                     _mm256_shuffle_ps(u[2], u[3], _MM_SHUFFLE(3, 2, 3, 2)));
    return _mm256_add_ps(_mm256_shuffle_ps(w01, w23, _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm256_shuffle_ps(w01, w23, _MM_SHUFFLE(3, 1, 3, 1)));
}

/* The sum of 8 lanes in the recipe's tree: i + i+4, i + i+2, i + i+1. */
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
    _Alignas(32) float part[MAX_G][TILE][8]; /* per row: lane i + lane i+8 of q.k */
    _Alignas(32) float p[MAX_G][TILE];       /* scores, then exp(score - m_new) */
    float alpha[MAX_G];                      /* exp(m_old - m_new) */
} tile_buf;

/* Step 1 on rows k[0..KU): the recipe's 16 lanes of q_g . k_u, element
 * j in lane j % 16, and part[g][u] = lanes 0-7 + lanes 8-15 (the tree's
 * first step). Two passes over the rows, lanes 0-7 (the chunks j = 0, 16,
 * ...) then 8-15 (j = 8, 24, ...), so that G*KU accumulators suffice: KU
 * rows at once share each load of q and give KU*G independent chains. */
INLINE void rows_dots(const char *const *k, int f16, int d, const float *q, const int G, const int KU,
                      float *part)
{
    for (int h = 0; h < 2; h++) {
        __m256 acc[MAX_G][4];
#pragma GCC unroll 8
        for (int g = 0; g < G; g++)
#pragma GCC unroll 4
            for (int u = 0; u < KU; u++)
                acc[g][u] = _mm256_setzero_ps();
        for (int j = 8 * h; j < d; j += 16) {
#pragma GCC unroll 4
            for (int u = 0; u < KU; u++) {
                const __m256 kf = load8(k[u], f16, (size_t)j);
#pragma GCC unroll 8
                for (int g = 0; g < G; g++)
                    acc[g][u] = _mm256_fmadd_ps(kf, _mm256_loadu_ps(q + (size_t)g * d + j), acc[g][u]);
            }
        }
#pragma GCC unroll 8
        for (int g = 0; g < G; g++)
#pragma GCC unroll 4
            for (int u = 0; u < KU; u++) {
                float *dst = part + ((size_t)g * TILE + u) * 8;
                _mm256_store_ps(dst, h ? _mm256_add_ps(_mm256_load_ps(dst), acc[g][u]) : acc[g][u]);
            }
    }
}

/* Step 1: part[g][t] for the tile's rows, zeros up to a multiple of 8;
 * meanwhile the next tile's K and V rows are asked for, into L2 (see
 * prefetch.h). */
INLINE void tile_dots(const attn_tile *r, const attn_tile *next, int f16, int d, const float *q,
                      const int G, const int KU, tile_buf *b)
{
    const size_t row_bytes = (size_t)d * (f16 ? 2 : 4);
    const int nt = r->n;
    int t = 0;
    for (; t + KU <= nt; t += KU) {
#pragma GCC unroll 4
        for (int u = 0; u < KU; u++)
            if (t + u < next->n) {
                resa_prefetch_span_l2(next->k[t + u], row_bytes);
                resa_prefetch_span_l2(next->v[t + u], row_bytes);
            }
        rows_dots(r->k + t, f16, d, q, G, KU, b->part[0][t]);
    }
    for (; t < nt; t++)
        rows_dots(r->k + t, f16, d, q, G, 1, b->part[0][t]);
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
    const float tile_max = hmax(mx) + 0.0f, m_old = *m; /* -0 -> +0, as the recipe */
    const float m_new = tile_max > m_old ? tile_max : m_old;
    b->alpha[g] = m_new == m_old ? 1.0f : _mm256_cvtss_f32(exp8(_mm256_set1_ps(m_old - m_new))); /* m_old = -inf: 0 */
    const __m256 vm = _mm256_set1_ps(m_new);
    __m256 sum0 = _mm256_setzero_ps(), sum1 = sum0; /* the 16 lanes of l's sum: row t in lane t % 16 */
    for (int t = 0; t < nt; t += 16) { /* rows past nt have p = 0 */
        const __m256 e0 = exp8(_mm256_sub_ps(_mm256_load_ps(b->p[g] + t), vm));
        _mm256_store_ps(b->p[g] + t, e0);
        sum0 = _mm256_add_ps(sum0, e0);
        if (t + 8 < nt) {
            const __m256 e1 = exp8(_mm256_sub_ps(_mm256_load_ps(b->p[g] + t + 8), vm));
            _mm256_store_ps(b->p[g] + t + 8, e1);
            sum1 = _mm256_add_ps(sum1, e1);
        }
    }
    *l = *l * b->alpha[g] + hsum(_mm256_add_ps(sum0, sum1));
    *m = m_new;
}

/* Step 3 on JC vectors of each head's o, from element j: rescale, add the
 * tile's rows. G*JC accumulators stay in registers across the tile. */
INLINE void tile_values(const attn_tile *r, int f16, int d, int j, const int G, const int JC,
                        const tile_buf *b, float *o)
{
    __m256 acc[MAX_G][8];
#pragma GCC unroll 8
    for (int g = 0; g < G; g++)
#pragma GCC unroll 8
        for (int c = 0; c < JC; c++)
            acc[g][c] = _mm256_mul_ps(_mm256_loadu_ps(o + (size_t)g * d + j + 8 * c),
                                      _mm256_set1_ps(b->alpha[g]));
    for (int t = 0; t < r->n; t++) {
        const char *row = r->v[t];
        __m256 p[MAX_G];
#pragma GCC unroll 8
        for (int g = 0; g < G; g++)
            p[g] = _mm256_broadcast_ss(&b->p[g][t]);
#pragma GCC unroll 8
        for (int c = 0; c < JC; c++) {
            const __m256 vf = load8(row, f16, (size_t)j + 8 * (size_t)c);
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

/* The tile's rows, at most TILE. JC: vectors of o per pass (G*JC registers). */
INLINE void decode_tile(const attn_tile *r, const attn_tile *next, int f16, int d, const float *q,
                        const int G, const int KU, const int JC, float scale, float *m, float *l,
                        float *o)
{
    tile_buf b;
    tile_dots(r, next, f16, d, q, G, KU, &b);
#pragma GCC unroll 8
    for (int g = 0; g < G; g++)
        tile_softmax(&b, g, r->n, scale, &m[g], &l[g]);
    int j = 0;
    if (JC >= 8)
        for (; j + 64 <= d; j += 64)
            tile_values(r, f16, d, j, G, 8, &b, o);
    if (JC >= 4)
        for (; j + 32 <= d; j += 32)
            tile_values(r, f16, d, j, G, 4, &b, o);
    if (JC >= 2)
        for (; j + 16 <= d; j += 16)
            tile_values(r, f16, d, j, G, 2, &b, o);
    for (; j < d; j += 8)
        tile_values(r, f16, d, j, G, 1, &b, o);
}

/* Tile after tile; the next tile's rows are gathered first, to be
 * prefetched while this one is computed. */
INLINE void decode_g(const resa_attn_run *runs, int n_runs, int f16, int d, const float *q,
                     const int G, const int KU, const int JC, float scale, float *m, float *l,
                     float *o)
{
    attn_cursor cur = attn_cursor_start(runs, n_runs, (size_t)d * (f16 ? 2 : 4));
    attn_tile rows[2];
    int i = 0;
    attn_next_tile(&cur, &rows[0]);
    while (rows[i].n > 0) {
        attn_next_tile(&cur, &rows[!i]);
        decode_tile(&rows[i], &rows[!i], f16, d, q, G, KU, JC, scale, m, l, o);
        i = !i;
    }
}

/* One instance per group size. KU rows per step of the dot products and JC
 * vectors of o per pass keep G*KU (G*JC) accumulators, the shared loads of q
 * (the broadcasts of p) within the 16 registers. */
INLINE void decode(const resa_attn_run *runs, int n_runs, int f16, int d, const float *q, int group,
                   float scale, float *m, float *l, float *o)
{
    switch (group) {
    case 1: decode_g(runs, n_runs, f16, d, q, 1, 4, 8, scale, m, l, o); break;
    case 2: decode_g(runs, n_runs, f16, d, q, 2, 4, 4, scale, m, l, o); break;
    case 3: decode_g(runs, n_runs, f16, d, q, 3, 4, 2, scale, m, l, o); break;
    case 4: decode_g(runs, n_runs, f16, d, q, 4, 2, 2, scale, m, l, o); break;
    case 5: decode_g(runs, n_runs, f16, d, q, 5, 2, 1, scale, m, l, o); break;
    case 6: decode_g(runs, n_runs, f16, d, q, 6, 2, 1, scale, m, l, o); break;
    case 7: decode_g(runs, n_runs, f16, d, q, 7, 1, 1, scale, m, l, o); break;
    default: decode_g(runs, n_runs, f16, d, q, 8, 1, 1, scale, m, l, o); break;
    }
}

static int decode_shape_ok(int d, int group)
{
    return d > 0 && d % 8 == 0 && group >= 1 && group <= MAX_G;
}

void attn_decode_f16_avx2(const resa_attn_run *runs, int n_runs, int d, const float *q, int group,
                          float scale, float *m, float *l, float *o)
{
    if (!decode_shape_ok(d, group))
        attn_decode_f16_c(runs, n_runs, d, q, group, scale, m, l, o);
    else
        decode(runs, n_runs, 1, d, q, group, scale, m, l, o);
}

void attn_decode_f32_avx2(const resa_attn_run *runs, int n_runs, int d, const float *q, int group,
                          float scale, float *m, float *l, float *o)
{
    if (!decode_shape_ok(d, group))
        attn_decode_f32_c(runs, n_runs, d, q, group, scale, m, l, o);
    else
        decode(runs, n_runs, 0, d, q, group, scale, m, l, o);
}

/* ---- block scores --------------------------------------------------------------- */

/* The 16 lanes of block i's bound (attn.h's recipe) in two vectors: lanes
 * 0-7 in *lo, 8-15 in *hi; fma of q times kmin where q's sign bit is set,
 * else kmax (a blend on the sign bit). d a multiple of 8. */
INLINE void block_lanes(const float *qbar, const void *kmin, const void *kmax, int f16, size_t i, int d,
                        __m256 *lo, __m256 *hi)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int j = 0;
    for (; j < d; j += 16) {
        size_t e = i * (size_t)d + (size_t)j;
        __m256 q = _mm256_loadu_ps(qbar + j);
        a0 = _mm256_fmadd_ps(q, _mm256_blendv_ps(load8(kmax, f16, e), load8(kmin, f16, e), q), a0);
        if (j + 8 == d)
            break; /* d % 16 == 8: lanes 8-15 get no last element */
        e += 8;
        q = _mm256_loadu_ps(qbar + j + 8);
        a1 = _mm256_fmadd_ps(q, _mm256_blendv_ps(load8(kmax, f16, e), load8(kmin, f16, e), q), a1);
    }
    *lo = a0;
    *hi = a1;
}

INLINE void block_score(const float *qbar, const void *kmin, const void *kmax, int f16, int d,
                        int n_blocks, float *scores)
{
    for (int i = 0; i < n_blocks; i++) {
        __m256 lo, hi;
        block_lanes(qbar, kmin, kmax, f16, (size_t)i, d, &lo, &hi);
        scores[i] = hsum(_mm256_add_ps(lo, hi)); /* the recipe's tree */
    }
}

void attn_block_score_f16_avx2(const float *qbar, const void *kmin, const void *kmax, int d,
                               int n_blocks, float *scores)
{
    if (d % 8)
        attn_block_score_f16_c(qbar, kmin, kmax, d, n_blocks, scores);
    else
        block_score(qbar, kmin, kmax, 1, d, n_blocks, scores);
}

void attn_block_score_f32_avx2(const float *qbar, const void *kmin, const void *kmax, int d,
                               int n_blocks, float *scores)
{
    if (d % 8)
        attn_block_score_f32_c(qbar, kmin, kmax, d, n_blocks, scores);
    else
        block_score(qbar, kmin, kmax, 0, d, n_blocks, scores);
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
