/* SPDX-License-Identifier: MIT */
/* The shared harness of the kernel-test binaries (see checkasm.h). */
#ifdef HAVE_CONFIG_H
#include "config.h" /* _GNU_SOURCE: POSIX/GNU declarations under -std=c11 */
#endif
#include "checkasm.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

#include "sampling.h"

ca_options ca_opt;
static int n_pass, n_fail;
static uint64_t rng_state;
static const char *prog_name = "checkasm";

uint64_t ca_rnd(void) { return rng_next(&rng_state); }

float ca_rndf(void) { return (float)((double)(ca_rnd() >> 11) * 0x1p-52 - 1.0); }

/* ---- tiers ---------------------------------------------------------------------- */

const ca_tier ca_tiers[] = {
    {"avx2", RESA_CPU_AVX2},
    {"avx512", RESA_CPU_AVX2 | RESA_CPU_AVX512},
    {"avx512vnni", RESA_CPU_AVX2 | RESA_CPU_AVX512 | RESA_CPU_AVX512_VNNI},
    {"amx", RESA_CPU_AVX2 | RESA_CPU_AVX512 | RESA_CPU_AVX512_VNNI | RESA_CPU_AMX},
    {"neon", RESA_CPU_NEON},
    {"dotprod", RESA_CPU_NEON | RESA_CPU_DOTPROD},
};
const int ca_n_tiers = (int)(sizeof ca_tiers / sizeof ca_tiers[0]);

int ca_tier_enabled(const ca_tier *t)
{
    return ca_opt.all_tiers || (t->flags & ca_opt.flags) == t->flags;
}

/* ---- signals ------------------------------------------------------------------- */

static sigjmp_buf jump_buf;
static volatile sig_atomic_t in_kernel;

static void on_signal(int sig)
{
    if (in_kernel)
        siglongjmp(jump_buf, sig);
    signal(sig, SIG_DFL);
    raise(sig);
}

int ca_call(void (*fn)(void *), void *arg)
{
    const int sig = sigsetjmp(jump_buf, 1);
    if (sig) {
        in_kernel = 0;
        return sig;
    }
    in_kernel = 1;
    fn(arg);
    in_kernel = 0;
    return 0;
}

void ca_report(int ok, const char *kernel, const char *tier, const char *fmt, ...)
{
    if (ok)
        n_pass++;
    else
        n_fail++;
    if (ok && !ca_opt.verbose)
        return;
    char name[80];
    snprintf(name, sizeof name, "%s_%s", kernel, tier);
    printf("  %-30s %s", name, ok ? "OK" : "FAILED");
    if (fmt && *fmt) {
        va_list ap;
        va_start(ap, fmt);
        printf("  ");
        vprintf(fmt, ap);
        va_end(ap);
    }
    printf("\n");
}

/* ---- options ------------------------------------------------------------------- */

void ca_init(int argc, char **argv, const char *prog)
{
    prog_name = prog;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ca_opt.seed = ((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20)) % 1000000000ull;
    ca_opt.pattern = "";
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--seed=", 7)) {
            ca_opt.seed = strtoull(argv[i] + 7, NULL, 10);
        } else if (!strncmp(argv[i], "--cpu=", 6)) {
            if (cpu_set_cap(argv[i] + 6) < 0) {
                fprintf(stderr, "%s: unknown --cpu %s\n", prog, argv[i] + 6);
                exit(99);
            }
        } else if (!strcmp(argv[i], "--bench")) {
            ca_opt.bench = 1;
        } else if (!strncmp(argv[i], "--bench=", 8)) {
            ca_opt.bench = 1;
            ca_opt.pattern = argv[i] + 8;
        } else if (!strcmp(argv[i], "--all-tiers")) {
            ca_opt.all_tiers = 1;
        } else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
            ca_opt.verbose = 1;
        } else {
            fprintf(stderr, "usage: %s [--seed=N] [--cpu=NAME] [--bench[=PATTERN]] [--all-tiers] [-v]\n",
                    prog);
            exit(99);
        }
    }
    rng_state = ca_opt.seed;
    static const int sigs[] = {SIGILL, SIGSEGV, SIGBUS, SIGFPE};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_NODEFER;
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
    ca_opt.flags = cpu_flags();
    printf("%s: seed %llu (--seed=%llu repeats this run), cpu flags 0x%x, best tier %s\n", prog,
           (unsigned long long)ca_opt.seed, (unsigned long long)ca_opt.seed, ca_opt.flags,
           cpu_tier_name(ca_opt.flags));
}

int ca_finish(void)
{
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}

/* ---- buffers ------------------------------------------------------------------- */

#define GUARD 64
#define GUARD_BYTE CA_GUARD_BYTE

ca_buf ca_buf_new(size_t n, size_t misalign)
{
    ca_buf b;
    b.base = aligned_alloc(64, (GUARD + 64 + n + GUARD + 63) / 64 * 64);
    if (!b.base) {
        fprintf(stderr, "%s: out of memory\n", prog_name);
        exit(99);
    }
    b.p = b.base + GUARD + misalign;
    b.n = n;
    b.map_len = 0;
    memset(b.base, GUARD_BYTE, GUARD + misalign);
    memset(b.p + n, GUARD_BYTE, GUARD);
    return b;
}

ca_buf ca_buf_at_page_end(size_t n)
{
    const size_t pg = (size_t)sysconf(_SC_PAGESIZE), data = (n + pg - 1) / pg * pg;
    ca_buf b;
    b.map_len = data + pg;
    b.base = mmap(NULL, b.map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b.base == MAP_FAILED || mprotect(b.base + data, pg, PROT_NONE)) {
        fprintf(stderr, "%s: mmap/mprotect failed\n", prog_name);
        exit(99);
    }
    b.p = b.base + data - n;
    b.n = n;
    return b;
}

int ca_guards_ok(const ca_buf *b)
{
    if (b->map_len)
        return 1;
    for (const unsigned char *q = b->base; q < b->p; q++)
        if (*q != GUARD_BYTE)
            return 0;
    for (size_t i = 0; i < GUARD; i++)
        if (b->p[b->n + i] != GUARD_BYTE)
            return 0;
    return 1;
}

void ca_buf_free(ca_buf *b)
{
    if (b->map_len)
        munmap(b->base, b->map_len);
    else
        free(b->base);
}

/* ---- benchmarks ---------------------------------------------------------------- */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double ca_time_ns(void (*fn)(void *), void *arg)
{
    enum { REPEATS = 15 };
    double t[REPEATS];
    int iters = 1;
    for (;;) { /* calibrate to about 2 ms per repeat */
        const double t0 = now_ns();
        for (int i = 0; i < iters; i++)
            fn(arg);
        if (now_ns() - t0 > 2e6 || iters >= 1 << 20)
            break;
        iters *= 2;
    }
    for (int r = 0; r < REPEATS; r++) {
        const double t0 = now_ns();
        for (int i = 0; i < iters; i++)
            fn(arg);
        t[r] = (now_ns() - t0) / iters;
    }
    qsort(t, REPEATS, sizeof t[0], cmp_double);
    return t[REPEATS / 2];
}

int ca_bench_wanted(const char *name)
{
    return ca_opt.bench && strstr(name, ca_opt.pattern) != NULL;
}

static volatile double sink;

/* Sums a 512 MiB buffer of doubles: the hardware prefetchers' best case, the
 * ceiling a streaming kernel can reach. Median of 7 passes. */
double ca_read_bandwidth(int threads)
{
    static double cached[256];
    if (threads < 1 || threads > 255)
        threads = 1;
    if (cached[threads] > 0)
        return cached[threads];
    const size_t n = (size_t)64 << 20; /* doubles */
    double *a = malloc(n * sizeof *a);
    if (!a)
        return 0.0;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < n; i++)
        a[i] = (double)(i & 7);
    enum { REPEATS = 7 };
    double t[REPEATS];
    for (int r = 0; r < REPEATS; r++) {
        const double t0 = now_ns();
        double total = 0.0;
#pragma omp parallel for num_threads(threads) schedule(static) reduction(+ : total)
        for (size_t i = 0; i < n; i += 8) { /* 8 independent sums: not latency-bound */
            double s = 0.0;
            for (int j = 0; j < 8; j++)
                s += a[i + j];
            total += s;
        }
        t[r] = now_ns() - t0;
        sink = total;
    }
    qsort(t, REPEATS, sizeof t[0], cmp_double);
    free(a);
    return cached[threads] = (double)(n * sizeof *a) / t[REPEATS / 2];
}

/* fp32 FMAs on 12 independent register accumulators: the peak of the widest
 * vector the allowed tier uses. Returns GFLOP/s (an FMA counts 2). */
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f"))) static double fma_loop_avx512(long iters)
{
    __m512 a[12], x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-3f);
    for (int i = 0; i < 12; i++)
        a[i] = _mm512_set1_ps((float)i);
    for (long k = 0; k < iters; k++) {
#pragma GCC unroll 12 /* all 12 in registers: a loop over a memory array is latency-bound */
        for (int i = 0; i < 12; i++)
            a[i] = _mm512_fmadd_ps(a[i], x, y);
    }
    float s = 0;
    for (int i = 0; i < 12; i++)
        s += _mm512_reduce_add_ps(a[i]);
    sink = s;
    return (double)iters * 12 * 16 * 2;
}

__attribute__((target("avx2,fma"))) static double fma_loop_avx2(long iters)
{
    __m256 a[12], x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(1e-3f);
    for (int i = 0; i < 12; i++)
        a[i] = _mm256_set1_ps((float)i);
    for (long k = 0; k < iters; k++) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++)
            a[i] = _mm256_fmadd_ps(a[i], x, y);
    }
    float buf[8], s = 0;
    for (int i = 0; i < 12; i++) {
        _mm256_storeu_ps(buf, a[i]);
        for (int j = 0; j < 8; j++)
            s += buf[j];
    }
    sink = s;
    return (double)iters * 12 * 8 * 2;
}
#elif defined(__aarch64__)
static double fma_loop_neon(long iters)
{
    float32x4_t a[12], x = vdupq_n_f32(0.999f), y = vdupq_n_f32(1e-3f);
    for (int i = 0; i < 12; i++)
        a[i] = vdupq_n_f32((float)i);
    for (long k = 0; k < iters; k++) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++)
            a[i] = vfmaq_f32(y, a[i], x);
    }
    float s = 0;
    for (int i = 0; i < 12; i++)
        s += vaddvq_f32(a[i]);
    sink = s;
    return (double)iters * 12 * 4 * 2;
}
#endif

static double fma_loop_scalar(long iters)
{
    float a[12];
    for (int i = 0; i < 12; i++)
        a[i] = (float)i;
    for (long k = 0; k < iters; k++)
        for (int i = 0; i < 12; i++)
            a[i] = a[i] * 0.999f + 1e-3f;
    float s = 0;
    for (int i = 0; i < 12; i++)
        s += a[i];
    sink = s;
    return (double)iters * 12 * 2;
}

static double fma_loop(long iters)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (ca_opt.flags & RESA_CPU_AVX512)
        return fma_loop_avx512(iters);
    if (ca_opt.flags & RESA_CPU_AVX2)
        return fma_loop_avx2(iters);
#elif defined(__aarch64__)
    if (ca_opt.flags & RESA_CPU_NEON)
        return fma_loop_neon(iters);
#endif
    return fma_loop_scalar(iters);
}

double ca_fma_peak(int threads)
{
    static double cached[256];
    if (threads < 1 || threads > 255)
        threads = 1;
    if (cached[threads] > 0)
        return cached[threads];
    enum { REPEATS = 5 };
    double t[REPEATS];
    const long iters = 20000000;
    double flops = 0.0;
    for (int r = 0; r < REPEATS; r++) {
        const double t0 = now_ns();
        double f = 0.0;
#pragma omp parallel num_threads(threads) reduction(+ : f)
        f += fma_loop(iters);
        t[r] = now_ns() - t0;
        flops = f;
    }
    qsort(t, REPEATS, sizeof t[0], cmp_double);
    return cached[threads] = flops / t[REPEATS / 2];
}
