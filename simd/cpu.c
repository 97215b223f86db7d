/* SPDX-License-Identifier: MIT */
/* CPU feature detection and the dispatch tables.
 *
 * Detection runs once (pthread_once). The table is built on first use and
 * published with a release store, so dot_kernels() (and elem_kernels() ...) is one acquire load on the
 * fast path and safe to call from any thread, OpenMP workers included.
 * cpu_set_cap() rebuilds it under a lock; call it before kernels run
 * (CLI start-up, tests), not while other threads are inside kernels. */
#ifdef HAVE_CONFIG_H
#include "config.h" /* _GNU_SOURCE: POSIX/GNU declarations under -std=c11 */
#endif
#include "cpu.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#elif defined(__aarch64__) && defined(__APPLE__)
#include <sys/sysctl.h>
#endif

/* ---- detection ----------------------------------------------------------------- */

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* XCR0: which register states the OS saves on context switch. Inline asm so
 * this file needs no -mxsave. Only valid once CPUID reports OSXSAVE. */
static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

#define XCR0_YMM 0x06u          /* SSE + AVX state */
#define XCR0_ZMM 0xe0u          /* opmask + ZMM_Hi256 + Hi16_ZMM */
#define XCR0_TILE (3ull << 17)  /* XTILECFG + XTILEDATA */

/* Linux hands out the AMX tile state only on request (arch_prctl). Asking is
 * harmless, and a flag that says "AMX" should mean AMX instructions work. */
static int amx_permitted(void)
{
#if defined(__linux__) && defined(SYS_arch_prctl)
    return syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */) == 0;
#else
    return 0;
#endif
}

static unsigned detect_x86(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, f16c = (c >> 29) & 1;
    if (!osxsave || !avx || !fma || !f16c || __get_cpuid_max(0, NULL) < 7)
        return 0;
    const uint64_t xcr0 = xgetbv0();
    if ((xcr0 & XCR0_YMM) != XCR0_YMM)
        return 0;
    __cpuid_count(7, 0, a, b, c, d);
    const unsigned leaf7_max = a, ebx7 = b, ecx7 = c, edx7 = d;
    if (!((ebx7 >> 5) & 1)) /* AVX2 */
        return 0;

    unsigned flags = RESA_CPU_AVX2;
    const unsigned avx512 = (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31); /* F DQ BW VL */
    if ((ebx7 & avx512) == avx512 && (xcr0 & XCR0_ZMM) == XCR0_ZMM) {
        flags |= RESA_CPU_AVX512;
        if ((ecx7 >> 11) & 1)
            flags |= RESA_CPU_AVX512_VNNI;
        if (leaf7_max >= 1) {
            __cpuid_count(7, 1, a, b, c, d);
            if ((a >> 5) & 1)
                flags |= RESA_CPU_AVX512_BF16;
        }
    }
    const unsigned amx = (1u << 22) | (1u << 24) | (1u << 25); /* BF16 TILE INT8 */
    if ((edx7 & amx) == amx && (xcr0 & XCR0_TILE) == XCR0_TILE && amx_permitted())
        flags |= RESA_CPU_AMX;
    return flags;
}
#endif

#if defined(__aarch64__)
static unsigned detect_arm(void)
{
    unsigned flags = RESA_CPU_NEON; /* Advanced SIMD is part of the AArch64 baseline */
#if defined(__linux__)
    const unsigned long hw = getauxval(AT_HWCAP);
    if (hw & (1ul << 20)) /* HWCAP_ASIMDDP */
        flags |= RESA_CPU_DOTPROD;
    if (hw & (1ul << 10)) /* HWCAP_ASIMDHP */
        flags |= RESA_CPU_FP16;
#elif defined(__APPLE__)
    int v = 0;
    size_t len = sizeof v;
    if (!sysctlbyname("hw.optional.arm.FEAT_DotProd", &v, &len, NULL, 0) && v)
        flags |= RESA_CPU_DOTPROD;
    v = 0;
    len = sizeof v;
    if (!sysctlbyname("hw.optional.arm.FEAT_FP16", &v, &len, NULL, 0) && v)
        flags |= RESA_CPU_FP16;
#endif
    return flags;
}
#endif

static pthread_once_t detect_once = PTHREAD_ONCE_INIT;
static unsigned detected_flags;

static void detect(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    detected_flags = detect_x86();
#elif defined(__aarch64__)
    detected_flags = detect_arm();
#else
    detected_flags = 0;
#endif
}

unsigned cpu_detect(void)
{
    pthread_once(&detect_once, detect);
    return detected_flags;
}

/* ---- the cap ---------------------------------------------------------------------- */

static const struct {
    const char *name;
    unsigned mask;
} cap_names[] = {
    {"scalar", 0},
    {"avx2", RESA_CPU_AVX2},
    {"avx512vnni", RESA_CPU_AVX2 | RESA_CPU_AVX512 | RESA_CPU_AVX512_VNNI | RESA_CPU_AVX512_BF16}, /* no AMX */
    {"avx512", RESA_CPU_AVX2 | RESA_CPU_AVX512 | RESA_CPU_AVX512_VNNI | RESA_CPU_AVX512_BF16 | RESA_CPU_AMX},
    {"neon", RESA_CPU_NEON | RESA_CPU_DOTPROD | RESA_CPU_FP16},
    {"native", ~0u},
};

static int cap_lookup(const char *name, unsigned *mask)
{
    for (size_t i = 0; i < sizeof cap_names / sizeof cap_names[0]; i++) {
        if (!strcmp(name, cap_names[i].name)) {
            *mask = cap_names[i].mask;
            return 0;
        }
    }
    return -1;
}

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static int cap_known;    /* cap_mask set (from RESA_CPU or cpu_set_cap); under table_lock */
static unsigned cap_mask = ~0u;
static struct {
    resa_dot_ctx dot;
    resa_elem_ctx elem;
    resa_attn_ctx attn;
    resa_chunk_ctx chunk;
} tables;
static atomic_int tables_ready;

/* Caller holds table_lock. */
static unsigned flags_locked(void)
{
    if (!cap_known) {
        const char *env = getenv("RESA_CPU");
        if (env && *env && cap_lookup(env, &cap_mask) < 0) {
            fprintf(stderr, "resa: RESA_CPU=%s is not one of scalar, avx2, avx512vnni, avx512, neon, native; "
                            "using native\n", env);
            cap_mask = ~0u;
        }
        cap_known = 1;
    }
    return cpu_detect() & cap_mask;
}

/* Caller holds table_lock. */
static void build_tables_locked(void)
{
    const unsigned flags = flags_locked();
    resa_dot_ctx c;
    dot_init_c(&c);
    dot_init_x86(&c, flags);
    dot_init_arm(&c, flags);
    tables.dot = c;
    elem_init(&tables.elem, flags);
    attn_init(&tables.attn, flags);
    chunk_init(&tables.chunk, flags);
    atomic_store_explicit(&tables_ready, 1, memory_order_release);
}

unsigned cpu_flags(void)
{
    pthread_mutex_lock(&table_lock);
    const unsigned flags = flags_locked();
    pthread_mutex_unlock(&table_lock);
    return flags;
}

int cpu_set_cap(const char *name)
{
    unsigned mask;
    if (!name || cap_lookup(name, &mask) < 0)
        return -1;
    pthread_mutex_lock(&table_lock);
    cap_mask = mask;
    cap_known = 1;
    build_tables_locked();
    pthread_mutex_unlock(&table_lock);
    return 0;
}

const char *cpu_tier_name(unsigned flags)
{
    if (flags & RESA_CPU_AVX512)
        return "avx512";
    if (flags & RESA_CPU_AVX2)
        return "avx2";
    if (flags & RESA_CPU_NEON)
        return "neon";
    return "scalar";
}

static void ensure_tables(void)
{
    if (!atomic_load_explicit(&tables_ready, memory_order_acquire)) {
        pthread_mutex_lock(&table_lock);
        if (!atomic_load_explicit(&tables_ready, memory_order_relaxed))
            build_tables_locked();
        pthread_mutex_unlock(&table_lock);
    }
}

const resa_dot_ctx *dot_kernels(void)
{
    ensure_tables();
    return &tables.dot;
}

const resa_elem_ctx *elem_kernels(void)
{
    ensure_tables();
    return &tables.elem;
}

const resa_attn_ctx *attn_kernels(void)
{
    ensure_tables();
    return &tables.attn;
}

const resa_chunk_ctx *chunk_kernels(void)
{
    ensure_tables();
    return &tables.chunk;
}
