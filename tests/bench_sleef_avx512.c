/* SPDX-License-Identifier: MIT */
/* SLEEF's expf16_u10 over an array (tests/bench_sleef.h); AVX-512 flags. */
#include <immintrin.h>
#include <sleef.h>

#include "bench_sleef.h"

void bench_exp_sleef_avx512(float *y, const float *x, int n)
{
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, Sleef_expf16_u10avx512f(_mm512_loadu_ps(x + i)));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, Sleef_expf16_u10avx512f(_mm512_maskz_loadu_ps(m, x + i)));
    }
}
