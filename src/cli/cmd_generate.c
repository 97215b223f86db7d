/* SPDX-License-Identifier: MIT */
/* resa generate: prefill a prompt, then sample tokens one at a time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"
#include "interrupt.h"
#include "json.h"
#include "resa.h"

static const char help[] =
    "usage: resa generate [-m MODEL] (-p TEXT | -f FILE) [OPTIONS]\n"
    "Generates text from a prompt; streams it to stdout, timings to stderr.\n"
    "  -m, --model FILE    the model (default: $RESA_MODEL, else the fetched default model)\n"
    "  -p, --prompt TEXT   the prompt\n"
    "  -f, --file FILE     read the prompt from FILE ('-' for standard input)\n"
    "  -n, --n-predict N   tokens to generate (default 128); stops early at end of turn\n"
    "      --chat          wrap the prompt as a user turn of the model's chat template\n"
    "      --chat-template NAME  chatml, llama3, gemma or mistral instead of the model's\n"
    "      --system TEXT   system message for --chat\n"
    "      --special       parse special tokens such as <|im_start|> written in the prompt\n"
    "                      (and in --chat messages); off by default, so text cannot forge them\n"
    MAX_PROMPT_HELP
    "      --temp T        temperature, 0 = greedy (default 0.8)\n"
    "      --top-k K       keep the K most likely tokens, 0 = all (default 40)\n"
    "      --top-p P       keep the smallest set with probability P (default 0.95)\n"
    "      --seed S        random seed (default: from the clock, printed in the summary)\n"
    "  -c, --ctx-size N    context size in tokens (default: the model's trained context)\n"
    "      --mode M        decode attention: auto (default: dense below --sparse-from,\n"
    "                      resa from there on), resa, sparse or dense\n"
    ENGINE_OPTIONS_HELP
    "      --json          print one JSON object instead of streaming text\n";

typedef struct gen_opts {
    const char *model, *prompt, *file, *system, *chat_template;
    int n_predict, chat, json, special;
    long max_prompt_bytes;
    resa_params params;
    resa_sampler_params sp;
    int seed_given, rect_given;
} gen_opts;

static int parse(gen_opts *o, int argc, char **argv)
{
    args a;
    args_init(&a, "generate", argc, argv);
    resa_params_default(&o->params);
    resa_sampler_default(&o->sp);
    o->n_predict = 128;
    o->max_prompt_bytes = DEFAULT_MAX_PROMPT_BYTES;
    while (args_next(&a)) {
        int bad = 0;
        if (args_is(&a, "-h", "--help")) {
            fputs(help, stdout);
            exit(0);
        } else if (args_is(&a, "-m", "--model")) bad = args_str(&a, &o->model);
        else if (args_is(&a, "-p", "--prompt")) bad = args_str(&a, &o->prompt);
        else if (args_is(&a, "-f", "--file")) bad = args_str(&a, &o->file);
        else if (args_is(&a, NULL, "--system")) bad = args_str(&a, &o->system);
        else if (args_is(&a, "-n", "--n-predict")) bad = args_int(&a, 0, 1 << 30, &o->n_predict);
        else if (args_is(&a, NULL, "--chat")) o->chat = 1;
        else if (args_is(&a, NULL, "--special")) o->special = 1;
        else if (args_is(&a, NULL, "--max-prompt-bytes")) {
            int v;
            bad = args_int(&a, 1, MAX_PROMPT_BYTES_LIMIT, &v);
            o->max_prompt_bytes = v;
        }
        else if (args_is(&a, NULL, "--chat-template")) bad = args_str(&a, &o->chat_template);
        else if (args_is(&a, NULL, "--json")) o->json = 1;
        else if (args_is(&a, NULL, "--temp")) bad = args_float(&a, 0, 100, &o->sp.temp);
        else if (args_is(&a, NULL, "--top-k")) bad = args_int(&a, 0, 1 << 30, &o->sp.top_k);
        else if (args_is(&a, NULL, "--top-p")) bad = args_float(&a, 1e-6, 1, &o->sp.top_p);
        else if (args_is(&a, NULL, "--seed")) {
            bad = args_u64(&a, &o->sp.seed);
            o->seed_given = 1;
        } else if (args_is(&a, "-c", "--ctx-size")) bad = args_int(&a, 1, 1 << 24, &o->params.n_ctx);
        else if (args_is(&a, NULL, "--mode")) {
            const char *t;
            bad = args_str(&a, &t);
            const int mode = bad ? 0 : resa_mode_parse(t);
            if (!bad && mode < 0)
                bad = cli_error("generate: --mode wants resa, sparse, dense or auto, got '%s'", t);
            o->params.mode = (resa_mode)mode;
        } else if ((bad = args_engine_option(&a, &o->params, &o->rect_given)) == 1) {
            bad = 0; /* consumed */
        } else if (bad == 0) {
            cli_error("generate: unknown argument '%s' (see 'resa generate --help')", a.opt);
            return -1;
        }
        if (bad)
            return -1;
    }
    if (!!o->prompt + !!o->file != 1) {
        cli_error("generate: give exactly one of -p TEXT or -f FILE");
        return -1;
    }
    if (args_check_schedule("generate", &o->params, o->rect_given))
        return -1;
    if (!o->seed_given)
        o->sp.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    return 0;
}

/* Prompt text -> token ids (with the chat template and BOS as the model
 * wants). Special tokens in the user's text count only with --special; in
 * --chat the template's own control tokens are put in by the library. */
static int32_t *tokenize_prompt(const resa_model *m, const gen_opts *o, int *n_out)
{
    size_t len = o->prompt ? strlen(o->prompt) : 0;
    char *text = NULL;
    if (o->file && !(text = read_file_max(strcmp(o->file, "-") ? o->file : "/dev/stdin",
                                          (size_t)o->max_prompt_bytes, &len)))
        return NULL;
    if (!o->file && len > (size_t)o->max_prompt_bytes) {
        cli_error("generate: the prompt has more than %ld bytes (see --max-prompt-bytes)", o->max_prompt_bytes);
        return NULL;
    }
    const char *src = text ? text : o->prompt;
    int recognised = 1;
    const char *tpl = o->chat_template ? o->chat_template : resa_chat_template(m, &recognised);
    if (o->chat && !recognised)
        fprintf(stderr, "resa: note: the model's chat template is not one resa knows; using %s\n", tpl);
    const int bos = resa_model_get_info(m)->add_bos;
    const size_t sys_len = o->system ? strlen(o->system) : 0;
    /* --chat: the template's control tokens go in as ids; the texts are parsed
     * for special tokens only with --special */
#define TOKENIZE(ids, max)                                                                                \
    (o->chat ? resa_chat_tokenize_template(m, tpl, o->system, sys_len, src, len, o->special, ids, max) \
             : resa_tokenize(m, src, len, bos, o->special, ids, max))
    int n = TOKENIZE(NULL, 0);
    int32_t *ids = n >= 0 ? malloc(((size_t)n + 1) * sizeof *ids) : NULL;
    if (!ids || TOKENIZE(ids, n) != n) {
        cli_error("generate: %s", n < 0 ? resa_last_error() : "out of memory");
        free(ids);
        ids = NULL;
    }
#undef TOKENIZE
    free(text);
    *n_out = n;
    return ids;
}

static void show_progress(void *user, int done, int total)
{
    (void)user;
    fprintf(stderr, "\rprefill %d/%d tokens%s", done, total, done == total ? "\n" : "");
}

typedef struct gen_result {
    int32_t *tokens;
    int n;
    char *text;
    size_t text_len, text_cap;
    double prefill_s, decode_s;
    const char *stop; /* why generation ended */
} gen_result;

static int append_text(gen_result *r, const char *s, size_t n)
{
    if (r->text_len + n + 1 > r->text_cap) {
        size_t cap = (r->text_cap + n + 1) * 2;
        char *p = realloc(r->text, cap);
        if (!p)
            return -1;
        r->text = p;
        r->text_cap = cap;
    }
    memcpy(r->text + r->text_len, s, n);
    r->text_len += n;
    r->text[r->text_len] = '\0';
    return 0;
}

static int generate(const resa_model *m, resa_context *ctx, const gen_opts *o, const int32_t *prompt,
                    int n_prompt, gen_result *r)
{
    const int n_vocab = resa_model_get_info(m)->n_vocab;
    resa_sampler *s = resa_sampler_new(&o->sp, n_vocab);
    r->tokens = malloc(((size_t)o->n_predict + 1) * sizeof *r->tokens);
    if (!s || !r->tokens)
        return cli_error("generate: %s", s ? "out of memory" : resa_last_error());
    const int progress = isatty(2) && !o->json && n_prompt >= 1024;
    r->stop = "interrupted";
    if (interrupted()) { /* while the model loaded */
        resa_sampler_free(s);
        return 0;
    }
    double t0 = time_now();
    if (resa_decode(ctx, prompt, n_prompt, progress ? show_progress : NULL, NULL)) {
        resa_sampler_free(s);
        return cli_error("generate: %s", resa_last_error());
    }
    double t1 = time_now();
    r->prefill_s = t1 - t0;
    r->stop = "length";
    for (r->n = 0; r->n < o->n_predict; r->n++) {
        if (interrupted()) {
            r->stop = "interrupted";
            break;
        }
        int32_t tok = resa_sample(s, resa_logits(ctx));
        if (resa_token_is_eog(m, tok)) {
            r->stop = "end of turn";
            break;
        }
        size_t len;
        const char *piece = resa_token_text(m, tok, &len);
        if (!piece) { /* every logit is a token with text (docs/design.md §5.6); -1: no sampler */
            resa_sampler_free(s);
            return cli_error("generate: sampled token %d has no text", (int)tok);
        }
        r->tokens[r->n] = tok;
        if (o->json) {
            if (append_text(r, piece, len))
                return cli_error("generate: out of memory");
        } else {
            fwrite(piece, 1, len, stdout);
            fflush(stdout);
        }
        if (r->n + 1 == o->n_predict)
            { r->n++; break; } /* the last token needs no forward pass */
        if (resa_context_n_past(ctx) >= resa_context_n_ctx(ctx)) {
            r->n++;
            r->stop = "context full";
            break;
        }
        if (resa_decode(ctx, &tok, 1, NULL, NULL)) {
            resa_sampler_free(s);
            return cli_error("generate: %s", resa_last_error());
        }
    }
    r->decode_s = time_now() - t1;
    resa_sampler_free(s);
    return 0;
}

static void report(const gen_opts *o, const int32_t *prompt, int n_prompt, const gen_result *r,
                   int n_threads, int rectifications)
{
    const double pre = r->prefill_s > 0 ? n_prompt / r->prefill_s : 0;
    /* decode rate counts the forward passes of generated tokens (n - 1 after the first) */
    const int steps = r->n > 1 ? r->n - 1 : 0;
    const double dec = steps && r->decode_s > 0 ? steps / r->decode_s : 0;
    if (o->json) {
        printf("{\"prompt_tokens\": ");
        json_write_int_array(stdout, prompt, n_prompt);
        printf(", \"tokens\": ");
        json_write_int_array(stdout, r->tokens, r->n);
        printf(", \"text\": ");
        json_write_string(stdout, r->text ? r->text : "", r->text_len);
        printf(", \"prefill_tok_s\": %.3f, \"decode_tok_s\": %.3f, \"prefill_s\": %.6f, "
               "\"decode_s\": %.6f, \"n_threads\": %d, \"seed\": %llu, \"stop\": \"%s\", "
               "\"mode\": \"%s\", \"rectifications\": %d}\n",
               pre, dec, r->prefill_s, r->decode_s, n_threads, (unsigned long long)o->sp.seed, r->stop,
               resa_mode_name(o->params.mode), rectifications);
    } else {
        printf("\n");
        fflush(stdout);
    }
    fprintf(stderr,
            "resa: prompt %d tokens in %.3f s (%.1f tok/s); generated %d tokens, %.1f tok/s; "
            "stop: %s; seed %llu; mode %s, %d rectifications\n",
            n_prompt, r->prefill_s, pre, r->n, dec, r->stop, (unsigned long long)o->sp.seed,
            resa_mode_name(o->params.mode), rectifications);
}

int cmd_generate(int argc, char **argv)
{
    gen_opts o = { 0 };
    if (parse(&o, argc, argv))
        return 2;
    interrupt_catch(); /* from here Ctrl-C ends with the summary (interrupt.h) */
    if (!o.model && !(o.model = default_model_path()))
        return no_model_error("generate");
    resa_model *m;
    if (resa_model_load(o.model, &m))
        return cli_error("%s", resa_last_error());
    int n_prompt = 0, rc = 1;
    int32_t *prompt = tokenize_prompt(m, &o, &n_prompt);
    resa_context *ctx = NULL;
    gen_result r = { 0 };
    if (!prompt)
        goto out;
    if (n_prompt == 0) {
        cli_error("generate: the prompt is empty");
        goto out;
    }
    if (resa_context_new(m, &o.params, &ctx)) {
        cli_error("generate: %s", resa_last_error());
        goto out;
    }
    const int n_train = resa_model_get_info(m)->n_ctx_train;
    if (resa_context_n_ctx(ctx) > n_train)
        fprintf(stderr, "resa: warning: context %d is above the model's trained context %d; "
                        "output past %d tokens may degrade\n", resa_context_n_ctx(ctx), n_train, n_train);
    if (n_prompt >= resa_context_n_ctx(ctx)) {
        cli_error("generate: the prompt has %d tokens but the context holds %d (use -c to enlarge it)",
                  n_prompt, resa_context_n_ctx(ctx));
        goto out;
    }
    if (generate(m, ctx, &o, prompt, n_prompt, &r) == 0) {
        report(&o, prompt, n_prompt, &r, o.params.n_threads, resa_context_rectifications(ctx));
        rc = interrupted() ? EXIT_INTERRUPTED : 0;
    }
out:
    free(r.tokens);
    free(r.text);
    free(prompt);
    resa_context_free(ctx);
    resa_model_free(m);
    return rc;
}
