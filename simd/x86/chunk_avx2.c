/* SPDX-License-Identifier: MIT */
/* "chunk" kernels for AVX2 + FMA + F16C (compiled with -mavx2 -mfma -mf16c).
 *
 * The same tiling as the AVX-512 file (layout in chunk.h): queries
 * transposed once per call into qT[d][rows], scaled; per tile of TK keys,
 * scores S^T[key][rows] as vectors of 8 query rows, softmax down the
 * columns, then O += P V over blocks of query rows x vectors of d.
 *
 * Register blocks, 16 ymm: scores 4 keys x 3 row vectors = 12 accumulators,
 * 3 qT vectors and one broadcast (per dimension: 7 loads for 12 FMAs);
 * P V 6 rows x 2 vectors of d = 12 accumulators, 2 V vectors and one
 * broadcast (per key: 8 loads for 12 FMAs). d is a multiple of 8, so rows
 * split into whole vectors and nothing needs a mask.
 *
 * Bit for bit the recipe of simd/chunk_c.c, as every tier (issue 3): the
 * blocks differ from the AVX-512 file's, but each score, sum and output
 * element is the same chain of operations in the same order. */
#if defined(__x86_64__)

#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include "chunk.h"

#define W 8    /* floats per vector */
#define TK RESA_CHUNK_TILE
#define QK_X 3 /* row vectors per score block */
#define QK_J 4 /* keys per score block */
#define PV_R 6 /* query rows per output block */
#define PV_C 2 /* vectors of d per output block */

#define INLINE static inline __attribute__((always_inline))
#define UNROLL _Pragma("GCC unroll 16")

/* exp(x) for x <= 0; -inf, NaN and x < -64 give 0 exactly. The recipe of
 * simd/chunk_c.c: Cody-Waite reduction, degree-6 Taylor polynomial (about
 * 1 ulp), 2^n added into the exponent field; the cutoff keeps p and p*v
 * clear of subnormals. */
INLINE __m256 exp_neg(__m256 x)
{
    const __m256 lo = _mm256_set1_ps(-64.0f), magic = _mm256_set1_ps(0x1.8p23f);
    const __m256 live = _mm256_cmp_ps(x, lo, _CMP_GE_OQ);
    x = _mm256_max_ps(x, lo);
    const __m256 t = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), magic);
    const __m256 n = _mm256_sub_ps(t, magic);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f), r);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(1.0f / 720), r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i e = _mm256_slli_epi32(_mm256_castps_si256(t), 23);
    return _mm256_and_ps(_mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), e)), live);
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
    for (size_t i = 0; i < n; i += W)
        _mm256_store_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
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
    __m256 acc[QK_J][QK_X];
    UNROLL for (int j = 0; j < nj; j++)
        UNROLL for (int x = 0; x < nx; x++)
            acc[j][x] = _mm256_setzero_ps();
    const float *qc = w->qT + (size_t)x0 * W, *kr = k + (size_t)jb * d;
    for (int c = 0; c < d; c++, qc += rp) {
        __m256 qv[QK_X];
        UNROLL for (int x = 0; x < nx; x++)
            qv[x] = _mm256_load_ps(qc + x * W);
        UNROLL for (int j = 0; j < nj; j++) {
            const __m256 kb = _mm256_broadcast_ss(kr + (size_t)j * d + c);
            UNROLL for (int x = 0; x < nx; x++)
                acc[j][x] = _mm256_fmadd_ps(qv[x], kb, acc[j][x]);
        }
    }
    float *out = w->pT + (size_t)jb * rp + (size_t)x0 * W;
    UNROLL for (int j = 0; j < nj; j++)
        UNROLL for (int x = 0; x < nx; x++) {
            __m256 s = acc[j][x];
            if (masked) { /* causal: row r sees key key0+jb+j iff it is <= lim[r] */
                const __m256 lim = _mm256_load_ps(w->lim + (size_t)(x0 + x) * W);
                const __m256 hidden =
                    _mm256_cmp_ps(lim, _mm256_set1_ps(key0 + (float)(jb + j)), _CMP_LT_OQ);
                s = _mm256_blendv_ps(s, _mm256_set1_ps(-INFINITY), hidden);
            }
            _mm256_store_ps(out + (size_t)j * rp + (size_t)x * W, s);
        }
}

/* nx and masked become constants in each instance of the block. */
#define SCORES_NX(nj, msk)                                                    \
    do {                                                                      \
        if (nx == 3)                                                          \
            scores_block(w, k, (float)key0, x0, 3, jb, nj, msk);             \
        else if (nx == 2)                                                     \
            scores_block(w, k, (float)key0, x0, 2, jb, nj, msk);             \
        else                                                                  \
            scores_block(w, k, (float)key0, x0, 1, jb, nj, msk);             \
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

/* ---- softmax down one column of 8 rows: one max and one rescale per tile ---- */

static void softmax_column(ws *w, int x, int nk)
{
    const size_t rp = (size_t)w->rp;
    float *s = w->pT + (size_t)x * W;
    __m256 mx0 = _mm256_set1_ps(-INFINITY), mx1 = mx0, mx2 = mx0, mx3 = mx0;
    int j = 0;
    for (; j + 4 <= nk; j += 4) { /* four chains: max has a latency of 4 */
        mx0 = _mm256_max_ps(mx0, _mm256_load_ps(s + j * rp));
        mx1 = _mm256_max_ps(mx1, _mm256_load_ps(s + (j + 1) * rp));
        mx2 = _mm256_max_ps(mx2, _mm256_load_ps(s + (j + 2) * rp));
        mx3 = _mm256_max_ps(mx3, _mm256_load_ps(s + (j + 3) * rp));
    }
    for (; j < nk; j++)
        mx0 = _mm256_max_ps(mx0, _mm256_load_ps(s + j * rp));
    const __m256 mx = _mm256_max_ps(_mm256_max_ps(mx0, mx1), _mm256_max_ps(mx2, mx3));
    const __m256 mo = _mm256_load_ps(w->m + (size_t)x * W), mn = _mm256_max_ps(mo, mx);
    /* a row that saw nothing yet keeps m = -inf: subtract 0 there, not -inf */
    const __m256 msub =
        _mm256_and_ps(mn, _mm256_cmp_ps(mn, _mm256_set1_ps(-INFINITY), _CMP_NEQ_OQ));
    /* unchanged max: alpha exactly 1, so rows this tile does not reach keep their state */
    const __m256 alpha = _mm256_blendv_ps(exp_neg(_mm256_sub_ps(mo, msub)), _mm256_set1_ps(1.0f),
                                          _mm256_cmp_ps(mn, mo, _CMP_EQ_OQ));
    __m256 sum0 = _mm256_setzero_ps(), sum1 = sum0;
    for (j = 0; j + 2 <= nk; j += 2) {
        const __m256 p0 = exp_neg(_mm256_sub_ps(_mm256_load_ps(s + j * rp), msub));
        const __m256 p1 = exp_neg(_mm256_sub_ps(_mm256_load_ps(s + (j + 1) * rp), msub));
        _mm256_store_ps(s + j * rp, p0);
        _mm256_store_ps(s + (j + 1) * rp, p1);
        sum0 = _mm256_add_ps(sum0, p0);
        sum1 = _mm256_add_ps(sum1, p1);
    }
    if (j < nk) {
        const __m256 p0 = exp_neg(_mm256_sub_ps(_mm256_load_ps(s + j * rp), msub));
        _mm256_store_ps(s + j * rp, p0);
        sum0 = _mm256_add_ps(sum0, p0);
    }
    float *l = w->l + (size_t)x * W;
    _mm256_store_ps(l, _mm256_fmadd_ps(_mm256_load_ps(l), alpha, _mm256_add_ps(sum0, sum1)));
    _mm256_store_ps(w->m + (size_t)x * W, mn);
    _mm256_store_ps(w->alpha + (size_t)x * W, alpha);
}

/* ---- O[r .. r+nr) = alpha O + P V, for nc vectors of d from vector cb ---- */

INLINE void pv_block(const ws *w, const float *v, int nk, float *o, int r, int nr, int cb, int nc)
{
    const int d = w->d, rp = w->rp;
    __m256 acc[PV_R][PV_C];
    UNROLL for (int i = 0; i < nr; i++) {
        const __m256 a = _mm256_set1_ps(w->alpha[r + i]);
        const float *orow = o + (size_t)(r + i) * d + (size_t)cb * W;
        UNROLL for (int x = 0; x < nc; x++)
            acc[i][x] = _mm256_mul_ps(_mm256_loadu_ps(orow + x * W), a);
    }
    const float *p = w->pT + r, *vr = v + (size_t)cb * W;
    for (int j = 0; j < nk; j++, p += rp, vr += d) {
        __m256 vv[PV_C];
        UNROLL for (int x = 0; x < nc; x++)
            vv[x] = _mm256_loadu_ps(vr + x * W);
        UNROLL for (int i = 0; i < nr; i++) {
            const __m256 pb = _mm256_broadcast_ss(p + i);
            UNROLL for (int x = 0; x < nc; x++)
                acc[i][x] = _mm256_fmadd_ps(pb, vv[x], acc[i][x]);
        }
    }
    UNROLL for (int i = 0; i < nr; i++) {
        float *orow = o + (size_t)(r + i) * d + (size_t)cb * W;
        UNROLL for (int x = 0; x < nc; x++)
            _mm256_storeu_ps(orow + x * W, acc[i][x]);
    }
}

/* Keys [0, nk) of the tile that row `row` sees: up to its position. */
static inline int keys_seen(const ws *w, int nk, int key0, int row)
{
    const int seen = (int)w->lim[row] - key0 + 1;
    return seen < nk ? seen : nk;
}

#define PV_NC(nr)                                                  \
    do {                                                           \
        const int kr = keys_seen(w, nk, key0, r + (nr) - 1);       \
        if (nc == 2)                                               \
            pv_block(w, v, kr, o, r, nr, cb, 2);                   \
        else                                                       \
            pv_block(w, v, kr, o, r, nr, cb, 1);                   \
    } while (0)

/* Rows [ra, rb) over keys [0, nk) of the tile; a row block stops at the
 * last key its last row sees (a causal chunk's diagonal tile). */
static void pv_rows(const ws *w, const float *v, int nk, int key0, float *o, int ra, int rb)
{
    const int nvec = w->d / W;
    for (int cb = 0; cb < nvec; cb += PV_C) {
        const int nc = nvec - cb < PV_C ? nvec - cb : PV_C;
        int r = ra;
        for (; r + PV_R <= rb; r += PV_R)
            PV_NC(PV_R);
        for (; r + 2 <= rb; r += 2)
            PV_NC(2);
        for (; r < rb; r++)
            PV_NC(1);
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

void chunk_attn_f16_avx2(const void *k, const void *v, int j0, int j1, int d, const float *q,
                         size_t q_stride, int n, int group, int pos0, float scale, float *m,
                         float *l, float *o, float *scratch)
{
    attn(k, v, 1, j0, j1, d, q, q_stride, n, group, pos0, scale, m, l, o, scratch);
}

void chunk_attn_f32_avx2(const void *k, const void *v, int j0, int j1, int d, const float *q,
                         size_t q_stride, int n, int group, int pos0, float scale, float *m,
                         float *l, float *o, float *scratch)
{
    attn(k, v, 0, j0, j1, d, q, q_stride, n, group, pos0, scale, m, l, o, scratch);
}

#else
typedef int resa_chunk_avx2_unused; /* ISO C forbids an empty translation unit */
#endif
