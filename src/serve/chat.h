/* SPDX-License-Identifier: MIT */
/* resa serve: chat messages -> prompt tokens (docs/design.md §8.3). */
#ifndef RESA_SERVE_CHAT_H
#define RESA_SERVE_CHAT_H

#include <stdint.h>

#include "request.h"
#include "resa.h"

/* A rendered chat: pieces of text, each either template markup (special
 * tokens parsed) or message text (never parsed as special tokens, so a
 * message cannot forge a turn). */
typedef struct chat_piece {
    const char *text;
    int len;
    int special;
} chat_piece;

/* Template names --chat-template accepts; NULL-terminated. */
extern const char *const serve_chat_templates[];
/* The template to use for a model: name if given (must be one of
 * serve_chat_templates), else the model's. NULL when name is unknown. */
const char *serve_chat_template_pick(const resa_model *model, const char *name);

/* Renders messages with the template: *out (malloc'ed, free it) holds the
 * pieces, pointing into the messages and static strings. Returns the count or -1. */
int serve_chat_render(const char *tmpl, const serve_message *m, int n, chat_piece **out);

/* The prompt tokens of a chat (with BOS when the model wants it): returns
 * the count and *out (malloc'ed), or -1 with err filled. */
int serve_chat_tokens(const resa_model *model, const char *tmpl, const serve_message *m, int n,
                      int32_t **out, serve_error *err);
/* The prompt tokens of plain text (no special tokens parsed). */
int serve_text_tokens(const resa_model *model, const char *text, int32_t **out, serve_error *err);

#endif
