/* SPDX-License-Identifier: MIT */
/* CPU feature detection and run-time kernel dispatch.
 *
 * Tiers are detected as bundles (AVX2 means AVX2+FMA+F16C with YMM state
 * enabled by the OS; AVX512 means F+BW+DQ+VL with ZMM state enabled), then
 * ANDed with a cap the user or the tests set (RESA_CPU / --cpu). */
#ifndef RESA_SIMD_CPU_H
#define RESA_SIMD_CPU_H

#include "attn.h"
#include "chunk.h"
#include "dot.h"
#include "elem.h"

enum resa_cpu_flag {
    RESA_CPU_AVX2 = 1u << 0,
    RESA_CPU_AVX512 = 1u << 1,
    RESA_CPU_AVX512_VNNI = 1u << 2,
    RESA_CPU_AVX512_BF16 = 1u << 3,
    RESA_CPU_AMX = 1u << 4,
    RESA_CPU_NEON = 1u << 8,
    RESA_CPU_DOTPROD = 1u << 9,
    RESA_CPU_FP16 = 1u << 10,
};

/* What the hardware and OS support, ignoring any cap. */
unsigned cpu_detect(void);
/* Detected flags ANDed with the cap (RESA_CPU env var read on first use). */
unsigned cpu_flags(void);
/* Caps the tier: "scalar", "avx2", "avx512", "neon", "native" (no cap).
 * Returns 0, or -1 for an unknown name. Resets the dispatch tables. */
int cpu_set_cap(const char *name);
/* Name of the best tier in flags: "scalar", "avx2", "avx512", "neon". */
const char *cpu_tier_name(unsigned flags);

/* Dispatch tables, filled on first use from cpu_flags(). */
const resa_dot_ctx *dot_kernels(void);
const resa_elem_ctx *elem_kernels(void);
const resa_attn_ctx *attn_kernels(void);
const resa_chunk_ctx *chunk_kernels(void);

#endif
