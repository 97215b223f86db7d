/* SPDX-License-Identifier: MIT */
/* resa bench: decode speed at given cache depths, per mode, and where the
 * time of a token goes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "resa.h"

static const char help[] =
    "usage: resa bench [-m MODEL] [--depth LIST] [--mode LIST] [--parallel LIST] [-n N] [OPTIONS]\n"
    "       resa bench [-m MODEL] --generate N [--mode LIST] [OPTIONS]\n"
    "Measures decode speed with the KV cache filled to each depth, for each mode;\n"
    "or, with --generate, the end-to-end time of a long generation per mode.\n"
    "  -m, --model FILE    the model (default: $RESA_MODEL, else the fetched default model)\n"
    "      --depth LIST    cache depths in tokens (default 1024,4096,16384); 0 means a\n"
    "                      one-token prompt\n"
    "      --parallel LIST numbers of sequences decoded together, each with the cache\n"
    "                      filled to the depth (one engine, one step for all of them);\n"
    "                      decode/s is then their aggregate tokens per second\n"
    "      --mode LIST     modes among dense, sparse, resa, auto (default dense,sparse,resa)\n"
    "  -n, --n-decode N    decode steps timed at each depth (default 64)\n"
    "      --real-prefill  fill the cache by a real prefill of every position (slow);\n"
    "                      default: prefill a 512-token segment and repeat its entries\n"
    "                      (decode cost does not depend on the cached values)\n"
    "      --warmup        run each row once untimed first (the weights' pages touched,\n"
    "                      the threads started), as llama-bench does in its process\n"
    "      --generate N    instead of depths: from a 16-token prompt, generate N tokens\n"
    "                      greedily (end of turn ignored), no shortcuts; reports the\n"
    "                      total time per mode (prefill + every step + rectifications)\n"
    ENGINE_OPTIONS_HELP
    "      --json          print {\"results\": [rows]} instead of a table\n";

#define MAX_LIST 16

typedef struct bench_opts {
    const char *model;
    int depths[MAX_LIST], n_depths;
    int parallel[MAX_LIST], n_parallel; /* 0: one context, no engine */
    resa_mode modes[4];
    int n_modes, n_decode, real_prefill, json, rect_given, generate, warmup;
    resa_params params;
} bench_opts;

static int parse_list(const char *s, int *out, int max, int min, const char *what)
{
    int n = 0;
    for (const char *p = s; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < min || v > (1 << 24) || (*end && *end != ',') || n == max) {
            cli_error("bench: --%s wants up to %d integers >= %d separated by commas, got '%s'",
                      what, max, min, s);
            return -1;
        }
        out[n++] = (int)v;
        p = *end ? end + 1 : end;
    }
    return n;
}

static int parse_modes(bench_opts *o, const char *s)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", s);
    o->n_modes = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        const int m = resa_mode_parse(tok);
        if (m < 0 || o->n_modes == 4)
            return cli_error("bench: --mode wants a list of dense, sparse, resa, auto, got '%s'", s), -1;
        o->modes[o->n_modes++] = (resa_mode)m;
    }
    return o->n_modes ? 0 : -1;
}

static int parse(bench_opts *o, int argc, char **argv)
{
    args a;
    args_init(&a, "bench", argc, argv);
    resa_params_default(&o->params);
    static const int default_depths[] = { 1024, 4096, 16384 };
    memcpy(o->depths, default_depths, sizeof default_depths);
    o->n_depths = 3;
    o->modes[0] = RESA_MODE_DENSE;
    o->modes[1] = RESA_MODE_SPARSE;
    o->modes[2] = RESA_MODE_RESA;
    o->n_modes = 3;
    o->n_decode = 64;
    while (args_next(&a)) {
        const char *s;
        int r;
        if (args_is(&a, "-h", "--help")) {
            fputs(help, stdout);
            exit(0);
        } else if (args_is(&a, "-m", "--model")) {
            if (args_str(&a, &o->model))
                return -1;
        } else if (args_is(&a, NULL, "--depth")) {
            if (args_str(&a, &s) || (o->n_depths = parse_list(s, o->depths, MAX_LIST, 0, "depth")) < 0)
                return -1;
        } else if (args_is(&a, NULL, "--parallel")) {
            if (args_str(&a, &s) ||
                (o->n_parallel = parse_list(s, o->parallel, MAX_LIST, 1, "parallel")) < 0)
                return -1;
        } else if (args_is(&a, NULL, "--mode")) {
            if (args_str(&a, &s) || parse_modes(o, s))
                return -1;
        } else if (args_is(&a, "-n", "--n-decode")) {
            if (args_int(&a, 1, 1 << 20, &o->n_decode))
                return -1;
        } else if (args_is(&a, NULL, "--generate")) {
            if (args_int(&a, 1, 1 << 24, &o->generate))
                return -1;
        } else if (args_is(&a, NULL, "--real-prefill")) {
            o->real_prefill = 1;
        } else if (args_is(&a, NULL, "--json")) {
            o->json = 1;
        } else if (args_is(&a, NULL, "--warmup")) {
            o->warmup = 1;
        } else if ((r = args_engine_option(&a, &o->params, &o->rect_given)) != 1) {
            if (r == 0)
                cli_error("bench: unknown argument '%s' (see 'resa bench --help')", a.opt);
            return -1;
        }
    }
    if (o->generate && o->n_parallel)
        return cli_error("bench: --generate and --parallel do not go together"), -1;
    /* --rect-every is for the resa rows; sparse rows never rectify */
    for (int i = 0; i < o->n_modes; i++) {
        resa_params p = o->params;
        p.mode = o->modes[i];
        if (args_check_schedule("bench", &p, o->rect_given && p.mode != RESA_MODE_SPARSE))
            return -1;
    }
    return 0;
}

/* Token ids of ordinary text, repeated to n. */
static int32_t *text_tokens(const resa_model *m, int n)
{
    static const char text[] =
        "The library is open every day of the week. Readers may borrow up to ten books at a "
        "time, and the staff will gladly help anyone find the material they need for study, "
        "work or pleasure. Rare volumes stay in the reading room. ";
    int32_t base[128];
    int nb = resa_tokenize(m, text, strlen(text), 0, 0, base, 128);
    if (nb > 128) /* the count it needed: only 128 were written */
        nb = 128;
    if (nb <= 0)
        return NULL;
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    for (int i = 0; ids && i < n; i++)
        ids[i] = base[i % nb];
    return ids;
}

typedef struct bench_row {
    resa_mode mode;
    int parallel;
    int depth, steps, rectifications, filled, generated; /* generated: a --generate row */
    double prefill_tok_s, decode_tok_s, ms_weights, ms_attention, ms_select, ms_rectify, total_s;
    double blocks_read;  /* share of the cached blocks the decode steps read; -1: not counted */
    double miss;         /* --rect-policy error: a sparse step's mean estimated miss; -1: none */
} bench_row;

/* Prompt length of a --generate run: a short prompt, the paper's setting. */
#define GEN_PROMPT 16

/* A depth row: fill the cache to depth, time n_decode steps. A --generate row
 * (o->generate > 0): prefill GEN_PROMPT tokens, generate o->generate tokens,
 * timing everything. */
static int run_one(const resa_model *m, const bench_opts *o, resa_mode mode, int depth,
                   bench_row *row)
{
    resa_params p = o->params;
    p.mode = mode;
    args_check_schedule("bench", &p, 0); /* checked in parse(); sets sparse's period to 0 */
    const int n_decode = o->generate ? o->generate : o->n_decode;
    if (o->generate)
        depth = GEN_PROMPT;
    p.n_ctx = depth + n_decode + 1;
    resa_context *ctx;
    if (resa_context_new(m, &p, &ctx))
        return cli_error("bench: %s", resa_last_error());
    const int n_fill = o->real_prefill || o->generate || depth < 512 ? (depth ? depth : 1) : 512;
    int32_t *ids = text_tokens(m, n_fill);
    resa_sampler_params sp;
    resa_sampler_default(&sp);
    sp.temp = 0;
    resa_sampler *s = resa_sampler_new(&sp, resa_model_get_info(m)->n_vocab);
    int rc = 1;
    resa_timings t;
    double t0 = 0, t1;
    if (!ids || !s) {
        cli_error("bench: %s", ids ? "out of memory" : "cannot tokenize the fill text");
        goto out;
    }
    t0 = time_now();
    if (resa_decode(ctx, ids, n_fill, NULL, NULL) ||
        (depth > n_fill && resa_context_fill_repeat(ctx, depth))) {
        cli_error("bench: %s", resa_last_error());
        goto out;
    }
    t1 = time_now();
    row->prefill_tok_s = n_fill / (t1 - t0);
    row->filled = n_fill < depth;
    resa_context_reset_timings(ctx);
    for (int i = 0; i < n_decode; i++) {
        int32_t tok = resa_sample(s, resa_logits(ctx));
        if (resa_decode(ctx, &tok, 1, NULL, NULL)) {
            cli_error("bench: %s", resa_last_error());
            goto out;
        }
        if (o->generate && (i + 1) % 256 == 0 && !o->json)
            fprintf(stderr, "\rresa: bench: %s: %d/%d tokens", resa_mode_name(mode), i + 1,
                    n_decode);
    }
    const double wall = time_now() - t1;
    if (o->generate && !o->json)
        fprintf(stderr, "\n");
    row->generated = o->generate;
    row->total_s = time_now() - t0;
    resa_context_timings(ctx, &t);
    row->mode = mode;
    row->parallel = 1;
    row->depth = depth;
    row->steps = t.steps;
    row->rectifications = t.rectifications;
    row->decode_tok_s = n_decode / wall;
    row->ms_attention = 1e3 * t.attention_s / t.steps;
    row->ms_select = 1e3 * t.select_s / t.steps;
    row->ms_weights = 1e3 * (t.decode_s - t.attention_s - t.select_s) / t.steps;
    row->ms_rectify = 1e3 * t.rectify_s / t.steps;
    row->blocks_read = t.blocks_all > 0 ? t.blocks_read / t.blocks_all : -1;
    row->miss = t.miss_steps > 0 ? t.miss / t.miss_steps : -1;
    rc = 0;
out:
    resa_sampler_free(s);
    free(ids);
    resa_context_free(ctx);
    return rc;
}

/* A --parallel row: P sequences of one engine, each filled to depth
 * (depth 0: a one-token prompt), then n_decode steps of all of them
 * together, greedy; decode/s is P * n_decode / the steps' wall time. */
static int run_parallel(const resa_model *m, const bench_opts *o, resa_mode mode, int depth, int P,
                        bench_row *row)
{
    resa_params p = o->params;
    p.mode = mode;
    args_check_schedule("bench", &p, 0); /* checked in parse(); sets sparse's period to 0 */
    const int n_fill = o->real_prefill || depth < 512 ? (depth ? depth : 1) : 512;
    const int b = p.block_size, per_seq = (((depth > n_fill ? depth : n_fill) + o->n_decode + 1 + b - 1) / b) * b;
    p.n_ctx = P * per_seq;
    const int n_vocab = resa_model_get_info(m)->n_vocab;
    resa_engine *e = NULL;
    resa_seq **seqs = calloc((size_t)P, sizeof *seqs);
    const int32_t **toks = calloc((size_t)P, sizeof *toks);
    int *ns = calloc((size_t)P, sizeof *ns);
    int32_t *next = calloc((size_t)P, sizeof *next), *ids = text_tokens(m, n_fill + P);
    int rc = 1;
    if (!seqs || !toks || !ns || !next || !ids) {
        cli_error("bench: out of memory");
        goto out;
    }
    if (resa_engine_new(m, &p, &e))
        goto fail;
    p.n_ctx = per_seq;
    for (int i = 0; i < P; i++) {
        if (resa_seq_new(e, &p, &seqs[i]))
            goto fail;
        toks[i] = ids + i; /* each sequence its own text */
        ns[i] = n_fill;
    }
    double t0 = time_now();
    if (resa_engine_step(e, P, seqs, toks, ns))
        goto fail;
    for (int i = 0; i < P; i++)
        if (depth > n_fill && resa_seq_fill_repeat(seqs[i], depth))
            goto fail;
    double t1 = time_now();
    row->prefill_tok_s = (double)P * n_fill / (t1 - t0);
    row->filled = n_fill < depth;
    for (int i = 0; i < P; i++) {
        toks[i] = &next[i];
        ns[i] = 1;
    }
    int rect0 = 0;
    for (int i = 0; i < P; i++)
        rect0 += resa_seq_rectifications(seqs[i]);
    t1 = time_now();
    for (int step = 0; step < o->n_decode; step++) {
        for (int i = 0; i < P; i++) { /* greedy */
            const float *lg = resa_seq_logits(seqs[i]);
            int32_t best = 0;
            for (int v = 1; v < n_vocab; v++)
                best = lg[v] > lg[best] ? v : best;
            next[i] = best;
        }
        if (resa_engine_step(e, P, seqs, toks, ns))
            goto fail;
    }
    const double wall = time_now() - t1;
    row->mode = mode;
    row->parallel = P;
    row->depth = depth;
    row->steps = o->n_decode;
    row->rectifications = -rect0;
    for (int i = 0; i < P; i++)
        row->rectifications += resa_seq_rectifications(seqs[i]);
    row->decode_tok_s = (double)P * o->n_decode / wall;
    row->ms_weights = row->ms_attention = row->ms_select = row->ms_rectify = -1; /* not split */
    row->blocks_read = row->miss = -1;
    rc = 0;
    goto out;
fail:
    cli_error("bench: %s", resa_last_error());
out:
    resa_engine_free(e);
    free(seqs);
    free(toks);
    free(ns);
    free(next);
    free(ids);
    return rc;
}

static void print_row(const bench_opts *o, const bench_row *r, int first)
{
    if (o->json) {
        printf("%s{\"mode\": \"%s\", \"parallel\": %d, \"depth\": %d, \"prefill_tok_s\": %.2f, \"decode_tok_s\": %.3f, "
               "\"generated\": %d, \"total_s\": %.3f, "
               "\"cache_fill\": \"%s\", \"steps\": %d, \"rectifications\": %d, "
               "\"blocks_read\": ",
               first ? "" : ",\n  ", resa_mode_name(r->mode), r->parallel, r->depth, r->prefill_tok_s,
               r->decode_tok_s, r->generated, r->total_s, r->filled ? "repeated 512-token segment" : "real prefill", r->steps,
               r->rectifications);
        if (r->blocks_read < 0)
            printf("null, ");
        else
            printf("%.4f, ", r->blocks_read);
        if (r->miss < 0)
            printf("\"est_miss\": null, \"ms_per_token\": ");
        else
            printf("\"est_miss\": %.4f, \"ms_per_token\": ", r->miss);
        if (r->ms_weights < 0) /* --parallel: not split */
            printf("null}");
        else
            printf("{\"weights_and_other\": %.3f, \"attention\": %.3f, \"score_select\": %.3f, "
                   "\"rectification\": %.3f}}", r->ms_weights, r->ms_attention, r->ms_select, r->ms_rectify);
        return;
    }
    if (r->generated) {
        if (first)
            printf("%-7s %7s %9s %10s %10s | ms per token: %8s %9s %8s %8s\n", "mode", "prompt",
                   "generated", "total s", "decode/s", "weights+", "attention", "select", "rectify");
        printf("%-7s %7d %9d %10.2f %10.2f | %22.3f %9.3f %8.3f %8.3f\n", resa_mode_name(r->mode),
               r->depth, r->generated, r->total_s, r->decode_tok_s, r->ms_weights, r->ms_attention,
               r->ms_select, r->ms_rectify);
        fflush(stdout);
        return;
    }
    if (r->parallel > 1 || o->n_parallel) {
        if (first)
            printf("%-7s %8s %7s %10s %12s %8s  %s\n", "mode", "parallel", "depth", "prefill/s",
                   "decode/s all", "rectify", "cache");
        printf("%-7s %8d %7d %10.1f %12.2f %8d  %s\n", resa_mode_name(r->mode), r->parallel, r->depth,
               r->prefill_tok_s, r->decode_tok_s, r->rectifications,
               r->filled ? "repeated segment" : "real prefill");
        fflush(stdout);
        return;
    }
    if (first)
        printf("%-7s %7s %10s %10s %7s | ms per token: %8s %9s %8s %8s  %s\n", "mode", "depth",
               "prefill/s", "decode/s", "blocks", "weights+", "attention", "select", "rectify", "cache");
    char blocks[16] = "-";
    if (r->blocks_read >= 0)
        snprintf(blocks, sizeof blocks, "%.1f%%", 100 * r->blocks_read);
    printf("%-7s %7d %10.1f %10.2f %7s | %22.3f %9.3f %8.3f %8.3f  %s\n", resa_mode_name(r->mode),
           r->depth, r->prefill_tok_s, r->decode_tok_s, blocks, r->ms_weights, r->ms_attention,
           r->ms_select, r->ms_rectify, r->filled ? "repeated segment" : "real prefill");
    fflush(stdout);
}

int cmd_bench(int argc, char **argv)
{
    bench_opts o = { 0 };
    if (parse(&o, argc, argv))
        return 2;
    if (!o.model && !(o.model = default_model_path()))
        return no_model_error("bench");
    resa_model *m;
    if (resa_model_load(o.model, &m))
        return cli_error("%s", resa_last_error());
    const int n_train = resa_model_get_info(m)->n_ctx_train;
    if (o.generate)
        o.n_depths = 1; /* one row per mode */
    if (o.generate && GEN_PROMPT + o.generate > n_train)
        fprintf(stderr, "resa: bench: %d tokens go past the model's trained context %d "
                        "(speed is still meaningful, quality is not)\n", GEN_PROMPT + o.generate, n_train);
    for (int d = 0; d < o.n_depths; d++)
        if (o.depths[d] > n_train && !o.generate)
            fprintf(stderr, "resa: bench: depth %d is past the model's trained context %d "
                            "(speed is still meaningful, quality is not)\n", o.depths[d], n_train);
    if (o.json)
        printf("{\"results\": [");
    int rc = 0, first = 1;
    const int n_par = o.n_parallel ? o.n_parallel : 1;
    for (int d = 0; d < o.n_depths && !rc; d++)
        for (int i = 0; i < o.n_modes && !rc; i++)
            for (int k = 0; k < n_par && !rc; k++) {
                bench_row row = { 0 };
                if (!o.json && !o.generate)
                    fprintf(stderr, "resa: bench: %s at depth %d, %d sequence%s...\n",
                            resa_mode_name(o.modes[i]), o.depths[d], o.n_parallel ? o.parallel[k] : 1,
                            o.n_parallel && o.parallel[k] > 1 ? "s" : "");
                for (int pass = o.warmup ? 0 : 1; pass < 2 && !rc; pass++) /* pass 0: untimed */
                    rc = o.n_parallel ? run_parallel(m, &o, o.modes[i], o.depths[d], o.parallel[k], &row)
                                      : run_one(m, &o, o.modes[i], o.depths[d], &row);
                if (rc == 0)
                    print_row(&o, &row, first);
                first = 0;
            }
    if (o.json)
        printf("]}\n");
    resa_model_free(m);
    return rc;
}
