/* SPDX-License-Identifier: MIT */
/* The resa program: subcommands over the public API only. */
#ifndef RESA_CLI_H
#define RESA_CLI_H

#include "clock.h"

int cmd_generate(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_cpu(int argc, char **argv);
int cmd_backends(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_fetch(int argc, char **argv);

/* Prints "resa: <message>" to stderr; returns 1 (the exit status for errors). */
int cli_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#endif
