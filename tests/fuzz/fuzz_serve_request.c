/* SPDX-License-Identifier: MIT */
/* Fuzz target for resa serve's request parsing (src/serve/request.c): HTTP
 * body bytes -> request struct or error (the messages as the chat template
 * takes them), then the UTF-8 cleaning that request text goes through.
 *
 * LLVMFuzzerTestOneInput is the libFuzzer entry point. Built with
 * -DFUZZ_SERVE_MAIN it also has a main that runs without libFuzzer, for
 * make check (tests/test_fuzz_serve_request.sh):
 *
 *   fuzz_serve_request [ITERATIONS [SEED]]
 *
 * mutating a few valid requests (random bytes, cuts, splices of JSON
 * fragments). Passing: no crash or sanitizer report, every rejection a 4xx/5xx
 * with a message, every accepted request within the limits. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve/request.h"
#include "serve/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_serve_request: %s\n", what);
    abort(); /* libFuzzer and the driver below both report an abort with the input */
}

static void check_request(const serve_request *r, const serve_limits *lim)
{
    if (r->max_tokens < 0 || r->max_tokens > lim->max_tokens)
        fail("max_tokens outside the limits was accepted");
    if (r->n_stop < 0 || r->n_stop > SERVE_MAX_STOP || r->top_logprobs > SERVE_MAX_TOP_LOGPROBS)
        fail("too many stop strings or top_logprobs accepted");
    if (!(r->temperature >= 0 && r->temperature <= 2) || !(r->top_p > 0 && r->top_p <= 1))
        fail("temperature or top_p outside their range accepted");
    if (r->kind == SERVE_CHAT) {
        if (r->n_messages < 1 || !r->messages)
            fail("a chat without messages accepted");
        /* what resa_chat_tokenize_messages takes (fuzz_chat fuzzes it with a model) */
        for (int i = 0; i < r->n_messages; i++) {
            const char *role = r->messages[i].role;
            if (!role || !r->messages[i].content)
                fail("a message without a role or content accepted");
            if (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant"))
                fail("a role other than system, user or assistant accepted");
        }
    } else if (!r->prompt) {
        fail("a completion without a prompt accepted");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const serve_limits lim = { .model_id = "m", .max_tokens = 4096 };
    for (int kind = SERVE_CHAT; kind <= SERVE_COMPLETION; kind++) {
        serve_request r;
        serve_error err = { 0 };
        if (serve_request_parse((const char *)data, size, (serve_kind)kind, &lim, &r, &err) == 0) {
            check_request(&r, &lim);
            serve_request_free(&r);
        } else if (err.status < 400 || err.status > 599 || !err.message[0] || !err.type) {
            fail("a rejection without a 4xx/5xx status and a message");
        }
    }
    size_t n;
    char *clean = utf8_sanitize((const char *)data, size, &n);
    if (clean && utf8_complete_prefix(clean, n) != n)
        fail("sanitized text ends inside a character");
    free(clean);
    return 0;
}

#ifdef FUZZ_SERVE_MAIN
static const char *const seeds[] = {
    "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":"
    "[{\"type\":\"text\",\"text\":\"hi \\u00e9\"}]}],\"max_tokens\":16,\"temperature\":0.5,\"top_p\":0.9,"
    "\"stop\":[\"\\n\",\"END\"],\"stream\":true,\"stream_options\":{\"include_usage\":true},\"logprobs\":true,"
    "\"top_logprobs\":3,\"seed\":42,\"n\":1,\"user\":\"u\",\"resa_mode\":\"dense\"}",
    "{\"prompt\":\"Once upon a time\",\"max_tokens\":8,\"logprobs\":2,\"stop\":\"x\",\"min_p\":0.1,"
    "\"presence_penalty\":1.5,\"frequency_penalty\":-0.5,\"top_k\":40,\"echo\":false,\"best_of\":1}",
    "{\"prompt\":[\"a\"],\"response_format\":{\"type\":\"text\"},\"logit_bias\":{},\"tools\":[]}",
};
static const char *const pieces[] = { "{", "}", "[", "]", ",", ":", "\"", "\\u0000", "\\ud800", "null", "true",
                                      "1e999", "-1", "18446744073709551616", "\"messages\"", "\"prompt\"",
                                      "\"max_tokens\"", "\xff", "\xc3", "[[[[[[[[", "\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]" };

static uint64_t rng;
static uint64_t next(void)
{
    rng += 0x9E3779B97F4A7C15ull;
    uint64_t z = rng;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int main(int argc, char **argv)
{
    const long iters = argc > 1 ? atol(argv[1]) : 20000;
    const uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : (uint64_t)time(NULL);
    rng = seed;
    printf("fuzz_serve_request: %ld iterations, seed %llu\n", iters, (unsigned long long)seed);
    char buf[4096];
    for (long it = 0; it < iters; it++) {
        const char *s = seeds[next() % (sizeof seeds / sizeof *seeds)];
        size_t n = strlen(s);
        memcpy(buf, s, n);
        const int edits = 1 + (int)(next() % 4);
        for (int e = 0; e < edits; e++) {
            const size_t at = n ? next() % n : 0;
            switch (next() % 3) {
            case 0: /* a random byte */
                if (n)
                    buf[at] = (char)next();
                break;
            case 1: /* a cut */
                n = at;
                break;
            default: { /* a JSON fragment spliced in */
                const char *p = pieces[next() % (sizeof pieces / sizeof *pieces)];
                const size_t k = strlen(p);
                if (n + k < sizeof buf) {
                    memmove(buf + at + k, buf + at, n - at);
                    memcpy(buf + at, p, k);
                    n += k;
                }
            }
            }
        }
        /* an exact-size copy, so AddressSanitizer sees a read past the end */
        uint8_t *exact = malloc(n ? n : 1);
        memcpy(exact, buf, n);
        LLVMFuzzerTestOneInput(exact, n);
        free(exact);
    }
    for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++) /* the seeds themselves parse */
        LLVMFuzzerTestOneInput((const uint8_t *)seeds[i], strlen(seeds[i]));
    printf("ok - %ld mutated requests parsed without a crash\n", iters);
    return 0;
}
#endif
