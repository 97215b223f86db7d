/* SPDX-License-Identifier: MIT */
/* SIGINT to a flag (interrupt.h). SA_RESETHAND restores the default action
 * once the handler has run: the second Ctrl-C terminates at once, even in
 * the middle of a long prefill that checks the flag only when it ends. A
 * SIGINT ignored on entry (a background job of a shell, nohup) stays
 * ignored, as the shell meant. */
#include "config.h"

#include "interrupt.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t got_sigint;

static void on_sigint(int sig)
{
    (void)sig;
    got_sigint = 1;
}

void interrupt_catch(void)
{
    struct sigaction sa;
    got_sigint = 0;
    if (sigaction(SIGINT, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
        return;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
}

int interrupted(void)
{
    return got_sigint != 0;
}
