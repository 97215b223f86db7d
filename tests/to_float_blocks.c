/* SPDX-License-Identifier: MIT */
/* to_float_blocks — resa's reference dequantizer on raw blocks, for the
 * comparison with gguf's numpy dequantizers (tests/check_dequant.py).
 *
 *   to_float_blocks TYPE IN OUT
 *
 * TYPE is a type name as resa prints it (q4_k, q5_0, ...); IN holds whole
 * blocks of that type; OUT receives the float32 values (host order). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "types.h"

static int die(const char *msg, const char *arg)
{
    fprintf(stderr, "to_float_blocks: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return die("usage: to_float_blocks TYPE IN OUT", NULL);
    const resa_type_traits *tr = NULL;
    for (uint32_t t = 0; t < RESA_TYPE_COUNT && !tr; t++)
        if (type_traits_get(t) && !strcmp(type_traits_get(t)->name, argv[1]))
            tr = type_traits_get(t);
    if (!tr)
        return die("unknown type", argv[1]);
    FILE *f = fopen(argv[2], "rb");
    if (!f)
        return die("cannot open", argv[2]);
    fseek(f, 0, SEEK_END);
    const long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (size <= 0 || size % (long)tr->type_size) {
        fclose(f);
        return die("input is not a whole number of blocks", argv[2]);
    }
    const int64_t n = size / (long)tr->type_size * tr->block_size;
    void *src = malloc((size_t)size);
    float *dst = malloc((size_t)n * sizeof *dst);
    if (!src || !dst || fread(src, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        return die("cannot read", argv[2]);
    }
    fclose(f);
    tr->to_float(src, dst, n);
    FILE *o = fopen(argv[3], "wb");
    if (!o || fwrite(dst, sizeof *dst, (size_t)n, o) != (size_t)n || fclose(o))
        return die("cannot write", argv[3]);
    free(src);
    free(dst);
    return 0;
}
