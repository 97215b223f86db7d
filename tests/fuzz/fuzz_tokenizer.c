/* SPDX-License-Identifier: MIT */
/* Fuzz target: the tokenizer on any bytes. The first byte picks the
 * options (bit 0: parse special tokens, bit 1: BOS), the rest is the text.
 * Properties: tokenizing fails only on a byte the vocabulary cannot spell
 * (SmolLM2 lacks some), counts agree between the counting and the writing call and
 * with a short output buffer (nothing written past it); on valid UTF-8 the
 * tokens' bytes give the text back exactly (round trip); on any input they
 * give valid UTF-8 back (a bad byte becomes U+FFFD). */
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_model();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const resa_model *m = fuzz_model();
    const int special = data[0] & 1, bos = (data[0] >> 1) & 1;
    const char *text = (const char *)data + 1;
    const size_t len = size - 1;
    const int n = resa_tokenize(m, text, len, bos, special, NULL, 0);
    if (n < 0) {
        fuzz_check_lost_byte(text, len);
        return 0;
    }
    int32_t *ids = malloc(((size_t)n + 2) * sizeof *ids);
    FUZZ_CHECK(ids != NULL);
    ids[n / 2] = -7;
    FUZZ_CHECK(resa_tokenize(m, text, len, bos, special, ids, n / 2) == n);
    FUZZ_CHECK(n == 0 || ids[n / 2] == -7);
    FUZZ_CHECK(resa_tokenize(m, text, len, bos, special, ids, n) == n);
    const int first = bos && n > 0 && ids[0] == resa_model_get_info(m)->bos_id;
    size_t out_len;
    char *out = fuzz_detokenize(m, ids + first, n - first, &out_len);
    if (fuzz_utf8_valid(data + 1, len))
        FUZZ_CHECK(out_len == len && memcmp(out, text, len) == 0);
    else
        FUZZ_CHECK(fuzz_utf8_valid((const unsigned char *)out, out_len));
    free(out);
    free(ids);
    return 0;
}
