/* SPDX-License-Identifier: MIT */
/* resa: command-line front end. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "eval.h"
#include "resa.h"

int cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("resa: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static const char usage[] =
    "usage: resa COMMAND [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  generate   generate text from a prompt\n"
    "  tokenize   print the token ids of a text\n"
    "  info       describe a GGUF model\n"
    "  bench      measure decode speed at given cache depths, per mode\n"
    "  eval       measure quality per mode on real text: next-token accuracy and KL\n"
    "             to dense (the paper's protocol), passkey retrieval\n"
    "  cpu        show the CPU features and the SIMD kernels in use\n"
    "  backends   show the backends (CPU, CUDA module) and the GPU\n"
    "  serve      serve the model over HTTP: an OpenAI-compatible API with\n"
    "             continuous batching\n"
    "  fetch      download the default model into the user's model directory\n"
    "\n"
    "Run 'resa COMMAND --help' for a command's options, or see resa(1).\n"
    "  -h, --help     show this help\n"
    "  -V, --version  show the version\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
        fputs(usage, stdout);
        return 0;
    }
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
        printf("resa %s\n", resa_version());
        return 0;
    }
    if (cmd[0] == '-') {
        /* `resa -m X -p Y`: the options are generate's */
        cli_error("no command before '%s'; did you mean 'resa generate %s ...'? (see 'resa --help')", cmd, cmd);
        return 2;
    }
    if (!strcmp(cmd, "generate"))
        return cmd_generate(argc - 1, argv + 1);
    if (!strcmp(cmd, "tokenize"))
        return cmd_tokenize(argc - 1, argv + 1);
    if (!strcmp(cmd, "info"))
        return cmd_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench"))
        return cmd_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval"))
        return cmd_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "serve"))
        return cmd_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "cpu"))
        return cmd_cpu(argc - 1, argv + 1);
    if (!strcmp(cmd, "backends") || !strcmp(cmd, "gpu"))
        return cmd_backends(argc - 1, argv + 1);
    if (!strcmp(cmd, "fetch"))
        return cmd_fetch(argc - 1, argv + 1);
    cli_error("unknown command '%s' (try 'resa --help')", cmd);
    return 2;
}
