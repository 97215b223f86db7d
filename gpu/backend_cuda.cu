/* SPDX-License-Identifier: MIT */
/* The CUDA backend module (backend-cuda.so): src/backend.h over device
 * memory, loaded by libresa with dlopen (src/backend_module.h,
 * docs/design.md §3.9). The scheduler and forward pass are the CPU's; this
 * file uploads the weights once, keeps the activations and the paged KV
 * pool on the device, turns each pass into a few small tables (one upload
 * per pass) and launches the kernels of kernels_*.cuh on one stream.
 * Decode passes run as a CUDA graph replayed while their launches repeat;
 * products of many rows run on tensor cores through cuBLAS. */
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "backend_module.h"
#include "rope_angles.h"
#include "kernels_kv.cuh"

namespace {

struct wmap {
    const void *host;
    size_t off, bytes;
    __half *split; /* a matrix's split f16 copy (gemm_tc), when kept */
};

/* Passes of at most this many rows multiply by the GEMV (in launches of
 * GEMV_ROWS rows: each row's sum runs in one order whatever the pass holds,
 * and the weight is read once per GEMV_ROWS rows); more rows go to the
 * tensor cores, where the weight's conversion pays for itself. */
#define GEMV_MAX_ROWS 32

/* gemm_tc multiplies rows in chunks of this many (the last one padded; the
 * activation buffers have room): every product of a matrix then has one
 * shape, so cuBLAS takes one kernel for it, and a row's bits do not depend
 * on how many rows share its pass (a kernel's sum over k runs in one order
 * for every output it writes). */
#define TC_ROWS 128

struct cuda_backend {
    resa_backend base; /* first: the interface */
    const resa_backend_host *host;
    const resa_model *model;
    resa_kv_pool pool; /* k, v, kmin, kmax are device pointers */
    kv_geom geom;
    cudaStream_t st;
    uint8_t *weights;  /* one allocation, every tensor at its wmap offset */
    std::vector<wmap> wm; /* sorted by host pointer */
    float *act[ACT_COUNT];
    int width[ACT_COUNT];
    float *logit_rows, *logits; /* (n_rows_max, n_embd), (n_rows_max, n_vocab) */
    /* the pass's tables: host copies and their device image */
    std::vector<int> h_meta;
    std::vector<float> h_cs;
    int *d_meta;
    size_t meta_cap;
    float *d_cs;
    int off_tokens, off_rows, off_pt, off_folds, off_chains, off_sels, off_lrows;
    int n_chains, n_sels, max_parts, key_stride;
    size_t parts_total, sel_total;
    float *pm, *pl, *po;
    size_t part_cap; /* parts the partial buffers hold */
    unsigned long long *keys;
    size_t keys_cap;
    int *selbuf;
    size_t sel_cap;
    int *aux;          /* refresh and fill tables */
    size_t aux_cap;
    const resa_pass *pass;
    int timed;
    /* timed passes (resa bench): events around each layer's selection and
     * attention, read after the pass's final synchronization; the i-th
     * record of a pass always takes events[i], so a replayed graph records
     * the same events */
    std::vector<cudaEvent_t> events;
    int n_events;
    /* products of many rows (gemm_tc) */
    cublasHandle_t blas;
    int tiled;               /* RESA_CUDA_GEMM=tiled: the CUDA-core k_gemm instead */
    __half *wsplit;          /* a weight's split copy when none is kept */
    size_t wsplit_cap;
    int rows_cap;            /* n_rows_max rounded up to TC_ROWS: the rows every activation buffer holds */
    __half *xsplit;          /* the activations' split copy (rows_cap * 3 * widest) */
    int *xexp;               /* their rows' scales */
    /* CUDA graphs: a decode pass's launches are deferred (ops), keyed by
     * every launch's kernel, shape and arguments (key); the pass replays the
     * graph made from the last pass when the keys are equal (the per-pass
     * tables change in device memory, not in the arguments), else captures
     * the launches and updates the graph. RESA_CUDA_GRAPHS=0 turns it off. */
    int graphs, defer;
    std::vector<std::function<void(cudaStream_t)>> ops;
    std::string key, gkey;
    cudaGraphExec_t gexec;
    long long graph_launches, graph_captures; /* for RESA_CUDA_GRAPHS_STATS */
};

cuda_backend *cb(resa_backend *be) { return (cuda_backend *)be; }

resa_status cu_fail(cuda_backend *c, const char *what, cudaError_t e)
{
    return c->host->fail(RESA_ERR_UNSUPPORTED, "CUDA backend: %s: %s", what, cudaGetErrorString(e));
}

#define CK(call)                                  \
    do {                                          \
        cudaError_t e_ = (call);                  \
        if (e_ != cudaSuccess)                    \
            return cu_fail(c, #call, e_);         \
    } while (0)

template <typename V> void key_add(std::string &k, const V &v)
{
    k.append((const char *)&v, sizeof v);
}

/* A kernel launch on the backend's stream: at once, or, in a deferred pass,
 * appended to the pass's ops with its key (kernel, shape, argument bytes:
 * pointers and scalars; the kernels read everything else from device
 * memory). */
template <typename... P, typename... A>
cudaError_t launch(cuda_backend *c, void (*k)(P...), dim3 grid, dim3 block, size_t shm, A... args)
{
    if (!c->defer) {
        k<<<grid, block, shm, c->st>>>(args...);
        return cudaGetLastError();
    }
    key_add(c->key, (uintptr_t)(void *)k);
    key_add(c->key, grid);
    key_add(c->key, block);
    key_add(c->key, shm);
    (key_add(c->key, args), ...);
    c->ops.push_back([=](cudaStream_t s) { k<<<grid, block, shm, s>>>(args...); });
    return cudaSuccess;
}

/* Runs the deferred launches: the last graph again when the key is the
 * same, else a capture of them that updates (or replaces) it. */
resa_status flush(cuda_backend *c)
{
    if (c->ops.empty())
        return RESA_OK;
    if (!(c->gexec && c->key == c->gkey)) {
        cudaGraph_t g = nullptr;
        CK(cudaStreamBeginCapture(c->st, cudaStreamCaptureModeThreadLocal));
        for (auto &f : c->ops)
            f(c->st);
        const cudaError_t le = cudaGetLastError(), ee = cudaStreamEndCapture(c->st, &g);
        c->ops.clear();
        if (le != cudaSuccess || ee != cudaSuccess) {
            if (g)
                cudaGraphDestroy(g);
            c->gkey.clear();
            return cu_fail(c, "capturing a decode pass", le != cudaSuccess ? le : ee);
        }
        if (c->gexec) {
            cudaGraphExecUpdateResultInfo info;
            if (cudaGraphExecUpdate(c->gexec, g, &info) != cudaSuccess) {
                cudaGetLastError(); /* a new topology: instantiate anew */
                cudaGraphExecDestroy(c->gexec);
                c->gexec = nullptr;
            }
        }
        cudaError_t e = cudaSuccess;
        if (!c->gexec)
            e = cudaGraphInstantiate(&c->gexec, g, 0);
        cudaGraphDestroy(g);
        if (e != cudaSuccess) {
            c->gexec = nullptr;
            c->gkey.clear();
            return cu_fail(c, "instantiating a decode graph", e);
        }
        c->gkey.swap(c->key);
        c->graph_captures++;
    }
    c->ops.clear();
    c->key.clear();
    c->graph_launches++;
    CK(cudaGraphLaunch(c->gexec, c->st));
    return RESA_OK;
}

/* Grows a device buffer to hold n elements of `size` (contents dropped). */
template <typename T> cudaError_t grow(T **p, size_t *cap, size_t n)
{
    if (n <= *cap)
        return cudaSuccess;
    n = n + n / 2 + 64;
    cudaFree(*p);
    *p = nullptr;
    *cap = 0;
    cudaError_t e = cudaMalloc((void **)p, n * sizeof(T));
    if (e == cudaSuccess)
        *cap = n;
    return e;
}

const wmap *wmap_of(const cuda_backend *c, const void *host)
{
    auto it = std::lower_bound(c->wm.begin(), c->wm.end(), host,
                               [](const wmap &w, const void *h) { return (uintptr_t)w.host < (uintptr_t)h; });
    if (it == c->wm.end() || it->host != host)
        return nullptr;
    return &*it;
}

const uint8_t *dev_of(const cuda_backend *c, const void *host)
{
    const wmap *w = wmap_of(c, host);
    return w ? c->weights + w->off : nullptr;
}

/* blocks.c's budget (docs/design.md §1 step 3): the scheduler and the CPU
 * use the same function, so the count of selected blocks is known here. */
int budget(int n_blocks, float ratio, int n_min)
{
    if (n_blocks <= 0)
        return 0;
    if (!(ratio > 0.0f))
        ratio = 0.0f;
    if (ratio > 1.0f)
        ratio = 1.0f;
    const double x = (double)ratio * n_blocks;
    int k = (int)ceil(x - x * 0x1p-24);
    const int floor_k = n_min < n_blocks ? n_min : n_blocks;
    k = k < floor_k ? floor_k : k;
    k = k < 0 ? 0 : k;
    return k > n_blocks ? n_blocks : k;
}

/* Parts a row's keys are split over: a function of the key count alone, so
 * a row's arithmetic does not depend on the rest of the pass. */
int parts_for(int nkeys)
{
    const int p = (nkeys + 63) / 64;
    return p < 1 ? 1 : p > MAX_PARTS ? MAX_PARTS : p;
}

template <typename S> int push(std::vector<int> &v, const S &s)
{
    static_assert(sizeof(S) % sizeof(int) == 0, "int-sized fields only");
    const int off = (int)v.size();
    const int *p = (const int *)&s;
    v.insert(v.end(), p, p + sizeof(S) / sizeof(int));
    return off;
}

/* The pass's tables: tokens, each row's attention plan, the sparse rows'
 * selection work, the summary folds, chained per page in segment order (a
 * sequence's rectification and its next decode row may share a pass and a
 * block), the logits' rows, and last each segment's page table (the blocks
 * it touches): the page tables grow with the sequences, and last they move
 * no other table, so a decode pass's launch arguments repeat from step to
 * step and its graph is replayed. */
resa_status cuda_begin(resa_backend *be, const resa_pass *pass)
{
    cuda_backend *c = cb(be);
    const resa_hparams *hp = &c->model->hp;
    const int n = pass->n_rows, bs = c->pool.block_size, n_kv = hp->n_head_kv;
    if (n < 1 || n > be->n_rows_max)
        return c->host->fail(RESA_ERR_ARG, "a pass of %d rows (at most %d)", n, be->n_rows_max);
    /* the launches of a pass that had no logits read this pass's tables */
    resa_status fst = flush(c);
    if (fst)
        return fst;
    c->n_events = 0; /* a timed pass without logits: its events are dropped */
    c->pass = pass;
    int all_decode = n <= GEMV_MAX_ROWS;
    for (int s = 0; s < pass->n_segs; s++)
        all_decode &= pass->segs[s].kind == SEG_DECODE;
    c->defer = c->graphs && all_decode;
    std::vector<int> &m = c->h_meta;
    m.clear();
    c->off_tokens = 0;
    m.insert(m.end(), pass->tokens, pass->tokens + n);
    std::vector<int> pt_off(pass->n_segs);
    int pt_len = 0;
    for (int s = 0; s < pass->n_segs; s++) {
        const resa_seg *g = &pass->segs[s];
        pt_off[s] = pt_len;
        pt_len += (g->pos0 + g->n + bs - 1) / bs;
    }
    std::vector<gpu_row> rows(n);
    std::vector<gpu_select> sels;
    c->parts_total = c->sel_total = 0;
    c->max_parts = 1;
    c->key_stride = 1;
    c->timed = 0;
    for (int s = 0; s < pass->n_segs; s++) {
        const resa_seg *g = &pass->segs[s];
        c->timed |= g->timings != nullptr;
        for (int r = 0; r < g->n; r++) {
            const int t = g->row0 + r, pos = pass->pos[t], T = pos + 1, M = (T + bs - 1) / bs;
            gpu_row R = { pt_off[s], pos, T, 0, 0, -1, M };
            if (g->kind == SEG_DECODE && g->sparse) {
                const resa_sparse_cfg *cf = g->cfg;
                /* the plan needs each row's key count now; an adaptive count
                 * is known only after selection (docs/design.md §1, 3') */
                if (cf->budget == RESA_BUDGET_ADAPTIVE)
                    return c->host->fail(RESA_ERR_UNSUPPORTED, "the CUDA backend has no adaptive budget yet: "
                                                               "use --budget fixed or --backend cpu");
                const int k = budget(M, cf->ratio, cf->min_blocks);
                const int n_local = cf->local_blocks < M ? cf->local_blocks : M;
                const int total = std::min(M, std::max(k, n_local));
                if (total < M) { /* else every block: the dense arithmetic */
                    R.nkeys = total * bs - (M * bs - T);
                    R.sel_off = (int)c->sel_total;
                    c->sel_total += (size_t)n_kv * M;
                    sels.push_back({ t, M, total, cf->local_blocks });
                    c->key_stride = std::max(c->key_stride, M);
                }
            }
            R.n_parts = parts_for(R.nkeys);
            R.part_off = (int)c->parts_total; /* in block parts: one per ATTN_WARPS parts */
            c->parts_total += (R.n_parts + ATTN_WARPS - 1) / ATTN_WARPS;
            c->max_parts = std::max(c->max_parts, R.n_parts);
            rows[t] = R;
        }
    }
    c->off_rows = (int)m.size();
    for (const gpu_row &R : rows)
        push(m, R);
    c->off_sels = (int)m.size();
    for (const gpu_select &S : sels)
        push(m, S);
    c->n_sels = (int)sels.size();
    /* folds, grouped per (page table, block) in segment order */
    std::vector<std::vector<gpu_fold>> chains;
    std::vector<std::pair<const int *, int>> chain_key;
    if (c->pool.kmin)
        for (int s = 0; s < pass->n_segs; s++) {
            const resa_seg *g = &pass->segs[s];
            const int rewrite = g->kind == SEG_RECTIFY;
            for (int b = g->pos0 / bs; b <= (g->pos0 + g->n - 1) / bs; b++) {
                const gpu_fold F = { pt_off[s], b, rewrite ? b * bs : std::max(g->pos0, b * bs),
                                     std::min((b + 1) * bs, g->pos0 + g->n) };
                const std::pair<const int *, int> key(g->kv.pages, b);
                size_t ci = 0;
                while (ci < chain_key.size() && chain_key[ci] != key)
                    ci++;
                if (ci == chain_key.size()) {
                    chain_key.push_back(key);
                    chains.emplace_back();
                }
                chains[ci].push_back(F);
            }
        }
    c->n_chains = (int)chains.size();
    c->off_folds = (int)m.size();
    std::vector<int> starts(1, 0);
    for (const auto &ch : chains) {
        for (const gpu_fold &F : ch)
            push(m, F);
        starts.push_back(starts.back() + (int)ch.size());
    }
    c->off_chains = (int)m.size();
    m.insert(m.end(), starts.begin(), starts.end());
    c->off_lrows = (int)m.size(); /* logits' rows, filled by cuda_logits */
    m.resize(m.size() + n);
    c->off_pt = (int)m.size();
    for (int s = 0; s < pass->n_segs; s++) {
        const resa_seg *g = &pass->segs[s];
        const int nb = (g->pos0 + g->n + bs - 1) / bs;
        m.insert(m.end(), g->kv.pages, g->kv.pages + nb);
    }
    /* a stride of whole 64-block steps: it changes (and with it the launch
     * arguments) once per 64 blocks of the deepest sparse row, not once per
     * block */
    c->key_stride = (c->key_stride + 63) / 64 * 64;
    /* RoPE angles, the CPU backend's recipe with the file's scaling (linear,
     * YaRN, rope_freqs); one table: windowed models never get here (cuda_rope) */
    c->h_cs.resize((size_t)n * hp->n_rot);
    const rope_recipe rope = rope_recipe_of(hp, c->model->rope_freqs, false);
    for (int t = 0; t < n; t++)
        rope_angles(c->h_cs.data() + (size_t)t * hp->n_rot, pass->pos[t], hp->n_rot, &rope);
    CK(grow(&c->d_meta, &c->meta_cap, m.size()));
    CK(cudaMemcpyAsync(c->d_meta, m.data(), m.size() * sizeof(int), cudaMemcpyHostToDevice, c->st));
    CK(cudaMemcpyAsync(c->d_cs, c->h_cs.data(), c->h_cs.size() * sizeof(float), cudaMemcpyHostToDevice, c->st));
    const size_t part_elems = c->parts_total * n_kv * (hp->n_head / n_kv);
    if (part_elems > c->part_cap) { /* m, l: part_cap each; o: part_cap * head_dim */
        cudaFree(c->pm);
        cudaFree(c->pl);
        cudaFree(c->po);
        c->pm = c->pl = c->po = nullptr;
        c->part_cap = 0;
        const size_t cap = part_elems + part_elems / 2 + 64;
        CK(cudaMalloc((void **)&c->pm, cap * sizeof(float)));
        CK(cudaMalloc((void **)&c->pl, cap * sizeof(float)));
        CK(cudaMalloc((void **)&c->po, cap * hp->head_dim * sizeof(float)));
        c->part_cap = cap;
    }
    if (c->n_sels) {
        CK(grow(&c->keys, &c->keys_cap, (size_t)c->n_sels * n_kv * c->key_stride));
        CK(grow(&c->selbuf, &c->sel_cap, c->sel_total));
    }
    const resa_weight *e = &c->model->tok_embd;
    CK(launch(c, k_embed, n, 64, 0, dev_of(c, e->data), e->row_bytes, e->type, (const int32_t *)c->d_meta + c->off_tokens,
              hp->n_embd, c->act[ACT_X]));
    return RESA_OK;
}

resa_status cuda_rmsnorm(resa_backend *be, resa_act dst, resa_act src, const float *w)
{
    cuda_backend *c = cb(be);
    const resa_hparams *hp = &c->model->hp;
    CK(launch(c, k_rmsnorm, c->pass->n_rows, 256, 0, c->act[dst], (const float *)c->act[src], (const int *)nullptr,
              (const float *)dev_of(c, w), hp->n_embd, hp->rms_eps));
    return RESA_OK;
}

unsigned blocks_of(size_t n, unsigned per) { return (unsigned)((n + per - 1) / per); }

resa_status blas_fail(cuda_backend *c, cublasStatus_t s)
{
    return c->host->fail(RESA_ERR_UNSUPPORTED, "CUDA backend: cuBLAS: %s", cublasGetStatusString(s));
}

/* The split f16 copy of a weight: kept since load, or written into scratch
 * now (when the kept copies would not fit the card). */
resa_status weight_split(cuda_backend *c, const wmap *m, const resa_weight *w, const __half **out)
{
    if (m->split) {
        *out = m->split;
        return RESA_OK;
    }
    const size_t elems = (size_t)w->rows * w->cols;
    CK(grow(&c->wsplit, &c->wsplit_cap, 3 * elems));
    CK(launch(c, k_split_weight, blocks_of(elems / 8, 256), 256, 0, (const uint8_t *)c->weights + m->off,
              w->row_bytes, w->type, (int)w->rows, (int)w->cols, c->wsplit));
    *out = c->wsplit;
    return RESA_OK;
}

/* y = x . W^T on tensor cores, split f16 (kernels_matmul.cuh): in cuBLAS's
 * column-major terms y^T (n_out, TC_ROWS) = W' (3 cols, n_out)^T . x' (3 cols,
 * TC_ROWS) per chunk of rows, f32 accumulation. */
resa_status gemm_tc(cuda_backend *c, const wmap *m, const resa_weight *w, const float *x, int n, float *y)
{
    const __half *ws;
    resa_status st = weight_split(c, m, w, &ws);
    if (st)
        return st;
    const int cols = (int)w->cols, n_out = (int)w->rows, k3 = 3 * cols;
    CK(launch(c, k_split_rows, n, 256, 0, x, cols, c->xsplit, c->xexp));
    const float one = 1.0f, zero = 0.0f;
    for (int r0 = 0; r0 < n; r0 += TC_ROWS) {
        const cublasStatus_t bs = cublasGemmEx(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, n_out, TC_ROWS, k3, &one, ws,
                                               CUDA_R_16F, k3, c->xsplit + (size_t)r0 * k3, CUDA_R_16F, k3, &zero,
                                               y + (size_t)r0 * n_out, CUDA_R_32F, n_out, CUBLAS_COMPUTE_32F,
                                               CUBLAS_GEMM_DEFAULT);
        if (bs != CUBLAS_STATUS_SUCCESS)
            return blas_fail(c, bs);
    }
    const size_t ny = (size_t)n * n_out;
    CK(launch(c, k_scale_rows, blocks_of(ny, 256), 256, 0, y, n_out, ny, (const int *)c->xexp));
    return RESA_OK;
}

resa_status matmul_rows(cuda_backend *c, const resa_weight *w, const float *x, int n, float *y)
{
    const wmap *m = wmap_of(c, w->data);
    if (!m)
        return c->host->fail(RESA_ERR_ARG, "CUDA backend: a weight that was not uploaded");
    const uint8_t *dw = c->weights + m->off;
    if (n <= (c->tiled ? GEMV_ROWS : GEMV_MAX_ROWS)) {
        const int blocks = (int)((w->rows + GEMV_WARPS - 1) / GEMV_WARPS);
        for (int r = 0; r < n; r += GEMV_ROWS)
            CK(launch(c, k_gemv, blocks, 32 * GEMV_WARPS, 0, dw, w->row_bytes, w->type, (int)w->rows,
                      (int)w->cols, x + (size_t)r * w->cols, std::min(GEMV_ROWS, n - r), y + (size_t)r * w->rows));
        return RESA_OK;
    }
    if (!c->tiled && !c->defer)
        return gemm_tc(c, m, w, x, n, y);
    const dim3 grid((unsigned)((w->rows + GEMM_T - 1) / GEMM_T), (unsigned)((n + GEMM_T - 1) / GEMM_T));
    CK(launch(c, k_gemm, grid, 256, 0, dw, w->row_bytes, w->type, (int)w->rows, (int)w->cols, x, n, y));
    return RESA_OK;
}

resa_status cuda_matmul(resa_backend *be, const resa_weight *w, resa_act x, resa_act y)
{
    cuda_backend *c = cb(be);
    return matmul_rows(c, w, c->act[x], c->pass->n_rows, c->act[y]);
}

resa_status cuda_add_bias(resa_backend *be, resa_act x, const float *b)
{
    cuda_backend *c = cb(be);
    if (!b)
        return RESA_OK;
    const size_t n = (size_t)c->pass->n_rows * c->width[x];
    CK(launch(c, k_add_bias, blocks_of(n, 256), 256, 0, c->act[x], (const float *)dev_of(c, b), c->width[x], n));
    return RESA_OK;
}

/* One RoPE base for every layer: models with windowed layers (their own
 * base) need head_rmsnorm, which this backend lacks, so never get here. */
resa_status cuda_rope(resa_backend *be, resa_act x, int n_heads, int layer)
{
    (void)layer;
    cuda_backend *c = cb(be);
    const resa_hparams *hp = &c->model->hp;
    const size_t n = (size_t)c->pass->n_rows * n_heads * (hp->n_rot / 2);
    CK(launch(c, k_rope, blocks_of(n, 256), 256, 0, c->act[x], (const float *)c->d_cs, c->pass->n_rows, n_heads,
              hp->head_dim, hp->n_rot, (int)(hp->rope_style == RESA_ROPE_NEOX)));
    return RESA_OK;
}

template <typename T> resa_status kv_store_t(cuda_backend *c, int layer)
{
    const int *meta = c->d_meta;
    const dim3 grid(c->pass->n_rows, c->geom.n_kv);
    CK(launch(c, k_kv_store<T>, grid, 64, 0, (T *)c->pool.k, (T *)c->pool.v, c->geom, layer,
              (const gpu_row *)(meta + c->off_rows), meta + c->off_pt, (const float *)c->act[ACT_K],
              (const float *)c->act[ACT_V]));
    if (c->n_chains) {
        const dim3 fg(c->n_chains, c->geom.n_kv, 1);
        CK(launch(c, k_kv_fold<T>, fg, 64, 0, (const T *)c->pool.k, (T *)c->pool.kmin, (T *)c->pool.kmax, c->geom,
                  layer, (const gpu_fold *)(meta + c->off_folds), meta + c->off_chains, meta + c->off_pt));
    }
    return RESA_OK;
}

resa_status cuda_kv_store(resa_backend *be, int layer)
{
    cuda_backend *c = cb(be);
    return c->pool.type == RESA_TYPE_F16 ? kv_store_t<__half>(c, layer) : kv_store_t<float>(c, layer);
}

cudaError_t record(cuda_backend *c)
{
    if (c->n_events == (int)c->events.size()) {
        cudaEvent_t e;
        cudaError_t err = cudaEventCreate(&e);
        if (err != cudaSuccess)
            return err;
        c->events.push_back(e);
    }
    cudaEvent_t e = c->events[c->n_events++];
    if (!c->defer)
        return cudaEventRecord(e, c->st);
    /* in a graph, an event record node (External), timed like a record */
    key_add(c->key, e);
    c->ops.push_back([e](cudaStream_t s) { cudaEventRecordWithFlags(e, s, cudaEventRecordExternal); });
    return cudaSuccess;
}

/* Adds the timed pass's selection (t0..t1) and attention (t1..t2) time,
 * event triples per layer, to its timed segments, as the CPU backend
 * splits them; the stream is synchronized. */
void flush_timings(cuda_backend *c)
{
    double sel = 0, att = 0;
    for (int i = 0; i + 2 < c->n_events; i += 3) {
        float a = 0, b = 0;
        cudaEventElapsedTime(&a, c->events[i], c->events[i + 1]);
        cudaEventElapsedTime(&b, c->events[i + 1], c->events[i + 2]);
        sel += a * 1e-3;
        att += b * 1e-3;
    }
    c->n_events = 0;
    if (c->timed)
        for (int s = 0; s < c->pass->n_segs; s++)
            if (resa_timings *tm = c->pass->segs[s].timings) {
                tm->select_s += sel;
                tm->attention_s += att;
            }
}

template <typename T> resa_status attention_t(cuda_backend *c, int layer)
{
    const resa_hparams *hp = &c->model->hp;
    const int *meta = c->d_meta, group = hp->n_head / hp->n_head_kv;
    const gpu_row *rows = (const gpu_row *)(meta + c->off_rows);
    if (c->timed)
        CK(record(c));
    if (c->n_sels) {
        const dim3 sg(c->n_sels * c->geom.n_kv, (c->key_stride + SCORE_WARPS - 1) / SCORE_WARPS);
        CK(launch(c, k_score<T>, sg, 32 * SCORE_WARPS, 0, (const T *)c->pool.kmin, (const T *)c->pool.kmax, c->geom,
                  layer, group, (const gpu_select *)(meta + c->off_sels), rows, meta + c->off_pt,
                  (const float *)c->act[ACT_Q], c->keys, c->key_stride));
        const dim3 grid(c->n_sels, c->geom.n_kv);
        CK(launch(c, k_select, grid, SELECT_THREADS, 0, c->geom.n_kv, (const gpu_select *)(meta + c->off_sels), rows,
                  (const unsigned long long *)c->keys, c->key_stride, c->selbuf));
    }
    if (c->timed)
        CK(record(c));
    const dim3 grid(c->pass->n_rows * c->geom.n_kv, (c->max_parts + ATTN_WARPS - 1) / ATTN_WARPS);
    const size_t shm = ((size_t)group * hp->head_dim + ATTN_WARPS * (size_t)group * (hp->head_dim + 2)) * sizeof(float);
    CK(launch(c, k_attn_part<T>, grid, 32 * ATTN_WARPS, shm, (const T *)c->pool.k, (const T *)c->pool.v, c->geom,
              layer, group, rows, meta + c->off_pt, (const int *)c->selbuf, (const float *)c->act[ACT_Q],
              1.0f / sqrtf((float)hp->head_dim), c->pm, c->pl, c->po));
    const dim3 mg(c->pass->n_rows, hp->n_head);
    CK(launch(c, k_attn_merge, mg, 256, 0, rows, c->geom.n_kv, group, hp->head_dim, (const float *)c->pm,
              (const float *)c->pl, (const float *)c->po, c->act[ACT_ATT]));
    if (c->timed)
        CK(record(c));
    return RESA_OK;
}

resa_status cuda_attention(resa_backend *be, int layer)
{
    cuda_backend *c = cb(be);
    return c->pool.type == RESA_TYPE_F16 ? attention_t<__half>(c, layer) : attention_t<float>(c, layer);
}

resa_status cuda_swiglu(resa_backend *be)
{
    cuda_backend *c = cb(be);
    const size_t n = (size_t)c->pass->n_rows * c->model->hp.n_ff;
    CK(launch(c, k_swiglu, blocks_of(n, 256), 256, 0, c->act[ACT_HB], (const float *)c->act[ACT_HB2], n));
    return RESA_OK;
}

resa_status cuda_add(resa_backend *be, resa_act dst, resa_act src)
{
    cuda_backend *c = cb(be);
    const size_t n = (size_t)c->pass->n_rows * c->width[dst];
    CK(launch(c, k_add, blocks_of(n, 256), 256, 0, c->act[dst], (const float *)c->act[src], n));
    return RESA_OK;
}

resa_status cuda_logits(resa_backend *be, const int *rows, int n, const float *norm, const resa_weight *output,
                        float *out)
{
    cuda_backend *c = cb(be);
    const resa_hparams *hp = &c->model->hp;
    if (n < 1)
        return RESA_OK;
    /* the rows go up before the pass's deferred launches run: none of them
     * reads this part of the table but the two below */
    int *d_rows = c->d_meta + c->off_lrows;
    CK(cudaMemcpyAsync(d_rows, rows, (size_t)n * sizeof(int), cudaMemcpyHostToDevice, c->st));
    CK(launch(c, k_rmsnorm, n, 256, 0, c->logit_rows, (const float *)c->act[ACT_X], (const int *)d_rows,
              (const float *)dev_of(c, norm), hp->n_embd, hp->rms_eps));
    resa_status st = matmul_rows(c, output, c->logit_rows, n, c->logits);
    if (st || (st = flush(c)))
        return st;
    CK(cudaMemcpyAsync(out, c->logits, (size_t)n * hp->n_vocab * sizeof(float), cudaMemcpyDeviceToHost, c->st));
    CK(cudaStreamSynchronize(c->st));
    flush_timings(c);
    return RESA_OK;
}

resa_status cuda_kv_read(resa_backend *be, const resa_kv_cache *kv, resa_kv_part part, int layer, int head,
                         int pos, float *out)
{
    cuda_backend *c = cb(be);
    if (part >= KV_PART_KMIN && !kv->summaries)
        return c->host->fail(RESA_ERR_ARG, "this cache keeps no block summaries");
    const void *src = part == KV_PART_K      ? kv_k(kv, layer, head, pos)
                      : part == KV_PART_V    ? kv_v(kv, layer, head, pos)
                      : part == KV_PART_KMIN ? kv_kmin(kv, layer, head, pos)
                                             : kv_kmax(kv, layer, head, pos);
    const int d = kv->head_dim;
    std::vector<uint8_t> buf((size_t)d * kv->elem_size);
    resa_status st = flush(c);
    if (st)
        return st;
    CK(cudaStreamSynchronize(c->st));
    CK(cudaMemcpy(buf.data(), src, buf.size(), cudaMemcpyDeviceToHost));
    for (int j = 0; j < d; j++)
        out[j] = kv->type == RESA_TYPE_F32 ? ((const float *)buf.data())[j]
                                           : __half2float(((const __half *)buf.data())[j]);
    return RESA_OK;
}

/* Refolds the blocks of [pos0, pos0+n) from keys [0, T) in every layer; the
 * page table travels in c->aux. */
template <typename T> resa_status refresh_t(cuda_backend *c, const resa_kv_cache *kv, int pos0, int n, int n_keys)
{
    const int T_ = n_keys;
    const int bs = kv->block_size, first = pos0 / bs, last = (pos0 + n - 1) / bs;
    std::vector<int> m(kv->pages, kv->pages + (T_ + bs - 1) / bs);
    const int off_folds = (int)m.size();
    int n_f = 0;
    for (int i = first; i <= last && i * bs < T_; i++, n_f++)
        push(m, gpu_fold{ 0, i, i * bs, std::min((i + 1) * bs, T_) });
    const int off_chains = (int)m.size();
    for (int i = 0; i <= n_f; i++)
        m.push_back(i);
    CK(grow(&c->aux, &c->aux_cap, m.size()));
    CK(cudaMemcpyAsync(c->aux, m.data(), m.size() * sizeof(int), cudaMemcpyHostToDevice, c->st));
    if (n_f) {
        const dim3 grid(n_f, kv->n_head_kv, kv->n_layer);
        k_kv_fold<T><<<grid, 64, 0, c->st>>>((const T *)c->pool.k, (T *)c->pool.kmin, (T *)c->pool.kmax, c->geom, 0,
                                             (const gpu_fold *)(c->aux + off_folds), c->aux + off_chains, c->aux);
        CK(cudaGetLastError());
    }
    CK(cudaStreamSynchronize(c->st));
    return RESA_OK;
}

resa_status cuda_kv_refresh(resa_backend *be, const resa_kv_cache *kv, int pos0, int n, int T)
{
    cuda_backend *c = cb(be);
    if (!kv->summaries || n <= 0)
        return RESA_OK;
    resa_status st = flush(c);
    if (st)
        return st;
    return c->pool.type == RESA_TYPE_F16 ? refresh_t<__half>(c, kv, pos0, n, T) : refresh_t<float>(c, kv, pos0, n, T);
}

template <typename T> resa_status repeat_t(cuda_backend *c, const resa_kv_cache *kv, int n_past, int n_total)
{
    const int bs = kv->block_size;
    CK(grow(&c->aux, &c->aux_cap, (size_t)(n_total + bs - 1) / bs));
    CK(cudaMemcpyAsync(c->aux, kv->pages, (size_t)(n_total + bs - 1) / bs * sizeof(int), cudaMemcpyHostToDevice,
                       c->st));
    const dim3 grid(n_total - n_past, kv->n_head_kv, kv->n_layer);
    k_kv_repeat<T><<<grid, 64, 0, c->st>>>((T *)c->pool.k, (T *)c->pool.v, c->geom, c->aux, n_past);
    CK(cudaGetLastError());
    CK(cudaStreamSynchronize(c->st));
    return RESA_OK;
}

resa_status cuda_kv_fill_repeat(resa_backend *be, const resa_kv_cache *kv, int n_past, int n_total)
{
    cuda_backend *c = cb(be);
    if (n_total <= n_past)
        return RESA_OK;
    resa_status st = flush(c);
    if (st)
        return st;
    st = c->pool.type == RESA_TYPE_F16 ? repeat_t<__half>(c, kv, n_past, n_total)
                                                   : repeat_t<float>(c, kv, n_past, n_total);
    return st ? st : cuda_kv_refresh(be, kv, 0, n_total, n_total);
}

void cuda_free(resa_backend *be)
{
    cuda_backend *c = cb(be);
    if (!c)
        return;
    if (c->st)
        cudaStreamSynchronize(c->st);
    if (getenv("RESA_CUDA_GRAPHS_STATS"))
        fprintf(stderr, "resa: cuda: %lld graph launches, %lld captures\n", c->graph_launches, c->graph_captures);
    if (c->gexec)
        cudaGraphExecDestroy(c->gexec);
    if (c->blas)
        cublasDestroy(c->blas);
    void *bufs[] = { c->weights, c->pool.k, c->pool.v, c->pool.kmin, c->pool.kmax, c->logit_rows, c->logits,
                     c->d_meta, c->d_cs, c->pm, c->pl, c->po, c->keys, c->selbuf, c->aux,
                     c->wsplit, c->xsplit, c->xexp };
    for (void *p : bufs)
        cudaFree(p);
    for (const wmap &w : c->wm)
        cudaFree(w.split);
    for (int i = 0; i < ACT_COUNT; i++)
        cudaFree(c->act[i]);
    for (cudaEvent_t e : c->events)
        cudaEventDestroy(e);
    if (c->st)
        cudaStreamDestroy(c->st);
    delete c;
}

/* Every tensor the forward pass names, with its size in bytes. */
void list_tensors(const resa_model *m, std::vector<wmap> &v)
{
    const resa_hparams *hp = &m->hp;
    auto W = [&](const resa_weight &w) { v.push_back({ w.data, 0, (size_t)w.rows * w.row_bytes, nullptr }); };
    auto F = [&](const float *p, int n) {
        if (p)
            v.push_back({ p, 0, (size_t)n * sizeof(float), nullptr });
    };
    W(m->tok_embd);
    W(m->output);
    F(m->output_norm, hp->n_embd);
    const int q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;
    for (int l = 0; l < hp->n_layer; l++) {
        const resa_layer *L = &m->layers[l];
        F(L->attn_norm, hp->n_embd);
        F(L->ffn_norm, hp->n_embd);
        F(L->bq, q_dim);
        F(L->bk, kv_dim);
        F(L->bv, kv_dim);
        for (const resa_weight *w : { &L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down })
            W(*w);
    }
}

bool type_ok(int t)
{
    return t == RESA_TYPE_F32 || t == RESA_TYPE_F16 || t == RESA_TYPE_BF16 || t == RESA_TYPE_Q8_0 ||
           t == RESA_TYPE_Q4_0 || t == RESA_TYPE_Q4_1;
}

resa_status check_model(cuda_backend *c)
{
    const resa_model *m = c->model;
    const resa_hparams *hp = &m->hp;
    const int group = hp->n_head / hp->n_head_kv;
    if (hp->n_head % hp->n_head_kv || group > MAX_GROUP || hp->head_dim > 64 * MAX_DPAIRS || hp->head_dim > 256 || hp->head_dim % 8 ||
        hp->n_embd % 32)
        return c->host->fail(RESA_ERR_UNSUPPORTED,
                             "CUDA backend: heads %d/%d of dimension %d, width %d: supported are groups of at "
                             "most %d query heads, head dimensions multiple of 8 up to 256 and widths that are multiples of 32",
                             hp->n_head, hp->n_head_kv, hp->head_dim, hp->n_embd, MAX_GROUP);
    const resa_weight *ws[] = { &m->tok_embd, &m->output };
    for (const resa_weight *w : ws)
        if (!type_ok(w->type) || w->cols % 32)
            return c->host->fail(RESA_ERR_UNSUPPORTED, "CUDA backend: weight type %d with %lld columns", w->type,
                                 (long long)w->cols);
    for (int l = 0; l < hp->n_layer; l++) {
        const resa_layer *L = &m->layers[l];
        for (const resa_weight *w : { &L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down })
            if (!type_ok(w->type) || w->cols % 32)
                return c->host->fail(RESA_ERR_UNSUPPORTED,
                                     "CUDA backend: layer %d: weight type %d with %lld columns (supported: F32, "
                                     "F16, BF16, Q8_0, Q4_0, Q4_1; columns a multiple of 32)",
                                     l, w->type, (long long)w->cols);
    }
    return RESA_OK;
}

resa_status upload_weights(cuda_backend *c)
{
    std::vector<wmap> v;
    list_tensors(c->model, v);
    std::sort(v.begin(), v.end(), [](const wmap &a, const wmap &b) { return (uintptr_t)a.host < (uintptr_t)b.host; });
    v.erase(std::unique(v.begin(), v.end(), [](const wmap &a, const wmap &b) { return a.host == b.host; }), v.end());
    size_t total = 0;
    for (wmap &w : v) {
        w.off = total;
        total += (w.bytes + 255) & ~(size_t)255;
    }
    CK(cudaMalloc((void **)&c->weights, total));
    for (const wmap &w : v)
        CK(cudaMemcpy(c->weights + w.off, w.host, w.bytes, cudaMemcpyHostToDevice));
    c->wm = v;
    return RESA_OK;
}

resa_status alloc_device(cuda_backend *c, const resa_backend_args *a)
{
    const resa_hparams *hp = &c->model->hp;
    /* every buffer a product writes or reads has room for whole TC_ROWS chunks */
    const int rows = c->rows_cap = (a->n_rows_max + TC_ROWS - 1) / TC_ROWS * TC_ROWS, q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;
    const int widths[ACT_COUNT] = { hp->n_embd, hp->n_embd, q_dim, kv_dim, kv_dim, q_dim, hp->n_ff, hp->n_ff };
    for (int i = 0; i < ACT_COUNT; i++) {
        c->width[i] = widths[i];
        CK(cudaMalloc((void **)&c->act[i], (size_t)rows * widths[i] * sizeof(float)));
    }
    CK(cudaMalloc((void **)&c->logit_rows, (size_t)rows * hp->n_embd * sizeof(float)));
    CK(cudaMalloc((void **)&c->logits, (size_t)rows * hp->n_vocab * sizeof(float)));
    CK(cudaMalloc((void **)&c->d_cs, (size_t)rows * hp->n_rot * sizeof(float)));
    resa_kv_pool *p = &c->pool;
    p->type = a->kv_type == RESA_KV_F32 ? RESA_TYPE_F32 : RESA_TYPE_F16;
    p->elem_size = a->kv_type == RESA_KV_F32 ? 4 : 2;
    p->n_layer = hp->n_layer;
    p->n_head_kv = hp->n_head_kv;
    p->head_dim = hp->head_dim;
    p->block_size = a->block_size;
    p->n_pages = a->n_pages;
    const size_t bytes = (size_t)hp->n_layer * hp->n_head_kv * a->n_pages * a->block_size * hp->head_dim * p->elem_size;
    cudaError_t e;
    if ((e = cudaMalloc((void **)&p->k, bytes)) != cudaSuccess || (e = cudaMalloc((void **)&p->v, bytes)) != cudaSuccess)
        return c->host->fail(RESA_ERR_NOMEM, "CUDA backend: cannot allocate a KV cache of %d pages of %d positions "
                             "(%.1f MiB): %s", a->n_pages, a->block_size, 2.0 * (double)bytes / (1 << 20),
                             cudaGetErrorString(e));
    if (a->summaries) {
        const size_t n = (size_t)hp->n_layer * hp->n_head_kv * a->n_pages * hp->head_dim * p->elem_size;
        CK(cudaMalloc((void **)&p->kmin, n));
        CK(cudaMalloc((void **)&p->kmax, n));
    }
    c->geom = { hp->n_head_kv, hp->head_dim, a->block_size, a->n_pages };
    const int widest = std::max(std::max(hp->n_embd, hp->n_ff), q_dim);
    CK(cudaMalloc((void **)&c->xsplit, 3 * (size_t)rows * widest * sizeof(__half)));
    /* finite values in the padding rows (their products are thrown away) */
    CK(cudaMemset(c->xsplit, 0, 3 * (size_t)rows * widest * sizeof(__half)));
    CK(cudaMalloc((void **)&c->xexp, (size_t)rows * sizeof(int)));
    return RESA_OK;
}

/* The split f16 copies of the matrices (6 bytes an element), made once
 * here when they take at most half of the memory left after the pool and
 * activations; else gemm_tc makes each one in scratch when it needs it. */
resa_status split_weights(cuda_backend *c)
{
    const resa_model *m = c->model;
    std::vector<const resa_weight *> ws = { &m->output };
    for (int l = 0; l < m->hp.n_layer; l++) {
        const resa_layer *L = &m->layers[l];
        for (const resa_weight *w : { &L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down })
            ws.push_back(w);
    }
    size_t need = 0;
    for (const resa_weight *w : ws)
        need += (size_t)w->rows * w->cols * 3 * sizeof(__half);
    size_t fr = 0, tot = 0;
    CK(cudaMemGetInfo(&fr, &tot));
    if (need > fr / 2)
        return RESA_OK;
    for (const resa_weight *w : ws) {
        wmap *mp = (wmap *)wmap_of(c, w->data);
        if (mp->split)
            continue;
        const size_t elems = (size_t)w->rows * w->cols;
        CK(cudaMalloc((void **)&mp->split, 3 * elems * sizeof(__half)));
        k_split_weight<<<blocks_of(elems / 8, 256), 256, 0, c->st>>>(c->weights + mp->off, w->row_bytes, w->type,
                                                                   (int)w->rows, (int)w->cols, mp->split);
        CK(cudaGetLastError());
    }
    CK(cudaStreamSynchronize(c->st));
    return RESA_OK;
}

} // namespace

extern "C" {

__attribute__((visibility("default"))) int resa_module_abi(void) { return RESA_BACKEND_ABI; }

__attribute__((visibility("default"))) int resa_module_probe(char *buf, size_t n)
{
    int count = 0, rt = 0, drv = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
        snprintf(buf, n, "no CUDA device: %s", e != cudaSuccess ? cudaGetErrorString(e) : "none found");
        return 0;
    }
    cudaRuntimeGetVersion(&rt);
    cudaDriverGetVersion(&drv);
    size_t len = (size_t)snprintf(buf, n, "CUDA runtime %d.%d, driver %d.%d, %d device%s\n", rt / 1000, rt % 1000 / 10,
                                  drv / 1000, drv % 1000 / 10, count, count > 1 ? "s" : "");
    for (int i = 0; i < count && len < n; i++) {
        cudaDeviceProp p;
        if (cudaGetDeviceProperties(&p, i) != cudaSuccess)
            continue;
        size_t fr = 0, tot = 0;
        if (i == 0) {
            cudaSetDevice(0);
            cudaMemGetInfo(&fr, &tot);
        }
        len += (size_t)snprintf(buf + len, n - len,
                                "device %d: %s, compute capability %d.%d, %d SMs, %.1f GiB (%.1f GiB free), L2 %d MiB%s\n",
                                i, p.name, p.major, p.minor, p.multiProcessorCount,
                                (double)p.totalGlobalMem / (1 << 30), (double)fr / (1 << 30), p.l2CacheSize >> 20,
                                i == 0 ? " (used)" : "");
    }
    if (len < n)
        snprintf(buf + len, n - len,
                 "kernels: gemv (<= %d rows, %d rows a launch, weights dequantized in registers, F32 F16 BF16 "
                 "Q8_0 Q4_0 Q4_1), cuBLAS split-f16 tensor-core gemm (more rows), split-key attention merged "
                 "exactly (dense, block-sparse, causal chunks), radix top-k block selection, KV f16/f32 pages "
                 "with min/max summaries, decode passes as CUDA graphs\n",
                 GEMV_MAX_ROWS, GEMV_ROWS);
    return count;
}

__attribute__((visibility("default"))) resa_status resa_module_backend_new(const resa_backend_host *host,
                                                                         const resa_backend_args *a,
                                                                         resa_backend **out)
{
    *out = nullptr;
    /* pages of the windowed layers' rings (kv_cache.h) are not addressed by
     * the kernels here, which take one page table per sequence */
    if (a->ring_blocks > 0)
        return host->fail(RESA_ERR_UNSUPPORTED, "the CUDA backend has no window-only KV cache for "
                          "sliding-window layers: use swa_full (--swa-full) or --backend cpu");
    cuda_backend *c = new (std::nothrow) cuda_backend();
    if (!c)
        return host->fail(RESA_ERR_NOMEM, "out of memory");
    c->host = host;
    c->model = a->model;
    resa_status st;
    cudaError_t e;
    if ((e = cudaSetDevice(0)) != cudaSuccess || (e = cudaStreamCreateWithFlags(&c->st, cudaStreamNonBlocking)) != cudaSuccess) {
        st = cu_fail(c, "no usable GPU", e);
        cuda_free(&c->base);
        return st;
    }
    const char *g = getenv("RESA_CUDA_GEMM"), *gr = getenv("RESA_CUDA_GRAPHS");
    c->tiled = g && !strcmp(g, "tiled");
    c->graphs = !(gr && !strcmp(gr, "0"));
    cublasStatus_t bs = c->tiled ? CUBLAS_STATUS_SUCCESS : cublasCreate(&c->blas);
    if (bs == CUBLAS_STATUS_SUCCESS && c->blas)
        bs = cublasSetStream(c->blas, c->st);
    if (bs != CUBLAS_STATUS_SUCCESS) {
        st = blas_fail(c, bs);
        cuda_free(&c->base);
        return st;
    }
    if ((st = check_model(c)) || (st = upload_weights(c)) || (st = alloc_device(c, a)) ||
        (!c->tiled && (st = split_weights(c)))) {
        cuda_free(&c->base);
        return st;
    }
    c->base.name = "cuda";
    c->base.n_rows_max = a->n_rows_max;
    c->base.kv = &c->pool;
    c->base.begin = cuda_begin;
    c->base.rmsnorm = cuda_rmsnorm;
    c->base.matmul = cuda_matmul;
    c->base.add_bias = cuda_add_bias;
    c->base.rope = cuda_rope;
    c->base.kv_store = cuda_kv_store;
    c->base.attention = cuda_attention;
    c->base.swiglu = cuda_swiglu;
    c->base.add = cuda_add;
    c->base.logits = cuda_logits;
    c->base.kv_read = cuda_kv_read;
    c->base.kv_refresh = cuda_kv_refresh;
    c->base.kv_fill_repeat = cuda_kv_fill_repeat;
    c->base.free = cuda_free;
    *out = &c->base;
    return RESA_OK;
}

} // extern "C"
