/* SPDX-License-Identifier: MIT */
/* Default model lookup (model_path.h, docs/design.md §5.8): -m, RESA_MODEL,
 * the user's data directory, the system's, and for an uninstalled program
 * its build tree. No build directory is compiled in: a build tree is found
 * at run time from the program's own path, so the same binary installed
 * elsewhere never looks there, and two builds in different directories give
 * the same bytes. */
#include "config.h"

#include "model_path.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#ifndef RESA_PKGDATADIR
#error "RESA_PKGDATADIR must be defined (Makefile.am)"
#endif

static char *join(const char *a, const char *b)
{
    const size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", a, b);
    return s;
}

char *user_model_dir(void)
{
    /* XDG base directories: XDG_DATA_HOME when set to an absolute path, else ~/.local/share. */
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    if (xdg && xdg[0] == '/')
        return join(xdg, "resa/models");
    if (home && *home)
        return join(home, ".local/share/resa/models");
    return NULL;
}

static int has_config_status(const char *dir)
{
    char *p = join(dir, "config.status");
    const int yes = p && access(p, F_OK) == 0;
    free(p);
    return yes;
}

char *build_tree_dir(void)
{
    char exe[PATH_MAX];
    const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash || slash == exe)
        return NULL;
    *slash = '\0';
    if (has_config_status(exe))
        return strdup(exe);
    /* libtool's wrapper script runs the real program from .libs/ */
    slash = strrchr(exe, '/');
    if (slash && slash != exe && strcmp(slash + 1, ".libs") == 0) {
        *slash = '\0';
        if (has_config_status(exe))
            return strdup(exe);
    }
    return NULL;
}

int model_dirs(char **dirs, int max)
{
    int n = 0;
    char *user = user_model_dir();
    if (user && n < max)
        dirs[n++] = user;
    else
        free(user);
    if (n < max && (dirs[n] = strdup(RESA_PKGDATADIR "/models")))
        n++;
    char *tree = build_tree_dir();
    if (tree) {
        /* a build in the checkout (./configure) or in a folder of it (build/) */
        if (n < max && (dirs[n] = join(tree, "models")))
            n++;
        if (n < max && (dirs[n] = join(tree, "../models")))
            n++;
        free(tree);
    }
    return n;
}

enum { MAX_DIRS = 4 };

const char *default_model_path(void)
{
    static char *found;
    const char *env = getenv("RESA_MODEL");
    if (env && *env)
        return env;
    free(found);
    found = NULL;
    char *dirs[MAX_DIRS];
    const int n = model_dirs(dirs, MAX_DIRS);
    for (int i = 0; i < n; i++) {
        char *p = found ? NULL : join(dirs[i], DEFAULT_MODEL);
        if (p && access(p, R_OK) == 0)
            found = p;
        else
            free(p);
        free(dirs[i]);
    }
    return found;
}

int no_model_error(const char *cmd)
{
    char *dirs[MAX_DIRS];
    const int n = model_dirs(dirs, MAX_DIRS);
    fprintf(stderr, "resa: %s: no model: pass -m MODEL or set RESA_MODEL, or put %s in ", cmd, DEFAULT_MODEL);
    for (int i = 0; i < n; i++) {
        fprintf(stderr, "%s%s", i ? (i + 1 == n ? " or " : ", ") : "", dirs[i]);
        free(dirs[i]);
    }
    fputs(" ('resa fetch' downloads it into the first)\n", stderr);
    return 1;
}
