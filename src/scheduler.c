/* SPDX-License-Identifier: MIT */
/* The scheduler (contract in scheduler.h): what a step's rows are, and the
 * ReSA schedule of each sequence (docs/design.md §1):
 *
 * - a prompt: dense rows, in chunks of n_batch counted from its start (the
 *   chunking, and so the arithmetic, depends on the sequence alone);
 * - one token after the prompt: a decode row, dense or (modes sparse and
 *   resa) block-sparse;
 * - in mode auto, a decode row is dense below the sequence's sparse_from
 *   position and a resa row from there on (a function of the position, so
 *   again known in advance);
 * - in resa and auto modes, after every rect_every decode steps that
 *   skipped blocks: rectification, a
 *   dense re-run of those steps' tokens at their own positions that
 *   overwrites their K/V in every layer; its logits are not computed. It
 *   joins the sequence's next step (the single-sequence API runs it at once).
 *
 * Rows of many sequences share a pass, so the weights are read once per
 * pass. Whether a sparse row skips blocks follows from its position and the
 * budget, so nothing is read back from the backend. */
#include "scheduler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blocks.h"
#include "error.h"
#include "forward.h"
#include "grow.h"

/* A piece of work for one pass: one segment's rows. */
typedef struct job {
    resa_seq *seq;
    resa_seg_kind kind;
    int pos0, n, sparse;
    const int32_t *tokens;
    float *logits;      /* NULL: none; else the last row's (or with all_rows, every row's) */
    int all_rows;
    int ends_rect;      /* the last piece of a rectification */
} job;

typedef struct job_list {
    job *v;
    int n;
    size_t cap;
} job_list;

static resa_status add_job(job_list *l, job j)
{
    resa_status st = resa_grow(&l->v, &l->cap, (size_t)l->n + 1, sizeof *l->v);
    if (!st)
        l->v[l->n++] = j;
    return st;
}

resa_status scheduler_engine_init(resa_engine *e)
{
    const int rows = e->be->n_rows_max;
    e->segs = malloc((size_t)rows * sizeof *e->segs);
    e->tokens = malloc((size_t)rows * sizeof *e->tokens);
    e->pos = malloc((size_t)rows * sizeof *e->pos);
    e->logit_rows = malloc((size_t)rows * sizeof *e->logit_rows);
    e->logit_dst = malloc((size_t)rows * sizeof *e->logit_dst);
    if (!e->segs || !e->tokens || !e->pos || !e->logit_rows || !e->logit_dst)
        return error_set(RESA_ERR_NOMEM, "out of memory for the scheduler");
    resa_status st = page_alloc_init(&e->pages, e->be->kv->n_pages);
    return st ? st : page_alloc_init(&e->ring_pages, e->be->kv->n_ring_pages);
}

void scheduler_engine_free(resa_engine *e)
{
    while (e->n_seqs > 0)
        scheduler_seq_free(e->seqs[e->n_seqs - 1]);
    free(e->seqs);
    free(e->segs);
    free(e->tokens);
    free(e->pos);
    free(e->logit_rows);
    free(e->logit_dst);
    free(e->logit_buf);
    page_alloc_free(&e->pages);
    page_alloc_free(&e->ring_pages);
}

resa_status scheduler_seq_new(resa_engine *e, const resa_params *p, resa_seq **out)
{
    *out = NULL;
    resa_status st = resa_grow(&e->seqs, &e->seqs_cap, (size_t)e->n_seqs + 1, sizeof *e->seqs);
    if (st)
        return st;
    /* the CUDA module plans each row's key count on the host (docs/design.md
     * §3.9); an adaptive count is only known on the device */
    if (p->budget == RESA_BUDGET_ADAPTIVE && strcmp(e->be->name, "cpu"))
        return error_set(RESA_ERR_UNSUPPORTED, "the %s backend has no adaptive budget yet: use --budget "
                                               "fixed or --backend cpu", e->be->name);
    /* the error policy needs each selection's estimated miss (resa_seg.miss),
     * which only the CPU backend reports */
    if (p->rect_policy == RESA_RECT_ERROR && mode_rectifies(p->mode) && strcmp(e->be->name, "cpu"))
        return error_set(RESA_ERR_UNSUPPORTED, "the %s backend has no error-driven rectification yet: use "
                                               "--rect-policy fixed or --backend cpu", e->be->name);
    /* a rectification's first row reads its window while the ring already
     * holds the pending steps after it: the ring was sized for so many */
    const int ring_blocks = e->be->kv->ring_blocks;
    if (ring_blocks && p->rect_every + 1 > e->ring_reach)
        return error_set(RESA_ERR_ARG, "a rectification period of %d is longer than the windowed layers' KV "
                         "rings allow (%d): create the engine with it, or with swa_full", p->rect_every,
                         e->ring_reach - 1);
    resa_seq *s = calloc(1, sizeof *s);
    if (!s)
        return error_set(RESA_ERR_NOMEM, "out of memory");
    const int b = e->params.block_size;
    s->engine = e;
    s->mode = p->mode;
    s->sparse = (resa_sparse_cfg){ .block_size = b, .ratio = p->sparse_ratio,
                                   .min_blocks = p->min_blocks, .local_blocks = p->local_blocks,
                                   .budget = p->budget, .coverage = p->coverage, .max_ratio = p->max_ratio };
    s->rect_every = p->rect_every;
    s->rect_policy = p->rect_policy;
    s->rect_min = p->rect_min;
    s->rect_error = p->rect_error;
    s->sparse_from = p->sparse_from >= 0 ? p->sparse_from : scheduler_default_sparse_from(p, &e->model->hp);
    s->n_ctx = p->n_ctx > 0 && p->n_ctx < e->params.n_ctx ? p->n_ctx : e->params.n_ctx;
    s->n_blocks_max = (s->n_ctx + b - 1) / b;
    s->pages = malloc((size_t)s->n_blocks_max * sizeof *s->pages);
    s->pending = malloc(((size_t)s->rect_every + 1) * sizeof *s->pending);
    s->logits = calloc((size_t)e->model->hp.n_vocab, sizeof *s->logits);
    s->ring = ring_blocks ? malloc((size_t)ring_blocks * sizeof *s->ring) : NULL;
    if (!s->pages || !s->pending || !s->logits || (ring_blocks && !s->ring)) {
        free(s->ring);
        free(s->pages);
        free(s->pending);
        free(s->logits);
        free(s);
        return error_set(RESA_ERR_NOMEM, "out of memory for a sequence");
    }
    s->index = e->n_seqs;
    e->seqs[e->n_seqs++] = s;
    *out = s;
    return RESA_OK;
}

/* Ring pages a sequence of n_blocks blocks holds: one per block up to the
 * ring's length. */
static int ring_pages_for(const resa_seq *s, int n_blocks)
{
    const int r = s->engine->be->kv->ring_blocks;
    return n_blocks < r ? n_blocks : r;
}

/* Gives back the pages above the first `keep` blocks. Below a full ring,
 * ring page i holds block i (or, if the ring went round before, a block
 * of a forgotten position), so the ring keeps its first `keep` pages. */
static void release_pages(resa_seq *s, int keep)
{
    while (s->n_pages > keep)
        page_alloc_give(&s->engine->pages, s->pages[--s->n_pages]);
    while (s->n_ring > ring_pages_for(s, keep))
        page_alloc_give(&s->engine->ring_pages, s->ring[--s->n_ring]);
}

void scheduler_seq_free(resa_seq *s)
{
    if (!s)
        return;
    resa_engine *e = s->engine;
    release_pages(s, 0);
    e->seqs[s->index] = e->seqs[--e->n_seqs];
    e->seqs[s->index]->index = s->index;
    free(s->pages);
    free(s->ring);
    free(s->pending);
    free(s->logits);
    free(s);
}

int scheduler_rect_due(const resa_seq *s)
{
    if (!mode_rectifies(s->mode))
        return 0;
    if (s->n_pending >= s->rect_every)
        return 1;
    /* docs/design.md §1, step 5': sooner when the sparse steps are
     * estimated to have missed much of the attention mass */
    return s->rect_policy == RESA_RECT_ERROR && s->n_pending >= s->rect_min && s->pending_miss >= s->rect_error;
}

/* The depth where the n_min floor stops binding (docs/design.md §2: below
 * n_min*b/ratio tokens a sparse step reads a larger share than `ratio`); on
 * SmolLM2 and 2 threads it is also where resa decode overtakes dense
 * (measured 0.76x at 1K, 1.2x at 4K: the crossover interpolates to ~2.6K).
 * Only the sparse layers save, while a rectification re-runs every layer,
 * so the depth scales with layers per sparse layer: 6 on Gemma 3 (5 of
 * every 6 layers windowed), 15,360 tokens, where its measured crossover is
 * about 20K (docs/design.md §1, "Modes and parameters"). */
int scheduler_default_sparse_from(const resa_params *p, const resa_hparams *hp)
{
    int n_sparse = 0;
    for (int l = 0; l < hp->n_layer; l++)
        n_sparse += !hparams_layer_swa(hp, l);
    const double x = (double)p->min_blocks * p->block_size / p->sparse_ratio *
                     (n_sparse > 0 ? (double)hp->n_layer / n_sparse : 1.0);
    return x < (double)(1 << 30) ? (int)ceil(x) : 1 << 30;
}

/* Does a decode step at pos attend sparsely? */
static int step_is_sparse(const resa_seq *s, int pos)
{
    return s->mode == RESA_MODE_SPARSE || s->mode == RESA_MODE_RESA ||
           (s->mode == RESA_MODE_AUTO && pos >= s->sparse_from);
}

/* Pages a sequence lacks to hold n_total positions. */
static int pages_short(const resa_seq *s, int n_total)
{
    const int need = (n_total + s->sparse.block_size - 1) / s->sparse.block_size;
    return need > s->n_pages ? need - s->n_pages : 0;
}

/* Ring pages it lacks for them. */
static int ring_short(const resa_seq *s, int n_total)
{
    const int need = ring_pages_for(s, (n_total + s->sparse.block_size - 1) / s->sparse.block_size);
    return need > s->n_ring ? need - s->n_ring : 0;
}

/* Takes pages until the sequence can hold n_total positions (the caller
 * checked there are enough free). */
static void grow_pages(resa_seq *s, int n_total)
{
    for (int k = pages_short(s, n_total); k > 0; k--) {
        const int hint = s->n_pages ? s->pages[s->n_pages - 1] + 1 : -1;
        s->pages[s->n_pages++] = page_alloc_take(&s->engine->pages, hint);
    }
    for (int k = ring_short(s, n_total); k > 0; k--) {
        const int hint = s->n_ring ? s->ring[s->n_ring - 1] + 1 : -1;
        s->ring[s->n_ring++] = page_alloc_take(&s->engine->ring_pages, hint);
    }
}

/* Whether the free pages of both regions cover what n sequences lack to
 * take n_more[i] more positions each; else RESA_ERR_CONTEXT saying which
 * region is short. */
static resa_status check_free_pages(const resa_engine *e, int n, resa_seq *const *seqs, const int *n_more)
{
    long main = 0, ring = 0;
    for (int i = 0; i < n; i++) {
        main += pages_short(seqs[i], seqs[i]->n_past + n_more[i]);
        ring += ring_short(seqs[i], seqs[i]->n_past + n_more[i]);
    }
    if (main > e->pages.n_free)
        return error_set(RESA_ERR_CONTEXT, "the KV cache is full: the step needs %ld more pages of %d "
                         "positions and %d are free", main, e->params.block_size, e->pages.n_free);
    if (ring > e->ring_pages.n_free)
        return error_set(RESA_ERR_CONTEXT, "the windowed layers' KV rings are full: the step needs %ld more "
                         "ring pages and %d are free (the pool holds rings for n_seq_max = %d sequences)",
                         ring, e->ring_pages.n_free, e->params.n_seq_max);
    return RESA_OK;
}

/* A sparse step at position pos may read fewer blocks than the cache has:
 * blocks_select() picks min(M, max(k, n_local)) of the M blocks. The
 * adaptive budget's count depends on the data, so its floor decides: a step
 * that may skip a block counts as skipping (rectifying a step that read
 * everything rewrites the K/V it already had). */
static int step_skips_blocks(const resa_seq *s, int pos)
{
    const resa_sparse_cfg *c = &s->sparse;
    const int M = pos / c->block_size + 1;
    const int k = c->budget == RESA_BUDGET_ADAPTIVE ? (c->min_blocks < M ? c->min_blocks : M)
                                                     : blocks_budget(M, c->ratio, c->min_blocks);
    const int n_local = c->local_blocks < M ? c->local_blocks : M;
    return (k > n_local ? k : n_local) < M;
}

static resa_status check_input(const resa_engine *e, const resa_seq *s, const int32_t *tokens, int n)
{
    if (!s || s->engine != e)
        return error_set(RESA_ERR_ARG, "a sequence of another engine (or NULL) in a step");
    if (n < 1 || !tokens)
        return error_set(RESA_ERR_ARG, "a step needs at least one token per sequence (got %d)", n);
    if (n > s->n_ctx - s->n_past)
        return error_set(RESA_ERR_CONTEXT,
                         "%d tokens do not fit: the sequence holds %d and %d are already used", n,
                         s->n_ctx, s->n_past);
    const int n_vocab = e->model->hp.n_vocab;
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= n_vocab)
            return error_set(RESA_ERR_ARG, "token id %d at index %d is outside the vocabulary [0, %d)",
                             tokens[i], i, n_vocab);
    return RESA_OK;
}

/* Rectification jobs for the pending steps (none when every pending step
 * attended every block: their K/V are already what dense decoding writes). */
static resa_status add_rect_jobs(job_list *l, resa_seq *s, int rows_max)
{
    if (s->n_pending && !s->pending_sparse)
        s->n_pending = 0;
    const int n = s->n_pending, pos0 = s->n_past - n;
    resa_status st = RESA_OK;
    for (int done = 0; done < n && !st; done += rows_max) {
        const int len = n - done < rows_max ? n - done : rows_max;
        st = add_job(l, (job){ .seq = s, .kind = SEG_RECTIFY, .pos0 = pos0 + done, .n = len,
                               .tokens = s->pending + done, .ends_rect = done + len == n });
    }
    return st;
}

/* The jobs of one sequence's input, in order. */
static resa_status add_input_jobs(job_list *l, resa_seq *s, const int32_t *tokens, int n,
                                  float *all_logits, int n_batch)
{
    const int decode = n == 1 && s->n_past > 0 && !all_logits;
    resa_status st;
    if (s->n_pending && (scheduler_rect_due(s) || !decode) &&
        (st = add_rect_jobs(l, s, s->engine->be->n_rows_max)))
        return st;
    if (decode)
        return add_job(l, (job){ .seq = s, .kind = SEG_DECODE, .pos0 = s->n_past, .n = 1,
                                 .sparse = step_is_sparse(s, s->n_past), .tokens = tokens,
                                 .logits = s->logits });
    const size_t n_vocab = (size_t)s->engine->model->hp.n_vocab;
    for (int done = 0; done < n; done += n_batch) {
        const int len = n - done < n_batch ? n - done : n_batch;
        job j = { .seq = s, .kind = SEG_PROMPT, .pos0 = s->n_past + done, .n = len, .tokens = tokens + done };
        if (all_logits) {
            j.logits = all_logits + (size_t)done * n_vocab;
            j.all_rows = 1;
        } else if (done + len == n) {
            j.logits = s->logits;
        }
        if ((st = add_job(l, j)))
            return st;
    }
    return RESA_OK;
}

/* The state a finished job leaves. */
static void job_done(const job *j)
{
    resa_seq *s = j->seq;
    switch (j->kind) {
    case SEG_PROMPT:
        s->n_past = j->pos0 + j->n;
        break;
    case SEG_DECODE:
        s->n_past = j->pos0 + 1;
        s->timings.steps++;
        if (s->mode == RESA_MODE_RESA || (s->mode == RESA_MODE_AUTO && j->sparse)) {
            s->pending[s->n_pending++] = j->tokens[0];
            s->pending_sparse |= step_skips_blocks(s, j->pos0);
            if (j->sparse && s->rect_policy == RESA_RECT_ERROR && s->step_miss.n) {
                const double miss = s->step_miss.sum / s->step_miss.n;
                s->pending_miss += miss;
                s->timings.miss += miss;
                s->timings.miss_steps++;
            }
        }
        break;
    case SEG_RECTIFY:
        if (j->ends_rect) {
            s->n_pending = 0;
            s->pending_sparse = 0;
            s->pending_miss = 0;
            s->rectifications++;
            s->timings.rectifications++;
        }
        break;
    }
}

/* The first position a row at `pos` reads in a windowed layer. */
static int window_first(const resa_engine *e, int pos)
{
    const int lo = pos - e->model->hp.n_swa + 1;
    return lo > 0 ? lo : 0;
}

/* Moves the rings of the pass's sequences on past what the pass writes,
 * and checks that every row's window is still held then: kv_ring_blocks
 * sized the rings so that it is (docs/design.md §3.3); a failure here is
 * a bug, reported rather than read from overwritten pages. Before the pass
 * runs, so that a pass that fails midway leaves no position counted as
 * held that it may have overwritten. */
static resa_status advance_rings(resa_engine *e, const job *jobs, int a, int b)
{
    const resa_kv_pool *pool = e->be->kv;
    if (!pool->ring_blocks)
        return RESA_OK;
    for (int i = a; i < b; i++)
        jobs[i].seq->ring_lo = kv_ring_lo_after(pool, jobs[i].seq->ring_lo, jobs[i].pos0 + jobs[i].n - 1);
    for (int i = a; i < b; i++)
        if (window_first(e, jobs[i].pos0) < jobs[i].seq->ring_lo)
            return error_set(RESA_ERR_UNSUPPORTED, "internal error: rows at %d read from %d, below the window "
                             "ring's first held position %d", jobs[i].pos0, window_first(e, jobs[i].pos0),
                             jobs[i].seq->ring_lo);
    return RESA_OK;
}

/* Runs jobs [a, b) as one pass. */
static resa_status run_pass(resa_engine *e, const job *jobs, int a, int b)
{
    const size_t n_vocab = (size_t)e->model->hp.n_vocab;
    int rows = 0, n_logits = 0, has_decode = 0;
    for (int i = a; i < b; i++) {
        const job *j = &jobs[i];
        resa_seq *s = j->seq;
        const int wants_miss = j->kind == SEG_DECODE && j->sparse && s->rect_policy == RESA_RECT_ERROR;
        if (wants_miss)
            s->step_miss = (resa_miss){ 0 };
        e->segs[i - a] = (resa_seg){ .kind = j->kind, .kv = seq_kv(s), .row0 = rows, .n = j->n,
                                     .pos0 = j->pos0, .sparse = j->sparse, .cfg = &s->sparse,
                                     .timings = s->timing_on && j->kind == SEG_DECODE ? &s->timings : NULL,
                                     .miss = wants_miss ? &s->step_miss : NULL };
        for (int r = 0; r < j->n; r++) {
            e->tokens[rows + r] = j->tokens[r];
            e->pos[rows + r] = j->pos0 + r;
            if (j->logits && (j->all_rows || r == j->n - 1)) {
                e->logit_rows[n_logits] = rows + r;
                e->logit_dst[n_logits++] = j->all_rows ? j->logits + (size_t)r * n_vocab : j->logits;
            }
        }
        rows += j->n;
        has_decode |= j->kind == SEG_DECODE;
    }
    /* one prompt chunk's every row: straight into the caller's array */
    float *buf = n_logits > 1 && e->logit_dst[n_logits - 1] == e->logit_dst[0] + (n_logits - 1) * n_vocab
                     ? e->logit_dst[0] : NULL;
    resa_status st;
    if (!buf && n_logits) {
        if ((st = resa_grow(&e->logit_buf, &e->logit_buf_cap, (size_t)n_logits * n_vocab, sizeof(float))))
            return st;
        buf = e->logit_buf;
    }
    if ((st = advance_rings(e, jobs, a, b)))
        return st;
    const resa_pass pass = { .segs = e->segs, .n_segs = b - a, .n_rows = rows, .tokens = e->tokens,
                             .pos = e->pos };
    const forward_logits lg = { .rows = e->logit_rows, .dst = e->logit_dst, .n = n_logits, .buf = buf };
    const double t0 = time_now();
    if ((st = forward_pass(e->model, e->be, &pass, &lg)))
        return st;
    /* wall time: a decode step's (rectification rows in it included), or a
     * rectification's own */
    const double dt = time_now() - t0;
    for (int i = a; i < b; i++) {
        resa_seq *s = jobs[i].seq;
        if (jobs[i].kind == SEG_DECODE)
            s->timings.decode_s += dt;
        else if (jobs[i].kind == SEG_RECTIFY && !has_decode && jobs[i].ends_rect)
            s->timings.rectify_s += dt;
        job_done(&jobs[i]);
    }
    return RESA_OK;
}

/* Packs the jobs into passes of at most n_rows_max rows, in order (a
 * sequence's jobs stay in order: within a pass every K/V is written before
 * any segment attends). */
static resa_status run_jobs(resa_engine *e, const job_list *l, resa_progress_fn progress, void *user,
                            int total)
{
    int first = 0, rows = 0, done = 0;
    for (int i = 0; i <= l->n; i++) {
        if (i < l->n && rows + l->v[i].n <= e->be->n_rows_max) {
            rows += l->v[i].n;
            continue;
        }
        if (i > first) {
            resa_status st = run_pass(e, l->v, first, i);
            if (st)
                return st;
            for (int k = first; k < i; k++)
                done += l->v[k].kind == SEG_RECTIFY ? 0 : l->v[k].n;
            if (progress)
                progress(user, done, total);
        }
        first = i;
        rows = i < l->n ? l->v[i].n : 0;
    }
    return RESA_OK;
}

resa_status scheduler_step(resa_engine *e, int n, resa_seq *const *seqs, const int32_t *const *tokens,
                           const int *n_tokens, float *all_logits, resa_progress_fn progress, void *user)
{
    if (n < 1 || !seqs || !tokens || !n_tokens)
        return error_set(RESA_ERR_ARG, "a step needs at least one sequence");
    if (all_logits && n != 1)
        return error_set(RESA_ERR_ARG, "every position's logits: one sequence per step");
    resa_status st;
    for (int i = 0; i < n; i++) {
        if ((st = check_input(e, seqs[i], tokens[i], n_tokens[i])))
            return st;
        for (int k = 0; k < i; k++)
            if (seqs[k] == seqs[i])
                return error_set(RESA_ERR_ARG, "a sequence appears twice in one step");
    }
    if ((st = check_free_pages(e, n, seqs, n_tokens)))
        return st;
    job_list l = {0};
    for (int i = 0; i < n && !st; i++) {
        grow_pages(seqs[i], seqs[i]->n_past + n_tokens[i]);
        st = add_input_jobs(&l, seqs[i], tokens[i], n_tokens[i], all_logits, e->params.n_batch);
    }
    if (!st)
        st = run_jobs(e, &l, progress, user, n == 1 ? n_tokens[0] : 0);
    free(l.v);
    return st;
}

resa_status scheduler_rectify(resa_seq *s)
{
    job_list l = {0};
    resa_status st = add_rect_jobs(&l, s, s->engine->be->n_rows_max);
    if (!st)
        st = run_jobs(s->engine, &l, NULL, NULL, 0);
    free(l.v);
    return st;
}

resa_status scheduler_set_mode(resa_seq *s, resa_mode mode)
{
    if ((unsigned)mode > RESA_MODE_AUTO)
        return error_set(RESA_ERR_ARG, "unknown mode %d", (int)mode);
    if (mode == s->mode)
        return RESA_OK;
    if (mode != RESA_MODE_DENSE && !s->engine->be->kv->kmin)
        return error_set(RESA_ERR_ARG, "a context created in dense mode keeps no block summaries: "
                                       "create it in mode sparse or resa to switch to %s",
                         resa_mode_name(mode));
    if (mode_rectifies(mode) && s->rect_every < 1)
        return error_set(RESA_ERR_ARG, "%s mode needs a rectification period: create the context "
                                       "in resa or auto mode (rect_every >= 1)", resa_mode_name(mode));
    /* the old schedule finishes its period before the new one starts */
    resa_status st = scheduler_rectify(s);
    if (st)
        return st;
    s->mode = mode;
    return RESA_OK;
}

resa_status scheduler_truncate(resa_seq *s, int n)
{
    if (n < 0 || n > s->n_past)
        return error_set(RESA_ERR_ARG, "cannot keep %d positions: %d are cached", n, s->n_past);
    /* pending steps are the positions [n_past - n_pending, n_past), in order */
    const int first_pending = s->n_past - s->n_pending;
    /* the next rows (the kept pending steps' rectification, or a step at n)
     * read windows from here on: a ring must still hold them (docs/design.md §3.3) */
    const int first_read = window_first(s->engine, n < first_pending ? n : first_pending);
    if (n > 0 && s->engine->be->kv->ring_blocks && first_read < s->ring_lo)
        return error_set(RESA_ERR_UNSUPPORTED, "cannot truncate to %d positions: the windowed layers keep only "
                         "their window and hold positions %d on, not %d (swa_full keeps them all)", n,
                         s->ring_lo, first_read);
    if (n == 0)
        s->ring_lo = 0;
    s->n_pending = n > first_pending ? n - first_pending : 0;
    if (s->n_pending == 0) {
        s->pending_sparse = 0; /* else kept: a step we keep may have skipped blocks */
        s->pending_miss = 0;   /* else kept whole: an overestimate, so never a late rectification */
    }
    s->n_past = n;
    const int b = s->sparse.block_size;
    release_pages(s, (n + b - 1) / b);
    /* Entries at positions >= n are dead: the next write overwrites them, and
     * the first key of a page resets its summary. Only the block holding n-1
     * may still be widened by a forgotten key: rebuild it from [0, n). */
    if (n > 0 && n % b) {
        const resa_kv_cache kv = seq_kv(s);
        return s->engine->be->kv_refresh(s->engine->be, &kv, n - 1, 1, n);
    }
    return RESA_OK;
}

resa_status scheduler_fill_repeat(resa_seq *s, int n_total)
{
    if (s->n_past < 1 || n_total > s->n_ctx || n_total < s->n_past)
        return error_set(RESA_ERR_ARG, "cannot fill %d of %d positions from %d cached", n_total,
                         s->n_ctx, s->n_past);
    if (s->n_pending)
        return error_set(RESA_ERR_ARG, "rectify before filling the cache");
    const int n_more = n_total - s->n_past;
    resa_seq *const seqs[1] = { s };
    if (check_free_pages(s->engine, 1, seqs, &n_more))
        return error_set(RESA_ERR_CONTEXT, "the KV cache is full: %d positions do not fit", n_total);
    grow_pages(s, n_total);
    const resa_kv_cache kv = seq_kv(s);
    resa_status st = s->engine->be->kv_fill_repeat(s->engine->be, &kv, s->n_past, n_total);
    if (!st) {
        s->ring_lo = kv_ring_lo_after(s->engine->be->kv, s->ring_lo, n_total - 1);
        s->n_past = n_total;
    }
    return st;
}
