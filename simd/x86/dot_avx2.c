/* "dot" kernels for AVX2 + FMA + F16C (compile with -mavx2 -mfma -mf16c).
 *
 * int8 products use the maddubs idiom: vpmaddubsw multiplies unsigned by
 * signed bytes and adds pairs into int16, vpmaddwd with ones widens to int32.
 * Signed x signed moves x's sign onto y first (|x| * sign(x)*y). The pair sums
 * cannot saturate: |x| <= 128 (a Q8_0 weight may be -128) and |y| <= 127 (our
 * activation quantizer never produces -128), 2*128*127 < 32767.
 *
 * A Q4/Q8 block is 32 values = one ymm of bytes. Four blocks per iteration:
 * their integer sums are reduced with hadds to one vector holding two lanes
 * per block, converted once and FMA'd with the four blocks' d_w*d_a, whose
 * eight fp16 inputs are converted by one vcvtph2ps. Per block that leaves
 * one vpmaddubsw, one vpmaddwd (half for 4-bit weights) and a few cheap ops;
 * the integer multiply ports are the limit, not the scales. */
#if defined(__x86_64__)

#include <immintrin.h>
#include <string.h>

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
 * low lane, high nibbles (elements 16..31) in the high lane. The broadcast
 * load costs no ALU op; shifting the high lane's dwords by 4 moves each
 * byte's high nibble down (the bits shifted in from the next byte are masked
 * off), so no cross-lane shuffle is needed. */
static inline __m256i unpack_nibbles(const uint8_t *qs)
{
    const __m256i b = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
    const __m256i v = _mm256_srlv_epi32(b, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4));
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

static inline uint32_t load_u32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint64_t pack4_f16(resa_f16 a, resa_f16 b, resa_f16 c, resa_f16 d)
{
    return (uint64_t)a | (uint64_t)b << 16 | (uint64_t)c << 32 | (uint64_t)d << 48;
}

/* Eight fp16 values (two u64) -> eight floats with one vcvtph2ps: the scalar
 * F16C path costs an insert and a convert per value, which was the bulk of a
 * block's work. */
static inline __m256 cvt8_f16(uint64_t lo, uint64_t hi)
{
    return _mm256_cvtph_ps(_mm_set_epi64x((long long)hi, (long long)lo));
}

/* Four blocks' 8 int32 partial sums each -> [b0 b1 b2 b3 | b0 b1 b2 b3]: each
 * block's sum in two lanes (its low and high 128 bits), so one convert and
 * one FMA with [d0 d1 d2 d3 | d0 d1 d2 d3] scale all four blocks. The hadds
 * run on shuffle ports, which the multiply-heavy loop leaves idle. */
static inline __m256i reduce4(__m256i p0, __m256i p1, __m256i p2, __m256i p3)
{
    return _mm256_hadd_epi32(_mm256_hadd_epi32(p0, p1), _mm256_hadd_epi32(p2, p3));
}

/* Same result from four blocks' vpmaddubsw outputs (16 int16 pair sums each):
 * the first hadd still fits int16 (4-product sums of a 4-bit weight are at
 * most 4 * 15 * 128 = 7680), so one vpmaddwd widens two blocks at once: half
 * the vpmaddwd of reduce4(dot_u8i8(...)), and the integer multiply ports are
 * the busiest here. Only for 4-bit weights: Q8_0 pair sums reach 32512 and
 * their 4-sums would overflow. */
static inline __m256i reduce4_i16(__m256i v0, __m256i v1, __m256i v2, __m256i v3)
{
    const __m256i ones = _mm256_set1_epi16(1);
    return _mm256_hadd_epi32(_mm256_madd_epi16(_mm256_hadd_epi16(v0, v1), ones),
                             _mm256_madd_epi16(_mm256_hadd_epi16(v2, v3), ones));
}

/* 16 int16 pair sums of u*y (u unsigned), and of x*y (both signed) */
static inline __m256i mul_u8i8(__m256i u, __m256i y)
{
    return _mm256_maddubs_epi16(u, y);
}

static inline __m256i mul_i8i8(__m256i x, __m256i y)
{
    return _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

/* [d_w0*d_a0 .. d_w3*d_a3 | same]: the same float products as the reference,
 * so each block's scale rounds identically. */
static inline __m256 scales4(uint64_t dw, uint64_t da)
{
    const __m256 f = cvt8_f16(dw, da);
    return _mm256_mul_ps(f, _mm256_permute2f128_ps(f, f, 1));
}

/* One block alone (the up to three after the 4-block loop). */
static inline __m256 fma1(resa_f16 dw, resa_f16 da, __m256i sumi, __m256 acc)
{
    const float d = _cvtsh_ss(dw) * _cvtsh_ss(da);
    return _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
}

decl_vec_dot_fn(dot_q8_0_avx2)
{
    const block_q8_0 *x = w;
    const block_q8_0 *y = a;
    const int64_t nb = n / QK8_0;
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m256 d = scales4(pack4_f16(x[i].d, x[i + 1].d, x[i + 2].d, x[i + 3].d),
                                 pack4_f16(y[i].d, y[i + 1].d, y[i + 2].d, y[i + 3].d));
        const __m256i p = reduce4(dot_i8i8(load_i8(x[i].qs), load_i8(y[i].qs)),
                                  dot_i8i8(load_i8(x[i + 1].qs), load_i8(y[i + 1].qs)),
                                  dot_i8i8(load_i8(x[i + 2].qs), load_i8(y[i + 2].qs)),
                                  dot_i8i8(load_i8(x[i + 3].qs), load_i8(y[i + 3].qs)));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc);
    }
    for (; i < nb; i++)
        acc = fma1(x[i].d, y[i].d, dot_i8i8(load_i8(x[i].qs), load_i8(y[i].qs)), acc);
    *s = hsum_ps(acc);
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
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m256 d = scales4(pack4_f16(x[i].d, x[i + 1].d, x[i + 2].d, x[i + 3].d),
                                 pack4_f16(y[i].d, y[i + 1].d, y[i + 2].d, y[i + 3].d));
        const __m256i p = reduce4_i16(mul_i8i8(q4_0_block(&x[i]), load_i8(y[i].qs)),
                                      mul_i8i8(q4_0_block(&x[i + 1]), load_i8(y[i + 1].qs)),
                                      mul_i8i8(q4_0_block(&x[i + 2]), load_i8(y[i + 2].qs)),
                                      mul_i8i8(q4_0_block(&x[i + 3]), load_i8(y[i + 3].qs)));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc);
    }
    for (; i < nb; i++)
        acc = fma1(x[i].d, y[i].d, dot_i8i8(q4_0_block(&x[i]), load_i8(y[i].qs)), acc);
    *s = hsum_ps(acc);
}

/* Q4_1 nibbles are unsigned already: no sign trick. (d, m) of the weight and
 * (d, s) of the activation are adjacent fp16 pairs, so one convert of each
 * side gives [d_w0 m0 .. d_w3 m3] * [d_a0 s0 .. d_a3 s3] =
 * [scale0 m0*s0 .. scale3 m3*s3]: the odd lanes accumulate the m*s terms, the
 * even ones are spread to [scale0 .. scale3 | scale0 .. scale3]. */
decl_vec_dot_fn(dot_q4_1_avx2)
{
    const block_q4_1 *x = w;
    const block_q8_1 *y = a;
    const int64_t nb = n / QK4_1;
    const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
    __m256 acc = _mm256_setzero_ps(), ms = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m256 fx = cvt8_f16(load_u32(&x[i].d) | (uint64_t)load_u32(&x[i + 1].d) << 32,
                                   load_u32(&x[i + 2].d) | (uint64_t)load_u32(&x[i + 3].d) << 32);
        const __m256 fy = cvt8_f16(load_u32(&y[i].d) | (uint64_t)load_u32(&y[i + 1].d) << 32,
                                   load_u32(&y[i + 2].d) | (uint64_t)load_u32(&y[i + 3].d) << 32);
        const __m256 d = _mm256_mul_ps(fx, fy);
        ms = _mm256_add_ps(ms, d);
        const __m256i p = reduce4_i16(mul_u8i8(unpack_nibbles(x[i].qs), load_i8(y[i].qs)),
                                      mul_u8i8(unpack_nibbles(x[i + 1].qs), load_i8(y[i + 1].qs)),
                                      mul_u8i8(unpack_nibbles(x[i + 2].qs), load_i8(y[i + 2].qs)),
                                      mul_u8i8(unpack_nibbles(x[i + 3].qs), load_i8(y[i + 3].qs)));
        acc = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(d, even), _mm256_cvtepi32_ps(p), acc);
    }
    const __m256 odd = _mm256_castsi256_ps(_mm256_setr_epi32(0, -1, 0, -1, 0, -1, 0, -1));
    float summs = hsum_ps(_mm256_and_ps(ms, odd));
    for (; i < nb; i++) {
        acc = fma1(x[i].d, y[i].d, dot_u8i8(unpack_nibbles(x[i].qs), load_i8(y[i].qs)), acc);
        summs += _cvtsh_ss(x[i].m) * _cvtsh_ss(y[i].s);
    }
    *s = hsum_ps(acc) + summs;
}

/* ---- activation quantizers ------------------------------------------------------ */

/* Round to nearest, ties to even (the reference's nearbyintf). */
static inline __m256i round_even(__m256 v)
{
    return _mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
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
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    const __m256 vid = _mm256_set1_ps(id);
    const __m256i i0 = round_even(_mm256_mul_ps(v0, vid));
    const __m256i i1 = round_even(_mm256_mul_ps(v1, vid));
    const __m256i i2 = round_even(_mm256_mul_ps(v2, vid));
    const __m256i i3 = round_even(_mm256_mul_ps(v3, vid));
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

/* ---- row conversion --------------------------------------------------------------- */

/* f16 -> f32 with F16C: exact, like the reference (every half is a float). */
void dot_to_float_f16_avx2(const void *src, float *dst, int64_t n)
{
    const resa_f16 *x = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
    for (; i < n; i++)
        dst[i] = _cvtsh_ss(x[i]);
}

#else
typedef int resa_dot_avx2_unused; /* ISO C forbids an empty translation unit */
#endif
