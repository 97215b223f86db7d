/* SPDX-License-Identifier: MIT */
/* Thread counts: the OpenMP regions take theirs at the call site
 * (num_threads), from the context's n_threads. */
#ifndef RESA_THREADS_H
#define RESA_THREADS_H

/* Online CPUs (at least 1). */
int cpu_count(void);

#endif
