/* SPDX-License-Identifier: MIT */
/* The persistent team (threads.h, docs/design.md §3.11).
 *
 * One loop at a time. Its items are cut into one contiguous range per
 * participating thread (the caller is thread 0), and each range has a claim
 * word on a cache line of its own: generation, next item and end, packed in
 * 64 bits. A thread claims the items of its own range with a compare-and-
 * swap on that word (uncontended, like OpenMP's static schedule), then
 * steals from the other ranges the same way; so an item is never waited for
 * unless a thread has claimed it. Finished items are counted once per
 * thread and loop; the caller returns when the count reaches the loop's size.
 *
 * The loop's function, context and offset are written before the range
 * words are published, and read after a word of the loop was read: a swap
 * that succeeds on a word proves that the loop was still unfinished (an item
 * of it was unclaimed), so the caller had not yet written the next loop's,
 * and a worker that wakes late can never run an item of the wrong loop. The
 * end is in the word, not read beside it, so a swap cannot pass an end that
 * belongs to another loop. The generation keeps 24 bits: a stale word
 * could only match again after 16.7 million loops in one compare-and-swap's
 * window.
 *
 * Waiting spins for spin_ns (a decode step's loops are a few microseconds
 * apart, and a futex wake costs about as much as one), then sleeps on a
 * condition variable. The sleep flags and the words they guard are read and
 * written sequentially consistently, so a wake cannot be lost between a
 * waiter's last check and its sleep. */
#include "config.h"

#include "threads.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "clock.h"
#include "error.h"

/* Microseconds a waiting thread spins before it sleeps. Long enough to span
 * the serial work between two loops of a decode step; short enough that a
 * thread waiting for one the kernel has descheduled soon leaves it the
 * core (docs/design.md §3.11 has the measurements). */
#define TEAM_SPIN_US_DEFAULT 50
#define TEAM_SPIN_US_MAX 1000000

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield" ::: "memory")
#else
#define cpu_relax() ((void)0)
#endif

/* A range's claim word: generation (24 bits), next item, end (20 bits each). */
#define IDX_BITS 20
#define MAX_ITEMS (1 << IDX_BITS)
#define IDX_MASK ((uint64_t)MAX_ITEMS - 1)
#define GEN_MASK 0xffffffu

static uint64_t claim_word(uint32_t gen, uint32_t next, uint32_t end)
{
    return (uint64_t)(gen & GEN_MASK) << (2 * IDX_BITS) | (uint64_t)next << IDX_BITS | end;
}

typedef struct range {
    _Alignas(64) atomic_uint_least64_t word;
} range;

typedef struct worker {
    struct resa_team *team;
    int id;
} worker;

struct resa_team {
    int size;      /* threads, the caller included */
    int n_started; /* workers running */
    long spin_ns;
    pthread_t *threads;
    worker *workers;
    range *ranges; /* one per thread */
    /* the loop: written before its range words are published */
    _Atomic(team_item_fn) fn;
    _Atomic(void *) ctx;
    atomic_int base;   /* the first item's number (loops of more than MAX_ITEMS go in parts) */
    atomic_int n_part; /* threads taking part: min(items, size) */
    atomic_uint gen;   /* the loop's generation: workers wait for it to change */
    atomic_int done;   /* items of the loop finished */
    atomic_int stop;
    /* sleeping */
    pthread_mutex_t lock;
    pthread_cond_t work_cv; /* workers: a new generation, or stop */
    pthread_cond_t done_cv; /* the caller: done reached n_items */
    atomic_int sleepers;    /* workers about to wait on work_cv, or waiting */
    atomic_int caller_asleep;
};

int cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* Claims and runs items of generation gen, from thread id's own range, then
 * from the others', until none is left; then counts them done. */
static void run_items(struct resa_team *t, uint32_t gen, int id)
{
    const int m = atomic_load_explicit(&t->n_part, memory_order_relaxed);
    if (id >= m)
        return;
    const uint64_t want = (uint64_t)(gen & GEN_MASK);
    int ran = 0;
    for (int k = 0; k < m; k++) {
        atomic_uint_least64_t *word = &t->ranges[(id + k) % m].word;
        uint64_t c = atomic_load_explicit(word, memory_order_acquire);
        for (;;) {
            const uint32_t next = (uint32_t)(c >> IDX_BITS & IDX_MASK), end = (uint32_t)(c & IDX_MASK);
            if (c >> (2 * IDX_BITS) != want || next >= end)
                break; /* another loop's word, or the range is drained */
            const team_item_fn fn = atomic_load_explicit(&t->fn, memory_order_relaxed);
            void *ctx = atomic_load_explicit(&t->ctx, memory_order_relaxed);
            const int base = atomic_load_explicit(&t->base, memory_order_relaxed);
            if (!atomic_compare_exchange_weak_explicit(word, &c, c + ((uint64_t)1 << IDX_BITS),
                                                       memory_order_acq_rel, memory_order_acquire))
                continue; /* c now holds the word's current value */
            fn(ctx, base + (int)next, id);
            ran++;
            c = atomic_load_explicit(word, memory_order_acquire);
        }
    }
    if (ran) {
        atomic_fetch_add(&t->done, ran);
        if (atomic_load(&t->caller_asleep)) {
            pthread_mutex_lock(&t->lock);
            pthread_cond_signal(&t->done_cv);
            pthread_mutex_unlock(&t->lock);
        }
    }
}

/* Round i of a spin-wait that began at start: a pause, and every 64 rounds
 * a look at the clock. 0 once the team's spin time is spent: go to sleep. */
static int spin_on(const struct resa_team *t, int64_t start, unsigned i)
{
    cpu_relax();
    return (i & 63) || time_now_ns() - start <= t->spin_ns;
}

static void *worker_main(void *arg)
{
    const worker *w = arg;
    struct resa_team *t = w->team;
    uint32_t seen = 0;
    for (;;) {
        uint32_t g = atomic_load_explicit(&t->gen, memory_order_acquire);
        if (g == seen && t->spin_ns > 0) {
            const int64_t start = time_now_ns();
            for (unsigned i = 1; g == seen && !atomic_load_explicit(&t->stop, memory_order_relaxed) && spin_on(t, start, i);
                 i++)
                g = atomic_load_explicit(&t->gen, memory_order_acquire);
        }
        if (g == seen) {
            pthread_mutex_lock(&t->lock);
            atomic_fetch_add(&t->sleepers, 1);
            while ((g = atomic_load(&t->gen)) == seen && !atomic_load(&t->stop))
                pthread_cond_wait(&t->work_cv, &t->lock);
            atomic_fetch_sub(&t->sleepers, 1);
            pthread_mutex_unlock(&t->lock);
        }
        if (atomic_load(&t->stop))
            return NULL;
        seen = g;
        run_items(t, g, w->id);
    }
}

static void wait_done(struct resa_team *t, int n)
{
    if (atomic_load_explicit(&t->done, memory_order_acquire) == n)
        return;
    if (t->spin_ns > 0) {
        const int64_t start = time_now_ns();
        for (unsigned i = 1; atomic_load_explicit(&t->done, memory_order_acquire) != n && spin_on(t, start, i); i++)
            ;
    }
    if (atomic_load(&t->done) == n)
        return;
    pthread_mutex_lock(&t->lock);
    atomic_store(&t->caller_asleep, 1);
    while (atomic_load(&t->done) != n)
        pthread_cond_wait(&t->done_cv, &t->lock);
    atomic_store(&t->caller_asleep, 0);
    pthread_mutex_unlock(&t->lock);
}

/* Items [base, base + n) as one loop, n < MAX_ITEMS. */
static void run_loop(struct resa_team *t, int base, int n, team_item_fn fn, void *ctx)
{
    const int m = n < t->size ? n : t->size;
    const uint32_t gen = atomic_load_explicit(&t->gen, memory_order_relaxed) + 1;
    atomic_store_explicit(&t->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&t->ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&t->base, base, memory_order_relaxed);
    atomic_store_explicit(&t->n_part, m, memory_order_relaxed);
    atomic_store_explicit(&t->done, 0, memory_order_relaxed);
    for (int r = 0; r < m; r++)
        atomic_store_explicit(&t->ranges[r].word,
                              claim_word(gen, (uint32_t)((long)n * r / m), (uint32_t)((long)n * (r + 1) / m)),
                              memory_order_release);
    atomic_store(&t->gen, gen);
    if (atomic_load(&t->sleepers) > 0) {
        pthread_mutex_lock(&t->lock);
        pthread_cond_broadcast(&t->work_cv);
        pthread_mutex_unlock(&t->lock);
    }
    run_items(t, gen, 0);
    wait_done(t, n);
}

void team_run(struct resa_team *t, int n_items, team_item_fn fn, void *ctx)
{
    if (n_items <= 0)
        return;
    if (!t || t->size == 1 || n_items == 1) {
        for (int i = 0; i < n_items; i++)
            fn(ctx, i, 0);
        return;
    }
    for (int base = 0; base < n_items; base += MAX_ITEMS - 1)
        run_loop(t, base, n_items - base < MAX_ITEMS - 1 ? n_items - base : MAX_ITEMS - 1, fn, ctx);
}

int team_size(const struct resa_team *t)
{
    return t->size;
}

static long spin_ns_from_env(void)
{
    const char *s = getenv("RESA_SPIN_US");
    if (s && *s) {
        char *end;
        const long us = strtol(s, &end, 10);
        if (!*end && us >= 0 && us <= TEAM_SPIN_US_MAX)
            return us * 1000;
    }
    return TEAM_SPIN_US_DEFAULT * 1000L;
}

void team_free(struct resa_team *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    atomic_store(&t->stop, 1);
    pthread_cond_broadcast(&t->work_cv);
    pthread_mutex_unlock(&t->lock);
    for (int i = 0; i < t->n_started; i++)
        pthread_join(t->threads[i], NULL);
    pthread_cond_destroy(&t->done_cv);
    pthread_cond_destroy(&t->work_cv);
    pthread_mutex_destroy(&t->lock);
    free(t->threads);
    free(t->workers);
    free(t->ranges);
    free(t);
}

resa_status team_new(int n_threads, struct resa_team **out)
{
    *out = NULL;
    if (n_threads < 1)
        n_threads = 1;
    struct resa_team *t = calloc(1, sizeof *t);
    if (!t)
        return error_set(RESA_ERR_NOMEM, "out of memory");
    t->size = n_threads;
    t->spin_ns = spin_ns_from_env();
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->work_cv, NULL);
    pthread_cond_init(&t->done_cv, NULL);
    t->threads = calloc((size_t)n_threads, sizeof *t->threads);
    t->workers = calloc((size_t)n_threads, sizeof *t->workers);
    t->ranges = aligned_alloc(_Alignof(range), (size_t)n_threads * sizeof *t->ranges);
    if (t->ranges)
        for (int i = 0; i < n_threads; i++)
            atomic_init(&t->ranges[i].word, 0);
    if (!t->threads || !t->workers || !t->ranges) {
        team_free(t);
        return error_set(RESA_ERR_NOMEM, "out of memory");
    }
    /* workers take no signals: the program's handlers run on its own threads */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = 0;
    for (int i = 1; i < n_threads && !err; i++) {
        t->workers[i] = (worker){.team = t, .id = i};
        err = pthread_create(&t->threads[t->n_started], NULL, worker_main, &t->workers[i]);
        if (!err)
            t->n_started++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err) {
        team_free(t);
        return error_set(RESA_ERR_NOMEM, "cannot start %d threads", n_threads);
    }
    *out = t;
    return RESA_OK;
}
