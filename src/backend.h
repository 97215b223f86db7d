/* SPDX-License-Identifier: MIT */
/* The backend interface: everything a forward pass does to numbers, so the
 * same scheduler and forward pass drive the CPU or a GPU (docs/design.md §3).
 *
 * The backend owns every byte the ops touch: the weights (the CPU backend
 * reads the GGUF mapping in place; a GPU backend would upload them once),
 * the activations of a pass (an arena of `n_rows_max` rows per slot, named
 * by resa_act, never seen as pointers by engine code) and the paged KV pool.
 * Engine code hands it passes: rows of many sequences, grouped in segments.
 * Every op covers all rows of the current pass and returns a status. */
#ifndef RESA_BACKEND_H
#define RESA_BACKEND_H

#include "kv_cache.h"
#include "model.h"

typedef struct resa_backend resa_backend;

/* The block-sparse attention parameters of docs/design.md §1. */
typedef struct resa_sparse_cfg {
    int block_size;
    float ratio;
    int min_blocks, local_blocks;
    /* RESA_BUDGET_ADAPTIVE: per KV head, the fewest blocks whose estimated
     * attention mass reaches `coverage`, between min_blocks and
     * blocks_budget(max_ratio) (docs/design.md §1, step 3'); ratio unused */
    int budget;
    float coverage, max_ratio;
} resa_sparse_cfg;

/* Activation slots of a pass: (rows, width) floats each. */
typedef enum resa_act {
    ACT_X,   /* (rows, n_embd) residual stream */
    ACT_XB,  /* (rows, n_embd) normed input of a sub-layer, sub-layer output */
    ACT_Q,   /* (rows, n_head*head_dim) */
    ACT_K,   /* (rows, n_head_kv*head_dim) */
    ACT_V,   /* (rows, n_head_kv*head_dim) */
    ACT_ATT, /* (rows, n_head*head_dim) attention output */
    ACT_HB,  /* (rows, n_ff) FFN gate */
    ACT_HB2, /* (rows, n_ff) FFN up */
    ACT_COUNT
} resa_act;

/* What a segment's rows are (explicit: nothing is inferred from a count). */
typedef enum resa_seg_kind {
    SEG_PROMPT,  /* new tokens, dense causal attention */
    SEG_DECODE,  /* one new token: dense, or sparse over selected blocks */
    SEG_RECTIFY, /* a sequence's pending sparse tokens re-run densely at their positions,
                    overwriting their K/V (docs/design.md §1) */
} resa_seg_kind;

/* What sparse steps are estimated to have missed (docs/design.md §1, step
 * 5'): for each layer and KV head that selected blocks, the share of the
 * estimated attention mass outside the selection, summed over n of them. */
typedef struct resa_miss {
    double sum;
    int n;
} resa_miss;

/* One sequence's rows [row0, row0 + n) of a pass, at positions pos0.. */
typedef struct resa_seg {
    resa_seg_kind kind;
    resa_kv_cache kv;            /* the sequence's cache; its pages hold [0, pos0 + n) */
    int row0, n, pos0;
    int sparse;                  /* SEG_DECODE: attend the selected blocks only */
    const resa_sparse_cfg *cfg;  /* when sparse */
    resa_timings *timings;       /* where attention and selection time go (may be NULL) */
    resa_miss *miss;             /* SEG_DECODE, sparse: add each selection's estimated miss
                                    (NULL: not wanted; backends without it refuse schedules
                                    that want it, scheduler.c) */
} resa_seg;

typedef struct resa_pass {
    const resa_seg *segs;
    int n_segs, n_rows;
    const int32_t *tokens;       /* (n_rows) */
    const int *pos;              /* (n_rows) each row's position */
} resa_pass;

/* What kv_read reads: a cached row, or a block summary. */
typedef enum resa_kv_part { KV_PART_K, KV_PART_V, KV_PART_KMIN, KV_PART_KMAX } resa_kv_part;

struct resa_backend {
    const char *name;
    int n_rows_max;              /* rows a pass may have */
    resa_kv_pool *kv;            /* the pool the segments' caches point into */

    /* Starts a pass: embeds the rows' tokens into ACT_X, prepares the rows'
     * RoPE angles. The pass (and what it points to) stays valid until the
     * next begin. */
    resa_status (*begin)(resa_backend *be, const resa_pass *pass);
    /* dst = src / rms(src) * w, per row; width n_embd. */
    resa_status (*rmsnorm)(resa_backend *be, resa_act dst, resa_act src, const float *w);
    /* y (rows, w->rows) = x (rows, w->cols) . W^T. Each row's result does not
     * depend on the other rows (batch invariance). */
    resa_status (*matmul)(resa_backend *be, const resa_weight *w, resa_act x, resa_act y);
    /* x += b per row (width: b's length, the slot's width). No-op for NULL b. */
    resa_status (*add_bias)(resa_backend *be, resa_act x, const float *b);
    /* RoPE on the first n_rot dims of each head of x (n_heads heads), at each
     * row's position, with `layer`'s base (hp.rope_theta_swa on windowed layers). */
    resa_status (*rope)(resa_backend *be, resa_act x, int n_heads, int layer);
    /* Stores ACT_K and ACT_V rows of `layer` into each segment's pages;
     * appends fold into the summaries; a SEG_RECTIFY's rewrite recomputes
     * the touched blocks' summaries. Segments in order. */
    resa_status (*kv_store)(resa_backend *be, int layer);
    /* ACT_ATT = attention of ACT_Q (RoPE applied) over each segment's cache
     * of `layer`: dense causal, or for a sparse SEG_DECODE, per KV head the
     * blocks selected by the summaries (docs/design.md §1). Query head h
     * uses KV head h / (n_head / n_head_kv). On a windowed layer
     * (hparams_layer_swa) every row attends densely the last hp.n_swa
     * positions up to its own, sparse or not (docs/design.md §5.5). */
    resa_status (*attention)(resa_backend *be, int layer);
    /* ACT_HB = silu(ACT_HB) * ACT_HB2. */
    resa_status (*swiglu)(resa_backend *be);
    /* dst += src (width n_embd). */
    resa_status (*add)(resa_backend *be, resa_act dst, resa_act src);
    /* Logits of n rows of ACT_X (row ids ascending): out (n, n_vocab) =
     * output . rmsnorm(x, norm), into host memory. */
    resa_status (*logits)(resa_backend *be, const int *rows, int n, const float *norm,
                          const resa_weight *output, float *out);
    /* Tests and tools: one row (K, V: position pos) or block summary (KMIN,
     * KMAX: block pos) of (layer, head) of a sequence's cache, as floats. */
    resa_status (*kv_read)(resa_backend *be, const resa_kv_cache *kv, resa_kv_part part, int layer,
                           int head, int pos, float *out);
    /* Recomputes the summaries of the blocks holding [pos0, pos0+n) from the
     * keys [0, T), every layer (after a truncation). */
    resa_status (*kv_refresh)(resa_backend *be, const resa_kv_cache *kv, int pos0, int n, int T);
    /* Benchmarks: positions [n_past, n_total) become copies of [0, n_past). */
    resa_status (*kv_fill_repeat)(resa_backend *be, const resa_kv_cache *kv, int n_past, int n_total);
    void (*free)(resa_backend *be);
    /* Optional (NULL where a backend lacks them; backend_supports() says
     * whether a model can run): the gemma3 ops. The token embeddings'
     * hp.embd_scale is applied by begin where these exist. */
    /* x = x / rms(x) * w per head of head_dim elements (n_heads heads per row). */
    resa_status (*head_rmsnorm)(resa_backend *be, resa_act x, int n_heads, const float *w);
    /* ACT_HB = gelu_tanh(ACT_HB) * ACT_HB2. */
    resa_status (*geglu)(resa_backend *be);
    /* Optional, for speed: y[i] = x . W[i]^T for k (2 or 3) weights on the
     * same input, as k matmul calls would give (forward.c falls back to
     * them where this is NULL): the CPU backend runs decode's as one loop. */
    resa_status (*matmul_many)(resa_backend *be, int k, const resa_weight *const *w, resa_act x, const resa_act *y);
};

/* Whether be has every op m's architecture needs; else RESA_ERR_UNSUPPORTED
 * with a message naming the backend and the architecture. */
resa_status backend_supports(const resa_backend *be, const resa_model *m);

/* The CPU backend: an arena of n_rows_max rows, a pool of n_pages pages of
 * block_size positions (summaries kept unless 0); with ring_blocks > 0 the
 * windowed layers (hparams_layer_swa) keep rings of that many blocks in a
 * region of n_ring_pages pages instead (kv_cache.h). */
resa_status backend_cpu_new(const resa_model *m, int n_threads, int n_rows_max,
                                 resa_kv_type kv_type, int block_size, int n_pages, int summaries,
                                 int ring_blocks, int n_ring_pages, resa_backend **out);

#endif
