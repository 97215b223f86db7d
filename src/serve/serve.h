/* SPDX-License-Identifier: MIT */
/* resa serve: the server's shared state (docs/design.md §8).
 *
 * Threads: one engine thread owns the engine and its sequences and runs the
 * continuous-batching loop (engine_loop.c); libmicrohttpd runs one thread per
 * connection (http.c), which parses a request into a job, queues it, and
 * waits on the job's condition variable for its text. srv->mu guards the
 * queue, every job's output fields and the metrics. */
#ifndef RESA_SERVE_H
#define RESA_SERVE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "request.h"
#include "resa.h"

typedef struct serve_options {
    const char *model_path, *host, *api_key, *chat_template, *model_id;
    int port, parallel, ctx_per_seq, queue, max_tokens;
    size_t max_body;
    double timeout_s; /* wall-clock limit of one request, queueing included */
    resa_params params; /* the engine's: threads, mode, schedule */
} serve_options;

/* One generated token, with its log-probabilities when asked for. */
typedef struct serve_token {
    int32_t id;
    float logprob;
    int n_top;
    int32_t *top_id; /* n_top best alternatives */
    float *top_lp;
} serve_token;

typedef enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE } job_state;

typedef struct serve_job {
    /* written by the HTTP thread before the job is queued, read-only after */
    serve_request req;
    int32_t *prompt;
    int n_prompt, max_tokens;
    double t_start, deadline;
    /* guarded by srv->mu */
    job_state state;
    int cancelled;           /* the client went away */
    char *text;              /* the completion so far (raw bytes of the tokens) */
    size_t len, cap, ready;  /* ready: bytes that may be sent (no partial stop string or character) */
    serve_token *toks;
    int n_toks, cap_toks;
    const char *finish;      /* "stop" or "length" once done without error */
    serve_error err;         /* err.status != 0: the job failed */
    int refs;                /* the HTTP thread's and the engine's */
    double t_first;          /* when the first token came */
    pthread_cond_t cond;
    struct serve_job *next;  /* in the queue */
} serve_job;

typedef struct serve_metrics {
    uint64_t by_status[600];
    uint64_t prompt_tokens, generated_tokens, rectifications, cancelled, timed_out;
    int queued, active, kv_free_positions;
    double decode_tok_s;
} serve_metrics;

typedef struct serve_server {
    serve_options opt;
    resa_model *model;
    const resa_model_info *info;
    resa_engine *engine;
    const char *chat_template;
    double created;          /* for /v1/models */
    pthread_mutex_t mu;
    pthread_cond_t engine_cond; /* work arrived, or stopping */
    serve_job *queue_head, *queue_tail;
    int stopping;
    int n_jobs;              /* jobs alive: a response still being written holds one */
    serve_metrics m;
    pthread_t engine_thread;
} serve_server;

/* ---- jobs (job.c) ---- */
/* A new job (refs 1: the caller's), counted in srv->n_jobs. */
serve_job *job_new(serve_server *srv);
/* Drops one reference (under srv->mu); the last frees the job. */
void job_release(serve_server *srv, serve_job *j);
/* Queues j (refs 2): 0, or -1 with err (503 when the queue is full or the server stops). */
int job_submit(serve_server *srv, serve_job *j, serve_error *err);
/* Engine side, under srv->mu: appends a token's text, finds stop strings and
 * moves j->ready; returns 1 when a stop string ended the completion. */
int job_append(serve_job *j, const char *piece, size_t n);
/* Engine side, under srv->mu: marks j done (finish reason or error) and wakes its waiter. */
void job_finish(serve_job *j, const char *finish);
void job_fail(serve_job *j, int status, const char *code, const char *msg);

/* ---- the engine thread (engine_loop.c) ---- */
int engine_loop_start(serve_server *srv);
/* Stops admitting, lets running jobs end (at most grace_s more), joins. */
void engine_loop_stop(serve_server *srv, double grace_s);

/* ---- metrics (metrics.c) ---- */
void metrics_count_status(serve_server *srv, int status);
/* Prometheus text exposition; malloc'ed. */
char *metrics_render(serve_server *srv);

/* ---- HTTP (http.c) ---- */
struct MHD_Daemon;
/* Starts listening; the bound port goes to *port. NULL on failure (message printed). */
struct MHD_Daemon *http_start(serve_server *srv, int *port);
void http_stop(struct MHD_Daemon *d);


#endif
