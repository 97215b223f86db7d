#include "kv_cache.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

resa_status kv_cache_init(resa_kv_cache *kv, resa_kv_type type, int n_layer, int n_head_kv,
                          int head_dim, int n_ctx)
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
    return RESA_OK;
}

void kv_cache_free(resa_kv_cache *kv)
{
    free(kv->k);
    free(kv->v);
    kv->k = kv->v = NULL;
}

static void store_row(const resa_kv_cache *kv, void *dst, const float *src)
{
    if (kv->type == RESA_TYPE_F32) {
        memcpy(dst, src, (size_t)kv->head_dim * sizeof(float));
        return;
    }
    resa_f16 *d = dst;
    for (int i = 0; i < kv->head_dim; i++)
        d[i] = resa_f32_to_f16(src[i]);
}

void kv_cache_write(resa_kv_cache *kv, int layer, int pos0, int n, const float *k, const float *v)
{
    const int kv_dim = kv->n_head_kv * kv->head_dim;
    for (int t = 0; t < n; t++)
        for (int h = 0; h < kv->n_head_kv; h++) {
            store_row(kv, kv_k(kv, layer, h, pos0 + t), k + (size_t)t * kv_dim + (size_t)h * kv->head_dim);
            store_row(kv, kv_v(kv, layer, h, pos0 + t), v + (size_t)t * kv_dim + (size_t)h * kv->head_dim);
        }
}
