/* SPDX-License-Identifier: MIT */
/* Where the program looks for the default model when -m is not given, and
 * where `resa fetch` puts it (docs/design.md §5.8). */
#ifndef RESA_CLI_MODEL_PATH_H
#define RESA_CLI_MODEL_PATH_H

#include <stddef.h>

/* The default model's file name. */
#define DEFAULT_MODEL "SmolLM2-135M-Instruct.Q4_1.gguf"

/* -m's default: $RESA_MODEL as given, else the first readable DEFAULT_MODEL
 * of model_dirs(); NULL when none exists. The string lives until the next call. */
const char *default_model_path(void);

/* The directories searched, in order, into dirs[0..n): the user's
 * ($XDG_DATA_HOME/resa/models, by default ~/.local/share/resa/models), the
 * system's ($(datadir)/resa/models), then, for a program run from its build
 * tree only, the models/ of that tree and of its parent. Returns how many
 * were written (at most max); each is a malloc'd string the caller frees. */
int model_dirs(char **dirs, int max);

/* The user's model directory (the first of model_dirs()), malloc'd; NULL
 * when neither XDG_DATA_HOME nor HOME is set. */
char *user_model_dir(void);

/* The directory holding the config.status of the build tree this program
 * was run from (the program, or the real one libtool's wrapper runs from
 * .libs/, lies in it), malloc'd; NULL for an installed program. */
char *build_tree_dir(void);

/* Prints the one-line error for a command given no model, naming the places
 * searched and `resa fetch`; returns 1 (the exit status). */
int no_model_error(const char *cmd);

#endif
