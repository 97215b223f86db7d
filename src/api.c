/* SPDX-License-Identifier: MIT */
/* The public API (resa.h) over the internal pieces. */
#include "config.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "backend_module.h"
#include "chat_template.h"
#include "engine.h"
#include "printable.h"
#include "scheduler.h"
#include "threads.h"

/* NULL handles are errors, not crashes (docs/design.md §3.5). */
#define NEED(ptr, what)                                                      \
    do {                                                                     \
        if (!(ptr))                                                          \
            return error_set(RESA_ERR_ARG, "%s: NULL %s", __func__, what);   \
    } while (0)

const char *resa_version(void) { return PACKAGE_VERSION; }

void resa_params_init(resa_params *p, size_t size)
{
    const resa_params d = { .size = sizeof d, .n_ctx = 0, .n_threads = 0, .n_batch = 512,
                            .kv_type = RESA_KV_F16, .mode = RESA_MODE_AUTO, .block_size = 16,
                            .sparse_ratio = 0.1f, .min_blocks = 16, .local_blocks = 1, .rect_every = 32,
                            .budget = RESA_BUDGET_FIXED, .coverage = 0.95f, .max_ratio = 0.5f,
                            .sparse_from = -1, .rect_policy = RESA_RECT_FIXED, .rect_min = 4,
                            .rect_error = 2.0f, .swa_full = 0, .n_seq_max = 1 };
    memcpy(p, &d, size < sizeof d ? size : sizeof d);
    p->size = size < sizeof d ? size : sizeof d;
}

static const char *const mode_names[] = {
    [RESA_MODE_RESA] = "resa", [RESA_MODE_DENSE] = "dense", [RESA_MODE_SPARSE] = "sparse",
    [RESA_MODE_AUTO] = "auto" };

const char *resa_mode_name(resa_mode mode)
{
    return (unsigned)mode < sizeof mode_names / sizeof mode_names[0] ? mode_names[mode] : "?";
}

int resa_mode_parse(const char *name)
{
    for (int i = 0; i < (int)(sizeof mode_names / sizeof mode_names[0]); i++)
        if (!strcmp(name, mode_names[i]))
            return i;
    return -1;
}

/* The sparse parameters must describe a schedule that exists. */
static resa_status check_sparse_params(const resa_params *p)
{
    if ((unsigned)p->mode > RESA_MODE_AUTO)
        return error_set(RESA_ERR_ARG, "unknown mode %d", (int)p->mode);
    if (p->block_size < 1 || p->block_size > 4096)
        return error_set(RESA_ERR_ARG, "block size %d is outside [1, 4096]", p->block_size);
    if (!(p->sparse_ratio > 0.0f && p->sparse_ratio <= 1.0f))
        return error_set(RESA_ERR_ARG, "sparse ratio %g is outside (0, 1]", p->sparse_ratio);
    if (p->min_blocks < 0)
        return error_set(RESA_ERR_ARG, "minimum blocks %d is negative", p->min_blocks);
    if (p->local_blocks < 1)
        return error_set(RESA_ERR_ARG,
                         "local blocks must be at least 1 (the current token's block), got %d",
                         p->local_blocks);
    if (p->rect_every < 0)
        return error_set(RESA_ERR_ARG, "rectification period %d is negative", p->rect_every);
    if (mode_rectifies(p->mode) && p->rect_every == 0)
        return error_set(RESA_ERR_ARG, "%s mode needs a rectification period >= 1 (period 0 is mode sparse)",
                         resa_mode_name(p->mode));
    if ((unsigned)p->budget > RESA_BUDGET_ADAPTIVE)
        return error_set(RESA_ERR_ARG, "unknown budget %d", (int)p->budget);
    if (!(p->coverage > 0.0f && p->coverage <= 1.0f))
        return error_set(RESA_ERR_ARG, "coverage %g is outside (0, 1]", p->coverage);
    if (!(p->max_ratio > 0.0f && p->max_ratio <= 1.0f))
        return error_set(RESA_ERR_ARG, "maximum ratio %g is outside (0, 1]", p->max_ratio);
    if ((unsigned)p->rect_policy > RESA_RECT_ERROR)
        return error_set(RESA_ERR_ARG, "unknown rectification policy %d", (int)p->rect_policy);
    if (p->rect_policy == RESA_RECT_ERROR && mode_rectifies(p->mode) &&
        (p->rect_min < 1 || p->rect_min > p->rect_every))
        return error_set(RESA_ERR_ARG, "shortest rectification period %d is outside [1, %d] (the "
                         "rectification period)", p->rect_min, p->rect_every);
    if (p->rect_policy == RESA_RECT_ERROR && !(p->rect_error > 0.0f && p->rect_error < INFINITY))
        return error_set(RESA_ERR_ARG, "rectification error %g is not a positive number", p->rect_error);
    if (p->sparse_from < -1)
        return error_set(RESA_ERR_ARG, "sparse-from %d is negative (-1: the built-in crossover)",
                         p->sparse_from);
    return RESA_OK;
}

/* The caller's params over the defaults: fields past its size (an older
 * header) keep their defaults. */
static resa_status copy_params(const resa_params *in, resa_params *p)
{
    resa_params_default(p);
    if (!in)
        return RESA_OK;
    if (in->size <= offsetof(resa_params, n_ctx))
        return error_set(RESA_ERR_ARG, "parameters without their size (use resa_params_default)");
    memcpy(p, in, in->size < sizeof *p ? in->size : sizeof *p);
    p->size = sizeof *p;
    return RESA_OK;
}

static resa_status resolve_params(const resa_model *m, const resa_params *in, resa_params *p)
{
    resa_status st = copy_params(in, p);
    if (st)
        return st;
    if (p->n_ctx < 0 || p->n_threads < 0 || p->n_batch < 0)
        return error_set(RESA_ERR_ARG, "context size, threads and batch must not be negative");
    if (p->n_ctx == 0)
        p->n_ctx = m->hp.n_ctx_train;
    if (p->n_threads == 0)
        p->n_threads = cpu_count();
    if (p->n_batch == 0)
        p->n_batch = 512;
    if (p->n_batch > p->n_ctx)
        p->n_batch = p->n_ctx;
    if (p->kv_type != RESA_KV_F16 && p->kv_type != RESA_KV_F32)
        return error_set(RESA_ERR_ARG, "unknown KV cache type %d", (int)p->kv_type);
    if (p->n_seq_max < 0)
        return error_set(RESA_ERR_ARG, "n_seq_max %d is negative", p->n_seq_max);
    if (p->n_seq_max == 0)
        p->n_seq_max = 1;
    return check_sparse_params(p);
}

/* Rows a pass may hold: a prompt chunk, or many sequences' decode and
 * rectification rows (a rectification is cut to this size when longer). */
static int pass_rows(const resa_params *p)
{
    const int rows = p->n_batch > 256 ? p->n_batch : 256;
    return rows < p->n_ctx ? rows : p->n_ctx;
}

/* What a windowed layer's ring must cover beyond the window
 * (kv_ring_blocks): the rows of a pass, or a rectification's pending steps
 * and the decode row after them. */
static int ring_reach(const resa_params *p)
{
    const int rows = pass_rows(p);
    return p->rect_every + 1 > rows ? p->rect_every + 1 : rows;
}

/* The pool an engine keeps (docs/design.md §3.3): n_ctx positions of every
 * layer, except that, where the model has windowed layers and swa_full is
 * off, those keep rings of kv_ring_blocks pages, n_seq_max of them (none
 * when a ring would be no shorter than the context). windowed: room for
 * n_layer flags. */
static resa_kv_geometry engine_geometry(const resa_model *m, const resa_params *p, unsigned char *windowed)
{
    const resa_hparams *hp = &m->hp;
    const int b = p->block_size, n_pages = (p->n_ctx + b - 1) / b;
    resa_kv_geometry g = { .type = p->kv_type, .n_layer = hp->n_layer, .n_head_kv = hp->n_head_kv,
                           .head_dim = hp->head_dim, .block_size = b, .n_pages = n_pages,
                           .summaries = p->mode != RESA_MODE_DENSE, .windowed = windowed };
    int any = 0;
    for (int l = 0; l < hp->n_layer; l++)
        any |= windowed[l] = hparams_layer_swa(hp, l);
    const int ring = any && !p->swa_full ? kv_ring_blocks(hp->n_swa, ring_reach(p), b) : 0;
    if (ring > 0 && ring < n_pages) {
        g.ring_blocks = ring;
        g.n_ring_pages = (long)ring * p->n_seq_max < n_pages ? ring * p->n_seq_max : n_pages;
    }
    return g;
}

/* A KV pool larger than the machine's physical memory would be granted by
 * overcommit and end in the OOM killer once filled: refuse it up front
 * unless the caller allows it (docs/design.md §3.3). */
static resa_status check_kv_memory(const resa_kv_geometry *g, const resa_params *p)
{
    const double kv = (double)kv_pool_size_kv(kv_pool_bytes(g));
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (p->allow_overcommit || pages <= 0 || page <= 0 || kv <= (double)pages * (double)page)
        return RESA_OK;
    return error_set(RESA_ERR_NOMEM,
                     "a KV cache of %d positions needs %.1f GiB, more than the %.1f GiB of physical memory "
                     "(use a smaller context, an f16 cache, or allow overcommit)",
                     p->n_ctx, kv / (1 << 30), (double)pages * (double)page / (1 << 30));
}

resa_status resa_engine_new(const resa_model *m, const resa_params *params, resa_engine **out)
{
    if (!out)
        return error_set(RESA_ERR_ARG, "resa_engine_new: NULL output pointer");
    *out = NULL;
    if (!m)
        return error_set(RESA_ERR_ARG, "resa_engine_new: NULL model");
    resa_engine *e = calloc(1, sizeof *e);
    if (!e)
        return error_set(RESA_ERR_NOMEM, "out of memory");
    e->model = m;
    model_retain(m);
    const resa_params *p = &e->params;
    unsigned char windowed[RESA_MAX_LAYERS];
    resa_kv_geometry g = {0};
    resa_status st = resolve_params(m, params, &e->params);
    if (!st) {
        g = engine_geometry(m, p, windowed);
        e->ring_reach = ring_reach(p);
    }
    if (st || (st = check_kv_memory(&g, p)) ||
        (st = resa_backend_new(p->backend, p->n_threads,
                               &(resa_backend_args){ .model = m, .n_rows_max = pass_rows(p),
                                                     .kv_type = p->kv_type, .block_size = p->block_size,
                                                     .n_pages = g.n_pages, .summaries = g.summaries,
                                                     .ring_blocks = g.ring_blocks,
                                                     .n_ring_pages = g.n_ring_pages },
                               &e->be)) ||
        (st = scheduler_engine_init(e))) {
        resa_engine_free(e);
        return st;
    }
    *out = e;
    return RESA_OK;
}

void resa_engine_free(resa_engine *e)
{
    if (!e)
        return;
    if (e->be) {
        scheduler_engine_free(e);
        e->be->free(e->be);
    }
    model_release(e->model);
    free(e);
}

const char *resa_engine_backend(const resa_engine *e) { return e ? e->be->name : NULL; }

int resa_engine_free_positions(const resa_engine *e)
{
    if (!e)
        return 0;
    /* a new sequence takes a ring page per page up to a full ring */
    const int free = e->pages.n_free, ring_free = e->ring_pages.n_free;
    const int pages = e->be->kv->ring_blocks && ring_free < e->be->kv->ring_blocks && ring_free < free
                          ? ring_free : free;
    return pages * e->params.block_size;
}

size_t resa_kv_cache_bytes(const resa_model *m, const resa_params *params)
{
    if (!m) {
        error_set(RESA_ERR_ARG, "resa_kv_cache_bytes: NULL model");
        return 0;
    }
    resa_params p;
    unsigned char windowed[RESA_MAX_LAYERS];
    if (resolve_params(m, params, &p))
        return 0;
    const resa_kv_geometry g = engine_geometry(m, &p, windowed);
    return kv_pool_size_total(kv_pool_bytes(&g));
}

resa_status resa_seq_new(resa_engine *e, const resa_params *params, resa_seq **out)
{
    if (!e || !out)
        return error_set(RESA_ERR_ARG, "resa_seq_new: NULL engine or output pointer");
    *out = NULL;
    resa_params p;
    resa_status st;
    if (!params) {
        p = e->params;
    } else if ((st = copy_params(params, &p)) || (st = check_sparse_params(&p))) {
        return st;
    }
    if (p.mode != RESA_MODE_DENSE && e->params.mode == RESA_MODE_DENSE)
        return error_set(RESA_ERR_ARG, "a dense engine keeps no block summaries: create it in mode "
                                       "sparse or resa for %s sequences", resa_mode_name(p.mode));
    if (p.n_ctx < 0)
        return error_set(RESA_ERR_ARG, "a sequence's context must not be negative");
    return scheduler_seq_new(e, &p, out);
}

void resa_seq_free(resa_seq *s) { scheduler_seq_free(s); }
int resa_seq_n_past(const resa_seq *s) { return s ? s->n_past : 0; }
int resa_seq_n_ctx(const resa_seq *s) { return s ? s->n_ctx : 0; }
resa_status resa_seq_truncate(resa_seq *s, int n)
{
    NEED(s, "sequence");
    return scheduler_truncate(s, n);
}
resa_status resa_seq_set_mode(resa_seq *s, resa_mode mode)
{
    NEED(s, "sequence");
    return scheduler_set_mode(s, mode);
}
resa_mode resa_seq_mode(const resa_seq *s) { return s ? s->mode : RESA_MODE_RESA; }
int resa_seq_rectifications(const resa_seq *s) { return s ? s->rectifications : 0; }
resa_status resa_seq_rectify_tail(resa_seq *s)
{
    NEED(s, "sequence");
    return scheduler_rectify(s);
}
const float *resa_seq_logits(const resa_seq *s) { return s ? s->logits : NULL; }
resa_status resa_seq_fill_repeat(resa_seq *s, int n_total)
{
    NEED(s, "sequence");
    return scheduler_fill_repeat(s, n_total);
}

resa_status resa_engine_step(resa_engine *e, int n, resa_seq *const *seqs, const int32_t *const *tokens,
                             const int *n_tokens)
{
    NEED(e, "engine");
    if (n > 0) {
        NEED(seqs, "sequence list");
        NEED(tokens, "token lists");
        NEED(n_tokens, "token counts");
        for (int i = 0; i < n; i++) {
            NEED(seqs[i], "sequence");
            if (n_tokens[i] > 0)
                NEED(tokens[i], "tokens");
        }
    }
    resa_status st = scheduler_step(e, n, seqs, tokens, n_tokens, NULL, NULL, NULL);
    return st ? st : model_check_intact(e->model);
}

/* ---- the single-sequence context: a one-sequence engine ---------------------- */

resa_status resa_context_new(const resa_model *m, const resa_params *params, resa_context **out)
{
    if (!out)
        return error_set(RESA_ERR_ARG, "resa_context_new: NULL output pointer");
    *out = NULL;
    NEED(m, "model");
    resa_context *c = calloc(1, sizeof *c);
    if (!c)
        return error_set(RESA_ERR_NOMEM, "out of memory");
    resa_status st;
    if ((st = resa_engine_new(m, params, &c->engine)) || (st = resa_seq_new(c->engine, NULL, &c->seq))) {
        resa_context_free(c);
        return st;
    }
    *out = c;
    return RESA_OK;
}

void resa_context_free(resa_context *c)
{
    if (!c)
        return;
    resa_engine_free(c->engine);
    free(c);
}

int resa_context_n_ctx(const resa_context *c) { return c ? c->seq->n_ctx : 0; }
int resa_context_n_past(const resa_context *c) { return c ? c->seq->n_past : 0; }
void resa_context_reset(resa_context *c)
{
    if (c)
        scheduler_truncate(c->seq, 0);
}
const char *resa_context_backend(const resa_context *c) { return c ? c->engine->be->name : NULL; }
int resa_context_rectifications(const resa_context *c) { return c ? c->seq->rectifications : 0; }
resa_status resa_context_set_mode(resa_context *c, resa_mode mode)
{
    NEED(c, "context");
    return scheduler_set_mode(c->seq, mode);
}
resa_mode resa_context_mode(const resa_context *c) { return c ? c->seq->mode : RESA_MODE_RESA; }
resa_status resa_context_truncate(resa_context *c, int n)
{
    NEED(c, "context");
    return scheduler_truncate(c->seq, n);
}

void resa_context_timings_sized(const resa_context *c, resa_timings *out, size_t size)
{
    if (!c || !out)
        return;
    resa_timings t = c->seq->timings;
    t.size = size < sizeof t ? size : sizeof t;
    memcpy(out, &t, t.size);
}

void resa_context_reset_timings(resa_context *c)
{
    if (!c)
        return;
    memset(&c->seq->timings, 0, sizeof c->seq->timings);
    c->seq->timing_on = 1;
}

resa_status resa_context_fill_repeat(resa_context *c, int n_total)
{
    NEED(c, "context");
    return scheduler_fill_repeat(c->seq, n_total);
}

resa_status resa_rectify_tail(resa_context *c)
{
    NEED(c, "context");
    return scheduler_rectify(c->seq);
}
const float *resa_logits(const resa_context *c) { return c ? c->seq->logits : NULL; }

/* One input, then the rectification at once when it is due (the schedule
 * of docs/design.md §1, observable right after the f-th step). */
static resa_status context_step(resa_context *c, const int32_t *tokens, int n, float *all_logits,
                                resa_progress_fn progress, void *user)
{
    NEED(c, "context");
    if (n == 0)
        return RESA_OK;
    NEED(tokens, "tokens");
    resa_status st = scheduler_step(c->engine, 1, &c->seq, &tokens, &n, all_logits, progress, user);
    if (!st && scheduler_rect_due(c->seq))
        st = scheduler_rectify(c->seq);
    return st ? st : model_check_intact(c->engine->model);
}

resa_status resa_decode(resa_context *c, const int32_t *tokens, int n, resa_progress_fn progress,
                        void *user)
{
    return context_step(c, tokens, n, NULL, progress, user);
}

resa_status resa_decode_all_logits(resa_context *c, const int32_t *tokens, int n, float *all_logits)
{
    return context_step(c, tokens, n, all_logits, NULL, NULL);
}
int resa_tokenize(const resa_model *m, const char *text, size_t len, int add_bos, int parse_special,
                  int32_t *tokens, int max_tokens)
{
    if (!m) {
        error_set(RESA_ERR_ARG, "resa_tokenize: NULL model");
        return -1;
    }
    return tokenizer_encode(m->tok, text, len, add_bos, parse_special, tokens, max_tokens);
}

int resa_chat_tokenize(const resa_model *m, const char *system, size_t system_len, const char *user,
                       size_t user_len, int parse_special, int32_t *tokens, int max_tokens)
{
    return resa_chat_tokenize_template(m, NULL, system, system_len, user, user_len, parse_special, tokens,
                                       max_tokens);
}

const char *resa_token_text(const resa_model *m, int32_t token, size_t *len)
{
    if (!m) {
        if (len)
            *len = 0;
        return NULL;
    }
    return tokenizer_token_bytes(m->tok, token, len);
}

int resa_token_is_eog(const resa_model *m, int32_t token) { return m && tokenizer_is_eog(m->tok, token); }

/* The model's template family; a file with no template at all (Gemma 3's
 * base models) gets its architecture's family, -1 when unknown. */
static int model_chat_family(const resa_model *m)
{
    int fam = tokenizer_chat_family(m->tok);
    if (fam < 0 && !gguf_find_kv(m->gguf, "tokenizer.chat_template") &&
        !strcmp(m->arch_name, "gemma3"))
        fam = CHAT_GEMMA;
    return fam;
}

const char *resa_chat_template(const resa_model *m, int *recognised)
{
    int fam = m ? model_chat_family(m) : -1;
    if (recognised)
        *recognised = fam >= 0;
    return chat_family_name(fam >= 0 ? fam : CHAT_CHATML);
}

/* The family named (NULL: the model's own, ChatML when it has none), or -1
 * with the error set for an unknown name. */
static int chat_family_of(const resa_model *m, const char *template_name)
{
    if (!template_name) {
        const int fam = model_chat_family(m);
        return fam >= 0 ? fam : CHAT_CHATML;
    }
    const int fam = chat_family_by_name(template_name);
    if (fam < 0) {
        char buf[RESA_PRINTABLE_BUF];
        error_set(RESA_ERR_ARG, "chat: unknown template '%s' (known: chatml, llama3, gemma, mistral)",
                  resa_printable(buf, sizeof buf, template_name, strlen(template_name)));
    }
    return fam;
}

int resa_chat_tokenize_template(const resa_model *m, const char *template_name, const char *system,
                                size_t system_len, const char *user, size_t user_len, int parse_special,
                                int32_t *tokens, int max_tokens)
{
    if (!m || !user || (system_len && !system)) {
        error_set(RESA_ERR_ARG, "chat: no model or no user message");
        return -1;
    }
    const int fam = chat_family_of(m, template_name);
    if (fam < 0)
        return -1;
    /* an empty message is "" (len 0 means NUL-terminated) */
    chat_msg msgs[2] = {{"system", system_len ? system : "", system_len}, {"user", user_len ? user : "", user_len}};
    return chat_tokenize(m->tok, fam, system ? msgs : msgs + 1, system ? 2 : 1, parse_special, tokens, max_tokens);
}

int resa_chat_tokenize_messages(const resa_model *m, const char *template_name, int n_messages,
                                const char *const *roles, const char *const *texts, const size_t *lens,
                                int parse_special, int32_t *tokens, int max_tokens)
{
    if (!m || n_messages < 0 || (n_messages && (!roles || !texts))) {
        error_set(RESA_ERR_ARG, "chat: no model or no messages");
        return -1;
    }
    int fam = chat_family_of(m, template_name);
    if (fam < 0)
        return -1;
    chat_msg *msgs = malloc(((size_t)n_messages + 1) * sizeof *msgs);
    if (!msgs) {
        error_set(RESA_ERR_NOMEM, "chat: out of memory");
        return -1;
    }
    for (int i = 0; i < n_messages; i++)
        msgs[i] = (chat_msg){roles[i], texts[i], lens ? lens[i] : 0};
    const int n = chat_tokenize(m->tok, fam, msgs, n_messages, parse_special, tokens, max_tokens);
    free(msgs);
    return n;
}

char *resa_chat_format(const resa_model *m, const char *system, const char *user)
{
    if (!m) {
        error_set(RESA_ERR_ARG, "resa_chat_format: NULL model");
        return NULL;
    }
    return tokenizer_chat_format(m->tok, system, user);
}
