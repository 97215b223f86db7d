/* SPDX-License-Identifier: MIT */
/* Kernel family "chunk": causal attention of many queries (a prefill chunk,
 * a rectification) against one KV head, tiled so that each K/V tile, once in
 * cache (and converted to f32 once), serves every query of the chunk and
 * every query head of the group. Compute-bound: FMA throughput is what counts.
 *
 * Pure, single-threaded, no allocation (the caller passes scratch). Scalar
 * reference in simd/chunk_c.c, whose recipe (tiles, fma order, exponential)
 * every tier computes bit for bit (issue 3); chunk_init() fills the
 * tiers.
 *
 * How the SIMD tiers tile it (one layout for all of them): the queries are
 * transposed once per call into qT[d][rows] (scaled), so that for a tile of
 * keys the scores come out as S^T[key][rows]: vectors over query rows, built
 * by broadcast-FMA from the K rows exactly as the cache stores them (no
 * transpose of K). The softmax then runs down the columns with plain vector
 * max/exp/add (no horizontal reductions), one max/rescale per (row, tile).
 * O += P V runs over blocks of query rows x vectors of d, broadcasting P. */
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
 * in flash-decoding). d is a multiple of 8, at most RESA_CHUNK_MAX_D;
 * positions below 2^24 (the SIMD tiers compare them as floats).
 * scratch: RESA_CHUNK_SCRATCH(n, group, d) floats (any alignment). */
#define decl_attn_chunk_fn(name)                                                               \
    void(name)(const void *k, const void *v, int j0, int j1, int d, const float *q,           \
               size_t q_stride, int n, int group, int pos0, float scale, float *m, float *l,   \
               float *o, float *scratch)
typedef decl_attn_chunk_fn(*resa_attn_chunk_fn);

#define RESA_CHUNK_MAX_D 256
/* Key tile of the kernels (rows converted to f32 and scored at a time); a
 * power of two (the engine starts key segments on tile bounds). */
#define RESA_CHUNK_TILE 64
/* Query rows (tokens x group) padded to the widest vector (16 floats). */
#define RESA_CHUNK_ROWS(n, group) (((size_t)(n) * (size_t)(group) + 15) & ~(size_t)15)
/* qT (d x rows), P^T (tile x rows), m, l, alpha, last visible key (rows
 * each), the K and V tile as f32 (tile x d each), and room to align to 64
 * bytes. The engine's chunks: 131 KiB (64 tokens x group 3, d 64), 358 KiB
 * (group 6, d 128). */
#define RESA_CHUNK_SCRATCH(n, group, d)                                                       \
    (((size_t)(d) + RESA_CHUNK_TILE + 4) * RESA_CHUNK_ROWS(n, group) +                       \
     (size_t)2 * RESA_CHUNK_TILE * (size_t)(d) + 16)

typedef struct resa_chunk_ctx {
    resa_attn_chunk_fn attn[RESA_TYPE_COUNT]; /* indexed by cache type: F16, F32 */
} resa_chunk_ctx;

/* Scalar references, then the best tier `flags` (cpu_flags()) allow. */
void chunk_init(resa_chunk_ctx *c, unsigned flags);

/* The kernels of each file, declared once so that definitions and the init
 * cannot drift; only the files built for the host arch define the ISA ones. */
#define RESA_CHUNK_DECLARE(isa)                \
    decl_attn_chunk_fn(chunk_attn_f16_##isa); \
    decl_attn_chunk_fn(chunk_attn_f32_##isa)
RESA_CHUNK_DECLARE(c);
RESA_CHUNK_DECLARE(avx2);
RESA_CHUNK_DECLARE(avx512);
RESA_CHUNK_DECLARE(neon);

#endif
