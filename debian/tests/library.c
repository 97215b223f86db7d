/* SPDX-License-Identifier: MIT */
/* A program on the installed libresa (debian/tests/library): loads a model,
 * generates greedily with a context, then runs the same prompt in two
 * sequences of one engine stepped together, whose tokens must be the
 * context's (each sequence gets what it gets alone, resa.h). Checks that
 * the library's version is pkg-config's.
 * Usage: library MODEL VERSION */
#include <resa.h>
#include <stdio.h>
#include <string.h>

enum { N_GEN = 12, MAX_PROMPT = 64 };

static int fail(const char *what)
{
    fprintf(stderr, "library: %s: %s\n", what, resa_last_error());
    return 1;
}

static int32_t argmax(const float *v, int n)
{
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: library MODEL VERSION\n");
        return 2;
    }
    if (strcmp(resa_version(), argv[2])) {
        fprintf(stderr, "library: resa_version() is %s, pkg-config says %s\n", resa_version(), argv[2]);
        return 1;
    }
    resa_model *m;
    if (resa_model_load(argv[1], &m))
        return fail("load");
    const resa_model_info *info = resa_model_get_info(m);
    const char *text = "The capital of France is";
    int32_t prompt[MAX_PROMPT];
    const int n = resa_tokenize(m, text, strlen(text), info->add_bos, 0, prompt, MAX_PROMPT);
    if (n <= 0 || n > MAX_PROMPT)
        return fail("tokenize");

    resa_params p;
    resa_params_default(&p);
    p.n_ctx = 256;
    resa_context *ctx;
    if (resa_context_new(m, &p, &ctx))
        return fail("context");
    int32_t want[N_GEN];
    if (resa_decode(ctx, prompt, n, NULL, NULL))
        return fail("prefill");
    for (int i = 0; i < N_GEN; i++) {
        want[i] = argmax(resa_logits(ctx), info->n_vocab);
        if (i + 1 < N_GEN && resa_decode(ctx, &want[i], 1, NULL, NULL))
            return fail("decode");
    }
    resa_context_free(ctx);

    resa_engine *e;
    resa_seq *seq[2];
    p.n_ctx = 512;
    if (resa_engine_new(m, &p, &e) || resa_seq_new(e, NULL, &seq[0]) || resa_seq_new(e, NULL, &seq[1]))
        return fail("engine");
    const int32_t *in[2] = {prompt, prompt};
    int n_in[2] = {n, n};
    int32_t got[2][N_GEN];
    for (int i = 0; i < N_GEN; i++) {
        if (resa_engine_step(e, 2, seq, in, n_in))
            return fail("engine step");
        for (int s = 0; s < 2; s++) {
            got[s][i] = argmax(resa_seq_logits(seq[s]), info->n_vocab);
            in[s] = &got[s][i];
            n_in[s] = 1;
        }
    }
    resa_engine_free(e);
    resa_model_free(m);

    for (int i = 0; i < N_GEN; i++) {
        printf("%d%s", want[i], i + 1 < N_GEN ? " " : "\n");
        if (got[0][i] != want[i] || got[1][i] != want[i]) {
            fprintf(stderr, "library: token %d: context %d, engine %d and %d\n", i, want[i], got[0][i], got[1][i]);
            return 1;
        }
    }
    printf("library: %d greedy tokens, the same from a context and from two sequences of an engine\n", N_GEN);
    return 0;
}
