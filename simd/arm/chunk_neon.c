/* SPDX-License-Identifier: MIT */
/* "chunk" kernels for AArch64 Advanced SIMD (baseline: no flags needed).
 *
 * The same tiling as the x86 files (layout in chunk.h): queries transposed
 * once per call into qT[d][rows], scaled; per tile of TK keys, scores
 * S^T[key][rows] as vectors of 4 query rows, softmax down the columns, then
 * O += P V over blocks of query rows x vectors of d.
 *
 * Register blocks, 32 q registers, FMA by lane (FMLA v.4s, v.4s, v.s[i])
 * so that one vector load serves four broadcasts: scores 4 keys x 4 row
 * vectors = 16 accumulators; per 4 dimensions, one K vector per key and
 * 4 qT vectors per dimension (20 loads for 64 FMAs). P V: 4 rows x 4
 * vectors of d = 16 accumulators; per key, 4 V vectors and one vector of
 * the 4 rows' probabilities (5 loads for 16 FMAs). d is a multiple of 8.
 *
 * Bit for bit the recipe of simd/chunk_c.c, as every tier (issue 3): FMA by
 * lane is still one fused step per dimension in order (lane L of the K
 * vector is dimension c + L), and vfmaq_n_f32 is fused like the rest. */
#if defined(__aarch64__)

#include <arm_neon.h>
#include <math.h>
#include <stdint.h>

#include "chunk.h"

#define W 4    /* floats per vector */
#define TK RESA_CHUNK_TILE
#define QK_X 4 /* row vectors per score block */
#define QK_J 4 /* keys per score block */
#define PV_R 4 /* query rows per output block: the lanes of one P vector */
#define PV_C 4 /* vectors of d per output block */

#define INLINE static inline __attribute__((always_inline))
#define UNROLL _Pragma("GCC unroll 16")

/* exp(x) for x <= 0; -inf, NaN and x < -64 give 0 exactly. The recipe of
 * simd/chunk_c.c: Cody-Waite reduction, degree-6 Taylor polynomial (about
 * 1 ulp), 2^n added into the exponent field; the cutoff keeps p and p*v
 * clear of subnormals. maxnm, not max: a NaN must not survive the clamp. */
INLINE float32x4_t exp_neg(float32x4_t x)
{
    const float32x4_t lo = vdupq_n_f32(-64.0f), magic = vdupq_n_f32(0x1.8p23f);
    const uint32x4_t live = vcgeq_f32(x, lo);
    x = vmaxnmq_f32(x, lo);
    const float32x4_t t = vfmaq_f32(magic, x, vdupq_n_f32(0x1.715476p+0f));
    const float32x4_t n = vsubq_f32(t, magic);
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0x1.62e4p-1f));
    r = vfmsq_f32(r, n, vdupq_n_f32(0x1.7f7d1cp-20f));
    float32x4_t p = vfmaq_f32(vdupq_n_f32(1.0f / 120), vdupq_n_f32(1.0f / 720), r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 24), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 6), p, r);
    p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    const int32x4_t e = vshlq_n_s32(vreinterpretq_s32_f32(t), 23);
    const int32x4_t y = vaddq_s32(vreinterpretq_s32_f32(p), e);
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_s32(y), live));
}

/* The call's working set, carved out of the caller's scratch. */
typedef struct ws {
    int d, rows, rp;             /* head dim, query rows (n * group), rows padded to 16 */
    float *qT;                   /* d x rp: queries * scale, transposed */
    float *pT;                   /* TK x rp: one tile's scores, then probabilities */
    float *m, *l, *alpha, *lim;  /* rp each: state; this tile's rescale; last key each row sees */
    float *kt, *vt;              /* TK x d each: the tile's K and V rows as f32 (f16 caches) */
    const char *pf_k, *pf_v;     /* the next tile's K and V rows, not yet prefetched */
    size_t pf_left, pf_step;     /* bytes of each left; bytes per score block */
} ws;

static void ws_init(ws *w, float *scratch, int d, int rows)
{
    float *p = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    const size_t rp = RESA_CHUNK_ROWS(rows, 1);
    w->d = d;
    w->rows = rows;
    w->rp = (int)rp;
    w->qT = p;
    w->pT = w->qT + (size_t)d * rp;
    w->m = w->pT + (size_t)TK * rp;
    w->l = w->m + rp;
    w->alpha = w->l + rp;
    w->lim = w->alpha + rp;
    w->kt = w->lim + rp;
    w->vt = w->kt + (size_t)TK * d;
}

/* Queries (scaled) into qT, the states into the padded copies, and the last
 * key position of every row. Padding rows get zero queries: their state is
 * scratch that is never copied back. Positions are exact in float < 2^24. */
static void ws_load(ws *w, const float *q, size_t q_stride, int group, int pos0, float scale,
                    const float *m, const float *l)
{
    const int d = w->d, rp = w->rp;
    for (int r = 0; r < rp; r++) {
        const int real = r < w->rows, i = r / group, g = r % group;
        const float *qr = real ? q + (size_t)i * q_stride + (size_t)g * d : NULL;
        for (int c = 0; c < d; c++)
            w->qT[(size_t)c * rp + r] = real ? qr[c] * scale : 0.0f;
        w->m[r] = real ? m[r] : -INFINITY;
        w->l[r] = real ? l[r] : 0.0f;
        w->lim[r] = (float)(pos0 + i);
    }
}

static void f16_to_f32(const uint16_t *src, float *dst, size_t n) /* n % 8 == 0 */
{
    for (size_t i = 0; i < n; i += 8) {
        const float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(src + i));
        vst1q_f32(dst + i, vcvt_f32_f16(vget_low_f16(h)));
        vst1q_f32(dst + i + 4, vcvt_high_f32_f16(h));
    }
}

/* Prefetches the next slice of the next tile's K and V rows into L2. The
 * rows stream from memory (a long context is far larger than the caches),
 * and the hardware prefetchers stop at every 4 KiB page; spread over the
 * score blocks of the current tile, the misses overlap the FMAs. */
static inline void prefetch_slice(ws *w)
{
    const size_t n = w->pf_left < w->pf_step ? w->pf_left : w->pf_step;
    for (size_t i = 0; i < n; i += 64) {
        __builtin_prefetch(w->pf_k + i, 0, 2);
        __builtin_prefetch(w->pf_v + i, 0, 2);
    }
    w->pf_k += n;
    w->pf_v += n;
    w->pf_left -= n;
}

/* Sets up prefetching of keys [t1, j1) (at most a tile) over the score
 * blocks of the tile now starting: x-blocks x key blocks. */
static void prefetch_plan(ws *w, const void *k, const void *v, size_t es, int t1, int j1,
                          int n_blocks)
{
    const size_t nk = (size_t)(j1 - t1 < TK ? j1 - t1 : TK), off = (size_t)t1 * w->d * es;
    w->pf_left = t1 < j1 ? nk * w->d * es : 0;
    w->pf_k = (const char *)k + off;
    w->pf_v = (const char *)v + off;
    w->pf_step = (w->pf_left / (size_t)n_blocks + 127) & ~(size_t)63;
}

/* ---- scores: S^T[jb + j][x0*W ..] = K[jb + j] . qT, for nj keys x nx row vectors ---- */

INLINE void scores_block(const ws *w, const float *k, float key0, int x0, int nx, int jb, int nj,
                         int masked)
{
    const int d = w->d, rp = w->rp;
    float32x4_t acc[QK_J][QK_X];
    UNROLL for (int j = 0; j < nj; j++)
        UNROLL for (int x = 0; x < nx; x++)
            acc[j][x] = vdupq_n_f32(0.0f);
    const float *qc = w->qT + (size_t)x0 * W, *kr = k + (size_t)jb * d;
    for (int c = 0; c < d; c += 4, qc += 4 * (size_t)rp) {
        float32x4_t kv[QK_J], qv[QK_X];
        UNROLL for (int j = 0; j < nj; j++)
            kv[j] = vld1q_f32(kr + (size_t)j * d + c);
/* dimension c + L: lane L of each key's vector */
#define LANE(L)                                                                  \
    UNROLL for (int x = 0; x < nx; x++)                                          \
        qv[x] = vld1q_f32(qc + (size_t)(L) * rp + x * W);                        \
    UNROLL for (int j = 0; j < nj; j++)                                          \
        UNROLL for (int x = 0; x < nx; x++)                                      \
            acc[j][x] = vfmaq_laneq_f32(acc[j][x], qv[x], kv[j], L);
        LANE(0)
        LANE(1)
        LANE(2)
        LANE(3)
#undef LANE
    }
    float *out = w->pT + (size_t)jb * rp + (size_t)x0 * W;
    UNROLL for (int j = 0; j < nj; j++)
        UNROLL for (int x = 0; x < nx; x++) {
            float32x4_t s = acc[j][x];
            if (masked) { /* causal: row r sees key key0+jb+j iff it is <= lim[r] */
                const float32x4_t lim = vld1q_f32(w->lim + (size_t)(x0 + x) * W);
                const uint32x4_t hidden = vcltq_f32(lim, vdupq_n_f32(key0 + (float)(jb + j)));
                s = vbslq_f32(hidden, vdupq_n_f32(-INFINITY), s);
            }
            vst1q_f32(out + (size_t)j * rp + (size_t)x * W, s);
        }
}

/* nx and masked become constants in each instance of the block. */
#define SCORES_NX(nj, msk)                                                    \
    do {                                                                      \
        switch (nx) {                                                         \
        case 4: scores_block(w, k, (float)key0, x0, 4, jb, nj, msk); break;   \
        case 3: scores_block(w, k, (float)key0, x0, 3, jb, nj, msk); break;   \
        case 2: scores_block(w, k, (float)key0, x0, 2, jb, nj, msk); break;   \
        default: scores_block(w, k, (float)key0, x0, 1, jb, nj, msk); break;  \
        }                                                                     \
    } while (0)

/* Scores of keys [0, nk) of the tile for row vectors [x0, x0 + nx). A block
 * needs the causal mask only if its last key is past the first row's last
 * visible key (rows ascend by token, so the first row sees the least). */
static void scores(ws *w, const float *k, int nk, int key0, int x0, int nx)
{
    const float first = w->lim[(size_t)x0 * W];
    int jb = 0;
    for (; jb + QK_J <= nk; jb += QK_J) {
        prefetch_slice(w);
        if ((float)(key0 + jb + QK_J - 1) > first)
            SCORES_NX(QK_J, 1);
        else
            SCORES_NX(QK_J, 0);
    }
    for (; jb < nk; jb++) {
        prefetch_slice(w);
        if ((float)(key0 + jb) > first)
            SCORES_NX(1, 1);
        else
            SCORES_NX(1, 0);
    }
}

/* ---- softmax down one column of 4 rows: one max and one rescale per tile ---- */

static void softmax_column(ws *w, int x, int nk)
{
    const size_t rp = (size_t)w->rp;
    float *s = w->pT + (size_t)x * W;
    float32x4_t mx0 = vdupq_n_f32(-INFINITY), mx1 = mx0;
    int j = 0;
    for (; j + 2 <= nk; j += 2) {
        mx0 = vmaxq_f32(mx0, vld1q_f32(s + j * rp));
        mx1 = vmaxq_f32(mx1, vld1q_f32(s + (j + 1) * rp));
    }
    if (j < nk)
        mx0 = vmaxq_f32(mx0, vld1q_f32(s + j * rp));
    const float32x4_t mx = vmaxq_f32(mx0, mx1);
    const float32x4_t mo = vld1q_f32(w->m + (size_t)x * W), mn = vmaxq_f32(mo, mx);
    /* a row that saw nothing yet keeps m = -inf: subtract 0 there, not -inf */
    const uint32x4_t finite = vmvnq_u32(vceqq_f32(mn, vdupq_n_f32(-INFINITY)));
    const float32x4_t msub = vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(mn), finite));
    /* unchanged max: alpha exactly 1, so rows this tile does not reach keep their state */
    const float32x4_t alpha =
        vbslq_f32(vceqq_f32(mn, mo), vdupq_n_f32(1.0f), exp_neg(vsubq_f32(mo, msub)));
    float32x4_t sum0 = vdupq_n_f32(0.0f), sum1 = sum0;
    for (j = 0; j + 2 <= nk; j += 2) {
        const float32x4_t p0 = exp_neg(vsubq_f32(vld1q_f32(s + j * rp), msub));
        const float32x4_t p1 = exp_neg(vsubq_f32(vld1q_f32(s + (j + 1) * rp), msub));
        vst1q_f32(s + j * rp, p0);
        vst1q_f32(s + (j + 1) * rp, p1);
        sum0 = vaddq_f32(sum0, p0);
        sum1 = vaddq_f32(sum1, p1);
    }
    if (j < nk) {
        const float32x4_t p0 = exp_neg(vsubq_f32(vld1q_f32(s + j * rp), msub));
        vst1q_f32(s + j * rp, p0);
        sum0 = vaddq_f32(sum0, p0);
    }
    float *l = w->l + (size_t)x * W;
    vst1q_f32(l, vfmaq_f32(vaddq_f32(sum0, sum1), vld1q_f32(l), alpha));
    vst1q_f32(w->m + (size_t)x * W, mn);
    vst1q_f32(w->alpha + (size_t)x * W, alpha);
}

/* ---- O[r .. r+nr) = alpha O + P V, for nc vectors of d from vector cb ---- */

/* Four rows: their probabilities for key j are one vector (pT row j), used
 * lane by lane. */
INLINE void pv_block4(const ws *w, const float *v, int nk, float *o, int r, int cb, int nc)
{
    const int d = w->d, rp = w->rp;
    float32x4_t acc[PV_R][PV_C];
    UNROLL for (int i = 0; i < PV_R; i++) {
        const float32x4_t a = vdupq_n_f32(w->alpha[r + i]);
        const float *orow = o + (size_t)(r + i) * d + (size_t)cb * W;
        UNROLL for (int x = 0; x < nc; x++)
            acc[i][x] = vmulq_f32(vld1q_f32(orow + x * W), a);
    }
    const float *p = w->pT + r, *vr = v + (size_t)cb * W;
    for (int j = 0; j < nk; j++, p += rp, vr += d) {
        float32x4_t vv[PV_C];
        const float32x4_t pv = vld1q_f32(p);
        UNROLL for (int x = 0; x < nc; x++)
            vv[x] = vld1q_f32(vr + x * W);
        UNROLL for (int x = 0; x < nc; x++) {
            acc[0][x] = vfmaq_laneq_f32(acc[0][x], vv[x], pv, 0);
            acc[1][x] = vfmaq_laneq_f32(acc[1][x], vv[x], pv, 1);
            acc[2][x] = vfmaq_laneq_f32(acc[2][x], vv[x], pv, 2);
            acc[3][x] = vfmaq_laneq_f32(acc[3][x], vv[x], pv, 3);
        }
    }
    UNROLL for (int i = 0; i < PV_R; i++) {
        float *orow = o + (size_t)(r + i) * d + (size_t)cb * W;
        UNROLL for (int x = 0; x < nc; x++)
            vst1q_f32(orow + x * W, acc[i][x]);
    }
}

/* One row (the remainder of a block). */
INLINE void pv_block1(const ws *w, const float *v, int nk, float *o, int r, int cb, int nc)
{
    const int d = w->d, rp = w->rp;
    float32x4_t acc[PV_C];
    const float32x4_t a = vdupq_n_f32(w->alpha[r]);
    float *orow = o + (size_t)r * d + (size_t)cb * W;
    UNROLL for (int x = 0; x < nc; x++)
        acc[x] = vmulq_f32(vld1q_f32(orow + x * W), a);
    const float *p = w->pT + r, *vr = v + (size_t)cb * W;
    for (int j = 0; j < nk; j++, p += rp, vr += d)
        UNROLL for (int x = 0; x < nc; x++)
            acc[x] = vfmaq_n_f32(acc[x], vld1q_f32(vr + x * W), *p);
    UNROLL for (int x = 0; x < nc; x++)
        vst1q_f32(orow + x * W, acc[x]);
}

/* Keys [0, nk) of the tile that row `row` sees: up to its position. */
static inline int keys_seen(const ws *w, int nk, int key0, int row)
{
    const int seen = (int)w->lim[row] - key0 + 1;
    return seen < nk ? seen : nk;
}

/* Rows [ra, rb) over keys [0, nk) of the tile; a row block stops at the
 * last key its last row sees (a causal chunk's diagonal tile). */
static void pv_rows(const ws *w, const float *v, int nk, int key0, float *o, int ra, int rb)
{
    const int nvec = w->d / W;
    for (int cb = 0; cb < nvec; cb += PV_C) {
        const int nc = nvec - cb < PV_C ? nvec - cb : PV_C;
        int r = ra;
        for (; r + PV_R <= rb; r += PV_R) {
            const int kr = keys_seen(w, nk, key0, r + PV_R - 1);
            if (nc == 4)
                pv_block4(w, v, kr, o, r, cb, 4);
            else /* d % 16 == 8: the last block has two vectors */
                pv_block4(w, v, kr, o, r, cb, 2);
        }
        for (; r < rb; r++) {
            const int kr = keys_seen(w, nk, key0, r);
            if (nc == 4)
                pv_block1(w, v, kr, o, r, cb, 4);
            else
                pv_block1(w, v, kr, o, r, cb, 2);
        }
    }
}

/* ---- the kernel ---- */

static void attn(const void *k, const void *v, int f16, int j0, int j1, int d, const float *q,
                 size_t q_stride, int n, int group, int pos0, float scale, float *m, float *l,
                 float *o, float *scratch)
{
    if (j1 > pos0 + n) /* keys nobody sees */
        j1 = pos0 + n;
    if (n <= 0 || j1 <= j0)
        return;
    ws w;
    ws_init(&w, scratch, d, n * group);
    ws_load(&w, q, q_stride, group, pos0, scale, m, l);
    const int nx_all = (w.rows + W - 1) / W;
    for (int t0 = j0; t0 < j1; t0 += TK) {
        const int nk = j1 - t0 < TK ? j1 - t0 : TK;
        const float *kt = (const float *)k + (size_t)t0 * d, *vt = (const float *)v + (size_t)t0 * d;
        if (f16) {
            f16_to_f32((const uint16_t *)k + (size_t)t0 * d, w.kt, (size_t)nk * d);
            f16_to_f32((const uint16_t *)v + (size_t)t0 * d, w.vt, (size_t)nk * d);
            kt = w.kt;
            vt = w.vt;
        }
        /* rows before r_first see no key of this tile: they stay untouched */
        const int r_first = (t0 > pos0 ? t0 - pos0 : 0) * group;
        const int n_xb = (nx_all - r_first / W + QK_X - 1) / QK_X;
        prefetch_plan(&w, k, v, f16 ? 2 : 4, t0 + TK, j1, n_xb * ((nk + QK_J - 1) / QK_J));
        for (int x0 = r_first / W; x0 < nx_all; x0 += QK_X) {
            const int nx = nx_all - x0 < QK_X ? nx_all - x0 : QK_X;
            const int ra = r_first > x0 * W ? r_first : x0 * W;
            const int rb = w.rows < (x0 + nx) * W ? w.rows : (x0 + nx) * W;
            /* keys past the block's last position are hidden from all its rows */
            const int nkx = keys_seen(&w, nk, t0, rb - 1);
            scores(&w, kt, nkx, t0, x0, nx);
            for (int x = x0; x < x0 + nx; x++)
                softmax_column(&w, x, nkx);
            pv_rows(&w, vt, nkx, t0, o, ra, rb);
        }
    }
    for (int r = 0; r < w.rows; r++) {
        m[r] = w.m[r];
        l[r] = w.l[r];
    }
}

void chunk_attn_f16_neon(const void *k, const void *v, int j0, int j1, int d, const float *q,
                         size_t q_stride, int n, int group, int pos0, float scale, float *m,
                         float *l, float *o, float *scratch)
{
    attn(k, v, 1, j0, j1, d, q, q_stride, n, group, pos0, scale, m, l, o, scratch);
}

void chunk_attn_f32_neon(const void *k, const void *v, int j0, int j1, int d, const float *q,
                         size_t q_stride, int n, int group, int pos0, float scale, float *m,
                         float *l, float *o, float *scratch)
{
    attn(k, v, 0, j0, j1, d, q, q_stride, n, group, pos0, scale, m, l, o, scratch);
}

#else
typedef int resa_chunk_neon_unused; /* ISO C forbids an empty translation unit */
#endif
