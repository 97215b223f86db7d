/* SPDX-License-Identifier: MIT */
/* CPU block selection for sparse decode steps (docs/design.md §1, steps 1-4):
 * per KV head h the selected block ids at sel + h * kv->n_blocks_max, their
 * count n_sel[h], and (covered non-NULL) their share of the estimated
 * attention mass covered[h] (blocks_covered). */
#ifndef RESA_SELECT_H
#define RESA_SELECT_H

#include "backend.h"
#include "threads.h"

typedef struct resa_select_scratch {
    float *scores;    /* per KV head: block scores, pooled query, selection keys */
    size_t cap;       /* floats */
} resa_select_scratch;

resa_status select_blocks_cpu(resa_select_scratch *s, resa_team *team, const resa_kv_cache *kv,
                              int layer, const float *q, int pos, int n_head,
                              const resa_sparse_cfg *cfg, int *sel, int *n_sel, double *covered);
void select_scratch_free(resa_select_scratch *s);

#endif
