/* SPDX-License-Identifier: MIT */
/* Scalar references of the "elem" family: the specification the SIMD tiers
 * are tested against, and the kernels of machines without one.
 *
 * The order of operations is part of the spec, and every tier reproduces it
 * bit for bit (issue 3: greedy tokens must not depend on the SIMD tier):
 *   - RoPE: two products, then one add or subtract, never fused;
 *   - RMSNorm: the float squares summed in double over 16 lanes (element i
 *     into lane i % 16, in order of i), the lanes added by sum16()'s tree,
 *     then (x * scale) * w;
 *   - silu_mul, gelu_mul, softmax: exp_recipe() below, the same in every tier
 *     (gelu_mul's argument z as simd/exp_recipe.h spells it); the
 *     softmax sum over 16 double lanes as RMSNorm's.
 * Compiled with -std=c11, which keeps GCC from contracting a*b - c*d into an
 * FMA (-ffp-contract=off); the FMAs of the recipe are explicit fmaf() calls. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "elem.h"
#include "types.h"

/* The sum of 16 lanes as every tier adds them (and as the attn family's
 * block scores and decode do): halves folded onto halves, 16 -> 8 -> 4 -> 2
 * -> 1, lane i + lane i+w for w = 8, 4, 2, 1. */
static double sum16(double *a)
{
    for (int w = 8; w >= 1; w /= 2)
        for (int i = 0; i < w; i++)
            a[i] += a[i + w];
    return a[0];
}

/* ---- exp ---------------------------------------------------------------------- */

/* The exp of every tier (x86: exp8/exp16 in simd/x86/elem_*.c and
 * attn_*.c; NEON: exp4), step for step: clamp x to [-104, 89] (NaN passes);
 * k = round-to-nearest-even(x * log2 e); r = x - k ln2 with ln2 in two parts
 * (two FMAs); exp(r) = (q(r) r^2 + r) + 1 with q of degree 4 by Horner's FMAs;
 * then the scaling by 2^k as two normal powers of two 2^(k>>1) * 2^(k-(k>>1)),
 * so that a subnormal result rounds once (the first product is exact), as
 * AVX-512's vscalefps does. At most 1 ulp from libm's expf on every float in
 * [-110, 95]; exp(-104) and below give 0, x = 0 gives exactly 1. */
#include "exp_recipe.h"

static float pow2i(int e) /* 2^e, e in [-126, 127], from the exponent bits */
{
    const uint32_t u = (uint32_t)(e + 127) << 23;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline float exp_recipe(float x)
{
    x = x > EXP_HI ? EXP_HI : x;
    x = x < EXP_LO ? EXP_LO : x;
    const float k = rintf(x * LOG2E);
    float r = fmaf(-k, LN2_HI, x);
    r = fmaf(-k, LN2_LO, r);
    float q = fmaf(EXP_C6, r, EXP_C5);
    q = fmaf(q, r, EXP_C4);
    q = fmaf(q, r, EXP_C3);
    q = fmaf(q, r, EXP_C2);
    const float p = fmaf(q, r * r, r) + 1.0f;
    const int ki = k == k ? (int)k : 0; /* NaN: p is NaN anyway */
    const int k1 = ki >> 1;              /* floor(k / 2), as the tiers' arithmetic shifts */
    return (p * pow2i(k1)) * pow2i(ki - k1);
}

/* The tiers' exp over an array: the scalar kernels' exp, and the hook the
 * tests and benchmarks (and the scalar attention) use. */
void elem_exp_c(float *y, const float *x, int n)
{
    for (int i = 0; i < n; i++)
        y[i] = exp_recipe(x[i]);
}

/* ---- kernels ------------------------------------------------------------------ */

/* The sum of float squares is accumulated in double, as llama.cpp does: with
 * rows of thousands of activations a float sum would lose low bits. */
void elem_rmsnorm_c(float *y, const float *x, const float *w, int n, float eps)
{
    double lane[16] = {0};
    for (int i = 0; i < n; i++)
        lane[i % 16] += (double)(x[i] * x[i]);
    const double ss = sum16(lane);
    const float scale = 1.0f / sqrtf((float)(ss / n) + eps);
    for (int i = 0; i < n; i++)
        y[i] = (x[i] * scale) * w[i];
}

/* Pairs (2i, 2i+1), angle i: cs[2i] = cos, cs[2i+1] = sin. */
void elem_rope_norm_c(float *x, const float *cs, int n_rot)
{
    for (int i = 0; i < n_rot / 2; i++) {
        const float x0 = x[2 * i], x1 = x[2 * i + 1], c = cs[2 * i], s = cs[2 * i + 1];
        x[2 * i] = x0 * c - x1 * s;
        x[2 * i + 1] = x0 * s + x1 * c;
    }
}

/* Pairs (i, i + n_rot/2), angle i. */
void elem_rope_neox_c(float *x, const float *cs, int n_rot)
{
    const int half = n_rot / 2;
    for (int i = 0; i < half; i++) {
        const float x0 = x[i], x1 = x[i + half], c = cs[2 * i], s = cs[2 * i + 1];
        x[i] = x0 * c - x1 * s;
        x[i + half] = x0 * s + x1 * c;
    }
}

void elem_silu_mul_c(float *g, const float *u, int n)
{
    for (int i = 0; i < n; i++)
        g[i] = g[i] / (1.0f + exp_recipe(-g[i])) * u[i];
}

void elem_gelu_mul_c(float *g, const float *u, int n)
{
    for (int i = 0; i < n; i++) {
        const float x = g[i], z = GELU_K * (x * (1.0f + GELU_A * (x * x)));
        g[i] = x / (1.0f + exp_recipe(z)) * u[i];
    }
}

/* max first, so that every exponent is <= 0 and nothing overflows; the sum in
 * double over 16 lanes; one reciprocal, n multiplies. */
void elem_softmax_c(float *x, int n, float scale)
{
    float mx = x[0] * scale;
    for (int i = 1; i < n; i++)
        mx = fmaxf(mx, x[i] * scale);
    double lane[16] = {0};
    for (int i = 0; i < n; i++) {
        x[i] = exp_recipe(x[i] * scale - mx);
        lane[i % 16] += x[i];
    }
    const double sum = sum16(lane);
    const float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++)
        x[i] *= inv;
}

void elem_f32_to_f16_c(const void *src, void *dst, int64_t n)
{
    const float *x = src;
    uint16_t *y = dst;
    for (int64_t i = 0; i < n; i++)
        y[i] = type_f32_to_f16(x[i]);
}

void elem_f16_to_f32_c(const void *src, void *dst, int64_t n)
{
    const uint16_t *x = src;
    float *y = dst;
    for (int64_t i = 0; i < n; i++)
        y[i] = type_f16_to_f32(x[i]);
}

void elem_f32_to_bf16_c(const void *src, void *dst, int64_t n)
{
    const float *x = src;
    uint16_t *y = dst;
    for (int64_t i = 0; i < n; i++)
        y[i] = type_f32_to_bf16(x[i]);
}

void elem_bf16_to_f32_c(const void *src, void *dst, int64_t n)
{
    const uint16_t *x = src;
    float *y = dst;
    for (int64_t i = 0; i < n; i++)
        y[i] = type_bf16_to_f32(x[i]);
}
