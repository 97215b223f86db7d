/* SPDX-License-Identifier: MIT */
/* What the CPU has and which kernels run: `resa cpu` and resa_set_cpu(). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cpu.h"
#include "error.h"
#include "resa.h"

resa_status resa_set_cpu(const char *tier)
{
    if (cpu_set_cap(tier) != 0)
        return error_set(RESA_ERR_ARG, "unknown CPU tier '%s' (scalar, avx2, avx512vnni, avx512, neon, native)",
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
    { "amx", RESA_CPU_AVX2 | RESA_CPU_AVX512 | RESA_CPU_AVX512_VNNI | RESA_CPU_AMX },
    { "neon", RESA_CPU_NEON },
    { "dotprod", RESA_CPU_NEON | RESA_CPU_DOTPROD },
};

/* The kernel tables of every family, as one tier's flags would fill them. */
typedef enum { FAM_DOT, FAM_ELEM, FAM_ATTN, FAM_CHUNK } family;
typedef union {
    resa_dot_ctx dot;
    resa_elem_ctx elem;
    resa_attn_ctx attn;
    resa_chunk_ctx chunk;
} any_ctx;

static void build(family fam, unsigned flags, any_ctx *c)
{
    switch (fam) {
    case FAM_DOT:
        dot_init_c(&c->dot);
        dot_init_x86(&c->dot, flags);
        dot_init_arm(&c->dot, flags);
        break;
    case FAM_ELEM: elem_init(&c->elem, flags); break;
    case FAM_ATTN: attn_init(&c->attn, flags); break;
    case FAM_CHUNK: chunk_init(&c->chunk, flags); break;
    }
}

static const void *in_use(family fam)
{
    switch (fam) {
    case FAM_DOT: return dot_kernels();
    case FAM_ELEM: return elem_kernels();
    case FAM_ATTN: return attn_kernels();
    default: return chunk_kernels();
    }
}

static const char *tier_of(family fam, const void *fn, size_t offset)
{
    if (!fn)
        return "-";
    for (size_t t = 0; t < sizeof tiers / sizeof tiers[0]; t++) {
        any_ctx c;
        build(fam, tiers[t].flags, &c);
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

#define ENTRY(field, type) FAM_DOT, offsetof(resa_dot_ctx, field) + (size_t)(type) * sizeof(void *)
#define ELEM(field) FAM_ELEM, offsetof(resa_elem_ctx, field)
#define ATTN(field) FAM_ATTN, offsetof(resa_attn_ctx, field)
#define ATTN_T(field, type) FAM_ATTN, offsetof(resa_attn_ctx, field) + (size_t)(type) * sizeof(void *)
#define CHUNK_T(field, type) FAM_CHUNK, offsetof(resa_chunk_ctx, field) + (size_t)(type) * sizeof(void *)

int resa_cpu_report(char *buf, size_t n)
{
    static const struct { const char *label; family fam; size_t offset; } kernels[] = {
        { "dot q4_0 x q8_0", ENTRY(vec_dot, RESA_TYPE_Q4_0) },
        { "dot q4_1 x q8_1", ENTRY(vec_dot, RESA_TYPE_Q4_1) },
        { "dot q8_0 x q8_0", ENTRY(vec_dot, RESA_TYPE_Q8_0) },
        { "dot q5_0 x q8_0", ENTRY(vec_dot, RESA_TYPE_Q5_0) },
        { "dot q5_1 x q8_1", ENTRY(vec_dot, RESA_TYPE_Q5_1) },
        { "dot iq4_nl x q8_0", ENTRY(vec_dot, RESA_TYPE_IQ4_NL) },
        { "dot q2_k x q8_k", ENTRY(vec_dot, RESA_TYPE_Q2_K) },
        { "dot q3_k x q8_k", ENTRY(vec_dot, RESA_TYPE_Q3_K) },
        { "dot q4_k x q8_k", ENTRY(vec_dot, RESA_TYPE_Q4_K) },
        { "dot q5_k x q8_k", ENTRY(vec_dot, RESA_TYPE_Q5_K) },
        { "dot q6_k x q8_k", ENTRY(vec_dot, RESA_TYPE_Q6_K) },
        { "dot iq4_xs x q8_k", ENTRY(vec_dot, RESA_TYPE_IQ4_XS) },
        { "dot f16 x f32", ENTRY(vec_dot, RESA_TYPE_F16) },
        { "dot bf16 x f32", ENTRY(vec_dot, RESA_TYPE_BF16) },
        { "dot f32 x f32", ENTRY(vec_dot, RESA_TYPE_F32) },
        { "gemm q4_0 tiles", ENTRY(gemm, RESA_TYPE_Q4_0) },
        { "gemm q4_1 tiles", ENTRY(gemm, RESA_TYPE_Q4_1) },
        { "gemm q8_0 tiles", ENTRY(gemm, RESA_TYPE_Q8_0) },
        { "gemv q4_0", ENTRY(gemv, RESA_TYPE_Q4_0) },
        { "gemv q4_1", ENTRY(gemv, RESA_TYPE_Q4_1) },
        { "gemv q8_0", ENTRY(gemv, RESA_TYPE_Q8_0) },
        { "quantize q8_0", ENTRY(quantize, RESA_TYPE_Q8_0) },
        { "quantize q8_1", ENTRY(quantize, RESA_TYPE_Q8_1) },
        { "f16 -> f32 rows", ENTRY(to_float, RESA_TYPE_F16) },
        { "rmsnorm", ELEM(rmsnorm) },
        { "rope (norm)", ELEM(rope_norm) },
        { "rope (neox)", ELEM(rope_neox) },
        { "silu * up", ELEM(silu_mul) },
        { "softmax", ELEM(softmax) },
        { "f32 -> f16", ELEM(f32_to_f16) },
        { "f32 -> bf16", ELEM(f32_to_bf16) },
        { "bf16 -> f32", ELEM(bf16_to_f32) },
        { "attn decode f16", ATTN_T(decode, RESA_TYPE_F16) },
        { "attn decode f32", ATTN_T(decode, RESA_TYPE_F32) },
        { "block scores f16", ATTN_T(block_score, RESA_TYPE_F16) },
        { "block scores f32", ATTN_T(block_score, RESA_TYPE_F32) },
        { "summary update", ATTN(summary_add) },
        { "attn chunk f16", CHUNK_T(attn, RESA_TYPE_F16) },
        { "attn chunk f32", CHUNK_T(attn, RESA_TYPE_F32) },
    };
    char f[256];
    size_t used = 0;
    features(f, sizeof f, cpu_detect());
    used += (size_t)snprintf(buf, n, "detected:%s\n", f);
    const unsigned flags = cpu_flags();
    features(f, sizeof f, flags);
    used += (size_t)snprintf(buf + used, used < n ? n - used : 0, "in use:  %s\ntier:     %s\n", f,
                             cpu_tier_name(flags));
    for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++) {
        void *fn;
        memcpy(&fn, (const char *)in_use(kernels[i].fam) + kernels[i].offset, sizeof fn);
        used += (size_t)snprintf(buf + used, used < n ? n - used : 0, "  %-18s %s\n",
                                 kernels[i].label, tier_of(kernels[i].fam, fn, kernels[i].offset));
    }
    return (int)used;
}
