/* SPDX-License-Identifier: MIT */
/* checksimd_chunk: the "chunk" kernels (causal attention of n tokens x a
 * query group against keys [j0, j1) of one KV head, continuing per-row
 * online-softmax states) of every tier this CPU has, against the scalar
 * reference bit for bit; the scalar reference itself against a
 * double-precision oracle written here, within bounds.
 *
 *   checksimd_chunk [--seed=N] [--cpu=NAME] [--bench[=PATTERN]] [--all-tiers] [-v]
 *
 * Cases: f16 and f32 caches x n in {1, 2, 5, 32, 67} x group {1, 3, 6} x
 * d {32, 64, 128}, each shape at two of the positions pos0 {0, 13, 1000}
 * (one per cache type); d 8, 24, 40, 200, 256 on a few more; and short
 * ranges with exact scores (keys in {-1, 0, 1}, d a power of 4) and a wide
 * softmax, where the bound is tight enough to see the exponential. Ranges
 * start and end mid-tile, start past some rows' positions (those rows see
 * nothing: their state must come back bit for bit), end at or past the
 * diagonal; the cache rows no query may see are NaN. Initial states are
 * empty or a random mix of empty and non-empty rows; q rows sit at a stride
 * wider than the group. Each range also runs split in two at a random key:
 * once continuing the state, once as two independent states merged as
 * flash-decoding does.
 *
 * SIMD tiers: m, l and o equal to the scalar reference's, bit for bit, for
 * each of the three ways: one recipe for all tiers (simd/chunk_c.c), so that
 * the model's greedy tokens do not depend on the tier (issue 3).
 *
 * Scalar reference, against the oracle: per row that sees keys, on the
 * normalized output o/l (what the engine uses) for each element c:
 *   |out - out_ref| <= E * A_c,  A_c = (alpha|o0_c| + sum_j p_j |v_jc|) / l,
 *   E = 4 ds + (2K + 32) eps,    ds = (d + 4) eps * max_j scale sum_c |q_c k_jc|,
 * where ds bounds a score's error (float dot in any order against double),
 * which moves each weight p_j = exp(s_j - m) by a factor up to exp(2 ds),
 * and (2K + 32) eps covers float sums over K keys and the exponential (about
 * 1 ulp). m must agree within 2 ds, and l after rescaling
 * to the reference's m within E relative. Inputs end right before an
 * inaccessible page on even trials (overreads fault) and sit at odd
 * alignments on odd ones; m, l, o and the scratch (exactly
 * RESA_CHUNK_SCRATCH floats) have guard bytes on both sides.
 *
 * --bench: the engine's chunk attention (attention_cpu: KV heads x query
 * chunks x key segments over the threads, states merged) on SmolLM2's shape
 * (3 KV heads x group 3, d 64, f16 cache), 32 queries over 65536 keys (a
 * rectification) and 512 queries at position 0 (a prefill chunk), 1 and 2
 * threads, per tier: ms, GFLOP/s (4d flops per attended (query, key) pair)
 * and the fraction of the fp32 FMA peak. The scalar tier runs over 2048
 * keys (printed). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "checkasm.h"
#include "cpu.h"

/* ---- a case and its inputs ---------------------------------------------------- */

typedef struct tcase {
    enum resa_type type; /* F16 or F32 */
    int n, group, d, pos0;
    int j0, j1, jm;      /* range, and where the split runs cut it */
    int q_extra;         /* q_stride = group*d + q_extra */
    float amp;           /* q amplitude: larger spreads the softmax */
    int states;          /* 0: all empty; 1: a random mix of empty and non-empty */
    int at_page_end;
    int exact;           /* keys in {-1, 0, 1}, q in amp/8 steps, d a power of 4: exact scores */
} tcase;

typedef struct inputs {
    ca_buf kb, vb, qb;
    float *kf, *vf;      /* the cached values as floats (what the kernels see) */
    const float *q;
    size_t q_stride;
    int rows;
    float *m0, *l0, *o0; /* initial state */
} inputs;

static int rnd_int(int n) { return n > 0 ? (int)(ca_rnd() % (unsigned)n) : 0; }

static size_t esize(enum resa_type t) { return t == RESA_TYPE_F16 ? 2 : 4; }

static ca_buf input_buf(size_t bytes, size_t misalign, int at_page_end)
{
    if (bytes == 0)
        bytes = 4;
    return at_page_end ? ca_buf_at_page_end(bytes) : ca_buf_new(bytes, misalign);
}

/* A cache of j1 rows (position 0 .. j1-1), queries, initial states. */
static void inputs_new(inputs *in, const tcase *tc)
{
    const int d = tc->d, nrow = tc->j1;
    const size_t es = esize(tc->type), ne = (size_t)nrow * d;
    in->kb = input_buf(ne * es, es, tc->at_page_end);
    in->vb = input_buf(ne * es, es, tc->at_page_end);
    in->kf = malloc((ne + 1) * sizeof(float));
    in->vf = malloc((ne + 1) * sizeof(float));
    /* rows no query may see (before j0, at or past min(j1, pos0 + n)) are NaN:
     * a kernel that reads one poisons its output */
    const size_t seen_end = (size_t)(tc->j1 < tc->pos0 + tc->n ? tc->j1 : tc->pos0 + tc->n);
    for (size_t i = 0; i < ne; i++)
        for (int kv = 0; kv < 2; kv++) {
            const int used = i / d >= (size_t)tc->j0 && i / d < seen_end;
            float x = !used ? NAN : tc->exact && !kv ? (float)rnd_int(3) - 1.0f : ca_rndf();
            void *dst = kv ? in->vb.p : in->kb.p;
            if (tc->type == RESA_TYPE_F16) {
                const resa_f16 h = type_f32_to_f16(x);
                memcpy((char *)dst + i * 2, &h, 2);
                x = type_f16_to_f32(h);
            } else {
                memcpy((char *)dst + i * 4, &x, 4);
            }
            (kv ? in->vf : in->kf)[i] = x;
        }
    in->rows = tc->n * tc->group;
    in->q_stride = (size_t)tc->group * d + tc->q_extra;
    const size_t nq = (size_t)(tc->n - 1) * in->q_stride + (size_t)tc->group * d;
    in->qb = input_buf(nq * sizeof(float), 4, tc->at_page_end);
    float *q = (float *)in->qb.p;
    for (size_t i = 0; i < nq; i++)
        q[i] = tc->exact ? tc->amp * (float)(rnd_int(17) - 8) / 8 : tc->amp * ca_rndf();
    in->q = q;
    in->m0 = malloc(in->rows * sizeof(float));
    in->l0 = malloc(in->rows * sizeof(float));
    in->o0 = malloc((size_t)in->rows * d * sizeof(float));
    for (int r = 0; r < in->rows; r++) {
        const int full = tc->states && (ca_rnd() & 1);
        in->m0[r] = full ? tc->amp * ca_rndf() : -INFINITY;
        in->l0[r] = full ? 0.5f + ca_rndf() * ca_rndf() + 1.0f : 0.0f;
        for (int c = 0; c < d; c++)
            in->o0[(size_t)r * d + c] = full ? ca_rndf() * in->l0[r] : 0.0f;
    }
}

static void inputs_free(inputs *in)
{
    ca_buf_free(&in->kb);
    ca_buf_free(&in->vb);
    ca_buf_free(&in->qb);
    free(in->kf);
    free(in->vf);
    free(in->m0);
    free(in->l0);
    free(in->o0);
}

/* ---- calling a kernel under the guard ------------------------------------------- */

typedef struct state {
    ca_buf mb, lb, ob, sb; /* m, l, o and the scratch, with guards */
} state;

static state state_new(const tcase *tc, const inputs *in)
{
    state s;
    s.mb = ca_buf_new((size_t)in->rows * sizeof(float), 4);
    s.lb = ca_buf_new((size_t)in->rows * sizeof(float), 4);
    s.ob = ca_buf_new((size_t)in->rows * tc->d * sizeof(float), 4);
    s.sb = ca_buf_new(RESA_CHUNK_SCRATCH(tc->n, tc->group, tc->d) * sizeof(float), 4);
    return s;
}

static void state_set(state *s, const tcase *tc, const inputs *in, int empty)
{
    float *m = (float *)s->mb.p, *l = (float *)s->lb.p, *o = (float *)s->ob.p;
    for (int r = 0; r < in->rows; r++) {
        m[r] = empty ? -INFINITY : in->m0[r];
        l[r] = empty ? 0.0f : in->l0[r];
    }
    for (size_t i = 0; i < (size_t)in->rows * tc->d; i++)
        o[i] = empty ? 0.0f : in->o0[i];
}

static int state_guards_ok(const state *s)
{
    return ca_guards_ok(&s->mb) && ca_guards_ok(&s->lb) && ca_guards_ok(&s->ob) &&
           ca_guards_ok(&s->sb);
}

static void state_free(state *s)
{
    ca_buf_free(&s->mb);
    ca_buf_free(&s->lb);
    ca_buf_free(&s->ob);
    ca_buf_free(&s->sb);
}

typedef struct call {
    resa_attn_chunk_fn fn;
    const tcase *tc;
    const inputs *in;
    state *s;
    int j0, j1;
} call;

static void run_call(void *p)
{
    const call *a = p;
    const tcase *tc = a->tc;
    a->fn(a->in->kb.p, a->in->vb.p, a->j0, a->j1, tc->d, a->in->q, a->in->q_stride, tc->n,
          tc->group, tc->pos0, 1.0f / sqrtf((float)tc->d), (float *)a->s->mb.p,
          (float *)a->s->lb.p, (float *)a->s->ob.p, (float *)a->s->sb.p);
}

/* Runs fn on [j0, j1) continuing s; returns the signal, 0 if none. */
static int run(resa_attn_chunk_fn fn, const tcase *tc, const inputs *in, state *s, int j0, int j1)
{
    call a = {fn, tc, in, s, j0, j1};
    return ca_call(run_call, &a);
}

/* ---- the expected states and the bounds ------------------------------------------- */

/* Per row: whether it sees a key of the range, the expected max m, the sum
 * of weights L at that max, the normalized output o/l (d values), and the
 * bounds: ds (a score's error), e (E above), A_c (d values). */
typedef struct expect {
    int d;
    char *seen;
    double *m, *L, *ds, *e, *out, *abs;
} expect;

/* The oracle: everything in double from the cached values. */
static void expect_oracle(expect *x, const tcase *tc, const inputs *in)
{
    const int d = tc->d, rows = in->rows;
    const double scale = 1.0 / sqrt((double)d), eps = 0x1p-24;
    x->d = d;
    x->seen = calloc(rows, 1);
    x->m = malloc(4 * (size_t)rows * sizeof(double));
    x->L = x->m + rows;
    x->ds = x->L + rows;
    x->e = x->ds + rows;
    x->out = malloc(2 * (size_t)rows * d * sizeof(double));
    x->abs = x->out + (size_t)rows * d;
    double *s = malloc(((size_t)tc->j1 + 1) * sizeof(double));
    for (int r = 0; r < rows; r++) {
        const int i = r / tc->group, g = r % tc->group;
        const int end = tc->j1 < tc->pos0 + i + 1 ? tc->j1 : tc->pos0 + i + 1;
        if (end <= tc->j0)
            continue;
        x->seen[r] = 1;
        const float *q = in->q + (size_t)i * in->q_stride + (size_t)g * d;
        double smax = 0.0, mx = in->m0[r];
        for (int j = tc->j0; j < end; j++) {
            double dot = 0.0, mag = 0.0;
            for (int c = 0; c < d; c++) {
                dot += (double)q[c] * in->kf[(size_t)j * d + c];
                mag += fabs((double)q[c] * in->kf[(size_t)j * d + c]);
            }
            s[j] = dot * scale;
            smax = mag * scale > smax ? mag * scale : smax;
            mx = s[j] > mx ? s[j] : mx;
        }
        const double alpha = in->m0[r] == -INFINITY ? 0.0 : exp(in->m0[r] - mx);
        double L = alpha * in->l0[r], *out = x->out + (size_t)r * d, *abs = x->abs + (size_t)r * d;
        for (int c = 0; c < d; c++) {
            out[c] = alpha * in->o0[(size_t)r * d + c];
            abs[c] = fabs(out[c]);
        }
        for (int j = tc->j0; j < end; j++) {
            const double p = exp(s[j] - mx);
            L += p;
            for (int c = 0; c < d; c++) {
                out[c] += p * in->vf[(size_t)j * d + c];
                abs[c] += p * fabs(in->vf[(size_t)j * d + c]);
            }
        }
        for (int c = 0; c < d; c++) {
            out[c] /= L;
            abs[c] /= L;
        }
        x->m[r] = mx;
        x->L[r] = L;
        x->ds[r] = (tc->exact ? 2 : d + 4) * eps * smax;
        x->e[r] = 4 * x->ds[r] + (2.0 * (end - tc->j0) + 32) * eps;
    }
    free(s);
}

static void expect_free(expect *x)
{
    free(x->seen);
    free(x->m);
    free(x->out);
}

/* Compares a state with the expected one (rows that see no key: with the
 * initial state, bit for bit). Returns 1 if it passes; *worst is the
 * largest error / bound of the outputs. */
static int check_state(const tcase *tc, const inputs *in, const expect *x, const state *s,
                       double *worst, char *why, size_t why_len)
{
    const int d = tc->d;
    const float *m = (const float *)s->mb.p, *l = (const float *)s->lb.p, *o = (const float *)s->ob.p;
    int ok = 1;
    *worst = 0.0;
    for (int r = 0; r < in->rows && ok; r++) {
        if (!x->seen[r]) {
            if (memcmp(&m[r], &in->m0[r], 4) || memcmp(&l[r], &in->l0[r], 4) ||
                memcmp(o + (size_t)r * d, in->o0 + (size_t)r * d, (size_t)d * 4)) {
                snprintf(why, why_len, "row %d sees no key but its state changed", r);
                ok = 0;
            }
            continue;
        }
        const double tol_m = 2 * x->ds[r] + 1e-30;
        if (!(fabs(m[r] - x->m[r]) <= tol_m)) {
            snprintf(why, why_len, "row %d: m %.9g, want %.9g (tol %.3g)", r, m[r], x->m[r], tol_m);
            ok = 0;
            break;
        }
        /* l rescaled to the expected max must be the expected sum of weights */
        const double l_at = l[r] * exp(m[r] - x->m[r]);
        if (!(fabs(l_at - x->L[r]) <= x->e[r] * x->L[r])) {
            snprintf(why, why_len, "row %d: l %.9g (at the expected max: %.9g), want %.9g", r,
                     l[r], l_at, x->L[r]);
            ok = 0;
            break;
        }
        for (int c = 0; c < d; c++) {
            const double got = o[(size_t)r * d + c] / l[r], want = x->out[(size_t)r * d + c];
            const double err = fabs(got - want), tol = x->e[r] * x->abs[(size_t)r * d + c] + 1e-30;
            if (!(err <= tol)) {
                snprintf(why, why_len, "row %d col %d: o/l %.9g, want %.9g (err %.3g, tol %.3g)",
                         r, c, got, want, err, tol);
                ok = 0;
                break;
            }
            *worst = err / tol > *worst ? err / tol : *worst;
        }
    }
    if (ok && !state_guards_ok(s)) {
        snprintf(why, why_len, "guard bytes overwritten (m, l, o or scratch)");
        ok = 0;
    }
    return ok;
}

/* Flash-decoding merge: (m, l, o) of two ranges into the first state. */
static void merge_states(const tcase *tc, const inputs *in, state *a, const state *b)
{
    float *ma = (float *)a->mb.p, *la = (float *)a->lb.p, *oa = (float *)a->ob.p;
    const float *mb = (const float *)b->mb.p, *lb = (const float *)b->lb.p, *ob = (const float *)b->ob.p;
    for (int r = 0; r < in->rows; r++) {
        if (mb[r] == -INFINITY)
            continue;
        const float M = ma[r] > mb[r] ? ma[r] : mb[r];
        const float wa = ma[r] == -INFINITY ? 0.0f : expf(ma[r] - M), wb = expf(mb[r] - M);
        la[r] = la[r] * wa + lb[r] * wb;
        for (int c = 0; c < tc->d; c++)
            oa[(size_t)r * tc->d + c] = oa[(size_t)r * tc->d + c] * wa + ob[(size_t)r * tc->d + c] * wb;
        ma[r] = M;
    }
}

/* ---- one case on every tier ----------------------------------------------------------- */

static const char *type_name(enum resa_type t) { return t == RESA_TYPE_F16 ? "f16" : "f32"; }

static void report(int ok, const tcase *tc, const char *tier, const char *how, double worst,
                   const char *why)
{
    char name[48];
    snprintf(name, sizeof name, "attn_chunk_%s", type_name(tc->type));
    char res[32] = "bit-exact";
    if (worst >= 0.0) /* the reference against the oracle: the largest error / bound */
        snprintf(res, sizeof res, "worst %.2f", worst);
    ca_report(ok, name, tier, "n %d group %d d %d pos0 %d [%d,%d) %s%s%s %s%s%s", tc->n,
              tc->group, tc->d, tc->pos0, tc->j0, tc->j1, how, tc->states ? " states" : "",
              tc->at_page_end ? " page-end" : "", res, ok ? "" : ": ", ok ? "" : why);
}

/* A tier's state against the scalar reference's, bit for bit: every tier
 * computes the one recipe of simd/chunk_c.c (same tiles, same fma order,
 * same exponential), so that the model's greedy tokens do not depend on the
 * tier (issue 3). Any drift, even one ulp, fails. */
static int check_same(const tcase *tc, const inputs *in, const state *ref, const state *s,
                      char *why, size_t why_len)
{
    const int d = tc->d;
    const float *m = (const float *)s->mb.p, *l = (const float *)s->lb.p, *o = (const float *)s->ob.p;
    const float *rm = (const float *)ref->mb.p, *rl = (const float *)ref->lb.p,
                *ro = (const float *)ref->ob.p;
    for (int r = 0; r < in->rows; r++) {
        if (memcmp(&m[r], &rm[r], 4) || memcmp(&l[r], &rl[r], 4)) {
            snprintf(why, why_len, "row %d: m %a l %a, reference m %a l %a", r, m[r], l[r], rm[r],
                     rl[r]);
            return 0;
        }
        for (int c = 0; c < d; c++)
            if (memcmp(&o[(size_t)r * d + c], &ro[(size_t)r * d + c], 4)) {
                snprintf(why, why_len, "row %d col %d: o %a, reference %a", r, c,
                         o[(size_t)r * d + c], ro[(size_t)r * d + c]);
                return 0;
            }
    }
    if (!state_guards_ok(s)) {
        snprintf(why, why_len, "guard bytes overwritten (m, l, o or scratch)");
        return 0;
    }
    return 1;
}

/* The three ways of covering [j0, j1): one call, two calls continuing the
 * state, two independent states merged (tmp holds the second). A call's
 * tiles start at its j0, so each way has its own result. Returns the
 * signal, -1 for overwritten guards of tmp, 0 if none. */
enum { WAY_ONE, WAY_CONTINUED, WAY_MERGED, N_WAYS };
static const char *const way_name[N_WAYS] = {"one call", "split, continued", "split, merged"};

static int run_way(resa_attn_chunk_fn fn, const tcase *tc, const inputs *in, int way, state *s,
                   state *tmp)
{
    state_set(s, tc, in, 0);
    if (way == WAY_ONE)
        return run(fn, tc, in, s, tc->j0, tc->j1);
    int sig = run(fn, tc, in, s, tc->j0, tc->jm);
    if (way == WAY_CONTINUED)
        return sig ? sig : run(fn, tc, in, s, tc->jm, tc->j1);
    state_set(tmp, tc, in, 1);
    if (!sig)
        sig = run(fn, tc, in, tmp, tc->jm, tc->j1);
    if (!sig && !state_guards_ok(tmp))
        return -1;
    if (!sig)
        merge_states(tc, in, s, tmp);
    return sig;
}

/* Each way of fn: the scalar reference (ref == NULL) against the oracle
 * within the bounds, its states kept in out; a tier against those states
 * bit for bit. */
static void test_fn(resa_attn_chunk_fn fn, const char *tier, const tcase *tc, const inputs *in,
                    const expect *x, const state *ref, state *out)
{
    state tmp = state_new(tc, in);
    for (int way = 0; way < N_WAYS; way++) {
        char why[160] = "";
        double worst = 0.0;
        state s = state_new(tc, in);
        const int sig = run_way(fn, tc, in, way, &s, &tmp);
        int ok = !sig;
        if (sig > 0)
            snprintf(why, sizeof why, "signal %d", sig);
        else if (sig < 0)
            snprintf(why, sizeof why, "guard bytes overwritten");
        else if (ref)
            ok = check_same(tc, in, &ref[way], &s, why, sizeof why);
        else
            ok = check_state(tc, in, x, &s, &worst, why, sizeof why);
        report(ok, tc, tier, way_name[way], ref ? -1.0 : worst, why);
        if (out)
            out[way] = s;
        else
            state_free(&s);
    }
    state_free(&tmp);
}

/* The scalar reference against the oracle, then each tier's kernel against
 * the scalar reference. A tier is tested only where it installs a kernel of
 * its own. */
static void test_case(const tcase *tc)
{
    inputs in;
    inputs_new(&in, tc);
    expect x;
    expect_oracle(&x, tc, &in);
    resa_chunk_ctx ref, prev;
    state ref_states[N_WAYS];
    chunk_init(&ref, 0);
    test_fn(ref.attn[tc->type], "c", tc, &in, &x, NULL, ref_states);
    prev = ref;
    for (int t = 0; t < ca_n_tiers; t++) {
        resa_chunk_ctx c;
        chunk_init(&c, ca_tiers[t].flags);
        if (!ca_tier_enabled(&ca_tiers[t]) || c.attn[tc->type] == prev.attn[tc->type])
            continue;
        test_fn(c.attn[tc->type], ca_tiers[t].name, tc, &in, &x, ref_states, NULL);
        prev = c;
    }
    for (int way = 0; way < N_WAYS; way++)
        state_free(&ref_states[way]);
    expect_free(&x);
    inputs_free(&in);
}

/* A range that starts and ends at random keys: past some rows' positions
 * (those rows see nothing), up to or past the diagonal. */
static void pick_range(tcase *tc)
{
    const int T = tc->pos0 + tc->n; /* keys anyone sees: [0, T) */
    const int kind = rnd_int(4);
    if (tc->pos0 < 1000) {
        tc->j0 = kind == 0 ? 0 : rnd_int(T);
        tc->j1 = kind <= 1 ? T : tc->j0 + 1 + rnd_int(T - tc->j0);
    } else {
        tc->j0 = kind == 0 ? T - 1 - rnd_int(100) : rnd_int(T - 100);
        tc->j1 = kind <= 1 ? T : tc->j0 + 1 + rnd_int(100);
    }
    if (rnd_int(8) == 0)
        tc->j1 += 1 + rnd_int(20); /* keys past the last token: nobody sees them */
    tc->jm = tc->j0 + 1 + rnd_int(tc->j1 - tc->j0);
}

static void test_all(void)
{
    static const int ns[] = {1, 2, 5, 32, 67}, groups[] = {1, 3, 6}, ds[] = {32, 64, 128},
                     pos0s[] = {0, 13, 1000};
    int trial = 0, shape = 0;
    /* every (type, n, group, d); pos0 rotates, so that each shape meets two
     * of the three positions (the full product is 3x slower under qemu) */
    for (int t = 0; t < 2; t++)
        for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++)
            for (size_t b = 0; b < sizeof groups / sizeof groups[0]; b++)
                for (size_t c = 0; c < sizeof ds / sizeof ds[0]; c++, shape++) {
                    tcase tc = {
                        .type = t ? RESA_TYPE_F32 : RESA_TYPE_F16,
                        .n = ns[a], .group = groups[b], .d = ds[c], .pos0 = pos0s[(shape + t) % 3],
                        .q_extra = rnd_int(2) ? 0 : 8 * (1 + rnd_int(3)),
                        .amp = rnd_int(2) ? 1.0f : 6.0f,
                        .states = rnd_int(2),
                        .at_page_end = trial++ % 2 == 0,
                    };
                    pick_range(&tc);
                    test_case(&tc);
                }
    /* head dims that are not a multiple of the widest vector, and the largest */
    static const int odd_d[] = {8, 24, 40, 200, 256};
    for (int t = 0; t < 2; t++)
        for (size_t c = 0; c < sizeof odd_d / sizeof odd_d[0]; c++) {
            tcase tc = {
                .type = t ? RESA_TYPE_F32 : RESA_TYPE_F16,
                .n = 1 + rnd_int(24), .group = 1 + rnd_int(8), .d = odd_d[c], .pos0 = rnd_int(100),
                .q_extra = 8 * rnd_int(2), .amp = 3.0f, .states = 1, .at_page_end = trial++ % 2 == 0,
            };
            pick_range(&tc);
            test_case(&tc);
        }
    /* a few keys, exact scores and a wide softmax (weights from 1 down to
     * underflow): the bound is tight, so the exponential's accuracy shows */
    for (int t = 0; t < 40; t++) {
        tcase tc = {
            .type = t % 2 ? RESA_TYPE_F32 : RESA_TYPE_F16,
            .n = 1 + rnd_int(4), .group = 1 + rnd_int(3), .d = 16 << (2 * rnd_int(3)),
            .pos0 = 8 + rnd_int(50), .amp = 2.0f + rnd_int(4), .states = t % 3 == 0,
            .at_page_end = trial++ % 2 == 0, .exact = 1,
        };
        tc.j1 = tc.pos0 + 1 + rnd_int(tc.n);
        tc.j0 = tc.j1 - 1 - rnd_int(8);
        tc.jm = tc.j0 + 1 + rnd_int(tc.j1 - tc.j0);
        test_case(&tc);
    }
}

/* ---- benchmark ----------------------------------------------------------------------- */

/* The engine's own chunk attention (src/attention_chunk.c: KV heads x query
 * chunks x key segments, states merged, o / l), on one layer of SmolLM2's
 * shape, with the dispatch tables capped to the tier. */
typedef struct bench_job {
    resa_attn_scratch scratch;
    const resa_kv_cache *kv;
    const float *q;
    float *out;
    int n, pos0;
    resa_team *team;
} bench_job;

static void bench_run(void *arg)
{
    bench_job *b = arg;
    if (attention_cpu(&b->scratch, b->team, b->kv, 0, b->q, b->n, b->pos0, 9, b->out)) {
        fprintf(stderr, "checksimd_chunk: attention_cpu failed\n");
        exit(99);
    }
}

static void bench_shape(const resa_kv_cache *kv, const char *tier, int n, int pos0, int threads)
{
    const int d = kv->head_dim, hd = 9 * d;
    float *q = malloc((size_t)n * hd * sizeof(float)), *out = malloc((size_t)n * hd * sizeof(float));
    for (size_t i = 0; i < (size_t)n * hd; i++)
        q[i] = 2.0f * ca_rndf();
    bench_job b = {.kv = kv, .q = q, .out = out, .n = n, .pos0 = pos0};
    if (team_new(threads, &b.team)) {
        fprintf(stderr, "checksimd_chunk: %s\n", resa_last_error());
        exit(99);
    }
    const double ns = ca_time_ns(bench_run, &b);
    double pairs = 0.0;
    for (int i = 0; i < n; i++)
        pairs += (double)(pos0 + i + 1) * 9;
    const double gflops = pairs * 4 * d / ns, peak = ca_fma_peak(threads);
    printf("  attn_chunk_f16_%-7s %3d queries x 9 heads at pos0 %5d (%5d keys), %d thread%s: "
           "%9.3f ms %7.1f GFLOP/s %6.1f%% of FMA peak (%.0f)\n",
           tier, n, pos0, pos0 + n, threads, threads > 1 ? "s" : " ", ns / 1e6, gflops,
           100.0 * gflops / peak, peak);
    attn_scratch_free(&b.scratch);
    team_free(b.team);
    free(q);
    free(out);
}

/* 1 and 2 threads: 32 queries at the end of the cache (a rectification)
 * and 512 at position 0 (a prefill chunk). */
static void bench_tier(const resa_kv_cache *kv, const char *tier, const char *cap, int keys)
{
    if (cpu_set_cap(cap) < 0)
        return;
    for (int threads = 1; threads <= 2; threads++) {
        bench_shape(kv, tier, 32, keys - 32, threads);
        bench_shape(kv, tier, keys < 512 ? keys : 512, 0, threads);
    }
}

static void bench_all(void)
{
    if (!ca_bench_wanted("attn_chunk"))
        return;
    enum { KEYS = 65536, SCALAR_KEYS = 2048, BLOCK = 16, PAGES = KEYS / BLOCK };
    resa_kv_pool pool;
    static int in_order[PAGES], interleaved[PAGES];
    if (kv_pool_init(&pool, RESA_KV_F16, 1, 3, 64, BLOCK, PAGES, 0)) {
        fprintf(stderr, "checksimd_chunk: no memory for the bench cache\n");
        exit(99);
    }
    /* pages in order (a lone sequence), and as four sequences growing
     * together would hold them (every fourth page: rows gathered per item) */
    for (int i = 0; i < PAGES; i++) {
        in_order[i] = i;
        interleaved[i] = (i % 4) * (PAGES / 4) + i / 4;
    }
    const resa_kv_cache layouts[2] = { kv_cache_view(&pool, in_order, PAGES),
                                       kv_cache_view(&pool, interleaved, PAGES) };
    float k[3 * 64], v[3 * 64];
    for (int p = 0; p < KEYS; p++) {
        for (int i = 0; i < 3 * 64; i++) {
            k[i] = ca_rndf();
            v[i] = ca_rndf();
        }
        kv_cache_write(&layouts[0], 0, p, 1, k, v, 0);
    }
    for (int lay = 0; lay < 2; lay++) {
        const resa_kv_cache *kv = &layouts[lay];
        printf("bench: the engine's chunk attention, SmolLM2 shape (3 KV heads x group 3, d 64, f16 "
               "cache, pages %s); the scalar tier over %d keys\n", lay ? "interleaved" : "in order",
               SCALAR_KEYS);
        resa_chunk_ctx prev;
        chunk_init(&prev, 0);
        bench_tier(kv, "c", "scalar", SCALAR_KEYS);
        for (int t = 0; t < ca_n_tiers; t++) {
            resa_chunk_ctx c;
            chunk_init(&c, ca_tiers[t].flags);
            if (!ca_tier_enabled(&ca_tiers[t]) || c.attn[RESA_TYPE_F16] == prev.attn[RESA_TYPE_F16])
                continue;
            bench_tier(kv, ca_tiers[t].name, ca_tiers[t].name, KEYS);
            prev = c;
        }
    }
    kv_pool_free(&pool);
}

int main(int argc, char **argv)
{
    ca_init(argc, argv, "checksimd_chunk");
    test_all();
    bench_all();
    return ca_finish();
}
