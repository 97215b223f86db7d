/* SPDX-License-Identifier: MIT */
/* One model shared by threads (docs/design.md §3.7), the test that the
 * ThreadSanitizer build of tools/test.sh runs:
 *
 *   test_threads MODEL
 *
 * The model is loaded once. Two threads, started together, each run a job:
 * a context of their own (one in resa mode, one dense) generating greedily
 * from a prompt of their own, then an engine of their own stepping two
 * sequences (resa and dense) together, with resa_tokenize and
 * resa_token_text on the shared model between steps. Then the main thread
 * runs the same jobs one after the other, and every token must be the same:
 * a race that changes results fails here in any build; under TSan
 * (halt_on_error=1) a race that does not change them fails too. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resa.h"

#define N_GEN 24         /* greedy tokens a context generates */
#define N_ENGINE_STEPS 8 /* engine steps: the prompts, then decode steps (past a rectification) */
#define MAX_PROMPT 128

typedef struct job {
    /* what to do */
    const char *name;
    const char *prompt[2]; /* the context's and the resa sequence's; the dense one takes [0] */
    resa_mode mode;        /* the context's */
    const resa_model *model;
    pthread_barrier_t *start;   /* NULL when run alone */
    struct job *other;          /* the job running beside this one, or NULL */
    /* what came out */
    atomic_int progress;        /* steps done, read by the other thread */
    int32_t gen[N_GEN];
    int32_t seq_tokens[2][N_ENGINE_STEPS];
    uint32_t text_hash;         /* of the generated tokens' text, through resa_token_text */
    int retokenized;            /* the prompt tokenized the same at every step */
    int other_at_end;           /* the other job's progress when this one ended */
    char err[256];              /* a setup error, "" when none */
} job;

static int passed, failed;

static void check(int ok, const char *what)
{
    printf("%s - %s\n", ok ? "ok" : "not ok", what);
    ok ? passed++ : failed++;
}

static int32_t argmax(const float *x, int n)
{
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        best = x[i] > x[best] ? i : best;
    return best;
}

static resa_params job_params(resa_mode mode)
{
    resa_params p;
    resa_params_default(&p);
    p.n_ctx = 512;
    p.n_threads = 1; /* the threads are this test's; one backend thread keeps TSan quiet on OpenMP */
    p.mode = mode;
    p.min_blocks = 2; /* a budget below the block count: sparse steps really skip blocks */
    p.rect_every = 4;
    return p;
}

static int job_error(job *j, const char *what)
{
    snprintf(j->err, sizeof j->err, "%s: %s: %s", j->name, what, resa_last_error());
    return -1;
}

static int tokenize(const job *j, const char *text, int32_t *ids)
{
    const resa_model_info *info = resa_model_get_info(j->model);
    return resa_tokenize(j->model, text, strlen(text), info->add_bos, 0, ids, MAX_PROMPT);
}

/* Tokenizes the prompt again and reads the text of the last token: the
 * model's read-only paths, run while the other thread decodes. */
static void use_model(job *j, const int32_t *ids, int n, int32_t token)
{
    int32_t again[MAX_PROMPT];
    if (tokenize(j, j->prompt[0], again) != n || memcmp(again, ids, (size_t)n * sizeof *ids))
        j->retokenized = 0;
    size_t len;
    const char *text = resa_token_text(j->model, token, &len);
    for (size_t i = 0; i < len; i++)
        j->text_hash = (j->text_hash ^ (unsigned char)text[i]) * 16777619u; /* FNV-1a */
    atomic_fetch_add(&j->progress, 1);
}

static int generate(job *j, int n_vocab)
{
    int32_t ids[MAX_PROMPT];
    const int n = tokenize(j, j->prompt[0], ids);
    if (n <= 0 || n > MAX_PROMPT)
        return job_error(j, "tokenize");
    resa_params p = job_params(j->mode);
    resa_context *c;
    if (resa_context_new(j->model, &p, &c))
        return job_error(j, "resa_context_new");
    for (int i = 0; i < N_GEN; i++) {
        if (resa_decode(c, i ? &j->gen[i - 1] : ids, i ? 1 : n, NULL, NULL)) {
            resa_context_free(c);
            return job_error(j, "resa_decode");
        }
        j->gen[i] = argmax(resa_logits(c), n_vocab);
        use_model(j, ids, n, j->gen[i]);
    }
    resa_context_free(c);
    return 0;
}

/* Two sequences, resa and dense, stepped together in an engine of this job. */
static int step_engine(job *j, int n_vocab)
{
    int32_t ids[2][MAX_PROMPT];
    int n[2];
    for (int i = 0; i < 2; i++)
        if ((n[i] = tokenize(j, j->prompt[1 - i], ids[i])) <= 0 || n[i] > MAX_PROMPT)
            return job_error(j, "tokenize");
    const resa_params rp = job_params(RESA_MODE_RESA), dp = job_params(RESA_MODE_DENSE);
    resa_engine *e;
    resa_seq *seqs[2];
    if (resa_engine_new(j->model, &rp, &e))
        return job_error(j, "resa_engine_new");
    if (resa_seq_new(e, NULL, &seqs[0]) || resa_seq_new(e, &dp, &seqs[1])) {
        resa_engine_free(e);
        return job_error(j, "resa_seq_new");
    }
    for (int s = 0; s < N_ENGINE_STEPS; s++) {
        const int32_t *tokens[2];
        int n_tokens[2];
        for (int i = 0; i < 2; i++) {
            tokens[i] = s ? &j->seq_tokens[i][s - 1] : ids[i];
            n_tokens[i] = s ? 1 : n[i];
        }
        if (resa_engine_step(e, 2, seqs, tokens, n_tokens)) {
            resa_engine_free(e);
            return job_error(j, "resa_engine_step");
        }
        for (int i = 0; i < 2; i++)
            j->seq_tokens[i][s] = argmax(resa_seq_logits(seqs[i]), n_vocab);
        use_model(j, ids[1], n[1], j->seq_tokens[0][s]);
    }
    resa_engine_free(e);
    return 0;
}

static void *run_job(void *arg)
{
    job *j = arg;
    j->retokenized = 1;
    j->text_hash = 2166136261u;
    if (j->start)
        pthread_barrier_wait(j->start);
    const int n_vocab = resa_model_get_info(j->model)->n_vocab;
    if (generate(j, n_vocab) == 0)
        step_engine(j, n_vocab);
    j->other_at_end = j->other ? atomic_load(&j->other->progress) : 0;
    return NULL;
}

static void init_jobs(job *jobs, const resa_model *m)
{
    /* Those a resa context or sequence takes are over 40 tokens: with the
     * tokens after them, more blocks than min_blocks. */
    static const char *const prompts[4] = {
        "The history of the printing press begins in the fifteenth century, when a goldsmith in "
        "Mainz combined a screw press, oil-based ink and movable metal type. Within fifty years "
        "printers worked in more than two hundred towns, and books became",
        "Photosynthesis turns light into chemical energy. In the leaves of plants, chlorophyll "
        "absorbs red and blue light, water is split into oxygen and hydrogen, and the energy is "
        "stored in sugars that the plant later burns. The oxygen",
        "A recipe for bread needs flour, water, salt and yeast. First,",
        "The rules of chess say that a pawn moves one square forward, except on its first move, "
        "when it may move two squares. It captures diagonally, and when it reaches the last rank "
        "it is promoted to a queen, a rook, a bishop or a knight. A king",
    };
    for (int i = 0; i < 2; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].name = i ? "dense job" : "resa job";
        jobs[i].prompt[0] = prompts[2 * i];
        jobs[i].prompt[1] = prompts[2 * i + 1];
        jobs[i].mode = i ? RESA_MODE_DENSE : RESA_MODE_RESA;
        jobs[i].model = m;
        atomic_init(&jobs[i].progress, 0);
    }
}

static int same(const job *a, const job *b)
{
    return !memcmp(a->gen, b->gen, sizeof a->gen) &&
           !memcmp(a->seq_tokens, b->seq_tokens, sizeof a->seq_tokens) && a->text_hash == b->text_hash;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_threads MODEL\n");
        return 99;
    }
    resa_model *m;
    if (resa_model_load(argv[1], &m)) {
        fprintf(stderr, "test_threads: %s\n", resa_last_error());
        return 99;
    }
    job threaded[2], alone[2];
    init_jobs(threaded, m);
    init_jobs(alone, m);
    pthread_barrier_t start;
    pthread_t tid[2];
    pthread_barrier_init(&start, NULL, 2);
    for (int i = 0; i < 2; i++) {
        threaded[i].start = &start;
        threaded[i].other = &threaded[1 - i];
        if (pthread_create(&tid[i], NULL, run_job, &threaded[i])) {
            fprintf(stderr, "test_threads: pthread_create failed\n");
            return 99;
        }
    }
    for (int i = 0; i < 2; i++)
        pthread_join(tid[i], NULL);
    pthread_barrier_destroy(&start);
    for (int i = 0; i < 2; i++)
        run_job(&alone[i]);

    const job *const all[4] = { &threaded[0], &threaded[1], &alone[0], &alone[1] };
    for (int i = 0; i < 4; i++)
        if (all[i]->err[0]) {
            fprintf(stderr, "test_threads: %s\n", all[i]->err);
            return 99;
        }
    for (int i = 0; i < 2; i++) {
        char what[160];
        snprintf(what, sizeof what, "%s: tokens in a thread = tokens alone (%d generated, 2 x %d engine steps)",
                 threaded[i].name, N_GEN, N_ENGINE_STEPS);
        check(same(&threaded[i], &alone[i]), what);
        snprintf(what, sizeof what, "%s: resa_tokenize gave the same ids at every step, in a thread and alone",
                 threaded[i].name);
        check(threaded[i].retokenized && alone[i].retokenized, what);
    }
    /* Shows the test is not vacuous: when the first job ended, the other
     * had started and not finished. */
    const int total = N_GEN + N_ENGINE_STEPS;
    int overlap = 0;
    for (int i = 0; i < 2; i++)
        overlap |= threaded[i].other_at_end > 0 && threaded[i].other_at_end < total;
    check(overlap, "the two jobs ran at the same time");

    resa_model_free(m);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
