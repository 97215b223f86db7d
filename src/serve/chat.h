/* SPDX-License-Identifier: MIT */
/* resa serve: chat messages -> prompt tokens (docs/design.md §8.3). */
#ifndef RESA_SERVE_CHAT_H
#define RESA_SERVE_CHAT_H

#include <stdint.h>

#include "request.h"
#include "resa.h"

/* Template names --chat-template accepts; NULL-terminated. */
extern const char *const serve_chat_templates[];
/* The template to use for a model: name if given (must be one of
 * serve_chat_templates), else the model's own (resa_chat_template). NULL
 * when name is unknown. */
const char *serve_chat_template_pick(const resa_model *model, const char *name);

/* The prompt tokens of a chat (with BOS when the model wants it): returns
 * the count and *out (malloc'ed), or -1 with err filled. */
int serve_chat_tokens(const resa_model *model, const char *tmpl, const serve_message *m, int n,
                      int32_t **out, serve_error *err);
/* The prompt tokens of plain text (no special tokens parsed). */
int serve_text_tokens(const resa_model *model, const char *text, int32_t **out, serve_error *err);

#endif
