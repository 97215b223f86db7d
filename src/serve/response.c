/* SPDX-License-Identifier: MIT */
/* resa serve: response bodies through jansson (response.h). Text goes
 * through utf8_sanitize first: a token can be part of a character, and
 * JSON strings must be valid UTF-8. */
#include "response.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

static char *dump(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

static json_t *text_value(const char *s, size_t n)
{
    size_t len;
    char *clean = utf8_sanitize(s, n, &len);
    json_t *v = clean ? json_stringn(clean, len) : NULL;
    free(clean);
    return v;
}

char *resp_error(const serve_error *e)
{
    json_t *err = json_pack("{s:s, s:s, s:o, s:o}", "message", e->message, "type", e->type ? e->type : "server_error",
                            "code", e->code ? json_string(e->code) : json_null(), "param",
                            e->param ? json_string(e->param) : json_null());
    return dump(err ? json_pack("{s:o}", "error", err) : NULL);
}

char *resp_models(const serve_server *srv)
{
    return dump(json_pack("{s:s, s:[{s:s, s:s, s:I, s:s}]}", "object", "list", "data", "id", srv->opt.model_id,
                          "object", "model", "created", (json_int_t)srv->created, "owned_by", "resa"));
}

static json_t *usage(const serve_job *j)
{
    return json_pack("{s:i, s:i, s:i}", "prompt_tokens", j->n_prompt, "completion_tokens", j->n_toks,
                     "total_tokens", j->n_prompt + j->n_toks);
}

static json_t *token_text(const serve_server *srv, int32_t id)
{
    size_t n;
    const char *s = resa_token_text(srv->model, id, &n);
    return text_value(s, n);
}

static json_t *token_bytes(const serve_server *srv, int32_t id)
{
    size_t n;
    const unsigned char *s = (const unsigned char *)resa_token_text(srv->model, id, &n);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_integer(s[i]));
    return a;
}

/* Chat: {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]}. */
static json_t *chat_logprobs(const serve_server *srv, const serve_job *j, int t0, int t1)
{
    json_t *content = json_array();
    for (int i = t0; i < t1; i++) {
        const serve_token *t = &j->toks[i];
        json_t *top = json_array();
        for (int k = 0; k < t->n_top; k++)
            json_array_append_new(top, json_pack("{s:o, s:f, s:o}", "token", token_text(srv, t->top_id[k]), "logprob",
                                                 (double)t->top_lp[k], "bytes", token_bytes(srv, t->top_id[k])));
        json_array_append_new(content, json_pack("{s:o, s:f, s:o, s:o}", "token", token_text(srv, t->id), "logprob",
                                                 (double)t->logprob, "bytes", token_bytes(srv, t->id),
                                                 "top_logprobs", top));
    }
    return json_pack("{s:o}", "content", content);
}

/* Completions (legacy): tokens, token_logprobs, top_logprobs as {token: logprob}, text_offset. */
static json_t *completion_logprobs(const serve_server *srv, const serve_job *j, int t0, int t1, size_t offset0)
{
    json_t *tokens = json_array(), *lps = json_array(), *tops = json_array(), *offs = json_array();
    size_t off = offset0;
    for (int i = t0; i < t1; i++) {
        const serve_token *t = &j->toks[i];
        json_array_append_new(tokens, token_text(srv, t->id));
        json_array_append_new(lps, json_real(t->logprob));
        json_t *top = json_object();
        for (int k = 0; k < t->n_top; k++) {
            size_t n;
            const char *s = resa_token_text(srv->model, t->top_id[k], &n);
            size_t cl;
            char *clean = utf8_sanitize(s, n, &cl);
            if (clean && !json_object_get(top, clean))
                json_object_set_new(top, clean, json_real(t->top_lp[k]));
            free(clean);
        }
        json_array_append_new(tops, top);
        json_array_append_new(offs, json_integer((json_int_t)off));
        size_t n;
        resa_token_text(srv->model, t->id, &n);
        off += n;
    }
    return json_pack("{s:o, s:o, s:o, s:o}", "tokens", tokens, "token_logprobs", lps, "top_logprobs", tops,
                     "text_offset", offs);
}

static json_t *logprobs(const serve_server *srv, const serve_job *j, int t0, int t1)
{
    if (!j->req.logprobs)
        return json_null();
    if (j->req.kind == SERVE_CHAT)
        return chat_logprobs(srv, j, t0, t1);
    size_t off = 0;
    for (int i = 0; i < t0; i++) {
        size_t n;
        resa_token_text(srv->model, j->toks[i].id, &n);
        off += n;
    }
    return completion_logprobs(srv, j, t0, t1, off);
}

static json_t *finish_value(const char *finish) { return finish ? json_string(finish) : json_null(); }

char *resp_completion(const serve_server *srv, const serve_job *j, const char *id, long created)
{
    json_t *choice;
    if (j->req.kind == SERVE_CHAT)
        choice = json_pack("{s:i, s:{s:s, s:o}, s:o, s:o}", "index", 0, "message", "role", "assistant", "content",
                           text_value(j->text ? j->text : "", j->len), "logprobs", logprobs(srv, j, 0, j->n_toks),
                           "finish_reason", finish_value(j->finish));
    else
        choice = json_pack("{s:i, s:o, s:o, s:o}", "index", 0, "text", text_value(j->text ? j->text : "", j->len),
                           "logprobs", logprobs(srv, j, 0, j->n_toks), "finish_reason", finish_value(j->finish));
    return dump(json_pack("{s:s, s:s, s:I, s:s, s:[o], s:o}", "id", id, "object",
                          j->req.kind == SERVE_CHAT ? "chat.completion" : "text_completion", "created",
                          (json_int_t)created, "model", srv->opt.model_id, "choices", choice, "usage", usage(j)));
}

char *resp_chunk(const serve_server *srv, const serve_job *j, const char *id, long created, const char *text,
                 size_t n, int tok0, int tok1, int first, const char *finish)
{
    json_t *choice;
    if (j->req.kind == SERVE_CHAT) {
        json_t *delta = json_object();
        if (first)
            json_object_set_new(delta, "role", json_string("assistant"));
        if (n || !finish)
            json_object_set_new(delta, "content", text_value(text, n));
        choice = json_pack("{s:i, s:o, s:o, s:o}", "index", 0, "delta", delta, "logprobs",
                           logprobs(srv, j, tok0, tok1), "finish_reason", finish_value(finish));
    } else {
        choice = json_pack("{s:i, s:o, s:o, s:o}", "index", 0, "text", text_value(text, n), "logprobs",
                           logprobs(srv, j, tok0, tok1), "finish_reason", finish_value(finish));
    }
    return dump(json_pack("{s:s, s:s, s:I, s:s, s:[o]}", "id", id, "object",
                          j->req.kind == SERVE_CHAT ? "chat.completion.chunk" : "text_completion", "created",
                          (json_int_t)created, "model", srv->opt.model_id, "choices", choice));
}

char *resp_usage_chunk(const serve_server *srv, const serve_job *j, const char *id, long created)
{
    return dump(json_pack("{s:s, s:s, s:I, s:s, s:[], s:o}", "id", id, "object",
                          j->req.kind == SERVE_CHAT ? "chat.completion.chunk" : "text_completion", "created",
                          (json_int_t)created, "model", srv->opt.model_id, "choices", "usage", usage(j)));
}
