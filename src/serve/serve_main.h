/* SPDX-License-Identifier: MIT */
/* resa serve: the entry point the command line calls (src/cli/cmd_serve.c). */
#ifndef RESA_SERVE_MAIN_H
#define RESA_SERVE_MAIN_H

#include "serve.h"

/* Runs the server until SIGINT/SIGTERM: the exit status. */
int serve_run(const serve_options *opt);

#endif
