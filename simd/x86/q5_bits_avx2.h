/* SPDX-License-Identifier: MIT */
/* A Q5 block's 32 high bits as 32 bytes on AVX2: 0x10 where the bit is set,
 * in element order; shared by the AVX2 and AVX-512 kernels (include only
 * from files built with AVX2 or wider flags). */
#ifndef RESA_SIMD_Q5_BITS_AVX2_H
#define RESA_SIMD_Q5_BITS_AVX2_H

#include <immintrin.h>
#include <stdint.h>

static inline __m256i q5_high_bits(uint32_t qh)
{
    const __m256i spread = _mm256_shuffle_epi8(
        _mm256_set1_epi32((int)qh), _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
    const __m256i bit = _mm256_set1_epi64x(0x8040201008040201);
    const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
    return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

#endif
