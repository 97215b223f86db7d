/* CPU dense causal attention against the KV cache (contract in backend.h). */
#ifndef RESA_ATTENTION_H
#define RESA_ATTENTION_H

#include "attn.h"
#include "kv_cache.h"

typedef struct resa_attn_scratch {
    float *chunk;          /* chunks: each thread's chunk-kernel scratch */
    float *scores;         /* the partial states (o, m, l) of every work item: for chunks
                              (KV head, query chunk, key segment), for decode (KV head, segment) */
    int *list;             /* chunks: the work items and their order; decode: attended
                              runs [a, b) per KV head (n_head_kv, n_blocks_max) */
    resa_attn_run *pieces; /* decode: each segment's part of the runs, as the kernel takes
                              them (n_head_kv, n_blocks_max + segments) */
    uint8_t *gather;       /* chunks: each thread's copy of an item's K and V rows when
                              their pages are not consecutive */
    size_t chunk_cap, scores_cap, list_cap, pieces_cap, gather_cap; /* in elements */
} resa_attn_scratch;

/* Dense causal attention of n queries (attention_chunk.c; n = 1 goes to
 * attention_decode_cpu). */
resa_status attention_cpu(resa_attn_scratch *s, int n_threads, const resa_kv_cache *kv, int layer,
                          const float *q, int n, int pos0, int n_head, float *out);
/* Dense decode: one query at position pos over [0, pos]. */
resa_status attention_decode_cpu(resa_attn_scratch *s, int n_threads, const resa_kv_cache *kv,
                                 int layer, const float *q, int pos, int n_head, float *out);
/* Sparse decode: one query at position pos attends, per KV head h, only the
 * n_sel[h] blocks listed (ascending) at sel + h * kv->n_blocks_max. The
 * cache is read through its page table (kv_cache.h). */
resa_status attention_sparse_cpu(resa_attn_scratch *s, int n_threads, const resa_kv_cache *kv,
                                 int layer, const float *q, int pos, int n_head, const int *sel,
                                 const int *n_sel, float *out);
void attn_scratch_free(resa_attn_scratch *s);

#endif
