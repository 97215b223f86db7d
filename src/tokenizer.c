/* SPDX-License-Identifier: MIT */
/* Byte-level BPE, as llama.cpp does it (llama-vocab.cpp, unicode.cpp):
 *
 *   1. Special tokens are cut out of the text first, longest token text
 *      first, every occurrence of one before the next (user-defined added
 *      tokens always, control ones only with parse_special).
 *   2. Each remaining piece is decoded to code points (invalid UTF-8 becomes
 *      U+FFFD) and split into words by the pre-tokenizer's regex, here
 *      written out by hand as one matcher per pre-tokenizer.
 *   3. Each word is re-encoded to UTF-8 and its bytes are merged by BPE: the
 *      adjacent pair with the lowest merge rank first, the leftmost of equal
 *      ones, until no pair has a rank.
 *
 * Merges are kept as (left id, right id) -> (rank, result id), so a word
 * starts as the ids of its bytes' byte-level characters and merging is
 * integer work. */
#include "tokenizer.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "printable.h"
#include "tokenizer_spm.h"
#include "chat_template.h"
#include "unicode.h"

#ifndef TRY
#define TRY(x)                       \
    do {                             \
        resa_status st_ = (x);       \
        if (st_ != RESA_OK)          \
            return st_;              \
    } while (0)
#endif

enum pre_type { PRE_SMOLLM, PRE_QWEN2, PRE_LLAMA3, PRE_GPT2 };

/* Token attributes, from tokenizer.ggml.token_type. */
enum {
    ATTR_NORMAL = 1,
    ATTR_UNKNOWN = 2,
    ATTR_CONTROL = 4,
    ATTR_USER = 8,   /* user-defined added token */
    ATTR_OTHER = 16, /* unused, byte or undefined */
};

typedef struct span {
    uint32_t off, len;
} span;

typedef struct merge_slot {
    uint64_t key; /* left id << 32 | right id; MERGE_EMPTY when free */
    int32_t rank, result;
} merge_slot;

#define MERGE_EMPTY UINT64_MAX

struct resa_tokenizer {
    int n_vocab;
    enum pre_type pre;
    spm_model *spm;      /* SentencePiece (tokenizer_spm.c); NULL for byte-level BPE */
    bool ignore_merges;  /* a word that is a token is that token (llama3) */
    char *text;          /* token texts, each followed by a NUL */
    span *tok_text;
    char *bytes;         /* what each token stands for */
    span *tok_bytes;
    unsigned char *attr;
    unsigned char *eog;
    size_t max_token_len;
    int32_t *vocab_slots; /* open addressing on the text: id, or -1 when free */
    size_t vocab_mask;
    merge_slot *merges;
    size_t merge_mask;
    int32_t byte_token[256];       /* id of the byte-level character of each byte, or -1 */
    int32_t byte_fallback[256][2]; /* ids of the 1-byte strings of that character's UTF-8 */
    bool byte_lost[256];           /* neither the character nor every fallback is a token */
    int32_t *specials;             /* split-before-BPE tokens, longest text first */
    int n_specials;
    int bos, eos, eot, eom;
    bool add_bos;
    char *default_system;
    int chat_family; /* chat_template.h, -1 when not recognised */
};

/* ---- hash tables ------------------------------------------------------------ */

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 32);
}

static uint64_t hash_pair(uint64_t key)
{
    key *= 0x9E3779B97F4A7C15ull;
    return key ^ (key >> 29);
}

/* Table size for n entries: a power of two at least twice n. */
static size_t table_size(size_t n)
{
    size_t s = 16;
    while (s < 2 * n)
        s *= 2;
    return s;
}

static const char *tok_str(const resa_tokenizer *t, int32_t id) { return t->text + t->tok_text[id].off; }

static size_t vocab_slot(const resa_tokenizer *t, const char *s, size_t n)
{
    size_t i = hash_bytes(s, n) & t->vocab_mask;
    for (;;) {
        int32_t id = t->vocab_slots[i];
        if (id < 0 || (t->tok_text[id].len == n && memcmp(tok_str(t, id), s, n) == 0))
            return i;
        i = (i + 1) & t->vocab_mask;
    }
}

static int32_t vocab_find(const resa_tokenizer *t, const char *s, size_t n)
{
    return t->vocab_slots[vocab_slot(t, s, n)];
}

static size_t merge_slot_of(const resa_tokenizer *t, uint64_t key)
{
    size_t i = hash_pair(key) & t->merge_mask;
    while (t->merges[i].key != MERGE_EMPTY && t->merges[i].key != key)
        i = (i + 1) & t->merge_mask;
    return i;
}

static uint64_t pair_key(int32_t l, int32_t r) { return (uint64_t)(uint32_t)l << 32 | (uint32_t)r; }

static const merge_slot *merge_find(const resa_tokenizer *t, int32_t l, int32_t r)
{
    const merge_slot *m = &t->merges[merge_slot_of(t, pair_key(l, r))];
    return m->key == MERGE_EMPTY ? NULL : m;
}

/* ---- loading: model type ------------------------------------------------------ */

static int str_is(gguf_str s, const char *c) { return gguf_str_eq(s, c); }

/* Text from the file, escaped for a message (docs/design.md §5.6). */
#define SHOW(buf, p, n) resa_printable(buf, sizeof buf, p, (size_t)(n))

static resa_status load_kind(resa_tokenizer *t, const gguf_file *f)
{
    gguf_str model, pre;
    char buf[RESA_PRINTABLE_BUF];
    TRY(gguf_get_str(f, "tokenizer.ggml.model", &model));
    if (str_is(model, "llama")) { /* SentencePiece: no pre-tokenizer */
        t->add_bos = true;        /* llama.cpp's default for it */
        return RESA_OK;
    }
    if (!str_is(model, "gpt2"))
        return error_set(RESA_ERR_UNSUPPORTED,
                         "%s: tokenizer model '%s' is not supported (only 'gpt2', byte-level BPE, and 'llama', SentencePiece)",
                         f->path, SHOW(buf, model.ptr, model.len));
    if (!gguf_find_kv(f, "tokenizer.ggml.pre"))
        return error_set(RESA_ERR_UNSUPPORTED,
                         "%s: no pre-tokenizer (tokenizer.ggml.pre); supported: smollm, qwen2, deepseek-r1-qwen, llama-bpe, llama3, llama-v3, gpt-2",
                         f->path);
    TRY(gguf_get_str(f, "tokenizer.ggml.pre", &pre));
    if (str_is(pre, "smollm"))
        t->pre = PRE_SMOLLM;
    else if (str_is(pre, "qwen2") || str_is(pre, "deepseek-r1-qwen"))
        t->pre = PRE_QWEN2;
    else if (str_is(pre, "llama-bpe") || str_is(pre, "llama3") || str_is(pre, "llama-v3")) {
        t->pre = PRE_LLAMA3;
        t->ignore_merges = true;
        t->add_bos = true; /* llama.cpp's default for Llama 3 */
    } else if (str_is(pre, "gpt-2"))
        t->pre = PRE_GPT2;
    else
        return error_set(RESA_ERR_UNSUPPORTED,
                         "%s: pre-tokenizer '%s' is not supported (supported: smollm, qwen2, deepseek-r1-qwen, llama-bpe, llama3, llama-v3, gpt-2)",
                         f->path, SHOW(buf, pre.ptr, pre.len));
    return RESA_OK;
}

/* ---- loading: vocabulary -------------------------------------------------------- */

/* llama.cpp renames an empty token "[EMPTY_<id>]"; so do we, so that it can
 * neither match everywhere as a special token nor collide. */
static size_t empty_name(uint32_t id, char buf[32]) { return (size_t)snprintf(buf, 32, "[EMPTY_%u]", id); }

static resa_status alloc_vocab(resa_tokenizer *t, const gguf_file *f, const gguf_kv *kv)
{
    uint64_t total = 0;
    char buf[32];
    for (uint64_t i = 0; i < kv->arr_n; i++) {
        uint64_t len = kv->arr_strs[i].len ? kv->arr_strs[i].len : empty_name((uint32_t)i, buf);
        total += len + 1;
    }
    if (total > UINT32_MAX)
        return error_set(RESA_ERR_FORMAT, "%s: tokenizer.ggml.tokens is too large", f->path);
    size_t n = (size_t)kv->arr_n;
    t->text = malloc((size_t)total);
    t->bytes = malloc((size_t)total);
    t->tok_text = malloc(n * sizeof *t->tok_text);
    t->tok_bytes = malloc(n * sizeof *t->tok_bytes);
    t->attr = malloc(n);
    t->eog = calloc(n, 1);
    t->vocab_mask = table_size(n) - 1;
    t->vocab_slots = malloc((t->vocab_mask + 1) * sizeof *t->vocab_slots);
    if (!t->text || !t->bytes || !t->tok_text || !t->tok_bytes || !t->attr || !t->eog || !t->vocab_slots)
        return error_set(RESA_ERR_NOMEM, "%s: out of memory for the vocabulary", f->path);
    memset(t->vocab_slots, 0xFF, (t->vocab_mask + 1) * sizeof *t->vocab_slots);
    return RESA_OK;
}

static resa_status load_tokens(resa_tokenizer *t, const gguf_file *f)
{
    const gguf_kv *kv;
    TRY(gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_STRING, &kv));
    if (kv->arr_n == 0 || kv->arr_n > INT32_MAX / 4)
        return error_set(RESA_ERR_FORMAT, "%s: tokenizer.ggml.tokens has %llu entries", f->path,
                         (unsigned long long)kv->arr_n);
    TRY(alloc_vocab(t, f, kv));
    t->n_vocab = (int)kv->arr_n;
    uint32_t off = 0;
    for (int i = 0; i < t->n_vocab; i++) {
        gguf_str s = kv->arr_strs[i];
        char buf[32];
        size_t len = s.len ? (size_t)s.len : empty_name((uint32_t)i, buf);
        memcpy(t->text + off, s.len ? s.ptr : buf, len);
        t->text[off + len] = '\0';
        t->tok_text[i] = (span){off, (uint32_t)len};
        off += (uint32_t)len + 1;
        if (len > t->max_token_len)
            t->max_token_len = len;
        size_t slot = vocab_slot(t, tok_str(t, i), len);
        if (t->vocab_slots[slot] >= 0) {
            char show[RESA_PRINTABLE_BUF];
            return error_set(RESA_ERR_FORMAT, "%s: tokens %d and %d have the same text '%s'", f->path,
                             t->vocab_slots[slot], i, SHOW(show, tok_str(t, i), len));
        }
        t->vocab_slots[slot] = i;
    }
    return RESA_OK;
}

static unsigned attr_from_type(int32_t type)
{
    switch (type) { /* llama.cpp's LLAMA_TOKEN_TYPE_* values */
    case 1: return ATTR_NORMAL;
    case 2: return ATTR_UNKNOWN;
    case 3: return ATTR_CONTROL;
    case 4: return ATTR_USER;
    default: return ATTR_OTHER; /* 0 undefined, 5 unused, 6 byte */
    }
}

/* The types a GGUF writer can produce (0 = undefined .. 6 = byte). */
#define TOKEN_TYPE_MAX 6

static resa_status load_types(resa_tokenizer *t, const gguf_file *f)
{
    memset(t->attr, ATTR_NORMAL, (size_t)t->n_vocab);
    if (!gguf_find_kv(f, "tokenizer.ggml.token_type"))
        return RESA_OK;
    const gguf_kv *kv;
    TRY(gguf_get_arr(f, "tokenizer.ggml.token_type", GGUF_INT32, &kv));
    if (kv->arr_n < (uint64_t)t->n_vocab)
        return error_set(RESA_ERR_FORMAT, "%s: tokenizer.ggml.token_type has %llu entries for %d tokens",
                         f->path, (unsigned long long)kv->arr_n, t->n_vocab);
    const unsigned char *p = kv->arr_data;
    for (int i = 0; i < t->n_vocab; i++) {
        int32_t v;
        memcpy(&v, p + 4 * (size_t)i, 4); /* unaligned, little-endian in the file */
        if (v < 0 || v > TOKEN_TYPE_MAX)
            return error_set(RESA_ERR_FORMAT, "%s: tokenizer.ggml.token_type[%d] = %d is not a token type (0 to %d)",
                             f->path, i, (int)v, TOKEN_TYPE_MAX);
        t->attr[i] = (unsigned char)attr_from_type(v);
    }
    return RESA_OK;
}

/* ---- loading: merges --------------------------------------------------------------- */

/* "left right": split at the first space after the first byte (as llama.cpp),
 * and both halves and their concatenation must be tokens. */
static resa_status add_merge(resa_tokenizer *t, const gguf_file *f, gguf_str m, int32_t rank, char *buf)
{
    char show[RESA_PRINTABLE_BUF];
    const char *sp = m.len > 1 ? memchr(m.ptr + 1, ' ', (size_t)m.len - 1) : NULL;
    if (!sp)
        return error_set(RESA_ERR_FORMAT, "%s: tokenizer.ggml.merges[%d] '%s' is not two tokens separated by a space",
                         f->path, rank, SHOW(show, m.ptr, m.len));
    size_t ln = (size_t)(sp - m.ptr), rn = (size_t)m.len - ln - 1;
    int32_t l = vocab_find(t, m.ptr, ln), r = vocab_find(t, sp + 1, rn), res = -1;
    if (l >= 0 && r >= 0 && ln + rn <= t->max_token_len) {
        memcpy(buf, m.ptr, ln);
        memcpy(buf + ln, sp + 1, rn);
        res = vocab_find(t, buf, ln + rn);
    }
    if (res < 0)
        return error_set(RESA_ERR_FORMAT, "%s: tokenizer.ggml.merges[%d] '%s' names %s not in the vocabulary",
                         f->path, rank, SHOW(show, m.ptr, m.len), l < 0 || r < 0 ? "a token" : "a merged token");
    size_t slot = merge_slot_of(t, pair_key(l, r));
    if (t->merges[slot].key == MERGE_EMPTY) /* a repeated pair keeps its first rank */
        t->merges[slot] = (merge_slot){pair_key(l, r), rank, res};
    return RESA_OK;
}

static resa_status load_merges(resa_tokenizer *t, const gguf_file *f)
{
    const gguf_kv *kv;
    TRY(gguf_get_arr(f, "tokenizer.ggml.merges", GGUF_STRING, &kv));
    if (kv->arr_n > INT32_MAX / 4)
        return error_set(RESA_ERR_FORMAT, "%s: tokenizer.ggml.merges has %llu entries", f->path,
                         (unsigned long long)kv->arr_n);
    t->merge_mask = table_size((size_t)kv->arr_n) - 1;
    t->merges = malloc((t->merge_mask + 1) * sizeof *t->merges);
    char *buf = malloc(t->max_token_len + 1);
    if (!t->merges || !buf) {
        free(buf);
        return error_set(RESA_ERR_NOMEM, "%s: out of memory for the merges", f->path);
    }
    for (size_t i = 0; i <= t->merge_mask; i++)
        t->merges[i].key = MERGE_EMPTY;
    resa_status st = RESA_OK;
    for (uint64_t i = 0; i < kv->arr_n && st == RESA_OK; i++)
        st = add_merge(t, f, kv->arr_strs[i], (int32_t)i, buf);
    free(buf);
    return st;
}

/* ---- loading: special tokens --------------------------------------------------------- */

/* An optional token id key; out of range is an error. *id is left alone when absent. */
static resa_status load_id(const resa_tokenizer *t, const gguf_file *f, const char *key, int *id)
{
    if (!gguf_find_kv(f, key))
        return RESA_OK;
    uint32_t v;
    TRY(gguf_get_u32(f, key, &v));
    if (v >= (uint32_t)t->n_vocab)
        return error_set(RESA_ERR_FORMAT, "%s: %s = %u is outside the vocabulary (%d tokens)", f->path, key, v,
                         t->n_vocab);
    *id = (int)v;
    return RESA_OK;
}

#define FW "\xef\xbd\x9c" /* U+FF5C FULLWIDTH VERTICAL LINE, in DeepSeek's token names */
#define SP "\xe2\x96\x81" /* U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's space */

/* Texts llama.cpp treats as end of generation, and forces to be control tokens
 * whatever their type (llama_vocab::impl::load). */
static const char *const eog_names[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<" FW "end" SP "of" SP "sentence" FW ">", "[e~[", NULL};

/* Fill-in-the-middle tokens: when the file does not name one, llama.cpp finds
 * it by text and makes it a control token; pad, repo and file-separator ones
 * also end generation. */
typedef struct fim_kind {
    const char *key, *old_key;
    bool eog;
    const char *names[9];
} fim_kind;

static const fim_kind fim_kinds[] = {
    {"tokenizer.ggml.fim_pre_token_id", "tokenizer.ggml.prefix_token_id", false,
     {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<" FW "fim" SP "begin" FW ">", "<PRE>", SP "<PRE>",
      "<|code_prefix|>", "<|prefix|>", NULL}},
    {"tokenizer.ggml.fim_suf_token_id", "tokenizer.ggml.suffix_token_id", false,
     {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<" FW "fim" SP "hole" FW ">", "<SUF>", SP "<SUF>",
      "<|code_suffix|>", "<|suffix|>", NULL}},
    {"tokenizer.ggml.fim_mid_token_id", "tokenizer.ggml.middle_token_id", false,
     {"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<" FW "fim" SP "end" FW ">", "<MID>", SP "<MID>",
      "<|code_middle|>", "<|middle|>", NULL}},
    {"tokenizer.ggml.fim_pad_token_id", NULL, true, {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", NULL}},
    {"tokenizer.ggml.fim_rep_token_id", NULL, true,
     {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", NULL}},
    {"tokenizer.ggml.fim_sep_token_id", NULL, true, {"<|file_sep|>", NULL}},
};

/* The lowest id among tokens with one of these texts, or -1. */
static int32_t find_named(const resa_tokenizer *t, const char *const *names)
{
    int32_t best = -1;
    for (; *names; names++) {
        int32_t id = vocab_find(t, *names, strlen(*names));
        if (id >= 0 && (best < 0 || id < best))
            best = id;
    }
    return best;
}

static void force_control(resa_tokenizer *t, int32_t id) { t->attr[id] |= ATTR_CONTROL; }

static resa_status apply_fim_rules(resa_tokenizer *t, const gguf_file *f)
{
    for (size_t k = 0; k < sizeof fim_kinds / sizeof fim_kinds[0]; k++) {
        const fim_kind *fk = &fim_kinds[k];
        int id = -1;
        TRY(load_id(t, f, fk->key, &id));
        if (fk->old_key)
            TRY(load_id(t, f, fk->old_key, &id));
        if (id < 0 && (id = find_named(t, fk->names)) >= 0)
            force_control(t, id);
        if (id >= 0 && fk->eog)
            t->eog[id] = 1;
    }
    return RESA_OK;
}

static void apply_eog_names(resa_tokenizer *t)
{
    for (const char *const *n = eog_names; *n; n++) {
        int32_t id = vocab_find(t, *n, strlen(*n));
        if (id >= 0) {
            t->eog[id] = 1;
            force_control(t, id);
        }
    }
}

static resa_status load_special_ids(resa_tokenizer *t, const gguf_file *f)
{
    t->bos = t->eos = t->eot = t->eom = -1;
    TRY(load_id(t, f, "tokenizer.ggml.bos_token_id", &t->bos));
    TRY(load_id(t, f, "tokenizer.ggml.eos_token_id", &t->eos));
    TRY(load_id(t, f, "tokenizer.ggml.eot_token_id", &t->eot));
    TRY(load_id(t, f, "tokenizer.ggml.eom_token_id", &t->eom));
    /* Not used here, but an id outside the vocabulary means a broken file. */
    static const char *const unused_ids[] = {
        "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id",
        "tokenizer.ggml.seperator_token_id", "tokenizer.ggml.separator_token_id",
        "tokenizer.ggml.cls_token_id", "tokenizer.ggml.mask_token_id" };
    for (size_t i = 0; i < sizeof unused_ids / sizeof unused_ids[0]; i++) {
        int unused = -1;
        TRY(load_id(t, f, unused_ids[i], &unused));
    }
    TRY(gguf_get_bool_opt(f, "tokenizer.ggml.add_bos_token", &t->add_bos));
    TRY(apply_fim_rules(t, f));
    apply_eog_names(t);
    int ids[3] = {t->eos, t->eot, t->eom};
    for (int i = 0; i < 3; i++)
        if (ids[i] >= 0)
            t->eog[ids[i]] = 1;
    return RESA_OK;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Longest text first (the order llama.cpp cuts them out in), then by id. */
static resa_status sort_specials(resa_tokenizer *t)
{
    uint64_t *keys = malloc((size_t)(t->n_specials ? t->n_specials : 1) * sizeof *keys);
    if (!keys)
        return error_set(RESA_ERR_NOMEM, "out of memory for the special tokens");
    for (int i = 0; i < t->n_specials; i++) {
        uint32_t len = t->tok_text[t->specials[i]].len;
        keys[i] = (uint64_t)(UINT32_MAX - len) << 32 | (uint32_t)t->specials[i];
    }
    qsort(keys, (size_t)t->n_specials, sizeof *keys, cmp_u64);
    for (int i = 0; i < t->n_specials; i++)
        t->specials[i] = (int32_t)(keys[i] & 0xFFFFFFFFu);
    free(keys);
    return RESA_OK;
}

static resa_status build_specials(resa_tokenizer *t)
{
    int n = 0;
    for (int i = 0; i < t->n_vocab; i++)
        n += (t->attr[i] & (ATTR_CONTROL | ATTR_USER | ATTR_UNKNOWN)) != 0;
    t->specials = malloc((size_t)(n ? n : 1) * sizeof *t->specials);
    if (!t->specials)
        return error_set(RESA_ERR_NOMEM, "out of memory for the special tokens");
    for (int i = 0; i < t->n_vocab; i++)
        if (t->attr[i] & (ATTR_CONTROL | ATTR_USER | ATTR_UNKNOWN))
            t->specials[t->n_specials++] = i;
    return sort_specials(t);
}

/* ---- loading: what tokens stand for ------------------------------------------------ */

/* Byte-level characters back to bytes; a character that spells no byte keeps
 * its UTF-8 (the output is never longer than the input). */
static size_t decode_bytelevel(const char *s, size_t n, char *dst)
{
    size_t i = 0, o = 0;
    while (i < n) {
        size_t used;
        uint32_t cp = utf8_decode((const unsigned char *)s + i, n - i, &used);
        int b = bytelevel_byte(cp);
        if (b >= 0) {
            dst[o++] = (char)b;
        } else {
            memcpy(dst + o, s + i, used);
            o += used;
        }
        i += used;
    }
    return o;
}

static void build_token_bytes(resa_tokenizer *t)
{
    uint32_t off = 0;
    for (int i = 0; i < t->n_vocab; i++) {
        span s = t->tok_text[i];
        size_t n;
        if (t->spm) {
            n = spm_token_bytes(tok_str(t, i), s.len, t->attr[i] == ATTR_NORMAL, t->attr[i] == ATTR_OTHER,
                                t->bytes + off);
        } else if (t->attr[i] == ATTR_NORMAL) {
            n = decode_bytelevel(tok_str(t, i), s.len, t->bytes + off);
        } else {
            memcpy(t->bytes + off, tok_str(t, i), s.len);
            n = s.len;
        }
        t->tok_bytes[i] = (span){off, (uint32_t)n};
        off += (uint32_t)n;
    }
}

/* Each byte starts a word as the token of its byte-level character. When
 * that character is not a token, llama.cpp looks up each byte of its UTF-8
 * as a token of its own, and drops those that are not; we refuse such text
 * instead (tokenizer_encode fails naming the byte), so no byte is lost
 * without a word (docs/design.md §5.6). */
static void build_byte_tokens(resa_tokenizer *t)
{
    for (int b = 0; b < 256; b++) {
        unsigned char u[4];
        int n = utf8_encode(bytelevel_char((unsigned char)b), u);
        t->byte_token[b] = vocab_find(t, (const char *)u, (size_t)n);
        bool lost = false;
        for (int k = 0; k < 2; k++) {
            t->byte_fallback[b][k] = k < n ? vocab_find(t, (const char *)u + k, 1) : -1;
            lost |= k < n && t->byte_fallback[b][k] < 0;
        }
        /* a 2-byte character has two fallbacks; a 1-byte one has one */
        t->byte_lost[b] = t->byte_token[b] < 0 && (lost || n > 2);
    }
}

/* ---- loading: chat template ----------------------------------------------------------- */

/* Finds "<|im_start|>system\n" + literal text + "<|im_end|>" inside one
 * quoted template string (SmolLM2 and Qwen2.5 insert their default system
 * prompt that way). The newline may be a real one or the escape "\n"; the
 * text must hold no quote, brace or backslash, so it is a plain literal. */
static char *find_default_system(const char *tpl, size_t len)
{
    static const char head[] = "<|im_start|>system", tail[] = "<|im_end|>";
    const char *end = tpl + len;
    for (const char *p = tpl; (p = memchr(p, '<', (size_t)(end - p))); p++) {
        if ((size_t)(end - p) < sizeof head || memcmp(p, head, sizeof head - 1))
            continue;
        const char *q = p + sizeof head - 1;
        if (q < end && *q == '\n')
            q++;
        else if (end - q >= 2 && q[0] == '\\' && q[1] == 'n')
            q += 2;
        else
            continue;
        const char *r = q;
        while (r < end && !strchr("'\"{}\\<", *r))
            r++;
        if (r > q && (size_t)(end - r) >= sizeof tail - 1 && !memcmp(r, tail, sizeof tail - 1)) {
            char *s = malloc((size_t)(r - q) + 1);
            if (s) {
                memcpy(s, q, (size_t)(r - q));
                s[r - q] = '\0';
            }
            return s;
        }
    }
    return NULL;
}

static resa_status load_template(resa_tokenizer *t, const gguf_file *f)
{
    t->chat_family = -1;
    if (!gguf_find_kv(f, "tokenizer.chat_template"))
        return RESA_OK;
    gguf_str s;
    TRY(gguf_get_str(f, "tokenizer.chat_template", &s));
    t->default_system = find_default_system(s.ptr, (size_t)s.len);
    t->chat_family = chat_family_detect(s.ptr, (size_t)s.len);
    return RESA_OK;
}

/* ---- load / free / getters ------------------------------------------------------------- */

static int32_t vocab_find_cb(const void *t, const char *s, size_t n) { return vocab_find(t, s, n); }

static resa_status load_all(resa_tokenizer *t, const gguf_file *f)
{
    gguf_str model;
    TRY(load_kind(t, f));
    TRY(load_tokens(t, f));
    TRY(load_types(t, f));
    TRY(gguf_get_str(f, "tokenizer.ggml.model", &model));
    if (str_is(model, "llama"))
        TRY(spm_load(f, t->n_vocab, vocab_find_cb, t, &t->spm));
    else
        TRY(load_merges(t, f));
    TRY(load_special_ids(t, f));
    TRY(build_specials(t));
    build_token_bytes(t);
    build_byte_tokens(t);
    return load_template(t, f);
}

resa_status tokenizer_load(const gguf_file *f, resa_tokenizer **out)
{
    if (!out)
        return error_set(RESA_ERR_ARG, "tokenizer_load: NULL output");
    *out = NULL;
    if (!f)
        return error_set(RESA_ERR_ARG, "tokenizer_load: NULL file");
    resa_tokenizer *t = calloc(1, sizeof *t);
    if (!t)
        return error_set(RESA_ERR_NOMEM, "out of memory");
    resa_status st = load_all(t, f);
    if (st) {
        tokenizer_free(t);
        return st;
    }
    *out = t;
    return RESA_OK;
}

void tokenizer_free(resa_tokenizer *t)
{
    if (!t)
        return;
    free(t->text);
    free(t->tok_text);
    free(t->bytes);
    free(t->tok_bytes);
    free(t->attr);
    free(t->eog);
    free(t->vocab_slots);
    free(t->merges);
    free(t->specials);
    free(t->default_system);
    spm_free(t->spm);
    free(t);
}

const char *tokenizer_token_bytes(const resa_tokenizer *t, int32_t id, size_t *len)
{
    if (!t || id < 0 || id >= t->n_vocab) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = t->tok_bytes[id].len;
    return t->bytes + t->tok_bytes[id].off;
}

int32_t tokenizer_find(const resa_tokenizer *t, const char *s, size_t n) { return t && s ? vocab_find(t, s, n) : -1; }
int tokenizer_chat_family(const resa_tokenizer *t) { return t ? t->chat_family : -1; }
int tokenizer_is_eog(const resa_tokenizer *t, int32_t id) { return t && id >= 0 && id < t->n_vocab && t->eog[id]; }
int tokenizer_n_vocab(const resa_tokenizer *t) { return t ? t->n_vocab : 0; }
int tokenizer_bos(const resa_tokenizer *t) { return t ? t->bos : -1; }
int tokenizer_eos(const resa_tokenizer *t) { return t ? t->eos : -1; }
int tokenizer_add_bos(const resa_tokenizer *t) { return t && t->add_bos; }
const char *tokenizer_default_system(const resa_tokenizer *t) { return t ? t->default_system : NULL; }

/* ChatML's pieces around the messages (tokenizer_chat_format spells them
 * for display; chat_template.c tokenizes turns). */
static const char chat_sys_head[] = "<|im_start|>system\n", chat_user_head[] = "<|im_start|>user\n",
                  chat_end[] = "<|im_end|>\n", chat_tail[] = "<|im_start|>assistant\n";

char *tokenizer_chat_format(const resa_tokenizer *t, const char *system, const char *user)
{
    (void)t; /* every supported model speaks ChatML */
    if (!user) {
        error_set(RESA_ERR_ARG, "chat format: no user message");
        return NULL;
    }
    size_t n = strlen(user) + sizeof chat_user_head + sizeof chat_end + sizeof chat_tail +
               (system ? strlen(system) + sizeof chat_sys_head + sizeof chat_end : 0);
    char *s = malloc(n);
    if (!s) {
        error_set(RESA_ERR_NOMEM, "out of memory");
        return NULL;
    }
    s[0] = '\0';
    if (system) {
        strcat(s, chat_sys_head);
        strcat(s, system);
        strcat(s, chat_end);
    }
    strcat(s, chat_user_head);
    strcat(s, user);
    strcat(s, chat_end);
    strcat(s, chat_tail);
    return s;
}

/* ---- encoding: output and scratch ------------------------------------------------------ */

typedef struct bpe_sym {
    int32_t id; /* token, -1 for a byte whose character is no token, SYM_GONE once merged away */
    int32_t prev, next;
    unsigned char byte;
} bpe_sym;

#define SYM_GONE INT32_MIN

typedef struct bpe_pair {
    int32_t rank, left, right; /* symbol indexes */
    int32_t left_id, right_id, result;
} bpe_pair;

typedef struct encoder {
    const resa_tokenizer *t;
    int32_t *out;
    size_t max, n;          /* ids written go to out[0..max); n counts them all */
    uint32_t *cp;           /* the current piece of text as code points */
    unsigned char *cls;     /* and their classes */
    unsigned char *bytes;   /* the current word, re-encoded */
    bpe_sym *sym;
    bpe_pair *heap;
    size_t heap_n;
    size_t word_cap;        /* entries of bytes and sym; heap has 3 * word_cap */
    bool nomem;
    int lost_byte;          /* a byte with no token (+1), 0 when none */
} encoder;

static void emit(encoder *e, int32_t id)
{
    if (e->n < e->max)
        e->out[e->n] = id;
    e->n++;
}

static void emit_cb(void *e, int32_t id) { emit(e, id); }

static bool grow_word(encoder *e, size_t n)
{
    if (n <= e->word_cap)
        return true;
    size_t cap = e->word_cap ? e->word_cap : 64;
    while (cap < n)
        cap *= 2;
    unsigned char *b = realloc(e->bytes, cap);
    if (b)
        e->bytes = b;
    bpe_sym *s = b ? realloc(e->sym, cap * sizeof *s) : NULL;
    if (s)
        e->sym = s;
    bpe_pair *h = s ? realloc(e->heap, 3 * cap * sizeof *h) : NULL; /* n-1 pairs, then 2 per merge */
    if (!h)
        return false;
    e->heap = h;
    e->word_cap = cap;
    return true;
}

/* ---- encoding: BPE on one word ------------------------------------------------------------ */

/* Heap order: lowest rank first, then leftmost, as llama.cpp's queue. */
static bool pair_before(const bpe_pair *a, const bpe_pair *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static void heap_push(encoder *e, bpe_pair p)
{
    size_t i = e->heap_n++;
    while (i > 0 && pair_before(&p, &e->heap[(i - 1) / 2])) {
        e->heap[i] = e->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    e->heap[i] = p;
}

static bpe_pair heap_pop(encoder *e)
{
    bpe_pair top = e->heap[0], last = e->heap[--e->heap_n];
    size_t i = 0, n = e->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && pair_before(&e->heap[c + 1], &e->heap[c]))
            c++;
        if (!pair_before(&e->heap[c], &last))
            break;
        e->heap[i] = e->heap[c];
        i = c;
    }
    if (n)
        e->heap[i] = last;
    return top;
}

static void try_pair(encoder *e, int32_t l, int32_t r)
{
    if (l < 0 || r < 0 || e->sym[l].id < 0 || e->sym[r].id < 0)
        return;
    const merge_slot *m = merge_find(e->t, e->sym[l].id, e->sym[r].id);
    if (m)
        heap_push(e, (bpe_pair){m->rank, l, r, e->sym[l].id, e->sym[r].id, m->result});
}

/* A pair is stale once either side has merged with something else. */
static bool pair_live(const encoder *e, const bpe_pair *p)
{
    const bpe_sym *l = &e->sym[p->left], *r = &e->sym[p->right];
    return l->id == p->left_id && r->id == p->right_id && l->next == p->right;
}

static void merge_pair(encoder *e, const bpe_pair *p)
{
    bpe_sym *l = &e->sym[p->left], *r = &e->sym[p->right];
    l->id = p->result;
    l->next = r->next;
    if (r->next >= 0)
        e->sym[r->next].prev = p->left;
    r->id = SYM_GONE;
    try_pair(e, l->prev, p->left);
    try_pair(e, p->left, l->next);
}

static void emit_symbol(encoder *e, const bpe_sym *s)
{
    if (s->id >= 0) {
        emit(e, s->id);
        return;
    }
    if (e->t->byte_lost[s->byte] && !e->lost_byte)
        e->lost_byte = s->byte + 1;
    for (int k = 0; k < 2; k++)
        if (e->t->byte_fallback[s->byte][k] >= 0)
            emit(e, e->t->byte_fallback[s->byte][k]);
}

static void bpe_word(encoder *e, size_t n)
{
    const resa_tokenizer *t = e->t;
    for (size_t i = 0; i < n; i++)
        e->sym[i] = (bpe_sym){t->byte_token[e->bytes[i]], (int32_t)i - 1, i + 1 < n ? (int32_t)i + 1 : -1,
                              e->bytes[i]};
    e->heap_n = 0;
    for (size_t i = 1; i < n; i++)
        try_pair(e, (int32_t)i - 1, (int32_t)i);
    while (e->heap_n) {
        bpe_pair p = heap_pop(e);
        if (pair_live(e, &p))
            merge_pair(e, &p);
    }
    for (int32_t i = 0; i >= 0 && n; i = e->sym[i].next)
        emit_symbol(e, &e->sym[i]);
}

/* Longest word BPE sees at once, in code points: a longer one is merged in
 * pieces of this size, so the scratch memory stays bounded (about 3 MB)
 * whatever the input. llama.cpp merges any word whole; the two differ only
 * on words of more than 8192 characters (docs/design.md §5.6). */
#define WORD_MAX_CP 8192

/* ignore_merges: when the word's byte-level spelling is a token, that token
 * is the word, whatever the merges would give (llama.cpp, for Llama 3). */
static bool whole_word(encoder *e, size_t n)
{
    size_t len = 0;
    unsigned char u[4];
    for (size_t i = 0; i < n; i++)
        len += (size_t)utf8_encode(bytelevel_char(e->bytes[i]), u);
    if (len > e->t->max_token_len)
        return false;
    char *s = malloc(len + 1);
    if (!s) {
        e->nomem = true;
        return true;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        o += (size_t)utf8_encode(bytelevel_char(e->bytes[i]), (unsigned char *)s + o);
    int32_t id = vocab_find(e->t, s, len);
    free(s);
    if (id >= 0)
        emit(e, id);
    return id >= 0;
}

/* The pre-tokenizer found the word cp[b..end). */
static void word(encoder *e, size_t b, size_t end)
{
    for (; b < end && !e->nomem; b += WORD_MAX_CP) {
        const size_t stop = end - b > WORD_MAX_CP ? b + WORD_MAX_CP : end;
        if (!grow_word(e, 4 * (stop - b))) {
            e->nomem = true;
            return;
        }
        size_t n = 0;
        for (size_t i = b; i < stop; i++)
            n += (size_t)utf8_encode(e->cp[i], e->bytes + n);
        if (!(e->t->ignore_merges && whole_word(e, n)))
            bpe_word(e, n);
    }
}

/* ---- encoding: pre-tokenizers ------------------------------------------------------------ */

#define ANY_CLASS (UNI_LETTER | UNI_NUMBER | UNI_SPACE)

/* llama.cpp folds case with the full Unicode table, but the only non-ASCII
 * code points that lower-case to ASCII are U+0130 (i) and U+212A (k), and
 * neither letter is in a contraction. */
static uint32_t ascii_lower(uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* 's 't 're 've 'm 'll 'd at p (any case when fold): their length, else 0. */
static size_t contraction(const uint32_t *cp, size_t p, size_t e, bool fold)
{
    if (cp[p] != '\'' || p + 1 >= e)
        return 0;
    uint32_t a = fold ? ascii_lower(cp[p + 1]) : cp[p + 1];
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
        return 2;
    if (p + 2 >= e)
        return 0;
    uint32_t b = fold ? ascii_lower(cp[p + 2]) : cp[p + 2];
    return (a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l') ? 3 : 0;
}

static size_t run_of(const unsigned char *cls, size_t p, size_t e, unsigned want)
{
    while (p < e && (cls[p] & want))
        p++;
    return p;
}

/* [^\s\p{L}\p{N}]+ */
static size_t run_other(const unsigned char *cls, size_t p, size_t e)
{
    while (p < e && !(cls[p] & ANY_CLASS))
        p++;
    return p;
}

/* \s+(?!\S) then \s+: a run of whitespace, less its last character when a
 * non-space follows (that one goes with the next word). A lone whitespace
 * character before a non-space is a word by itself; the GPT-2 regex does
 * not match it, but llama.cpp keeps unmatched text as a word. */
static size_t whitespace_end(const unsigned char *cls, size_t p, size_t e)
{
    size_t w = run_of(cls, p, e, UNI_SPACE);
    if (w - p > 1 && w < e)
        return w - 1;
    return w > p ? w : p + 1;
}

/* GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
 * One match at p in [p, e); returns its end. */
static size_t gpt2_match(const uint32_t *cp, const unsigned char *cls, size_t p, size_t e)
{
    size_t c = contraction(cp, p, e, false);
    if (c)
        return p + c;
    size_t q = p + (cp[p] == ' '); /* the optional leading space */
    if (q < e) {
        if (cls[q] & UNI_LETTER)
            return run_of(cls, q, e, UNI_LETTER);
        if (cls[q] & UNI_NUMBER)
            return run_of(cls, q, e, UNI_NUMBER);
        if (!(cls[q] & ANY_CLASS))
            return run_other(cls, q, e);
    }
    return whitespace_end(cls, p, e);
}

static void gpt2_split(encoder *e, size_t b, size_t end)
{
    for (size_t p = b; p < end;) {
        size_t q = gpt2_match(e->cp, e->cls, p, end);
        word(e, p, q);
        p = q;
    }
}

/* smollm: first \p{N} (every digit alone, the text between as pieces), then
 * the GPT-2 regex inside each piece. */
static void split_smollm(encoder *e, size_t n)
{
    size_t b = 0;
    for (size_t i = 0; i < n; i++) {
        if (e->cls[i] & UNI_NUMBER) {
            gpt2_split(e, b, i);
            word(e, i, i + 1);
            b = i + 1;
        }
    }
    gpt2_split(e, b, n);
}

static bool is_crlf(uint32_t c) { return c == '\r' || c == '\n'; }

/* \s*[\r\n]+ first, then as GPT-2: whitespace up to its last CR or LF. */
static size_t qwen2_whitespace_end(const uint32_t *cp, const unsigned char *cls, size_t p, size_t e)
{
    size_t w = p, last_nl = 0;
    for (; w < e && (cls[w] & UNI_SPACE); w++)
        if (is_crlf(cp[w]))
            last_nl = w + 1;
    return last_nl ? last_nl : whitespace_end(cls, p, e);
}

/* qwen2: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}
 *        | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
static size_t qwen2_match(const uint32_t *cp, const unsigned char *cls, size_t p, size_t e, size_t max_digits)
{
    size_t c = contraction(cp, p, e, true);
    if (c)
        return p + c;
    bool next_letter = p + 1 < e && (cls[p + 1] & UNI_LETTER);
    if (!is_crlf(cp[p]) && !(cls[p] & UNI_NUMBER) && ((cls[p] & UNI_LETTER) || next_letter))
        return run_of(cls, p + 1, e, UNI_LETTER);
    if (cls[p] & UNI_NUMBER) { /* \p{N}, or \p{N}{1,3} for llama3 */
        size_t q = p + 1;
        while (q < e && q - p < max_digits && (cls[q] & UNI_NUMBER))
            q++;
        return q;
    }
    size_t q = p + (cp[p] == ' ');
    if (q >= e || !(cls[q] & ANY_CLASS)) {
        q = run_other(cls, q, e);
        while (q < e && is_crlf(cp[q]))
            q++;
        return q;
    }
    return qwen2_whitespace_end(cp, cls, p, e);
}

static void split_qwen2(encoder *e, size_t n, size_t max_digits)
{
    for (size_t p = 0; p < n;) {
        size_t q = qwen2_match(e->cp, e->cls, p, n, max_digits);
        word(e, p, q);
        p = q;
    }
}

/* ---- encoding: text pieces and special tokens ------------------------------------------- */

static void encode_piece(encoder *e, const char *s, size_t len)
{
    uint32_t *cp = malloc(len * sizeof *cp);
    unsigned char *cls = malloc(len);
    if (!cp || !cls) {
        free(cp);
        free(cls);
        e->nomem = true;
        return;
    }
    size_t n = 0;
    for (size_t i = 0, used; i < len; i += used) {
        cp[n] = utf8_decode((const unsigned char *)s + i, len - i, &used);
        cls[n] = (unsigned char)unicode_class(cp[n]);
        n++;
    }
    e->cp = cp;
    e->cls = cls;
    switch (e->t->pre) {
    case PRE_SMOLLM: split_smollm(e, n); break;
    case PRE_QWEN2: split_qwen2(e, n, 1); break;
    case PRE_LLAMA3: split_qwen2(e, n, 3); break;
    case PRE_GPT2: gpt2_split(e, 0, n); break;
    }
    free(cp);
    free(cls);
}

typedef struct fragment {
    int32_t token; /* a special token, or -1 for text[off..off+len) */
    size_t off, len;
} fragment;

typedef struct frag_list {
    fragment *v;
    size_t n, cap;
} frag_list;

static bool frag_push(frag_list *l, fragment f)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        fragment *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return false;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = f;
    return true;
}

static const char *find_bytes(const char *h, size_t hn, const char *nd, size_t nn)
{
    for (const char *end = h + hn; (size_t)(end - h) >= nn; h++) {
        h = memchr(h, nd[0], (size_t)(end - h) - nn + 1);
        if (!h)
            return NULL;
        if (!memcmp(h, nd, nn))
            return h;
    }
    return NULL;
}

/* Cuts every occurrence of token id out of the text fragments of in. */
static bool cut_token(const resa_tokenizer *t, const char *text, int32_t id, const frag_list *in, frag_list *out)
{
    const char *pat = tok_str(t, id);
    size_t plen = t->tok_text[id].len;
    out->n = 0;
    for (size_t i = 0; i < in->n; i++) {
        fragment f = in->v[i];
        size_t off = f.off, end = f.off + f.len;
        const char *hit;
        while (f.token < 0 && (hit = find_bytes(text + off, end - off, pat, plen))) {
            size_t at = (size_t)(hit - text);
            if ((at > off && !frag_push(out, (fragment){-1, off, at - off})) ||
                !frag_push(out, (fragment){id, 0, 0}))
                return false;
            off = at + plen;
        }
        if (f.token >= 0 ? !frag_push(out, f) : off < end && !frag_push(out, (fragment){-1, off, end - off}))
            return false;
    }
    return true;
}

/* Cuts the special tokens out of text[0..len): control (and unknown) ones
 * only with parse_special, user-defined ones always. */
static bool partition(const resa_tokenizer *t, const char *text, size_t len, int parse_special, frag_list *out)
{
    frag_list a = {0}, b = {0};
    bool ok = frag_push(&a, (fragment){-1, 0, len});
    for (int i = 0; ok && i < t->n_specials; i++) {
        int32_t id = t->specials[i];
        if (!parse_special && (t->attr[id] & (ATTR_CONTROL | ATTR_UNKNOWN)))
            continue;
        ok = cut_token(t, text, id, &a, &b);
        frag_list tmp = a;
        a = b;
        b = tmp;
    }
    free(b.v);
    *out = a;
    return ok;
}

static int encode(const resa_tokenizer *t, const char *text, size_t len, int parse_special, int add_bos,
                  int32_t *out, int max_tokens)
{
    encoder e = {.t = t, .out = out, .max = (size_t)max_tokens};
    if (add_bos && t->bos >= 0)
        emit(&e, t->bos);
    frag_list frags = {0};
    if (len && !partition(t, text, len, parse_special, &frags))
        e.nomem = true;
    bool after_special = true; /* SentencePiece's space prefix goes at the start and after specials */
    resa_status st = RESA_OK;
    for (size_t i = 0; i < frags.n && !e.nomem && !e.lost_byte && !st; i++) {
        if (frags.v[i].token >= 0)
            emit(&e, frags.v[i].token);
        else if (t->spm)
            st = spm_encode(t->spm, text + frags.v[i].off, frags.v[i].len,
                            after_special && spm_add_space_prefix(t->spm), emit_cb, &e);
        else
            encode_piece(&e, text + frags.v[i].off, frags.v[i].len);
        after_special = frags.v[i].token >= 0;
    }
    free(frags.v);
    free(e.bytes);
    free(e.sym);
    free(e.heap);
    if (st)
        return -1;
    if (e.nomem) {
        error_set(RESA_ERR_NOMEM, "tokenize: out of memory");
        return -1;
    }
    if (e.lost_byte) {
        error_set(RESA_ERR_UNSUPPORTED, "tokenize: the byte 0x%02x has no token in this model's vocabulary",
                  e.lost_byte - 1);
        return -1;
    }
    if (e.n > INT_MAX) {
        error_set(RESA_ERR_ARG, "tokenize: more than %d tokens", INT_MAX);
        return -1;
    }
    return (int)e.n;
}

static bool bad_text_args(const char *text, size_t len, int32_t *out, int max_tokens)
{
    if ((!text && len) || max_tokens < 0 || (!out && max_tokens > 0)) {
        error_set(RESA_ERR_ARG, "tokenize: bad arguments");
        return true;
    }
    if (len > INT32_MAX / 4) { /* a word's symbols are indexed with int32 */
        error_set(RESA_ERR_ARG, "tokenize: text of %zu bytes is too long", len);
        return true;
    }
    return false;
}

int tokenizer_encode(const resa_tokenizer *t, const char *text, size_t len, int add_bos, int parse_special,
                     int32_t *out, int max_tokens)
{
    if (!t) {
        error_set(RESA_ERR_ARG, "tokenize: NULL tokenizer");
        return -1;
    }
    if (bad_text_args(text, len, out, max_tokens))
        return -1;
    return encode(t, text, len, parse_special, add_bos, out, max_tokens);
}

