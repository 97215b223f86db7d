/* Command-line parsing helpers: options take their value as the next
 * argument or after '=', values are range-checked, errors are one line. */
#ifndef RESA_CLI_ARGS_H
#define RESA_CLI_ARGS_H

#include <stddef.h>
#include <stdint.h>

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

/* Reads a whole file into a NUL-terminated buffer; NULL with a message on error. */
char *read_file(const char *path, size_t *len);
/* -m's default: $RESA_MODEL, then the fetched default model; NULL if none exists. */
const char *default_model_path(void);

#endif
