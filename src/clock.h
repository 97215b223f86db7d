/* SPDX-License-Identifier: MIT */
/* Monotonic time: timings, deadlines and the thread team's spin limit. */
#ifndef RESA_CLOCK_H
#define RESA_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t time_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* seconds */
static inline double time_now(void) { return (double)time_now_ns() * 1e-9; }

#endif
