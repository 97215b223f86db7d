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
#include <string.h>

#include "dot.h"

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
    const __fp16 h = (__fp16)f; /* FCVT: round to nearest even, like resa_f32_to_f16 */
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
    FLOAT_DOT_BODY(load_bf16, resa_bf16_to_f32);
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

static inline float32x4_t fma_block(float32x4_t acc, int32x4_t sumi, float d)
{
    return vfmaq_n_f32(acc, vcvtq_f32_s32(sumi), d);
}

/* One body per type, for both product primitives. DOT(x0, x1, y0, y1) -> int32x4. */
#define Q8_0_BODY(DOT)                                                              \
    const block_q8_0 *x = w;                                                       \
    const block_q8_0 *y = a;                                                       \
    const int64_t nb = n / QK8_0;                                                  \
    float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = vdupq_n_f32(0.0f);                \
    int64_t i = 0;                                                                 \
    for (; i + 2 <= nb; i += 2) {                                                  \
        const int32x4_t p0 = DOT(vld1q_s8(x[i].qs), vld1q_s8(x[i].qs + 16),        \
                                 vld1q_s8(y[i].qs), vld1q_s8(y[i].qs + 16));       \
        const int32x4_t p1 = DOT(vld1q_s8(x[i + 1].qs), vld1q_s8(x[i + 1].qs + 16),    \
                                 vld1q_s8(y[i + 1].qs), vld1q_s8(y[i + 1].qs + 16));   \
        acc0 = fma_block(acc0, p0, h2f(x[i].d) * h2f(y[i].d));                     \
        acc1 = fma_block(acc1, p1, h2f(x[i + 1].d) * h2f(y[i + 1].d));             \
    }                                                                              \
    if (i < nb) {                                                                  \
        const int32x4_t p0 = DOT(vld1q_s8(x[i].qs), vld1q_s8(x[i].qs + 16),        \
                                 vld1q_s8(y[i].qs), vld1q_s8(y[i].qs + 16));       \
        acc0 = fma_block(acc0, p0, h2f(x[i].d) * h2f(y[i].d));                     \
    }                                                                              \
    *s = vaddvq_f32(vaddq_f32(acc0, acc1))

/* OFF: 8 for Q4_0 (signed nibbles), 0 for Q4_1 */
#define Q4_BODY(BLOCK_W, BLOCK_A, DOT, OFF, MS)                                      \
    const BLOCK_W *x = w;                                                          \
    const BLOCK_A *y = a;                                                          \
    const int64_t nb = n / 32;                                                     \
    const int8x16_t off = vdupq_n_s8(OFF);                                         \
    float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = vdupq_n_f32(0.0f);                \
    float summs = 0.0f;                                                            \
    int64_t i = 0;                                                                 \
    for (; i + 2 <= nb; i += 2) {                                                  \
        int8x16_t l0, h0, l1, h1;                                                  \
        unpack_nibbles(x[i].qs, &l0, &h0);                                         \
        unpack_nibbles(x[i + 1].qs, &l1, &h1);                                     \
        const int32x4_t p0 = DOT(vsubq_s8(l0, off), vsubq_s8(h0, off),             \
                                 vld1q_s8(y[i].qs), vld1q_s8(y[i].qs + 16));       \
        const int32x4_t p1 = DOT(vsubq_s8(l1, off), vsubq_s8(h1, off),             \
                                 vld1q_s8(y[i + 1].qs), vld1q_s8(y[i + 1].qs + 16));   \
        acc0 = fma_block(acc0, p0, h2f(x[i].d) * h2f(y[i].d));                     \
        acc1 = fma_block(acc1, p1, h2f(x[i + 1].d) * h2f(y[i + 1].d));             \
        summs += MS(i) + MS(i + 1);                                                \
    }                                                                              \
    if (i < nb) {                                                                  \
        int8x16_t l0, h0;                                                          \
        unpack_nibbles(x[i].qs, &l0, &h0);                                         \
        const int32x4_t p0 = DOT(vsubq_s8(l0, off), vsubq_s8(h0, off),             \
                                 vld1q_s8(y[i].qs), vld1q_s8(y[i].qs + 16));       \
        acc0 = fma_block(acc0, p0, h2f(x[i].d) * h2f(y[i].d));                     \
        summs += MS(i);                                                            \
    }                                                                              \
    *s = vaddvq_f32(vaddq_f32(acc0, acc1)) + summs

#define NO_MS(i) 0.0f
#define Q4_1_MS(i) (h2f(x[i].m) * h2f(y[i].s))

decl_vec_dot_fn(dot_q8_0_neon)
{
    Q8_0_BODY(dot_block);
}

decl_vec_dot_fn(dot_q4_0_neon)
{
    Q4_BODY(block_q4_0, block_q8_0, dot_block, 8, NO_MS);
}

decl_vec_dot_fn(dot_q4_1_neon)
{
    Q4_BODY(block_q4_1, block_q8_1, dot_block, 0, Q4_1_MS);
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
}

TARGET_DOTPROD decl_vec_dot_fn(dot_q4_1_dotprod)
{
    Q4_BODY(block_q4_1, block_q8_1, dot_block_sdot, 0, Q4_1_MS);
}
#else
/* A compiler without per-function dotprod targets: same names, baseline code. */
decl_vec_dot_fn(dot_q8_0_dotprod) { dot_q8_0_neon(n, s, w, a); }
decl_vec_dot_fn(dot_q4_0_dotprod) { dot_q4_0_neon(n, s, w, a); }
decl_vec_dot_fn(dot_q4_1_dotprod) { dot_q4_1_neon(n, s, w, a); }
#endif

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

/* ---- row conversion --------------------------------------------------------------- */

/* f16 -> f32: exact, like the reference (every half is a float). */
void dot_to_float_f16_neon(const void *src, float *dst, int64_t n)
{
    const uint16_t *x = src;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(dst + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(x + i))));
    for (; i < n; i++)
        dst[i] = resa_f16_to_f32(x[i]);
}

#else
typedef int resa_dot_neon_unused; /* ISO C forbids an empty translation unit */
#endif
