#include "kv_cache.h"

#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "cpu.h"
#include "error.h"

resa_status kv_cache_init(resa_kv_cache *kv, resa_kv_type type, int n_layer, int n_head_kv,
                          int head_dim, int n_ctx, int block_size)
{
    memset(kv, 0, sizeof *kv);
    kv->type = type == RESA_KV_F32 ? RESA_TYPE_F32 : RESA_TYPE_F16;
    kv->elem_size = type == RESA_KV_F32 ? 4 : 2;
    kv->n_layer = n_layer;
    kv->n_head_kv = n_head_kv;
    kv->head_dim = head_dim;
    kv->n_ctx = n_ctx;
    size_t bytes = (size_t)n_layer * n_head_kv * (size_t)n_ctx * head_dim * kv->elem_size;
    /* calloc: pages are only touched as the context fills */
    kv->k = calloc(1, bytes);
    kv->v = calloc(1, bytes);
    if (!kv->k || !kv->v) {
        kv_cache_free(kv);
        return resa_fail(RESA_ERR_NOMEM, "cannot allocate a %d-token KV cache (%.1f MiB)", n_ctx,
                         2.0 * (double)bytes / (1 << 20));
    }
    if (block_size > 0) {
        kv->block_size = block_size;
        kv->n_blocks_max = (n_ctx + block_size - 1) / block_size;
        const size_t n = (size_t)n_layer * n_head_kv * kv->n_blocks_max * head_dim;
        kv->kmin = malloc(n * kv->elem_size);
        kv->kmax = malloc(n * kv->elem_size);
        if (!kv->kmin || !kv->kmax) {
            kv_cache_free(kv);
            return resa_fail(RESA_ERR_NOMEM, "cannot allocate block summaries (%.1f MiB)",
                             2.0 * (double)n * kv->elem_size / (1 << 20));
        }
    }
    return RESA_OK;
}

void kv_cache_free(resa_kv_cache *kv)
{
    free(kv->k);
    free(kv->v);
    free(kv->kmin);
    free(kv->kmax);
    kv->k = kv->v = NULL;
    kv->kmin = kv->kmax = NULL;
}

static void store_row(const resa_kv_cache *kv, void *dst, const float *src)
{
    if (kv->type == RESA_TYPE_F32) {
        memcpy(dst, src, (size_t)kv->head_dim * sizeof(float));
        return;
    }
    resa_elem()->f32_to_f16(src, dst, kv->head_dim); /* round to nearest even, every tier */
}

/* Folds the stored key of (layer, head, pos) into its block's summary: as
 * stored (rounded), so summaries equal a recomputation from the cache. */
static void summarize_key(const resa_kv_cache *kv, int layer, int head, int pos, int first)
{
    const int d = kv->head_dim;
    const size_t off = (size_t)(pos / kv->block_size) * d * kv->elem_size;
    uint8_t *mn = (uint8_t *)kv_kmin(kv, layer, head) + off, *mx = (uint8_t *)kv_kmax(kv, layer, head) + off;
    if (kv->type == RESA_TYPE_F32) {
        resa_attn()->summary_add((float *)(void *)mn, (float *)(void *)mx, (const float *)kv_k(kv, layer, head, pos),
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

void kv_cache_write(resa_kv_cache *kv, int layer, int pos0, int n, const float *k, const float *v)
{
    const int kv_dim = kv->n_head_kv * kv->head_dim;
    for (int t = 0; t < n; t++)
        for (int h = 0; h < kv->n_head_kv; h++) {
            store_row(kv, kv_k(kv, layer, h, pos0 + t), k + (size_t)t * kv_dim + (size_t)h * kv->head_dim);
            store_row(kv, kv_v(kv, layer, h, pos0 + t), v + (size_t)t * kv_dim + (size_t)h * kv->head_dim);
            if (kv->kmin)
                summarize_key(kv, layer, h, pos0 + t, (pos0 + t) % kv->block_size == 0);
        }
}

/* Only the touched blocks are rebuilt (O(f) rows per rectification), with
 * the same kernel as the appends; blocks_recompute() in blocks.c is the
 * plain statement of the same thing, which the tests compare with. */
void kv_cache_refresh_summaries(resa_kv_cache *kv, int pos0, int n, int T)
{
    if (!kv->kmin || n <= 0)
        return;
    const int first = pos0 / kv->block_size, last = (pos0 + n - 1) / kv->block_size;
    for (int l = 0; l < kv->n_layer; l++)
        for (int h = 0; h < kv->n_head_kv; h++)
            for (int i = first; i <= last && i * kv->block_size < T; i++) {
                const int p0 = i * kv->block_size;
                const int p1 = p0 + kv->block_size < T ? p0 + kv->block_size : T;
                for (int p = p0; p < p1; p++)
                    summarize_key(kv, l, h, p, p == p0);
            }
}

void kv_cache_fill_repeat(resa_kv_cache *kv, int n_total)
{
    const int n = kv->n_past;
    const size_t row = (size_t)kv->head_dim * kv->elem_size;
    for (int l = 0; l < kv->n_layer; l++)
        for (int h = 0; h < kv->n_head_kv; h++)
            for (int p = n; p < n_total; p++) {
                memcpy(kv_k(kv, l, h, p), kv_k(kv, l, h, p % n), row);
                memcpy(kv_v(kv, l, h, p), kv_v(kv, l, h, p % n), row);
            }
    kv->n_past = n_total;
    kv_cache_refresh_summaries(kv, 0, n_total, n_total);
}

void kv_row_to_f32(const resa_kv_cache *kv, const void *src, float *dst, int n)
{
    if (kv->type == RESA_TYPE_F32)
        memcpy(dst, src, (size_t)n * sizeof(float));
    else
        resa_dot()->to_float[RESA_TYPE_F16](src, dst, n);
}
