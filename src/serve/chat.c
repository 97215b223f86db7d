/* SPDX-License-Identifier: MIT */
/* resa serve: chat templates (chat.h). Every model resa loads today speaks
 * ChatML, the format resa_chat_format writes; a new template is one more
 * render function and one more name in the table. */
#include "chat.h"

#include <stdlib.h>
#include <string.h>

const char *const serve_chat_templates[] = { "chatml", NULL };

const char *serve_chat_template_pick(const resa_model *model, const char *name)
{
    (void)model; /* every supported model speaks ChatML (tokenizer.c) */
    if (!name)
        return "chatml";
    for (int i = 0; serve_chat_templates[i]; i++)
        if (!strcmp(name, serve_chat_templates[i]))
            return serve_chat_templates[i];
    return NULL;
}

#define PIECE(s, n, sp) ((chat_piece){ (s), (int)(n), (sp) })

/* ChatML: "<|im_start|>ROLE\nCONTENT<|im_end|>\n" per message, then the
 * assistant's opening. The role and its content are one piece of text, as
 * a whole-string tokenization of the same template splits them. */
static int render_chatml(const serve_message *m, int n, chat_piece *p)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        p[k++] = PIECE("<|im_start|>", 12, 1);
        p[k++] = PIECE(m[i].role, strlen(m[i].role), 0);
        p[k++] = PIECE("\n", 1, 0);
        p[k++] = PIECE(m[i].content, strlen(m[i].content), 0);
        p[k++] = PIECE("<|im_end|>", 10, 1);
        p[k++] = PIECE("\n", 1, 0);
    }
    p[k++] = PIECE("<|im_start|>", 12, 1);
    p[k++] = PIECE("assistant\n", 10, 0);
    return k;
}

int serve_chat_render(const char *tmpl, const serve_message *m, int n, chat_piece **out)
{
    *out = NULL;
    if (strcmp(tmpl, "chatml") || n < 0)
        return -1;
    chat_piece *p = malloc(((size_t)n * 6 + 2) * sizeof *p);
    if (!p)
        return -1;
    *out = p;
    return render_chatml(m, n, p);
}

/* Appends the tokens of one run of text to *ids. */
static int append_tokens(const resa_model *model, const char *s, size_t len, int bos, int special,
                         int32_t **ids, int *n, serve_error *err)
{
    const int k = resa_tokenize(model, s, len, bos, special, NULL, 0);
    if (k < 0)
        return serve_fail(err, 400, "invalid_value", NULL, "cannot tokenize the prompt: %s", resa_last_error());
    int32_t *grown = realloc(*ids, ((size_t)*n + (size_t)k + 1) * sizeof *grown);
    if (!grown)
        return serve_fail(err, 500, NULL, NULL, "out of memory");
    *ids = grown;
    if (resa_tokenize(model, s, len, bos, special, grown + *n, k) != k)
        return serve_fail(err, 500, NULL, NULL, "tokenizer: %s", resa_last_error());
    *n += k;
    return 0;
}

/* Merges adjacent plain-text pieces so each run is tokenized as one string,
 * as tokenizing the whole rendered prompt would split it. */
int serve_chat_tokens(const resa_model *model, const char *tmpl, const serve_message *m, int n,
                      int32_t **out, serve_error *err)
{
    chat_piece *p;
    const int np = serve_chat_render(tmpl, m, n, &p);
    if (np < 0) {
        free(p);
        return serve_fail(err, 500, NULL, NULL, "cannot render the chat template '%s'", tmpl);
    }
    size_t total = 0;
    for (int i = 0; i < np; i++)
        total += (size_t)p[i].len;
    char *run = malloc(total + 1);
    int32_t *ids = NULL;
    int n_ids = 0, rc = run ? 0 : serve_fail(err, 500, NULL, NULL, "out of memory");
    int bos = resa_model_get_info(model)->add_bos;
    for (int i = 0; i < np && !rc;) {
        size_t len = 0;
        const int special = p[i].special;
        for (; i < np && p[i].special == special && (!special || len == 0); i++) {
            memcpy(run + len, p[i].text, (size_t)p[i].len);
            len += (size_t)p[i].len;
        }
        rc = append_tokens(model, run, len, bos, special, &ids, &n_ids, err);
        bos = 0;
    }
    free(run);
    free(p);
    if (rc) {
        free(ids);
        return -1;
    }
    *out = ids;
    return n_ids;
}

int serve_text_tokens(const resa_model *model, const char *text, int32_t **out, serve_error *err)
{
    int32_t *ids = NULL;
    int n = 0;
    if (append_tokens(model, text, strlen(text), resa_model_get_info(model)->add_bos, 0, &ids, &n, err)) {
        free(ids);
        return -1;
    }
    *out = ids;
    return n;
}
