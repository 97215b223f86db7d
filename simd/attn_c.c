/* Scalar references of the "attn" family (contracts in attn.h): the plain
 * statement of each kernel, the spec the SIMD tiers are tested against, and
 * the kernels of machines without a SIMD tier.
 *
 * decode updates the online-softmax state one row at a time: score, then
 * (if the score is a new maximum) rescale l and o, then add the row. */
#include <math.h>
#include <stddef.h>

#include "attn.h"

decl_attn_decode_fn(attn_decode_f16_c);
decl_attn_decode_fn(attn_decode_f32_c);
decl_block_score_fn(attn_block_score_c);
decl_summary_add_fn(attn_summary_add_c);

/* Element j of row t of a cache of type f16 (raw bits) or f32. */
static inline float elem_at(const void *rows, int f16, size_t t, int d, int j)
{
    const size_t i = t * (size_t)d + (size_t)j;
    return f16 ? resa_f16_to_f32(((const resa_f16 *)rows)[i]) : ((const float *)rows)[i];
}

/* One head g: folds row t into (m, l, o). */
static void decode_row(const void *k, const void *v, int f16, size_t t, int d, const float *q,
                       float scale, float *m, float *l, float *o)
{
    float dot = 0.0f;
    for (int j = 0; j < d; j++)
        dot += q[j] * elem_at(k, f16, t, d, j);
    const float s = dot * scale;
    if (s > *m) { /* new maximum: what was summed so far shrinks by exp(m - s) */
        const float alpha = expf(*m - s); /* m = -inf at the start: alpha = 0 */
        *l *= alpha;
        for (int j = 0; j < d; j++)
            o[j] *= alpha;
        *m = s;
    }
    const float p = expf(s - *m);
    *l += p;
    for (int j = 0; j < d; j++)
        o[j] += p * elem_at(v, f16, t, d, j);
}

static void decode(const void *k, const void *v, int f16, int n, int d, const float *q, int group,
                   float scale, float *m, float *l, float *o)
{
    for (int t = 0; t < n; t++)
        for (int g = 0; g < group; g++)
            decode_row(k, v, f16, (size_t)t, d, q + (size_t)g * d, scale, &m[g], &l[g],
                       o + (size_t)g * d);
}

void attn_decode_f16_c(const void *k, const void *v, int n, int d, const float *q, int group,
                       float scale, float *m, float *l, float *o)
{
    decode(k, v, 1, n, d, q, group, scale, m, l, o);
}

void attn_decode_f32_c(const void *k, const void *v, int n, int d, const float *q, int group,
                       float scale, float *m, float *l, float *o)
{
    decode(k, v, 0, n, d, q, group, scale, m, l, o);
}

void attn_block_score_c(const float *qbar, const float *kmin, const float *kmax, int d,
                        int n_blocks, float *scores)
{
    for (int i = 0; i < n_blocks; i++) {
        const float *mn = kmin + (size_t)i * d, *mx = kmax + (size_t)i * d;
        float s = 0.0f;
        for (int j = 0; j < d; j++) {
            const float a = qbar[j] * mx[j], b = qbar[j] * mn[j];
            s += a > b ? a : b;
        }
        scores[i] = s;
    }
}

void attn_summary_add_c(float *kmin, float *kmax, const float *k, int d, int first)
{
    for (int j = 0; j < d; j++) {
        if (first) {
            kmin[j] = kmax[j] = k[j];
            continue;
        }
        if (k[j] < kmin[j])
            kmin[j] = k[j];
        if (k[j] > kmax[j])
            kmax[j] = k[j];
    }
}
