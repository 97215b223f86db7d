/* Kernel family "dot": one weight row against one activation vector, the
 * inner loop of every matrix-vector and matrix-matrix product.
 *
 * Pure, single-threaded, no allocation. The engine threads over rows. */
#ifndef RESA_SIMD_DOT_H
#define RESA_SIMD_DOT_H

#include <stdint.h>

#include "types.h"

/* *s = sum_i w[i] * a[i] over n elements (n a multiple of the weight type's
 * block size). w is a weight row in its own type; a is the activation row in
 * the weight type's vec_dot_type (F32 for F32/F16/BF16 weights, Q8_0 for
 * Q4_0/Q8_0, Q8_1 for Q4_1). */
#define decl_vec_dot_fn(name) void(name)(int64_t n, float *s, const void *w, const void *a)
typedef decl_vec_dot_fn(*resa_vec_dot_fn);

/* Activation quantizer: n floats -> vec_dot_type blocks. */
#define decl_quantize_fn(name) void(name)(const float *x, void *y, int64_t n)
typedef decl_quantize_fn(*resa_quantize_fn);

/* Row dequantizer: n elements of a type -> floats (bit-exact with the
 * type's reference to_float). */
typedef resa_to_float_fn resa_to_float_kernel;

typedef struct resa_dot_ctx {
    resa_vec_dot_fn vec_dot[RESA_TYPE_COUNT];      /* indexed by weight type */
    resa_quantize_fn quantize[RESA_TYPE_COUNT];    /* indexed by activation type (Q8_0, Q8_1) */
    resa_to_float_kernel to_float[RESA_TYPE_COUNT]; /* indexed by type; KV cache rows, BLAS path */
} resa_dot_ctx;

void resa_dot_init_c(resa_dot_ctx *c);
void resa_dot_init_x86(resa_dot_ctx *c, unsigned flags);
void resa_dot_init_arm(resa_dot_ctx *c, unsigned flags);

/* The kernels of each ISA file, declared once here so that the definitions
 * (simd/x86/dot_<isa>.c, simd/arm/dot_neon.c) and the arch init functions
 * cannot drift. Only the files built for the host arch define them; the
 * init functions reference them under the same arch guards. */
#define RESA_DOT_DECLARE_ISA(isa)                 \
    decl_vec_dot_fn(dot_f32_##isa);               \
    decl_vec_dot_fn(dot_f16_##isa);               \
    decl_vec_dot_fn(dot_bf16_##isa);              \
    decl_vec_dot_fn(dot_q4_0_##isa);              \
    decl_vec_dot_fn(dot_q4_1_##isa);              \
    decl_vec_dot_fn(dot_q8_0_##isa);              \
    decl_quantize_fn(dot_quantize_q8_0_##isa);    \
    decl_quantize_fn(dot_quantize_q8_1_##isa);    \
    void dot_to_float_f16_##isa(const void *src, float *dst, int64_t n)
RESA_DOT_DECLARE_ISA(avx2);
RESA_DOT_DECLARE_ISA(neon);
/* AVX-512 (F/BW/DQ/VL): float dots and quantizers; its int8 dots are AVX2's */
decl_vec_dot_fn(dot_f32_avx512);
decl_vec_dot_fn(dot_f16_avx512);
decl_vec_dot_fn(dot_bf16_avx512);
decl_quantize_fn(dot_quantize_q8_0_avx512);
decl_quantize_fn(dot_quantize_q8_1_avx512);
/* int8 dots only, on top of a full tier */
decl_vec_dot_fn(dot_q4_0_avx512vnni);
decl_vec_dot_fn(dot_q4_1_avx512vnni);
decl_vec_dot_fn(dot_q8_0_avx512vnni);
decl_vec_dot_fn(dot_q4_0_dotprod);
decl_vec_dot_fn(dot_q4_1_dotprod);
decl_vec_dot_fn(dot_q8_0_dotprod);

#endif
