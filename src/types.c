/* Type traits, reference (de)quantizers and fp16/bf16 conversions.
 *
 * Everything here is the specification: portable C, no intrinsics, and the
 * SIMD kernels in simd/ are tested bit for bit (quantizers) or within stated
 * bounds (dots) against it. The block math follows ggml's reference
 * quantizers so that our weights and activations round like llama.cpp's. */
#include "types.h"

#include <math.h>
#include <string.h>

_Static_assert(sizeof(block_q4_0) == 2 + QK4_0 / 2, "block_q4_0 must be packed");
_Static_assert(sizeof(block_q4_1) == 4 + QK4_1 / 2, "block_q4_1 must be packed");
_Static_assert(sizeof(block_q8_0) == 2 + QK8_0, "block_q8_0 must be packed");
_Static_assert(sizeof(block_q8_1) == 4 + QK8_1, "block_q8_1 must be packed");

/* ---- fp16 / bf16 ------------------------------------------------------------ */

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float type_f16_to_f32(resa_f16 h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    const uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;

    if (exp == 0x1f) /* inf, or NaN keeping its payload, quieted as F16C and NEON do */
        return bits_f32(sign | 0x7f800000u | (mant << 13) | (mant ? 0x00400000u : 0));
    if (exp != 0)
        return bits_f32(sign | ((exp + 127 - 15) << 23) | (mant << 13));
    if (mant == 0)
        return bits_f32(sign);
    /* subnormal: mant * 2^-24; normalize so the leading one becomes implicit */
    int e = 127 - 15 + 1;
    while (!(mant & 0x400)) {
        mant <<= 1;
        e--;
    }
    return bits_f32(sign | ((uint32_t)e << 23) | ((mant & 0x3ff) << 13));
}

resa_f16 type_f32_to_f16(float f)
{
    const uint32_t u = f32_bits(f);
    const uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    const uint32_t a = u & 0x7fffffffu;

    if (a > 0x7f800000u) /* NaN: quiet it, keep the top payload bits (as F16C does) */
        return (uint16_t)(sign | 0x7e00 | ((a >> 13) & 0x3ff));
    if (a >= 0x38800000u) { /* |f| >= 2^-14: a normal half, or overflow */
        if (a >= 0x477ff000u) /* >= 65520 (and inf) rounds to inf */
            return (uint16_t)(sign | 0x7c00);
        /* rebias the exponent, then round to nearest even on the 13 dropped
         * bits; a carry out of the mantissa correctly bumps the exponent */
        const uint32_t r = a - ((uint32_t)(127 - 15) << 23);
        return (uint16_t)(sign | ((r + 0x0fff + ((r >> 13) & 1)) >> 13));
    }
    if (a < 0x33000000u) /* < 2^-25: rounds to zero (2^-25 itself is a tie, below) */
        return sign;
    /* subnormal half: round (mantissa with implicit one) * 2^(e-150) * 2^24 */
    const uint32_t m = (a & 0x7fffff) | 0x800000;
    const unsigned shift = 126 - (a >> 23); /* 14..24 */
    uint32_t q = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1)))
        q++; /* may become 0x400, the smallest normal: still the right bits */
    return (uint16_t)(sign | q);
}

float type_bf16_to_f32(resa_bf16 h)
{
    return bits_f32((uint32_t)h << 16);
}

resa_bf16 type_f32_to_bf16(float f)
{
    const uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: quiet it */
        return (uint16_t)((u >> 16) | 0x40);
    return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

/* ---- plain float types ------------------------------------------------------- */

static void to_float_f32(const void *src, float *dst, int64_t n)
{
    memcpy(dst, src, (size_t)n * sizeof(float));
}

static void from_float_f32(const float *src, void *dst, int64_t n)
{
    memcpy(dst, src, (size_t)n * sizeof(float));
}

static void to_float_f16(const void *src, float *dst, int64_t n)
{
    const resa_f16 *x = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = type_f16_to_f32(x[i]);
}

static void from_float_f16(const float *src, void *dst, int64_t n)
{
    resa_f16 *y = dst;
    for (int64_t i = 0; i < n; i++)
        y[i] = type_f32_to_f16(src[i]);
}

static void to_float_bf16(const void *src, float *dst, int64_t n)
{
    const resa_bf16 *x = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = type_bf16_to_f32(x[i]);
}

static void from_float_bf16(const float *src, void *dst, int64_t n)
{
    resa_bf16 *y = dst;
    for (int64_t i = 0; i < n; i++)
        y[i] = type_f32_to_bf16(src[i]);
}

/* ---- Q4_0: value = (nibble - 8) * d -------------------------------------------- */

static void to_float_q4_0(const void *src, float *dst, int64_t n)
{
    const block_q4_0 *x = src;
    for (int64_t i = 0; i < n / QK4_0; i++, dst += QK4_0) {
        const float d = type_f16_to_f32(x[i].d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            dst[j] = (float)((x[i].qs[j] & 0x0f) - 8) * d;
            dst[j + QK4_0 / 2] = (float)((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

/* Nibble for a value already scaled to [0, 16.5]: truncation after +0.5
 * rounds half up, as ggml does; the clamp also maps NaN to 0. */
static uint8_t nibble(float v)
{
    return (uint8_t)fminf(15.0f, fmaxf(0.0f, v));
}

/* d = (the value of largest magnitude, with its sign) / -8, so that value
 * maps to nibble 0 exactly and the other end of the range to 15 (clamped). */
static void from_float_q4_0(const float *src, void *dst, int64_t n)
{
    block_q4_0 *y = dst;
    for (int64_t i = 0; i < n / QK4_0; i++, src += QK4_0) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK4_0; j++) {
            if (amax < fabsf(src[j])) {
                amax = fabsf(src[j]);
                max = src[j];
            }
        }
        const float d = max / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = type_f32_to_f16(d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            const uint8_t lo = nibble(src[j] * id + 8.5f);
            const uint8_t hi = nibble(src[j + QK4_0 / 2] * id + 8.5f);
            y[i].qs[j] = (uint8_t)(lo | (hi << 4));
        }
    }
}

/* ---- Q4_1: value = nibble * d + m ---------------------------------------------- */

static void to_float_q4_1(const void *src, float *dst, int64_t n)
{
    const block_q4_1 *x = src;
    for (int64_t i = 0; i < n / QK4_1; i++, dst += QK4_1) {
        const float d = type_f16_to_f32(x[i].d);
        const float m = type_f16_to_f32(x[i].m);
        for (int j = 0; j < QK4_1 / 2; j++) {
            dst[j] = (float)(x[i].qs[j] & 0x0f) * d + m;
            dst[j + QK4_1 / 2] = (float)(x[i].qs[j] >> 4) * d + m;
        }
    }
}

static void from_float_q4_1(const float *src, void *dst, int64_t n)
{
    block_q4_1 *y = dst;
    for (int64_t i = 0; i < n / QK4_1; i++, src += QK4_1) {
        float min = src[0], max = src[0];
        for (int j = 1; j < QK4_1; j++) {
            min = src[j] < min ? src[j] : min;
            max = src[j] > max ? src[j] : max;
        }
        const float d = (max - min) / 15.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = type_f32_to_f16(d);
        y[i].m = type_f32_to_f16(min);
        for (int j = 0; j < QK4_1 / 2; j++) {
            const uint8_t lo = nibble((src[j] - min) * id + 0.5f);
            const uint8_t hi = nibble((src[j + QK4_1 / 2] - min) * id + 0.5f);
            y[i].qs[j] = (uint8_t)(lo | (hi << 4));
        }
    }
}

/* ---- Q8_0 / Q8_1: value = q * d, d = amax / 127 ---------------------------------- */

static void to_float_q8_0(const void *src, float *dst, int64_t n)
{
    const block_q8_0 *x = src;
    for (int64_t i = 0; i < n / QK8_0; i++, dst += QK8_0) {
        const float d = type_f16_to_f32(x[i].d);
        for (int j = 0; j < QK8_0; j++)
            dst[j] = (float)x[i].qs[j] * d;
    }
}

static void to_float_q8_1(const void *src, float *dst, int64_t n)
{
    const block_q8_1 *x = src;
    for (int64_t i = 0; i < n / QK8_1; i++, dst += QK8_1) {
        const float d = type_f16_to_f32(x[i].d);
        for (int j = 0; j < QK8_1; j++)
            dst[j] = (float)x[i].qs[j] * d;
    }
}

/* One block of 32: scale by id = 127/amax and round to nearest, ties to even.
 * This is what llama.cpp runs on x86 (its SIMD quantizers, not its scalar
 * reference, which uses 1/d and roundf); matching it keeps our logits within
 * float noise of the reference.
 * The SIMD quantizers reproduce exactly this: the same float division for d
 * and for 1/d, a plain product (no FMA) and the same rounding. Returns
 * sum(q) for Q8_1. Inputs must be finite. */
static int quantize_block_q8(const float *x, int8_t *q, resa_f16 *dh, float *dout)
{
    float amax = 0.0f;
    for (int j = 0; j < 32; j++)
        amax = fmaxf(amax, fabsf(x[j]));
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    int sum = 0;
    for (int j = 0; j < 32; j++) {
        q[j] = (int8_t)nearbyintf(x[j] * id); /* default rounding mode: ties to even */
        sum += q[j];
    }
    *dh = type_f32_to_f16(d);
    *dout = d;
    return sum;
}

static void from_float_q8_0(const float *src, void *dst, int64_t n)
{
    block_q8_0 *y = dst;
    float d;
    for (int64_t i = 0; i < n / QK8_0; i++, src += QK8_0)
        quantize_block_q8(src, y[i].qs, &y[i].d, &d);
}

/* s = d * sum(q) with the unrounded d, stored as fp16 (as ggml does). */
static void from_float_q8_1(const float *src, void *dst, int64_t n)
{
    block_q8_1 *y = dst;
    float d;
    for (int64_t i = 0; i < n / QK8_1; i++, src += QK8_1) {
        const int sum = quantize_block_q8(src, y[i].qs, &y[i].d, &d);
        y[i].s = type_f32_to_f16((float)sum * d);
    }
}

/* ---- the table ------------------------------------------------------------------ */

static const resa_type_traits type_traits[RESA_TYPE_COUNT] = {
    [RESA_TYPE_F32] = {
        .name = "f32", .block_size = 1, .type_size = sizeof(float),
        .to_float = to_float_f32, .from_float = from_float_f32,
        .vec_dot_type = RESA_TYPE_F32,
    },
    [RESA_TYPE_F16] = {
        .name = "f16", .block_size = 1, .type_size = sizeof(resa_f16),
        .to_float = to_float_f16, .from_float = from_float_f16,
        .vec_dot_type = RESA_TYPE_F32,
    },
    [RESA_TYPE_BF16] = {
        .name = "bf16", .block_size = 1, .type_size = sizeof(resa_bf16),
        .to_float = to_float_bf16, .from_float = from_float_bf16,
        .vec_dot_type = RESA_TYPE_F32,
    },
    [RESA_TYPE_Q4_0] = {
        .name = "q4_0", .block_size = QK4_0, .type_size = sizeof(block_q4_0),
        .to_float = to_float_q4_0, .from_float = from_float_q4_0,
        .vec_dot_type = RESA_TYPE_Q8_0,
    },
    [RESA_TYPE_Q4_1] = {
        .name = "q4_1", .block_size = QK4_1, .type_size = sizeof(block_q4_1),
        .to_float = to_float_q4_1, .from_float = from_float_q4_1,
        .vec_dot_type = RESA_TYPE_Q8_1,
    },
    [RESA_TYPE_Q8_0] = {
        .name = "q8_0", .block_size = QK8_0, .type_size = sizeof(block_q8_0),
        .to_float = to_float_q8_0, .from_float = from_float_q8_0,
        .vec_dot_type = RESA_TYPE_Q8_0,
    },
    /* activations only: no dot kernel takes Q8_1 weights */
    [RESA_TYPE_Q8_1] = {
        .name = "q8_1", .block_size = QK8_1, .type_size = sizeof(block_q8_1),
        .to_float = to_float_q8_1, .from_float = from_float_q8_1,
        .vec_dot_type = RESA_TYPE_Q8_1,
    },
};

const resa_type_traits *type_traits_get(uint32_t type)
{
    if (type >= RESA_TYPE_COUNT || !type_traits[type].name)
        return NULL;
    return &type_traits[type];
}

size_t type_row_size(enum resa_type type, int64_t n)
{
    const resa_type_traits *t = type_traits_get((uint32_t)type);
    if (!t || n < 0 || n % t->block_size)
        return 0;
    return (size_t)(n / t->block_size) * t->type_size;
}
