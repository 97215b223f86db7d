/* SPDX-License-Identifier: MIT */
/* x86 tiers of the "dot" family. Compiled without ISA flags on every arch:
 * it only stores function pointers, and is an empty stub off x86-64. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#elif defined(__x86_64__)
/* A plain build (no configure) compiles every ISA file. */
#define HAVE_AVX2 1
#define HAVE_AVX512 1
#define HAVE_AMX 1
#endif

#include "cpu.h"

void dot_init_x86(resa_dot_ctx *c, unsigned flags)
{
#if defined(__x86_64__) && defined(HAVE_AVX2)
    if (!(flags & RESA_CPU_AVX2))
        return;
    c->vec_dot[RESA_TYPE_F32] = dot_f32_avx2;
    c->vec_dot[RESA_TYPE_F16] = dot_f16_avx2;
    c->vec_dot[RESA_TYPE_BF16] = dot_bf16_avx2;
    c->vec_dot[RESA_TYPE_Q4_0] = dot_q4_0_avx2;
    c->vec_dot[RESA_TYPE_Q4_1] = dot_q4_1_avx2;
    c->vec_dot[RESA_TYPE_Q8_0] = dot_q8_0_avx2;
    c->gemv[RESA_TYPE_F32] = dot_gemv_f32_avx2;
    c->gemv[RESA_TYPE_F16] = dot_gemv_f16_avx2;
    c->gemv[RESA_TYPE_BF16] = dot_gemv_bf16_avx2;
    c->gemv[RESA_TYPE_Q4_0] = dot_gemv_q4_0_avx2;
    c->gemv[RESA_TYPE_Q4_1] = dot_gemv_q4_1_avx2;
    c->gemv[RESA_TYPE_Q8_0] = dot_gemv_q8_0_avx2;
    c->gemm[RESA_TYPE_F32] = dot_gemm_f32_avx2;
    c->gemm[RESA_TYPE_F16] = dot_gemm_f16_avx2;
    c->gemm[RESA_TYPE_BF16] = dot_gemm_bf16_avx2;
    c->gemm[RESA_TYPE_Q4_0] = dot_gemm_q4_0_avx2;
    c->gemm[RESA_TYPE_Q4_1] = dot_gemm_q4_1_avx2;
    c->gemm[RESA_TYPE_Q8_0] = dot_gemm_q8_0_avx2;
    c->quantize[RESA_TYPE_Q8_0] = dot_quantize_q8_0_avx2;
    c->quantize[RESA_TYPE_Q8_1] = dot_quantize_q8_1_avx2;
    c->quantize[RESA_TYPE_Q8_K] = dot_quantize_q8_k_avx2;
    c->to_float[RESA_TYPE_F16] = dot_to_float_f16_avx2;
#define SET_K(type, name)                       \
    do {                                        \
        c->vec_dot[type] = dot_##name##_avx2;   \
        c->gemv[type] = dot_gemv_##name##_avx2; \
    } while (0)
    SET_K(RESA_TYPE_Q5_0, q5_0);
    SET_K(RESA_TYPE_Q5_1, q5_1);
    SET_K(RESA_TYPE_IQ4_NL, iq4_nl);
    SET_K(RESA_TYPE_Q2_K, q2_k);
    SET_K(RESA_TYPE_Q3_K, q3_k);
    SET_K(RESA_TYPE_Q4_K, q4_k);
    SET_K(RESA_TYPE_Q5_K, q5_k);
    SET_K(RESA_TYPE_Q6_K, q6_k);
    SET_K(RESA_TYPE_IQ4_XS, iq4_xs);
#undef SET_K
    /* Q5_0, Q5_1 and IQ4_NL: the panel gemm; Q2_K..Q6_K: kquant_rows_avx2.h; IQ4_XS loops over vec_dot */
    c->gemm[RESA_TYPE_Q5_0] = dot_gemm_q5_0_avx2;
    c->gemm[RESA_TYPE_Q5_1] = dot_gemm_q5_1_avx2;
    c->gemm[RESA_TYPE_IQ4_NL] = dot_gemm_iq4_nl_avx2;
    c->gemm[RESA_TYPE_Q2_K] = dot_gemm_q2_k_avx2;
    c->gemm[RESA_TYPE_Q3_K] = dot_gemm_q3_k_avx2;
    c->gemm[RESA_TYPE_Q4_K] = dot_gemm_q4_k_avx2;
    c->gemm[RESA_TYPE_Q5_K] = dot_gemm_q5_k_avx2;
    c->gemm[RESA_TYPE_Q6_K] = dot_gemm_q6_k_avx2;
    c->gemm[RESA_TYPE_IQ4_XS] = dot_gemm_iq4_xs_avx2;

#if defined(HAVE_AVX512)
    if (!(flags & RESA_CPU_AVX512))
        return;
    c->vec_dot[RESA_TYPE_F32] = dot_f32_avx512;
    c->vec_dot[RESA_TYPE_F16] = dot_f16_avx512;
    c->vec_dot[RESA_TYPE_BF16] = dot_bf16_avx512;
    c->gemv[RESA_TYPE_F32] = dot_gemv_f32_avx512;
    c->gemv[RESA_TYPE_F16] = dot_gemv_f16_avx512;
    c->gemv[RESA_TYPE_BF16] = dot_gemv_bf16_avx512;
    c->gemm[RESA_TYPE_F32] = dot_gemm_f32_avx512;
    c->gemm[RESA_TYPE_F16] = dot_gemm_f16_avx512;
    c->gemm[RESA_TYPE_BF16] = dot_gemm_bf16_avx512;
    /* int8 kernels: 512-bit versions measured slower than AVX2 (port-bound),
     * so those stay until VNNI */
    c->quantize[RESA_TYPE_Q8_0] = dot_quantize_q8_0_avx512;
    c->quantize[RESA_TYPE_Q8_1] = dot_quantize_q8_1_avx512;
    c->quantize[RESA_TYPE_Q8_K] = dot_quantize_q8_k_avx512;

    if (!(flags & RESA_CPU_AVX512_VNNI))
        return;
    c->vec_dot[RESA_TYPE_Q4_0] = dot_q4_0_avx512vnni;
    c->vec_dot[RESA_TYPE_Q4_1] = dot_q4_1_avx512vnni;
    c->vec_dot[RESA_TYPE_Q8_0] = dot_q8_0_avx512vnni;
    c->gemv[RESA_TYPE_Q4_0] = dot_gemv_q4_0_avx512vnni;
    c->gemv[RESA_TYPE_Q4_1] = dot_gemv_q4_1_avx512vnni;
    c->gemv[RESA_TYPE_Q8_0] = dot_gemv_q8_0_avx512vnni;
    c->gemm[RESA_TYPE_Q4_0] = dot_gemm_q4_0_avx512vnni;
    c->gemm[RESA_TYPE_Q4_1] = dot_gemm_q4_1_avx512vnni;
    c->gemm[RESA_TYPE_Q8_0] = dot_gemm_q8_0_avx512vnni;
#define SET_VNNI(type, name)                          \
    do {                                              \
        c->vec_dot[type] = dot_##name##_avx512vnni;   \
        c->gemv[type] = dot_gemv_##name##_avx512vnni; \
    } while (0)
    SET_VNNI(RESA_TYPE_Q5_0, q5_0);
    SET_VNNI(RESA_TYPE_Q5_1, q5_1);
    SET_VNNI(RESA_TYPE_IQ4_NL, iq4_nl);
    SET_VNNI(RESA_TYPE_Q2_K, q2_k);
    SET_VNNI(RESA_TYPE_Q3_K, q3_k);
    SET_VNNI(RESA_TYPE_Q4_K, q4_k);
    SET_VNNI(RESA_TYPE_Q5_K, q5_k);
    SET_VNNI(RESA_TYPE_Q6_K, q6_k);
#undef SET_VNNI
    /* IQ4_XS stays AVX2's (simd/x86/dot_avx512.c says why) */
    c->gemm[RESA_TYPE_Q5_0] = dot_gemm_q5_0_avx512vnni;
    c->gemm[RESA_TYPE_Q5_1] = dot_gemm_q5_1_avx512vnni;
    c->gemm[RESA_TYPE_IQ4_NL] = dot_gemm_iq4_nl_avx512vnni;
    c->gemm[RESA_TYPE_Q2_K] = dot_gemm_q2_k_avx512vnni;
    c->gemm[RESA_TYPE_Q3_K] = dot_gemm_q3_k_avx512vnni;
    c->gemm[RESA_TYPE_Q4_K] = dot_gemm_q4_k_avx512vnni;
    c->gemm[RESA_TYPE_Q5_K] = dot_gemm_q5_k_avx512vnni;
    c->gemm[RESA_TYPE_Q6_K] = dot_gemm_q6_k_avx512vnni;

#if defined(HAVE_AMX)
    if (!(flags & RESA_CPU_AMX))
        return;
    c->gemm[RESA_TYPE_Q4_0] = dot_gemm_q4_0_amx;
    c->gemm[RESA_TYPE_Q4_1] = dot_gemm_q4_1_amx;
    c->gemm[RESA_TYPE_Q8_0] = dot_gemm_q8_0_amx;
    c->gemm[RESA_TYPE_Q5_0] = dot_gemm_q5_0_amx;
    c->gemm[RESA_TYPE_Q5_1] = dot_gemm_q5_1_amx;
    c->gemm[RESA_TYPE_IQ4_NL] = dot_gemm_iq4_nl_amx;
#endif
#endif
#else
    (void)c;
    (void)flags;
#endif
}
