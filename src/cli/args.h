/* SPDX-License-Identifier: MIT */
/* Command-line parsing helpers: options take their value as the next
 * argument or after '=', values are range-checked, errors are one line. */
#ifndef RESA_CLI_ARGS_H
#define RESA_CLI_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "model_path.h" /* default_model_path(), no_model_error() */
#include "resa.h"

typedef struct args {
    int argc, i;
    char **argv;
    const char *cmd;      /* subcommand, for messages */
    const char *opt;      /* the option being parsed */
    const char *inl;      /* value given as --opt=value, or NULL */
} args;

void args_init(args *a, const char *cmd, int argc, char **argv);
/* Next argument; sets a->opt. NULL at the end. */
const char *args_next(args *a);
/* Is the current argument this option (short or long form)? Handles --long=value. */
int args_is(args *a, const char *shrt, const char *lng);
/* The option's value: returns 0 and sets *out, or prints an error and returns -1. */
int args_str(args *a, const char **out);
int args_int(args *a, long lo, long hi, int *out);
int args_u64(args *a, uint64_t *out);
int args_float(args *a, double lo, double hi, float *out);

/* The value of --kv-type (f16 or f32); -1 with a message on a bad one. */
int args_kv_type(args *a, resa_kv_type *out);

/* Options every engine command shares: -t, -b, --kv-type, --cpu and the
 * sparse schedule (--block-size, --sparse-ratio, --min-blocks,
 * --local-blocks, --rect-every, --rect-policy, --rect-min, --rect-error,
 * --budget, --coverage, --max-ratio, --sparse-from), --swa-full. Returns 1 when the current argument was one
 * of them (value parsed into p), 0 when it is not, -1 on a bad value. */
int args_engine_option(args *a, resa_params *p, int *rect_given);
#define ENGINE_OPTIONS_HELP \
    "  -t, --threads N     threads (default: all online CPUs)\n" \
    "  -b, --batch N       prefill chunk size (default 512)\n" \
    "      --kv-type T     KV cache element type: f16 (default) or f32\n" \
    "      --backend B     cpu, cuda (the GPU module) or auto (CUDA when a GPU is\n" \
    "                      there, else the CPU); default $RESA_BACKEND, else cpu\n" \
    "      --block-size N  tokens per KV block (default 16)\n" \
    "      --sparse-ratio R  fraction of blocks a sparse step reads (default 0.1)\n" \
    "      --min-blocks N  read at least N blocks, or all there are (default 16)\n" \
    "      --local-blocks N  always read the last N blocks (default 1)\n" \
    "      --rect-every F  rectify after every F sparse steps (resa mode; default 32)\n" \
    "      --rect-policy P fixed (every --rect-every steps, the default) or error:\n" \
    "                      once the pending steps' estimated missed attention mass\n" \
    "                      adds up to --rect-error, after --rect-min to --rect-every steps\n" \
    "      --rect-min N    error policy: the shortest period (default 4)\n" \
    "      --rect-error E  error policy: the summed miss (each step's in [0, 1]) that\n" \
    "                      rectifies (default 2)\n" \
    "      --budget B      blocks a sparse step reads: fixed (--sparse-ratio, the default)\n" \
    "                      or adaptive: per KV head the fewest blocks covering --coverage\n" \
    "                      of the attention mass estimated from the block summaries\n" \
    "      --coverage P    adaptive: mass to cover, in (0, 1] (default 0.95)\n" \
    "      --max-ratio R   adaptive: read at most this fraction of the blocks, but at\n" \
    "                      least --min-blocks (default 0.5)\n" \
    "      --sparse-from N mode auto: decode steps at positions >= N are resa steps,\n" \
    "                      earlier ones dense (default min-blocks*block-size/sparse-ratio\n" \
    "                      times layers per non-windowed layer: 2560 with the defaults,\n" \
    "                      15360 on Gemma 3)\n" \
    "      --cpu TIER      cap the SIMD tier: scalar, avx2, avx512vnni (AVX-512 without\n" \
    "                      AMX), avx512, neon, native\n" \
    "      --allow-overcommit  allow a KV cache larger than physical memory\n" \
    "      --swa-full      sliding-window layers (gemma3) keep every position, not only\n" \
    "                      their window's ring: more memory, truncation to any position\n"
/* The schedule of p's mode must exist: 0, or -1 after printing why. */
int args_check_schedule(const char *cmd, resa_params *p, int rect_given);

/* Reads a whole file into a NUL-terminated buffer; NULL with a message on error. */
char *read_file(const char *path, size_t *len);
/* Same, but a file of more than max bytes is an error (named, one line) as
 * soon as byte max + 1 is read, so /dev/zero fails fast. */
char *read_file_max(const char *path, size_t max, size_t *len);
/* --max-prompt-bytes: the default cap on a prompt or text file (16 MiB, far
 * more text than any supported context holds) and the option's range. */
#define DEFAULT_MAX_PROMPT_BYTES (16L << 20)
#define MAX_PROMPT_BYTES_LIMIT (1L << 30)
#define MAX_PROMPT_HELP \
    "      --max-prompt-bytes N  refuse prompt/text files over N bytes (default 16777216)\n"

#endif
