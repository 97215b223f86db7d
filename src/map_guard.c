/* SPDX-License-Identifier: MIT */
/* SIGBUS on a truncated model file (docs/design.md §5.7).
 *
 * A read of a mapped page past the end of a file that shrank after mmap
 * raises SIGBUS. The handler looks the address up in a small table of
 * guarded mappings; when it is one of them, it maps anonymous zero pages
 * over the rest of that mapping (from the faulting page on), marks the
 * slot damaged and returns, so the faulting load is retried and reads
 * zeros. The pass in progress finishes with garbage; the API checks the
 * mark after each step and returns RESA_ERR_IO, naming the file. Any
 * other SIGBUS goes to the handler that was there before (the default one
 * ends the process). The handler uses only mmap and atomics: both are
 * safe in a signal handler on Linux. */
#include "config.h"

#include "map_guard.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define GUARD_SLOTS 64

typedef struct guard_slot {
    _Atomic uintptr_t base; /* 0: free */
    _Atomic size_t size;
    atomic_int damaged;
} guard_slot;

static guard_slot slots[GUARD_SLOTS];
static struct sigaction previous;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

static void forward(int sig, siginfo_t *info, void *uc)
{
    if (previous.sa_flags & SA_SIGINFO) {
        previous.sa_sigaction(sig, info, uc);
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
    } else {
        /* the default action: restore it and let the load fault again */
        sigaction(SIGBUS, &previous, NULL);
    }
}

static void on_sigbus(int sig, siginfo_t *info, void *uc)
{
    const uintptr_t addr = (uintptr_t)info->si_addr;
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    for (int i = 0; i < GUARD_SLOTS; i++) {
        const uintptr_t base = atomic_load(&slots[i].base);
        const size_t size = atomic_load(&slots[i].size);
        if (!base || addr < base || addr - base >= size)
            continue;
        const uintptr_t from = addr & ~(page - 1), end = base + size;
        void *p = mmap((void *)from, end - from, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (p == MAP_FAILED)
            break; /* cannot repair: let the previous handler decide */
        atomic_store(&slots[i].damaged, 1);
        return;
    }
    forward(sig, info, uc);
}

static void install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &previous);
}

int map_guard_add(const void *base, size_t size)
{
    if (!base || !size)
        return -1;
    pthread_once(&install_once, install);
    for (int i = 0; i < GUARD_SLOTS; i++) {
        uintptr_t expect = 0;
        if (atomic_compare_exchange_strong(&slots[i].base, &expect, (uintptr_t)1)) {
            /* claimed (base 1 matches no real address while size is 0) */
            atomic_store(&slots[i].damaged, 0);
            atomic_store(&slots[i].size, size);
            atomic_store(&slots[i].base, (uintptr_t)base);
            return i;
        }
    }
    return -1;
}

void map_guard_remove(int slot)
{
    if (slot < 0 || slot >= GUARD_SLOTS)
        return;
    atomic_store(&slots[slot].size, 0);
    atomic_store(&slots[slot].base, 0);
}

int map_guard_damaged(int slot)
{
    return slot >= 0 && slot < GUARD_SLOTS && atomic_load(&slots[slot].damaged);
}
