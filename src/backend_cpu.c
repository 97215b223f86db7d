/* SPDX-License-Identifier: MIT */
/* The CPU backend: a persistent thread team (threads.h), SIMD kernels from simd/,
 * no BLAS (prefill and rectification must give decode's bits,
 * docs/design.md §4). Contracts in backend.h. */
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "backend.h"
#include "cpu.h"
#include "error.h"
#include "grow.h"
#include "forward.h"
#include "matmul.h"
#include "rope_angles.h"
#include "select.h"
#include "threads.h"

typedef struct cpu_backend {
    resa_backend base; /* first: the interface */
    const resa_model *model;
    resa_team *team;
    resa_kv_pool pool;
    float *act[ACT_COUNT];
    int width[ACT_COUNT];
    float *rope_cs;    /* (n_rows_max, n_rot) cos/sin pairs of each row's position */
    float *rope_cs_swa; /* the same with the windowed layers' base (hp.n_swa > 0) */
    float *logit_rows; /* (n_rows_max, n_embd) rows gathered for the output head */
    int *sel;          /* the sparse decode rows' selected blocks, (row, n_head_kv, n_blocks_max) */
    int *n_sel;        /* their counts, (row, n_head_kv) */
    double *covered;   /* one row's estimated mass covered per KV head (n_head_kv) */
    resa_decode_row *rows; /* the pass's decode rows */
    size_t sel_cap, n_sel_cap, rows_cap, covered_cap;
    const resa_pass *pass;
    resa_matmul_scratch mm;
    resa_attn_scratch attn;
    resa_select_scratch select;
} cpu_backend;

/* Row-wise small ops fork the threads only for passes with this many
 * elements: below it (decode rows, even many of them) a fork and join
 * costs more than the op. */
#define PARALLEL_MIN_ELEMS 32768

static resa_team *team_for(const cpu_backend *c, size_t n)
{
    return team_if_worth(c->team, n, PARALLEL_MIN_ELEMS);
}

static inline cpu_backend *cpu(resa_backend *be) { return (cpu_backend *)be; }
static inline int n_rows(const cpu_backend *c) { return c->pass->n_rows; }

static resa_status cpu_begin(resa_backend *be, const resa_pass *pass)
{
    cpu_backend *c = cpu(be);
    const resa_hparams *hp = &c->model->hp;
    if (pass->n_rows < 1 || pass->n_rows > be->n_rows_max)
        return error_set(RESA_ERR_ARG, "a pass of %d rows (at most %d)", pass->n_rows, be->n_rows_max);
    c->pass = pass;
    const resa_weight *e = &c->model->tok_embd;
    const resa_to_float_fn to_float = dot_kernels()->to_float[e->type];
    const rope_recipe global = rope_recipe_of(hp, c->model->rope_freqs, false),
                      windowed = rope_recipe_of(hp, c->model->rope_freqs, true);
    for (int t = 0; t < pass->n_rows; t++) {
        float *x = c->act[ACT_X] + (size_t)t * hp->n_embd;
        to_float((const uint8_t *)e->data + (size_t)pass->tokens[t] * e->row_bytes, x, (int)e->cols);
        if (hp->embd_scale > 0.0f)
            for (int i = 0; i < hp->n_embd; i++)
                x[i] *= hp->embd_scale;
        rope_angles(c->rope_cs + (size_t)t * hp->n_rot, pass->pos[t], hp->n_rot, &global);
        if (hp->n_swa > 0)
            rope_angles(c->rope_cs_swa + (size_t)t * hp->n_rot, pass->pos[t], hp->n_rot, &windowed);
    }
    return RESA_OK;
}

typedef struct rmsnorm_job {
    resa_rmsnorm_fn rmsnorm;
    float *y;
    const float *x, *w;
    int dim;
    float eps;
} rmsnorm_job;

static void rmsnorm_item(void *ctx, int t, int worker)
{
    const rmsnorm_job *j = ctx;
    (void)worker;
    j->rmsnorm(j->y + (size_t)t * j->dim, j->x + (size_t)t * j->dim, j->w, j->dim, j->eps);
}

/* y = x / rms(x) * w, per row (the kernel sums the squares in double). */
static void rmsnorm_rows(const cpu_backend *c, float *y, const float *x, const float *w, int n, int dim, float eps)
{
    rmsnorm_job j = {.rmsnorm = elem_kernels()->rmsnorm, .y = y, .x = x, .w = w, .dim = dim, .eps = eps};
    team_run(team_for(c, (size_t)n * dim), n, rmsnorm_item, &j);
}

static resa_status cpu_rmsnorm(resa_backend *be, resa_act dst, resa_act src, const float *w)
{
    cpu_backend *c = cpu(be);
    const resa_hparams *hp = &c->model->hp;
    rmsnorm_rows(c, c->act[dst], c->act[src], w, n_rows(c), hp->n_embd, hp->rms_eps);
    return RESA_OK;
}

static resa_status cpu_matmul(resa_backend *be, const resa_weight *w, resa_act x, resa_act y)
{
    cpu_backend *c = cpu(be);
    return matmul_cpu(&c->mm, c->team, w, c->act[x], n_rows(c), c->act[y]);
}

static resa_status cpu_matmul_many(resa_backend *be, int k, const resa_weight *const *w, resa_act x,
                                   const resa_act *y)
{
    cpu_backend *c = cpu(be);
    float *out[MATMUL_MAX_WEIGHTS];
    for (int i = 0; i < k && i < MATMUL_MAX_WEIGHTS; i++)
        out[i] = c->act[y[i]];
    return matmul_cpu_many(&c->mm, c->team, k, w, c->act[x], n_rows(c), out);
}

static resa_status cpu_add_bias(resa_backend *be, resa_act x, const float *b)
{
    cpu_backend *c = cpu(be);
    if (!b)
        return RESA_OK;
    const int dim = c->width[x];
    float *p = c->act[x];
    for (int t = 0; t < n_rows(c); t++)
        for (int i = 0; i < dim; i++)
            p[(size_t)t * dim + i] += b[i];
    return RESA_OK;
}

typedef struct rope_job {
    resa_rope_fn rope;
    float *p;
    const float *cs;
    int n_heads, head_dim, n_rot;
} rope_job;

static void rope_item(void *ctx, int t, int worker)
{
    const rope_job *j = ctx;
    (void)worker;
    for (int h = 0; h < j->n_heads; h++)
        j->rope(j->p + ((size_t)t * j->n_heads + h) * j->head_dim, j->cs + (size_t)t * j->n_rot, j->n_rot);
}

/* Rotates the first n_rot dims of each head of every row. */
static resa_status cpu_rope(resa_backend *be, resa_act x, int n_heads, int layer)
{
    cpu_backend *c = cpu(be);
    const resa_hparams *hp = &c->model->hp;
    rope_job j = {.rope = hp->rope_style == RESA_ROPE_NEOX ? elem_kernels()->rope_neox : elem_kernels()->rope_norm,
                  .p = c->act[x], .cs = hparams_layer_swa(hp, layer) ? c->rope_cs_swa : c->rope_cs,
                  .n_heads = n_heads, .head_dim = hp->head_dim, .n_rot = hp->n_rot};
    const int n = n_rows(c);
    team_run(team_for(c, (size_t)n * n_heads * hp->head_dim), n, rope_item, &j);
    return RESA_OK;
}

/* RMSNorm of each head of x in place (gemma3's q/k norms): rows of n_heads
 * heads are one array of heads. */
static resa_status cpu_head_rmsnorm(resa_backend *be, resa_act x, int n_heads, const float *w)
{
    cpu_backend *c = cpu(be);
    const resa_hparams *hp = &c->model->hp;
    rmsnorm_rows(c, c->act[x], c->act[x], w, n_rows(c) * n_heads, hp->head_dim, hp->rms_eps);
    return RESA_OK;
}

static resa_status cpu_kv_store(resa_backend *be, int layer)
{
    cpu_backend *c = cpu(be);
    const size_t kv_dim = (size_t)c->pool.n_head_kv * c->pool.head_dim;
    for (int s = 0; s < c->pass->n_segs; s++) {
        const resa_seg *g = &c->pass->segs[s];
        kv_cache_write(&g->kv, layer, g->pos0, g->n, c->act[ACT_K] + g->row0 * kv_dim,
                       c->act[ACT_V] + g->row0 * kv_dim, g->kind == SEG_RECTIFY);
    }
    return RESA_OK;
}

/* Every decode row of the pass: the sparse ones select their blocks (per
 * row), then all rows attend in one parallel loop (attention.c), so a pass
 * of many sequences forks the threads once per layer, not once per row. Its
 * time is shared equally by the rows that keep timings. */
static resa_status decode_rows(cpu_backend *c, int layer)
{
    const int n_kv = c->pool.n_head_kv, n_head = c->model->hp.n_head;
    /* a windowed layer's rows attend their window densely, sparse or not */
    const int window = hparams_layer_swa(&c->model->hp, layer) ? c->model->hp.n_swa : 0;
    const size_t q_dim = (size_t)n_head * c->model->hp.head_dim;
    size_t n_sel_ints = 0;
    int n = 0;
    for (int s = 0; s < c->pass->n_segs; s++) {
        const resa_seg *g = &c->pass->segs[s];
        if (g->kind == SEG_DECODE) {
            n++;
            n_sel_ints += g->sparse && !window ? (size_t)n_kv * g->kv.n_blocks_max : 0;
        }
    }
    if (n == 0)
        return RESA_OK;
    resa_status st;
    if ((st = resa_grow(&c->rows, &c->rows_cap, (size_t)n, sizeof(resa_decode_row))) ||
        (st = resa_grow(&c->sel, &c->sel_cap, n_sel_ints > 0 ? n_sel_ints : 1, sizeof(int))) ||
        (st = resa_grow(&c->n_sel, &c->n_sel_cap, (size_t)n * n_kv, sizeof(int))) ||
        (st = resa_grow(&c->covered, &c->covered_cap, (size_t)n_kv, sizeof(double))))
        return st;
    int i = 0, n_timed = 0;
    size_t sel_off = 0;
    for (int s = 0; s < c->pass->n_segs; s++) {
        const resa_seg *g = &c->pass->segs[s];
        if (g->kind != SEG_DECODE)
            continue;
        resa_decode_row *r = &c->rows[i];
        *r = (resa_decode_row){.kv = &g->kv, .q = c->act[ACT_Q] + g->row0 * q_dim,
                               .out = c->act[ACT_ATT] + g->row0 * q_dim, .pos = g->pos0,
                               .lo = window && g->pos0 >= window ? g->pos0 - window + 1 : 0};
        /* a windowed layer attends its window densely, whatever the mode */
        const int sparse = g->sparse && !window, bs = c->pool.block_size, M = g->pos0 / bs + 1;
        if (g->timings) {
            g->timings->blocks_all += (double)M * n_kv;
            if (!sparse)
                g->timings->blocks_read += (double)(M - r->lo / bs) * n_kv;
        }
        if (sparse) {
            int *sel = c->sel + sel_off, *n_sel = c->n_sel + (size_t)i * n_kv;
            const double t0 = g->timings ? time_now() : 0;
            double *covered = g->miss ? c->covered : NULL;
            if ((st = select_blocks_cpu(&c->select, c->team, &g->kv, layer, r->q, g->pos0, n_head, g->cfg,
                                        sel, n_sel, covered)))
                return st;
            if (g->miss)
                for (int h = 0; h < n_kv; h++) {
                    g->miss->sum += 1.0 - covered[h];
                    g->miss->n++;
                }
            if (g->timings) {
                g->timings->select_s += time_now() - t0;
                for (int h = 0; h < n_kv; h++)
                    g->timings->blocks_read += n_sel[h];
            }
            r->sel = sel;
            r->n_sel = n_sel;
            sel_off += (size_t)n_kv * g->kv.n_blocks_max;
        }
        n_timed += g->timings != NULL;
        i++;
    }
    const double t0 = n_timed ? time_now() : 0;
    if ((st = attention_decode_rows(&c->attn, c->team, layer, n_head, c->rows, n)))
        return st;
    const double share = n_timed ? (time_now() - t0) / n_timed : 0;
    for (int s = 0; s < c->pass->n_segs; s++) {
        const resa_seg *g = &c->pass->segs[s];
        if (g->kind == SEG_DECODE && g->timings)
            g->timings->attention_s += share;
    }
    return RESA_OK;
}

/* Prompt and rectification segments each on their own, with every thread
 * (a segment's arithmetic is the same whatever else the pass holds), then
 * the decode rows together. */
static resa_status cpu_attention(resa_backend *be, int layer)
{
    cpu_backend *c = cpu(be);
    const int n_head = c->model->hp.n_head;
    const size_t q_dim = (size_t)n_head * c->model->hp.head_dim;
    const int window = hparams_layer_swa(&c->model->hp, layer) ? c->model->hp.n_swa : 0;
    for (int s = 0; s < c->pass->n_segs; s++) {
        const resa_seg *g = &c->pass->segs[s];
        if (g->kind == SEG_DECODE)
            continue;
        const double t0 = g->timings ? time_now() : 0;
        float *q = c->act[ACT_Q] + g->row0 * q_dim, *out = c->act[ACT_ATT] + g->row0 * q_dim;
        resa_status st = window ? attention_window_cpu(&c->attn, c->team, &g->kv, layer, q, g->n, g->pos0,
                                                       n_head, window, out)
                                : attention_cpu(&c->attn, c->team, &g->kv, layer, q, g->n, g->pos0, n_head, out);
        if (st)
            return st;
        if (g->timings)
            g->timings->attention_s += time_now() - t0;
    }
    return decode_rows(c, layer);
}

/* The gated FFN activations are elementwise, so the rows are cut into
 * chunks of 4096 (a multiple of every vector width) for the threads. */
#define GATE_CHUNK 4096

typedef struct gate_job {
    resa_silu_mul_fn fn; /* the elem kernel: silu_mul or gelu_mul */
    float *hb;
    const float *hb2;
    size_t n;
} gate_job;

static size_t gate_end(const gate_job *j, int k)
{
    const size_t end = (size_t)k * GATE_CHUNK + GATE_CHUNK;
    return end < j->n ? end : j->n;
}

static void gate_item(void *ctx, int k, int worker)
{
    const gate_job *j = ctx;
    (void)worker;
    const size_t off = (size_t)k * GATE_CHUNK;
    j->fn(j->hb + off, j->hb2 + off, (int)(gate_end(j, k) - off));
}

static void run_gate(cpu_backend *c, resa_silu_mul_fn fn)
{
    gate_job j = {.fn = fn, .hb = c->act[ACT_HB], .hb2 = c->act[ACT_HB2],
                  .n = (size_t)n_rows(c) * c->model->hp.n_ff};
    team_run(team_for(c, j.n), (int)((j.n + GATE_CHUNK - 1) / GATE_CHUNK), gate_item, &j);
}

/* HB = silu(HB) * HB2 */
static resa_status cpu_swiglu(resa_backend *be)
{
    run_gate(cpu(be), elem_kernels()->silu_mul);
    return RESA_OK;
}

/* HB = gelu(HB) * HB2, GELU's tanh approximation (gemma3's GeGLU) as one exp
 * per element (simd/elem.h): libm's tanhf here was 17% of a Gemma 3 prefill */
static resa_status cpu_geglu(resa_backend *be)
{
    run_gate(cpu(be), elem_kernels()->gelu_mul);
    return RESA_OK;
}

static resa_status cpu_add(resa_backend *be, resa_act dst, resa_act src)
{
    cpu_backend *c = cpu(be);
    float *x = c->act[dst];
    const float *y = c->act[src];
    const size_t n = (size_t)n_rows(c) * c->width[dst];
    for (size_t i = 0; i < n; i++)
        x[i] += y[i];
    return RESA_OK;
}

static resa_status cpu_logits(resa_backend *be, const int *rows, int n, const float *norm,
                              const resa_weight *output, float *out)
{
    cpu_backend *c = cpu(be);
    const resa_hparams *hp = &c->model->hp;
    for (int i = 0; i < n; i++)
        memcpy(c->logit_rows + (size_t)i * hp->n_embd, c->act[ACT_X] + (size_t)rows[i] * hp->n_embd,
               (size_t)hp->n_embd * sizeof(float));
    rmsnorm_rows(c, c->logit_rows, c->logit_rows, norm, n, hp->n_embd, hp->rms_eps);
    return matmul_cpu(&c->mm, c->team, output, c->logit_rows, n, out);
}

static resa_status cpu_kv_read(resa_backend *be, const resa_kv_cache *kv, resa_kv_part part, int layer,
                               int head, int pos, float *out)
{
    (void)be;
    if (part >= KV_PART_KMIN && !kv_layer_summarized(kv, layer))
        return error_set(RESA_ERR_ARG, kv->summaries ? "layer %d keeps only its window: no block summaries"
                                                     : "this cache keeps no block summaries", layer);
    if (part <= KV_PART_V && pos < kv_layer_first_pos(kv, layer))
        return error_set(RESA_ERR_ARG, "layer %d keeps only its window: position %d is gone (it holds %d on)",
                         layer, pos, kv_layer_first_pos(kv, layer));
    const void *src = part == KV_PART_K      ? kv_k(kv, layer, head, pos)
                      : part == KV_PART_V    ? kv_v(kv, layer, head, pos)
                      : part == KV_PART_KMIN ? kv_kmin(kv, layer, head, pos)
                                             : kv_kmax(kv, layer, head, pos);
    kv_row_to_f32(kv, src, out, kv->head_dim);
    return RESA_OK;
}

static resa_status cpu_kv_refresh(resa_backend *be, const resa_kv_cache *kv, int pos0, int n, int T)
{
    (void)be;
    kv_cache_refresh_summaries(kv, pos0, n, T);
    return RESA_OK;
}

static resa_status cpu_kv_fill_repeat(resa_backend *be, const resa_kv_cache *kv, int n_past, int n_total)
{
    (void)be;
    return kv_cache_fill_repeat(kv, n_past, n_total);
}

static void cpu_free(resa_backend *be)
{
    cpu_backend *c = cpu(be);
    if (!c)
        return;
    team_free(c->team);
    matmul_scratch_free(&c->mm);
    attn_scratch_free(&c->attn);
    select_scratch_free(&c->select);
    kv_pool_free(&c->pool);
    for (int i = 0; i < ACT_COUNT; i++)
        free(c->act[i]);
    free(c->rope_cs);
    free(c->rope_cs_swa);
    free(c->logit_rows);
    free(c->sel);
    free(c->n_sel);
    free(c->covered);
    free(c->rows);
    free(c);
}

static resa_status alloc_arena(cpu_backend *c, int rows)
{
    const resa_hparams *hp = &c->model->hp;
    const int q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;
    const int widths[ACT_COUNT] = { [ACT_X] = hp->n_embd, [ACT_XB] = hp->n_embd, [ACT_Q] = q_dim,
                                    [ACT_K] = kv_dim, [ACT_V] = kv_dim, [ACT_ATT] = q_dim,
                                    [ACT_HB] = hp->n_ff, [ACT_HB2] = hp->n_ff };
    for (int i = 0; i < ACT_COUNT; i++) {
        c->width[i] = widths[i];
        if (!(c->act[i] = malloc((size_t)rows * widths[i] * sizeof(float))))
            return error_set(RESA_ERR_NOMEM, "out of memory for activation buffers");
    }
    c->rope_cs = malloc((size_t)rows * hp->n_rot * sizeof(float));
    c->rope_cs_swa = malloc((size_t)rows * hp->n_rot * sizeof(float));
    c->logit_rows = malloc((size_t)rows * hp->n_embd * sizeof(float));
    if (!c->rope_cs || !c->rope_cs_swa || !c->logit_rows)
        return error_set(RESA_ERR_NOMEM, "out of memory for activation buffers");
    return RESA_OK;
}

resa_status backend_cpu_new(const resa_model *m, int n_threads, int n_rows_max,
                                 resa_kv_type kv_type, int block_size, int n_pages, int summaries,
                                 int ring_blocks, int n_ring_pages, resa_backend **out)
{
    *out = NULL;
    cpu_backend *c = calloc(1, sizeof *c);
    if (!c)
        return error_set(RESA_ERR_NOMEM, "out of memory");
    c->model = m;
    resa_status st = team_new(n_threads > 0 ? n_threads : cpu_count(), &c->team);
    if (st) {
        free(c);
        return st;
    }
    const resa_hparams *hp = &m->hp;
    unsigned char windowed[RESA_MAX_LAYERS];
    for (int l = 0; l < hp->n_layer; l++)
        windowed[l] = hparams_layer_swa(hp, l);
    const resa_kv_geometry g = { .type = kv_type, .n_layer = hp->n_layer, .n_head_kv = hp->n_head_kv,
                                 .head_dim = hp->head_dim, .block_size = block_size, .n_pages = n_pages,
                                 .summaries = summaries, .windowed = windowed, .ring_blocks = ring_blocks,
                                 .n_ring_pages = n_ring_pages };
    st = alloc_arena(c, n_rows_max);
    if (!st)
        st = kv_pool_init_geometry(&c->pool, &g);
    if (st) {
        cpu_free(&c->base);
        return st;
    }
    c->base = (resa_backend){ .name = "cpu", .n_rows_max = n_rows_max, .kv = &c->pool,
                              .begin = cpu_begin, .rmsnorm = cpu_rmsnorm, .matmul = cpu_matmul,
                              .add_bias = cpu_add_bias, .rope = cpu_rope, .kv_store = cpu_kv_store,
                              .attention = cpu_attention, .swiglu = cpu_swiglu, .add = cpu_add,
                              .logits = cpu_logits, .kv_read = cpu_kv_read, .kv_refresh = cpu_kv_refresh,
                              .kv_fill_repeat = cpu_kv_fill_repeat, .free = cpu_free,
                              .head_rmsnorm = cpu_head_rmsnorm, .geglu = cpu_geglu,
                              .matmul_many = cpu_matmul_many };
    *out = &c->base;
    return RESA_OK;
}
