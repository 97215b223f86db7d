/* SPDX-License-Identifier: MIT */
#include "page_alloc.h"

#include <stdlib.h>

#include "error.h"

resa_status page_alloc_init(page_alloc *a, int n_pages)
{
    a->n_pages = a->n_free = n_pages;
    a->used = calloc(((size_t)n_pages + 63) / 64 + 1, sizeof *a->used);
    return a->used ? RESA_OK : error_set(RESA_ERR_NOMEM, "out of memory for the page list");
}

void page_alloc_free(page_alloc *a)
{
    free(a->used);
    a->used = NULL;
}

static int is_used(const page_alloc *a, int p) { return (int)(a->used[p / 64] >> (p % 64) & 1); }

int page_alloc_take(page_alloc *a, int hint)
{
    if (a->n_free == 0)
        return -1;
    int p = hint;
    if (p < 0 || p >= a->n_pages || is_used(a, p)) {
        /* lowest free: the first word with a clear bit (n_pages is small:
         * 64K positions are 4096 pages, 64 words) */
        int w = 0;
        while (a->used[w] == ~(uint64_t)0)
            w++;
        p = w * 64 + __builtin_ctzll(~a->used[w]);
    }
    a->used[p / 64] |= (uint64_t)1 << (p % 64);
    a->n_free--;
    return p;
}

void page_alloc_give(page_alloc *a, int page)
{
    if (page < 0 || page >= a->n_pages || !is_used(a, page))
        return;
    a->used[page / 64] &= ~((uint64_t)1 << (page % 64));
    a->n_free++;
}
