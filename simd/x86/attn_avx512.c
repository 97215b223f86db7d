/* SPDX-License-Identifier: MIT */
/* "attn" kernels for AVX-512 F/BW/DQ/VL (compile with configure's
 * AVX512_CFLAGS, which include AVX2/FMA/F16C).
 *
 * The same algorithm as attn_avx2.c (tiles of rows gathered from the runs,
 * attn_rows.h; per tile: dot products,
 * one max and rescale per head, vector exp, V accumulation with the heads'
 * o in registers), on 16-float vectors: with 32 registers a whole 64-wide
 * head of o fits for up to 7 heads, so the tile's V rows are read in one
 * pass. decode is bit-exact with the scalar reference (the recipe of
 * simd/attn_c.c: same TILE, 16 lanes and tree, exp, FMA order; issue 3); its
 * exp scales by 2^k with vscalefps, one rounding, as the recipe's two
 * products. d must be a multiple of 16; other multiples of 8 take the AVX2
 * kernel, the rest the scalar reference (the same results).
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

decl_attn_decode_fn(attn_decode_f16_avx512);
decl_attn_decode_fn(attn_decode_f32_avx512);
decl_block_score_fn(attn_block_score_f16_avx512);
decl_block_score_fn(attn_block_score_f32_avx512);
decl_summary_add_fn(attn_summary_add_avx512);
/* shapes this file does not take (the AVX-512 tier includes AVX2) */
decl_attn_decode_fn(attn_decode_f16_avx2);
decl_attn_decode_fn(attn_decode_f32_avx2);
decl_block_score_fn(attn_block_score_f16_avx2);
decl_block_score_fn(attn_block_score_f32_avx2);

#define INLINE static inline __attribute__((always_inline))

#define TILE ATTN_TILE  /* rows per softmax step (a multiple of 16) */
#define MAX_G 8

/* ---- helpers ------------------------------------------------------------------ */

#include "exp_avx512.h" /* the exp of every tier (simd/exp_recipe.h) */

/* 16 elements of a cache (f16 bits or f32) from element i, as floats. */
INLINE __m512 load16(const void *rows, int f16, size_t i)
{
    if (f16)
        return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)rows + i)));
    return _mm512_loadu_ps((const float *)rows + i);
}

/* The two halves of x added: 8 partial sums (the recipe's lane i + i+8). */
INLINE __m256 fold(__m512 x)
{
    return _mm256_add_ps(_mm512_castps512_ps256(x), _mm512_extractf32x8_ps(x, 1));
}

/* Lane r = the sum of the 8 lanes of vector r of a[0..64), in the recipe's
 * tree (lane i + lane i+4, then i + i+2, then i + i+1), as attn_avx2.c's. */
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
INLINE float hsum8(__m256 x)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

/* ---- decode --------------------------------------------------------------------- */

typedef struct tile_buf {
    _Alignas(64) float part[MAX_G][TILE][8]; /* per row: lane i + lane i+8 of q.k */
    _Alignas(64) float p[MAX_G][TILE];       /* scores, then exp(score - m_new) */
    float alpha[MAX_G];                      /* exp(m_old - m_new) */
} tile_buf;

/* Step 1 on rows k[0..KU): the recipe's 16 lanes of q_g . k_u (element j in
 * lane j % 16), folded to 8 in part[g][u].
 * KU rows at once share each load of q and give KU*G independent chains. */
INLINE void rows_dots(const char *const *k, int f16, int d, const float *q, const int G, const int KU,
                      float *part)
{
    __m512 acc[MAX_G][4];
#pragma GCC unroll 8
    for (int g = 0; g < G; g++)
#pragma GCC unroll 4
        for (int u = 0; u < KU; u++)
            acc[g][u] = _mm512_setzero_ps();
    for (int j = 0; j < d; j += 16) {
#pragma GCC unroll 4
        for (int u = 0; u < KU; u++) {
            const __m512 kf = load16(k[u], f16, (size_t)j);
#pragma GCC unroll 8
            for (int g = 0; g < G; g++)
                acc[g][u] = _mm512_fmadd_ps(kf, _mm512_loadu_ps(q + (size_t)g * d + j), acc[g][u]);
        }
    }
#pragma GCC unroll 8
    for (int g = 0; g < G; g++)
#pragma GCC unroll 4
        for (int u = 0; u < KU; u++)
            _mm256_store_ps(part + ((size_t)g * TILE + u) * 8, fold(acc[g][u]));
}

/* Step 1: part[g][t] for the tile's rows, zeros up to a multiple of 16;
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
    for (; t < ((nt + 15) & ~15); t++)
#pragma GCC unroll 8
        for (int g = 0; g < G; g++)
            _mm256_store_ps(b->part[g][t], _mm256_setzero_ps());
}

/* Step 2 for head g: scores, the tile's max, p = exp(s - m_new), l and m. */
INLINE void tile_softmax(tile_buf *b, int g, int nt, float scale, float *m, float *l)
{
    const __m512 vscale = _mm512_set1_ps(scale), neg_inf = _mm512_set1_ps(-INFINITY);
    __m512 mx = neg_inf;
    for (int t = 0; t < nt; t += 16) {
        __m512 s = _mm512_insertf32x8(_mm512_castps256_ps512(hsum8x8(b->part[g][t])),
                                      hsum8x8(b->part[g][t + 8]), 1);
        s = _mm512_mul_ps(s, vscale);
        if (t + 16 > nt) /* rows past the tile score -inf: p = 0 */
            s = _mm512_mask_blend_ps((__mmask16)((1u << (nt - t)) - 1), neg_inf, s);
        _mm512_store_ps(b->p[g] + t, s);
        mx = _mm512_max_ps(mx, s);
    }
    const float tile_max = _mm512_reduce_max_ps(mx) + 0.0f, m_old = *m; /* -0 -> +0, as the recipe */
    const float m_new = tile_max > m_old ? tile_max : m_old;
    b->alpha[g] = m_new == m_old ? 1.0f : _mm512_cvtss_f32(exp16(_mm512_set1_ps(m_old - m_new))); /* m_old = -inf: 0 */
    const __m512 vm = _mm512_set1_ps(m_new);
    __m512 sum = _mm512_setzero_ps();
    for (int t = 0; t < nt; t += 16) {
        const __m512 e = exp16(_mm512_sub_ps(_mm512_load_ps(b->p[g] + t), vm));
        _mm512_store_ps(b->p[g] + t, e);
        sum = _mm512_add_ps(sum, e);
    }
    *l = *l * b->alpha[g] + hsum8(fold(sum)); /* row t in lane t % 16, the recipe's tree */
    *m = m_new;
}

/* Step 3 on JC vectors of each head's o, from element j: rescale, add the
 * tile's rows. G*JC accumulators stay in registers across the tile. */
INLINE void tile_values(const attn_tile *r, int f16, int d, int j, const int G, const int JC,
                        const tile_buf *b, float *o)
{
    __m512 acc[MAX_G][8];
#pragma GCC unroll 8
    for (int g = 0; g < G; g++)
#pragma GCC unroll 8
        for (int c = 0; c < JC; c++)
            acc[g][c] = _mm512_mul_ps(_mm512_loadu_ps(o + (size_t)g * d + j + 16 * c),
                                      _mm512_set1_ps(b->alpha[g]));
    for (int t = 0; t < r->n; t++) {
        const char *row = r->v[t];
#pragma GCC unroll 8
        for (int c = 0; c < JC; c++) {
            const __m512 vf = load16(row, f16, (size_t)j + 16 * (size_t)c);
#pragma GCC unroll 8
            for (int g = 0; g < G; g++)
                acc[g][c] = _mm512_fmadd_ps(_mm512_set1_ps(b->p[g][t]), vf, acc[g][c]);
        }
    }
#pragma GCC unroll 8
    for (int g = 0; g < G; g++)
#pragma GCC unroll 8
        for (int c = 0; c < JC; c++)
            _mm512_storeu_ps(o + (size_t)g * d + j + 16 * c, acc[g][c]);
}

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
        for (; j + 128 <= d; j += 128)
            tile_values(r, f16, d, j, G, 8, &b, o);
    if (JC >= 4)
        for (; j + 64 <= d; j += 64)
            tile_values(r, f16, d, j, G, 4, &b, o);
    if (JC >= 2)
        for (; j + 32 <= d; j += 32)
            tile_values(r, f16, d, j, G, 2, &b, o);
    for (; j < d; j += 16)
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
 * vectors of o per pass: G*KU (G*JC, at most 24) accumulators, the shared q
 * vectors (the broadcasts of p) within the 32 registers. */
INLINE void decode(const resa_attn_run *runs, int n_runs, int f16, int d, const float *q, int group,
                   float scale, float *m, float *l, float *o)
{
    switch (group) {
    case 1: decode_g(runs, n_runs, f16, d, q, 1, 4, 8, scale, m, l, o); break;
    case 2: decode_g(runs, n_runs, f16, d, q, 2, 4, 8, scale, m, l, o); break;
    case 3: decode_g(runs, n_runs, f16, d, q, 3, 4, 4, scale, m, l, o); break;
    case 4: decode_g(runs, n_runs, f16, d, q, 4, 4, 4, scale, m, l, o); break;
    case 5: decode_g(runs, n_runs, f16, d, q, 5, 2, 4, scale, m, l, o); break;
    case 6: decode_g(runs, n_runs, f16, d, q, 6, 2, 2, scale, m, l, o); break;
    case 7: decode_g(runs, n_runs, f16, d, q, 7, 2, 2, scale, m, l, o); break;
    default: decode_g(runs, n_runs, f16, d, q, 8, 2, 2, scale, m, l, o); break;
    }
}

static int decode_shape_ok(int d, int group)
{
    return d > 0 && d % 16 == 0 && group >= 1 && group <= MAX_G;
}

void attn_decode_f16_avx512(const resa_attn_run *runs, int n_runs, int d, const float *q, int group,
                            float scale, float *m, float *l, float *o)
{
    if (!decode_shape_ok(d, group))
        attn_decode_f16_avx2(runs, n_runs, d, q, group, scale, m, l, o);
    else
        decode(runs, n_runs, 1, d, q, group, scale, m, l, o);
}

void attn_decode_f32_avx512(const resa_attn_run *runs, int n_runs, int d, const float *q, int group,
                            float scale, float *m, float *l, float *o)
{
    if (!decode_shape_ok(d, group))
        attn_decode_f32_avx2(runs, n_runs, d, q, group, scale, m, l, o);
    else
        decode(runs, n_runs, 0, d, q, group, scale, m, l, o);
}

/* ---- block scores --------------------------------------------------------------- */

/* The 16 lanes of block i's bound (attn.h's recipe): fma of q times kmin
 * where q's sign bit is set, else kmax; d a multiple of 16. */
INLINE __m512 block_lanes(const float *qbar, const void *kmin, const void *kmax, int f16, size_t i, int d)
{
    __m512 acc = _mm512_setzero_ps();
    for (int j = 0; j < d; j += 16) {
        const __m512 q = _mm512_loadu_ps(qbar + j);
        const __mmask16 neg = _mm512_movepi32_mask(_mm512_castps_si512(q));
        const size_t e = i * (size_t)d + (size_t)j;
        acc = _mm512_fmadd_ps(q, _mm512_mask_blend_ps(neg, load16(kmax, f16, e), load16(kmin, f16, e)), acc);
    }
    return acc;
}

INLINE void block_score(const float *qbar, const void *kmin, const void *kmax, int f16, int d,
                        int n_blocks, float *scores)
{
    for (int i = 0; i < n_blocks; i++)
        scores[i] = hsum8(fold(block_lanes(qbar, kmin, kmax, f16, (size_t)i, d))); /* the recipe's tree */
}

void attn_block_score_f16_avx512(const float *qbar, const void *kmin, const void *kmax, int d,
                                 int n_blocks, float *scores)
{
    if (d % 16)
        attn_block_score_f16_avx2(qbar, kmin, kmax, d, n_blocks, scores);
    else
        block_score(qbar, kmin, kmax, 1, d, n_blocks, scores);
}

void attn_block_score_f32_avx512(const float *qbar, const void *kmin, const void *kmax, int d,
                                 int n_blocks, float *scores)
{
    if (d % 16)
        attn_block_score_f32_avx2(qbar, kmin, kmax, d, n_blocks, scores);
    else
        block_score(qbar, kmin, kmax, 0, d, n_blocks, scores);
}

/* ---- summaries ------------------------------------------------------------------ */

/* min_ps(k, mn) is k < mn ? k : mn, exactly the reference's update; the
 * tail is masked (masked-off lanes are neither read nor written). */
void attn_summary_add_avx512(float *kmin, float *kmax, const float *k, int d, int first)
{
    for (int j = 0; j < d; j += 16) {
        const __mmask16 w = d - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (d - j)) - 1);
        const __m512 x = _mm512_maskz_loadu_ps(w, k + j);
        if (first) {
            _mm512_mask_storeu_ps(kmin + j, w, x);
            _mm512_mask_storeu_ps(kmax + j, w, x);
        } else {
            _mm512_mask_storeu_ps(kmin + j, w, _mm512_min_ps(x, _mm512_maskz_loadu_ps(w, kmin + j)));
            _mm512_mask_storeu_ps(kmax + j, w, _mm512_max_ps(x, _mm512_maskz_loadu_ps(w, kmax + j)));
        }
    }
}

#else
typedef int resa_attn_avx512_unused; /* ISO C: a translation unit is not empty */
#endif
