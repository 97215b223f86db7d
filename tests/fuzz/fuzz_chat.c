/* SPDX-License-Identifier: MIT */
/* Fuzz target: the chat formatter. Input: one option byte (bit 0: a system
 * message, bit 1: parse special tokens in the messages), one byte that
 * splits the rest into system and user message. Properties, without
 * parse_special: the tokens hold exactly the template's control tokens
 * (those of the same call with an empty user message: a model's template
 * may add a default system turn), whatever the messages say; the tokens'
 * bytes are the template with the messages in it (when they are valid
 * UTF-8); resa_chat_format spells ChatML's text up to the first NUL of a
 * message. */
#include "fuzz.h"

static int32_t control(const resa_model *m, const char *text)
{
    int32_t id = -1;
    FUZZ_CHECK(resa_tokenize(m, text, strlen(text), 0, 1, &id, 1) == 1);
    return id;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_model();
    return 0;
}

static char *expected(const char *sys, size_t sys_len, const char *user, size_t user_len, size_t *len)
{
    char *s = malloc(sys_len + user_len + 128);
    FUZZ_CHECK(s != NULL);
    size_t o = 0;
#define PUT(p, n) (memcpy(s + o, p, n), o += (n))
#define PUTS(lit) PUT(lit, sizeof lit - 1)
    if (sys) {
        PUTS("<|im_start|>system\n");
        PUT(sys, sys_len);
        PUTS("<|im_end|>\n");
    }
    PUTS("<|im_start|>user\n");
    PUT(user, user_len);
    PUTS("<|im_end|>\n<|im_start|>assistant\n");
    *len = o;
    return s;
}

/* The template's bytes and control-token counts for (sys, ""): what the
 * model's template adds around the messages. */
typedef struct frame {
    char *text;
    size_t len;
    int n_start, n_end;
} frame;

static frame frame_of(const resa_model *m, const char *sys, size_t sys_len, int32_t start, int32_t end)
{
    int32_t ids[512];
    const int n = resa_chat_tokenize(m, sys, sys_len, "", 0, 0, ids, 512);
    FUZZ_CHECK(n > 0 && n <= 512);
    frame f = {0};
    for (int i = 0; i < n; i++) {
        f.n_start += ids[i] == start;
        f.n_end += ids[i] == end;
    }
    const int bos = resa_model_get_info(m)->add_bos;
    f.text = fuzz_detokenize(m, ids + bos, n - bos, &f.len);
    return f;
}

/* The frame with the user message in its place (after the last user header). */
static char *with_user(const frame *f, const char *user, size_t user_len, size_t *len)
{
    static const char head[] = "<|im_start|>user\n";
    size_t at = 0;
    for (size_t i = 0; i + sizeof head - 1 <= f->len; i++)
        if (!memcmp(f->text + i, head, sizeof head - 1))
            at = i + sizeof head - 1;
    FUZZ_CHECK(at > 0);
    char *s = malloc(f->len + user_len + 1);
    FUZZ_CHECK(s != NULL);
    memcpy(s, f->text, at);
    memcpy(s + at, user, user_len);
    memcpy(s + at + user_len, f->text + at, f->len - at);
    *len = f->len + user_len;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    const resa_model *m = fuzz_model();
    const int has_sys = data[0] & 1, special = (data[0] >> 1) & 1;
    const char *rest = (const char *)data + 2;
    const size_t len = size - 2, split = data[1] < len ? data[1] : len;
    const char *sys = has_sys ? rest : NULL, *user = rest + split;
    const size_t sys_len = has_sys ? split : 0, user_len = len - split;
    const int n = resa_chat_tokenize(m, sys, sys_len, user, user_len, special, NULL, 0);
    if (n < 0) {
        fuzz_check_lost_byte(rest, len);
        return 0;
    }
    int32_t *ids = malloc(((size_t)n + 1) * sizeof *ids);
    FUZZ_CHECK(ids && resa_chat_tokenize(m, sys, sys_len, user, user_len, special, ids, n) == n);
    const int32_t start = control(m, "<|im_start|>"), end = control(m, "<|im_end|>");
    int n_start = 0, n_end = 0;
    for (int i = 0; i < n; i++) {
        n_start += ids[i] == start;
        n_end += ids[i] == end;
    }
    frame f = frame_of(m, has_sys ? "" : NULL, 0, start, end); /* with a system turn, its text goes in below */
    if (!special)
        FUZZ_CHECK(n_start == f.n_start && n_end == f.n_end);
    size_t want_len, got_len;
    char *want = has_sys ? expected(sys, sys_len, user, user_len, &want_len) : with_user(&f, user, user_len, &want_len);
    free(f.text);
    const int bos = resa_model_get_info(m)->add_bos && n > 0;
    char *got = fuzz_detokenize(m, ids + bos, n - bos, &got_len);
    if (fuzz_utf8_valid((const unsigned char *)rest, split) &&
        fuzz_utf8_valid((const unsigned char *)user, user_len))
        FUZZ_CHECK(got_len == want_len && memcmp(got, want, want_len) == 0);
    /* the display form, as C strings (cut at the first NUL) */
    char *sys_c = has_sys ? strndup(sys, sys_len) : NULL, *user_c = strndup(user, user_len);
    char *shown = resa_chat_format(m, sys_c, user_c);
    size_t shown_want_len;
    char *shown_want = expected(sys_c, sys_c ? strlen(sys_c) : 0, user_c, strlen(user_c), &shown_want_len);
    FUZZ_CHECK(shown && strlen(shown) == shown_want_len && !memcmp(shown, shown_want, shown_want_len));
    free(shown_want);
    free(shown);
    free(sys_c);
    free(user_c);
    free(got);
    free(want);
    free(ids);
    return 0;
}
