/* SPDX-License-Identifier: MIT */
#include "kv_cache.h"

#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "cpu.h"
#include "error.h"

resa_status kv_pool_init(resa_kv_pool *p, resa_kv_type type, int n_layer, int n_head_kv,
                         int head_dim, int block_size, int n_pages, int summaries)
{
    memset(p, 0, sizeof *p);
    p->type = type == RESA_KV_F32 ? RESA_TYPE_F32 : RESA_TYPE_F16;
    p->elem_size = type == RESA_KV_F32 ? 4 : 2;
    p->n_layer = n_layer;
    p->n_head_kv = n_head_kv;
    p->head_dim = head_dim;
    p->block_size = block_size;
    p->n_pages = n_pages;
    const size_t bytes = (size_t)n_layer * n_head_kv * n_pages * block_size * head_dim * p->elem_size;
    /* calloc: the pages' memory is only touched as sequences fill them */
    p->k = calloc(1, bytes);
    p->v = calloc(1, bytes);
    if (!p->k || !p->v) {
        kv_pool_free(p);
        return error_set(RESA_ERR_NOMEM, "cannot allocate a KV cache of %d pages of %d positions (%.1f MiB)",
                         n_pages, block_size, 2.0 * (double)bytes / (1 << 20));
    }
    if (summaries) {
        const size_t n = (size_t)n_layer * n_head_kv * n_pages * head_dim * p->elem_size;
        p->kmin = calloc(1, n);
        p->kmax = calloc(1, n);
        if (!p->kmin || !p->kmax) {
            kv_pool_free(p);
            return error_set(RESA_ERR_NOMEM, "cannot allocate block summaries (%.1f MiB)",
                             2.0 * (double)n / (1 << 20));
        }
    }
    return RESA_OK;
}

void kv_pool_free(resa_kv_pool *p)
{
    free(p->k);
    free(p->v);
    free(p->kmin);
    free(p->kmax);
    p->k = p->v = p->kmin = p->kmax = NULL;
}

resa_kv_cache kv_cache_view(resa_kv_pool *p, const int *pages, int n_blocks_max)
{
    return (resa_kv_cache){ .pool = p, .pages = pages, .type = p->type, .elem_size = p->elem_size,
                            .n_layer = p->n_layer, .n_head_kv = p->n_head_kv, .head_dim = p->head_dim,
                            .block_size = p->block_size, .n_blocks_max = n_blocks_max,
                            .summaries = p->kmin != NULL };
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
    const int kv_dim = kv->n_head_kv * kv->head_dim;
    for (int t = 0; t < n; t++)
        for (int h = 0; h < kv->n_head_kv; h++) {
            store_row(kv, kv_k(kv, layer, h, pos0 + t), k + (size_t)t * kv_dim + (size_t)h * kv->head_dim);
            store_row(kv, kv_v(kv, layer, h, pos0 + t), v + (size_t)t * kv_dim + (size_t)h * kv->head_dim);
            if (kv->summaries && !rewrite)
                summarize_key(kv, layer, h, pos0 + t, (pos0 + t) % kv->block_size == 0);
        }
    if (kv->summaries && rewrite && n > 0)
        refresh_layer(kv, layer, pos0, n, pos0 + n);
}

void kv_cache_refresh_summaries(const resa_kv_cache *kv, int pos0, int n, int T)
{
    if (!kv->summaries || n <= 0)
        return;
    for (int l = 0; l < kv->n_layer; l++)
        refresh_layer(kv, l, pos0, n, T);
}

void kv_cache_fill_repeat(const resa_kv_cache *kv, int n_past, int n_total)
{
    const size_t row = (size_t)kv->head_dim * kv->elem_size;
    for (int l = 0; l < kv->n_layer; l++)
        for (int h = 0; h < kv->n_head_kv; h++)
            for (int p = n_past; p < n_total; p++) {
                memcpy(kv_k(kv, l, h, p), kv_k(kv, l, h, p % n_past), row);
                memcpy(kv_v(kv, l, h, p), kv_v(kv, l, h, p % n_past), row);
            }
    kv_cache_refresh_summaries(kv, 0, n_total, n_total);
}

void kv_row_to_f32(const resa_kv_cache *kv, const void *src, float *dst, int n)
{
    if (kv->type == RESA_TYPE_F32)
        memcpy(dst, src, (size_t)n * sizeof(float));
    else
        dot_kernels()->to_float[RESA_TYPE_F16](src, dst, n);
}
