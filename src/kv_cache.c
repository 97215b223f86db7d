/* SPDX-License-Identifier: MIT */
#include "kv_cache.h"

#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "cpu.h"
#include "error.h"

/* Layers of each region: the windowed ones go to the ring when there is one. */
static int ring_layers(const resa_kv_geometry *g)
{
    int n = 0;
    for (int l = 0; g->ring_blocks > 0 && g->windowed && l < g->n_layer; l++)
        n += g->windowed[l] != 0;
    return n;
}

kv_pool_size kv_pool_bytes(const resa_kv_geometry *g)
{
    const size_t elem = g->type == RESA_KV_F32 ? 4 : 2, row = (size_t)g->n_head_kv * g->head_dim * elem;
    const int n_ring = ring_layers(g), n_main = g->n_layer - n_ring;
    const size_t ring_pages = n_ring ? (size_t)g->n_ring_pages : 0;
    return (kv_pool_size){ .main = row * g->block_size * (size_t)n_main * g->n_pages,
                           .ring = row * g->block_size * (size_t)n_ring * ring_pages,
                           .summary = g->summaries ? row * (size_t)n_main * g->n_pages : 0 };
}

resa_status kv_pool_init_geometry(resa_kv_pool *p, const resa_kv_geometry *g)
{
    memset(p, 0, sizeof *p);
    p->type = g->type == RESA_KV_F32 ? RESA_TYPE_F32 : RESA_TYPE_F16;
    p->elem_size = g->type == RESA_KV_F32 ? 4 : 2;
    p->n_layer = g->n_layer;
    p->n_head_kv = g->n_head_kv;
    p->head_dim = g->head_dim;
    p->block_size = g->block_size;
    p->n_pages = g->n_pages;
    p->n_ring_layers = ring_layers(g);
    p->n_main_layers = g->n_layer - p->n_ring_layers;
    if (p->n_ring_layers) {
        p->ring_blocks = g->ring_blocks;
        p->n_ring_pages = g->n_ring_pages;
        if (!(p->slot = malloc((size_t)g->n_layer * sizeof *p->slot)))
            return error_set(RESA_ERR_NOMEM, "out of memory for the KV pool's layer map");
        for (int l = 0, main = 0, ring = 0; l < g->n_layer; l++)
            p->slot[l] = g->windowed[l] ? -1 - ring++ : main++;
    }
    const kv_pool_size sz = kv_pool_bytes(g);
    const size_t bytes = sz.main, ring_bytes = sz.ring;
    /* calloc: the pages' memory is only touched as sequences fill them */
    p->k = calloc(1, bytes ? bytes : 1);
    p->v = calloc(1, bytes ? bytes : 1);
    if (p->n_ring_layers) {
        p->ring_k = calloc(1, ring_bytes);
        p->ring_v = calloc(1, ring_bytes);
    }
    if (!p->k || !p->v || (p->n_ring_layers && (!p->ring_k || !p->ring_v))) {
        kv_pool_free(p);
        return error_set(RESA_ERR_NOMEM, "cannot allocate a KV cache of %d pages of %d positions (%.1f MiB)",
                         g->n_pages, g->block_size, 2.0 * (double)(bytes + ring_bytes) / (1 << 20));
    }
    if (g->summaries) {
        const size_t n = sz.summary;
        p->kmin = calloc(1, n ? n : 1);
        p->kmax = calloc(1, n ? n : 1);
        if (!p->kmin || !p->kmax) {
            kv_pool_free(p);
            return error_set(RESA_ERR_NOMEM, "cannot allocate block summaries (%.1f MiB)",
                             2.0 * (double)n / (1 << 20));
        }
    }
    return RESA_OK;
}

resa_status kv_pool_init(resa_kv_pool *p, resa_kv_type type, int n_layer, int n_head_kv,
                         int head_dim, int block_size, int n_pages, int summaries)
{
    const resa_kv_geometry g = { .type = type, .n_layer = n_layer, .n_head_kv = n_head_kv,
                                 .head_dim = head_dim, .block_size = block_size, .n_pages = n_pages,
                                 .summaries = summaries };
    return kv_pool_init_geometry(p, &g);
}

void kv_pool_free(resa_kv_pool *p)
{
    free(p->k);
    free(p->v);
    free(p->kmin);
    free(p->kmax);
    free(p->ring_k);
    free(p->ring_v);
    free(p->slot);
    p->k = p->v = p->kmin = p->kmax = p->ring_k = p->ring_v = NULL;
    p->slot = NULL;
}

resa_kv_cache kv_cache_view(resa_kv_pool *p, const int *pages, int n_blocks_max)
{
    return (resa_kv_cache){ .pool = p, .pages = pages, .type = p->type, .elem_size = p->elem_size,
                            .n_layer = p->n_layer, .n_head_kv = p->n_head_kv, .head_dim = p->head_dim,
                            .block_size = p->block_size, .n_blocks_max = n_blocks_max,
                            .summaries = p->kmin != NULL, .ring = NULL, .ring_lo = 0 };
}

static void store_row(const resa_kv_cache *kv, void *dst, const float *src)
{
    if (kv->type == RESA_TYPE_F32) {
        memcpy(dst, src, (size_t)kv->head_dim * sizeof(float));
        return;
    }
    elem_kernels()->f32_to_f16(src, dst, kv->head_dim); /* round to nearest even, every tier */
}

/* Folds the stored key of (layer, head, pos) into its block's summary: as
 * stored (rounded), so summaries equal a recomputation from the cache. */
static void summarize_key(const resa_kv_cache *kv, int layer, int head, int pos, int first)
{
    const int d = kv->head_dim, block = pos / kv->block_size;
    uint8_t *mn = kv_kmin(kv, layer, head, block), *mx = kv_kmax(kv, layer, head, block);
    if (kv->type == RESA_TYPE_F32) {
        attn_kernels()->summary_add((float *)(void *)mn, (float *)(void *)mx, (const float *)kv_k(kv, layer, head, pos),
                                 d, first);
        return;
    }
    /* f16: compare as floats, keep the winner's f16 bits (no rounding back) */
    const resa_f16 *key = kv_k(kv, layer, head, pos);
    resa_f16 *mn16 = (resa_f16 *)(void *)mn, *mx16 = (resa_f16 *)(void *)mx;
    if (first) {
        memcpy(mn16, key, (size_t)d * sizeof *key);
        memcpy(mx16, key, (size_t)d * sizeof *key);
        return;
    }
    float stored[RESA_MAX_HEAD_DIM], fmn[RESA_MAX_HEAD_DIM], fmx[RESA_MAX_HEAD_DIM];
    kv_row_to_f32(kv, key, stored, d);
    kv_row_to_f32(kv, mn16, fmn, d);
    kv_row_to_f32(kv, mx16, fmx, d);
    for (int j = 0; j < d; j++) { /* the comparisons of summary_add */
        if (stored[j] < fmn[j])
            mn16[j] = key[j];
        if (stored[j] > fmx[j])
            mx16[j] = key[j];
    }
}

/* The summaries of blocks holding [pos0, pos0+n) of one layer, rebuilt
 * from the keys [0, T) with the same kernel as the appends (O(n) rows, not
 * O(T)); blocks_recompute() in blocks.c is the plain statement of the same
 * thing, which the tests compare with. */
static void refresh_layer(const resa_kv_cache *kv, int layer, int pos0, int n, int T)
{
    if (!kv_layer_summarized(kv, layer))
        return;
    const int b = kv->block_size, first = pos0 / b, last = (pos0 + n - 1) / b;
    for (int h = 0; h < kv->n_head_kv; h++)
        for (int i = first; i <= last && i * b < T; i++) {
            const int p1 = (i + 1) * b < T ? (i + 1) * b : T;
            for (int p = i * b; p < p1; p++)
                summarize_key(kv, layer, h, p, p == i * b);
        }
}

void kv_cache_write(const resa_kv_cache *kv, int layer, int pos0, int n, const float *k, const float *v,
                    int rewrite)
{
    const int kv_dim = kv->n_head_kv * kv->head_dim, summarized = kv_layer_summarized(kv, layer);
    for (int t = 0; t < n; t++)
        for (int h = 0; h < kv->n_head_kv; h++) {
            store_row(kv, kv_k(kv, layer, h, pos0 + t), k + (size_t)t * kv_dim + (size_t)h * kv->head_dim);
            store_row(kv, kv_v(kv, layer, h, pos0 + t), v + (size_t)t * kv_dim + (size_t)h * kv->head_dim);
            if (summarized && !rewrite)
                summarize_key(kv, layer, h, pos0 + t, (pos0 + t) % kv->block_size == 0);
        }
    if (summarized && rewrite && n > 0)
        refresh_layer(kv, layer, pos0, n, pos0 + n);
}

void kv_cache_refresh_summaries(const resa_kv_cache *kv, int pos0, int n, int T)
{
    if (!kv->summaries || n <= 0)
        return;
    for (int l = 0; l < kv->n_layer; l++)
        refresh_layer(kv, l, pos0, n, T);
}

/* A ring layer's fill: the positions of [n_past, n_total) its ring keeps
 * afterwards, [lo, n_total), as copies of p % n_past where the ring held
 * that row, else of the held rows [ring_lo, n_past) repeated. The held rows
 * are copied out first, since the writes may land on their pages. */
static void fill_ring_layer(const resa_kv_cache *kv, int l, int n_past, int n_total, uint8_t *held)
{
    const size_t row = (size_t)kv->head_dim * kv->elem_size;
    const int held_lo = kv->ring_lo, n_held = n_past - held_lo;
    const int lo = kv_ring_lo_after(kv->pool, n_past, n_total - 1);
    for (int h = 0; h < kv->n_head_kv; h++) {
        for (int p = held_lo; p < n_past; p++) {
            memcpy(held + (size_t)(p - held_lo) * 2 * row, kv_k(kv, l, h, p), row);
            memcpy(held + ((size_t)(p - held_lo) * 2 + 1) * row, kv_v(kv, l, h, p), row);
        }
        for (int p = lo; p < n_total; p++) {
            const int src = p % n_past >= held_lo ? p % n_past : held_lo + p % n_past % n_held;
            memcpy(kv_k(kv, l, h, p), held + (size_t)(src - held_lo) * 2 * row, row);
            memcpy(kv_v(kv, l, h, p), held + ((size_t)(src - held_lo) * 2 + 1) * row, row);
        }
    }
}

resa_status kv_cache_fill_repeat(const resa_kv_cache *kv, int n_past, int n_total)
{
    const size_t row = (size_t)kv->head_dim * kv->elem_size;
    uint8_t *held = NULL;
    if (kv->pool->n_ring_layers && !(held = malloc((size_t)(n_past - kv->ring_lo) * 2 * row)))
        return error_set(RESA_ERR_NOMEM, "out of memory for a cache fill");
    for (int l = 0; l < kv->n_layer; l++) {
        if (kv_layer_in_ring(kv->pool, l)) {
            fill_ring_layer(kv, l, n_past, n_total, held);
            continue;
        }
        for (int h = 0; h < kv->n_head_kv; h++)
            for (int p = n_past; p < n_total; p++) {
                memcpy(kv_k(kv, l, h, p), kv_k(kv, l, h, p % n_past), row);
                memcpy(kv_v(kv, l, h, p), kv_v(kv, l, h, p % n_past), row);
            }
    }
    free(held);
    kv_cache_refresh_summaries(kv, 0, n_total, n_total);
    return RESA_OK;
}

void kv_row_to_f32(const resa_kv_cache *kv, const void *src, float *dst, int n)
{
    if (kv->type == RESA_TYPE_F32)
        memcpy(dst, src, (size_t)n * sizeof(float));
    else
        dot_kernels()->to_float[RESA_TYPE_F16](src, dst, n);
}
