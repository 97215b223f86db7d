/* The scheduler: the only code that decides how tokens flow through the
 * model — prefill in chunks of n_batch, then one step per generated token.
 * (Rectified sparse decoding will live here too.) */
#ifndef RESA_SCHEDULER_H
#define RESA_SCHEDULER_H

#include "forward.h"

resa_status scheduler_run(resa_context *ctx, const int32_t *tokens, int n, float *all_logits,
                          resa_progress_fn progress, void *user);

#endif
