/* SPDX-License-Identifier: MIT */
/* Errors are values: functions return resa_status and leave a one-line
 * message in a thread-local buffer that the API hands out. */
#ifndef RESA_ERROR_H
#define RESA_ERROR_H

#include "resa.h"

#if defined(__GNUC__)
#define RESA_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define RESA_PRINTF(a, b)
#endif

/* Formats the message, stores it, and returns status (so `return error_set(...)`). */
resa_status error_set(resa_status status, const char *fmt, ...) RESA_PRINTF(2, 3);
void error_clear(void);

#endif
