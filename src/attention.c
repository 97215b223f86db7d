/* One-query attention on the CPU (decode steps, dense or sparse): each KV
 * head's keys and values are streamed once for its whole query group — the
 * step is memory-bound, so nothing else matters much here. The chunk path
 * (prefill, rectification) is in attention_chunk.c. */
#include "config.h"

#include "attention.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "cpu.h"
#include "error.h"
#include "grow.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#ifdef HAVE_OPENBLAS
#include <cblas.h>
#endif

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
        kv_row_to_f32(kv, kv_v(kv, layer, kvh, list[t]), vrow, d);
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
    if ((st = resa_grow(&s->list, &s->list_cap, (size_t)n_kv * kv->n_ctx, sizeof(int))))
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
    if ((st = resa_grow(&s->scores, &s->scores_cap, per_thread * n_threads + item * n_items, sizeof(float))))
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

resa_status attention_decode_cpu(resa_attn_scratch *s, int n_threads, const resa_kv_cache *kv,
                                 int layer, const float *q, int pos, int n_head, float *out)
{
    return attention_one_query(s, n_threads, kv, layer, q, pos, n_head, NULL, NULL, out);
}

resa_status attention_sparse_cpu(resa_attn_scratch *s, int n_threads, const resa_kv_cache *kv,
                                 int layer, const float *q, int pos, int n_head, const int *sel,
                                 const int *n_sel, float *out)
{
    return attention_one_query(s, n_threads, kv, layer, q, pos, n_head, sel, n_sel, out);
}

void attn_scratch_free(resa_attn_scratch *s)
{
    free(s->kf);
    free(s->vf);
    free(s->scores);
    free(s->list);
    memset(s, 0, sizeof *s);
}
