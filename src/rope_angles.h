/* SPDX-License-Identifier: MIT */
/* RoPE angles, one recipe for every backend (the CPU backend, and the CUDA
 * module, which computes them on the host), so positions rotate alike. The
 * SIMD kernels of every tier only apply the table (x0*c - x1*s, x0*s + x1*c),
 * so scaling done here reaches all of them identically (docs/design.md §5.9). */
#ifndef RESA_ROPE_ANGLES_H
#define RESA_ROPE_ANGLES_H

#include <math.h>
#include <stdbool.h>

#include "arch.h"

/* How one kind of layer turns positions into angles. */
typedef struct rope_recipe {
    float base;           /* theta base */
    float freq_scale;     /* 1/factor of linear or YaRN scaling; 1: none */
    const float *factors; /* Llama 3's per-pair divisors (rope_freqs.weight); NULL: none */
    bool yarn;            /* YaRN: blend scaled and unscaled angles along the ramp */
    float corr[2];        /* YaRN's ramp: pairs up to corr[0] unscaled, from corr[1] on scaled */
    float mscale;         /* multiplies cos and sin (YaRN's magnitude correction); 1: none */
} rope_recipe;

#define ROPE_PI 3.14159265358979323846f
#define ROPE_YARN_BETA_FAST 32.0f /* llama.cpp's defaults, which it keeps for these architectures */
#define ROPE_YARN_BETA_SLOW 1.0f

/* The pair index whose wavelength spans n_ctx_orig / beta turns (ggml's recipe). */
static inline float rope_yarn_corr_dim(int n_rot, int n_ctx_orig, float beta, float base)
{
    return (float)n_rot * logf((float)n_ctx_orig / (beta * 2 * ROPE_PI)) / (2 * logf(base));
}

/* The recipe of the global layers (swa false) or of the windowed ones, which
 * keep their own base and are never scaled (llama.cpp's freq_scale_swa = 1;
 * no model with windows uses YaRN, which models/ refuses for them). */
static inline rope_recipe rope_recipe_of(const resa_hparams *hp, const float *factors, bool swa)
{
    rope_recipe r = { swa ? hp->rope_theta_swa : hp->rope_theta, swa ? 1.0f : hp->rope_freq_scale, factors,
                      false, { 0.0f, 0.0f }, 1.0f };
    if (hp->rope_yarn && !swa) {
        /* llama.cpp's YaRN for these architectures: ext_factor 1, betas 32
         * and 1, and an attention factor that cancels the correction's own
         * except for get_mscale: mscale = (0.1 ln f + 1) / (1 + 0.1 ln f) *
         * (1 + 0.1 ln(1/freq_scale)), each step in float as there. */
        const float factor = 1.0f / r.freq_scale;
        float attn = factor <= 1.0f ? 1.0f : 0.1f * logf(factor) + 1.0f;
        attn *= 1.0f / (1.0f + 0.1f * logf(factor));
        r.yarn = true;
        r.mscale = attn * (1.0f + 0.1f * logf(1.0f / r.freq_scale));
        const float lo = floorf(rope_yarn_corr_dim(hp->n_rot, hp->n_ctx_orig_yarn, ROPE_YARN_BETA_FAST, r.base));
        const float hi = ceilf(rope_yarn_corr_dim(hp->n_rot, hp->n_ctx_orig_yarn, ROPE_YARN_BETA_SLOW, r.base));
        r.corr[0] = lo > 0.0f ? lo : 0.0f;
        r.corr[1] = hi < (float)(hp->n_rot - 1) ? hi : (float)(hp->n_rot - 1);
    }
    return r;
}

/* cos/sin of position pos for each rotated pair i, as ggml's rope computes them:
 *   e = pos * base^(-2i/n_rot) / factors[i]      (the power by repeated float
 *                                                 multiplication)
 *   theta = freq_scale * e, or with YaRN, with ramp = 1 - clamp((i - corr[0]) /
 *   max(0.001, corr[1] - corr[0]), 0, 1): theta = freq_scale*e * (1 - ramp) + e * ramp
 *   (cos, sin) = (cos theta, sin theta) * mscale
 * in that order, so the angles are llama.cpp's to the bit (the build keeps
 * float contraction off). Without scaling every step is exact and the
 * angles are the plain ones. */
static inline void rope_angles(float *cs, int pos, int n_rot, const rope_recipe *r)
{
    const float theta_scale = powf(r->base, -2.0f / (float)n_rot);
    float theta = (float)pos;
    for (int i = 0; i < n_rot / 2; i++) {
        const float e = r->factors ? theta / r->factors[i] : theta;
        float t = r->freq_scale * e;
        if (r->yarn) {
            const float span = r->corr[1] - r->corr[0] > 0.001f ? r->corr[1] - r->corr[0] : 0.001f;
            const float y = ((float)i - r->corr[0]) / span;
            const float ramp = 1.0f - (y < 0.0f ? 0.0f : y > 1.0f ? 1.0f : y);
            t = t * (1.0f - ramp) + e * ramp;
        }
        cs[2 * i] = cosf(t) * r->mscale;
        cs[2 * i + 1] = sinf(t) * r->mscale;
        theta *= theta_scale;
    }
}

#endif
