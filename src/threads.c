#include "config.h"

#include "threads.h"

#include <unistd.h>

#ifdef HAVE_OPENBLAS
#include <cblas.h>
#endif

int resa_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

void resa_blas_set_threads(int n)
{
#if defined(HAVE_OPENBLAS) && defined(HAVE_OPENBLAS_SET_NUM_THREADS)
    openblas_set_num_threads(n);
#else
    (void)n;
#endif
}
