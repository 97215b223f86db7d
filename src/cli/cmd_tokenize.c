/* SPDX-License-Identifier: MIT */
/* resa tokenize: token ids of a text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "json.h"
#include "resa.h"

static const char help[] =
    "usage: resa tokenize [-m MODEL] (-p TEXT | -f FILE) [--bos] [--special] [--max-prompt-bytes N]\n"
    "                     [--json]\n"
    "Prints the token ids of a text, separated by spaces.\n"
    "  -m, --model FILE  the model (default: $RESA_MODEL, else the fetched default model)\n"
    "  -p, --prompt TEXT the text\n"
    "  -f, --file FILE   read the text from FILE ('-' for standard input)\n"
    "      --bos         put the beginning-of-sequence token first\n"
    "      --special     parse special tokens such as <|im_start|> in the text\n"
    MAX_PROMPT_HELP
    "      --json        print {\"tokens\": [...], \"pieces\": [...]}\n";

int cmd_tokenize(int argc, char **argv)
{
    args a;
    args_init(&a, "tokenize", argc, argv);
    const char *path = NULL, *prompt = NULL, *file = NULL;
    int json = 0, bos = 0, special = 0, max_bytes = (int)DEFAULT_MAX_PROMPT_BYTES;
    while (args_next(&a)) {
        if (args_is(&a, "-h", "--help")) {
            fputs(help, stdout);
            return 0;
        } else if (args_is(&a, NULL, "--json")) json = 1;
        else if (args_is(&a, NULL, "--bos")) bos = 1;
        else if (args_is(&a, NULL, "--special")) special = 1;
        else if (args_is(&a, NULL, "--max-prompt-bytes")) {
            if (args_int(&a, 1, MAX_PROMPT_BYTES_LIMIT, &max_bytes))
                return 2;
        }
        else if (args_is(&a, "-m", "--model")) { if (args_str(&a, &path)) return 2; }
        else if (args_is(&a, "-p", "--prompt")) { if (args_str(&a, &prompt)) return 2; }
        else if (args_is(&a, "-f", "--file")) { if (args_str(&a, &file)) return 2; }
        else {
            cli_error("tokenize: unknown argument '%s' (see 'resa tokenize --help')", a.opt);
            return 2;
        }
    }
    if (!!prompt + !!file != 1) {
        cli_error("tokenize: give exactly one of -p TEXT or -f FILE");
        return 2;
    }
    if (!path && !(path = default_model_path()))
        return no_model_error("tokenize");
    size_t len = prompt ? strlen(prompt) : 0;
    char *text = NULL;
    if (file && !(text = read_file_max(strcmp(file, "-") ? file : "/dev/stdin", (size_t)max_bytes, &len)))
        return 1;
    if (!file && len > (size_t)max_bytes)
        return cli_error("tokenize: the text has more than %d bytes (see --max-prompt-bytes)", max_bytes);
    resa_model *m;
    if (resa_model_load(path, &m)) {
        free(text);
        return cli_error("%s", resa_last_error());
    }
    const char *src = text ? text : prompt;
    int n = resa_tokenize(m, src, len, bos, special, NULL, 0);
    int32_t *ids = n >= 0 ? malloc(((size_t)n + 1) * sizeof *ids) : NULL;
    int rc = 0;
    if (n < 0 || !ids || resa_tokenize(m, src, len, bos, special, ids, n) != n) {
        rc = cli_error("tokenize: %s", n < 0 ? resa_last_error() : "out of memory");
    } else if (json) {
        printf("{\"tokens\": ");
        json_write_int_array(stdout, ids, n);
        printf(", \"pieces\": [");
        for (int i = 0; i < n; i++) {
            size_t pl;
            const char *p = resa_token_text(m, ids[i], &pl);
            if (i)
                printf(", ");
            json_write_string(stdout, p, pl);
        }
        printf("]}\n");
    } else {
        for (int i = 0; i < n; i++)
            printf(i ? " %d" : "%d", ids[i]);
        printf("\n");
    }
    free(ids);
    free(text);
    resa_model_free(m);
    return rc;
}
