/* The scheduler: the only code that knows the ReSA schedule (DESIGN.md §1).
 *
 * - several tokens at once: dense prefill in chunks of n_batch;
 * - one token after the prompt: a decode step, dense or (modes sparse and
 *   resa) block-sparse;
 * - in resa mode, every rect_every sparse steps: rectification, a dense
 *   re-run of those steps' tokens at their own positions that overwrites
 *   their K/V in every layer; its logits are discarded.
 * Everything heavy goes through the backend, so any backend runs the same
 * schedule. */
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

/* Dense causal pass over n tokens at positions pos0.., in chunks. */
static resa_status dense_pass(resa_context *ctx, const int32_t *tokens, int n, int pos0,
                              forward_logits logits, float *all_logits, resa_progress_fn progress,
                              void *user)
{
    const int n_vocab = ctx->model->hp.n_vocab;
    for (int done = 0; done < n;) {
        const int chunk = n - done < ctx->params.n_batch ? n - done : ctx->params.n_batch;
        /* only the final chunk's last row matters for LOGITS_LAST */
        const forward_logits lg = logits == LOGITS_LAST && done + chunk < n ? LOGITS_NONE : logits;
        float *out = all_logits ? all_logits + (size_t)done * n_vocab : NULL;
        resa_status st = forward_chunk(ctx, tokens + done, chunk, pos0 + done, 0, lg, out);
        if (st)
            return st;
        done += chunk;
        if (progress)
            progress(user, done, n);
    }
    return RESA_OK;
}

/* Re-runs the pending sparse steps densely at their positions: their K/V in
 * every layer become what a dense run computes; then their blocks' summaries
 * are recomputed (O(f) work, not O(context)). */
static resa_status rectify(resa_context *ctx)
{
    const int n = ctx->n_pending, pos0 = ctx->kv.n_past - n;
    if (n == 0)
        return RESA_OK;
    if (!ctx->pending_sparse) {
        /* every pending step attended every block: its K/V are exactly what
         * dense decoding writes, and a re-run would only repeat them */
        ctx->n_pending = 0;
        return RESA_OK;
    }
    const double t0 = resa_now();
    const int timing = ctx->timing_on;
    ctx->timing_on = 0; /* its attention is the rectification's, not a step's */
    resa_status st = dense_pass(ctx, ctx->pending, n, pos0, LOGITS_NONE, NULL, NULL, NULL);
    ctx->timing_on = timing;
    if (st)
        return st;
    ctx->be->refresh_summaries(ctx->be, &ctx->kv, pos0, n, ctx->kv.n_past);
    ctx->n_pending = 0;
    ctx->pending_sparse = 0;
    ctx->rectifications++;
    ctx->timings.rectify_s += resa_now() - t0;
    ctx->timings.rectifications++;
    return RESA_OK;
}

/* One token after the prompt: dense or sparse by mode; resa mode queues it
 * for rectification. */
static resa_status decode_step(resa_context *ctx, int32_t token)
{
    const int sparse = ctx->params.mode != RESA_MODE_DENSE;
    const double t0 = resa_now();
    resa_status st = forward_chunk(ctx, &token, 1, ctx->kv.n_past, sparse, LOGITS_LAST, NULL);
    ctx->timings.decode_s += resa_now() - t0;
    ctx->timings.steps++;
    if (st)
        return st;
    ctx->kv.n_past++;
    if (ctx->params.mode != RESA_MODE_RESA)
        return RESA_OK;
    ctx->pending[ctx->n_pending++] = token;
    return ctx->n_pending == ctx->params.rect_every ? rectify(ctx) : RESA_OK;
}

resa_status scheduler_rectify_tail(resa_context *ctx) { return rectify(ctx); }

resa_status scheduler_set_mode(resa_context *ctx, resa_mode mode)
{
    if ((unsigned)mode > RESA_MODE_SPARSE)
        return resa_fail(RESA_ERR_ARG, "unknown mode %d", (int)mode);
    if (mode == ctx->params.mode)
        return RESA_OK;
    if (mode != RESA_MODE_DENSE && !ctx->kv.kmin)
        return resa_fail(RESA_ERR_ARG, "a context created in dense mode keeps no block summaries: "
                                       "create it in mode sparse or resa to switch to %s",
                         resa_mode_name(mode));
    if (mode == RESA_MODE_RESA && ctx->params.rect_every < 1)
        return resa_fail(RESA_ERR_ARG, "resa mode needs a rectification period: create the context "
                                       "in resa mode (rect_every >= 1)");
    /* the old schedule finishes its period before the new one starts */
    resa_status st = rectify(ctx);
    if (st)
        return st;
    ctx->params.mode = mode;
    return RESA_OK;
}

resa_status scheduler_truncate(resa_context *ctx, int n)
{
    resa_kv_cache *kv = &ctx->kv;
    if (n < 0 || n > kv->n_past)
        return resa_fail(RESA_ERR_ARG, "cannot keep %d positions: %d are cached", n, kv->n_past);
    /* pending steps are the positions [n_past - n_pending, n_past), in order */
    const int first_pending = kv->n_past - ctx->n_pending;
    ctx->n_pending = n > first_pending ? n - first_pending : 0;
    if (ctx->n_pending == 0)
        ctx->pending_sparse = 0; /* else kept: a step we keep may have skipped blocks */
    kv->n_past = n;
    /* Entries at positions >= n are dead: the next write overwrites them, and
     * the first key of a block resets its summary. Only the block holding
     * n-1 may still be widened by a forgotten key: rebuild it from [0, n). */
    if (kv->kmin && n > 0 && n % kv->block_size)
        ctx->be->refresh_summaries(ctx->be, kv, n - 1, 1, n);
    return RESA_OK;
}

resa_status scheduler_run(resa_context *ctx, const int32_t *tokens, int n, float *all_logits,
                          resa_progress_fn progress, void *user)
{
    resa_status st = check_tokens(ctx, tokens, n);
    if (st)
        return st;
    if (n == 1 && !all_logits && ctx->kv.n_past > 0)
        return decode_step(ctx, tokens[0]);
    /* new dense tokens must see a rectified cache */
    if ((st = rectify(ctx)))
        return st;
    const int n_vocab = ctx->model->hp.n_vocab;
    st = dense_pass(ctx, tokens, n, ctx->kv.n_past, all_logits ? LOGITS_ALL : LOGITS_LAST,
                    all_logits, progress, user);
    if (st)
        return st;
    ctx->kv.n_past += n;
    if (all_logits && n > 0) /* keep resa_logits() meaningful */
        for (int i = 0; i < n_vocab; i++)
            ctx->logits[i] = all_logits[(size_t)(n - 1) * n_vocab + i];
    return RESA_OK;
}
