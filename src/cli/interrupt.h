/* SPDX-License-Identifier: MIT */
/* Ctrl-C during a long command: the first SIGINT asks the command to stop
 * after the step in progress, so it can still print its summary and exit
 * with 130 (128 + SIGINT, what a shell reports for a job killed by it); a
 * second one kills the program as usual. */
#ifndef RESA_CLI_INTERRUPT_H
#define RESA_CLI_INTERRUPT_H

/* Exit status of a command stopped by Ctrl-C. */
#define EXIT_INTERRUPTED 130

/* Installs the handler (once per command), unless SIGINT is ignored. */
void interrupt_catch(void);
/* Has SIGINT arrived since interrupt_catch()? */
int interrupted(void);

#endif
