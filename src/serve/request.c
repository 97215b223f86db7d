/* SPDX-License-Identifier: MIT */
/* resa serve: request parsing (contract in request.h). jansson does the JSON
 * (and rejects invalid UTF-8); this file checks fields, ranges and what the
 * server does not support, each failure one clear 400. */
#include "request.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resa.h"

int serve_fail(serve_error *err, int status, const char *code, const char *param, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    err->status = status;
    err->type = status == 401   ? "authentication_error"
                : status >= 500 ? "server_error"
                                : "invalid_request_error";
    err->code = code;
    err->param = param;
    return -1;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* A string field without embedded NULs (the prompt is C text from here on). */
static int get_text(json_t *v, const char *name, char **out, serve_error *err)
{
    if (!json_is_string(v))
        return serve_fail(err, 400, "invalid_type", name, "'%s' must be a string", name);
    const char *s = json_string_value(v);
    const size_t n = json_string_length(v);
    if (memchr(s, '\0', n))
        return serve_fail(err, 400, "invalid_value", name, "'%s' contains a NUL character", name);
    if (!(*out = dup_n(s, n)))
        return serve_fail(err, 500, NULL, NULL, "out of memory");
    return 0;
}

/* A number field in [lo, hi] (absent or null: left as it is). */
static int get_float(json_t *o, const char *name, double lo, double hi, float *out, serve_error *err)
{
    json_t *v = json_object_get(o, name);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_number(v))
        return serve_fail(err, 400, "invalid_type", name, "'%s' must be a number", name);
    const double x = json_number_value(v);
    if (!(x >= lo && x <= hi))
        return serve_fail(err, 400, "invalid_value", name, "'%s' must be in [%g, %g], got %g", name, lo, hi, x);
    *out = (float)x;
    return 0;
}

static int get_int(json_t *o, const char *name, long long lo, long long hi, int *out, serve_error *err)
{
    json_t *v = json_object_get(o, name);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v))
        return serve_fail(err, 400, "invalid_type", name, "'%s' must be an integer", name);
    const json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return serve_fail(err, 400, "invalid_value", name, "'%s' must be in [%lld, %lld], got %lld", name, lo,
                          hi, (long long)x);
    *out = (int)x;
    return 0;
}

static int get_bool(json_t *o, const char *name, int *out, serve_error *err)
{
    json_t *v = json_object_get(o, name);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return serve_fail(err, 400, "invalid_type", name, "'%s' must be true or false", name);
    *out = json_is_true(v);
    return 0;
}

/* A message's content: a string, or an array of {"type": "text", "text": ...}. */
static int get_content(json_t *c, char **out, serve_error *err)
{
    if (json_is_string(c))
        return get_text(c, "messages.content", out, err);
    if (!json_is_array(c))
        return serve_fail(err, 400, "invalid_type", "messages", "a message's content must be a string or an array of text parts");
    size_t total = 0, i;
    json_t *part;
    json_array_foreach(c, i, part) {
        json_t *type = json_object_get(part, "type"), *text = json_object_get(part, "text");
        if (!json_is_string(type) || strcmp(json_string_value(type), "text"))
            return serve_fail(err, 400, "unsupported_content", "messages",
                              "only text content parts are supported");
        if (!json_is_string(text))
            return serve_fail(err, 400, "invalid_type", "messages", "a text part needs a string 'text'");
        total += json_string_length(text);
    }
    char *s = malloc(total + 1);
    if (!s)
        return serve_fail(err, 500, NULL, NULL, "out of memory");
    size_t n = 0;
    json_array_foreach(c, i, part) {
        json_t *text = json_object_get(part, "text");
        memcpy(s + n, json_string_value(text), json_string_length(text));
        n += json_string_length(text);
    }
    s[n] = '\0';
    if (memchr(s, '\0', n)) {
        free(s);
        return serve_fail(err, 400, "invalid_value", "messages", "a message contains a NUL character");
    }
    *out = s;
    return 0;
}

static int get_messages(json_t *o, serve_request *r, serve_error *err)
{
    json_t *ms = json_object_get(o, "messages");
    if (!ms)
        return serve_fail(err, 400, "missing_field", "messages", "'messages' is required");
    if (!json_is_array(ms) || json_array_size(ms) == 0)
        return serve_fail(err, 400, "invalid_type", "messages", "'messages' must be a non-empty array");
    const size_t n = json_array_size(ms);
    if (!(r->messages = calloc(n, sizeof *r->messages)))
        return serve_fail(err, 500, NULL, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(ms, i);
        if (!json_is_object(m))
            return serve_fail(err, 400, "invalid_type", "messages", "messages[%zu] must be an object", i);
        json_t *role = json_object_get(m, "role");
        if (!json_is_string(role))
            return serve_fail(err, 400, "missing_field", "messages", "messages[%zu] needs a string 'role'", i);
        const char *rs = json_string_value(role);
        /* "developer" is OpenAI's newer name for the system role */
        const char *canon = !strcmp(rs, "system") || !strcmp(rs, "developer") ? "system"
                            : !strcmp(rs, "user")                             ? "user"
                            : !strcmp(rs, "assistant")                        ? "assistant"
                                                                              : NULL;
        if (!canon)
            return serve_fail(err, 400, "unsupported_role", "messages",
                              "messages[%zu]: role must be system, user or assistant", i);
        json_t *content = json_object_get(m, "content");
        if (!content)
            return serve_fail(err, 400, "missing_field", "messages", "messages[%zu] needs 'content'", i);
        if (!(r->messages[i].role = dup_n(canon, strlen(canon))))
            return serve_fail(err, 500, NULL, NULL, "out of memory");
        r->n_messages = (int)i + 1;
        if (get_content(content, &r->messages[i].content, err))
            return -1;
    }
    return 0;
}

static int get_prompt(json_t *o, serve_request *r, serve_error *err)
{
    json_t *p = json_object_get(o, "prompt");
    if (!p)
        return serve_fail(err, 400, "missing_field", "prompt", "'prompt' is required");
    if (json_is_array(p)) { /* a batch of one prompt is accepted */
        if (json_array_size(p) != 1 || !json_is_string(json_array_get(p, 0)))
            return serve_fail(err, 400, "unsupported_value", "prompt",
                              "'prompt' must be a string (or an array of one string)");
        p = json_array_get(p, 0);
    }
    return get_text(p, "prompt", &r->prompt, err);
}

static int get_stop(json_t *o, serve_request *r, serve_error *err)
{
    json_t *s = json_object_get(o, "stop");
    if (!s || json_is_null(s))
        return 0;
    if (json_is_string(s)) {
        if (json_string_length(s) == 0)
            return 0;
        r->n_stop = 1;
        return get_text(s, "stop", &r->stop[0], err);
    }
    if (!json_is_array(s) || json_array_size(s) > SERVE_MAX_STOP)
        return serve_fail(err, 400, "invalid_type", "stop", "'stop' must be a string or an array of up to %d strings",
                          SERVE_MAX_STOP);
    size_t i;
    json_t *v;
    json_array_foreach(s, i, v) {
        char *t;
        if (get_text(v, "stop", &t, err))
            return -1;
        if (!*t) {
            free(t);
            continue;
        }
        r->stop[r->n_stop++] = t;
    }
    return 0;
}

/* Fields the server cannot honour: a clear 400 instead of silently ignoring them. */
static int reject_unsupported(json_t *o, serve_error *err)
{
    static const char *const absent[] = { "tools", "functions", "tool_choice", "function_call", "suffix",
                                          "audio", "prediction" };
    for (size_t i = 0; i < sizeof absent / sizeof *absent; i++) {
        json_t *v = json_object_get(o, absent[i]);
        if (v && !json_is_null(v) && !(json_is_array(v) && json_array_size(v) == 0) &&
            !(json_is_string(v) && !strcmp(json_string_value(v), "none")))
            return serve_fail(err, 400, "unsupported_parameter", absent[i], "'%s' is not supported", absent[i]);
    }
    int n = 1, best_of = 1, echo = 0;
    if (get_int(o, "n", INT32_MIN, INT32_MAX, &n, err) || get_int(o, "best_of", INT32_MIN, INT32_MAX, &best_of, err) ||
        get_bool(o, "echo", &echo, err))
        return -1;
    if (n != 1)
        return serve_fail(err, 400, "unsupported_value", "n", "only n = 1 is supported, got %d", n);
    if (best_of != 1)
        return serve_fail(err, 400, "unsupported_value", "best_of", "only best_of = 1 is supported");
    if (echo)
        return serve_fail(err, 400, "unsupported_value", "echo", "echo is not supported");
    json_t *lb = json_object_get(o, "logit_bias");
    if (lb && !json_is_null(lb) && !(json_is_object(lb) && json_object_size(lb) == 0))
        return serve_fail(err, 400, "unsupported_parameter", "logit_bias", "'logit_bias' is not supported");
    json_t *rf = json_object_get(o, "response_format");
    if (rf && !json_is_null(rf)) {
        json_t *t = json_object_get(rf, "type");
        if (!json_is_string(t) || strcmp(json_string_value(t), "text"))
            return serve_fail(err, 400, "unsupported_value", "response_format",
                              "only response_format {\"type\": \"text\"} is supported");
    }
    return 0;
}

static int get_logprobs(json_t *o, serve_request *r, serve_error *err)
{
    json_t *lp = json_object_get(o, "logprobs");
    if (r->kind == SERVE_CHAT) {
        if (get_bool(o, "logprobs", &r->logprobs, err) ||
            get_int(o, "top_logprobs", 0, SERVE_MAX_TOP_LOGPROBS, &r->top_logprobs, err))
            return -1;
        if (r->top_logprobs && !r->logprobs)
            return serve_fail(err, 400, "invalid_value", "top_logprobs", "'top_logprobs' needs 'logprobs': true");
        return 0;
    }
    /* completions: "logprobs": N asks for the N best alternatives of each token */
    if (!lp || json_is_null(lp))
        return 0;
    if (get_int(o, "logprobs", 0, 5, &r->top_logprobs, err))
        return -1;
    r->logprobs = 1;
    return 0;
}

static int parse_object(json_t *o, serve_kind kind, const serve_limits *lim, serve_request *r, serve_error *err)
{
    if (!json_is_object(o))
        return serve_fail(err, 400, "invalid_type", NULL, "the body must be a JSON object");
    json_t *model = json_object_get(o, "model");
    if (model && !json_is_null(model)) {
        if (!json_is_string(model))
            return serve_fail(err, 400, "invalid_type", "model", "'model' must be a string");
        if (lim->model_id && strcmp(json_string_value(model), lim->model_id))
            return serve_fail(err, 404, "model_not_found", "model", "the model '%.80s' does not exist (this server has '%.80s')",
                              json_string_value(model), lim->model_id);
    }
    if (reject_unsupported(o, err))
        return -1;
    if (kind == SERVE_CHAT ? get_messages(o, r, err) : get_prompt(o, r, err))
        return -1;
    int max_tokens = 0;
    const char *mt_name = json_object_get(o, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
    if (get_int(o, mt_name, 1, lim->max_tokens, &max_tokens, err))
        return -1;
    r->max_tokens = max_tokens;
    if (get_float(o, "temperature", 0, 2, &r->temperature, err) || get_float(o, "top_p", 0, 1, &r->top_p, err) ||
        get_float(o, "min_p", 0, 1, &r->min_p, err) ||
        get_float(o, "presence_penalty", -2, 2, &r->presence_penalty, err) ||
        get_float(o, "frequency_penalty", -2, 2, &r->frequency_penalty, err) ||
        get_int(o, "top_k", 0, INT32_MAX, &r->top_k, err) || get_bool(o, "stream", &r->stream, err) ||
        get_stop(o, r, err) || get_logprobs(o, r, err))
        return -1;
    if (r->top_p <= 0)
        return serve_fail(err, 400, "invalid_value", "top_p", "'top_p' must be above 0");
    json_t *seed = json_object_get(o, "seed");
    if (seed && !json_is_null(seed)) {
        if (!json_is_integer(seed))
            return serve_fail(err, 400, "invalid_type", "seed", "'seed' must be an integer");
        r->seed = (uint64_t)json_integer_value(seed);
        r->seed_given = 1;
    }
    json_t *so = json_object_get(o, "stream_options");
    if (so && !json_is_null(so)) {
        if (!json_is_object(so) || get_bool(so, "include_usage", &r->include_usage, err))
            return serve_fail(err, 400, "invalid_type", "stream_options",
                              "'stream_options' must be an object with a boolean 'include_usage'");
    }
    json_t *mode = json_object_get(o, "resa_mode");
    if (mode && !json_is_null(mode)) {
        if (!json_is_string(mode) || (r->mode = resa_mode_parse(json_string_value(mode))) < 0)
            return serve_fail(err, 400, "invalid_value", "resa_mode", "'resa_mode' must be resa, sparse, dense or auto");
    }
    return 0;
}

int serve_request_parse(const char *body, size_t len, serve_kind kind, const serve_limits *lim,
                        serve_request *out, serve_error *err)
{
    memset(out, 0, sizeof *out);
    *out = (serve_request){ .kind = kind, .temperature = 1.0f, .top_p = 1.0f, .mode = -1 };
    json_error_t jerr;
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        return serve_fail(err, 400, "invalid_json", NULL, "the body is not valid JSON: %s (line %d, column %d)",
                          jerr.text, jerr.line, jerr.column);
    const int rc = parse_object(o, kind, lim, out, err);
    json_decref(o);
    if (rc)
        serve_request_free(out);
    return rc;
}

void serve_request_free(serve_request *r)
{
    for (int i = 0; i < r->n_messages; i++) {
        free(r->messages[i].role);
        free(r->messages[i].content);
    }
    free(r->messages);
    free(r->prompt);
    for (int i = 0; i < r->n_stop; i++)
        free(r->stop[i]);
    memset(r, 0, sizeof *r);
    r->mode = -1;
}
