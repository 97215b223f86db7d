/* SPDX-License-Identifier: MIT */
#include "config.h"

#include "args.h"

#include <errno.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

void args_init(args *a, const char *cmd, int argc, char **argv)
{
    a->argc = argc;
    a->argv = argv;
    a->i = 0;
    a->cmd = cmd;
    a->opt = NULL;
    a->inl = NULL;
}

const char *args_next(args *a)
{
    if (++a->i >= a->argc)
        return NULL;
    a->opt = a->argv[a->i];
    a->inl = NULL;
    return a->opt;
}

int args_is(args *a, const char *shrt, const char *lng)
{
    if (shrt && strcmp(a->opt, shrt) == 0)
        return 1;
    if (!lng)
        return 0;
    size_t n = strlen(lng);
    if (strncmp(a->opt, lng, n) != 0)
        return 0;
    if (a->opt[n] == '\0')
        return 1;
    if (a->opt[n] == '=') {
        a->inl = a->opt + n + 1;
        return 1;
    }
    return 0;
}

int args_str(args *a, const char **out)
{
    if (a->inl) {
        *out = a->inl;
        return 0;
    }
    if (a->i + 1 >= a->argc) {
        cli_error("%s: option %s needs a value", a->cmd, a->opt);
        return -1;
    }
    *out = a->argv[++a->i];
    return 0;
}

int args_int(args *a, long lo, long hi, int *out)
{
    const char *opt = a->opt, *s;
    if (args_str(a, &s))
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        cli_error("%s: %s wants an integer in [%ld, %ld], got '%s'", a->cmd, opt, lo, hi, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int args_u64(args *a, uint64_t *out)
{
    const char *opt = a->opt, *s;
    if (args_str(a, &s))
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') {
        cli_error("%s: %s wants a non-negative integer, got '%s'", a->cmd, opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

int args_float(args *a, double lo, double hi, float *out)
{
    const char *opt = a->opt, *s;
    if (args_str(a, &s))
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) {
        cli_error("%s: %s wants a number in [%g, %g], got '%s'", a->cmd, opt, lo, hi, s);
        return -1;
    }
    *out = (float)v;
    return 0;
}

char *read_file(const char *path, size_t *len) { return read_file_max(path, SIZE_MAX - 1, len); }

char *read_file_max(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_error("%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n > max)
            break;
        if (n < cap - 1)
            break;
        char *p = realloc(buf, cap * 2);
        if (!p) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = p;
        cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (buf && n > max) {
        free(buf);
        cli_error("%s: more than %zu bytes (see --max-prompt-bytes)", path, max);
        return NULL;
    }
    if (!buf || err) {
        free(buf);
        cli_error("%s: %s", path, buf ? "read error" : "out of memory");
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

int args_kv_type(args *a, resa_kv_type *out)
{
    const char *t;
    if (args_str(a, &t))
        return -1;
    if (strcmp(t, "f16") && strcmp(t, "f32")) {
        cli_error("%s: --kv-type wants f16 or f32, got '%s'", a->cmd, t);
        return -1;
    }
    *out = strcmp(t, "f16") ? RESA_KV_F32 : RESA_KV_F16;
    return 0;
}

int args_engine_option(args *a, resa_params *p, int *rect_given)
{
    const char *t;
    if (args_is(a, "-t", "--threads")) {
        if (args_int(a, 1, 4096, &p->n_threads))
            return -1;
        /* Allowed (a benchmark may want it), but threads then share CPUs and
         * an item a descheduled thread holds waits for its next time slice. */
        const long n_cpus = sysconf(_SC_NPROCESSORS_ONLN);
        if (n_cpus > 0 && p->n_threads > n_cpus)
            fprintf(stderr, "resa: %s: warning: -t %d is more than the %ld online CPUs; threads will share them\n",
                    a->cmd, p->n_threads, n_cpus);
        return 1;
    }
    if (args_is(a, "-b", "--batch"))
        return args_int(a, 1, 1 << 16, &p->n_batch) ? -1 : 1;
    if (args_is(a, NULL, "--block-size"))
        return args_int(a, 1, 4096, &p->block_size) ? -1 : 1;
    if (args_is(a, NULL, "--sparse-ratio"))
        return args_float(a, 1e-6, 1, &p->sparse_ratio) ? -1 : 1;
    if (args_is(a, NULL, "--min-blocks"))
        return args_int(a, 0, 1 << 24, &p->min_blocks) ? -1 : 1;
    if (args_is(a, NULL, "--local-blocks"))
        return args_int(a, 1, 1 << 24, &p->local_blocks) ? -1 : 1;
    if (args_is(a, NULL, "--rect-every")) {
        *rect_given = 1;
        return args_int(a, 0, 1 << 20, &p->rect_every) ? -1 : 1;
    }
    if (args_is(a, NULL, "--budget")) {
        if (args_str(a, &t))
            return -1;
        if (strcmp(t, "fixed") && strcmp(t, "adaptive")) {
            cli_error("%s: --budget wants fixed or adaptive, got '%s'", a->cmd, t);
            return -1;
        }
        p->budget = strcmp(t, "fixed") ? RESA_BUDGET_ADAPTIVE : RESA_BUDGET_FIXED;
        return 1;
    }
    if (args_is(a, NULL, "--coverage"))
        return args_float(a, 1e-6, 1, &p->coverage) ? -1 : 1;
    if (args_is(a, NULL, "--max-ratio"))
        return args_float(a, 1e-6, 1, &p->max_ratio) ? -1 : 1;
    if (args_is(a, NULL, "--rect-policy")) {
        if (args_str(a, &t))
            return -1;
        if (strcmp(t, "fixed") && strcmp(t, "error")) {
            cli_error("%s: --rect-policy wants fixed or error, got '%s'", a->cmd, t);
            return -1;
        }
        p->rect_policy = strcmp(t, "fixed") ? RESA_RECT_ERROR : RESA_RECT_FIXED;
        return 1;
    }
    if (args_is(a, NULL, "--rect-min"))
        return args_int(a, 1, 1 << 20, &p->rect_min) ? -1 : 1;
    if (args_is(a, NULL, "--rect-error"))
        return args_float(a, 1e-6, 1e6, &p->rect_error) ? -1 : 1;
    if (args_is(a, NULL, "--sparse-from"))
        return args_int(a, 0, 1 << 30, &p->sparse_from) ? -1 : 1;
    if (args_is(a, NULL, "--backend")) {
        if (args_str(a, &p->backend))
            return -1;
        if (strcmp(p->backend, "cpu") && strcmp(p->backend, "cuda") && strcmp(p->backend, "auto")) {
            cli_error("%s: --backend wants cpu, cuda or auto, got '%s'", a->cmd, p->backend);
            return -1;
        }
        return 1;
    }
    if (args_is(a, NULL, "--allow-overcommit")) {
        p->allow_overcommit = 1;
        return 1;
    }
    if (args_is(a, NULL, "--swa-full")) {
        p->swa_full = 1;
        return 1;
    }
    if (args_is(a, NULL, "--kv-type"))
        return args_kv_type(a, &p->kv_type) ? -1 : 1;
    if (args_is(a, NULL, "--cpu")) {
        if (args_str(a, &t))
            return -1;
        if (resa_set_cpu(t)) {
            cli_error("%s: %s", a->cmd, resa_last_error());
            return -1;
        }
        return 1;
    }
    return 0;
}

int args_check_schedule(const char *cmd, resa_params *p, int rect_given)
{
    if (p->mode == RESA_MODE_SPARSE && rect_given && p->rect_every > 0) {
        cli_error("%s: --mode sparse never rectifies; use --mode resa with --rect-every", cmd);
        return -1;
    }
    if (p->mode == RESA_MODE_SPARSE)
        p->rect_every = 0;
    if ((p->mode == RESA_MODE_RESA || p->mode == RESA_MODE_AUTO) && p->rect_every == 0) {
        cli_error("%s: --rect-every 0 never rectifies; use --mode sparse for that", cmd);
        return -1;
    }
    return 0;
}
