/* Score and select blocks per KV head: pooled query, Quest upper bound from
 * the min/max summaries (the "attn" family's block_score kernel), forced
 * local blocks, top-k under the budget. This reads 2*M*head_dim summary
 * floats per KV head: about 2/block_size of the keys, the price of knowing
 * which blocks matter. */
#include "select.h"

#include <stdlib.h>

#include "arch.h"
#include "blocks.h"
#include "cpu.h"
#include "error.h"
#include "grow.h"

resa_status select_blocks_cpu(resa_select_scratch *s, const resa_kv_cache *kv, int layer,
                              const float *q, int pos, int n_head, const resa_sparse_cfg *cfg,
                              int *sel, int *n_sel)
{
    const int d = kv->head_dim, group = n_head / kv->n_head_kv;
    const int T = pos + 1, M = (T + cfg->block_size - 1) / cfg->block_size;
    const int k = blocks_budget(M, cfg->ratio, cfg->min_blocks);
    resa_status st = resa_grow(&s->scores, &s->cap, (size_t)M, sizeof(float));
    if (st)
        return st;
    const resa_block_score_fn score = resa_attn()->block_score;
    float qbar[RESA_MAX_HEAD_DIM];
    for (int h = 0; h < kv->n_head_kv; h++) {
        blocks_pooled_query(q + (size_t)h * group * d, group, d, qbar);
        score(qbar, kv_kmin(kv, layer, h), kv_kmax(kv, layer, h), d, M, s->scores);
        /* the head's row of sel holds n_blocks_max >= M ids, the room
         * blocks_select works in */
        n_sel[h] = blocks_select(s->scores, M, cfg->local_blocks, k,
                                 sel + (size_t)h * kv->n_blocks_max);
    }
    return RESA_OK;
}

void select_scratch_free(resa_select_scratch *s)
{
    free(s->scores);
    s->scores = NULL;
    s->cap = 0;
}
