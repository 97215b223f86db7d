/* SPDX-License-Identifier: MIT */
/* "elem" kernels for AArch64 Advanced SIMD (baseline: no flags needed).
 * Compiled on every arch; empty off aarch64.
 *
 * The same contract with the scalar reference as simd/x86/elem_avx2.c: every
 * kernel bit-exact (the reference's exp recipe, its 16 double lanes and sum
 * tree; issue 3). vld2q/vst2q (de)interleave the RoPE
 * pairs and the (cos, sin) table for free. FPCR as Linux sets it (round to
 * nearest, no flush-to-zero, no default NaN) makes vcvt_f16_f32 round and
 * quiet NaNs as type_f32_to_f16() does. Tails of the exp kernels go through
 * a 4-float stack copy, so every element sees the same code. */
#if defined(__aarch64__)

#include <arm_neon.h>
#include <math.h>
#include <string.h>

#include "elem.h"
#include "types.h"

/* ---- exp ---------------------------------------------------------------------- */

/* exp_recipe() of simd/elem_c.c, as exp8() in simd/x86/elem_avx2.c: the
 * same reduction, polynomial and two-step scaling by 2^k. vminq/vmaxq return NaN if either input is. */
#include "exp_neon.h"

void elem_exp_neon(float *y, const float *x, int n)
{
    int i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(y + i, exp4(vld1q_f32(x + i)));
    if (i < n) {
        float t[4] = {0};
        memcpy(t, x + i, (size_t)(n - i) * sizeof *t);
        vst1q_f32(t, exp4(vld1q_f32(t)));
        memcpy(y + i, t, (size_t)(n - i) * sizeof *t);
    }
}

/* ---- RMSNorm ------------------------------------------------------------------ */

/* Adds the 4 floats of e, widened to double, to *a (low half) and *b. */
static inline void add_f64x4(float64x2_t *a, float64x2_t *b, float32x4_t e)
{
    *a = vaddq_f64(*a, vcvt_f64_f32(vget_low_f32(e)));
    *b = vaddq_f64(*b, vcvt_high_f64_f32(e));
}

/* 16 double lanes a[0..8) (a[k]: lanes 2k, 2k+1) added in the reference's
 * sum16() tree: halves folded onto halves, lane i + lane i+w, w = 8, 4, 2, 1. */
static inline double sum16_f64(const float64x2_t *a)
{
    const float64x2_t h0 = vaddq_f64(a[0], a[4]), h1 = vaddq_f64(a[1], a[5]);
    const float64x2_t h2 = vaddq_f64(a[2], a[6]), h3 = vaddq_f64(a[3], a[7]);
    const float64x2_t s = vaddq_f64(vaddq_f64(h0, h2), vaddq_f64(h1, h3));
    return vgetq_lane_f64(s, 0) + vgetq_lane_f64(s, 1);
}

/* Adds 16 floats from x to the 16 lanes. */
static inline void add_f64x16(float64x2_t *a, const float *x, int square)
{
    for (int c = 0; c < 4; c++) {
        float32x4_t v = vld1q_f32(x + 4 * c);
        if (square)
            v = vmulq_f32(v, v);
        add_f64x4(&a[2 * c], &a[2 * c + 1], v);
    }
}

void elem_rmsnorm_neon(float *y, const float *x, const float *w, int n, float eps)
{
    float64x2_t a[8];
    for (int c = 0; c < 8; c++)
        a[c] = vdupq_n_f64(0.0);
    int i = 0;
    for (; i + 16 <= n; i += 16)
        add_f64x16(a, x + i, 1);
    if (i < n) { /* zeros past the row: +0 squares add exactly nothing */
        float t[16] = {0};
        memcpy(t, x + i, (size_t)(n - i) * sizeof *t);
        add_f64x16(a, t, 1);
    }
    const double ss = sum16_f64(a);

    const float scale = 1.0f / sqrtf((float)(ss / n) + eps);
    const float32x4_t vs = vdupq_n_f32(scale);
    for (i = 0; i + 4 <= n; i += 4)
        vst1q_f32(y + i, vmulq_f32(vmulq_f32(vld1q_f32(x + i), vs), vld1q_f32(w + i)));
    for (; i < n; i++)
        y[i] = (x[i] * scale) * w[i];
}

/* ---- RoPE ---------------------------------------------------------------------- */

void elem_rope_norm_neon(float *x, const float *cs, int n_rot)
{
    int i = 0;
    for (; i + 8 <= n_rot; i += 8) {
        const float32x4x2_t v = vld2q_f32(x + i), t = vld2q_f32(cs + i);
        float32x4x2_t o;
        o.val[0] = vsubq_f32(vmulq_f32(v.val[0], t.val[0]), vmulq_f32(v.val[1], t.val[1]));
        o.val[1] = vaddq_f32(vmulq_f32(v.val[0], t.val[1]), vmulq_f32(v.val[1], t.val[0]));
        vst2q_f32(x + i, o);
    }
    for (; i + 1 < n_rot; i += 2) {
        const float x0 = x[i], x1 = x[i + 1], c = cs[i], s = cs[i + 1];
        x[i] = x0 * c - x1 * s;
        x[i + 1] = x0 * s + x1 * c;
    }
}

void elem_rope_neox_neon(float *x, const float *cs, int n_rot)
{
    const int half = n_rot / 2;
    int i = 0;
    for (; i + 4 <= half; i += 4) {
        const float32x4x2_t t = vld2q_f32(cs + 2 * i);
        const float32x4_t x0 = vld1q_f32(x + i), x1 = vld1q_f32(x + half + i);
        vst1q_f32(x + i, vsubq_f32(vmulq_f32(x0, t.val[0]), vmulq_f32(x1, t.val[1])));
        vst1q_f32(x + half + i, vaddq_f32(vmulq_f32(x0, t.val[1]), vmulq_f32(x1, t.val[0])));
    }
    for (; i < half; i++) {
        const float x0 = x[i], x1 = x[i + half], c = cs[2 * i], s = cs[2 * i + 1];
        x[i] = x0 * c - x1 * s;
        x[i + half] = x0 * s + x1 * c;
    }
}

/* ---- SwiGLU ---------------------------------------------------------------------- */

static inline float32x4_t silu_mul4(float32x4_t g, float32x4_t u)
{
    const float32x4_t e = exp4(vnegq_f32(g));
    return vmulq_f32(vdivq_f32(g, vaddq_f32(vdupq_n_f32(1.0f), e)), u);
}

static inline float32x4_t gelu_mul4(float32x4_t x, float32x4_t u)
{
    const float32x4_t one = vdupq_n_f32(1.0f);
    const float32x4_t t = vaddq_f32(one, vmulq_f32(vdupq_n_f32(GELU_A), vmulq_f32(x, x)));
    const float32x4_t e = exp4(vmulq_f32(vdupq_n_f32(GELU_K), vmulq_f32(x, t)));
    return vmulq_f32(vdivq_f32(x, vaddq_f32(one, e)), u);
}

/* g[i] = f(g[i], u[i]) four at a time, the tail through a zeroed vector: the gated FFN kernels */
#define GATE_KERNEL(name, f4)                                                \
    void name(float *g, const float *u, int n)                               \
    {                                                                        \
        int i = 0;                                                           \
        for (; i + 4 <= n; i += 4)                                           \
            vst1q_f32(g + i, f4(vld1q_f32(g + i), vld1q_f32(u + i)));        \
        if (i < n) {                                                         \
            float tg[4] = {0}, tu[4] = {0};                                  \
            memcpy(tg, g + i, (size_t)(n - i) * sizeof *tg);                 \
            memcpy(tu, u + i, (size_t)(n - i) * sizeof *tu);                 \
            vst1q_f32(tg, f4(vld1q_f32(tg), vld1q_f32(tu)));                 \
            memcpy(g + i, tg, (size_t)(n - i) * sizeof *tg);                 \
        }                                                                    \
    }
GATE_KERNEL(elem_silu_mul_neon, silu_mul4)
GATE_KERNEL(elem_gelu_mul_neon, gelu_mul4)

/* ---- softmax ----------------------------------------------------------------------- */

void elem_softmax_neon(float *x, int n, float scale)
{
    const int nv = n & ~3, rem = n - nv;
    float mx = -INFINITY;
    if (nv) {
        float32x4_t vmax = vdupq_n_f32(-INFINITY);
        for (int i = 0; i < nv; i += 4)
            vmax = vmaxq_f32(vmax, vmulq_n_f32(vld1q_f32(x + i), scale));
        mx = vmaxvq_f32(vmax);
    }
    for (int i = nv; i < n; i++)
        mx = fmaxf(mx, x[i] * scale);

    /* exp(x*scale - mx) with the reference's two roundings; the sum in 16
     * double lanes (vector i/4 into a[2*(i/4 % 4)], a[2*(i/4 % 4) + 1]) */
    const float32x4_t vm = vdupq_n_f32(mx);
    float64x2_t a[8];
    for (int c = 0; c < 8; c++)
        a[c] = vdupq_n_f64(0.0);
    for (int i = 0; i < nv; i += 4) {
        const float32x4_t e = exp4(vsubq_f32(vmulq_n_f32(vld1q_f32(x + i), scale), vm));
        const int c = (i >> 2) & 3;
        add_f64x4(&a[2 * c], &a[2 * c + 1], e);
        vst1q_f32(x + i, e);
    }
    if (rem) { /* the lanes past the row add +0 */
        float t[4] = {0};
        for (int j = 0; j < rem; j++)
            t[j] = x[nv + j] * scale - mx;
        vst1q_f32(t, exp4(vld1q_f32(t)));
        for (int j = rem; j < 4; j++)
            t[j] = 0.0f;
        const int c = (nv >> 2) & 3;
        add_f64x4(&a[2 * c], &a[2 * c + 1], vld1q_f32(t));
        for (int j = 0; j < rem; j++)
            x[nv + j] = t[j];
    }
    const double sum = sum16_f64(a);

    const float inv = (float)(1.0 / sum);
    for (int i = 0; i < nv; i += 4)
        vst1q_f32(x + i, vmulq_n_f32(vld1q_f32(x + i), inv));
    for (int i = nv; i < n; i++)
        x[i] *= inv;
}

/* ---- conversions ------------------------------------------------------------------ */

void elem_f32_to_f16_neon(const void *src, void *dst, int64_t n)
{
    const float *x = src;
    uint16_t *y = dst;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const float16x8_t h = vcvt_high_f16_f32(vcvt_f16_f32(vld1q_f32(x + i)), vld1q_f32(x + i + 4));
        vst1q_u16(y + i, vreinterpretq_u16_f16(h));
    }
    for (; i < n; i++)
        y[i] = type_f32_to_f16(x[i]);
}

void elem_f16_to_f32_neon(const void *src, void *dst, int64_t n)
{
    const uint16_t *x = src;
    float *y = dst;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(x + i));
        vst1q_f32(y + i, vcvt_f32_f16(vget_low_f16(h)));
        vst1q_f32(y + i + 4, vcvt_high_f32_f16(h));
    }
    for (; i < n; i++)
        y[i] = type_f16_to_f32(x[i]);
}

/* type_f32_to_bf16() on 4 lanes. */
static inline uint16x4_t bf16_round4(float32x4_t v)
{
    const uint32x4_t u = vreinterpretq_u32_f32(v), hi = vshrq_n_u32(u, 16);
    const uint32x4_t r = vshrq_n_u32(vaddq_u32(vaddq_u32(u, vdupq_n_u32(0x7fff)), vandq_u32(hi, vdupq_n_u32(1))), 16);
    const uint32x4_t nan = vcgtq_u32(vandq_u32(u, vdupq_n_u32(0x7fffffff)), vdupq_n_u32(0x7f800000));
    return vmovn_u32(vbslq_u32(nan, vorrq_u32(hi, vdupq_n_u32(0x40)), r));
}

void elem_f32_to_bf16_neon(const void *src, void *dst, int64_t n)
{
    const float *x = src;
    uint16_t *y = dst;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        vst1q_u16(y + i, vcombine_u16(bf16_round4(vld1q_f32(x + i)), bf16_round4(vld1q_f32(x + i + 4))));
    for (; i < n; i++)
        y[i] = type_f32_to_bf16(x[i]);
}

void elem_bf16_to_f32_neon(const void *src, void *dst, int64_t n)
{
    const uint16_t *x = src;
    float *y = dst;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const uint16x8_t h = vld1q_u16(x + i);
        vst1q_f32(y + i, vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16)));
        vst1q_f32(y + i + 4, vreinterpretq_f32_u32(vshll_high_n_u16(h, 16)));
    }
    for (; i < n; i++)
        y[i] = type_bf16_to_f32(x[i]);
}

#endif
