/* SPDX-License-Identifier: MIT */
/* resa serve: the engine thread's continuous-batching loop (docs/design.md §8.1).
 *
 * Each turn of the loop: under srv->mu, retire jobs whose client left or
 * whose time ran out and admit queued jobs into free slots; then, without
 * the lock, one resa_engine_step for every active slot (a decode row each,
 * or the next prompt chunk of a new one; rectification rows join by
 * themselves, the engine schedules them); then sample each slot that has
 * logits and, under the lock again, publish the tokens and finish the
 * jobs that ended. A step never fails the server: a failing step fails the
 * jobs in it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sample.h"
#include "serve.h"

typedef struct slot {
    serve_job *job;         /* NULL: free */
    resa_seq *seq;
    serve_sampler sampler;
    int fed;                /* prompt tokens given to the engine */
    int n_gen;
    int32_t last;           /* the token the next decode step takes */
    /* this step's input and result */
    int take;
    int sampled, eog, sample_failed;
    serve_token tok;
} slot;

typedef struct loop {
    serve_server *srv;
    slot *slots;
    int n_active;
    double grace_s;         /* when stopping: how long running jobs may go on */
    double grace_end;       /* and the time they are cut off */
    double win_start;       /* decode tok/s over windows of about a second */
    long win_tokens;
    /* step arguments */
    resa_seq **seqs;
    const int32_t **tokens;
    int *n_tokens;
    slot **in_step;
} loop;

static void retire(loop *L, slot *s)
{
    serve_server *srv = L->srv;
    srv->m.rectifications += (uint64_t)resa_seq_rectifications(s->seq);
    resa_seq_free(s->seq);
    serve_sampler_free(&s->sampler);
    job_release(srv, s->job);
    memset(s, 0, sizeof *s);
    L->n_active--;
}

static void admit(loop *L, serve_job *j)
{
    serve_server *srv = L->srv;
    slot *s = NULL;
    for (int i = 0; i < srv->opt.parallel && !s; i++)
        if (!L->slots[i].job)
            s = &L->slots[i];
    resa_params p = srv->opt.params;
    p.n_ctx = srv->opt.ctx_per_seq;
    if (j->req.mode >= 0)
        p.mode = (resa_mode)j->req.mode;
    serve_error err = { 0 };
    const uint64_t seed = j->req.seed_given ? j->req.seed : (uint64_t)(time_now() * 1e9) ^ (uint64_t)(uintptr_t)j;
    if (resa_seq_new(srv->engine, &p, &s->seq)) {
        job_fail(j, 500, NULL, resa_last_error());
        job_release(srv, j);
        return;
    }
    if (serve_sampler_init(&s->sampler, &j->req, seed, srv->info->n_vocab, &err)) {
        resa_seq_free(s->seq);
        s->seq = NULL;
        job_fail(j, err.status, err.code, err.message);
        job_release(srv, j);
        return;
    }
    s->job = j;
    j->state = JOB_RUNNING;
    srv->m.prompt_tokens += (uint64_t)j->n_prompt;
    L->n_active++;
}

/* Under srv->mu: the queue and the slots' bookkeeping before a step. */
static void prepare(loop *L)
{
    serve_server *srv = L->srv;
    const double now = time_now();
    if (srv->stopping && L->grace_end == 0)
        L->grace_end = now + L->grace_s;
    for (int i = 0; i < srv->opt.parallel; i++) {
        slot *s = &L->slots[i];
        if (!s->job)
            continue;
        if (s->job->cancelled) {
            srv->m.cancelled++;
            retire(L, s);
        } else if (now > s->job->deadline) {
            srv->m.timed_out++;
            job_fail(s->job, 408, "timeout", "the request ran past the server's time limit");
            retire(L, s);
        } else if (L->grace_end && now > L->grace_end) {
            job_fail(s->job, 503, "shutting_down", "the server is shutting down");
            retire(L, s);
        }
    }
    while (srv->queue_head && (L->n_active < srv->opt.parallel || srv->stopping)) {
        serve_job *j = srv->queue_head;
        srv->queue_head = j->next;
        if (!srv->queue_head)
            srv->queue_tail = NULL;
        srv->m.queued--;
        if (srv->stopping)
            job_fail(j, 503, "shutting_down", "the server is shutting down");
        else if (j->cancelled)
            srv->m.cancelled++;
        else if (now > j->deadline) {
            srv->m.timed_out++;
            job_fail(j, 408, "timeout", "the request waited past the server's time limit");
        } else {
            admit(L, j);
            continue;
        }
        job_release(srv, j);
    }
    srv->m.active = L->n_active;
}

/* Without the lock: one engine step for every active slot, then sampling. */
static resa_status step(loop *L, int *n_rows)
{
    serve_server *srv = L->srv;
    const int n_batch = srv->opt.params.n_batch;
    int n = 0;
    for (int i = 0; i < srv->opt.parallel; i++) {
        slot *s = &L->slots[i];
        if (!s->job)
            continue;
        const serve_job *j = s->job;
        s->sampled = s->eog = s->sample_failed = 0;
        if (s->fed < j->n_prompt) {
            /* Prompt chunks of n_batch from the prompt's start, as a single
             * call would cut them; a last chunk of one token goes with the
             * one before, or it would be taken for a decode step. */
            const int left = j->n_prompt - s->fed;
            s->take = left <= n_batch + 1 ? left : n_batch;
            L->tokens[n] = j->prompt + s->fed;
        } else {
            s->take = 1;
            L->tokens[n] = &s->last;
        }
        L->seqs[n] = s->seq;
        L->n_tokens[n] = s->take;
        L->in_step[n++] = s;
    }
    *n_rows = n;
    const resa_status st = resa_engine_step(srv->engine, n, L->seqs, L->tokens, L->n_tokens);
    if (st)
        return st;
    for (int k = 0; k < n; k++) {
        slot *s = L->in_step[k];
        if (s->fed < s->job->n_prompt) {
            s->fed += s->take;
            if (s->fed < s->job->n_prompt)
                continue;
        }
        s->sampled = 1;
        s->sample_failed = serve_sample(&s->sampler, resa_seq_logits(s->seq), &s->tok) != 0;
        s->eog = resa_token_is_eog(srv->model, s->tok.id);
    }
    return RESA_OK;
}

/* Under srv->mu: a sampled token joins its job, which may end. */
static void publish(loop *L, slot *s)
{
    serve_server *srv = L->srv;
    serve_job *j = s->job;
    if (!j->t_first)
        j->t_first = time_now();
    if (s->sample_failed) {
        free(s->tok.top_id);
        free(s->tok.top_lp);
        job_fail(j, 500, NULL, "out of memory");
        retire(L, s);
        return;
    }
    if (s->eog) {
        free(s->tok.top_id);
        free(s->tok.top_lp);
        job_finish(j, "stop");
        retire(L, s);
        return;
    }
    if (j->n_toks == j->cap_toks) {
        const int cap = j->cap_toks ? j->cap_toks * 2 : 64;
        serve_token *t = realloc(j->toks, (size_t)cap * sizeof *t);
        if (!t) {
            job_fail(j, 500, NULL, "out of memory");
            retire(L, s);
            return;
        }
        j->toks = t;
        j->cap_toks = cap;
    }
    j->toks[j->n_toks++] = s->tok;
    s->n_gen++;
    s->last = s->tok.id;
    srv->m.generated_tokens++;
    L->win_tokens++;
    size_t len;
    const char *piece = resa_token_text(srv->model, s->tok.id, &len);
    const int stopped = job_append(j, piece, len);
    if (stopped < 0) {
        job_fail(j, 500, NULL, "out of memory");
        retire(L, s);
    } else if (stopped) {
        job_finish(j, "stop");
        retire(L, s);
    } else if (s->n_gen >= j->max_tokens || resa_seq_n_past(s->seq) >= resa_seq_n_ctx(s->seq)) {
        job_finish(j, "length");
        retire(L, s);
    } else {
        pthread_cond_broadcast(&j->cond);
    }
}

static void update_rates(loop *L)
{
    serve_server *srv = L->srv;
    const double now = time_now();
    if (now - L->win_start >= 1.0) {
        srv->m.decode_tok_s = (double)L->win_tokens / (now - L->win_start);
        L->win_start = now;
        L->win_tokens = 0;
    }
    srv->m.kv_free_positions = resa_engine_free_positions(srv->engine);
    srv->m.active = L->n_active;
}

static void *engine_main(void *arg)
{
    loop *L = arg;
    serve_server *srv = L->srv;
    pthread_mutex_lock(&srv->mu);
    for (;;) {
        prepare(L);
        if (L->n_active == 0) {
            srv->m.decode_tok_s = 0;
            L->win_tokens = 0;
            if (srv->stopping)
                break;
            pthread_cond_wait(&srv->engine_cond, &srv->mu);
            L->win_start = time_now();
            continue;
        }
        pthread_mutex_unlock(&srv->mu);
        int n = 0;
        const resa_status st = step(L, &n);
        char msg[256];
        if (st)
            snprintf(msg, sizeof msg, "the engine step failed: %s", resa_last_error());
        pthread_mutex_lock(&srv->mu);
        for (int k = 0; k < n; k++) {
            slot *s = L->in_step[k];
            if (st) {
                job_fail(s->job, 500, NULL, msg);
                retire(L, s);
            } else if (s->sampled) {
                publish(L, s);
            }
        }
        update_rates(L);
    }
    pthread_mutex_unlock(&srv->mu);
    return NULL;
}

/* The one loop of the process (a server has one engine). */
static loop g_loop;

int engine_loop_start(serve_server *srv)
{
    loop *L = &g_loop;
    const int n = srv->opt.parallel;
    L->srv = srv;
    L->slots = calloc((size_t)n, sizeof *L->slots);
    L->seqs = calloc((size_t)n, sizeof *L->seqs);
    L->tokens = calloc((size_t)n, sizeof *L->tokens);
    L->n_tokens = calloc((size_t)n, sizeof *L->n_tokens);
    L->in_step = calloc((size_t)n, sizeof *L->in_step);
    if (!L->slots || !L->seqs || !L->tokens || !L->n_tokens || !L->in_step)
        return -1;
    L->win_start = time_now();
    return pthread_create(&srv->engine_thread, NULL, engine_main, L) ? -1 : 0;
}

void engine_loop_stop(serve_server *srv, double grace_s)
{
    pthread_mutex_lock(&srv->mu);
    g_loop.grace_s = grace_s;
    srv->stopping = 1;
    pthread_cond_signal(&srv->engine_cond);
    pthread_mutex_unlock(&srv->mu);
    pthread_join(srv->engine_thread, NULL);
    loop *L = &g_loop;
    free(L->slots);
    free(L->seqs);
    free(L->tokens);
    free(L->n_tokens);
    free(L->in_step);
}
