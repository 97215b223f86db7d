/* Kernel family "chunk": causal attention of many queries (a prefill chunk,
 * a rectification) against one KV head, tiled so that each K/V tile, once in
 * cache (and converted to f32 once), serves every query of the chunk and
 * every query head of the group. Compute-bound: FMA throughput is what counts.
 *
 * Pure, single-threaded, no allocation (the caller passes scratch). Scalar
 * reference in simd/chunk_c.c; resa_chunk_init() fills the tiers. */
#ifndef RESA_SIMD_CHUNK_H
#define RESA_SIMD_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "types.h"

/* Keys j in [j0, j1) of one KV head (k, v point at the head's position 0;
 * rows of d elements, f16 bits or f32) against the queries of n tokens at
 * positions pos0 .. pos0+n-1, `group` query heads each: the query of token i,
 * head g is q[i*q_stride + g*d .. +d). Causal: token i sees keys j <= pos0+i.
 * Continues an online-softmax state per (i, g), index r = i*group + g:
 * m[r] (running max of scaled scores, -INFINITY at start), l[r] (sum of
 * exp(s - m)), o[r*d .. r*d+d) (sum of exp(s - m) v). A row that sees no key
 * of the range is left as it was. The caller divides o by l (ranges merge as
 * in flash-decoding). scratch: RESA_CHUNK_SCRATCH(n, group, d) floats. */
#define decl_attn_chunk_fn(name)                                                               \
    void(name)(const void *k, const void *v, int j0, int j1, int d, const float *q,           \
               size_t q_stride, int n, int group, int pos0, float scale, float *m, float *l,   \
               float *o, float *scratch)
typedef decl_attn_chunk_fn(*resa_attn_chunk_fn);

/* Key tile of the kernels (rows converted to f32 and scored at a time). */
#define RESA_CHUNK_TILE 64
#define RESA_CHUNK_SCRATCH(n, group, d) \
    ((size_t)2 * RESA_CHUNK_TILE * (d) + (size_t)(n) * (group) * RESA_CHUNK_TILE + 64)

typedef struct resa_chunk_ctx {
    resa_attn_chunk_fn attn[RESA_TYPE_COUNT]; /* indexed by cache type: F16, F32 */
} resa_chunk_ctx;

void resa_chunk_init(resa_chunk_ctx *c, unsigned flags);

#endif
