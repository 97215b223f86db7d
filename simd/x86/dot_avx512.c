/* "dot" kernels for AVX-512 F/BW/DQ/VL (compile with configure's AVX512_CFLAGS:
 * -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512dq -mavx512vl, optionally
 * -mavx512vnni -mavx512bf16). The *_avx512vnni functions carry their own
 * target attribute, so they compile (and stay the only users of VNNI) with or
 * without -mavx512vnni; the dispatcher only installs them on VNNI CPUs.
 *
 * Two Q4/Q8 blocks fill one zmm: the low 256 bits hold block i, the high 256
 * bits block i+1, and the scale vector holds d_i in lanes 0..7 and d_{i+1} in
 * lanes 8..15. AVX-512 has no vpsignb, so signed x signed takes |x| and
 * negates y under the mask of x's negative bytes. Float tails use masked
 * loads, which do not fault on the masked-off elements. */
#if defined(__x86_64__)

#include <immintrin.h>

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

/* ---- int8 dots ------------------------------------------------------------------- */

static inline __m512i load2_i8(const int8_t *p0, const int8_t *p1)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)p0)),
                              _mm256_loadu_si256((const __m256i *)p1), 1);
}

/* Two blocks of 16 packed nibble bytes -> 64 bytes in element order
 * [lo0 | hi0 | lo1 | hi1], 128-bit lane by lane, matching two Q8 blocks. */
static inline __m512i unpack2_nibbles(const uint8_t *q0, const uint8_t *q1)
{
    const __m256i b = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)q0)),
                                              _mm_loadu_si128((const __m128i *)q1), 1);
    const __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(b), _mm256_srli_epi16(b, 4), 1);
    /* lanes are [lo0 lo1 hi0 hi1]: reorder to [lo0 hi0 lo1 hi1] */
    const __m512i r = _mm512_shuffle_i64x2(v, v, _MM_SHUFFLE(3, 1, 2, 0));
    return _mm512_and_si512(r, _mm512_set1_epi8(0x0f));
}

static inline __m256i unpack_nibbles(const uint8_t *qs)
{
    const __m128i b = _mm_loadu_si128((const __m128i *)qs);
    const __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(b), _mm_srli_epi16(b, 4), 1);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
}

/* |x| as unsigned bytes, and y with x's sign: x*y = |x| * (sign(x)*y) */
static inline __m512i abs_i8(__m512i x)
{
    return _mm512_abs_epi8(x);
}

static inline __m512i sign_i8(__m512i y, __m512i x)
{
    return _mm512_mask_sub_epi8(y, _mm512_movepi8_mask(x), _mm512_setzero_si512(), y);
}

static inline __m512i dot_u8i8(__m512i u, __m512i y)
{
    return _mm512_madd_epi16(_mm512_maddubs_epi16(u, y), _mm512_set1_epi16(1));
}

static inline __m256i dot_u8i8_256(__m256i u, __m256i y)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, y), _mm256_set1_epi16(1));
}

static inline __m256i dot_i8i8_256(__m256i x, __m256i y)
{
    return dot_u8i8_256(_mm256_abs_epi8(x), _mm256_sign_epi8(y, x));
}

/* [d0 x 8 | d1 x 8] */
static inline __m512 scale2(float d0, float d1)
{
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(d0)), _mm256_set1_ps(d1), 1);
}

static inline __m512 fma2(float d0, float d1, __m512i sumi, __m512 acc)
{
    return _mm512_fmadd_ps(scale2(d0, d1), _mm512_cvtepi32_ps(sumi), acc);
}

static inline __m256 fma1(float d, __m256i sumi, __m256 acc)
{
    return _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
}

static inline float dd(resa_f16 a, resa_f16 b)
{
    return h2f(a) * h2f(b);
}

/* The three int8 dots, written once for maddubs and once for VNNI: DOT(u, y)
 * is the unsigned x signed 4-way product sum into int32. */
#define Q8_0_BODY(DOT, DOT256)                                                        \
    const block_q8_0 *x = w;                                                         \
    const block_q8_0 *y = a;                                                         \
    const int64_t nb = n / QK8_0;                                                    \
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();                   \
    __m256 acc_tail = _mm256_setzero_ps();                                           \
    int64_t i = 0;                                                                   \
    for (; i + 4 <= nb; i += 4) {                                                    \
        const __m512i x0 = load2_i8(x[i].qs, x[i + 1].qs);                           \
        const __m512i x1 = load2_i8(x[i + 2].qs, x[i + 3].qs);                       \
        const __m512i y0 = load2_i8(y[i].qs, y[i + 1].qs);                           \
        const __m512i y1 = load2_i8(y[i + 2].qs, y[i + 3].qs);                       \
        acc0 = fma2(dd(x[i].d, y[i].d), dd(x[i + 1].d, y[i + 1].d),                  \
                    DOT(abs_i8(x0), sign_i8(y0, x0)), acc0);                         \
        acc1 = fma2(dd(x[i + 2].d, y[i + 2].d), dd(x[i + 3].d, y[i + 3].d),          \
                    DOT(abs_i8(x1), sign_i8(y1, x1)), acc1);                         \
    }                                                                                \
    for (; i + 2 <= nb; i += 2) {                                                    \
        const __m512i x0 = load2_i8(x[i].qs, x[i + 1].qs);                           \
        const __m512i y0 = load2_i8(y[i].qs, y[i + 1].qs);                           \
        acc0 = fma2(dd(x[i].d, y[i].d), dd(x[i + 1].d, y[i + 1].d),                  \
                    DOT(abs_i8(x0), sign_i8(y0, x0)), acc0);                         \
    }                                                                                \
    if (i < nb) {                                                                    \
        const __m256i x0 = _mm256_loadu_si256((const __m256i *)x[i].qs);             \
        const __m256i y0 = _mm256_loadu_si256((const __m256i *)y[i].qs);             \
        acc_tail = fma1(dd(x[i].d, y[i].d), DOT256(x0, y0), acc_tail);               \
    }                                                                                \
    *s = hsum512_ps(_mm512_add_ps(acc0, acc1)) + hsum256_ps(acc_tail)

#define Q4_0_BODY(DOT, DOT256)                                                        \
    const block_q4_0 *x = w;                                                         \
    const block_q8_0 *y = a;                                                         \
    const int64_t nb = n / QK4_0;                                                    \
    const __m512i off = _mm512_set1_epi8(8);                                         \
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();                   \
    __m256 acc_tail = _mm256_setzero_ps();                                           \
    int64_t i = 0;                                                                   \
    for (; i + 4 <= nb; i += 4) {                                                    \
        const __m512i x0 = _mm512_sub_epi8(unpack2_nibbles(x[i].qs, x[i + 1].qs), off);     \
        const __m512i x1 = _mm512_sub_epi8(unpack2_nibbles(x[i + 2].qs, x[i + 3].qs), off); \
        const __m512i y0 = load2_i8(y[i].qs, y[i + 1].qs);                           \
        const __m512i y1 = load2_i8(y[i + 2].qs, y[i + 3].qs);                       \
        acc0 = fma2(dd(x[i].d, y[i].d), dd(x[i + 1].d, y[i + 1].d),                  \
                    DOT(abs_i8(x0), sign_i8(y0, x0)), acc0);                         \
        acc1 = fma2(dd(x[i + 2].d, y[i + 2].d), dd(x[i + 3].d, y[i + 3].d),          \
                    DOT(abs_i8(x1), sign_i8(y1, x1)), acc1);                         \
    }                                                                                \
    for (; i + 2 <= nb; i += 2) {                                                    \
        const __m512i x0 = _mm512_sub_epi8(unpack2_nibbles(x[i].qs, x[i + 1].qs), off);     \
        const __m512i y0 = load2_i8(y[i].qs, y[i + 1].qs);                           \
        acc0 = fma2(dd(x[i].d, y[i].d), dd(x[i + 1].d, y[i + 1].d),                  \
                    DOT(abs_i8(x0), sign_i8(y0, x0)), acc0);                         \
    }                                                                                \
    if (i < nb) {                                                                    \
        const __m256i x0 = _mm256_sub_epi8(unpack_nibbles(x[i].qs), _mm256_set1_epi8(8)); \
        const __m256i y0 = _mm256_loadu_si256((const __m256i *)y[i].qs);             \
        acc_tail = fma1(dd(x[i].d, y[i].d), DOT256(x0, y0), acc_tail);               \
    }                                                                                \
    *s = hsum512_ps(_mm512_add_ps(acc0, acc1)) + hsum256_ps(acc_tail)

#define Q4_1_BODY(DOT, DOT256U)                                                       \
    const block_q4_1 *x = w;                                                         \
    const block_q8_1 *y = a;                                                         \
    const int64_t nb = n / QK4_1;                                                    \
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();                   \
    __m256 acc_tail = _mm256_setzero_ps();                                           \
    float summs = 0.0f;                                                              \
    int64_t i = 0;                                                                   \
    for (; i + 4 <= nb; i += 4) {                                                    \
        const __m512i x0 = unpack2_nibbles(x[i].qs, x[i + 1].qs);                    \
        const __m512i x1 = unpack2_nibbles(x[i + 2].qs, x[i + 3].qs);                \
        acc0 = fma2(dd(x[i].d, y[i].d), dd(x[i + 1].d, y[i + 1].d),                  \
                    DOT(x0, load2_i8(y[i].qs, y[i + 1].qs)), acc0);                  \
        acc1 = fma2(dd(x[i + 2].d, y[i + 2].d), dd(x[i + 3].d, y[i + 3].d),          \
                    DOT(x1, load2_i8(y[i + 2].qs, y[i + 3].qs)), acc1);              \
        summs += dd(x[i].m, y[i].s) + dd(x[i + 1].m, y[i + 1].s) +                   \
                 dd(x[i + 2].m, y[i + 2].s) + dd(x[i + 3].m, y[i + 3].s);            \
    }                                                                                \
    for (; i + 2 <= nb; i += 2) {                                                    \
        const __m512i x0 = unpack2_nibbles(x[i].qs, x[i + 1].qs);                    \
        acc0 = fma2(dd(x[i].d, y[i].d), dd(x[i + 1].d, y[i + 1].d),                  \
                    DOT(x0, load2_i8(y[i].qs, y[i + 1].qs)), acc0);                  \
        summs += dd(x[i].m, y[i].s) + dd(x[i + 1].m, y[i + 1].s);                    \
    }                                                                                \
    if (i < nb) {                                                                    \
        const __m256i y0 = _mm256_loadu_si256((const __m256i *)y[i].qs);             \
        acc_tail = fma1(dd(x[i].d, y[i].d), DOT256U(unpack_nibbles(x[i].qs), y0), acc_tail); \
        summs += dd(x[i].m, y[i].s);                                                 \
    }                                                                                \
    *s = hsum512_ps(_mm512_add_ps(acc0, acc1)) + hsum256_ps(acc_tail) + summs

decl_vec_dot_fn(dot_q8_0_avx512)
{
    Q8_0_BODY(dot_u8i8, dot_i8i8_256);
}

decl_vec_dot_fn(dot_q4_0_avx512)
{
    Q4_0_BODY(dot_u8i8, dot_i8i8_256);
}

decl_vec_dot_fn(dot_q4_1_avx512)
{
    Q4_1_BODY(dot_u8i8, dot_u8i8_256);
}

/* ---- VNNI: vpdpbusd does the u8 x s8 4-way sum in one instruction ------------------ */

TARGET_VNNI static inline __m512i dot_u8i8_vnni(__m512i u, __m512i y)
{
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, y);
}

TARGET_VNNI static inline __m256i dot_u8i8_vnni256(__m256i u, __m256i y)
{
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, y);
}

TARGET_VNNI static inline __m256i dot_i8i8_vnni256(__m256i x, __m256i y)
{
    return dot_u8i8_vnni256(_mm256_abs_epi8(x), _mm256_sign_epi8(y, x));
}

TARGET_VNNI decl_vec_dot_fn(dot_q8_0_avx512vnni)
{
    Q8_0_BODY(dot_u8i8_vnni, dot_i8i8_vnni256);
}

TARGET_VNNI decl_vec_dot_fn(dot_q4_0_avx512vnni)
{
    Q4_0_BODY(dot_u8i8_vnni, dot_i8i8_vnni256);
}

TARGET_VNNI decl_vec_dot_fn(dot_q4_1_avx512vnni)
{
    Q4_1_BODY(dot_u8i8_vnni, dot_u8i8_vnni256);
}

/* ---- activation quantizers ------------------------------------------------------ */

/* roundf(v) exactly (see dot_avx2.c): truncate, step away from zero where the
 * exact remainder is >= 0.5. */
static inline __m512i round_away(__m512 v)
{
    const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m512 r = _mm512_abs_ps(_mm512_sub_ps(v, t));
    const __mmask16 up = _mm512_cmp_ps_mask(r, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    const __m512 step = _mm512_or_ps(_mm512_and_ps(v, _mm512_set1_ps(-0.0f)), _mm512_set1_ps(1.0f));
    return _mm512_cvttps_epi32(_mm512_mask_add_ps(t, up, t, step));
}

static inline int quantize_block(const float *x, int8_t *q, resa_f16 *dh, float *dout)
{
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const __m512 vid = _mm512_set1_ps(id);
    const __m512i i0 = round_away(_mm512_mul_ps(v0, vid));
    const __m512i i1 = round_away(_mm512_mul_ps(v1, vid));
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
