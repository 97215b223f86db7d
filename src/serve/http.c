/* SPDX-License-Identifier: MIT */
/* resa serve: HTTP through libmicrohttpd, one thread per connection
 * (docs/design.md §8). A connection's thread reads the body, turns it into a
 * job (request.c, chat.c), queues it, and waits: for the whole completion,
 * or, when streaming, for each new piece of text, which it sends as a
 * server-sent event. While it waits it polls the socket, so a client that
 * disconnects has its job cancelled and its sequence freed at the engine's
 * next step. */
#include <microhttpd.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "chat.h"
#include "response.h"
#include "serve.h"

/* How long a connection may sit idle, and how long a body may take to
 * arrive: a client that drips its request is cut off. */
#define IDLE_TIMEOUT_S 15
#define BODY_TIME_LIMIT_S 30.0
/* Request line and headers must fit here (a 100 KB request line gets 414/431). */
#define CONNECTION_MEMORY 65536
/* A stream with nothing new for this long gets an SSE comment, so proxies
 * and the idle timeout do not take a queued request for a dead one. */
#define KEEPALIVE_S 5.0

typedef enum route { R_NONE, R_HEALTH, R_MODELS, R_METRICS, R_CHAT, R_COMPLETIONS } route;

typedef struct conn {
    route r;
    char *body;
    size_t len, cap;
    int too_big;
    double t0;
} conn;

/* A streaming response's state; owns one reference to the job. */
typedef struct stream {
    serve_server *srv;
    serve_job *job;
    int fd;
    char id[48];
    long created;
    size_t sent;
    int sent_toks, first, done;
    char *pend;
    size_t pend_len, pend_off;
} stream;

static enum MHD_Result respond(serve_server *srv, struct MHD_Connection *c, int status, char *body,
                               const char *type, const char *retry_after)
{
    if (!body) {
        status = 500;
        body = strdup("{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"code\":null,\"param\":null}}");
        if (!body)
            return MHD_NO;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (retry_after)
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, retry_after);
    if (status == 401)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    const enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    metrics_count_status(srv, status);
    return ok;
}

static enum MHD_Result respond_error(serve_server *srv, struct MHD_Connection *c, const serve_error *e)
{
    return respond(srv, c, e->status, resp_error(e), "application/json",
                   e->status == 503 ? "1" : NULL);
}

static enum MHD_Result fail(serve_server *srv, struct MHD_Connection *c, int status, const char *code,
                            const char *msg)
{
    serve_error e;
    serve_fail(&e, status, code, NULL, "%s", msg);
    return respond_error(srv, c, &e);
}

/* Has the peer closed its end? (Pipelined bytes waiting to be read are not a close.) */
static int client_gone(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };
    if (fd < 0 || poll(&p, 1, 0) <= 0)
        return 0;
    if (p.revents & (POLLERR | POLLHUP | POLLRDHUP | POLLNVAL))
        return 1;
    char b;
    return recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

static int conn_fd(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

/* Waits (srv->mu held) until pred holds, the job is done or the client
 * leaves (returns -1, job cancelled), at most max_s (returns 0). */
static int wait_job(serve_server *srv, serve_job *j, int fd, double max_s, int (*pred)(const serve_job *, const void *),
                    const void *arg)
{
    const double until = time_now() + max_s;
    while (j->state != JOB_DONE && !(pred && pred(j, arg))) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 200 * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&j->cond, &srv->mu, &ts);
        if (j->state != JOB_DONE && client_gone(fd)) {
            j->cancelled = 1;
            return -1;
        }
        if (time_now() > until)
            return 0;
    }
    return 1;
}

static void make_id(char *id, size_t n, serve_kind kind)
{
    static unsigned long long counter;
    const unsigned long long k = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
    snprintf(id, n, "%s-%llx%llx", kind == SERVE_CHAT ? "chatcmpl" : "cmpl", (unsigned long long)time(NULL), k);
}

/* ---- streaming --------------------------------------------------------------- */

static int has_news(const serve_job *j, const void *arg)
{
    const stream *s = arg;
    return j->ready > s->sent || j->n_toks > s->sent_toks;
}

static int pend_add(stream *s, const char *prefix, char *json)
{
    if (!json)
        return -1;
    const size_t n = strlen(prefix) + strlen(json) + 2;
    char *p = realloc(s->pend, s->pend_len + n + 1);
    if (!p) {
        free(json);
        return -1;
    }
    s->pend = p;
    s->pend_len += (size_t)sprintf(p + s->pend_len, "%s%s\n\n", prefix, json);
    free(json);
    return 0;
}

/* Builds the next events into s->pend (srv->mu held). -1: end with error. */
static int next_events(stream *s)
{
    serve_job *j = s->job;
    const int w = wait_job(s->srv, j, s->fd, KEEPALIVE_S, has_news, s);
    if (w < 0)
        return -1;
    if (w == 0 && j->state != JOB_DONE && !has_news(j, s))
        return pend_add(s, "", strdup(": waiting"));
    if (j->err.status)
        return pend_add(s, "data: ", resp_error(&j->err)) || pend_add(s, "data: ", strdup("[DONE]")) ? -1
                                                                                                     : (s->done = 1, 0);
    const int done = j->state == JOB_DONE;
    const size_t upto = j->ready;
    if (upto > s->sent || j->n_toks > s->sent_toks || done) {
        if (pend_add(s, "data: ", resp_chunk(s->srv, j, s->id, s->created, j->text + s->sent, upto - s->sent,
                                             s->sent_toks, j->n_toks, s->first, done ? j->finish : NULL)))
            return -1;
        s->first = 0;
        s->sent = upto;
        s->sent_toks = j->n_toks;
    }
    if (done) {
        if (j->req.include_usage && pend_add(s, "data: ", resp_usage_chunk(s->srv, j, s->id, s->created)))
            return -1;
        if (pend_add(s, "data: ", strdup("[DONE]")))
            return -1;
        s->done = 1;
    }
    return 0;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream *s = cls;
    if (s->pend_off == s->pend_len) {
        if (s->done)
            return MHD_CONTENT_READER_END_OF_STREAM;
        s->pend_len = s->pend_off = 0;
        pthread_mutex_lock(&s->srv->mu);
        const int rc = next_events(s);
        pthread_mutex_unlock(&s->srv->mu);
        if (rc)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (s->pend_len == 0)
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = s->pend_len - s->pend_off;
    n = n < max ? n : max;
    memcpy(buf, s->pend + s->pend_off, n);
    s->pend_off += n;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    stream *s = cls;
    pthread_mutex_lock(&s->srv->mu);
    if (s->job->state != JOB_DONE)
        s->job->cancelled = 1; /* the client left: the engine frees the sequence */
    job_release(s->srv, s->job);
    pthread_mutex_unlock(&s->srv->mu);
    free(s->pend);
    free(s);
}

static enum MHD_Result start_stream(serve_server *srv, struct MHD_Connection *c, serve_job *j)
{
    stream *s = calloc(1, sizeof *s);
    struct MHD_Response *r = s ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, s, stream_free)
                               : NULL;
    if (!r) {
        pthread_mutex_lock(&srv->mu);
        j->cancelled = 1;
        job_release(srv, j);
        pthread_mutex_unlock(&srv->mu);
        free(s);
        return fail(srv, c, 500, NULL, "out of memory");
    }
    *s = (stream){ .srv = srv, .job = j, .fd = conn_fd(c), .created = (long)time(NULL), .first = 1 };
    make_id(s->id, sizeof s->id, j->req.kind);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    const enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    metrics_count_status(srv, 200);
    return ok;
}

/* ---- completions --------------------------------------------------------------- */

/* The job of a parsed request: its prompt tokens, checked against the limits. */
static serve_job *make_job(serve_server *srv, conn *cn, serve_error *err)
{
    serve_job *j = job_new(srv);
    if (!j) {
        serve_fail(err, 500, NULL, NULL, "out of memory");
        return NULL;
    }
    const serve_limits lim = { .model_id = srv->opt.model_id, .max_tokens = srv->opt.max_tokens };
    const serve_kind kind = cn->r == R_CHAT ? SERVE_CHAT : SERVE_COMPLETION;
    int n = -1;
    if (serve_request_parse(cn->body ? cn->body : "", cn->len, kind, &lim, &j->req, err))
        goto bad;
    n = kind == SERVE_CHAT
            ? serve_chat_tokens(srv->model, srv->chat_template, j->req.messages, j->req.n_messages, &j->prompt, err)
            : serve_text_tokens(srv->model, j->req.prompt, &j->prompt, err);
    if (n < 0)
        goto bad;
    j->n_prompt = n;
    if (n == 0) {
        serve_fail(err, 400, "invalid_value", kind == SERVE_CHAT ? "messages" : "prompt", "the prompt is empty");
        goto bad;
    }
    if (n >= srv->opt.ctx_per_seq) {
        serve_fail(err, 400, "context_length_exceeded", kind == SERVE_CHAT ? "messages" : "prompt",
                   "the prompt has %d tokens but a request's context holds %d (--ctx-per-seq)", n,
                   srv->opt.ctx_per_seq);
        goto bad;
    }
    if (j->req.mode >= 0 && j->req.mode != RESA_MODE_DENSE && srv->opt.params.mode == RESA_MODE_DENSE) {
        serve_fail(err, 400, "unsupported_value", "resa_mode",
                   "the server runs in dense mode (it keeps no block summaries): resa_mode must be dense");
        goto bad;
    }
    j->max_tokens = j->req.max_tokens ? j->req.max_tokens : srv->opt.max_tokens;
    j->t_start = time_now();
    j->deadline = j->t_start + srv->opt.timeout_s;
    return j;
bad:
    pthread_mutex_lock(&srv->mu);
    job_release(srv, j);
    pthread_mutex_unlock(&srv->mu);
    return NULL;
}

static enum MHD_Result completion(serve_server *srv, struct MHD_Connection *c, conn *cn)
{
    serve_error err = { 0 };
    serve_job *j = make_job(srv, cn, &err);
    if (!j)
        return respond_error(srv, c, &err);
    if (job_submit(srv, j, &err)) {
        pthread_mutex_lock(&srv->mu);
        job_release(srv, j);
        pthread_mutex_unlock(&srv->mu);
        return respond_error(srv, c, &err);
    }
    if (j->req.stream)
        return start_stream(srv, c, j);
    const int fd = conn_fd(c);
    pthread_mutex_lock(&srv->mu);
    int w;
    while ((w = wait_job(srv, j, fd, 3600, NULL, NULL)) == 0)
        ;
    char *body = NULL;
    int status = 200;
    if (w > 0) {
        char id[48];
        make_id(id, sizeof id, j->req.kind);
        status = j->err.status ? j->err.status : 200;
        body = j->err.status ? resp_error(&j->err) : resp_completion(srv, j, id, (long)time(NULL));
    }
    job_release(srv, j);
    pthread_mutex_unlock(&srv->mu);
    if (w < 0)
        return MHD_NO; /* the client is gone: close */
    return respond(srv, c, status, body, "application/json", NULL);
}

/* ---- routing --------------------------------------------------------------------- */

static int authorized(const serve_server *srv, struct MHD_Connection *c)
{
    if (!srv->opt.api_key)
        return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncmp(h, "Bearer ", 7))
        return 0;
    h += 7;
    /* compare in time that does not depend on where the key differs */
    const size_t n = strlen(srv->opt.api_key), m = strlen(h);
    unsigned char diff = n != m;
    for (size_t i = 0; i < m; i++)
        diff |= (unsigned char)(h[i] ^ srv->opt.api_key[i % (n ? n : 1)]);
    return !diff;
}

static route find_route(const char *url, const char *method, int *bad_method)
{
    static const struct { const char *url, *method; route r; } table[] = {
        { "/health", "GET", R_HEALTH },         { "/v1/models", "GET", R_MODELS },
        { "/metrics", "GET", R_METRICS },       { "/v1/chat/completions", "POST", R_CHAT },
        { "/v1/completions", "POST", R_COMPLETIONS },
    };
    *bad_method = 0;
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        if (!strcmp(url, table[i].url)) {
            if (!strcmp(method, table[i].method))
                return table[i].r;
            *bad_method = 1;
        }
    return R_NONE;
}

static enum MHD_Result on_get(serve_server *srv, struct MHD_Connection *c, route r)
{
    switch (r) {
    case R_HEALTH:
        return respond(srv, c, 200, strdup("{\"status\":\"ok\"}"), "application/json", NULL);
    case R_MODELS:
        return respond(srv, c, 200, resp_models(srv), "application/json", NULL);
    default:
        return respond(srv, c, 200, metrics_render(srv), "text/plain; version=0.0.4", NULL);
    }
}

/* The first call of a request: route, auth, declared size. */
static enum MHD_Result on_headers(serve_server *srv, struct MHD_Connection *c, const char *url,
                                  const char *method, conn *cn)
{
    int bad_method;
    cn->r = find_route(url, method, &bad_method);
    if (cn->r == R_NONE)
        return bad_method ? fail(srv, c, 405, "method_not_allowed", "method not allowed on this path")
                          : fail(srv, c, 404, "not_found", "no such endpoint");
    if (cn->r != R_HEALTH && !authorized(srv, c))
        return fail(srv, c, 401, "invalid_api_key", "a valid API key is required (Authorization: Bearer KEY)");
    if (cn->r == R_HEALTH || cn->r == R_MODELS || cn->r == R_METRICS)
        return on_get(srv, c, cn->r);
    /* A body somewhat over the limit is read and dropped, so the client
     * (which may send it all before it reads) gets its 413; an absurd one is
     * refused at once. */
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) / 16 > srv->opt.max_body)
        return fail(srv, c, 413, "body_too_large", "the request body is larger than the server accepts (--max-body)");
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    serve_server *srv = cls;
    conn *cn = *con_cls;
    if (!cn) {
        if (!(cn = calloc(1, sizeof *cn)))
            return MHD_NO;
        cn->t0 = time_now();
        *con_cls = cn;
        return on_headers(srv, c, url, method, cn);
    }
    if (*upload_size) {
        if (time_now() - cn->t0 > BODY_TIME_LIMIT_S)
            return MHD_NO; /* a dripping client: close */
        if (!cn->too_big && cn->len + *upload_size > srv->opt.max_body) {
            cn->too_big = 1;
            free(cn->body);
            cn->body = NULL;
        }
        if (!cn->too_big) {
            if (cn->len + *upload_size > cn->cap) {
                const size_t cap = (cn->len + *upload_size) * 2;
                char *b = realloc(cn->body, cap);
                if (!b)
                    return MHD_NO;
                cn->body = b;
                cn->cap = cap;
            }
            memcpy(cn->body + cn->len, upload, *upload_size);
            cn->len += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (cn->too_big)
        return fail(srv, c, 413, "body_too_large", "the request body is larger than the server accepts (--max-body)");
    return completion(srv, c, cn);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode why)
{
    (void)cls;
    (void)c;
    (void)why;
    conn *cn = *con_cls;
    if (cn) {
        free(cn->body);
        free(cn);
        *con_cls = NULL;
    }
}

struct MHD_Daemon *http_start(serve_server *srv, int *port)
{
    struct addrinfo hints = { .ai_flags = AI_NUMERICSERV | AI_PASSIVE, .ai_socktype = SOCK_STREAM }, *ai;
    char service[16];
    snprintf(service, sizeof service, "%d", *port);
    const int gai = getaddrinfo(srv->opt.host, service, &hints, &ai);
    if (gai) {
        fprintf(stderr, "resa: serve: cannot resolve --host '%s': %s\n", srv->opt.host, gai_strerror(gai));
        return NULL;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)*port, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)CONNECTION_MEMORY, MHD_OPTION_CONNECTION_LIMIT, (unsigned)(srv->opt.queue + srv->opt.parallel + 64),
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!d) {
        fprintf(stderr, "resa: serve: cannot listen on %s port %d: %s\n", srv->opt.host, *port, strerror(errno));
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    if (di)
        *port = di->port;
    return d;
}

void http_stop(struct MHD_Daemon *d)
{
    if (d)
        MHD_stop_daemon(d);
}
