/* SPDX-License-Identifier: MIT */
/* The rows of a decode call a tile at a time (attn.h: a tile is TILE
 * consecutive rows of the runs laid end to end), as one pointer per K row
 * and per V row, so a kernel treats the rows of a dense range and of
 * scattered blocks alike. Shared by every tier of the "attn" family. */
#ifndef RESA_SIMD_ATTN_ROWS_H
#define RESA_SIMD_ATTN_ROWS_H

#include <stddef.h>

#include "attn.h"

/* Where the next tile starts: run *run, row at. */
typedef struct attn_cursor {
    const resa_attn_run *run, *end;
    int at;
    size_t row_bytes; /* d * element size */
} attn_cursor;

static inline attn_cursor attn_cursor_start(const resa_attn_run *runs, int n_runs, size_t row_bytes)
{
    return (attn_cursor){.run = runs, .end = runs + (n_runs > 0 ? n_runs : 0), .at = 0, .row_bytes = row_bytes};
}

/* The rows of one tile: at most ATTN_TILE, the family's softmax step. */
#define ATTN_TILE 64
typedef struct attn_tile {
    const char *k[ATTN_TILE], *v[ATTN_TILE];
    int n;
} attn_tile;

/* Points k[i], v[i] at the next rows, at most `tile` of them; returns how
 * many (0 at the end). */
static inline int attn_next_rows(attn_cursor *c, int tile, const char **k, const char **v)
{
    int n = 0;
    while (n < tile && c->run < c->end) {
        const int left = c->run->n - c->at;
        if (left <= 0) {
            c->run++;
            c->at = 0;
            continue;
        }
        const int take = tile - n < left ? tile - n : left;
        const char *kr = (const char *)c->run->k + (size_t)c->at * c->row_bytes;
        const char *vr = (const char *)c->run->v + (size_t)c->at * c->row_bytes;
        for (int i = 0; i < take; i++, n++) {
            k[n] = kr + (size_t)i * c->row_bytes;
            v[n] = vr + (size_t)i * c->row_bytes;
        }
        c->at += take;
    }
    return n;
}

/* Fills t with the next tile's rows (t->n = 0 at the end). */
static inline void attn_next_tile(attn_cursor *c, attn_tile *t)
{
    t->n = attn_next_rows(c, ATTN_TILE, t->k, t->v);
}

#endif
