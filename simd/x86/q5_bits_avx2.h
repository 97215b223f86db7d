/* SPDX-License-Identifier: MIT */
/* A Q5 block's 32 high bits as 32 bytes on AVX2: 0x10 where the bit is set,
 * in element order; shared by the AVX2 and AVX-512 kernels (include only
 * from files built with AVX2 or wider flags). */
#ifndef RESA_SIMD_Q5_BITS_AVX2_H
#define RESA_SIMD_Q5_BITS_AVX2_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline __m256i q5_high_bits(uint32_t qh)
{
    const __m256i spread = _mm256_shuffle_epi8(
        _mm256_set1_epi32((int)qh), _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
    const __m256i bit = _mm256_set1_epi64x(0x8040201008040201);
    const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
    return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

/* The same for eight rows side by side: from their 32 fifth bits (lane r =
 * row r's qh word), for elements sh .. sh + 3, 0x10 in byte i of lane r
 * where bit sh + i is set (the gemv's transposed layout: a lane holds four
 * consecutive elements of one row). */
static inline __m256i q5_lane_bits(__m256i qh, int sh)
{
    const __m256i low = _mm256_srl_epi32(qh, _mm_cvtsi32_si128(sh));
    const __m256i spread = _mm256_shuffle_epi8(low, _mm256_setr_epi8(0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12,
                                                                     0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12));
    const __m256i bit = _mm256_set1_epi32(0x08040201);
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(0x10));
}

/* The qh words of eight rows' blocks at p + r * ldw, lane r = row r
 * (inserted one by one: a vector load of eight just-stored words would
 * stall store forwarding) */
static inline int q5_word(const uint8_t *p)
{
    uint32_t w;
    memcpy(&w, p, sizeof w);
    return (int)w;
}

static inline __m256i q5_lane_qh(const uint8_t *p, size_t ldw)
{
    return _mm256_setr_epi32(q5_word(p), q5_word(p + ldw), q5_word(p + 2 * ldw), q5_word(p + 3 * ldw),
                             q5_word(p + 4 * ldw), q5_word(p + 5 * ldw), q5_word(p + 6 * ldw), q5_word(p + 7 * ldw));
}

#endif
