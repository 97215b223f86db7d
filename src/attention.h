/* SPDX-License-Identifier: MIT */
/* CPU dense causal attention against the KV cache (contract in backend.h). */
#ifndef RESA_ATTENTION_H
#define RESA_ATTENTION_H

#include "attn.h"
#include "kv_cache.h"
#include "threads.h"

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
    void *plans;           /* decode: per row, its runs and segments (attention.c) */
    void *items;           /* decode: the work items (row, KV head, segment) */
    size_t chunk_cap, scores_cap, list_cap, pieces_cap, gather_cap, plans_cap, items_cap; /* in elements */
} resa_attn_scratch;

/* Dense causal attention of n queries (attention_chunk.c; n = 1 goes to
 * attention_decode_cpu). */
resa_status attention_cpu(resa_attn_scratch *s, resa_team *team, const resa_kv_cache *kv, int layer,
                          const float *q, int n, int pos0, int n_head, float *out);
/* Windowed causal attention of n queries (attention_window.c): the query at
 * position p attends [max(0, p - window + 1), p] (docs/design.md §5.5). */
resa_status attention_window_cpu(resa_attn_scratch *s, resa_team *team, const resa_kv_cache *kv, int layer,
                                 const float *q, int n, int pos0, int n_head, int window, float *out);
/* Rows [a, b) of one KV head's K (values: V) of a cache as one span: in
 * place when their pages are consecutive, else copied into buf (b - a rows). */
const void *attn_key_span(const resa_kv_cache *kv, int layer, int h, int a, int b, int values, uint8_t *buf);
/* Dense decode: one query at position pos over [0, pos]. */
resa_status attention_decode_cpu(resa_attn_scratch *s, resa_team *team, const resa_kv_cache *kv,
                                 int layer, const float *q, int pos, int n_head, float *out);
/* One decode row: its query (n_head heads) at position pos of its sequence's
 * cache kv attends [lo, pos] (dense, sel NULL; lo is 0 but on a windowed
 * layer) or, per KV head h, only the n_sel[h] blocks listed (ascending) at
 * sel + h * kv->n_blocks_max (sparse). The cache is read through its page
 * table (kv_cache.h). */
typedef struct resa_decode_row {
    const resa_kv_cache *kv;
    const float *q;
    float *out;
    int pos;
    const int *sel, *n_sel;
    int lo;
} resa_decode_row;

/* The decode rows of a pass, every one in one parallel loop over (row, KV
 * head, segment); each row's bits are those it gets alone. */
resa_status attention_decode_rows(resa_attn_scratch *s, resa_team *team, int layer, int n_head,
                                  const resa_decode_row *rows, int n);
void attn_scratch_free(resa_attn_scratch *s);

#endif
