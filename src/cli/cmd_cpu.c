/* SPDX-License-Identifier: MIT */
/* resa cpu: the CPU's features and the kernel tier chosen for each kernel. */
#include <stdio.h>
#include <stdlib.h>

#include "args.h"
#include "cli.h"
#include "resa.h"

static const char help[] =
    "usage: resa cpu [--cpu TIER]\n"
    "Prints the detected CPU features, the SIMD tier in use and each kernel's tier.\n"
    "      --cpu TIER    cap the tier: scalar, avx2, avx512vnni (AVX-512 without AMX),\n"
    "                    avx512, neon or native (default; the RESA_CPU environment\n"
    "                    variable sets it too)\n";

int cmd_cpu(int argc, char **argv)
{
    args a;
    args_init(&a, "cpu", argc, argv);
    while (args_next(&a)) {
        if (args_is(&a, "-h", "--help")) {
            fputs(help, stdout);
            return 0;
        } else if (args_is(&a, NULL, "--cpu")) {
            const char *t;
            if (args_str(&a, &t))
                return 2;
            if (resa_set_cpu(t)) {
                cli_error("cpu: %s", resa_last_error());
                return 2;
            }
        } else {
            cli_error("cpu: unknown argument '%s' (see 'resa cpu --help')", a.opt);
            return 2;
        }
    }
    char buf[2048];
    resa_cpu_report(buf, sizeof buf);
    fputs(buf, stdout);
    return 0;
}

/* resa backends: the backends and the GPU the CUDA module sees (docs/design.md §3.9). */
static const char backends_help[] =
    "usage: resa backends\n"
    "Prints the backends: the CPU (built in) and the CUDA module: its device (name,\n"
    "compute capability, memory) and kernels, or why it is unavailable. The module is\n"
    "looked for in $RESA_BACKEND_PATH, else in the installed library directory.\n";

int cmd_backends(int argc, char **argv)
{
    args a;
    args_init(&a, "backends", argc, argv);
    while (args_next(&a)) {
        if (args_is(&a, "-h", "--help")) {
            fputs(backends_help, stdout);
            return 0;
        }
        cli_error("backends: unknown argument '%s' (see 'resa backends --help')", a.opt);
        return 2;
    }
    char buf[8192];
    resa_backends_report(buf, sizeof buf);
    fputs(buf, stdout);
    return 0;
}
