/* SPDX-License-Identifier: MIT */
/* Scratch buffers that grow on demand and are kept for the next call. */
#ifndef RESA_GROW_H
#define RESA_GROW_H

#include <stdlib.h>

#include "error.h"

/* Makes *buf hold at least n elements of elem_size bytes (*cap counts
 * elements). Keeps the old contents; fails with RESA_ERR_NOMEM. */
static inline resa_status resa_grow(void *buf, size_t *cap, size_t n, size_t elem_size)
{
    void **p = (void **)buf;
    if (n <= *cap)
        return RESA_OK;
    void *q = realloc(*p, n * elem_size);
    if (!q)
        return error_set(RESA_ERR_NOMEM, "out of memory (scratch of %zu bytes)", n * elem_size);
    *p = q;
    *cap = n;
    return RESA_OK;
}

#endif
