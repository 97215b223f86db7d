/* SPDX-License-Identifier: MIT */
/* resa eval, language modeling (the paper's protocol, docs/design.md §6).
 *
 * For each window of L tokens of real text and each x of the sweep: the first
 * L-x tokens are a dense prefix, the last x are teacher-forced one decode step
 * at a time through the mode; the logits of the last EVAL_LM_POSITIONS
 * positions are scored against the text's next token and against the dense
 * mode's logits of the same positions (KL(dense || mode)).
 *
 * Cost: one dense prefill per window. The sweep runs from the largest x down,
 * so the prefix only grows; every mode starts from the same cached prefix
 * (resa_context_set_mode) and is cut back to it afterwards
 * (resa_context_truncate). What remains is the decode steps themselves:
 * windows * sum(x) * modes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "eval.h"

int eval_lm_modes(const eval_opts *o, resa_mode *modes)
{
    int n = 0;
    modes[n++] = RESA_MODE_DENSE;
    for (int i = 0; i < o->n_modes; i++)
        if (o->modes[i] != RESA_MODE_DENSE)
            modes[n++] = o->modes[i];
    return n;
}

/* Start of window w of n_win, each `need` tokens of an n-token text: evenly
 * spread, each centred in its share of the text (windows overlap only when
 * the text is short). */
static int window_start(int n, int need, int w, int n_win)
{
    return (int)((int64_t)(n - need) * (2 * w + 1) / (2 * n_win));
}

/* log(sum_j e^z[j]), in double. */
static double log_sum_exp(const float *z, int n)
{
    float mx = z[0];
    for (int j = 1; j < n; j++)
        mx = z[j] > mx ? z[j] : mx;
    double s = 0;
    for (int j = 0; j < n; j++)
        s += exp((double)z[j] - mx);
    return mx + log(s);
}

/* Scores one position: rank of the next token (ties broken toward the lower
 * id, as greedy decoding does), -log p(next), and KL(ref || z). Identical
 * logits give a KL of exactly 0. */
static void score(lm_row *r, const float *z, const float *ref, double ref_lse, int n, int32_t next)
{
    const double lse = log_sum_exp(z, n);
    int rank = 0;
    for (int j = 0; j < n; j++)
        rank += z[j] > z[next] || (z[j] == z[next] && j < next);
    r->top1 += rank < 1;
    r->top3 += rank < 3;
    r->nll += lse - z[next];
    double kl = 0;
    for (int j = 0; j < n; j++) {
        const double lp = ref[j] - ref_lse, lq = z[j] - lse;
        kl += exp(lp) * (lp - lq);
    }
    r->kl += kl;
    r->positions++;
}

typedef struct lm_state {
    const eval_opts *o;
    const int32_t *win;  /* L + 1 tokens: L fed, each one's next scored */
    int n_vocab, w;
    float *ref;          /* dense logits of the scored positions */
    double ref_lse[EVAL_LM_POSITIONS];
} lm_state;

/* Positions L-x .. L-1 through `mode` from the cached prefix, then back to it. */
static int run_mode(resa_context *ctx, lm_state *s, int x, lm_row *row)
{
    const int L = s->o->length, P = L - x, first_scored = L - EVAL_LM_POSITIONS;
    if (resa_context_set_mode(ctx, row->mode))
        return cli_error("eval: %s", resa_last_error());
    const int rect0 = resa_context_rectifications(ctx);
    for (int t = P; t < L; t++) {
        if (resa_decode(ctx, &s->win[t], 1, NULL, NULL))
            return cli_error("eval: %s", resa_last_error());
        if ((t - P) % 64 == 0)
            eval_progress("lm: window %d/%d, x %d, %s: step %d/%d", s->w + 1, s->o->windows, x,
                          resa_mode_name(row->mode), t - P, x);
        if (t < first_scored)
            continue;
        const int k = t - first_scored;
        const float *z = resa_logits(ctx);
        float *ref = s->ref + (size_t)k * s->n_vocab;
        if (row->mode == RESA_MODE_DENSE) { /* dense runs first: it is the reference */
            memcpy(ref, z, (size_t)s->n_vocab * sizeof *ref);
            s->ref_lse[k] = log_sum_exp(ref, s->n_vocab);
        }
        score(row, z, ref, s->ref_lse[k], s->n_vocab, s->win[t + 1]);
    }
    row->rectifications += resa_context_rectifications(ctx) - rect0;
    if (resa_context_truncate(ctx, P))
        return cli_error("eval: %s", resa_last_error());
    return 0;
}

/* One window: a dense prefix that grows as x shrinks, every mode at each x. */
static int run_window(resa_context *ctx, lm_state *s, lm_row *rows, int n_rm)
{
    const eval_opts *o = s->o;
    resa_context_reset(ctx);
    for (int xi = 0; xi < o->n_xs; xi++) {
        const int P = o->length - o->xs[xi], done = resa_context_n_past(ctx);
        /* the prefix is dense whatever the mode: one token more would be a step */
        if (resa_context_set_mode(ctx, RESA_MODE_DENSE) ||
            resa_decode(ctx, s->win + done, P - done, NULL, NULL))
            return cli_error("eval: %s", resa_last_error());
        for (int mi = 0; mi < n_rm; mi++)
            if (run_mode(ctx, s, o->xs[xi], &rows[xi * n_rm + mi]))
                return 1;
    }
    return 0;
}

int eval_lm(const resa_model *m, resa_context *ctx, const eval_opts *o, const eval_text *t,
            lm_row *rows)
{
    const resa_model_info *info = resa_model_get_info(m);
    resa_mode modes[4];
    const int n_rm = eval_lm_modes(o, modes);
    for (int xi = 0; xi < o->n_xs; xi++)
        for (int mi = 0; mi < n_rm; mi++)
            rows[xi * n_rm + mi] = (lm_row){ .mode = modes[mi], .x = o->xs[xi] };
    /* a window feeds L tokens and scores each one's successor: L + 1 tokens,
     * the first of them BOS when the model wants one */
    const int bos = info->add_bos && info->bos_id >= 0, need = o->length + 1 - bos;
    lm_state s = { .o = o, .n_vocab = info->n_vocab };
    int32_t *win = malloc(((size_t)o->length + 1) * sizeof *win);
    s.ref = malloc((size_t)EVAL_LM_POSITIONS * info->n_vocab * sizeof *s.ref);
    s.win = win;
    int rc = 0;
    if (!win || !s.ref)
        rc = cli_error("eval: out of memory");
    for (s.w = 0; s.w < o->windows && !rc; s.w++) {
        const int start = window_start(t->n, need, s.w, o->windows);
        if (bos)
            win[0] = info->bos_id;
        memcpy(win + bos, t->ids + start, (size_t)need * sizeof *win);
        rc = run_window(ctx, &s, rows, n_rm);
    }
    eval_progress_done();
    free(win);
    free(s.ref);
    return rc;
}
