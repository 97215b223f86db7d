/* SPDX-License-Identifier: MIT */
/* The contract between libresa and a backend module it loads with dlopen
 * (backend-cuda.so, docs/design.md §3.9): libresa never links a GPU runtime;
 * the module implements src/backend.h over its own device memory and
 * reports errors through the host's error_set, so resa_last_error() works
 * as with the CPU backend. Both sides include this header; the ABI number
 * changes whenever a struct of backend.h, kv_cache.h or model.h does. */
#ifndef RESA_BACKEND_MODULE_H
#define RESA_BACKEND_MODULE_H

#include <stddef.h>

#include "backend.h"

/* 2: rope takes the layer; head_rmsnorm, geglu; gemma3 fields in resa_hparams and resa_layer
 * 3: resa_seg.miss (the error-driven rectification's estimate)
 * 4: rope_freq_scale and rope_freqs in resa_hparams, rope_freqs in resa_model
 * 5: the window ring (resa_kv_pool's ring fields, resa_kv_cache.ring and ring_lo,
 *    resa_backend_args.ring_blocks and n_ring_pages; kv_contiguous_blocks takes the layer) */
#define RESA_BACKEND_ABI 5

typedef struct resa_backend_host {
    int abi;
    resa_status (*fail)(resa_status st, const char *fmt, ...);
} resa_backend_host;

/* What backend_cpu_new takes, for a module's constructor. */
typedef struct resa_backend_args {
    const resa_model *model;
    int n_rows_max;
    resa_kv_type kv_type;
    int block_size, n_pages, summaries;
    /* > 0: the windowed layers keep rings of ring_blocks blocks in a region of
       n_ring_pages pages (kv_cache.h); a backend that cannot must refuse */
    int ring_blocks, n_ring_pages;
} resa_backend_args;

/* The symbols a module exports (extern "C"). */
#define RESA_MODULE_ABI_SYM "resa_module_abi"
#define RESA_MODULE_PROBE_SYM "resa_module_probe"
#define RESA_MODULE_NEW_SYM "resa_module_backend_new"
typedef int (*resa_module_abi_fn)(void);
/* Usable devices (0: none, with the reason in buf); a report of each into buf. */
typedef int (*resa_module_probe_fn)(char *buf, size_t n);
typedef resa_status (*resa_module_new_fn)(const resa_backend_host *host, const resa_backend_args *args,
                                          resa_backend **out);

/* libresa side (backend_load.c): the backend that `name` ("cpu", "cuda",
 * "auto"; NULL: $RESA_BACKEND, else "cpu") gives for these arguments. Under
 * "auto" a missing module or GPU gives the CPU backend and a one-line note
 * on stderr. */
resa_status resa_backend_new(const char *name, int n_threads, const resa_backend_args *args,
                             resa_backend **out);

#endif
