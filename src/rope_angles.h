/* SPDX-License-Identifier: MIT */
/* RoPE angles, one recipe for every backend (the CPU backend, and the CUDA
 * module, which computes them on the host), so positions rotate alike. */
#ifndef RESA_ROPE_ANGLES_H
#define RESA_ROPE_ANGLES_H

#include <math.h>

/* cos/sin of position pos for each rotated pair: theta_i = pos * base^(-2i/n_rot),
 * built by repeated multiplication in float as ggml does, so angles match. */
static inline void rope_angles(float *cs, int pos, int n_rot, float base)
{
    const float theta_scale = powf(base, -2.0f / (float)n_rot);
    float theta = (float)pos;
    for (int i = 0; i < n_rot / 2; i++) {
        cs[2 * i] = cosf(theta);
        cs[2 * i + 1] = sinf(theta);
        theta *= theta_scale;
    }
}

#endif
