#include "matmul.h"

#include <stdlib.h>

#include "cpu.h"
#include "error.h"
#include "grow.h"

/* Rows per work item: enough to amortize scheduling, few enough to balance. */
#define ROW_TILE 16

/* Activations in the format the weight type's dot kernel wants. */
static resa_status prepare_activations(resa_matmul_scratch *s, int n_threads, const resa_weight *w,
                                       const float *x, int n, const void **act, size_t *act_stride)
{
    const resa_type_traits *tr = resa_type_traits_get(w->type);
    if (tr->vec_dot_type == RESA_TYPE_F32) {
        *act = x;
        *act_stride = (size_t)w->cols * sizeof(float);
        return RESA_OK;
    }
    const size_t stride = resa_row_size(tr->vec_dot_type, w->cols);
    resa_status st = resa_grow(&s->act, &s->act_cap, stride * (size_t)n, 1);
    if (st)
        return st;
    const resa_quantize_fn quantize = resa_dot()->quantize[tr->vec_dot_type];
    uint8_t *a = s->act;
#pragma omp parallel for num_threads(n_threads) schedule(static) if (n > 1)
    for (int t = 0; t < n; t++)
        quantize(x + (size_t)t * w->cols, a + (size_t)t * stride, w->cols);
    *act = s->act;
    *act_stride = stride;
    return RESA_OK;
}

resa_status matmul_cpu(resa_matmul_scratch *s, int n_threads, const resa_weight *w, const float *x,
                       int n, float *y)
{
    const void *act;
    size_t act_stride;
    resa_status st = prepare_activations(s, n_threads, w, x, n, &act, &act_stride);
    if (st)
        return st;
    const resa_vec_dot_fn dot = resa_dot()->vec_dot[w->type];
    const uint8_t *wd = w->data, *ad = act;
    const int64_t rows = w->rows, cols = w->cols;
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int64_t r0 = 0; r0 < rows; r0 += ROW_TILE) {
        const int64_t r1 = r0 + ROW_TILE < rows ? r0 + ROW_TILE : rows;
        for (int t = 0; t < n; t++)
            for (int64_t r = r0; r < r1; r++)
                dot(cols, &y[(size_t)t * rows + r], wd + (size_t)r * w->row_bytes,
                    ad + (size_t)t * act_stride);
    }
    return RESA_OK;
}

void matmul_scratch_free(resa_matmul_scratch *s)
{
    free(s->act);
    s->act = NULL;
    s->act_cap = 0;
}
