/* SPDX-License-Identifier: MIT */
/* Shared by the fuzz targets in tests/fuzz/ (docs/design.md §7.1).
 *
 * A target is one file tests/fuzz/fuzz_<name>.c that defines libFuzzer's
 * entry point
 *     int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
 * (and, when it needs one-time setup, LLVMFuzzerInitialize), checks the
 * properties that must hold with FUZZ_CHECK, and has a seed corpus in
 * tests/fuzz/corpus/<name>/. Adding one: the file, the corpus, and its name
 * in FUZZ_TARGETS in Makefile.am. Built two ways: `make fuzz` links it with
 * libFuzzer (clang, ASan+UBSan, in fuzz-build/); `make check` links it with
 * tests/fuzz/replay.c, which runs the seed corpus once through the same
 * entry point (tests/test_fuzz_corpus.sh). tests/fuzz/run.sh runs a target
 * for a bounded time. */
#ifndef RESA_FUZZ_H
#define RESA_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A failed property: say which, then abort so the fuzzer keeps the input. */
#define FUZZ_CHECK(cond)                                                              \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: property failed: %s (last error: %s)\n", __FILE__, \
                    __LINE__, #cond, resa_last_error());                              \
            abort();                                                                  \
        }                                                                             \
    } while (0)

/* The targets run the scalar kernels: they are the recipe every SIMD tier
 * matches bit for bit (checksimd tests that), and the fuzz build leaves the
 * per-ISA kernels uninstrumented. */
static inline void fuzz_scalar(void)
{
    if (resa_set_cpu("scalar") != RESA_OK) {
        fprintf(stderr, "fuzz: %s\n", resa_last_error());
        exit(2);
    }
}

/* The model whose tokenizer the text targets use: $RESA_FUZZ_MODEL, else
 * the default model of the source tree. Loaded once; exits when none loads. */
static inline const resa_model *fuzz_model(void)
{
    static resa_model *m;
    if (m)
        return m;
    const char *env = getenv("RESA_FUZZ_MODEL");
    const char *paths[] = { env && *env ? env : NULL,
                            RESA_SRCDIR "/models/SmolLM2-135M-Instruct.Q4_1.gguf" };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0] && !m; i++)
        if (paths[i] && resa_model_load(paths[i], &m) != RESA_OK)
            m = NULL;
    if (!m) {
        fprintf(stderr, "fuzz: no model loads (set RESA_FUZZ_MODEL): %s\n", resa_last_error());
        exit(2);
    }
    return m;
}

/* A tokenization that failed must have failed for the one documented reason
 * (docs/design.md §5.6): a byte that the vocabulary cannot spell, named in
 * the message, from the text or from the U+FFFD (EF BF BD) that replaces
 * invalid UTF-8. (SmolLM2 lacks six control bytes and some lead bytes of
 * rare 4-byte sequences.) */
static inline void fuzz_check_lost_byte(const char *text, size_t len)
{
    const char *e = strstr(resa_last_error(), "the byte 0x");
    unsigned b = 256;
    FUZZ_CHECK(e && sscanf(e, "the byte 0x%2x", &b) == 1 && b < 256);
    FUZZ_CHECK(memchr(text, (int)b, len) != NULL || b == 0xEF || b == 0xBF || b == 0xBD);
}

/* Is s[0..n) UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF)? Written here from the definition, independent of src/unicode.c. */
static inline int fuzz_utf8_valid(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!k || i + k > n)
            return 0;
        unsigned long cp = k == 1 ? c : c & (0x7F >> k);
        for (size_t j = 1; j < k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        static const unsigned long min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
        if (cp < min[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += k;
    }
    return 1;
}

/* The bytes ids[0..n) stand for, concatenated (malloc'd; *len its length). */
static inline char *fuzz_detokenize(const resa_model *m, const int32_t *ids, int n, size_t *len)
{
    size_t total = 0, l;
    for (int i = 0; i < n; i++) {
        FUZZ_CHECK(resa_token_text(m, ids[i], &l) != NULL);
        total += l;
    }
    char *out = malloc(total + 1);
    FUZZ_CHECK(out != NULL);
    *len = 0;
    for (int i = 0; i < n; i++) {
        const char *p = resa_token_text(m, ids[i], &l);
        memcpy(out + *len, p, l);
        *len += l;
    }
    return out;
}

#endif
