/* SPDX-License-Identifier: MIT */
/* "dot" kernels for AArch64 Advanced SIMD (no flags needed: NEON is baseline).
 *
 * int8 products without dotprod: vmull_s8 of 8 byte pairs into int16, one
 * more vmlal_high_s8 into the same int16 lanes (2 * 128 * 127 < 32767, as in
 * the AVX2 notes), then vpadalq_s16 pairwise-accumulates into int32. The
 * *_dotprod versions use SDOT (ARMv8.2 FEAT_DotProd) through a target
 * attribute, so the file still needs no flags; the dispatcher only installs
 * them when HWCAP_ASIMDDP is set. */
#if defined(__aarch64__)

#include <arm_neon.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "dot.h"
#include "kscales.h"

#if defined(__ARM_FEATURE_DOTPROD) /* built for a dotprod CPU anyway */
#define TARGET_DOTPROD
#define HAVE_DOTPROD_TARGET 1
#elif defined(__clang__) && __clang_major__ >= 16
/* older clang declares vdotq_s32 only under __ARM_FEATURE_DOTPROD */
#define TARGET_DOTPROD __attribute__((target("dotprod")))
#define HAVE_DOTPROD_TARGET 1
#elif !defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 10
/* arm_neon.h declares SDOT under arch=armv8.2-a+dotprod: match it exactly */
#define TARGET_DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))
#define HAVE_DOTPROD_TARGET 1
#endif

static inline float h2f(resa_f16 h)
{
    __fp16 f;
    memcpy(&f, &h, sizeof f);
    return (float)f;
}

static inline resa_f16 f2h(float f)
{
    const __fp16 h = (__fp16)f; /* FCVT: round to nearest even, like type_f32_to_f16 */
    resa_f16 u;
    memcpy(&u, &h, sizeof u);
    return u;
}

/* ---- float weights ------------------------------------------------------------- */

static inline float32x4_t load_f32(const float *p)
{
    return vld1q_f32(p);
}

static inline float32x4_t load_f16(const resa_f16 *p)
{
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
}

static inline float32x4_t load_bf16(const resa_bf16 *p)
{
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16));
}

#define ID(v) (v)

#define FLOAT_DOT_BODY(LOAD, TO_F32)                                             \
    const float *y = a;                                                         \
    float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = vdupq_n_f32(0.0f);             \
    float32x4_t acc2 = vdupq_n_f32(0.0f), acc3 = vdupq_n_f32(0.0f);             \
    int64_t i = 0;                                                              \
    for (; i + 16 <= n; i += 16) {                                              \
        acc0 = vfmaq_f32(acc0, LOAD(x + i), vld1q_f32(y + i));                  \
        acc1 = vfmaq_f32(acc1, LOAD(x + i + 4), vld1q_f32(y + i + 4));          \
        acc2 = vfmaq_f32(acc2, LOAD(x + i + 8), vld1q_f32(y + i + 8));          \
        acc3 = vfmaq_f32(acc3, LOAD(x + i + 12), vld1q_f32(y + i + 12));        \
    }                                                                           \
    for (; i + 4 <= n; i += 4)                                                  \
        acc0 = vfmaq_f32(acc0, LOAD(x + i), vld1q_f32(y + i));                  \
    float sum = vaddvq_f32(vaddq_f32(vaddq_f32(acc0, acc1), vaddq_f32(acc2, acc3))); \
    for (; i < n; i++)                                                          \
        sum += TO_F32(x[i]) * y[i];                                             \
    *s = sum

decl_vec_dot_fn(dot_f32_neon)
{
    const float *x = w;
    FLOAT_DOT_BODY(load_f32, ID);
}

decl_vec_dot_fn(dot_f16_neon)
{
    const resa_f16 *x = w;
    FLOAT_DOT_BODY(load_f16, h2f);
}

decl_vec_dot_fn(dot_bf16_neon)
{
    const resa_bf16 *x = w;
    FLOAT_DOT_BODY(load_bf16, type_bf16_to_f32);
}

/* ---- int8 dots ----------------------------------------------------------------- */

/* 32 signed products of one block (two 16-byte halves each) summed into 4
 * int32 lanes. */
static inline int32x4_t dot_block(int8x16_t x0, int8x16_t x1, int8x16_t y0, int8x16_t y1)
{
    int16x8_t p0 = vmull_s8(vget_low_s8(x0), vget_low_s8(y0));
    int16x8_t p1 = vmull_s8(vget_low_s8(x1), vget_low_s8(y1));
    p0 = vmlal_high_s8(p0, x0, y0);
    p1 = vmlal_high_s8(p1, x1, y1);
    return vpadalq_s16(vpaddlq_s16(p0), p1);
}

/* The nibbles of one block as two vectors of 16 (elements 0..15, 16..31). */
static inline void unpack_nibbles(const uint8_t *qs, int8x16_t *lo, int8x16_t *hi)
{
    const uint8x16_t b = vld1q_u8(qs);
    *lo = vreinterpretq_s8_u8(vandq_u8(b, vdupq_n_u8(0x0f)));
    *hi = vreinterpretq_s8_u8(vshrq_n_u8(b, 4));
}

/* dot.h's recipe, one block: acc = fma(d_w * d_a, isum, acc) (fmaf is one
 * FMADD here) */
static inline float chain1(float acc, resa_f16 dw, resa_f16 da, int32x4_t isum)
{
    return fmaf(h2f(dw) * h2f(da), (float)vaddvq_s32(isum), acc);
}

/* One body per type, for both product primitives. DOT(x0, x1, y0, y1) -> int32x4. */
#define Q8_0_BODY(DOT)                                                              \
    const block_q8_0 *x = w;                                                       \
    const block_q8_0 *y = a;                                                       \
    float acc = 0.0f;                                                              \
    for (int64_t i = 0; i < n / QK8_0; i++)                                        \
        acc = chain1(acc, x[i].d, y[i].d,                                          \
                     DOT(vld1q_s8(x[i].qs), vld1q_s8(x[i].qs + 16), vld1q_s8(y[i].qs), \
                         vld1q_s8(y[i].qs + 16)));                                 \
    *s = acc

/* OFF: 8 for Q4_0 (signed nibbles), 0 for Q4_1 */
#define Q4_BODY(BLOCK_W, BLOCK_A, DOT, OFF, MS)                                      \
    const BLOCK_W *x = w;                                                          \
    const BLOCK_A *y = a;                                                          \
    const int8x16_t off = vdupq_n_s8(OFF);                                         \
    float acc = 0.0f, accm = 0.0f;                                                 \
    for (int64_t i = 0; i < n / 32; i++) {                                         \
        int8x16_t l0, h0;                                                          \
        unpack_nibbles(x[i].qs, &l0, &h0);                                         \
        acc = chain1(acc, x[i].d, y[i].d,                                          \
                     DOT(vsubq_s8(l0, off), vsubq_s8(h0, off), vld1q_s8(y[i].qs),  \
                         vld1q_s8(y[i].qs + 16)));                                 \
        MS;                                                                        \
    }                                                                              \
    (void)accm

#define NO_MS (void)0
#define Q4_1_MS (accm = fmaf(h2f(x[i].m), h2f(y[i].s), accm))

decl_vec_dot_fn(dot_q8_0_neon)
{
    Q8_0_BODY(dot_block);
}

decl_vec_dot_fn(dot_q4_0_neon)
{
    Q4_BODY(block_q4_0, block_q8_0, dot_block, 8, NO_MS);
    *s = acc;
}

decl_vec_dot_fn(dot_q4_1_neon)
{
    Q4_BODY(block_q4_1, block_q8_1, dot_block, 0, Q4_1_MS);
    *s = acc + accm;
}

#if defined(HAVE_DOTPROD_TARGET)
TARGET_DOTPROD static inline int32x4_t dot_block_sdot(int8x16_t x0, int8x16_t x1, int8x16_t y0, int8x16_t y1)
{
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), x0, y0), x1, y1);
}

TARGET_DOTPROD decl_vec_dot_fn(dot_q8_0_dotprod)
{
    Q8_0_BODY(dot_block_sdot);
}

TARGET_DOTPROD decl_vec_dot_fn(dot_q4_0_dotprod)
{
    Q4_BODY(block_q4_0, block_q8_0, dot_block_sdot, 8, NO_MS);
    *s = acc;
}

TARGET_DOTPROD decl_vec_dot_fn(dot_q4_1_dotprod)
{
    Q4_BODY(block_q4_1, block_q8_1, dot_block_sdot, 0, Q4_1_MS);
    *s = acc + accm;
}
#else
/* A compiler without per-function dotprod targets: same names, baseline code. */
decl_vec_dot_fn(dot_q8_0_dotprod) { dot_q8_0_neon(n, s, w, a); }
decl_vec_dot_fn(dot_q4_0_dotprod) { dot_q4_0_neon(n, s, w, a); }
decl_vec_dot_fn(dot_q4_1_dotprod) { dot_q4_1_neon(n, s, w, a); }
#endif

/* A Q5 block's 32 fifth bits as bytes 0x10 where set, element order. */
static inline void q5_high(const uint8_t qh[4], uint8x16_t *lo, uint8x16_t *hi)
{
    static const uint8_t bits[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const uint8x16_t m = vld1q_u8(bits), h = vdupq_n_u8(0x10);
    *lo = vandq_u8(vtstq_u8(vcombine_u8(vdup_n_u8(qh[0]), vdup_n_u8(qh[1])), m), h);
    *hi = vandq_u8(vtstq_u8(vcombine_u8(vdup_n_u8(qh[2]), vdup_n_u8(qh[3])), m), h);
}

/* ---- int8 gemm over activation panels ---------------------------------------------
 *
 * As on x86 (dot_avx2.c): per block each row's weights become two vectors of
 * 16 signed values, and the four-byte group k of the row meets the panel's
 * group k of four columns at a time. With dotprod that is one SDOT by lane
 * (the group picked from the weight vector by lane number) per (row, four
 * columns, k): lane c ends with column c's block sum, no horizontal sums.
 * Without it, the group is duplicated across a vector and multiplied with
 * SMULL/SMLAL: 4- and 5-bit weights add all 8 groups in int16 (<= 8 * 31 *
 * 128 = 31744, Q5_1's codes), Q8_0 and IQ4_NL's levels widen each group with
 * SADALP; pairwise adds then leave one sum per column. Tiles: one panel (8
 * columns) x up to 4 rows (dotprod) or 2. */

#define AI static inline __attribute__((always_inline))

/* One weight block as elements 0..15 and 16..31 (signed) */
AI void expand_block(enum resa_wtype t, const uint8_t *blk, int8x16_t *w0, int8x16_t *w1)
{
    if (t == RESA_W_Q8_0) {
        *w0 = vld1q_s8((const int8_t *)blk + offsetof(block_q8_0, qs));
        *w1 = vld1q_s8((const int8_t *)blk + offsetof(block_q8_0, qs) + 16);
        return;
    }
    unpack_nibbles(blk + resa_wblock_nibbles(t), w0, w1);
    if (t == RESA_W_IQ4_NL) {
        const int8x16_t kv = vld1q_s8(resa_kvalues_iq4nl);
        *w0 = vqtbl1q_s8(kv, vreinterpretq_u8_s8(*w0));
        *w1 = vqtbl1q_s8(kv, vreinterpretq_u8_s8(*w1));
        return;
    }
    if (t == RESA_W_Q5_0 || t == RESA_W_Q5_1) {
        uint8x16_t h0, h1;
        q5_high(blk + resa_wblock_qh(t), &h0, &h1);
        *w0 = vorrq_s8(*w0, vreinterpretq_s8_u8(h0));
        *w1 = vorrq_s8(*w1, vreinterpretq_s8_u8(h1));
    }
    if (t == RESA_W_Q4_0 || t == RESA_W_Q5_0) {
        const int8x16_t off = vdupq_n_s8(t == RESA_W_Q4_0 ? 8 : 16);
        *w0 = vsubq_s8(*w0, off);
        *w1 = vsubq_s8(*w1, off);
    }
}

AI float32x4_t load4_f16(const resa_f16 *p)
{
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
}

AI float wscale(const uint8_t *blk, size_t off)
{
    resa_f16 h;
    memcpy(&h, blk + off, sizeof h);
    return h2f(h);
}

/* Columns 4h..4h+3 of one row: s[(4h + c) * lds] for 4h + c < nc. */
AI void store4(float32x4_t v, int h, int nc, float *s, size_t lds)
{
    float t[4];
    vst1q_f32(t, v);
    for (int c = 0; c < 4 && 4 * h + c < nc; c++)
        s[(size_t)(4 * h + c) * lds] = t[c];
}

/* The scaling part of a tile, per block, and the m * s chains and stores
 * after it: the same for both product primitives. */
AI void scale_block(enum resa_wtype t, int NR, const uint8_t *w, size_t ldw, int64_t b, const resa_dot_panel *pb,
                    int32x4_t isum[4][2], float32x4_t acc[4][2])
{
    const float32x4_t da0 = load4_f16(pb->d), da1 = load4_f16(pb->d + 4);
    for (int r = 0; r < NR; r++) {
        const float dw = wscale(w + (size_t)r * ldw + (size_t)b * resa_wblock_bytes(t), 0);
        acc[r][0] = vfmaq_f32(acc[r][0], vmulq_n_f32(da0, dw), vcvtq_f32_s32(isum[r][0]));
        acc[r][1] = vfmaq_f32(acc[r][1], vmulq_n_f32(da1, dw), vcvtq_f32_s32(isum[r][1]));
    }
}

AI void finish_tile(enum resa_wtype t, int NR, int64_t nb, const uint8_t *w, size_t ldw, const resa_dot_panel *pan,
                    float32x4_t acc[4][2], int nr, int nc, float *s, size_t lds)
{
    if (resa_wtype_has_min(t)) {
        float32x4_t accm[4][2];
        for (int r = 0; r < NR; r++)
            accm[r][0] = accm[r][1] = vdupq_n_f32(0.0f);
        for (int64_t b = 0; b < nb; b++) {
            const float32x4_t s0 = load4_f16(pan[b].s), s1 = load4_f16(pan[b].s + 4);
            for (int r = 0; r < NR; r++) {
                const float m = wscale(w + (size_t)r * ldw + (size_t)b * resa_wblock_bytes(t), RESA_WBLOCK_M);
                accm[r][0] = vfmaq_f32(accm[r][0], vdupq_n_f32(m), s0);
                accm[r][1] = vfmaq_f32(accm[r][1], vdupq_n_f32(m), s1);
            }
        }
        for (int r = 0; r < NR; r++) {
            acc[r][0] = vaddq_f32(acc[r][0], accm[r][0]);
            acc[r][1] = vaddq_f32(acc[r][1], accm[r][1]);
        }
    }
    for (int r = 0; r < NR; r++)
        if (r < nr) {
            store4(acc[r][0], 0, nc, s + r, lds);
            store4(acc[r][1], 1, nc, s + r, lds);
        }
}

/* Baseline: the group duplicated, SMULL/SMLAL, pairwise adds. */
#define MUL_GROUP(Q, L)                                                                           \
    do {                                                                                          \
        for (int r = 0; r < NR; r++)                                                              \
            wrep[r] = vreinterpretq_s8_s32(vdupq_laneq_s32(vreinterpretq_s32_s8(wv[r][Q]), L));   \
        for (int h = 0; h < 2; h++) {                                                             \
            const int8x16_t yk = vld1q_s8(pb->qs[4 * (Q) + (L)][4 * h]);                          \
            for (int r = 0; r < NR; r++) {                                                        \
                if (t == RESA_W_Q8_0 || t == RESA_W_IQ4_NL) {                                          \
                    a32[r][h][0] = vpadalq_s16(a32[r][h][0], vmull_s8(vget_low_s8(yk), vget_low_s8(wrep[r]))); \
                    a32[r][h][1] = vpadalq_s16(a32[r][h][1], vmull_high_s8(yk, wrep[r]));      \
                } else {                                                                          \
                    a16[r][h][0] = vmlal_s8(a16[r][h][0], vget_low_s8(yk), vget_low_s8(wrep[r])); \
                    a16[r][h][1] = vmlal_high_s8(a16[r][h][1], yk, wrep[r]);                       \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
    } while (0)

AI void tile_neon(enum resa_wtype t, int NR, int64_t nb, const uint8_t *w, size_t ldw, const resa_dot_panel *pan,
                  int nr, int nc, float *s, size_t lds)
{
    float32x4_t acc[4][2];
    for (int r = 0; r < NR; r++)
        acc[r][0] = acc[r][1] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; b++) {
        const resa_dot_panel *pb = &pan[b];
        int8x16_t wv[4][2], wrep[4];
        for (int r = 0; r < NR; r++)
            expand_block(t, w + (size_t)r * ldw + (size_t)b * resa_wblock_bytes(t), &wv[r][0], &wv[r][1]);
        int16x8_t a16[4][2][2];
        int32x4_t a32[4][2][2], isum[4][2];
        for (int r = 0; r < NR; r++)
            for (int h = 0; h < 2; h++) {
                a16[r][h][0] = a16[r][h][1] = vdupq_n_s16(0);
                a32[r][h][0] = a32[r][h][1] = vdupq_n_s32(0);
            }
        MUL_GROUP(0, 0); MUL_GROUP(0, 1); MUL_GROUP(0, 2); MUL_GROUP(0, 3);
        MUL_GROUP(1, 0); MUL_GROUP(1, 1); MUL_GROUP(1, 2); MUL_GROUP(1, 3);
        for (int r = 0; r < NR; r++)
            for (int h = 0; h < 2; h++)
                isum[r][h] = t == RESA_W_Q8_0 || t == RESA_W_IQ4_NL ? vpaddq_s32(a32[r][h][0], a32[r][h][1])
                                         : vpaddq_s32(vpaddlq_s16(a16[r][h][0]), vpaddlq_s16(a16[r][h][1]));
        scale_block(t, NR, w, ldw, b, pb, isum, acc);
    }
    finish_tile(t, NR, nb, w, ldw, pan, acc, nr, nc, s, lds);
}

/* Panels one at a time, rows by two (then one). */
AI void gemm_int8(enum resa_wtype t, int64_t n, int nr, int nc, const uint8_t *w, size_t ldw,
                  const resa_dot_panel *pan, float *s, size_t lds)
{
    const int64_t nb = n / 32;
    for (int c0 = 0; c0 < nc; c0 += RESA_PANEL_COLS)
        for (int r = 0; r < nr; r += 2) {
            const uint8_t *wr = w + (size_t)r * ldw;
            const resa_dot_panel *p = pan + (size_t)(c0 / RESA_PANEL_COLS) * (size_t)nb;
            float *sr = s + (size_t)c0 * lds + r;
            if (nr - r >= 2)
                tile_neon(t, 2, nb, wr, ldw, p, nr - r, nc - c0, sr, lds);
            else
                tile_neon(t, 1, nb, wr, ldw, p, nr - r, nc - c0, sr, lds);
        }
}

RESA_GEMM_PANEL(dot_gemm_q4_0_neon, gemm_int8, RESA_W_Q4_0)
RESA_GEMM_PANEL(dot_gemm_q4_1_neon, gemm_int8, RESA_W_Q4_1)
RESA_GEMM_PANEL(dot_gemm_q8_0_neon, gemm_int8, RESA_W_Q8_0)
RESA_GEMM_PANEL(dot_gemm_q5_0_neon, gemm_int8, RESA_W_Q5_0)
RESA_GEMM_PANEL(dot_gemm_q5_1_neon, gemm_int8, RESA_W_Q5_1)
RESA_GEMM_PANEL(dot_gemm_iq4_nl_neon, gemm_int8, RESA_W_IQ4_NL)

#if defined(HAVE_DOTPROD_TARGET)
/* SDOT by lane: the weight group picked by lane number. */
#define SDOT_GROUP(Q, L)                                                                        \
    do {                                                                                        \
        for (int h = 0; h < 2; h++) {                                                           \
            const int8x16_t yk = vld1q_s8(pb->qs[4 * (Q) + (L)][4 * h]);                        \
            for (int r = 0; r < NR; r++)                                                        \
                isum[r][h] = vdotq_laneq_s32(isum[r][h], yk, wv[r][Q], L);                      \
        }                                                                                       \
    } while (0)

TARGET_DOTPROD AI void tile_sdot(enum resa_wtype t, int NR, int64_t nb, const uint8_t *w, size_t ldw,
                                 const resa_dot_panel *pan, int nr, int nc, float *s, size_t lds)
{
    float32x4_t acc[4][2];
    for (int r = 0; r < NR; r++)
        acc[r][0] = acc[r][1] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; b++) {
        const resa_dot_panel *pb = &pan[b];
        int8x16_t wv[4][2];
        int32x4_t isum[4][2];
        for (int r = 0; r < NR; r++) {
            expand_block(t, w + (size_t)r * ldw + (size_t)b * resa_wblock_bytes(t), &wv[r][0], &wv[r][1]);
            isum[r][0] = isum[r][1] = vdupq_n_s32(0);
        }
        SDOT_GROUP(0, 0); SDOT_GROUP(0, 1); SDOT_GROUP(0, 2); SDOT_GROUP(0, 3);
        SDOT_GROUP(1, 0); SDOT_GROUP(1, 1); SDOT_GROUP(1, 2); SDOT_GROUP(1, 3);
        scale_block(t, NR, w, ldw, b, pb, isum, acc);
    }
    finish_tile(t, NR, nb, w, ldw, pan, acc, nr, nc, s, lds);
}

/* Panels one at a time, rows by four, two or one. */
TARGET_DOTPROD AI void gemm_int8_sdot(enum resa_wtype t, int64_t n, int nr, int nc, const uint8_t *w, size_t ldw,
                                      const resa_dot_panel *pan, float *s, size_t lds)
{
    const int64_t nb = n / 32;
    for (int c0 = 0; c0 < nc; c0 += RESA_PANEL_COLS)
        for (int r = 0; r < nr;) {
            const uint8_t *wr = w + (size_t)r * ldw;
            const resa_dot_panel *p = pan + (size_t)(c0 / RESA_PANEL_COLS) * (size_t)nb;
            float *sr = s + (size_t)c0 * lds + r;
            const int left = nr - r;
            if (left >= 4)
                tile_sdot(t, 4, nb, wr, ldw, p, left, nc - c0, sr, lds);
            else if (left >= 2)
                tile_sdot(t, 2, nb, wr, ldw, p, left, nc - c0, sr, lds);
            else
                tile_sdot(t, 1, nb, wr, ldw, p, left, nc - c0, sr, lds);
            r += left >= 4 ? 4 : left >= 2 ? 2 : 1;
        }
}

TARGET_DOTPROD RESA_GEMM_PANEL(dot_gemm_q4_0_dotprod, gemm_int8_sdot, RESA_W_Q4_0)
TARGET_DOTPROD RESA_GEMM_PANEL(dot_gemm_q4_1_dotprod, gemm_int8_sdot, RESA_W_Q4_1)
TARGET_DOTPROD RESA_GEMM_PANEL(dot_gemm_q8_0_dotprod, gemm_int8_sdot, RESA_W_Q8_0)
TARGET_DOTPROD RESA_GEMM_PANEL(dot_gemm_q5_0_dotprod, gemm_int8_sdot, RESA_W_Q5_0)
TARGET_DOTPROD RESA_GEMM_PANEL(dot_gemm_q5_1_dotprod, gemm_int8_sdot, RESA_W_Q5_1)
TARGET_DOTPROD RESA_GEMM_PANEL(dot_gemm_iq4_nl_dotprod, gemm_int8_sdot, RESA_W_IQ4_NL)
#else
RESA_GEMM_PANEL(dot_gemm_q4_0_dotprod, gemm_int8, RESA_W_Q4_0)
RESA_GEMM_PANEL(dot_gemm_q4_1_dotprod, gemm_int8, RESA_W_Q4_1)
RESA_GEMM_PANEL(dot_gemm_q8_0_dotprod, gemm_int8, RESA_W_Q8_0)
RESA_GEMM_PANEL(dot_gemm_q5_0_dotprod, gemm_int8, RESA_W_Q5_0)
RESA_GEMM_PANEL(dot_gemm_q5_1_dotprod, gemm_int8, RESA_W_Q5_1)
RESA_GEMM_PANEL(dot_gemm_iq4_nl_dotprod, gemm_int8, RESA_W_IQ4_NL)
#endif

/* gemv: loops of vec_dot (an eight-rows-in-lanes version as on x86 is still
 * to be written for NEON). */
RESA_GEMV_LOOP(dot_gemv_f32_neon, dot_f32_neon)
RESA_GEMV_LOOP(dot_gemv_f16_neon, dot_f16_neon)
RESA_GEMV_LOOP(dot_gemv_bf16_neon, dot_bf16_neon)
RESA_GEMV_LOOP(dot_gemv_q4_0_neon, dot_q4_0_neon)
RESA_GEMV_LOOP(dot_gemv_q4_1_neon, dot_q4_1_neon)
RESA_GEMV_LOOP(dot_gemv_q8_0_neon, dot_q8_0_neon)
RESA_GEMV_LOOP(dot_gemv_q4_0_dotprod, dot_q4_0_dotprod)
RESA_GEMV_LOOP(dot_gemv_q4_1_dotprod, dot_q4_1_dotprod)
RESA_GEMV_LOOP(dot_gemv_q8_0_dotprod, dot_q8_0_dotprod)
RESA_GEMM_LOOP(dot_gemm_f32_neon, dot_f32_neon)
RESA_GEMM_LOOP(dot_gemm_f16_neon, dot_f16_neon)
RESA_GEMM_LOOP(dot_gemm_bf16_neon, dot_bf16_neon)

/* ---- activation quantizers ------------------------------------------------------ */

/* FCVTNS rounds to nearest with ties to even: exactly the reference's nearbyintf. */
static inline int quantize_block(const float *x, int8_t *q, resa_f16 *dh, float *dout)
{
    float32x4_t v[8];
    float32x4_t m = vdupq_n_f32(0.0f);
    for (int j = 0; j < 8; j++) {
        v[j] = vld1q_f32(x + 4 * j);
        m = vmaxq_f32(m, vabsq_f32(v[j]));
    }
    const float amax = vmaxvq_f32(m);
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    int32x4_t sum = vdupq_n_s32(0);
    for (int j = 0; j < 8; j += 2) {
        const int32x4_t i0 = vcvtnq_s32_f32(vmulq_n_f32(v[j], id));
        const int32x4_t i1 = vcvtnq_s32_f32(vmulq_n_f32(v[j + 1], id));
        sum = vaddq_s32(sum, vaddq_s32(i0, i1));
        const int16x8_t h = vcombine_s16(vqmovn_s32(i0), vqmovn_s32(i1));
        vst1_s8(q + 4 * j, vqmovn_s16(h));
    }
    *dh = f2h(d);
    *dout = d;
    return vaddvq_s32(sum);
}

decl_quantize_fn(dot_quantize_q8_0_neon)
{
    block_q8_0 *b = y;
    float d;
    for (int64_t i = 0; i < n / QK8_0; i++)
        quantize_block(x + i * QK8_0, b[i].qs, &b[i].d, &d);
}

decl_quantize_fn(dot_quantize_q8_1_neon)
{
    block_q8_1 *b = y;
    float d;
    for (int64_t i = 0; i < n / QK8_1; i++) {
        const int sum = quantize_block(x + i * QK8_1, b[i].qs, &b[i].d, &d);
        b[i].s = f2h((float)sum * d);
    }
}

/* Q8_K: one amax over 256 values (max is exact in any order), each 16
 * rounded as in quantize_block and summed exactly; d stays a float. Same
 * arithmetic as the reference (types.c). */
decl_quantize_fn(dot_quantize_q8_k_neon)
{
    block_q8_K *b = y;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float32x4_t m = vabsq_f32(vld1q_f32(x));
        for (int j = 4; j < QK_K; j += 4)
            m = vmaxq_f32(m, vabsq_f32(vld1q_f32(x + j)));
        const float amax = vmaxvq_f32(m);
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        b[i].d = amax / 127.0f;
        for (int j = 0; j < QK_K; j += 16) {
            int32x4_t q[4];
            for (int k = 0; k < 4; k++)
                q[k] = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + j + 4 * k), id));
            const int16x8_t h0 = vcombine_s16(vqmovn_s32(q[0]), vqmovn_s32(q[1]));
            const int16x8_t h1 = vcombine_s16(vqmovn_s32(q[2]), vqmovn_s32(q[3]));
            vst1q_s8(b[i].qs + j, vcombine_s8(vqmovn_s16(h0), vqmovn_s16(h1)));
            b[i].bsums[j / 16] = (int16_t)vaddvq_s32(vaddq_s32(vaddq_s32(q[0], q[1]), vaddq_s32(q[2], q[3])));
        }
    }
}

/* ---- row conversion --------------------------------------------------------------- */

/* f16 -> f32: exact, like the reference (every half is a float). */
void dot_to_float_f16_neon(const void *src, float *dst, int64_t n)
{
    const uint16_t *x = src;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(dst + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(x + i))));
    for (; i < n; i++)
        dst[i] = type_f16_to_f32(x[i]);
}

/* ---- Q5_0, Q5_1, IQ4_NL and the super-block types --------------------------------------
 *
 * dot.h's recipes again; DOT16(x, y) sums 16 signed products into 4 int32
 * lanes (vmull/vpadal, or one SDOT), and a sub-block's scale multiplies
 * them exactly (vmlaq_n_s32). Q6_K's codes minus 32 fit int8 here, so no
 * bsums trick is needed: the integers are the recipe's either way. */

static inline int32x4_t dot16(int8x16_t x, int8x16_t y)
{
    return vpaddlq_s16(vmlal_high_s8(vmull_s8(vget_low_s8(x), vget_low_s8(y)), x, y));
}

#define Q5_0_BODY(DOT16)                                                                     \
    const block_q5_0 *x = w;                                                                \
    const block_q8_0 *y = a;                                                                \
    float acc = 0.0f;                                                                       \
    for (int64_t i = 0; i < n / QK5_0; i++) {                                               \
        const uint8x16_t b = vld1q_u8(x[i].qs);                                             \
        uint8x16_t h0, h1;                                                                  \
        q5_high(x[i].qh, &h0, &h1);                                                         \
        const int8x16_t off = vdupq_n_s8(16);                                               \
        const int8x16_t x0 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vandq_u8(b, vdupq_n_u8(0x0f)), h0)), off); \
        const int8x16_t x1 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(b, 4), h1)), off); \
        acc = chain1(acc, x[i].d, y[i].d,                                                   \
                     vaddq_s32(DOT16(x0, vld1q_s8(y[i].qs)), DOT16(x1, vld1q_s8(y[i].qs + 16)))); \
    }                                                                                       \
    *s = acc

/* Q4_K: 8 sub-blocks of 32, six-bit scales and mins (types.c's scale_min_k4). */
#define Q4_K_BODY(DOT16)                                                                     \
    const block_q4_K *x = w;                                                                \
    const block_q8_K *y = a;                                                                \
    float acc = 0.0f, accm = 0.0f;                                                          \
    for (int64_t b = 0; b < n / QK_K; b++) {                                                \
        int16_t sc[8], m[8];                                                                \
        kscales_q4_k(x[b].scales, sc, m);                                                   \
        int32x4_t isum = vdupq_n_s32(0);                                                    \
        for (int g = 0; g < 4; g++) {                                                       \
            const int8_t *yq = y[b].qs + 64 * g;                                            \
            for (int hf = 0; hf < 2; hf++) {                                                \
                const uint8x16_t q = vld1q_u8(x[b].qs + 32 * g + 16 * hf);                  \
                const int8x16_t lo = vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0f)));    \
                const int8x16_t hi = vreinterpretq_s8_u8(vshrq_n_u8(q, 4));                 \
                isum = vmlaq_n_s32(isum, DOT16(lo, vld1q_s8(yq + 16 * hf)), sc[2 * g]);     \
                isum = vmlaq_n_s32(isum, DOT16(hi, vld1q_s8(yq + 32 + 16 * hf)), sc[2 * g + 1]); \
            }                                                                               \
        }                                                                                   \
        int32_t msum = 0;                                                                   \
        for (int j = 0; j < 8; j++)                                                         \
            msum += m[j] * (y[b].bsums[2 * j] + y[b].bsums[2 * j + 1]);                     \
        acc = fmaf(h2f(x[b].d) * y[b].d, (float)vaddvq_s32(isum), acc);                     \
        accm = fmaf(h2f(x[b].dmin) * y[b].d, (float)msum, accm);                            \
    }                                                                                       \
    *s = acc - accm

/* Q6_K: per half of 128, ql[l] and ql[l + 32] hold the low nibbles of
 * elements l, l + 32 (and l + 64, l + 96 in their high nibbles), qh[l]
 * the top two bits of all four. */
#define Q6_K_BODY(DOT16)                                                                     \
    const block_q6_K *x = w;                                                                \
    const block_q8_K *y = a;                                                                \
    const uint8x16_t m4 = vdupq_n_u8(0x0f), m30 = vdupq_n_u8(0x30);                         \
    const int8x16_t off = vdupq_n_s8(32);                                                   \
    float acc = 0.0f;                                                                       \
    for (int64_t b = 0; b < n / QK_K; b++) {                                                \
        int32x4_t isum = vdupq_n_s32(0);                                                    \
        for (int h = 0; h < 2; h++) {                                                       \
            const int8_t *sc = x[b].scales + 8 * h, *yq = y[b].qs + 128 * h;                \
            for (int hf = 0; hf < 2; hf++) {                                                \
                const uint8x16_t l0 = vld1q_u8(x[b].ql + 64 * h + 16 * hf);                 \
                const uint8x16_t l1 = vld1q_u8(x[b].ql + 64 * h + 32 + 16 * hf);            \
                const uint8x16_t hb = vld1q_u8(x[b].qh + 32 * h + 16 * hf);                 \
                uint8x16_t q[4];                                                            \
                q[0] = vorrq_u8(vandq_u8(l0, m4), vandq_u8(vshlq_n_u8(hb, 4), m30));        \
                q[1] = vorrq_u8(vandq_u8(l1, m4), vandq_u8(vshlq_n_u8(hb, 2), m30));        \
                q[2] = vorrq_u8(vshrq_n_u8(l0, 4), vandq_u8(hb, m30));                      \
                q[3] = vorrq_u8(vshrq_n_u8(l1, 4), vandq_u8(vshrq_n_u8(hb, 2), m30));       \
                for (int k = 0; k < 4; k++) {                                               \
                    const int8x16_t v = vsubq_s8(vreinterpretq_s8_u8(q[k]), off);           \
                    isum = vmlaq_n_s32(isum, DOT16(v, vld1q_s8(yq + 32 * k + 16 * hf)), sc[2 * k + hf]); \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
        acc = fmaf(h2f(x[b].d) * y[b].d, (float)vaddvq_s32(isum), acc);                     \
    }                                                                                       \
    *s = acc /* the recipe's acc - accm with accm = 0 */

/* Q5_K: Q4_K plus a fifth bit: bit 2g of qh[l] tops element 64g + l, bit
 * 2g + 1 element 64g + 32 + l. */
#define Q5_K_BODY(DOT16)                                                                     \
    const block_q5_K *x = w;                                                                \
    const block_q8_K *y = a;                                                                \
    const uint8x16_t m4 = vdupq_n_u8(0x0f), one = vdupq_n_u8(1);                            \
    float acc = 0.0f, accm = 0.0f;                                                          \
    for (int64_t b = 0; b < n / QK_K; b++) {                                                \
        int16_t sc[8], m[8];                                                                \
        kscales_q4_k(x[b].scales, sc, m);                                                   \
        int32x4_t isum = vdupq_n_s32(0);                                                    \
        for (int g = 0; g < 4; g++) {                                                       \
            const int8_t *yq = y[b].qs + 64 * g;                                            \
            for (int hf = 0; hf < 2; hf++) {                                                \
                const uint8x16_t q = vld1q_u8(x[b].qs + 32 * g + 16 * hf);                  \
                const uint8x16_t hb = vshlq_u8(vld1q_u8(x[b].qh + 16 * hf), vdupq_n_s8((int8_t)(-2 * g))); \
                const int8x16_t lo = vreinterpretq_s8_u8(vorrq_u8(vandq_u8(q, m4), vshlq_n_u8(vandq_u8(hb, one), 4))); \
                const int8x16_t hi = vreinterpretq_s8_u8(                                   \
                    vorrq_u8(vshrq_n_u8(q, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 1), one), 4))); \
                isum = vmlaq_n_s32(isum, DOT16(lo, vld1q_s8(yq + 16 * hf)), sc[2 * g]);     \
                isum = vmlaq_n_s32(isum, DOT16(hi, vld1q_s8(yq + 32 + 16 * hf)), sc[2 * g + 1]); \
            }                                                                               \
        }                                                                                   \
        int32_t msum = 0;                                                                   \
        for (int j = 0; j < 8; j++)                                                         \
            msum += m[j] * (y[b].bsums[2 * j] + y[b].bsums[2 * j + 1]);                     \
        acc = fmaf(h2f(x[b].d) * y[b].d, (float)vaddvq_s32(isum), acc);                     \
        accm = fmaf(h2f(x[b].dmin) * y[b].d, (float)msum, accm);                            \
    }                                                                                       \
    *s = acc - accm

/* Q3_K and Q2_K: element 128h + 32j + l is bits 2j of qs[32h + l] (and,
 * for Q3_K, minus 4 where bit 4h + j of hmask[l] is clear: the code fits
 * int8 as it is). Sub-block 8h + 2j + hf per 16 bytes. */
#define Q3_K_BODY(DOT16)                                                                     \
    const block_q3_K *x = w;                                                                \
    const block_q8_K *y = a;                                                                \
    const uint8x16_t m3 = vdupq_n_u8(3), one = vdupq_n_u8(1);                               \
    const int8x16_t four = vdupq_n_s8(4);                                                   \
    float acc = 0.0f;                                                                       \
    for (int64_t b = 0; b < n / QK_K; b++) {                                                \
        int8_t sc[16];                                                                      \
        kscales_q3_k(x[b].scales, sc);                                                      \
        int32x4_t isum = vdupq_n_s32(0);                                                    \
        for (int h = 0; h < 2; h++)                                                         \
            for (int hf = 0; hf < 2; hf++) {                                                \
                const uint8x16_t q = vld1q_u8(x[b].qs + 32 * h + 16 * hf);                  \
                const uint8x16_t hm = vld1q_u8(x[b].hmask + 16 * hf);                       \
                for (int j = 0; j < 4; j++) {                                               \
                    const uint8x16_t lo = vandq_u8(vshlq_u8(q, vdupq_n_s8((int8_t)(-2 * j))), m3); \
                    const uint8x16_t hi = vandq_u8(vshlq_u8(hm, vdupq_n_s8((int8_t)(-4 * h - j))), one); \
                    const int8x16_t v = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(lo, vshlq_n_u8(hi, 2))), four); \
                    isum = vmlaq_n_s32(isum, DOT16(v, vld1q_s8(y[b].qs + 128 * h + 32 * j + 16 * hf)), \
                                       sc[8 * h + 2 * j + hf]);                             \
                }                                                                           \
            }                                                                               \
        acc = fmaf(h2f(x[b].d) * y[b].d, (float)vaddvq_s32(isum), acc);                     \
    }                                                                                       \
    *s = acc /* the recipe's acc - accm with accm = 0 */

#define Q2_K_BODY(DOT16)                                                                     \
    const block_q2_K *x = w;                                                                \
    const block_q8_K *y = a;                                                                \
    const uint8x16_t m3 = vdupq_n_u8(3);                                                    \
    float acc = 0.0f, accm = 0.0f;                                                          \
    for (int64_t b = 0; b < n / QK_K; b++) {                                                \
        const uint8x16_t s8 = vld1q_u8(x[b].scales);                                        \
        uint8_t sc[16];                                                                     \
        vst1q_u8(sc, vandq_u8(s8, vdupq_n_u8(0x0f)));                                       \
        const uint8x16_t m8 = vshrq_n_u8(s8, 4);                                            \
        const int16x8_t mlo = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(m8)));             \
        const int16x8_t mhi = vreinterpretq_s16_u16(vmovl_high_u8(m8));                     \
        const int16x8_t blo = vld1q_s16(y[b].bsums), bhi = vld1q_s16(y[b].bsums + 8);       \
        int32x4_t ms = vmull_s16(vget_low_s16(mlo), vget_low_s16(blo));                     \
        ms = vmlal_high_s16(ms, mlo, blo);                                                  \
        ms = vmlal_s16(ms, vget_low_s16(mhi), vget_low_s16(bhi));                           \
        ms = vmlal_high_s16(ms, mhi, bhi);                                                  \
        int32x4_t isum = vdupq_n_s32(0);                                                    \
        for (int h = 0; h < 2; h++)                                                         \
            for (int hf = 0; hf < 2; hf++) {                                                \
                const uint8x16_t q = vld1q_u8(x[b].qs + 32 * h + 16 * hf);                  \
                for (int j = 0; j < 4; j++) {                                               \
                    const int8x16_t v = vreinterpretq_s8_u8(vandq_u8(vshlq_u8(q, vdupq_n_s8((int8_t)(-2 * j))), m3)); \
                    isum = vmlaq_n_s32(isum, DOT16(v, vld1q_s8(y[b].qs + 128 * h + 32 * j + 16 * hf)), \
                                       sc[8 * h + 2 * j + hf]);                             \
                }                                                                           \
            }                                                                               \
        acc = fmaf(h2f(x[b].d) * y[b].d, (float)vaddvq_s32(isum), acc);                     \
        accm = fmaf(h2f(x[b].dmin) * y[b].d, (float)vaddvq_s32(ms), accm);                  \
    }                                                                                       \
    *s = acc - accm

/* IQ4_XS: 8 sub-blocks of 32, 16 bytes of nibbles each (low nibbles the
 * first 16 values) looked up in the level table (|level| <= 127, so the
 * vmull pair sums fit int16 as for Q8_0). */
#define IQ4_XS_BODY(DOT16)                                                                   \
    const block_iq4_xs *x = w;                                                              \
    const block_q8_K *y = a;                                                                \
    const int8x16_t kv = vld1q_s8(resa_kvalues_iq4nl);                                      \
    float acc = 0.0f;                                                                       \
    for (int64_t b = 0; b < n / QK_K; b++) {                                                \
        int16_t sc[8];                                                                      \
        kscales_iq4_xs(x[b].scales_h, x[b].scales_l, sc);                                   \
        int32x4_t isum = vdupq_n_s32(0);                                                    \
        for (int ib = 0; ib < 8; ib++) {                                                    \
            const uint8x16_t q = vld1q_u8(x[b].qs + 16 * ib);                               \
            const int8x16_t lo = vqtbl1q_s8(kv, vandq_u8(q, vdupq_n_u8(0x0f)));             \
            const int8x16_t hi = vqtbl1q_s8(kv, vshrq_n_u8(q, 4));                          \
            const int8_t *yq = y[b].qs + 32 * ib;                                           \
            isum = vmlaq_n_s32(isum, vaddq_s32(DOT16(lo, vld1q_s8(yq)), DOT16(hi, vld1q_s8(yq + 16))), sc[ib]); \
        }                                                                                   \
        acc = fmaf(h2f(x[b].d) * y[b].d, (float)vaddvq_s32(isum), acc);                     \
    }                                                                                       \
    *s = acc /* the recipe's acc - accm with accm = 0 */

/* Q5_1: Q5_0's values without the -16, plus the m * s chain. */
#define Q5_1_BODY(DOT16)                                                                     \
    const block_q5_1 *x = w;                                                                \
    const block_q8_1 *y = a;                                                                \
    float acc = 0.0f, accm = 0.0f;                                                          \
    for (int64_t i = 0; i < n / QK5_1; i++) {                                               \
        const uint8x16_t b = vld1q_u8(x[i].qs);                                             \
        uint8x16_t h0, h1;                                                                  \
        q5_high(x[i].qh, &h0, &h1);                                                         \
        const int8x16_t x0 = vreinterpretq_s8_u8(vorrq_u8(vandq_u8(b, vdupq_n_u8(0x0f)), h0)); \
        const int8x16_t x1 = vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(b, 4), h1));           \
        acc = chain1(acc, x[i].d, y[i].d,                                                   \
                     vaddq_s32(DOT16(x0, vld1q_s8(y[i].qs)), DOT16(x1, vld1q_s8(y[i].qs + 16)))); \
        accm = fmaf(h2f(x[i].m), h2f(y[i].s), accm);                                        \
    }                                                                                       \
    *s = acc + accm

/* IQ4_NL: Q8_0's loop over the looked-up levels. */
#define IQ4_NL_BODY(DOT16)                                                                   \
    const block_iq4_nl *x = w;                                                              \
    const block_q8_0 *y = a;                                                                \
    const int8x16_t kv = vld1q_s8(resa_kvalues_iq4nl);                                      \
    float acc = 0.0f;                                                                       \
    for (int64_t i = 0; i < n / QK4_NL; i++) {                                              \
        const uint8x16_t b = vld1q_u8(x[i].qs);                                             \
        const int8x16_t x0 = vqtbl1q_s8(kv, vandq_u8(b, vdupq_n_u8(0x0f)));                 \
        const int8x16_t x1 = vqtbl1q_s8(kv, vshrq_n_u8(b, 4));                              \
        acc = chain1(acc, x[i].d, y[i].d,                                                   \
                     vaddq_s32(DOT16(x0, vld1q_s8(y[i].qs)), DOT16(x1, vld1q_s8(y[i].qs + 16)))); \
    }                                                                                       \
    *s = acc

/* The vec_dots of both product primitives: dot_<type>_neon, _dotprod. */
#define K_DOTS(isa, DOT16, ATTR)                               \
    ATTR decl_vec_dot_fn(dot_q5_1_##isa) { Q5_1_BODY(DOT16); }     \
    ATTR decl_vec_dot_fn(dot_iq4_nl_##isa) { IQ4_NL_BODY(DOT16); } \
    ATTR decl_vec_dot_fn(dot_q2_k_##isa) { Q2_K_BODY(DOT16); }     \
    ATTR decl_vec_dot_fn(dot_q3_k_##isa) { Q3_K_BODY(DOT16); }     \
    ATTR decl_vec_dot_fn(dot_q5_k_##isa) { Q5_K_BODY(DOT16); }     \
    ATTR decl_vec_dot_fn(dot_iq4_xs_##isa) { IQ4_XS_BODY(DOT16); }

K_DOTS(neon, dot16, )

decl_vec_dot_fn(dot_q5_0_neon)
{
    Q5_0_BODY(dot16);
}

decl_vec_dot_fn(dot_q4_k_neon)
{
    Q4_K_BODY(dot16);
}

decl_vec_dot_fn(dot_q6_k_neon)
{
    Q6_K_BODY(dot16);
}

#if defined(HAVE_DOTPROD_TARGET)
TARGET_DOTPROD static inline int32x4_t dot16_sdot(int8x16_t x, int8x16_t y)
{
    return vdotq_s32(vdupq_n_s32(0), x, y);
}

TARGET_DOTPROD decl_vec_dot_fn(dot_q5_0_dotprod)
{
    Q5_0_BODY(dot16_sdot);
}

TARGET_DOTPROD decl_vec_dot_fn(dot_q4_k_dotprod)
{
    Q4_K_BODY(dot16_sdot);
}

TARGET_DOTPROD decl_vec_dot_fn(dot_q6_k_dotprod)
{
    Q6_K_BODY(dot16_sdot);
}
K_DOTS(dotprod, dot16_sdot, TARGET_DOTPROD)
#else
decl_vec_dot_fn(dot_q5_0_dotprod) { dot_q5_0_neon(n, s, w, a); }
decl_vec_dot_fn(dot_q4_k_dotprod) { dot_q4_k_neon(n, s, w, a); }
decl_vec_dot_fn(dot_q6_k_dotprod) { dot_q6_k_neon(n, s, w, a); }
decl_vec_dot_fn(dot_q5_1_dotprod) { dot_q5_1_neon(n, s, w, a); }
decl_vec_dot_fn(dot_iq4_nl_dotprod) { dot_iq4_nl_neon(n, s, w, a); }
decl_vec_dot_fn(dot_q2_k_dotprod) { dot_q2_k_neon(n, s, w, a); }
decl_vec_dot_fn(dot_q3_k_dotprod) { dot_q3_k_neon(n, s, w, a); }
decl_vec_dot_fn(dot_q5_k_dotprod) { dot_q5_k_neon(n, s, w, a); }
decl_vec_dot_fn(dot_iq4_xs_dotprod) { dot_iq4_xs_neon(n, s, w, a); }
#endif

RESA_GEMV_LOOP(dot_gemv_q5_0_neon, dot_q5_0_neon)
RESA_GEMV_LOOP(dot_gemv_q4_k_neon, dot_q4_k_neon)
RESA_GEMV_LOOP(dot_gemv_q6_k_neon, dot_q6_k_neon)
RESA_GEMM_LOOP(dot_gemm_q4_k_neon, dot_q4_k_neon)
RESA_GEMM_LOOP(dot_gemm_q6_k_neon, dot_q6_k_neon)
RESA_GEMV_LOOP(dot_gemv_q5_0_dotprod, dot_q5_0_dotprod)
RESA_GEMV_LOOP(dot_gemv_q4_k_dotprod, dot_q4_k_dotprod)
RESA_GEMV_LOOP(dot_gemv_q6_k_dotprod, dot_q6_k_dotprod)
RESA_GEMM_LOOP(dot_gemm_q4_k_dotprod, dot_q4_k_dotprod)
RESA_GEMM_LOOP(dot_gemm_q6_k_dotprod, dot_q6_k_dotprod)
RESA_GEMV_LOOP(dot_gemv_q5_1_neon, dot_q5_1_neon)
RESA_GEMV_LOOP(dot_gemv_iq4_nl_neon, dot_iq4_nl_neon)
RESA_GEMV_LOOP(dot_gemv_q2_k_neon, dot_q2_k_neon)
RESA_GEMV_LOOP(dot_gemv_q3_k_neon, dot_q3_k_neon)
RESA_GEMV_LOOP(dot_gemv_q5_k_neon, dot_q5_k_neon)
RESA_GEMV_LOOP(dot_gemv_iq4_xs_neon, dot_iq4_xs_neon)
RESA_GEMM_LOOP(dot_gemm_q2_k_neon, dot_q2_k_neon)
RESA_GEMM_LOOP(dot_gemm_q3_k_neon, dot_q3_k_neon)
RESA_GEMM_LOOP(dot_gemm_q5_k_neon, dot_q5_k_neon)
RESA_GEMM_LOOP(dot_gemm_iq4_xs_neon, dot_iq4_xs_neon)
RESA_GEMV_LOOP(dot_gemv_q5_1_dotprod, dot_q5_1_dotprod)
RESA_GEMV_LOOP(dot_gemv_iq4_nl_dotprod, dot_iq4_nl_dotprod)
RESA_GEMV_LOOP(dot_gemv_q2_k_dotprod, dot_q2_k_dotprod)
RESA_GEMV_LOOP(dot_gemv_q3_k_dotprod, dot_q3_k_dotprod)
RESA_GEMV_LOOP(dot_gemv_q5_k_dotprod, dot_q5_k_dotprod)
RESA_GEMV_LOOP(dot_gemv_iq4_xs_dotprod, dot_iq4_xs_dotprod)
RESA_GEMM_LOOP(dot_gemm_q2_k_dotprod, dot_q2_k_dotprod)
RESA_GEMM_LOOP(dot_gemm_q3_k_dotprod, dot_q3_k_dotprod)
RESA_GEMM_LOOP(dot_gemm_q5_k_dotprod, dot_q5_k_dotprod)
RESA_GEMM_LOOP(dot_gemm_iq4_xs_dotprod, dot_iq4_xs_dotprod)

#else
typedef int resa_dot_neon_unused; /* ISO C forbids an empty translation unit */
#endif
