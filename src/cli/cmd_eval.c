/* SPDX-License-Identifier: MIT */
/* resa eval: how far the sparse modes drift from dense decoding, on real
 * text (docs/design.md §6): the paper's language-modeling protocol (eval_lm.c)
 * and passkey retrieval (eval_passkey.c). This file parses, checks, loads
 * the text and prints the tables. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"
#include "eval.h"
#include "json.h"
#include "resa.h"

static const char help[] =
    "usage: resa eval [-m MODEL] --text FILE [FILE...] [--lm] [--passkey] [OPTIONS]\n"
    "Measures how far the sparse modes drift from dense decoding on real text.\n"
    "Tasks (default: --lm only):\n"
    "      --lm            language modeling, the paper's protocol: in each window of L\n"
    "                      tokens, the first L-x tokens are a dense prefill and the last x\n"
    "                      are fed one decode step at a time through the mode (teacher-\n"
    "                      forced; resa rectifies every F steps); the logits of the last 32\n"
    "                      positions give top-1/top-3 next-token accuracy, mean -log p of\n"
    "                      the next token and mean KL(dense || mode). Dense always runs:\n"
    "                      it is the reference\n"
    "      --passkey       passkey retrieval: \"The pass key is NNNNN. Remember it. NNNNN is\n"
    "                      the pass key.\" at a random depth in a haystack of the text, then\n"
    "                      \"What is the pass key? The pass key is\"; the prompt is a dense\n"
    "                      prefill except its last T tokens, which, like the greedy answer,\n"
    "                      go through the mode; success when the 5 digits are in the answer\n"
    "  -m, --model FILE    the model (default: $RESA_MODEL, else the fetched default model)\n"
    "      --text FILE...  the text: one or more files, joined by blank lines\n"
    "      --modes LIST    modes among dense, sparse, resa, auto (default dense,sparse,resa;\n"
    "                      --mode is the same)\n"
    "Language modeling:\n"
    "      --length L      window length in tokens, at most the model's trained context\n"
    "                      (default 4096)\n"
    "      --x LIST        tokens through the mode, each in [32, L-32] (default 256,1024,2048)\n"
    "      --windows N     windows, spread evenly over the text (default 4)\n"
    "Passkey retrieval:\n"
    "      --lengths LIST  prompt + answer tokens, K = 1024 (default 1K,2K,4K,8K)\n"
    "      --trials N      trials per length (default 20)\n"
    "      --passkey-tail T  last prompt tokens fed through the mode (default 64)\n"
    "      --answer-tokens N  greedy answer tokens (default 8)\n"
    "      --seed S        seed of keys, depths and haystack offsets (default 1)\n"
    "  -v, --verbose       print every passkey answer on stderr\n"
    "Engine:\n"
    ENGINE_OPTIONS_HELP
    "      --json          print one JSON object instead of tables\n";

static int parse_modes(eval_opts *o, const char *s)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", s);
    o->n_modes = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        const int m = resa_mode_parse(tok);
        int dup = 0;
        for (int i = 0; i < o->n_modes; i++)
            dup |= o->modes[i] == (resa_mode)m;
        if (m < 0 || dup || o->n_modes == 4)
            return cli_error("eval: --modes wants a list of dense, sparse, resa, auto (each once), got '%s'",
                             s), -1;
        o->modes[o->n_modes++] = (resa_mode)m;
    }
    return o->n_modes ? 0 : (cli_error("eval: --modes is empty"), -1);
}

/* Comma-separated positive integers, each optionally with K (x1024), no
 * repeats, sorted (descending when desc). Returns the count or -1. */
static int parse_list(const char *s, int *out, const char *what, int desc)
{
    int n = 0;
    for (const char *p = s; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end != p && (*end == 'K' || *end == 'k')) {
            v *= 1024;
            end++;
        }
        int dup = 0;
        for (int i = 0; i < n; i++)
            dup |= out[i] == v;
        if (end == p || v < 1 || v > (1 << 24) || (*end && *end != ',') || n == EVAL_MAX_LIST ||
            dup) {
            cli_error("eval: --%s wants up to %d different positive integers separated by commas, "
                      "got '%s'", what, EVAL_MAX_LIST, s);
            return -1;
        }
        out[n++] = (int)v;
        p = *end ? end + 1 : end;
    }
    for (int i = 1; i < n; i++) /* insertion sort: a handful of entries */
        for (int j = i; j > 0 && (desc ? out[j] > out[j - 1] : out[j] < out[j - 1]); j--) {
            const int t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    if (n == 0)
        cli_error("eval: --%s is empty", what);
    return n ? n : -1;
}

static void set_defaults(eval_opts *o)
{
    resa_params_default(&o->params);
    o->modes[0] = RESA_MODE_DENSE;
    o->modes[1] = RESA_MODE_SPARSE;
    o->modes[2] = RESA_MODE_RESA;
    o->n_modes = 3;
    o->length = 4096;
    static const int xs[] = { 2048, 1024, 256 }, lengths[] = { 1024, 2048, 4096, 8192 };
    memcpy(o->xs, xs, sizeof xs);
    o->n_xs = 3;
    o->windows = 4;
    memcpy(o->lengths, lengths, sizeof lengths);
    o->n_lengths = 4;
    o->trials = 20;
    o->tail = 64;
    o->answer_tokens = 8;
    o->seed = 1;
}

/* --text FILE [FILE...]: the files up to the next option. */
static int parse_text(args *a, eval_opts *o)
{
    const char *f;
    if (args_str(a, &f))
        return -1;
    o->files[o->n_files++] = f;
    while (a->i + 1 < a->argc && a->argv[a->i + 1][0] != '-')
        o->files[o->n_files++] = a->argv[++a->i];
    return 0;
}

static int parse_one(args *a, eval_opts *o)
{
    const char *s;
    if (args_is(a, "-m", "--model"))
        return args_str(a, &o->model);
    if (args_is(a, NULL, "--text"))
        return parse_text(a, o);
    if (args_is(a, NULL, "--modes") || args_is(a, NULL, "--mode"))
        return args_str(a, &s) || parse_modes(o, s) ? -1 : 0;
    if (args_is(a, NULL, "--lm")) {
        o->lm = 1;
        return 0;
    }
    if (args_is(a, NULL, "--passkey")) {
        o->passkey = 1;
        return 0;
    }
    if (args_is(a, NULL, "--length"))
        return args_int(a, 2 * EVAL_LM_POSITIONS, 1 << 24, &o->length);
    if (args_is(a, NULL, "--x"))
        return args_str(a, &s) || (o->n_xs = parse_list(s, o->xs, "x", 1)) < 0 ? -1 : 0;
    if (args_is(a, NULL, "--windows"))
        return args_int(a, 1, 1 << 20, &o->windows);
    if (args_is(a, NULL, "--lengths"))
        return args_str(a, &s) || (o->n_lengths = parse_list(s, o->lengths, "lengths", 0)) < 0 ? -1 : 0;
    if (args_is(a, NULL, "--trials"))
        return args_int(a, 1, 1 << 20, &o->trials);
    if (args_is(a, NULL, "--passkey-tail"))
        return args_int(a, 1, 1 << 20, &o->tail);
    if (args_is(a, NULL, "--answer-tokens"))
        return args_int(a, 1, 64, &o->answer_tokens);
    if (args_is(a, NULL, "--seed"))
        return args_u64(a, &o->seed);
    if (args_is(a, "-v", "--verbose")) {
        o->verbose = 1;
        return 0;
    }
    if (args_is(a, NULL, "--json")) {
        o->json = 1;
        return 0;
    }
    const int r = args_engine_option(a, &o->params, &o->rect_given);
    if (r == 0)
        cli_error("eval: unknown argument '%s' (see 'resa eval --help')", a->opt);
    return r == 1 ? 0 : -1;
}

/* Checks that need no model. */
static int check_opts(eval_opts *o)
{
    if (o->n_files == 0)
        return cli_error("eval: give the text to evaluate on with --text FILE..."), -1;
    if (!o->lm && !o->passkey)
        o->lm = 1;
    for (int i = 0; o->lm && i < o->n_xs; i++)
        if (o->xs[i] < EVAL_LM_POSITIONS || o->xs[i] > o->length - EVAL_LM_POSITIONS)
            return cli_error("eval: --x %d is outside [%d, %d]: the last %d of --length %d tokens "
                             "are scored, and the dense prefix needs as many",
                             o->xs[i], EVAL_LM_POSITIONS, o->length - EVAL_LM_POSITIONS,
                             EVAL_LM_POSITIONS, o->length), -1;
    if (o->passkey && o->lengths[0] - o->answer_tokens <= o->tail)
        return cli_error("eval: passkey length %d minus %d answer tokens leaves nothing before "
                         "the %d-token tail (--passkey-tail)", o->lengths[0], o->answer_tokens,
                         o->tail), -1;
    /* --rect-every is for the resa rows; sparse rows never rectify */
    int has_resa = 0;
    for (int i = 0; i < o->n_modes; i++)
        has_resa |= o->modes[i] == RESA_MODE_RESA || o->modes[i] == RESA_MODE_AUTO;
    if (o->rect_given && o->params.rect_every > 0 && !has_resa)
        return cli_error("eval: --rect-every is for resa rows, and dense and sparse never rectify: "
                         "add resa to --modes"), -1;
    for (int i = 0; i < o->n_modes; i++) {
        resa_params p = o->params;
        p.mode = o->modes[i];
        if (args_check_schedule("eval", &p, o->rect_given && p.mode != RESA_MODE_SPARSE))
            return -1;
    }
    return 0;
}

static int parse(eval_opts *o, int argc, char **argv)
{
    args a;
    args_init(&a, "eval", argc, argv);
    set_defaults(o);
    while (args_next(&a)) {
        if (args_is(&a, "-h", "--help")) {
            fputs(help, stdout);
            exit(0);
        }
        if (parse_one(&a, o))
            return -1;
    }
    return check_opts(o);
}

static int progress_on = -1;

void eval_progress(const char *fmt, ...)
{
    if (progress_on < 0)
        progress_on = isatty(2);
    if (!progress_on)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("\r\033[Kresa: eval: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
}

void eval_progress_done(void)
{
    if (progress_on > 0)
        fputs("\r\033[K", stderr);
}

int32_t eval_argmax(const float *logits, int n)
{
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (logits[i] > logits[best])
            best = i;
    return best;
}

/* Every file tokenized, joined by the tokens of a blank line. */
static int load_text(const resa_model *m, const eval_opts *o, eval_text *t)
{
    int32_t sep[8];
    const int n_sep = resa_tokenize(m, "\n\n", 2, 0, 0, sep, 8);
    for (int i = 0; i < o->n_files; i++) {
        size_t len;
        char *text = read_file(o->files[i], &len);
        if (!text)
            return 1;
        if (len == 0) {
            free(text);
            return cli_error("eval: %s is empty", o->files[i]);
        }
        /* byte-level BPE: at most one token per byte */
        int32_t *p = len < (1u << 30) ? realloc(t->ids, ((size_t)t->n + len + n_sep) * sizeof *p) : NULL;
        if (!p) {
            free(text);
            return cli_error("eval: %s: too large", o->files[i]);
        }
        t->ids = p;
        if (t->n) {
            memcpy(t->ids + t->n, sep, (size_t)n_sep * sizeof *sep);
            t->n += n_sep;
        }
        const int k = resa_tokenize(m, text, len, 0, 0, t->ids + t->n, (int)len);
        free(text);
        if (k < 0 || k > (int)len)
            return cli_error("eval: %s: %s", o->files[i],
                             k < 0 ? resa_last_error() : "more tokens than bytes");
        t->n += k;
    }
    if (o->lm && t->n < o->length + 1)
        return cli_error("eval: the text has %d tokens; a window of --length %d needs %d",
                         t->n, o->length, o->length + 1);
    return 0;
}

/* The context is created in the mode with the most state (summaries for
 * sparse, a rectification period for resa) and switched per row. */
static int new_context(const resa_model *m, const eval_opts *o, resa_context **ctx)
{
    resa_params p = o->params;
    p.mode = RESA_MODE_DENSE;
    for (int i = 0; i < o->n_modes; i++)
        if (o->modes[i] == RESA_MODE_RESA || o->modes[i] == RESA_MODE_AUTO)
            p.mode = RESA_MODE_RESA; /* auto keeps resa's state */
        else if (o->modes[i] == RESA_MODE_SPARSE && p.mode == RESA_MODE_DENSE)
            p.mode = o->modes[i];
    args_check_schedule("eval", &p, 0); /* checked in parse(); sets sparse's period to 0 */
    p.n_ctx = o->lm ? o->length : 0;
    if (o->passkey && o->lengths[o->n_lengths - 1] > p.n_ctx)
        p.n_ctx = o->lengths[o->n_lengths - 1];
    /* every row is cut back to its prefix, further than a sliding-window
     * layer's ring may reach (docs/design.md §3.3) */
    p.swa_full = 1;
    if (resa_context_new(m, &p, ctx))
        return cli_error("eval: %s", resa_last_error());
    return 0;
}

/* Checks that need the model: lengths within its trained context. */
static int check_lengths(const eval_opts *o, int n_train)
{
    if (o->lm && o->length > n_train)
        return cli_error("eval: --length %d is past the model's trained context %d", o->length,
                         n_train);
    if (o->passkey && o->lengths[o->n_lengths - 1] > n_train)
        return cli_error("eval: --lengths %d is past the model's trained context %d",
                         o->lengths[o->n_lengths - 1], n_train);
    return 0;
}

static void print_params_json(const eval_opts *o)
{
    const resa_params *p = &o->params;
    printf("\"params\": {\"block_size\": %d, \"sparse_ratio\": %g, \"min_blocks\": %d, "
           "\"local_blocks\": %d, \"rect_every\": %d}", p->block_size, p->sparse_ratio,
           p->min_blocks, p->local_blocks, p->rect_every);
}

static void print_lm(const eval_opts *o, const lm_row *rows, int n_rm)
{
    if (o->json) {
        printf(", \"lm\": {\"length\": %d, \"windows\": %d, \"scored_per_window\": %d, \"rows\": [",
               o->length, o->windows, EVAL_LM_POSITIONS);
        for (int i = 0; i < o->n_xs * n_rm; i++) {
            const lm_row *r = &rows[i];
            printf("%s{\"mode\": \"%s\", \"x\": %d, \"positions\": %d, \"top1\": %.6f, "
                   "\"top3\": %.6f, \"kl\": %.9g, \"nll\": %.9g, \"rectifications\": %d}",
                   i ? ",\n    " : "\n    ", resa_mode_name(r->mode), r->x, r->positions,
                   (double)r->top1 / r->positions, (double)r->top3 / r->positions,
                   r->kl / r->positions, r->nll / r->positions, r->rectifications);
        }
        printf("]}");
        return;
    }
    printf("Language modeling: %d window%s of %d tokens; the last x through the mode, the last "
           "%d scored\n", o->windows, o->windows > 1 ? "s" : "", o->length, EVAL_LM_POSITIONS);
    printf("%-7s %6s %7s %7s %12s %8s %6s\n", "mode", "x", "top-1%", "top-3%", "KL(dense||.)",
           "-log p", "rect");
    for (int xi = o->n_xs - 1; xi >= 0; xi--) /* ascending x */
        for (int mi = 0; mi < n_rm; mi++) {
            const lm_row *r = &rows[xi * n_rm + mi];
            printf("%-7s %6d %7.2f %7.2f %12.6f %8.4f %6d\n", resa_mode_name(r->mode), r->x,
                   100.0 * r->top1 / r->positions, 100.0 * r->top3 / r->positions,
                   r->kl / r->positions, r->nll / r->positions, r->rectifications);
        }
}

static void print_passkey(const eval_opts *o, const passkey_row *rows, int after_lm)
{
    const int n = o->n_lengths * o->n_modes;
    if (o->json) {
        printf(", \"passkey\": {\"trials\": %d, \"tail\": %d, \"answer_tokens\": %d, \"seed\": %llu, "
               "\"rows\": [", o->trials, o->tail, o->answer_tokens,
               (unsigned long long)o->seed);
        for (int i = 0; i < n; i++)
            printf("%s{\"mode\": \"%s\", \"length\": %d, \"trials\": %d, \"correct\": %d, "
                   "\"accuracy\": %.6f, \"rectifications\": %d}", i ? ",\n    " : "\n    ",
                   resa_mode_name(rows[i].mode), rows[i].length, rows[i].trials, rows[i].correct,
                   (double)rows[i].correct / rows[i].trials, rows[i].rectifications);
        printf("]}");
        return;
    }
    printf("%sPasskey retrieval: accuracy %% over %d trials per length; the last %d prompt "
           "tokens and the answer through the mode\n%-7s", after_lm ? "\n" : "", o->trials, o->tail,
           "mode");
    for (int li = 0; li < o->n_lengths; li++)
        printf(" %7d", o->lengths[li]);
    printf("\n");
    for (int mi = 0; mi < o->n_modes; mi++) {
        printf("%-7s", resa_mode_name(o->modes[mi]));
        for (int li = 0; li < o->n_lengths; li++) {
            const passkey_row *r = &rows[li * o->n_modes + mi];
            printf(" %7.1f", 100.0 * r->correct / r->trials);
        }
        printf("\n");
    }
}

/* Runs the tasks and prints their results. */
static int run(const resa_model *m, resa_context *ctx, const eval_opts *o, const eval_text *t)
{
    resa_mode lm_modes[4];
    const int n_rm = eval_lm_modes(o, lm_modes);
    lm_row *lm = calloc((size_t)o->n_xs * n_rm, sizeof *lm);
    passkey_row *pk = calloc((size_t)o->n_lengths * o->n_modes, sizeof *pk);
    int rc = !lm || !pk ? cli_error("eval: out of memory") : 0;
    const double t0 = time_now();
    if (!rc && o->lm)
        rc = eval_lm(m, ctx, o, t, lm);
    if (!rc && o->passkey)
        rc = eval_passkey(m, ctx, o, t, pk);
    if (!rc) {
        if (o->json) {
            printf("{\"model\": ");
            json_write_string(stdout, o->model, strlen(o->model));
            printf(", \"text_tokens\": %d, ", t->n);
            print_params_json(o);
        }
        if (o->lm)
            print_lm(o, lm, n_rm);
        if (o->passkey)
            print_passkey(o, pk, o->lm);
        if (o->json)
            printf(", \"elapsed_s\": %.3f}\n", time_now() - t0);
        fprintf(stderr, "resa: eval: %d text tokens, done in %.1f s\n", t->n, time_now() - t0);
    }
    free(lm);
    free(pk);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    eval_opts o = { 0 };
    o.files = calloc((size_t)argc, sizeof *o.files);
    if (!o.files)
        return cli_error("eval: out of memory");
    if (parse(&o, argc, argv)) {
        free(o.files);
        return 2;
    }
    if (!o.model && !(o.model = default_model_path())) {
        free(o.files);
        return no_model_error("eval");
    }
    resa_model *m;
    if (resa_model_load(o.model, &m)) {
        free(o.files);
        return cli_error("%s", resa_last_error());
    }
    eval_text t = { 0 };
    resa_context *ctx = NULL;
    int rc = check_lengths(&o, resa_model_get_info(m)->n_ctx_train) ? 2 : 0;
    if (!rc)
        rc = load_text(m, &o, &t) || new_context(m, &o, &ctx) || run(m, ctx, &o, &t);
    resa_context_free(ctx);
    free(t.ids);
    resa_model_free(m);
    free(o.files);
    return rc;
}
