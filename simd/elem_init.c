/* SPDX-License-Identifier: MIT */
/* Dispatch of the "elem" family: the scalar references, then each tier the
 * CPU flags allow, the best last. Compiled without ISA flags on every arch:
 * it only stores function pointers. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#elif defined(__x86_64__)
/* A plain build (no configure) compiles every ISA file. */
#define HAVE_AVX2 1
#define HAVE_AVX512 1
#elif defined(__aarch64__)
#define HAVE_NEON 1
#endif

#include "cpu.h"

#define ELEM_INSTALL(c, isa)                      \
    do {                                          \
        (c)->rmsnorm = elem_rmsnorm_##isa;        \
        (c)->rope_norm = elem_rope_norm_##isa;    \
        (c)->rope_neox = elem_rope_neox_##isa;    \
        (c)->silu_mul = elem_silu_mul_##isa;      \
        (c)->gelu_mul = elem_gelu_mul_##isa;      \
        (c)->softmax = elem_softmax_##isa;        \
        (c)->f32_to_f16 = elem_f32_to_f16_##isa;  \
        (c)->f16_to_f32 = elem_f16_to_f32_##isa;  \
        (c)->f32_to_bf16 = elem_f32_to_bf16_##isa; \
        (c)->bf16_to_f32 = elem_bf16_to_f32_##isa; \
    } while (0)

static void init_x86(resa_elem_ctx *c, unsigned flags)
{
#if defined(__x86_64__) && defined(HAVE_AVX2)
    if (!(flags & RESA_CPU_AVX2))
        return;
    ELEM_INSTALL(c, avx2);
#if defined(HAVE_AVX512)
    if (!(flags & RESA_CPU_AVX512))
        return;
    ELEM_INSTALL(c, avx512);
#endif
#else
    (void)c;
    (void)flags;
#endif
}

static void init_arm(resa_elem_ctx *c, unsigned flags)
{
#if defined(__aarch64__) && defined(HAVE_NEON)
    if (!(flags & RESA_CPU_NEON))
        return;
    ELEM_INSTALL(c, neon);
#else
    (void)c;
    (void)flags;
#endif
}

void elem_init(resa_elem_ctx *c, unsigned flags)
{
    ELEM_INSTALL(c, c);
    init_x86(c, flags);
    init_arm(c, flags);
}
