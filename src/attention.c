/* SPDX-License-Identifier: MIT */
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

/* The runs a query attends, ascending: every block of [lo, T) (dense,
 * blocks NULL; lo > 0 on a windowed layer, the first block then clipped
 * to start at lo), or the selected blocks, clipped to T; blocks that are
 * adjacent in the sequence and in the pool merge into one run. The kernel's
 * tiles run over the rows of the runs end to end, so how the rows are cut
 * into runs changes no bit: dense and a selection of every block compute
 * exactly the same thing, wherever the pages lie. Returns the number of
 * runs; *n_pos = the positions they hold. */
static int attended_runs(const resa_kv_cache *kv, int layer, const int *blocks, int n_blocks, int lo, int T,
                         run *runs, int *n_pos)
{
    const int bs = kv->block_size, M = (T + bs - 1) / bs;
    int n = 0, prev = -2;
    *n_pos = 0;
    for (int i = blocks ? 0 : lo / bs; i < (blocks ? n_blocks : M); i++) {
        const int blk = blocks ? blocks[i] : i;
        const int a = blk * bs > lo ? blk * bs : lo, b = blk * bs + bs < T ? blk * bs + bs : T;
        if (a >= b)
            continue;
        if (n > 0 && prev == blk - 1 && runs[n - 1].b == a &&
            kv_block_page(kv, layer, blk) == kv_block_page(kv, layer, prev) + 1)
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

/* A partial's place in memory: group * (d + 2) floats at mem. */
static partial partial_at(float *mem, int group, int d)
{
    return (partial){.o = mem, .m = mem + (size_t)group * d, .l = mem + (size_t)group * (d + 1)};
}

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

/* out = sum_s e^(m_s - M) o_s / sum_s e^(m_s - M) l_s over the n_seg
 * segments whose partials lie one after the other at mem (zeros when
 * nothing was attended). */
static void merge_segments(float *mem, int n_seg, int group, int g, int d, float *out)
{
    const size_t item = (size_t)group * (d + 2);
    float M = -INFINITY;
    for (int s = 0; s < n_seg; s++) {
        const partial p = partial_at(mem + s * item, group, d);
        M = p.m[g] > M ? p.m[g] : M;
    }
    double L = 0.0;
    memset(out, 0, (size_t)d * sizeof(float));
    if (M == -INFINITY)
        return;
    for (int s = 0; s < n_seg; s++) {
        const partial p = partial_at(mem + s * item, group, d);
        const float w = expf(p.m[g] - M);
        L += (double)w * p.l[g];
        for (int c = 0; c < d; c++)
            out[c] += w * p.o[(size_t)g * d + c];
    }
    const float inv = (float)(1.0 / L);
    for (int c = 0; c < d; c++)
        out[c] *= inv;
}

/* Segments per KV head: enough work items for every thread once a head
 * attends a few tiles (a sparse step's 10% of 8192 positions is 832, and
 * 3 KV heads on 2 threads would leave one idle half the time); one segment
 * for short ranges, where merging would cost more than it spreads. A
 * function of the row alone (never of the other rows of a pass), so a row's
 * bits do not depend on its company. */
static int segments_for(int n_positions, int n_head_kv, int n_threads)
{
    if (n_positions < 256)
        return 1;
    const int s = (2 * n_threads + n_head_kv - 1) / n_head_kv;
    return s < 1 ? 1 : s > 64 ? 64 : s;
}

/* Where a row's pieces lie in the scratch, and how its heads split. */
typedef struct row_plan {
    size_t runs, pieces;                  /* offsets in s->list (as runs) and s->pieces */
    size_t parts[RESA_MAX_KV_HEADS];      /* offset in s->scores of each head's first partial */
    int max_runs;                         /* runs room per head: one per block */
    int n_runs[RESA_MAX_KV_HEADS], n_pos[RESA_MAX_KV_HEADS], n_seg[RESA_MAX_KV_HEADS];
} row_plan;

/* One work item: segment seg of KV head head of row row. */
typedef struct work_item {
    int row, head, seg;
} work_item;

/* Plans every row (runs of each head, its segments, scratch offsets) and
 * lists the work items. */
static resa_status plan_rows(resa_attn_scratch *s, int n_threads, int layer, int n_head,
                             const resa_decode_row *rows, int n, size_t *n_items)
{
    resa_status st;
    if ((st = resa_grow(&s->plans, &s->plans_cap, (size_t)n, sizeof(row_plan))))
        return st;
    row_plan *plan = s->plans;
    size_t n_run_slots = 0, n_pieces = 0;
    for (int i = 0; i < n; i++) {
        const resa_kv_cache *kv = rows[i].kv;
        plan[i].max_runs = kv->n_blocks_max > 1 ? kv->n_blocks_max : 1;
        plan[i].runs = n_run_slots;
        plan[i].pieces = n_pieces;
        n_run_slots += (size_t)kv->n_head_kv * plan[i].max_runs;
        n_pieces += (size_t)kv->n_head_kv * ((size_t)plan[i].max_runs + 64); /* segments_for() <= 64 */
    }
    if ((st = resa_grow(&s->list, &s->list_cap, n_run_slots * 2, sizeof(int))) ||
        (st = resa_grow(&s->pieces, &s->pieces_cap, n_pieces, sizeof(resa_attn_run))))
        return st;
    size_t n_floats = 0;
    *n_items = 0;
    for (int i = 0; i < n; i++) {
        const resa_decode_row *r = &rows[i];
        const resa_kv_cache *kv = r->kv;
        const int n_kv = kv->n_head_kv, item = n_head / n_kv * (kv->head_dim + 2);
        row_plan *p = &plan[i];
        for (int h = 0; h < n_kv; h++) {
            p->n_runs[h] = attended_runs(kv, layer, r->sel ? r->sel + (size_t)h * kv->n_blocks_max : NULL,
                                         r->sel ? r->n_sel[h] : 0, r->sel ? 0 : r->lo, r->pos + 1,
                                         (run *)(void *)s->list + p->runs + (size_t)h * p->max_runs, &p->n_pos[h]);
            p->n_seg[h] = segments_for(p->n_pos[h], n_kv, n_threads);
            p->parts[h] = n_floats;
            n_floats += (size_t)p->n_seg[h] * item;
            *n_items += (size_t)p->n_seg[h];
        }
    }
    if ((st = resa_grow(&s->scores, &s->scores_cap, n_floats, sizeof(float))) ||
        (st = resa_grow(&s->items, &s->items_cap, *n_items, sizeof(work_item))))
        return st;
    work_item *items = s->items;
    size_t k = 0;
    for (int i = 0; i < n; i++)
        for (int h = 0; h < rows[i].kv->n_head_kv; h++)
            for (int seg = 0; seg < plan[i].n_seg[h]; seg++)
                items[k++] = (work_item){i, h, seg};
    return RESA_OK;
}

typedef struct decode_job {
    resa_attn_scratch *s;
    int layer, n_head;
    const resa_decode_row *rows;
} decode_job;

static void decode_item(void *ctx, int k, int worker)
{
    const decode_job *j = ctx;
    (void)worker;
    resa_attn_scratch *s = j->s;
    const work_item w = ((const work_item *)s->items)[k];
    const resa_decode_row *r = &j->rows[w.row];
    const row_plan *p = &((const row_plan *)s->plans)[w.row];
    const int d = r->kv->head_dim, group = j->n_head / r->kv->n_head_kv, ns = p->n_seg[w.head];
    partial pt = partial_at(s->scores + p->parts[w.head] + (size_t)w.seg * group * (d + 2), group, d);
    const int a = (int)((long)p->n_pos[w.head] * w.seg / ns), b = (int)((long)p->n_pos[w.head] * (w.seg + 1) / ns);
    attend_segment(r->kv, j->layer, w.head, r->q + (size_t)w.head * group * d, group,
                   (const run *)(const void *)s->list + p->runs + (size_t)w.head * p->max_runs, p->n_runs[w.head],
                   w.seg, a, b, 1.0f / sqrtf((float)d), s->pieces + p->pieces + (size_t)w.head * ((size_t)p->max_runs + 64),
                   &pt);
}

resa_status attention_decode_rows(resa_attn_scratch *s, resa_team *team, int layer, int n_head,
                                  const resa_decode_row *rows, int n)
{
    size_t n_items;
    resa_status st = plan_rows(s, team_size(team), layer, n_head, rows, n, &n_items);
    if (st)
        return st;
    const row_plan *plan = s->plans;
    /* every segment of every row and head in one parallel loop: one fork
     * and join per layer, however many sequences the pass decodes */
    decode_job j = {.s = s, .layer = layer, .n_head = n_head, .rows = rows};
    team_run(team, (int)n_items, decode_item, &j);
    for (int i = 0; i < n; i++) {
        const int n_kv = rows[i].kv->n_head_kv, d = rows[i].kv->head_dim, group = n_head / n_kv;
        for (int h = 0; h < n_kv; h++)
            for (int g = 0; g < group; g++)
                merge_segments(s->scores + plan[i].parts[h], plan[i].n_seg[h], group, g, d,
                               rows[i].out + ((size_t)h * group + g) * d);
    }
    return RESA_OK;
}

resa_status attention_decode_cpu(resa_attn_scratch *s, resa_team *team, const resa_kv_cache *kv,
                                 int layer, const float *q, int pos, int n_head, float *out)
{
    const resa_decode_row row = {.kv = kv, .q = q, .out = out, .pos = pos};
    return attention_decode_rows(s, team, layer, n_head, &row, 1);
}

void attn_scratch_free(resa_attn_scratch *s)
{
    free(s->chunk);
    free(s->scores);
    free(s->list);
    free(s->pieces);
    free(s->gather);
    free(s->plans);
    free(s->items);
    memset(s, 0, sizeof *s);
}
