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

#ifdef _OPENMP
#include <omp.h>
#endif

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

/* y (n, rows) = x (n, cols) . W^T for a few rows (decode of one sequence or
 * of several together, n <= RESA_GEMV_MAX_COLS): the activation rows
 * quantized once, threads take slices of W's rows, and the gemv kernel reads
 * each weight once for all of them. */
static resa_status matvec(resa_matmul_scratch *s, int n_threads, const resa_weight *w, const float *x, int n,
                          float *y)
{
    const enum resa_type at = type_traits_get(w->type)->vec_dot_type;
    const size_t arow = type_row_size(at, w->cols);
    const int quantized = at != RESA_TYPE_F32;
    if (quantized) {
        resa_status st = resa_grow(&s->act, &s->act_cap, (size_t)n * arow, 1);
        if (st)
            return st;
    }
    const void *act = quantized ? s->act : (const void *)x;
    const resa_gemv_fn gemv = dot_kernels()->gemv[w->type];
    const resa_quantize_fn quantize = dot_kernels()->quantize[at];
    const uint8_t *wd = w->data;
    const int64_t rows = w->rows;
    const int64_t slice = round_up((rows + n_threads * GEMV_ITEMS_PER_THREAD - 1) /
                                   (n_threads * GEMV_ITEMS_PER_THREAD), 8);
    /* one parallel region: the rows quantized (shared out), a barrier, the products */
#pragma omp parallel num_threads(n_threads)
    {
        if (quantized) {
#pragma omp for schedule(static)
            for (int c = 0; c < n; c++)
                quantize(x + (size_t)c * w->cols, (uint8_t *)s->act + (size_t)c * arow, w->cols);
        }
#pragma omp for schedule(static)
        for (int64_t r0 = 0; r0 < rows; r0 += slice) {
            const int64_t nr = rows - r0 < slice ? rows - r0 : slice;
            gemv(w->cols, (int)nr, n, wd + (size_t)r0 * w->row_bytes, w->row_bytes, act, arow, y + r0,
                 (size_t)rows);
        }
    }
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

/* y (n, rows) = x (n, cols) . W^T: panels once (or, for the super-block
 * types, whose gemm reads plain Q8_K rows, every row quantized once), then
 * row chunks x tiles. */
static resa_status matmat(resa_matmul_scratch *s, int n_threads, const resa_weight *w, const float *x, int n,
                          float *y)
{
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
    }
    const int64_t chunk = chunk_rows(w, n_threads);
    /* one parallel region: packing, a barrier, the products */
#pragma omp parallel num_threads(n_threads)
    {
        if (rowwise) {
#pragma omp for schedule(static)
            for (int c = 0; c < n; c++)
                dot_kernels()->quantize[at](x + (size_t)c * w->cols, (uint8_t *)s->act + (size_t)c * arow, w->cols);
        }
        if (int8) {
            int tid = 0;
#ifdef _OPENMP
            tid = omp_get_thread_num();
#endif
            uint8_t *rows = (uint8_t *)s->rows + (size_t)tid * RESA_PANEL_COLS * arow;
#pragma omp for schedule(static)
            for (int p = 0; p < np; p++)
                pack_panel(w, at, x, n, p, rows, (resa_dot_panel *)act);
        }
#pragma omp for schedule(static)
        for (int64_t r0 = 0; r0 < w->rows; r0 += chunk)
            gemm_rows(w, int8, act, lda, n, r0, r0 + chunk < w->rows ? r0 + chunk : w->rows, y);
    }
    return RESA_OK;
}

resa_status matmul_cpu(resa_matmul_scratch *s, int n_threads, const resa_weight *w, const float *x,
                       int n, float *y)
{
    return n <= RESA_GEMV_MAX_COLS ? matvec(s, n_threads, w, x, n, y) : matmat(s, n_threads, w, x, n, y);
}

void matmul_scratch_free(resa_matmul_scratch *s)
{
    free(s->act);
    free(s->rows);
    *s = (resa_matmul_scratch){0};
}
