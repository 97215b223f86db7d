/* SPDX-License-Identifier: MIT */
/* The key/value cache: a pool of pages shared by every sequence of an
 * engine, and the view of one sequence's cache that the kernels take
 * (docs/design.md §3).
 *
 * A page holds one ReSA block: block_size positions of every layer and KV
 * head. Storage is head-major per layer, [layer][kv_head][page][row][head_dim],
 * so one block of one head is one contiguous span (what block-sparse
 * attention reads), and a sequence whose pages are consecutive has each
 * head's rows contiguous, as a flat cache would. Beside the rows, each
 * page's block summary, [layer][kv_head][page][head_dim] for kmin and kmax,
 * in the cache's type (f16 keys have f16 minima and maxima: exact, and half
 * the bytes a sparse step's scoring reads). Keys are stored after RoPE.
 *
 * The pool belongs to the backend; which page holds which block of which
 * sequence is the scheduler's (page tables, free list). */
#ifndef RESA_KV_CACHE_H
#define RESA_KV_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "resa.h"
#include "types.h"

typedef struct resa_kv_pool {
    enum resa_type type;   /* RESA_TYPE_F16 or RESA_TYPE_F32 */
    size_t elem_size;
    int n_layer, n_head_kv, head_dim, block_size, n_pages;
    uint8_t *k, *v;
    uint8_t *kmin, *kmax;  /* NULL when the engine keeps no summaries (dense only) */
} resa_kv_pool;

/* One sequence's cache: the pool with its page table (block i of the
 * sequence is page pages[i]); geometry copied from the pool for reading. */
typedef struct resa_kv_cache {
    resa_kv_pool *pool;
    const int *pages;
    enum resa_type type;
    size_t elem_size;
    int n_layer, n_head_kv, head_dim, block_size;
    int n_blocks_max;      /* the page table's length: blocks the sequence may grow to */
    int summaries;         /* the pool keeps kmin/kmax */
} resa_kv_cache;

/* block_size positions per page; summaries 0: no kmin/kmax. */
resa_status kv_pool_init(resa_kv_pool *p, resa_kv_type type, int n_layer, int n_head_kv,
                         int head_dim, int block_size, int n_pages, int summaries);
void kv_pool_free(resa_kv_pool *p);
resa_kv_cache kv_cache_view(resa_kv_pool *p, const int *pages, int n_blocks_max);

/* Start of row r of page `page` of (layer, head), in elements of the cache type. */
static inline size_t kv_page_offset(const resa_kv_pool *p, int layer, int head, int page)
{
    return (((size_t)layer * p->n_head_kv + head) * p->n_pages + page) * p->block_size * p->head_dim;
}
static inline size_t kv_row_offset(const resa_kv_cache *kv, int layer, int head, int pos)
{
    const int b = kv->block_size;
    return (kv_page_offset(kv->pool, layer, head, kv->pages[pos / b]) + (size_t)(pos % b) * kv->head_dim) *
           kv->elem_size;
}
static inline void *kv_k(const resa_kv_cache *kv, int layer, int head, int pos)
{
    return kv->pool->k + kv_row_offset(kv, layer, head, pos);
}
static inline void *kv_v(const resa_kv_cache *kv, int layer, int head, int pos)
{
    return kv->pool->v + kv_row_offset(kv, layer, head, pos);
}

/* The summary of block `block` of (layer, head): head_dim elements. */
static inline size_t kv_summary_offset(const resa_kv_cache *kv, int layer, int head, int block)
{
    const resa_kv_pool *p = kv->pool;
    return (((size_t)layer * p->n_head_kv + head) * p->n_pages + kv->pages[block]) * p->head_dim *
           p->elem_size;
}
static inline void *kv_kmin(const resa_kv_cache *kv, int layer, int head, int block)
{
    return kv->pool->kmin + kv_summary_offset(kv, layer, head, block);
}
static inline void *kv_kmax(const resa_kv_cache *kv, int layer, int head, int block)
{
    return kv->pool->kmax + kv_summary_offset(kv, layer, head, block);
}

/* Blocks [first, first+n) lie in consecutive pages, so their rows (and
 * summaries) of any (layer, head) are one span: how many of them do, from
 * first on (at least 1 when n >= 1). */
static inline int kv_contiguous_blocks(const resa_kv_cache *kv, int first, int n)
{
    int i = 1;
    while (i < n && kv->pages[first + i] == kv->pages[first] + i)
        i++;
    return n < 1 ? 0 : i;
}

/* Stores n positions starting at pos0 of one layer: k and v are
 * (n, n_head_kv*head_dim) float rows, converted to the cache type. Appended
 * keys fold into their block's summary (the first key of a page resets it);
 * with `rewrite` (rectification) the summaries of every touched block are
 * recomputed from the keys [0, pos0+n) afterwards, in this layer. */
void kv_cache_write(const resa_kv_cache *kv, int layer, int pos0, int n, const float *k, const float *v,
                    int rewrite);
/* Recomputes the summaries of every block that holds a position in
 * [pos0, pos0+n), for all layers and heads, from the stored keys [0, T). */
void kv_cache_refresh_summaries(const resa_kv_cache *kv, int pos0, int n, int T);
/* Benchmarks: positions [n_past, n_total) become copies of [0, n_past),
 * repeated; summaries are recomputed. */
void kv_cache_fill_repeat(const resa_kv_cache *kv, int n_past, int n_total);
/* One cached row (n elements, the cache's type) as floats. */
void kv_row_to_f32(const resa_kv_cache *kv, const void *src, float *dst, int n);

#endif
