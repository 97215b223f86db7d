/* One-query attention on the CPU (decode steps, dense or sparse): each KV
 * head's keys and values are streamed once for its whole query group by the
 * "attn" decode kernel (simd/attn.h) — the step is memory-bound, so nothing
 * else matters much here. Long contexts are split into segments across
 * threads and merged exactly. The chunk path (prefill, rectification) is in
 * attention_chunk.c. */
#include "config.h"

#include "attention.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "cpu.h"
#include "error.h"
#include "grow.h"

/* A run of consecutive attended positions [a, b) of one KV head. */
typedef struct run {
    int a, b;
} run;

/* The runs a query attends, ascending: every block of [0, T) (dense,
 * blocks NULL), or the selected blocks, clipped to T; blocks that are
 * adjacent in the sequence and in the pool merge into one run. The kernel's
 * tiles run over the rows of the runs end to end, so how the rows are cut
 * into runs changes no bit: dense and a selection of every block compute
 * exactly the same thing, wherever the pages lie. Returns the number of
 * runs; *n_pos = the positions they hold. */
static int attended_runs(const resa_kv_cache *kv, const int *blocks, int n_blocks, int T, run *runs,
                         int *n_pos)
{
    const int bs = kv->block_size, M = (T + bs - 1) / bs;
    int n = 0, prev = -2;
    *n_pos = 0;
    for (int i = 0; i < (blocks ? n_blocks : M); i++) {
        const int blk = blocks ? blocks[i] : i;
        const int a = blk * bs, b = a + bs < T ? a + bs : T;
        if (a >= b)
            continue;
        if (n > 0 && prev == blk - 1 && runs[n - 1].b == a && kv->pages[blk] == kv->pages[prev] + 1)
            runs[n - 1].b = b;
        else
            runs[n++] = (run){a, b};
        prev = blk;
        *n_pos += b - a;
    }
    return n;
}

/* A partial softmax over one segment of positions, per query head of a
 * group: the running max m, the sum l of exp(score - m), and o = the sum of
 * exp(score - m) * v. Segments merge exactly (flash-decoding). */
typedef struct partial {
    float *o; /* (group, head_dim) */
    float *m, *l; /* (group) */
} partial;

/* All query heads of KV head kvh over positions [a, b) of the concatenated
 * runs: their pieces in that range, as the kernel's runs, in one kernel
 * call, so short runs (a sparse step's blocks) fill whole tiles. The kernel
 * reads each K and V row once for the whole group (GQA packing); the step
 * is memory-bound, so that is what matters. The piece of runs[r] goes to
 * pieces[seg + r]: the slots of different segments never overlap. */
static void attend_segment(const resa_kv_cache *kv, int layer, int kvh, const float *q, int group,
                           const run *runs, int n_runs, int seg, int a, int b, float scale,
                           resa_attn_run *pieces, partial *out)
{
    for (int g = 0; g < group; g++) {
        out->m[g] = -INFINITY;
        out->l[g] = 0.0f;
    }
    memset(out->o, 0, (size_t)group * kv->head_dim * sizeof(float));
    int before = 0, first = -1, n = 0; /* before: positions in the runs before runs[r] */
    for (int r = 0; r < n_runs && before < b; r++) {
        const int len = runs[r].b - runs[r].a;
        const int lo = a > before ? a : before, hi = b < before + len ? b : before + len;
        if (lo < hi) {
            const int p = runs[r].a + (lo - before);
            first = first < 0 ? seg + r : first;
            pieces[seg + r] = (resa_attn_run){kv_k(kv, layer, kvh, p), kv_v(kv, layer, kvh, p), hi - lo};
            n++;
        }
        before += len;
    }
    if (n > 0)
        attn_kernels()->decode[kv->type](pieces + first, n, kv->head_dim, q, group, scale, out->m,
                                      out->l, out->o);
}

/* out = sum_s e^(m_s - M) o_s / sum_s e^(m_s - M) l_s over the segments
 * (zeros when nothing was attended). */
static void merge_segments(const partial *parts, int n_seg, int g, int d, float *out)
{
    float M = -INFINITY;
    for (int s = 0; s < n_seg; s++)
        M = parts[s].m[g] > M ? parts[s].m[g] : M;
    double L = 0.0;
    memset(out, 0, (size_t)d * sizeof(float));
    if (M == -INFINITY)
        return;
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

/* Segments per KV head: enough work items for every thread once a head
 * attends a few tiles (a sparse step's 10% of 8192 positions is 832, and
 * 3 KV heads on 2 threads would leave one idle half the time); one segment
 * for short ranges, where merging would cost more than it spreads. */
static int segments_for(int n_positions, int n_head_kv, int n_threads)
{
    if (n_positions < 256)
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
    /* room for the runs of each head: at most one per block */
    const size_t max_runs = kv->n_blocks_max > 1 ? (size_t)kv->n_blocks_max : 1;
    resa_status st;
    if ((st = resa_grow(&s->list, &s->list_cap, (size_t)n_kv * max_runs * 2, sizeof(int))))
        return st;
    run *runs = (run *)(void *)s->list;
    const size_t piece_stride = max_runs + 64; /* segments_for() returns at most 64 */
    if ((st = resa_grow(&s->pieces, &s->pieces_cap, (size_t)n_kv * piece_stride, sizeof(resa_attn_run))))
        return st;
    int n_runs[RESA_MAX_KV_HEADS], n_pos[RESA_MAX_KV_HEADS], n_seg_max = 1;
    for (int h = 0; h < n_kv; h++) {
        n_runs[h] = attended_runs(kv, sel ? sel + (size_t)h * kv->n_blocks_max : NULL, sel ? n_sel[h] : 0,
                                  T, runs + (size_t)h * max_runs, &n_pos[h]);
        const int ns = segments_for(n_pos[h], n_kv, n_threads);
        n_seg_max = ns > n_seg_max ? ns : n_seg_max;
    }
    /* per work item (KV head, segment): o, m, l */
    const size_t item = (size_t)group * (d + 2), n_items = (size_t)n_kv * n_seg_max;
    if ((st = resa_grow(&s->scores, &s->scores_cap, item * n_items, sizeof(float))))
        return st;
    partial parts[RESA_MAX_KV_HEADS * 64]; /* segments_for() returns at most 64 */
    const float scale = 1.0f / sqrtf((float)d);
#pragma omp parallel for num_threads(n_threads) schedule(static) collapse(2)
    for (int h = 0; h < n_kv; h++)
        for (int seg = 0; seg < n_seg_max; seg++) {
            const int ns = segments_for(n_pos[h], n_kv, n_threads);
            float *mem = s->scores + item * ((size_t)h * n_seg_max + seg);
            partial *pt = &parts[h * n_seg_max + seg];
            *pt = (partial){ .o = mem, .m = mem + (size_t)group * d, .l = mem + (size_t)group * (d + 1) };
            if (seg >= ns)
                continue;
            const int a = (int)((long)n_pos[h] * seg / ns), b = (int)((long)n_pos[h] * (seg + 1) / ns);
            attend_segment(kv, layer, h, q + (size_t)h * group * d, group, runs + (size_t)h * max_runs,
                           n_runs[h], seg, a, b, scale, s->pieces + (size_t)h * piece_stride, pt);
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
    free(s->chunk);
    free(s->scores);
    free(s->list);
    free(s->pieces);
    free(s->gather);
    memset(s, 0, sizeof *s);
}
