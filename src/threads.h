/* Thread counts: the OpenMP regions take theirs at the call site
 * (num_threads); BLAS is called from inside them, one product per thread,
 * with its own pool capped to one thread so the two pools do not
 * oversubscribe the cores. */
#ifndef RESA_THREADS_H
#define RESA_THREADS_H

/* Online CPUs (at least 1). */
int resa_cpu_count(void);
/* Caps BLAS's own thread pool (no-op without OpenBLAS). */
void resa_blas_set_threads(int n);

#endif
