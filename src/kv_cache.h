/* The key/value cache.
 *
 * Layout is head-major: for each layer and KV head, the rows of all positions
 * are contiguous ([layer][kv_head][pos][head_dim]), so one head's keys stream
 * linearly and a block of b positions of one head is one contiguous span —
 * the unit that block-sparse attention reads. Keys are stored after RoPE. */
#ifndef RESA_KV_CACHE_H
#define RESA_KV_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "resa.h"
#include "types.h"

typedef struct resa_kv_cache {
    enum resa_type type;   /* RESA_TYPE_F16 or RESA_TYPE_F32 */
    size_t elem_size;
    int n_layer, n_head_kv, head_dim, n_ctx;
    int n_past;            /* positions [0, n_past) hold valid entries */
    uint8_t *k, *v;
    /* Block summaries for sparse attention (NULL in dense mode): element-wise
     * min and max of the stored keys of each block, [layer][kv_head][block][head_dim],
     * in the cache's type (f16 keys have f16 minima and maxima: exact, and
     * half the bytes a sparse step's scoring reads). */
    int block_size, n_blocks_max;
    void *kmin, *kmax;
} resa_kv_cache;

/* block_size 0: no summaries (dense mode). */
resa_status kv_cache_init(resa_kv_cache *kv, resa_kv_type type, int n_layer, int n_head_kv,
                          int head_dim, int n_ctx, int block_size);
void kv_cache_free(resa_kv_cache *kv);

/* Start of the row of (layer, head, pos) in K or V. */
static inline size_t kv_row_offset(const resa_kv_cache *kv, int layer, int head, int pos)
{
    return ((((size_t)layer * kv->n_head_kv + head) * kv->n_ctx + pos) * kv->head_dim) * kv->elem_size;
}
static inline void *kv_k(const resa_kv_cache *kv, int layer, int head, int pos)
{
    return kv->k + kv_row_offset(kv, layer, head, pos);
}
static inline void *kv_v(const resa_kv_cache *kv, int layer, int head, int pos)
{
    return kv->v + kv_row_offset(kv, layer, head, pos);
}

/* Summaries of (layer, head): n_blocks_max rows of head_dim elements of the
 * cache's type. */
static inline size_t kv_summary_offset(const resa_kv_cache *kv, int layer, int head)
{
    return ((size_t)layer * kv->n_head_kv + head) * kv->n_blocks_max * kv->head_dim * kv->elem_size;
}
static inline void *kv_kmin(const resa_kv_cache *kv, int layer, int head)
{
    return (uint8_t *)kv->kmin + kv_summary_offset(kv, layer, head);
}
static inline void *kv_kmax(const resa_kv_cache *kv, int layer, int head)
{
    return (uint8_t *)kv->kmax + kv_summary_offset(kv, layer, head);
}

/* Stores n positions starting at pos0 of one layer: k and v are
 * (n, n_head_kv*head_dim) float rows, converted to the cache type. Appends
 * the stored keys to the block summaries (a rewrite of existing positions
 * must be followed by kv_cache_refresh_summaries). */
void kv_cache_write(resa_kv_cache *kv, int layer, int pos0, int n, const float *k, const float *v);
/* Recomputes the summaries of every block that holds a position in
 * [pos0, pos0+n), for all layers and heads, from the stored keys [0, T). */
void kv_cache_refresh_summaries(resa_kv_cache *kv, int pos0, int n, int T);
/* Benchmarks: positions [n_past, n_total) become copies of [0, n_past),
 * repeated; summaries are recomputed; n_past = n_total. */
void kv_cache_fill_repeat(resa_kv_cache *kv, int n_total);
/* One cached row (n elements, the cache's type) as floats. */
void kv_row_to_f32(const resa_kv_cache *kv, const void *src, float *dst, int n);

#endif
