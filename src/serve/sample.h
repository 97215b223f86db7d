/* SPDX-License-Identifier: MIT */
/* resa serve: one token from a sequence's logits, with the request's
 * penalties, min-p and log-probabilities (docs/design.md §8.2). */
#ifndef RESA_SERVE_SAMPLE_H
#define RESA_SERVE_SAMPLE_H

#include "serve.h"

typedef struct serve_sampler {
    resa_sampler *base;     /* temperature, top-k, top-p, seed */
    const serve_request *req;
    int n_vocab;
    float *scratch;         /* the logits after penalties and min-p */
    int *counts;            /* how often each token was generated (penalties only) */
} serve_sampler;

/* 0, or -1 with err (bad parameters, out of memory). */
int serve_sampler_init(serve_sampler *s, const serve_request *req, uint64_t seed, int n_vocab, serve_error *err);
void serve_sampler_free(serve_sampler *s);
/* Samples the next token from logits into *tok (with logprobs when the
 * request asks; tok->top_* malloc'ed). Returns 0, or -1 when out of memory. */
int serve_sample(serve_sampler *s, const float *logits, serve_token *tok);

#endif
