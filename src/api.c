/* The public API (resa.h) over the internal pieces. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "forward.h"
#include "scheduler.h"
#include "threads.h"

const char *resa_version(void) { return PACKAGE_VERSION; }

void resa_params_default(resa_params *p)
{
    p->n_ctx = 0;
    p->n_threads = 0;
    p->n_batch = 512;
    p->kv_type = RESA_KV_F16;
    p->mode = RESA_MODE_RESA;
    p->block_size = 16;
    p->sparse_ratio = 0.1f;
    p->min_blocks = 16;
    p->local_blocks = 1;
    p->rect_every = 32;
}

static const char *const mode_names[] = {
    [RESA_MODE_RESA] = "resa", [RESA_MODE_DENSE] = "dense", [RESA_MODE_SPARSE] = "sparse" };

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
    if ((unsigned)p->mode > RESA_MODE_SPARSE)
        return resa_fail(RESA_ERR_ARG, "unknown mode %d", (int)p->mode);
    if (p->block_size < 1 || p->block_size > 4096)
        return resa_fail(RESA_ERR_ARG, "block size %d is outside [1, 4096]", p->block_size);
    if (!(p->sparse_ratio > 0.0f && p->sparse_ratio <= 1.0f))
        return resa_fail(RESA_ERR_ARG, "sparse ratio %g is outside (0, 1]", p->sparse_ratio);
    if (p->min_blocks < 0)
        return resa_fail(RESA_ERR_ARG, "minimum blocks %d is negative", p->min_blocks);
    if (p->local_blocks < 1)
        return resa_fail(RESA_ERR_ARG,
                         "local blocks must be at least 1 (the current token's block), got %d",
                         p->local_blocks);
    if (p->rect_every < 0)
        return resa_fail(RESA_ERR_ARG, "rectification period %d is negative", p->rect_every);
    if (p->mode == RESA_MODE_RESA && p->rect_every == 0)
        return resa_fail(RESA_ERR_ARG,
                         "resa mode needs a rectification period >= 1 (period 0 is mode sparse)");
    return RESA_OK;
}

static resa_status alloc_buffers(resa_context *c)
{
    const resa_hparams *hp = &c->model->hp;
    const size_t B = (size_t)c->params.n_batch;
    struct { float **p; size_t n; } bufs[] = {
        { &c->x, B * hp->n_embd },
        { &c->xb, B * hp->n_embd },
        { &c->q, B * hp->n_head * hp->head_dim },
        { &c->k, B * hp->n_head_kv * hp->head_dim },
        { &c->v, B * hp->n_head_kv * hp->head_dim },
        { &c->att, B * hp->n_head * hp->head_dim },
        { &c->hb, B * hp->n_ff },
        { &c->hb2, B * hp->n_ff },
        { &c->rope_cs, B * hp->n_rot },
        { &c->logits, (size_t)hp->n_vocab },
    };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        *bufs[i].p = malloc(bufs[i].n * sizeof(float));
        if (!*bufs[i].p)
            return resa_fail(RESA_ERR_NOMEM, "out of memory for activation buffers");
    }
    if (c->params.mode == RESA_MODE_DENSE)
        return RESA_OK;
    c->sparse = (resa_sparse_cfg){ .block_size = c->params.block_size,
                                   .ratio = c->params.sparse_ratio,
                                   .min_blocks = c->params.min_blocks,
                                   .local_blocks = c->params.local_blocks };
    c->sel = malloc((size_t)hp->n_head_kv * c->kv.n_blocks_max * sizeof *c->sel);
    c->n_sel = malloc((size_t)hp->n_head_kv * sizeof *c->n_sel);
    c->pending = malloc(((size_t)c->params.rect_every + 1) * sizeof *c->pending);
    if (!c->sel || !c->n_sel || !c->pending)
        return resa_fail(RESA_ERR_NOMEM, "out of memory for block selection");
    return RESA_OK;
}

static resa_status resolve_params(const resa_model *m, const resa_params *in, resa_params *p)
{
    *p = *in;
    if (p->n_ctx < 0 || p->n_threads < 0 || p->n_batch < 0)
        return resa_fail(RESA_ERR_ARG, "context size, threads and batch must not be negative");
    if (p->n_ctx == 0)
        p->n_ctx = m->hp.n_ctx_train;
    if (p->n_threads == 0)
        p->n_threads = resa_cpu_count();
    if (p->n_batch == 0)
        p->n_batch = 512;
    if (p->n_batch > p->n_ctx)
        p->n_batch = p->n_ctx;
    if (p->kv_type != RESA_KV_F16 && p->kv_type != RESA_KV_F32)
        return resa_fail(RESA_ERR_ARG, "unknown KV cache type %d", (int)p->kv_type);
    return check_sparse_params(p);
}

resa_status resa_context_new(const resa_model *m, const resa_params *params, resa_context **out)
{
    *out = NULL;
    resa_params def;
    if (!params) {
        resa_params_default(&def);
        params = &def;
    }
    resa_context *c = calloc(1, sizeof *c);
    if (!c)
        return resa_fail(RESA_ERR_NOMEM, "out of memory");
    c->model = m;
    const resa_hparams *hp = &m->hp;
    resa_status st;
    if ((st = resolve_params(m, params, &c->params)) ||
        (st = kv_cache_init(&c->kv, c->params.kv_type, hp->n_layer, hp->n_head_kv, hp->head_dim,
                            c->params.n_ctx,
                            c->params.mode == RESA_MODE_DENSE ? 0 : c->params.block_size)) ||
        (st = alloc_buffers(c)) ||
        (st = resa_backend_cpu_new(c->params.n_threads, &c->be))) {
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
    if (c->be)
        c->be->free(c->be);
    kv_cache_free(&c->kv);
    float *bufs[] = { c->x, c->xb, c->q, c->k, c->v, c->att, c->hb, c->hb2, c->rope_cs, c->logits };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        free(bufs[i]);
    free(c->sel);
    free(c->n_sel);
    free(c->pending);
    free(c);
}

int resa_context_n_ctx(const resa_context *c) { return c->kv.n_ctx; }
int resa_context_n_past(const resa_context *c) { return c->kv.n_past; }
void resa_context_reset(resa_context *c)
{
    c->kv.n_past = 0;
    c->n_pending = 0;
    c->pending_sparse = 0;
}

int resa_context_rectifications(const resa_context *c) { return c->rectifications; }

resa_status resa_context_set_mode(resa_context *c, resa_mode mode)
{
    return scheduler_set_mode(c, mode);
}

resa_mode resa_context_mode(const resa_context *c) { return c->params.mode; }

resa_status resa_context_truncate(resa_context *c, int n) { return scheduler_truncate(c, n); }

void resa_context_timings(const resa_context *c, resa_timings *out) { *out = c->timings; }

void resa_context_reset_timings(resa_context *c)
{
    memset(&c->timings, 0, sizeof c->timings);
    c->timing_on = 1;
}

resa_status resa_context_fill_repeat(resa_context *c, int n_total)
{
    if (c->kv.n_past < 1 || n_total > c->kv.n_ctx || n_total < c->kv.n_past)
        return resa_fail(RESA_ERR_ARG, "cannot fill %d of %d positions from %d cached", n_total,
                         c->kv.n_ctx, c->kv.n_past);
    if (c->n_pending)
        return resa_fail(RESA_ERR_ARG, "rectify before filling the cache");
    kv_cache_fill_repeat(&c->kv, n_total);
    return RESA_OK;
}

resa_status resa_rectify_tail(resa_context *c) { return scheduler_rectify_tail(c); }
const float *resa_logits(const resa_context *c) { return c->logits; }

resa_status resa_decode(resa_context *c, const int32_t *tokens, int n, resa_progress_fn progress,
                        void *user)
{
    return scheduler_run(c, tokens, n, NULL, progress, user);
}

resa_status resa_decode_all_logits(resa_context *c, const int32_t *tokens, int n, float *all_logits)
{
    return scheduler_run(c, tokens, n, all_logits, NULL, NULL);
}

int resa_tokenize(const resa_model *m, const char *text, size_t len, int add_bos, int parse_special,
                  int32_t *tokens, int max_tokens)
{
    return tokenizer_encode(m->tok, text, len, add_bos, parse_special, tokens, max_tokens);
}

const char *resa_token_text(const resa_model *m, int32_t token, size_t *len)
{
    return tokenizer_token_bytes(m->tok, token, len);
}

int resa_token_is_eog(const resa_model *m, int32_t token) { return tokenizer_is_eog(m->tok, token); }

char *resa_chat_format(const resa_model *m, const char *system, const char *user)
{
    return tokenizer_chat_format(m->tok, system, user);
}
