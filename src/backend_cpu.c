/* The CPU backend: OpenMP threads at the call sites, SIMD kernels from simd/,
 * no BLAS (prefill and rectification must give decode's bits, DESIGN.md §1). */
#include <stdlib.h>

#include "attention.h"
#include "backend.h"
#include "error.h"
#include "matmul.h"
#include "select.h"
#include "threads.h"

typedef struct cpu_backend {
    resa_backend base; /* first: the interface */
    int n_threads;
    resa_matmul_scratch mm;
    resa_attn_scratch attn;
    resa_select_scratch select;
} cpu_backend;

static resa_status cpu_matmul(resa_backend *be, const resa_weight *w, const float *x, int n, float *y)
{
    cpu_backend *c = (cpu_backend *)be;
    return matmul_cpu(&c->mm, c->n_threads, w, x, n, y);
}

static resa_status cpu_attention(resa_backend *be, const resa_kv_cache *kv, int layer, const float *q,
                                 int n, int pos0, int n_head, float *out)
{
    cpu_backend *c = (cpu_backend *)be;
    return attention_cpu(&c->attn, c->n_threads, kv, layer, q, n, pos0, n_head, out);
}

static resa_status cpu_select_blocks(resa_backend *be, const resa_kv_cache *kv, int layer,
                                     const float *q, int pos, int n_head,
                                     const resa_sparse_cfg *cfg, int *sel, int *n_sel)
{
    cpu_backend *c = (cpu_backend *)be;
    return select_blocks_cpu(&c->select, c->n_threads, kv, layer, q, pos, n_head, cfg, sel, n_sel);
}

static resa_status cpu_attention_sparse(resa_backend *be, const resa_kv_cache *kv, int layer,
                                        const float *q, int pos, int n_head, const int *sel,
                                        const int *n_sel, float *out)
{
    cpu_backend *c = (cpu_backend *)be;
    return attention_sparse_cpu(&c->attn, c->n_threads, kv, layer, q, pos, n_head, sel, n_sel, out);
}

static void cpu_refresh_summaries(resa_backend *be, resa_kv_cache *kv, int pos0, int n, int T)
{
    (void)be;
    kv_cache_refresh_summaries(kv, pos0, n, T);
}

static void cpu_free(resa_backend *be)
{
    cpu_backend *c = (cpu_backend *)be;
    matmul_scratch_free(&c->mm);
    attn_scratch_free(&c->attn);
    select_scratch_free(&c->select);
    free(c);
}

resa_status resa_backend_cpu_new(int n_threads, resa_backend **out)
{
    cpu_backend *c = calloc(1, sizeof *c);
    if (!c)
        return resa_fail(RESA_ERR_NOMEM, "out of memory");
    c->base.name = "cpu";
    c->base.matmul = cpu_matmul;
    c->base.attention = cpu_attention;
    c->base.select_blocks = cpu_select_blocks;
    c->base.attention_sparse = cpu_attention_sparse;
    c->base.refresh_summaries = cpu_refresh_summaries;
    c->base.free = cpu_free;
    c->n_threads = n_threads > 0 ? n_threads : resa_cpu_count();
    *out = &c->base;
    return RESA_OK;
}
