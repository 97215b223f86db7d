/* SPDX-License-Identifier: MIT */
/* Dispatch of the "attn" family: the scalar references, then each tier the
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

/* The kernels of each tier, declared with the family's macros (the ISA
 * files define them with the same macros, so the signatures cannot drift). */
#define ATTN_DECLARE(isa)                          \
    decl_attn_decode_fn(attn_decode_f16_##isa);    \
    decl_attn_decode_fn(attn_decode_f32_##isa);    \
    decl_block_score_fn(attn_block_score_f16_##isa); \
    decl_block_score_fn(attn_block_score_f32_##isa); \
    decl_summary_add_fn(attn_summary_add_##isa)
ATTN_DECLARE(c);
ATTN_DECLARE(avx2);
ATTN_DECLARE(avx512);
ATTN_DECLARE(neon);

#define ATTN_INSTALL(c, isa)                                \
    do {                                                    \
        (c)->decode[RESA_TYPE_F16] = attn_decode_f16_##isa; \
        (c)->decode[RESA_TYPE_F32] = attn_decode_f32_##isa; \
        (c)->block_score[RESA_TYPE_F16] = attn_block_score_f16_##isa; \
        (c)->block_score[RESA_TYPE_F32] = attn_block_score_f32_##isa; \
        (c)->summary_add = attn_summary_add_##isa;          \
    } while (0)

static void init_x86(resa_attn_ctx *c, unsigned flags)
{
#if defined(__x86_64__) && defined(HAVE_AVX2)
    if (!(flags & RESA_CPU_AVX2))
        return;
    ATTN_INSTALL(c, avx2);
#if defined(HAVE_AVX512)
    if (!(flags & RESA_CPU_AVX512))
        return;
    ATTN_INSTALL(c, avx512);
#endif
#else
    (void)c;
    (void)flags;
#endif
}

static void init_arm(resa_attn_ctx *c, unsigned flags)
{
#if defined(__aarch64__) && defined(HAVE_NEON)
    if (!(flags & RESA_CPU_NEON))
        return;
    ATTN_INSTALL(c, neon);
#else
    (void)c;
    (void)flags;
#endif
}

void attn_init(resa_attn_ctx *c, unsigned flags)
{
    for (int t = 0; t < RESA_TYPE_COUNT; t++)
        c->decode[t] = 0, c->block_score[t] = 0; /* only F16 and F32 caches have kernels */
    ATTN_INSTALL(c, c);
    init_x86(c, flags);
    init_arm(c, flags);
}
