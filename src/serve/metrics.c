/* SPDX-License-Identifier: MIT */
/* resa serve: /metrics in the Prometheus text format (version 0.0.4). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "serve.h"

void metrics_count_status(serve_server *srv, int status)
{
    pthread_mutex_lock(&srv->mu);
    if (status >= 100 && status < 600)
        srv->m.by_status[status]++;
    pthread_mutex_unlock(&srv->mu);
}

typedef struct out {
    char *s;
    size_t n, cap;
} out;

static void put(out *o, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        const int k = o->s ? vsnprintf(o->s + o->n, o->cap - o->n, fmt, ap) : -1;
        va_end(ap);
        if (k >= 0 && o->n + (size_t)k < o->cap) {
            o->n += (size_t)k;
            return;
        }
        const size_t cap = o->cap * 2 + 4096 + (k > 0 ? (size_t)k : 0);
        char *t = realloc(o->s, cap);
        if (!t)
            return; /* the text ends here; render returns what fits */
        o->s = t;
        o->cap = cap;
    }
}

static void metric(out *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

char *metrics_render(serve_server *srv)
{
    pthread_mutex_lock(&srv->mu);
    const serve_metrics m = srv->m;
    pthread_mutex_unlock(&srv->mu);
    out o = { 0 };
    metric(&o, "resa_requests_total", "counter", "HTTP responses by status code");
    for (int s = 100; s < 600; s++)
        if (m.by_status[s])
            put(&o, "resa_requests_total{status=\"%d\"} %llu\n", s, (unsigned long long)m.by_status[s]);
    metric(&o, "resa_prompt_tokens_total", "counter", "prompt tokens of admitted requests");
    put(&o, "resa_prompt_tokens_total %llu\n", (unsigned long long)m.prompt_tokens);
    metric(&o, "resa_generated_tokens_total", "counter", "tokens generated");
    put(&o, "resa_generated_tokens_total %llu\n", (unsigned long long)m.generated_tokens);
    metric(&o, "resa_requests_cancelled_total", "counter", "requests whose client disconnected before the end");
    put(&o, "resa_requests_cancelled_total %llu\n", (unsigned long long)m.cancelled);
    metric(&o, "resa_requests_timed_out_total", "counter", "requests that ran past the time limit");
    put(&o, "resa_requests_timed_out_total %llu\n", (unsigned long long)m.timed_out);
    metric(&o, "resa_queue_depth", "gauge", "requests waiting for a slot");
    put(&o, "resa_queue_depth %d\n", m.queued);
    metric(&o, "resa_active_sequences", "gauge", "requests holding a slot (a sequence of the engine)");
    put(&o, "resa_active_sequences %d\n", m.active);
    metric(&o, "resa_slots", "gauge", "slots (--parallel)");
    put(&o, "resa_slots %d\n", srv->opt.parallel);
    metric(&o, "resa_kv_free_positions", "gauge", "free positions of the KV pool");
    put(&o, "resa_kv_free_positions %d\n", m.kv_free_positions);
    metric(&o, "resa_rectifications_total", "counter", "rectification passes of finished sequences");
    put(&o, "resa_rectifications_total %llu\n", (unsigned long long)m.rectifications);
    metric(&o, "resa_decode_tokens_per_second", "gauge", "tokens generated per second over the last second or so");
    put(&o, "resa_decode_tokens_per_second %.3f\n", m.decode_tok_s);
    return o.s;
}
