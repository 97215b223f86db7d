/* SPDX-License-Identifier: MIT */
#ifndef RESA_SAMPLING_H
#define RESA_SAMPLING_H

#include "resa.h"

/* splitmix64: small, seedable, good enough for sampling. */
uint64_t rng_next(uint64_t *state);
/* Uniform in [0, 1). */
double rng_uniform(uint64_t *state);

#endif
