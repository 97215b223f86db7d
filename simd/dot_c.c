/* Scalar "dot" kernels: the references every SIMD tier is checked against,
 * and the fallback on CPUs without one.
 *
 * The float dots accumulate in double (as ggml's scalar path does), so they
 * are the most accurate version. The int8 dots compute, block by block,
 * d_w * d_a * sum(q_w * q_a) (+ m_w * s_a for Q4_1) with float scales, the
 * same per-block math as llama.cpp, so that numerics match it. */
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

static decl_vec_dot_fn(dot_q4_0_c)
{
    const block_q4_0 *x = w;
    const block_q8_0 *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK4_0; i++) {
        int sumi = 0;
        for (int j = 0; j < QK4_0 / 2; j++) {
            sumi += ((x[i].qs[j] & 0x0f) - 8) * y[i].qs[j];
            sumi += ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + QK4_0 / 2];
        }
        sum += resa_f16_to_f32(x[i].d) * resa_f16_to_f32(y[i].d) * (float)sumi;
    }
    *s = sum;
}

static decl_vec_dot_fn(dot_q4_1_c)
{
    const block_q4_1 *x = w;
    const block_q8_1 *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK4_1; i++) {
        int sumi = 0;
        for (int j = 0; j < QK4_1 / 2; j++) {
            sumi += (x[i].qs[j] & 0x0f) * y[i].qs[j];
            sumi += (x[i].qs[j] >> 4) * y[i].qs[j + QK4_1 / 2];
        }
        /* sum((q*d_w + m) * a) = d_w*d_a*sum(q*q_a) + m*(d_a*sum(q_a)) = ... + m*s */
        sum += resa_f16_to_f32(x[i].d) * resa_f16_to_f32(y[i].d) * (float)sumi +
               resa_f16_to_f32(x[i].m) * resa_f16_to_f32(y[i].s);
    }
    *s = sum;
}

static decl_vec_dot_fn(dot_q8_0_c)
{
    const block_q8_0 *x = w;
    const block_q8_0 *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        int sumi = 0;
        for (int j = 0; j < QK8_0; j++)
            sumi += x[i].qs[j] * y[i].qs[j];
        sum += resa_f16_to_f32(x[i].d) * resa_f16_to_f32(y[i].d) * (float)sumi;
    }
    *s = sum;
}

void resa_dot_init_c(resa_dot_ctx *c)
{
    *c = (resa_dot_ctx){0};
    c->vec_dot[RESA_TYPE_F32] = dot_f32_c;
    c->vec_dot[RESA_TYPE_F16] = dot_f16_c;
    c->vec_dot[RESA_TYPE_BF16] = dot_bf16_c;
    c->vec_dot[RESA_TYPE_Q4_0] = dot_q4_0_c;
    c->vec_dot[RESA_TYPE_Q4_1] = dot_q4_1_c;
    c->vec_dot[RESA_TYPE_Q8_0] = dot_q8_0_c;
    /* The activation quantizers are the types' reference quantizers: one
     * definition of the rounding, which the SIMD versions match bit for bit. */
    c->quantize[RESA_TYPE_Q8_0] = resa_type_traits_get(RESA_TYPE_Q8_0)->from_float;
    c->quantize[RESA_TYPE_Q8_1] = resa_type_traits_get(RESA_TYPE_Q8_1)->from_float;
    for (int t = 0; t < RESA_TYPE_COUNT; t++)
        if (resa_type_traits_get((uint32_t)t))
            c->to_float[t] = resa_type_traits_get((uint32_t)t)->to_float;
}
