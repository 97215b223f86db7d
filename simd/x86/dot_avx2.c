/* "dot" kernels for AVX2 + FMA + F16C (compile with -mavx2 -mfma -mf16c).
 *
 * int8 products use the maddubs idiom: vpmaddubsw multiplies unsigned by
 * signed bytes and adds pairs into int16, vpmaddwd with ones widens to int32.
 * Signed x signed moves x's sign onto y first (|x| * sign(x)*y). The pair sums
 * cannot saturate: |x| <= 128 (a Q8_0 weight may be -128) and |y| <= 127 (our
 * activation quantizer never produces -128), 2*128*127 < 32767.
 *
 * A Q4/Q8 block is 32 values = one ymm of bytes, so every block gives 8 int32
 * partial sums that are converted and FMA'd with the block's d_w*d_a into a
 * float accumulator; two blocks per iteration into two accumulators hide the
 * FMA latency. */
#if defined(__x86_64__)

#include <immintrin.h>

#include "dot.h"

static inline float hsum_ps(__m256 v)
{
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

static inline int hsum_epi32(__m256i v)
{
    __m128i x = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, _MM_SHUFFLE(1, 0, 3, 2)));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(x);
}

static inline float h2f(resa_f16 h)
{
    return _cvtsh_ss(h);
}

/* ---- float weights ------------------------------------------------------------ */

static inline __m256 load_f16(const resa_f16 *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

static inline __m256 load_bf16(const resa_bf16 *p)
{
    const __m256i u = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(u, 16));
}

/* One body for the three float dots: LOAD(p) gives 8 floats of the weight. */
#define FLOAT_DOT_BODY(LOAD, TO_F32)                                              \
    const float *y = a;                                                          \
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();               \
    __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();               \
    int64_t i = 0;                                                               \
    for (; i + 32 <= n; i += 32) {                                               \
        acc0 = _mm256_fmadd_ps(LOAD(x + i), _mm256_loadu_ps(y + i), acc0);       \
        acc1 = _mm256_fmadd_ps(LOAD(x + i + 8), _mm256_loadu_ps(y + i + 8), acc1);   \
        acc2 = _mm256_fmadd_ps(LOAD(x + i + 16), _mm256_loadu_ps(y + i + 16), acc2); \
        acc3 = _mm256_fmadd_ps(LOAD(x + i + 24), _mm256_loadu_ps(y + i + 24), acc3); \
    }                                                                            \
    for (; i + 8 <= n; i += 8)                                                   \
        acc0 = _mm256_fmadd_ps(LOAD(x + i), _mm256_loadu_ps(y + i), acc0);       \
    float sum = hsum_ps(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3))); \
    for (; i < n; i++)                                                           \
        sum += TO_F32(x[i]) * y[i];                                              \
    *s = sum

#define ID(v) (v)

decl_vec_dot_fn(dot_f32_avx2)
{
    const float *x = w;
    FLOAT_DOT_BODY(_mm256_loadu_ps, ID);
}

decl_vec_dot_fn(dot_f16_avx2)
{
    const resa_f16 *x = w;
    FLOAT_DOT_BODY(load_f16, h2f);
}

decl_vec_dot_fn(dot_bf16_avx2)
{
    const resa_bf16 *x = w;
    FLOAT_DOT_BODY(load_bf16, resa_bf16_to_f32);
}

/* ---- int8 dots -------------------------------------------------------------------- */

/* 16 bytes of packed nibbles -> 32 bytes: low nibbles (elements 0..15) in the
 * low lane, high nibbles (elements 16..31) in the high lane. */
static inline __m256i unpack_nibbles(const uint8_t *qs)
{
    const __m128i b = _mm_loadu_si128((const __m128i *)qs);
    const __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(b), _mm_srli_epi16(b, 4), 1);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
}

static inline __m256i load_i8(const int8_t *p)
{
    return _mm256_loadu_si256((const __m256i *)p);
}

/* 8 int32 partial sums of u*y, u unsigned bytes, y signed */
static inline __m256i dot_u8i8(__m256i u, __m256i y)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, y), _mm256_set1_epi16(1));
}

/* 8 int32 partial sums of x*y, both signed */
static inline __m256i dot_i8i8(__m256i x, __m256i y)
{
    return dot_u8i8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

static inline __m256 fma_block(float d, __m256i sumi, __m256 acc)
{
    return _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
}

decl_vec_dot_fn(dot_q8_0_avx2)
{
    const block_q8_0 *x = w;
    const block_q8_0 *y = a;
    const int64_t nb = n / QK8_0;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        const __m256i p0 = dot_i8i8(load_i8(x[i].qs), load_i8(y[i].qs));
        const __m256i p1 = dot_i8i8(load_i8(x[i + 1].qs), load_i8(y[i + 1].qs));
        acc0 = fma_block(h2f(x[i].d) * h2f(y[i].d), p0, acc0);
        acc1 = fma_block(h2f(x[i + 1].d) * h2f(y[i + 1].d), p1, acc1);
    }
    if (i < nb)
        acc0 = fma_block(h2f(x[i].d) * h2f(y[i].d), dot_i8i8(load_i8(x[i].qs), load_i8(y[i].qs)), acc0);
    *s = hsum_ps(_mm256_add_ps(acc0, acc1));
}

static inline __m256i q4_0_block(const block_q4_0 *x)
{
    return _mm256_sub_epi8(unpack_nibbles(x->qs), _mm256_set1_epi8(8));
}

decl_vec_dot_fn(dot_q4_0_avx2)
{
    const block_q4_0 *x = w;
    const block_q8_0 *y = a;
    const int64_t nb = n / QK4_0;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        const __m256i p0 = dot_i8i8(q4_0_block(&x[i]), load_i8(y[i].qs));
        const __m256i p1 = dot_i8i8(q4_0_block(&x[i + 1]), load_i8(y[i + 1].qs));
        acc0 = fma_block(h2f(x[i].d) * h2f(y[i].d), p0, acc0);
        acc1 = fma_block(h2f(x[i + 1].d) * h2f(y[i + 1].d), p1, acc1);
    }
    if (i < nb)
        acc0 = fma_block(h2f(x[i].d) * h2f(y[i].d), dot_i8i8(q4_0_block(&x[i]), load_i8(y[i].qs)), acc0);
    *s = hsum_ps(_mm256_add_ps(acc0, acc1));
}

/* Q4_1 nibbles are unsigned already: no sign trick. The m*s terms go to a
 * scalar accumulator (one FMA per block, off the vector critical path). */
decl_vec_dot_fn(dot_q4_1_avx2)
{
    const block_q4_1 *x = w;
    const block_q8_1 *y = a;
    const int64_t nb = n / QK4_1;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    float summs = 0.0f;
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        const __m256i p0 = dot_u8i8(unpack_nibbles(x[i].qs), load_i8(y[i].qs));
        const __m256i p1 = dot_u8i8(unpack_nibbles(x[i + 1].qs), load_i8(y[i + 1].qs));
        acc0 = fma_block(h2f(x[i].d) * h2f(y[i].d), p0, acc0);
        acc1 = fma_block(h2f(x[i + 1].d) * h2f(y[i + 1].d), p1, acc1);
        summs += h2f(x[i].m) * h2f(y[i].s) + h2f(x[i + 1].m) * h2f(y[i + 1].s);
    }
    if (i < nb) {
        acc0 = fma_block(h2f(x[i].d) * h2f(y[i].d), dot_u8i8(unpack_nibbles(x[i].qs), load_i8(y[i].qs)), acc0);
        summs += h2f(x[i].m) * h2f(y[i].s);
    }
    *s = hsum_ps(_mm256_add_ps(acc0, acc1)) + summs;
}

/* ---- activation quantizers ------------------------------------------------------ */

/* roundf(v) for |v| < 2^31, exactly: truncate, then step one away from zero
 * where the (exact) remainder is >= 0.5. cvtps would round ties to even. */
static inline __m256i round_away(__m256 v)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 r = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t));
    const __m256 step = _mm256_or_ps(_mm256_and_ps(v, sign), _mm256_set1_ps(1.0f));
    const __m256 up = _mm256_and_ps(_mm256_cmp_ps(r, _mm256_set1_ps(0.5f), _CMP_GE_OQ), step);
    return _mm256_cvttps_epi32(_mm256_add_ps(t, up));
}

/* One block of 32 floats -> 32 int8 at q, fp16 d at dh; returns sum(q) and
 * the float d. Same arithmetic as the reference (types.c). */
static inline int quantize_block(const float *x, int8_t *q, resa_f16 *dh, float *dout)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
    const __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
    __m256 m = _mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1));
    m = _mm256_max_ps(m, _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    const float amax = _mm_cvtss_f32(h);

    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const __m256 vid = _mm256_set1_ps(id);
    const __m256i i0 = round_away(_mm256_mul_ps(v0, vid));
    const __m256i i1 = round_away(_mm256_mul_ps(v1, vid));
    const __m256i i2 = round_away(_mm256_mul_ps(v2, vid));
    const __m256i i3 = round_away(_mm256_mul_ps(v3, vid));
    /* packs work per 128-bit lane: the result is in dword order 0 4 1 5 2 6 3 7 */
    const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    const __m256i q8 = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)q, q8);
    *dh = (resa_f16)_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    *dout = d;
    return hsum_epi32(_mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3)));
}

decl_quantize_fn(dot_quantize_q8_0_avx2)
{
    block_q8_0 *b = y;
    float d;
    for (int64_t i = 0; i < n / QK8_0; i++)
        quantize_block(x + i * QK8_0, b[i].qs, &b[i].d, &d);
}

decl_quantize_fn(dot_quantize_q8_1_avx2)
{
    block_q8_1 *b = y;
    float d;
    for (int64_t i = 0; i < n / QK8_1; i++) {
        const int sum = quantize_block(x + i * QK8_1, b[i].qs, &b[i].d, &d);
        b[i].s = (resa_f16)_cvtss_sh((float)sum * d, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    }
}

#else
typedef int resa_dot_avx2_unused; /* ISO C forbids an empty translation unit */
#endif
