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
 * Windowed layers (gemma3's local layers, docs/design.md §3.3 and §5.5)
 * may live in a second region of the pool, the ring: [ring layer][kv_head]
 * [ring page][row][head_dim], no summaries (those layers are never sparse).
 * A sequence holds at most ring_blocks ring pages, and block i of a
 * windowed layer lives in ring page ring[i % ring_blocks]: a block older
 * than the last ring_blocks is overwritten, which is safe because no row
 * reads further back than its window (kv_ring_blocks says how many blocks
 * that takes). A pool without windowed layers, or one that keeps their
 * whole context (swa_full), has no ring and the layout above, unchanged.
 *
 * The pool belongs to the backend; which page holds which block of which
 * sequence is the scheduler's (page tables, free lists). */
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
    /* the ring region (all 0 / NULL when the pool has none) */
    int *slot;             /* per layer: its index in the main region (>= 0), or -1 - its index
                              in the ring region; NULL: every layer in the main region, in order */
    int n_main_layers;     /* layers of the main region (n_layer when slot is NULL) */
    int n_ring_layers, n_ring_pages, ring_blocks;
    uint8_t *ring_k, *ring_v;
} resa_kv_pool;

/* What a pool holds: the layers, which of them keep only a ring
 * (ring_blocks > 0), and how many pages each region has. */
typedef struct resa_kv_geometry {
    resa_kv_type type;
    int n_layer, n_head_kv, head_dim, block_size;
    int n_pages;           /* main region */
    int summaries;         /* kmin/kmax for the main region's layers */
    const unsigned char *windowed; /* per layer, with ring_blocks > 0: kept in the ring */
    int ring_blocks;       /* a sequence's ring length in blocks; 0: no ring */
    int n_ring_pages;      /* ring region */
} resa_kv_geometry;

/* Bytes of each array of a pool of this geometry (what kv_pool_init
 * allocates; resa_kv_cache_bytes reports the sum): K (and as much V) of the
 * main region and of the ring region, kmin (and as much kmax). */
typedef struct kv_pool_size {
    size_t main, ring, summary;
} kv_pool_size;
static inline size_t kv_pool_size_kv(kv_pool_size z) { return 2 * (z.main + z.ring); }
static inline size_t kv_pool_size_total(kv_pool_size z) { return kv_pool_size_kv(z) + 2 * z.summary; }
kv_pool_size kv_pool_bytes(const resa_kv_geometry *g);

/* The ring length, in blocks of block_size, that a windowed layer needs
 * (docs/design.md §3.3): a pass reads, for its first row at position A,
 * keys from A - window + 1, while the sequence has written positions up to
 * A + reach - 1 (reach: the rows of a pass, or a rectification's pending
 * steps plus the decode row after them, whichever is more). Those
 * window - 1 + reach consecutive positions must all be held at once, and
 * they touch at most 1 + ceil((window + reach - 2) / block_size) blocks. */
static inline int kv_ring_blocks(int window, int reach, int block_size)
{
    return 1 + (window + reach - 2 + block_size - 1) / block_size;
}

/* One sequence's cache: the pool with its page table (block i of the
 * sequence is page pages[i]); geometry copied from the pool for reading. */
typedef struct resa_kv_cache {
    resa_kv_pool *pool;
    const int *pages;
    enum resa_type type;
    size_t elem_size;
    int n_layer, n_head_kv, head_dim, block_size;
    int n_blocks_max;      /* the page table's length: blocks the sequence may grow to */
    int summaries;         /* the pool keeps kmin/kmax (of its main region's layers) */
    const int *ring;       /* the ring's pages (pool->ring_blocks of them at most), when the
                              pool has a ring */
    int ring_lo;           /* ring layers hold the positions >= ring_lo (of those written) */
} resa_kv_cache;

/* block_size positions per page; summaries 0: no kmin/kmax; no ring. */
resa_status kv_pool_init(resa_kv_pool *p, resa_kv_type type, int n_layer, int n_head_kv,
                         int head_dim, int block_size, int n_pages, int summaries);
resa_status kv_pool_init_geometry(resa_kv_pool *p, const resa_kv_geometry *g);
void kv_pool_free(resa_kv_pool *p);
/* A view without a ring (set .ring and .ring_lo for a pool with one). */
resa_kv_cache kv_cache_view(resa_kv_pool *p, const int *pages, int n_blocks_max);

/* Whether `layer` lives in the ring region. */
static inline int kv_layer_in_ring(const resa_kv_pool *p, int layer)
{
    return p->slot && p->slot[layer] < 0;
}
/* Whether `layer` has block summaries. */
static inline int kv_layer_summarized(const resa_kv_cache *kv, int layer)
{
    return kv->summaries && !kv_layer_in_ring(kv->pool, layer);
}
/* The first position `layer` still holds (0 but in the ring). */
static inline int kv_layer_first_pos(const resa_kv_cache *kv, int layer)
{
    return kv_layer_in_ring(kv->pool, layer) ? kv->ring_lo : 0;
}
/* The page that holds block `block` of `layer`, in that layer's region. */
static inline int kv_block_page(const resa_kv_cache *kv, int layer, int block)
{
    return kv_layer_in_ring(kv->pool, layer) ? kv->ring[block % kv->pool->ring_blocks] : kv->pages[block];
}

/* Start of page `page` of (layer, head) in its region, in elements of the cache type. */
static inline size_t kv_page_offset(const resa_kv_pool *p, int layer, int head, int page)
{
    const int s = p->slot ? p->slot[layer] : layer;
    const size_t n_pages = (size_t)(s < 0 ? p->n_ring_pages : p->n_pages);
    return (((size_t)(s < 0 ? -1 - s : s) * p->n_head_kv + head) * n_pages + page) * p->block_size * p->head_dim;
}
static inline size_t kv_row_offset(const resa_kv_cache *kv, int layer, int head, int pos)
{
    const int b = kv->block_size;
    return (kv_page_offset(kv->pool, layer, head, kv_block_page(kv, layer, pos / b)) +
            (size_t)(pos % b) * kv->head_dim) * kv->elem_size;
}
static inline void *kv_k(const resa_kv_cache *kv, int layer, int head, int pos)
{
    return (kv_layer_in_ring(kv->pool, layer) ? kv->pool->ring_k : kv->pool->k) + kv_row_offset(kv, layer, head, pos);
}
static inline void *kv_v(const resa_kv_cache *kv, int layer, int head, int pos)
{
    return (kv_layer_in_ring(kv->pool, layer) ? kv->pool->ring_v : kv->pool->v) + kv_row_offset(kv, layer, head, pos);
}

/* The summary of block `block` of (layer, head): head_dim elements (main
 * region layers only, kv_layer_summarized). */
static inline size_t kv_summary_offset(const resa_kv_cache *kv, int layer, int head, int block)
{
    const resa_kv_pool *p = kv->pool;
    const int s = p->slot ? p->slot[layer] : layer;
    return (((size_t)s * p->n_head_kv + head) * p->n_pages + kv->pages[block]) * p->head_dim *
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

/* Blocks [first, first+n) of `layer` lie in consecutive pages, so their
 * rows (and summaries) of any head are one span: how many of them do, from
 * first on (at least 1 when n >= 1). */
static inline int kv_contiguous_blocks(const resa_kv_cache *kv, int layer, int first, int n)
{
    const int p0 = kv_block_page(kv, layer, first);
    int i = 1;
    while (i < n && kv_block_page(kv, layer, first + i) == p0 + i)
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
 * repeated; summaries are recomputed. Ring layers write only the positions
 * their ring keeps, as copies of the rows it held (kv->ring_lo: what it
 * held before; positions below it are taken as the ones it held, repeated);
 * the caller then moves ring_lo on (kv_ring_lo_after). Returns RESA_ERR_NOMEM
 * when the scratch for that cannot be had. */
resa_status kv_cache_fill_repeat(const resa_kv_cache *kv, int n_past, int n_total);
/* A ring's ring_lo once position `last` has been written: the blocks more
 * than ring_blocks behind last's are overwritten. */
static inline int kv_ring_lo_after(const resa_kv_pool *p, int ring_lo, int last)
{
    if (!p->ring_blocks)
        return 0;
    const int lo = (last / p->block_size - p->ring_blocks + 1) * p->block_size;
    return lo > ring_lo ? lo : ring_lo;
}
/* One cached row (n elements, the cache's type) as floats. */
void kv_row_to_f32(const resa_kv_cache *kv, const void *src, float *dst, int n);

#endif
