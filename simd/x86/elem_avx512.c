/* SPDX-License-Identifier: MIT */
/* "elem" kernels for AVX-512 F/BW/DQ/VL (compiled with the AVX-512 flags).
 *
 * The same contract with the scalar reference as simd/x86/elem_avx2.c: every
 * kernel bit-exact (the reference's exp recipe, its 16 double lanes and sum
 * tree). Every tail is a masked load and store: masked-off lanes neither
 * fault nor write.
 *
 * f32 -> bf16 does not use AVX512_BF16's vcvtneps2bf16: it flushes subnormal
 * inputs to zero, so it is not type_f32_to_bf16(); the integer rounding here
 * is, and runs at memory speed anyway. */
#if defined(__x86_64__)

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <immintrin.h>
#include <math.h>

#include "elem.h"
#include "types.h"

/* ---- exp ---------------------------------------------------------------------- */

/* As exp8() in elem_avx2.c (same reduction, same polynomial), except the
 * final scaling: vscalefps multiplies by 2^k with one rounding, subnormal and
 * overflowing results included, which is what the two exact-then-rounding
 * products of the reference give: the same bits. The clamp keeps k finite for +-inf inputs
 * (min/max operand order lets NaN through). */
#include "exp_avx512.h"

/* Lanes i < rem set (rem in 0..16). */
static inline __mmask16 tail_mask(int64_t rem)
{
    return (__mmask16)((1u << rem) - 1);
}

void elem_exp_avx512(float *y, const float *x, int n)
{
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, exp16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, exp16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

/* Adds the 16 floats of e, widened to double, to *a (low half) and *b: the
 * double sums of rmsnorm and softmax, 16 lanes (element i into lane i % 16). */
static inline void add_pd16(__m512d *a, __m512d *b, __m512 e)
{
    *a = _mm512_add_pd(*a, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    *b = _mm512_add_pd(*b, _mm512_cvtps_pd(_mm512_extractf32x8_ps(e, 1)));
}

/* The lanes a (0-7), b (8-15) added in the reference's sum16() tree:
 * halves folded onto halves, lane i + lane i+w for w = 8, 4, 2, 1. */
static inline double sum16_pd(__m512d a, __m512d b)
{
    const __m512d h8 = _mm512_add_pd(a, b);
    const __m256d h = _mm256_add_pd(_mm512_castpd512_pd256(h8), _mm512_extractf64x4_pd(h8, 1));
    const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd(h, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

/* ---- RMSNorm ------------------------------------------------------------------ */

void elem_rmsnorm_avx512(float *y, const float *x, const float *w, int n, float eps)
{
    __m512d a0 = _mm512_setzero_pd(), a1 = a0;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 v = _mm512_loadu_ps(x + i);
        add_pd16(&a0, &a1, _mm512_mul_ps(v, v));
    }
    if (i < n) { /* masked-off lanes are +0 and add exactly nothing */
        const __m512 v = _mm512_maskz_loadu_ps(tail_mask(n - i), x + i);
        add_pd16(&a0, &a1, _mm512_mul_ps(v, v));
    }
    const double ss = sum16_pd(a0, a1);

    const float scale = 1.0f / sqrtf((float)(ss / n) + eps);
    const __m512 vs = _mm512_set1_ps(scale);
    for (i = 0; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), vs), _mm512_loadu_ps(w + i)));
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vs);
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, w + i)));
    }
}

/* ---- RoPE ---------------------------------------------------------------------- */

/* Eight pairs per vector, as in elem_avx2.c: a = v * (c c), b = v' * (s s)
 * with v' the pairs swapped; a + b in the odd lanes, a - b in the even ones. */
static inline __m512 rope_norm16(__m512 v, __m512 t)
{
    const __m512 a = _mm512_mul_ps(v, _mm512_moveldup_ps(t));
    const __m512 b = _mm512_mul_ps(_mm512_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1)), _mm512_movehdup_ps(t));
    return _mm512_mask_sub_ps(_mm512_add_ps(a, b), 0x5555, a, b);
}

void elem_rope_norm_avx512(float *x, const float *cs, int n_rot)
{
    int i = 0;
    for (; i + 16 <= n_rot; i += 16)
        _mm512_storeu_ps(x + i, rope_norm16(_mm512_loadu_ps(x + i), _mm512_loadu_ps(cs + i)));
    if (i + 1 < n_rot) { /* whole pairs only, as the reference (n_rot is even) */
        const __mmask16 m = tail_mask((n_rot - i) & ~1);
        _mm512_mask_storeu_ps(x + i, m, rope_norm16(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, cs + i)));
    }
}

/* Sixteen angles per step; cos and sin gathered from 32 interleaved floats. */
void elem_rope_neox_avx512(float *x, const float *cs, int n_rot)
{
    const int half = n_rot / 2;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    for (int i = 0; i < half; i += 16) {
        const int rem = half - i < 16 ? half - i : 16;
        const __mmask16 m = tail_mask(rem);
        const __m512 t0 = _mm512_maskz_loadu_ps(tail_mask(2 * rem < 16 ? 2 * rem : 16), cs + 2 * i);
        const __m512 t1 = _mm512_maskz_loadu_ps(tail_mask(2 * rem > 16 ? 2 * rem - 16 : 0), cs + 2 * i + 16);
        const __m512 c = _mm512_permutex2var_ps(t0, even, t1), s = _mm512_permutex2var_ps(t0, odd, t1);
        const __m512 x0 = _mm512_maskz_loadu_ps(m, x + i), x1 = _mm512_maskz_loadu_ps(m, x + half + i);
        _mm512_mask_storeu_ps(x + i, m, _mm512_sub_ps(_mm512_mul_ps(x0, c), _mm512_mul_ps(x1, s)));
        _mm512_mask_storeu_ps(x + half + i, m, _mm512_add_ps(_mm512_mul_ps(x0, s), _mm512_mul_ps(x1, c)));
    }
}

/* ---- SwiGLU ---------------------------------------------------------------------- */

static inline __m512 silu_mul16(__m512 g, __m512 u)
{
    const __m512 e = exp16(_mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(g), _mm512_set1_epi32(INT32_MIN))));
    return _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), e)), u);
}

static inline __m512 gelu_mul16(__m512 x, __m512 u)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512 t = _mm512_add_ps(one, _mm512_mul_ps(_mm512_set1_ps(GELU_A), _mm512_mul_ps(x, x)));
    const __m512 e = exp16(_mm512_mul_ps(_mm512_set1_ps(GELU_K), _mm512_mul_ps(x, t)));
    return _mm512_mul_ps(_mm512_div_ps(x, _mm512_add_ps(one, e)), u);
}

/* g[i] = f(g[i], u[i]) sixteen at a time, the tail masked: the gated FFN kernels */
#define GATE_KERNEL(name, f16)                                                                    \
    void name(float *g, const float *u, int n)                                                    \
    {                                                                                             \
        int i = 0;                                                                                \
        for (; i + 16 <= n; i += 16)                                                              \
            _mm512_storeu_ps(g + i, f16(_mm512_loadu_ps(g + i), _mm512_loadu_ps(u + i)));         \
        if (i < n) {                                                                              \
            const __mmask16 m = tail_mask(n - i);                                                 \
            _mm512_mask_storeu_ps(g + i, m, f16(_mm512_maskz_loadu_ps(m, g + i), _mm512_maskz_loadu_ps(m, u + i))); \
        }                                                                                         \
    }
GATE_KERNEL(elem_silu_mul_avx512, silu_mul16)
GATE_KERNEL(elem_gelu_mul_avx512, gelu_mul16)

/* ---- softmax ----------------------------------------------------------------------- */

void elem_softmax_avx512(float *x, int n, float scale)
{
    const __m512 vs = _mm512_set1_ps(scale), ninf = _mm512_set1_ps(-INFINITY);
    const int nv = n & ~15;
    const __mmask16 m = tail_mask(n - nv);
    __m512 vmax = ninf;
    for (int i = 0; i < nv; i += 16)
        vmax = _mm512_max_ps(vmax, _mm512_mul_ps(_mm512_loadu_ps(x + i), vs));
    if (m)
        vmax = _mm512_mask_max_ps(vmax, m, vmax, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + nv), vs));
    const __m512 vm = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));

    /* exp(x*scale - mx) with the reference's two roundings; sum in double */
    __m512d a = _mm512_setzero_pd(), b = a;
    for (int i = 0; i < nv; i += 16) {
        const __m512 e = exp16(_mm512_sub_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), vs), vm));
        add_pd16(&a, &b, e);
        _mm512_storeu_ps(x + i, e);
    }
    if (m) { /* masked-off lanes must not reach the sum */
        const __m512 v = _mm512_sub_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + nv), vs), vm);
        const __m512 e = _mm512_maskz_mov_ps(m, exp16(v));
        add_pd16(&a, &b, e);
        _mm512_mask_storeu_ps(x + nv, m, e);
    }
    const double sum = sum16_pd(a, b);

    const __m512 inv = _mm512_set1_ps((float)(1.0 / sum));
    for (int i = 0; i < nv; i += 16)
        _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), inv));
    if (m)
        _mm512_mask_storeu_ps(x + nv, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + nv), inv));
}

/* ---- conversions ------------------------------------------------------------------ */

void elem_f32_to_f16_avx512(const void *src, void *dst, int64_t n)
{
    const float *x = src;
    uint16_t *y = dst;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(y + i),
                            _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        _mm256_mask_storeu_epi16(y + i, m, _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i),
                                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
}

void elem_f16_to_f32_avx512(const void *src, void *dst, int64_t n)
{
    const uint16_t *x = src;
    float *y = dst;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i))));
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x + i)));
    }
}

/* type_f32_to_bf16() on 16 lanes: round to nearest even on the low 16 bits;
 * a NaN keeps its top bits and is quieted. */
static inline __m256i bf16_round16(__m512 v)
{
    const __m512i u = _mm512_castps_si512(v), hi = _mm512_srli_epi32(u, 16);
    const __m512i lsb = _mm512_and_si512(hi, _mm512_set1_epi32(1));
    const __m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), lsb), 16);
    const __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                                  _mm512_set1_epi32(0x7f800000));
    return _mm512_cvtepi32_epi16(_mm512_mask_or_epi32(r, nan, hi, _mm512_set1_epi32(0x40)));
}

void elem_f32_to_bf16_avx512(const void *src, void *dst, int64_t n)
{
    const float *x = src;
    uint16_t *y = dst;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(y + i), bf16_round16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        _mm256_mask_storeu_epi16(y + i, m, bf16_round16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

void elem_bf16_to_f32_avx512(const void *src, void *dst, int64_t n)
{
    const uint16_t *x = src;
    float *y = dst;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512i u = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(x + i)));
        _mm512_storeu_ps(y + i, _mm512_castsi512_ps(_mm512_slli_epi32(u, 16)));
    }
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        const __m512i u = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, x + i));
        _mm512_mask_storeu_ps(y + i, m, _mm512_castsi512_ps(_mm512_slli_epi32(u, 16)));
    }
}

#endif
