/* SPDX-License-Identifier: MIT */
/* CPU weight products: y (n, rows) = x (n, cols) . W^T.
 *
 * The activations are quantized to the weight type's dot partner (as
 * llama.cpp does, so our numerics match the reference). Decode (n up to
 * RESA_GEMV_MAX_COLS rows: one sequence, or a few decoded together):
 * threads take slices of W's rows and the gemv kernel runs eight rows at a
 * time against every quantized row, each weight read once. Prefill: the quantized rows
 * are packed once into panels of eight tokens; threads take chunks of W's
 * rows small enough to stay in L1, and the gemm kernel runs tiles of 4 rows
 * x 16 tokens over every pair of panels, so W is read once and each tile
 * keeps its operands in registers. Every result is bit-identical to the dot
 * kernel's (simd/dot.h), so prefill and decode, and every SIMD tier, agree
 * exactly. (Measured: this beats dequantize-to-f32 + OpenBLAS sgemm on this
 * project's machines, and Debian's OpenBLAS 0.3.21 falls back to SSE3
 * kernels on CPUs it does not know.) */
#ifndef RESA_MATMUL_H
#define RESA_MATMUL_H

#include <stddef.h>

#include "model.h"
#include "threads.h"

typedef struct resa_matmul_scratch {
    void *act;          /* the quantized row (decode) or the panels (prefill) */
    size_t act_cap;
    void *rows;         /* prefill: each thread's quantized rows of one panel */
    size_t rows_cap;
} resa_matmul_scratch;

resa_status matmul_cpu(resa_matmul_scratch *s, resa_team *team, const resa_weight *w, const float *x,
                       int n, float *y);
/* y[i] = x . W[i]^T for k (1..MATMUL_MAX_WEIGHTS) weights on the same input,
 * each result the one matmul_cpu gives; decode runs them as one loop. */
#define MATMUL_MAX_WEIGHTS 3
resa_status matmul_cpu_many(resa_matmul_scratch *s, resa_team *team, int k, const resa_weight *const *w,
                            const float *x, int n, float *const *y);
void matmul_scratch_free(resa_matmul_scratch *s);

#endif
