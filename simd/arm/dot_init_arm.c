/* SPDX-License-Identifier: MIT */
/* aarch64 tiers of the "dot" family. Compiled on every arch: it only stores
 * function pointers, and is an empty stub off aarch64. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#elif defined(__aarch64__)
#define HAVE_NEON 1 /* a plain build compiles every ISA file */
#endif

#include "cpu.h"

void dot_init_arm(resa_dot_ctx *c, unsigned flags)
{
#if defined(__aarch64__) && defined(HAVE_NEON)
    if (!(flags & RESA_CPU_NEON))
        return;
    c->vec_dot[RESA_TYPE_F32] = dot_f32_neon;
    c->vec_dot[RESA_TYPE_F16] = dot_f16_neon;
    c->vec_dot[RESA_TYPE_BF16] = dot_bf16_neon;
    c->vec_dot[RESA_TYPE_Q4_0] = dot_q4_0_neon;
    c->vec_dot[RESA_TYPE_Q4_1] = dot_q4_1_neon;
    c->vec_dot[RESA_TYPE_Q8_0] = dot_q8_0_neon;
    c->gemv[RESA_TYPE_F32] = dot_gemv_f32_neon;
    c->gemv[RESA_TYPE_F16] = dot_gemv_f16_neon;
    c->gemv[RESA_TYPE_BF16] = dot_gemv_bf16_neon;
    c->gemv[RESA_TYPE_Q4_0] = dot_gemv_q4_0_neon;
    c->gemv[RESA_TYPE_Q4_1] = dot_gemv_q4_1_neon;
    c->gemv[RESA_TYPE_Q8_0] = dot_gemv_q8_0_neon;
    c->gemm[RESA_TYPE_F32] = dot_gemm_f32_neon;
    c->gemm[RESA_TYPE_F16] = dot_gemm_f16_neon;
    c->gemm[RESA_TYPE_BF16] = dot_gemm_bf16_neon;
    c->gemm[RESA_TYPE_Q4_0] = dot_gemm_q4_0_neon;
    c->gemm[RESA_TYPE_Q4_1] = dot_gemm_q4_1_neon;
    c->gemm[RESA_TYPE_Q8_0] = dot_gemm_q8_0_neon;
    c->quantize[RESA_TYPE_Q8_0] = dot_quantize_q8_0_neon;
    c->quantize[RESA_TYPE_Q8_1] = dot_quantize_q8_1_neon;
    c->quantize[RESA_TYPE_Q8_K] = dot_quantize_q8_k_neon;
    c->to_float[RESA_TYPE_F16] = dot_to_float_f16_neon;
#define SET_ALL(type, name, isa)                 \
    do {                                         \
        c->vec_dot[type] = dot_##name##_##isa;   \
        c->gemv[type] = dot_gemv_##name##_##isa; \
        c->gemm[type] = dot_gemm_##name##_##isa; \
    } while (0)
#define SET_K(isa)                                \
    do {                                          \
        SET_ALL(RESA_TYPE_Q5_0, q5_0, isa);       \
        SET_ALL(RESA_TYPE_Q5_1, q5_1, isa);       \
        SET_ALL(RESA_TYPE_IQ4_NL, iq4_nl, isa);   \
        SET_ALL(RESA_TYPE_Q2_K, q2_k, isa);       \
        SET_ALL(RESA_TYPE_Q3_K, q3_k, isa);       \
        SET_ALL(RESA_TYPE_Q4_K, q4_k, isa);       \
        SET_ALL(RESA_TYPE_Q5_K, q5_k, isa);       \
        SET_ALL(RESA_TYPE_Q6_K, q6_k, isa);       \
        SET_ALL(RESA_TYPE_IQ4_XS, iq4_xs, isa);   \
    } while (0)
    SET_K(neon);

    if (!(flags & RESA_CPU_DOTPROD))
        return;
    c->vec_dot[RESA_TYPE_Q4_0] = dot_q4_0_dotprod;
    c->vec_dot[RESA_TYPE_Q4_1] = dot_q4_1_dotprod;
    c->vec_dot[RESA_TYPE_Q8_0] = dot_q8_0_dotprod;
    c->gemv[RESA_TYPE_Q4_0] = dot_gemv_q4_0_dotprod;
    c->gemv[RESA_TYPE_Q4_1] = dot_gemv_q4_1_dotprod;
    c->gemv[RESA_TYPE_Q8_0] = dot_gemv_q8_0_dotprod;
    c->gemm[RESA_TYPE_Q4_0] = dot_gemm_q4_0_dotprod;
    c->gemm[RESA_TYPE_Q4_1] = dot_gemm_q4_1_dotprod;
    c->gemm[RESA_TYPE_Q8_0] = dot_gemm_q8_0_dotprod;
    SET_K(dotprod);
#undef SET_K
#undef SET_ALL
#else
    (void)c;
    (void)flags;
#endif
}
