/* SPDX-License-Identifier: MIT */
/* Dispatch of the "chunk" family: scalar references, then the tiers the CPU
 * flags allow. Compiled without ISA flags: it only stores function pointers. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#elif defined(__x86_64__)
/* A plain build (no configure) compiles every ISA file. */
#define HAVE_AVX2 1
#define HAVE_AVX512 1
#elif defined(__aarch64__)
#define HAVE_NEON 1
#endif

#include <string.h>

#include "cpu.h"

void chunk_init(resa_chunk_ctx *c, unsigned flags)
{
    memset(c, 0, sizeof *c);
    c->attn[RESA_TYPE_F16] = chunk_attn_f16_c;
    c->attn[RESA_TYPE_F32] = chunk_attn_f32_c;
#if defined(__x86_64__) && defined(HAVE_AVX2)
    if (!(flags & RESA_CPU_AVX2))
        return;
    c->attn[RESA_TYPE_F16] = chunk_attn_f16_avx2;
    c->attn[RESA_TYPE_F32] = chunk_attn_f32_avx2;
#if defined(HAVE_AVX512)
    if (!(flags & RESA_CPU_AVX512))
        return;
    c->attn[RESA_TYPE_F16] = chunk_attn_f16_avx512;
    c->attn[RESA_TYPE_F32] = chunk_attn_f32_avx512;
#endif
#elif defined(__aarch64__) && defined(HAVE_NEON)
    if (!(flags & RESA_CPU_NEON))
        return;
    c->attn[RESA_TYPE_F16] = chunk_attn_f16_neon;
    c->attn[RESA_TYPE_F32] = chunk_attn_f32_neon;
#else
    (void)flags;
#endif
}
