#include "scheduler.h"

#include "error.h"

static resa_status check_tokens(const resa_context *ctx, const int32_t *tokens, int n)
{
    if (n < 0)
        return resa_fail(RESA_ERR_ARG, "negative token count %d", n);
    if (n > ctx->kv.n_ctx - ctx->kv.n_past)
        return resa_fail(RESA_ERR_CONTEXT,
                         "%d tokens do not fit: context holds %d and %d are already used", n,
                         ctx->kv.n_ctx, ctx->kv.n_past);
    const int n_vocab = ctx->model->hp.n_vocab;
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= n_vocab)
            return resa_fail(RESA_ERR_ARG, "token id %d at index %d is outside the vocabulary [0, %d)",
                             tokens[i], i, n_vocab);
    return RESA_OK;
}

resa_status scheduler_run(resa_context *ctx, const int32_t *tokens, int n, float *all_logits,
                          resa_progress_fn progress, void *user)
{
    resa_status st = check_tokens(ctx, tokens, n);
    if (st)
        return st;
    const int n_vocab = ctx->model->hp.n_vocab;
    for (int done = 0; done < n;) {
        const int chunk = n - done < ctx->params.n_batch ? n - done : ctx->params.n_batch;
        float *logits = all_logits ? all_logits + (size_t)done * n_vocab : NULL;
        st = forward_chunk(ctx, tokens + done, chunk, ctx->kv.n_past, logits);
        if (st)
            return st;
        ctx->kv.n_past += chunk;
        done += chunk;
        if (all_logits && done == n) /* keep resa_logits() meaningful */
            for (int i = 0; i < n_vocab; i++)
                ctx->logits[i] = logits[(size_t)(chunk - 1) * n_vocab + i];
        if (progress)
            progress(user, done, n);
    }
    return RESA_OK;
}
