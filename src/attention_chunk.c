/* Dense causal attention of a chunk of queries (prefill, rectification)
 * on the CPU: each KV head's keys/values are converted to f32 once and serve
 * all queries of the chunk and all query heads of the group; with OpenBLAS
 * the score and value products are sgemm calls. One query goes to the
 * decode path (attention.c). */
#include "config.h"

#include "attention.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "error.h"
#include "grow.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#ifdef HAVE_OPENBLAS
#include <cblas.h>
#endif

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

/* Keys and values [0, T) of one KV head as f32 rows. */
static void load_head(const resa_kv_cache *kv, int layer, int kvh, int T, float *kf, float *vf,
                      int n_threads)
{
    const int d = kv->head_dim;
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int j = 0; j < T; j++) {
        kv_row_to_f32(kv, kv_k(kv, layer, kvh, j), kf + (size_t)j * d, d);
        kv_row_to_f32(kv, kv_v(kv, layer, kvh, j), vf + (size_t)j * d, d);
    }
}

/* Queries [r0, r1) of one query head over keys [0, pos0 + r1): S = Q K^T,
 * causal softmax, out = S V. One work item: single-threaded (BLAS too). */
static void attend_rows(const float *kf, const float *vf, const float *q, int r0, int r1,
                        int pos0, int d, int q_stride, float scale, float *S, float *out)
{
    const int n = r1 - r0, T = pos0 + r1;
    q += (size_t)r0 * q_stride;
    out += (size_t)r0 * q_stride;
#ifdef HAVE_OPENBLAS
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, T, d, 1.0f, q, q_stride, kf, d, 0.0f,
                S, T);
#else
    const resa_vec_dot_fn dot = resa_dot()->vec_dot[RESA_TYPE_F32];
    for (int i = 0; i < n; i++)
        for (int j = 0; j <= pos0 + r0 + i; j++)
            dot(d, &S[(size_t)i * T + j], kf + (size_t)j * d, q + (size_t)i * q_stride);
#endif
    for (int i = 0; i < n; i++) {
        float *row = S + (size_t)i * T;
        const int len = pos0 + r0 + i + 1; /* causal: keys up to its own position */
        for (int j = 0; j < len; j++)
            row[j] *= scale;
        softmax(row, len);
        memset(row + len, 0, (size_t)(T - len) * sizeof(float));
    }
#ifdef HAVE_OPENBLAS
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, d, T, 1.0f, S, T, vf, d, 0.0f, out,
                q_stride);
#else
    for (int i = 0; i < n; i++) {
        float *o = out + (size_t)i * q_stride;
        memset(o, 0, (size_t)d * sizeof(float));
        for (int j = 0; j < T; j++) {
            const float p = S[(size_t)i * T + j], *v = vf + (size_t)j * d;
            for (int c = 0; c < d; c++)
                o[c] += p * v[c];
        }
    }
#endif
}

/* Rows of queries per work item: enough items to keep every thread busy,
 * big enough for the products to run at speed. */
#define CHUNK_ROWS 64

resa_status attention_cpu(resa_attn_scratch *s, int n_threads, const resa_kv_cache *kv, int layer,
                          const float *q, int n, int pos0, int n_head, float *out)
{
    if (n == 1)
        return attention_decode_cpu(s, n_threads, kv, layer, q, pos0, n_head, out);
    const int d = kv->head_dim, group = n_head / kv->n_head_kv, T = pos0 + n;
    const int q_stride = n_head * d, n_chunks = (n + CHUNK_ROWS - 1) / CHUNK_ROWS;
    const size_t per_thread = (size_t)CHUNK_ROWS * T;
    resa_status st;
    if ((st = resa_grow(&s->kf, &s->kf_cap, (size_t)T * d, sizeof(float))) ||
        (st = resa_grow(&s->vf, &s->vf_cap, (size_t)T * d, sizeof(float))) ||
        (st = resa_grow(&s->scores, &s->scores_cap, per_thread * n_threads, sizeof(float))))
        return st;
    const float scale = 1.0f / sqrtf((float)d);
    for (int kvh = 0; kvh < kv->n_head_kv; kvh++) {
        load_head(kv, layer, kvh, T, s->kf, s->vf, n_threads);
        /* the group's query heads x row chunks: threads here, BLAS single-threaded */
#pragma omp parallel for num_threads(n_threads) schedule(dynamic) collapse(2)
        for (int g = 0; g < group; g++)
            for (int c = 0; c < n_chunks; c++) {
                int tid = 0;
#ifdef _OPENMP
                tid = omp_get_thread_num();
#endif
                const int h = kvh * group + g, r1 = (c + 1) * CHUNK_ROWS < n ? (c + 1) * CHUNK_ROWS : n;
                attend_rows(s->kf, s->vf, q + (size_t)h * d, c * CHUNK_ROWS, r1, pos0, d, q_stride,
                            scale, s->scores + per_thread * (size_t)tid, out + (size_t)h * d);
            }
    }
    return RESA_OK;
}

