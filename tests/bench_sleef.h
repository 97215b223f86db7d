/* SPDX-License-Identifier: MIT */
/* SLEEF's u10 vector expf over an array: the yardstick of checksimd_elem
 * --bench=exp (docs/design.md §4). Only that test program links SLEEF; the
 * library's exp is its own (simd/x86/elem_avx2.c). One file per ISA, built
 * with that ISA's flags, only when configure found SLEEF. */
#ifndef RESA_TESTS_BENCH_SLEEF_H
#define RESA_TESTS_BENCH_SLEEF_H

void bench_exp_sleef_avx2(float *y, const float *x, int n);
void bench_exp_sleef_avx512(float *y, const float *x, int n);

#endif
