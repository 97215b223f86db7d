/* SPDX-License-Identifier: MIT */
/* Tests read a sequence's cache the way any backend allows: through the
 * backend's kv_read op (a row of K or V, a block summary, as floats), never
 * by reaching into the pool's bytes. */
#ifndef RESA_TESTS_KV_PROBE_H
#define RESA_TESTS_KV_PROBE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "engine.h"

typedef struct kv_probe {
    resa_backend *be;
    resa_kv_cache kv;
    int n_layer, n_head_kv, head_dim, block_size, n_past;
} kv_probe;

static inline kv_probe probe_seq(const resa_seq *s)
{
    const resa_kv_cache kv = seq_kv(s);
    return (kv_probe){ .be = s->engine->be, .kv = kv, .n_layer = kv.n_layer, .n_head_kv = kv.n_head_kv,
                       .head_dim = kv.head_dim, .block_size = kv.block_size, .n_past = s->n_past };
}

static inline kv_probe probe_ctx(const resa_context *c) { return probe_seq(c->seq); }

/* head_dim floats of part (K/V: position pos; KMIN/KMAX: block pos). */
static inline void probe_read(const kv_probe *p, resa_kv_part part, int layer, int head, int pos, float *out)
{
    if (p->be->kv_read(p->be, &p->kv, part, layer, head, pos, out)) {
        fprintf(stderr, "kv_read: %s\n", resa_last_error());
        exit(99);
    }
}

/* The first position whose K and V `layer` holds in both a and b (0 but
 * for a windowed layer kept in a ring, kv_cache.h). */
static inline int probe_first_pos(const kv_probe *a, const kv_probe *b, int layer)
{
    const int x = kv_layer_first_pos(&a->kv, layer), y = kv_layer_first_pos(&b->kv, layer);
    return x > y ? x : y;
}

/* K, V and (when kept) summaries of positions [0, n_past) bit-identical in
 * a and b (of a layer kept in a ring: the positions both hold). */
static inline int probe_same_cache(const kv_probe *a, const kv_probe *b)
{
    if (a->n_past != b->n_past)
        return 0;
    const int n_blocks = (a->n_past + a->block_size - 1) / a->block_size;
    float x[RESA_MAX_HEAD_DIM], y[RESA_MAX_HEAD_DIM];
    for (int l = 0; l < a->n_layer; l++)
        for (int h = 0; h < a->n_head_kv; h++)
            for (int part = KV_PART_K; part <= (kv_layer_summarized(&a->kv, l) ? KV_PART_KMAX : KV_PART_V); part++)
                for (int p = part <= KV_PART_V ? probe_first_pos(a, b, l) : 0;
                     p < (part <= KV_PART_V ? a->n_past : n_blocks); p++) {
                    probe_read(a, (resa_kv_part)part, l, h, p, x);
                    probe_read(b, (resa_kv_part)part, l, h, p, y);
                    if (memcmp(x, y, (size_t)a->head_dim * sizeof *x))
                        return 0;
                }
    return 1;
}

#endif
