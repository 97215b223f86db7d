/* Software prefetch, for kernels whose reads the hardware prefetchers
 * follow poorly (several short streams side by side). A prefetch never
 * faults, so asking for bytes past the end of an array is harmless. */
#ifndef RESA_SIMD_PREFETCH_H
#define RESA_SIMD_PREFETCH_H

#include <stddef.h>

/* Asks for the cache lines of [p, p + bytes) (p need not be aligned; a line
 * straddling the end is covered by the caller's next span or not needed). */
static inline void resa_prefetch_span(const void *p, size_t bytes)
{
    for (size_t o = 0; o < bytes; o += 64)
        __builtin_prefetch((const char *)p + o);
}

#endif
