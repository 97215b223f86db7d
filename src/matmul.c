/* SPDX-License-Identifier: MIT */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "matmul.h"

#include <stdint.h>
#include <stdlib.h>

#include "cpu.h"
#include "error.h"
#include "grow.h"

/* Decode work items per thread: enough to even out, few enough to be cheap. */
#define GEMV_ITEMS_PER_THREAD 4
/* Prefill: the weight rows of one work item stay in L1 (with a pair of
 * panels beside them) while every token passes. */
#define L1_WEIGHT_BYTES (12 * 1024)

static int64_t round_up(int64_t v, int64_t m)
{
    return (v + m - 1) / m * m;
}

static void *align64(void *p)
{
    return (void *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
}

/* Activation rows quantized for the integer kernels: one item per row. */
typedef struct quantize_job {
    resa_quantize_fn quantize;
    const float *x;
    uint8_t *out;
    int64_t cols;
    size_t arow;
} quantize_job;

static void quantize_item(void *ctx, int c, int worker)
{
    const quantize_job *j = ctx;
    (void)worker;
    j->quantize(j->x + (size_t)c * j->cols, j->out + (size_t)c * j->arow, j->cols);
}

/* Decode rows under threshold are quantized by the caller: a fork costs
 * more than the few hundred elements of one row. */
#define QUANTIZE_PARALLEL_MIN_ELEMS 16384

static void quantize_rows(resa_team *team, resa_quantize_fn quantize, const float *x, int n, int64_t cols,
                          uint8_t *out, size_t arow)
{
    quantize_job j = {.quantize = quantize, .x = x, .out = out, .cols = cols, .arow = arow};
    team_run(team_if_worth(team, (size_t)n * (size_t)cols, QUANTIZE_PARALLEL_MIN_ELEMS), n, quantize_item, &j);
}

/* One weight of a decode product: its rows in slices, items [first, ...). */
typedef struct gemv_part {
    resa_gemv_fn gemv;
    const resa_weight *w;
    const void *act; /* the quantized rows (or the f32 ones) */
    size_t arow;
    int64_t slice;
    float *y;
    int first;
} gemv_part;

typedef struct gemv_job {
    gemv_part part[MATMUL_MAX_WEIGHTS];
    int k, n;
} gemv_job;

static void gemv_item(void *ctx, int item, int worker)
{
    const gemv_job *j = ctx;
    (void)worker;
    int p = j->k - 1;
    while (item < j->part[p].first)
        p--;
    const gemv_part *g = &j->part[p];
    const int64_t rows = g->w->rows, r0 = (int64_t)(item - g->first) * g->slice;
    const int64_t nr = rows - r0 < g->slice ? rows - r0 : g->slice;
    g->gemv(g->w->cols, (int)nr, j->n, (const uint8_t *)g->w->data + (size_t)r0 * g->w->row_bytes, g->w->row_bytes,
            g->act, g->arow, g->y + r0, (size_t)rows);
}

/* y[i] (n, rows) = x (n, cols) . W[i]^T for a few rows (decode of one
 * sequence or of several together, n <= RESA_GEMV_MAX_COLS) and k weights
 * that share the input: the activation rows quantized once per dot type,
 * threads take slices of every weight's rows in one loop (one fork and join
 * for Q, K and V), and the gemv kernel reads each weight once for all rows. */
static resa_status matvec(resa_matmul_scratch *s, resa_team *team, int k, const resa_weight *const *w, const float *x,
                          int n, float *const *y)
{
    size_t off[MATMUL_MAX_WEIGHTS], total = 0;
    enum resa_type at[MATMUL_MAX_WEIGHTS];
    int src[MATMUL_MAX_WEIGHTS]; /* the part whose quantized rows part i reads */
    for (int i = 0; i < k; i++) {
        at[i] = type_traits_get(w[i]->type)->vec_dot_type;
        src[i] = i;
        for (int p = 0; p < i; p++)
            if (at[p] == at[i] && w[p]->cols == w[i]->cols) {
                src[i] = src[p];
                break;
            }
        off[i] = total;
        if (src[i] == i && at[i] != RESA_TYPE_F32)
            total += (size_t)n * type_row_size(at[i], w[i]->cols);
    }
    if (total) {
        resa_status st = resa_grow(&s->act, &s->act_cap, total, 1);
        if (st)
            return st;
    }
    /* one slice size for every weight (items of equal work), as many items
     * as k loops would have (a descheduled thread holds up one of them) */
    const int n_items = team_size(team) * GEMV_ITEMS_PER_THREAD * k;
    int64_t rows = 0;
    for (int i = 0; i < k; i++)
        rows += w[i]->rows;
    const int64_t slice = round_up((rows + n_items - 1) / n_items, 8);
    gemv_job j = {.k = k, .n = n};
    int items = 0;
    for (int i = 0; i < k; i++) {
        const int quantized = at[i] != RESA_TYPE_F32; /* f32 weights read x itself (s->act may be NULL) */
        uint8_t *act = quantized ? (uint8_t *)s->act + off[src[i]] : NULL;
        const size_t arow = type_row_size(at[i], w[i]->cols);
        if (src[i] == i && quantized)
            quantize_rows(team, dot_kernels()->quantize[at[i]], x, n, w[i]->cols, act, arow);
        j.part[i] = (gemv_part){.gemv = dot_kernels()->gemv[w[i]->type], .w = w[i],
                                .act = quantized ? (const void *)act : (const void *)x, .arow = arow,
                                .slice = slice, .y = y[i], .first = items};
        items += (int)((w[i]->rows + slice - 1) / slice);
    }
    team_run(team, items, gemv_item, &j);
    return RESA_OK;
}

/* Rows per prefill work item: a multiple of the tile's RESA_GEMM_MR under the L1
 * budget, and a number of items that the threads share evenly. */
static int64_t chunk_rows(const resa_weight *w, int n_threads)
{
    int64_t by_cache = (int64_t)(L1_WEIGHT_BYTES / w->row_bytes) / RESA_GEMM_MR * RESA_GEMM_MR;
    if (by_cache < RESA_GEMM_MR)
        by_cache = RESA_GEMM_MR;
    const int64_t items = round_up((w->rows + by_cache - 1) / by_cache, n_threads);
    return round_up((w->rows + items - 1) / items, RESA_GEMM_MR);
}

/* Quantizes tokens [8p, 8p + 8) into rows and packs them into panel p. */
static void pack_panel(const resa_weight *w, enum resa_type at, const float *x, int n, int p, uint8_t *rows,
                       resa_dot_panel *panels)
{
    const size_t arow = type_row_size(at, w->cols);
    const int64_t nb = w->cols / 32;
    const int nc = n - RESA_PANEL_COLS * p < RESA_PANEL_COLS ? n - RESA_PANEL_COLS * p : RESA_PANEL_COLS;
    for (int i = 0; i < nc; i++)
        dot_kernels()->quantize[at](x + (size_t)(RESA_PANEL_COLS * p + i) * w->cols, rows + (size_t)i * arow,
                                 w->cols);
    dot_pack(at, rows, arow, nc, w->cols, panels + (size_t)p * nb);
}

/* One work item: weight rows [r0, r1) against every token, 16 at a time.
 * act: panels (int8 types, lda 0) or the f32 rows (lda bytes apart). */
static void gemm_rows(const resa_weight *w, int int8, const void *act, size_t lda, int n, int64_t r0,
                      int64_t r1, float *y)
{
    const resa_gemm_fn gemm = dot_kernels()->gemm[w->type];
    const int64_t nb = w->cols / 32;
    for (int c0 = 0; c0 < n; c0 += RESA_GEMM_NC) {
        const int nc = n - c0 < RESA_GEMM_NC ? n - c0 : RESA_GEMM_NC;
        const void *a = int8 ? (const void *)((const resa_dot_panel *)act + (size_t)(c0 / RESA_PANEL_COLS) * nb)
                             : (const void *)((const char *)act + (size_t)c0 * lda);
        for (int64_t r = r0; r < r1; r += RESA_GEMM_MR) {
            const int nr = r1 - r < RESA_GEMM_MR ? (int)(r1 - r) : RESA_GEMM_MR;
            gemm(w->cols, nr, nc, (const uint8_t *)w->data + (size_t)r * w->row_bytes, w->row_bytes, a, lda,
                 y + (size_t)c0 * w->rows + r, (size_t)w->rows);
        }
    }
}

typedef struct pack_job {
    const resa_weight *w;
    enum resa_type at;
    const float *x;
    int n;
    uint8_t *rows; /* each worker's RESA_PANEL_COLS rows */
    size_t rows_stride;
    resa_dot_panel *panels;
} pack_job;

static void pack_item(void *ctx, int p, int worker)
{
    const pack_job *j = ctx;
    pack_panel(j->w, j->at, j->x, j->n, p, j->rows + (size_t)worker * j->rows_stride, j->panels);
}

typedef struct gemm_job {
    const resa_weight *w;
    int int8;
    const void *act;
    size_t lda;
    int n;
    int64_t chunk;
    float *y;
} gemm_job;

static void gemm_item(void *ctx, int item, int worker)
{
    const gemm_job *j = ctx;
    (void)worker;
    const int64_t r0 = (int64_t)item * j->chunk, r1 = r0 + j->chunk < j->w->rows ? r0 + j->chunk : j->w->rows;
    gemm_rows(j->w, j->int8, j->act, j->lda, j->n, r0, r1, j->y);
}

/* y (n, rows) = x (n, cols) . W^T: panels once (or, for the super-block
 * types, whose gemm reads plain Q8_K rows, every row quantized once), then
 * row chunks x tiles. */
static resa_status matmat(resa_matmul_scratch *s, resa_team *team, const resa_weight *w, const float *x, int n,
                          float *y)
{
    const int n_threads = team_size(team);
    const enum resa_type at = type_traits_get(w->type)->vec_dot_type;
    const int rowwise = at == RESA_TYPE_Q8_K;
    const int int8 = at != RESA_TYPE_F32 && !rowwise, np = (n + RESA_PANEL_COLS - 1) / RESA_PANEL_COLS;
    const void *act = x;
    size_t lda = (size_t)w->cols * sizeof(float), arow = 0;
    if (rowwise) {
        arow = type_row_size(at, w->cols);
        resa_status st = resa_grow(&s->act, &s->act_cap, (size_t)n * arow, 1);
        if (st)
            return st;
        quantize_rows(team, dot_kernels()->quantize[at], x, n, w->cols, s->act, arow);
        act = s->act;
        lda = arow;
    }
    if (int8) {
        arow = type_row_size(at, w->cols);
        const size_t panel_bytes = (size_t)np * (size_t)(w->cols / 32) * sizeof(resa_dot_panel);
        resa_status st;
        if ((st = resa_grow(&s->act, &s->act_cap, panel_bytes + 64, 1)) ||
            (st = resa_grow(&s->rows, &s->rows_cap, (size_t)n_threads * RESA_PANEL_COLS * arow, 1)))
            return st;
        act = align64(s->act);
        lda = 0;
        pack_job pj = {.w = w, .at = at, .x = x, .n = n, .rows = s->rows, .rows_stride = RESA_PANEL_COLS * arow,
                       .panels = (resa_dot_panel *)act};
        team_run(team, np, pack_item, &pj);
    }
    const int64_t chunk = chunk_rows(w, n_threads);
    gemm_job gj = {.w = w, .int8 = int8, .act = act, .lda = lda, .n = n, .chunk = chunk, .y = y};
    team_run(team, (int)((w->rows + chunk - 1) / chunk), gemm_item, &gj);
    return RESA_OK;
}

resa_status matmul_cpu(resa_matmul_scratch *s, resa_team *team, const resa_weight *w, const float *x,
                       int n, float *y)
{
    return matmul_cpu_many(s, team, 1, &w, x, n, &y);
}

resa_status matmul_cpu_many(resa_matmul_scratch *s, resa_team *team, int k, const resa_weight *const *w,
                            const float *x, int n, float *const *y)
{
    if (k < 1 || k > MATMUL_MAX_WEIGHTS)
        return error_set(RESA_ERR_ARG, "matmul of %d weights at once (1 to %d)", k, MATMUL_MAX_WEIGHTS);
    if (n <= RESA_GEMV_MAX_COLS)
        return matvec(s, team, k, w, x, n, y);
    for (int i = 0; i < k; i++) { /* prefill: each product is long enough to be its own loop */
        resa_status st = matmat(s, team, w[i], x, n, y[i]);
        if (st)
            return st;
    }
    return RESA_OK;
}

void matmul_scratch_free(resa_matmul_scratch *s)
{
    free(s->act);
    free(s->rows);
    *s = (resa_matmul_scratch){0};
}
