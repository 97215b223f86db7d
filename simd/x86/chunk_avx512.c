/* SPDX-License-Identifier: MIT */
/* "chunk" kernels for AVX-512 F/BW/DQ/VL (compiled with the AVX-512 flags).
 *
 * Layout (see chunk.h): queries transposed once per call into qT[d][rows],
 * scaled; per tile of TK keys, scores S^T[key][rows] as vectors of 16 query
 * rows, softmax down the columns, then O += P V over blocks of query rows x
 * vectors of d.
 *
 * Register blocks, 32 zmm: scores 8 keys x 3 row vectors = 24 accumulators
 * (per dimension: 3 loads of qT and 8 broadcast loads of K); P V 6 rows x
 * 4 vectors of d = 24 accumulators (per key: 4 loads of V, 6 broadcast
 * loads of P). Both keep two FMA ports busy with loads to spare; alone,
 * each runs at about 95% of the FMA peak. The exponential costs about 16
 * vector ops per 16 (row, key) pairs, against 2d FMAs for the two
 * products; with the K/V conversion and the per-tile state updates, the
 * whole kernel reaches about 70% of the peak at d = 64 (Sapphire/Emerald
 * Rapids, one core).
 *
 * The K and V rows are used as the cache stores them (f16 tiles are
 * converted to f32 once into scratch; f32 caches are read in place). A head
 * dim that is not a multiple of 16 (d % 16 == 8) uses masked loads and
 * stores for its last vector in P V, so nothing past a row is read.
 *
 * Bit for bit the recipe of simd/chunk_c.c, as every tier (issue 3): each
 * score one fma chain over d in order, one max and rescale per (row, tile),
 * p summed in two chains (even and odd keys of the tile), P V one fma chain
 * over the keys per output element, and the same exp_neg. Register blocking
 * only changes which sums run side by side, never the order within one. */
#if defined(__x86_64__)

#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include "chunk.h"

#define W 16   /* floats per vector */
#define TK RESA_CHUNK_TILE
#define QK_X 3 /* row vectors per score block */
#define QK_J 8 /* keys per score block */
#define PV_R 6 /* query rows per output block */
#define PV_C 4 /* vectors of d per output block */

#define INLINE static inline __attribute__((always_inline))
#define UNROLL _Pragma("GCC unroll 16")

/* exp(x) for x <= 0 (a score minus a max that is at least as large);
 * -inf, NaN and x < -64 give 0 exactly. The recipe of simd/chunk_c.c. Cody-Waite reduction
 * x = n ln2 + r, |r| <= ln2/2, then a degree-6 Taylor polynomial (error
 * |r|^7/7! < 1.3e-7, about 1 ulp), and 2^n added into the exponent field.
 * The cutoff drops weights below e^-64 of the row's largest (which is 1):
 * invisible in float sums, and it keeps p and p*v far from subnormals,
 * which cost a microcode assist per FMA on x86. */
INLINE __m512 exp_neg(__m512 x)
{
    const __m512 lo = _mm512_set1_ps(-64.0f), magic = _mm512_set1_ps(0x1.8p23f);
    const __mmask16 live = _mm512_cmp_ps_mask(x, lo, _CMP_GE_OQ);
    x = _mm512_max_ps(x, lo);
    /* t = x log2(e) + 1.5 * 2^23: the low mantissa bits of t hold round(x log2 e) */
    const __m512 t = _mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+0f), magic);
    const __m512 n = _mm512_sub_ps(t, magic);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.62e4p-1f), x); /* ln2, high part: exact */
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.7f7d1cp-20f), r);     /* ln2, low part */
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(1.0f / 720), r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    /* t's bits shifted left by 23 are n << 23 (the magic's low bits are 0) */
    const __m512i e = _mm512_slli_epi32(_mm512_castps_si512(t), 23);
    return _mm512_castsi512_ps(_mm512_maskz_add_epi32(live, _mm512_castps_si512(p), e));
}

/* The call's working set, carved out of the caller's scratch. */
typedef struct ws {
    int d, rows, rp;             /* head dim, query rows (n * group), rows padded to W */
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
    size_t i = 0;
    for (; i + W <= n; i += W)
        _mm512_store_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + i))));
    if (i < n)
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
    __m512 acc[QK_J][QK_X];
    UNROLL for (int j = 0; j < nj; j++)
        UNROLL for (int x = 0; x < nx; x++)
            acc[j][x] = _mm512_setzero_ps();
    const float *qc = w->qT + (size_t)x0 * W, *kr = k + (size_t)jb * d;
    for (int c = 0; c < d; c++, qc += rp) {
        __m512 qv[QK_X];
        UNROLL for (int x = 0; x < nx; x++)
            qv[x] = _mm512_load_ps(qc + x * W);
        UNROLL for (int j = 0; j < nj; j++) {
            const __m512 kb = _mm512_set1_ps(kr[(size_t)j * d + c]);
            UNROLL for (int x = 0; x < nx; x++)
                acc[j][x] = _mm512_fmadd_ps(qv[x], kb, acc[j][x]);
        }
    }
    float *out = w->pT + (size_t)jb * rp + (size_t)x0 * W;
    UNROLL for (int j = 0; j < nj; j++)
        UNROLL for (int x = 0; x < nx; x++) {
            __m512 s = acc[j][x];
            if (masked) { /* causal: row r sees key key0+jb+j iff it is <= lim[r] */
                const __m512 lim = _mm512_load_ps(w->lim + (size_t)(x0 + x) * W);
                const __mmask16 hidden =
                    _mm512_cmp_ps_mask(lim, _mm512_set1_ps(key0 + (float)(jb + j)), _CMP_LT_OQ);
                s = _mm512_mask_mov_ps(s, hidden, _mm512_set1_ps(-INFINITY));
            }
            _mm512_store_ps(out + (size_t)j * rp + (size_t)x * W, s);
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

/* ---- softmax down one column of 16 rows: one max and one rescale per tile ---- */

static void softmax_column(ws *w, int x, int nk)
{
    const size_t rp = (size_t)w->rp;
    float *s = w->pT + (size_t)x * W;
    __m512 mx0 = _mm512_set1_ps(-INFINITY), mx1 = mx0, mx2 = mx0, mx3 = mx0;
    int j = 0;
    for (; j + 4 <= nk; j += 4) { /* four chains: max has a latency of 4 */
        mx0 = _mm512_max_ps(mx0, _mm512_load_ps(s + j * rp));
        mx1 = _mm512_max_ps(mx1, _mm512_load_ps(s + (j + 1) * rp));
        mx2 = _mm512_max_ps(mx2, _mm512_load_ps(s + (j + 2) * rp));
        mx3 = _mm512_max_ps(mx3, _mm512_load_ps(s + (j + 3) * rp));
    }
    for (; j < nk; j++)
        mx0 = _mm512_max_ps(mx0, _mm512_load_ps(s + j * rp));
    const __m512 mx = _mm512_max_ps(_mm512_max_ps(mx0, mx1), _mm512_max_ps(mx2, mx3));
    const __m512 mo = _mm512_load_ps(w->m + (size_t)x * W), mn = _mm512_max_ps(mo, mx);
    /* a row that saw nothing yet keeps m = -inf: subtract 0 there, not -inf */
    const __m512 msub = _mm512_maskz_mov_ps(
        _mm512_cmp_ps_mask(mn, _mm512_set1_ps(-INFINITY), _CMP_NEQ_OQ), mn);
    /* unchanged max: alpha exactly 1, so rows this tile does not reach keep their state */
    const __m512 alpha = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(mn, mo, _CMP_EQ_OQ),
                                              exp_neg(_mm512_sub_ps(mo, msub)), _mm512_set1_ps(1.0f));
    __m512 sum0 = _mm512_setzero_ps(), sum1 = sum0;
    for (j = 0; j + 2 <= nk; j += 2) {
        const __m512 p0 = exp_neg(_mm512_sub_ps(_mm512_load_ps(s + j * rp), msub));
        const __m512 p1 = exp_neg(_mm512_sub_ps(_mm512_load_ps(s + (j + 1) * rp), msub));
        _mm512_store_ps(s + j * rp, p0);
        _mm512_store_ps(s + (j + 1) * rp, p1);
        sum0 = _mm512_add_ps(sum0, p0);
        sum1 = _mm512_add_ps(sum1, p1);
    }
    if (j < nk) {
        const __m512 p0 = exp_neg(_mm512_sub_ps(_mm512_load_ps(s + j * rp), msub));
        _mm512_store_ps(s + j * rp, p0);
        sum0 = _mm512_add_ps(sum0, p0);
    }
    float *l = w->l + (size_t)x * W;
    _mm512_store_ps(l, _mm512_fmadd_ps(_mm512_load_ps(l), alpha, _mm512_add_ps(sum0, sum1)));
    _mm512_store_ps(w->m + (size_t)x * W, mn);
    _mm512_store_ps(w->alpha + (size_t)x * W, alpha);
}

/* ---- O[r .. r+nr) = alpha O + P V, for nc vectors of d from vector cb ---- */

INLINE void pv_block(const ws *w, const float *v, int nk, float *o, int r, int nr, int cb, int nc,
                     __mmask16 last)
{
    const int d = w->d, rp = w->rp;
    __m512 acc[PV_R][PV_C];
    UNROLL for (int i = 0; i < nr; i++) {
        const __m512 a = _mm512_set1_ps(w->alpha[r + i]);
        const float *orow = o + (size_t)(r + i) * d + (size_t)cb * W;
        UNROLL for (int x = 0; x < nc; x++)
            acc[i][x] = _mm512_mul_ps(_mm512_maskz_loadu_ps(x == nc - 1 ? last : 0xffff, orow + x * W), a);
    }
    const float *p = w->pT + r, *vr = v + (size_t)cb * W;
    for (int j = 0; j < nk; j++, p += rp, vr += d) {
        __m512 vv[PV_C];
        UNROLL for (int x = 0; x < nc; x++)
            vv[x] = _mm512_maskz_loadu_ps(x == nc - 1 ? last : 0xffff, vr + x * W);
        UNROLL for (int i = 0; i < nr; i++) {
            const __m512 pb = _mm512_set1_ps(p[i]);
            UNROLL for (int x = 0; x < nc; x++)
                acc[i][x] = _mm512_fmadd_ps(pb, vv[x], acc[i][x]);
        }
    }
    UNROLL for (int i = 0; i < nr; i++) {
        float *orow = o + (size_t)(r + i) * d + (size_t)cb * W;
        UNROLL for (int x = 0; x < nc; x++)
            _mm512_mask_storeu_ps(orow + x * W, x == nc - 1 ? last : 0xffff, acc[i][x]);
    }
}

/* Keys [0, nk) of the tile that row `row` sees: up to its position. */
static inline int keys_seen(const ws *w, int nk, int key0, int row)
{
    const int seen = (int)w->lim[row] - key0 + 1;
    return seen < nk ? seen : nk;
}

#define PV_NC(nr)                                                                   \
    do {                                                                            \
        const int kr = keys_seen(w, nk, key0, r + (nr) - 1);                        \
        switch (nc) {                                                               \
        case 4: pv_block(w, v, kr, o, r, nr, cb, 4, last); break;                   \
        case 3: pv_block(w, v, kr, o, r, nr, cb, 3, last); break;                   \
        case 2: pv_block(w, v, kr, o, r, nr, cb, 2, last); break;                   \
        default: pv_block(w, v, kr, o, r, nr, cb, 1, last); break;                  \
        }                                                                           \
    } while (0)

/* Rows [ra, rb) over keys [0, nk) of the tile; a row block stops at the
 * last key its last row sees (a causal chunk's diagonal tile). */
static void pv_rows(const ws *w, const float *v, int nk, int key0, float *o, int ra, int rb)
{
    const int nvec = (w->d + W - 1) / W;
    for (int cb = 0; cb < nvec; cb += PV_C) {
        const int nc = nvec - cb < PV_C ? nvec - cb : PV_C;
        const __mmask16 last = cb + nc == nvec && w->d % W ? 0x00ff : 0xffff;
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
    const int nx_all = w.rp / W;
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

void chunk_attn_f16_avx512(const void *k, const void *v, int j0, int j1, int d, const float *q,
                           size_t q_stride, int n, int group, int pos0, float scale, float *m,
                           float *l, float *o, float *scratch)
{
    attn(k, v, 1, j0, j1, d, q, q_stride, n, group, pos0, scale, m, l, o, scratch);
}

void chunk_attn_f32_avx512(const void *k, const void *v, int j0, int j1, int d, const float *q,
                           size_t q_stride, int n, int group, int pos0, float scale, float *m,
                           float *l, float *o, float *scratch)
{
    attn(k, v, 0, j0, j1, d, q, q_stride, n, group, pos0, scale, m, l, o, scratch);
}

#else
typedef int resa_chunk_avx512_unused; /* ISO C forbids an empty translation unit */
#endif
