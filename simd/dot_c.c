/* SPDX-License-Identifier: MIT */
/* Scalar "dot" kernels: the references every SIMD tier is checked against,
 * and the fallback on CPUs without one.
 *
 * The float dots accumulate in double (as ggml's scalar path does), so they
 * are the most accurate version. The int8 dots follow the per-block recipe
 * of dot.h (exact integer block sums, one fmaf per block in block order),
 * which every tier reproduces bit for bit; per block it is llama.cpp's math
 * (d_w * d_a * sum(q_w * q_a), + m_w * s_a for Q4_1), so numerics stay close
 * to the reference implementation. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "dot.h"

static decl_vec_dot_fn(dot_f32_c)
{
    const float *x = w, *y = a;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)x[i] * y[i];
    *s = (float)sum;
}

static decl_vec_dot_fn(dot_f16_c)
{
    const resa_f16 *x = w;
    const float *y = a;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)type_f16_to_f32(x[i]) * y[i];
    *s = (float)sum;
}

static decl_vec_dot_fn(dot_bf16_c)
{
    const resa_bf16 *x = w;
    const float *y = a;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)type_bf16_to_f32(x[i]) * y[i];
    *s = (float)sum;
}

/* ---- int8 dots ---------------------------------------------------------------- */

/* One weight block as 32 signed values in element order, with its scales
 * (m = 0 except for Q4_1 and Q5_1). */
static void weight_block(enum resa_type t, const void *row, int64_t b, int8_t q[32], float *d, float *m)
{
    *m = 0.0f;
    if (t == RESA_TYPE_Q8_0) {
        const block_q8_0 *x = (const block_q8_0 *)row + b;
        memcpy(q, x->qs, 32);
        *d = type_f16_to_f32(x->d);
        return;
    }
    if (t == RESA_TYPE_Q5_0 || t == RESA_TYPE_Q5_1) {
        const size_t bs = t == RESA_TYPE_Q5_0 ? sizeof(block_q5_0) : sizeof(block_q5_1);
        const char *x = (const char *)row + (size_t)b * bs;
        resa_q5_values(t, x, q);
        resa_f16 h;
        memcpy(&h, x, sizeof h);
        *d = type_f16_to_f32(h);
        if (t == RESA_TYPE_Q5_1) {
            memcpy(&h, x + offsetof(block_q5_1, m), sizeof h);
            *m = type_f16_to_f32(h);
        }
        return;
    }
    if (t == RESA_TYPE_IQ4_NL) {
        const block_iq4_nl *x = (const block_iq4_nl *)row + b;
        *d = type_f16_to_f32(x->d);
        for (int j = 0; j < 16; j++) {
            q[j] = resa_kvalues_iq4nl[x->qs[j] & 0x0f];
            q[j + 16] = resa_kvalues_iq4nl[x->qs[j] >> 4];
        }
        return;
    }
    const uint8_t *qs;
    int off = 0;
    if (t == RESA_TYPE_Q4_0) {
        const block_q4_0 *x = (const block_q4_0 *)row + b;
        qs = x->qs;
        off = 8;
        *d = type_f16_to_f32(x->d);
    } else {
        const block_q4_1 *x = (const block_q4_1 *)row + b;
        qs = x->qs;
        *d = type_f16_to_f32(x->d);
        *m = type_f16_to_f32(x->m);
    }
    for (int j = 0; j < 16; j++) {
        q[j] = (int8_t)((qs[j] & 0x0f) - off);
        q[j + 16] = (int8_t)((qs[j] >> 4) - off);
    }
}

/* One activation block: 32 values, d and s (0 for Q8_0) as floats. */
static const int8_t *act_block(enum resa_type t, const void *row, int64_t b, float *d, float *s)
{
    if (t == RESA_TYPE_Q8_1) {
        const block_q8_1 *y = (const block_q8_1 *)row + b;
        *d = type_f16_to_f32(y->d);
        *s = type_f16_to_f32(y->s);
        return y->qs;
    }
    const block_q8_0 *y = (const block_q8_0 *)row + b;
    *d = type_f16_to_f32(y->d);
    *s = 0.0f;
    return y->qs;
}

/* Types whose blocks add m * s_a (dot partner Q8_1). */
static int has_min(enum resa_type t)
{
    return t == RESA_TYPE_Q4_1 || t == RESA_TYPE_Q5_1;
}

/* The recipe of dot.h, spelled out once. */
static float dot_int8(enum resa_type t, int64_t n, const void *w, const void *a)
{
    const enum resa_type at = type_traits_get(t)->vec_dot_type;
    float acc = 0.0f, accm = 0.0f;
    for (int64_t b = 0; b < n / 32; b++) {
        int8_t q[32];
        float dw, m, da, sa;
        weight_block(t, w, b, q, &dw, &m);
        const int8_t *y = act_block(at, a, b, &da, &sa);
        int32_t isum = 0;
        for (int j = 0; j < 32; j++)
            isum += q[j] * y[j];
        acc = fmaf(dw * da, (float)isum, acc);
        accm = fmaf(m, sa, accm);
    }
    return has_min(t) ? acc + accm : acc;
}

static decl_vec_dot_fn(dot_q4_0_c)
{
    *s = dot_int8(RESA_TYPE_Q4_0, n, w, a);
}

static decl_vec_dot_fn(dot_q4_1_c)
{
    *s = dot_int8(RESA_TYPE_Q4_1, n, w, a);
}

static decl_vec_dot_fn(dot_q8_0_c)
{
    *s = dot_int8(RESA_TYPE_Q8_0, n, w, a);
}

#define DOT_INT8_C(name, type)        \
    static decl_vec_dot_fn(name)      \
    {                                 \
        *s = dot_int8(type, n, w, a); \
    }
DOT_INT8_C(dot_q5_0_c, RESA_TYPE_Q5_0)
DOT_INT8_C(dot_q5_1_c, RESA_TYPE_Q5_1)
DOT_INT8_C(dot_iq4_nl_c, RESA_TYPE_IQ4_NL)

/* ---- super-block dots (K-quants, IQ4_XS) with Q8_K ------------------------------ */

/* The super-block recipe of dot.h, spelled out once. */
static float dot_k(enum resa_type t, int64_t n, const void *w, const void *a)
{
    const block_q8_K *y = a;
    float acc = 0.0f, accm = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        resa_kblock k;
        resa_kblock_unpack(t, w, b, &k);
        int32_t isum = 0, msum = 0;
        for (int g = 0; g < QK_K / 16; g++) {
            int32_t sub = 0;
            for (int j = 0; j < 16; j++)
                sub += k.q[16 * g + j] * y[b].qs[16 * g + j];
            isum += k.sc[g] * sub;
            msum += k.m[g] * y[b].bsums[g];
        }
        acc = fmaf(k.d * y[b].d, (float)isum, acc);
        accm = fmaf(k.dmin * y[b].d, (float)msum, accm);
    }
    return acc - accm;
}

#define DOT_K_C(name, type)                                    \
    static decl_vec_dot_fn(dot_##name##_c)                     \
    {                                                          \
        *s = dot_k(type, n, w, a);                             \
    }                                                          \
    static RESA_GEMV_LOOP(dot_gemv_##name##_c, dot_##name##_c) \
    static RESA_GEMM_LOOP(dot_gemm_##name##_c, dot_##name##_c)
DOT_K_C(q2_k, RESA_TYPE_Q2_K)
DOT_K_C(q3_k, RESA_TYPE_Q3_K)
DOT_K_C(q4_k, RESA_TYPE_Q4_K)
DOT_K_C(q5_k, RESA_TYPE_Q5_K)
DOT_K_C(q6_k, RESA_TYPE_Q6_K)
DOT_K_C(iq4_xs, RESA_TYPE_IQ4_XS)

/* ---- panels and gemm -------------------------------------------------------------- */

void dot_pack(enum resa_type act_type, const void *a, size_t lda, int nc, int64_t n,
                   resa_dot_panel *p)
{
    const int64_t nb = n / 32;
    const int q8_1 = act_type == RESA_TYPE_Q8_1;
    const size_t bsz = q8_1 ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const size_t qoff = q8_1 ? offsetof(block_q8_1, qs) : offsetof(block_q8_0, qs);
    if (nc < RESA_PANEL_COLS)
        memset(p, 0, (size_t)nb * sizeof *p);
    for (int64_t b = 0; b < nb; b++) {
        for (int c = 0; c < nc; c++) {
            const unsigned char *blk = (const unsigned char *)a + (size_t)c * lda + (size_t)b * bsz;
            const int8_t *y = (const int8_t *)(blk + qoff);
            for (int k = 0; k < 8; k++)
                memcpy(p[b].qs[k][c], y + 4 * k, 4);
            memcpy(&p[b].d[c], blk, sizeof(resa_f16)); /* d leads both block types */
            if (q8_1) {
                memcpy(&p[b].s[c], blk + offsetof(block_q8_1, s), sizeof(resa_f16));
                p[b].sum[c] = 0;
            } else {
                int32_t sum = 0;
                for (int j = 0; j < 32; j++)
                    sum += y[j];
                p[b].s[c] = 0;
                p[b].sum[c] = sum;
            }
        }
    }
}

/* The recipe again, reading the activations from panels: what the SIMD
 * gemms compute, and what the tests hold equal to vec_dot. */
static void gemm_int8(enum resa_type t, int64_t n, int nr, int nc, const void *w, size_t ldw,
                      const resa_dot_panel *p, float *s, size_t lds)
{
    const int64_t nb = n / 32;
    for (int r = 0; r < nr; r++) {
        const void *row = (const char *)w + (size_t)r * ldw;
        for (int c = 0; c < nc; c++) {
            const resa_dot_panel *pc = p + (size_t)(c / RESA_PANEL_COLS) * (size_t)nb;
            const int cc = c % RESA_PANEL_COLS;
            float acc = 0.0f, accm = 0.0f;
            for (int64_t b = 0; b < nb; b++) {
                int8_t q[32];
                float dw, m;
                weight_block(t, row, b, q, &dw, &m);
                int32_t isum = 0;
                for (int k = 0; k < 8; k++)
                    for (int j = 0; j < 4; j++)
                        isum += q[4 * k + j] * pc[b].qs[k][cc][j];
                acc = fmaf(dw * type_f16_to_f32(pc[b].d[cc]), (float)isum, acc);
                accm = fmaf(m, type_f16_to_f32(pc[b].s[cc]), accm);
            }
            s[(size_t)c * lds + r] = has_min(t) ? acc + accm : acc;
        }
    }
}

static decl_gemm_fn(dot_gemm_q4_0_c)
{
    (void)lda;
    gemm_int8(RESA_TYPE_Q4_0, n, nr, nc, w, ldw, a, s, lds);
}

static decl_gemm_fn(dot_gemm_q4_1_c)
{
    (void)lda;
    gemm_int8(RESA_TYPE_Q4_1, n, nr, nc, w, ldw, a, s, lds);
}

static decl_gemm_fn(dot_gemm_q8_0_c)
{
    (void)lda;
    gemm_int8(RESA_TYPE_Q8_0, n, nr, nc, w, ldw, a, s, lds);
}

#define GEMM_INT8_C(name, type)                        \
    static decl_gemm_fn(dot_gemm_##name##_c)           \
    {                                                  \
        (void)lda;                                     \
        gemm_int8(type, n, nr, nc, w, ldw, a, s, lds); \
    }                                                  \
    static RESA_GEMV_LOOP(dot_gemv_##name##_c, dot_##name##_c)
GEMM_INT8_C(q5_0, RESA_TYPE_Q5_0)
GEMM_INT8_C(q5_1, RESA_TYPE_Q5_1)
GEMM_INT8_C(iq4_nl, RESA_TYPE_IQ4_NL)

static RESA_GEMV_LOOP(dot_gemv_f32_c, dot_f32_c)
static RESA_GEMV_LOOP(dot_gemv_f16_c, dot_f16_c)
static RESA_GEMV_LOOP(dot_gemv_bf16_c, dot_bf16_c)
static RESA_GEMV_LOOP(dot_gemv_q4_0_c, dot_q4_0_c)
static RESA_GEMV_LOOP(dot_gemv_q4_1_c, dot_q4_1_c)
static RESA_GEMV_LOOP(dot_gemv_q8_0_c, dot_q8_0_c)
static RESA_GEMM_LOOP(dot_gemm_f32_c, dot_f32_c)
static RESA_GEMM_LOOP(dot_gemm_f16_c, dot_f16_c)
static RESA_GEMM_LOOP(dot_gemm_bf16_c, dot_bf16_c)

void dot_init_c(resa_dot_ctx *c)
{
    *c = (resa_dot_ctx){0};
    c->vec_dot[RESA_TYPE_F32] = dot_f32_c;
    c->vec_dot[RESA_TYPE_F16] = dot_f16_c;
    c->vec_dot[RESA_TYPE_BF16] = dot_bf16_c;
    c->vec_dot[RESA_TYPE_Q4_0] = dot_q4_0_c;
    c->vec_dot[RESA_TYPE_Q4_1] = dot_q4_1_c;
    c->vec_dot[RESA_TYPE_Q8_0] = dot_q8_0_c;
    c->gemv[RESA_TYPE_F32] = dot_gemv_f32_c;
    c->gemv[RESA_TYPE_F16] = dot_gemv_f16_c;
    c->gemv[RESA_TYPE_BF16] = dot_gemv_bf16_c;
    c->gemv[RESA_TYPE_Q4_0] = dot_gemv_q4_0_c;
    c->gemv[RESA_TYPE_Q4_1] = dot_gemv_q4_1_c;
    c->gemv[RESA_TYPE_Q8_0] = dot_gemv_q8_0_c;
    c->gemm[RESA_TYPE_F32] = dot_gemm_f32_c;
    c->gemm[RESA_TYPE_F16] = dot_gemm_f16_c;
    c->gemm[RESA_TYPE_BF16] = dot_gemm_bf16_c;
    c->gemm[RESA_TYPE_Q4_0] = dot_gemm_q4_0_c;
    c->gemm[RESA_TYPE_Q4_1] = dot_gemm_q4_1_c;
    c->gemm[RESA_TYPE_Q8_0] = dot_gemm_q8_0_c;
#define SET_C(type, name)                    \
    do {                                     \
        c->vec_dot[type] = dot_##name##_c;   \
        c->gemv[type] = dot_gemv_##name##_c; \
        c->gemm[type] = dot_gemm_##name##_c; \
    } while (0)
    SET_C(RESA_TYPE_Q5_0, q5_0);
    SET_C(RESA_TYPE_Q5_1, q5_1);
    SET_C(RESA_TYPE_IQ4_NL, iq4_nl);
    SET_C(RESA_TYPE_Q2_K, q2_k);
    SET_C(RESA_TYPE_Q3_K, q3_k);
    SET_C(RESA_TYPE_Q4_K, q4_k);
    SET_C(RESA_TYPE_Q5_K, q5_k);
    SET_C(RESA_TYPE_Q6_K, q6_k);
    SET_C(RESA_TYPE_IQ4_XS, iq4_xs);
#undef SET_C
    /* The activation quantizers are the types' reference quantizers: one
     * definition of the rounding, which the SIMD versions match bit for bit. */
    c->quantize[RESA_TYPE_Q8_0] = type_traits_get(RESA_TYPE_Q8_0)->from_float;
    c->quantize[RESA_TYPE_Q8_1] = type_traits_get(RESA_TYPE_Q8_1)->from_float;
    c->quantize[RESA_TYPE_Q8_K] = type_traits_get(RESA_TYPE_Q8_K)->from_float;
    for (int t = 0; t < RESA_TYPE_COUNT; t++)
        if (type_traits_get((uint32_t)t))
            c->to_float[t] = type_traits_get((uint32_t)t)->to_float;
}
