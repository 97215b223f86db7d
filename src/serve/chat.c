/* SPDX-License-Identifier: MIT */
/* resa serve: chat messages -> prompt tokens (chat.h), through the
 * library's chat templates (resa_chat_tokenize_messages, docs/design.md
 * §5.4): the same turns as `resa generate --chat`, and a message is never
 * parsed for special tokens, so it cannot forge a turn. */
#include "chat.h"

#include <stdlib.h>
#include <string.h>

const char *const serve_chat_templates[] = { "chatml", "llama3", "gemma", "mistral", NULL };

const char *serve_chat_template_pick(const resa_model *model, const char *name)
{
    if (!name)
        return resa_chat_template(model, NULL);
    for (int i = 0; serve_chat_templates[i]; i++)
        if (!strcmp(name, serve_chat_templates[i]))
            return serve_chat_templates[i];
    return NULL;
}

/* Tokenizes twice: once to count, once into a buffer of that size. */
int serve_chat_tokens(const resa_model *model, const char *tmpl, const serve_message *m, int n,
                      int32_t **out, serve_error *err)
{
    *out = NULL;
    const char **roles = malloc(((size_t)n + 1) * sizeof *roles), **texts = malloc(((size_t)n + 1) * sizeof *texts);
    if (!roles || !texts) {
        free(roles);
        free(texts);
        return serve_fail(err, 500, NULL, NULL, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        roles[i] = m[i].role;
        texts[i] = m[i].content;
    }
    int32_t *ids = NULL;
    int k = resa_chat_tokenize_messages(model, tmpl, n, roles, texts, NULL, 0, NULL, 0);
    if (k >= 0 && !(ids = malloc(((size_t)k + 1) * sizeof *ids)))
        k = -2;
    else if (k >= 0 && resa_chat_tokenize_messages(model, tmpl, n, roles, texts, NULL, 0, ids, k) != k)
        k = -1;
    free(roles);
    free(texts);
    if (k < 0) {
        free(ids);
        return k == -2 ? serve_fail(err, 500, NULL, NULL, "out of memory")
                       : serve_fail(err, 400, "invalid_value", "messages", "cannot tokenize the chat: %s",
                                    resa_last_error());
    }
    *out = ids;
    return k;
}

int serve_text_tokens(const resa_model *model, const char *text, int32_t **out, serve_error *err)
{
    const size_t len = strlen(text);
    const int bos = resa_model_get_info(model)->add_bos;
    *out = NULL;
    const int k = resa_tokenize(model, text, len, bos, 0, NULL, 0);
    if (k < 0)
        return serve_fail(err, 400, "invalid_value", "prompt", "cannot tokenize the prompt: %s", resa_last_error());
    int32_t *ids = malloc(((size_t)k + 1) * sizeof *ids);
    if (!ids)
        return serve_fail(err, 500, NULL, NULL, "out of memory");
    if (resa_tokenize(model, text, len, bos, 0, ids, k) != k) {
        free(ids);
        return serve_fail(err, 500, NULL, NULL, "tokenizer: %s", resa_last_error());
    }
    *out = ids;
    return k;
}
