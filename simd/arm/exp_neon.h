/* SPDX-License-Identifier: MIT */
/* exp4(x): the exp recipe of simd/exp_recipe.h on NEON vectors, shared
 * by the elem and attn kernels of this ISA (include only from files built
 * with its flags). Bit-identical to the scalar elem_exp_c. */
#ifndef RESA_SIMD_EXP_NEON_H
#define RESA_SIMD_EXP_NEON_H

#include <arm_neon.h>

#include "exp_recipe.h"

static inline __attribute__((always_inline)) float32x4_t exp4(float32x4_t x)
{
    x = vmaxq_f32(vdupq_n_f32(EXP_LO), vminq_f32(vdupq_n_f32(EXP_HI), x));
    const float32x4_t k = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(LOG2E)));
    float32x4_t r = vfmsq_f32(x, k, vdupq_n_f32(LN2_HI));
    r = vfmsq_f32(r, k, vdupq_n_f32(LN2_LO));
    float32x4_t q = vfmaq_f32(vdupq_n_f32(EXP_C5), vdupq_n_f32(EXP_C6), r);
    q = vfmaq_f32(vdupq_n_f32(EXP_C4), q, r);
    q = vfmaq_f32(vdupq_n_f32(EXP_C3), q, r);
    q = vfmaq_f32(vdupq_n_f32(EXP_C2), q, r);
    const float32x4_t p = vaddq_f32(vfmaq_f32(r, q, vmulq_f32(r, r)), vdupq_n_f32(1.0f));
    const int32x4_t ki = vcvtq_s32_f32(k), k1 = vshrq_n_s32(ki, 1), k2 = vsubq_s32(ki, k1);
    const int32x4_t bias = vdupq_n_s32(127);
    const float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(k1, bias), 23));
    const float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(k2, bias), 23));
    return vmulq_f32(vmulq_f32(p, s1), s2);
}

#endif
