/* SPDX-License-Identifier: MIT */
/* resa serve: one HTTP request body -> a validated request (docs/design.md §8).
 * A pure function of its input bytes and the limits: no model, no I/O, so it
 * can be fuzzed alone (tests/fuzz/fuzz_serve_request.c). */
#ifndef RESA_SERVE_REQUEST_H
#define RESA_SERVE_REQUEST_H

#include <stddef.h>
#include <stdint.h>

typedef enum serve_kind { SERVE_CHAT, SERVE_COMPLETION } serve_kind;

#define SERVE_MAX_STOP 4          /* as OpenAI: at most 4 stop strings */
#define SERVE_MAX_TOP_LOGPROBS 20

typedef struct serve_message {
    char *role;    /* "system", "user" or "assistant" */
    char *content; /* text parts joined */
} serve_message;

typedef struct serve_request {
    serve_kind kind;
    serve_message *messages; /* chat */
    int n_messages;
    char *prompt;            /* completion */
    int max_tokens;          /* 0: not given (the server's limit applies) */
    float temperature, top_p, min_p, presence_penalty, frequency_penalty;
    int top_k;               /* 0: off */
    uint64_t seed;
    int seed_given;
    char *stop[SERVE_MAX_STOP];
    int n_stop;
    int stream, include_usage;
    int logprobs;            /* per-token log-probabilities wanted */
    int top_logprobs;        /* alternatives per token, 0..SERVE_MAX_TOP_LOGPROBS */
    int mode;                /* resa_mode from "resa_mode", or -1: the server's */
} serve_request;

/* What the parser checks against. */
typedef struct serve_limits {
    const char *model_id;    /* a request's "model", when given, must be this */
    int max_tokens;          /* the most a request may ask for */
} serve_limits;

/* An OpenAI-style error: HTTP status, message, type, code and param (NULLs allowed). */
typedef struct serve_error {
    int status;
    char message[256];
    const char *type, *code, *param;
} serve_error;

/* Fills err (status 400, type "invalid_request_error") and returns -1. */
int serve_fail(serve_error *err, int status, const char *code, const char *param, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* Parses body (len bytes, not NUL-terminated) as a request of the given kind:
 * 0 and *out filled (free it with serve_request_free), or -1 and *err. */
int serve_request_parse(const char *body, size_t len, serve_kind kind, const serve_limits *lim,
                        serve_request *out, serve_error *err);
void serve_request_free(serve_request *r);

#endif
