/* SPDX-License-Identifier: MIT */
/* Sliding-window attention of a chunk of queries on the CPU (gemma3's
 * local layers, docs/design.md §5.5): the query at position p attends
 * [p - window + 1, p]. Dense: a window is short, so no ReSA selection.
 *
 * The chunk kernels (simd/chunk.h) know only a causal mask (key <= query)
 * and a key range shared by all queries of a call. For the queries of a
 * chunk at positions [P0, P1), a key k >= P1 - window is inside every
 * query's window once causal, so one call over [max(0, P1 - window), P1)
 * serves the whole chunk; the keys below it (at most chunk - 1 of them) are
 * in the windows of some queries only, so each query takes them in a call
 * of its own whose range starts at its window's first key. Both calls
 * continue one online-softmax state per query row. */
#include "config.h"

#include "attention.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "error.h"
#include "grow.h"

#define WINDOW_CHUNK 64 /* queries per work item, as attention_chunk.c's chunks */

/* The queries [i0, i1) of KV head h (positions pos0 + i). st: the item's
 * state, o (rows x d) then m then l (rows each), rows = (i1 - i0) * group. */
static void window_item(const resa_kv_cache *kv, int layer, int h, int i0, int i1, const float *q,
                        int n_head, int group, int pos0, int window, float scale, float *st, float *scratch,
                        uint8_t *gather, float *out)
{
    const int d = kv->head_dim, rows = (i1 - i0) * group;
    const int P0 = pos0 + i0, P1 = pos0 + i1;
    const int lo = P0 - window + 1 > 0 ? P0 - window + 1 : 0; /* the chunk's first key */
    const int mid = P1 - window > lo ? P1 - window : lo;      /* keys [mid, P1) serve every query */
    float *o = st, *m = o + (size_t)rows * d, *l = m + rows;
    for (int r = 0; r < rows; r++) {
        m[r] = -INFINITY;
        l[r] = 0.0f;
    }
    memset(o, 0, (size_t)rows * d * sizeof(float));
    const size_t span = (size_t)(P1 - lo) * d * kv->elem_size, q_stride = (size_t)n_head * d;
    const void *k = attn_key_span(kv, layer, h, lo, P1, 0, gather);
    const void *v = attn_key_span(kv, layer, h, lo, P1, 1, gather + span);
    const resa_attn_chunk_fn attn = chunk_kernels()->attn[kv->type];
    const float *qh = q + (size_t)h * group * d;
    for (int i = i0; i < i1; i++) {
        const int first = pos0 + i - window + 1 > lo ? pos0 + i - window + 1 : lo;
        if (first < mid) /* this query's keys below mid, one query per call */
            attn(k, v, first - lo, mid - lo, d, qh + (size_t)i * q_stride, q_stride, 1, group,
                 pos0 + i - lo, scale, m + (size_t)(i - i0) * group, l + (size_t)(i - i0) * group,
                 o + (size_t)(i - i0) * group * d, scratch);
    }
    attn(k, v, mid - lo, P1 - lo, d, qh + (size_t)i0 * q_stride, q_stride, i1 - i0, group, P0 - lo, scale,
         m, l, o, scratch);
    /* every query sees its own key, so l > 0 */
    for (int r = 0; r < rows; r++) {
        float *dst = out + (size_t)(i0 + r / group) * q_stride + (size_t)(h * group + r % group) * d;
        const float inv = 1.0f / l[r];
        for (int c = 0; c < d; c++)
            dst[c] = o[(size_t)r * d + c] * inv;
    }
}

typedef struct window_job {
    const resa_kv_cache *kv;
    int layer;
    const float *q;
    int n, n_head, group, pos0, window, n_chunks;
    float scale;
    float *out;
    float *state, *chunk; /* each worker's: item state, kernel scratch */
    size_t state_len, scratch_len;
    uint8_t *gather; /* each worker's gathered K and V rows */
    size_t gather_len;
} window_job;

/* One (KV head, query chunk). */
static void window_job_item(void *ctx, int it, int worker)
{
    const window_job *j = ctx;
    const int h = it / j->n_chunks, c = it % j->n_chunks;
    const int i0 = c * WINDOW_CHUNK, i1 = i0 + WINDOW_CHUNK < j->n ? i0 + WINDOW_CHUNK : j->n;
    window_item(j->kv, j->layer, h, i0, i1, j->q, j->n_head, j->group, j->pos0, j->window, j->scale,
                j->state + j->state_len * worker, j->chunk + j->scratch_len * worker,
                j->gather + j->gather_len * worker, j->out);
}

resa_status attention_window_cpu(resa_attn_scratch *s, resa_team *team, const resa_kv_cache *kv, int layer,
                                 const float *q, int n, int pos0, int n_head, int window, float *out)
{
    if (n == 1) {
        const resa_decode_row row = {.kv = kv, .q = q, .out = out, .pos = pos0,
                                     .lo = pos0 - window + 1 > 0 ? pos0 - window + 1 : 0};
        return attention_decode_rows(s, team, layer, n_head, &row, 1);
    }
    const int n_threads = team_size(team);
    const int d = kv->head_dim, n_kv = kv->n_head_kv, group = n_head / n_kv;
    const int n_chunks = (n + WINDOW_CHUNK - 1) / WINDOW_CHUNK, n_items = n_kv * n_chunks;
    const size_t scratch_len = RESA_CHUNK_SCRATCH(WINDOW_CHUNK, group, d);
    const size_t state_len = (size_t)WINDOW_CHUNK * group * (d + 2);
    const size_t keys = (size_t)window + WINDOW_CHUNK; /* an item's span at most */
    const size_t gather_len = 2 * keys * d * kv->elem_size;
    const int nt = n_threads < n_items ? n_threads : n_items;
    resa_status st;
    if ((st = resa_grow(&s->chunk, &s->chunk_cap, scratch_len * nt, sizeof(float))) ||
        (st = resa_grow(&s->scores, &s->scores_cap, state_len * nt, sizeof(float))) ||
        (st = resa_grow(&s->gather, &s->gather_cap, gather_len * nt, 1)))
        return st;
    window_job j = {.kv = kv, .layer = layer, .q = q, .n = n, .n_head = n_head, .group = group, .pos0 = pos0,
                    .window = window, .n_chunks = n_chunks, .scale = 1.0f / sqrtf((float)d), .out = out,
                    .state = s->scores, .state_len = state_len, .chunk = s->chunk, .scratch_len = scratch_len,
                    .gather = s->gather, .gather_len = gather_len};
    team_run(team, n_items, window_job_item, &j);
    return RESA_OK;
}
