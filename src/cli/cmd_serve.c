/* SPDX-License-Identifier: MIT */
/* resa serve: an OpenAI-compatible HTTP server with continuous batching
 * (src/serve/, docs/design.md §8). Built when configure finds libmicrohttpd
 * and jansson; otherwise the command says so. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "resa.h"
#include "serve/serve_main.h"

static const char help[] =
    "usage: resa serve [-m MODEL] [OPTIONS]\n"
    "Serves the model over HTTP with an OpenAI-compatible API: POST /v1/chat/completions,\n"
    "POST /v1/completions (JSON, or server-sent events with \"stream\": true), GET /v1/models,\n"
    "GET /health, GET /metrics (Prometheus). Requests share one engine: every step advances\n"
    "all running requests together (continuous batching). SIGINT/SIGTERM stop it.\n"
    "  -m, --model FILE      the model (default: $RESA_MODEL, else the fetched default model)\n"
    "      --host ADDR       address to listen on (default 127.0.0.1: loopback only)\n"
    "      --port N          TCP port (default 8080; 0: any free port, printed at start)\n"
    "      --parallel N      requests generated at once, one sequence each (default 4)\n"
    "      --ctx-per-seq N   context of each request: prompt plus completion (default: the\n"
    "                        model's trained context, at most 4096)\n"
    "      --queue N         requests that may wait for a slot; beyond, 503 (default 64)\n"
    "      --api-key KEY     require 'Authorization: Bearer KEY' (all but /health)\n"
    "      --model-name ID   the model id of the API (default: the file's name without .gguf)\n"
    "      --chat-template T chat template: chatml, llama3, gemma or mistral (default: the model's)\n"
    "      --max-tokens N    most tokens one request may generate (default: --ctx-per-seq)\n"
    "      --max-body BYTES  largest request body (default 1048576)\n"
    "      --timeout S       wall-clock limit of a request, waiting included (default 600)\n"
    "      --mode M          decode attention: auto (default), resa, sparse or dense; a request's\n"
    "                        \"resa_mode\" field overrides it (not in dense: no block summaries)\n"
    ENGINE_OPTIONS_HELP;

static int parse(serve_options *o, int argc, char **argv)
{
    args a;
    args_init(&a, "serve", argc, argv);
    int rect_given = 0;
    while (args_next(&a)) {
        int bad = 0;
        if (args_is(&a, "-h", "--help")) {
            fputs(help, stdout);
#ifndef HAVE_SERVE
            fputs("(this build has no server support: configure found no libmicrohttpd or jansson)\n", stdout);
#endif
            exit(0);
        } else if (args_is(&a, "-m", "--model")) bad = args_str(&a, &o->model_path);
        else if (args_is(&a, NULL, "--host")) bad = args_str(&a, &o->host);
        else if (args_is(&a, NULL, "--port")) bad = args_int(&a, 0, 65535, &o->port);
        else if (args_is(&a, NULL, "--parallel")) bad = args_int(&a, 1, 1024, &o->parallel);
        else if (args_is(&a, NULL, "--ctx-per-seq")) bad = args_int(&a, 2, 1 << 24, &o->ctx_per_seq);
        else if (args_is(&a, NULL, "--queue")) bad = args_int(&a, 0, 1 << 20, &o->queue);
        else if (args_is(&a, NULL, "--api-key")) bad = args_str(&a, &o->api_key);
        else if (args_is(&a, NULL, "--model-name")) bad = args_str(&a, &o->model_id);
        else if (args_is(&a, NULL, "--chat-template")) bad = args_str(&a, &o->chat_template);
        else if (args_is(&a, NULL, "--max-tokens")) bad = args_int(&a, 1, 1 << 24, &o->max_tokens);
        else if (args_is(&a, NULL, "--max-body")) {
            int mb;
            bad = args_int(&a, 1024, 1 << 30, &mb);
            o->max_body = (size_t)mb;
        } else if (args_is(&a, NULL, "--timeout")) {
            float t;
            bad = args_float(&a, 0.1, 1e7, &t);
            o->timeout_s = t;
        } else if (args_is(&a, NULL, "--mode")) {
            const char *t;
            bad = args_str(&a, &t);
            const int mode = bad ? 0 : resa_mode_parse(t);
            if (!bad && mode < 0)
                bad = cli_error("serve: --mode wants resa, sparse, dense or auto, got '%s'", t);
            o->params.mode = (resa_mode)mode;
        } else if ((bad = args_engine_option(&a, &o->params, &rect_given)) == 1) {
            bad = 0; /* consumed */
        } else if (bad == 0) {
            cli_error("serve: unknown argument '%s' (see 'resa serve --help')", a.opt);
            return -1;
        }
        if (bad)
            return -1;
    }
    return args_check_schedule("serve", &o->params, rect_given);
}

#ifdef HAVE_SERVE
/* The API's model id: the file name without directories and ".gguf". */
static char *model_id_of(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 5 && !strcmp(base + n - 5, ".gguf"))
        n -= 5;
    char *id = malloc(n + 1);
    if (id) {
        memcpy(id, base, n);
        id[n] = '\0';
    }
    return id;
}
#endif

int cmd_serve(int argc, char **argv)
{
    serve_options o = { .host = "127.0.0.1", .port = 8080, .parallel = 4, .queue = 64,
                        .max_body = 1 << 20, .timeout_s = 600 };
    resa_params_default(&o.params);
    if (parse(&o, argc, argv))
        return 2;
#ifndef HAVE_SERVE
    return cli_error("serve: this resa was built without server support (configure did not find "
                     "libmicrohttpd and jansson; install libmicrohttpd-dev and libjansson-dev and rebuild)");
#else
    if (!o.model_path && !(o.model_path = default_model_path()))
        return cli_error("serve: no model (pass -m MODEL, set RESA_MODEL, or run models/fetch)");
    char *id = NULL;
    if (!o.model_id && !(o.model_id = id = model_id_of(o.model_path)))
        return cli_error("serve: out of memory");
    const int rc = serve_run(&o);
    free(id);
    return rc;
#endif
}
