/* CPU weight products: y (n, rows) = x (n, cols) . W^T.
 *
 * Two paths: small batches (decode) quantize the activations to the weight's
 * dot partner and stream W once, each thread taking a slice of rows; large
 * batches (prefill) with OpenBLAS dequantize W to f32 and call sgemm, which
 * reuses each weight tile across the whole batch. */
#ifndef RESA_MATMUL_H
#define RESA_MATMUL_H

#include <stddef.h>

#include "model.h"

typedef struct resa_matmul_scratch {
    void *act;          /* quantized activations */
    size_t act_cap;
    float *wf32;        /* dequantized weights (BLAS path) */
    size_t wf32_cap;
} resa_matmul_scratch;

resa_status matmul_cpu(resa_matmul_scratch *s, int n_threads, const resa_weight *w, const float *x,
                       int n, float *y);
void matmul_scratch_free(resa_matmul_scratch *s);

#endif
