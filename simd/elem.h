/* SPDX-License-Identifier: MIT */
/* Kernel family "elem": the elementwise steps of a forward pass (RMSNorm,
 * RoPE, SwiGLU, softmax, float format conversions).
 *
 * Pure, single-threaded, no allocation; the engine threads over rows. Every
 * kernel has a scalar reference in simd/elem_c.c; the tiers are filled by
 * elem_init() from the CPU flags. */
#ifndef RESA_SIMD_ELEM_H
#define RESA_SIMD_ELEM_H

#include <stdint.h>

/* y[i] = x[i] * (1 / sqrt(mean(x^2) + eps)) * w[i], i < n. y may equal x. */
#define decl_rmsnorm_fn(name) void(name)(float *y, const float *x, const float *w, int n, float eps)
typedef decl_rmsnorm_fn(*resa_rmsnorm_fn);

/* Rotates the first n_rot (even) dims of one head in place. cs holds n_rot/2
 * (cos, sin) pairs, interleaved. "norm" rotates pairs (2i, 2i+1) (llama);
 * "neox" rotates (i, i + n_rot/2) (qwen2, neox). */
#define decl_rope_fn(name) void(name)(float *x, const float *cs, int n_rot)
typedef decl_rope_fn(*resa_rope_fn);

/* g[i] = g[i] / (1 + exp(-g[i])) * u[i] (SwiGLU's silu(gate) * up). */
#define decl_silu_mul_fn(name) void(name)(float *g, const float *u, int n)
typedef decl_silu_mul_fn(*resa_silu_mul_fn);

/* g[i] = gelu(g[i]) * u[i], GELU's tanh approximation (gemma3's GeGLU):
 * 0.5 (1 + tanh(y)) = 1 / (1 + exp(-2y)), so gelu(x) = x / (1 + exp(z)) with
 * z = -2 sqrt(2/pi) (x + 0.044715 x^3), computed as simd/exp_recipe.h says:
 * silu_mul's form and exp, and no cancellation in 1 + tanh(y) for y < 0. */
#define decl_gelu_mul_fn(name) decl_silu_mul_fn(name)

/* In place: x[i] = exp(x[i]*scale - max_j x[j]*scale) / sum; n >= 1. */
#define decl_softmax_fn(name) void(name)(float *x, int n, float scale)
typedef decl_softmax_fn(*resa_softmax_fn);

/* Row conversions; f16/bf16 are raw uint16_t bits. f32->f16 rounds to
 * nearest even (as F16C's _MM_FROUND_TO_NEAREST_INT), f32->bf16 too, NaN kept
 * a NaN. */
#define decl_convert_fn(name) void(name)(const void *src, void *dst, int64_t n)
typedef decl_convert_fn(*resa_convert_fn);

typedef struct resa_elem_ctx {
    resa_rmsnorm_fn rmsnorm;
    resa_rope_fn rope_norm, rope_neox;
    resa_silu_mul_fn silu_mul, gelu_mul;
    resa_softmax_fn softmax;
    resa_convert_fn f32_to_f16, f16_to_f32, f32_to_bf16, bf16_to_f32;
} resa_elem_ctx;

/* Scalar references, then the best tier `flags` (cpu_flags()) allow. */
void elem_init(resa_elem_ctx *c, unsigned flags);

/* y[i] = exp(x[i]), i < n; y may equal x. Not in the context: the kernels
 * inline their own vector exp; these are its test and benchmark hooks. */
#define decl_exp_fn(name) void(name)(float *y, const float *x, int n)

/* The kernels of each file (simd/elem_c.c, simd/x86/elem_<isa>.c,
 * simd/arm/elem_neon.c), declared once so that the definitions and
 * elem_init() cannot drift. An ISA's kernels exist only where its file
 * is built (x86-64 with HAVE_AVX2 / HAVE_AVX512, aarch64). */
#define RESA_ELEM_DECLARE_ISA(isa)           \
    decl_rmsnorm_fn(elem_rmsnorm_##isa);     \
    decl_rope_fn(elem_rope_norm_##isa);      \
    decl_rope_fn(elem_rope_neox_##isa);      \
    decl_silu_mul_fn(elem_silu_mul_##isa);   \
    decl_gelu_mul_fn(elem_gelu_mul_##isa);   \
    decl_softmax_fn(elem_softmax_##isa);     \
    decl_convert_fn(elem_f32_to_f16_##isa);  \
    decl_convert_fn(elem_f16_to_f32_##isa);  \
    decl_convert_fn(elem_f32_to_bf16_##isa); \
    decl_convert_fn(elem_bf16_to_f32_##isa); \
    decl_exp_fn(elem_exp_##isa)
RESA_ELEM_DECLARE_ISA(c);
RESA_ELEM_DECLARE_ISA(avx2);
RESA_ELEM_DECLARE_ISA(avx512);
RESA_ELEM_DECLARE_ISA(neon);

#endif
