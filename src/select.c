/* SPDX-License-Identifier: MIT */
/* Score and select blocks per KV head: pooled query, Quest upper bound from
 * the min/max summaries (the "attn" family's block_score kernel), forced
 * local blocks, top-k under the budget. This reads 2*M*head_dim summary
 * elements per KV head: 2/block_size of the keys, the price of knowing
 * which blocks matter. At long context that is the largest read of a
 * sparse step after the selected keys themselves, so it is split over the
 * threads like the attention is. */
#include "select.h"

#include <math.h>
#include <stdlib.h>

#include "arch.h"
#include "blocks.h"
#include "cpu.h"
#include "error.h"
#include "grow.h"

/* Blocks per scoring work item: big enough that a thread streams (16 KiB
 * of each summary at d 64, f16), small enough that the items of a few KV
 * heads spread evenly over the threads (at 8192 tokens, 512 blocks a head:
 * 3 heads of one item each left one of 2 threads idle half the time). */
#define SCORE_SPAN 128

typedef struct select_job {
    const resa_kv_cache *kv;
    int layer;
    const resa_sparse_cfg *cfg;
    const blocks_adaptive *ad;
    resa_block_score_fn score;
    int M, d, k, spans, adaptive;
    size_t per_head;
    float *scores, *qbar; /* (n_kv, M), (n_kv, d) */
    uint64_t *work;       /* each head's selection keys */
    int *sel, *n_sel;
    double *covered;
} select_job;

/* Scores of one span of one KV head's blocks. */
static void score_item(void *ctx, int item, int worker)
{
    const select_job *j = ctx;
    (void)worker;
    const int h = item / j->spans, a = item % j->spans * SCORE_SPAN, d = j->d;
    const int n = j->M - a < SCORE_SPAN ? j->M - a : SCORE_SPAN;
    /* one kernel call per run of blocks in consecutive pages (a block's
     * score does not depend on the call it is in) */
    for (int i = a, run; i < a + n; i += run) {
        run = kv_contiguous_blocks(j->kv, j->layer, i, a + n - i);
        j->score(j->qbar + (size_t)h * d, kv_kmin(j->kv, j->layer, h, i), kv_kmax(j->kv, j->layer, h, i), d, run,
                 j->scores + (size_t)h * j->M + i);
    }
}

/* One KV head's selection from its scores. */
static void select_item(void *ctx, int h, int worker)
{
    const select_job *j = ctx;
    (void)worker;
    const float *sc = j->scores + (size_t)h * j->M;
    int *out = j->sel + (size_t)h * j->kv->n_blocks_max;
    uint64_t *work = j->work + h * j->per_head;
    const int local = j->cfg->local_blocks;
    j->n_sel[h] = j->adaptive ? blocks_select_adaptive(sc, j->M, local, j->ad, work, out,
                                                       j->covered ? &j->covered[h] : NULL)
                              : blocks_select(sc, j->M, local, j->k, work, out);
    if (j->covered && !j->adaptive)
        j->covered[h] = blocks_covered(sc, j->M, j->ad, out, j->n_sel[h]);
}

resa_status select_blocks_cpu(resa_select_scratch *s, resa_team *team, const resa_kv_cache *kv,
                              int layer, const float *q, int pos, int n_head,
                              const resa_sparse_cfg *cfg, int *sel, int *n_sel, double *covered)
{
    const int d = kv->head_dim, group = n_head / kv->n_head_kv, n_kv = kv->n_head_kv;
    const int T = pos + 1, M = (T + cfg->block_size - 1) / cfg->block_size;
    const int adaptive = cfg->budget == RESA_BUDGET_ADAPTIVE;
    const int k = blocks_budget(M, cfg->ratio, cfg->min_blocks);
    const blocks_adaptive ad = { .coverage = cfg->coverage, .scale = 1.0 / sqrt((double)d),
                                 .block_size = cfg->block_size, .n_keys = T,
                                 .k_min = M < cfg->min_blocks ? M : cfg->min_blocks,
                                 .k_max = blocks_budget(M, cfg->max_ratio, cfg->min_blocks) };
    /* scratch: the scores of every head, the pooled queries, then the
     * selection's keys of every head (2 floats each, 8-byte aligned; the
     * adaptive budget also keeps a double weight per block) */
    const size_t n_scores = ((size_t)n_kv * (M + d) + 1) & ~(size_t)1, per_head = (size_t)M * (adaptive ? 2 : 1);
    resa_status st = resa_grow(&s->scores, &s->cap, n_scores + (size_t)n_kv * per_head * 2, sizeof(float));
    if (st)
        return st;
    select_job j = {.kv = kv, .layer = layer, .cfg = cfg, .ad = &ad, .score = attn_kernels()->block_score[kv->type],
                    .M = M, .d = d, .k = k, .spans = (M + SCORE_SPAN - 1) / SCORE_SPAN, .adaptive = adaptive,
                    .per_head = per_head, .scores = s->scores, .qbar = s->scores + (size_t)n_kv * M,
                    .work = (uint64_t *)(void *)(s->scores + n_scores), .sel = sel, .n_sel = n_sel,
                    .covered = covered};
    for (int h = 0; h < n_kv; h++)
        blocks_pooled_query(q + (size_t)h * group * d, group, d, j.qbar + (size_t)h * d);
    resa_team *par = (long)M * n_kv >= 2 * SCORE_SPAN ? team : NULL;
    team_run(par, n_kv * j.spans, score_item, &j);
    team_run(par, n_kv, select_item, &j);
    return RESA_OK;
}

void select_scratch_free(resa_select_scratch *s)
{
    free(s->scores);
    s->scores = NULL;
    s->cap = 0;
}
