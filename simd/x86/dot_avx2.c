/* SPDX-License-Identifier: MIT */
/* "dot" kernels for AVX2 + FMA + F16C (compile with -mavx2 -mfma -mf16c).
 *
 * int8 products use the maddubs idiom: vpmaddubsw multiplies unsigned by
 * signed bytes and adds pairs into int16, vpmaddwd with ones widens to int32.
 * Signed x signed moves x's sign onto y first (|x| * sign(x)*y). The pair sums
 * cannot saturate: |x| <= 128 (a Q8_0 weight may be -128) and |y| <= 127 (our
 * activation quantizer never produces -128), 2*128*127 < 32767.
 *
 * vec_dot: a Q4/Q8 block is 32 values = one ymm of bytes. Four blocks per
 * iteration: their integer sums are reduced with hadds to four int32, whose
 * float scaling follows dot.h's serial recipe (four scalar FMAs). gemm: see
 * the note above gemm_tile. */
#if defined(__x86_64__)

#include <immintrin.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "dot.h"
#include "kscales.h"
#include "kquant_rows_avx2.h"
#include "q5_bits_avx2.h"

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
    FLOAT_DOT_BODY(load_bf16, type_bf16_to_f32);
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

/* Eight fp16 values (two u64) -> eight floats with one vcvtph2ps: the scalar
 * F16C path costs an insert and a convert per value. */
static inline __m256 cvt8_f16(uint64_t lo, uint64_t hi)
{
    return _mm256_cvtph_ps(_mm_set_epi64x((long long)hi, (long long)lo));
}

/* Four blocks' 8 int32 partial sums each -> their four block sums. The hadds
 * run on shuffle ports, which the multiply-heavy loop leaves idle. */
static inline __m128i sums4(__m256i p0, __m256i p1, __m256i p2, __m256i p3)
{
    const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(p0, p1), _mm256_hadd_epi32(p2, p3));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

/* Same from four blocks' vpmaddubsw outputs (16 int16 pair sums each): the
 * first hadd still fits int16 (4-product sums of a 4-bit weight are at most
 * 4 * 15 * 128 = 7680), so one vpmaddwd widens two blocks at once. Only for
 * 4-bit weights: Q8_0 pair sums reach 32512 and their 4-sums would overflow. */
static inline __m128i sums4_i16(__m256i v0, __m256i v1, __m256i v2, __m256i v3)
{
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i h = _mm256_hadd_epi32(_mm256_madd_epi16(_mm256_hadd_epi16(v0, v1), ones),
                                        _mm256_madd_epi16(_mm256_hadd_epi16(v2, v3), ones));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
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

/* [d_w0*d_a0 .. d_w3*d_a3]: the float products of the recipe */
static inline __m128 scales4(uint64_t dw, uint64_t da)
{
    return _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi64_si128((long long)dw)),
                      _mm_cvtph_ps(_mm_cvtsi64_si128((long long)da)));
}

/* The serial chain of dot.h over four blocks: acc = fma(d[j], x[j], acc).
 * (fmaf is one vfmadd here: this file is built with -mfma.) */
static inline float chain4(float acc, __m128 d, __m128i isum)
{
    float dv[4], xv[4];
    _mm_storeu_ps(dv, d);
    _mm_storeu_ps(xv, _mm_cvtepi32_ps(isum));
    for (int j = 0; j < 4; j++)
        acc = fmaf(dv[j], xv[j], acc);
    return acc;
}

/* One block alone (the up to three after the 4-block loop). */
static inline float chain1(float acc, resa_f16 dw, resa_f16 da, __m256i partial)
{
    return fmaf(_cvtsh_ss(dw) * _cvtsh_ss(da), (float)hsum_epi32(partial), acc);
}

decl_vec_dot_fn(dot_q8_0_avx2)
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

static inline __m256i q4_0_block(const block_q4_0 *x)
{
    return _mm256_sub_epi8(unpack_nibbles(x->qs), _mm256_set1_epi8(8));
}

decl_vec_dot_fn(dot_q4_0_avx2)
{
    const block_q4_0 *x = w;
    const block_q8_0 *y = a;
    const int64_t nb = n / QK4_0;
    float acc = 0.0f;
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m128 d = scales4(pack4_f16(x[i].d, x[i + 1].d, x[i + 2].d, x[i + 3].d),
                                 pack4_f16(y[i].d, y[i + 1].d, y[i + 2].d, y[i + 3].d));
        const __m128i p = sums4_i16(mul_i8i8(q4_0_block(&x[i]), load_i8(y[i].qs)),
                                    mul_i8i8(q4_0_block(&x[i + 1]), load_i8(y[i + 1].qs)),
                                    mul_i8i8(q4_0_block(&x[i + 2]), load_i8(y[i + 2].qs)),
                                    mul_i8i8(q4_0_block(&x[i + 3]), load_i8(y[i + 3].qs)));
        acc = chain4(acc, d, p);
    }
    for (; i < nb; i++)
        acc = chain1(acc, x[i].d, y[i].d, dot_i8i8(q4_0_block(&x[i]), load_i8(y[i].qs)));
    *s = acc;
}

/* Q4_1 nibbles are unsigned already: no sign trick. (d, m) of the weight and
 * (d, s) of the activation are adjacent fp16 pairs, so one convert of each
 * side gives [d_w0 m0 .. d_w3 m3] and [d_a0 s0 .. d_a3 s3]; their product's
 * even lanes are the recipe's d_w * d_a, the odd lanes of the inputs feed
 * the m * s chain. */
decl_vec_dot_fn(dot_q4_1_avx2)
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
        const __m128i p = sums4_i16(mul_u8i8(unpack_nibbles(x[i].qs), load_i8(y[i].qs)),
                                    mul_u8i8(unpack_nibbles(x[i + 1].qs), load_i8(y[i + 1].qs)),
                                    mul_u8i8(unpack_nibbles(x[i + 2].qs), load_i8(y[i + 2].qs)),
                                    mul_u8i8(unpack_nibbles(x[i + 3].qs), load_i8(y[i + 3].qs)));
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
        accm = fmaf(_cvtsh_ss(x[i].m), _cvtsh_ss(y[i].s), accm);
    }
    *s = acc + accm;
}

/* ---- int8 gemm over activation panels ---------------------------------------------
 *
 * A tile of NR weight rows x P panels (8 columns each). Per block, each row's
 * weights are expanded once to 32 bytes in element order (nibbles as u8),
 * then for each of the 8 four-byte groups k the group is broadcast to all
 * lanes (a load, no ALU op) and meets the panel's group k of all 8 columns:
 * one vpmaddubsw per (row, panel, k) and no horizontal sums: lane c ends up
 * with column c's block sum, scaled and accumulated by one FMA per (row,
 * panel) and block, in the recipe's order. A weight block is used by 8P
 * columns, a panel load by NR rows; NR = P = 2 fits the 16 ymm registers.
 * 4-bit weights: the pair sums (<= 2*15*128) of all 8 groups add up in int16
 * (<= 30720), one vpmaddwd per block widens them. 5-bit codes (Q5_0, Q5_1,
 * as u8 0..31): pair sums reach 2*31*128 = 7936, so four groups fit int16
 * (31744) and each half of the block is widened on its own. Q8_0 and
 * IQ4_NL's levels (signed bytes) take the sign trick and widen every group
 * (pair sums reach 32512). Q4_0's -8 and Q5_0's -16 offsets are applied as
 * -8 or -16 times sum(q_a), from the panel. */

#define AI static inline __attribute__((always_inline))

/* Q4 nibbles of one block -> 32 u8 in element order */
AI void expand_q4(const uint8_t *qs, uint8_t *dst)
{
    const __m128i q = _mm_loadu_si128((const __m128i *)qs), m = _mm_set1_epi8(0x0f);
    _mm_store_si128((__m128i *)dst, _mm_and_si128(q, m));
    _mm_store_si128((__m128i *)(dst + 16), _mm_and_si128(_mm_srli_epi16(q, 4), m));
}

/* One block of a type other than Q8_0 -> 32 bytes in element order: Q4
 * nibbles and Q5 codes as u8, IQ4_NL's levels as s8 */
AI void expand_block(enum resa_wtype t, const uint8_t *blk, uint8_t *dst)
{
    if (t == RESA_W_Q4_0 || t == RESA_W_Q4_1) {
        expand_q4(blk + resa_wblock_nibbles(t), dst);
        return;
    }
    const __m128i q = _mm_loadu_si128((const __m128i *)(blk + resa_wblock_nibbles(t))), m = _mm_set1_epi8(0x0f);
    const __m128i lo = _mm_and_si128(q, m), hi = _mm_and_si128(_mm_srli_epi16(q, 4), m);
    if (t == RESA_W_IQ4_NL) {
        const __m128i kv = _mm_loadu_si128((const __m128i *)resa_kvalues_iq4nl);
        _mm_store_si128((__m128i *)dst, _mm_shuffle_epi8(kv, lo));
        _mm_store_si128((__m128i *)(dst + 16), _mm_shuffle_epi8(kv, hi));
        return;
    }
    const __m256i nib = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
    _mm256_store_si256((__m256i *)dst, _mm256_or_si256(nib, q5_high_bits(load_u32(blk + resa_wblock_qh(t)))));
}

/* Four bytes at p broadcast to every dword: a load-port op. Inline asm so
 * that the compiler does not forward the bytes just stored there through
 * shuffle-port ops instead (a memory input makes it store them first). */
AI __m256i bcast4(const uint8_t *p)
{
    __m256i v;
    __asm__("vpbroadcastd %1, %0" : "=x"(v) : "m"(*(const uint32_t *)(const void *)p));
    return v;
}

AI __m256 bcast_f16(const void *p)
{
    return _mm256_set1_ps(_cvtsh_ss(load_u16(p)));
}

/* Stores the tile's valid part: s[c * lds + r] for r < nr, c < nc. */
/* One accumulator's valid part: s[(8p + c) * lds] for 8p + c < nc (by
 * value, so that the accumulators never need a home in memory). */
AI void store8(__m256 v, int p, int nc, float *s, size_t lds)
{
    float t[8];
    _mm256_storeu_ps(t, v);
    for (int c = 0; c < 8 && p * 8 + c < nc; c++)
        s[(size_t)(p * 8 + c) * lds] = t[c];
}

AI void gemm_tile(enum resa_wtype t, int NR, int P, int64_t nb, const uint8_t *w, size_t ldw,
                  const resa_dot_panel *pan, int nr, int nc, float *s, size_t lds)
{
    const size_t bsz = resa_wblock_bytes(t);
    const int sgn = t == RESA_W_Q8_0 || t == RESA_W_IQ4_NL; /* signed bytes: sign trick, int32 sums */
    const int five = t == RESA_W_Q5_0 || t == RESA_W_Q5_1;  /* int16 sums per half block */
    const int off_shift = t == RESA_W_Q4_0 ? 3 : t == RESA_W_Q5_0 ? 4 : 0; /* -8 or -16 times sum(q_a) */
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[4];
#pragma GCC unroll 4
    for (int i = 0; i < NR * P; i++)
        acc[i] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        _Alignas(32) uint8_t wb[2][32];
        const uint8_t *wq[2];
#pragma GCC unroll 2
        for (int r = 0; r < NR; r++) {
            const uint8_t *blk = w + (size_t)r * ldw + (size_t)b * bsz;
            if (t == RESA_W_Q8_0) {
                wq[r] = blk + offsetof(block_q8_0, qs);
            } else {
                expand_block(t, blk, wb[r]);
                wq[r] = wb[r];
            }
        }
        __m256i isum[4], half[4];
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++) {
            __m256i wk[2], wa[2];
#pragma GCC unroll 2
            for (int r = 0; r < NR; r++) {
                wk[r] = bcast4(wq[r] + 4 * k);
                if (sgn)
                    wa[r] = _mm256_sign_epi8(wk[r], wk[r]);
            }
#pragma GCC unroll 2
            for (int p = 0; p < P; p++) {
                const __m256i y = _mm256_loadu_si256((const __m256i *)pan[p * nb + b].qs[k]);
#pragma GCC unroll 2
                for (int r = 0; r < NR; r++) {
                    __m256i prod;
                    if (sgn)
                        prod = _mm256_madd_epi16(_mm256_maddubs_epi16(wa[r], _mm256_sign_epi8(y, wk[r])), ones);
                    else
                        prod = _mm256_maddubs_epi16(wk[r], y);
                    isum[r * P + p] = k == 0 || (five && k == 4) ? prod
                                    : sgn ? _mm256_add_epi32(isum[r * P + p], prod)
                                          : _mm256_add_epi16(isum[r * P + p], prod);
                }
            }
            if (five && k == 3)
#pragma GCC unroll 4
                for (int i = 0; i < NR * P; i++)
                    half[i] = _mm256_madd_epi16(isum[i], ones);
        }
#pragma GCC unroll 2
        for (int p = 0; p < P; p++) {
            const resa_dot_panel *pb = &pan[p * nb + b];
            const __m256 da = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)pb->d));
            const __m256i bias = _mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)pb->sum), off_shift);
#pragma GCC unroll 2
            for (int r = 0; r < NR; r++) {
                __m256i i32 = isum[r * P + p];
                if (!sgn)
                    i32 = _mm256_madd_epi16(i32, ones);
                if (five)
                    i32 = _mm256_add_epi32(i32, half[r * P + p]);
                if (off_shift)
                    i32 = _mm256_sub_epi32(i32, bias);
                const __m256 dw = bcast_f16(w + (size_t)r * ldw + (size_t)b * bsz);
                acc[r * P + p] = _mm256_fmadd_ps(_mm256_mul_ps(dw, da), _mm256_cvtepi32_ps(i32), acc[r * P + p]);
            }
        }
    }
    if (resa_wtype_has_min(t)) { /* the m * s chains, on their own: fewer live registers above */
        __m256 accm[4];
#pragma GCC unroll 4
        for (int i = 0; i < NR * P; i++)
            accm[i] = _mm256_setzero_ps();
        for (int64_t b = 0; b < nb; b++)
#pragma GCC unroll 2
            for (int r = 0; r < NR; r++) {
                const __m256 m = bcast_f16(w + (size_t)r * ldw + (size_t)b * bsz + RESA_WBLOCK_M);
#pragma GCC unroll 2
                for (int p = 0; p < P; p++)
                    accm[r * P + p] = _mm256_fmadd_ps(m, load_f16(pan[p * nb + b].s), accm[r * P + p]);
            }
#pragma GCC unroll 4
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

/* Rows in pairs (then one), one or two panels. */
AI void gemm_int8(enum resa_wtype t, int64_t n, int nr, int nc, const uint8_t *w, size_t ldw,
                  const resa_dot_panel *pan, float *s, size_t lds)
{
    const int64_t nb = n / 32;
    for (int r = 0; r < nr; r += 2) {
        const uint8_t *wr = w + (size_t)r * ldw;
        const int left = nr - r;
        if (left >= 2 && nc > 8)
            gemm_tile(t, 2, 2, nb, wr, ldw, pan, left, nc, s + r, lds);
        else if (left >= 2)
            gemm_tile(t, 2, 1, nb, wr, ldw, pan, left, nc, s + r, lds);
        else if (nc > 8)
            gemm_tile(t, 1, 2, nb, wr, ldw, pan, left, nc, s + r, lds);
        else
            gemm_tile(t, 1, 1, nb, wr, ldw, pan, left, nc, s + r, lds);
    }
}

RESA_GEMM_PANEL(dot_gemm_q4_0_avx2, gemm_int8, RESA_W_Q4_0)
RESA_GEMM_PANEL(dot_gemm_q4_1_avx2, gemm_int8, RESA_W_Q4_1)
RESA_GEMM_PANEL(dot_gemm_q8_0_avx2, gemm_int8, RESA_W_Q8_0)
RESA_GEMM_PANEL(dot_gemm_q5_0_avx2, gemm_int8, RESA_W_Q5_0)
RESA_GEMM_PANEL(dot_gemm_q5_1_avx2, gemm_int8, RESA_W_Q5_1)
RESA_GEMM_PANEL(dot_gemm_iq4_nl_avx2, gemm_int8, RESA_W_IQ4_NL)

RESA_GEMM_LOOP(dot_gemm_f32_avx2, dot_f32_avx2)
RESA_GEMM_LOOP(dot_gemm_f16_avx2, dot_f16_avx2)
RESA_GEMM_LOOP(dot_gemm_bf16_avx2, dot_bf16_avx2)

/* The 16 IQ4 levels in both lanes, for vpshufb. */
static inline __m256i iq4_levels(void)
{
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)resa_kvalues_iq4nl));
}

/* ---- int8 gemv: eight rows in the lanes --------------------------------------------------
 *
 * Decode's matrix-vector product, one lane per weight row: per block, the
 * 16-byte groups of eight rows are transposed (two loads and four
 * unpacks per pair of dword pairs) so that lane r of v[j] holds four
 * elements of row r, the activation's matching four bytes are broadcast (a
 * load), and one vpmaddubsw covers four elements of eight rows (Q4_0, Q4_1,
 * Q5_0, Q5_1 and IQ4_NL one transpose of nibbles a block, Q8_0 two). Each lane
 * then follows the recipe on its own: the eight rows' serial chains run side
 * by side, as fast as one vector FMA per block, with no horizontal sums. */

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

/* The first two fp16 of eight rows' blocks at p + r * ldw, as floats in row
 * order: (d, m) for Q4_1, (d, garbage) for the others. Gathered in lane
 * order 0 1 4 5 2 3 6 7 so that one in-lane shuffle per output
 * deinterleaves the two converts. */
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

/* The activation's per-block values, shared by every row: d, s (Q8_1) and
 * the offsets of unsigned codes, Q4_0's -8 * sum(q) and Q5_0's -16 * sum(q). */
AI void act_tables(enum resa_wtype t, int64_t nb, const void *a, float *da, float *sa, int32_t *bias)
{
    const __m256i one8 = _mm256_set1_epi8(1), one16 = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < nb; b++) {
        if (resa_wtype_has_min(t)) {
            const block_q8_1 *y = (const block_q8_1 *)a + b;
            da[b] = _cvtsh_ss(y->d);
            sa[b] = _cvtsh_ss(y->s);
        } else {
            const block_q8_0 *y = (const block_q8_0 *)a + b;
            da[b] = _cvtsh_ss(y->d);
            if (t == RESA_W_Q4_0 || t == RESA_W_Q5_0)
                bias[b] = (t == RESA_W_Q4_0 ? -8 : -16) *
                          hsum_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(one8, load_i8(y->qs)), one16));
        }
    }
}

AI void gemv8(enum resa_wtype t, int64_t nb, const uint8_t *w, size_t ldw, const uint8_t *a, const float *da,
              const float *sa, const int32_t *bias, const uint8_t *pf, float *s)
{
    const size_t bsz = resa_wblock_bytes(t);
    const int has_min = resa_wtype_has_min(t);
    const size_t ybsz = has_min ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const size_t yoff = has_min ? offsetof(block_q8_1, qs) : offsetof(block_q8_0, qs);
    const __m256i ones = _mm256_set1_epi16(1), m4 = _mm256_set1_epi8(0x0f), kv = iq4_levels();
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *p = w + (size_t)b * bsz, *y = a + (size_t)b * ybsz + yoff;
        resa_prefetch_span(pf + (size_t)b * 8 * bsz, 8 * bsz); /* see dot.h */
        __m256i isum;
        if (t == RESA_W_Q8_0) { /* sign trick, every group widened: pair sums reach 32512 */
            __m256i v[8];
            transpose8x4(p + offsetof(block_q8_0, qs), ldw, v);
            transpose8x4(p + offsetof(block_q8_0, qs) + 16, ldw, v + 4);
            isum = _mm256_setzero_si256();
#pragma GCC unroll 8
            for (int k = 0; k < 8; k++) {
                const __m256i yk = _mm256_set1_epi32((int)load_u32(y + 4 * k));
                const __m256i prod = _mm256_maddubs_epi16(_mm256_sign_epi8(v[k], v[k]), _mm256_sign_epi8(yk, v[k]));
                isum = _mm256_add_epi32(isum, _mm256_madd_epi16(prod, ones));
            }
        } else if (t == RESA_W_IQ4_NL) { /* signed levels: Q8_0's sign trick, every group widened */
            __m256i v[4];
            transpose8x4(p + offsetof(block_iq4_nl, qs), ldw, v);
            isum = _mm256_setzero_si256();
#pragma GCC unroll 8
            for (int k = 0; k < 8; k++) {
                const __m256i q = _mm256_shuffle_epi8(kv, _mm256_and_si256(k < 4 ? v[k] : _mm256_srli_epi32(v[k - 4], 4), m4));
                const __m256i yk = _mm256_set1_epi32((int)load_u32(y + (k < 4 ? 4 * k : 16 + 4 * (k - 4))));
                const __m256i prod = _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(yk, q));
                isum = _mm256_add_epi32(isum, _mm256_madd_epi16(prod, ones));
            }
        } else { /* nibbles (Q5: and fifth bits) as u8; the int16 pair sums of 8 groups of
                  * 4-bit codes fit (<= 30720), of 5-bit codes 4 (<= 31496): widened per half */
            const int q5 = t == RESA_W_Q5_0 || t == RESA_W_Q5_1;
            __m256i v[4];
            transpose8x4(p + resa_wblock_nibbles(t), ldw, v);
            const __m256i h = q5 ? q5_lane_qh(p + resa_wblock_qh(t), ldw) : _mm256_setzero_si256();
            __m256i ilo = _mm256_setzero_si256(), ihi = _mm256_setzero_si256();
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                __m256i lo = _mm256_and_si256(v[j], m4), hi = _mm256_and_si256(_mm256_srli_epi32(v[j], 4), m4);
                if (q5) { /* element 4j + i's fifth bit is bit 4j + i, element 16 + 4j + i's bit 16 + 4j + i */
                    lo = _mm256_or_si256(lo, q5_lane_bits(h, 4 * j));
                    hi = _mm256_or_si256(hi, q5_lane_bits(h, 16 + 4 * j));
                }
                ilo = _mm256_add_epi16(ilo, _mm256_maddubs_epi16(lo, _mm256_set1_epi32((int)load_u32(y + 4 * j))));
                ihi = _mm256_add_epi16(ihi, _mm256_maddubs_epi16(hi, _mm256_set1_epi32((int)load_u32(y + 16 + 4 * j))));
            }
            isum = q5 ? _mm256_add_epi32(_mm256_madd_epi16(ilo, ones), _mm256_madd_epi16(ihi, ones))
                      : _mm256_madd_epi16(_mm256_add_epi16(ilo, ihi), ones);
            if (t == RESA_W_Q4_0 || t == RESA_W_Q5_0)
                isum = _mm256_add_epi32(isum, _mm256_set1_epi32(bias[b]));
        }
        __m256 dw, m;
        header8(p, ldw, &dw, &m);
        acc = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(da[b])), _mm256_cvtepi32_ps(isum), acc);
        if (has_min)
            accm = _mm256_fmadd_ps(m, _mm256_set1_ps(sa[b]), accm);
    }
    _mm256_storeu_ps(s, has_min ? _mm256_add_ps(acc, accm) : acc);
}

/* Several activation rows: each group of eight weight rows meets every
 * activation row while it is in L1, so memory delivers it once. */
AI void gemv_int8(enum resa_wtype t, int64_t n, int nr, int nc, const uint8_t *w, size_t ldw, const uint8_t *a,
                  size_t lda, float *s, size_t lds, resa_vec_dot_fn dot)
{
    const int64_t nb = n / 32;
    int r = 0;
    if (nb <= GEMV_MAX_BLOCKS && nr >= 8) {
        float da[RESA_GEMV_MAX_COLS][GEMV_MAX_BLOCKS], sa[RESA_GEMV_MAX_COLS][GEMV_MAX_BLOCKS];
        int32_t bias[RESA_GEMV_MAX_COLS][GEMV_MAX_BLOCKS];
        for (int c = 0; c < nc; c++)
            act_tables(t, nb, a + (size_t)c * lda, da[c], sa[c], bias[c]);
        for (; r + 8 <= nr; r += 8)
            for (int c = 0; c < nc; c++)
                gemv8(t, nb, w + (size_t)r * ldw, ldw, a + (size_t)c * lda, da[c], sa[c], bias[c],
                      w + (size_t)(r + 8 * RESA_GEMV_PREFETCH_GROUPS) * ldw, s + (size_t)c * lds + r);
    }
    for (; r < nr; r++)
        for (int c = 0; c < nc; c++)
            dot(n, &s[(size_t)c * lds + r], w + (size_t)r * ldw, a + (size_t)c * lda);
}

/* The gemv of each block type, on gemv_int8 */
#define GEMV_LANES(t, W) \
    decl_gemv_fn(dot_gemv_##t##_avx2) { gemv_int8(W, n, nr, nc, w, ldw, a, lda, s, lds, dot_##t##_avx2); }
GEMV_LANES(q4_0, RESA_W_Q4_0)
GEMV_LANES(q4_1, RESA_W_Q4_1)
GEMV_LANES(q8_0, RESA_W_Q8_0)
GEMV_LANES(q5_0, RESA_W_Q5_0)
GEMV_LANES(q5_1, RESA_W_Q5_1)
GEMV_LANES(iq4_nl, RESA_W_IQ4_NL)

RESA_GEMV_LOOP(dot_gemv_f32_avx2, dot_f32_avx2)
RESA_GEMV_LOOP(dot_gemv_f16_avx2, dot_f16_avx2)
RESA_GEMV_LOOP(dot_gemv_bf16_avx2, dot_bf16_avx2)

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

/* Q8_K: one amax over 256 values (max is exact in any order), then each 32
 * rounds as in quantize_block; d stays a float, and each 16's sum is exact.
 * Same arithmetic as the reference (types.c). */
decl_quantize_fn(dot_quantize_q8_k_avx2)
{
    block_q8_K *b = y;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        __m256 m = _mm256_andnot_ps(sign, _mm256_loadu_ps(x));
        for (int j = 8; j < QK_K; j += 8)
            m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)));
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_movehdup_ps(h));
        const float amax = _mm_cvtss_f32(h);
        const __m256 vid = _mm256_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
        b[i].d = amax / 127.0f;
        for (int j = 0; j < QK_K; j += 32) {
            const __m256i i0 = round_even(_mm256_mul_ps(_mm256_loadu_ps(x + j), vid));
            const __m256i i1 = round_even(_mm256_mul_ps(_mm256_loadu_ps(x + j + 8), vid));
            const __m256i i2 = round_even(_mm256_mul_ps(_mm256_loadu_ps(x + j + 16), vid));
            const __m256i i3 = round_even(_mm256_mul_ps(_mm256_loadu_ps(x + j + 24), vid));
            const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
            _mm256_storeu_si256((__m256i *)(b[i].qs + j),
                                _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
            b[i].bsums[j / 16] = (int16_t)hsum_epi32(_mm256_add_epi32(i0, i1));
            b[i].bsums[j / 16 + 1] = (int16_t)hsum_epi32(_mm256_add_epi32(i2, i3));
        }
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

/* ---- Q5_0 and the super-block types Q4_K, Q6_K ------------------------------------- */

/* dot.h's int8 recipe, four blocks at a time as Q4_0 (values -16..15: the
 * four-product sums, <= 4 * 16 * 127, fit the int16 hadd of sums4_i16). */
static inline __m256i q5_0_block(const block_q5_0 *x)
{
    return _mm256_sub_epi8(_mm256_or_si256(unpack_nibbles(x->qs), q5_high_bits(load_u32(x->qh))), _mm256_set1_epi8(16));
}

decl_vec_dot_fn(dot_q5_0_avx2)
{
    const block_q5_0 *x = w;
    const block_q8_0 *y = a;
    const int64_t nb = n / QK5_0;
    float acc = 0.0f;
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m128 d = scales4(pack4_f16(x[i].d, x[i + 1].d, x[i + 2].d, x[i + 3].d),
                                 pack4_f16(y[i].d, y[i + 1].d, y[i + 2].d, y[i + 3].d));
        const __m128i p = sums4_i16(mul_i8i8(q5_0_block(&x[i]), load_i8(y[i].qs)),
                                    mul_i8i8(q5_0_block(&x[i + 1]), load_i8(y[i + 1].qs)),
                                    mul_i8i8(q5_0_block(&x[i + 2]), load_i8(y[i + 2].qs)),
                                    mul_i8i8(q5_0_block(&x[i + 3]), load_i8(y[i + 3].qs)));
        acc = chain4(acc, d, p);
    }
    for (; i < nb; i++)
        acc = chain1(acc, x[i].d, y[i].d, dot_i8i8(q5_0_block(&x[i]), load_i8(y[i].qs)));
    *s = acc;
}

/* Q4_K/Q5_K: the eight scales as int16 in both lanes, and the mins' exact
 * sum against the activation's sums of 16 (each min covers two), decoded
 * as words into vectors: per-value stores followed by a vector load would
 * stall store forwarding. */
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

/* int16 word k of v (in both lanes) in every word */
static inline __m256i word_bcast(__m256i v, int k)
{
    return _mm256_shuffle_epi8(v, _mm256_set1_epi16((short)(2 * k | (2 * k + 1) << 8)));
}

/* The int16 scales of sub-blocks g (low lane) and g + 1 (high lane), for
 * g = 0, 2, 4, ... in turn (one ymm of codes spans two sub-blocks of 16):
 * the 16 int8 scales in both lanes of scv, a byte shuffle into each word's
 * high byte and an arithmetic shift (sign extension); the shuffle's
 * indices move by two per call. */
static inline __m256i k16_pick(void)
{
    return _mm256_setr_epi8(-128, 0, -128, 0, -128, 0, -128, 0, -128, 0, -128, 0, -128, 0, -128, 0, -128, 1, -128, 1,
                            -128, 1, -128, 1, -128, 1, -128, 1, -128, 1, -128, 1);
}

static inline __m256i k16_scales(__m256i scv, __m256i *pick)
{
    const __m256i s = _mm256_srai_epi16(_mm256_shuffle_epi8(scv, *pick), 8);
    *pick = _mm256_add_epi16(*pick, _mm256_set1_epi16(2 << 8));
    return s;
}

/* dot.h's super-block recipe. The nibbles are unsigned (vpmaddubsw pair
 * sums <= 2 * 15 * 127), a sub-block's scale multiplies them in vpmaddwd
 * (exact int32), the mins meet the activation's sums of 16. */
decl_vec_dot_fn(dot_q4_k_avx2)
{
    const block_q4_K *x = w;
    const block_q8_K *y = a;
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    float acc = 0.0f, accm = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int32_t msum;
        const __m256i scv = q45_k_setup(x[b].scales, &y[b], &msum);
        __m256i isum = _mm256_setzero_si256();
        for (int g = 0; g < 4; g++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * g));
            const __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            const __m256i plo = _mm256_maddubs_epi16(lo, load_i8(y[b].qs + 64 * g));
            const __m256i phi = _mm256_maddubs_epi16(hi, load_i8(y[b].qs + 64 * g + 32));
            isum = _mm256_add_epi32(isum, _mm256_madd_epi16(plo, word_bcast(scv, 2 * g)));
            isum = _mm256_add_epi32(isum, _mm256_madd_epi16(phi, word_bcast(scv, 2 * g + 1)));
        }
        acc = fmaf(_cvtsh_ss(x[b].d) * y[b].d, (float)hsum_epi32(isum), acc);
        accm = fmaf(_cvtsh_ss(x[b].dmin) * y[b].d, (float)msum, accm);
    }
    *s = acc - accm;
}

/* Q6_K: the six-bit codes q are unsigned (pair sums <= 2 * 63 * 127); the
 * recipe's q - 32 is taken out exactly afterwards with the activation's
 * sums of 16: sum sc * (q - 32) * y = sum sc * q * y - 32 * sum sc * bsum.
 * One ymm of codes spans two sub-blocks of 16, so the scale vector is two
 * halves. */
decl_vec_dot_fn(dot_q6_k_avx2)
{
    const block_q6_K *x = w;
    const block_q8_K *y = a;
    const __m256i m4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);
    float acc = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        const __m256i scv = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)x[b].scales));
        __m256i pick = k16_pick();
        __m256i isum = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = x[b].ql + 64 * h;
            const int8_t *yq = y[b].qs + 128 * h;
            const __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
            const __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            const __m256i hb = _mm256_loadu_si256((const __m256i *)(x[b].qh + 32 * h));
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 4), m30));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 2), m30));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hb, m30));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                   _mm256_and_si256(_mm256_srli_epi16(hb, 2), m30));
            for (int k = 0; k < 4; k++) {
                const __m256i p = _mm256_maddubs_epi16(q[k], load_i8(yq + 32 * k));
                isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, k16_scales(scv, &pick)));
            }
        }
        int32_t off = 0;
        for (int g = 0; g < QK_K / 16; g++)
            off += x[b].scales[g] * y[b].bsums[g];
        acc = fmaf(_cvtsh_ss(x[b].d) * y[b].d, (float)(hsum_epi32(isum) - 32 * off), acc);
    }
    *s = acc; /* the recipe's acc - accm with accm = 0 */
}

/* ---- Q5_K, Q3_K, Q2_K, IQ4_XS (super-blocks) and Q5_1, IQ4_NL (blocks of 32) ---------
 *
 * The same recipes; only the unpacking differs. Every weight code here fits
 * vpmaddubsw without saturating: unsigned codes (Q5_K <= 31, Q3_K + 4 <= 7,
 * Q2_K <= 3) meet the activation directly, the IQ4 levels (|q| <= 127) take
 * the sign trick (pair sums <= 2 * 127 * 127). */

/* sum over the 16 sub-blocks of w[g] * bsums[g] (w as 16 int16), exact */
static inline int32_t bsums_dot(__m256i w16, const int16_t *bsums)
{
    return hsum_epi32(_mm256_madd_epi16(w16, _mm256_loadu_si256((const __m256i *)bsums)));
}

/* Q5_K: Q4_K's nibbles and scales; bit 2g of qh[l] tops element 64g + l and
 * bit 2g + 1 element 64g + 32 + l, so qh shifts right by two per group. */
decl_vec_dot_fn(dot_q5_k_avx2)
{
    const block_q5_K *x = w;
    const block_q8_K *y = a;
    const __m256i m4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    float acc = 0.0f, accm = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int32_t msum;
        const __m256i scv = q45_k_setup(x[b].scales, &y[b], &msum);
        __m256i hb = _mm256_loadu_si256((const __m256i *)x[b].qh);
        __m256i isum = _mm256_setzero_si256();
        for (int g = 0; g < 4; g++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * g));
            /* 16-bit shifts: a byte's bits 0 and 1 are its own until shifted by 8 */
            const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(hb, one), 4);
            const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 1), one), 4);
            hb = _mm256_srli_epi16(hb, 2);
            const __m256i lo = _mm256_or_si256(_mm256_and_si256(q, m4), h0);
            const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), h1);
            const __m256i plo = _mm256_maddubs_epi16(lo, load_i8(y[b].qs + 64 * g));
            const __m256i phi = _mm256_maddubs_epi16(hi, load_i8(y[b].qs + 64 * g + 32));
            isum = _mm256_add_epi32(isum, _mm256_madd_epi16(plo, word_bcast(scv, 2 * g)));
            isum = _mm256_add_epi32(isum, _mm256_madd_epi16(phi, word_bcast(scv, 2 * g + 1)));
        }
        acc = fmaf(_cvtsh_ss(x[b].d) * y[b].d, (float)hsum_epi32(isum), acc);
        accm = fmaf(_cvtsh_ss(x[b].dmin) * y[b].d, (float)msum, accm);
    }
    *s = acc - accm;
}

/* Q3_K: the code is u - 4 with u = the two low bits + 4 * the hmask bit
 * (0..7, unsigned); the -4 comes out exactly afterwards with the
 * activation's sums of 16, as Q6_K's -32 does. Element 128h + 32j + l:
 * bits 2j of qs[32h + l], hmask bit 4h + j of hmask[l]. */
decl_vec_dot_fn(dot_q3_k_avx2)
{
    const block_q3_K *x = w;
    const block_q8_K *y = a;
    const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    float acc = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        uint32_t o[4];
        kscales_q3_k_words(x[b].scales, o);
        const __m128i sc8 = _mm_sub_epi8(_mm_setr_epi32((int)o[0], (int)o[1], (int)o[2], (int)o[3]), _mm_set1_epi8(32));
        const int32_t off = bsums_dot(_mm256_cvtepi8_epi16(sc8), y[b].bsums);
        const __m256i scv = _mm256_broadcastsi128_si256(sc8);
        __m256i pick = k16_pick();
        __m256i hm = _mm256_loadu_si256((const __m256i *)x[b].hmask);
        __m256i isum = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * h));
            for (int j = 0; j < 4; j++) {
                const __m256i u = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 2 * j), m3),
                                                  _mm256_slli_epi16(_mm256_and_si256(hm, one), 2));
                hm = _mm256_srli_epi16(hm, 1);
                const __m256i p = _mm256_maddubs_epi16(u, load_i8(y[b].qs + 128 * h + 32 * j));
                isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, k16_scales(scv, &pick)));
            }
        }
        acc = fmaf(_cvtsh_ss(x[b].d) * y[b].d, (float)(hsum_epi32(isum) - 4 * off), acc);
    }
    *s = acc; /* the recipe's acc - accm with accm = 0 */
}

/* Q2_K: two-bit codes in Q3_K's order, a four-bit scale and min per 16
 * (scales[g] = sc | m << 4). */
decl_vec_dot_fn(dot_q2_k_avx2)
{
    const block_q2_K *x = w;
    const block_q8_K *y = a;
    const __m256i m3 = _mm256_set1_epi8(3);
    float acc = 0.0f, accm = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        const __m128i s8 = _mm_loadu_si128((const __m128i *)x[b].scales);
        const __m128i m8 = _mm_and_si128(_mm_srli_epi16(s8, 4), _mm_set1_epi8(0x0f));
        const __m256i scv = _mm256_broadcastsi128_si256(_mm_and_si128(s8, _mm_set1_epi8(0x0f)));
        __m256i pick = k16_pick();
        const int32_t msum = bsums_dot(_mm256_cvtepu8_epi16(m8), y[b].bsums);
        __m256i isum = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * h));
            for (int j = 0; j < 4; j++) {
                const __m256i u = _mm256_and_si256(_mm256_srli_epi16(q, 2 * j), m3);
                const __m256i p = _mm256_maddubs_epi16(u, load_i8(y[b].qs + 128 * h + 32 * j));
                isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, k16_scales(scv, &pick)));
            }
        }
        acc = fmaf(_cvtsh_ss(x[b].d) * y[b].d, (float)hsum_epi32(isum), acc);
        accm = fmaf(_cvtsh_ss(x[b].dmin) * y[b].d, (float)msum, accm);
    }
    *s = acc - accm;
}


/* IQ4_XS: 8 sub-blocks of 32, each 16 bytes of nibbles in IQ4_NL's order
 * (low nibbles the first 16 values) mapped through the level table. */
decl_vec_dot_fn(dot_iq4_xs_avx2)
{
    const block_iq4_xs *x = w;
    const block_q8_K *y = a;
    const __m256i kv = iq4_levels();
    float acc = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        const __m128i sc8 = _mm_sub_epi8(_mm_cvtsi64_si128((long long)kscales_iq4_xs_bytes(x[b].scales_h, x[b].scales_l)),
                                         _mm_set1_epi8(32));
        const __m256i scv = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(sc8));
        __m256i isum = _mm256_setzero_si256();
        for (int ib = 0; ib < 8; ib++) {
            const __m256i q = _mm256_shuffle_epi8(kv, unpack_nibbles(x[b].qs + 16 * ib));
            const __m256i p = mul_i8i8(q, load_i8(y[b].qs + 32 * ib));
            isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, word_bcast(scv, ib)));
        }
        acc = fmaf(_cvtsh_ss(x[b].d) * y[b].d, (float)hsum_epi32(isum), acc);
    }
    *s = acc; /* the recipe's acc - accm with accm = 0 */
}

/* Q5_1: Q4_1's loop (adjacent fp16 pairs (d, m) and (d, s)) over five-bit
 * unsigned codes; their four-product sums (<= 4 * 31 * 127) still fit the
 * int16 hadd of sums4_i16. */
static inline __m256i q5_1_block(const block_q5_1 *x)
{
    return _mm256_or_si256(unpack_nibbles(x->qs), q5_high_bits(load_u32(x->qh)));
}

decl_vec_dot_fn(dot_q5_1_avx2)
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
        const __m128i p = sums4_i16(mul_u8i8(q5_1_block(&x[i]), load_i8(y[i].qs)),
                                    mul_u8i8(q5_1_block(&x[i + 1]), load_i8(y[i + 1].qs)),
                                    mul_u8i8(q5_1_block(&x[i + 2]), load_i8(y[i + 2].qs)),
                                    mul_u8i8(q5_1_block(&x[i + 3]), load_i8(y[i + 3].qs)));
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
        acc = chain1(acc, x[i].d, y[i].d, dot_u8i8(q5_1_block(&x[i]), load_i8(y[i].qs)));
        accm = fmaf(_cvtsh_ss(x[i].m), _cvtsh_ss(y[i].s), accm);
    }
    *s = acc + accm;
}

/* IQ4_NL: Q8_0's loop over the looked-up levels (pair sums reach 32258, so
 * every group is widened: sums4, not sums4_i16). */
decl_vec_dot_fn(dot_iq4_nl_avx2)
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

RESA_GEMV_LOOP(dot_gemv_iq4_xs_avx2, dot_iq4_xs_avx2)
RESA_GEMM_LOOP(dot_gemm_iq4_xs_avx2, dot_iq4_xs_avx2)

/* Super-block types against several activation rows: kquant_rows_avx2.h */
#define KQ_AVX2(t) KQ_ROWS_GEMM(t, dot_gemm_##t##_avx2) KQ_ROWS_GEMV(t, dot_gemv_##t##_avx2, dot_##t##_avx2)
KQ_TYPES(KQ_AVX2)

#else
typedef int resa_dot_avx2_unused; /* ISO C forbids an empty translation unit */
#endif
