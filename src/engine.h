/* SPDX-License-Identifier: MIT */
/* An engine: a model, a backend (which owns the weights' view, the
 * activations and the paged KV pool), and the scheduler's state: the
 * sequences, their page tables and the free-page list (docs/design.md §3). */
#ifndef RESA_ENGINE_H
#define RESA_ENGINE_H

#include "backend.h"
#include "model.h"
#include "page_alloc.h"

struct resa_seq {
    resa_engine *engine;
    int index;              /* in engine->seqs */
    /* schedule (docs/design.md §1) */
    resa_mode mode;
    resa_sparse_cfg sparse;
    int rect_every;
    resa_rect_policy rect_policy;
    int rect_min;           /* RESA_RECT_ERROR: the shortest period */
    double rect_error;      /* RESA_RECT_ERROR: pending miss that makes a rectification due */
    int sparse_from;        /* mode auto: decode steps at positions >= this are sparse */
    int n_ctx;              /* positions this sequence may hold */
    /* cache: block i is page pages[i]; n_pages of them are held */
    int *pages;
    int n_blocks_max, n_pages;
    /* the windowed layers' ring, when the pool has one (docs/design.md §3.3):
     * block i is ring page ring[i % ring_blocks]; n_ring of them are held;
     * those layers hold the positions [ring_lo, n_past) */
    int *ring;
    int n_ring, ring_lo;
    int n_past;
    /* sparse steps not yet rectified: positions [n_past - n_pending, n_past) */
    int32_t *pending;
    int n_pending;
    int pending_sparse;     /* some pending step skipped blocks (else they are dense-exact) */
    double pending_miss;    /* RESA_RECT_ERROR: the pending steps' estimated misses, summed
                               (each the mean of its step_miss) */
    resa_miss step_miss;    /* the running decode step's, filled by the backend */
    int rectifications;
    float *logits;          /* (n_vocab) of the last token given */
    resa_timings timings;
    int timing_on;          /* attention and selection are timed (resa bench) */
};

struct resa_engine {
    const resa_model *model;
    resa_params params;     /* resolved; the defaults of new sequences */
    resa_backend *be;
    page_alloc pages;
    page_alloc ring_pages;  /* the pool's ring region (no pages when it has none) */
    int ring_reach;         /* with a ring: the most rows of a pass or pending steps + 1 it was
                               sized for (kv_ring_blocks) */
    resa_seq **seqs;
    int n_seqs;
    size_t seqs_cap;
    /* the pass being built (scheduler.c) */
    resa_seg *segs;
    int32_t *tokens;
    int *pos;
    int *logit_rows;        /* rows whose logits the pass computes, and where they go */
    float **logit_dst;
    float *logit_buf;       /* (rows, n_vocab) */
    size_t logit_buf_cap;
};

/* A single-sequence context (the resa_context API) is a one-sequence engine. */
struct resa_context {
    resa_engine *engine;
    resa_seq *seq;
};

/* Modes resa and auto rectify their sparse steps (docs/design.md §1). */
static inline int mode_rectifies(resa_mode mode)
{
    return mode == RESA_MODE_RESA || mode == RESA_MODE_AUTO;
}

/* The view of a sequence's cache that backend ops take. */
static inline resa_kv_cache seq_kv(const resa_seq *s)
{
    resa_kv_cache kv = kv_cache_view(s->engine->be->kv, s->pages, s->n_blocks_max);
    kv.ring = s->ring;
    kv.ring_lo = s->ring_lo;
    return kv;
}

#endif
