/* "dot" kernels for AVX-512 F/BW/DQ/VL (compile with configure's AVX512_CFLAGS:
 * -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512dq -mavx512vl, optionally
 * -mavx512vnni -mavx512bf16). The *_avx512vnni functions carry their own
 * target attribute, so they compile (and stay the only users of VNNI) with or
 * without -mavx512vnni; the dispatcher only installs them on VNNI CPUs.
 *
 * This tier has the float dots (zmm, masked-load tails, which do not fault on
 * the masked-off elements) and the activation quantizers; the int8 dots stay
 * AVX2 unless the CPU has VNNI (see the note above those). */
#if defined(__x86_64__)

#include <immintrin.h>
#include <string.h>

#include "dot.h"

#if defined(__GNUC__) || defined(__clang__)
#define TARGET_VNNI __attribute__((target("avx512vnni")))
#else
#define TARGET_VNNI
#endif

static inline float h2f(resa_f16 h)
{
    return _cvtsh_ss(h);
}

static inline float hsum256_ps(__m256 v)
{
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

static inline float hsum512_ps(__m512 v)
{
    return hsum256_ps(_mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)));
}

/* ---- float weights ---------------------------------------------------------------- */

static inline __m512 load_f32(const float *p)
{
    return _mm512_loadu_ps(p);
}

static inline __m512 load_f32_tail(const float *p, __mmask16 m)
{
    return _mm512_maskz_loadu_ps(m, p);
}

static inline __m512 load_f16(const resa_f16 *p)
{
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}

static inline __m512 load_f16_tail(const resa_f16 *p, __mmask16 m)
{
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

static inline __m512 load_bf16(const resa_bf16 *p)
{
    const __m512i u = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(u, 16));
}

static inline __m512 load_bf16_tail(const resa_bf16 *p, __mmask16 m)
{
    const __m512i u = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(u, 16));
}

#define FLOAT_DOT_BODY(LOAD)                                                        \
    const float *y = a;                                                            \
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();                 \
    __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();                 \
    int64_t i = 0;                                                                 \
    for (; i + 64 <= n; i += 64) {                                                 \
        acc0 = _mm512_fmadd_ps(LOAD(x + i), _mm512_loadu_ps(y + i), acc0);         \
        acc1 = _mm512_fmadd_ps(LOAD(x + i + 16), _mm512_loadu_ps(y + i + 16), acc1); \
        acc2 = _mm512_fmadd_ps(LOAD(x + i + 32), _mm512_loadu_ps(y + i + 32), acc2); \
        acc3 = _mm512_fmadd_ps(LOAD(x + i + 48), _mm512_loadu_ps(y + i + 48), acc3); \
    }                                                                              \
    for (; i + 16 <= n; i += 16)                                                   \
        acc0 = _mm512_fmadd_ps(LOAD(x + i), _mm512_loadu_ps(y + i), acc0);         \
    if (i < n) {                                                                   \
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);                      \
        acc1 = _mm512_fmadd_ps(LOAD##_tail(x + i, m), _mm512_maskz_loadu_ps(m, y + i), acc1); \
    }                                                                              \
    *s = hsum512_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)))

decl_vec_dot_fn(dot_f32_avx512)
{
    const float *x = w;
    FLOAT_DOT_BODY(load_f32);
}

decl_vec_dot_fn(dot_f16_avx512)
{
    const resa_f16 *x = w;
    FLOAT_DOT_BODY(load_f16);
}

decl_vec_dot_fn(dot_bf16_avx512)
{
    const resa_bf16 *x = w;
    FLOAT_DOT_BODY(load_bf16);
}

/* ---- int8 dots: VNNI ------------------------------------------------------------------
 *
 * The AVX2 int8 dots are bound by vector multiply/ALU ports (p0/p1 on Intel),
 * and a 512-bit op occupies both of those ports, so plain AVX-512 versions
 * cannot be faster (measured: 30-50% slower on Sapphire Rapids) and this tier
 * keeps the AVX2 ones. What does help is VNNI: vpdpbusd replaces
 * vpmaddubsw + vpmaddwd, and on 256-bit vectors it issues on both ports. So
 * these are the AVX2 kernels' structure (four blocks per iteration, hadd
 * reduction, one convert and FMA per four blocks) with vpdpbusd on ymm
 * (AVX512-VNNI + VL). */

static inline __m256i load_i8(const int8_t *p)
{
    return _mm256_loadu_si256((const __m256i *)p);
}

/* see dot_avx2.c: low nibbles in the low lane, high nibbles in the high lane */
static inline __m256i unpack_nibbles(const uint8_t *qs)
{
    const __m256i b = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
    const __m256i v = _mm256_srlv_epi32(b, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4));
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
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

static inline __m256 cvt8_f16(uint64_t lo, uint64_t hi)
{
    return _mm256_cvtph_ps(_mm_set_epi64x((long long)hi, (long long)lo));
}

/* [b0 b1 b2 b3 | b0 b1 b2 b3] from four blocks' 8 int32 partial sums */
static inline __m256i reduce4(__m256i p0, __m256i p1, __m256i p2, __m256i p3)
{
    return _mm256_hadd_epi32(_mm256_hadd_epi32(p0, p1), _mm256_hadd_epi32(p2, p3));
}

/* [d_w0*d_a0 .. d_w3*d_a3 | same] */
static inline __m256 scales4(uint64_t dw, uint64_t da)
{
    const __m256 f = cvt8_f16(dw, da);
    return _mm256_mul_ps(f, _mm256_permute2f128_ps(f, f, 1));
}

static inline __m256 fma1(resa_f16 dw, resa_f16 da, __m256i sumi, __m256 acc)
{
    const float d = h2f(dw) * h2f(da);
    return _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
}

/* u8 x s8, 4-way sums into 8 int32 */
TARGET_VNNI static inline __m256i dot_u8i8(__m256i u, __m256i y)
{
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, y);
}

/* s8 x s8: |x| * (y with x's sign) */
TARGET_VNNI static inline __m256i dot_i8i8(__m256i x, __m256i y)
{
    return dot_u8i8(_mm256_abs_epi8(x), _mm256_sign_epi8(y, x));
}

/* (nibble - 8) x s8 without the sign trick: nibble*y - 8*y, two dpbusd and a
 * subtract instead of a subtract, abs, sign and a dpbusd */
TARGET_VNNI static inline __m256i dot_q4_0_i8(__m256i nib, __m256i y)
{
    return _mm256_sub_epi32(dot_u8i8(nib, y), dot_u8i8(_mm256_set1_epi8(8), y));
}

TARGET_VNNI decl_vec_dot_fn(dot_q8_0_avx512vnni)
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
    *s = hsum256_ps(acc);
}

TARGET_VNNI decl_vec_dot_fn(dot_q4_0_avx512vnni)
{
    const block_q4_0 *x = w;
    const block_q8_0 *y = a;
    const int64_t nb = n / QK4_0;
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m256 d = scales4(pack4_f16(x[i].d, x[i + 1].d, x[i + 2].d, x[i + 3].d),
                                 pack4_f16(y[i].d, y[i + 1].d, y[i + 2].d, y[i + 3].d));
        const __m256i p = reduce4(dot_q4_0_i8(unpack_nibbles(x[i].qs), load_i8(y[i].qs)),
                                  dot_q4_0_i8(unpack_nibbles(x[i + 1].qs), load_i8(y[i + 1].qs)),
                                  dot_q4_0_i8(unpack_nibbles(x[i + 2].qs), load_i8(y[i + 2].qs)),
                                  dot_q4_0_i8(unpack_nibbles(x[i + 3].qs), load_i8(y[i + 3].qs)));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc);
    }
    for (; i < nb; i++)
        acc = fma1(x[i].d, y[i].d, dot_q4_0_i8(unpack_nibbles(x[i].qs), load_i8(y[i].qs)), acc);
    *s = hsum256_ps(acc);
}

/* (d, m) and (d, s) pairs as in dot_q4_1_avx2 */
TARGET_VNNI decl_vec_dot_fn(dot_q4_1_avx512vnni)
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
        const __m256i p = reduce4(dot_u8i8(unpack_nibbles(x[i].qs), load_i8(y[i].qs)),
                                  dot_u8i8(unpack_nibbles(x[i + 1].qs), load_i8(y[i + 1].qs)),
                                  dot_u8i8(unpack_nibbles(x[i + 2].qs), load_i8(y[i + 2].qs)),
                                  dot_u8i8(unpack_nibbles(x[i + 3].qs), load_i8(y[i + 3].qs)));
        acc = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(d, even), _mm256_cvtepi32_ps(p), acc);
    }
    const __m256 odd = _mm256_castsi256_ps(_mm256_setr_epi32(0, -1, 0, -1, 0, -1, 0, -1));
    float summs = hsum256_ps(_mm256_and_ps(ms, odd));
    for (; i < nb; i++) {
        acc = fma1(x[i].d, y[i].d, dot_u8i8(unpack_nibbles(x[i].qs), load_i8(y[i].qs)), acc);
        summs += h2f(x[i].m) * h2f(y[i].s);
    }
    *s = hsum256_ps(acc) + summs;
}

/* ---- activation quantizers ------------------------------------------------------ */

/* Round to nearest, ties to even (the reference's nearbyintf). */
static inline __m512i round_even(__m512 v)
{
    return _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

static inline int quantize_block(const float *x, int8_t *q, resa_f16 *dh, float *dout)
{
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    const __m512 vid = _mm512_set1_ps(id);
    const __m512i i0 = round_even(_mm512_mul_ps(v0, vid));
    const __m512i i1 = round_even(_mm512_mul_ps(v1, vid));
    _mm_storeu_si128((__m128i *)q, _mm512_cvtsepi32_epi8(i0));
    _mm_storeu_si128((__m128i *)(q + 16), _mm512_cvtsepi32_epi8(i1));
    *dh = (resa_f16)_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    *dout = d;
    return _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
}

decl_quantize_fn(dot_quantize_q8_0_avx512)
{
    block_q8_0 *b = y;
    float d;
    for (int64_t i = 0; i < n / QK8_0; i++)
        quantize_block(x + i * QK8_0, b[i].qs, &b[i].d, &d);
}

decl_quantize_fn(dot_quantize_q8_1_avx512)
{
    block_q8_1 *b = y;
    float d;
    for (int64_t i = 0; i < n / QK8_1; i++) {
        const int sum = quantize_block(x + i * QK8_1, b[i].qs, &b[i].d, &d);
        b[i].s = (resa_f16)_cvtss_sh((float)sum * d, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    }
}

#else
typedef int resa_dot_avx512_unused; /* ISO C forbids an empty translation unit */
#endif
