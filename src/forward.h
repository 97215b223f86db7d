/* SPDX-License-Identifier: MIT */
/* The forward pass of a decoder-only transformer (llama / qwen2 family)
 * over one pass of rows from many sequences (docs/design.md §3). */
#ifndef RESA_FORWARD_H
#define RESA_FORWARD_H

#include "backend.h"
#include "clock.h"
#include "model.h"


/* Where a pass's logits go: rows[i]'s logits (n_vocab floats) to dst[i].
 * n = 0: none are wanted, and the last layer stops after its K/V. */
typedef struct forward_logits {
    const int *rows;
    float *const *dst;
    int n;
    float *buf;         /* (n, n_vocab) scratch the backend writes first */
} forward_logits;

/* Runs the pass's rows through every layer: each segment's K/V written,
 * attention per segment, weights read once for all rows. */
resa_status forward_pass(const resa_model *m, resa_backend *be, const resa_pass *pass,
                         const forward_logits *logits);

#endif
