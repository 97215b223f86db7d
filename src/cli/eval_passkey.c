/* SPDX-License-Identifier: MIT */
/* resa eval, passkey retrieval (docs/design.md §6).
 *
 * A prompt of real text (the haystack) holds a needle, "The pass key is NNNNN.
 * Remember it. NNNNN is the pass key.", at a random depth, and ends with a
 * question; the model answers greedily, and a trial succeeds when the five
 * digits appear in the answer. Prompt and answer together are `length`
 * tokens.
 *
 * What is dense and what goes through the mode: the prompt up to its last
 * `tail` tokens is a dense prefill; those last tokens (the end of the
 * haystack and the question) are teacher-forced one decode step at a time
 * through the mode, and so is every answer token. So sparse steps read the
 * needle's blocks only if selection finds them, and in resa mode a tail
 * longer than the rectification period gets rectified before the answer.
 * Every mode answers the same prompts, from one shared prefill per trial. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "eval.h"

static const char intro[] =
    "There is an important piece of information hidden inside a lot of irrelevant text. "
    "Find it and remember it: you will be asked about it.\n\n";
static const char question[] = "\n\nWhat is the pass key? The pass key is";

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n), n >= 1 (the modulo bias is negligible for n << 2^64). */
static uint64_t rnd_below(uint64_t *s, uint64_t n) { return splitmix64(s) % n; }

/* Appends the tokens of text to ids at *n (room is checked by the caller's sizing). */
static int put_text(const resa_model *m, const char *text, int32_t *ids, int *n, int cap)
{
    const int k = resa_tokenize(m, text, strlen(text), 0, 0, ids + *n, cap - *n);
    if (k < 0 || k > cap - *n)
        return -1;
    *n += k;
    return 0;
}

/* Token count of a text (for sizing the haystack). */
static int count_tokens(const resa_model *m, const char *text)
{
    return resa_tokenize(m, text, strlen(text), 0, 0, NULL, 0);
}

typedef struct trial {
    int32_t *ids;    /* the prompt */
    int n;           /* its length */
    char key[8];     /* the five digits */
    double depth;    /* where the needle went, as a fraction of the haystack */
} trial;

/* Builds one trial's prompt of n_prompt tokens; the haystack is a contiguous
 * stretch of the text from a random offset. */
static int build_prompt(const resa_model *m, const eval_text *t, int n_prompt, uint64_t *rng,
                        trial *tr)
{
    const resa_model_info *info = resa_model_get_info(m);
    char needle[96];
    snprintf(tr->key, sizeof tr->key, "%05d", 10000 + (int)rnd_below(rng, 90000));
    snprintf(needle, sizeof needle, "\nThe pass key is %s. Remember it. %s is the pass key.\n",
             tr->key, tr->key);
    const int bos = info->add_bos && info->bos_id >= 0;
    const int hay = n_prompt - bos - count_tokens(m, intro) - count_tokens(m, needle) -
                    count_tokens(m, question);
    if (hay < 1)
        return cli_error("eval: a passkey prompt of %d tokens leaves no room for a haystack",
                         n_prompt);
    if (hay > t->n)
        return cli_error("eval: the text has %d tokens, a passkey prompt of %d tokens needs %d "
                         "for its haystack (give more --text)", t->n, n_prompt, hay);
    const int32_t *h = t->ids + rnd_below(rng, (uint64_t)(t->n - hay) + 1);
    int at = (int)rnd_below(rng, (uint64_t)hay + 1);
    tr->depth = (double)at / hay;
    /* start the needle on a new line when one begins within a few tokens */
    for (int k = 0; k < 64 && at + k <= hay; k++) {
        size_t len;
        const char *s = at + k > 0 ? resa_token_text(m, h[at + k - 1], &len) : "\n";
        if (at + k == 0 || (len && s[len - 1] == '\n')) {
            at += k;
            break;
        }
    }
    tr->n = 0;
    if (bos)
        tr->ids[tr->n++] = info->bos_id;
    if (put_text(m, intro, tr->ids, &tr->n, n_prompt))
        return cli_error("eval: cannot tokenize the passkey prompt");
    memcpy(tr->ids + tr->n, h, (size_t)at * sizeof *h);
    tr->n += at;
    if (put_text(m, needle, tr->ids, &tr->n, n_prompt))
        return cli_error("eval: cannot tokenize the passkey prompt");
    memcpy(tr->ids + tr->n, h + at, (size_t)(hay - at) * sizeof *h);
    tr->n += hay - at;
    if (put_text(m, question, tr->ids, &tr->n, n_prompt) || tr->n != n_prompt)
        return cli_error("eval: the passkey prompt came out %d tokens, not %d", tr->n, n_prompt);
    return 0;
}

/* The tail and the answer through `mode`, from the shared prefill; then back
 * to it. *ok: the key appears in the answer. */
static int answer(const resa_model *m, resa_context *ctx, const eval_opts *o, const trial *tr,
                  passkey_row *row, int *ok)
{
    const int n_prefix = tr->n - o->tail, n_vocab = resa_model_get_info(m)->n_vocab;
    if (resa_context_set_mode(ctx, row->mode))
        return cli_error("eval: %s", resa_last_error());
    const int rect0 = resa_context_rectifications(ctx);
    for (int i = n_prefix; i < tr->n; i++)
        if (resa_decode(ctx, &tr->ids[i], 1, NULL, NULL))
            return cli_error("eval: %s", resa_last_error());
    char text[256];
    size_t used = 0;
    for (int a = 0; a < o->answer_tokens; a++) {
        int32_t tok = eval_argmax(resa_logits(ctx), n_vocab);
        if (resa_token_is_eog(m, tok))
            break;
        size_t len;
        const char *piece = resa_token_text(m, tok, &len);
        if (used + len < sizeof text) {
            memcpy(text + used, piece, len);
            used += len;
        }
        if (a + 1 < o->answer_tokens && resa_decode(ctx, &tok, 1, NULL, NULL))
            return cli_error("eval: %s", resa_last_error());
    }
    text[used] = '\0';
    *ok = strstr(text, tr->key) != NULL;
    if (o->verbose) {
        eval_progress_done();
        fprintf(stderr, "resa: eval: passkey %-6s length %d depth %.2f key %s: %s \"%s\"\n",
                resa_mode_name(row->mode), row->length, tr->depth, tr->key, *ok ? "found" : "MISSED",
                text);
    }
    row->rectifications += resa_context_rectifications(ctx) - rect0;
    if (resa_context_truncate(ctx, n_prefix))
        return cli_error("eval: %s", resa_last_error());
    return 0;
}

int eval_passkey(const resa_model *m, resa_context *ctx, const eval_opts *o, const eval_text *t,
                 passkey_row *rows)
{
    trial tr = { 0 };
    tr.ids = malloc((size_t)o->lengths[o->n_lengths - 1] * sizeof *tr.ids);
    if (!tr.ids)
        return cli_error("eval: out of memory");
    int rc = 0;
    for (int li = 0; li < o->n_lengths && !rc; li++) {
        passkey_row *r = rows + (size_t)li * o->n_modes;
        for (int mi = 0; mi < o->n_modes; mi++)
            r[mi] = (passkey_row){ .mode = o->modes[mi], .length = o->lengths[li] };
        for (int k = 0; k < o->trials && !rc; k++) {
            /* each cell's trials depend only on the seed, the length and k */
            uint64_t rng = o->seed ^ ((uint64_t)o->lengths[li] << 32) ^ (uint64_t)k * 0x2545F4914F6CDD1Dull;
            splitmix64(&rng);
            eval_progress("passkey: length %d, trial %d/%d", o->lengths[li], k + 1, o->trials);
            if ((rc = build_prompt(m, t, o->lengths[li] - o->answer_tokens, &rng, &tr)))
                break;
            resa_context_reset(ctx);
            if (resa_context_set_mode(ctx, RESA_MODE_DENSE) ||
                resa_decode(ctx, tr.ids, tr.n - o->tail, NULL, NULL)) {
                rc = cli_error("eval: %s", resa_last_error());
                break;
            }
            for (int mi = 0; mi < o->n_modes && !rc; mi++) {
                int ok = 0;
                rc = answer(m, ctx, o, &tr, &r[mi], &ok);
                r[mi].trials++;
                r[mi].correct += ok;
            }
        }
    }
    eval_progress_done();
    free(tr.ids);
    return rc;
}
