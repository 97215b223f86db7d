/* SPDX-License-Identifier: MIT */
/* The constants of the one exp recipe every tier computes bit for bit
 * (elem and attn families; issue 3): clamp x to [EXP_LO, EXP_HI],
 * k = round(x * LOG2E), r = x - k ln2 with ln2 = LN2_HI + LN2_LO,
 * exp(r) = (q(r) r^2 + r) + 1 with q = EXP_C2 + r (EXP_C3 + r (...EXP_C6)) by
 * Horner's FMAs, times 2^(k>>1) then 2^(k-(k>>1)). The code of each ISA is in
 * its own file; the numbers live here once. */
#ifndef RESA_SIMD_EXP_RECIPE_H
#define RESA_SIMD_EXP_RECIPE_H

#define EXP_LO -104.0f
#define EXP_HI 89.0f
#define LOG2E 0x1.715476p+0f
#define LN2_HI 0x1.62e430p-1f
#define LN2_LO -0x1.05c610p-29f
#define EXP_C2 0x1.fffffcp-2f
#define EXP_C3 0x1.555492p-3f
#define EXP_C4 0x1.5558f2p-5f
#define EXP_C5 0x1.1239d4p-7f
#define EXP_C6 0x1.6a244cp-10f

/* GELU's tanh approximation as gelu_mul computes it (simd/elem.h):
 * z = GELU_K * (x * (1 + GELU_A * (x * x))), then x / (1 + exp(z)) */
#define GELU_A 0.044715f
#define GELU_K -1.5957691216057308f /* -2 sqrt(2 / pi) */

#endif
