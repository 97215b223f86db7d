/* SPDX-License-Identifier: MIT */
/* test_types: type traits, reference (de)quantizers and fp16/bf16 conversions.
 *
 * Dequantization is checked against float64 values computed here straight
 * from the block definitions in types.h (not through types.c); fp16 and bf16
 * conversions exhaustively over all 65536 codes and at every rounding
 * boundary (ties, neighbours of ties, subnormals, overflow, NaN).
 *
 *   test_types [--seed=N]
 *
 * Ends with "N passed, N failed"; exit status 0 when none failed. */
#ifdef HAVE_CONFIG_H
#include "config.h" /* _GNU_SOURCE: POSIX/GNU declarations under -std=c11 */
#endif
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "types.h"
#include "sampling.h"

static int n_pass, n_fail;

static void check(int ok, const char *what)
{
    if (ok) {
        n_pass++;
    } else {
        n_fail++;
        printf("FAIL: %s\n", what);
    }
}

static uint64_t rng_state;

/* the project's seeded generator (splitmix64) */
static uint64_t rnd(void) { return rng_next(&rng_state); }

static uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ---- fp16 from its definition -------------------------------------------------- */

/* IEEE binary16: (-1)^s * 2^(e-15) * 1.m, subnormals 2^-14 * 0.m. */
static double half_value(uint16_t h)
{
    const int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v;
    if (e == 31)
        v = m ? NAN : INFINITY;
    else if (e == 0)
        v = ldexp(m, -24);
    else
        v = ldexp(1024 + m, e - 25);
    return s ? -v : v;
}

static int is_nan_half(uint16_t h)
{
    return (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
}

static void test_f16_to_f32(void)
{
    int bad = 0, bad_nan = 0, bad_trip = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        const float f = type_f16_to_f32((uint16_t)h);
        if (is_nan_half((uint16_t)h)) {
            /* NaN keeps sign and payload (the 10 payload bits land on top) and
             * comes out quiet, as F16C and NEON convert it */
            const uint32_t want = (h & 0x8000u) << 16 | 0x7f800000u | (h & 0x3ffu) << 13 | 0x00400000u;
            bad_nan += f2u(f) != want;
            /* back to half: quiet bit set, payload kept */
            bad_trip += type_f32_to_f16(f) != (uint16_t)(h | 0x200);
            continue;
        }
        const double v = half_value((uint16_t)h);
        /* every half is exactly a float; the sign of zero matters too */
        bad += (double)f != v || !signbit(f) != !signbit(v);
        bad_trip += type_f32_to_f16(f) != h;
    }
    check(!bad, "f16 -> f32 equals the definition for all 65536 codes");
    check(!bad_nan, "f16 NaN -> f32 keeps sign and payload, quieted");
    check(!bad_trip, "f16 -> f32 -> f16 round-trips all 65536 codes (NaN quieted)");
}

/* The half nearest to v (ties to even code), from the definition: codes of
 * one sign are monotonic in value, so bracket v between consecutive codes.
 * Values at or beyond 65520 (halfway to 2^16) round to infinity. */
static uint16_t half_nearest(double v)
{
    const uint16_t sign = signbit(v) ? 0x8000 : 0;
    const double a = fabs(v);
    if (a >= 65520.0)
        return sign | 0x7c00;
    uint16_t lo = 0, hi = 0x7bff; /* largest code with value <= a */
    while (lo < hi) {
        const uint16_t mid = (uint16_t)((lo + hi + 1) / 2);
        if (half_value(mid) <= a)
            lo = mid;
        else
            hi = (uint16_t)(mid - 1);
    }
    if (lo == 0x7bff)
        return sign | 0x7bff; /* a < 65520 */
    const double below = half_value(lo), above = half_value((uint16_t)(lo + 1));
    const uint16_t code = a - below < above - a ? lo : a - below > above - a ? (uint16_t)(lo + 1)
                          : (lo & 1)                                         ? (uint16_t)(lo + 1)
                                                                             : lo;
    return sign | code;
}

static int check_f32_to_f16(float f, int *bad)
{
    const uint16_t got = type_f32_to_f16(f), want = half_nearest((double)f);
    if (got != want) {
        if (*bad < 5)
            printf("  f32 %a (0x%08x) -> f16 0x%04x, want 0x%04x\n", (double)f, f2u(f), got, want);
        (*bad)++;
        return 0;
    }
    return 1;
}

static void test_f32_to_f16(void)
{
    int bad = 0;
    /* each midpoint between consecutive codes (an exact tie, representable
     * as a float), and the floats right next to it */
    for (uint16_t h = 0; h < 0x7c00; h++) {
        const double mid = (half_value(h) + (h == 0x7bff ? 65536.0 : half_value((uint16_t)(h + 1)))) / 2;
        const float m = (float)mid;
        for (int sgn = 0; sgn < 2; sgn++) {
            const float t = sgn ? -m : m;
            check_f32_to_f16(t, &bad);
            check_f32_to_f16(nextafterf(t, 0.0f), &bad);
            check_f32_to_f16(nextafterf(t, sgn ? -INFINITY : INFINITY), &bad);
            check_f32_to_f16(sgn ? -(float)half_value(h) : (float)half_value(h), &bad);
        }
    }
    check(!bad, "f32 -> f16 at every tie and its neighbours (ties to even)");

    bad = 0;
    static const float special[] = {
        0.0f, 1.0f, 65504.0f, 65519.99f, 65520.0f, 65536.0f, 1e10f, 3.4e38f,
        0x1p-24f, 0x1p-25f, 0x1.000002p-25f, 0x1.8p-24f, 0x1p-26f, 0x1p-149f, 0x1p-126f,
        0x1.ffcp-15f, 0x1.ffep-15f, 0x1p-14f, 6.1035156e-05f, 0.1f, 0.333333343f, 2047.5f, 2048.5f,
    };
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) {
        check_f32_to_f16(special[i], &bad);
        check_f32_to_f16(-special[i], &bad);
    }
    check(!bad, "f32 -> f16 special values (subnormals, overflow, ties)");

    check(type_f32_to_f16(INFINITY) == 0x7c00 && type_f32_to_f16(-INFINITY) == 0xfc00, "f32 inf -> f16 inf");
    check(type_f32_to_f16(-0.0f) == 0x8000, "f32 -0 -> f16 -0");
    const uint16_t qn = type_f32_to_f16(u2f(0x7fc00000u)), sn = type_f32_to_f16(u2f(0xff800001u));
    const uint16_t pl = type_f32_to_f16(u2f(0x7f812000u)); /* signaling, payload in the top bits */
    check(is_nan_half(qn) && (qn & 0x200) && !(qn & 0x8000), "f32 quiet NaN -> f16 quiet NaN");
    check(is_nan_half(sn) && (sn & 0x200) && (sn & 0x8000), "f32 signaling NaN (low payload) -> f16 quiet NaN");
    check(pl == 0x7e09, "f32 NaN payload kept in f16 (top 10 bits)");

    bad = 0;
    for (int i = 0; i < 2000000; i++) { /* random floats of every exponent */
        float f = u2f((uint32_t)rnd());
        if (isnan(f))
            continue;
        check_f32_to_f16(f, &bad);
        f = ldexpf(1.0f + (float)(rnd() & 0xffffff) * 0x1p-24f, (int)(rnd() % 48) - 30);
        check_f32_to_f16(f, &bad);
    }
    check(!bad, "f32 -> f16 on 4M random floats equals nearest-even from the definition");
}

/* ---- bf16: the top 16 bits of a float ----------------------------------------- */

static void test_bf16(void)
{
    int bad = 0, bad_trip = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        const float f = type_bf16_to_f32((uint16_t)h);
        bad += f2u(f) != h << 16;
        const uint16_t back = type_f32_to_bf16(f);
        if (isnan(f))
            bad_trip += back != (uint16_t)(h | 0x40);
        else
            bad_trip += back != h;
    }
    check(!bad, "bf16 -> f32 is the top half of the float for all 65536 codes");
    check(!bad_trip, "bf16 -> f32 -> bf16 round-trips (NaN quieted)");

    /* rounding: u = (code << 16) + r; r < 0x8000 down, r > 0x8000 up, tie to even */
    bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7f80) == 0x7f80)
            continue; /* inf/NaN codes: no finite neighbour above */
        static const uint32_t offs[] = {0, 1, 0x7fff, 0x8000, 0x8001, 0xffff};
        for (size_t k = 0; k < sizeof offs / sizeof offs[0]; k++) {
            const uint32_t u = h << 16 | offs[k];
            uint32_t want = h;
            if (offs[k] > 0x8000 || (offs[k] == 0x8000 && (h & 1)))
                want = h + 1; /* carries into the exponent, up to inf: correct */
            bad += type_f32_to_bf16(u2f(u)) != (uint16_t)want;
        }
    }
    check(!bad, "f32 -> bf16 rounds to nearest even at every code (incl. overflow to inf)");
    const uint16_t n = type_f32_to_bf16(u2f(0x7f800001u));
    check((n & 0x7f80) == 0x7f80 && (n & 0x7f) && (n & 0x40), "f32 signaling NaN -> bf16 quiet NaN");
}

/* ---- traits ---------------------------------------------------------------------- */

static void test_traits(void)
{
    static const struct {
        enum resa_type t;
        const char *name;
        int bs;
        size_t ts;
        enum resa_type dot;
    } want[] = {
        {RESA_TYPE_F32, "f32", 1, 4, RESA_TYPE_F32},
        {RESA_TYPE_F16, "f16", 1, 2, RESA_TYPE_F32},
        {RESA_TYPE_BF16, "bf16", 1, 2, RESA_TYPE_F32},
        {RESA_TYPE_Q4_0, "q4_0", 32, 18, RESA_TYPE_Q8_0},
        {RESA_TYPE_Q4_1, "q4_1", 32, 20, RESA_TYPE_Q8_1},
        {RESA_TYPE_Q8_0, "q8_0", 32, 34, RESA_TYPE_Q8_0},
        {RESA_TYPE_Q8_1, "q8_1", 32, 36, RESA_TYPE_Q8_1},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const resa_type_traits *t = type_traits_get(want[i].t);
        bad += !t || strcmp(t->name, want[i].name) || t->block_size != want[i].bs ||
               t->type_size != want[i].ts || t->vec_dot_type != want[i].dot || !t->to_float || !t->from_float;
    }
    check(!bad, "traits: names, block and type sizes, vec_dot types");
    check(!type_traits_get(4) && !type_traits_get(RESA_TYPE_COUNT) && !type_traits_get(0xffffffffu),
          "traits: unknown ids give NULL");
    check(type_row_size(RESA_TYPE_Q4_1, 576) == 18 * 20 && type_row_size(RESA_TYPE_Q8_0, 64) == 68 &&
              type_row_size(RESA_TYPE_F16, 7) == 14 && type_row_size(RESA_TYPE_F32, 0) == 0,
          "row size");
    check(type_row_size(RESA_TYPE_Q4_0, 33) == 0 && type_row_size(RESA_TYPE_Q8_0, -32) == 0 &&
              type_row_size((enum resa_type)5, 32) == 0,
          "row size 0 for a partial block, a negative length or an unknown type");
}

/* ---- dequantization vs the block definitions -------------------------------------- */

/* random normal (non-subnormal) fp16 of either sign: exponents 1..30 keep the
 * float64 reference below exact (q * d + m needs < 53 bits) */
static uint16_t rnd_half(void)
{
    const uint16_t e = (uint16_t)(1 + rnd() % 30), m = (uint16_t)(rnd() & 1023);
    return (uint16_t)((rnd() & 1) << 15 | e << 10 | m);
}

#define NB 64

/* The even one of the two integers next to a tie k + 0.5. */
static int even_tie(float t)
{
    const int lo = (int)floorf(t);
    return lo % 2 == 0 ? lo : lo + 1;
}

static void test_dequant(void)
{
    float out[NB * 32];
    double want[NB * 32];
    int bad;

    { /* Q4_0: (nibble - 8) * d, low nibbles first */
        block_q4_0 b[NB];
        for (int i = 0; i < NB; i++) {
            b[i].d = i == 0 ? 0x0001 : i == 1 ? 0x8000 : rnd_half(); /* a subnormal, -0 */
            for (int j = 0; j < 16; j++)
                b[i].qs[j] = (uint8_t)rnd();
        }
        for (int i = 0; i < NB; i++)
            for (int j = 0; j < 16; j++) {
                want[i * 32 + j] = ((b[i].qs[j] & 15) - 8) * half_value(b[i].d);
                want[i * 32 + j + 16] = ((b[i].qs[j] >> 4) - 8) * half_value(b[i].d);
            }
        type_traits_get(RESA_TYPE_Q4_0)->to_float(b, out, NB * 32);
        bad = 0;
        for (int k = 0; k < NB * 32; k++)
            bad += (double)out[k] != want[k];
        check(!bad, "q4_0 dequant equals (nibble - 8) * d exactly");
    }
    { /* Q4_1: nibble * d + m, one rounding to float */
        block_q4_1 b[NB];
        for (int i = 0; i < NB; i++) {
            b[i].d = rnd_half();
            b[i].m = rnd_half();
            for (int j = 0; j < 16; j++)
                b[i].qs[j] = (uint8_t)rnd();
        }
        for (int i = 0; i < NB; i++)
            for (int j = 0; j < 16; j++) {
                want[i * 32 + j] = (b[i].qs[j] & 15) * half_value(b[i].d) + half_value(b[i].m);
                want[i * 32 + j + 16] = (b[i].qs[j] >> 4) * half_value(b[i].d) + half_value(b[i].m);
            }
        type_traits_get(RESA_TYPE_Q4_1)->to_float(b, out, NB * 32);
        bad = 0;
        for (int k = 0; k < NB * 32; k++)
            bad += out[k] != (float)want[k];
        check(!bad, "q4_1 dequant equals nibble * d + m correctly rounded");
    }
    { /* Q8_0 and Q8_1: q * d */
        block_q8_0 b[NB];
        block_q8_1 c[NB];
        for (int i = 0; i < NB; i++) {
            b[i].d = c[i].d = i == 0 ? 0x03ff : rnd_half();
            c[i].s = rnd_half();
            for (int j = 0; j < 32; j++)
                b[i].qs[j] = c[i].qs[j] = (int8_t)rnd();
        }
        for (int i = 0; i < NB; i++)
            for (int j = 0; j < 32; j++)
                want[i * 32 + j] = b[i].qs[j] * half_value(b[i].d);
        type_traits_get(RESA_TYPE_Q8_0)->to_float(b, out, NB * 32);
        bad = 0;
        for (int k = 0; k < NB * 32; k++)
            bad += (double)out[k] != want[k];
        check(!bad, "q8_0 dequant equals q * d exactly");
        type_traits_get(RESA_TYPE_Q8_1)->to_float(c, out, NB * 32);
        bad = 0;
        for (int k = 0; k < NB * 32; k++)
            bad += (double)out[k] != want[k];
        check(!bad, "q8_1 dequant equals q * d exactly");
    }
    { /* F16, BF16, F32 */
        uint16_t h[NB * 32];
        for (int k = 0; k < NB * 32; k++)
            h[k] = (uint16_t)rnd();
        type_traits_get(RESA_TYPE_F16)->to_float(h, out, NB * 32);
        bad = 0;
        for (int k = 0; k < NB * 32; k++)
            bad += is_nan_half(h[k]) ? !isnan(out[k]) : (double)out[k] != half_value(h[k]);
        check(!bad, "f16 row dequant");
        type_traits_get(RESA_TYPE_BF16)->to_float(h, out, NB * 32);
        bad = 0;
        for (int k = 0; k < NB * 32; k++)
            bad += f2u(out[k]) != (uint32_t)h[k] << 16;
        check(!bad, "bf16 row dequant");
        float f[NB * 32];
        for (int k = 0; k < NB * 32; k++)
            f[k] = u2f((uint32_t)rnd());
        type_traits_get(RESA_TYPE_F32)->to_float(f, out, NB * 32);
        check(!memcmp(f, out, sizeof f), "f32 row copy");
    }
}

/* ---- quantize -> dequantize error bounds -------------------------------------------- */

static void fill_block(float *x)
{
    const int kind = (int)(rnd() % 4);
    const double scale = ldexp(1.0, (int)(rnd() % 20) - 10);
    for (int j = 0; j < 32; j++) {
        double u = (double)(rnd() >> 11) * 0x1p-53 * 2 - 1;
        if (kind == 1)
            u = fabs(u) + 0.5; /* one sign, offset: Q4_1's min matters */
        else if (kind == 2)
            u = j == 7 ? 1.0 : u * 1e-3; /* one outlier */
        x[j] = (float)(u * scale);
    }
    if (kind == 3)
        memset(x, 0, 32 * sizeof *x);
}

struct stats {
    double amax, signed_max, min, max; /* signed_max: the value of largest magnitude */
};

/* Plain loops with branches: GCC 12's aarch64 vectorizer crashes (ICE in
 * vect_transform_reduction) on the fmin/fmax reductions written inline. */
static struct stats block_stats(const float *x)
{
    struct stats st = {0, 0, x[0], x[0]};
    for (int j = 0; j < 32; j++) {
        if (fabs(x[j]) > st.amax) {
            st.amax = fabs(x[j]);
            st.signed_max = x[j];
        }
        if (x[j] < st.min)
            st.min = x[j];
        if (x[j] > st.max)
            st.max = x[j];
    }
    return st;
}

/* how many of the 32 dequantized values y are farther than bound from x */
static int count_over(const float *x, const float *y, double bound)
{
    int n = 0;
    for (int j = 0; j < 32; j++)
        if (fabs((double)y[j] - x[j]) > bound)
            n++;
    return n;
}

static void test_roundtrip(void)
{
    float x[NB * 32], y[NB * 32];
    int bad_q80 = 0, bad_q81 = 0, bad_s = 0, bad_q40 = 0, bad_q41 = 0, bad_zero = 0, bad_half = 0;
    const double e16 = 0x1p-11; /* fp16 relative rounding */
    const double sub16 = 0x1p-25; /* fp16 absolute rounding where d, m, s are subnormal */
    for (int rep = 0; rep < 50; rep++) {
        for (int i = 0; i < NB; i++)
            fill_block(x + 32 * i);

        block_q8_0 q80[NB];
        type_traits_get(RESA_TYPE_Q8_0)->from_float(x, q80, NB * 32);
        type_traits_get(RESA_TYPE_Q8_0)->to_float(q80, y, NB * 32);
        for (int i = 0; i < NB; i++) {
            const double amax = block_stats(x + 32 * i).amax, d = amax / 127;
            /* rounding half a step + the fp16 d */
            bad_q80 += count_over(x + 32 * i, y + 32 * i, d * (0.5 + 127 * e16) + 127 * sub16);
            for (int j = 0; j < 32; j++)
                bad_zero += amax == 0 && q80[i].qs[j] != 0;
        }

        block_q8_1 q81[NB];
        type_traits_get(RESA_TYPE_Q8_1)->from_float(x, q81, NB * 32);
        type_traits_get(RESA_TYPE_Q8_1)->to_float(q81, y, NB * 32);
        for (int i = 0; i < NB; i++) {
            const double amax = block_stats(x + 32 * i).amax;
            int sum = 0;
            for (int j = 0; j < 32; j++) {
                sum += q81[i].qs[j];
                bad_q81 += q81[i].qs[j] != q80[i].qs[j]; /* same quants as Q8_0 */
            }
            bad_q81 += q81[i].d != q80[i].d;
            /* s = d * sum(q) with the unrounded d = amax / 127, rounded to fp16 */
            const float d = (float)amax / 127.0f;
            bad_s += q81[i].s != type_f32_to_f16((float)sum * d);
            bad_s += fabs(half_value(q81[i].s) - sum * (amax / 127)) > fabs(sum * (amax / 127)) * 2 * e16 + sub16;
        }

        block_q4_0 q40[NB];
        type_traits_get(RESA_TYPE_Q4_0)->from_float(x, q40, NB * 32);
        type_traits_get(RESA_TYPE_Q4_0)->to_float(q40, y, NB * 32);
        for (int i = 0; i < NB; i++) {
            const struct stats st = block_stats(x + 32 * i);
            const double d = st.amax / 8, ds = st.signed_max / -8;
            /* the max maps to -8 exactly; the far end clamps at +7, a full step off */
            bad_q40 += count_over(x + 32 * i, y + 32 * i, d * (1 + 8 * e16) + 8 * sub16);
            for (int j = 0; j < 32; j++) { /* half a step where not clamped */
                const double v = ds != 0 ? x[32 * i + j] / ds : 0; /* in [-8, 8] */
                if (v < 7.4 && fabs((double)y[32 * i + j] - x[32 * i + j]) > d * (0.5 + 8 * e16) + 8 * sub16)
                    bad_half++;
            }
        }

        block_q4_1 q41[NB];
        type_traits_get(RESA_TYPE_Q4_1)->from_float(x, q41, NB * 32);
        type_traits_get(RESA_TYPE_Q4_1)->to_float(q41, y, NB * 32);
        for (int i = 0; i < NB; i++) {
            const struct stats st = block_stats(x + 32 * i);
            const double d = (st.max - st.min) / 15;
            const double bound = d * (0.5 + 15 * e16) + fabs(st.min) * e16 + 16 * sub16;
            bad_q41 += count_over(x + 32 * i, y + 32 * i, bound);
        }
    }
    check(!bad_q80, "q8_0 quantize -> dequantize within d/2 (+ fp16 d)");
    check(!bad_zero, "q8_0 of an all-zero block is all zero");
    check(!bad_q81, "q8_1 quants and d equal q8_0's");
    check(!bad_s, "q8_1 s = fp16(d * sum(q))");
    check(!bad_q40, "q4_0 quantize -> dequantize within d (clamped end) (+ fp16 d)");
    check(!bad_half, "q4_0 within d/2 away from the clamped end");
    check(!bad_q41, "q4_1 quantize -> dequantize within d/2 (+ fp16 d, m)");

    /* rounding is to nearest, ties to even, as llama.cpp's x86 quantizers */
    float t[32];
    for (int j = 0; j < 32; j++)
        t[j] = (float)(j - 16) + 0.5f; /* ties everywhere */
    t[0] = 127.0f;                      /* d = 1 */
    block_q8_0 q;
    type_traits_get(RESA_TYPE_Q8_0)->from_float(t, &q, 32);
    int ties = q.d == 0x3c00;
    for (int j = 1; j < 32; j++)
        ties &= q.qs[j] == even_tie(t[j]);
    check(ties, "q8_0 rounds ties to even");
}

/* Activations a broken model produces (found by fuzz_gguf): NaN and
 * infinities quantize without undefined behaviour (UBSan flags a NaN to
 * int8 conversion; tools/test.sh runs this under it), NaN products to 0,
 * the finite values of a block without an infinity as usual. */
static void test_nonfinite(void)
{
    float x[64];
    for (int j = 0; j < 64; j++)
        x[j] = (float)(j % 7) - 3.0f;
    x[5] = NAN;
    x[40] = INFINITY;
    x[41] = -INFINITY;
    block_q8_1 q[2];
    type_traits_get(RESA_TYPE_Q8_1)->from_float(x, q, 64);
    int ok = q[0].qs[5] == 0 && q[0].qs[6] == (int8_t)nearbyintf(x[6] * (127.0f / 3.0f));
    for (int j = 32; j < 64; j++) /* amax inf: id 0, every product 0 or NaN */
        ok &= q[1].qs[j - 32] == 0;
    check(ok, "Q8_1 quantization of NaN and infinite activations: defined, NaN products 0");

    /* A block whose amax is subnormal: 127/amax overflows to inf, and every
     * nonzero product with it is infinite (undefined as int8 before the
     * clamp; the fuzzer found it). Clamped: the signs survive, zeros stay 0. */
    float s[256];
    for (int j = 0; j < 256; j++)
        s[j] = (j % 3 - 1) * 1e-39f;
    block_q8_1 qs[1];
    type_traits_get(RESA_TYPE_Q8_1)->from_float(s, qs, 32);
    block_q8_K qk[1];
    type_traits_get(RESA_TYPE_Q8_K)->from_float(s, qk, 256);
    ok = 1;
    for (int j = 0; j < 32; j++)
        ok &= qs[0].qs[j] == (j % 3 - 1) * 127;
    for (int j = 0; j < 256; j++)
        ok &= qk[0].qs[j] == (j % 3 - 1) * 127;
    check(ok, "Q8_1 and Q8_K quantization of a subnormal block: defined, clamped to +-127");
}

int main(int argc, char **argv)
{
    uint64_t seed = (uint64_t)time(NULL);
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--seed=", 7)) {
            seed = strtoull(argv[i] + 7, NULL, 10);
        } else {
            fprintf(stderr, "usage: test_types [--seed=N]\n");
            return 99;
        }
    }
    rng_state = seed;
    printf("test_types: seed %llu\n", (unsigned long long)seed);
    test_traits();
    test_f16_to_f32();
    test_f32_to_f16();
    test_bf16();
    test_dequant();
    test_roundtrip();
    test_nonfinite();
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
