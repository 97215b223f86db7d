/* SPDX-License-Identifier: MIT */
/* resa serve: sampling with the OpenAI request fields (sample.h).
 *
 * Penalties follow OpenAI's definition over the tokens generated so far:
 * logit -= frequency_penalty * count + presence_penalty * (count > 0).
 * min_p keeps tokens whose probability at the request's temperature is at
 * least min_p times the most likely one's. Log-probabilities are those of the
 * model's own distribution (raw logits), as OpenAI reports them. Without
 * penalties or min-p the logits go to resa_sample untouched, so greedy
 * output is the library's argmax. */
#include "sample.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int serve_sampler_init(serve_sampler *s, const serve_request *req, uint64_t seed, int n_vocab, serve_error *err)
{
    memset(s, 0, sizeof *s);
    s->req = req;
    s->n_vocab = n_vocab;
    resa_sampler_params p;
    resa_sampler_default(&p);
    p.temp = req->temperature;
    p.top_k = req->top_k;
    p.top_p = req->top_p;
    p.seed = seed;
    s->base = resa_sampler_new(&p, n_vocab);
    if (!s->base)
        return serve_fail(err, 400, "invalid_value", NULL, "sampler: %s", resa_last_error());
    const int penalties = req->presence_penalty != 0 || req->frequency_penalty != 0;
    if ((penalties || req->min_p > 0) && !(s->scratch = malloc((size_t)n_vocab * sizeof *s->scratch)))
        goto nomem;
    if (penalties && !(s->counts = calloc((size_t)n_vocab, sizeof *s->counts)))
        goto nomem;
    return 0;
nomem:
    serve_sampler_free(s);
    return serve_fail(err, 500, NULL, NULL, "out of memory");
}

void serve_sampler_free(serve_sampler *s)
{
    resa_sampler_free(s->base);
    free(s->scratch);
    free(s->counts);
    memset(s, 0, sizeof *s);
}

/* The logits resa_sample sees: penalties, then min-p. */
static const float *adjusted(serve_sampler *s, const float *logits)
{
    if (!s->scratch)
        return logits;
    const serve_request *r = s->req;
    float *x = s->scratch;
    memcpy(x, logits, (size_t)s->n_vocab * sizeof *x);
    if (s->counts)
        for (int i = 0; i < s->n_vocab; i++)
            if (s->counts[i])
                x[i] -= r->frequency_penalty * (float)s->counts[i] + r->presence_penalty;
    if (r->min_p > 0 && r->temperature > 0) {
        float mx = -FLT_MAX;
        for (int i = 0; i < s->n_vocab; i++)
            mx = x[i] > mx ? x[i] : mx;
        /* p_i / p_max >= min_p  <=>  (x_i - max) / T >= log(min_p) */
        const float floor_ = mx + r->temperature * logf(r->min_p);
        for (int i = 0; i < s->n_vocab; i++)
            if (x[i] < floor_)
                x[i] = -INFINITY;
    }
    return x;
}

/* log-softmax of logits at the chosen token, and the n best alternatives. */
static int log_probs(const serve_sampler *s, const float *logits, serve_token *t, int n_top)
{
    float mx = -FLT_MAX;
    for (int i = 0; i < s->n_vocab; i++)
        mx = logits[i] > mx ? logits[i] : mx;
    double sum = 0;
    for (int i = 0; i < s->n_vocab; i++)
        sum += exp((double)logits[i] - mx);
    const float lse = mx + (float)log(sum);
    t->logprob = logits[t->id] - lse;
    if (n_top == 0)
        return 0;
    t->top_id = malloc((size_t)n_top * sizeof *t->top_id);
    t->top_lp = malloc((size_t)n_top * sizeof *t->top_lp);
    if (!t->top_id || !t->top_lp)
        return -1;
    /* insertion into a sorted list of n_top: n_vocab * n_top at worst, n_top <= 20 */
    int n = 0;
    for (int i = 0; i < s->n_vocab; i++) {
        if (n == n_top && logits[i] <= logits[t->top_id[n - 1]])
            continue;
        int k = n < n_top ? n++ : n - 1;
        while (k > 0 && logits[t->top_id[k - 1]] < logits[i]) {
            t->top_id[k] = t->top_id[k - 1];
            k--;
        }
        t->top_id[k] = i;
    }
    for (int k = 0; k < n; k++)
        t->top_lp[k] = logits[t->top_id[k]] - lse;
    t->n_top = n;
    return 0;
}

int serve_sample(serve_sampler *s, const float *logits, serve_token *tok)
{
    memset(tok, 0, sizeof *tok);
    tok->id = resa_sample(s->base, adjusted(s, logits));
    if (s->counts)
        s->counts[tok->id]++;
    if (s->req->logprobs)
        return log_probs(s, logits, tok, s->req->top_logprobs);
    return 0;
}
