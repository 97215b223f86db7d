/* SPDX-License-Identifier: MIT */
/* Software prefetch, for kernels whose reads the hardware prefetchers
 * follow poorly (several short streams side by side). A prefetch never
 * faults, so asking for bytes past the end of an array is harmless.
 * The helpers are always inlined: as functions of their own, GCC 12 finds
 * them free of side effects and deletes the calls (it did, silently, for
 * every variable-length span until issue 5 looked at the machine code). */
#ifndef RESA_SIMD_PREFETCH_H
#define RESA_SIMD_PREFETCH_H

#include <stddef.h>

/* Asks for the cache lines of [p, p + bytes) (p need not be aligned; a line
 * straddling the end is covered by the caller's next span or not needed). */
static inline __attribute__((always_inline)) void resa_prefetch_span(const void *p, size_t bytes)
{
    for (size_t o = 0; o < bytes; o += 64)
        __builtin_prefetch((const char *)p + o);
}

/* Asks for the lines of [p, p + bytes) into L2 (prefetcht1): for data
 * wanted a while ahead, so that it does not crowd L1, which holds what is
 * being worked on. The decode attention asks for its next tile this way
 * (16-32 KiB of K and V); measured against prefetcht0 there: the same
 * speed within noise, both 1.1-1.9x faster than none (issue 5). */
static inline __attribute__((always_inline)) void resa_prefetch_span_l2(const void *p, size_t bytes)
{
    for (size_t o = 0; o < bytes; o += 64)
        __builtin_prefetch((const char *)p + o, 0, 2);
}

#endif
