/* SPDX-License-Identifier: MIT */
/* Chat templates: the turn formats of the common model families, written
 * out by hand (no Jinja), recognised from tokenizer.chat_template
 * (docs/design.md §5.4). Control tokens go in as token ids; message texts
 * are tokenized without parsing special tokens, so a user cannot forge a
 * turn boundary. */
#ifndef RESA_CHAT_TEMPLATE_H
#define RESA_CHAT_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

enum chat_family { CHAT_CHATML, CHAT_LLAMA3, CHAT_GEMMA, CHAT_MISTRAL, CHAT_N_FAMILIES };

/* The family a template's text belongs to, or -1 when none is recognised. */
int chat_family_detect(const char *tpl, size_t len);
/* "chatml", "llama3", "gemma", "mistral"; and back (-1 for an unknown name). */
const char *chat_family_name(int family);
int chat_family_by_name(const char *name);

typedef struct chat_msg {
    const char *role; /* "system", "user" or "assistant" */
    const char *text; /* len bytes (NUL bytes included), or NUL-terminated when len is 0 */
    size_t len;
} chat_msg;

/* The conversation msgs[0..n) in the family's format, ending with the
 * prompt of an assistant turn, as token ids (BOS first when the tokenizer
 * adds one). The template's control tokens go in as ids; the messages are
 * plain text unless parse_special. Writes at most max ids to out; returns
 * the full count, or -1 (resa_last_error says why). */
int chat_tokenize(const resa_tokenizer *t, int family, const chat_msg *msgs, int n, int parse_special,
                  int32_t *out, int max);

#endif
