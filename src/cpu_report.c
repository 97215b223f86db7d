/* What the CPU has and which kernels run: `resa cpu` and resa_set_cpu(). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cpu.h"
#include "error.h"
#include "resa.h"

resa_status resa_set_cpu(const char *tier)
{
    if (resa_cpu_set_cap(tier) != 0)
        return resa_fail(RESA_ERR_ARG, "unknown CPU tier '%s' (scalar, avx2, avx512, neon, native)",
                         tier ? tier : "");
    return RESA_OK;
}

static const struct { const char *name; unsigned flag; } feature_names[] = {
    { "avx2+fma+f16c", RESA_CPU_AVX2 }, { "avx512", RESA_CPU_AVX512 },
    { "avx512-vnni", RESA_CPU_AVX512_VNNI }, { "avx512-bf16", RESA_CPU_AVX512_BF16 },
    { "amx", RESA_CPU_AMX }, { "neon", RESA_CPU_NEON }, { "dotprod", RESA_CPU_DOTPROD },
    { "fp16", RESA_CPU_FP16 },
};

/* Tiers from the lowest up; a kernel belongs to the first tier that installs it. */
static const struct { const char *name; unsigned flags; } tiers[] = {
    { "scalar", 0 },
    { "avx2", RESA_CPU_AVX2 },
    { "avx512", RESA_CPU_AVX2 | RESA_CPU_AVX512 },
    { "avx512-vnni", RESA_CPU_AVX2 | RESA_CPU_AVX512 | RESA_CPU_AVX512_VNNI },
    { "neon", RESA_CPU_NEON },
    { "dotprod", RESA_CPU_NEON | RESA_CPU_DOTPROD },
};

static const char *tier_of(const void *fn, size_t offset)
{
    for (size_t t = 0; t < sizeof tiers / sizeof tiers[0]; t++) {
        resa_dot_ctx c;
        resa_dot_init_c(&c);
        resa_dot_init_x86(&c, tiers[t].flags);
        resa_dot_init_arm(&c, tiers[t].flags);
        void *cand;
        memcpy(&cand, (const char *)&c + offset, sizeof cand);
        if (cand == fn)
            return tiers[t].name;
    }
    return "?";
}

static size_t features(char *buf, size_t n, unsigned flags)
{
    size_t used = 0;
    for (size_t i = 0; i < sizeof feature_names / sizeof feature_names[0]; i++)
        if (flags & feature_names[i].flag)
            used += (size_t)snprintf(buf + used, used < n ? n - used : 0, " %s", feature_names[i].name);
    if (!used)
        used = (size_t)snprintf(buf, n, " none");
    return used;
}

#define ENTRY(field, type) offsetof(resa_dot_ctx, field) + (size_t)(type) * sizeof(void *)

int resa_cpu_report(char *buf, size_t n)
{
    static const struct { const char *label; size_t offset; } kernels[] = {
        { "dot q4_0 x q8_0", ENTRY(vec_dot, RESA_TYPE_Q4_0) },
        { "dot q4_1 x q8_1", ENTRY(vec_dot, RESA_TYPE_Q4_1) },
        { "dot q8_0 x q8_0", ENTRY(vec_dot, RESA_TYPE_Q8_0) },
        { "dot f16 x f32", ENTRY(vec_dot, RESA_TYPE_F16) },
        { "dot bf16 x f32", ENTRY(vec_dot, RESA_TYPE_BF16) },
        { "dot f32 x f32", ENTRY(vec_dot, RESA_TYPE_F32) },
        { "quantize q8_0", ENTRY(quantize, RESA_TYPE_Q8_0) },
        { "quantize q8_1", ENTRY(quantize, RESA_TYPE_Q8_1) },
        { "f16 -> f32 rows", ENTRY(to_float, RESA_TYPE_F16) },
    };
    char f[256];
    size_t used = 0;
    features(f, sizeof f, resa_cpu_detect());
    used += (size_t)snprintf(buf, n, "detected:%s\n", f);
    const unsigned flags = resa_cpu_flags();
    features(f, sizeof f, flags);
    used += (size_t)snprintf(buf + used, used < n ? n - used : 0, "in use:  %s\ntier:     %s\n", f,
                             resa_cpu_tier_name(flags));
    const resa_dot_ctx *c = resa_dot();
    for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++) {
        void *fn;
        memcpy(&fn, (const char *)c + kernels[i].offset, sizeof fn);
        used += (size_t)snprintf(buf + used, used < n ? n - used : 0, "  %-18s %s\n",
                                 kernels[i].label, tier_of(fn, kernels[i].offset));
    }
    return (int)used;
}
