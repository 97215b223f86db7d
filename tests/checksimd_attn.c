/* SPDX-License-Identifier: MIT */
/* checksimd_attn: every "attn" kernel of every tier this CPU has, against the
 * scalar reference (simd/attn_c.c), in the manner of dav1d's checkasm; the
 * scalar decode is itself checked against attention computed in double.
 *
 *   checksimd_attn [--seed=N] [--cpu=NAME] [--bench[=PATTERN]] [--all-tiers] [-v]
 *
 * decode: n rows in {0, 1, 7, 17, 33, 64, 100, 1023, 4097} x group 1..8 x
 * d in {32, 64, 128} x f16/f32 caches x a fresh state or a non-empty one
 * (its max sometimes above every score, so it never moves), plus a few
 * other d (8, 24, 40, 256, 512, and 12, which the tiers hand to the scalar
 * code); rows past 1000 with half the groups. Scales 1/sqrt(d), 1 and 0.03;
 * scores random, with one huge score (head 0 at one row is +40), all equal
 * (identical keys), or rising (a new max in every tile). Each case runs as
 * one call (one run), as three calls on split ranges that continue the
 * state (the same cut points for every tier), and as one call whose runs
 * are the three pieces copied apart in memory, an empty run between them.
 * Tiers against the scalar code: bit-exact (m, l and o), one call against
 * one call and split against split. The scattered runs against the one run,
 * in every tier and the scalar code: bit-exact (a tile is TILE rows of the
 * runs laid end to end, attn.h). Issue 3: greedy tokens must not depend
 * on the SIMD tier, so every tier computes simd/attn_c.c's one recipe (the
 * same tiles, 16-lane sums and trees, exp, FMA order); a tier that drifts
 * by one ulp fails.
 * The scalar code against attention in double, per head g and output
 * element c, with S_c = the sum over the
 * state and the rows of p|v_c| / L (p = exp(score - max), L = sum p, so S_c is
 * the size of what is averaged) and E = (d + 8) eps max_t scale*sum_j|q_j k_tj|
 * (the rounding bound of a score computed in float, any summation order):
 *   |out - out'| <= R S_c,  R = 2E + (n + 64) eps
 * for the scalar code against double: a score error e moves a weight by e
 * relative, the weighted mean by at most 2e S; exp is within 2 ulps; l and o
 * are float sums of n terms, in any order within n eps of their magnitude
 * (and "all equal" scores, l growing by 1 per row, do round the same way
 * every time). 2R for the split calls against the one call (both within R
 * of the truth; their tiles differ). The
 * total mass log(l) + m must agree within R, m within E. n = 0 must leave
 * the state bit-identical.
 * block_score: d 8..256 (and 4, 12: the scalar path), n_blocks up to 4095,
 * f32 and f16 summaries; every tier computes the family's one recipe
 * (attn.h), so a tier must equal the scalar code bit for bit (issue 3: the
 * blocks a step reads must not depend on the tier); the scalar code is
 * checked against a double sum, |s - s'| <= (d + 4) eps sum_j |term_j|, and
 * its f16 variant must equal its f32 variant on the same values.
 * summary_add: bit-exact, NaN, +-0 and inf keys included.
 * Outputs carry guard bytes; inputs alternate between odd alignments and
 * ending right before an inaccessible page. A kernel that raises
 * SIGILL/SIGSEGV/SIGBUS/SIGFPE is a failure.
 *
 * --bench: the SmolLM2 shapes (3 KV heads, group 3, d 64, f16 cache) with
 * 1 and 2 threads, keys split into per-thread ranges whose states are
 * merged as the engine does: decode over 65536 keys, block scoring of their
 * summaries (block 16: 4096 blocks), sparse decode over 10% of the blocks
 * (random, adjacent ones merged into runs, one call per thread's share as
 * the engine does). Each call reads a fresh copy of the data from a 512 MiB pool
 * (sparse: through one of 16 selections in turn, so its blocks were not read
 * for many calls), so the numbers are DRAM numbers, as in the engine, where
 * 30 layers of cache never fit a cache level; they are compared with
 * ca_read_bandwidth(). Also printed: decode over 2048 keys in L2, one head,
 * one thread, the kernel's compute ceiling. */
#ifdef HAVE_CONFIG_H
#include "config.h" /* _GNU_SOURCE: POSIX/GNU declarations under -std=c11 */
#endif
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkasm.h"
#include "cpu.h"

#define EPS 0x1p-24 /* unit roundoff of float */

/* ---- tiers -------------------------------------------------------------------- */

/* A tier's kernels, and for each kernel whether this tier is the first to
 * install it (a kernel is tested once, under the first tier that has it). */
typedef struct impl {
    const char *name;
    resa_attn_ctx c;
    int new_decode[2], new_score[2], new_summary;
} impl;

#define MAX_IMPLS 8
static impl impls[MAX_IMPLS];
static int n_impls; /* impls[0] is the scalar reference */

static int same_fn(const void *a, const void *b) { return a == b; }

static void setup_impls(void)
{
    impls[0].name = "c";
    attn_init(&impls[0].c, 0);
    n_impls = 1;
    for (int i = 0; i < ca_n_tiers && n_impls < MAX_IMPLS; i++) {
        if (!ca_tier_enabled(&ca_tiers[i]))
            continue;
        impl *t = &impls[n_impls];
        t->name = ca_tiers[i].name;
        attn_init(&t->c, ca_tiers[i].flags);
        int any = 0;
        for (int f = 0; f < 2; f++) {
            const int type = f ? RESA_TYPE_F16 : RESA_TYPE_F32;
            t->new_decode[f] = 1;
            for (int j = 0; j < n_impls; j++)
                if (same_fn((const void *)(uintptr_t)impls[j].c.decode[type],
                            (const void *)(uintptr_t)t->c.decode[type]))
                    t->new_decode[f] = 0;
            any |= t->new_decode[f];
        }
        t->new_score[0] = t->new_score[1] = t->new_summary = 1;
        for (int j = 0; j < n_impls; j++) {
            for (int f = 0; f < 2; f++) {
                const int type = f ? RESA_TYPE_F16 : RESA_TYPE_F32;
                if (same_fn((const void *)(uintptr_t)impls[j].c.block_score[type],
                            (const void *)(uintptr_t)t->c.block_score[type]))
                    t->new_score[f] = 0;
            }
            if (same_fn((const void *)(uintptr_t)impls[j].c.summary_add, (const void *)(uintptr_t)t->c.summary_add))
                t->new_summary = 0;
        }
        if (any || t->new_score[0] || t->new_score[1] || t->new_summary)
            n_impls++;
    }
}

/* ---- inputs ------------------------------------------------------------------- */

/* Inputs alternate between an odd alignment and ending at an inaccessible page. */
static ca_buf in_buf(size_t bytes, size_t misalign, int trial)
{
    return trial & 1 ? ca_buf_at_page_end(bytes) : ca_buf_new(bytes, misalign);
}

static float rnd_range(float lo, float hi) { return lo + (hi - lo) * 0.5f * (ca_rndf() + 1.0f); }

/* Stores x (n floats) in the cache type and writes back the stored values. */
static void store_rows(void *dst, int f16, float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (f16) {
            ((resa_f16 *)dst)[i] = type_f32_to_f16(x[i]);
            x[i] = type_f16_to_f32(((resa_f16 *)dst)[i]);
        } else {
            ((float *)dst)[i] = x[i];
        }
    }
}

/* ---- decode: the truth, in double ----------------------------------------------- */

enum { MODE_RANDOM, MODE_HUGE, MODE_EQUAL, MODE_RISING, N_MODES };
static const char *const mode_names[N_MODES] = {"random", "one huge score", "all equal", "rising"};

typedef struct dcase {
    int f16, n, d, group, start, mode; /* start: 0 fresh state, 1 non-empty, 2 non-empty above all */
    float scale;
} dcase;

/* Inputs of one case: keys and values as stored (floats), the queries, the
 * initial state. */
typedef struct dinput {
    float *k, *v, *q;
    float m0[8], l0[8], *o0;
} dinput;

/* What a state means: per head, the normalized output o/l, the log of the
 * total mass log(l) + m, and m. */
typedef struct result {
    double out[8 * 512], logmass[8], m[8];
} result;

/* The truth and the scales of its tolerance. */
typedef struct truth {
    result r;
    double S[8 * 512]; /* sum of p|v_c| / L per head and element */
    double E[8], R[8]; /* score error bound, relative tolerance */
} truth;

static void make_input(const dcase *c, dinput *in)
{
    const int n = c->n, d = c->d, G = c->group;
    const float amp = rnd_range(0.5f, 4.0f);
    for (int i = 0; i < G * d; i++)
        in->q[i] = ca_rndf() * amp;
    for (size_t i = 0; i < (size_t)n * d; i++) {
        in->k[i] = ca_rndf();
        in->v[i] = ca_rndf() * (ca_rnd() % 8 ? 1.0f : 30.0f);
    }
    double qq = 0;
    for (int j = 0; j < d; j++)
        qq += (double)in->q[j] * in->q[j];
    if (c->mode == MODE_HUGE && n > 0) { /* head 0 scores +40 at one row */
        const int t = (int)(ca_rnd() % (unsigned)n);
        for (int j = 0; j < d; j++)
            in->k[(size_t)t * d + j] = (float)(in->q[j] * 40.0 / (c->scale * qq));
    } else if (c->mode == MODE_EQUAL) {
        for (int t = 1; t < n; t++)
            memcpy(in->k + (size_t)t * d, in->k, sizeof(float) * d);
    } else if (c->mode == MODE_RISING) { /* head 0's score rises by 30 over the rows */
        for (int t = 0; t < n; t++)
            for (int j = 0; j < d; j++)
                in->k[(size_t)t * d + j] = (float)(in->q[j] * (30.0 * t / (n + 1)) / (c->scale * qq)) +
                                           0.01f * ca_rndf();
    }
    for (int g = 0; g < G; g++) {
        if (c->start == 0) {
            in->m0[g] = -INFINITY;
            in->l0[g] = 0.0f;
        } else {
            in->m0[g] = c->start == 2 ? 200.0f : rnd_range(-3.0f, 3.0f);
            in->l0[g] = rnd_range(0.5f, 20.0f);
        }
        for (int j = 0; j < d; j++)
            in->o0[g * d + j] = c->start ? in->l0[g] * ca_rndf() : 0.0f;
    }
}

static void compute_truth(const dcase *c, const dinput *in, truth *tr)
{
    const int n = c->n, d = c->d;
    double *s = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    for (int g = 0; g < c->group; g++) {
        const float *q = in->q + (size_t)g * d;
        double M = in->m0[g], A = 0;
        for (int t = 0; t < n; t++) {
            double dot = 0, abs_dot = 0;
            for (int j = 0; j < d; j++) {
                dot += (double)q[j] * in->k[(size_t)t * d + j];
                abs_dot += fabs((double)q[j] * in->k[(size_t)t * d + j]);
            }
            s[t] = dot * c->scale;
            A = fmax(A, abs_dot * c->scale);
            M = fmax(M, s[t]);
        }
        const double w0 = c->start ? exp(in->m0[g] - M) : 0.0;
        double L = w0 * in->l0[g];
        double *O = tr->r.out + (size_t)g * d, *S = tr->S + (size_t)g * d;
        for (int j = 0; j < d; j++) {
            O[j] = w0 * in->o0[g * d + j];
            S[j] = fabs(O[j]);
        }
        for (int t = 0; t < n; t++) {
            const double p = exp(s[t] - M);
            L += p;
            for (int j = 0; j < d; j++) {
                O[j] += p * in->v[(size_t)t * d + j];
                S[j] += p * fabs(in->v[(size_t)t * d + j]);
            }
        }
        for (int j = 0; j < d; j++) {
            O[j] /= L;
            S[j] /= L;
        }
        tr->r.logmass[g] = log(L) + M;
        tr->r.m[g] = M;
        tr->E[g] = (d + 8) * EPS * A;
        tr->R[g] = 2 * tr->E[g] + (n + 64) * EPS;
    }
    free(s);
}

static void state_result(const dcase *c, const float *m, const float *l, const float *o, result *r)
{
    for (int g = 0; g < c->group; g++) {
        for (int j = 0; j < c->d; j++)
            r->out[g * c->d + j] = (double)o[g * c->d + j] / l[g];
        r->logmass[g] = log((double)l[g]) + m[g];
        r->m[g] = m[g];
    }
}

/* ---- decode: calls ------------------------------------------------------------------- */

typedef struct dcall {
    resa_attn_decode_fn fn;
    const unsigned char *k, *v; /* cache rows */
    size_t row_bytes;
    int n, d, group, cuts[2], n_cuts;
    const resa_attn_run *runs; /* if set: one call on these runs instead */
    int n_runs;
    const float *q;
    float scale, *m, *l, *o;
} dcall;

/* The rows as one call, or as pieces [0, cut0), [cut0, cut1), [cut1, n) in
 * three calls, or the given runs in one call. */
static void run_decode(void *arg)
{
    const dcall *c = arg;
    if (c->runs) {
        c->fn(c->runs, c->n_runs, c->d, c->q, c->group, c->scale, c->m, c->l, c->o);
        return;
    }
    int a = 0;
    for (int i = 0; i <= c->n_cuts; i++) {
        const int b = i < c->n_cuts ? c->cuts[i] : c->n;
        const resa_attn_run r = {c->k + (size_t)a * c->row_bytes, c->v + (size_t)a * c->row_bytes, b - a};
        c->fn(&r, 1, c->d, c->q, c->group, c->scale, c->m, c->l, c->o);
        a = b;
    }
}

/* Accumulates the worst finding of a kernel over its cases. */
typedef struct verdict {
    int sig, guards, failed;
    double worst; /* of |error| / tolerance */
    char first[200];
} verdict;

static void fail(verdict *v, const char *fmt, const dcase *c, const char *what, double got, double want)
{
    if (!v->failed)
        snprintf(v->first, sizeof v->first, fmt, what, c->f16 ? "f16" : "f32", c->n, c->d, c->group,
                 c->start, mode_names[c->mode], (double)c->scale, got, want);
    v->failed = 1;
}

#define CASE_FMT "%s: %s n=%d d=%d group=%d start=%d %s scale=%g: %.9g, want %.9g"

/* |a - b| <= tol, recording the worst ratio. NaN fails. */
static void within(verdict *v, const dcase *c, const char *what, double a, double b, double tol)
{
    const double err = fabs(a - b), ratio = err / tol;
    if (!(err <= tol))
        fail(v, CASE_FMT, c, what, a, b);
    if (ratio > v->worst || ratio != ratio)
        v->worst = ratio;
}

/* Result a against b; k scales the tolerance (1: against the truth). */
static void compare(verdict *v, const dcase *c, const truth *tr, const result *a, const result *b,
                    double k)
{
    for (int g = 0; g < c->group; g++) {
        for (int j = 0; j < c->d; j++)
            within(v, c, "o/l", a->out[g * c->d + j], b->out[g * c->d + j],
                   k * tr->R[g] * tr->S[g * c->d + j] + 1e-30);
        within(v, c, "log(l)+m", a->logmass[g], b->logmass[g], k * tr->R[g]);
        within(v, c, "m", a->m[g], b->m[g], k * tr->E[g] + 1e-30);
    }
}

/* Runs fn on the case (as one call, split at cuts[0], cuts[1], or on runs)
 * into a guarded state; returns the state. */
static void run_case(verdict *v, resa_attn_decode_fn fn, const dcase *c, const dinput *in,
                     const void *k, const void *vv, const int *cuts, const resa_attn_run *runs,
                     int n_runs, float *m, float *l, float *o)
{
    const int G = c->group, d = c->d;
    ca_buf bm = ca_buf_new(sizeof(float) * G, 4), bl = ca_buf_new(sizeof(float) * G, 8);
    ca_buf bo = ca_buf_new(sizeof(float) * (size_t)G * d, 12);
    float *sm = (float *)(void *)bm.p, *sl = (float *)(void *)bl.p, *so = (float *)(void *)bo.p;
    memcpy(sm, in->m0, sizeof(float) * G);
    memcpy(sl, in->l0, sizeof(float) * G);
    memcpy(so, in->o0, sizeof(float) * (size_t)G * d);
    dcall call = {.fn = fn, .k = k, .v = vv, .row_bytes = (size_t)d * (c->f16 ? 2 : 4), .n = c->n,
                  .d = d, .group = G, .q = in->q, .scale = c->scale, .m = sm, .l = sl, .o = so};
    if (cuts) {
        call.cuts[0] = cuts[0];
        call.cuts[1] = cuts[1];
        call.n_cuts = 2;
    }
    call.runs = runs;
    call.n_runs = n_runs;
    const int sig = ca_call(run_decode, &call);
    if (sig && !v->sig)
        v->sig = sig;
    if (!ca_guards_ok(&bm) || !ca_guards_ok(&bl) || !ca_guards_ok(&bo))
        v->guards = 1;
    memcpy(m, sm, sizeof(float) * G);
    memcpy(l, sl, sizeof(float) * G);
    memcpy(o, so, sizeof(float) * (size_t)G * d);
    ca_buf_free(&bm);
    ca_buf_free(&bl);
    ca_buf_free(&bo);
}

/* One case through the scalar code (against the truth) and every tier
 * (bit for bit against the scalar state), as one call and split. */
static void test_decode_case(const dcase *c, verdict *vs, int trial)
{
    const int n = c->n, d = c->d, G = c->group, type = c->f16 ? RESA_TYPE_F16 : RESA_TYPE_F32;
    const size_t elems = (size_t)n * d, bytes = elems * (c->f16 ? 2 : 4);
    dinput in;
    in.k = malloc(sizeof(float) * (elems + 1));
    in.v = malloc(sizeof(float) * (elems + 1));
    in.q = malloc(sizeof(float) * (size_t)G * d);
    in.o0 = malloc(sizeof(float) * (size_t)G * d);
    make_input(c, &in);
    ca_buf bk = in_buf(bytes, c->f16 ? 2 : 4, trial), bv = in_buf(bytes, c->f16 ? 6 : 12, trial + 1);
    store_rows(bk.p, c->f16, in.k, elems); /* in.k, in.v become the stored values */
    store_rows(bv.p, c->f16, in.v, elems);
    truth *tr = malloc(sizeof *tr);
    compute_truth(c, &in, tr);
    float m[8], l[8], *o = malloc(sizeof(float) * (size_t)G * d);
    float rm[2][8], rl[2][8], *ro = malloc(sizeof(float) * 2 * (size_t)G * d); /* the scalar states */
    result *ref = malloc(sizeof *ref), *got = malloc(sizeof *got);
    int cuts[2] = {0, 0}; /* awkward cut points: not multiples of a tile */
    if (n >= 3) {
        cuts[0] = 1 + (int)(ca_rnd() % (unsigned)(n / 2));
        cuts[1] = cuts[0] + 1 + (int)(ca_rnd() % (unsigned)(n - cuts[0] - 1));
    }
    /* the same rows as runs apart in memory: [0, cut0), nothing, [cut0,
     * cut1), [cut1, n), each piece in a buffer of its own */
    const size_t row_bytes = (size_t)d * (c->f16 ? 2 : 4);
    const int ends[4] = {0, cuts[0], cuts[1], n};
    ca_buf pk[3], pv[3];
    resa_attn_run runs[4];
    for (int r = 0, at = 0; r < 3; r++) {
        const size_t bytes_r = (size_t)(ends[r + 1] - ends[r]) * row_bytes;
        pk[r] = in_buf(bytes_r, c->f16 ? 2 : 4, trial + r);
        pv[r] = in_buf(bytes_r, c->f16 ? 6 : 12, trial + r + 1);
        if (bytes_r) {
            memcpy(pk[r].p, (const unsigned char *)bk.p + (size_t)ends[r] * row_bytes, bytes_r);
            memcpy(pv[r].p, (const unsigned char *)bv.p + (size_t)ends[r] * row_bytes, bytes_r);
        }
        runs[at++] = (resa_attn_run){pk[r].p, pv[r].p, ends[r + 1] - ends[r]};
        if (r == 0)
            runs[at++] = (resa_attn_run){pk[r].p, pv[r].p, 0};
    }
    for (int i = 0; i < n_impls; i++) {
        if (i > 0 && !impls[i].new_decode[c->f16])
            continue;
        /* scattered runs: bit for bit the one run, in every tier */
        float m1[8], l1[8], *o1 = malloc(sizeof(float) * (size_t)G * d);
        run_case(&vs[i], impls[i].c.decode[type], c, &in, bk.p, bv.p, NULL, NULL, 0, m, l, o);
        run_case(&vs[i], impls[i].c.decode[type], c, &in, bk.p, bv.p, NULL, runs, 4, m1, l1, o1);
        if (memcmp(m, m1, sizeof(float) * G) || memcmp(l, l1, sizeof(float) * G) ||
            memcmp(o, o1, sizeof(float) * (size_t)G * d))
            fail(&vs[i], CASE_FMT " (runs apart differ from one run)", c, "runs", l1[0], l[0]);
        free(o1);
        for (int split = 0; split < 2; split++) {
            float *rs_o = ro + (size_t)split * G * d;
            run_case(&vs[i], impls[i].c.decode[type], c, &in, bk.p, bv.p, split && n >= 3 ? cuts : NULL,
                     NULL, 0, m, l, o);
            if (n == 0) { /* nothing to fold: the state stays bit-identical */
                if (memcmp(m, in.m0, sizeof(float) * G) || memcmp(l, in.l0, sizeof(float) * G) ||
                    memcmp(o, in.o0, sizeof(float) * (size_t)G * d))
                    fail(&vs[i], CASE_FMT, c, "state changed", 0, 0);
                continue;
            }
            if (i > 0) { /* one recipe in every tier (issue 3): bit for bit */
                for (int g = 0; g < G; g++) {
                    if (memcmp(&m[g], &rm[split][g], sizeof(float)))
                        fail(&vs[i], CASE_FMT " (m, not bit-exact)", c, split ? "split" : "one call", m[g], rm[split][g]);
                    if (memcmp(&l[g], &rl[split][g], sizeof(float)))
                        fail(&vs[i], CASE_FMT " (l, not bit-exact)", c, split ? "split" : "one call", l[g], rl[split][g]);
                }
                for (size_t j = 0; j < (size_t)G * d; j++)
                    if (memcmp(&o[j], &rs_o[j], sizeof(float)))
                        fail(&vs[i], CASE_FMT " (o, not bit-exact)", c, split ? "split" : "one call", o[j], rs_o[j]);
                continue;
            }
            memcpy(rm[split], m, sizeof(float) * G);
            memcpy(rl[split], l, sizeof(float) * G);
            memcpy(rs_o, o, sizeof(float) * (size_t)G * d);
            state_result(c, m, l, o, split == 0 ? ref : got);
            if (split == 0)
                compare(&vs[i], c, tr, ref, &tr->r, 1.0);
            else
                compare(&vs[i], c, tr, got, ref, 2.0);
        }
    }
    free(ref);
    free(got);
    free(ro);
    free(o);
    free(tr);
    ca_buf_free(&bk);
    ca_buf_free(&bv);
    for (int r = 0; r < 3; r++) {
        ca_buf_free(&pk[r]);
        ca_buf_free(&pv[r]);
    }
    free(in.k);
    free(in.v);
    free(in.q);
    free(in.o0);
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
        ca_report(1, kernel, tier, "worst %.3f of the tolerance", v->worst);
}

static void test_decode(void)
{
    static const int ns[] = {0, 1, 7, 17, 33, 64, 100, 1023, 4097};
    static const int ds[] = {32, 64, 128};
    static const int other_ds[] = {8, 24, 40, 256, 512, 12};
    for (int f16 = 0; f16 < 2; f16++) {
        verdict vs[MAX_IMPLS];
        memset(vs, 0, sizeof vs);
        int trial = 0;
        for (size_t in = 0; in < sizeof ns / sizeof ns[0]; in++)
            for (size_t id = 0; id < sizeof ds / sizeof ds[0]; id++)
                for (int G = 1; G <= 8; G++)
                    for (int start = 0; start < 3; start++, trial++) {
                        if (start == 2 && (G + (int)id) % 3) /* the max-never-moves start: a third of them */
                            continue;
                        if (ns[in] > 1000 && (G + (int)id + start) % 2) /* long rows: half the groups */
                            continue;
                        const int d = ds[id];
                        const float scales[3] = {1.0f / sqrtf((float)d), 1.0f, 0.03f};
                        const dcase c = {.f16 = f16, .n = ns[in], .d = d, .group = G, .start = start,
                                         .mode = trial % N_MODES, .scale = scales[trial / N_MODES % 3]};
                        test_decode_case(&c, vs, trial);
                    }
        for (size_t id = 0; id < sizeof other_ds / sizeof other_ds[0]; id++)
            for (int i = 0; i < 6; i++, trial++) {
                const int n = (int)(ca_rnd() % 300);
                const dcase c = {.f16 = f16, .n = n, .d = other_ds[id], .group = 1 + (int)(ca_rnd() % 8),
                                 .start = i % 2, .mode = i % N_MODES, .scale = 1.0f / sqrtf((float)other_ds[id])};
                test_decode_case(&c, vs, trial);
            }
        for (int i = 0; i < n_impls; i++)
            if (i == 0 || impls[i].new_decode[f16])
                report(&vs[i], f16 ? "decode_f16" : "decode_f32", impls[i].name);
    }
}

/* ---- block_score ------------------------------------------------------------------ */

typedef struct scall {
    resa_block_score_fn fn;
    const float *q;
    const void *kmin, *kmax;
    int d, n;
    float *out;
} scall;

static void run_score(void *arg)
{
    const scall *c = arg;
    c->fn(c->q, c->kmin, c->kmax, c->d, c->n, c->out);
}

static void test_block_score(void)
{
    static const int ds[] = {8, 16, 24, 32, 40, 64, 128, 136, 256, 4, 12};
    static const int nbs[] = {0, 1, 7, 8, 9, 17, 100, 4095};
    verdict vs[2][MAX_IMPLS], ref[2];
    memset(vs, 0, sizeof vs);
    memset(ref, 0, sizeof ref);
    int trial = 0;
    for (size_t id = 0; id < sizeof ds / sizeof ds[0]; id++)
        for (size_t ib = 0; ib < sizeof nbs / sizeof nbs[0]; ib++, trial++) {
            const int d = ds[id], nb = nbs[ib];
            const size_t n = (size_t)nb * d, sz = sizeof(float) * n;
            ca_buf bq = in_buf(sizeof(float) * d, 4, trial), bmin = in_buf(sz, 8, trial + 1),
                   bmax = in_buf(sz, 12, trial), hmin = in_buf(sz / 2, 2, trial), hmax = in_buf(sz / 2, 6, trial + 1);
            float *q = (float *)(void *)bq.p, *kmin = (float *)(void *)bmin.p, *kmax = (float *)(void *)bmax.p;
            resa_f16 *kmin16 = (resa_f16 *)(void *)hmin.p, *kmax16 = (resa_f16 *)(void *)hmax.p;
            const float amp = rnd_range(0.1f, 10.0f);
            for (int j = 0; j < d; j++) /* zeros of both signs too */
                q[j] = ca_rnd() % 16 ? ca_rndf() * amp : (ca_rnd() & 1 ? 0.0f : -0.0f);
            for (size_t i = 0; i < n; i++) { /* f16 values, so both types hold the same summaries */
                const float a = type_f16_to_f32(type_f32_to_f16(ca_rndf()));
                const float b = ca_rnd() % 8 ? type_f16_to_f32(type_f32_to_f16(ca_rndf())) : a; /* some min == max */
                kmin[i] = fminf(a, b);
                kmax[i] = fmaxf(a, b);
                kmin16[i] = type_f32_to_f16(kmin[i]);
                kmax16[i] = type_f32_to_f16(kmax[i]);
            }
            float *want = malloc(sizeof(float) * (size_t)(nb + 1)), *want16 = malloc(sizeof(float) * (size_t)(nb + 1));
            impls[0].c.block_score[RESA_TYPE_F32](q, kmin, kmax, d, nb, want);
            impls[0].c.block_score[RESA_TYPE_F16](q, kmin16, kmax16, d, nb, want16);
            for (int b = 0; b < nb; b++) { /* the reference against double, and f16 == f32 */
                double S = 0, T = 0;
                for (int j = 0; j < d; j++) {
                    const double hi = (double)q[j] * kmax[(size_t)b * d + j], lo = (double)q[j] * kmin[(size_t)b * d + j];
                    S += fmax(fabs(hi), fabs(lo));
                    T += fmax(hi, lo);
                }
                const double tol = (d + 4) * EPS * S + 1e-30, err = fabs((double)want[b] - T);
                if (!(err <= tol) && !ref[0].failed) {
                    snprintf(ref[0].first, sizeof ref[0].first, "d=%d n_blocks=%d block %d: %.9g, double sum %.9g",
                             d, nb, b, (double)want[b], T);
                    ref[0].failed = 1;
                }
                ref[0].worst = fmax(ref[0].worst, err / tol);
                if (memcmp(&want[b], &want16[b], sizeof(float)) && !ref[1].failed) {
                    snprintf(ref[1].first, sizeof ref[1].first, "d=%d n_blocks=%d block %d: f16 %.9g, f32 %.9g",
                             d, nb, b, (double)want16[b], (double)want[b]);
                    ref[1].failed = 1;
                }
            }
            for (int f = 0; f < 2; f++)
                for (int i = 1; i < n_impls; i++) {
                    if (!impls[i].new_score[f])
                        continue;
                    ca_buf bo = ca_buf_new(sizeof(float) * (size_t)nb, 4);
                    const int type = f ? RESA_TYPE_F16 : RESA_TYPE_F32;
                    scall c = {impls[i].c.block_score[type], q, f ? (const void *)kmin16 : kmin,
                               f ? (const void *)kmax16 : kmax, d, nb, (float *)(void *)bo.p};
                    const float *w = f ? want16 : want;
                    const int sig = ca_call(run_score, &c);
                    verdict *v = &vs[f][i];
                    if (sig && !v->sig)
                        v->sig = sig;
                    if (!ca_guards_ok(&bo))
                        v->guards = 1;
                    for (int b = 0; b < nb && !sig; b++)
                        if (memcmp(&c.out[b], &w[b], sizeof(float)) && !v->failed) {
                            snprintf(v->first, sizeof v->first, "d=%d n_blocks=%d block %d: %.9g, want %.9g (bit-exact)",
                                     d, nb, b, (double)c.out[b], (double)w[b]);
                            v->failed = 1;
                        }
                    ca_buf_free(&bo);
                }
            free(want);
            free(want16);
            ca_buf_free(&bq);
            ca_buf_free(&bmin);
            ca_buf_free(&bmax);
            ca_buf_free(&hmin);
            ca_buf_free(&hmax);
        }
    report(&ref[0], "block_score_f32 vs double", "c");
    report(&ref[1], "block_score_f16 = f32", "c");
    for (int f = 0; f < 2; f++)
        for (int i = 1; i < n_impls; i++)
            if (impls[i].new_score[f])
                report(&vs[f][i], f ? "block_score_f16" : "block_score_f32", impls[i].name);
}

/* ---- summary_add ------------------------------------------------------------------- */

typedef struct acall {
    resa_summary_add_fn fn;
    float *kmin, *kmax;
    const float *k;
    int d, first;
} acall;

static void run_add(void *arg)
{
    const acall *c = arg;
    c->fn(c->kmin, c->kmax, c->k, c->d, c->first);
}

/* Random keys with the values comparisons treat specially now and then. */
static float special_key(void)
{
    switch (ca_rnd() % 24) {
    case 0: return NAN;
    case 1: return 0.0f;
    case 2: return -0.0f;
    case 3: return INFINITY;
    case 4: return -INFINITY;
    default: return ca_rndf();
    }
}

static void test_summary_add(void)
{
    static const int ds[] = {1, 7, 8, 15, 16, 17, 33, 64, 128, 200, 256};
    verdict vs[MAX_IMPLS];
    memset(vs, 0, sizeof vs);
    for (size_t id = 0; id < sizeof ds / sizeof ds[0]; id++) {
        const int d = ds[id];
        const size_t sz = sizeof(float) * d;
        for (int i = 1; i < n_impls; i++) {
            if (!impls[i].new_summary)
                continue;
            ca_buf bmin = ca_buf_new(sz, 4), bmax = ca_buf_new(sz, 8);
            float *mn = (float *)(void *)bmin.p, *mx = (float *)(void *)bmax.p;
            float *rmin = malloc(sz), *rmax = malloc(sz);
            for (int step = 0; step < 20; step++) {
                ca_buf bk = in_buf(sz, 12, step);
                float *k = (float *)(void *)bk.p;
                for (int j = 0; j < d; j++)
                    k[j] = special_key();
                const int first = step == 0 || step == 10;
                impls[0].c.summary_add(rmin, rmax, k, d, first);
                acall c = {impls[i].c.summary_add, mn, mx, k, d, first};
                const int sig = ca_call(run_add, &c);
                if (sig && !vs[i].sig)
                    vs[i].sig = sig;
                if (!ca_guards_ok(&bmin) || !ca_guards_ok(&bmax))
                    vs[i].guards = 1;
                if ((memcmp(mn, rmin, sz) || memcmp(mx, rmax, sz)) && !vs[i].failed) {
                    snprintf(vs[i].first, sizeof vs[i].first, "d=%d step %d: not bit-exact", d, step);
                    vs[i].failed = 1;
                }
                ca_buf_free(&bk);
            }
            free(rmin);
            free(rmax);
            ca_buf_free(&bmin);
            ca_buf_free(&bmax);
        }
    }
    for (int i = 1; i < n_impls; i++)
        if (impls[i].new_summary)
            report(&vs[i], "summary_add", impls[i].name);
}

/* ---- benchmarks ---------------------------------------------------------------------- */

enum { B_HEADS = 3, B_GROUP = 3, B_D = 64, B_KEYS = 65536, B_BLOCK = 16, B_BLOCKS = B_KEYS / B_BLOCK };
#define POOL_BYTES ((size_t)512 << 20)
#define N_SEL 16

/* The data the benchmarks read: a 512 MiB pool holding as many copies of a
 * layer's K/V (3 heads x 65536 keys x 64 f16, K then V: 48 MiB) or of its
 * summaries (3 x 4096 blocks x 2 x 64 floats: 6 MiB) as fit. */
typedef struct bench {
    unsigned char *pool;
    size_t kv_copy, sum_copy; /* bytes of one copy */
    int n_kv_copies, n_sum_copies, next;
    float q[B_HEADS * B_GROUP * B_D], qbar[B_HEADS * B_D];
    /* sparse: N_SEL random selections, runs [a, b) in rows; call i reads
     * copy i % n_kv_copies through selection i / n_kv_copies % N_SEL, so the
     * blocks it reads were not read for many calls (the L3 would otherwise
     * keep 10% of every copy) */
    int runs[N_SEL][B_HEADS][B_BLOCKS][2], n_runs[N_SEL][B_HEADS], sel_rows;
    resa_attn_ctx c;
    int threads;
    float scores[B_HEADS * B_BLOCKS];
} bench;

static const uint16_t *bench_k(const bench *b, int copy, int h)
{
    return (const uint16_t *)(b->pool + (size_t)copy * b->kv_copy) + (size_t)h * B_KEYS * B_D;
}

static const uint16_t *bench_v(const bench *b, int copy, int h)
{
    return bench_k(b, copy, h) + (size_t)B_HEADS * B_KEYS * B_D;
}

/* Merges the per-range states of one head, as the engine does, into o/l. */
static void merge_states(const float *m, const float *l, const float *o, int n_parts, float *out)
{
    for (int g = 0; g < B_GROUP; g++) {
        float M = -INFINITY;
        for (int s = 0; s < n_parts; s++)
            M = fmaxf(M, m[s * B_GROUP + g]);
        float L = 0, acc[B_D] = {0};
        for (int s = 0; s < n_parts; s++) {
            const float w = expf(m[s * B_GROUP + g] - M);
            L += w * l[s * B_GROUP + g];
            for (int j = 0; j < B_D; j++)
                acc[j] += w * o[((size_t)s * B_GROUP + g) * B_D + j];
        }
        for (int j = 0; j < B_D; j++)
            out[g * B_D + j] = acc[j] / L;
    }
}

static volatile float bench_sink;

/* Dense: each head's keys in `threads` ranges (the engine's segments), one
 * work item per (head, range). */
static void bench_dense(void *arg)
{
    bench *b = arg;
    const int copy = b->next++ % b->n_kv_copies, parts = b->threads;
    float m[B_HEADS][8 * B_GROUP], l[B_HEADS][8 * B_GROUP], o[B_HEADS][8 * B_GROUP * B_D];
#pragma omp parallel for num_threads(b->threads) schedule(static) collapse(2)
    for (int h = 0; h < B_HEADS; h++)
        for (int s = 0; s < parts; s++) {
            const int a = B_KEYS * s / parts, e = B_KEYS * (s + 1) / parts;
            float *ms = &m[h][s * B_GROUP], *ls = &l[h][s * B_GROUP], *os = &o[h][s * B_GROUP * B_D];
            for (int g = 0; g < B_GROUP; g++) {
                ms[g] = -INFINITY;
                ls[g] = 0;
            }
            memset(os, 0, sizeof(float) * B_GROUP * B_D);
            const resa_attn_run r = {bench_k(b, copy, h) + (size_t)a * B_D,
                                     bench_v(b, copy, h) + (size_t)a * B_D, e - a};
            b->c.decode[RESA_TYPE_F16](&r, 1, B_D, b->q + h * B_GROUP * B_D, B_GROUP, 0.125f, ms, ls, os);
        }
    float out[B_GROUP * B_D];
    for (int h = 0; h < B_HEADS; h++)
        merge_states(m[h], l[h], o[h], parts, out);
    bench_sink = out[0];
}

/* Sparse: each head's runs split in `threads` parts of about equal rows,
 * each part one call, as the engine does. */
static void bench_sparse(void *arg)
{
    bench *b = arg;
    const int copy = b->next % b->n_kv_copies, sel = b->next / b->n_kv_copies % N_SEL, parts = b->threads;
    b->next++;
    float m[B_HEADS][8 * B_GROUP], l[B_HEADS][8 * B_GROUP], o[B_HEADS][8 * B_GROUP * B_D];
#pragma omp parallel for num_threads(b->threads) schedule(static) collapse(2)
    for (int h = 0; h < B_HEADS; h++)
        for (int s = 0; s < parts; s++) {
            int(*runs)[2] = b->runs[sel][h];
            const int r0 = b->n_runs[sel][h] * s / parts, r1 = b->n_runs[sel][h] * (s + 1) / parts;
            float *ms = &m[h][s * B_GROUP], *ls = &l[h][s * B_GROUP], *os = &o[h][s * B_GROUP * B_D];
            for (int g = 0; g < B_GROUP; g++) {
                ms[g] = -INFINITY;
                ls[g] = 0;
            }
            memset(os, 0, sizeof(float) * B_GROUP * B_D);
            resa_attn_run pieces[B_BLOCKS];
            for (int r = r0; r < r1; r++)
                pieces[r - r0] = (resa_attn_run){bench_k(b, copy, h) + (size_t)runs[r][0] * B_D,
                                                 bench_v(b, copy, h) + (size_t)runs[r][0] * B_D,
                                                 runs[r][1] - runs[r][0]};
            b->c.decode[RESA_TYPE_F16](pieces, r1 - r0, B_D, b->q + h * B_GROUP * B_D, B_GROUP, 0.125f,
                                       ms, ls, os);
        }
    float out[B_GROUP * B_D];
    for (int h = 0; h < B_HEADS; h++)
        merge_states(m[h], l[h], o[h], parts, out);
    bench_sink = out[0];
}

/* Scoring: each head's blocks in `threads` ranges. */
static void bench_score(void *arg)
{
    bench *b = arg;
    const int copy = b->next++ % b->n_sum_copies, parts = b->threads;
    const resa_f16 *base = (const resa_f16 *)(b->pool + (size_t)copy * b->sum_copy);
#pragma omp parallel for num_threads(b->threads) schedule(static) collapse(2)
    for (int h = 0; h < B_HEADS; h++)
        for (int s = 0; s < parts; s++) {
            const int a = B_BLOCKS * s / parts, e = B_BLOCKS * (s + 1) / parts;
            const resa_f16 *kmin = base + (size_t)h * 2 * B_BLOCKS * B_D, *kmax = kmin + (size_t)B_BLOCKS * B_D;
            b->c.block_score[RESA_TYPE_F16](b->qbar + h * B_D, kmin + (size_t)a * B_D, kmax + (size_t)a * B_D, B_D,
                             e - a, b->scores + h * B_BLOCKS + a);
        }
    bench_sink = b->scores[0];
}

/* One head, 2048 keys (1 MiB of K and V: in L2 after the first call), one
 * thread: the kernel's compute ceiling. */
static void bench_warm(void *arg)
{
    bench *b = arg;
    float m[B_GROUP], l[B_GROUP], o[B_GROUP * B_D];
    for (int g = 0; g < B_GROUP; g++) {
        m[g] = -INFINITY;
        l[g] = 0;
    }
    memset(o, 0, sizeof o);
    const resa_attn_run r = {bench_k(b, 0, 0), bench_v(b, 0, 0), 2048};
    b->c.decode[RESA_TYPE_F16](&r, 1, B_D, b->q, B_GROUP, 0.125f, m, l, o);
    bench_sink = o[0];
}

/* 10% of each head's blocks, at random; adjacent ones merged into runs. */
static void choose_blocks(bench *b)
{
    static unsigned char chosen[B_BLOCKS];
    b->sel_rows = 0;
    for (int sel = 0; sel < N_SEL; sel++)
        for (int h = 0; h < B_HEADS; h++) {
            memset(chosen, 0, sizeof chosen);
            for (int k = 0; k < B_BLOCKS / 10;) {
                const int i = (int)(ca_rnd() % B_BLOCKS);
                if (!chosen[i]) {
                    chosen[i] = 1;
                    k++;
                }
            }
            int n = 0, (*runs)[2] = b->runs[sel][h];
            for (int i = 0; i < B_BLOCKS; i++) {
                if (!chosen[i])
                    continue;
                if (n && runs[n - 1][1] == i * B_BLOCK) {
                    runs[n - 1][1] += B_BLOCK;
                } else {
                    runs[n][0] = i * B_BLOCK;
                    runs[n++][1] = (i + 1) * B_BLOCK;
                }
            }
            b->n_runs[sel][h] = n;
        }
    b->sel_rows = B_HEADS * (B_BLOCKS / 10) * B_BLOCK; /* the same in every selection */
}

static void run_benchmarks(void)
{
    bench *b = calloc(1, sizeof *b);
    b->pool = malloc(POOL_BYTES);
    if (!b || !b->pool) {
        printf("bench: cannot allocate the %zu MiB pool, skipped\n", POOL_BYTES >> 20);
        return;
    }
    b->kv_copy = (size_t)2 * B_HEADS * B_KEYS * B_D * sizeof(uint16_t);
    b->sum_copy = (size_t)2 * B_HEADS * B_BLOCKS * B_D * sizeof(resa_f16); /* f16 summaries, as the engine's f16 cache */
    b->n_kv_copies = (int)(POOL_BYTES / b->kv_copy);
    b->n_sum_copies = (int)(POOL_BYTES / b->sum_copy);
    /* keys, values and summaries: f16 of random [-1, 1) (the scores do not
     * need kmin <= kmax to cost the same) */
    uint16_t *h16 = (uint16_t *)b->pool;
    for (size_t i = 0; i < POOL_BYTES / 2; i++)
        h16[i] = type_f32_to_f16(ca_rndf());
    for (int i = 0; i < B_HEADS * B_GROUP * B_D; i++)
        b->q[i] = ca_rndf();
    for (int i = 0; i < B_HEADS * B_D; i++)
        b->qbar[i] = ca_rndf();
    choose_blocks(b);
    const int sel_rows = b->sel_rows;
    int n_runs = 0;
    for (int h = 0; h < B_HEADS; h++)
        n_runs += b->n_runs[0][h];
    printf("bench: SmolLM2 attention shape (%d KV heads, group %d, d %d, f16 cache), data from a "
           "%zu MiB pool (cold); sparse: about %d runs, %d rows over %d heads\n",
           B_HEADS, B_GROUP, B_D, POOL_BYTES >> 20, n_runs, sel_rows, B_HEADS);
    const double kv_bytes = (double)B_HEADS * B_KEYS * B_D * 2 * 2;
    const double sum_bytes = (double)b->sum_copy, sparse_bytes = (double)sel_rows * B_D * 2 * 2;
    for (int i = 0; i < n_impls; i++) {
        char name[64];
        snprintf(name, sizeof name, "decode_%s", impls[i].name);
        if (!ca_bench_wanted(name))
            continue;
        b->c = impls[i].c;
        const double t = ca_time_ns(bench_warm, b);
        printf("  %-22s in L2 (2048 keys, 1 head, 1 thread): %6.2f ns per key, %5.1f GB/s\n", name,
               t / 2048, 2048.0 * B_D * 2 * 2 / t);
    }
    for (int threads = 1; threads <= 2; threads++) {
        const double bw = ca_read_bandwidth(threads);
        printf("  %d thread%s: read bandwidth %.1f GB/s, fp32 FMA peak %.0f GFLOP/s\n", threads,
               threads > 1 ? "s" : "", bw, ca_fma_peak(threads));
        for (int i = 0; i < n_impls; i++) {
            b->c = impls[i].c;
            b->threads = threads;
            char name[64];
            snprintf(name, sizeof name, "decode_%s", impls[i].name);
            if (ca_bench_wanted(name)) {
                const double t = ca_time_ns(bench_dense, b);
                printf("    %-20s 65536 keys     %8.3f ms  %6.1f GB/s  %4.0f%% of read bandwidth\n", name,
                       t * 1e-6, kv_bytes / t, 100 * kv_bytes / t / bw);
            }
            snprintf(name, sizeof name, "block_score_%s", impls[i].name);
            if (ca_bench_wanted(name)) {
                const double t = ca_time_ns(bench_score, b);
                printf("    %-20s 4096 blocks    %8.3f ms  %6.1f GB/s  %4.0f%% of read bandwidth\n", name,
                       t * 1e-6, sum_bytes / t, 100 * sum_bytes / t / bw);
            }
            snprintf(name, sizeof name, "sparse_%s", impls[i].name);
            if (ca_bench_wanted(name)) {
                const double t = ca_time_ns(bench_sparse, b);
                printf("    %-20s 10%% of blocks  %8.3f ms  %6.1f GB/s  %4.0f%% of read bandwidth\n", name,
                       t * 1e-6, sparse_bytes / t, 100 * sparse_bytes / t / bw);
            }
        }
    }
    free(b->pool);
    free(b);
}

int main(int argc, char **argv)
{
    ca_init(argc, argv, "checksimd_attn");
    setup_impls();
    test_decode();
    test_block_score();
    test_summary_add();
    if (ca_opt.bench)
        run_benchmarks();
    return ca_finish();
}
