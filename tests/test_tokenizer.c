/* SPDX-License-Identifier: MIT */
/* Tokenizer tests.
 *
 *   test_tokenizer [MODEL]
 *
 * Part 1 builds small vocabularies in memory (no model needed): merging,
 * pre-tokenizer differences, special and user-defined tokens, and hostile
 * files that must fail at load with a clear status. Part 2 runs on the real
 * model (default: models/SmolLM2-135M-Instruct.Q4_1.gguf): known encodings,
 * round trips, special tokens, the max_tokens contract. When the model file
 * is missing, part 2 is skipped and the exit status is 77 (unless part 1
 * failed). Ends with "N passed, N failed". */
#define _POSIX_C_SOURCE 200809L /* strdup, clock_gettime */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gguf.h"
#include "tokenizer.h"
#include "unicode.h"

static int n_pass, n_fail;

static void check(int ok, int line, const char *what)
{
    if (ok) {
        n_pass++;
    } else {
        n_fail++;
        printf("FAIL line %d: %s\n", line, what);
    }
}
#define CHECK(c) check(!!(c), __LINE__, #c)

/* ---- a GGUF writer, just enough for tokenizer metadata ------------------------ */

typedef struct buf {
    unsigned char *p;
    size_t n, cap;
    int n_kv;
} buf;

static void put(buf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            abort();
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void put_u32(buf *b, uint32_t v) { put(b, &v, 4); } /* little-endian hosts only */
static void put_u64(buf *b, uint64_t v) { put(b, &v, 8); }
static void put_str(buf *b, const char *s, size_t n)
{
    put_u64(b, n);
    put(b, s, n);
}
static void put_key(buf *b, const char *key, uint32_t type)
{
    put_str(b, key, strlen(key));
    put_u32(b, type);
    b->n_kv++;
}
static void kv_str(buf *b, const char *key, const char *v)
{
    put_key(b, key, GGUF_STRING);
    put_str(b, v, strlen(v));
}
static void kv_u32(buf *b, const char *key, uint32_t v)
{
    put_key(b, key, GGUF_UINT32);
    put_u32(b, v);
}
static void kv_strs(buf *b, const char *key, char **v, int n)
{
    put_key(b, key, GGUF_ARRAY);
    put_u32(b, GGUF_STRING);
    put_u64(b, (uint64_t)n);
    for (int i = 0; i < n; i++)
        put_str(b, v[i], strlen(v[i]));
}
static void kv_i32s(buf *b, const char *key, const int32_t *v, int n)
{
    put_key(b, key, GGUF_ARRAY);
    put_u32(b, GGUF_INT32);
    put_u64(b, (uint64_t)n);
    put(b, v, 4 * (size_t)n);
}

/* The file: header, then the key/values. */
static buf finish(buf *kvs)
{
    buf f = {0};
    put(&f, "GGUF", 4);
    put_u32(&f, 3);
    put_u64(&f, 0);
    put_u64(&f, (uint64_t)kvs->n_kv);
    put(&f, kvs->p, kvs->n);
    free(kvs->p);
    return f;
}

/* ---- a tiny vocabulary ----------------------------------------------------------- */

/* Ids 0..255: the byte-level character of each byte (so id == byte), then: */
enum { T_AB = 256, T_ABC, T_IM_END, T_USER, T_BANG_NL, N_TINY };

typedef struct tiny {
    const char *model, *pre;
    char *tokens[N_TINY + 1];
    int n_tokens;
    int32_t types[N_TINY + 1];
    int n_types;
    const char *merges[4];
    int n_merges;
    int bos; /* -1: no key */
} tiny;

static void tiny_init(tiny *v, const char *pre)
{
    memset(v, 0, sizeof *v);
    v->model = "gpt2";
    v->pre = pre;
    for (int b = 0; b < 256; b++) {
        unsigned char u[5] = {0};
        utf8_encode(bytelevel_char((unsigned char)b), u);
        v->tokens[b] = strdup((const char *)u);
        v->types[b] = 1;
    }
    const char *extra[] = {"ab", "abc", "<|im_end|>", "<x>", "!\xc4\x8a"}; /* "!" + Ċ (newline) */
    const int32_t types[] = {1, 1, 3, 4, 1};
    for (int i = 0; i < 5; i++) {
        v->tokens[256 + i] = strdup(extra[i]);
        v->types[256 + i] = types[i];
    }
    v->n_tokens = v->n_types = N_TINY;
    v->merges[0] = "a b";
    v->merges[1] = "ab c";
    v->merges[2] = "! \xc4\x8a";
    v->n_merges = 3;
    v->bos = T_IM_END;
}

static void tiny_free(tiny *v)
{
    for (int i = 0; i < N_TINY + 1; i++)
        free(v->tokens[i]);
}

static buf tiny_file(const tiny *v)
{
    buf k = {0};
    kv_str(&k, "general.architecture", "llama");
    if (v->model)
        kv_str(&k, "tokenizer.ggml.model", v->model);
    if (v->pre)
        kv_str(&k, "tokenizer.ggml.pre", v->pre);
    kv_strs(&k, "tokenizer.ggml.tokens", (char **)v->tokens, v->n_tokens);
    kv_i32s(&k, "tokenizer.ggml.token_type", v->types, v->n_types);
    kv_strs(&k, "tokenizer.ggml.merges", (char **)v->merges, v->n_merges);
    if (v->bos >= 0)
        kv_u32(&k, "tokenizer.ggml.bos_token_id", (uint32_t)v->bos);
    return finish(&k);
}

/* Loads v; returns the status, and the tokenizer in *t when it loaded. */
static resa_status tiny_load(const tiny *v, resa_tokenizer **t, gguf_file **g, buf *file)
{
    *file = tiny_file(v);
    *t = NULL;
    resa_status st = gguf_parse(file->p, file->n, "tiny.gguf", g);
    if (st)
        return st;
    return tokenizer_load(*g, t);
}

static void tiny_close(resa_tokenizer *t, gguf_file *g, buf *file)
{
    tokenizer_free(t);
    gguf_close(g);
    free(file->p);
}

/* encode(s) == want[0..n) */
static int encodes_to(const resa_tokenizer *t, const char *s, int special, const int32_t *want, int n)
{
    int32_t got[64];
    int k = tokenizer_encode(t, s, strlen(s), 0, special, got, 64);
    if (k != n || memcmp(got, want, sizeof *want * (size_t)n)) {
        printf("  '%s': got", s);
        for (int i = 0; i < k && i < 64; i++)
            printf(" %d", got[i]);
        printf("\n");
        return 0;
    }
    return 1;
}
#define ENCODES(t, s, sp, ...)                                                                \
    do {                                                                                      \
        const int32_t want_[] = {__VA_ARGS__};                                                \
        check(encodes_to(t, s, sp, want_, (int)(sizeof want_ / sizeof want_[0])), __LINE__, \
              "encode " #s);                                                                  \
    } while (0)

static void test_tiny_encode(void)
{
    tiny v;
    tiny_init(&v, "smollm");
    resa_tokenizer *t;
    gguf_file *g;
    buf file;
    CHECK(tiny_load(&v, &t, &g, &file) == RESA_OK);
    if (t) {
        CHECK(tokenizer_n_vocab(t) == N_TINY);
        ENCODES(t, "abc abd", 0, T_ABC, ' ', T_AB, 'd');
        ENCODES(t, "x<x>y", 0, 'x', T_USER, 'y');                    /* user-defined: always */
        ENCODES(t, "<|im_end|>", 1, T_IM_END);
        ENCODES(t, "<|im_end|>", 0, '<', '|', 'i', 'm', '_', 'e', 'n', 'd', '|', '>');
        ENCODES(t, "!\nA", 0, '!', '\n', 'A');                      /* GPT-2 split */
        CHECK(tokenizer_is_eog(t, T_IM_END) && !tokenizer_is_eog(t, T_AB));
        CHECK(tokenizer_bos(t) == T_IM_END && tokenizer_eos(t) == -1 && !tokenizer_add_bos(t));
        size_t len;
        const char *s = tokenizer_token_bytes(t, ' ', &len);
        CHECK(s && len == 1 && s[0] == ' ');
        s = tokenizer_token_bytes(t, T_BANG_NL, &len);
        CHECK(s && len == 2 && !memcmp(s, "!\n", 2));
    }
    tiny_close(t, g, &file);
    tiny_free(&v);
    tiny_init(&v, "qwen2");
    CHECK(tiny_load(&v, &t, &g, &file) == RESA_OK);
    if (t)
        ENCODES(t, "!\nA", 0, T_BANG_NL, 'A'); /* ?[^\s\p{L}\p{N}]+[\r\n]* */
    tiny_close(t, g, &file);
    tiny_free(&v);
    /* a byte the vocabulary cannot spell is an error, not dropped (issue 18, item 8) */
    tiny_init(&v, "qwen2");
    free(v.tokens['q']);
    v.tokens['q'] = strdup("no q here");
    CHECK(tiny_load(&v, &t, &g, &file) == RESA_OK);
    if (t) {
        int32_t ids[8];
        CHECK(tokenizer_encode(t, "aqa", 3, 0, 0, ids, 8) == -1 && strstr(resa_last_error(), "0x71"));
        CHECK(tokenizer_encode(t, "aba", 3, 0, 0, ids, 8) == 2);
    }
    tiny_close(t, g, &file);
    tiny_free(&v);
}

/* Loading v must fail with status want and a message containing needle. */
static void expect_load_error(tiny *v, resa_status want, const char *needle, int line)
{
    resa_tokenizer *t;
    gguf_file *g;
    buf file;
    resa_status st = tiny_load(v, &t, &g, &file);
    int ok = st == want && t == NULL && strstr(resa_last_error(), needle);
    if (!ok)
        printf("  status %d, message '%s'\n", st, resa_last_error());
    check(ok, line, needle);
    tiny_close(t, g, &file);
    tiny_free(v);
}

static void test_tiny_hostile(void)
{
    tiny v;
    tiny_init(&v, "gpt-4o");
    expect_load_error(&v, RESA_ERR_UNSUPPORTED, "pre-tokenizer 'gpt-4o'", __LINE__);
    tiny_init(&v, NULL);
    expect_load_error(&v, RESA_ERR_UNSUPPORTED, "no pre-tokenizer", __LINE__);
    tiny_init(&v, "qwen2");
    v.model = "t5";
    expect_load_error(&v, RESA_ERR_UNSUPPORTED, "tokenizer model 't5'", __LINE__);
    tiny_init(&v, NULL);
    v.model = "llama"; /* SentencePiece needs its scores */
    expect_load_error(&v, RESA_ERR_FORMAT, "tokenizer.ggml.scores", __LINE__);
    tiny_init(&v, "qwen2");
    v.merges[1] = "abc";
    expect_load_error(&v, RESA_ERR_FORMAT, "merges[1]", __LINE__);
    tiny_init(&v, "qwen2");
    v.merges[0] = "a zz";
    expect_load_error(&v, RESA_ERR_FORMAT, "not in the vocabulary", __LINE__);
    tiny_init(&v, "qwen2");
    v.merges[0] = "a d"; /* "ad" is not a token */
    expect_load_error(&v, RESA_ERR_FORMAT, "merged token", __LINE__);
    tiny_init(&v, "qwen2");
    free(v.tokens[T_USER]);
    v.tokens[T_USER] = strdup("abc");
    expect_load_error(&v, RESA_ERR_FORMAT, "same text", __LINE__);
    tiny_init(&v, "qwen2");
    v.n_types = 10;
    expect_load_error(&v, RESA_ERR_FORMAT, "token_type", __LINE__);
    tiny_init(&v, "qwen2");
    v.bos = N_TINY;
    expect_load_error(&v, RESA_ERR_FORMAT, "bos_token_id", __LINE__);
    tiny_init(&v, "qwen2");
    v.model = NULL;
    expect_load_error(&v, RESA_ERR_FORMAT, "tokenizer.ggml.model", __LINE__);
    tiny_init(&v, "qwen2");
    v.types[7] = 99; /* issue 18, item 10 */
    expect_load_error(&v, RESA_ERR_FORMAT, "token_type[7] = 99", __LINE__);
    tiny_init(&v, "qwen2");
    v.types[7] = -1;
    expect_load_error(&v, RESA_ERR_FORMAT, "token_type[7] = -1", __LINE__);
    /* text from the file is escaped in messages (item 6) */
    tiny_init(&v, "qwen2");
    v.merges[0] = "\033[2Jx";
    expect_load_error(&v, RESA_ERR_FORMAT, "merges[0] '\\x1b[2Jx' is not two tokens", __LINE__);
}

/* ---- the real model ------------------------------------------------------------------ */

/* Reference ids from llama.cpp: llama-cpp-python 0.3.36,
 * Llama(model_path=SmolLM2-135M-Instruct.Q4_1.gguf, vocab_only=True)
 * .tokenize(text, add_bos=False, special=...). */
static void test_known(const resa_tokenizer *t)
{
    ENCODES(t, "Hello world", 0, 19556, 905);
    ENCODES(t, "The year 2024 had 366 days.", 0, 504, 713, 216, 34, 32, 34, 36, 761, 216, 35, 38, 38, 2009,
            30);
    ENCODES(t, "  leading spaces\tand\ttabs\n\n\nend", 0, 216, 2899, 5600, 197, 397, 197, 100, 7366, 1116, 198,
            486);
    ENCODES(t, "I'm sure you've seen it, they'LL know.", 0, 57, 5248, 2090, 346, 3543, 2269, 357, 28, 502, 23,
            16421, 699, 30);
    ENCODES(t, "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80!", 0, 83, 1939, 2756, 216, 28589, 29184,
            40303, 218, 17);
    ENCODES(t, "x\xffy\xc3", 0, 104, 24211, 105, 24211); /* invalid bytes read as U+FFFD */
    ENCODES(t, "<|im_start|>user\nHi<|im_end|>\n", 0, 44, 108, 306, 79, 3738, 108, 46, 4093, 198, 26843, 44,
            108, 306, 79, 486, 108, 46, 198);
    ENCODES(t, "<|im_start|>user\nHi<|im_end|>\n", 1, 1, 4093, 198, 26843, 2, 198);
    ENCODES(t, "def f(a, b):\n    return a**2 + b  # comment\r\n", 0, 1604, 275, 24, 81, 28, 278, 727, 472, 1003,
            253, 828, 34, 1232, 278, 216, 907, 5189, 2738);
}

/* decode(encode(s)) == want */
static int round_trips(const resa_tokenizer *t, const char *s, size_t n, int special, const char *want,
                       size_t want_n)
{
    int k = tokenizer_encode(t, s, n, 0, special, NULL, 0);
    int32_t *ids = malloc(((size_t)k + 1) * sizeof *ids);
    char *out = malloc(4 * n + 1);
    size_t o = 0;
    int ok = k >= 0 && ids && out && tokenizer_encode(t, s, n, 0, special, ids, k) == k;
    for (int i = 0; ok && i < k; i++) {
        size_t len;
        const char *p = tokenizer_token_bytes(t, ids[i], &len);
        ok = p && o + len <= 4 * n;
        if (ok)
            memcpy(out + o, p, len);
        o += len;
    }
    ok = ok && o == want_n && !memcmp(out, want, want_n);
    free(ids);
    free(out);
    return ok;
}
#define ROUND_TRIP(t, s, sp) check(round_trips(t, s, sizeof s - 1, sp, s, sizeof s - 1), __LINE__, "round trip " #s)
#define ROUND_TRIP_AS(t, s, want) \
    check(round_trips(t, s, sizeof s - 1, 0, want, sizeof want - 1), __LINE__, "round trip " #s)

static void test_round_trip(const resa_tokenizer *t)
{
    ROUND_TRIP(t, "Hello, world! 123 4567.89", 0);
    ROUND_TRIP(t, "  \t\t mixed   whitespace \n\n\n  \r\n", 0);
    ROUND_TRIP(t, "Gr\xc3\xbc\xc3\x9f Gott, \xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82, \xe3\x81\x93\xe3\x82\x93"
                  "\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf \xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d"
                  "\xf0\x9f\x91\xa7", 0);
    ROUND_TRIP(t, "nul\0inside and \x7f del", 0);
    ROUND_TRIP(t, "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n", 0);
    ROUND_TRIP(t, "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n", 1);
    /* Invalid UTF-8 does not survive: each bad byte reads as U+FFFD (EF BF
     * BD), an overlong form and a surrogate too (llama.cpp decodes those to
     * the character they spell; docs/design.md §5.6). */
    ROUND_TRIP_AS(t, "a\x80" "b\xc3", "a\xef\xbf\xbd" "b\xef\xbf\xbd");
    ROUND_TRIP_AS(t, "\xe2\x82 \xff\xfe", /* a truncated sequence is a bad byte, then a stray continuation */
                  "\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd");
    ROUND_TRIP_AS(t, "over\xc0\xaflong", "over\xef\xbf\xbd\xef\xbf\xbdlong");
    ROUND_TRIP_AS(t, "nul\xc0\x80", "nul\xef\xbf\xbd\xef\xbf\xbd");
    ROUND_TRIP_AS(t, "\xe0\x80\xaf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* 3-byte overlong */
    ROUND_TRIP_AS(t, "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* surrogate U+D800 */
    ROUND_TRIP_AS(t, "\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* > U+10FFFF */
}

static void test_contract(const resa_tokenizer *t)
{
    const char *s = "The quick brown fox jumps over the lazy dog.";
    int32_t all[64], part[8];
    int n = tokenizer_encode(t, s, strlen(s), 0, 0, all, 64);
    CHECK(n > 5);
    for (int i = 0; i < 8; i++)
        part[i] = -7;
    CHECK(tokenizer_encode(t, s, strlen(s), 0, 0, part, 3) == n); /* full count */
    CHECK(!memcmp(part, all, 3 * sizeof *part) && part[3] == -7);  /* nothing past max */
    CHECK(tokenizer_encode(t, s, strlen(s), 0, 0, NULL, 0) == n);
    CHECK(tokenizer_encode(t, s, strlen(s), 1, 0, NULL, 0) == n + 1);
    CHECK(tokenizer_encode(t, s, strlen(s), 1, 0, part, 1) == n + 1 && part[0] == tokenizer_bos(t));
    CHECK(tokenizer_encode(t, "", 0, 0, 0, part, 8) == 0);
    CHECK(tokenizer_encode(t, NULL, 0, 0, 1, part, 8) == 0);
    CHECK(tokenizer_encode(t, "", 0, 1, 0, part, 8) == 1 && part[0] == 1);
    CHECK(tokenizer_encode(t, NULL, 3, 0, 0, part, 8) == -1 && *resa_last_error());
    CHECK(tokenizer_encode(t, s, 3, 0, 0, NULL, 4) == -1);
    CHECK(tokenizer_encode(t, s, 3, 0, 0, part, -1) == -1);
}

static void test_vocab(const resa_tokenizer *t)
{
    size_t len = 99;
    CHECK(tokenizer_n_vocab(t) == 49152);
    CHECK(tokenizer_bos(t) == 1 && tokenizer_eos(t) == 2 && !tokenizer_add_bos(t));
    /* llama.cpp's EOG set for this model: <|endoftext|>, <|im_end|>, and
     * <reponame> (found by name as the FIM repo token) */
    for (int i = 0; i < 20; i++)
        check(tokenizer_is_eog(t, i) == (i == 0 || i == 2 || i == 4), __LINE__, "EOG set");
    CHECK(!tokenizer_is_eog(t, -1) && !tokenizer_is_eog(t, 49152));
    CHECK(tokenizer_token_bytes(t, 49152, &len) == NULL && len == 0);
    CHECK(tokenizer_token_bytes(t, -3, &len) == NULL);
    const char *p = tokenizer_token_bytes(t, 1, &len);
    CHECK(p && len == 12 && !memcmp(p, "<|im_start|>", 12));
    p = tokenizer_token_bytes(t, 216, &len); /* "\xc4\xa0" (G with dot above) is the byte ' ' */
    CHECK(p && len == 1 && p[0] == ' ');
    CHECK(tokenizer_default_system(t) &&
          !strcmp(tokenizer_default_system(t), "You are a helpful AI assistant named SmolLM, trained by Hugging Face"));
}

static void test_chat(const resa_tokenizer *t)
{
    char *s = tokenizer_chat_format(t, "Be brief.", "Hi");
    CHECK(s && !strcmp(s, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                          "<|im_start|>assistant\n"));
    free(s);
    s = tokenizer_chat_format(t, NULL, "Hi");
    CHECK(s && !strcmp(s, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"));
    int32_t ids[16];
    CHECK(s && tokenizer_encode(t, s, strlen(s), 0, 1, ids, 16) == 10 && ids[0] == 1 && ids[4] == 2);
    free(s);
    CHECK(tokenizer_chat_format(t, "x", NULL) == NULL);
}

static double ms_since(struct timespec a)
{
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
}

static void test_speed(const resa_tokenizer *t)
{
    size_t n = 1 << 20;
    char *s = malloc(n);
    const char *w = "The 3 quick brown foxes, jumping over 42 lazy dogs; caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87!\n";
    for (size_t i = 0, k = strlen(w); i < n; i++)
        s[i] = w[i % k];
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int k = tokenizer_encode(t, s, n, 0, 0, NULL, 0);
    double ms = ms_since(t0);
    printf("encode: 1 MiB -> %d tokens in %.0f ms (%.1f MB/s)\n", k, ms, 1.048576e3 / (ms > 0 ? ms : 1));
    CHECK(k > 0);
    free(s);
}

static int test_model(const char *path)
{
    gguf_file *g;
    if (gguf_open(path, &g)) {
        printf("SKIP: model %s: %s\n", path, resa_last_error());
        return 0;
    }
    resa_tokenizer *t = NULL;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    resa_status st = tokenizer_load(g, &t);
    printf("tokenizer_load: %.1f ms\n", ms_since(t0));
    CHECK(st == RESA_OK);
    if (t) {
        test_vocab(t);
        test_known(t);
        test_round_trip(t);
        test_contract(t);
        test_chat(t);
        test_speed(t);
    }
    tokenizer_free(t);
    gguf_close(g);
    return 1;
}

int main(int argc, char **argv)
{
    const char *model = argc > 1 ? argv[1] : "models/SmolLM2-135M-Instruct.Q4_1.gguf";
    test_tiny_encode();
    test_tiny_hostile();
    int ran = test_model(model);
    printf("%d passed, %d failed\n", n_pass, n_fail);
    if (n_fail)
        return 1;
    return ran ? 0 : 77;
}
