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

#include "arch.h"
#include "cpu.h"
#include "error.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#ifdef HAVE_OPENBLAS
#include <cblas.h>
#endif

static resa_status ensure_int(int **buf, size_t *cap, size_t n)
{
    if (n <= *cap)
        return RESA_OK;
    int *p = realloc(*buf, n * sizeof(int));
    if (!p)
        return resa_fail(RESA_ERR_NOMEM, "out of memory (attention scratch of %zu ints)", n);
    *buf = p;
    *cap = n;
    return RESA_OK;
}

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

/* The positions a query attends, ascending: all of [0, T) (dense, blocks
 * NULL) or the selected blocks clipped to T. Dense and a selection of every
 * block give the same list, so they compute exactly the same thing. */
static int attended_positions(const int *blocks, int n_blocks, int block_size, int T, int *list)
{
    int n = 0;
    if (!blocks) {
        for (int j = 0; j < T; j++)
            list[n++] = j;
        return n;
    }
    for (int i = 0; i < n_blocks; i++)
        for (int j = blocks[i] * block_size; j < (blocks[i] + 1) * block_size && j < T; j++)
            list[n++] = j;
    return n;
}

/* A partial softmax over one segment of positions, per query head of a
 * group: the running max m, the sum l of exp(score - m), and o = the sum of
 * exp(score - m) * v. Segments merge exactly (flash-decoding). */
typedef struct partial {
    float *o; /* (group, head_dim) */
    float *m, *l; /* (group) */
} partial;

/* All query heads of KV head kvh over positions list[0..n): each K and V row
 * is read once and serves the whole group (GQA packing); the step is
 * memory-bound, so reading the cache once is what matters. */
static void attend_segment(const resa_kv_cache *kv, int layer, int kvh, const float *q, int group,
                           const int *list, int n, float scale, float *scores, float *vrow,
                           partial *out)
{
    const int d = kv->head_dim;
    const resa_vec_dot_fn dot = resa_dot()->vec_dot[kv->type];
    for (int t = 0; t < n; t++) {
        const void *krow = kv_k(kv, layer, kvh, list[t]);
        for (int g = 0; g < group; g++)
            dot(d, &scores[(size_t)g * n + t], krow, q + (size_t)g * d);
    }
    for (int g = 0; g < group; g++) {
        float *sc = scores + (size_t)g * n, mx = -INFINITY;
        for (int t = 0; t < n; t++) {
            sc[t] *= scale;
            mx = sc[t] > mx ? sc[t] : mx;
        }
        double sum = 0.0;
        for (int t = 0; t < n; t++) {
            sc[t] = expf(sc[t] - mx);
            sum += sc[t];
        }
        out->m[g] = mx;
        out->l[g] = (float)sum;
    }
    memset(out->o, 0, (size_t)group * d * sizeof(float));
    for (int t = 0; t < n; t++) {
        row_to_f32(kv, kv_v(kv, layer, kvh, list[t]), vrow, d);
        for (int g = 0; g < group; g++) {
            const float p = scores[(size_t)g * n + t];
            float *o = out->o + (size_t)g * d;
            for (int c = 0; c < d; c++)
                o[c] += p * vrow[c];
        }
    }
}

/* out = sum_s e^(m_s - M) o_s / sum_s e^(m_s - M) l_s over the segments. */
static void merge_segments(const partial *parts, int n_seg, int g, int d, float *out)
{
    float M = -INFINITY;
    for (int s = 0; s < n_seg; s++)
        M = parts[s].m[g] > M ? parts[s].m[g] : M;
    double L = 0.0;
    memset(out, 0, (size_t)d * sizeof(float));
    for (int s = 0; s < n_seg; s++) {
        const float w = expf(parts[s].m[g] - M);
        L += (double)w * parts[s].l[g];
        for (int c = 0; c < d; c++)
            out[c] += w * parts[s].o[(size_t)g * d + c];
    }
    const float inv = (float)(1.0 / L);
    for (int c = 0; c < d; c++)
        out[c] *= inv;
}

/* Segments per KV head: enough work items for every thread once the
 * context is long; one segment for short contexts. */
static int segments_for(int n_positions, int n_head_kv, int n_threads)
{
    if (n_positions < 1024)
        return 1;
    const int s = (2 * n_threads + n_head_kv - 1) / n_head_kv;
    return s < 1 ? 1 : s > 64 ? 64 : s;
}

/* One query at position pos, every query head: dense when sel is NULL, else
 * over the blocks sel selected for each KV head (n_sel of them). */
static resa_status attention_one_query(resa_attn_scratch *s, int n_threads,
                                       const resa_kv_cache *kv, int layer, const float *q, int pos,
                                       int n_head, const int *sel, const int *n_sel, float *out)
{
    const int d = kv->head_dim, group = n_head / kv->n_head_kv, n_kv = kv->n_head_kv, T = pos + 1;
    resa_status st;
    if ((st = ensure_int(&s->list, &s->list_cap, (size_t)n_kv * kv->n_ctx)))
        return st;
    int n_pos[RESA_MAX_KV_HEADS], n_seg_max = 1;
    for (int h = 0; h < n_kv; h++) {
        n_pos[h] = attended_positions(sel ? sel + (size_t)h * kv->n_blocks_max : NULL,
                                      sel ? n_sel[h] : 0, kv->block_size, T,
                                      s->list + (size_t)h * kv->n_ctx);
        const int ns = segments_for(n_pos[h], n_kv, n_threads);
        n_seg_max = ns > n_seg_max ? ns : n_seg_max;
    }
    /* per work item: o, m, l; per thread: scores of the longest segment + a V row */
    const size_t item = (size_t)group * (d + 2), n_items = (size_t)n_kv * n_seg_max;
    const size_t per_thread = (size_t)group * ((size_t)kv->n_ctx / n_seg_max + 1) + (size_t)d;
    if ((st = ensure(&s->scores, &s->scores_cap, per_thread * n_threads + item * n_items)))
        return st;
    float *part_mem = s->scores + per_thread * n_threads;
    partial parts[RESA_MAX_KV_HEADS * 64]; /* segments_for() returns at most 64 */
    const float scale = 1.0f / sqrtf((float)d);
#pragma omp parallel for num_threads(n_threads) schedule(static) collapse(2)
    for (int h = 0; h < n_kv; h++)
        for (int seg = 0; seg < n_seg_max; seg++) {
            int tid = 0;
#ifdef _OPENMP
            tid = omp_get_thread_num();
#endif
            const int ns = segments_for(n_pos[h], n_kv, n_threads);
            float *mem = part_mem + item * ((size_t)h * n_seg_max + seg);
            partial *pt = &parts[h * n_seg_max + seg];
            *pt = (partial){ .o = mem, .m = mem + (size_t)group * d, .l = mem + (size_t)group * (d + 1) };
            if (seg >= ns)
                continue;
            const int a = (int)((long)n_pos[h] * seg / ns), b = (int)((long)n_pos[h] * (seg + 1) / ns);
            float *scores = s->scores + per_thread * (size_t)tid;
            attend_segment(kv, layer, h, q + (size_t)h * group * d, group,
                           s->list + (size_t)h * kv->n_ctx + a, b - a, scale, scores,
                           scores + (size_t)group * (b - a), pt);
        }
    for (int h = 0; h < n_kv; h++)
        for (int g = 0; g < group; g++)
            merge_segments(&parts[h * n_seg_max], segments_for(n_pos[h], n_kv, n_threads), g, d,
                           out + ((size_t)h * group + g) * d);
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
        return attention_one_query(s, n_threads, kv, layer, q, pos0, n_head, NULL, NULL, out);
    const int d = kv->head_dim, group = n_head / kv->n_head_kv, T = pos0 + n;
    const int q_stride = n_head * d, n_chunks = (n + CHUNK_ROWS - 1) / CHUNK_ROWS;
    const size_t per_thread = (size_t)CHUNK_ROWS * T;
    resa_status st;
    if ((st = ensure(&s->kf, &s->kf_cap, (size_t)T * d)) ||
        (st = ensure(&s->vf, &s->vf_cap, (size_t)T * d)) ||
        (st = ensure(&s->scores, &s->scores_cap, per_thread * n_threads)))
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

void attn_scratch_free(resa_attn_scratch *s)
{
    free(s->kf);
    free(s->vf);
    free(s->scores);
    free(s->list);
    memset(s, 0, sizeof *s);
}
