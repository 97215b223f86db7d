/* SPDX-License-Identifier: MIT */
/* Super-block (K-quant) products against several activation rows at once:
 * the gemm tiles of prefill and rectification, and the gemv of batched
 * decode. A vec_dot unpacks a weight super-block (codes, scales, mins) for
 * one activation row and throws the work away; here each super-block of a
 * weight row is unpacked once into registers (kq_block) and then meets
 * every activation row, so the unpacking is paid once per tile column set
 * instead of once per (row, column) pair. The codes (kq_codes_*) and the
 * scales as plain integers (kq_scalars_*) also feed the VNNI tier's panel
 * gemm (dot_avx512.c), which broadcasts them instead.
 *
 * Numerics: dot.h's super-block recipe, the integer sums grouped as
 * dot_avx2.c's vec_dots group them (vpmaddubsw pair sums of unsigned codes
 * and int8 activations, vpmaddwd by the int16 scale of each 16 or 32),
 * exact in int32, then one fmaf per super-block per chain in block order:
 * every result is bit-identical to the tier's vec_dot (checksimd checks
 * it, for gemm and gemv).
 *
 * Shared by the AVX2 and AVX-512 files (include only from files built with
 * AVX2 and F16C or wider flags). */
#ifndef RESA_SIMD_KQUANT_ROWS_AVX2_H
#define RESA_SIMD_KQUANT_ROWS_AVX2_H

#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include "dot.h"
#include "kscales.h"

/* One weight super-block, unpacked: value i = d * sc(i) * q[i] - (mins),
 * q[k] holding elements 32k .. 32k + 31 as unsigned bytes (<= 63, so
 * vpmaddubsw pair sums stay below 2 * 63 * 127), sc[k] their int16 scales
 * (low lane's words: elements 32k .. 32k + 15, high lane's: the next 16).
 * The mins or code offsets meet the activation's sums of 16 through mw
 * (16 int16 weights): with `fold`, isum -= <mw, bsums> (Q3_K's -4 and
 * Q6_K's -32 offsets, scaled); without, a second chain with dmin (Q2_K,
 * Q4_K, Q5_K's mins). */
typedef struct kq_block {
    __m256i q[8];
    __m256i sc[8];
    __m256i mw;
    float d, dmin;
} kq_block;

static inline int32_t kq_hsum(__m256i v)
{
    __m128i x = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, _MM_SHUFFLE(1, 0, 3, 2)));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(x);
}

/* Scales of 32 (Q4_K, Q5_K): word k of s16 (the eight scales in both lanes) in every word */
static inline __m256i kq_scale32(__m256i s16, int k)
{
    return _mm256_shuffle_epi8(s16, _mm256_set1_epi16((short)(2 * k | (2 * k + 1) << 8)));
}

/* Scales of 16 (Q2_K, Q3_K, Q6_K): byte 2k of s8 (16 int8 scales in both
 * lanes), sign-extended, in the low lane's words, byte 2k + 1 in the high
 * lane's (a shuffle into each word's high byte, an arithmetic shift). */
static inline __m256i kq_scale16(__m256i s8, int k)
{
    const __m256i pick = _mm256_set_m128i(_mm_set1_epi16((short)((2 * k + 1) << 8 | 0x80)),
                                          _mm_set1_epi16((short)(2 * k << 8 | 0x80)));
    return _mm256_srai_epi16(_mm256_shuffle_epi8(s8, pick), 8);
}

/* Q4_K and Q5_K share scales and mins (six bits per 32) */
static inline void kq_scales_q45(const uint8_t *scales, kq_block *u)
{
    uint32_t b[4];
    kscales_q4_k_bytes(scales, b);
    const __m128i sc8 = _mm_cvtsi64_si128((long long)(b[0] | (uint64_t)b[1] << 32));
    const __m128i m8 = _mm_cvtsi64_si128((long long)(b[2] | (uint64_t)b[3] << 32));
    const __m256i s16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sc8));
    for (int k = 0; k < 8; k++)
        u->sc[k] = kq_scale32(s16, k);
    u->mw = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8)); /* min j covers sums 2j and 2j + 1 */
}

/* Q4_K: qs[32g + l] holds element 64g + l (low nibble) and 64g + 32 + l (high) */
static inline void kq_codes_q4_k(const void *blk, __m256i q[8])
{
    const block_q4_K *x = blk;
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    for (int g = 0; g < 4; g++) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * g));
        q[2 * g] = _mm256_and_si256(v, m4);
        q[2 * g + 1] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
    }
}

static inline void kq_unpack_q4_k(const void *blk, kq_block *u)
{
    const block_q4_K *x = blk;
    kq_scales_q45(x->scales, u);
    kq_codes_q4_k(blk, u->q);
    u->d = _cvtsh_ss(x->d);
    u->dmin = _cvtsh_ss(x->dmin);
}

/* Q5_K: Q4_K plus bit 2g of qh[l] on element 64g + l, bit 2g + 1 on 64g + 32 + l */
static inline void kq_codes_q5_k(const void *blk, __m256i q[8])
{
    const block_q5_K *x = blk;
    const __m256i m4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    __m256i hb = _mm256_loadu_si256((const __m256i *)x->qh);
    for (int g = 0; g < 4; g++) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * g));
        /* 16-bit shifts: a byte's bits 0 and 1 are its own until shifted by 8 */
        const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(hb, one), 4);
        const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 1), one), 4);
        hb = _mm256_srli_epi16(hb, 2);
        q[2 * g] = _mm256_or_si256(_mm256_and_si256(v, m4), h0);
        q[2 * g + 1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), m4), h1);
    }
}

static inline void kq_unpack_q5_k(const void *blk, kq_block *u)
{
    const block_q5_K *x = blk;
    kq_scales_q45(x->scales, u);
    kq_codes_q5_k(blk, u->q);
    u->d = _cvtsh_ss(x->d);
    u->dmin = _cvtsh_ss(x->dmin);
}

/* Q6_K: unsigned six-bit codes, the -32 folded: element 128h + 32k + l from
 * ql[64h + 32(k & 1) + l] (low nibble for k < 2, high after) and bits 2k of
 * qh[32h + l] */
static inline void kq_codes_q6_k(const void *blk, __m256i q[8])
{
    const block_q6_K *x = blk;
    const __m256i m4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);
    for (int h = 0; h < 2; h++) {
        const __m256i l0 = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * h));
        const __m256i l1 = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * h + 32));
        const __m256i hb = _mm256_loadu_si256((const __m256i *)(x->qh + 32 * h));
        __m256i *o = &q[4 * h];
        o[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 4), m30));
        o[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 2), m30));
        o[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hb, m30));
        o[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                               _mm256_and_si256(_mm256_srli_epi16(hb, 2), m30));
    }
}

static inline void kq_unpack_q6_k(const void *blk, kq_block *u)
{
    const block_q6_K *x = blk;
    const __m128i sc8 = _mm_loadu_si128((const __m128i *)x->scales);
    const __m256i s8 = _mm256_broadcastsi128_si256(sc8);
    kq_codes_q6_k(blk, u->q);
    for (int k = 0; k < 8; k++)
        u->sc[k] = kq_scale16(s8, k);
    u->mw = _mm256_slli_epi16(_mm256_cvtepi8_epi16(sc8), 5); /* 32 * sc */
    u->d = _cvtsh_ss(x->d);
    u->dmin = 0.0f;
}

/* Q3_K: u = the two low bits + 4 * the hmask bit (0..7), the -4 folded:
 * element 128h + 32j + l from bits 2j of qs[32h + l] and bit 4h + j of
 * hmask[l] */
static inline void kq_codes_q3_k(const void *blk, __m256i q[8])
{
    const block_q3_K *x = blk;
    const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    __m256i hm = _mm256_loadu_si256((const __m256i *)x->hmask);
    for (int h = 0; h < 2; h++) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * h));
        for (int j = 0; j < 4; j++) {
            q[4 * h + j] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 2 * j), m3),
                                           _mm256_slli_epi16(_mm256_and_si256(hm, one), 2));
            hm = _mm256_srli_epi16(hm, 1);
        }
    }
}

/* Q3_K's 16 scales (minus 32) as int8 */
static inline __m128i kq_scales8_q3_k(const uint8_t *scales)
{
    uint32_t o[4];
    kscales_q3_k_words(scales, o);
    return _mm_sub_epi8(_mm_setr_epi32((int)o[0], (int)o[1], (int)o[2], (int)o[3]), _mm_set1_epi8(32));
}

static inline void kq_unpack_q3_k(const void *blk, kq_block *u)
{
    const block_q3_K *x = blk;
    const __m128i sc8 = kq_scales8_q3_k(x->scales);
    const __m256i s8 = _mm256_broadcastsi128_si256(sc8);
    kq_codes_q3_k(blk, u->q);
    for (int k = 0; k < 8; k++)
        u->sc[k] = kq_scale16(s8, k);
    u->mw = _mm256_slli_epi16(_mm256_cvtepi8_epi16(sc8), 2); /* 4 * sc */
    u->d = _cvtsh_ss(x->d);
    u->dmin = 0.0f;
}

/* Q2_K: two-bit codes in Q3_K's order; scales[g] = sc | m << 4 per 16 */
static inline void kq_codes_q2_k(const void *blk, __m256i q[8])
{
    const block_q2_K *x = blk;
    const __m256i m3 = _mm256_set1_epi8(3);
    for (int h = 0; h < 2; h++) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * h));
        for (int j = 0; j < 4; j++)
            q[4 * h + j] = _mm256_and_si256(_mm256_srli_epi16(v, 2 * j), m3);
    }
}

static inline void kq_unpack_q2_k(const void *blk, kq_block *u)
{
    const block_q2_K *x = blk;
    const __m128i s = _mm_loadu_si128((const __m128i *)x->scales);
    const __m256i s8 = _mm256_broadcastsi128_si256(_mm_and_si128(s, _mm_set1_epi8(0x0f)));
    kq_codes_q2_k(blk, u->q);
    for (int k = 0; k < 8; k++)
        u->sc[k] = kq_scale16(s8, k);
    u->mw = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(s, 4), _mm_set1_epi8(0x0f)));
    u->d = _cvtsh_ss(x->d);
    u->dmin = _cvtsh_ss(x->dmin);
}

/* The same super-block's scales as integers, for kernels that broadcast
 * them: sc[g] the scale of elements 16g .. 16g + 15, mw[j] the weights of
 * the activation's sums of 16 2j and 2j + 1 as an int16 pair (low word
 * 2j), d and dmin as in kq_block. */
typedef struct kq_scalars {
    int32_t sc[16];
    int32_t mw[8];
    float d, dmin;
} kq_scalars;

static inline int32_t kq_pair(int a, int b)
{
    return (int32_t)((uint32_t)(uint16_t)a | (uint32_t)(uint16_t)b << 16);
}

static inline void kq_scalars_q45(const uint8_t *scales, kq_scalars *k)
{
    int16_t sc[8], m[8];
    kscales_q4_k(scales, sc, m);
    for (int j = 0; j < 8; j++) {
        k->sc[2 * j] = k->sc[2 * j + 1] = sc[j];
        k->mw[j] = kq_pair(m[j], m[j]); /* min j covers sums 2j and 2j + 1 */
    }
}

static inline void kq_scalars_q4_k(const void *blk, kq_scalars *k)
{
    const block_q4_K *x = blk;
    kq_scalars_q45(x->scales, k);
    k->d = _cvtsh_ss(x->d);
    k->dmin = _cvtsh_ss(x->dmin);
}

static inline void kq_scalars_q5_k(const void *blk, kq_scalars *k)
{
    const block_q5_K *x = blk;
    kq_scalars_q45(x->scales, k);
    k->d = _cvtsh_ss(x->d);
    k->dmin = _cvtsh_ss(x->dmin);
}

/* Q3_K and Q6_K: signed scales per 16, the code offset (4, 32) folded */
static inline void kq_scalars_folded(const int8_t *sc, int offset, kq_scalars *k)
{
    for (int g = 0; g < 16; g++)
        k->sc[g] = sc[g];
    for (int j = 0; j < 8; j++)
        k->mw[j] = kq_pair(offset * sc[2 * j], offset * sc[2 * j + 1]);
    k->dmin = 0.0f;
}

static inline void kq_scalars_q6_k(const void *blk, kq_scalars *k)
{
    const block_q6_K *x = blk;
    kq_scalars_folded(x->scales, 32, k);
    k->d = _cvtsh_ss(x->d);
}

static inline void kq_scalars_q3_k(const void *blk, kq_scalars *k)
{
    const block_q3_K *x = blk;
    int8_t sc[16];
    kscales_q3_k(x->scales, sc);
    kq_scalars_folded(sc, 4, k);
    k->d = _cvtsh_ss(x->d);
}

static inline void kq_scalars_q2_k(const void *blk, kq_scalars *k)
{
    const block_q2_K *x = blk;
    for (int g = 0; g < 16; g++)
        k->sc[g] = x->scales[g] & 15;
    for (int j = 0; j < 8; j++)
        k->mw[j] = kq_pair(x->scales[2 * j] >> 4, x->scales[2 * j + 1] >> 4);
    k->d = _cvtsh_ss(x->d);
    k->dmin = _cvtsh_ss(x->dmin);
}

/* The exact integer sums of one super-block against one activation block */
static inline int32_t kq_isum(const kq_block *u, const block_q8_K *y)
{
    __m256i isum = _mm256_setzero_si256();
    for (int k = 0; k < 8; k++) {
        const __m256i p = _mm256_maddubs_epi16(u->q[k], _mm256_loadu_si256((const __m256i *)(y->qs + 32 * k)));
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, u->sc[k]));
    }
    return kq_hsum(isum);
}

static inline int32_t kq_msum(const kq_block *u, const block_q8_K *y)
{
    return kq_hsum(_mm256_madd_epi16(u->mw, _mm256_loadu_si256((const __m256i *)y->bsums)));
}

#define KQ_MAX_COLS (RESA_GEMM_NC > RESA_GEMV_MAX_COLS ? RESA_GEMM_NC : RESA_GEMV_MAX_COLS)

/* s[c * lds + r] = dot(weight row r, activation row c), r < nr, c < nc <=
 * KQ_MAX_COLS: per weight row, each super-block unpacked once and met by
 * every column; per column the recipe's chain (acc - accm, or acc alone
 * where the offsets fold into the integer sum). */
static inline __attribute__((always_inline)) void kq_rows(void (*unpack)(const void *, kq_block *), int fold,
                                                          size_t bbytes, int64_t n, int nr, int nc, const void *w,
                                                          size_t ldw, const void *a, size_t lda, float *s, size_t lds)
{
    const int64_t nb = n / QK_K;
    for (int r = 0; r < nr; r++) {
        const char *wr = (const char *)w + (size_t)r * ldw;
        float acc[KQ_MAX_COLS], accm[KQ_MAX_COLS];
        for (int c = 0; c < nc; c++)
            acc[c] = accm[c] = 0.0f;
        for (int64_t b = 0; b < nb; b++) {
            kq_block u;
            unpack(wr + (size_t)b * bbytes, &u);
            for (int c = 0; c < nc; c++) {
                const block_q8_K *y = (const block_q8_K *)((const char *)a + (size_t)c * lda) + b;
                const int32_t isum = kq_isum(&u, y), msum = kq_msum(&u, y);
                if (fold) {
                    acc[c] = fmaf(u.d * y->d, (float)(isum - msum), acc[c]);
                } else {
                    acc[c] = fmaf(u.d * y->d, (float)isum, acc[c]);
                    accm[c] = fmaf(u.dmin * y->d, (float)msum, accm[c]);
                }
            }
        }
        for (int c = 0; c < nc; c++)
            s[(size_t)c * lds + r] = fold ? acc[c] : acc[c] - accm[c];
    }
}

/* Each super-block type's block and whether its offsets fold into the
 * integer sum (Q3_K's -4, Q6_K's -32) or keep a chain of their own (mins) */
#define KQ_BLOCK_q2_k block_q2_K
#define KQ_BLOCK_q3_k block_q3_K
#define KQ_BLOCK_q4_k block_q4_K
#define KQ_BLOCK_q5_k block_q5_K
#define KQ_BLOCK_q6_k block_q6_K
#define KQ_FOLD_q2_k 0
#define KQ_FOLD_q3_k 1
#define KQ_FOLD_q4_k 0
#define KQ_FOLD_q5_k 0
#define KQ_FOLD_q6_k 1
/* X(type) for every type these kernels serve */
#define KQ_TYPES(X) X(q2_k) X(q3_k) X(q4_k) X(q5_k) X(q6_k)

/* The gemm (activation rows lda apart, not panels) and the gemv of one
 * super-block type; a single activation row keeps the tier's vec_dot,
 * which has nothing to share. */
#define KQ_ROWS(type) kq_unpack_##type, KQ_FOLD_##type, sizeof(KQ_BLOCK_##type)
#define KQ_ROWS_GEMM(type, name)                                                    \
    decl_gemm_fn(name)                                                              \
    {                                                                               \
        kq_rows(KQ_ROWS(type), n, nr, nc, w, ldw, a, lda, s, lds);                  \
    }
#define KQ_ROWS_GEMV(type, name, vec_dot)                                           \
    decl_gemv_fn(name)                                                              \
    {                                                                               \
        if (nc == 1) {                                                              \
            for (int r = 0; r < nr; r++)                                            \
                vec_dot(n, &s[r], (const char *)w + (size_t)r * ldw, a);           \
            return;                                                                 \
        }                                                                           \
        kq_rows(KQ_ROWS(type), n, nr, nc, w, ldw, a, lda, s, lds);                  \
    }

#endif
