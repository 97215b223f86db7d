/* SPDX-License-Identifier: MIT */
/* Kernel family "attn": the memory-bound attention kernels of a decode step
 * — dense and sparse (block-selected) one-query attention over a KV head,
 * and the ReSA block scoring and summary update (docs/design.md §1).
 *
 * Pure, single-threaded, no allocation. The cache of one (layer, KV head) is
 * rows of d elements, position p at element p*d, f16 (raw bits) or f32.
 * Scalar references in simd/attn_c.c; attn_init() fills the tiers. */
#ifndef RESA_SIMD_ATTN_H
#define RESA_SIMD_ATTN_H

#include <stdint.h>

#include "types.h"

/* A run of consecutive cache rows: n rows of K from k, of V from v. */
typedef struct resa_attn_run {
    const void *k, *v;
    int n;
} resa_attn_run;

/* Online softmax over the rows of runs[0..n_runs), in that order, for the
 * `group` query heads of one KV head (q: group rows of d floats). Continues
 * the running state of each head g: m[g] (max of scaled scores so far,
 * -INFINITY at the start), l[g] (sum of exp(score - m)), o[g*d .. g*d+d)
 * (sum of exp(score - m) * v); the caller divides o by l.
 * The softmax steps (tiles) are TILE consecutive rows of the runs laid end
 * to end, wherever the runs lie: so the selected blocks of a sparse step
 * (one run each) fill whole tiles, and cutting a run into adjacent runs
 * changes no bit. Consecutive calls continue the state (each call starts a
 * tile). Each K and V row is read once for the whole group. n_runs and any
 * run's n may be 0. */
#define decl_attn_decode_fn(name)                                                           \
    void(name)(const resa_attn_run *runs, int n_runs, int d, const float *q, int group,      \
               float scale, float *m, float *l, float *o)
typedef decl_attn_decode_fn(*resa_attn_decode_fn);

/* scores[i] = sum_j max(qbar[j]*kmax[i*d+j], qbar[j]*kmin[i*d+j]), i < n_blocks:
 * the Quest upper bound of qbar.k over the keys of block i. kmin and kmax
 * hold floats of the summary type (f16 raw bits or f32; an f16 cache keeps
 * f16 summaries, exact since its keys are f16). Every tier computes one
 * recipe, bit for bit (issue 3: selection must not depend on the tier):
 * 16 lanes, element j in lane j%16, each lane a chain of fmaf(qbar[j], key,
 * lane) in order of j where key is kmin[j] if qbar[j]'s sign bit is set,
 * else kmax[j]; then lanes l += l+8, l += l+4, l += l+2, l += l+1. */
#define decl_block_score_fn(name)                                                            \
    void(name)(const float *qbar, const void *kmin, const void *kmax, int d, int n_blocks,  \
               float *scores)
typedef decl_block_score_fn(*resa_block_score_fn);

/* Folds key k (d floats) into one block summary: first != 0 sets
 * kmin = kmax = k, otherwise they widen to include k. */
#define decl_summary_add_fn(name) void(name)(float *kmin, float *kmax, const float *k, int d, int first)
typedef decl_summary_add_fn(*resa_summary_add_fn);

typedef struct resa_attn_ctx {
    resa_attn_decode_fn decode[RESA_TYPE_COUNT]; /* indexed by cache type: F16, F32 */
    resa_block_score_fn block_score[RESA_TYPE_COUNT]; /* by summary type: F16, F32 */
    resa_summary_add_fn summary_add;
} resa_attn_ctx;

void attn_init(resa_attn_ctx *c, unsigned flags);

#endif
