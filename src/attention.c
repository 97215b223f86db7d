/* Dense causal attention on the CPU.
 *
 * Decode (one query): each query head streams its KV head's keys and values
 * once — the step is memory-bound, so nothing else matters much here.
 * Chunks (prefill): each KV head's keys/values are converted to f32 once and
 * serve all queries of the chunk and all query heads of the group; with
 * OpenBLAS the score and value products are sgemm calls. */
#include "config.h"

#include "attention.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "error.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#ifdef HAVE_OPENBLAS
#include <cblas.h>
#endif

static resa_status ensure(float **buf, size_t *cap, size_t n)
{
    if (n <= *cap)
        return RESA_OK;
    float *p = realloc(*buf, n * sizeof(float));
    if (!p)
        return resa_fail(RESA_ERR_NOMEM, "out of memory (attention scratch of %zu floats)", n);
    *buf = p;
    *cap = n;
    return RESA_OK;
}

/* In place: x[i] = exp(x[i] - max) / sum. */
static void softmax(float *x, int n)
{
    float mx = -INFINITY;
    for (int i = 0; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    const float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++)
        x[i] *= inv;
}

static void row_to_f32(const resa_kv_cache *kv, const void *src, float *dst, int n)
{
    if (kv->type == RESA_TYPE_F32)
        memcpy(dst, src, (size_t)n * sizeof(float));
    else
        resa_dot()->to_float[RESA_TYPE_F16](src, dst, n);
}

/* Span i of the positions a query attends: all of [0, T) when blocks is
 * NULL (dense), else selected block i clipped to T (sparse). Both walk the
 * positions in ascending order, so a selection of every block computes
 * exactly what dense attention computes. */
static void span(const int *blocks, int i, int block_size, int T, int *lo, int *hi)
{
    if (!blocks) {
        *lo = 0;
        *hi = T;
        return;
    }
    *lo = blocks[i] * block_size;
    *hi = *lo + block_size < T ? *lo + block_size : T;
}

/* One query head, one query that sees positions < T (all, or the selected
 * blocks): out = softmax(q.K^T * scale) V over those positions. This loop
 * reads each attended K and V row once: the step is memory-bound. */
static void attend_one(const resa_kv_cache *kv, int layer, int kvh, const float *q, int T,
                       const int *blocks, int n_blocks, float scale, float *scores, float *vrow,
                       float *out)
{
    const int d = kv->head_dim, n_spans = blocks ? n_blocks : 1;
    const resa_vec_dot_fn dot = resa_dot()->vec_dot[kv->type];
    int m = 0, lo, hi;
    for (int i = 0; i < n_spans; i++) {
        span(blocks, i, kv->block_size, T, &lo, &hi);
        for (int j = lo; j < hi; j++, m++) {
            dot(d, &scores[m], kv_k(kv, layer, kvh, j), q);
            scores[m] *= scale;
        }
    }
    softmax(scores, m);

    memset(out, 0, (size_t)d * sizeof(float));
    m = 0;
    for (int i = 0; i < n_spans; i++) {
        span(blocks, i, kv->block_size, T, &lo, &hi);
        for (int j = lo; j < hi; j++, m++) {
            row_to_f32(kv, kv_v(kv, layer, kvh, j), vrow, d);
            const float p = scores[m];
            for (int c = 0; c < d; c++)
                out[c] += p * vrow[c];
        }
    }
}

/* One query at position pos, every query head: dense when sel is NULL, else
 * over the blocks sel selected for each KV head (n_sel of them). */
static resa_status attention_one_query(resa_attn_scratch *s, int n_threads,
                                       const resa_kv_cache *kv, int layer, const float *q, int pos,
                                       int n_head, const int *sel, const int *n_sel, float *out)
{
    const int d = kv->head_dim, group = n_head / kv->n_head_kv;
    const size_t per_thread = (size_t)kv->n_ctx + (size_t)d;
    resa_status st = ensure(&s->scores, &s->scores_cap, per_thread * (size_t)n_threads);
    if (st)
        return st;
    const float scale = 1.0f / sqrtf((float)d);
#pragma omp parallel num_threads(n_threads)
    {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        float *scores = s->scores + per_thread * (size_t)tid;
#pragma omp for schedule(static)
        for (int h = 0; h < n_head; h++) {
            const int kvh = h / group;
            attend_one(kv, layer, kvh, q + (size_t)h * d, pos + 1,
                       sel ? sel + (size_t)kvh * kv->n_blocks_max : NULL, sel ? n_sel[kvh] : 0,
                       scale, scores, scores + kv->n_ctx, out + (size_t)h * d);
        }
    }
    return RESA_OK;
}

resa_status attention_sparse_cpu(resa_attn_scratch *s, int n_threads, const resa_kv_cache *kv,
                                 int layer, const float *q, int pos, int n_head, const int *sel,
                                 const int *n_sel, float *out)
{
    return attention_one_query(s, n_threads, kv, layer, q, pos, n_head, sel, n_sel, out);
}

/* Keys and values [0, T) of one KV head as f32 rows. */
static void load_head(const resa_kv_cache *kv, int layer, int kvh, int T, float *kf, float *vf,
                      int n_threads)
{
    const int d = kv->head_dim;
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int j = 0; j < T; j++) {
        row_to_f32(kv, kv_k(kv, layer, kvh, j), kf + (size_t)j * d, d);
        row_to_f32(kv, kv_v(kv, layer, kvh, j), vf + (size_t)j * d, d);
    }
}

#ifdef HAVE_OPENBLAS
/* Softmax of row i of S over keys [0, pos0+i]; later keys get probability 0. */
static void masked_softmax_rows(float *S, int n, int T, int pos0, float scale, int n_threads)
{
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int i = 0; i < n; i++) {
        float *row = S + (size_t)i * T;
        const int len = pos0 + i + 1;
        for (int j = 0; j < len; j++)
            row[j] *= scale;
        softmax(row, len);
        memset(row + len, 0, (size_t)(T - len) * sizeof(float));
    }
}
#endif

/* One query head over the whole chunk: S = Q K^T, softmax, out = S V. */
static void attend_chunk_head(const float *kf, const float *vf, const float *q, int n, int pos0,
                              int T, int d, int q_stride, float scale, float *S, float *out,
                              int n_threads)
{
#ifdef HAVE_OPENBLAS
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, T, d, 1.0f, q, q_stride, kf, d, 0.0f,
                S, T);
    masked_softmax_rows(S, n, T, pos0, scale, n_threads);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, d, T, 1.0f, S, T, vf, d, 0.0f, out,
                q_stride);
#else
    const resa_vec_dot_fn dot = resa_dot()->vec_dot[RESA_TYPE_F32];
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int i = 0; i < n; i++) {
        float *row = S + (size_t)i * T;
        const float *qi = q + (size_t)i * q_stride;
        const int len = pos0 + i + 1;
        for (int j = 0; j < len; j++) {
            dot(d, &row[j], kf + (size_t)j * d, qi);
            row[j] *= scale;
        }
        softmax(row, len);

        float *o = out + (size_t)i * q_stride;
        memset(o, 0, (size_t)d * sizeof(float));
        for (int j = 0; j < len; j++) {
            const float p = row[j], *v = vf + (size_t)j * d;
            for (int c = 0; c < d; c++)
                o[c] += p * v[c];
        }
    }
#endif
}

resa_status attention_cpu(resa_attn_scratch *s, int n_threads, const resa_kv_cache *kv, int layer,
                          const float *q, int n, int pos0, int n_head, float *out)
{
    if (n == 1)
        return attention_one_query(s, n_threads, kv, layer, q, pos0, n_head, NULL, NULL, out);
    const int d = kv->head_dim, group = n_head / kv->n_head_kv, T = pos0 + n;
    const int q_stride = n_head * d;
    resa_status st;
    if ((st = ensure(&s->kf, &s->kf_cap, (size_t)T * d)) ||
        (st = ensure(&s->vf, &s->vf_cap, (size_t)T * d)) ||
        (st = ensure(&s->scores, &s->scores_cap, (size_t)n * T)))
        return st;
    const float scale = 1.0f / sqrtf((float)d);
    for (int kvh = 0; kvh < kv->n_head_kv; kvh++) {
        load_head(kv, layer, kvh, T, s->kf, s->vf, n_threads);
        for (int h = kvh * group; h < (kvh + 1) * group; h++)
            attend_chunk_head(s->kf, s->vf, q + (size_t)h * d, n, pos0, T, d, q_stride, scale,
                              s->scores, out + (size_t)h * d, n_threads);
    }
    return RESA_OK;
}

void attn_scratch_free(resa_attn_scratch *s)
{
    free(s->kf);
    free(s->vf);
    free(s->scores);
    memset(s, 0, sizeof *s);
}
