/* SPDX-License-Identifier: MIT */
/* The free-page list of the KV pool (docs/design.md §3): which pages no
 * sequence holds. The scheduler owns it; the backend owns the pages' bytes.
 * A sequence's next page is the one after its last when that is free, else
 * the lowest free one, so a lone sequence's pages stay consecutive (and its
 * rows contiguous, which the kernels read fastest). */
#ifndef RESA_PAGE_ALLOC_H
#define RESA_PAGE_ALLOC_H

#include <stdint.h>

#include "resa.h"

typedef struct page_alloc {
    uint64_t *used; /* bit i: page i is held */
    int n_pages, n_free;
} page_alloc;

resa_status page_alloc_init(page_alloc *a, int n_pages);
void page_alloc_free(page_alloc *a);
/* A free page, preferably `hint` (pass -1 for none); -1 when none is free. */
int page_alloc_take(page_alloc *a, int hint);
void page_alloc_give(page_alloc *a, int page);

#endif
