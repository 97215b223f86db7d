/* Scalar references of the "elem" family: the specification the SIMD tiers
 * are tested against, and the kernels of machines without one.
 *
 * The order of operations is part of the spec where the tiers reproduce it
 * bit for bit (RoPE: two products, then one add or subtract, never fused;
 * RMSNorm's (x * scale) * w). Compiled with -std=c11, which keeps GCC from
 * contracting a*b - c*d into an FMA (-ffp-contract=off). */
#include <math.h>

#include "elem.h"
#include "types.h"

/* The sum of float squares is accumulated in double, as llama.cpp does: with
 * rows of thousands of activations a float sum would lose low bits. */
void elem_rmsnorm_c(float *y, const float *x, const float *w, int n, float eps)
{
    double ss = 0.0;
    for (int i = 0; i < n; i++)
        ss += (double)(x[i] * x[i]);
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
        g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

/* max first, so that every exponent is <= 0 and nothing overflows; the sum in
 * double; one reciprocal, n multiplies. */
void elem_softmax_c(float *x, int n, float scale)
{
    float mx = x[0] * scale;
    for (int i = 1; i < n; i++)
        mx = fmaxf(mx, x[i] * scale);
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] * scale - mx);
        sum += x[i];
    }
    const float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++)
        x[i] *= inv;
}

void elem_f32_to_f16_c(const void *src, void *dst, int64_t n)
{
    const float *x = src;
    uint16_t *y = dst;
    for (int64_t i = 0; i < n; i++)
        y[i] = resa_f32_to_f16(x[i]);
}

void elem_f16_to_f32_c(const void *src, void *dst, int64_t n)
{
    const uint16_t *x = src;
    float *y = dst;
    for (int64_t i = 0; i < n; i++)
        y[i] = resa_f16_to_f32(x[i]);
}

void elem_f32_to_bf16_c(const void *src, void *dst, int64_t n)
{
    const float *x = src;
    uint16_t *y = dst;
    for (int64_t i = 0; i < n; i++)
        y[i] = resa_f32_to_bf16(x[i]);
}

void elem_bf16_to_f32_c(const void *src, void *dst, int64_t n)
{
    const uint16_t *x = src;
    float *y = dst;
    for (int64_t i = 0; i < n; i++)
        y[i] = resa_bf16_to_f32(x[i]);
}

void elem_exp_c(float *y, const float *x, int n)
{
    for (int i = 0; i < n; i++)
        y[i] = expf(x[i]);
}
