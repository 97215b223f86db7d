/* SPDX-License-Identifier: MIT */
/* checksimd: every "dot" kernel of every tier this CPU has, against the scalar
 * reference, in the manner of dav1d's checkasm.
 *
 *   checksimd [--seed=N] [--cpu=NAME] [--bench[=PATTERN]] [--all-tiers] [-v]
 *
 * Random inputs come from a seeded RNG (the seed is printed; pass it back with
 * --seed to repeat a run), over awkward sizes. Tolerances:
 *   - quantizers: bit-exact, including the fp16 d and s fields and the bytes
 *     around the output (guards);
 *   - dots of every quantized type: bit-exact. Every tier (scalar, AVX2,
 *     AVX-512 VNNI, NEON, NEON dotprod) follows dot.h's recipes: exact
 *     integer (super-)block sums, then one fmaf per block in block order, so
 *     the tiers agree bit for bit and greedy decoding does not depend on the
 *     CPU;
 *   - gemm (tiles of up to 4 weight rows x 16 activation columns, over
 *     panels) and gemv (any number of rows against one activation row):
 *     bit-exact against the same tier's vec_dot for every output, every tile
 *     shape, including the scalar tier (which checks the panel packer too),
 *     so prefill and decode agree exactly;
 *   - float dots: the reference accumulates in double; the SIMD tiers in float
 *     with FMA, so |simd - ref| <= (n/16 + 16) * eps * S, S = sum |w_i * a_i|.
 * Besides random rows, every dot meets rows of extreme codes (all bytes 0xff
 * or 0x00) against activations of all +127 or -127, where an int16 step
 * would saturate if a bound in a kernel's comment were wrong.
 * Outputs have guard bytes on both sides; inputs alternate between odd
 * alignments and ending right before an inaccessible page (overreads fault).
 * A kernel that raises SIGILL/SIGSEGV/SIGBUS/SIGFPE is reported as a failure.
 * --bench times each kernel against the scalar one (median of repeats), a
 * memory-bound matrix-vector product per quant type (512 MiB of rows of 576,
 * or 2048 for the super-block types; --bench=matvec_q4_k picks one), and
 * prefill-shaped products (576x1536 and 49152x576 weights x 64 tokens; 640x2048
 * for Q4_K and Q6_K) with the gemm against a loop of vec_dot (Q5_0, Q5_1,
 * IQ4_NL: the scalar tier's too).
 * Ends with "N passed, N failed"; exit status 0 when none failed. */
#ifdef HAVE_CONFIG_H
#include "config.h" /* _GNU_SOURCE: POSIX/GNU declarations under -std=c11 */
#endif
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "checkasm.h"
#include "cpu.h"

/* ---- guarded kernel calls (SIGILL/SIGSEGV -> failure, via ca_call) ------------- */

static uint64_t rnd(void) { return ca_rnd(); }
static float rndf(void) { return ca_rndf(); }

/* One call of a dot-family kernel, its arguments, and the thunk ca_call runs. */
typedef struct kcall {
    enum { CALL_VEC_DOT, CALL_QUANTIZE, CALL_TO_FLOAT, CALL_GEMM, CALL_GEMV } kind;
    const void *fn;
    int64_t n;
    int nr, nc;
    const void *w, *a;
    size_t ldw, lda, lds;
    void *y;
    float *s;
} kcall;

static void run_kcall(void *arg)
{
    const kcall *c = arg;
    switch (c->kind) {
    case CALL_VEC_DOT: ((resa_vec_dot_fn)(uintptr_t)c->fn)(c->n, c->s, c->w, c->a); break;
    case CALL_QUANTIZE: ((resa_quantize_fn)(uintptr_t)c->fn)(c->a, c->y, c->n); break;
    case CALL_TO_FLOAT: ((resa_to_float_fn)(uintptr_t)c->fn)(c->a, c->s, c->n); break;
    case CALL_GEMM:
        ((resa_gemm_fn)(uintptr_t)c->fn)(c->n, c->nr, c->nc, c->w, c->ldw, c->a, c->lda, c->s, c->lds);
        break;
    case CALL_GEMV:
        ((resa_gemv_fn)(uintptr_t)c->fn)(c->n, c->nr, c->nc, c->w, c->ldw, c->a, c->lda, c->s, c->lds);
        break;
    }
}

/* Each returns 0, or the signal the kernel raised. */
static int call_vec_dot(resa_vec_dot_fn fn, int64_t n, float *s, const void *w, const void *a)
{
    kcall c = {.kind = CALL_VEC_DOT, .fn = (const void *)(uintptr_t)fn, .n = n, .s = s, .w = w, .a = a};
    return ca_call(run_kcall, &c);
}

static int call_quantize(resa_quantize_fn fn, const float *x, void *y, int64_t n)
{
    kcall c = {.kind = CALL_QUANTIZE, .fn = (const void *)(uintptr_t)fn, .a = x, .y = y, .n = n};
    return ca_call(run_kcall, &c);
}

static int call_to_float(resa_to_float_fn fn, const void *x, float *y, int64_t n)
{
    kcall c = {.kind = CALL_TO_FLOAT, .fn = (const void *)(uintptr_t)fn, .a = x, .s = y, .n = n};
    return ca_call(run_kcall, &c);
}

/* ---- kernels and tiers -------------------------------------------------------- */

enum kind { VEC_DOT, QUANTIZE, TO_FLOAT };

static const struct kernel {
    const char *name;
    enum kind kind;
    enum resa_type type; /* weight type (VEC_DOT) or output type (QUANTIZE) */
} kernels[] = {
    {"vec_dot_f32", VEC_DOT, RESA_TYPE_F32},
    {"vec_dot_f16", VEC_DOT, RESA_TYPE_F16},
    {"vec_dot_bf16", VEC_DOT, RESA_TYPE_BF16},
    {"vec_dot_q4_0", VEC_DOT, RESA_TYPE_Q4_0},
    {"vec_dot_q4_1", VEC_DOT, RESA_TYPE_Q4_1},
    {"vec_dot_q8_0", VEC_DOT, RESA_TYPE_Q8_0},
    {"vec_dot_q5_0", VEC_DOT, RESA_TYPE_Q5_0},
    {"vec_dot_q5_1", VEC_DOT, RESA_TYPE_Q5_1},
    {"vec_dot_iq4_nl", VEC_DOT, RESA_TYPE_IQ4_NL},
    {"vec_dot_q2_k", VEC_DOT, RESA_TYPE_Q2_K},
    {"vec_dot_q3_k", VEC_DOT, RESA_TYPE_Q3_K},
    {"vec_dot_q4_k", VEC_DOT, RESA_TYPE_Q4_K},
    {"vec_dot_q5_k", VEC_DOT, RESA_TYPE_Q5_K},
    {"vec_dot_q6_k", VEC_DOT, RESA_TYPE_Q6_K},
    {"vec_dot_iq4_xs", VEC_DOT, RESA_TYPE_IQ4_XS},
    {"quantize_q8_0", QUANTIZE, RESA_TYPE_Q8_0},
    {"quantize_q8_1", QUANTIZE, RESA_TYPE_Q8_1},
    {"quantize_q8_k", QUANTIZE, RESA_TYPE_Q8_K},
    {"to_float_f16", TO_FLOAT, RESA_TYPE_F16},
};
#define N_KERNELS (sizeof kernels / sizeof kernels[0])

/* Each tier (ca_tiers) is tested through the same init functions the
 * dispatcher uses; a kernel is tested under the first tier that installs it. */
#define N_TIERS ((size_t)ca_n_tiers)
#define tiers ca_tiers

static void build_ctx(resa_dot_ctx *c, unsigned flags)
{
    dot_init_c(c);
    dot_init_x86(c, flags);
    dot_init_arm(c, flags);
}

static void *kernel_ptr(const resa_dot_ctx *c, const struct kernel *k)
{
    /* function pointers compared as data: fine on every platform we target */
    switch (k->kind) {
    case VEC_DOT: return (void *)(uintptr_t)c->vec_dot[k->type];
    case QUANTIZE: return (void *)(uintptr_t)c->quantize[k->type];
    default: return (void *)(uintptr_t)c->to_float[k->type];
    }
}

/* ---- buffers: the harness's (guard bytes, or ending at an inaccessible page) - */

typedef ca_buf buf;
#define buf_new ca_buf_new
#define buf_at_page_end ca_buf_at_page_end
#define buf_free ca_buf_free
#define guards_ok ca_guards_ok

static size_t misalign_of(enum resa_type t)
{
    /* the type's own alignment (a float member: 4; fp16 fields: 2), never 16/32/64 */
    return t == RESA_TYPE_F32 || t == RESA_TYPE_Q8_K ? 4 : 2;
}

/* ---- inputs ------------------------------------------------------------------- */

static const int64_t sizes[] = {1, 7, 17, 33, 32, 64, 96, 256, 544, 576, 768, 1536, 4096};
#define N_SIZES (sizeof sizes / sizeof sizes[0])


/* A random fp16 scale of either sign, magnitude in [2^-12, 2^-2). */
static resa_f16 rnd_scale(void)
{
    const float mag = ldexpf(1.0f + (float)(rnd() % 1024) / 1024.0f, -12 + (int)(rnd() % 10));
    return type_f32_to_f16(rnd() & 1 ? -mag : mag);
}

static void fill_floats(float *x, int64_t n)
{
    const float scale = ldexpf(1.0f, (int)(rnd() % 8) - 4);
    for (int64_t i = 0; i < n; i++)
        x[i] = rndf() * scale;
}

/* A random weight row: raw random bits for quants (all nibble values, -128 in
 * Q8_0), random scales; the float types from random floats. With byte >= 0,
 * every byte but the fp16 scales is that byte: 0xff gives the largest codes
 * (and K-quant sub-block scales and mins), 0x00 the most negative IQ4 level
 * and Q3_K scale, the corners where an int16 step of a SIMD dot could
 * saturate. */
static void fill_weights_with(enum resa_type t, void *dst, int64_t n, int byte)
{
    const resa_type_traits *tr = type_traits_get(t);
    unsigned char *p = dst;
    const size_t bytes = type_row_size(t, n);
    for (size_t i = 0; i < bytes; i++)
        p[i] = (unsigned char)(byte >= 0 ? byte : (int)rnd());
    const int64_t nb = n / tr->block_size;
    switch (t) {
    case RESA_TYPE_F32:
    case RESA_TYPE_F16:
    case RESA_TYPE_BF16: {
        float *f = malloc((size_t)n * sizeof *f);
        fill_floats(f, n);
        tr->from_float(f, dst, n);
        free(f);
        break;
    }
    case RESA_TYPE_Q4_0:
        for (int64_t i = 0; i < nb; i++)
            ((block_q4_0 *)dst)[i].d = rnd_scale();
        break;
    case RESA_TYPE_Q4_1:
        for (int64_t i = 0; i < nb; i++) {
            ((block_q4_1 *)dst)[i].d = rnd_scale();
            ((block_q4_1 *)dst)[i].m = rnd_scale();
        }
        break;
    case RESA_TYPE_Q8_0:
        for (int64_t i = 0; i < nb; i++)
            ((block_q8_0 *)dst)[i].d = rnd_scale();
        break;
    default: { /* the other quants: every fp16 scale field, at its offset */
        size_t off[2] = {0, 0};
        int n_off = 1;
        switch (t) {
        case RESA_TYPE_Q5_1: off[1] = offsetof(block_q5_1, m); n_off = 2; break;
        case RESA_TYPE_Q2_K: off[0] = offsetof(block_q2_K, d); off[1] = offsetof(block_q2_K, dmin); n_off = 2; break;
        case RESA_TYPE_Q3_K: off[0] = offsetof(block_q3_K, d); break;
        case RESA_TYPE_Q4_K: off[1] = offsetof(block_q4_K, dmin); n_off = 2; break;
        case RESA_TYPE_Q5_K: off[1] = offsetof(block_q5_K, dmin); n_off = 2; break;
        case RESA_TYPE_Q6_K: off[0] = offsetof(block_q6_K, d); break;
        default: break; /* Q5_0, IQ4_NL, IQ4_XS: d first */
        }
        for (int64_t i = 0; i < nb; i++)
            for (int j = 0; j < n_off; j++) {
                const resa_f16 h = rnd_scale();
                memcpy(p + (size_t)i * tr->type_size + off[j], &h, sizeof h);
            }
        break;
    }
    }
}

static void fill_weights(enum resa_type t, void *dst, int64_t n)
{
    fill_weights_with(t, dst, n, -1);
}

/* Floats that exercise the quantizers' corners, block by block. */
static void fill_quant_input(float *x, int64_t n)
{
    for (int64_t b = 0; b < n / 32; b++) {
        float *v = x + 32 * b;
        switch (rnd() % 8) {
        case 0: /* all zero: d = 0, id = 0 */
            memset(v, 0, 32 * sizeof *v);
            break;
        case 1: /* amax 127 -> d = 1: every k + 0.5 is an exact tie */
            for (int j = 0; j < 32; j++)
                v[j] = (float)((int)(rnd() % 254) - 127) + 0.5f;
            v[rnd() % 32] = rnd() & 1 ? 127.0f : -127.0f;
            break;
        case 2: /* ties' neighbours */
            for (int j = 0; j < 32; j++)
                v[j] = nextafterf((float)((int)(rnd() % 254) - 127) + 0.5f, rnd() & 1 ? 1000.0f : -1000.0f);
            v[rnd() % 32] = 127.0f;
            v[rnd() % 32] = 0.49999997f;
            break;
        case 3: /* tiny and huge magnitudes (fp16 d underflows / overflows) */
            for (int j = 0; j < 32; j++)
                v[j] = rndf() * (rnd() & 1 ? 1e-30f : 1e30f);
            break;
        case 4: /* one sign */
            for (int j = 0; j < 32; j++)
                v[j] = -fabsf(rndf());
            break;
        default:
            fill_floats(v, 32);
        }
    }
}

/* ---- error bounds ---------------------------------------------------------------- */

/* S = sum of |terms| the dot adds up, in double, from the raw data. For the
 * int8 dots a term is |d_w * d_a| * sum |q_w * q_a| (+ |m * s|): the SIMD
 * tiers scale partial sums of a block separately, so cancellation inside a
 * block must not shrink the bound. */
static double dot_magnitude(enum resa_type t, int64_t n, const void *w, const void *a)
{
    double S = 0.0;
    if (t != RESA_TYPE_Q4_0 && t != RESA_TYPE_Q4_1 && t != RESA_TYPE_Q8_0) {
        /* float types, and the rest from dequantized values (their dots are
         * bit-exact, so the bound only matters for the float types) */
        const resa_type_traits *tr = type_traits_get(t);
        float *wf = malloc((size_t)n * sizeof *wf), *af = malloc((size_t)n * sizeof *af);
        tr->to_float(w, wf, n);
        type_traits_get(tr->vec_dot_type)->to_float(a, af, n);
        for (int64_t i = 0; i < n; i++)
            S += fabs((double)wf[i] * af[i]);
        free(wf);
        free(af);
        return S;
    }
    for (int64_t i = 0; i < n / 32; i++) {
        int sumi = 0; /* of |products| */
        double dw, da, extra = 0.0;
        if (t == RESA_TYPE_Q4_1) {
            const block_q4_1 *x = (const block_q4_1 *)w + i;
            const block_q8_1 *y = (const block_q8_1 *)a + i;
            for (int j = 0; j < 16; j++)
                sumi += abs((x->qs[j] & 15) * y->qs[j]) + abs((x->qs[j] >> 4) * y->qs[j + 16]);
            dw = type_f16_to_f32(x->d);
            da = type_f16_to_f32(y->d);
            extra = fabs((double)type_f16_to_f32(x->m) * type_f16_to_f32(y->s));
        } else {
            const block_q8_0 *y = (const block_q8_0 *)a + i;
            if (t == RESA_TYPE_Q4_0) {
                const block_q4_0 *x = (const block_q4_0 *)w + i;
                for (int j = 0; j < 16; j++)
                    sumi += abs(((x->qs[j] & 15) - 8) * y->qs[j]) + abs(((x->qs[j] >> 4) - 8) * y->qs[j + 16]);
                dw = type_f16_to_f32(x->d);
            } else {
                const block_q8_0 *x = (const block_q8_0 *)w + i;
                for (int j = 0; j < 32; j++)
                    sumi += abs(x->qs[j] * y->qs[j]);
                dw = type_f16_to_f32(x->d);
            }
            da = type_f16_to_f32(y->d);
        }
        S += fabs(dw * da * sumi) + extra;
    }
    return S;
}

static double dot_tolerance(enum resa_type t, int64_t n, double S)
{
    const resa_type_traits *tr = type_traits_get(t);
    const double terms = tr->block_size == 1 ? n / 16.0 + 16 : (double)(n / tr->block_size) + 8;
    return terms * 0x1p-23 * S + 1e-30;
}

/* ---- tests ------------------------------------------------------------------------- */

#define report ca_report

/* Returns 1 when every size passed. */
static int test_vec_dot(const struct kernel *k, const char *tier, resa_vec_dot_fn fn, resa_vec_dot_fn ref)
{
    const resa_type_traits *tr = type_traits_get(k->type);
    const resa_type_traits *ta = type_traits_get(tr->vec_dot_type);
    const int exact = tr->block_size > 1; /* the int8 dots */
    double worst = 0.0;
    for (size_t si = 0; si < N_SIZES; si++) {
        const int64_t n = sizes[si];
        if (n % tr->block_size)
            continue;
        for (int trial = 0; trial < 6; trial++) {
            const size_t wbytes = type_row_size(k->type, n), abytes = type_row_size(tr->vec_dot_type, n);
            const int at_end = trial & 1;
            buf W = at_end ? buf_at_page_end(wbytes) : buf_new(wbytes, misalign_of(k->type));
            buf A = at_end ? buf_at_page_end(abytes) : buf_new(abytes, misalign_of(tr->vec_dot_type));
            unsigned char *wcopy = malloc(wbytes), *acopy = malloc(abytes);
            float *af = malloc((size_t)n * sizeof *af);
            if (trial < 4) {
                fill_weights(k->type, W.p, n);
                fill_floats(af, n);
            } else { /* extremes: every activation +-127 against the largest codes */
                fill_weights_with(k->type, W.p, n, trial == 4 ? 0xff : 0x00);
                for (int64_t i = 0; i < n; i++)
                    af[i] = trial == 4 ? 1.0f : -1.0f;
            }
            ta->from_float(af, A.p, n); /* F32 copy, or the reference Q8 quantizer */
            memcpy(wcopy, W.p, wbytes);
            memcpy(acopy, A.p, abytes);

            float expect, out[3];
            memset(out, CA_GUARD_BYTE, sizeof out);
            ref(n, &expect, W.p, A.p);
            const int sig = call_vec_dot(fn, n, &out[1], W.p, A.p);
            uint32_t g0, g2, pattern;
            memcpy(&g0, &out[0], 4);
            memcpy(&g2, &out[2], 4);
            memset(&pattern, CA_GUARD_BYTE, 4);
            const double S = dot_magnitude(k->type, n, W.p, A.p);
            const double err = fabs((double)out[1] - expect), tol = dot_tolerance(k->type, n, S);

            const char *why = NULL;
            if (sig)
                why = sig == SIGILL ? "SIGILL" : sig == SIGSEGV ? "SIGSEGV" : "signal";
            else if (g0 != pattern || g2 != pattern)
                why = "wrote outside *s";
            else if (memcmp(wcopy, W.p, wbytes) || memcmp(acopy, A.p, abytes) || !guards_ok(&W) || !guards_ok(&A))
                why = "modified its inputs";
            else if (exact && memcmp(&out[1], &expect, sizeof expect))
                why = "result differs from the reference (int8 dots are bit-exact)";
            else if (!(err <= tol))
                why = "result out of tolerance";
            buf_free(&W);
            buf_free(&A);
            free(wcopy);
            free(acopy);
            free(af);
            if (why && sig) {
                report(0, k->name, tier, "n=%lld: %s", (long long)n, why);
                return 0;
            }
            if (why) {
                report(0, k->name, tier, "n=%lld: %s (got %.9g, expected %.9g, |err| %.3g, tol %.3g)",
                       (long long)n, why, (double)out[1], (double)expect, err, tol);
                return 0;
            }
            if (err / tol > worst)
                worst = err / tol;
        }
    }
    if (exact)
        report(1, k->name, tier, "bit-exact");
    else
        report(1, k->name, tier, "worst |err|/tol %.3f", worst);
    return 1;
}

static int test_quantize(const struct kernel *k, const char *tier, resa_quantize_fn fn, resa_quantize_fn ref)
{
    for (size_t si = 0; si < N_SIZES; si++) {
        const int64_t n = sizes[si];
        if (n % type_traits_get(k->type)->block_size)
            continue;
        for (int trial = 0; trial < 8; trial++) {
            const size_t bytes = type_row_size(k->type, n);
            buf X = trial & 1 ? buf_at_page_end((size_t)n * sizeof(float)) : buf_new((size_t)n * sizeof(float), 4);
            buf Y = buf_new(bytes, misalign_of(k->type)), R = buf_new(bytes, misalign_of(k->type));
            float *x = (float *)(void *)X.p;
            fill_quant_input(x, n);
            float *xcopy = malloc((size_t)n * sizeof *xcopy);
            memcpy(xcopy, x, (size_t)n * sizeof *xcopy);
            ref(x, R.p, n);
            const int sig = call_quantize(fn, x, Y.p, n);
            const char *why = NULL;
            long first = -1;
            if (sig)
                why = sig == SIGILL ? "SIGILL" : sig == SIGSEGV ? "SIGSEGV" : "signal";
            else if (!guards_ok(&Y) || !guards_ok(&X))
                why = "wrote outside its output";
            else if (memcmp(xcopy, x, (size_t)n * sizeof *xcopy))
                why = "modified its input";
            else if (memcmp(Y.p, R.p, bytes)) {
                why = "output differs from the reference";
                for (size_t i = 0; i < bytes && first < 0; i++)
                    if (Y.p[i] != R.p[i])
                        first = (long)i;
            }
            buf_free(&X);
            buf_free(&Y);
            buf_free(&R);
            free(xcopy);
            if (why) {
                report(0, k->name, tier, "n=%lld: %s%s", (long long)n, why,
                       first >= 0 ? " (see first differing byte below)" : "");
                if (first >= 0)
                    printf("    first difference at byte %ld (block %ld)\n", first,
                           first / (long)type_traits_get(k->type)->type_size);
                return 0;
            }
        }
    }
    report(1, k->name, tier, "bit-exact");
    return 1;
}

/* Row conversion: every f16 bit pattern (NaNs included) and awkward lengths,
 * bit-exact against the reference, guards intact. */
static int test_to_float(const struct kernel *k, const char *tier, resa_to_float_fn fn, resa_to_float_fn ref)
{
    static const int64_t lens[] = {1, 7, 17, 33, 1023, 65536};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        const int64_t n = lens[li];
        buf X = buf_new((size_t)n * 2, 2), Y = buf_new((size_t)n * 4, 4), R = buf_new((size_t)n * 4, 4);
        resa_f16 *x = (resa_f16 *)(void *)X.p;
        for (int64_t i = 0; i < n; i++)
            x[i] = n == 65536 ? (resa_f16)i : (resa_f16)rnd();
        ref(x, (float *)(void *)R.p, n);
        const int sig = call_to_float(fn, x, (float *)(void *)Y.p, n);
        const char *why = sig ? "signal" : !guards_ok(&Y) ? "wrote outside its output"
                        : memcmp(Y.p, R.p, (size_t)n * 4) ? "output differs from the reference" : NULL;
        buf_free(&X);
        buf_free(&Y);
        buf_free(&R);
        if (why) {
            report(0, k->name, tier, "n=%lld: %s", (long long)n, why);
            return 0;
        }
    }
    report(1, k->name, tier, "bit-exact over all f16 values");
    return 1;
}

/* ---- gemm ------------------------------------------------------------------------------ */

static int call_gemm(resa_gemm_fn fn, int64_t n, int nr, int nc, const void *w, size_t ldw, const void *a,
                     size_t lda, float *s, size_t lds)
{
    kcall c = {.kind = CALL_GEMM, .fn = (const void *)(uintptr_t)fn, .n = n, .nr = nr, .nc = nc,
               .w = w, .ldw = ldw, .a = a, .lda = lda, .s = s, .lds = lds};
    return ca_call(run_kcall, &c);
}

static const enum resa_type gemm_types[] = {
    RESA_TYPE_F32,  RESA_TYPE_F16,  RESA_TYPE_BF16,   RESA_TYPE_Q4_0, RESA_TYPE_Q4_1, RESA_TYPE_Q8_0,
    RESA_TYPE_Q5_0, RESA_TYPE_Q5_1, RESA_TYPE_IQ4_NL, RESA_TYPE_Q2_K, RESA_TYPE_Q3_K, RESA_TYPE_Q4_K,
    RESA_TYPE_Q5_K, RESA_TYPE_Q6_K, RESA_TYPE_IQ4_XS};
#define N_GEMM_TYPES (sizeof gemm_types / sizeof gemm_types[0])

/* The gemm operand for columns [0, nc) of the activation rows: panels (int8
 * types; 32-byte aligned like the engine's, or ending at a page) or the f32
 * rows themselves (float types). */
static buf gemm_operand(enum resa_type t, int64_t n, int nc, const float *af, const void *aq, int at_end,
                        size_t *lda)
{
    const resa_type_traits *tr = type_traits_get(t);
    if (tr->block_size == 1) {
        const size_t bytes = (size_t)nc * (size_t)n * sizeof(float);
        buf B = at_end ? buf_at_page_end(bytes) : buf_new(bytes, 4);
        memcpy(B.p, af, bytes);
        *lda = (size_t)n * sizeof(float);
        return B;
    }
    if (resa_type_is_k(t)) { /* Q8_K rows as they are */
        const size_t arow = type_row_size(tr->vec_dot_type, n), bytes = (size_t)nc * arow;
        buf B = at_end ? buf_at_page_end(bytes) : buf_new(bytes, 4);
        memcpy(B.p, aq, bytes);
        *lda = arow;
        return B;
    }
    const int64_t nb = n / 32;
    const size_t arow = type_row_size(tr->vec_dot_type, n), bytes = (size_t)((nc + 7) / 8 * nb) * sizeof(resa_dot_panel);
    buf B = at_end ? buf_at_page_end(bytes) : buf_new(bytes, 32);
    resa_dot_panel *p = (resa_dot_panel *)(void *)B.p;
    for (int c0 = 0; c0 < nc; c0 += RESA_PANEL_COLS)
        dot_pack(tr->vec_dot_type, (const char *)aq + (size_t)c0 * arow, arow,
                      nc - c0 < RESA_PANEL_COLS ? nc - c0 : RESA_PANEL_COLS, n, p + (size_t)(c0 / 8 * nb));
    *lda = 0;
    return B;
}

/* One tile shape: gemm of weight rows [4 - nr, 4) against columns [0, nc),
 * each output bit-identical to expect[r][c] (vec_dot), nothing written
 * outside the tile (lds leaves gaps), inputs unchanged. NULL when fine. */
static const char *check_gemm_shape(enum resa_type t, resa_gemm_fn fn, int64_t n, int nr, int nc, const buf *W,
                                    size_t ldw, const float *af, const void *aq, int at_end,
                                    float expect[RESA_GEMM_MR][RESA_GEMM_NC], char *detail, size_t detail_len)
{
    size_t lda;
    buf A = gemm_operand(t, n, nc, af, aq, at_end, &lda);
    unsigned char *acopy = malloc(A.n);
    memcpy(acopy, A.p, A.n);
    const size_t lds = (size_t)nr + 3;
    buf S = buf_new((size_t)nc * lds * sizeof(float), 4);
    memset(S.p, CA_GUARD_BYTE, S.n);
    const unsigned char *w = W->p + (size_t)(RESA_GEMM_MR - nr) * ldw;
    const int sig = call_gemm(fn, n, nr, nc, w, ldw, A.p, lda, (float *)(void *)S.p, lds);
    const char *why = NULL;
    if (sig)
        why = sig == SIGILL ? "SIGILL" : sig == SIGSEGV ? "SIGSEGV" : "signal";
    else if (!guards_ok(&S) || !guards_ok(&A) || memcmp(acopy, A.p, A.n))
        why = "wrote outside its output";
    for (int c = 0; c < nc && !why; c++)
        for (size_t r = 0; r < lds && !why; r++) {
            const unsigned char *got = S.p + ((size_t)c * lds + r) * sizeof(float);
            if ((int)r >= nr) {
                for (size_t i = 0; i < sizeof(float); i++)
                    if (got[i] != CA_GUARD_BYTE)
                        why = "wrote outside the tile";
            } else if (memcmp(got, &expect[RESA_GEMM_MR - nr + (int)r][c], sizeof(float))) {
                float g;
                memcpy(&g, got, sizeof g);
                snprintf(detail, detail_len, " at r=%d c=%d: %.9g, vec_dot %.9g", (int)r, c, (double)g,
                         (double)expect[RESA_GEMM_MR - nr + (int)r][c]);
                why = "differs from vec_dot";
            }
        }
    buf_free(&A);
    buf_free(&S);
    free(acopy);
    return why;
}

/* gemm[t] of a tier against the same tier's vec_dot[t]: every tile shape
 * (1..RESA_GEMM_MR rows x 1..RESA_GEMM_NC columns) at a few sizes, bit for bit; weights, panels
 * and f32 rows alternately ending at an inaccessible page (a P = 1 tile must
 * not touch a second panel). For the quantized types a quarter of the
 * activation columns are all +127 and a quarter all -127, and in the second
 * trial a quarter of the weight rows have the largest codes (bytes 0xff) and
 * a quarter bytes 0x00: the corners where a gemm's int16 partial sums would
 * wrap if a bound in its comments were wrong (random data stays far below). */
static int test_gemm(enum resa_type t, const char *tier, const resa_dot_ctx *ctx)
{
    static const int64_t gsizes[] = {7, 33, 32, 96, 256, 576, 1536};
    const resa_type_traits *tr = type_traits_get(t), *ta = type_traits_get(tr->vec_dot_type);
    const resa_gemm_fn fn = ctx->gemm[t];
    const resa_vec_dot_fn dot = ctx->vec_dot[t];
    char name[32];
    snprintf(name, sizeof name, "gemm_%s", tr->name);
    for (size_t si = 0; si < sizeof gsizes / sizeof gsizes[0]; si++) {
        const int64_t n = gsizes[si];
        if (n % tr->block_size)
            continue;
        const size_t wrow = type_row_size(t, n), arow = type_row_size(tr->vec_dot_type, n);
        float *af = malloc((size_t)RESA_GEMM_NC * (size_t)n * sizeof *af);
        unsigned char *aq = malloc((size_t)RESA_GEMM_NC * arow);
        for (int c = 0; c < RESA_GEMM_NC; c++) {
            fill_floats(af + (size_t)c * n, n);
            if (tr->block_size > 1 && c % 2) /* extremes: all +127 or all -127 */
                for (int64_t i = 0; i < n; i++)
                    af[(size_t)c * n + (size_t)i] = c % 4 == 1 ? 1.0f : -1.0f;
            ta->from_float(af + (size_t)c * n, aq + (size_t)c * arow, n); /* f32 copy or reference quantizer */
        }
        for (int trial = 0; trial < 2; trial++) {
            const int at_end = trial & 1;
            const size_t ldw = wrow + (at_end ? 0 : 2 * misalign_of(t)); /* a gap between rows */
            const size_t wbytes = (size_t)(RESA_GEMM_MR - 1) * ldw + wrow;
            buf W = at_end ? buf_at_page_end(wbytes) : buf_new(wbytes, misalign_of(t));
            for (int r = 0; r < RESA_GEMM_MR; r++)
                fill_weights_with(t, W.p + (size_t)r * ldw, n,
                                  tr->block_size == 1 || !at_end || r % 2 == 0 ? -1 : r % 4 == 1 ? 0xff : 0x00);
            float expect[RESA_GEMM_MR][RESA_GEMM_NC];
            for (int r = 0; r < RESA_GEMM_MR; r++)
                for (int c = 0; c < RESA_GEMM_NC; c++)
                    dot(n, &expect[r][c], W.p + (size_t)r * ldw, tr->block_size == 1 ? (const void *)(af + (size_t)c * n) : (const void *)(aq + (size_t)c * arow));
            for (int nr = 1; nr <= RESA_GEMM_MR; nr++)
                for (int nc = 1; nc <= RESA_GEMM_NC; nc++) {
                    char detail[96] = "";
                    const char *why = check_gemm_shape(t, fn, n, nr, nc, &W, ldw, af, aq, at_end, expect, detail,
                                                       sizeof detail);
                    if (!why && !guards_ok(&W))
                        why = "modified its weights";
                    if (why) {
                        report(0, name, tier, "n=%lld %dx%d: %s%s", (long long)n, nr, nc, why, detail);
                        buf_free(&W);
                        free(af);
                        free(aq);
                        return 0;
                    }
                }
            buf_free(&W);
        }
        free(af);
        free(aq);
    }
    report(1, name, tier, "bit-exact with vec_dot, tiles 1..%d x 1..%d", RESA_GEMM_MR, RESA_GEMM_NC);
    return 1;
}

static int call_gemv(resa_gemv_fn fn, int64_t n, int nr, int nc, const void *w, size_t ldw, const void *a,
                     size_t lda, float *s, size_t lds)
{
    kcall c = {.kind = CALL_GEMV, .fn = (const void *)(uintptr_t)fn, .n = n, .nr = nr, .nc = nc, .w = w,
               .ldw = ldw, .a = a, .lda = lda, .s = s, .lds = lds};
    return ca_call(run_kcall, &c);
}

/* gemv[t] of a tier against the same tier's vec_dot[t], bit for bit: row
 * counts around the 8-row groups, 1..RESA_GEMV_MAX_COLS activation rows
 * (around the kernels' groups of four), rows with a gap between them or
 * ending at an inaccessible page, guards around the output. */
static int test_gemv(enum resa_type t, const char *tier, const resa_dot_ctx *ctx)
{
    static const int64_t gsizes[] = {7, 33, 32, 96, 256, 576, 1536};
    static const int rows[] = {1, 7, 8, 9, 16, 23, 40};
    static const int cols[] = {1, 2, 3, 4, 5, RESA_GEMV_MAX_COLS};
    const resa_type_traits *tr = type_traits_get(t), *ta = type_traits_get(tr->vec_dot_type);
    char name[32];
    snprintf(name, sizeof name, "gemv_%s", tr->name);
    for (size_t si = 0; si < sizeof gsizes / sizeof gsizes[0]; si++) {
        const int64_t n = gsizes[si];
        if (n % tr->block_size)
            continue;
        for (size_t ri = 0; ri < sizeof rows / sizeof rows[0]; ri++) {
            const int nr = rows[ri], nc = cols[(si + ri) % (sizeof cols / sizeof cols[0])], at_end = (int)(ri & 1);
            const size_t wrow = type_row_size(t, n), arow = type_row_size(tr->vec_dot_type, n);
            const size_t ldw = wrow + (at_end ? 0 : 2 * misalign_of(t));
            const size_t lda = arow + (at_end ? 0 : 2 * misalign_of(tr->vec_dot_type));
            const size_t lds = (size_t)nr + (size_t)(ri % 3); /* output rows with a gap, sometimes */
            const size_t wbytes = (size_t)(nr - 1) * ldw + wrow, abytes = (size_t)(nc - 1) * lda + arow;
            const size_t sbytes = ((size_t)(nc - 1) * lds + (size_t)nr) * sizeof(float);
            buf W = at_end ? buf_at_page_end(wbytes) : buf_new(wbytes, misalign_of(t));
            buf A = at_end ? buf_at_page_end(abytes) : buf_new(abytes, misalign_of(tr->vec_dot_type));
            buf S = buf_new(sbytes, 4);
            float *af = malloc((size_t)n * sizeof *af), *expect = malloc((size_t)nc * nr * sizeof *expect);
            for (int r = 0; r < nr; r++)
                fill_weights(t, W.p + (size_t)r * ldw, n);
            for (int c = 0; c < nc; c++) {
                fill_floats(af, n);
                ta->from_float(af, A.p + (size_t)c * lda, n);
            }
            for (int c = 0; c < nc; c++)
                for (int r = 0; r < nr; r++)
                    ctx->vec_dot[t](n, &expect[(size_t)c * nr + r], W.p + (size_t)r * ldw, A.p + (size_t)c * lda);
            const int sig = call_gemv(ctx->gemv[t], n, nr, nc, W.p, ldw, A.p, lda, (float *)(void *)S.p, lds);
            const char *why = NULL;
            int bad = -1, bad_c = 0;
            if (sig)
                why = sig == SIGILL ? "SIGILL" : sig == SIGSEGV ? "SIGSEGV" : "signal";
            else if (!guards_ok(&S) || !guards_ok(&W) || !guards_ok(&A))
                why = "wrote outside its output";
            for (int c = 0; c < nc && !why; c++)
                for (int r = 0; r < nr && !why; r++)
                    if (memcmp(S.p + ((size_t)c * lds + r) * sizeof(float), &expect[(size_t)c * nr + r],
                               sizeof(float))) {
                        why = "differs from vec_dot";
                        bad = r;
                        bad_c = c;
                    }
            buf_free(&W);
            buf_free(&A);
            buf_free(&S);
            free(af);
            free(expect);
            if (why) {
                report(0, name, tier, "n=%lld rows=%d cols=%d: %s at row %d col %d", (long long)n, nr, nc, why,
                       bad, bad_c);
                return 0;
            }
        }
    }
    report(1, name, tier, "bit-exact with vec_dot, 1..%d activation rows", RESA_GEMV_MAX_COLS);
    return 1;
}

/* First use of the dispatcher from many threads at once (as OpenMP workers
 * would): every thread must see the same, complete table. Run before anything
 * else touches dot_kernels(). */
enum { N_THREADS = 8 };
static atomic_int threads_go;

static void *dispatch_thread(void *arg)
{
    while (!atomic_load(&threads_go))
        ;
    *(const resa_dot_ctx **)arg = dot_kernels();
    return NULL;
}

static void test_dispatch_threads(void)
{
    pthread_t t[N_THREADS];
    const resa_dot_ctx *got[N_THREADS] = {0};
    int started = 0;
    for (int i = 0; i < N_THREADS; i++)
        started += !pthread_create(&t[i], NULL, dispatch_thread, &got[i]);
    atomic_store(&threads_go, 1);
    for (int i = 0; i < N_THREADS; i++)
        if (i < started)
            pthread_join(t[i], NULL);
    resa_dot_ctx want;
    build_ctx(&want, cpu_flags());
    int ok = started == N_THREADS;
    for (int i = 0; i < started; i++)
        ok &= got[i] == got[0] && !memcmp(got[i], &want, sizeof want);
    report(ok, "dispatch", "threads", "first use from %d threads", N_THREADS);
}

/* The dispatcher hands out the table the init functions build for the flags,
 * and the cap works. */
static void test_dispatch(void)
{
    resa_dot_ctx want;
    build_ctx(&want, cpu_flags());
    report(!memcmp(dot_kernels(), &want, sizeof want), "dispatch", cpu_tier_name(cpu_flags()),
           "dot_kernels() table");
    report(cpu_set_cap("no-such-tier") == -1, "dispatch", "cap", "unknown cap rejected");

    resa_dot_ctx scalar;
    dot_init_c(&scalar);
    const int ok = cpu_set_cap("scalar") == 0 && cpu_flags() == 0 &&
                   !memcmp(dot_kernels(), &scalar, sizeof scalar) && !strcmp(cpu_tier_name(0), "scalar");
    report(ok, "dispatch", "scalar", "cap to scalar");

    int complete = 1;
    for (size_t i = 0; i < N_KERNELS; i++)
        complete &= kernel_ptr(&scalar, &kernels[i]) != NULL;
    for (size_t i = 0; i < N_GEMM_TYPES; i++)
        complete &= scalar.gemm[gemm_types[i]] != NULL && scalar.gemv[gemm_types[i]] != NULL;
    report(complete, "dispatch", "c", "scalar table complete");
}

/* ---- bench --------------------------------------------------------------------------- */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static volatile float bench_sink;

/* Median over 21 repeats of the time per call, ns. */
static double time_kernel(const struct kernel *k, const void *fn, int64_t n, const void *w, const void *a,
                          const float *x, void *y)
{
    enum { REPEATS = 21 };
    double t[REPEATS];
    int iters = 1;
    for (;;) { /* calibrate to about 0.2 ms per repeat */
        const double t0 = now_ns();
        for (int i = 0; i < iters; i++) {
            if (k->kind == VEC_DOT) {
                float s;
                ((resa_vec_dot_fn)(uintptr_t)fn)(n, &s, w, a);
                bench_sink = s;
            } else {
                ((resa_quantize_fn)(uintptr_t)fn)(x, y, n);
            }
        }
        if (now_ns() - t0 > 2e5 || iters >= 1 << 20)
            break;
        iters *= 2;
    }
    for (int r = 0; r < REPEATS; r++) {
        const double t0 = now_ns();
        for (int i = 0; i < iters; i++) {
            if (k->kind == VEC_DOT) {
                float s;
                ((resa_vec_dot_fn)(uintptr_t)fn)(n, &s, w, a);
                bench_sink = s;
            } else {
                ((resa_quantize_fn)(uintptr_t)fn)(x, y, n);
            }
        }
        t[r] = (now_ns() - t0) / iters;
    }
    qsort(t, REPEATS, sizeof t[0], cmp_double);
    return t[REPEATS / 2];
}

static void bench_kernel(const struct kernel *k, const char *tier, const void *fn, const void *ref)
{
    const int64_t n = 4096;
    const resa_type_traits *tr = type_traits_get(k->type);
    void *w = NULL, *a = NULL, *y = NULL;
    float *x = malloc((size_t)n * sizeof *x);
    fill_floats(x, n);
    if (k->kind == VEC_DOT) {
        w = malloc(type_row_size(k->type, n));
        a = malloc(type_row_size(tr->vec_dot_type, n));
        fill_weights(k->type, w, n);
        type_traits_get(tr->vec_dot_type)->from_float(x, a, n);
    } else if (k->kind == QUANTIZE) {
        y = malloc(type_row_size(k->type, n));
    } else { /* TO_FLOAT: x's bytes serve as the f16 source, y gets n floats */
        y = malloc((size_t)n * sizeof(float));
    }
    const double t_ref = time_kernel(k, ref, n, w, a, x, y);
    const double t = time_kernel(k, fn, n, w, a, x, y);
    char name[64];
    snprintf(name, sizeof name, "%s_%s", k->name, tier);
    printf("  %-28s n=%-5lld %10.1f ns  (scalar %10.1f ns)  %6.2fx\n", name, (long long)n, t, t_ref,
           t_ref / t);
    free(x);
    free(w);
    free(a);
    free(y);
}

/* The decode-time shape: rows of 576 weights, 512 MiB of them (as much as
 * the read-bandwidth stream: more than any cache, 300 MiB of L3 included),
 * times one activation vector, the gemv kernel as the engine runs it.
 * Reports the effective weight bandwidth and its fraction of the read
 * bandwidth measured in the same run (bw, GB/s). */
static void bench_matvec(enum resa_type t, const resa_dot_ctx *c, const char *tier, int threads, double bw, int nc)
{
    /* super-block types: rows of 2048 (Gemma 3 270M's ffn_down), 576 is not a multiple of 256 */
    const int64_t n = type_traits_get(t)->block_size == QK_K ? 2048 : 576;
    const resa_type_traits *tr = type_traits_get(t);
    const size_t row_bytes = type_row_size(t, n);
    const int64_t rows = ((int64_t)512 << 20) / (int64_t)row_bytes / 64 * 64;
    unsigned char *wm = malloc(row_bytes * (size_t)rows);
    float *x = malloc((size_t)n * sizeof *x), *out = malloc((size_t)nc * rows * sizeof *out);
    const size_t arow = type_row_size(tr->vec_dot_type, n);
    void *a = malloc((size_t)nc * arow);
    for (int64_t r = 0; r < rows; r++)
        fill_weights(t, wm + (size_t)r * row_bytes, n);
    fill_floats(x, n);
    const resa_gemv_fn fn = c->gemv[t];
    const resa_quantize_fn q = c->quantize[tr->vec_dot_type];
    enum { REPEATS = 15 };
    double times[REPEATS];
    for (int rep = 0; rep < REPEATS; rep++) {
        const double t0 = now_ns();
        for (int k = 0; k < nc; k++) {
            if (q)
                q(x, (char *)a + (size_t)k * arow, n);
            else
                memcpy((char *)a + (size_t)k * arow, x, (size_t)n * sizeof *x);
        }
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static)
#endif
        for (int64_t r = 0; r < rows; r += 64) /* slices of 64 rows, as src/matmul.c hands out */
            fn(n, rows - r < 64 ? (int)(rows - r) : 64, nc, wm + (size_t)r * row_bytes, row_bytes, a, arow, &out[r],
               (size_t)rows);
        times[rep] = now_ns() - t0;
    }
    qsort(times, REPEATS, sizeof times[0], cmp_double);
    const double med = times[REPEATS / 2];
    char name[64];
    if (nc > 1)
        snprintf(name, sizeof name, "matvec%d_%s_%s", nc, tr->name, tier);
    else
        snprintf(name, sizeof name, "matvec_%s_%s", tr->name, tier);
    const double gbs = (double)row_bytes * (double)rows / med;
    printf("  %-28s %lldx%lld %d thr %8.3f ms  %6.2f GB/s  %4.0f%% of read bandwidth  %.2f ms per row\n", name,
           (long long)rows, (long long)n, threads, med * 1e-6, gbs, 100 * gbs / bw, med * 1e-6 / nc);
    bench_sink = out[rows / 2];
    free(wm);
    free(x);
    free(out);
    free(a);
}

/* The prefill shape: a rows x cols weight matrix times ntok activation rows,
 * both ways the engine can do it: the tier's gemm over panels (packing
 * included; row chunks of 16 across threads, each chunk against every
 * column pair of panels, as src/matmul.c does), and the vec_dot loop it
 * replaced (16-row tiles, every token, every row). Reports GFLOP/s. */
static void bench_gemm(enum resa_type t, const resa_dot_ctx *c, const char *tier, int64_t rows, int64_t cols,
                       int ntok, int threads)
{
    const resa_type_traits *tr = type_traits_get(t);
    const size_t wrow = type_row_size(t, cols), arow = type_row_size(tr->vec_dot_type, cols);
    const int64_t nb = cols / 32;
    const int np = (ntok + 7) / 8;
    unsigned char *wm = malloc(wrow * (size_t)rows), *aq = malloc(arow * (size_t)ntok);
    float *x = malloc((size_t)ntok * (size_t)cols * sizeof *x), *y = malloc((size_t)ntok * (size_t)rows * sizeof *y);
    resa_dot_panel *pan = aligned_alloc(64, (size_t)(np * nb) * sizeof *pan);
    for (int64_t r = 0; r < rows; r++)
        fill_weights(t, wm + (size_t)r * wrow, cols);
    fill_floats(x, (int64_t)ntok * cols);
    const resa_gemm_fn gemm = c->gemm[t];
    const resa_vec_dot_fn dot = c->vec_dot[t];
    const resa_quantize_fn q = c->quantize[tr->vec_dot_type];
    const int rowwise = tr->vec_dot_type == RESA_TYPE_Q8_K; /* the super-block gemms read Q8_K rows, not panels */
    enum { REPEATS = 5, CHUNK = 16 };
    double tg[REPEATS], td[REPEATS];
    for (int rep = 0; rep < REPEATS; rep++) {
        double t0 = now_ns();
        for (int i = 0; i < ntok; i++)
            q(x + (size_t)i * cols, aq + (size_t)i * arow, cols);
        for (int p = 0; p < np && !rowwise; p++)
            dot_pack(tr->vec_dot_type, aq + (size_t)p * 8 * arow, arow, ntok - 8 * p < 8 ? ntok - 8 * p : 8,
                          cols, pan + (size_t)p * nb);
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static)
#endif
        for (int64_t r0 = 0; r0 < rows; r0 += CHUNK)
            for (int c0 = 0; c0 < ntok; c0 += RESA_GEMM_NC)
                for (int64_t r = r0; r < r0 + CHUNK && r < rows; r += RESA_GEMM_MR)
                    gemm(cols, rows - r < RESA_GEMM_MR ? (int)(rows - r) : RESA_GEMM_MR,
                         ntok - c0 < RESA_GEMM_NC ? ntok - c0 : RESA_GEMM_NC, wm + (size_t)r * wrow, wrow,
                         rowwise ? (const void *)(aq + (size_t)c0 * arow) : (const void *)(pan + (size_t)(c0 / 8) * nb),
                         rowwise ? arow : 0, y + (size_t)c0 * rows + r, (size_t)rows);
        tg[rep] = now_ns() - t0;
        t0 = now_ns();
        for (int i = 0; i < ntok; i++)
            q(x + (size_t)i * cols, aq + (size_t)i * arow, cols);
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static)
#endif
        for (int64_t r0 = 0; r0 < rows; r0 += CHUNK)
            for (int i = 0; i < ntok; i++)
                for (int64_t r = r0; r < r0 + CHUNK && r < rows; r++)
                    dot(cols, &y[(size_t)i * rows + r], wm + (size_t)r * wrow, aq + (size_t)i * arow);
        td[rep] = now_ns() - t0;
    }
    qsort(tg, REPEATS, sizeof tg[0], cmp_double);
    qsort(td, REPEATS, sizeof td[0], cmp_double);
    const double flop = 2.0 * (double)rows * (double)cols * ntok;
    char name[64];
    snprintf(name, sizeof name, "gemm_%s_%s", tr->name, tier);
    printf("  %-28s %lldx%lld x %d tok %d thr: gemm %7.2f GFLOP/s, vec_dot loop %7.2f GFLOP/s  %5.2fx\n", name,
           (long long)rows, (long long)cols, ntok, threads, flop / tg[REPEATS / 2], flop / td[REPEATS / 2],
           td[REPEATS / 2] / tg[REPEATS / 2]);
    bench_sink = y[0];
    free(wm);
    free(aq);
    free(x);
    free(y);
    free(pan);
}

/* ---- main ---------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    ca_init(argc, argv, "checksimd");
    const unsigned flags = ca_opt.flags;
    const int bench = ca_opt.bench, all_tiers = ca_opt.all_tiers;
    const char *pattern = ca_opt.pattern;
    test_dispatch_threads(); /* first, while dot_kernels() is still unbuilt */

    resa_dot_ctx scalar;
    dot_init_c(&scalar);
    const void *tested[N_TIERS * N_KERNELS];
    size_t n_tested = 0;
    int tiers_run = 0;

    for (size_t ti = 0; ti < N_TIERS; ti++) {
        if ((tiers[ti].flags & flags) != tiers[ti].flags && !all_tiers)
            continue;
        tiers_run++;
        resa_dot_ctx c;
        build_ctx(&c, tiers[ti].flags);
        printf("tier %s\n", tiers[ti].name);
        for (size_t ki = 0; ki < N_KERNELS; ki++) {
            const struct kernel *k = &kernels[ki];
            const void *fn = kernel_ptr(&c, k), *ref = kernel_ptr(&scalar, k);
            int seen = fn == ref;
            for (size_t j = 0; j < n_tested && !seen; j++)
                seen = tested[j] == fn;
            if (seen || !fn)
                continue;
            tested[n_tested++] = fn;
            if (k->kind == VEC_DOT)
                test_vec_dot(k, tiers[ti].name, c.vec_dot[k->type], scalar.vec_dot[k->type]);
            else if (k->kind == QUANTIZE)
                test_quantize(k, tiers[ti].name, c.quantize[k->type], scalar.quantize[k->type]);
            else
                test_to_float(k, tiers[ti].name, c.to_float[k->type], scalar.to_float[k->type]);
            char full[64];
            snprintf(full, sizeof full, "%s_%s", k->name, tiers[ti].name);
            if (bench && strstr(full, pattern))
                bench_kernel(k, tiers[ti].name, fn, ref);
        }
    }
    if (!tiers_run)
        printf("no SIMD tier on this CPU (or capped): only the dispatcher is tested\n");

    /* gemm and gemv: every tier's (the scalar one first) against its own vec_dot */
    printf("gemm, gemv\n");
    const void *gemm_seen[(N_TIERS + 1) * N_GEMM_TYPES][3];
    size_t n_gemm_seen = 0;
    for (int ti = -1; ti < (int)N_TIERS; ti++) {
        resa_dot_ctx c = scalar;
        if (ti >= 0) {
            if ((tiers[ti].flags & flags) != tiers[ti].flags && !all_tiers)
                continue;
            build_ctx(&c, tiers[ti].flags);
        }
        for (size_t gi = 0; gi < N_GEMM_TYPES; gi++) {
            const enum resa_type t = gemm_types[gi];
            const void *g = (const void *)(uintptr_t)c.gemm[t], *d = (const void *)(uintptr_t)c.vec_dot[t];
            const void *v = (const void *)(uintptr_t)c.gemv[t];
            int seen = 0;
            for (size_t j = 0; j < n_gemm_seen && !seen; j++)
                seen = gemm_seen[j][0] == g && gemm_seen[j][1] == d && gemm_seen[j][2] == v;
            if (seen || !g || !v)
                continue;
            gemm_seen[n_gemm_seen][0] = g;
            gemm_seen[n_gemm_seen][1] = d;
            gemm_seen[n_gemm_seen++][2] = v;
            test_gemm(t, ti < 0 ? "c" : tiers[ti].name, &c);
            test_gemv(t, ti < 0 ? "c" : tiers[ti].name, &c);
        }
    }

    if (bench) {
        static const enum resa_type mv[] = {RESA_TYPE_Q4_0, RESA_TYPE_Q4_1, RESA_TYPE_Q8_0, RESA_TYPE_F16,
                                            RESA_TYPE_Q5_0, RESA_TYPE_Q5_1, RESA_TYPE_IQ4_NL, RESA_TYPE_Q2_K,
                                            RESA_TYPE_Q3_K, RESA_TYPE_Q4_K, RESA_TYPE_Q5_K, RESA_TYPE_Q6_K,
                                            RESA_TYPE_IQ4_XS};
        const resa_dot_ctx *best = dot_kernels();
        int want_mv = 0;
        for (size_t i = 0; i < sizeof mv / sizeof mv[0]; i++) {
            char name[32];
            snprintf(name, sizeof name, "matvec_%s", type_traits_get(mv[i])->name);
            want_mv |= strstr(name, pattern) != NULL;
        }
        for (int threads = 1; threads <= 2 && want_mv; threads++) {
            const double bw = ca_read_bandwidth(threads);
            printf("  %d thread%s: read bandwidth %.1f GB/s\n", threads, threads > 1 ? "s" : "", bw);
            for (size_t i = 0; i < sizeof mv / sizeof mv[0]; i++) {
                char name[32];
                snprintf(name, sizeof name, "matvec_%s", type_traits_get(mv[i])->name);
                if (!strstr(name, pattern))
                    continue;
                bench_matvec(mv[i], &scalar, "c", threads, bw, 1);
                for (size_t ti = 0; ti < N_TIERS; ti++) { /* every tier this CPU runs */
                    if ((tiers[ti].flags & flags) != tiers[ti].flags)
                        continue;
                    resa_dot_ctx c;
                    build_ctx(&c, tiers[ti].flags);
                    if (c.gemv[mv[i]] != scalar.gemv[mv[i]])
                        for (int nc = 1; nc <= RESA_GEMV_MAX_COLS; nc *= 2) /* one sequence, or several */
                            bench_matvec(mv[i], &c, tiers[ti].name, threads, bw, nc);
                }
            }
        }
        /* with_c: the scalar panel gemm too (Q5_0, Q5_1 and IQ4_NL had only it before their SIMD ones) */
        static const struct { enum resa_type t; int64_t rows, cols; int with_c; } gb[] = {
            {RESA_TYPE_Q4_1, 576, 1536, 0}, {RESA_TYPE_Q4_1, 49152, 576, 0}, {RESA_TYPE_Q4_0, 576, 1536, 0},
            {RESA_TYPE_Q8_0, 576, 1536, 0}, {RESA_TYPE_Q8_0, 49152, 576, 0}, {RESA_TYPE_Q5_0, 576, 1536, 1},
            {RESA_TYPE_Q5_1, 576, 1536, 1}, {RESA_TYPE_IQ4_NL, 576, 1536, 1},
            {RESA_TYPE_Q4_K, 640, 2048, 0}, {RESA_TYPE_Q6_K, 640, 2048, 0}, /* Gemma 3 270M's ffn_down */
        };
        for (size_t i = 0; i < sizeof gb / sizeof gb[0]; i++) {
            char name[32];
            snprintf(name, sizeof name, "gemm_%s", type_traits_get(gb[i].t)->name);
            if (!strstr(name, pattern))
                continue;
            if (gb[i].with_c)
                bench_gemm(gb[i].t, &scalar, "c", gb[i].rows, gb[i].cols, 64, 1);
            bench_gemm(gb[i].t, best, cpu_tier_name(flags), gb[i].rows, gb[i].cols, 64, 1);
#ifdef _OPENMP
            bench_gemm(gb[i].t, best, cpu_tier_name(flags), gb[i].rows, gb[i].cols, 64, 2);
#endif
        }
    }

    test_dispatch(); /* last: it changes the cap */

    return ca_finish();
}
