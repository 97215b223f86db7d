/* SPDX-License-Identifier: MIT */
/* Dense causal attention of a chunk of queries (prefill, rectification) on
 * the CPU, with the "chunk" kernels (simd/chunk.h) reading the cache rows in
 * place: each K/V tile, converted to f32 once, serves every query of a
 * query chunk and every query head of the group.
 *
 * Work items are (KV head, query chunk, key segment): the query chunks keep
 * a prefill's causal triangle in pieces, the key segments keep every thread
 * busy when there are fewer KV heads than threads' worth of work (a
 * rectification of 32 tokens over 64K keys is 3 KV heads x 1 chunk). Each
 * item leaves an online-softmax state (m, l, o) per query row; the segments
 * of one (head, chunk) merge exactly as in flash-decoding, and o / l is the
 * output. One query goes to the decode path (attention.c). */
#include "config.h"

#include "attention.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "error.h"
#include "grow.h"

#define CHUNK_TOKENS 64   /* queries per item: 64 x group rows share each K/V tile */
#define SEGMENT_MIN 1024  /* keys per segment at least: the state and merge stay cheap */
#define ITEMS_PER_THREAD 4 /* dynamic scheduling evens out a slow thread or item */

/* One work item: tokens [i0, i1) of the chunk, KV head h, keys [a, b). Its
 * state lives at part[off ..]: o (rows x d), then m, then l (rows each). */
typedef struct item {
    int h, i0, i1, a, b;
    size_t off;
} item;

typedef struct plan {
    item *items;
    int *order;      /* the items by decreasing work: the order threads take them in */
    int n_items;
    size_t part_len; /* floats of all the states */
} plan;

/* Keys [0, T) of one (head, chunk) in ns segments that start on tile bounds
 * (the tile is a power of two), so that every tile a kernel loads is whole. */
static int add_segments(item *it, int h, int i0, int i1, int T, int ns, int rows, int d,
                        size_t *off)
{
    for (int s = 0; s < ns; s++) {
        const int a = s ? (int)((long)T * s / ns) & ~(RESA_CHUNK_TILE - 1) : 0;
        const int b = s + 1 < ns ? (int)((long)T * (s + 1) / ns) & ~(RESA_CHUNK_TILE - 1) : T;
        it[s] = (item){h, i0, i1, a, b, *off};
        *off += (size_t)rows * (d + 2);
    }
    return ns;
}

/* Items for n queries at pos0: query chunks of CHUNK_TOKENS, each over its
 * keys [0, pos0 + i1) in segments of about the same length, sized so that
 * there are about ITEMS_PER_THREAD items per thread. With one chunk (a
 * rectification) the item count is also a multiple of the thread count, so
 * that equal items split evenly. p->items has room for max_items(). */
static void make_plan(plan *p, int n_kv, int group, int d, int n, int pos0, int n_threads)
{
    const int n_chunks = (n + CHUNK_TOKENS - 1) / CHUNK_TOKENS;
    long keys = 0; /* summed over chunks, per KV head */
    for (int c = 0; c < n_chunks; c++)
        keys += pos0 + (c + 1 < n_chunks ? (c + 1) * CHUNK_TOKENS : n);
    const long target = (long)ITEMS_PER_THREAD * n_threads;
    long seg = n_threads > 1 ? ((long)n_kv * keys + target - 1) / target : keys;
    seg = seg < SEGMENT_MIN ? SEGMENT_MIN : seg;
    size_t off = 0;
    p->n_items = 0;
    for (int h = 0; h < n_kv; h++)
        for (int c = 0; c < n_chunks; c++) {
            const int i0 = c * CHUNK_TOKENS, i1 = i0 + CHUNK_TOKENS < n ? i0 + CHUNK_TOKENS : n;
            const int T = pos0 + i1;
            int ns = (int)((T + seg - 1) / seg);
            if (n_chunks == 1 && ns > 1)
                while ((n_kv * ns) % n_threads)
                    ns++;
            if ((long)ns * RESA_CHUNK_TILE > T) /* segments of at least one tile */
                ns = T / RESA_CHUNK_TILE > 1 ? T / RESA_CHUNK_TILE : 1;
            p->n_items += add_segments(p->items + p->n_items, h, i0, i1, T, ns,
                                       (i1 - i0) * group, d, &off);
        }
    p->part_len = off;
}

/* (query, key) pairs an item scores, about (causal rows see fewer) */
static long item_work(const item *it)
{
    return (long)(it->i1 - it->i0) * (it->b - it->a);
}

/* Largest first, so that the last items the threads take are small ones
 * (a prefill's chunks differ by up to its chunk count in work). Insertion
 * sort: a few dozen items. */
static void order_items(plan *p)
{
    for (int i = 0; i < p->n_items; i++) {
        int j = i;
        for (; j > 0 && item_work(&p->items[p->order[j - 1]]) < item_work(&p->items[i]); j--)
            p->order[j] = p->order[j - 1];
        p->order[j] = i;
    }
}

/* make_plan's item count at most: a chunk's segments number ceil(T / seg),
 * which sums to n_kv * n_chunks + the target over heads and chunks, plus the
 * rounding up to a multiple of the threads with one chunk. */
static int max_items(int n_kv, int n, int n_threads)
{
    const int n_chunks = (n + CHUNK_TOKENS - 1) / CHUNK_TOKENS;
    return n_kv * n_chunks + 2 * ITEMS_PER_THREAD * n_threads + n_kv * n_threads;
}

/* Rows [a, b) of one KV head's K (or V) as one span: in place when their
 * pages are consecutive, else copied run by run into buf (b - a rows). */
const void *attn_key_span(const resa_kv_cache *kv, int layer, int h, int a, int b, int values, uint8_t *buf)
{
    const int bs = kv->block_size, first = a / bs, n_blocks = (b - 1) / bs - first + 1;
    void *(*row)(const resa_kv_cache *, int, int, int) = values ? kv_v : kv_k;
    if (kv_contiguous_blocks(kv, layer, first, n_blocks) == n_blocks)
        return row(kv, layer, h, a);
    const size_t row_bytes = (size_t)kv->head_dim * kv->elem_size;
    for (int p = a, run; p < b; p += run) {
        run = (p / bs + 1) * bs - p; /* to the end of p's page */
        run = run < b - p ? run : b - p;
        memcpy(buf + (size_t)(p - a) * row_bytes, row(kv, layer, h, p), (size_t)run * row_bytes);
    }
    return buf;
}

/* Runs one item from an empty state. The kernel sees the item's keys as
 * rows 0 .. b-a of one span and the queries' positions shifted by -a: the
 * same tiles (they start at the call's first key) and the same sums as
 * over the sequence's own positions, wherever its pages lie. */
static void run_item(const resa_kv_cache *kv, int layer, const item *it, const float *q,
                     int n_head, int group, int pos0, float scale, float *part, float *scratch,
                     uint8_t *gather)
{
    const int d = kv->head_dim, rows = (it->i1 - it->i0) * group;
    float *o = part + it->off, *m = o + (size_t)rows * d, *l = m + rows;
    for (int r = 0; r < rows; r++) {
        m[r] = -INFINITY;
        l[r] = 0.0f;
    }
    memset(o, 0, (size_t)rows * d * sizeof(float));
    if (it->a >= it->b)
        return;
    const size_t q_stride = (size_t)n_head * d, span = (size_t)(it->b - it->a) * d * kv->elem_size;
    const void *k = attn_key_span(kv, layer, it->h, it->a, it->b, 0, gather);
    const void *v = attn_key_span(kv, layer, it->h, it->a, it->b, 1, gather + span);
    chunk_kernels()->attn[kv->type](k, v, 0, it->b - it->a, d,
                                 q + (size_t)it->i0 * q_stride + (size_t)it->h * group * d, q_stride,
                                 it->i1 - it->i0, group, pos0 + it->i0 - it->a, scale, m, l, o, scratch);
}

/* The segments it[0 .. ns) of one (head, chunk) into out: per row,
 * o = sum_s e^(m_s - M) o_s, l = sum_s e^(m_s - M) l_s, out = o / l. Every
 * row sees key 0, so l > 0. */
static void merge_items(const item *it, int ns, const float *part, int d, int group, int n_head,
                        float *out)
{
    const int rows = (it->i1 - it->i0) * group;
    for (int r = 0; r < rows; r++) {
        float M = -INFINITY;
        for (int s = 0; s < ns; s++) {
            const float ms = part[it[s].off + (size_t)rows * d + r];
            M = ms > M ? ms : M;
        }
        float *dst = out + (size_t)(it->i0 + r / group) * n_head * d +
                     (size_t)(it->h * group + r % group) * d;
        double L = 0.0;
        memset(dst, 0, (size_t)d * sizeof(float));
        for (int s = 0; s < ns; s++) {
            const float *o = part + it[s].off, *m = o + (size_t)rows * d, *l = m + rows;
            if (m[r] == -INFINITY) /* the segment is past this row's position */
                continue;
            const float w = expf(m[r] - M);
            L += (double)w * l[r];
            for (int c = 0; c < d; c++)
                dst[c] += w * o[(size_t)r * d + c];
        }
        const float inv = (float)(1.0 / L);
        for (int c = 0; c < d; c++)
            dst[c] *= inv;
    }
}

typedef struct chunk_job {
    const resa_kv_cache *kv;
    int layer;
    const plan *p;
    const float *q;
    int n_head, group, pos0, d;
    float scale;
    float *part, *out;
    float *chunk; /* each worker's kernel scratch */
    size_t scratch_len;
    uint8_t *gather; /* each worker's gathered K and V rows */
    size_t gather_len;
} chunk_job;

/* The items in their order (longest first). */
static void chunk_item(void *ctx, int i, int worker)
{
    const chunk_job *j = ctx;
    run_item(j->kv, j->layer, &j->p->items[j->p->order[i]], j->q, j->n_head, j->group, j->pos0, j->scale, j->part,
             j->chunk + j->scratch_len * worker, j->gather + j->gather_len * worker);
}

/* The items of one (head, chunk) are adjacent: each first one merges them. */
static void merge_item(void *ctx, int i, int worker)
{
    const chunk_job *j = ctx;
    (void)worker;
    const item *it = &j->p->items[i];
    if (i > 0 && it[-1].h == it->h && it[-1].i0 == it->i0)
        return;
    int ns = 1;
    while (i + ns < j->p->n_items && it[ns].h == it->h && it[ns].i0 == it->i0)
        ns++;
    merge_items(it, ns, j->part, j->d, j->group, j->n_head, j->out);
}

resa_status attention_cpu(resa_attn_scratch *s, resa_team *team, const resa_kv_cache *kv, int layer,
                          const float *q, int n, int pos0, int n_head, float *out)
{
    if (n == 1)
        return attention_decode_cpu(s, team, kv, layer, q, pos0, n_head, out);
    const int n_threads = team_size(team);
    const int d = kv->head_dim, n_kv = kv->n_head_kv, group = n_head / n_kv;
    const size_t scratch_len = RESA_CHUNK_SCRATCH(CHUNK_TOKENS, group, d);
    const int cap = max_items(n_kv, n, n_threads);
    resa_status st;
    /* list: the items, then their order; chunk: each thread's kernel scratch; scores: the states */
    const size_t item_ints = (sizeof(item) + sizeof(int) - 1) / sizeof(int);
    if ((st = resa_grow(&s->list, &s->list_cap, (size_t)cap * (item_ints + 1), sizeof(int))) ||
        (st = resa_grow(&s->chunk, &s->chunk_cap, scratch_len * n_threads, sizeof(float))))
        return st;
    plan p = {.items = (item *)(void *)s->list, .order = s->list + (size_t)cap * item_ints};
    make_plan(&p, n_kv, group, d, n, pos0, n_threads);
    order_items(&p);
    /* each thread's room to gather the K and V rows of its longest item */
    size_t longest = 0;
    for (int i = 0; i < p.n_items; i++)
        longest = (size_t)(p.items[i].b - p.items[i].a) > longest ? (size_t)(p.items[i].b - p.items[i].a) : longest;
    const size_t gather_len = 2 * longest * d * kv->elem_size;
    if ((st = resa_grow(&s->scores, &s->scores_cap, p.part_len, sizeof(float))) ||
        (st = resa_grow(&s->gather, &s->gather_cap, gather_len * n_threads, 1)))
        return st;
    chunk_job j = {.kv = kv, .layer = layer, .p = &p, .q = q, .n_head = n_head, .group = group, .pos0 = pos0,
                   .d = d, .scale = 1.0f / sqrtf((float)d), .part = s->scores, .out = out, .chunk = s->chunk,
                   .scratch_len = scratch_len, .gather = s->gather, .gather_len = gather_len};
    team_run(team, p.n_items, chunk_item, &j);
    team_run(team, p.n_items, merge_item, &j);
    return RESA_OK;
}
