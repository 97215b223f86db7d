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
        sum += (double)resa_f16_to_f32(x[i]) * y[i];
    *s = (float)sum;
}

static decl_vec_dot_fn(dot_bf16_c)
{
    const resa_bf16 *x = w;
    const float *y = a;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)resa_bf16_to_f32(x[i]) * y[i];
    *s = (float)sum;
}

/* ---- int8 dots ---------------------------------------------------------------- */

/* One weight block as 32 signed values in element order, with its scales
 * (m = 0 except for Q4_1). */
static void weight_block(enum resa_type t, const void *row, int64_t b, int8_t q[32], float *d, float *m)
{
    *m = 0.0f;
    if (t == RESA_TYPE_Q8_0) {
        const block_q8_0 *x = (const block_q8_0 *)row + b;
        memcpy(q, x->qs, 32);
        *d = resa_f16_to_f32(x->d);
        return;
    }
    const uint8_t *qs;
    int off = 0;
    if (t == RESA_TYPE_Q4_0) {
        const block_q4_0 *x = (const block_q4_0 *)row + b;
        qs = x->qs;
        off = 8;
        *d = resa_f16_to_f32(x->d);
    } else {
        const block_q4_1 *x = (const block_q4_1 *)row + b;
        qs = x->qs;
        *d = resa_f16_to_f32(x->d);
        *m = resa_f16_to_f32(x->m);
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
        *d = resa_f16_to_f32(y->d);
        *s = resa_f16_to_f32(y->s);
        return y->qs;
    }
    const block_q8_0 *y = (const block_q8_0 *)row + b;
    *d = resa_f16_to_f32(y->d);
    *s = 0.0f;
    return y->qs;
}

/* The recipe of dot.h, spelled out once. */
static float dot_int8(enum resa_type t, int64_t n, const void *w, const void *a)
{
    const enum resa_type at = resa_type_traits_get(t)->vec_dot_type;
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
    return t == RESA_TYPE_Q4_1 ? acc + accm : acc;
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

/* ---- panels and gemm -------------------------------------------------------------- */

void resa_dot_pack(enum resa_type act_type, const void *a, size_t lda, int nc, int64_t n,
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
                acc = fmaf(dw * resa_f16_to_f32(pc[b].d[cc]), (float)isum, acc);
                accm = fmaf(m, resa_f16_to_f32(pc[b].s[cc]), accm);
            }
            s[(size_t)c * lds + r] = t == RESA_TYPE_Q4_1 ? acc + accm : acc;
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

static RESA_GEMV_LOOP(dot_gemv_f32_c, dot_f32_c)
static RESA_GEMV_LOOP(dot_gemv_f16_c, dot_f16_c)
static RESA_GEMV_LOOP(dot_gemv_bf16_c, dot_bf16_c)
static RESA_GEMV_LOOP(dot_gemv_q4_0_c, dot_q4_0_c)
static RESA_GEMV_LOOP(dot_gemv_q4_1_c, dot_q4_1_c)
static RESA_GEMV_LOOP(dot_gemv_q8_0_c, dot_q8_0_c)
static RESA_GEMM_LOOP(dot_gemm_f32_c, dot_f32_c)
static RESA_GEMM_LOOP(dot_gemm_f16_c, dot_f16_c)
static RESA_GEMM_LOOP(dot_gemm_bf16_c, dot_bf16_c)

void resa_dot_init_c(resa_dot_ctx *c)
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
    /* The activation quantizers are the types' reference quantizers: one
     * definition of the rounding, which the SIMD versions match bit for bit. */
    c->quantize[RESA_TYPE_Q8_0] = resa_type_traits_get(RESA_TYPE_Q8_0)->from_float;
    c->quantize[RESA_TYPE_Q8_1] = resa_type_traits_get(RESA_TYPE_Q8_1)->from_float;
    for (int t = 0; t < RESA_TYPE_COUNT; t++)
        if (resa_type_traits_get((uint32_t)t))
            c->to_float[t] = resa_type_traits_get((uint32_t)t)->to_float;
}
