/* SPDX-License-Identifier: MIT */
/* Scalar reference of the "chunk" family: the recipe every tier computes bit
 * for bit, so that the model's greedy tokens do not depend on the tier
 * (issue 3). It is the recipe the SIMD tiers' tiling already has; here
 * written one row at a time. With j1 clipped to pos0 + n (keys nobody sees):
 *
 * - Tiles of keys [t, t + TILE) from t = j0 (a call's tiles start at its
 *   j0, so a range split in two calls is not the same sums as one call).
 * - q' = q * scale, rounded to float, once per element.
 * - Score of (row, key j): s = 0; for c = 0 .. d-1: s = fma(q'[c], k[j][c], s),
 *   in that order, one float fma per step.
 * - Per (row, tile), over the keys the row sees (j <= its position):
 *   mx = max of the scores, m' = max(m, mx), msub = m' (0 if m' = -inf),
 *   alpha = 1 if m' == m, else exp_neg(m - msub);
 *   p_j = exp_neg(s_j - msub); sum0 = sum of p_j over even j - t (in key
 *   order), sum1 over odd j - t; l = fma(l, alpha, sum0 + sum1);
 *   o[c] = o[c] * alpha, then for each key in order o[c] = fma(p_j, v[j][c], o[c]).
 *   A row that sees no key of the tile is left as it was.
 * - exp_neg: the recipe below (Cody-Waite, degree-6 polynomial in fma
 *   steps, 2^n added into the exponent field; no underflow: x < -64 is 0).
 *
 * Keys a row does not see may enter a tier's sums as p = 0 (its blocks stop
 * at their last row's key): for finite values that adds +0 or +-0 * v to
 * sums that are never -0, which changes no bit. Max is exact, so the order
 * of its chains does not matter. Plain mul/add are never contracted into fma
 * (-std=c11 implies -ffp-contract=off in GCC); the fmas are explicit. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "chunk.h"

#define TK RESA_CHUNK_TILE

/* exp(x) for x <= 0: -inf, NaN and x < -64 give 0 exactly. x = n ln2 + r
 * with n = round(x log2 e) (the 1.5 * 2^23 trick: t's low mantissa bits hold
 * n), r by Cody-Waite in two fma steps, e^r by a degree-6 Taylor polynomial
 * in Horner fma steps (about 1 ulp), then n added into the exponent field of
 * p as an integer (t's bits shifted left by 23 are n << 23; n >= -93, so the
 * result stays a normal number). */
static float exp_neg(float x)
{
    if (!(x >= -64.0f))
        return 0.0f;
    const float magic = 0x1.8p23f;
    const float t = fmaf(x, 0x1.715476p+0f, magic), n = t - magic;
    float r = fmaf(-n, 0x1.62e4p-1f, x); /* ln2, high part: exact */
    r = fmaf(-n, 0x1.7f7d1cp-20f, r);    /* ln2, low part */
    float p = fmaf(1.0f / 720, r, 1.0f / 120);
    p = fmaf(p, r, 1.0f / 24);
    p = fmaf(p, r, 1.0f / 6);
    p = fmaf(p, r, 0.5f);
    p = fmaf(p, r, 1.0f);
    p = fmaf(p, r, 1.0f);
    uint32_t tb, pb;
    memcpy(&tb, &t, 4);
    memcpy(&pb, &p, 4);
    pb += tb << 23;
    memcpy(&p, &pb, 4);
    return p;
}

/* One row's state (m, l, o) over the first ns keys of a tile (K and V rows
 * as floats, kt and vt); q' is the row's scaled query. */
static void tile_row(const float *kt, const float *vt, int ns, int d, const float *qs, float *m,
                     float *l, float *o)
{
    float s[TK], mx = -INFINITY;
    for (int j = 0; j < ns; j++) {
        const float *kr = kt + (size_t)j * d;
        float acc = 0.0f;
        for (int c = 0; c < d; c++)
            acc = fmaf(qs[c], kr[c], acc);
        s[j] = acc;
        mx = mx > acc ? mx : acc;
    }
    const float mo = *m, mn = mo > mx ? mo : mx, msub = mn == -INFINITY ? 0.0f : mn;
    const float alpha = mn == mo ? 1.0f : exp_neg(mo - msub);
    float sum0 = 0.0f, sum1 = 0.0f;
    for (int j = 0; j < ns; j++) {
        s[j] = exp_neg(s[j] - msub);
        if (j % 2)
            sum1 += s[j];
        else
            sum0 += s[j];
    }
    *l = fmaf(*l, alpha, sum0 + sum1);
    *m = mn;
    for (int c = 0; c < d; c++)
        o[c] *= alpha;
    for (int j = 0; j < ns; j++)
        for (int c = 0; c < d; c++)
            o[c] = fmaf(s[j], vt[(size_t)j * d + c], o[c]);
}

/* `rows` rows of f16 bits from row j of a cache, as floats. */
static void load_rows(const void *base, int j, int rows, int d, float *dst)
{
    const resa_f16 *h = (const resa_f16 *)base + (size_t)j * d;
    for (size_t i = 0; i < (size_t)rows * d; i++)
        dst[i] = type_f16_to_f32(h[i]);
}

/* Token i's states are rows i*group .. i*group + group - 1. The K and V
 * tiles of f16 caches are converted into the scratch once per tile. */
static void attn_ref(const void *k, const void *v, int f16, int j0, int j1, int d, const float *q,
                     size_t q_stride, int n, int group, int pos0, float scale, float *m, float *l,
                     float *o, float *scratch)
{
    if (j1 > pos0 + n) /* keys nobody sees */
        j1 = pos0 + n;
    float qs[RESA_CHUNK_MAX_D], *kbuf = scratch, *vbuf = scratch + (size_t)TK * d;
    for (int t0 = j0; t0 < j1; t0 += TK) {
        const int nk = j1 - t0 < TK ? j1 - t0 : TK;
        const float *kt = (const float *)k + (size_t)t0 * d, *vt = (const float *)v + (size_t)t0 * d;
        if (f16) {
            load_rows(k, t0, nk, d, kbuf);
            load_rows(v, t0, nk, d, vbuf);
            kt = kbuf;
            vt = vbuf;
        }
        for (int i = t0 > pos0 ? t0 - pos0 : 0; i < n; i++) { /* tokens that see key t0 */
            const int ns = pos0 + i - t0 + 1 < nk ? pos0 + i - t0 + 1 : nk;
            for (int g = 0; g < group; g++) {
                const size_t r = (size_t)i * group + g;
                const float *qr = q + (size_t)i * q_stride + (size_t)g * d;
                for (int c = 0; c < d; c++)
                    qs[c] = qr[c] * scale;
                tile_row(kt, vt, ns, d, qs, &m[r], &l[r], o + r * d);
            }
        }
    }
}

void chunk_attn_f16_c(const void *k, const void *v, int j0, int j1, int d, const float *q,
                      size_t q_stride, int n, int group, int pos0, float scale, float *m, float *l,
                      float *o, float *scratch)
{
    attn_ref(k, v, 1, j0, j1, d, q, q_stride, n, group, pos0, scale, m, l, o, scratch);
}

void chunk_attn_f32_c(const void *k, const void *v, int j0, int j1, int d, const float *q,
                      size_t q_stride, int n, int group, int pos0, float scale, float *m, float *l,
                      float *o, float *scratch)
{
    attn_ref(k, v, 0, j0, j1, d, q, q_stride, n, group, pos0, scale, m, l, o, scratch);
}
