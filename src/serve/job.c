/* SPDX-License-Identifier: MIT */
/* resa serve: a request's life between its HTTP thread and the engine
 * thread (serve.h). */
#include <stdlib.h>
#include <string.h>

#include "serve.h"
#include "utf8.h"

serve_job *job_new(serve_server *srv)
{
    serve_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    pthread_mutex_lock(&srv->mu);
    srv->n_jobs++;
    pthread_mutex_unlock(&srv->mu);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->cond, &ca);
    pthread_condattr_destroy(&ca);
    j->req.mode = -1;
    j->refs = 1;
    return j;
}

void job_release(serve_server *srv, serve_job *j)
{
    /* the caller holds srv->mu */
    if (--j->refs > 0)
        return;
    srv->n_jobs--;
    serve_request_free(&j->req);
    free(j->prompt);
    free(j->text);
    for (int i = 0; i < j->n_toks; i++) {
        free(j->toks[i].top_id);
        free(j->toks[i].top_lp);
    }
    free(j->toks);
    pthread_cond_destroy(&j->cond);
    free(j);
}

int job_submit(serve_server *srv, serve_job *j, serve_error *err)
{
    pthread_mutex_lock(&srv->mu);
    int rc = 0;
    if (srv->stopping)
        rc = serve_fail(err, 503, "shutting_down", NULL, "the server is shutting down");
    else if (srv->m.queued >= srv->opt.queue)
        rc = serve_fail(err, 503, "queue_full", NULL, "the server is busy: %d requests are waiting; retry later",
                        srv->m.queued);
    if (!rc) {
        j->state = JOB_QUEUED;
        j->refs = 2;
        if (srv->queue_tail)
            srv->queue_tail->next = j;
        else
            srv->queue_head = j;
        srv->queue_tail = j;
        srv->m.queued++;
        pthread_cond_signal(&srv->engine_cond);
    }
    pthread_mutex_unlock(&srv->mu);
    return rc;
}

/* The longest suffix of s[0..n) that is a proper prefix of a stop string:
 * text that may yet become a stop string is held back. */
static size_t stop_prefix_tail(const serve_request *r, const char *s, size_t n)
{
    size_t best = 0;
    for (int i = 0; i < r->n_stop; i++) {
        const size_t sl = strlen(r->stop[i]);
        for (size_t k = sl - 1 < n ? sl - 1 : n; k > best; k--)
            if (!memcmp(s + n - k, r->stop[i], k)) {
                best = k;
                break;
            }
    }
    return best;
}

int job_append(serve_job *j, const char *piece, size_t n)
{
    if (j->len + n + 1 > j->cap) {
        size_t cap = (j->len + n + 1) * 2;
        char *t = realloc(j->text, cap);
        if (!t)
            return -1;
        j->text = t;
        j->cap = cap;
    }
    const size_t old = j->len;
    memcpy(j->text + old, piece, n);
    j->len += n;
    j->text[j->len] = '\0';
    /* a stop string that ends in the new bytes; the earliest wins */
    size_t cut = SIZE_MAX;
    for (int i = 0; i < j->req.n_stop; i++) {
        const size_t sl = strlen(j->req.stop[i]);
        const size_t from = old + 1 > sl ? old + 1 - sl : 0;
        const char *hit = memmem(j->text + from, j->len - from, j->req.stop[i], sl);
        if (hit && (size_t)(hit - j->text) < cut)
            cut = (size_t)(hit - j->text);
    }
    if (cut != SIZE_MAX) {
        j->len = j->ready = cut;
        j->text[cut] = '\0';
        return 1;
    }
    const size_t ready = utf8_complete_prefix(j->text, j->len - stop_prefix_tail(&j->req, j->text, j->len));
    if (ready > j->ready)
        j->ready = ready;
    return 0;
}

void job_finish(serve_job *j, const char *finish)
{
    j->finish = finish;
    j->ready = j->len;
    j->state = JOB_DONE;
    pthread_cond_broadcast(&j->cond);
}

void job_fail(serve_job *j, int status, const char *code, const char *msg)
{
    serve_fail(&j->err, status, code, NULL, "%s", msg);
    j->state = JOB_DONE;
    pthread_cond_broadcast(&j->cond);
}
