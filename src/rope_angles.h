/* SPDX-License-Identifier: MIT */
/* RoPE angles, one recipe for every backend (the CPU backend, and the CUDA
 * module, which computes them on the host), so positions rotate alike. The
 * SIMD kernels of every tier only apply the table (x0*c - x1*s, x0*s + x1*c),
 * so scaling done here reaches all of them identically. */
#ifndef RESA_ROPE_ANGLES_H
#define RESA_ROPE_ANGLES_H

#include <math.h>

/* cos/sin of position pos for each rotated pair i:
 *   theta_i = freq_scale * (pos * base^(-2i/n_rot) / factors[i])
 * with base^(-2i/n_rot) built by repeated multiplication in float, and the
 * division and the scaling done in that order, as ggml's rope does, so angles
 * match llama.cpp's to the bit. freq_scale is 1/factor of linear scaling (1:
 * none); factors are Llama 3's per-pair divisors (rope_freqs.weight; NULL:
 * none). With neither, both steps are exact and the angles unchanged. */
static inline void rope_angles(float *cs, int pos, int n_rot, float base, float freq_scale,
                               const float *factors)
{
    const float theta_scale = powf(base, -2.0f / (float)n_rot);
    float theta = (float)pos;
    for (int i = 0; i < n_rot / 2; i++) {
        const float t = freq_scale * (factors ? theta / factors[i] : theta);
        cs[2 * i] = cosf(t);
        cs[2 * i + 1] = sinf(t);
        theta *= theta_scale;
    }
}

#endif
