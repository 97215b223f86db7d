/* SPDX-License-Identifier: MIT */
/* "elem" kernels for AVX2 + FMA + F16C (compile with -mavx2 -mfma -mf16c).
 *
 * Every kernel is bit-exact with the scalar reference (simd/elem_c.c), whose
 * recipe it follows (issue 3):
 *   - rope: the same products and one add/sub, never fused;
 *   - rmsnorm: float squares summed in double over 16 lanes (element i into
 *     lane i % 16: four vectors of 4 doubles), the lanes added by sum16_pd()
 *     in the reference's tree, then the same (x * scale) * w;
 *   - silu_mul, softmax: exp8() is the reference's exp_recipe(), the exp
 *     arguments computed with the reference's roundings (a fused
 *     x*scale - max would move exp(-80) by dozens of ulps); softmax sums in
 *     double over 16 lanes as rmsnorm;
 *   - conversions: F16C rounds to nearest even and quiets NaNs exactly like
 *     type_f32_to_f16(); bf16 rounding is integer arithmetic: bit-exact.
 * Tails use masked loads and stores (vmaskmovps does not fault on masked-off
 * lanes) or the scalar code where that is bit-exact anyway. */
#if defined(__x86_64__)

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <immintrin.h>
#include <math.h>

#include "elem.h"
#include "types.h"

/* ---- exp ---------------------------------------------------------------------- */

/* exp_recipe() of simd/elem_c.c, the exp of every tier:
 * exp(x) = 2^k * exp(r), k = round(x / ln2), |r| <= ln2/2. r is reduced with
 * ln2 split in two (the FMA keeps x - k*ln2_hi exact enough); exp(r) is
 * 1 + r + r^2 q(r) with q of degree 4 fitted for minimal relative error over
 * [-ln2/2, ln2/2] (3e-9, far below float rounding). The scale 2^k is applied
 * as two halves 2^(k>>1) * 2^(k-(k>>1)), each a normal float, so results in
 * the subnormal range round once and results past FLT_MAX become inf.
 * Inputs are clamped to [-104, 89] (exp is 0 below, inf above once rounded);
 * the operand order of min/max lets a NaN through, and NaN propagates.
 * Checked against libm's expf on every float in [-110, 95]: at most 1 ulp
 * apart (subnormal results included), as SLEEF's u10 expf. SLEEF serves only
 * as the benchmark's yardstick (tests/bench_sleef.h, linked into
 * checksimd_elem alone): ours measured faster (checksimd_elem
 * --bench=exp: 0.53 vs 0.64 ns a value with AVX2, 0.22 vs 0.35 with
 * AVX-512), and builds without SLEEF get the same kernels. */
#include "exp_avx2.h"

/* Lanes i < rem set (rem in 1..7). */
static inline __m256i tail_mask(int rem)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

void elem_exp_avx2(float *y, const float *x, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, exp8(_mm256_loadu_ps(x + i)));
    if (i < n) {
        const __m256i m = tail_mask(n - i);
        _mm256_maskstore_ps(y + i, m, exp8(_mm256_maskload_ps(x + i, m)));
    }
}

/* ---- RMSNorm ------------------------------------------------------------------ */

/* Adds the 8 floats of e, widened to double, to *a (low half) and *b: the
 * double sums of rmsnorm and softmax. */
static inline void add_pd8(__m256d *a, __m256d *b, __m256 e)
{
    *a = _mm256_add_pd(*a, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    *b = _mm256_add_pd(*b, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
}

/* The 16 double lanes a0 (lanes 0-3) .. a3 (12-15) added in the reference's
 * sum16() tree: halves folded onto halves, lane i + lane i+w for w = 8, 4,
 * 2, 1. */
static inline double sum16_pd(__m256d a0, __m256d a1, __m256d a2, __m256d a3)
{
    const __m256d h = _mm256_add_pd(_mm256_add_pd(a0, a2), _mm256_add_pd(a1, a3));
    const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd(h, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

/* 8 floats from x[i], rem of them valid (rem <= 0: none): the rest read as 0. */
static inline __m256 load_part(const float *x, int rem)
{
    if (rem >= 8)
        return _mm256_loadu_ps(x);
    if (rem <= 0)
        return _mm256_setzero_ps();
    return _mm256_maskload_ps(x, tail_mask(rem));
}

/* Lanes past the row hold +0: their squares add +0 to lanes >= +0, exactly. */
void elem_rmsnorm_avx2(float *y, const float *x, const float *w, int n, float eps)
{
    __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
        add_pd8(&a0, &a1, _mm256_mul_ps(v0, v0));
        add_pd8(&a2, &a3, _mm256_mul_ps(v1, v1));
    }
    if (i < n) {
        const __m256 v0 = load_part(x + i, n - i), v1 = load_part(x + i + 8, n - i - 8);
        add_pd8(&a0, &a1, _mm256_mul_ps(v0, v0));
        add_pd8(&a2, &a3, _mm256_mul_ps(v1, v1));
    }
    const double ss = sum16_pd(a0, a1, a2, a3);

    const float scale = 1.0f / sqrtf((float)(ss / n) + eps);
    const __m256 vs = _mm256_set1_ps(scale);
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vs), _mm256_loadu_ps(w + i)));
    for (; i < n; i++)
        y[i] = (x[i] * scale) * w[i];
}

/* ---- RoPE ---------------------------------------------------------------------- */

/* Four pairs per vector: x = (x0 x1 ...), cs = (c s ...). With v' = (x1 x0 ...),
 * addsub(v * (c c), v' * (s s)) = (x0c - x1s, x1c + x0s): the reference's
 * roundings, its add only commuted. */
void elem_rope_norm_avx2(float *x, const float *cs, int n_rot)
{
    int i = 0;
    for (; i + 8 <= n_rot; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i), t = _mm256_loadu_ps(cs + i);
        const __m256 a = _mm256_mul_ps(v, _mm256_moveldup_ps(t));
        const __m256 b = _mm256_mul_ps(_mm256_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1)), _mm256_movehdup_ps(t));
        _mm256_storeu_ps(x + i, _mm256_addsub_ps(a, b));
    }
    for (; i + 1 < n_rot; i += 2) {
        const float x0 = x[i], x1 = x[i + 1], c = cs[i], s = cs[i + 1];
        x[i] = x0 * c - x1 * s;
        x[i + 1] = x0 * s + x1 * c;
    }
}

/* Eight angles per step: 16 floats of cs split into cos and sin vectors. */
void elem_rope_neox_avx2(float *x, const float *cs, int n_rot)
{
    const int half = n_rot / 2;
    int i = 0;
    for (; i + 8 <= half; i += 8) {
        const __m256 t0 = _mm256_loadu_ps(cs + 2 * i), t1 = _mm256_loadu_ps(cs + 2 * i + 8);
        /* shuffle_ps works per 128-bit lane: (c0 c1 c4 c5 | c2 c3 c6 c7) */
        const __m256 c = _mm256_castpd_ps(_mm256_permute4x64_pd(
            _mm256_castps_pd(_mm256_shuffle_ps(t0, t1, _MM_SHUFFLE(2, 0, 2, 0))), _MM_SHUFFLE(3, 1, 2, 0)));
        const __m256 s = _mm256_castpd_ps(_mm256_permute4x64_pd(
            _mm256_castps_pd(_mm256_shuffle_ps(t0, t1, _MM_SHUFFLE(3, 1, 3, 1))), _MM_SHUFFLE(3, 1, 2, 0)));
        const __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + half + i);
        _mm256_storeu_ps(x + i, _mm256_sub_ps(_mm256_mul_ps(x0, c), _mm256_mul_ps(x1, s)));
        _mm256_storeu_ps(x + half + i, _mm256_add_ps(_mm256_mul_ps(x0, s), _mm256_mul_ps(x1, c)));
    }
    for (; i < half; i++) {
        const float x0 = x[i], x1 = x[i + half], c = cs[2 * i], s = cs[2 * i + 1];
        x[i] = x0 * c - x1 * s;
        x[i + half] = x0 * s + x1 * c;
    }
}

/* ---- SwiGLU ---------------------------------------------------------------------- */

static inline __m256 silu_mul8(__m256 g, __m256 u)
{
    const __m256 e = exp8(_mm256_xor_ps(g, _mm256_set1_ps(-0.0f)));
    return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
}

static inline __m256 gelu_mul8(__m256 x, __m256 u)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 t = _mm256_add_ps(one, _mm256_mul_ps(_mm256_set1_ps(GELU_A), _mm256_mul_ps(x, x)));
    const __m256 e = exp8(_mm256_mul_ps(_mm256_set1_ps(GELU_K), _mm256_mul_ps(x, t)));
    return _mm256_mul_ps(_mm256_div_ps(x, _mm256_add_ps(one, e)), u);
}

/* g[i] = f(g[i], u[i]) eight at a time, the tail masked: the gated FFN kernels */
#define GATE_KERNEL(name, f8)                                                                     \
    void name(float *g, const float *u, int n)                                                    \
    {                                                                                             \
        int i = 0;                                                                                \
        for (; i + 8 <= n; i += 8)                                                                \
            _mm256_storeu_ps(g + i, f8(_mm256_loadu_ps(g + i), _mm256_loadu_ps(u + i)));          \
        if (i < n) {                                                                              \
            const __m256i m = tail_mask(n - i);                                                   \
            _mm256_maskstore_ps(g + i, m, f8(_mm256_maskload_ps(g + i, m), _mm256_maskload_ps(u + i, m))); \
        }                                                                                         \
    }
GATE_KERNEL(elem_silu_mul_avx2, silu_mul8)
GATE_KERNEL(elem_gelu_mul_avx2, gelu_mul8)

/* ---- softmax ----------------------------------------------------------------------- */

static inline float hmax8(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* exp(x*scale - mx), with the reference's two roundings. */
static inline __m256 softmax_exp8(__m256 v, __m256 vs, __m256 vm)
{
    return exp8(_mm256_sub_ps(_mm256_mul_ps(v, vs), vm));
}

void elem_softmax_avx2(float *x, int n, float scale)
{
    const __m256 vs = _mm256_set1_ps(scale), ninf = _mm256_set1_ps(-INFINITY);
    const int nv = n & ~7, rem = n - nv;
    const __m256i m = tail_mask(rem > 0 ? rem : 1);
    const __m256 mf = _mm256_castsi256_ps(m);
    __m256 vmax = ninf;
    for (int i = 0; i < nv; i += 8)
        vmax = _mm256_max_ps(vmax, _mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
    if (rem)
        vmax = _mm256_max_ps(vmax, _mm256_blendv_ps(ninf, _mm256_mul_ps(_mm256_maskload_ps(x + nv, m), vs), mf));
    const __m256 vm = _mm256_set1_ps(hmax8(vmax));

    /* the sum over 16 double lanes: vector i/8 into (a0, a1) when even, (a2, a3) when odd */
    __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    int i = 0;
    for (; i + 16 <= nv; i += 16) {
        const __m256 e0 = softmax_exp8(_mm256_loadu_ps(x + i), vs, vm);
        const __m256 e1 = softmax_exp8(_mm256_loadu_ps(x + i + 8), vs, vm);
        add_pd8(&a0, &a1, e0);
        add_pd8(&a2, &a3, e1);
        _mm256_storeu_ps(x + i, e0);
        _mm256_storeu_ps(x + i + 8, e1);
    }
    if (i < nv) {
        const __m256 e = softmax_exp8(_mm256_loadu_ps(x + i), vs, vm);
        add_pd8(&a0, &a1, e);
        _mm256_storeu_ps(x + i, e);
        i += 8;
    }
    if (rem) { /* masked-off lanes load 0: their exp must not reach the sum */
        const __m256 e = _mm256_and_ps(softmax_exp8(_mm256_maskload_ps(x + nv, m), vs, vm), mf);
        if (i & 8)
            add_pd8(&a2, &a3, e);
        else
            add_pd8(&a0, &a1, e);
        _mm256_maskstore_ps(x + nv, m, e);
    }
    const double sum = sum16_pd(a0, a1, a2, a3);

    const __m256 inv = _mm256_set1_ps((float)(1.0 / sum));
    for (i = 0; i < nv; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
    if (rem)
        _mm256_maskstore_ps(x + nv, m, _mm256_mul_ps(_mm256_maskload_ps(x + nv, m), inv));
}

/* ---- conversions ------------------------------------------------------------------ */

void elem_f32_to_f16_avx2(const void *src, void *dst, int64_t n)
{
    const float *x = src;
    uint16_t *y = dst;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++)
        y[i] = type_f32_to_f16(x[i]);
}

void elem_f16_to_f32_avx2(const void *src, void *dst, int64_t n)
{
    const uint16_t *x = src;
    float *y = dst;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
    for (; i < n; i++)
        y[i] = type_f16_to_f32(x[i]);
}

/* type_f32_to_bf16() on 8 lanes, results in the low 16 bits of each. */
static inline __m256i bf16_round8(__m256 v)
{
    const __m256i u = _mm256_castps_si256(v), hi = _mm256_srli_epi32(u, 16);
    const __m256i lsb = _mm256_and_si256(hi, _mm256_set1_epi32(1));
    const __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), lsb), 16);
    const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
                                           _mm256_set1_epi32(0x7f800000));
    return _mm256_blendv_epi8(r, _mm256_or_si256(hi, _mm256_set1_epi32(0x40)), nan);
}

void elem_f32_to_bf16_avx2(const void *src, void *dst, int64_t n)
{
    const float *x = src;
    uint16_t *y = dst;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        /* packus works per 128-bit lane: (a0-3 b0-3 | a4-7 b4-7), put back in order */
        const __m256i p = _mm256_packus_epi32(bf16_round8(_mm256_loadu_ps(x + i)),
                                              bf16_round8(_mm256_loadu_ps(x + i + 8)));
        _mm256_storeu_si256((__m256i *)(y + i), _mm256_permute4x64_epi64(p, _MM_SHUFFLE(3, 1, 2, 0)));
    }
    for (; i < n; i++)
        y[i] = type_f32_to_bf16(x[i]);
}

void elem_bf16_to_f32_avx2(const void *src, void *dst, int64_t n)
{
    const uint16_t *x = src;
    float *y = dst;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i u = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(x + i)));
        _mm256_storeu_ps(y + i, _mm256_castsi256_ps(_mm256_slli_epi32(u, 16)));
    }
    for (; i < n; i++)
        y[i] = type_bf16_to_f32(x[i]);
}

#endif
