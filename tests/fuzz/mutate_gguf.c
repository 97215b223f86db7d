/* SPDX-License-Identifier: MIT */
/* Mutation fuzzer for the GGUF reader, without libFuzzer: it knows the
 * header's layout, so in a few thousand runs it reaches every length and
 * count field of a real model (tests/test_fuzz_gguf.sh runs it in make
 * check; tests/fuzz/fuzz_gguf.c is the coverage-guided target).
 *
 *   mutate_gguf FILE [ITERATIONS [SEED]]
 *
 * Reads FILE once, parses it to find the header (everything before the data
 * section) and where its length, count, type and offset fields are, then for
 * each iteration damages the header in place and parses the result:
 *   - 1 to 8 random bytes get random values,
 *   - a length/count/offset field (or any 8 bytes) is set to 0, 1, huge, ...,
 *   - or the file is cut at a random length.
 * The damage is undone afterwards, so the file is never copied whole; cuts
 * inside the header are parsed from an exact-size copy of the prefix so that
 * AddressSanitizer catches any read past the cut.
 *
 * Passing means: no crash, and every rejection returns a non-OK status with a
 * one-line message that starts with the file name. An accepted file must have
 * all tensor data inside the buffer. Exit status 0 on pass, 1 on failure,
 * 2 on usage or setup errors. The seed is printed; pass it back to replay. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "gguf.h"

#define NAME "fuzz.gguf"
#define MAX_UNDO 16

static uint64_t rng_state;

/* splitmix64 */
static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rng_below(uint64_t n) { return n ? rng() % n : 0; }

/* A field in the header that holds a length, count, type or offset. */
typedef struct field {
    size_t pos;
    int width; /* 4 or 8 */
} field;

typedef struct fieldlist {
    field *v;
    size_t n, cap;
} fieldlist;

typedef struct target {
    uint8_t *buf;
    size_t size;
    size_t header_end;   /* data_offset: mutations stay below it */
    size_t tinfo_start;  /* first tensor info, for biasing mutations there */
    fieldlist fields;    /* structural fields */
    fieldlist strlens;   /* lengths of the strings in string arrays */
} target;

typedef struct undo {
    size_t pos[MAX_UNDO];
    uint8_t orig[MAX_UNDO];
    int n;
} undo;

typedef struct stats {
    uint64_t accepted, by_status[8], bad;
} stats;

static void add_field(fieldlist *l, size_t pos, int width)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v) {
            perror("realloc");
            exit(2);
        }
    }
    l->v[l->n++] = (field){ pos, width };
}

static size_t off(const target *t, const void *p) { return (size_t)((const uint8_t *)p - t->buf); }

static void collect_kv_fields(target *t, const gguf_kv *kv)
{
    size_t key = off(t, kv->key.ptr);
    add_field(&t->fields, key - 8, 8);              /* key length */
    add_field(&t->fields, key + kv->key.len, 4);    /* value type */
    if (kv->type == GGUF_STRING)
        add_field(&t->fields, off(t, kv->v.s.ptr) - 8, 8);
    if (kv->type != GGUF_ARRAY)
        return;
    add_field(&t->fields, off(t, kv->arr_data) - 12, 4); /* element type */
    add_field(&t->fields, off(t, kv->arr_data) - 8, 8);  /* count */
    for (uint64_t i = 0; kv->arr_strs && i < kv->arr_n; i++)
        add_field(&t->strlens, off(t, kv->arr_strs[i].ptr) - 8, 8);
}

static void collect_tensor_fields(target *t, const gguf_tensor *ti)
{
    size_t p = off(t, ti->name.ptr);
    add_field(&t->fields, p - 8, 8); /* name length */
    p += ti->name.len;
    add_field(&t->fields, p, 4); /* n_dims */
    p += 4;
    for (uint32_t d = 0; d < ti->n_dims; d++, p += 8)
        add_field(&t->fields, p, 8);
    add_field(&t->fields, p, 4);     /* type */
    add_field(&t->fields, p + 4, 8); /* offset */
}

/* Parses the pristine file and records the header layout. */
static int setup(target *t)
{
    gguf_file *f;
    if (gguf_parse(t->buf, t->size, NAME, &f) != RESA_OK) {
        fprintf(stderr, "fuzz_gguf: the input must parse cleanly: %s\n", resa_last_error());
        return -1;
    }
    t->header_end = (size_t)f->data_offset;
    if (t->header_end > t->size)
        t->header_end = t->size;
    t->tinfo_start = f->n_tensors ? off(t, f->tensors[0].name.ptr) - 8 : t->header_end;
    add_field(&t->fields, 4, 4);  /* version */
    add_field(&t->fields, 8, 8);  /* n_tensors */
    add_field(&t->fields, 16, 8); /* n_kv */
    for (uint64_t i = 0; i < f->n_kv; i++)
        collect_kv_fields(t, &f->kv[i]);
    for (uint64_t i = 0; i < f->n_tensors; i++)
        collect_tensor_fields(t, &f->tensors[i]);
    printf("fuzz_gguf: %zu-byte file, %zu-byte header, %" PRIu64 " keys, %" PRIu64
           " tensors, %zu fields, %zu string lengths\n",
           t->size, t->header_end, f->n_kv, f->n_tensors, t->fields.n, t->strlens.n);
    gguf_close(f);
    return 0;
}

static void set_byte(target *t, undo *u, size_t pos, uint8_t v)
{
    if (pos >= t->size || u->n >= MAX_UNDO)
        return;
    u->pos[u->n] = pos;
    u->orig[u->n++] = t->buf[pos];
    t->buf[pos] = v;
}

static void restore(target *t, undo *u)
{
    while (u->n > 0) {
        u->n--;
        t->buf[u->pos[u->n]] = u->orig[u->n];
    }
}

/* A header position: anywhere, near the start (keys, small values), or among
 * the tensor infos; the middle of a big header is mostly vocabulary. */
static size_t pick_pos(const target *t)
{
    switch (rng_below(3)) {
    case 0: return (size_t)rng_below(t->header_end);
    case 1: return (size_t)rng_below(t->header_end < 4096 ? t->header_end : 4096);
    default: return t->tinfo_start + (size_t)rng_below(t->header_end - t->tinfo_start);
    }
}

static void mutate_bytes(target *t, undo *u)
{
    int n = 1 + (int)rng_below(8);
    for (int i = 0; i < n; i++)
        set_byte(t, u, pick_pos(t), (uint8_t)rng());
}

static uint64_t interesting_value(const target *t, size_t pos, uint64_t orig)
{
    switch (rng_below(10)) {
    case 0: return 0;
    case 1: return 1;
    case 2: return UINT64_MAX;
    case 3: return 1ull << 63;
    case 4: return (uint64_t)INT64_MAX;
    case 5: return 1ull << 32;
    case 6: return t->size - pos;
    case 7: return orig + 1 + rng_below(64);
    case 8: return orig - 1 - rng_below(64);
    default: return rng();
    }
}

/* Sets a length/count/type/offset field (or 8 arbitrary bytes) to an edge value. */
static void mutate_field(target *t, undo *u)
{
    field fl = { pick_pos(t), 8 };
    uint64_t r = rng_below(10), orig = 0;
    if (r < 6 && t->fields.n)
        fl = t->fields.v[rng_below(t->fields.n)];
    else if (r < 8 && t->strlens.n)
        fl = t->strlens.v[rng_below(t->strlens.n)];
    for (int i = 0; i < fl.width && fl.pos + (size_t)i < t->size; i++)
        orig |= (uint64_t)t->buf[fl.pos + (size_t)i] << (8 * i);
    uint64_t v = interesting_value(t, fl.pos, orig);
    for (int i = 0; i < fl.width; i++)
        set_byte(t, u, fl.pos + (size_t)i, (uint8_t)(v >> (8 * i)));
}

static bool message_ok(void)
{
    const char *e = resa_last_error();
    size_t n = strlen(NAME);
    return strncmp(e, NAME, n) == 0 && e[n] == ':' && e[n + 1] && !strchr(e, '\n');
}

static bool accepted_ok(const gguf_file *f, const uint8_t *buf, size_t len)
{
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *ti = &f->tensors[i];
        const uint8_t *d = ti->data;
        if (d < buf || d > buf + len || ti->nbytes > (uint64_t)(buf + len - d))
            return false;
    }
    return f->data_offset % f->alignment == 0;
}

/* Parses buf[0..len) and judges the result; returns false on a bad result. */
static bool parse_and_check(const uint8_t *buf, size_t len, stats *s)
{
    static gguf_file sentinel;
    gguf_file *f = &sentinel; /* must come back NULL on failure */
    error_clear();
    resa_status st = gguf_parse(buf, len, NAME, &f);
    if (st == RESA_OK) {
        bool ok = f && accepted_ok(f, buf, len);
        gguf_close(f);
        s->accepted++;
        return ok;
    }
    s->by_status[(unsigned)st < 8 ? st : 7]++;
    return f == NULL && message_ok();
}

/* Cuts the file short. Cuts inside the header are parsed from an exact-size
 * copy, so that sanitizers see reads past the cut. */
static bool truncate_and_check(target *t, stats *s)
{
    size_t limit = rng_below(2) ? t->header_end + 64 : t->size;
    size_t len = (size_t)rng_below(limit < t->size ? limit : t->size);
    if (len > t->header_end + 4096)
        return parse_and_check(t->buf, len, s);
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) {
        perror("malloc");
        exit(2);
    }
    memcpy(copy, t->buf, len);
    bool ok = parse_and_check(copy, len, s);
    free(copy);
    return ok;
}

static bool one_iteration(target *t, stats *s)
{
    undo u = { .n = 0 };
    uint64_t mode = rng_below(10);
    if (mode >= 8)
        return truncate_and_check(t, s);
    if (mode >= 5)
        mutate_field(t, &u);
    else
        mutate_bytes(t, &u);
    bool ok = parse_and_check(t->buf, t->size, s);
    restore(t, &u);
    return ok;
}

static int read_file(const char *path, target *t)
{
    FILE *fp = fopen(path, "rb");
    long n;
    if (!fp || fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0) {
        perror(path);
        if (fp)
            fclose(fp);
        return -1;
    }
    t->size = (size_t)n;
    t->buf = malloc(t->size ? t->size : 1);
    if (!t->buf || fread(t->buf, 1, t->size, fp) != t->size) {
        fprintf(stderr, "fuzz_gguf: cannot read %s\n", path);
        fclose(fp);
        return -1;
    }
    fclose(fp);
    return 0;
}

int main(int argc, char **argv)
{
    target t = { 0 };
    stats s = { 0 };
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: %s FILE.gguf [ITERATIONS [SEED]]\n", argv[0]);
        return 2;
    }
    uint64_t iters = argc > 2 ? strtoull(argv[2], NULL, 0) : 3000;
    uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 0)
                             : (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
    rng_state = seed;
    printf("fuzz_gguf: seed %" PRIu64 " (replay: %s %s %" PRIu64 " %" PRIu64 ")\n", seed,
           argv[0], argv[1], iters, seed);
    if (read_file(argv[1], &t) != 0 || setup(&t) != 0)
        return 2;
    for (uint64_t i = 0; i < iters; i++) {
        if (!one_iteration(&t, &s) && s.bad++ < 10)
            printf("fuzz_gguf: BAD result at iteration %" PRIu64 ": %s\n", i, resa_last_error());
    }
    printf("fuzz_gguf: %" PRIu64 " iterations, seed %" PRIu64 ": %" PRIu64 " accepted, %" PRIu64
           " rejected (format %" PRIu64 ", unsupported %" PRIu64 ", other %" PRIu64 "), %" PRIu64
           " bad\n",
           iters, seed, s.accepted, iters - s.accepted, s.by_status[RESA_ERR_FORMAT],
           s.by_status[RESA_ERR_UNSUPPORTED],
           iters - s.accepted - s.by_status[RESA_ERR_FORMAT] - s.by_status[RESA_ERR_UNSUPPORTED],
           s.bad);
    free(t.buf);
    free(t.fields.v);
    free(t.strlens.v);
    return s.bad ? 1 : 0;
}
