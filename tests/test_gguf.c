/* SPDX-License-Identifier: MIT */
/* Unit tests for the GGUF reader.
 *
 * GGUF images are built in memory with a small writer, parsed, and checked;
 * malformed images are made by patching fields of a valid one (the writer
 * records where each field went) or by writing them directly. Each failure
 * must return the expected status and a one-line message that starts with
 * the file name. Output is TAP-like; exit status 0 when everything passes. */
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gguf.h"
#include "types.h"

#define NAME "test.gguf"

static int n_pass, n_fail;

static bool check_at(bool ok, int line, const char *what)
{
    if (ok) {
        n_pass++;
        printf("ok %d - %s\n", n_pass + n_fail, what);
    } else {
        n_fail++;
        printf("not ok %d - %s (line %d)\n", n_pass + n_fail, what, line);
    }
    return ok;
}
#define CHECK(cond) check_at((cond), __LINE__, #cond)

/* ------------------------------------------------------------------ writer */

typedef struct wbuf {
    uint8_t *p;
    size_t n, cap;
} wbuf;

static void w_bytes(wbuf *w, const void *src, size_t n)
{
    if (w->n + n > w->cap) {
        w->cap = (w->n + n) * 2 + 64;
        w->p = realloc(w->p, w->cap);
        if (!w->p) {
            perror("realloc");
            exit(1);
        }
    }
    if (n)
        memcpy(w->p + w->n, src, n);
    w->n += n;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void w_le(wbuf *w, uint64_t v, int n)
{
    uint8_t b[8];
    put_le(b, v, n);
    w_bytes(w, b, (size_t)n);
}

static void w_u8(wbuf *w, uint8_t v) { w_le(w, v, 1); }
static void w_u16(wbuf *w, uint16_t v) { w_le(w, v, 2); }
static void w_u32(wbuf *w, uint32_t v) { w_le(w, v, 4); }
static void w_u64(wbuf *w, uint64_t v) { w_le(w, v, 8); }

static void w_f32(wbuf *w, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    w_u32(w, u);
}

static void w_f64(wbuf *w, double f)
{
    uint64_t u;
    memcpy(&u, &f, 8);
    w_u64(w, u);
}

static void w_strn(wbuf *w, const char *s, size_t n)
{
    w_u64(w, n);
    w_bytes(w, s, n);
}

static void w_str(wbuf *w, const char *s) { w_strn(w, s, strlen(s)); }

static void w_pad(wbuf *w, size_t align)
{
    static const uint8_t zero[256];
    while (w->n % align)
        w_bytes(w, zero, 1);
}

static void w_header(wbuf *w, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
    w_bytes(w, "GGUF", 4);
    w_u32(w, version);
    w_u64(w, n_tensors);
    w_u64(w, n_kv);
}

static void w_key(wbuf *w, const char *key, enum gguf_vtype t)
{
    w_str(w, key);
    w_u32(w, t);
}

static void w_kv_u32(wbuf *w, const char *key, uint32_t v)
{
    w_key(w, key, GGUF_UINT32);
    w_u32(w, v);
}

static void w_tinfo(wbuf *w, const char *name, uint32_t n_dims, const int64_t *ne,
                    uint32_t type, uint64_t offset)
{
    w_str(w, name);
    w_u32(w, n_dims);
    for (uint32_t d = 0; d < n_dims; d++)
        w_u64(w, (uint64_t)ne[d]);
    w_u32(w, type);
    w_u64(w, offset);
}

static void patch(wbuf *w, size_t at, uint64_t v, int n) { put_le(w->p + at, v, n); }

/* --------------------------------------------------- the valid test image */

#define NT 6

static const struct {
    const char *name;
    uint32_t n_dims;
    int64_t ne[4];
    uint32_t type;
    uint64_t nbytes;
} tspec[NT] = {
    { "t.f32", 2, { 4, 3, 1, 1 }, RESA_TYPE_F32, 4 * 3 * 4 },
    { "t.f16", 1, { 8, 1, 1, 1 }, RESA_TYPE_F16, 8 * 2 },
    { "t.q4_0", 2, { 64, 2, 1, 1 }, RESA_TYPE_Q4_0, 2 * 2 * 18 },
    { "t.q4_1", 3, { 32, 1, 2, 1 }, RESA_TYPE_Q4_1, 2 * 20 },
    { "t.q8_0", 4, { 32, 2, 1, 2 }, RESA_TYPE_Q8_0, 4 * 34 },
    { "t.bf16", 2, { 6, 2, 1, 1 }, RESA_TYPE_BF16, 12 * 2 },
};

/* Where the writer put the fields that the malformed cases patch. */
typedef struct marks {
    size_t version, n_tensors, n_kv;
    size_t key_len;        /* length of the first key */
    size_t str_len;        /* length of the general.architecture value */
    size_t u8_type;        /* value type of test.u8 */
    size_t bool_val;       /* value of test.bool */
    size_t arr_elem_type;  /* element type of test.arr_i32 */
    size_t arr_count;      /* count of test.arr_str */
    size_t t_name[NT], t_ndims[NT], t_ne[NT], t_type[NT], t_offset[NT];
    uint64_t t_off[NT];    /* offsets written */
    size_t data_offset;
    size_t n_kv_written;
} marks;

static void kv_scalars(wbuf *w, marks *m)
{
    m->key_len = w->n;
    w_key(w, "general.architecture", GGUF_STRING);
    m->str_len = w->n;
    w_str(w, "llama");
    m->u8_type = w->n + 8 + strlen("test.u8");
    w_key(w, "test.u8", GGUF_UINT8), w_u8(w, 200);
    w_key(w, "test.i8", GGUF_INT8), w_u8(w, (uint8_t)-100);
    w_key(w, "test.u16", GGUF_UINT16), w_u16(w, 60000);
    w_key(w, "test.i16", GGUF_INT16), w_u16(w, (uint16_t)-30000);
    w_key(w, "test.u32", GGUF_UINT32), w_u32(w, 4000000000u);
    w_key(w, "test.i32", GGUF_INT32), w_u32(w, (uint32_t)-2000000000);
    w_key(w, "test.f32", GGUF_FLOAT32), w_f32(w, 1.5f);
    w_key(w, "test.bool", GGUF_BOOL);
    m->bool_val = w->n;
    w_u8(w, 1);
    w_key(w, "test.u64", GGUF_UINT64), w_u64(w, (1ull << 40) + 7);
    w_key(w, "test.i64", GGUF_INT64), w_u64(w, (uint64_t)-(1ll << 40));
    w_key(w, "test.f64", GGUF_FLOAT64), w_f64(w, 3.25e100);
    w_key(w, "test.small", GGUF_INT16), w_u16(w, 77);
    m->n_kv_written += 13;
}

static void kv_arrays(wbuf *w, marks *m)
{
    w_key(w, "test.arr_i32", GGUF_ARRAY);
    m->arr_elem_type = w->n;
    w_u32(w, GGUF_INT32), w_u64(w, 3);
    w_u32(w, 1), w_u32(w, (uint32_t)-2), w_u32(w, 3);

    w_key(w, "test.arr_str", GGUF_ARRAY);
    w_u32(w, GGUF_STRING);
    m->arr_count = w->n;
    w_u64(w, 3);
    w_str(w, "a"), w_str(w, ""), w_str(w, "hello");

    w_key(w, "test.arr_f32", GGUF_ARRAY);
    w_u32(w, GGUF_FLOAT32), w_u64(w, 2), w_f32(w, 0.5f), w_f32(w, 2.0f);

    w_key(w, "test.arr_empty", GGUF_ARRAY);
    w_u32(w, GGUF_UINT8), w_u64(w, 0);

    w_key(w, "test.arr_bool", GGUF_ARRAY);
    w_u32(w, GGUF_BOOL), w_u64(w, 2), w_u8(w, 1), w_u8(w, 0);

    /* [[u16 1, 2], ["x"]] */
    w_key(w, "test.arr_nested", GGUF_ARRAY);
    w_u32(w, GGUF_ARRAY), w_u64(w, 2);
    w_u32(w, GGUF_UINT16), w_u64(w, 2), w_u16(w, 1), w_u16(w, 2);
    w_u32(w, GGUF_STRING), w_u64(w, 1), w_str(w, "x");
    m->n_kv_written += 6;
}

static void tensor_infos(wbuf *w, marks *m, uint64_t align)
{
    uint64_t off = 0;
    for (int i = 0; i < NT; i++) {
        off = (off + align - 1) / align * align;
        m->t_off[i] = off;
        m->t_name[i] = w->n;
        m->t_ndims[i] = w->n + 8 + strlen(tspec[i].name);
        m->t_ne[i] = m->t_ndims[i] + 4;
        m->t_type[i] = m->t_ne[i] + 8 * tspec[i].n_dims;
        m->t_offset[i] = m->t_type[i] + 4;
        w_tinfo(w, tspec[i].name, tspec[i].n_dims, tspec[i].ne, tspec[i].type, off);
        off += tspec[i].nbytes;
    }
}

/* Tensor i's bytes are all 0x10 + i; the last tensor ends the file. */
static void tensor_data(wbuf *w, marks *m, uint64_t align)
{
    w_pad(w, align);
    m->data_offset = w->n;
    for (int i = 0; i < NT; i++) {
        while (w->n < m->data_offset + m->t_off[i])
            w_u8(w, 0);
        for (uint64_t b = 0; b < tspec[i].nbytes; b++)
            w_u8(w, (uint8_t)(0x10 + i));
    }
}

/* align 0: no general.alignment key (default 32). */
static void build_valid(wbuf *w, marks *m, uint32_t version, uint32_t align)
{
    memset(m, 0, sizeof *m);
    w->n = 0;
    m->version = 4;
    m->n_tensors = 8;
    m->n_kv = 16;
    w_header(w, version, NT, 0);
    kv_scalars(w, m);
    kv_arrays(w, m);
    if (align) {
        w_kv_u32(w, "general.alignment", align);
        m->n_kv_written++;
    }
    patch(w, m->n_kv, m->n_kv_written, 8);
    tensor_infos(w, m, align ? align : 32);
    tensor_data(w, m, align ? align : 32);
}

/* -------------------------------------------------------------- helpers */

static bool msg_ok(const char *name)
{
    const char *e = resa_last_error();
    size_t n = strlen(name);
    return e[0] && strncmp(e, name, n) == 0 && e[n] == ':' && !strchr(e, '\n');
}

/* Parses a private copy of exactly size bytes, so ASan sees any overread. */
static resa_status parse_copy(const uint8_t *src, size_t size, gguf_file **out)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (size)
        memcpy(copy, src, size);
    resa_status st = gguf_parse(copy, size, NAME, out);
    if (st == RESA_OK) {
        gguf_close(*out);
        *out = NULL;
    }
    free(copy);
    return st;
}

/* One malformed case: expected status, NULL out, a good message. */
static void expect_fail_at(const wbuf *w, resa_status want, const char *what, const char *needle,
                           int line)
{
    gguf_file *f = (gguf_file *)1;
    resa_status st = parse_copy(w->p, w->n, &f);
    bool ok = st == want && f == NULL && msg_ok(NAME) &&
              (!needle || strstr(resa_last_error(), needle));
    check_at(ok, line, what);
    printf("#   status %d: %s\n", st, resa_last_error());
}
#define EXPECT_FAIL(w, want, what, needle) expect_fail_at((w), (want), (what), (needle), __LINE__)

/* A fresh valid image, patched by the caller. */
static void fresh(wbuf *w, marks *m) { build_valid(w, m, 3, 0); }

/* -------------------------------------------------------- valid images */

static void check_scalars(const gguf_file *f)
{
    uint32_t u = 0;
    float x = 0;
    gguf_str s;
    const gguf_kv *kv;
    CHECK(gguf_get_str(f, "general.architecture", &s) == RESA_OK && gguf_str_eq(s, "llama"));
    CHECK(gguf_get_u32(f, "test.u8", &u) == RESA_OK && u == 200);
    CHECK((kv = gguf_find_kv(f, "test.i8")) && kv->type == GGUF_INT8 && kv->v.i == -100);
    CHECK(gguf_get_u32(f, "test.u16", &u) == RESA_OK && u == 60000);
    CHECK((kv = gguf_find_kv(f, "test.i16")) && kv->v.i == -30000);
    CHECK(gguf_get_u32(f, "test.u32", &u) == RESA_OK && u == 4000000000u);
    CHECK((kv = gguf_find_kv(f, "test.i32")) && kv->v.i == -2000000000);
    CHECK(gguf_get_f32(f, "test.f32", &x) == RESA_OK && x == 1.5f);
    CHECK((kv = gguf_find_kv(f, "test.bool")) && kv->type == GGUF_BOOL && kv->v.u == 1);
    CHECK((kv = gguf_find_kv(f, "test.u64")) && kv->v.u == (1ull << 40) + 7);
    CHECK((kv = gguf_find_kv(f, "test.i64")) && kv->v.i == -(1ll << 40));
    CHECK((kv = gguf_find_kv(f, "test.f64")) && kv->type == GGUF_FLOAT64 && kv->v.f == 3.25e100);
    CHECK(gguf_get_u32(f, "test.small", &u) == RESA_OK && u == 77);
}

static void check_getters(const gguf_file *f)
{
    uint32_t u = 5;
    float x = 2.5f;
    bool b = false;
    gguf_str s;
    CHECK(gguf_get_u32(f, "test.i8", &u) == RESA_ERR_FORMAT && msg_ok(NAME));
    CHECK(gguf_get_u32(f, "test.u64", &u) == RESA_ERR_FORMAT && strstr(resa_last_error(), "test.u64"));
    CHECK(gguf_get_u32(f, "general.architecture", &u) == RESA_ERR_FORMAT);
    CHECK(gguf_get_u32(f, "no.such.key", &u) == RESA_ERR_FORMAT && strstr(resa_last_error(), "no.such.key"));
    CHECK(gguf_get_str(f, "test.u8", &s) == RESA_ERR_FORMAT);
    CHECK(gguf_get_str(f, "no.such.key", &s) == RESA_ERR_FORMAT);
    CHECK(gguf_get_f32(f, "test.f64", &x) == RESA_ERR_FORMAT && strstr(resa_last_error(), "f32"));
    CHECK(gguf_get_f32(f, "test.u16", &x) == RESA_OK && x == 60000.0f);
    CHECK(gguf_get_f32(f, "test.arr_f32", &x) == RESA_ERR_FORMAT);
    u = 5, x = 2.5f;
    CHECK(gguf_get_u32_opt(f, "no.such.key", &u) == RESA_OK && u == 5);
    CHECK(gguf_get_f32_opt(f, "no.such.key", &x) == RESA_OK && x == 2.5f);
    CHECK(gguf_get_bool_opt(f, "no.such.key", &b) == RESA_OK && !b);
    CHECK(gguf_get_bool_opt(f, "test.bool", &b) == RESA_OK && b);
    CHECK(gguf_get_bool_opt(f, "test.u8", &b) == RESA_ERR_FORMAT);
    CHECK(gguf_get_u32_opt(f, "test.u8", &u) == RESA_OK && u == 200);
    CHECK(gguf_get_u32_opt(f, "test.i32", &u) == RESA_ERR_FORMAT);
    CHECK(gguf_get_f32_opt(f, "test.f32", &x) == RESA_OK && x == 1.5f);
    CHECK(gguf_find_kv(f, "test") == NULL && gguf_find_kv(f, "test.u8x") == NULL);
}

static void check_arrays(const gguf_file *f)
{
    const gguf_kv *kv = NULL;
    int32_t i32[3];
    float f32[2];
    CHECK(gguf_get_arr(f, "test.arr_i32", GGUF_INT32, &kv) == RESA_OK && kv->arr_n == 3);
    if (kv && kv->arr_data) {
        memcpy(i32, kv->arr_data, sizeof i32);
        CHECK(i32[0] == 1 && i32[1] == -2 && i32[2] == 3);
    }
    CHECK(gguf_get_arr(f, "test.arr_i32", GGUF_UINT32, &kv) == RESA_ERR_FORMAT && msg_ok(NAME));
    CHECK(gguf_get_arr(f, "test.u8", GGUF_UINT8, &kv) == RESA_ERR_FORMAT);
    CHECK(gguf_get_arr(f, "no.such.key", GGUF_UINT8, &kv) == RESA_ERR_FORMAT);
    kv = NULL;
    CHECK(gguf_get_arr(f, "test.arr_str", GGUF_STRING, &kv) == RESA_OK && kv->arr_n == 3 && kv->arr_strs);
    if (kv && kv->arr_strs)
        CHECK(gguf_str_eq(kv->arr_strs[0], "a") && gguf_str_eq(kv->arr_strs[1], "") &&
              gguf_str_eq(kv->arr_strs[2], "hello"));
    kv = NULL;
    CHECK(gguf_get_arr(f, "test.arr_f32", GGUF_FLOAT32, &kv) == RESA_OK && kv->arr_n == 2);
    if (kv && kv->arr_data) {
        memcpy(f32, kv->arr_data, sizeof f32);
        CHECK(f32[0] == 0.5f && f32[1] == 2.0f);
    }
    CHECK(gguf_get_arr(f, "test.arr_empty", GGUF_UINT8, &kv) == RESA_OK && kv->arr_n == 0);
    CHECK(gguf_get_arr(f, "test.arr_bool", GGUF_BOOL, &kv) == RESA_OK && kv->arr_n == 2);
    CHECK(gguf_get_arr(f, "test.arr_nested", GGUF_ARRAY, &kv) == RESA_OK && kv->arr_n == 2);
}

static void check_tensors(const gguf_file *f, const marks *m, const uint8_t *base)
{
    bool shapes = true, data = true, order = true;
    for (int i = 0; i < NT; i++) {
        const gguf_tensor *t = gguf_find_tensor(f, tspec[i].name);
        if (!t) {
            shapes = false;
            continue;
        }
        order &= t == &f->tensors[i];
        shapes &= t->n_dims == tspec[i].n_dims && t->type == tspec[i].type &&
                  t->nbytes == tspec[i].nbytes && t->offset == m->t_off[i];
        for (int d = 0; d < 4; d++)
            shapes &= t->ne[d] == tspec[i].ne[d];
        data &= (const uint8_t *)t->data == base + m->data_offset + m->t_off[i];
        for (uint64_t b = 0; b < t->nbytes && data; b++)
            data &= ((const uint8_t *)t->data)[b] == 0x10 + i;
    }
    CHECK(order);
    CHECK(shapes);
    CHECK(data);
    CHECK(f->data_offset == m->data_offset && f->data_offset % f->alignment == 0);
    CHECK(gguf_find_tensor(f, "t.f3") == NULL && gguf_find_tensor(f, "nope") == NULL);
}

static void test_valid(uint32_t version, uint32_t align)
{
    wbuf w = { 0 };
    marks m;
    gguf_file *f = NULL;
    build_valid(&w, &m, version, align);
    printf("# valid v%u image, alignment %u, %zu bytes\n", version, align ? align : 32, w.n);
    resa_status st = gguf_parse(w.p, w.n, NAME, &f);
    if (!CHECK(st == RESA_OK && f)) {
        printf("#   %s\n", resa_last_error());
        free(w.p);
        return;
    }
    CHECK(f->version == version && f->n_kv == m.n_kv_written && f->n_tensors == NT);
    CHECK(f->alignment == (align ? align : 32) && f->size == w.n && f->base == w.p);
    CHECK(strcmp(f->path, NAME) == 0 && !f->mapped);
    check_scalars(f);
    check_getters(f);
    check_arrays(f);
    check_tensors(f, &m, w.p);
    gguf_close(f);
    free(w.p);
}

static void test_minimal(void)
{
    wbuf w = { 0 };
    gguf_file *f = NULL;
    w_header(&w, 3, 0, 0);
    CHECK(gguf_parse(w.p, w.n, NAME, &f) == RESA_OK && f && f->n_kv == 0 && f->n_tensors == 0);
    CHECK(gguf_find_kv(f, "x") == NULL && gguf_find_tensor(f, "x") == NULL);
    gguf_close(f);
    gguf_close(NULL);
    free(w.p);
}

/* The parser must never write to the caller's buffer: parse a read-only one. */
static void test_readonly_buffer(void)
{
    wbuf w = { 0 };
    marks m;
    gguf_file *f = NULL;
    build_valid(&w, &m, 3, 0);
    void *ro = mmap(NULL, w.n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!CHECK(ro != MAP_FAILED))
        return;
    memcpy(ro, w.p, w.n);
    mprotect(ro, w.n, PROT_READ);
    CHECK(gguf_parse(ro, w.n, NAME, &f) == RESA_OK);
    gguf_close(f);
    munmap(ro, w.n);
    free(w.p);
}

/* ------------------------------------------------------- malformed images */

static void test_magic_version(void)
{
    wbuf w = { 0 };
    marks m;
    fresh(&w, &m);
    w.p[0] = 'X';
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "wrong magic", "not a GGUF file");
    fresh(&w, &m);
    patch(&w, m.version, 1, 4);
    EXPECT_FAIL(&w, RESA_ERR_UNSUPPORTED, "version 1", "version 1");
    patch(&w, m.version, 4, 4);
    EXPECT_FAIL(&w, RESA_ERR_UNSUPPORTED, "version 4", "version 4");
    patch(&w, m.version, 0, 4);
    EXPECT_FAIL(&w, RESA_ERR_UNSUPPORTED, "version 0", "version 0");
    patch(&w, m.version, 0x03000000, 4);
    EXPECT_FAIL(&w, RESA_ERR_UNSUPPORTED, "big-endian version", "big-endian");
    free(w.p);
}

/* Every proper prefix of a valid image must fail cleanly. */
static void test_prefixes(void)
{
    wbuf w = { 0 };
    marks m;
    gguf_file *f;
    size_t bad = 0;
    fresh(&w, &m);
    for (size_t len = 0; len < w.n; len++) {
        f = (gguf_file *)1;
        resa_status st = parse_copy(w.p, len, &f);
        if (st != RESA_ERR_FORMAT || f != NULL || !msg_ok(NAME)) {
            if (bad++ < 5)
                printf("#   prefix %zu: status %d: %s\n", len, st, resa_last_error());
        }
    }
    printf("# %zu prefixes of a %zu-byte image\n", w.n, w.n);
    CHECK(bad == 0);
    CHECK(parse_copy(w.p, w.n, &f) == RESA_OK);
    free(w.p);
}

static void test_counts(void)
{
    wbuf w = { 0 };
    marks m;
    fresh(&w, &m);
    patch(&w, m.n_kv, UINT64_MAX, 8);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "n_kv = 2^64-1", "key/value pairs");
    patch(&w, m.n_kv, 1ull << 40, 8);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "n_kv = 2^40", "key/value pairs");
    patch(&w, m.n_kv, m.n_kv_written + 1, 8);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "n_kv one too many", NULL);
    fresh(&w, &m);
    patch(&w, m.n_tensors, UINT64_MAX, 8);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "n_tensors = 2^64-1", "tensors");
    patch(&w, m.n_tensors, NT + 1, 8);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "n_tensors one too many", NULL);
    fresh(&w, &m);
    patch(&w, m.arr_count, UINT64_MAX / 2, 8);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "string array count 2^63", "truncated");
    free(w.p);
}

static void test_strings(void)
{
    wbuf w = { 0 };
    marks m;
    fresh(&w, &m);
    patch(&w, m.key_len, w.n, 8);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "key length past end", "truncated");
    patch(&w, m.key_len, UINT64_MAX, 8);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "key length 2^64-1", "truncated");
    fresh(&w, &m);
    patch(&w, m.str_len, w.n - m.str_len - 8 + 1, 8);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "string value one byte past end", "truncated");
    fresh(&w, &m);
    patch(&w, m.key_len, 0, 8);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "empty key", "empty key");
    fresh(&w, &m);
    w.p[m.key_len + 8 + 3] = '\0';
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "NUL in key", "NUL");
    fresh(&w, &m);
    w.p[m.t_name[2] + 8 + 1] = '\0';
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "NUL in tensor name", "NUL");
    free(w.p);
}

static void test_value_types(void)
{
    wbuf w = { 0 };
    marks m;
    fresh(&w, &m);
    patch(&w, m.u8_type, GGUF_VTYPE_COUNT, 4);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "value type 13", "unknown value type 13");
    patch(&w, m.u8_type, UINT32_MAX, 4);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "value type 2^32-1", "unknown value type");
    fresh(&w, &m);
    patch(&w, m.arr_elem_type, GGUF_VTYPE_COUNT, 4);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "array element type 13", "element type 13");
    fresh(&w, &m);
    w.p[m.bool_val] = 2;
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "bool value 2", "bool");
    free(w.p);
}

static void test_nesting(void)
{
    wbuf w = { 0 };
    /* [[[u8 1]]]: three levels deep */
    w_header(&w, 3, 0, 1);
    w_key(&w, "deep", GGUF_ARRAY);
    w_u32(&w, GGUF_ARRAY), w_u64(&w, 1);
    w_u32(&w, GGUF_ARRAY), w_u64(&w, 1);
    w_u32(&w, GGUF_UINT8), w_u64(&w, 1), w_u8(&w, 1);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "arrays nested 3 deep", "nested");
    w.n = 0;
    w_header(&w, 3, 0, 1);
    w_key(&w, "nested", GGUF_ARRAY);
    w_u32(&w, GGUF_ARRAY), w_u64(&w, 1);
    w_u32(&w, 99), w_u64(&w, 0);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "nested array element type 99", "element type 99");
    free(w.p);
}

static void test_dims(void)
{
    wbuf w = { 0 };
    marks m;
    fresh(&w, &m);
    patch(&w, m.t_ndims[4], 5, 4);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "n_dims 5", "dimensions");
    patch(&w, m.t_ndims[4], 0, 4);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "n_dims 0", "dimensions");
    fresh(&w, &m);
    patch(&w, m.t_ne[0] + 8, 0, 8);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "ne[1] = 0", "size 0");
    fresh(&w, &m);
    patch(&w, m.t_ne[0], (uint64_t)-4, 8);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "ne[0] = -4", "size -4");
    fresh(&w, &m);
    patch(&w, m.t_ne[0], 1ull << 63, 8);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "ne[0] = 2^63", "t.f32");
    fresh(&w, &m);
    for (int d = 0; d < 4; d++)
        patch(&w, m.t_ne[4] + 8 * (size_t)d, 1ull << 32, 8);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "element count overflow", "overflows");
    fresh(&w, &m);
    patch(&w, m.t_ne[0], 1ull << 31, 8);
    patch(&w, m.t_ne[0] + 8, 1ull << 31, 8);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "byte size overflow (f32 2^31 x 2^31)", "overflows");
    fresh(&w, &m);
    patch(&w, m.t_ne[2], 48, 8);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "q4_0 row of 48", "block size");
    free(w.p);
}

static void test_tensor_types(void)
{
    wbuf w = { 0 };
    marks m;
    fresh(&w, &m);
    /* the file layer sizes every ggml type (resa info describes files it
     * cannot run; model loading refuses the types, tests/test_info.sh): an
     * IQ2_XXS row of 32 is not whole 256-element blocks */
    patch(&w, m.t_type[3], 16, 4);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "tensor type 16 (IQ2_XXS) sized by its layout",
                "(IQ2_XXS): row length 32 is not a multiple of the block size 256");
    patch(&w, m.t_type[3], 1000, 4);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "tensor type 1000", "type 1000, which no GGUF version defines");
    free(w.p);
}

static void test_offsets(void)
{
    wbuf w = { 0 };
    marks m;
    fresh(&w, &m);
    patch(&w, m.t_offset[2], m.t_off[2] + 1, 8);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "misaligned offset", "not a multiple");
    fresh(&w, &m);
    patch(&w, m.t_offset[NT - 1], m.t_off[NT - 1] + 32, 8);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "data past end", "past the end");
    patch(&w, m.t_offset[NT - 1], UINT64_MAX - 31, 8);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "offset 2^64-32", "past the end");
    fresh(&w, &m);
    w.n--;
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "last byte of data missing", "past the end");
    free(w.p);
}

static void build_with_alignment_kv(wbuf *w, enum gguf_vtype t, uint64_t v)
{
    static const int64_t ne[1] = { 4 };
    w->n = 0;
    w_header(w, 3, 1, 1);
    w_key(w, "general.alignment", t);
    w_le(w, v, t == GGUF_UINT64 ? 8 : 4);
    w_tinfo(w, "x", 1, ne, RESA_TYPE_F32, 0);
    w_pad(w, 64);
    w_u64(w, 0), w_u64(w, 0);
}

static void test_alignment(void)
{
    wbuf w = { 0 };
    gguf_file *f = NULL;
    build_with_alignment_kv(&w, GGUF_UINT32, 64);
    CHECK(parse_copy(w.p, w.n, &f) == RESA_OK);
    build_with_alignment_kv(&w, GGUF_UINT32, 3);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "alignment 3", "power of two");
    build_with_alignment_kv(&w, GGUF_UINT32, 0);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "alignment 0", "power of two");
    build_with_alignment_kv(&w, GGUF_UINT64, 64);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "alignment as u64", "alignment");
    free(w.p);
}

static void test_duplicates(void)
{
    wbuf w = { 0 };
    static const int64_t ne[1] = { 4 };
    w_header(&w, 3, 0, 3);
    w_kv_u32(&w, "a.b", 1);
    w_kv_u32(&w, "a.c", 2);
    w_kv_u32(&w, "a.b", 3);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "duplicate key", "duplicate key 'a.b'");
    w.n = 0;
    w_header(&w, 3, 2, 0);
    w_tinfo(&w, "w", 1, ne, RESA_TYPE_F32, 0);
    w_tinfo(&w, "w", 1, ne, RESA_TYPE_F32, 32);
    w_pad(&w, 32);
    for (int i = 0; i < 48; i++)
        w_u8(&w, 0);
    EXPECT_FAIL(&w, RESA_ERR_FORMAT, "duplicate tensor name", "duplicate tensor name 'w'");
    free(w.p);
}

/* ------------------------------------------------------------------ files */

static void test_files(void)
{
    gguf_file *f = (gguf_file *)1;
    CHECK(gguf_open("/nonexistent/dir/model.gguf", &f) == RESA_ERR_IO && f == NULL &&
          msg_ok("/nonexistent/dir/model.gguf"));
    printf("#   %s\n", resa_last_error());
    CHECK(gguf_open("/", &f) == RESA_ERR_IO && msg_ok("/"));

    const char *dir = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/test_gguf_XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (!CHECK(fd >= 0))
        return;
    CHECK(gguf_open(path, &f) == RESA_ERR_FORMAT && msg_ok(path)); /* empty file */

    wbuf w = { 0 };
    marks m;
    fresh(&w, &m);
    CHECK(write(fd, w.p, w.n) == (ssize_t)w.n);
    close(fd);
    CHECK(gguf_open(path, &f) == RESA_OK && f && f->mapped && f->n_tensors == NT);
    if (f) {
        const gguf_tensor *t = gguf_find_tensor(f, "t.bf16");
        CHECK(t && ((const uint8_t *)t->data)[0] == 0x10 + NT - 1);
        CHECK(strcmp(f->path, path) == 0);
        gguf_close(f);
    }
    unlink(path);
    free(w.p);
}

int main(void)
{
    test_valid(3, 0);
    test_valid(2, 0);
    test_valid(3, 64);
    test_minimal();
    test_readonly_buffer();
    test_magic_version();
    test_prefixes();
    test_counts();
    test_strings();
    test_value_types();
    test_nesting();
    test_dims();
    test_tensor_types();
    test_offsets();
    test_alignment();
    test_duplicates();
    test_files();
    printf("1..%d\n", n_pass + n_fail);
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
