/* The forward pass of a decoder-only transformer (llama / qwen2 family),
 * written to read like the math: one function per step. */
#include "forward.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "cpu.h"
#include "error.h"

double resa_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* y = x / rms(x) * w, per row (the kernel sums the squares in double). */
static void rmsnorm_rows(float *y, const float *x, const float *w, int n, int dim, float eps,
                         int n_threads)
{
    const resa_rmsnorm_fn rmsnorm = resa_elem()->rmsnorm;
#pragma omp parallel for num_threads(n_threads) schedule(static) if (n > 1)
    for (int t = 0; t < n; t++)
        rmsnorm(y + (size_t)t * dim, x + (size_t)t * dim, w, dim, eps);
}

static void add_bias_rows(float *x, const float *b, int n, int dim)
{
    if (!b)
        return;
    for (int t = 0; t < n; t++)
        for (int i = 0; i < dim; i++)
            x[(size_t)t * dim + i] += b[i];
}

/* cos/sin of position p for each rotated pair: theta_i = p * base^(-2i/n_rot),
 * built by repeated multiplication in float as ggml does, so angles match. */
static void rope_angles(float *cs, int n, int pos0, int n_rot, float base)
{
    const float theta_scale = powf(base, -2.0f / (float)n_rot);
    for (int t = 0; t < n; t++) {
        float theta = (float)(pos0 + t);
        float *c = cs + (size_t)t * n_rot;
        for (int i = 0; i < n_rot / 2; i++) {
            c[2 * i] = cosf(theta);
            c[2 * i + 1] = sinf(theta);
            theta *= theta_scale;
        }
    }
}

/* Rotates the first n_rot dims of each head of n rows of (n_heads*head_dim). */
static void rope_rows(float *x, const float *cs, int n, int n_heads, const resa_hparams *hp,
                      int n_threads)
{
    const resa_rope_fn rope = hp->rope_style == RESA_ROPE_NEOX ? resa_elem()->rope_neox
                                                                : resa_elem()->rope_norm;
#pragma omp parallel for num_threads(n_threads) schedule(static) if (n > 1)
    for (int t = 0; t < n; t++)
        for (int h = 0; h < n_heads; h++)
            rope(x + ((size_t)t * n_heads + h) * hp->head_dim, cs + (size_t)t * hp->n_rot, hp->n_rot);
}

/* hb = silu(hb) * hb2, silu(g) = g / (1 + e^-g). Elementwise, so the rows
 * are cut into chunks of 4096 (a multiple of every vector width) for the
 * threads. */
static void swiglu(float *hb, const float *hb2, size_t n, int n_threads)
{
    enum { CHUNK = 4096 };
    const resa_silu_mul_fn silu_mul = resa_elem()->silu_mul;
    const size_t n_chunks = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for num_threads(n_threads) schedule(static) if (n_chunks > 1)
    for (size_t c = 0; c < n_chunks; c++) {
        const size_t off = c * CHUNK;
        silu_mul(hb + off, hb2 + off, (int)(n - off < CHUNK ? n - off : CHUNK));
    }
}

static void add_rows(float *x, const float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] += y[i];
}

static void embed(const resa_model *m, const int32_t *tokens, int n, float *x)
{
    const resa_weight *e = &m->tok_embd;
    const resa_to_float_fn to_float = resa_dot()->to_float[e->type];
    for (int t = 0; t < n; t++)
        to_float((const uint8_t *)e->data + (size_t)tokens[t] * e->row_bytes,
                 x + (size_t)t * e->cols, e->cols);
}

/* x += Wo . attention(rope(Wq xb), cache with rope(Wk xb), Wv xb).
 * kv_only: only write this layer's K/V (the last layer of a pass whose
 * logits nobody reads feeds no other K/V). */
static resa_status attention_block(resa_context *ctx, int il, int n, int pos0, int sparse,
                                   int kv_only)
{
    const resa_model *m = ctx->model;
    const resa_hparams *hp = &m->hp;
    const resa_layer *L = &m->layers[il];
    resa_backend *be = ctx->be;
    const int nt = ctx->params.n_threads;
    const int q_dim = hp->n_head * hp->head_dim, kv_dim = hp->n_head_kv * hp->head_dim;
    resa_status st;
    rmsnorm_rows(ctx->xb, ctx->x, L->attn_norm, n, hp->n_embd, hp->rms_eps, nt);
    if ((st = be->matmul(be, &L->wk, ctx->xb, n, ctx->k)) ||
        (st = be->matmul(be, &L->wv, ctx->xb, n, ctx->v)))
        return st;
    add_bias_rows(ctx->k, L->bk, n, kv_dim);
    add_bias_rows(ctx->v, L->bv, n, kv_dim);
    rope_rows(ctx->k, ctx->rope_cs, n, hp->n_head_kv, hp, nt);
    kv_cache_write(&ctx->kv, il, pos0, n, ctx->k, ctx->v);
    if (kv_only)
        return RESA_OK;
    if ((st = be->matmul(be, &L->wq, ctx->xb, n, ctx->q)))
        return st;
    add_bias_rows(ctx->q, L->bq, n, q_dim);
    rope_rows(ctx->q, ctx->rope_cs, n, hp->n_head, hp, nt);
    const double t0 = ctx->timing_on ? resa_now() : 0;
    if (sparse) {
        st = be->select_blocks(be, &ctx->kv, il, ctx->q, pos0, hp->n_head, &ctx->sparse,
                               ctx->sel, ctx->n_sel);
        const int n_blocks = pos0 / ctx->sparse.block_size + 1;
        for (int h = 0; h < hp->n_head_kv; h++)
            ctx->pending_sparse |= ctx->n_sel[h] < n_blocks;
    }
    if (st)
        return st;
    const double t1 = ctx->timing_on ? resa_now() : 0;
    st = sparse ? be->attention_sparse(be, &ctx->kv, il, ctx->q, pos0, hp->n_head, ctx->sel,
                                       ctx->n_sel, ctx->att)
                : be->attention(be, &ctx->kv, il, ctx->q, n, pos0, hp->n_head, ctx->att);
    if (ctx->timing_on) {
        const double t2 = resa_now();
        ctx->timings.select_s += t1 - t0;
        ctx->timings.attention_s += t2 - t1;
    }
    if (st || (st = be->matmul(be, &L->wo, ctx->att, n, ctx->xb)))
        return st;
    add_rows(ctx->x, ctx->xb, (size_t)n * hp->n_embd);
    return RESA_OK;
}

/* x += W_down (silu(W_gate xb) * W_up xb) */
static resa_status ffn_block(resa_context *ctx, int il, int n)
{
    const resa_model *m = ctx->model;
    const resa_hparams *hp = &m->hp;
    const resa_layer *L = &m->layers[il];
    resa_backend *be = ctx->be;
    const int nt = ctx->params.n_threads;
    resa_status st;
    rmsnorm_rows(ctx->xb, ctx->x, L->ffn_norm, n, hp->n_embd, hp->rms_eps, nt);
    if ((st = be->matmul(be, &L->w_gate, ctx->xb, n, ctx->hb)) ||
        (st = be->matmul(be, &L->w_up, ctx->xb, n, ctx->hb2)))
        return st;
    swiglu(ctx->hb, ctx->hb2, (size_t)n * hp->n_ff, nt);
    if ((st = be->matmul(be, &L->w_down, ctx->hb, n, ctx->xb)))
        return st;
    add_rows(ctx->x, ctx->xb, (size_t)n * hp->n_embd);
    return RESA_OK;
}

resa_status forward_chunk(resa_context *ctx, const int32_t *tokens, int n, int pos0, int sparse,
                          forward_logits logits, float *all_logits)
{
    const resa_model *m = ctx->model;
    const resa_hparams *hp = &m->hp;
    resa_status st;
    embed(m, tokens, n, ctx->x);
    rope_angles(ctx->rope_cs, n, pos0, hp->n_rot, hp->rope_theta);
    for (int il = 0; il < hp->n_layer; il++) {
        const int kv_only = logits == LOGITS_NONE && il == hp->n_layer - 1;
        if ((st = attention_block(ctx, il, n, pos0, sparse, kv_only)))
            return st;
        if (kv_only)
            return RESA_OK;
        if ((st = ffn_block(ctx, il, n)))
            return st;
    }
    /* Logits: all positions, or only the last one (prefill needs no others). */
    if (logits != LOGITS_ALL)
        all_logits = NULL;
    const int first = all_logits ? 0 : n - 1;
    const int rows = n - first;
    rmsnorm_rows(ctx->xb, ctx->x + (size_t)first * hp->n_embd, m->output_norm, rows, hp->n_embd,
                 hp->rms_eps, ctx->params.n_threads);
    return ctx->be->matmul(ctx->be, &m->output, ctx->xb, rows, all_logits ? all_logits : ctx->logits);
}
