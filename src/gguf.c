/* SPDX-License-Identifier: MIT */
/* GGUF v2/v3 reader.
 *
 * The header is walked once with a bounds-checked cursor (struct reader).
 * Every length or count read from the file is compared with the bytes that
 * remain before it is used, and every allocation is bounded by what the
 * remaining bytes could encode, so a hostile file costs at most a few times
 * its own size in memory, and time about linear in its size (n log n for the
 * duplicate checks). All multi-byte fields are decoded byte by byte as
 * little-endian, so the reader depends neither on the host byte order nor on
 * the alignment of the buffer. */
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "map_guard.h"
#include "printable.h"
#include "types.h"

#define GGUF_DEFAULT_ALIGNMENT 32
/* Arrays of arrays are legal GGUF but unused by the models we load: we accept
 * one level of nesting (validated and skipped) and refuse deeper ones, which
 * also bounds the recursion. */
#define GGUF_MAX_ARRAY_DEPTH 2

/* Smallest possible encodings, used to bound counts before allocating:
 * kv = key length + 1 key byte + value type + 1 value byte;
 * tensor info = name length + 1 name byte + n_dims + one ne + type + offset;
 * string = its length field; nested array = element type + count. */
#define MIN_KV_BYTES (8 + 1 + 4 + 1)
#define MIN_TENSOR_INFO_BYTES (8 + 1 + 4 + 8 + 4 + 8)
#define MIN_STRING_BYTES 8
#define MIN_NESTED_ARRAY_BYTES (4 + 8)

#define TRY(expr)                                 \
    do {                                          \
        resa_status try_st_ = (expr);             \
        if (try_st_ != RESA_OK) return try_st_;   \
    } while (0)

/* The public struct plus private lookup tables; gguf_file * points at pub. */
typedef struct gguf_impl {
    gguf_file pub;
    char *path_copy;
    const gguf_kv **kv_sorted;         /* by key, for duplicate checks and lookup */
    const gguf_tensor **tensor_sorted; /* by name */
} gguf_impl;

/* A cursor over the file, plus what it is reading, for messages. */
typedef struct reader {
    const uint8_t *base;
    size_t size, pos;
    const char *name;    /* file name, first word of every message */
    const char *what;    /* section being read: "header", "key/value", ... */
    uint64_t idx, count; /* item idx (0-based) of count; count 0: not itemised */
    gguf_str item_name;  /* key or tensor name of that item, once read */
} reader;

/* ---------------------------------------------------------------- messages */

/* A name from the file for a message: escaped, cut (docs/design.md §5.6). */
static const char *printable(gguf_str s, char buf[RESA_PRINTABLE_BUF])
{
    return resa_printable(buf, RESA_PRINTABLE_BUF, s.ptr, (size_t)s.len);
}

static void describe_item(const reader *r, char *buf, size_t n)
{
    if (r->count)
        snprintf(buf, n, "%s %" PRIu64 " of %" PRIu64, r->what, r->idx + 1, r->count);
    else
        snprintf(buf, n, "%s", r->what);
}

static resa_status fail_truncated(const reader *r, uint64_t need)
{
    char item[96], name[RESA_PRINTABLE_BUF + 8] = "", buf[RESA_PRINTABLE_BUF];
    describe_item(r, item, sizeof item);
    if (r->item_name.len)
        snprintf(name, sizeof name, " '%s'", printable(r->item_name, buf));
    return error_set(RESA_ERR_FORMAT,
                     "%s: truncated file (%s%s runs past the end: needs %" PRIu64
                     " bytes at byte %zu, file has %zu)",
                     r->name, item, name, need, r->pos, r->size);
}

/* An error about the item being read: "file: tensor info 3 of 9: <msg>". */
static resa_status fail_item(const reader *r, resa_status st, const char *fmt, ...)
    RESA_PRINTF(3, 4);
static resa_status fail_item(const reader *r, resa_status st, const char *fmt, ...)
{
    char item[96], msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    describe_item(r, item, sizeof item);
    return error_set(st, "%s: %s: %s", r->name, item, msg);
}

/* Every ggml tensor type a GGUF file may hold: its name, elements per block
 * and bytes per block (ggml's block layouts; tests/test_info.sh checks them
 * against gguf-py's table). A file is sized and described with this table;
 * which types resa computes with is types.c's business (model.c checks). */
static const struct ggml_layout {
    const char *name;
    int block_size;
    int type_size;
} ggml_layouts[] = {
    [0] = { "F32", 1, 4 },        [1] = { "F16", 1, 2 },         [2] = { "Q4_0", 32, 18 },
    [3] = { "Q4_1", 32, 20 },     [6] = { "Q5_0", 32, 22 },      [7] = { "Q5_1", 32, 24 },
    [8] = { "Q8_0", 32, 34 },     [9] = { "Q8_1", 32, 36 },      [10] = { "Q2_K", 256, 84 },
    [11] = { "Q3_K", 256, 110 },  [12] = { "Q4_K", 256, 144 },   [13] = { "Q5_K", 256, 176 },
    [14] = { "Q6_K", 256, 210 },  [15] = { "Q8_K", 256, 292 },   [16] = { "IQ2_XXS", 256, 66 },
    [17] = { "IQ2_XS", 256, 74 }, [18] = { "IQ3_XXS", 256, 98 }, [19] = { "IQ1_S", 256, 50 },
    [20] = { "IQ4_NL", 32, 18 },  [21] = { "IQ3_S", 256, 110 },  [22] = { "IQ2_S", 256, 82 },
    [23] = { "IQ4_XS", 256, 136 },[24] = { "I8", 1, 1 },         [25] = { "I16", 1, 2 },
    [26] = { "I32", 1, 4 },       [27] = { "I64", 1, 8 },        [28] = { "F64", 1, 8 },
    [29] = { "IQ1_M", 256, 56 },  [30] = { "BF16", 1, 2 },       [34] = { "TQ1_0", 256, 54 },
    [35] = { "TQ2_0", 256, 66 },  [39] = { "MXFP4", 32, 17 },    [40] = { "NVFP4", 64, 36 },
    [41] = { "Q1_0", 128, 18 },   [42] = { "Q2_0", 64, 18 },
};

static const struct ggml_layout *ggml_layout_of(uint32_t type)
{
    return type < sizeof ggml_layouts / sizeof ggml_layouts[0] && ggml_layouts[type].name ? &ggml_layouts[type]
                                                                                         : NULL;
}

const char *gguf_type_name(uint32_t type)
{
    const struct ggml_layout *l = ggml_layout_of(type);
    return l ? l->name : "unknown";
}

const char *gguf_vtype_name(enum gguf_vtype t)
{
    static const char *const names[GGUF_VTYPE_COUNT] = {
        "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool",
        "string", "array", "u64", "i64", "f64",
    };
    return (unsigned)t < GGUF_VTYPE_COUNT ? names[t] : "unknown";
}

/* ------------------------------------------------------- bounded reading */

static size_t remaining(const reader *r) { return r->size - r->pos; }

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    return (b && a > UINT64_MAX / b) ? UINT64_MAX : a * b;
}

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

static resa_status read_bytes(reader *r, uint64_t n, const uint8_t **out)
{
    *out = NULL; /* never read on failure; set so the compiler can see that */
    if (n > remaining(r))
        return fail_truncated(r, n);
    *out = r->base + r->pos;
    r->pos += (size_t)n;
    return RESA_OK;
}

static resa_status read_u32(reader *r, uint32_t *v)
{
    const uint8_t *p;
    TRY(read_bytes(r, 4, &p));
    *v = le32(p);
    return RESA_OK;
}

static resa_status read_u64(reader *r, uint64_t *v)
{
    const uint8_t *p;
    TRY(read_bytes(r, 8, &p));
    *v = le64(p);
    return RESA_OK;
}

static resa_status read_str(reader *r, gguf_str *s)
{
    const uint8_t *p;
    uint64_t len;
    TRY(read_u64(r, &len));
    TRY(read_bytes(r, len, &p));
    s->ptr = (const char *)p;
    s->len = len;
    return RESA_OK;
}

/* Rejects a count of items that could not fit in the rest of the file. */
static resa_status check_count(const reader *r, uint64_t n, size_t min_bytes, const char *what)
{
    if (n <= remaining(r) / min_bytes)
        return RESA_OK;
    return error_set(RESA_ERR_FORMAT,
                     "%s: header claims %" PRIu64 " %s, but the %zu bytes left after byte %zu"
                     " hold at most %zu",
                     r->name, n, what, remaining(r), r->pos, remaining(r) / min_bytes);
}

/* Keys and tensor names are looked up as C strings, so they must be non-empty
 * and free of NUL bytes (otherwise two distinct names could compare equal). */
static resa_status check_name(const reader *r, gguf_str s, const char *kind)
{
    char buf[RESA_PRINTABLE_BUF];
    if (s.len == 0)
        return fail_item(r, RESA_ERR_FORMAT, "empty %s", kind);
    if (memchr(s.ptr, '\0', (size_t)s.len))
        return fail_item(r, RESA_ERR_FORMAT, "%s '%s' contains a NUL byte", kind,
                         printable(s, buf));
    return RESA_OK;
}

/* ------------------------------------------------------------ key/values */

/* Bytes of one element of a fixed-size type; 0 for string and array. */
static size_t vtype_size(uint32_t t)
{
    static const size_t sizes[GGUF_VTYPE_COUNT] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };
    return t < GGUF_VTYPE_COUNT ? sizes[t] : 0;
}

static resa_status fail_bool(const reader *r, gguf_str key, unsigned value)
{
    char buf[RESA_PRINTABLE_BUF];
    return fail_item(r, RESA_ERR_FORMAT, "key '%s': bool value %u is neither 0 nor 1",
                     printable(key, buf), value);
}

static resa_status read_scalar(reader *r, gguf_kv *kv)
{
    const uint8_t *p;
    uint32_t u32;
    uint64_t u64;
    float f32;
    TRY(read_bytes(r, vtype_size(kv->type), &p));
    switch (kv->type) {
    case GGUF_UINT8: kv->v.u = p[0]; break;
    case GGUF_INT8: kv->v.i = (int8_t)p[0]; break;
    case GGUF_UINT16: kv->v.u = le16(p); break;
    case GGUF_INT16: kv->v.i = (int16_t)le16(p); break;
    case GGUF_UINT32: kv->v.u = le32(p); break;
    case GGUF_INT32: kv->v.i = (int32_t)le32(p); break;
    case GGUF_UINT64: kv->v.u = le64(p); break;
    case GGUF_INT64: kv->v.i = (int64_t)le64(p); break;
    case GGUF_FLOAT32:
        u32 = le32(p);
        memcpy(&f32, &u32, sizeof f32);
        kv->v.f = f32;
        break;
    case GGUF_FLOAT64:
        u64 = le64(p);
        memcpy(&kv->v.f, &u64, sizeof kv->v.f);
        break;
    case GGUF_BOOL:
        /* The spec calls any other byte invalid. */
        if (p[0] > 1)
            return fail_bool(r, kv->key, p[0]);
        kv->v.u = p[0];
        break;
    default: break; /* string and array are read elsewhere */
    }
    return RESA_OK;
}

static resa_status check_elem_type(const reader *r, gguf_str key, uint32_t t)
{
    char buf[RESA_PRINTABLE_BUF];
    if (t < GGUF_VTYPE_COUNT)
        return RESA_OK;
    return fail_item(r, RESA_ERR_FORMAT, "key '%s': array has unknown element type %" PRIu32,
                     printable(key, buf), t);
}

/* Validates n values of type t and steps over them. depth counts the arrays
 * enclosing these values (1 for the elements of a top-level array). */
static resa_status skip_values(reader *r, gguf_str key, uint32_t t, uint64_t n, int depth)
{
    char buf[RESA_PRINTABLE_BUF];
    if (t == GGUF_STRING) {
        gguf_str s;
        if (n > remaining(r) / MIN_STRING_BYTES)
            return fail_truncated(r, sat_mul(n, MIN_STRING_BYTES));
        for (uint64_t i = 0; i < n; i++)
            TRY(read_str(r, &s));
        return RESA_OK;
    }
    if (t == GGUF_ARRAY) {
        if (depth >= GGUF_MAX_ARRAY_DEPTH)
            return fail_item(r, RESA_ERR_FORMAT, "key '%s': arrays nested more than %d deep",
                             printable(key, buf), GGUF_MAX_ARRAY_DEPTH);
        if (n > remaining(r) / MIN_NESTED_ARRAY_BYTES)
            return fail_truncated(r, sat_mul(n, MIN_NESTED_ARRAY_BYTES));
        for (uint64_t i = 0; i < n; i++) {
            uint32_t et;
            uint64_t m;
            TRY(read_u32(r, &et));
            TRY(read_u64(r, &m));
            TRY(check_elem_type(r, key, et));
            TRY(skip_values(r, key, et, m, depth + 1));
        }
        return RESA_OK;
    }
    const uint8_t *p;
    TRY(read_bytes(r, sat_mul(n, vtype_size(t)), &p));
    if (t == GGUF_BOOL)
        for (uint64_t i = 0; i < n; i++)
            if (p[i] > 1)
                return fail_bool(r, key, p[i]);
    return RESA_OK;
}

/* String arrays get a table of gguf_str (the tokenizer vocabulary lives here). */
static resa_status read_string_table(reader *r, gguf_kv *kv)
{
    if (kv->arr_n > remaining(r) / MIN_STRING_BYTES)
        return fail_truncated(r, sat_mul(kv->arr_n, MIN_STRING_BYTES));
    if (kv->arr_n == 0)
        return RESA_OK;
    kv->arr_strs = calloc((size_t)kv->arr_n, sizeof *kv->arr_strs);
    if (!kv->arr_strs)
        return error_set(RESA_ERR_NOMEM, "%s: out of memory for a table of %" PRIu64 " strings",
                         r->name, kv->arr_n);
    for (uint64_t i = 0; i < kv->arr_n; i++)
        TRY(read_str(r, &kv->arr_strs[i]));
    return RESA_OK;
}

static resa_status read_array(reader *r, gguf_kv *kv)
{
    uint32_t et;
    TRY(read_u32(r, &et));
    TRY(read_u64(r, &kv->arr_n));
    TRY(check_elem_type(r, kv->key, et));
    kv->arr_type = (enum gguf_vtype)et;
    kv->arr_data = r->base + r->pos;
    if (et == GGUF_STRING)
        return read_string_table(r, kv);
    return skip_values(r, kv->key, et, kv->arr_n, 1);
}

static resa_status read_kv(reader *r, gguf_kv *kv)
{
    char buf[RESA_PRINTABLE_BUF];
    uint32_t type;
    r->item_name.len = 0;
    TRY(read_str(r, &kv->key));
    TRY(check_name(r, kv->key, "key"));
    r->item_name = kv->key;
    TRY(read_u32(r, &type));
    if (type >= GGUF_VTYPE_COUNT)
        return fail_item(r, RESA_ERR_FORMAT, "key '%s' has unknown value type %" PRIu32,
                         printable(kv->key, buf), type);
    kv->type = (enum gguf_vtype)type;
    if (type == GGUF_STRING)
        return read_str(r, &kv->v.s);
    if (type == GGUF_ARRAY)
        return read_array(r, kv);
    return read_scalar(r, kv);
}

static resa_status read_kvs(reader *r, gguf_file *f)
{
    TRY(check_count(r, f->n_kv, MIN_KV_BYTES, "key/value pairs"));
    f->kv = calloc(f->n_kv ? (size_t)f->n_kv : 1, sizeof *f->kv);
    if (!f->kv)
        return error_set(RESA_ERR_NOMEM, "%s: out of memory for %" PRIu64 " key/value pairs",
                         r->name, f->n_kv);
    r->what = "key/value";
    r->count = f->n_kv;
    for (r->idx = 0; r->idx < f->n_kv; r->idx++)
        TRY(read_kv(r, &f->kv[r->idx]));
    return RESA_OK;
}

/* ----------------------------------------------------------- tensor infos */

/* Sets nbytes; rejects shapes and types we cannot size safely. */
static resa_status check_tensor_shape(const reader *r, gguf_tensor *t)
{
    char buf[RESA_PRINTABLE_BUF];
    const char *name = printable(t->name, buf);
    int64_t nel = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        if (t->ne[d] <= 0)
            return fail_item(r, RESA_ERR_FORMAT, "tensor '%s' has size %" PRId64 " in dimension %" PRIu32,
                             name, t->ne[d], d);
        if (nel > INT64_MAX / t->ne[d])
            return fail_item(r, RESA_ERR_FORMAT, "tensor '%s': element count overflows 64 bits",
                             name);
        nel *= t->ne[d];
    }
    const struct ggml_layout *tr = ggml_layout_of(t->type);
    if (!tr)
        return fail_item(r, RESA_ERR_FORMAT, "tensor '%s' has type %" PRIu32 ", which no GGUF version defines",
                         name, t->type);
    if (t->ne[0] % tr->block_size != 0)
        return fail_item(r, RESA_ERR_FORMAT,
                         "tensor '%s' (%s): row length %" PRId64 " is not a multiple of the block size %d",
                         name, tr->name, t->ne[0], tr->block_size);
    uint64_t blocks = (uint64_t)(nel / tr->block_size);
    if (blocks > UINT64_MAX / (uint64_t)tr->type_size)
        return fail_item(r, RESA_ERR_FORMAT, "tensor '%s': data size overflows 64 bits", name);
    t->nbytes = blocks * (uint64_t)tr->type_size;
    return RESA_OK;
}

static resa_status read_tensor_info(reader *r, gguf_tensor *t)
{
    char buf[RESA_PRINTABLE_BUF];
    uint64_t ne;
    r->item_name.len = 0;
    TRY(read_str(r, &t->name));
    TRY(check_name(r, t->name, "tensor name"));
    r->item_name = t->name;
    TRY(read_u32(r, &t->n_dims));
    if (t->n_dims == 0 || t->n_dims > GGUF_MAX_DIMS)
        return fail_item(r, RESA_ERR_FORMAT, "tensor '%s' has %" PRIu32 " dimensions (1 to %d allowed)",
                         printable(t->name, buf), t->n_dims, GGUF_MAX_DIMS);
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        ne = 1;
        if (d < t->n_dims)
            TRY(read_u64(r, &ne));
        t->ne[d] = (int64_t)ne; /* huge values turn negative and are rejected below */
    }
    TRY(read_u32(r, &t->type));
    TRY(read_u64(r, &t->offset));
    return check_tensor_shape(r, t);
}

static resa_status read_tensor_infos(reader *r, gguf_file *f)
{
    r->what = "tensor info";
    r->count = 0;
    TRY(check_count(r, f->n_tensors, MIN_TENSOR_INFO_BYTES, "tensors"));
    f->tensors = calloc(f->n_tensors ? (size_t)f->n_tensors : 1, sizeof *f->tensors);
    if (!f->tensors)
        return error_set(RESA_ERR_NOMEM, "%s: out of memory for %" PRIu64 " tensor infos",
                         r->name, f->n_tensors);
    r->count = f->n_tensors;
    for (r->idx = 0; r->idx < f->n_tensors; r->idx++)
        TRY(read_tensor_info(r, &f->tensors[r->idx]));
    return RESA_OK;
}

/* ----------------------------------------------- lookup tables, duplicates */

static int cmp_str(gguf_str a, gguf_str b)
{
    size_t n = (size_t)(a.len < b.len ? a.len : b.len);
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
    if (c)
        return c;
    return (a.len > b.len) - (a.len < b.len);
}

static int cmp_kv_ptr(const void *a, const void *b)
{
    return cmp_str((*(const gguf_kv *const *)a)->key, (*(const gguf_kv *const *)b)->key);
}

static int cmp_tensor_ptr(const void *a, const void *b)
{
    return cmp_str((*(const gguf_tensor *const *)a)->name, (*(const gguf_tensor *const *)b)->name);
}

/* Sorting (rather than comparing all pairs) keeps a file with millions of
 * keys from costing quadratic time; the sorted table then serves lookups. */
static resa_status index_kvs(gguf_impl *impl)
{
    gguf_file *f = &impl->pub;
    char buf[RESA_PRINTABLE_BUF];
    impl->kv_sorted = malloc((f->n_kv ? (size_t)f->n_kv : 1) * sizeof *impl->kv_sorted);
    if (!impl->kv_sorted)
        return error_set(RESA_ERR_NOMEM, "%s: out of memory indexing keys", f->path);
    for (uint64_t i = 0; i < f->n_kv; i++)
        impl->kv_sorted[i] = &f->kv[i];
    if (f->n_kv > 1)
        qsort(impl->kv_sorted, (size_t)f->n_kv, sizeof *impl->kv_sorted, cmp_kv_ptr);
    for (uint64_t i = 1; i < f->n_kv; i++)
        if (cmp_str(impl->kv_sorted[i - 1]->key, impl->kv_sorted[i]->key) == 0)
            return error_set(RESA_ERR_FORMAT, "%s: duplicate key '%s'", f->path,
                             printable(impl->kv_sorted[i]->key, buf));
    return RESA_OK;
}

static resa_status index_tensors(gguf_impl *impl)
{
    gguf_file *f = &impl->pub;
    char buf[RESA_PRINTABLE_BUF];
    impl->tensor_sorted = malloc((f->n_tensors ? (size_t)f->n_tensors : 1) * sizeof *impl->tensor_sorted);
    if (!impl->tensor_sorted)
        return error_set(RESA_ERR_NOMEM, "%s: out of memory indexing tensors", f->path);
    for (uint64_t i = 0; i < f->n_tensors; i++)
        impl->tensor_sorted[i] = &f->tensors[i];
    if (f->n_tensors > 1)
        qsort(impl->tensor_sorted, (size_t)f->n_tensors, sizeof *impl->tensor_sorted, cmp_tensor_ptr);
    for (uint64_t i = 1; i < f->n_tensors; i++)
        if (cmp_str(impl->tensor_sorted[i - 1]->name, impl->tensor_sorted[i]->name) == 0)
            return error_set(RESA_ERR_FORMAT, "%s: duplicate tensor name '%s'", f->path,
                             printable(impl->tensor_sorted[i]->name, buf));
    return RESA_OK;
}

/* ---------------------------------------------------------- data section */

static resa_status read_alignment(gguf_file *f)
{
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    const gguf_kv *kv = gguf_find_kv(f, "general.alignment");
    if (!kv)
        return RESA_OK;
    if (kv->type != GGUF_UINT32)
        return error_set(RESA_ERR_FORMAT, "%s: general.alignment has type %s (expected u32)",
                         f->path, gguf_vtype_name(kv->type));
    if (kv->v.u == 0 || (kv->v.u & (kv->v.u - 1)) != 0)
        return error_set(RESA_ERR_FORMAT,
                         "%s: general.alignment is %" PRIu64 " (must be a nonzero power of two)",
                         f->path, kv->v.u);
    f->alignment = kv->v.u;
    return RESA_OK;
}

static resa_status place_tensor(gguf_file *f, gguf_tensor *t, uint64_t data_size)
{
    char buf[RESA_PRINTABLE_BUF];
    if (t->offset % f->alignment != 0)
        return error_set(RESA_ERR_FORMAT,
                         "%s: tensor '%s' data offset %" PRIu64 " is not a multiple of the alignment %" PRIu64,
                         f->path, printable(t->name, buf), t->offset, f->alignment);
    if (t->offset > data_size || t->nbytes > data_size - t->offset)
        return error_set(RESA_ERR_FORMAT,
                         "%s: tensor '%s' data (%" PRIu64 " bytes at offset %" PRIu64
                         ") runs past the end of the file (data section is %" PRIu64 " bytes)",
                         f->path, printable(t->name, buf), t->nbytes, t->offset, data_size);
    t->data = f->base + f->data_offset + t->offset;
    return RESA_OK;
}

/* The data section starts at the first aligned byte after the tensor infos. */
static resa_status place_tensor_data(gguf_file *f, size_t header_end)
{
    uint64_t data_size = 0;
    f->data_offset = ((uint64_t)header_end + f->alignment - 1) / f->alignment * f->alignment;
    if (f->data_offset <= f->size)
        data_size = f->size - f->data_offset;
    else if (f->n_tensors > 0)
        return error_set(RESA_ERR_FORMAT,
                         "%s: truncated file (padding before the data section runs past the end:"
                         " data starts at byte %" PRIu64 ", file has %zu)",
                         f->path, f->data_offset, f->size);
    for (uint64_t i = 0; i < f->n_tensors; i++)
        TRY(place_tensor(f, &f->tensors[i], data_size));
    return RESA_OK;
}

/* ------------------------------------------------------------------ header */

static resa_status check_magic(const reader *r)
{
    size_t n = r->size < 4 ? r->size : 4;
    if (n && memcmp(r->base, "GGUF", n) != 0) {
        uint8_t m[4] = { 0 };
        memcpy(m, r->base, n);
        return error_set(RESA_ERR_FORMAT,
                         "%s: not a GGUF file (starts with bytes %02x %02x %02x %02x, expected \"GGUF\")",
                         r->name, m[0], m[1], m[2], m[3]);
    }
    return RESA_OK;
}

static uint32_t bswap32(uint32_t v)
{
    return v >> 24 | (v >> 8 & 0xff00) | (v << 8 & 0xff0000) | v << 24;
}

static resa_status check_version(const reader *r, uint32_t v)
{
    if (v == 2 || v == 3)
        return RESA_OK;
    if (v == 1)
        return error_set(RESA_ERR_UNSUPPORTED,
                         "%s: GGUF version 1 is not supported (only versions 2 and 3)", r->name);
    /* A small version number stored big-endian reads as a huge one with zero low bytes. */
    if ((v & 0xffff) == 0 && bswap32(v) >= 1 && bswap32(v) <= 3)
        return error_set(RESA_ERR_UNSUPPORTED,
                         "%s: big-endian GGUF file (version %" PRIu32 " byte-swapped); only"
                         " little-endian files are supported",
                         r->name, bswap32(v));
    return error_set(RESA_ERR_UNSUPPORTED,
                     "%s: GGUF version %" PRIu32 " is not supported (only versions 2 and 3)",
                     r->name, v);
}

static resa_status read_header(reader *r, gguf_file *f)
{
    const uint8_t *magic;
    r->what = "header";
    TRY(check_magic(r));
    TRY(read_bytes(r, 4, &magic));
    TRY(read_u32(r, &f->version));
    TRY(check_version(r, f->version));
    TRY(read_u64(r, &f->n_tensors));
    TRY(read_u64(r, &f->n_kv));
    /* Early sanity checks; the tensor count is checked again, more tightly,
     * once the key/values are read. */
    TRY(check_count(r, f->n_kv, MIN_KV_BYTES, "key/value pairs"));
    return check_count(r, f->n_tensors, MIN_TENSOR_INFO_BYTES, "tensors");
}

/* -------------------------------------------------------------- open/close */

static resa_status parse_all(gguf_impl *impl)
{
    gguf_file *f = &impl->pub;
    reader r = { .base = f->base, .size = f->size, .name = f->path };
    TRY(read_header(&r, f));
    TRY(read_kvs(&r, f));
    TRY(index_kvs(impl));
    TRY(read_alignment(f));
    TRY(read_tensor_infos(&r, f));
    TRY(index_tensors(impl));
    return place_tensor_data(f, r.pos);
}

resa_status gguf_parse(const void *buf, size_t size, const char *name, gguf_file **out)
{
    if (!out)
        return error_set(RESA_ERR_ARG, "gguf_parse: out is NULL");
    *out = NULL;
    if (!name)
        name = "<buffer>";
    if (!buf && size)
        return error_set(RESA_ERR_ARG, "%s: gguf_parse: NULL buffer of %zu bytes", name, size);
    size_t name_len = strlen(name);
    gguf_impl *impl = calloc(1, sizeof *impl);
    char *path = malloc(name_len + 1);
    if (!impl || !path) {
        free(impl);
        free(path);
        return error_set(RESA_ERR_NOMEM, "%s: out of memory", name);
    }
    memcpy(path, name, name_len + 1);
    impl->path_copy = path;
    impl->pub.path = path;
    impl->pub.base = buf;
    impl->pub.size = size;
    impl->pub.guard = -1;
    resa_status st = parse_all(impl);
    if (st != RESA_OK) {
        gguf_close(&impl->pub);
        return st;
    }
    *out = &impl->pub;
    return RESA_OK;
}

static resa_status fail_io(int fd, const char *path, const char *what, const char *why)
{
    close(fd);
    return error_set(RESA_ERR_IO, "%s: cannot %s: %s", path, what, why);
}

/* Maps the whole file read-only; *map is NULL for an empty file (mmap refuses
 * a zero length, and the parser reports the empty file as truncated). */
static resa_status map_file(const char *path, void **map, size_t *size)
{
    struct stat st;
    /* O_NONBLOCK: opening a FIFO for reading blocks until a writer comes;
     * we refuse anything but a regular file right after (it has no effect on
     * reading a regular file). */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return error_set(RESA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0)
        return fail_io(fd, path, "stat", strerror(errno));
    if (!S_ISREG(st.st_mode))
        return fail_io(fd, path, "read", "not a regular file");
    if ((uint64_t)st.st_size > SIZE_MAX)
        return fail_io(fd, path, "map", "file too large for the address space");
    *size = (size_t)st.st_size;
    *map = NULL;
    if (*size > 0) {
        void *p = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED)
            return fail_io(fd, path, "map", strerror(errno));
        *map = p;
    }
    close(fd); /* the mapping keeps the file alive */
    return RESA_OK;
}

resa_status gguf_open(const char *path, gguf_file **out)
{
    void *map = NULL;
    size_t size = 0;
    if (!out)
        return error_set(RESA_ERR_ARG, "gguf_open: out is NULL");
    *out = NULL;
    if (!path)
        return error_set(RESA_ERR_ARG, "gguf_open: path is NULL");
    TRY(map_file(path, &map, &size));
    resa_status st = gguf_parse(map, size, path, out);
    if (st != RESA_OK) {
        if (map)
            munmap(map, size);
        return st;
    }
    (*out)->mapped = map != NULL;
    if (map)
        (*out)->guard = map_guard_add(map, size);
    return RESA_OK;
}

void gguf_close(gguf_file *f)
{
    if (!f)
        return;
    gguf_impl *impl = (gguf_impl *)f;
    if (f->kv)
        for (uint64_t i = 0; i < f->n_kv; i++)
            free(f->kv[i].arr_strs);
    free(f->kv);
    free(f->tensors);
    free(impl->kv_sorted);
    free(impl->tensor_sorted);
    map_guard_remove(f->guard);
    if (f->mapped)
        munmap((void *)f->base, f->size);
    free(impl->path_copy);
    free(impl);
}

bool gguf_damaged(const gguf_file *f) { return f && map_guard_damaged(f->guard); }

/* ------------------------------------------------------------------ lookup */

bool gguf_str_eq(gguf_str s, const char *cstr)
{
    return cstr && strlen(cstr) == s.len && memcmp(s.ptr, cstr, (size_t)s.len) == 0;
}

const gguf_kv *gguf_find_kv(const gguf_file *f, const char *key)
{
    if (!f || !key || f->n_kv == 0)
        return NULL;
    const gguf_impl *impl = (const gguf_impl *)f;
    gguf_kv probe = { .key = { key, strlen(key) } };
    const gguf_kv *pp = &probe;
    const gguf_kv *const *hit = bsearch(&pp, impl->kv_sorted, (size_t)f->n_kv,
                                        sizeof *impl->kv_sorted, cmp_kv_ptr);
    return hit ? *hit : NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name)
{
    if (!f || !name || f->n_tensors == 0)
        return NULL;
    const gguf_impl *impl = (const gguf_impl *)f;
    gguf_tensor probe = { .name = { name, strlen(name) } };
    const gguf_tensor *pp = &probe;
    const gguf_tensor *const *hit = bsearch(&pp, impl->tensor_sorted, (size_t)f->n_tensors,
                                            sizeof *impl->tensor_sorted, cmp_tensor_ptr);
    return hit ? *hit : NULL;
}

/* ----------------------------------------------------------- typed getters */

static resa_status missing_key(const gguf_file *f, const char *key)
{
    return error_set(RESA_ERR_FORMAT, "%s: missing key '%s'", f->path, key);
}

static resa_status wrong_type(const gguf_file *f, const char *key, const gguf_kv *kv,
                              const char *expected)
{
    return error_set(RESA_ERR_FORMAT, "%s: key '%s' has type %s, expected %s", f->path, key,
                     gguf_vtype_name(kv->type), expected);
}

static bool is_unsigned(enum gguf_vtype t)
{
    return t == GGUF_UINT8 || t == GGUF_UINT16 || t == GGUF_UINT32 || t == GGUF_UINT64;
}

static bool is_signed(enum gguf_vtype t)
{
    return t == GGUF_INT8 || t == GGUF_INT16 || t == GGUF_INT32 || t == GGUF_INT64;
}

static resa_status kv_to_u32(const gguf_file *f, const char *key, const gguf_kv *kv, uint32_t *out)
{
    if (is_unsigned(kv->type) && kv->v.u <= UINT32_MAX) {
        *out = (uint32_t)kv->v.u;
        return RESA_OK;
    }
    if (is_signed(kv->type) && kv->v.i >= 0 && kv->v.i <= (int64_t)UINT32_MAX) {
        *out = (uint32_t)kv->v.i;
        return RESA_OK;
    }
    if (is_unsigned(kv->type))
        return error_set(RESA_ERR_FORMAT, "%s: key '%s' value %" PRIu64 " does not fit in u32",
                         f->path, key, kv->v.u);
    if (is_signed(kv->type))
        return error_set(RESA_ERR_FORMAT, "%s: key '%s' value %" PRId64 " does not fit in u32",
                         f->path, key, kv->v.i);
    return wrong_type(f, key, kv, "an integer");
}

/* Converting a finite double beyond the float range is undefined behaviour in C. */
static bool fits_f32(double v)
{
    return isinf(v) || !(v > FLT_MAX || v < -FLT_MAX);
}

/* Floats, and integers too: a whole number stored as an integer is still the number. */
static resa_status kv_to_f32(const gguf_file *f, const char *key, const gguf_kv *kv, float *out)
{
    if ((kv->type == GGUF_FLOAT32 || kv->type == GGUF_FLOAT64) && !fits_f32(kv->v.f))
        return error_set(RESA_ERR_FORMAT, "%s: key '%s' value %g does not fit in f32", f->path,
                         key, kv->v.f);
    if (kv->type == GGUF_FLOAT32 || kv->type == GGUF_FLOAT64)
        *out = (float)kv->v.f;
    else if (is_unsigned(kv->type))
        *out = (float)kv->v.u;
    else if (is_signed(kv->type))
        *out = (float)kv->v.i;
    else
        return wrong_type(f, key, kv, "a number");
    return RESA_OK;
}

static resa_status bad_getter_args(const gguf_file *f, const char *key, const void *out)
{
    if (!f || !key || !out)
        return error_set(RESA_ERR_ARG, "gguf getter: NULL argument");
    return RESA_OK;
}

resa_status gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out)
{
    TRY(bad_getter_args(f, key, out));
    const gguf_kv *kv = gguf_find_kv(f, key);
    return kv ? kv_to_u32(f, key, kv, out) : missing_key(f, key);
}

resa_status gguf_get_f32(const gguf_file *f, const char *key, float *out)
{
    TRY(bad_getter_args(f, key, out));
    const gguf_kv *kv = gguf_find_kv(f, key);
    return kv ? kv_to_f32(f, key, kv, out) : missing_key(f, key);
}

resa_status gguf_get_str(const gguf_file *f, const char *key, gguf_str *out)
{
    TRY(bad_getter_args(f, key, out));
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv)
        return missing_key(f, key);
    if (kv->type != GGUF_STRING)
        return wrong_type(f, key, kv, "string");
    *out = kv->v.s;
    return RESA_OK;
}

resa_status gguf_get_u32_opt(const gguf_file *f, const char *key, uint32_t *out)
{
    TRY(bad_getter_args(f, key, out));
    const gguf_kv *kv = gguf_find_kv(f, key);
    return kv ? kv_to_u32(f, key, kv, out) : RESA_OK;
}

resa_status gguf_get_f32_opt(const gguf_file *f, const char *key, float *out)
{
    TRY(bad_getter_args(f, key, out));
    const gguf_kv *kv = gguf_find_kv(f, key);
    return kv ? kv_to_f32(f, key, kv, out) : RESA_OK;
}

resa_status gguf_get_bool_opt(const gguf_file *f, const char *key, bool *out)
{
    TRY(bad_getter_args(f, key, out));
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv)
        return RESA_OK;
    if (kv->type != GGUF_BOOL)
        return wrong_type(f, key, kv, "bool");
    *out = kv->v.u != 0;
    return RESA_OK;
}

resa_status gguf_get_arr(const gguf_file *f, const char *key, enum gguf_vtype elem,
                         const gguf_kv **out)
{
    TRY(bad_getter_args(f, key, out));
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv)
        return missing_key(f, key);
    if (kv->type != GGUF_ARRAY)
        return wrong_type(f, key, kv, "array");
    if (kv->arr_type != elem)
        return error_set(RESA_ERR_FORMAT, "%s: key '%s' is an array of %s, expected an array of %s",
                         f->path, key, gguf_vtype_name(kv->arr_type), gguf_vtype_name(elem));
    *out = kv;
    return RESA_OK;
}
