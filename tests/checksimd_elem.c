/* SPDX-License-Identifier: MIT */
/* checksimd_elem: every "elem" kernel of every tier this CPU has, against the
 * scalar reference (simd/elem_c.c), in the manner of dav1d's checkasm.
 *
 *   checksimd_elem [--seed=N] [--cpu=NAME] [--bench[=PATTERN]] [--all-tiers] [-v]
 *
 * Inputs come from the seeded RNG, over awkward sizes (rows of 1 to 8960
 * floats, RoPE widths 2 to 128 at positions up to 131071), with special values
 * mixed in (zeros, subnormals, +-inf and NaN where the kernel must carry them,
 * exp arguments past both ends of the float range). Outputs have guard bytes
 * on both sides; inputs (and in-place rows) alternate between odd alignments
 * and ending right before an inaccessible page, so overreads fault.
 *
 * Tolerances, measured in units in the last place (ulps: the distance of the
 * two floats on the ordered integer line, so subnormals and the step to inf
 * count like any other ulp; two NaNs are equal):
 *   - conversions: bit-exact, NaN payloads included (F16C, vcvtps2ph and
 *     vcvt_f16_f32 round and quiet exactly as type_f32_to_f16() does; bf16 is
 *     integer arithmetic in every tier); f16 and bf16 -> f32 over all 65536
 *     inputs;
 *   - rope: bit-exact: the tiers do the reference's two products and one add
 *     or subtract per output, unfused;
 *   - rmsnorm, silu_mul, softmax: bit-exact. Issue 3 (greedy tokens must
 *     not depend on the SIMD tier): every tier computes the reference's one
 *     recipe (simd/elem_c.c): the same exp step for step, the double sums
 *     over the same 16 lanes added by the same tree, the same roundings;
 *     a tier that drifts by one ulp fails;
 *   - exp (the tiers' vector exp): bit-exact against the reference's
 *     elem_exp_c() (the same recipe), and within 1 ulp of libm's expf, the
 *     measured maximum over every float in [-110, 95].
 * A kernel that raises SIGILL/SIGSEGV/SIGBUS/SIGFPE is reported as a failure.
 *
 * --bench times each kernel of each tier against the scalar one (best of three
 * medians of repeats), our exp against libm's and (with HAVE_SLEEF) SLEEF's, and for the
 * streaming kernels on rows far larger than the caches gives GB/s and the
 * fraction of this machine's one-thread read bandwidth.
 * Ends with "N passed, N failed"; exit status 0 when none failed. */
#ifdef HAVE_CONFIG_H
#include "config.h" /* _GNU_SOURCE: POSIX/GNU declarations under -std=c11 */
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkasm.h"
#include "types.h"
#ifdef HAVE_SLEEF
#include "bench_sleef.h"
#endif

static const int row_sizes[] = {1, 7, 17, 33, 64, 128, 576, 1023, 1536, 8960};
#define N_ROWS (int)(sizeof row_sizes / sizeof row_sizes[0])
static const int rot_sizes[] = {2, 16, 64, 128};
static const int positions[] = {0, 1, 17, 1000, 8191, 30000, 131071};
static const float rope_bases[] = {10000.0f, 100000.0f, 1000000.0f};
enum { TRIALS = 4 };

/* ---- values ------------------------------------------------------------------- */

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float float_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Position on the ordered integer line: adjacent floats differ by 1, and
 * -0 and +0 are the same point. */
static int64_t ordinal(float f)
{
    const uint32_t u = bits_of(f);
    return u >> 31 ? -(int64_t)(u & 0x7fffffffu) : (int64_t)u;
}

/* Distance in ulps; two NaNs are equal, a NaN and a number infinitely far. */
static double ulps(float a, float b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b) ? 0.0 : INFINITY;
    return (double)llabs(ordinal(a) - ordinal(b));
}

static float rnd_range(float lo, float hi)
{
    return lo + (hi - lo) * 0.5f * (ca_rndf() + 1.0f);
}

/* A random power of two in [2^lo, 2^hi]. */
static float rnd_pow2(int lo, int hi)
{
    return ldexpf(1.0f, lo + (int)(ca_rnd() % (uint64_t)(hi - lo + 1)));
}

static float rnd_special(void)
{
    static const float v[] = {0.0f, -0.0f, 0x1p-149f, -0x1p-140f, 0x1.8p-127f, 1e-30f, -1e30f,
                              INFINITY, -INFINITY};
    const unsigned k = (unsigned)(ca_rnd() % (sizeof v / sizeof v[0] + 1));
    return k < sizeof v / sizeof v[0] ? v[k] : NAN;
}

/* Arguments of exp across its whole range, the ends in particular. */
static float rnd_exp_arg(void)
{
    static const float v[] = {
        0.0f,   -0.0f,       0x1p-24f,      -0x1p-149f,  1.0f,       -1.0f,       88.0f,
        88.3f,  88.72283f,   88.722839f,    88.7228394f, 89.0f,      100.0f,      -87.33654f,
        -87.5f, -100.0f,     -103.2789f,    -103.9720f,  -104.0f,    -104.5f,     -200.0f,
        1e30f,  -1e30f,      INFINITY,      -INFINITY,
    };
    const unsigned k = (unsigned)(ca_rnd() % 64);
    if (k < sizeof v / sizeof v[0])
        return ca_rnd() & 1 ? nextafterf(v[k], ca_rnd() & 1 ? INFINITY : -INFINITY) : v[k];
    if (k == 63)
        return NAN;
    return rnd_range(-110.0f, 95.0f);
}

/* ---- buffers ------------------------------------------------------------------ */

/* An input (or in-place) row: every other trial ends at an inaccessible page,
 * the others start `align`, 2`align` or 3`align` bytes past a 64-byte
 * boundary (never 16-byte aligned for floats). */
static ca_buf in_buf(size_t bytes, size_t align, int trial)
{
    return trial & 1 ? ca_buf_at_page_end(bytes) : ca_buf_new(bytes, align * (size_t)(1 + trial / 2 % 3));
}

/* ---- calls under the signal guard --------------------------------------------- */

typedef void exp_fn(float *y, const float *x, int n);

typedef struct call {
    union {
        resa_rmsnorm_fn rmsnorm;
        resa_rope_fn rope;
        resa_silu_mul_fn silu_mul;
        resa_softmax_fn softmax;
        resa_convert_fn convert;
        exp_fn *exp;
    } fn;
    float *y;
    const float *x, *w;
    const void *src;
    void *dst;
    int64_t n;
    float f;
} call;

static void run_rmsnorm(void *p)
{
    call *c = p;
    c->fn.rmsnorm(c->y, c->x, c->w, (int)c->n, c->f);
}

static void run_rope(void *p)
{
    call *c = p;
    c->fn.rope(c->y, c->x, (int)c->n);
}

static void run_silu_mul(void *p)
{
    call *c = p;
    c->fn.silu_mul(c->y, c->x, (int)c->n);
}

static void run_softmax(void *p)
{
    call *c = p;
    c->fn.softmax(c->y, (int)c->n, c->f);
}

static void run_convert(void *p)
{
    call *c = p;
    c->fn.convert(c->src, c->dst, c->n);
}

static void run_exp(void *p)
{
    call *c = p;
    c->fn.exp(c->y, c->x, (int)c->n);
}

/* ---- comparisons ------------------------------------------------------------------ */

/* The worst case seen for one kernel of one tier, and the first failure. */
typedef struct verdict {
    double worst;
    int failed, sig, guards;
    char first[160];
} verdict;

static void fail_at(verdict *v, const char *fmt_where, int64_t n, int64_t i, float got, float ref)
{
    if (!v->failed)
        snprintf(v->first, sizeof v->first, "%s n=%lld [%lld]: got %a, want %a (%.0f ulps)", fmt_where,
                 (long long)n, (long long)i, (double)got, (double)ref, ulps(got, ref));
    v->failed = 1;
}

/* got[i] within max_ulps of ref[i], or within abs_tol[i] (NULL: none). */
static void compare_floats(verdict *v, const char *what, const float *got, const float *ref, int64_t n,
                           double max_ulps, const float *abs_tol)
{
    for (int64_t i = 0; i < n; i++) {
        const double d = ulps(got[i], ref[i]);
        if (d <= max_ulps) {
            if (d > v->worst)
                v->worst = d;
            continue;
        }
        if (abs_tol && isfinite(got[i]) && isfinite(ref[i]) && fabsf(got[i] - ref[i]) <= abs_tol[i])
            continue;
        fail_at(v, what, n, i, got[i], ref[i]);
    }
}

static void compare_u16(verdict *v, const char *what, const uint16_t *got, const uint16_t *ref, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (got[i] != ref[i]) {
            if (!v->failed)
                snprintf(v->first, sizeof v->first, "%s n=%lld [%lld]: got 0x%04x, want 0x%04x", what,
                         (long long)n, (long long)i, got[i], ref[i]);
            v->failed = 1;
        }
}

static void called(verdict *v, int sig)
{
    if (sig && !v->sig)
        v->sig = sig;
}

static void check_guards(verdict *v, const ca_buf *b)
{
    if (!ca_guards_ok(b))
        v->guards = 1;
}

static void report(const verdict *v, const char *kernel, const char *tier)
{
    if (v->sig)
        ca_report(0, kernel, tier, "signal %d", v->sig);
    else if (v->guards)
        ca_report(0, kernel, tier, "wrote outside its output");
    else if (v->failed)
        ca_report(0, kernel, tier, "%s", v->first);
    else
        ca_report(1, kernel, tier, "worst %.0f ulps", v->worst);
}

/* ---- rmsnorm ------------------------------------------------------------------- */

static void fill_rms_row(float *x, int n, int trial)
{
    const float scale = rnd_pow2(-20, 20);
    for (int i = 0; i < n; i++)
        x[i] = ca_rndf() * scale;
    if (trial == 2) /* zeros and subnormals, a few huge values (squares near FLT_MAX) */
        for (int i = 0; i < n; i += 1 + (int)(ca_rnd() % 5))
            x[i] = ca_rnd() % 3 ? (ca_rnd() & 1 ? 0.0f : 0x1p-140f) : 1e18f;
    if (trial == 3 && n > 3)
        memset(x, 0, sizeof *x * (size_t)n);
}

static void test_rmsnorm(const char *tier, resa_rmsnorm_fn fn, resa_rmsnorm_fn ref)
{
    verdict v = {0};
    for (int s = 0; s < N_ROWS; s++)
        for (int trial = 0; trial < TRIALS + 1; trial++) {
            const int n = row_sizes[s], in_place = trial == TRIALS;
            const size_t bytes = sizeof(float) * (size_t)n;
            const float eps = trial & 1 ? 1e-5f : 1e-6f;
            ca_buf bx = in_buf(bytes, 4, trial), bw = in_buf(bytes, 8, trial + 1), by = ca_buf_new(bytes, 12);
            float *x = (float *)(void *)bx.p, *w = (float *)(void *)bw.p, *y = (float *)(void *)by.p;
            float *want = malloc(bytes);
            fill_rms_row(x, n, trial);
            for (int i = 0; i < n; i++)
                w[i] = rnd_range(-2.0f, 2.0f);
            ref(want, x, w, n, eps);
            call c = {.fn.rmsnorm = fn, .y = in_place ? x : y, .x = x, .w = w, .n = n, .f = eps};
            called(&v, ca_call(run_rmsnorm, &c));
            compare_floats(&v, in_place ? "in place" : "", c.y, want, n, 0.0, NULL); /* one recipe: issue 3 */
            check_guards(&v, &by);
            check_guards(&v, &bx);
            free(want);
            ca_buf_free(&bx);
            ca_buf_free(&bw);
            ca_buf_free(&by);
        }
    report(&v, "rmsnorm", tier);
}

/* ---- rope ----------------------------------------------------------------------- */

/* The (cos, sin) table of one position, built as src/forward.c does. */
static void rope_table(float *cs, int pos, int n_rot, float base)
{
    const float theta_scale = powf(base, -2.0f / (float)n_rot);
    float theta = (float)pos;
    for (int i = 0; i < n_rot / 2; i++) {
        cs[2 * i] = cosf(theta);
        cs[2 * i + 1] = sinf(theta);
        theta *= theta_scale;
    }
}

/* The head is n_rot + 8 floats: the 8 past n_rot must come back untouched. */
static void test_rope(const char *kernel, const char *tier, resa_rope_fn fn, resa_rope_fn ref)
{
    verdict v = {0};
    enum { EXTRA = 8 };
    for (size_t r = 0; r < sizeof rot_sizes / sizeof rot_sizes[0]; r++)
        for (size_t p = 0; p < sizeof positions / sizeof positions[0]; p++)
            for (int trial = 0; trial < 2; trial++) {
                const int n_rot = rot_sizes[r], len = n_rot + EXTRA;
                ca_buf bx = in_buf(sizeof(float) * (size_t)len, 4, trial + (int)p);
                ca_buf bc = in_buf(sizeof(float) * (size_t)n_rot, 8, trial + (int)p + 1);
                float *x = (float *)(void *)bx.p, *cs = (float *)(void *)bc.p;
                float *want = malloc(sizeof(float) * (size_t)len);
                rope_table(cs, positions[p], n_rot, rope_bases[(r + p) % 3]);
                const float scale = rnd_pow2(-8, 8);
                for (int i = 0; i < len; i++)
                    x[i] = ca_rnd() % 16 ? ca_rndf() * scale : (ca_rnd() & 1 ? 0x1p-130f : 0.0f);
                memcpy(want, x, sizeof(float) * (size_t)len);
                ref(want, cs, n_rot);
                call c = {.fn.rope = fn, .y = x, .x = cs, .n = n_rot};
                called(&v, ca_call(run_rope, &c));
                char what[48];
                snprintf(what, sizeof what, "n_rot=%d pos=%d, head of", n_rot, positions[p]);
                compare_floats(&v, what, x, want, len, 0.0, NULL);
                check_guards(&v, &bx);
                free(want);
                ca_buf_free(&bx);
                ca_buf_free(&bc);
            }
    report(&v, kernel, tier);
}

/* ---- silu_mul ----------------------------------------------------------------------- */

/* silu_mul and gelu_mul (the gated FFN activations): one recipe, bit-exact */
static void test_gate(const char *kernel, const char *tier, resa_silu_mul_fn fn, resa_silu_mul_fn ref)
{
    verdict v = {0};
    for (int s = 0; s < N_ROWS; s++)
        for (int trial = 0; trial < TRIALS; trial++) {
            const int n = row_sizes[s];
            const size_t bytes = sizeof(float) * (size_t)n;
            ca_buf bg = in_buf(bytes, 4, trial), bu = in_buf(bytes, 8, trial + 1);
            float *g = (float *)(void *)bg.p, *u = (float *)(void *)bu.p;
            float *want = malloc(bytes);
            const float scale = rnd_pow2(-4, 7); /* up to |g| = 128: exp(-g) past both ends */
            for (int i = 0; i < n; i++) {
                g[i] = trial == 3 ? -rnd_exp_arg() : ca_rndf() * scale;
                u[i] = ca_rnd() % 32 ? rnd_range(-4.0f, 4.0f) : rnd_special();
            }
            memcpy(want, g, bytes);
            ref(want, u, n);
            call c = {.fn.silu_mul = fn, .y = g, .x = u, .n = n};
            called(&v, ca_call(run_silu_mul, &c));
            compare_floats(&v, "", g, want, n, 0.0, NULL); /* one recipe: issue 3 */
            check_guards(&v, &bg);
            free(want);
            ca_buf_free(&bg);
            ca_buf_free(&bu);
        }
    report(&v, kernel, tier);
}

/* ---- softmax ------------------------------------------------------------------------ */

static void test_softmax(const char *tier, resa_softmax_fn fn, resa_softmax_fn ref)
{
    static const float scales[] = {1.0f, 0.125f, 0.088388346f, 3.7f, -0.5f};
    verdict v = {0};
    for (int s = 0; s < N_ROWS; s++)
        for (int trial = 0; trial < TRIALS + 1; trial++) {
            const int n = row_sizes[s];
            const size_t bytes = sizeof(float) * (size_t)n;
            const float scale = scales[trial], spread = rnd_pow2(0, 7);
            ca_buf bx = in_buf(bytes, 4, trial);
            float *x = (float *)(void *)bx.p, *want = malloc(bytes);
            for (int i = 0; i < n; i++) {
                x[i] = ca_rndf() * spread;
                if (trial >= 2 && ca_rnd() % 8 == 0) /* masked positions, subnormals, zeros */
                    x[i] = trial == 2 ? -INFINITY : trial == 3 ? 0x1p-140f : 0.0f;
            }
            x[ca_rnd() % (uint64_t)n] = ca_rndf() * spread; /* never all masked */
            memcpy(want, x, bytes);
            ref(want, n, scale);
            call c = {.fn.softmax = fn, .y = x, .n = n, .f = scale};
            called(&v, ca_call(run_softmax, &c));
            compare_floats(&v, "", x, want, n, 0.0, NULL); /* one recipe: issue 3 */
            check_guards(&v, &bx);
            free(want);
            ca_buf_free(&bx);
        }
    report(&v, "softmax", tier);
}

/* ---- exp ------------------------------------------------------------------------------ */

static void test_exp(const char *tier, exp_fn *fn)
{
    verdict v = {0};
    for (int s = 0; s < N_ROWS; s++)
        for (int trial = 0; trial < TRIALS; trial++) {
            const int n = row_sizes[s];
            const size_t bytes = sizeof(float) * (size_t)n;
            ca_buf bx = in_buf(bytes, 4, trial), by = ca_buf_new(bytes, 8);
            float *x = (float *)(void *)bx.p, *y = (float *)(void *)by.p, *want = malloc(bytes);
            for (int i = 0; i < n; i++) {
                x[i] = rnd_exp_arg();
                want[i] = expf(x[i]);
            }
            call c = {.fn.exp = fn, .y = y, .x = x, .n = n};
            called(&v, ca_call(run_exp, &c));
            compare_floats(&v, "", y, want, n, 1.0, NULL);
            elem_exp_c(want, x, n); /* one recipe in every tier: issue 3 */
            compare_floats(&v, "against elem_exp_c,", y, want, n, 0.0, NULL);
            check_guards(&v, &by);
            free(want);
            ca_buf_free(&bx);
            ca_buf_free(&by);
        }
    report(&v, "exp", tier);
}

/* ---- conversions ------------------------------------------------------------------------ */

/* Float inputs that reach every branch of a float -> f16/bf16 rounding. */
static float conv_input(int to_f16)
{
    switch (ca_rnd() % 8) {
    case 0: /* any bit pattern: NaNs (signalling too), infs, subnormals */
        return float_of((uint32_t)ca_rnd());
    case 1: { /* an exact tie between two neighbours, or one of its neighbours */
        float t;
        if (to_f16) {
            const uint16_t h = (uint16_t)(ca_rnd() % 0x7bff) | (uint16_t)(ca_rnd() & 0x8000);
            t = 0.5f * (type_f16_to_f32(h) + type_f16_to_f32((uint16_t)(h + 1)));
        } else {
            t = float_of(((uint32_t)ca_rnd() & 0xffff0000u) | 0x8000u);
        }
        const int k = (int)(ca_rnd() % 3);
        return k == 0 ? t : nextafterf(t, k == 1 ? INFINITY : -INFINITY);
    }
    case 2: /* around the f16 overflow threshold and its largest finite values */
        return nextafterf(ca_rnd() & 1 ? 65520.0f : 65504.0f, ca_rnd() & 1 ? INFINITY : -INFINITY) *
               (ca_rnd() & 1 ? 1.0f : -1.0f);
    case 3: /* f16 subnormals and the rounding to zero below 2^-25 */
        return ca_rndf() * rnd_pow2(-27, -13);
    case 4:
        return rnd_special();
    default:
        return ca_rndf() * rnd_pow2(-16, 16);
    }
}

static void test_to_half(const char *kernel, const char *tier, resa_convert_fn fn, resa_convert_fn ref,
                         int to_f16)
{
    verdict v = {0};
    for (int s = 0; s <= N_ROWS; s++)
        for (int trial = 0; trial < TRIALS; trial++) {
            const int n = s < N_ROWS ? row_sizes[s] : 65536 + 13;
            ca_buf bx = in_buf(sizeof(float) * (size_t)n, 4, trial), by = ca_buf_new(2 * (size_t)n, 2);
            float *x = (float *)(void *)bx.p;
            uint16_t *y = (uint16_t *)(void *)by.p, *want = malloc(2 * (size_t)n);
            for (int i = 0; i < n; i++)
                x[i] = conv_input(to_f16);
            ref(x, want, n);
            call c = {.fn.convert = fn, .src = x, .dst = y, .n = n};
            called(&v, ca_call(run_convert, &c));
            compare_u16(&v, "", y, want, n);
            check_guards(&v, &by);
            free(want);
            ca_buf_free(&bx);
            ca_buf_free(&by);
        }
    report(&v, kernel, tier);
}

/* Every 16-bit pattern, in a shuffled order so that each vector holds a mix;
 * then random patterns over the row sizes. Compared as bits. */
static void test_from_half(const char *kernel, const char *tier, resa_convert_fn fn, resa_convert_fn ref)
{
    verdict v = {0};
    for (int s = 0; s <= N_ROWS; s++)
        for (int trial = 0; trial < (s < N_ROWS ? TRIALS : 2); trial++) {
            const int n = s < N_ROWS ? row_sizes[s] : 65536;
            ca_buf bx = in_buf(2 * (size_t)n, 2, trial), by = ca_buf_new(sizeof(float) * (size_t)n, 4);
            uint16_t *x = (uint16_t *)(void *)bx.p;
            float *y = (float *)(void *)by.p, *want = malloc(sizeof(float) * (size_t)n);
            for (int i = 0; i < n; i++)
                x[i] = (uint16_t)(s < N_ROWS ? ca_rnd() : (uint64_t)i);
            for (int i = n - 1; s == N_ROWS && i > 0; i--) {
                const int j = (int)(ca_rnd() % (uint64_t)(i + 1));
                const uint16_t t = x[i];
                x[i] = x[j];
                x[j] = t;
            }
            ref(x, want, n);
            call c = {.fn.convert = fn, .src = x, .dst = y, .n = n};
            called(&v, ca_call(run_convert, &c));
            for (int i = 0; i < n; i++)
                if (bits_of(y[i]) != bits_of(want[i]) && !v.failed) {
                    snprintf(v.first, sizeof v.first, "n=%d [%d] 0x%04x: got 0x%08x, want 0x%08x", n, i, x[i],
                             bits_of(y[i]), bits_of(want[i]));
                    v.failed = 1;
                }
            check_guards(&v, &by);
            free(want);
            ca_buf_free(&bx);
            ca_buf_free(&by);
        }
    report(&v, kernel, tier);
}

/* ---- the references themselves ------------------------------------------------------------- */

/* The scalar kernels against the same math in double, so that a machine with
 * no SIMD tier still tests something, and a wrong reference cannot hide
 * behind tiers that copy it. Bounds: rmsnorm, silu_mul and softmax round a
 * handful of times after libm calls good to an ulp: 4 ulps of the double
 * result (softmax: from the same float exp arguments; or 2^-126 absolute,
 * as above); a RoPE output is a
 * difference of two rounded products: within 2^-23 of |x0 c| + |x1 s|. The
 * conversions have their own exhaustive tests in tests/test_types.c. */
static void test_reference(const resa_elem_ctx *ref)
{
    enum { N = 1023 };
    static float x[N], w[N], y[N], u[N], want[N];
    int bad_rms = 0, bad_rope = 0, bad_silu = 0, bad_gelu = 0, bad_sm = 0;
    for (int trial = 0; trial < 8; trial++) {
        const float scale = rnd_pow2(-10, 10);
        double ss = 0.0;
        for (int i = 0; i < N; i++) {
            x[i] = ca_rndf() * scale;
            w[i] = rnd_range(-2.0f, 2.0f);
            ss += (double)x[i] * x[i];
        }
        ref->rmsnorm(y, x, w, N, 1e-5f);
        const double inv = 1.0 / sqrt(ss / N + 1e-5);
        for (int i = 0; i < N; i++)
            bad_rms += ulps(y[i], (float)(x[i] * inv * w[i])) > 4.0;

        float cs[128];
        rope_table(cs, positions[trial % 7], 128, 10000.0f);
        for (int style = 0; style < 2; style++) {
            memcpy(y, x, 128 * sizeof *y);
            (style ? ref->rope_neox : ref->rope_norm)(y, cs, 128);
            for (int i = 0; i < 64; i++) {
                const int a = style ? i : 2 * i, b = style ? i + 64 : 2 * i + 1;
                const double c = cs[2 * i], s = cs[2 * i + 1], x0 = x[a], x1 = x[b];
                const double tol = 0x1p-23 * (fabs(x0 * c) + fabs(x1 * s) + fabs(x0 * s) + fabs(x1 * c));
                bad_rope += fabs(y[a] - (x0 * c - x1 * s)) > tol || fabs(y[b] - (x0 * s + x1 * c)) > tol;
            }
        }

        for (int i = 0; i < N; i++) {
            y[i] = ca_rndf() * rnd_pow2(-4, 6);
            u[i] = rnd_range(-4.0f, 4.0f);
            want[i] = (float)(y[i] / (1.0 + exp(-(double)y[i])) * u[i]);
        }
        ref->silu_mul(y, u, N);
        for (int i = 0; i < N; i++)
            bad_silu += ulps(y[i], want[i]) > 4.0;

        /* gelu_mul: its argument z rounds a few times in float, and where
         * 1 + exp(z) is large (x < 0) the result's relative error is z's
         * absolute one: a few ulps of |z| */
        static double zabs[N];
        for (int i = 0; i < N; i++) {
            y[i] = ca_rndf() * rnd_pow2(-4, 3);
            u[i] = rnd_range(-4.0f, 4.0f);
            const double xd = y[i], z = -2.0 * sqrt(2.0 / 3.14159265358979323846) * (xd + 0.044715 * xd * xd * xd);
            want[i] = (float)(xd / (1.0 + exp(z)) * u[i]);
            zabs[i] = fabs(z);
        }
        ref->gelu_mul(y, u, N);
        for (int i = 0; i < N; i++)
            bad_gelu += ulps(y[i], want[i]) > 6.0 + 4.0 * zabs[i] && fabsf(y[i] - want[i]) > 0x1p-126f;

        /* the exp arguments rounded to float, as the spec does (and llama.cpp):
         * exp(-16) would otherwise move by 16 * 2^-24 */
        float mx = -INFINITY;
        double sum = 0.0;
        for (int i = 0; i < N; i++) {
            y[i] = ca_rndf() * rnd_pow2(0, 6);
            mx = fmaxf(mx, y[i] * 0.125f);
        }
        for (int i = 0; i < N; i++)
            sum += exp((double)(y[i] * 0.125f - mx));
        for (int i = 0; i < N; i++)
            want[i] = (float)(exp((double)(y[i] * 0.125f - mx)) / sum);
        ref->softmax(y, N, 0.125f);
        for (int i = 0; i < N; i++)
            bad_sm += ulps(y[i], want[i]) > 4.0 && fabsf(y[i] - want[i]) > 0x1p-126f;
    }
    ca_report(!bad_rms, "rmsnorm", "c", "%d outputs off", bad_rms);
    ca_report(!bad_rope, "rope", "c", "%d pairs off", bad_rope);
    ca_report(!bad_silu, "silu_mul", "c", "%d outputs off", bad_silu);
    ca_report(!bad_gelu, "gelu_mul", "c", "%d outputs off", bad_gelu);
    ca_report(!bad_sm, "softmax", "c", "%d outputs off", bad_sm);
}

/* ---- tiers ------------------------------------------------------------------------------ */

/* The vector exp behind a context's silu_mul, where one is built here. */
static exp_fn *exp_of(const resa_elem_ctx *c)
{
#if defined(__x86_64__) && defined(HAVE_AVX2)
    if (c->silu_mul == elem_silu_mul_avx2)
        return elem_exp_avx2;
#endif
#if defined(__x86_64__) && defined(HAVE_AVX512)
    if (c->silu_mul == elem_silu_mul_avx512)
        return elem_exp_avx512;
#endif
#if defined(__aarch64__) && defined(HAVE_NEON)
    if (c->silu_mul == elem_silu_mul_neon)
        return elem_exp_neon;
#endif
    (void)c;
    return NULL;
}

/* A kernel is tested under the first tier that installs it: one that differs
 * from the tier before (`prev`) and from the reference (a tier this build
 * has no code for leaves the scalar kernels in place). */
#define NEW_IN_TIER(k) (c->k != prev->k && c->k != ref->k)

static void test_tier(const char *tier, const resa_elem_ctx *c, const resa_elem_ctx *prev,
                      const resa_elem_ctx *ref)
{
    if (NEW_IN_TIER(rmsnorm))
        test_rmsnorm(tier, c->rmsnorm, ref->rmsnorm);
    if (NEW_IN_TIER(rope_norm))
        test_rope("rope_norm", tier, c->rope_norm, ref->rope_norm);
    if (NEW_IN_TIER(rope_neox))
        test_rope("rope_neox", tier, c->rope_neox, ref->rope_neox);
    if (NEW_IN_TIER(silu_mul)) {
        exp_fn *e = exp_of(c);
        if (e)
            test_exp(tier, e);
        test_gate("silu_mul", tier, c->silu_mul, ref->silu_mul);
    }
    if (NEW_IN_TIER(gelu_mul))
        test_gate("gelu_mul", tier, c->gelu_mul, ref->gelu_mul);
    if (NEW_IN_TIER(softmax))
        test_softmax(tier, c->softmax, ref->softmax);
    if (NEW_IN_TIER(f32_to_f16))
        test_to_half("f32_to_f16", tier, c->f32_to_f16, ref->f32_to_f16, 1);
    if (NEW_IN_TIER(f32_to_bf16))
        test_to_half("f32_to_bf16", tier, c->f32_to_bf16, ref->f32_to_bf16, 0);
    if (NEW_IN_TIER(f16_to_f32))
        test_from_half("f16_to_f32", tier, c->f16_to_f32, ref->f16_to_f32);
    if (NEW_IN_TIER(bf16_to_f32))
        test_from_half("bf16_to_f32", tier, c->bf16_to_f32, ref->bf16_to_f32);
}

#undef NEW_IN_TIER

/* ---- benchmarks ---------------------------------------------------------------------------- */

/* The best of three medians: the machines this runs on are shared, and a
 * neighbour's burst can inflate a whole median; it cannot make a kernel
 * faster than it is. */
static double time_best(void (*run)(void *), void *arg)
{
    double best = INFINITY;
    for (int i = 0; i < 3; i++)
        best = fmin(best, ca_time_ns(run, arg));
    return best;
}

typedef struct bench_row {
    const char *kernel;
    int64_t n;
    double bytes; /* bytes a call must move at least (0: not a streaming kernel) */
} bench_row;

/* One line: the tier's time, its speed-up over the scalar time `t_c`, and
 * for streaming kernels GB/s and the fraction of one thread's read bandwidth. */
static void bench_line(const char *kernel, int64_t n, const char *tier, double t, double t_c, double bytes)
{
    printf("  %-12s n=%-9lld %-8s %12.1f ns  %6.2fx", kernel, (long long)n, tier, t, t_c / t);
    if (bytes > 0) {
        const double bw = ca_read_bandwidth(1);
        printf("  %6.1f GB/s (%3.0f%% of %.1f)", bytes / t, 100.0 * bytes / t / bw, bw);
    }
    printf("\n");
}

/* Fills a call for kernel `name` of context `c` over buffers a, b, d. */
static void bench_call(call *k, void (**run)(void *), const char *name, const resa_elem_ctx *c, float *a,
                       float *b, float *d, int64_t n)
{
    memset(k, 0, sizeof *k);
    k->n = n;
    if (!strcmp(name, "rmsnorm")) {
        *run = run_rmsnorm;
        k->fn.rmsnorm = c->rmsnorm;
        k->y = d, k->x = a, k->w = b, k->f = 1e-5f;
    } else if (!strcmp(name, "rope_norm") || !strcmp(name, "rope_neox")) {
        *run = run_rope;
        k->fn.rope = !strcmp(name, "rope_norm") ? c->rope_norm : c->rope_neox;
        k->y = a, k->x = b;
    } else if (!strcmp(name, "silu_mul") || !strcmp(name, "gelu_mul")) {
        *run = run_silu_mul;
        k->fn.silu_mul = !strcmp(name, "silu_mul") ? c->silu_mul : c->gelu_mul;
        k->y = a, k->x = b;
    } else if (!strcmp(name, "softmax")) {
        *run = run_softmax;
        k->fn.softmax = c->softmax;
        k->y = a, k->f = 0.125f;
    } else {
        *run = run_convert;
        k->fn.convert = !strcmp(name, "f32_to_f16")    ? c->f32_to_f16
                        : !strcmp(name, "f16_to_f32")  ? c->f16_to_f32
                        : !strcmp(name, "f32_to_bf16") ? c->f32_to_bf16
                                                       : c->bf16_to_f32;
        k->src = a, k->dst = d;
    }
}

/* Inputs that stay in range however often an in-place kernel runs over them
 * (a subnormal costs a microcode assist per operation on x86: a few of them
 * can double the time). silu_mul: with u = 1 + exp(-g0), g0 is a fixed point
 * of g -> silu(g) * u, and an attracting one for g0 in [-2, -0.5] (slope
 * 1 - |g0| sigmoid(|g0|) between -0.8 and 0.7), so rounding cannot walk g
 * away; the kernels have no data-dependent branches, so the range does not
 * flatter them. Half-float sources are valid halves of the same values. */
static void bench_inputs(const char *name, float *a, float *b, int64_t n)
{
    const int silu = !strcmp(name, "silu_mul");
    for (int64_t i = 0; i < n; i++) {
        a[i] = silu ? rnd_range(-2.0f, -0.5f) : ca_rndf() * 4.0f;
        b[i] = silu ? 1.0f + expf(-a[i]) : ca_rndf();
    }
    if (!strcmp(name, "f16_to_f32") || !strcmp(name, "bf16_to_f32")) {
        uint16_t *h = (uint16_t *)(void *)a;
        for (int64_t i = 0; i < n; i++)
            h[i] = name[0] == 'f' ? type_f32_to_f16(b[i]) : type_f32_to_bf16(b[i]);
    }
    if (!strcmp(name, "rope_norm") || !strcmp(name, "rope_neox"))
        rope_table(b, 30000, (int)n, 10000.0f);
}

static void bench_kernels(const resa_elem_ctx *ref)
{
    enum { BIG = 1 << 24 }; /* 64 MiB of floats: far past the caches */
    static const bench_row rows[] = {
        {"rmsnorm", 576, 0},           {"rmsnorm", 8960, 0},        {"rmsnorm", BIG, 12.0 * BIG},
        {"rope_norm", 64, 0},          {"rope_norm", 128, 0},       {"rope_neox", 64, 0},
        {"rope_neox", 128, 0},         {"silu_mul", 1536, 0},       {"silu_mul", 8960, 0},
        {"silu_mul", BIG, 12.0 * BIG}, {"gelu_mul", 2048, 0},        {"softmax", 1024, 0},
        {"softmax", 8960, 0},
        {"f32_to_f16", 8960, 0},       {"f32_to_f16", BIG, 6.0 * BIG}, {"f16_to_f32", 8960, 0},
        {"f16_to_f32", BIG, 6.0 * BIG}, {"f32_to_bf16", 8960, 0},   {"f32_to_bf16", BIG, 6.0 * BIG},
        {"bf16_to_f32", 8960, 0},      {"bf16_to_f32", BIG, 6.0 * BIG},
    };
    float *a = malloc(sizeof(float) * BIG), *b = malloc(sizeof(float) * BIG), *d = malloc(sizeof(float) * BIG);
    if (!a || !b || !d) {
        fprintf(stderr, "checksimd_elem: out of memory for the benchmark\n");
        exit(99);
    }
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        const bench_row *row = &rows[r];
        if (!ca_bench_wanted(row->kernel))
            continue;
        bench_inputs(row->kernel, a, b, row->n);
        call k;
        void (*run)(void *);
        bench_call(&k, &run, row->kernel, ref, a, b, d, row->n);
        const double t_c = time_best(run, &k);
        bench_line(row->kernel, row->n, "c", t_c, t_c, row->bytes);
        resa_elem_ctx prev = *ref;
        for (int t = 0; t < ca_n_tiers; t++) {
            if (!ca_tier_enabled(&ca_tiers[t]))
                continue;
            resa_elem_ctx c;
            elem_init(&c, ca_tiers[t].flags);
            bench_call(&k, &run, row->kernel, &c, a, b, d, row->n);
            call kp;
            void (*run_prev)(void *);
            bench_call(&kp, &run_prev, row->kernel, &prev, a, b, d, row->n);
            prev = c;
            call kr;
            void (*run_ref)(void *);
            bench_call(&kr, &run_ref, row->kernel, ref, a, b, d, row->n);
            /* this tier installs nothing new */
            if (!memcmp(&k.fn, &kp.fn, sizeof k.fn) || !memcmp(&k.fn, &kr.fn, sizeof k.fn))
                continue;
            bench_line(row->kernel, row->n, ca_tiers[t].name, time_best(run, &k), t_c, row->bytes);
        }
    }
    free(a);
    free(b);
    free(d);
}

/* Our vector exp against libm's expf and, where built, SLEEF's u10 expf of
 * the same width: the numbers behind the choice of exp in the kernels. */
static void bench_exp(void)
{
    if (!ca_bench_wanted("exp"))
        return;
    enum { N = 8960 };
    static float x[N], y[N];
    for (int i = 0; i < N; i++)
        x[i] = rnd_range(-20.0f, 5.0f);
    static const struct {
        const char *name;
        exp_fn *fn;
    } fns[] = {
        {"c", elem_exp_c},
#if defined(__x86_64__) && defined(HAVE_AVX2)
        {"avx2", elem_exp_avx2},
#if defined(HAVE_SLEEF)
        {"sleef_avx2", bench_exp_sleef_avx2},
#endif
#endif
#if defined(__x86_64__) && defined(HAVE_AVX512)
        {"avx512", elem_exp_avx512},
#if defined(HAVE_SLEEF)
        {"sleef_avx512", bench_exp_sleef_avx512},
#endif
#endif
#if defined(__aarch64__) && defined(HAVE_NEON)
        {"neon", elem_exp_neon},
#endif
    };
    double t_c = 0;
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        const int avx512 = strstr(fns[i].name, "avx512") != NULL, avx2 = strstr(fns[i].name, "avx2") != NULL;
        if ((avx512 && !(ca_opt.flags & RESA_CPU_AVX512)) || (avx2 && !(ca_opt.flags & RESA_CPU_AVX2)) ||
            (!strcmp(fns[i].name, "neon") && !(ca_opt.flags & RESA_CPU_NEON)))
            continue;
        call k = {.fn.exp = fns[i].fn, .y = y, .x = x, .n = N};
        const double t = time_best(run_exp, &k);
        if (i == 0)
            t_c = t;
        printf("  %-12s n=%-9d %-12s %8.1f ns  %6.2fx  %.3f ns/value\n", "exp", N, fns[i].name, t, t_c / t,
               t / N);
    }
}

int main(int argc, char **argv)
{
    ca_init(argc, argv, "checksimd_elem");
    resa_elem_ctx ref, prev;
    elem_init(&ref, 0);
    test_reference(&ref);
    prev = ref;
    for (int t = 0; t < ca_n_tiers; t++) {
        if (!ca_tier_enabled(&ca_tiers[t]))
            continue;
        resa_elem_ctx c;
        elem_init(&c, ca_tiers[t].flags);
        test_tier(ca_tiers[t].name, &c, &prev, &ref);
        prev = c;
    }
    if (ca_opt.bench) {
        printf("benchmarks (one thread; best of 3 medians; speed-up over the scalar kernel):\n");
        bench_exp();
        bench_kernels(&ref);
    }
    return ca_finish();
}
