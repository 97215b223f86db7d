/* The scheduler: the only code that decides how tokens flow through the
 * model (dense prefill, sparse decode steps, rectification). */
#ifndef RESA_SCHEDULER_H
#define RESA_SCHEDULER_H

#include "forward.h"

resa_status scheduler_run(resa_context *ctx, const int32_t *tokens, int n, float *all_logits,
                          resa_progress_fn progress, void *user);
/* Rectifies the pending sparse steps now (no-op when there are none). */
resa_status scheduler_rectify_tail(resa_context *ctx);
/* resa_context_set_mode and resa_context_truncate (contracts in resa.h). */
resa_status scheduler_set_mode(resa_context *ctx, resa_mode mode);
resa_status scheduler_truncate(resa_context *ctx, int n);

#endif
