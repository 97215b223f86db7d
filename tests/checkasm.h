/* SPDX-License-Identifier: MIT */
/* The harness the kernel-test binaries (tests/checksimd*) share, in the
 * manner of dav1d's checkasm: options, a seeded RNG, kernels called under a
 * SIGILL/SIGSEGV guard, guarded buffers, reports, and the timing and machine
 * ceilings (read bandwidth, fp32 FMA peak) the benchmarks compare against.
 *
 * Every binary takes: --seed=N --cpu=NAME --bench[=PATTERN] --all-tiers -v */
#ifndef RESA_TESTS_CHECKASM_H
#define RESA_TESTS_CHECKASM_H

#include <stddef.h>
#include <stdint.h>

#include "cpu.h"

typedef struct ca_options {
    uint64_t seed;
    int bench;           /* --bench given */
    const char *pattern; /* --bench=PATTERN: only names containing it ("" = all) */
    int all_tiers;       /* also tiers the CPU lacks (shows that SIGILL is caught) */
    int verbose;
    unsigned flags;      /* cpu_flags() after --cpu */
} ca_options;

extern ca_options ca_opt;

/* Parses argv (exits 99 on a bad option), seeds the RNG, installs the signal
 * handlers and prints the first line (seed, flags, best tier). */
void ca_init(int argc, char **argv, const char *prog);
/* Prints "N passed, N failed" and returns the exit status. */
int ca_finish(void);

/* ---- random inputs ---- */
uint64_t ca_rnd(void);
float ca_rndf(void); /* uniform in [-1, 1) */

/* ---- tiers ---- */
typedef struct ca_tier {
    const char *name;
    unsigned flags; /* the whole bundle the tier needs */
} ca_tier;
extern const ca_tier ca_tiers[];
extern const int ca_n_tiers;
/* The tier's kernels can run here (or --all-tiers). */
int ca_tier_enabled(const ca_tier *t);

/* ---- guarded calls and reports ---- */
/* Runs fn(arg); returns 0, or the signal (SIGILL, SIGSEGV, ...) it raised. */
int ca_call(void (*fn)(void *), void *arg);
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
void ca_report(int ok, const char *kernel, const char *tier, const char *fmt, ...);

/* ---- buffers: n bytes misalign bytes past a 64-byte boundary, guard bytes on
 * both sides; or (inputs) ending right before an inaccessible page ---- */
/* the value of the guard bytes (outputs can be pre-filled with it too) */
#define CA_GUARD_BYTE 0xa5
typedef struct ca_buf {
    unsigned char *base, *p;
    size_t n, map_len;
} ca_buf;
ca_buf ca_buf_new(size_t n, size_t misalign);
ca_buf ca_buf_at_page_end(size_t n);
int ca_guards_ok(const ca_buf *b);
void ca_buf_free(ca_buf *b);

/* ---- benchmarks ---- */
/* Median over repeats of the time of one call of fn(arg), in ns. */
double ca_time_ns(void (*fn)(void *), void *arg);
/* Name matches --bench=PATTERN. */
int ca_bench_wanted(const char *name);
/* This machine, now: read bandwidth of a buffer far larger than the caches
 * (GB/s), and fp32 FMA peak of the best tier allowed (GFLOP/s), with `threads`
 * threads. Measured once per thread count and cached. */
double ca_read_bandwidth(int threads);
double ca_fma_peak(int threads);

#endif
