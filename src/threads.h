/* SPDX-License-Identifier: MIT */
/* The CPU backend's threads: a persistent team that runs one parallel loop
 * at a time (docs/design.md §3.11).
 *
 * team_run(t, n, fn, ctx) calls fn(ctx, item, worker) once for every item in
 * [0, n), on the calling thread and the team's workers, and returns when
 * all n calls have returned. Each thread takes a contiguous share of the
 * items first, then helps with the others' shares, one item at a time, so
 * nobody waits for a thread that has claimed nothing: a worker that the
 * kernel has descheduled (a busy neighbour on the machine) costs at most the
 * item it holds, never the loop. A waiting thread spins briefly, then sleeps.
 *
 * worker identifies the thread that runs an item, in [0, min(n, size)):
 * index per-thread scratch with it. Which worker runs which item varies from
 * run to run, so an item's result must not depend on it (every loop here
 * writes each item's output alone). One team_run at a time per team; a
 * NULL team runs the items on the caller, in order (a loop too small to
 * be worth a fork: team_run(big ? team : NULL, ...)). */
#ifndef RESA_THREADS_H
#define RESA_THREADS_H

#include "resa.h"

typedef struct resa_team resa_team;
typedef void (*team_item_fn)(void *ctx, int item, int worker);

/* Online CPUs (at least 1). */
int cpu_count(void);

/* A team of n_threads (the caller counts as one: n_threads - 1 workers are
 * started). Spin time before sleeping: RESA_SPIN_US in the environment
 * (microseconds, 0 = sleep at once), else TEAM_SPIN_US_DEFAULT. */
resa_status team_new(int n_threads, resa_team **out);
void team_free(resa_team *t);
int team_size(const resa_team *t);
void team_run(resa_team *t, int n_items, team_item_fn fn, void *ctx);

/* t for a loop of `work` elements' worth, or NULL (the caller alone) when
 * work < min_work: below that a fork and join costs more than the loop. */
static inline resa_team *team_if_worth(resa_team *t, size_t work, size_t min_work)
{
    return work >= min_work ? t : NULL;
}

#endif
