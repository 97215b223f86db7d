/* SPDX-License-Identifier: MIT */
/* resa serve: start-up and shutdown (docs/design.md §8). The main thread
 * loads the model, makes the engine, starts the engine thread and the HTTP
 * daemon, then waits for SIGINT or SIGTERM: new requests get 503, running
 * ones have SHUTDOWN_GRACE_S to finish, their responses up to 5 s more to be
 * written, and the process exits 0. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve.h"
#include "serve_main.h"
#include "chat.h"

#define SHUTDOWN_GRACE_S 10.0

static int setup(serve_server *srv)
{
    if (resa_model_load(srv->opt.model_path, &srv->model)) {
        fprintf(stderr, "resa: %s\n", resa_last_error());
        return -1;
    }
    srv->info = resa_model_get_info(srv->model);
    if (!(srv->chat_template = serve_chat_template_pick(srv->model, srv->opt.chat_template))) {
        fprintf(stderr, "resa: serve: unknown --chat-template '%s' (known: chatml, llama3, gemma, mistral)\n", srv->opt.chat_template);
        return -1;
    }
    serve_options *o = &srv->opt;
    if (o->ctx_per_seq == 0 || o->ctx_per_seq > srv->info->n_ctx_train)
        o->ctx_per_seq = o->ctx_per_seq == 0 && srv->info->n_ctx_train > 4096 ? 4096 : srv->info->n_ctx_train;
    if (o->max_tokens == 0 || o->max_tokens > o->ctx_per_seq)
        o->max_tokens = o->ctx_per_seq;
    /* the pool holds every slot's whole context, in whole pages */
    const int b = o->params.block_size;
    resa_params p = o->params;
    p.n_ctx = o->parallel * ((o->ctx_per_seq + b - 1) / b) * b;
    p.n_seq_max = o->parallel; /* a window ring per slot (docs/design.md §3.3) */
    if (resa_engine_new(srv->model, &p, &srv->engine)) {
        fprintf(stderr, "resa: serve: %s\n", resa_last_error());
        return -1;
    }
    return 0;
}

int serve_run(const serve_options *opt)
{
    serve_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        fprintf(stderr, "resa: serve: out of memory\n");
        return 1;
    }
    srv->opt = *opt;
    srv->created = (double)time(NULL);
    pthread_mutex_init(&srv->mu, NULL);
    pthread_cond_init(&srv->engine_cond, NULL);
    /* the signals go to the main thread's sigwait, not to a worker */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    int rc = 1, port = opt->port;
    struct MHD_Daemon *d = NULL;
    if (setup(srv))
        goto out;
    if (engine_loop_start(srv)) {
        fprintf(stderr, "resa: serve: cannot start the engine thread\n");
        goto out;
    }
    if (!(d = http_start(srv, &port))) {
        engine_loop_stop(srv, 0);
        goto out;
    }
    fprintf(stderr, "resa: serve: listening on http://%s:%d (model %s, %d slots of %d positions, mode %s)\n",
            srv->opt.host, port, srv->opt.model_id, srv->opt.parallel, srv->opt.ctx_per_seq,
            resa_mode_name(srv->opt.params.mode));
    int sig;
    sigwait(&sigs, &sig);
    fprintf(stderr, "resa: serve: %s: finishing running requests (at most %.0f s)\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM", SHUTDOWN_GRACE_S);
    engine_loop_stop(srv, SHUTDOWN_GRACE_S);
    /* Every job is done now, but a connection may still be writing its
     * last events: stopping the daemon would cut them off. */
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&srv->mu);
        const int left = srv->n_jobs;
        pthread_mutex_unlock(&srv->mu);
        if (!left)
            break;
        nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000000L }, NULL);
    }
    http_stop(d);
    rc = 0;
out:
    resa_engine_free(srv->engine);
    resa_model_free(srv->model);
    pthread_cond_destroy(&srv->engine_cond);
    pthread_mutex_destroy(&srv->mu);
    free(srv);
    return rc;
}
