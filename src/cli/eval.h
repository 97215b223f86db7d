/* SPDX-License-Identifier: MIT */
/* resa eval: the quality protocols of docs/design.md §6 over the public API.
 * cmd_eval.c parses, loads and prints; eval_lm.c runs the language-modeling
 * protocol, eval_passkey.c the passkey retrieval. */
#ifndef RESA_CLI_EVAL_H
#define RESA_CLI_EVAL_H

#include <stdint.h>

#include "resa.h"

/* The command (main.c). */
int cmd_eval(int argc, char **argv);

#define EVAL_MAX_LIST 16
/* The LM protocol scores the logits of the last EVAL_LM_POSITIONS positions. */
#define EVAL_LM_POSITIONS 32

typedef struct eval_opts {
    const char *model;
    const char **files;
    int n_files;
    resa_mode modes[4];          /* as listed, no repeats */
    int n_modes;
    int lm, passkey;             /* the tasks to run */
    int length;                  /* LM: window L */
    int xs[EVAL_MAX_LIST];       /* LM: tokens through the mode, descending */
    int n_xs, windows;
    int lengths[EVAL_MAX_LIST];  /* passkey: total tokens (prompt + answer), ascending */
    int n_lengths, trials, answer_tokens, tail;
    uint64_t seed;
    int json, verbose, rect_given;
    resa_params params;
} eval_opts;

/* The text to evaluate on, tokenized once. */
typedef struct eval_text {
    int32_t *ids;
    int n;
} eval_text;

typedef struct lm_row {
    resa_mode mode;
    int x, positions;            /* positions scored (windows * EVAL_LM_POSITIONS) */
    int top1, top3;              /* positions whose next token was ranked 1st / in the top 3 */
    int rectifications;
    double kl, nll;              /* sums over the positions of KL(dense || mode) and -log p */
} lm_row;

typedef struct passkey_row {
    resa_mode mode;
    int length, trials, correct, rectifications;
} passkey_row;

/* Which modes the LM protocol runs: dense first (the reference), then the
 * others of o->modes in order. Returns their count. */
int eval_lm_modes(const eval_opts *o, resa_mode *modes);
/* rows: n_xs * eval_lm_modes() entries, x-major in o->xs order. Returns 0
 * or 1 after printing an error. */
int eval_lm(const resa_model *m, resa_context *ctx, const eval_opts *o, const eval_text *t,
            lm_row *rows);
/* rows: n_lengths * n_modes entries, length-major. */
int eval_passkey(const resa_model *m, resa_context *ctx, const eval_opts *o, const eval_text *t,
                 passkey_row *rows);

/* Shared helpers (cmd_eval.c). */
/* One line of progress on stderr, redrawn in place; nothing unless stderr is a terminal. */
void eval_progress(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
void eval_progress_done(void);
/* The token with the highest logit (the lowest id among ties, as greedy sampling). */
int32_t eval_argmax(const float *logits, int n);

#endif
