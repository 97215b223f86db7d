/* CPU weight products: y (n, rows) = x (n, cols) . W^T.
 *
 * The activations are quantized to the weight type's dot partner (as
 * llama.cpp does, so our numerics match the reference), then each thread
 * takes a slice of W's rows and runs them against every activation row.
 * A slice of rows stays in cache across the batch, so prefill reads W once.
 * (Measured: this beats dequantize-to-f32 + OpenBLAS sgemm on this project's
 * machines, and Debian's OpenBLAS 0.3.21 falls back to SSE3 kernels on CPUs
 * it does not know.) */
#ifndef RESA_MATMUL_H
#define RESA_MATMUL_H

#include <stddef.h>

#include "model.h"

typedef struct resa_matmul_scratch {
    void *act;          /* quantized activations */
    size_t act_cap;
} resa_matmul_scratch;

resa_status matmul_cpu(resa_matmul_scratch *s, int n_threads, const resa_weight *w, const float *x,
                       int n, float *y);
void matmul_scratch_free(resa_matmul_scratch *s);

#endif
