/* SPDX-License-Identifier: MIT */
/* Test driver for tests/reference/compare_chat.py:
 *
 *   chat_tokenize MODEL FAMILY|auto SYSTEM|- USER [ASSISTANT USER]...
 *
 * Loads MODEL's vocabulary (no weights) and prints the family used (auto:
 * the one recognised in the model's template, "none" when none is) on one
 * line, then the token ids of the conversation in that family's format on
 * the next (nothing when none is recognised). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_template.h"
#include "gguf.h"
#include "tokenizer.h"

int main(int argc, char **argv)
{
    if (argc < 5 || argc % 2 == 0) {
        fprintf(stderr, "usage: chat_tokenize MODEL FAMILY|auto SYSTEM|- USER [ASSISTANT USER]...\n");
        return 2;
    }
    gguf_file *f;
    resa_tokenizer *t;
    if (gguf_open(argv[1], &f) || tokenizer_load(f, &t)) {
        fprintf(stderr, "chat_tokenize: %s\n", resa_last_error());
        return 1;
    }
    int fam = strcmp(argv[2], "auto") ? chat_family_by_name(argv[2]) : tokenizer_chat_family(t);
    printf("%s\n", fam >= 0 ? chat_family_name(fam) : "none");
    int rc = 0;
    if (fam >= 0) {
        chat_msg msgs[64];
        int n = 0;
        if (strcmp(argv[3], "-"))
            msgs[n++] = (chat_msg){"system", argv[3], 0};
        for (int i = 4; i < argc && n < 64; i++)
            msgs[n++] = (chat_msg){(i - 4) % 2 ? "assistant" : "user", argv[i], 0};
        int k = chat_tokenize(t, fam, msgs, n, 0, NULL, 0);
        int32_t *ids = k >= 0 ? malloc(((size_t)k + 1) * sizeof *ids) : NULL;
        if (!ids || chat_tokenize(t, fam, msgs, n, 0, ids, k) != k) {
            fprintf(stderr, "chat_tokenize: %s\n", ids ? resa_last_error() : "failed");
            rc = 1;
        } else {
            for (int i = 0; i < k; i++)
                printf(i ? " %d" : "%d", ids[i]);
            putchar('\n');
        }
        free(ids);
    }
    tokenizer_free(t);
    gguf_close(f);
    return rc;
}
