/* SPDX-License-Identifier: MIT */
/* resa info MODEL [--json]: what a GGUF model is. */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "json.h"
#include "resa.h"

static const char help[] =
    "usage: resa info [MODEL] [-m MODEL] [--json] [-c N [--kv-type T] [--swa-full]]\n"
    "Describes a GGUF model: architecture, shapes, tensor types, tokenizer. A file\n"
    "resa cannot run (tensor types, architecture or tokenizer it lacks, invalid\n"
    "values) is described from its metadata and tensor table, with the reason it\n"
    "does not run also on stderr. Exit status 0 when resa runs the model, 1 when not.\n"
    "  -m, --model FILE  the model (default: $RESA_MODEL, else the fetched default model)\n"
    "      --json        print one JSON object\n"
    "  -c, --ctx-size N  also the KV cache's size for a context of N positions (K, V\n"
    "                    and block summaries, default mode and batch), and with\n"
    "                    sliding-window layers the size --swa-full would give\n"
    "      --kv-type T   its element type: f16 (default) or f32\n"
    "      --swa-full    sliding-window layers keep every position\n";

/* The KV cache's size for p (p.n_ctx > 0), and what swa_full would make of
 * it (equal for models without sliding-window layers). */
static int kv_sizes(const resa_model *m, resa_params p, size_t *bytes, size_t *full)
{
    *bytes = resa_kv_cache_bytes(m, &p);
    p.swa_full = 1;
    *full = resa_kv_cache_bytes(m, &p);
    return *bytes && *full ? 0 : cli_error("info: %s", resa_last_error());
}

static void print_kv(const resa_params *p, size_t bytes, size_t full)
{
    printf("kv cache:        %d positions, %s: %zu bytes (%.1f MiB)", p->n_ctx,
           p->kv_type == RESA_KV_F32 ? "f32" : "f16", bytes, (double)bytes / (1 << 20));
    if (full != bytes)
        printf(", %zu bytes (%.1f MiB) with --swa-full", full, (double)full / (1 << 20));
    printf("\n");
}

/* Tensor types and how many tensors of each, in the order first seen. */
#define MAX_TYPES 64
typedef struct type_counts {
    const char *type[MAX_TYPES];
    int count[MAX_TYPES], unsupported[MAX_TYPES], n;
} type_counts;

static void type_counts_add(type_counts *c, const char *type, int unsupported)
{
    int j;
    for (j = 0; j < c->n && strcmp(c->type[j], type); j++)
        ;
    if (j == c->n && c->n < MAX_TYPES) {
        c->type[c->n] = type;
        c->count[c->n] = 0;
        c->unsupported[c->n++] = unsupported;
    }
    if (j < c->n)
        c->count[j]++;
}

static void type_counts_print(const type_counts *c, int n_tensors)
{
    printf("tensors:         %d (", n_tensors);
    for (int j = 0; j < c->n; j++)
        printf("%s%s %d%s", j ? ", " : "", c->type[j], c->count[j], c->unsupported[j] ? " [not supported]" : "");
    printf(")\n");
}

/* One tensor of the JSON list; supported < 0: no supported/bytes fields. */
static void json_tensor(int first, const char *name, size_t name_len, const char *type, int supported,
                        uint64_t bytes, const int64_t shape[4], int nd)
{
    printf(first ? "{\"name\": " : ", {\"name\": ");
    json_write_string(stdout, name, name_len);
    printf(", \"type\": \"%s\"", type);
    if (supported >= 0)
        printf(", \"supported\": %s, \"bytes\": %llu", supported ? "true" : "false", (unsigned long long)bytes);
    printf(", \"shape\": [");
    for (int d = 0; d < nd; d++)
        printf(d ? ", %lld" : "%lld", (long long)shape[d]);
    printf("]}");
}

static void print_text(const resa_model *m)
{
    const resa_model_info *in = resa_model_get_info(m);
    printf("name:            %s\n", in->name);
    printf("architecture:    %s\n", in->arch);
    printf("parameters:      %.1f M\n", (double)in->n_params / 1e6);
    printf("file size:       %.1f MiB\n", (double)in->file_size / (1 << 20));
    printf("layers:          %d\n", in->n_layer);
    printf("hidden size:     %d\n", in->n_embd);
    printf("heads:           %d query, %d key/value, head dim %d\n", in->n_head, in->n_head_kv,
           in->head_dim);
    printf("ffn size:        %d\n", in->n_ff);
    printf("vocabulary:      %d\n", in->n_vocab);
    printf("trained context: %d\n", in->n_ctx_train);
    printf("rope theta:      %g\n", in->rope_theta);
    printf("rms epsilon:     %g\n", in->rms_eps);
    printf("tied embeddings: %s\n", in->tied_embeddings ? "yes" : "no");
    printf("qkv bias:        %s\n", in->qkv_bias ? "yes" : "no");
    printf("tokenizer:       %s (pre-tokenizer %s), bos %d, eos %d, add bos %s\n", in->tokenizer,
           in->pre_tokenizer, in->bos_id, in->eos_id, in->add_bos ? "yes" : "no");
    printf("chat template:   %s\n", in->has_chat_template ? "yes (ChatML is used)" : "no");
    type_counts c = { .n = 0 };
    for (int i = 0; i < resa_model_n_tensors(m); i++) {
        const char *name, *type;
        size_t name_len;
        int64_t shape[4];
        int nd;
        resa_model_tensor(m, i, &name, &name_len, &type, shape, &nd);
        type_counts_add(&c, type, 0);
    }
    type_counts_print(&c, resa_model_n_tensors(m));
    printf("runs:            yes\n");
}

static void json_str_or_null(const char *s)
{
    if (s)
        json_write_string(stdout, s, strlen(s));
    else
        printf("null");
}

/* What the file is, for one resa cannot load as a model (why: the error). */
static void describe_file(const resa_file_info *f, const char *why, int json)
{
    char b_name[256], b_arch[256], b_tok[256], b_pre[256];
    const char *name = resa_file_info_str(f, "general.name", b_name, sizeof b_name);
    const char *arch = resa_file_info_str(f, "general.architecture", b_arch, sizeof b_arch);
    const char *tok = resa_file_info_str(f, "tokenizer.ggml.model", b_tok, sizeof b_tok);
    const char *pre = resa_file_info_str(f, "tokenizer.ggml.pre", b_pre, sizeof b_pre);
    const int n = resa_file_info_n_tensors(f);
    if (json) {
        printf("{\"name\": ");
        json_str_or_null(name);
        printf(", \"architecture\": ");
        json_str_or_null(arch);
        printf(", \"tokenizer\": ");
        json_str_or_null(tok);
        printf(", \"pre_tokenizer\": ");
        json_str_or_null(pre);
        printf(", \"runs\": false, \"reason\": ");
        json_write_string(stdout, why, strlen(why));
        printf(", \"tensors\": [");
    } else {
        printf("name:            %s\n", name ? name : "-");
        printf("architecture:    %s\n", arch ? arch : "-");
        printf("tokenizer:       %s (pre-tokenizer %s)\n", tok ? tok : "-", pre ? pre : "-");
    }
    type_counts c = { .n = 0 };
    for (int i = 0; i < n; i++) {
        const char *tname, *type;
        size_t len;
        int64_t shape[4];
        int nd, ok;
        uint64_t bytes;
        if (resa_file_info_tensor(f, i, &tname, &len, &type, shape, &nd, &bytes, &ok))
            continue;
        if (json)
            json_tensor(i == 0, tname, len, type, ok, bytes, shape, nd);
        else
            type_counts_add(&c, type, !ok);
    }
    if (json) {
        printf("]}\n");
        return;
    }
    type_counts_print(&c, n);
    printf("runs:            no: %s\n", why);
}

/* kv_bytes: the KV cache's size asked for with -c, or NULL. */
static void print_json(const resa_model *m, const size_t *kv_bytes)
{
    const resa_model_info *in = resa_model_get_info(m);
    printf("{\"name\": ");
    json_write_string(stdout, in->name, strlen(in->name));
    printf(", \"architecture\": \"%s\", \"n_params\": %llu, \"file_size\": %zu", in->arch,
           (unsigned long long)in->n_params, in->file_size);
    printf(", \"n_layer\": %d, \"n_embd\": %d, \"n_head\": %d, \"n_head_kv\": %d, \"head_dim\": %d",
           in->n_layer, in->n_embd, in->n_head, in->n_head_kv, in->head_dim);
    printf(", \"n_ff\": %d, \"n_vocab\": %d, \"n_ctx_train\": %d, \"rope_theta\": %g, \"rms_eps\": %g",
           in->n_ff, in->n_vocab, in->n_ctx_train, in->rope_theta, in->rms_eps);
    printf(", \"tied_embeddings\": %s, \"qkv_bias\": %s", in->tied_embeddings ? "true" : "false",
           in->qkv_bias ? "true" : "false");
    printf(", \"tokenizer\": \"%s\", \"pre_tokenizer\": ", in->tokenizer);
    json_write_string(stdout, in->pre_tokenizer, strlen(in->pre_tokenizer));
    printf(", \"bos_id\": %d, \"eos_id\": %d, \"add_bos\": %s, \"chat_template\": %s, \"runs\": true", in->bos_id,
           in->eos_id, in->add_bos ? "true" : "false", in->has_chat_template ? "\"chatml\"" : "null");
    if (kv_bytes)
        printf(", \"kv_cache_bytes\": %zu", *kv_bytes);
    printf(", \"tensors\": [");
    for (int i = 0; i < resa_model_n_tensors(m); i++) {
        const char *name, *type;
        size_t name_len;
        int64_t shape[4];
        int nd;
        resa_model_tensor(m, i, &name, &name_len, &type, shape, &nd);
        json_tensor(i == 0, name, name_len, type, -1, 0, shape, nd);
    }
    printf("]}\n");
}

int cmd_info(int argc, char **argv)
{
    args a;
    args_init(&a, "info", argc, argv);
    const char *path = NULL;
    int json = 0;
    resa_params p;
    resa_params_default(&p);
    while (args_next(&a)) {
        if (args_is(&a, "-h", "--help")) {
            fputs(help, stdout);
            return 0;
        } else if (args_is(&a, NULL, "--json")) {
            json = 1;
        } else if (args_is(&a, "-m", "--model")) {
            if (args_str(&a, &path))
                return 2;
        } else if (args_is(&a, "-c", "--ctx-size")) {
            if (args_int(&a, 1, 1 << 24, &p.n_ctx))
                return 2;
        } else if (args_is(&a, NULL, "--kv-type")) {
            if (args_kv_type(&a, &p.kv_type))
                return 2;
        } else if (args_is(&a, NULL, "--swa-full")) {
            p.swa_full = 1;
        } else if (a.opt[0] == '-' && a.opt[1]) {
            cli_error("info: unknown option '%s'", a.opt);
            return 2;
        } else if (!path) {
            path = a.opt;
        } else {
            cli_error("info: unexpected argument '%s'", a.opt);
            return 2;
        }
    }
    if (!path && !(path = default_model_path()))
        return no_model_error("info");
    resa_model *m;
    if (resa_model_load(path, &m)) {
        /* not a model resa runs: describe the file if it is a readable GGUF */
        char why[512];
        snprintf(why, sizeof why, "%s", resa_last_error());
        resa_file_info *f;
        if (resa_file_inspect(path, &f))
            return cli_error("%s", why);
        describe_file(f, why, json);
        resa_file_info_free(f);
        return cli_error("%s", why); /* described, and it does not run */
    }
    size_t bytes = 0, full = 0;
    if (p.n_ctx > 0 && kv_sizes(m, p, &bytes, &full)) {
        resa_model_free(m);
        return 1;
    }
    if (json) {
        print_json(m, p.n_ctx > 0 ? &bytes : NULL);
    } else {
        print_text(m);
        if (p.n_ctx > 0)
            print_kv(&p, bytes, full);
    }
    resa_model_free(m);
    return 0;
}
