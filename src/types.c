/* SPDX-License-Identifier: MIT */
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
_Static_assert(sizeof(block_q5_0) == 22 && sizeof(block_q5_1) == 24, "block_q5_* must be packed");
_Static_assert(sizeof(block_iq4_nl) == 18 && sizeof(block_iq4_xs) == 136, "block_iq4_* must be packed");
_Static_assert(sizeof(block_q2_K) == 84 && sizeof(block_q3_K) == 110, "block_q2_K/q3_K must be packed");
_Static_assert(sizeof(block_q4_K) == 144 && sizeof(block_q5_K) == 176, "block_q4_K/q5_K must be packed");
_Static_assert(sizeof(block_q6_K) == 210 && sizeof(block_q8_K) == 292, "block_q6_K/q8_K must be packed");

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
 * sum(q) for Q8_1. A NaN product (a NaN input, or an infinite one whose
 * block's amax is infinite) quantizes to 0: converting NaN to an integer is
 * undefined in C (the fuzzer fed a model whose weights make such
 * activations), and a product beyond int8 (a subnormal amax makes
 * 127/amax infinite: found by the fuzzer too) is clamped to +-127; finite
 * blocks with a normal amax never reach the clamp (|x*id| <= 127 up to
 * rounding, which rounds back to 127). The SIMD tiers give their
 * conversion's value there (x86 -128, NEON 0 or saturation), garbage either
 * way but never undefined. */
static int8_t q8_round(float v)
{
    if (isnan(v))
        return 0;
    return (int8_t)nearbyintf(fminf(fmaxf(v, -127.0f), 127.0f)); /* default rounding: ties to even */
}

static int quantize_block_q8(const float *x, int8_t *q, resa_f16 *dh, float *dout)
{
    float amax = 0.0f;
    for (int j = 0; j < 32; j++)
        amax = fmaxf(amax, fabsf(x[j]));
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    int sum = 0;
    for (int j = 0; j < 32; j++) {
        const float v = x[j] * id;
        q[j] = q8_round(v);
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

/* ---- Q5_0 / Q5_1: a fifth bit per element in qh ------------------------------- */

/* The 32 five-bit values of a block in element order (0..31). */
static void unpack_q5(const uint8_t qh4[4], const uint8_t qs[16], uint8_t q[32])
{
    const uint32_t qh = (uint32_t)qh4[0] | (uint32_t)qh4[1] << 8 | (uint32_t)qh4[2] << 16 |
                        (uint32_t)qh4[3] << 24;
    for (int j = 0; j < 16; j++) {
        q[j] = (uint8_t)((qs[j] & 0x0f) | ((qh >> j) & 1) << 4);
        q[j + 16] = (uint8_t)((qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4);
    }
}

void resa_q5_values(enum resa_type t, const void *blk, int8_t q[32])
{
    const block_q5_0 *x0 = blk;
    const block_q5_1 *x1 = blk;
    uint8_t u[32];
    if (t == RESA_TYPE_Q5_0)
        unpack_q5(x0->qh, x0->qs, u);
    else
        unpack_q5(x1->qh, x1->qs, u);
    const int off = t == RESA_TYPE_Q5_0 ? 16 : 0;
    for (int j = 0; j < 32; j++)
        q[j] = (int8_t)(u[j] - off);
}

static void to_float_q5_0(const void *src, float *dst, int64_t n)
{
    const block_q5_0 *x = src;
    for (int64_t i = 0; i < n / QK5_0; i++, dst += QK5_0) {
        int8_t q[32];
        resa_q5_values(RESA_TYPE_Q5_0, &x[i], q);
        const float d = type_f16_to_f32(x[i].d);
        for (int j = 0; j < 32; j++)
            dst[j] = (float)q[j] * d;
    }
}

static void to_float_q5_1(const void *src, float *dst, int64_t n)
{
    const block_q5_1 *x = src;
    for (int64_t i = 0; i < n / QK5_1; i++, dst += QK5_1) {
        int8_t q[32];
        resa_q5_values(RESA_TYPE_Q5_1, &x[i], q);
        const float d = type_f16_to_f32(x[i].d), m = type_f16_to_f32(x[i].m);
        for (int j = 0; j < 32; j++)
            dst[j] = (float)q[j] * d + m;
    }
}

/* ---- IQ4_NL: a 16-entry table of levels per nibble ------------------------------ */

const int8_t resa_kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                       1,    13,   25,  38,  53,  69,  89,  113};

static void to_float_iq4_nl(const void *src, float *dst, int64_t n)
{
    const block_iq4_nl *x = src;
    for (int64_t i = 0; i < n / QK4_NL; i++, dst += QK4_NL) {
        const float d = type_f16_to_f32(x[i].d);
        for (int j = 0; j < 16; j++) {
            dst[j] = (float)resa_kvalues_iq4nl[x[i].qs[j] & 0x0f] * d;
            dst[j + 16] = (float)resa_kvalues_iq4nl[x[i].qs[j] >> 4] * d;
        }
    }
}

/* ---- K-quants and IQ4_XS: super-blocks of 256 ----------------------------------- */

/* Q4_K/Q5_K: scale and min of sub-block j (of 8, 32 elements each), six
 * bits each, packed into 12 bytes: the low six bits of bytes 0-7 for
 * j < 4, else a nibble of bytes 8-11 and the top two bits of bytes 0-7. */
static void scale_min_k4(int j, const uint8_t *s, int16_t *sc, int16_t *m)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (int16_t)((s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4));
        *m = (int16_t)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
}

static void unpack_q4_k(const block_q4_K *x, resa_kblock *k)
{
    k->d = type_f16_to_f32(x->d);
    k->dmin = type_f16_to_f32(x->dmin);
    for (int j = 0; j < 8; j++) {
        scale_min_k4(j, x->scales, &k->sc[2 * j], &k->m[2 * j]);
        k->sc[2 * j + 1] = k->sc[2 * j];
        k->m[2 * j + 1] = k->m[2 * j];
    }
    /* each 32 bytes of qs: low nibbles are 32 elements, high nibbles the next 32 */
    for (int g = 0; g < 4; g++)
        for (int l = 0; l < 32; l++) {
            k->q[64 * g + l] = (int8_t)(x->qs[32 * g + l] & 0x0f);
            k->q[64 * g + 32 + l] = (int8_t)(x->qs[32 * g + l] >> 4);
        }
}

static void unpack_q5_k(const block_q5_K *x, resa_kblock *k)
{
    k->d = type_f16_to_f32(x->d);
    k->dmin = type_f16_to_f32(x->dmin);
    for (int j = 0; j < 8; j++) {
        scale_min_k4(j, x->scales, &k->sc[2 * j], &k->m[2 * j]);
        k->sc[2 * j + 1] = k->sc[2 * j];
        k->m[2 * j + 1] = k->m[2 * j];
    }
    /* as Q4_K; bit 2g of qh[l] tops element 64g + l, bit 2g+1 element 64g + 32 + l */
    for (int g = 0; g < 4; g++)
        for (int l = 0; l < 32; l++) {
            k->q[64 * g + l] = (int8_t)((x->qs[32 * g + l] & 0x0f) | ((x->qh[l] >> (2 * g)) & 1) << 4);
            k->q[64 * g + 32 + l] = (int8_t)((x->qs[32 * g + l] >> 4) | ((x->qh[l] >> (2 * g + 1)) & 1) << 4);
        }
}

static void unpack_q6_k(const block_q6_K *x, resa_kblock *k)
{
    k->d = type_f16_to_f32(x->d);
    k->dmin = 0.0f;
    for (int i = 0; i < 16; i++) {
        k->sc[i] = x->scales[i];
        k->m[i] = 0;
    }
    /* per half of 128: ql[l] low/high nibbles give elements l and l + 64,
     * ql[l + 32] elements l + 32 and l + 96; qh[l] holds their top two bits
     * in the order l, l + 32, l + 64, l + 96 */
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = x->ql + 64 * h, *qh = x->qh + 32 * h;
        int8_t *q = k->q + 128 * h;
        for (int l = 0; l < 32; l++) {
            q[l] = (int8_t)(((ql[l] & 0x0f) | (qh[l] & 3) << 4) - 32);
            q[l + 32] = (int8_t)(((ql[l + 32] & 0x0f) | ((qh[l] >> 2) & 3) << 4) - 32);
            q[l + 64] = (int8_t)(((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32);
            q[l + 96] = (int8_t)(((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32);
        }
    }
}

static void unpack_q2_k(const block_q2_K *x, resa_kblock *k)
{
    k->d = type_f16_to_f32(x->d);
    k->dmin = type_f16_to_f32(x->dmin);
    for (int i = 0; i < 16; i++) {
        k->sc[i] = x->scales[i] & 0x0f;
        k->m[i] = x->scales[i] >> 4;
    }
    /* per half of 128: bits 2j of qs[32h + l] are element 128h + 32j + l (l < 32) */
    for (int h = 0; h < 2; h++)
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++)
                k->q[128 * h + 32 * j + l] = (int8_t)((x->qs[32 * h + l] >> (2 * j)) & 3);
}

static void unpack_q3_k(const block_q3_K *x, resa_kblock *k)
{
    k->d = type_f16_to_f32(x->d);
    k->dmin = 0.0f;
    /* 16 six-bit scales: the low nibble from bytes 0-7 (i < 8: low, else
     * high nibble of byte i - 8), the top two bits from bytes 8-11 */
    for (int i = 0; i < 16; i++) {
        const int lo = i < 8 ? x->scales[i] & 0x0f : x->scales[i - 8] >> 4;
        const int hi = (x->scales[8 + i % 4] >> (2 * (i / 4))) & 3;
        k->sc[i] = (int16_t)((lo | hi << 4) - 32);
        k->m[i] = 0;
    }
    /* as Q2_K, minus 4 where the element's hmask bit (bit 4h + j) is clear */
    for (int h = 0; h < 2; h++)
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++) {
                const int q = (x->qs[32 * h + l] >> (2 * j)) & 3;
                const int hb = (x->hmask[l] >> (4 * h + j)) & 1;
                k->q[128 * h + 32 * j + l] = (int8_t)(q - (hb ? 0 : 4));
            }
}

static void unpack_iq4_xs(const block_iq4_xs *x, resa_kblock *k)
{
    k->d = type_f16_to_f32(x->d);
    k->dmin = 0.0f;
    for (int ib = 0; ib < 8; ib++) {
        const int ls = ((x->scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0f) | ((x->scales_h >> (2 * ib)) & 3) << 4;
        k->sc[2 * ib] = k->sc[2 * ib + 1] = (int16_t)(ls - 32);
        k->m[2 * ib] = k->m[2 * ib + 1] = 0;
        for (int j = 0; j < 16; j++) {
            k->q[32 * ib + j] = resa_kvalues_iq4nl[x->qs[16 * ib + j] & 0x0f];
            k->q[32 * ib + j + 16] = resa_kvalues_iq4nl[x->qs[16 * ib + j] >> 4];
        }
    }
}

void resa_kblock_unpack(enum resa_type t, const void *row, int64_t b, resa_kblock *k)
{
    switch (t) {
    case RESA_TYPE_Q2_K: unpack_q2_k((const block_q2_K *)row + b, k); break;
    case RESA_TYPE_Q3_K: unpack_q3_k((const block_q3_K *)row + b, k); break;
    case RESA_TYPE_Q4_K: unpack_q4_k((const block_q4_K *)row + b, k); break;
    case RESA_TYPE_Q5_K: unpack_q5_k((const block_q5_K *)row + b, k); break;
    case RESA_TYPE_Q6_K: unpack_q6_k((const block_q6_K *)row + b, k); break;
    default: unpack_iq4_xs((const block_iq4_xs *)row + b, k); break;
    }
}

/* value = (d * sc) * q - (dmin * m), the products rounded in that order
 * (ggml's reference dequantizers round the same way). */
static void to_float_k(enum resa_type t, const void *src, float *dst, int64_t n)
{
    for (int64_t b = 0; b < n / QK_K; b++, dst += QK_K) {
        resa_kblock k;
        resa_kblock_unpack(t, src, b, &k);
        for (int i = 0; i < QK_K; i++) {
            const float dl = k.d * (float)k.sc[i / 16], ml = k.dmin * (float)k.m[i / 16];
            dst[i] = dl * (float)k.q[i] - ml;
        }
    }
}

#define TO_FLOAT_K(name, type)                                   \
    static void to_float_##name(const void *src, float *dst, int64_t n) \
    {                                                            \
        to_float_k(type, src, dst, n);                           \
    }
TO_FLOAT_K(q2_k, RESA_TYPE_Q2_K)
TO_FLOAT_K(q3_k, RESA_TYPE_Q3_K)
TO_FLOAT_K(q4_k, RESA_TYPE_Q4_K)
TO_FLOAT_K(q5_k, RESA_TYPE_Q5_K)
TO_FLOAT_K(q6_k, RESA_TYPE_Q6_K)
TO_FLOAT_K(iq4_xs, RESA_TYPE_IQ4_XS)

/* ---- Q8_K: the activations of the K-quant dots ----------------------------------- */

static void to_float_q8_k(const void *src, float *dst, int64_t n)
{
    const block_q8_K *x = src;
    for (int64_t i = 0; i < n / QK_K; i++, dst += QK_K)
        for (int j = 0; j < QK_K; j++)
            dst[j] = (float)x[i].qs[j] * x[i].d;
}

/* One super-block of 256 rounds as a Q8_0 block does (id = 127 / amax, a
 * plain product, nearest with ties to even), d kept as a float, and the
 * exact sums of each 16 stored for the K-quants' min terms. */
static void from_float_q8_k(const float *src, void *dst, int64_t n)
{
    block_q8_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        float amax = 0.0f;
        for (int j = 0; j < QK_K; j++)
            amax = fmaxf(amax, fabsf(src[j]));
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        y[i].d = amax / 127.0f;
        for (int j = 0; j < QK_K; j++)
            y[i].qs[j] = q8_round(src[j] * id); /* as quantize_block_q8 */
        for (int g = 0; g < QK_K / 16; g++) {
            int sum = 0;
            for (int j = 0; j < 16; j++)
                sum += y[i].qs[16 * g + j];
            y[i].bsums[g] = (int16_t)sum;
        }
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
    /* Weight-only types (from_float NULL: resa reads them, never writes
     * them). The 32-element ones dot with Q8_0/Q8_1 as Q4_0/Q4_1 do; the
     * super-block ones with Q8_K (simd/dot.h). */
    [RESA_TYPE_Q5_0] = {
        .name = "q5_0", .block_size = QK5_0, .type_size = sizeof(block_q5_0),
        .to_float = to_float_q5_0, .vec_dot_type = RESA_TYPE_Q8_0,
    },
    [RESA_TYPE_Q5_1] = {
        .name = "q5_1", .block_size = QK5_1, .type_size = sizeof(block_q5_1),
        .to_float = to_float_q5_1, .vec_dot_type = RESA_TYPE_Q8_1,
    },
    [RESA_TYPE_IQ4_NL] = {
        .name = "iq4_nl", .block_size = QK4_NL, .type_size = sizeof(block_iq4_nl),
        .to_float = to_float_iq4_nl, .vec_dot_type = RESA_TYPE_Q8_0,
    },
    [RESA_TYPE_Q2_K] = {
        .name = "q2_k", .block_size = QK_K, .type_size = sizeof(block_q2_K),
        .to_float = to_float_q2_k, .vec_dot_type = RESA_TYPE_Q8_K,
    },
    [RESA_TYPE_Q3_K] = {
        .name = "q3_k", .block_size = QK_K, .type_size = sizeof(block_q3_K),
        .to_float = to_float_q3_k, .vec_dot_type = RESA_TYPE_Q8_K,
    },
    [RESA_TYPE_Q4_K] = {
        .name = "q4_k", .block_size = QK_K, .type_size = sizeof(block_q4_K),
        .to_float = to_float_q4_k, .vec_dot_type = RESA_TYPE_Q8_K,
    },
    [RESA_TYPE_Q5_K] = {
        .name = "q5_k", .block_size = QK_K, .type_size = sizeof(block_q5_K),
        .to_float = to_float_q5_k, .vec_dot_type = RESA_TYPE_Q8_K,
    },
    [RESA_TYPE_Q6_K] = {
        .name = "q6_k", .block_size = QK_K, .type_size = sizeof(block_q6_K),
        .to_float = to_float_q6_k, .vec_dot_type = RESA_TYPE_Q8_K,
    },
    [RESA_TYPE_IQ4_XS] = {
        .name = "iq4_xs", .block_size = QK_K, .type_size = sizeof(block_iq4_xs),
        .to_float = to_float_iq4_xs, .vec_dot_type = RESA_TYPE_Q8_K,
    },
    /* activations only */
    [RESA_TYPE_Q8_K] = {
        .name = "q8_k", .block_size = QK_K, .type_size = sizeof(block_q8_K),
        .to_float = to_float_q8_k, .from_float = from_float_q8_k,
        .vec_dot_type = RESA_TYPE_Q8_K,
    },
};

int resa_type_is_k(enum resa_type t)
{
    const resa_type_traits *tr = type_traits_get((uint32_t)t);
    return tr && tr->vec_dot_type == RESA_TYPE_Q8_K;
}

const resa_type_traits *type_traits_get(uint32_t type)
{
    if (type >= RESA_TYPE_COUNT || !type_traits[type].name)
        return NULL;
    return &type_traits[type];
}

int type_is_weight(uint32_t type)
{
    return type_traits_get(type) && type != RESA_TYPE_Q8_1 && type != RESA_TYPE_Q8_K;
}

size_t type_row_size(enum resa_type type, int64_t n)
{
    const resa_type_traits *t = type_traits_get((uint32_t)type);
    if (!t || n < 0 || n % t->block_size)
        return 0;
    return (size_t)(n / t->block_size) * t->type_size;
}
