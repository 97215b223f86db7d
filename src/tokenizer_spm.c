/* SPDX-License-Identifier: MIT */
/* SentencePiece BPE as llama.cpp runs it on a GGUF vocabulary:
 *
 *   1. Spaces become U+2581 (and one is put first when the fragment starts
 *      the text or follows a special token and add_space_prefix is set).
 *   2. The text is cut into UTF-8 characters (a lead byte takes the length
 *      it announces, clipped at the end; any other byte is one symbol).
 *   3. Adjacent symbols whose concatenation is a token are merged, the
 *      pair whose token has the highest score first, the leftmost of equal
 *      scores, until no pair forms a token.
 *   4. A symbol that is no token is written as the byte tokens <0xNN> of its
 *      bytes. (A merged symbol is always a token, so only single characters
 *      fall back to bytes.)
 *
 * The cost is O(n log n) for a text of n characters, with one token lookup
 * per candidate pair. */
#include "tokenizer_spm.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

#define SP "\xe2\x96\x81" /* U+2581, SentencePiece's space */

struct spm_model {
    int n_vocab;
    float *score;
    int32_t byte_token[256]; /* <0xNN>, or -1 */
    bool add_space_prefix;
    spm_find_fn find;
    const void *vocab;
};

int spm_byte_of(const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>')
        return -1;
    const char *h = strchr(hex, s[3]), *l = strchr(hex, s[4]);
    if (!s[3] || !s[4] || !h || !l)
        return -1;
    return (int)((h - hex) << 4 | (l - hex));
}

resa_status spm_load(const gguf_file *f, int n_vocab, spm_find_fn find, const void *vocab, spm_model **out)
{
    *out = NULL;
    const gguf_kv *kv;
    resa_status st = gguf_get_arr(f, "tokenizer.ggml.scores", GGUF_FLOAT32, &kv);
    if (st)
        return st;
    if (kv->arr_n < (uint64_t)n_vocab)
        return error_set(RESA_ERR_FORMAT, "%s: tokenizer.ggml.scores has %llu entries for %d tokens", f->path,
                         (unsigned long long)kv->arr_n, n_vocab);
    spm_model *m = calloc(1, sizeof *m);
    float *score = malloc((size_t)n_vocab * sizeof *score);
    if (!m || !score) {
        free(m);
        free(score);
        return error_set(RESA_ERR_NOMEM, "%s: out of memory for the token scores", f->path);
    }
    memcpy(score, kv->arr_data, (size_t)n_vocab * sizeof *score); /* unaligned in the file */
    *m = (spm_model){.n_vocab = n_vocab, .score = score, .add_space_prefix = true, .find = find, .vocab = vocab};
    st = gguf_get_bool_opt(f, "tokenizer.ggml.add_space_prefix", &m->add_space_prefix);
    if (st) {
        spm_free(m);
        return st;
    }
    static const char hex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; b++) {
        const char name[6] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
        m->byte_token[b] = find(vocab, name, 6);
        if (m->byte_token[b] < 0) { /* llama.cpp then tries the byte as a one-byte token */
            const char one = (char)b;
            m->byte_token[b] = find(vocab, &one, 1);
        }
    }
    *out = m;
    return RESA_OK;
}

void spm_free(spm_model *m)
{
    if (!m)
        return;
    free(m->score);
    free(m);
}

bool spm_add_space_prefix(const spm_model *m) { return m->add_space_prefix; }

size_t spm_token_bytes(const char *text, size_t n, bool normal, bool is_byte, char *dst)
{
    if (is_byte && spm_byte_of(text, n) >= 0) {
        dst[0] = (char)spm_byte_of(text, n);
        return 1;
    }
    if (!normal) {
        memcpy(dst, text, n);
        return n;
    }
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (n - i >= 3 && !memcmp(text + i, SP, 3)) {
            dst[o++] = ' ';
            i += 3;
        } else {
            dst[o++] = text[i++];
        }
    }
    return o;
}

/* ---- encoding ------------------------------------------------------------ */

typedef struct sym {
    uint32_t off, n; /* bytes of the escaped text; n = 0 once merged away */
    int32_t prev, next;
} sym;

typedef struct bigram {
    float score;
    int32_t left, right;
    uint32_t size; /* bytes of the pair when it was queued: stale when it differs */
} bigram;

typedef struct session {
    const spm_model *m;
    const char *s; /* the escaped text */
    sym *sym;
    bigram *heap;
    size_t heap_n;
} session;

/* Highest score first, then leftmost (llama.cpp's queue order). */
static bool before(const bigram *a, const bigram *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void push(session *z, bigram g)
{
    size_t i = z->heap_n++;
    while (i > 0 && before(&g, &z->heap[(i - 1) / 2])) {
        z->heap[i] = z->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    z->heap[i] = g;
}

static bigram pop(session *z)
{
    bigram top = z->heap[0], last = z->heap[--z->heap_n];
    size_t i = 0, n = z->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && before(&z->heap[c + 1], &z->heap[c]))
            c++;
        if (!before(&z->heap[c], &last))
            break;
        z->heap[i] = z->heap[c];
        i = c;
    }
    if (n)
        z->heap[i] = last;
    return top;
}

static void try_bigram(session *z, int32_t l, int32_t r)
{
    if (l < 0 || r < 0)
        return;
    const sym *a = &z->sym[l], *b = &z->sym[r];
    int32_t id = z->m->find(z->m->vocab, z->s + a->off, a->n + b->n);
    if (id >= 0 && id < z->m->n_vocab)
        push(z, (bigram){z->m->score[id], l, r, a->n + b->n});
}

static unsigned utf8_len(unsigned char c)
{
    static const unsigned char len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return len[c >> 4];
}

/* The escaped text: ' ' -> U+2581, with an optional leading one. */
static char *escape(const char *text, size_t len, bool prefix, size_t *out_n)
{
    size_t n = prefix ? 3 : 0;
    for (size_t i = 0; i < len; i++)
        n += text[i] == ' ' ? 3 : 1;
    char *s = malloc(n ? n : 1);
    if (!s)
        return NULL;
    size_t o = 0;
    if (prefix) {
        memcpy(s, SP, 3);
        o = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(s + o, SP, 3);
            o += 3;
        } else {
            s[o++] = text[i];
        }
    }
    *out_n = n;
    return s;
}

static resa_status emit_symbol(const session *z, const sym *y, spm_emit_fn emit, void *ctx)
{
    int32_t id = z->m->find(z->m->vocab, z->s + y->off, y->n);
    if (id >= 0) {
        emit(ctx, id);
        return RESA_OK;
    }
    for (uint32_t j = 0; j < y->n; j++) {
        unsigned char b = (unsigned char)z->s[y->off + j];
        if (z->m->byte_token[b] < 0)
            return error_set(RESA_ERR_FORMAT, "tokenize: byte 0x%02X has no token in this vocabulary", b);
        emit(ctx, z->m->byte_token[b]);
    }
    return RESA_OK;
}

static resa_status merge_all(session *z, size_t n_sym, spm_emit_fn emit, void *ctx)
{
    for (size_t i = 1; i < n_sym; i++)
        try_bigram(z, (int32_t)i - 1, (int32_t)i);
    while (z->heap_n) {
        bigram g = pop(z);
        sym *l = &z->sym[g.left], *r = &z->sym[g.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != g.size)
            continue; /* one side has merged since */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            z->sym[r->next].prev = g.left;
        try_bigram(z, l->prev, g.left);
        try_bigram(z, g.left, l->next);
    }
    for (int32_t i = 0; i >= 0 && n_sym; i = z->sym[i].next) {
        resa_status st = emit_symbol(z, &z->sym[i], emit, ctx);
        if (st)
            return st;
    }
    return RESA_OK;
}

resa_status spm_encode(const spm_model *m, const char *text, size_t len, bool space_prefix, spm_emit_fn emit,
                       void *ctx)
{
    size_t n;
    char *s = escape(text, len, space_prefix, &n);
    if (!s)
        return error_set(RESA_ERR_NOMEM, "tokenize: out of memory");
    if (n > INT32_MAX / 4) {
        free(s);
        return error_set(RESA_ERR_ARG, "tokenize: text of %zu bytes is too long", len);
    }
    session z = {.m = m, .s = s, .sym = malloc((n ? n : 1) * sizeof *z.sym)};
    /* every merge queues at most two pairs, after the n - 1 first ones */
    z.heap = malloc((3 * n + 1) * sizeof *z.heap);
    resa_status st = RESA_ERR_NOMEM;
    if (z.sym && z.heap) {
        size_t k = 0;
        for (size_t off = 0; off < n; k++) {
            uint32_t w = utf8_len((unsigned char)s[off]);
            if (w > n - off)
                w = (uint32_t)(n - off);
            z.sym[k] = (sym){(uint32_t)off, w, (int32_t)k - 1, off + w < n ? (int32_t)k + 1 : -1};
            off += w;
        }
        st = merge_all(&z, k, emit, ctx);
    } else {
        error_set(st, "tokenize: out of memory");
    }
    free(z.sym);
    free(z.heap);
    free(s);
    return st;
}
