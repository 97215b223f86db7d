/* SPDX-License-Identifier: MIT */
/* Fuzz target: the whole model load from memory (GGUF header, hyper-
 * parameters, weights, tokenizer), then, for a model that loads and is
 * small, a short prompt and a few sampled decode steps in resa mode.
 * Properties: a rejection leaves no model and one line that names the
 * file; a loaded model samples ids that are tokens with text. */
#include "fuzz.h"

#include "error.h"
#include "model.h"

#define NAME "fuzz.gguf"
/* Decoding cost is about n_params multiply-adds per token. */
#define MAX_DECODE_PARAMS (1u << 22)

static void check_message(void)
{
    const char *e = resa_last_error();
    FUZZ_CHECK(strncmp(e, NAME ": ", sizeof NAME + 1) == 0);
    FUZZ_CHECK(strchr(e, '\n') == NULL && strchr(e, '\033') == NULL);
}

static void run_a_little(const resa_model *m, const uint8_t *data, size_t size)
{
    const resa_model_info *in = resa_model_get_info(m);
    if (in->n_params > MAX_DECODE_PARAMS)
        return;
    resa_params p;
    resa_params_default(&p);
    p.n_ctx = 32;
    p.n_threads = 1;
    p.block_size = 4;
    p.min_blocks = 1;
    p.rect_every = 2;
    resa_context *c;
    if (resa_context_new(m, &p, &c) != RESA_OK)
        return;
    int32_t prompt[4];
    for (int i = 0; i < 4; i++)
        prompt[i] = (int32_t)((size > (size_t)i ? data[size - 1 - (size_t)i] : i) % (unsigned)in->n_vocab);
    resa_sampler_params sp;
    resa_sampler_default(&sp);
    sp.temp = 0;
    resa_sampler *s = resa_sampler_new(&sp, in->n_vocab);
    FUZZ_CHECK(s != NULL);
    resa_status st = resa_decode(c, prompt, 4, NULL, NULL);
    for (int step = 0; step < 6 && st == RESA_OK; step++) {
        int32_t tok = resa_sample(s, resa_logits(c));
        size_t len;
        FUZZ_CHECK(tok >= 0 && tok < in->n_vocab && resa_token_text(m, tok, &len) != NULL);
        st = resa_decode(c, &tok, 1, NULL, NULL);
    }
    resa_sampler_free(s);
    resa_context_free(c);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_scalar();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    resa_model *m = (resa_model *)1;
    error_clear();
    if (model_load_buffer(data, size, NAME, &m) != RESA_OK) {
        FUZZ_CHECK(m == NULL);
        check_message();
        return 0;
    }
    run_a_little(m, data, size);
    resa_model_free(m);
    return 0;
}
