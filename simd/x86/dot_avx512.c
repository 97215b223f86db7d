/* SPDX-License-Identifier: MIT */
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
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "dot.h"
#include "kscales.h"
#include "kquant_rows_avx2.h"
#include "q5_bits_avx2.h"

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
 * these are the AVX2 kernels' structure with vpdpbusd on ymm (AVX512-VNNI +
 * VL). The integer block sums are exact, the float part is dot.h's recipe as
 * in AVX2, so the results are the AVX2 (and scalar) results, bit for bit. */

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

static inline uint16_t load_u16(const void *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
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

static inline int hsum_epi32(__m256i v)
{
    __m128i x = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, _MM_SHUFFLE(1, 0, 3, 2)));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(x);
}

/* four blocks' 8 int32 partial sums each -> their four block sums */
static inline __m128i sums4(__m256i p0, __m256i p1, __m256i p2, __m256i p3)
{
    const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(p0, p1), _mm256_hadd_epi32(p2, p3));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

/* [d_w0*d_a0 .. d_w3*d_a3] */
static inline __m128 scales4(uint64_t dw, uint64_t da)
{
    return _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi64_si128((long long)dw)),
                      _mm_cvtph_ps(_mm_cvtsi64_si128((long long)da)));
}

/* dot.h's serial chain over four blocks (fmaf is one vfmadd with -mfma) */
static inline float chain4(float acc, __m128 d, __m128i isum)
{
    float dv[4], xv[4];
    _mm_storeu_ps(dv, d);
    _mm_storeu_ps(xv, _mm_cvtepi32_ps(isum));
    for (int j = 0; j < 4; j++)
        acc = fmaf(dv[j], xv[j], acc);
    return acc;
}

static inline float chain1(float acc, resa_f16 dw, resa_f16 da, __m256i partial)
{
    return fmaf(h2f(dw) * h2f(da), (float)hsum_epi32(partial), acc);
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
    float acc = 0.0f;
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m128 d = scales4(pack4_f16(x[i].d, x[i + 1].d, x[i + 2].d, x[i + 3].d),
                                 pack4_f16(y[i].d, y[i + 1].d, y[i + 2].d, y[i + 3].d));
        const __m128i p = sums4(dot_i8i8(load_i8(x[i].qs), load_i8(y[i].qs)),
                                dot_i8i8(load_i8(x[i + 1].qs), load_i8(y[i + 1].qs)),
                                dot_i8i8(load_i8(x[i + 2].qs), load_i8(y[i + 2].qs)),
                                dot_i8i8(load_i8(x[i + 3].qs), load_i8(y[i + 3].qs)));
        acc = chain4(acc, d, p);
    }
    for (; i < nb; i++)
        acc = chain1(acc, x[i].d, y[i].d, dot_i8i8(load_i8(x[i].qs), load_i8(y[i].qs)));
    *s = acc;
}

TARGET_VNNI decl_vec_dot_fn(dot_q4_0_avx512vnni)
{
    const block_q4_0 *x = w;
    const block_q8_0 *y = a;
    const int64_t nb = n / QK4_0;
    float acc = 0.0f;
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m128 d = scales4(pack4_f16(x[i].d, x[i + 1].d, x[i + 2].d, x[i + 3].d),
                                 pack4_f16(y[i].d, y[i + 1].d, y[i + 2].d, y[i + 3].d));
        const __m128i p = sums4(dot_q4_0_i8(unpack_nibbles(x[i].qs), load_i8(y[i].qs)),
                                dot_q4_0_i8(unpack_nibbles(x[i + 1].qs), load_i8(y[i + 1].qs)),
                                dot_q4_0_i8(unpack_nibbles(x[i + 2].qs), load_i8(y[i + 2].qs)),
                                dot_q4_0_i8(unpack_nibbles(x[i + 3].qs), load_i8(y[i + 3].qs)));
        acc = chain4(acc, d, p);
    }
    for (; i < nb; i++)
        acc = chain1(acc, x[i].d, y[i].d, dot_q4_0_i8(unpack_nibbles(x[i].qs), load_i8(y[i].qs)));
    *s = acc;
}

/* (d, m) and (d, s) pairs as in dot_q4_1_avx2 */
TARGET_VNNI decl_vec_dot_fn(dot_q4_1_avx512vnni)
{
    const block_q4_1 *x = w;
    const block_q8_1 *y = a;
    const int64_t nb = n / QK4_1;
    float acc = 0.0f, accm = 0.0f;
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m256 fx = cvt8_f16(load_u32(&x[i].d) | (uint64_t)load_u32(&x[i + 1].d) << 32,
                                   load_u32(&x[i + 2].d) | (uint64_t)load_u32(&x[i + 3].d) << 32);
        const __m256 fy = cvt8_f16(load_u32(&y[i].d) | (uint64_t)load_u32(&y[i + 1].d) << 32,
                                   load_u32(&y[i + 2].d) | (uint64_t)load_u32(&y[i + 3].d) << 32);
        const __m128i p = sums4(dot_u8i8(unpack_nibbles(x[i].qs), load_i8(y[i].qs)),
                                dot_u8i8(unpack_nibbles(x[i + 1].qs), load_i8(y[i + 1].qs)),
                                dot_u8i8(unpack_nibbles(x[i + 2].qs), load_i8(y[i + 2].qs)),
                                dot_u8i8(unpack_nibbles(x[i + 3].qs), load_i8(y[i + 3].qs)));
        float xv[8], yv[8], dv[8], iv[4];
        _mm256_storeu_ps(xv, fx);
        _mm256_storeu_ps(yv, fy);
        _mm256_storeu_ps(dv, _mm256_mul_ps(fx, fy));
        _mm_storeu_ps(iv, _mm_cvtepi32_ps(p));
        for (int j = 0; j < 4; j++) {
            acc = fmaf(dv[2 * j], iv[j], acc);
            accm = fmaf(xv[2 * j + 1], yv[2 * j + 1], accm);
        }
    }
    for (; i < nb; i++) {
        acc = chain1(acc, x[i].d, y[i].d, dot_u8i8(unpack_nibbles(x[i].qs), load_i8(y[i].qs)));
        accm = fmaf(h2f(x[i].m), h2f(y[i].s), accm);
    }
    *s = acc + accm;
}

static inline __m256i q5_block(const uint8_t *qs, const uint8_t *qh)
{
    return _mm256_or_si256(unpack_nibbles(qs), q5_high_bits(load_u32(qh)));
}

/* The 16 IQ4 levels in both lanes, for vpshufb. */
static inline __m256i iq4_levels(void)
{
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)resa_kvalues_iq4nl));
}

/* ---- int8 gemm over activation panels: VNNI ---------------------------------------------
 *
 * dot_avx2.c's gemm_tile with vpdpbusd (u8 x s8, four products into each
 * int32 lane, no saturation) and the 32 ymm registers of AVX-512VL, so the
 * tile grows to 4 rows x 2 panels (8 int32 and 8 float accumulators). The u8
 * side is the weight: Q4 nibbles and Q5 codes as they are, Q8_0 and IQ4_NL's
 * levels as q + 128; the offsets (Q4_0's -8, Q5_0's -16, the +128) come off
 * as -8, -16 or -128 times the panel's column sums, the starting value of
 * the integer accumulators. Integer sums are exact, so the results are those
 * of the other tiers. */

#define AI static inline __attribute__((always_inline))

/* One weight block -> 32 u8 in element order (see above) */
AI void expand_block(enum resa_wtype t, const uint8_t *blk, uint8_t *dst)
{
    if (t == RESA_W_Q8_0) {
        const __m256i q = _mm256_loadu_si256((const __m256i *)(blk + offsetof(block_q8_0, qs)));
        _mm256_store_si256((__m256i *)dst, _mm256_xor_si256(q, _mm256_set1_epi8((char)0x80)));
        return;
    }
    if (t == RESA_W_IQ4_NL) { /* the levels + 128, looked up */
        const __m256i kv = _mm256_xor_si256(iq4_levels(), _mm256_set1_epi8((char)0x80));
        _mm256_store_si256((__m256i *)dst, _mm256_shuffle_epi8(kv, unpack_nibbles(blk + resa_wblock_nibbles(t))));
        return;
    }
    if (t == RESA_W_Q5_0 || t == RESA_W_Q5_1) {
        _mm256_store_si256((__m256i *)dst, q5_block(blk + resa_wblock_nibbles(t), blk + resa_wblock_qh(t)));
        return;
    }
    const size_t off = resa_wblock_nibbles(t);
    const __m128i q = _mm_loadu_si128((const __m128i *)(blk + off)), m = _mm_set1_epi8(0x0f);
    _mm_store_si128((__m128i *)dst, _mm_and_si128(q, m));
    _mm_store_si128((__m128i *)(dst + 16), _mm_and_si128(_mm_srli_epi16(q, 4), m));
}

AI __m256 bcast_f16(const void *p)
{
    return _mm256_set1_ps(h2f(load_u16(p)));
}

/* see dot_avx2.c: a broadcast from memory, not rebuilt from registers ("v":
 * any of the 32 registers) */
AI __m256i bcast4(const uint8_t *p)
{
    __m256i v;
    __asm__("vpbroadcastd %1, %0" : "=v"(v) : "m"(*(const uint32_t *)(const void *)p));
    return v;
}

/* One accumulator's valid part: s[(8p + c) * lds] for 8p + c < nc (by
 * value, so that the accumulators never need a home in memory). */
AI void store8(__m256 v, int p, int nc, float *s, size_t lds)
{
    float t[8];
    _mm256_storeu_ps(t, v);
    for (int c = 0; c < 8 && p * 8 + c < nc; c++)
        s[(size_t)(p * 8 + c) * lds] = t[c];
}

TARGET_VNNI AI void gemm_tile(enum resa_wtype t, int NR, int P, int64_t nb, const uint8_t *w, size_t ldw,
                              const resa_dot_panel *pan, int nr, int nc, float *s, size_t lds)
{
    const size_t bsz = resa_wblock_bytes(t);
    const int off_shift = t == RESA_W_Q4_0   ? 3 /* -8 */
                          : t == RESA_W_Q5_0 ? 4 /* -16 */
                          : t == RESA_W_Q8_0 || t == RESA_W_IQ4_NL ? 7 /* +128 */
                                                                   : 0;
    __m256 acc[8];
#pragma GCC unroll 8
    for (int i = 0; i < NR * P; i++)
        acc[i] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        _Alignas(32) uint8_t wb[4][32];
#pragma GCC unroll 4
        for (int r = 0; r < NR; r++)
            expand_block(t, w + (size_t)r * ldw + (size_t)b * bsz, wb[r]);
        __m256i isum[8];
#pragma GCC unroll 2
        for (int p = 0; p < P; p++) {
            const __m256i sum = _mm256_loadu_si256((const __m256i *)pan[p * nb + b].sum);
            const __m256i bias = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(sum, off_shift));
#pragma GCC unroll 4
            for (int r = 0; r < NR; r++)
                isum[r * P + p] = bias;
        }
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++) {
            __m256i wk[4];
#pragma GCC unroll 4
            for (int r = 0; r < NR; r++)
                wk[r] = bcast4(wb[r] + 4 * k);
#pragma GCC unroll 2
            for (int p = 0; p < P; p++) {
                const __m256i y = _mm256_loadu_si256((const __m256i *)pan[p * nb + b].qs[k]);
#pragma GCC unroll 4
                for (int r = 0; r < NR; r++)
                    isum[r * P + p] = _mm256_dpbusd_epi32(isum[r * P + p], wk[r], y);
            }
        }
        __m256 da[2];
#pragma GCC unroll 2
        for (int p = 0; p < P; p++)
            da[p] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)pan[p * nb + b].d));
#pragma GCC unroll 4
        for (int r = 0; r < NR; r++) {
            const __m256 dw = bcast_f16(w + (size_t)r * ldw + (size_t)b * bsz);
#pragma GCC unroll 2
            for (int p = 0; p < P; p++) {
                const __m256 d = _mm256_mul_ps(dw, da[p]);
                acc[r * P + p] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(isum[r * P + p]), acc[r * P + p]);
            }
        }
    }
    if (resa_wtype_has_min(t)) { /* the m * s chains */
        __m256 accm[8];
#pragma GCC unroll 8
        for (int i = 0; i < NR * P; i++)
            accm[i] = _mm256_setzero_ps();
        for (int64_t b = 0; b < nb; b++)
#pragma GCC unroll 4
            for (int r = 0; r < NR; r++) {
                const __m256 m = bcast_f16(w + (size_t)r * ldw + (size_t)b * bsz + RESA_WBLOCK_M);
#pragma GCC unroll 2
                for (int p = 0; p < P; p++)
                    accm[r * P + p] = _mm256_fmadd_ps(
                        m, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)pan[p * nb + b].s)), accm[r * P + p]);
            }
#pragma GCC unroll 8
        for (int i = 0; i < NR * P; i++)
            acc[i] = _mm256_add_ps(acc[i], accm[i]);
    }
#pragma GCC unroll 4
    for (int r = 0; r < NR; r++)
#pragma GCC unroll 2
        for (int p = 0; p < P; p++)
            if (r < nr)
                store8(acc[r * P + p], p, nc, s + r, lds);
}

/* Rows by four, two or one; one or two panels. */
TARGET_VNNI AI void gemm_int8(enum resa_wtype t, int64_t n, int nr, int nc, const uint8_t *w, size_t ldw,
                              const resa_dot_panel *pan, float *s, size_t lds)
{
    const int64_t nb = n / 32;
    const int two = nc > 8;
    for (int r = 0; r < nr;) {
        const uint8_t *wr = w + (size_t)r * ldw;
        const int left = nr - r, step = left >= 4 ? 4 : left >= 2 ? 2 : 1;
        if (step == 4 && two)
            gemm_tile(t, 4, 2, nb, wr, ldw, pan, left, nc, s + r, lds);
        else if (step == 4)
            gemm_tile(t, 4, 1, nb, wr, ldw, pan, left, nc, s + r, lds);
        else if (step == 2 && two)
            gemm_tile(t, 2, 2, nb, wr, ldw, pan, left, nc, s + r, lds);
        else if (step == 2)
            gemm_tile(t, 2, 1, nb, wr, ldw, pan, left, nc, s + r, lds);
        else if (two)
            gemm_tile(t, 1, 2, nb, wr, ldw, pan, left, nc, s + r, lds);
        else
            gemm_tile(t, 1, 1, nb, wr, ldw, pan, left, nc, s + r, lds);
        r += step;
    }
}

TARGET_VNNI RESA_GEMM_PANEL(dot_gemm_q4_0_avx512vnni, gemm_int8, RESA_W_Q4_0)
TARGET_VNNI RESA_GEMM_PANEL(dot_gemm_q4_1_avx512vnni, gemm_int8, RESA_W_Q4_1)
TARGET_VNNI RESA_GEMM_PANEL(dot_gemm_q8_0_avx512vnni, gemm_int8, RESA_W_Q8_0)
TARGET_VNNI RESA_GEMM_PANEL(dot_gemm_q5_0_avx512vnni, gemm_int8, RESA_W_Q5_0)
TARGET_VNNI RESA_GEMM_PANEL(dot_gemm_q5_1_avx512vnni, gemm_int8, RESA_W_Q5_1)
TARGET_VNNI RESA_GEMM_PANEL(dot_gemm_iq4_nl_avx512vnni, gemm_int8, RESA_W_IQ4_NL)

RESA_GEMM_LOOP(dot_gemm_f32_avx512, dot_f32_avx512)
RESA_GEMM_LOOP(dot_gemm_f16_avx512, dot_f16_avx512)
RESA_GEMM_LOOP(dot_gemm_bf16_avx512, dot_bf16_avx512)

/* ---- int8 gemv: eight rows in the lanes, VNNI -----------------------------------------
 *
 * dot_avx2.c's gemv8 with vpdpbusd: the transposed weights are the u8 side
 * (Q8_0 and IQ4_NL's levels as q + 128, Q5's codes with their fifth bit),
 * the broadcast activation bytes the s8 side; the offsets (Q4_0's -8,
 * Q5_0's -16, -128) start the integer accumulator at that times the
 * activation block's sum. */

#define GEMV_MAX_BLOCKS 1024 /* per-call activation tables on the stack; longer rows loop vec_dot */

AI __m256i load2x128(const uint8_t *lo, const uint8_t *hi)
{
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)lo)),
                                   _mm_loadu_si128((const __m128i *)hi), 1);
}

/* The 16 bytes at p + r * ldw, r = 0..7 -> v[j] = their dword j, lane r = row r */
AI void transpose8x4(const uint8_t *p, size_t ldw, __m256i v[4])
{
    const __m256i a0 = load2x128(p, p + 4 * ldw), a1 = load2x128(p + ldw, p + 5 * ldw);
    const __m256i a2 = load2x128(p + 2 * ldw, p + 6 * ldw), a3 = load2x128(p + 3 * ldw, p + 7 * ldw);
    const __m256i t0 = _mm256_unpacklo_epi32(a0, a1), t1 = _mm256_unpackhi_epi32(a0, a1);
    const __m256i t2 = _mm256_unpacklo_epi32(a2, a3), t3 = _mm256_unpackhi_epi32(a2, a3);
    v[0] = _mm256_unpacklo_epi64(t0, t2);
    v[1] = _mm256_unpackhi_epi64(t0, t2);
    v[2] = _mm256_unpacklo_epi64(t1, t3);
    v[3] = _mm256_unpackhi_epi64(t1, t3);
}

/* see dot_avx2.c: the first two fp16 of eight rows' blocks, in row order */
AI void header8(const uint8_t *p, size_t ldw, __m256 *first, __m256 *second)
{
    const __m256i v = _mm256_setr_epi32((int)load_u32(p), (int)load_u32(p + ldw), (int)load_u32(p + 4 * ldw),
                                        (int)load_u32(p + 5 * ldw), (int)load_u32(p + 2 * ldw),
                                        (int)load_u32(p + 3 * ldw), (int)load_u32(p + 6 * ldw),
                                        (int)load_u32(p + 7 * ldw));
    const __m256 lo = _mm256_cvtph_ps(_mm256_castsi256_si128(v)), hi = _mm256_cvtph_ps(_mm256_extracti128_si256(v, 1));
    *first = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
    *second = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
}

/* The weight codes' offset on the u8 side: Q4_0's -8, Q5_0's -16, and
 * Q8_0's and IQ4_NL's (as q + 128) -128 */
static inline int lanes_offset(enum resa_wtype t)
{
    return t == RESA_W_Q4_0 ? -8 : t == RESA_W_Q5_0 ? -16 : -128;
}

/* d, s (Q8_1) and the integer offset of each activation block */
TARGET_VNNI AI void act_tables(enum resa_wtype t, int64_t nb, const void *a, float *da, float *sa, int32_t *bias)
{
    for (int64_t b = 0; b < nb; b++) {
        if (resa_wtype_has_min(t)) {
            const block_q8_1 *y = (const block_q8_1 *)a + b;
            da[b] = h2f(y->d);
            sa[b] = h2f(y->s);
        } else {
            const block_q8_0 *y = (const block_q8_0 *)a + b;
            da[b] = h2f(y->d);
            bias[b] = lanes_offset(t) * hsum_epi32(dot_u8i8(_mm256_set1_epi8(1), load_i8(y->qs)));
        }
    }
}

/* Eight weight rows (lanes) against C activation rows at once: a block's
 * weights are transposed and widened once, then meet each activation row's
 * bytes. Each (row, activation) lane follows the recipe on its own; its
 * block sum is exact in int32, so adding it up in two chains (for the
 * latency of vpdpbusd) changes no bit. pf: the bytes to prefetch (see
 * dot.h), NULL for none. */
TARGET_VNNI AI void gemv8x(enum resa_wtype t, int C, int64_t nb, const uint8_t *w, size_t ldw, const uint8_t *a,
                           size_t lda, const float *da, const float *sa, const int32_t *bias, const uint8_t *pf,
                           float *s, size_t lds)
{
    const size_t bsz = resa_wblock_bytes(t);
    const int has_min = resa_wtype_has_min(t), q5 = t == RESA_W_Q5_0 || t == RESA_W_Q5_1;
    const size_t ybsz = has_min ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const size_t yoff = has_min ? offsetof(block_q8_1, qs) : offsetof(block_q8_0, qs);
    const __m256i m4 = _mm256_set1_epi8(0x0f), flip = _mm256_set1_epi8((char)0x80);
    const __m256i kv = _mm256_xor_si256(iq4_levels(), flip); /* IQ4_NL's levels as q + 128 */
    __m256 acc[4], accm[4];
#pragma GCC unroll 4
    for (int c = 0; c < C; c++)
        acc[c] = accm[c] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *p = w + (size_t)b * bsz;
        if (pf)
            resa_prefetch_span(pf + (size_t)b * 8 * bsz, 8 * bsz);
        __m256i u[8]; /* u[k]: elements 4k..4k+3 of the eight rows, the u8 side */
        if (t == RESA_W_Q8_0) {
            transpose8x4(p + offsetof(block_q8_0, qs), ldw, u);
            transpose8x4(p + offsetof(block_q8_0, qs) + 16, ldw, u + 4);
#pragma GCC unroll 8
            for (int k = 0; k < 8; k++)
                u[k] = _mm256_xor_si256(u[k], flip);
        } else {
            __m256i v[4];
            transpose8x4(p + resa_wblock_nibbles(t), ldw, v);
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                u[j] = _mm256_and_si256(v[j], m4);
                u[4 + j] = _mm256_and_si256(_mm256_srli_epi32(v[j], 4), m4);
            }
            if (t == RESA_W_IQ4_NL) {
#pragma GCC unroll 8
                for (int k = 0; k < 8; k++)
                    u[k] = _mm256_shuffle_epi8(kv, u[k]);
            }
            if (q5) { /* element 4j + i's fifth bit is bit 4j + i, element 16 + 4j + i's bit 16 + 4j + i */
                const __m256i h = q5_lane_qh(p + resa_wblock_qh(t), ldw);
#pragma GCC unroll 4
                for (int j = 0; j < 4; j++) {
                    u[j] = _mm256_or_si256(u[j], q5_lane_bits(h, 4 * j));
                    u[4 + j] = _mm256_or_si256(u[4 + j], q5_lane_bits(h, 16 + 4 * j));
                }
            }
        }
        __m256 dw, m;
        header8(p, ldw, &dw, &m);
#pragma GCC unroll 4
        for (int c = 0; c < C; c++) {
            const uint8_t *y = a + (size_t)c * lda + (size_t)b * ybsz + yoff;
            __m256i s0 = has_min ? _mm256_setzero_si256() : _mm256_set1_epi32(bias[c * GEMV_MAX_BLOCKS + b]);
            __m256i s1 = _mm256_setzero_si256();
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) {
                s0 = _mm256_dpbusd_epi32(s0, u[k], _mm256_set1_epi32((int)load_u32(y + 4 * k)));
                s1 = _mm256_dpbusd_epi32(s1, u[4 + k], _mm256_set1_epi32((int)load_u32(y + 16 + 4 * k)));
            }
            const __m256i isum = _mm256_add_epi32(s0, s1);
            acc[c] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(da[c * GEMV_MAX_BLOCKS + b])),
                                     _mm256_cvtepi32_ps(isum), acc[c]);
            if (has_min)
                accm[c] = _mm256_fmadd_ps(m, _mm256_set1_ps(sa[c * GEMV_MAX_BLOCKS + b]), accm[c]);
        }
    }
#pragma GCC unroll 4
    for (int c = 0; c < C; c++)
        _mm256_storeu_ps(s + (size_t)c * lds, has_min ? _mm256_add_ps(acc[c], accm[c]) : acc[c]);
}

/* Groups of eight weight rows, each against every activation row (four at a
 * time, as many as keep their accumulators in registers) while it is in
 * L1, so memory delivers each weight once. */
TARGET_VNNI AI void gemv_int8(enum resa_wtype t, int64_t n, int nr, int nc, const uint8_t *w, size_t ldw,
                              const uint8_t *a, size_t lda, float *s, size_t lds, resa_vec_dot_fn dot)
{
    const int64_t nb = n / 32;
    int r = 0;
    /* Q8_0 against one activation row (one sequence's decode) takes the row
     * loop below: the transpose moves 32 bytes a row per block (Q4's move
     * 16), more shuffles than the eight vpdpbusd they feed, and measured
     * about 1.5x slower than the row loop for one row (design §4). From two
     * rows on, reading each weight once for all of them pays. */
    const int in_lanes = nb <= GEMV_MAX_BLOCKS && nr >= 8 && !(t == RESA_W_Q8_0 && nc == 1);
    if (in_lanes) {
        float da[RESA_GEMV_MAX_COLS * GEMV_MAX_BLOCKS], sa[RESA_GEMV_MAX_COLS * GEMV_MAX_BLOCKS];
        int32_t bias[RESA_GEMV_MAX_COLS * GEMV_MAX_BLOCKS];
        for (int c = 0; c < nc; c++)
            act_tables(t, nb, a + (size_t)c * lda, da + c * GEMV_MAX_BLOCKS, sa + c * GEMV_MAX_BLOCKS,
                       bias + c * GEMV_MAX_BLOCKS);
        for (; r + 8 <= nr; r += 8)
            for (int c0 = 0; c0 < nc; c0 += 4) {
                const uint8_t *wr = w + (size_t)r * ldw, *ac = a + (size_t)c0 * lda;
                const uint8_t *pf = c0 ? NULL : w + (size_t)(r + 8 * RESA_GEMV_PREFETCH_GROUPS) * ldw;
                const size_t off = (size_t)c0 * GEMV_MAX_BLOCKS;
                float *sc = s + (size_t)c0 * lds + r;
                switch (nc - c0) {
                case 1: gemv8x(t, 1, nb, wr, ldw, ac, lda, da + off, sa + off, bias + off, pf, sc, lds); break;
                case 2: gemv8x(t, 2, nb, wr, ldw, ac, lda, da + off, sa + off, bias + off, pf, sc, lds); break;
                case 3: gemv8x(t, 3, nb, wr, ldw, ac, lda, da + off, sa + off, bias + off, pf, sc, lds); break;
                default: gemv8x(t, 4, nb, wr, ldw, ac, lda, da + off, sa + off, bias + off, pf, sc, lds); break;
                }
            }
    }
    for (; r < nr; r++)
        for (int c = 0; c < nc; c++)
            dot(n, &s[(size_t)c * lds + r], w + (size_t)r * ldw, a + (size_t)c * lda);
}

/* The gemv of each block type, on gemv_int8 */
#define GEMV_LANES(t, W) \
    TARGET_VNNI decl_gemv_fn(dot_gemv_##t##_avx512vnni) { gemv_int8(W, n, nr, nc, w, ldw, a, lda, s, lds, dot_##t##_avx512vnni); }
GEMV_LANES(q4_0, RESA_W_Q4_0)
GEMV_LANES(q4_1, RESA_W_Q4_1)
GEMV_LANES(q8_0, RESA_W_Q8_0)
GEMV_LANES(q5_0, RESA_W_Q5_0)
GEMV_LANES(q5_1, RESA_W_Q5_1)
GEMV_LANES(iq4_nl, RESA_W_IQ4_NL)

RESA_GEMV_LOOP(dot_gemv_f32_avx512, dot_f32_avx512)
RESA_GEMV_LOOP(dot_gemv_f16_avx512, dot_f16_avx512)
RESA_GEMV_LOOP(dot_gemv_bf16_avx512, dot_bf16_avx512)

/* ---- the other quant types: VNNI ------------------------------------------------------
 *
 * Q5_0, Q5_1 and IQ4_NL: the Q4_0, Q4_1 and Q8_0 kernels above with their
 * own unpacking. The super-block types: vpdpbusd sums each four products of
 * unsigned codes and activations into an int32 lane; those four-sums fit
 * int16 (the largest, Q6_K's, 4 * 63 * 127 = 32004: |q_a| <= 127), so the
 * vectors of two sub-blocks pack exactly (vpackssdw) into one, and one
 * vpdpwssd multiplies them by their scales and accumulates: per 64 values
 * two vpdpbusd, a pack and a vpdpwssd where AVX2 spends six multiply-port
 * ops. The codes' offsets (Q3_K's -4, Q6_K's -32) come off afterwards with
 * the activation's sums of 16, as in AVX2. IQ4_XS keeps AVX2's kernel: its
 * levels are signed, their four-sums (up to 4 * 127 * 127) do not pack, and
 * vpmaddubsw pairs into vpdpwssd measured no faster. Integer sums are exact and the float part is dot.h's recipe, so the results are
 * the scalar ones, bit for bit. */

/* (q - 16) x s8 as q*y - 16*y, as dot_q4_0_i8 */
TARGET_VNNI static inline __m256i dot_q5_0_i8(__m256i q, __m256i y)
{
    return _mm256_sub_epi32(dot_u8i8(q, y), dot_u8i8(_mm256_set1_epi8(16), y));
}

TARGET_VNNI decl_vec_dot_fn(dot_q5_0_avx512vnni)
{
    const block_q5_0 *x = w;
    const block_q8_0 *y = a;
    const int64_t nb = n / QK5_0;
    float acc = 0.0f;
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m128 d = scales4(pack4_f16(x[i].d, x[i + 1].d, x[i + 2].d, x[i + 3].d),
                                 pack4_f16(y[i].d, y[i + 1].d, y[i + 2].d, y[i + 3].d));
        const __m128i p = sums4(dot_q5_0_i8(q5_block(x[i].qs, x[i].qh), load_i8(y[i].qs)),
                                dot_q5_0_i8(q5_block(x[i + 1].qs, x[i + 1].qh), load_i8(y[i + 1].qs)),
                                dot_q5_0_i8(q5_block(x[i + 2].qs, x[i + 2].qh), load_i8(y[i + 2].qs)),
                                dot_q5_0_i8(q5_block(x[i + 3].qs, x[i + 3].qh), load_i8(y[i + 3].qs)));
        acc = chain4(acc, d, p);
    }
    for (; i < nb; i++)
        acc = chain1(acc, x[i].d, y[i].d, dot_q5_0_i8(q5_block(x[i].qs, x[i].qh), load_i8(y[i].qs)));
    *s = acc;
}

/* (d, m) and (d, s) pairs as in dot_q4_1_avx2 */
TARGET_VNNI decl_vec_dot_fn(dot_q5_1_avx512vnni)
{
    const block_q5_1 *x = w;
    const block_q8_1 *y = a;
    const int64_t nb = n / QK5_1;
    float acc = 0.0f, accm = 0.0f;
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m256 fx = cvt8_f16(load_u32(&x[i].d) | (uint64_t)load_u32(&x[i + 1].d) << 32,
                                   load_u32(&x[i + 2].d) | (uint64_t)load_u32(&x[i + 3].d) << 32);
        const __m256 fy = cvt8_f16(load_u32(&y[i].d) | (uint64_t)load_u32(&y[i + 1].d) << 32,
                                   load_u32(&y[i + 2].d) | (uint64_t)load_u32(&y[i + 3].d) << 32);
        const __m128i p = sums4(dot_u8i8(q5_block(x[i].qs, x[i].qh), load_i8(y[i].qs)),
                                dot_u8i8(q5_block(x[i + 1].qs, x[i + 1].qh), load_i8(y[i + 1].qs)),
                                dot_u8i8(q5_block(x[i + 2].qs, x[i + 2].qh), load_i8(y[i + 2].qs)),
                                dot_u8i8(q5_block(x[i + 3].qs, x[i + 3].qh), load_i8(y[i + 3].qs)));
        float xv[8], yv[8], dv[8], iv[4];
        _mm256_storeu_ps(xv, fx);
        _mm256_storeu_ps(yv, fy);
        _mm256_storeu_ps(dv, _mm256_mul_ps(fx, fy));
        _mm_storeu_ps(iv, _mm_cvtepi32_ps(p));
        for (int j = 0; j < 4; j++) {
            acc = fmaf(dv[2 * j], iv[j], acc);
            accm = fmaf(xv[2 * j + 1], yv[2 * j + 1], accm);
        }
    }
    for (; i < nb; i++) {
        acc = chain1(acc, x[i].d, y[i].d, dot_u8i8(q5_block(x[i].qs, x[i].qh), load_i8(y[i].qs)));
        accm = fmaf(h2f(x[i].m), h2f(y[i].s), accm);
    }
    *s = acc + accm;
}

TARGET_VNNI decl_vec_dot_fn(dot_iq4_nl_avx512vnni)
{
    const block_iq4_nl *x = w;
    const block_q8_0 *y = a;
    const int64_t nb = n / QK4_NL;
    const __m256i kv = iq4_levels();
    float acc = 0.0f;
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m128 d = scales4(pack4_f16(x[i].d, x[i + 1].d, x[i + 2].d, x[i + 3].d),
                                 pack4_f16(y[i].d, y[i + 1].d, y[i + 2].d, y[i + 3].d));
        const __m128i p = sums4(dot_i8i8(_mm256_shuffle_epi8(kv, unpack_nibbles(x[i].qs)), load_i8(y[i].qs)),
                                dot_i8i8(_mm256_shuffle_epi8(kv, unpack_nibbles(x[i + 1].qs)), load_i8(y[i + 1].qs)),
                                dot_i8i8(_mm256_shuffle_epi8(kv, unpack_nibbles(x[i + 2].qs)), load_i8(y[i + 2].qs)),
                                dot_i8i8(_mm256_shuffle_epi8(kv, unpack_nibbles(x[i + 3].qs)), load_i8(y[i + 3].qs)));
        acc = chain4(acc, d, p);
    }
    for (; i < nb; i++)
        acc = chain1(acc, x[i].d, y[i].d, dot_i8i8(_mm256_shuffle_epi8(kv, unpack_nibbles(x[i].qs)), load_i8(y[i].qs)));
    *s = acc;
}

/* isum += sa * (four-sums of a) + sb * (four-sums of b), the scale vector
 * laid out as vpackssdw lays out a and b: per lane four words of a's, four
 * of b's. */
TARGET_VNNI static inline __m256i scale_packed(__m256i isum, __m256i a4, __m256i b4, __m256i sc)
{
    return _mm256_dpwssd_epi32(isum, _mm256_packs_epi32(a4, b4), sc);
}

/* Q4_K and Q5_K: sub-blocks of 32; g's low nibbles are sub-block 2g, its
 * high nibbles 2g + 1, so one scale vector per g: [sc[2g] x4, sc[2g+1] x4]
 * in each lane, picked from the eight scales by a byte shuffle whose
 * indices move by 4 per g. */
static inline __m256i q45_k_pick(void)
{
    return _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3,
                            2, 3);
}

/* the scale vector of the next g (scv: the eight int16 scales in both lanes) */
static inline __m256i q45_k_scales(__m256i scv, __m256i *pick)
{
    const __m256i s = _mm256_shuffle_epi8(scv, *pick);
    *pick = _mm256_add_epi8(*pick, _mm256_set1_epi8(4));
    return s;
}

/* The eight scales as int16 in both lanes, and the mins' exact sum against
 * the activation's sums of 16 (each min covers two of them). */
static inline __m256i q45_k_setup(const uint8_t *scales, const block_q8_K *y, int32_t *msum)
{
    uint32_t u[4];
    kscales_q4_k_bytes(scales, u);
    const __m128i sc8 = _mm_cvtsi64_si128((long long)(u[0] | (uint64_t)u[1] << 32));
    const __m128i m8 = _mm_cvtsi64_si128((long long)(u[2] | (uint64_t)u[3] << 32));
    const __m256i m16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8)); /* m[j] at 2j and 2j + 1 */
    *msum = hsum_epi32(_mm256_madd_epi16(m16, _mm256_loadu_si256((const __m256i *)y->bsums)));
    return _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sc8));
}

TARGET_VNNI decl_vec_dot_fn(dot_q4_k_avx512vnni)
{
    const block_q4_K *x = w;
    const block_q8_K *y = a;
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    float acc = 0.0f, accm = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int32_t msum;
        const __m256i scv = q45_k_setup(x[b].scales, &y[b], &msum);
        __m256i pick = q45_k_pick();
        __m256i isum = _mm256_setzero_si256();
        for (int g = 0; g < 4; g++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * g));
            const __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            isum = scale_packed(isum, dot_u8i8(lo, load_i8(y[b].qs + 64 * g)),
                                dot_u8i8(hi, load_i8(y[b].qs + 64 * g + 32)), q45_k_scales(scv, &pick));
        }
        acc = fmaf(h2f(x[b].d) * y[b].d, (float)hsum_epi32(isum), acc);
        accm = fmaf(h2f(x[b].dmin) * y[b].d, (float)msum, accm);
    }
    *s = acc - accm;
}

/* Q5_K: the fifth bits as in dot_q5_k_avx2 */
TARGET_VNNI decl_vec_dot_fn(dot_q5_k_avx512vnni)
{
    const block_q5_K *x = w;
    const block_q8_K *y = a;
    const __m256i m4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    float acc = 0.0f, accm = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int32_t msum;
        const __m256i scv = q45_k_setup(x[b].scales, &y[b], &msum);
        __m256i pick = q45_k_pick();
        __m256i hb = _mm256_loadu_si256((const __m256i *)x[b].qh);
        __m256i isum = _mm256_setzero_si256();
        for (int g = 0; g < 4; g++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * g));
            const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(hb, one), 4);
            const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 1), one), 4);
            hb = _mm256_srli_epi16(hb, 2);
            const __m256i lo = _mm256_or_si256(_mm256_and_si256(q, m4), h0);
            const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), h1);
            isum = scale_packed(isum, dot_u8i8(lo, load_i8(y[b].qs + 64 * g)),
                                dot_u8i8(hi, load_i8(y[b].qs + 64 * g + 32)), q45_k_scales(scv, &pick));
        }
        acc = fmaf(h2f(x[b].d) * y[b].d, (float)hsum_epi32(isum), acc);
        accm = fmaf(h2f(x[b].dmin) * y[b].d, (float)msum, accm);
    }
    *s = acc - accm;
}

/* Sub-blocks of 16 (Q2_K, Q3_K, Q6_K): one ymm of codes is sub-blocks g
 * (low lane) and g + 1 (high lane), so packing the four-sums of the
 * vectors of sub-blocks 4P, 4P + 1 and 4P + 2, 4P + 3 puts 4P and 4P + 2
 * in the low lane and 4P + 1 and 4P + 3 in the high one. Their int16
 * scales come from the 16 int8 scales (both lanes) by a byte shuffle into
 * each word's high byte and an arithmetic shift (sign extension); the
 * shuffle's indices move by 4 per P. */
static inline __m256i k16_pick(void)
{
    return _mm256_setr_epi8(-128, 0, -128, 0, -128, 0, -128, 0, -128, 2, -128, 2, -128, 2, -128, 2, -128, 1, -128, 1,
                            -128, 1, -128, 1, -128, 3, -128, 3, -128, 3, -128, 3);
}

/* the scale vector of the next P (scv: the 16 int8 scales in both lanes) */
static inline __m256i k16_scales(__m256i scv, __m256i *pick)
{
    const __m256i s = _mm256_srai_epi16(_mm256_shuffle_epi8(scv, *pick), 8);
    *pick = _mm256_add_epi16(*pick, _mm256_set1_epi16(4 << 8));
    return s;
}

/* Q3_K: u = two low bits + 4 * hmask bit (see dot_q3_k_avx2); Q2_K the same without the hmask. */
TARGET_VNNI decl_vec_dot_fn(dot_q3_k_avx512vnni)
{
    const block_q3_K *x = w;
    const block_q8_K *y = a;
    const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    float acc = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        uint32_t o[4];
        kscales_q3_k_words(x[b].scales, o);
        const __m128i sc8 = _mm_sub_epi8(_mm_setr_epi32((int)o[0], (int)o[1], (int)o[2], (int)o[3]), _mm_set1_epi8(32));
        const __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
        const int32_t off = hsum_epi32(_mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)y[b].bsums)));
        const __m256i scv = _mm256_broadcastsi128_si256(sc8);
        __m256i pick = k16_pick();
        __m256i hm = _mm256_loadu_si256((const __m256i *)x[b].hmask);
        __m256i isum = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * h));
            for (int j = 0; j < 4; j += 2) {
                const __m256i u0 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 2 * j), m3),
                                                   _mm256_slli_epi16(_mm256_and_si256(hm, one), 2));
                const __m256i u1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 2 * j + 2), m3),
                                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hm, 1), one), 2));
                hm = _mm256_srli_epi16(hm, 2);
                const int8_t *yq = y[b].qs + 128 * h + 32 * j;
                const __m256i s16 = k16_scales(scv, &pick);
                isum = scale_packed(isum, dot_u8i8(u0, load_i8(yq)), dot_u8i8(u1, load_i8(yq + 32)), s16);
            }
        }
        acc = fmaf(h2f(x[b].d) * y[b].d, (float)(hsum_epi32(isum) - 4 * off), acc);
    }
    *s = acc; /* the recipe's acc - accm with accm = 0 */
}

TARGET_VNNI decl_vec_dot_fn(dot_q2_k_avx512vnni)
{
    const block_q2_K *x = w;
    const block_q8_K *y = a;
    const __m256i m3 = _mm256_set1_epi8(3);
    float acc = 0.0f, accm = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        const __m128i s8 = _mm_loadu_si128((const __m128i *)x[b].scales);
        const __m128i sc8 = _mm_and_si128(s8, _mm_set1_epi8(0x0f));
        const __m128i m8 = _mm_and_si128(_mm_srli_epi16(s8, 4), _mm_set1_epi8(0x0f));
        const int32_t msum =
            hsum_epi32(_mm256_madd_epi16(_mm256_cvtepu8_epi16(m8), _mm256_loadu_si256((const __m256i *)y[b].bsums)));
        const __m256i scv = _mm256_broadcastsi128_si256(sc8);
        __m256i pick = k16_pick();
        __m256i isum = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * h));
            for (int j = 0; j < 4; j += 2) {
                const __m256i u0 = _mm256_and_si256(_mm256_srli_epi16(q, 2 * j), m3);
                const __m256i u1 = _mm256_and_si256(_mm256_srli_epi16(q, 2 * j + 2), m3);
                const int8_t *yq = y[b].qs + 128 * h + 32 * j;
                const __m256i s16 = k16_scales(scv, &pick);
                isum = scale_packed(isum, dot_u8i8(u0, load_i8(yq)), dot_u8i8(u1, load_i8(yq + 32)), s16);
            }
        }
        acc = fmaf(h2f(x[b].d) * y[b].d, (float)hsum_epi32(isum), acc);
        accm = fmaf(h2f(x[b].dmin) * y[b].d, (float)msum, accm);
    }
    *s = acc - accm;
}

/* Q6_K: unsigned six-bit codes (see dot_q6_k_avx2); q[k] covers sub-blocks
 * 8h + 2k and 8h + 2k + 1. */
TARGET_VNNI decl_vec_dot_fn(dot_q6_k_avx512vnni)
{
    const block_q6_K *x = w;
    const block_q8_K *y = a;
    const __m256i m4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);
    float acc = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        const __m128i sc8 = _mm_loadu_si128((const __m128i *)x[b].scales);
        const int32_t off =
            hsum_epi32(_mm256_madd_epi16(_mm256_cvtepi8_epi16(sc8), _mm256_loadu_si256((const __m256i *)y[b].bsums)));
        const __m256i scv = _mm256_broadcastsi128_si256(sc8);
        __m256i pick = k16_pick();
        __m256i isum = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = x[b].ql + 64 * h;
            const int8_t *yq = y[b].qs + 128 * h;
            const __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
            const __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            const __m256i hb = _mm256_loadu_si256((const __m256i *)(x[b].qh + 32 * h));
            const __m256i q0 = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 4), m30));
            const __m256i q1 = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 2), m30));
            const __m256i q2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hb, m30));
            const __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                               _mm256_and_si256(_mm256_srli_epi16(hb, 2), m30));
            const __m256i s01 = k16_scales(scv, &pick);
            isum = scale_packed(isum, dot_u8i8(q0, load_i8(yq)), dot_u8i8(q1, load_i8(yq + 32)), s01);
            const __m256i s23 = k16_scales(scv, &pick);
            isum = scale_packed(isum, dot_u8i8(q2, load_i8(yq + 64)), dot_u8i8(q3, load_i8(yq + 96)), s23);
        }
        acc = fmaf(h2f(x[b].d) * y[b].d, (float)(hsum_epi32(isum) - 32 * off), acc);
    }
    *s = acc; /* the recipe's acc - accm with accm = 0 */
}


/* ---- super-block gemm: sixteen activation rows in the lanes ----------------------- */

/* The rows kernel (kquant_rows_avx2.h) still meets one activation row at a
 * time with vpmaddubsw. Here the call's activation rows are transposed
 * four bytes at a time, like the int8 panels but sixteen wide, so one
 * broadcast group of four weight codes meets all sixteen in one vpdpbusd:
 * the sums of each 16 codes (exact, <= 16 * 63 * 128) times that
 * sub-block's scale (vpmulld), the mins or folded offsets against the
 * sums of 16 (vpdpwssd), then the recipe's fmaf chains with the columns in
 * the lanes: bit-identical to vec_dot. The transpose is paid once per call
 * for up to RESA_GEMM_MR weight rows, a few super-blocks at a time. */
#define KP_COLS 16
#define KP_BLOCKS 4
#define KP_PREFETCH_ROWS 2
typedef struct kq_panel {
    _Alignas(64) int32_t qs[KP_BLOCKS][QK_K / 4][KP_COLS]; /* [b][g][c]: elements 4g .. 4g + 3 of column c */
    _Alignas(64) int32_t bs[KP_BLOCKS][QK_K / 32][KP_COLS]; /* [b][j][c]: column c's sums of 16 2j, 2j + 1 */
    float d[KP_BLOCKS][KP_COLS];
} kq_panel;

/* r[i] lane j <- r[j] lane i, for 16 vectors of 16 dwords */
static inline void transpose16_epi32(__m512i r[16])
{
    __m512i t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) { /* u[4i + k], 128-bit lane l: element 4l + k of rows 4i .. 4i + 3 */
        u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int k = 0; k < 4; k++) { /* then the 128-bit lanes, as a 4 x 4 transpose */
        const __m512i a0 = _mm512_shuffle_i32x4(u[k], u[4 + k], 0x44), a1 = _mm512_shuffle_i32x4(u[k], u[4 + k], 0xee);
        const __m512i a2 = _mm512_shuffle_i32x4(u[8 + k], u[12 + k], 0x44);
        const __m512i a3 = _mm512_shuffle_i32x4(u[8 + k], u[12 + k], 0xee);
        r[k] = _mm512_shuffle_i32x4(a0, a2, 0x88);
        r[4 + k] = _mm512_shuffle_i32x4(a0, a2, 0xdd);
        r[8 + k] = _mm512_shuffle_i32x4(a1, a3, 0x88);
        r[12 + k] = _mm512_shuffle_i32x4(a1, a3, 0xdd);
    }
}

/* Super-blocks [b0, b0 + cnt) of nc activation rows (lda bytes apart) into
 * p; columns past nc are zero. */
static void kq_pack(const void *a, size_t lda, int nc, int64_t b0, int cnt, kq_panel *p)
{
    for (int b = 0; b < cnt; b++) {
        const block_q8_K *y[KP_COLS];
        for (int c = 0; c < nc; c++)
            y[c] = (const block_q8_K *)((const char *)a + (size_t)c * lda) + b0 + b;
        for (int j = 0; j < QK_K / 64; j++) {
            __m512i r[KP_COLS];
            for (int c = 0; c < KP_COLS; c++)
                r[c] = c < nc ? _mm512_loadu_si512(y[c]->qs + 64 * j) : _mm512_setzero_si512();
            transpose16_epi32(r);
            for (int g = 0; g < 16; g++)
                _mm512_store_si512(p->qs[b][16 * j + g], r[g]);
        }
        __m512i r[KP_COLS]; /* the sums of 16, two to a word, the same way */
        for (int c = 0; c < KP_COLS; c++)
            r[c] = c < nc ? _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)y[c]->bsums))
                          : _mm512_setzero_si512();
        transpose16_epi32(r);
        for (int j = 0; j < QK_K / 32; j++)
            _mm512_store_si512(p->bs[b][j], r[j]);
        for (int c = 0; c < KP_COLS; c++)
            p->d[b][c] = c < nc ? y[c]->d : 0.0f;
    }
}

/* One weight row's super-blocks [b0, b0 + cnt) against the panel, into the
 * sixteen columns' chains acc (and accm, the mins' chain). */
TARGET_VNNI static inline __attribute__((always_inline)) void
kq_panel_row(void (*codes)(const void *, __m256i *), void (*scalars)(const void *, kq_scalars *), int fold,
             const char *wr, size_t ldw, size_t bbytes, int64_t b0, int cnt, const kq_panel *p, __m512 *acc,
             __m512 *accm)
{
    const __m512i zero = _mm512_setzero_si512();
    for (int b = 0; b < cnt; b++) {
        const char *blk = wr + (size_t)(b0 + b) * bbytes;
        /* the weight rows come a chunk of blocks at a time, a pattern the
         * hardware prefetchers miss: ask for the same block two rows on */
        resa_prefetch_span(blk + KP_PREFETCH_ROWS * ldw, bbytes);
        _Alignas(32) int32_t q4[QK_K / 4]; /* the codes, four to a word */
        __m256i q[8];
        codes(blk, q);
        for (int k = 0; k < 8; k++)
            _mm256_store_si256((__m256i *)(q4 + 8 * k), q[k]);
        kq_scalars ks;
        scalars(blk, &ks);
        __m512i isum = zero;
        for (int g = 0; g < QK_K / 16; g++) { /* the four groups of a sub-block, written out */
            const int32_t *qg = q4 + 4 * g;
            const int32_t(*pg)[KP_COLS] = p->qs[b] + 4 * g;
            __m512i t = _mm512_dpbusd_epi32(zero, _mm512_set1_epi32(qg[0]), _mm512_load_si512(pg[0]));
            t = _mm512_dpbusd_epi32(t, _mm512_set1_epi32(qg[1]), _mm512_load_si512(pg[1]));
            t = _mm512_dpbusd_epi32(t, _mm512_set1_epi32(qg[2]), _mm512_load_si512(pg[2]));
            t = _mm512_dpbusd_epi32(t, _mm512_set1_epi32(qg[3]), _mm512_load_si512(pg[3]));
            isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(t, _mm512_set1_epi32(ks.sc[g])));
        }
        __m512i msum = zero;
        for (int j = 0; j < QK_K / 32; j++)
            msum = _mm512_dpwssd_epi32(msum, _mm512_set1_epi32(ks.mw[j]), _mm512_load_si512(p->bs[b][j]));
        const __m512 da = _mm512_load_ps(p->d[b]);
        if (fold) {
            *acc = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(ks.d), da), _mm512_cvtepi32_ps(_mm512_sub_epi32(isum, msum)),
                                   *acc);
        } else {
            *acc = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(ks.d), da), _mm512_cvtepi32_ps(isum), *acc);
            *accm = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(ks.dmin), da), _mm512_cvtepi32_ps(msum), *accm);
        }
    }
}

/* Below this many activation rows the panel's empty lanes cost more than
 * the rows kernel's one-row-at-a-time work (here, Zen 4: even at 8 rows; so
 * the gemv of batched decode, at most RESA_GEMV_MAX_COLS rows, keeps the
 * rows kernel). */
#define KP_MIN_COLS 8

TARGET_VNNI static inline __attribute__((always_inline)) void
kq_panel_gemm(void (*codes)(const void *, __m256i *), void (*scalars)(const void *, kq_scalars *), int fold,
              size_t bbytes, int64_t n, int nr, int nc, const void *w, size_t ldw, const void *a, size_t lda,
              float *s, size_t lds)
{
    const int64_t nb = n / QK_K;
    kq_panel p;
    __m512 acc[RESA_GEMM_MR], accm[RESA_GEMM_MR];
    for (int r = 0; r < nr; r++)
        acc[r] = accm[r] = _mm512_setzero_ps();
    for (int64_t b0 = 0; b0 < nb; b0 += KP_BLOCKS) {
        const int cnt = nb - b0 < KP_BLOCKS ? (int)(nb - b0) : KP_BLOCKS;
        kq_pack(a, lda, nc, b0, cnt, &p);
        for (int r = 0; r < nr; r++)
            kq_panel_row(codes, scalars, fold, (const char *)w + (size_t)r * ldw, ldw, bbytes, b0, cnt, &p, &acc[r],
                         &accm[r]);
    }
    for (int r = 0; r < nr; r++) {
        float out[KP_COLS];
        _mm512_storeu_ps(out, fold ? acc[r] : _mm512_sub_ps(acc[r], accm[r]));
        for (int c = 0; c < nc; c++)
            s[(size_t)c * lds + r] = out[c];
    }
}

#define KQ_PANEL_GEMM(type, name)                                                                    \
    TARGET_VNNI decl_gemm_fn(name)                                                                   \
    {                                                                                                \
        if (nc < KP_MIN_COLS)                                                                        \
            kq_rows(KQ_ROWS(type), n, nr, nc, w, ldw, a, lda, s, lds);                               \
        else                                                                                         \
            kq_panel_gemm(kq_codes_##type, kq_scalars_##type, KQ_FOLD_##type, sizeof(KQ_BLOCK_##type), n, \
                          nr, nc, w, ldw, a, lda, s, lds);                                           \
    }

/* Super-block types against several activation rows: kquant_rows_avx2.h */
#define KQ_VNNI(t) \
    KQ_PANEL_GEMM(t, dot_gemm_##t##_avx512vnni) KQ_ROWS_GEMV(t, dot_gemv_##t##_avx512vnni, dot_##t##_avx512vnni)
KQ_TYPES(KQ_VNNI)

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

/* Q8_K: one amax over 256 values (max is exact in any order), each 16 (one
 * vector) rounded as in quantize_block and summed exactly; d stays a float.
 * Same arithmetic as the reference (types.c). */
decl_quantize_fn(dot_quantize_q8_k_avx512)
{
    block_q8_K *b = y;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        __m512 m = _mm512_abs_ps(_mm512_loadu_ps(x));
        for (int j = 16; j < QK_K; j += 16)
            m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(x + j)));
        const float amax = _mm512_reduce_max_ps(m);
        const __m512 vid = _mm512_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
        b[i].d = amax / 127.0f;
        for (int j = 0; j < QK_K; j += 16) {
            const __m512i q = round_even(_mm512_mul_ps(_mm512_loadu_ps(x + j), vid));
            _mm_storeu_si128((__m128i *)(b[i].qs + j), _mm512_cvtsepi32_epi8(q));
            b[i].bsums[j / 16] = (int16_t)_mm512_reduce_add_epi32(q);
        }
    }
}

#else
typedef int resa_dot_avx512_unused; /* ISO C forbids an empty translation unit */
#endif
