/* SPDX-License-Identifier: MIT */
/* The scheduler: the only code that knows the ReSA schedule
 * (docs/design.md §1) and the only owner of schedule state: sequences,
 * their pending steps and page tables, the free-page list. It turns a step
 * (one input per sequence) into passes of rows for forward_pass(). */
#ifndef RESA_SCHEDULER_H
#define RESA_SCHEDULER_H

#include "engine.h"

resa_status scheduler_engine_init(resa_engine *e);
void scheduler_engine_free(resa_engine *e);

/* A new empty sequence with p's schedule (p resolved and checked). */
resa_status scheduler_seq_new(resa_engine *e, const resa_params *p, resa_seq **out);
void scheduler_seq_free(resa_seq *s);

/* Advances n distinct sequences by one input each: seqs[i] takes the
 * n_tokens[i] tokens at tokens[i]. One token after a prompt is a decode step
 * (sparse in modes sparse and resa); more are a prompt (dense; a resa
 * sequence rectifies its pending steps first). A resa sequence whose
 * rectification is due has its rectification rows in this step too.
 * Afterwards each sequence's logits are its last token's. all_logits (only
 * with n = 1): every position's logits, (n_tokens, n_vocab), and the input
 * is run as a prompt. progress (n = 1 only, may be NULL) is called after
 * each pass with tokens done / total. Nothing changes when an input is
 * invalid or the pool has too few free pages. */
resa_status scheduler_step(resa_engine *e, int n, resa_seq *const *seqs, const int32_t *const *tokens,
                           const int *n_tokens, float *all_logits, resa_progress_fn progress, void *user);
/* Mode auto's built-in crossover: min_blocks*block_size/sparse_ratio, times
 * layers per sparse (non-windowed) layer (docs/design.md §1). */
int scheduler_default_sparse_from(const resa_params *p, const resa_hparams *hp);
/* A resa sequence's f-th unrectified sparse step has run. */
int scheduler_rect_due(const resa_seq *s);
/* Rectifies the pending sparse steps now (no-op when there are none). */
resa_status scheduler_rectify(resa_seq *s);
/* resa_seq_set_mode and resa_seq_truncate (contracts in resa.h). */
resa_status scheduler_set_mode(resa_seq *s, resa_mode mode);
resa_status scheduler_truncate(resa_seq *s, int n);
/* Benchmarks: the cache grows to n_total positions by repeating its entries. */
resa_status scheduler_fill_repeat(resa_seq *s, int n_total);

#endif
