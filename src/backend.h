/* The backend interface: the heavy operations of a forward pass, so the same
 * scheduler and forward pass can drive the CPU or (later) a GPU.
 *
 * Contracts:
 * - matmul: y (n, w->rows) = x (n, w->cols) . W^T, all f32 row-major.
 * - attention: dense causal attention. q is (n, n_head*head_dim), the queries
 *   of positions pos0 .. pos0+n-1 (RoPE applied); each attends to the cached
 *   keys/values [0, its position] of `layer` (already written). Query head h
 *   uses KV head h / (n_head / n_head_kv). out has q's shape.
 */
#ifndef RESA_BACKEND_H
#define RESA_BACKEND_H

#include "kv_cache.h"
#include "model.h"

typedef struct resa_backend resa_backend;

/* The block-sparse attention parameters of DESIGN.md §1. */
typedef struct resa_sparse_cfg {
    int block_size;
    float ratio;
    int min_blocks, local_blocks;
} resa_sparse_cfg;

struct resa_backend {
    const char *name;
    resa_status (*matmul)(resa_backend *be, const resa_weight *w, const float *x, int n, float *y);
    resa_status (*attention)(resa_backend *be, const resa_kv_cache *kv, int layer, const float *q, int n,
                      int pos0, int n_head, float *out);
    /* Score and select: for the query q (n_head*head_dim) of position pos, per
     * KV head h, pool the group's queries, score the blocks of [0, pos] from
     * their summaries, and write the selected block ids (ascending) to
     * sel + h*kv->n_blocks_max and their count to n_sel[h]. */
    resa_status (*select_blocks)(resa_backend *be, const resa_kv_cache *kv, int layer,
                                 const float *q, int pos, int n_head, const resa_sparse_cfg *cfg,
                                 int *sel, int *n_sel);
    /* Sparse attention of that query over the selected blocks (as `attention`
     * for n = 1, restricted to the selection). */
    resa_status (*attention_sparse)(resa_backend *be, const resa_kv_cache *kv, int layer,
                                    const float *q, int pos, int n_head, const int *sel,
                                    const int *n_sel, float *out);
    /* Recompute the summaries of the blocks holding [pos0, pos0+n) (after a
     * rectification rewrote those keys); T = valid positions. */
    void (*refresh_summaries)(resa_backend *be, resa_kv_cache *kv, int pos0, int n, int T);
    void (*free)(resa_backend *be);
};

/* Scratch buffers grow on first use, so only the thread count is needed. */
resa_status resa_backend_cpu_new(int n_threads, resa_backend **out);

#endif
