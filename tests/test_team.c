/* SPDX-License-Identifier: MIT */
/* The CPU backend's thread team (src/threads.h), against its contract:
 *
 *   test_team [LOOPS]
 *
 * For teams of 1 to 5 threads (more threads than this machine may have
 * cores: workers get descheduled and wake late), spinning before sleeping
 * (the default) and sleeping at once (RESA_SPIN_US=0), LOOPS loops in a row
 * (default 20000) of 0 to 70 items (many of 2 to 4, so that workers often
 * look for more just as the next loop is being written): every item of a loop runs exactly once,
 * with its own loop's context, on a worker below min(items, size), and all
 * have run when team_run returns. Some items sleep, so that the caller
 * sleeps waiting for them and a worker is still busy when the next loop
 * starts. A late worker running an item of the wrong loop or one past a
 * loop's end shows as an item run twice or a count gone wrong (a loop that
 * returns early fails the check, one that never returns the watchdog, after
 * WATCHDOG_S seconds). Such a race can need a window of a few instructions:
 * one that a first version had (a worker could pair a claim of the last
 * loop with the next loop's item count) hung a benchmark after about 12,700
 * loops and did not show in 4 runs of this test; the test checks the
 * contract, the comment in src/threads.c argues the ordering (the end of a
 * range now travels in the claim word). Under ThreadSanitizer (tools/test.sh) a
 * missing happens-before fails too. */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "threads.h"

#define MAX_ITEMS 70
#define WATCHDOG_S 600 /* the whole test takes seconds; TSan about a minute */

typedef struct loop {
    int n, size, id;
    atomic_int runs[MAX_ITEMS + 1];
    atomic_int bad; /* items out of range, or workers out of range */
} loop;

static void item_fn(void *ctx, int item, int worker)
{
    loop *l = ctx;
    const int max_worker = l->n < l->size ? l->n : l->size;
    if (item < 0 || item >= l->n || worker < 0 || worker >= max_worker) {
        atomic_fetch_add(&l->bad, 1);
        return;
    }
    /* one item in 64 of every 16th loop sleeps 50 us */
    if (l->id % 16 == 0 && item % 64 == 1) {
        const struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
    atomic_fetch_add(&l->runs[item], 1);
}

/* Runs a loop of n items (a fresh context on the stack each time: a stale
 * one would be garbage); 1 when every item ran once, in range. */
static int run_loop(resa_team *t, int n, int size, int id)
{
    loop l = {.n = n, .size = size, .id = id};
    for (int k = 0; k <= MAX_ITEMS; k++)
        atomic_init(&l.runs[k], 0);
    atomic_init(&l.bad, 0);
    team_run(t, l.n, item_fn, &l);
    int once = atomic_load(&l.bad) == 0;
    for (int k = 0; k <= MAX_ITEMS; k++)
        once &= atomic_load(&l.runs[k]) == (k < l.n);
    return once;
}

static unsigned long long rng = 88172645463325252ull;
static int rnd(int n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (int)(rng % (unsigned long long)n);
}

static int passed, failed;

static void check(int ok, const char *what)
{
    printf("%s - %s\n", ok ? "ok" : "not ok", what);
    ok ? passed++ : failed++;
}

/* LOOPS loops on one team; the first loop that breaks the contract is told. */
static void run_team(int size, const char *spin, int loops)
{
    setenv("RESA_SPIN_US", spin, 1);
    resa_team *t;
    char what[160];
    if (team_new(size, &t)) {
        snprintf(what, sizeof what, "team of %d threads starts", size);
        check(0, what);
        return;
    }
    int ok = team_size(t) == size;
    char first_bad[120] = "";
    for (int i = 0; i < loops && ok; i++) {
        const int r = rnd(8);
        const int n = r == 0 ? rnd(3) : r < 4 ? 2 + rnd(3) : 1 + rnd(MAX_ITEMS);
        if (!run_loop(t, n, size, i)) {
            snprintf(first_bad, sizeof first_bad, " (loop %d of %d items broke it)", i, n);
            ok = 0;
        }
    }
    snprintf(what, sizeof what, "%d threads, RESA_SPIN_US=%s: %d loops, every item once, in range%s", size, spin,
             loops, first_bad);
    check(ok, what);
    team_free(t);
}

static void watchdog(int sig)
{
    (void)sig;
    static const char msg[] = "not ok - a loop never returned (a lost wake-up or a miscount)\n";
    if (write(1, msg, sizeof msg - 1) < 0)
        _exit(2);
    _exit(1);
}

int main(int argc, char **argv)
{
    signal(SIGALRM, watchdog);
    alarm(WATCHDOG_S);
    const int loops = argc > 1 ? atoi(argv[1]) : 20000;
    if (loops < 1) {
        fprintf(stderr, "usage: test_team [LOOPS]\n");
        return 2;
    }
    for (int size = 1; size <= 5; size++) {
        run_team(size, "50", loops);
        run_team(size, "0", loops);
    }
    /* a NULL team runs the items on the caller */
    check(run_loop(NULL, 5, 1, 1), "no team: the caller runs every item once");
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
