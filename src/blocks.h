/* SPDX-License-Identifier: MIT */
/* Block summaries, block scores and top-k block selection of Rectified Sparse
 * Attention (docs/design.md §1). Pure, single-threaded functions on raw arrays of one
 * (layer, KV head): no allocation, no threads, no globals.
 *
 * Layouts: kmin/kmax are [n_blocks][d] floats; keys are the head's cache rows,
 * position p at keys + p*d elements (f16 raw bits or f32). */
#ifndef RESA_BLOCKS_H
#define RESA_BLOCKS_H

#include <stdint.h>

/* Folds key k (d floats) at position pos into its block's summary: the first
 * key of a block (pos % block_size == 0) sets min and max, later ones widen them. */
void blocks_append_key(float *kmin, float *kmax, int d, int block_size, int pos, const float *k);

/* Rebuilds the summaries of blocks [first_block, last_block] from the cached
 * keys of positions [0, T): key_type is RESA_TYPE_F16 or RESA_TYPE_F32. Only
 * positions < T count (the last block may be partial); blocks with no position
 * below T are left untouched. Reads (last-first+1)*block_size rows. */
void blocks_recompute(float *kmin, float *kmax, int d, int block_size, const void *keys,
                      int key_type, int T, int first_block, int last_block);

/* scores[i] = sum_j max(qbar[j]*kmax[i][j], qbar[j]*kmin[i][j]), the Quest upper
 * bound of qbar.k over the keys of block i. */
void blocks_score(const float *qbar, const float *kmin, const float *kmax, int d, int n_blocks,
                  float *scores);

/* Budget k = max(ceil(ratio*M), min(M, n_min)) clamped to [0, M], M = n_blocks.
 * ratio*M within float rounding of an integer counts as that integer
 * (ratio 0.1f with M 10 gives 1, not 2). */
int blocks_budget(int n_blocks, float ratio, int n_min);

/* Selects min(M, max(k, n_local')) blocks, n_local' = n_local clamped to [0, M]:
 * the last n_local' blocks always, the rest the highest-scoring other blocks
 * (ties: lower block index first; NaN scores rank lowest). Writes the ids to
 * out in ascending order and returns their count. out must hold n_blocks
 * ints, work n_blocks keys of scratch. O(M) on average: at 64K tokens a
 * step selects among 4096 blocks per layer and KV head. */
int blocks_select(const float *scores, int n_blocks, int n_local, int k, uint64_t *work, int *out);

/* qbar = mean of the group's g query heads (q: g rows of d floats). */
void blocks_pooled_query(const float *q, int group, int d, float *qbar);

#endif
