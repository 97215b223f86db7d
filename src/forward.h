/* The context (a model plus its KV cache and buffers) and the forward pass. */
#ifndef RESA_FORWARD_H
#define RESA_FORWARD_H

#include "backend.h"
#include "kv_cache.h"
#include "model.h"

struct resa_context {
    const resa_model *model;
    resa_params params;   /* resolved: n_ctx, n_threads, n_batch set */
    resa_kv_cache kv;
    resa_backend *be;
    /* activations of one chunk of up to n_batch tokens */
    float *x;             /* (n_batch, n_embd) residual stream */
    float *xb;            /* (n_batch, n_embd) normed input of a sub-layer */
    float *q;             /* (n_batch, n_head*head_dim) */
    float *k, *v;         /* (n_batch, n_head_kv*head_dim) */
    float *att;           /* (n_batch, n_head*head_dim) attention output */
    float *hb, *hb2;      /* (n_batch, n_ff) FFN gate and up */
    float *rope_cs;       /* (n_batch, n_rot) cos/sin pairs of each position */
    float *logits;        /* (n_vocab) of the last position */
    /* sparse decoding (modes sparse and resa) */
    resa_sparse_cfg sparse;
    int *sel, *n_sel;     /* selected blocks: (n_head_kv, n_blocks_max) and counts */
    int32_t *pending;     /* tokens of the sparse steps not yet rectified */
    int n_pending;
    int pending_sparse;   /* some pending step skipped blocks (else they are dense-exact) */
    int rectifications;
    resa_timings timings; /* attention_s and select_s accumulate while timing_on */
    int timing_on;
};

double resa_now(void); /* monotonic seconds */

typedef enum forward_logits {
    LOGITS_NONE, /* rectification: the logits are discarded, so not computed */
    LOGITS_LAST, /* into ctx->logits */
    LOGITS_ALL,  /* into the caller's (n, n_vocab) array */
} forward_logits;

/* Runs n <= n_batch tokens at positions pos0.. through the model, writing
 * their K/V. sparse (n must be 1): attend the selected blocks only. */
resa_status forward_chunk(resa_context *ctx, const int32_t *tokens, int n, int pos0, int sparse,
                          forward_logits logits, float *all_logits);

#endif
