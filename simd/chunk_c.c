/* Scalar reference of the "chunk" family: each token walks its visible keys
 * one at a time, and every query head of the group folds the key into its
 * own online-softmax state; dot products and sums in double. The spec the
 * SIMD tiers are tested against, and the kernel of machines without them
 * (slow: no tiling, each token converts every key it sees). */
#include <math.h>

#include "chunk.h"

#define HEADS 8 /* query heads whose double sums live on the stack at once */

/* Row j of a cache of f16 bits (f16 != 0) or floats, as floats. */
static void load_row(const void *base, int f16, int j, int d, float *dst)
{
    for (int c = 0; c < d; c++) {
        const size_t at = (size_t)j * d + c;
        dst[c] = f16 ? resa_f16_to_f32(((const resa_f16 *)base)[at]) : ((const float *)base)[at];
    }
}

/* Heads [g0, g0 + ng) of token i over keys [j0, j1), j1 > j0. For each key:
 * a score above the running max m rescales what was summed so far by
 * exp(m_old - m_new) (0 for an empty state, m = -inf), then the key adds
 * exp(s - m) to l and exp(s - m) v to o. */
static void attend_token(const void *k, const void *v, int f16, int j0, int j1, int d,
                         const float *q, int g0, int ng, float scale, float *m, float *l, float *o)
{
    float kr[RESA_CHUNK_MAX_D], vr[RESA_CHUNK_MAX_D];
    double acc[HEADS][RESA_CHUNK_MAX_D], sum[HEADS];
    for (int g = 0; g < ng; g++) {
        sum[g] = l[g0 + g];
        for (int c = 0; c < d; c++)
            acc[g][c] = o[(size_t)(g0 + g) * d + c];
    }
    for (int j = j0; j < j1; j++) {
        load_row(k, f16, j, d, kr);
        load_row(v, f16, j, d, vr);
        for (int g = 0; g < ng; g++) {
            const float *qg = q + (size_t)(g0 + g) * d;
            double dot = 0.0;
            for (int c = 0; c < d; c++)
                dot += (double)qg[c] * kr[c];
            const float s = (float)(dot * scale);
            float *mg = &m[g0 + g];
            if (s > *mg) {
                const double alpha = exp((double)*mg - s);
                sum[g] *= alpha;
                for (int c = 0; c < d; c++)
                    acc[g][c] *= alpha;
                *mg = s;
            }
            const double p = exp((double)s - *mg);
            sum[g] += p;
            for (int c = 0; c < d; c++)
                acc[g][c] += p * vr[c];
        }
    }
    for (int g = 0; g < ng; g++) {
        l[g0 + g] = (float)sum[g];
        for (int c = 0; c < d; c++)
            o[(size_t)(g0 + g) * d + c] = (float)acc[g][c];
    }
}

/* Token i's states are rows i*group .. i*group + group - 1. */
static void attn_ref(const void *k, const void *v, int f16, int j0, int j1, int d, const float *q,
                     size_t q_stride, int n, int group, int pos0, float scale, float *m, float *l,
                     float *o)
{
    for (int i = 0; i < n; i++) {
        const int end = j1 < pos0 + i + 1 ? j1 : pos0 + i + 1; /* causal */
        if (end <= j0)
            continue;
        const size_t r = (size_t)i * group;
        for (int g0 = 0; g0 < group; g0 += HEADS)
            attend_token(k, v, f16, j0, end, d, q + (size_t)i * q_stride, g0,
                         group - g0 < HEADS ? group - g0 : HEADS, scale, m + r, l + r,
                         o + r * d);
    }
}

void chunk_attn_f16_c(const void *k, const void *v, int j0, int j1, int d, const float *q,
                      size_t q_stride, int n, int group, int pos0, float scale, float *m, float *l,
                      float *o, float *scratch)
{
    (void)scratch;
    attn_ref(k, v, 1, j0, j1, d, q, q_stride, n, group, pos0, scale, m, l, o);
}

void chunk_attn_f32_c(const void *k, const void *v, int j0, int j1, int d, const float *q,
                      size_t q_stride, int n, int group, int pos0, float scale, float *m, float *l,
                      float *o, float *scratch)
{
    (void)scratch;
    attn_ref(k, v, 0, j0, j1, d, q, q_stride, n, group, pos0, scale, m, l, o);
}
