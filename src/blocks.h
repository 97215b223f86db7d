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

/* The adaptive budget (docs/design.md §1, step 3'): the estimated attention
 * mass of block i is w_i = n_i * exp(scale * (s_i - s_max)), n_i its
 * positions below n_keys (block_size, or fewer in the last block), s_max the
 * largest score (NaN counts as -inf; with an infinite s_max only the
 * infinite blocks weigh). The last n_local blocks are taken first, then the
 * other blocks in blocks_select's order (score, then lower index) until the
 * chosen blocks' mass reaches coverage * (sum of all w_i); the count is then
 * clamped to [k_min, k_max] (each raised to n_local, lowered to M).
 * Coverage 1 takes k_max blocks. */
typedef struct blocks_adaptive {
    double coverage;      /* p in [0, 1] */
    double scale;         /* the attention's score scale, 1/sqrt(head_dim) */
    int block_size, n_keys;
    int k_min, k_max;     /* floor and ceiling on the blocks chosen */
} blocks_adaptive;

/* Selects blocks under the adaptive budget: ids ascending into out, returns
 * their count; *covered (may be NULL) gets their share of the estimated
 * mass. work: 2*n_blocks 8-byte slots of scratch. O(M) on average (a
 * quickselect for the ceiling, another by mass for the count). */
int blocks_select_adaptive(const float *scores, int n_blocks, int n_local, const blocks_adaptive *a,
                           uint64_t *work, int *out, double *covered);

/* The share of the estimated mass (as blocks_select_adaptive weighs it;
 * coverage, k_min and k_max unused) of the n_sel blocks sel, ids ascending:
 * what a selection of either budget is estimated to cover. 1 when no block
 * weighs anything. */
double blocks_covered(const float *scores, int n_blocks, const blocks_adaptive *a, const int *sel, int n_sel);

/* qbar = mean of the group's g query heads (q: g rows of d floats). */
void blocks_pooled_query(const float *q, int group, int d, float *qbar);

#endif
