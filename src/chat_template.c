/* SPDX-License-Identifier: MIT */
/* One function per template family: each writes the conversation as a
 * sequence of control tokens and text. Adjacent text (template literals and
 * message texts) is tokenized as one string, as a template rendered to text
 * and then tokenized would be, except that special-token texts inside it stay
 * text. A control token the vocabulary lacks (Mistral v0.1 has no [INST]
 * token) is written as text, which is what tokenizing the rendered template
 * gives too. The formats follow each family's published template, as
 * llama.cpp's hand-written ones do: see docs/design.md §5.4. */
#include "chat_template.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

static const char *const family_names[CHAT_N_FAMILIES] = {"chatml", "llama3", "gemma", "mistral"};

const char *chat_family_name(int family)
{
    return family >= 0 && family < CHAT_N_FAMILIES ? family_names[family] : "unknown";
}

int chat_family_by_name(const char *name)
{
    for (int i = 0; name && i < CHAT_N_FAMILIES; i++)
        if (!strcmp(name, family_names[i]))
            return i;
    return -1;
}

static bool has(const char *tpl, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (tpl[i] == needle[0] && !memcmp(tpl + i, needle, n))
            return true;
    return false;
}

/* By the markers each family's template spells (the order matters: a
 * template may mention another family's marker in a comment less often than
 * its own). */
int chat_family_detect(const char *tpl, size_t len)
{
    if (!tpl)
        return -1;
    if (has(tpl, len, "<|im_start|>"))
        return CHAT_CHATML;
    if (has(tpl, len, "<|start_header_id|>") && has(tpl, len, "<|eot_id|>"))
        return CHAT_LLAMA3;
    if (has(tpl, len, "<start_of_turn>"))
        return CHAT_GEMMA;
    if (has(tpl, len, "[INST]"))
        return CHAT_MISTRAL;
    return -1;
}

/* ---- output: control tokens and pending text ------------------------------ */

typedef struct out_buf {
    const resa_tokenizer *t;
    int32_t *out;
    int max, n;
    char *text; /* text not yet tokenized */
    size_t len, cap;
    int parse_special; /* the caller's choice: special-token texts in messages count */
    bool failed;
} out_buf;

static void put_id(out_buf *o, int32_t id)
{
    if (o->n < o->max)
        o->out[o->n] = id;
    o->n++;
}

static void text(out_buf *o, const char *s, size_t n)
{
    if (o->failed)
        return;
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->len + n + 1)
            cap *= 2;
        char *p = realloc(o->text, cap);
        if (!p) {
            o->failed = true;
            error_set(RESA_ERR_NOMEM, "chat: out of memory");
            return;
        }
        o->text = p;
        o->cap = cap;
    }
    memcpy(o->text + o->len, s, n);
    o->len += n;
}

static void lit(out_buf *o, const char *s) { text(o, s, strlen(s)); }

/* Tokenizes the pending text (parsing special tokens only when the caller
 * asked: template literals hold none, so only messages can). */
static void flush(out_buf *o)
{
    if (o->failed || !o->len)
        return;
    int room = o->n < o->max ? o->max - o->n : 0;
    int k = tokenizer_encode(o->t, o->text, o->len, 0, o->parse_special, room ? o->out + o->n : NULL, room);
    if (k < 0 || k > INT32_MAX - o->n) {
        o->failed = true;
        return;
    }
    o->n += k;
    o->len = 0;
}

/* A control token by its text, or that text when the vocabulary lacks it. */
static void ctl(out_buf *o, const char *name)
{
    int32_t id = tokenizer_find(o->t, name, strlen(name));
    if (id < 0) {
        lit(o, name);
        return;
    }
    flush(o);
    put_id(o, id);
}

static size_t msg_len(const chat_msg *m) { return m->len ? m->len : strlen(m->text); }

/* A message's text as it is. */
static void body(out_buf *o, const chat_msg *m) { text(o, m->text, msg_len(m)); }

/* Jinja's trim: a message's text, leading and trailing whitespace off. */
static void trimmed(out_buf *o, const chat_msg *m)
{
    const char *s = m->text;
    size_t n = msg_len(m);
    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    text(o, s, n);
}

/* ---- the families ---------------------------------------------------------- */

/* <|im_start|>ROLE\nTEXT<|im_end|>\n ... <|im_start|>assistant\n */
static void format_chatml(out_buf *o, const chat_msg *m, int n)
{
    /* SmolLM2's and Qwen2.5's templates put in their own system turn when
     * the conversation has none */
    const char *def = tokenizer_default_system(o->t);
    if (def && (n == 0 || strcmp(m[0].role, "system"))) {
        ctl(o, "<|im_start|>");
        lit(o, "system\n");
        lit(o, def);
        ctl(o, "<|im_end|>");
        lit(o, "\n");
    }
    for (int i = 0; i < n; i++) {
        ctl(o, "<|im_start|>");
        lit(o, m[i].role);
        lit(o, "\n");
        body(o, &m[i]);
        ctl(o, "<|im_end|>");
        lit(o, "\n");
    }
    ctl(o, "<|im_start|>");
    lit(o, "assistant\n");
}

/* <|start_header_id|>ROLE<|end_header_id|>\n\nTRIMMED TEXT<|eot_id|> ... */
static void format_llama3(out_buf *o, const chat_msg *m, int n)
{
    for (int i = 0; i < n; i++) {
        ctl(o, "<|start_header_id|>");
        lit(o, m[i].role);
        ctl(o, "<|end_header_id|>");
        lit(o, "\n\n");
        trimmed(o, &m[i]);
        ctl(o, "<|eot_id|>");
    }
    ctl(o, "<|start_header_id|>");
    lit(o, "assistant");
    ctl(o, "<|end_header_id|>");
    lit(o, "\n\n");
}

/* <start_of_turn>user\nSYSTEM\n\nTEXT<end_of_turn>\n ... <start_of_turn>model\n
 * Gemma has no system turn: its text opens the first user turn. */
static void format_gemma(out_buf *o, const chat_msg *m, int n)
{
    const chat_msg *system = NULL;
    for (int i = 0; i < n; i++) {
        if (!strcmp(m[i].role, "system")) {
            system = &m[i];
            continue;
        }
        bool model = !strcmp(m[i].role, "assistant");
        ctl(o, "<start_of_turn>");
        lit(o, model ? "model" : m[i].role);
        lit(o, "\n");
        if (system && !model) { /* as the template: not trimmed (llama.cpp's own format trims it) */
            body(o, system);
            lit(o, "\n\n");
            system = NULL;
        }
        trimmed(o, &m[i]);
        ctl(o, "<end_of_turn>");
        lit(o, "\n");
    }
    ctl(o, "<start_of_turn>");
    lit(o, "model\n");
}

/* Mistral v0.3: [INST] TEXT[/INST] ANSWER</s>, the system text opening the
 * last user turn. */
static void format_mistral(out_buf *o, const chat_msg *m, int n)
{
    const chat_msg *system = NULL;
    int last_user = -1;
    for (int i = 0; i < n; i++)
        if (!strcmp(m[i].role, "user"))
            last_user = i;
    for (int i = 0; i < n; i++) {
        if (!strcmp(m[i].role, "system")) {
            system = &m[i];
        } else if (!strcmp(m[i].role, "user")) {
            ctl(o, "[INST]");
            lit(o, " ");
            if (system && i == last_user) {
                body(o, system);
                lit(o, "\n\n");
            }
            body(o, &m[i]);
            ctl(o, "[/INST]");
        } else {
            lit(o, " ");
            trimmed(o, &m[i]);
            int eos = tokenizer_eos(o->t);
            flush(o);
            if (eos >= 0)
                put_id(o, eos);
        }
    }
}

int chat_tokenize(const resa_tokenizer *t, int family, const chat_msg *msgs, int n, int parse_special,
                  int32_t *out, int max)
{
    if (!t || n < 0 || (n && !msgs) || max < 0 || (max && !out) || family < 0 || family >= CHAT_N_FAMILIES) {
        error_set(RESA_ERR_ARG, "chat: bad arguments");
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (!msgs[i].role || !msgs[i].text) {
            error_set(RESA_ERR_ARG, "chat: message %d has no role or text", i);
            return -1;
        }
    out_buf o = {.t = t, .out = out, .max = max, .parse_special = parse_special};
    if (tokenizer_add_bos(t) && tokenizer_bos(t) >= 0)
        put_id(&o, tokenizer_bos(t));
    static void (*const format[CHAT_N_FAMILIES])(out_buf *, const chat_msg *, int) = {
        [CHAT_CHATML] = format_chatml, [CHAT_LLAMA3] = format_llama3,
        [CHAT_GEMMA] = format_gemma, [CHAT_MISTRAL] = format_mistral,
    };
    format[family](&o, msgs, n);
    flush(&o);
    free(o.text);
    return o.failed ? -1 : o.n;
}
