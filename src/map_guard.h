/* SPDX-License-Identifier: MIT */
/* Turns a SIGBUS on a model's file mapping (the file was truncated while in
 * use) into an error the API can return (docs/design.md §5.7). */
#ifndef RESA_MAP_GUARD_H
#define RESA_MAP_GUARD_H

#include <stddef.h>

/* Watches [base, base+size): a fault there replaces the rest of the
 * mapping with zero pages and marks it damaged. Returns a slot (>= 0), or
 * -1 when the table is full (the mapping is then unguarded: a fault ends
 * the process with SIGBUS as before). Installs the handler on first use. */
int map_guard_add(const void *base, size_t size);
/* Stops watching slot (before the mapping is unmapped); -1 is ignored. */
void map_guard_remove(int slot);
/* Has a fault happened on slot's mapping? */
int map_guard_damaged(int slot);

#endif
