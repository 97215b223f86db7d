/* SPDX-License-Identifier: MIT */
/* SLEEF's expf8_u10 over an array (tests/bench_sleef.h); -mavx2 -mfma. */
#include <immintrin.h>
#include <sleef.h>

#include "bench_sleef.h"

void bench_exp_sleef_avx2(float *y, const float *x, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, Sleef_expf8_u10avx2(_mm256_loadu_ps(x + i)));
    if (i < n) {
        const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(n - i), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        _mm256_maskstore_ps(y + i, m, Sleef_expf8_u10avx2(_mm256_maskload_ps(x + i, m)));
    }
}
