/* SPDX-License-Identifier: MIT */
/* GGUF v2/v3 reader on a read-only mmap.
 *
 * Every count, offset and size is validated against the file before use, so a
 * hostile file cannot make us read out of bounds, allocate more than a small
 * multiple of the file size, or loop for long. Strings point into the mapping
 * and are NOT NUL-terminated. */
#ifndef RESA_GGUF_H
#define RESA_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "resa.h"

enum gguf_vtype {
    GGUF_UINT8 = 0, GGUF_INT8 = 1, GGUF_UINT16 = 2, GGUF_INT16 = 3,
    GGUF_UINT32 = 4, GGUF_INT32 = 5, GGUF_FLOAT32 = 6, GGUF_BOOL = 7,
    GGUF_STRING = 8, GGUF_ARRAY = 9, GGUF_UINT64 = 10, GGUF_INT64 = 11,
    GGUF_FLOAT64 = 12,
    GGUF_VTYPE_COUNT
};

typedef struct gguf_str {
    const char *ptr; /* into the mapping, not NUL-terminated */
    uint64_t len;
} gguf_str;

typedef struct gguf_kv {
    gguf_str key;
    enum gguf_vtype type;
    union {
        uint64_t u;  /* any unsigned integer type, and bool */
        int64_t i;   /* any signed integer type */
        double f;    /* float32 / float64 */
        gguf_str s;  /* string */
    } v;
    /* arrays (type == GGUF_ARRAY): element type, count, and elements.
     * Numeric arrays: arr_data points at the packed little-endian elements in
     * the mapping. String arrays: arr_strs is an allocated table of n strings. */
    enum gguf_vtype arr_type;
    uint64_t arr_n;
    const void *arr_data;
    gguf_str *arr_strs;
} gguf_kv;

#define GGUF_MAX_DIMS 4

typedef struct gguf_tensor {
    gguf_str name;
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS]; /* ne[0] is the contiguous (row) dimension; unused dims are 1 */
    uint32_t type;             /* ggml type id (see types.h) */
    uint64_t offset;           /* relative to the data section */
    uint64_t nbytes;
    const void *data;          /* into the mapping */
} gguf_tensor;

typedef struct gguf_file {
    const char *path;          /* copy, for messages */
    const uint8_t *base;
    size_t size;
    int mapped;                /* base is an mmap we own */
    int guard;                 /* map_guard slot of the mapping, -1 when none */
    uint32_t version;
    uint64_t n_kv, n_tensors;
    gguf_kv *kv;
    gguf_tensor *tensors;
    uint64_t alignment;
    uint64_t data_offset;
} gguf_file;

/* Opens and validates a file. On failure *out is NULL and the error names path. */
resa_status gguf_open(const char *path, gguf_file **out);
/* Same, on a buffer the caller keeps alive (tests, fuzzing). name is for messages. */
resa_status gguf_parse(const void *buf, size_t size, const char *name, gguf_file **out);
void gguf_close(gguf_file *f);
/* Did the mapped file shrink under us (a read past its new end)? Then the
 * tensor data read since is zeros, not the model (docs/design.md §5.7). */
bool gguf_damaged(const gguf_file *f);

const gguf_kv *gguf_find_kv(const gguf_file *f, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name);
bool gguf_str_eq(gguf_str s, const char *cstr);

/* Typed getters. Integer getters accept any integer type whose value fits;
 * return RESA_ERR_FORMAT (message names key) when missing or of the wrong type. */
resa_status gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out);
resa_status gguf_get_f32(const gguf_file *f, const char *key, float *out);
resa_status gguf_get_str(const gguf_file *f, const char *key, gguf_str *out);
/* ggml's name of a tensor type ("Q4_K", "IQ2_XXS"), "unknown" for ids no GGUF version defines. */
const char *gguf_type_name(uint32_t type);
/* Optional variants: leave *out unchanged and return RESA_OK when the key is absent. */
resa_status gguf_get_u32_opt(const gguf_file *f, const char *key, uint32_t *out);
resa_status gguf_get_f32_opt(const gguf_file *f, const char *key, float *out);
resa_status gguf_get_bool_opt(const gguf_file *f, const char *key, bool *out);
/* Array of the given element type; returns the kv (for arr_n/arr_data/arr_strs). */
resa_status gguf_get_arr(const gguf_file *f, const char *key, enum gguf_vtype elem,
                         const gguf_kv **out);

const char *gguf_vtype_name(enum gguf_vtype t);

#endif
