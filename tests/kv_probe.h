/* Tests read a sequence's cache the way any backend allows: through the
 * backend's kv_read op (a row of K or V, a block summary, as floats), never
 * by reaching into the pool's bytes. */
#ifndef RESA_TESTS_KV_PROBE_H
#define RESA_TESTS_KV_PROBE_H

#include <stdio.h>
#include <stdlib.h>

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

#endif
