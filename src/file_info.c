/* SPDX-License-Identifier: MIT */
/* resa_file_inspect (contract in resa.h): the GGUF layer's view of a file,
 * without an architecture, weights or a tokenizer, so that `resa info` can
 * describe files resa cannot run (docs/design.md §5). */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gguf.h"
#include "printable.h"
#include "resa.h"
#include "types.h"

struct resa_file_info {
    gguf_file *gguf;
};

resa_status resa_file_inspect(const char *path, resa_file_info **out)
{
    if (!out)
        return error_set(RESA_ERR_ARG, "resa_file_inspect: NULL output pointer");
    *out = NULL;
    if (!path)
        return error_set(RESA_ERR_ARG, "resa_file_inspect: NULL path");
    resa_file_info *f = calloc(1, sizeof *f);
    if (!f)
        return error_set(RESA_ERR_NOMEM, "out of memory");
    resa_status st = gguf_open(path, &f->gguf);
    if (st) {
        free(f);
        return st;
    }
    *out = f;
    return RESA_OK;
}

void resa_file_info_free(resa_file_info *f)
{
    if (!f)
        return;
    gguf_close(f->gguf);
    free(f);
}

const char *resa_file_info_str(const resa_file_info *f, const char *key, char *buf, size_t cap)
{
    gguf_str s;
    if (!f || !key || !buf || !cap || gguf_get_str(f->gguf, key, &s) != RESA_OK) {
        error_clear();
        return NULL;
    }
    return resa_printable(buf, cap, s.ptr, (size_t)s.len);
}

int resa_file_info_n_tensors(const resa_file_info *f)
{
    return f ? (int)f->gguf->n_tensors : 0;
}

resa_status resa_file_info_tensor(const resa_file_info *f, int i, const char **name, size_t *name_len,
                                  const char **type_name, int64_t shape[4], int *n_dims, uint64_t *nbytes,
                                  int *supported)
{
    if (!f || !name || !name_len || !type_name || !shape || !n_dims || !nbytes || !supported)
        return error_set(RESA_ERR_ARG, "resa_file_info_tensor: NULL argument");
    if (i < 0 || (uint64_t)i >= f->gguf->n_tensors)
        return error_set(RESA_ERR_ARG, "tensor index %d out of range", i);
    const gguf_tensor *t = &f->gguf->tensors[i];
    *name = t->name.ptr;
    *name_len = (size_t)t->name.len;
    *type_name = gguf_type_name(t->type);
    for (int d = 0; d < 4; d++)
        shape[d] = t->ne[d]; /* unused dimensions are 1 (gguf.h) */
    *n_dims = (int)t->n_dims;
    *nbytes = t->nbytes;
    *supported = type_is_weight(t->type);
    return RESA_OK;
}
