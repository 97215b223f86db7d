/* SPDX-License-Identifier: MIT */
/* Choosing a backend: the CPU's, built in, or a module loaded with dlopen
 * (docs/design.md §3.9). libresa never links a GPU runtime; the CUDA module
 * (backend-cuda.so, from --enable-cuda) lives in $(pkglibdir), or in the
 * directory $RESA_BACKEND_PATH names (tests load it from the build tree). */
#include "config.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_module.h"
#include "error.h"

#ifndef RESA_PKGLIBDIR
#define RESA_PKGLIBDIR "/usr/local/lib/resa"
#endif

typedef struct module {
    void *handle;
    resa_module_probe_fn probe;
    resa_module_new_fn create;
    char error[512];
} module;

static module cuda_module;
static pthread_once_t cuda_once = PTHREAD_ONCE_INIT;

static const char *module_dir(void)
{
    const char *env = getenv("RESA_BACKEND_PATH");
    return env && *env ? env : RESA_PKGLIBDIR;
}

/* Once per process: the module stays loaded (its device state outlives any
 * one engine, and unloading a CUDA runtime is not safe). */
static void load_cuda(void)
{
    module *m = &cuda_module;
    char path[400];
    snprintf(path, sizeof path, "%s/backend-cuda.so", module_dir());
    m->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!m->handle) {
        snprintf(m->error, sizeof m->error, "cannot load the CUDA backend module: %s", dlerror());
        return;
    }
    resa_module_abi_fn abi = (resa_module_abi_fn)dlsym(m->handle, RESA_MODULE_ABI_SYM);
    m->probe = (resa_module_probe_fn)dlsym(m->handle, RESA_MODULE_PROBE_SYM);
    m->create = (resa_module_new_fn)dlsym(m->handle, RESA_MODULE_NEW_SYM);
    if (!abi || !m->probe || !m->create || abi() != RESA_BACKEND_ABI) {
        snprintf(m->error, sizeof m->error, "%s was built for another version of resa (ABI %d, expected %d)",
                 path, abi ? abi() : -1, RESA_BACKEND_ABI);
        m->create = NULL;
    }
}

/* The loaded module, or NULL with the reason in *why. */
static const module *cuda(const char **why)
{
    pthread_once(&cuda_once, load_cuda);
    *why = cuda_module.error;
    return cuda_module.create ? &cuda_module : NULL;
}

static const resa_backend_host host = { RESA_BACKEND_ABI, error_set };

static resa_status cuda_new(const resa_backend_args *a, resa_backend **out)
{
    const char *why;
    const module *m = cuda(&why);
    if (!m)
        return error_set(RESA_ERR_UNSUPPORTED, "%s", why);
    char report[2048];
    if (m->probe(report, sizeof report) < 1)
        return error_set(RESA_ERR_UNSUPPORTED, "CUDA backend: %s", report);
    return m->create(&host, a, out);
}

resa_status backend_supports(const resa_backend *be, const resa_model *m)
{
    const resa_hparams *hp = &m->hp;
    if ((hp->qk_norm && !be->head_rmsnorm) || (hp->ffn_act == RESA_FFN_GELU_TANH && !be->geglu))
        return error_set(RESA_ERR_UNSUPPORTED, "the %s backend cannot run architecture '%s' yet", be->name,
                         m->arch_name);
    return RESA_OK;
}

/* A backend that lacks an op the model needs is given back (so that "auto"
 * falls back to the CPU). */
static resa_status cuda_new_for(const resa_backend_args *a, resa_backend **out)
{
    resa_status st = cuda_new(a, out);
    if (st)
        return st;
    if ((st = backend_supports(*out, a->model))) {
        (*out)->free(*out);
        *out = NULL;
    }
    return st;
}

resa_status resa_backend_new(const char *name, int n_threads, const resa_backend_args *a, resa_backend **out)
{
    if (!name || !*name)
        name = getenv("RESA_BACKEND");
    if (!name || !*name)
        name = "cpu";
    if (!strcmp(name, "cuda"))
        return cuda_new_for(a, out);
    if (!strcmp(name, "auto")) {
        if (!cuda_new_for(a, out))
            return RESA_OK;
        fprintf(stderr, "resa: note: %s; using the CPU backend\n", resa_last_error());
        error_clear();
    } else if (strcmp(name, "cpu")) {
        return error_set(RESA_ERR_ARG, "unknown backend '%s' (expected cpu, cuda or auto)", name);
    }
    return backend_cpu_new(a->model, n_threads, a->n_rows_max, a->kv_type, a->block_size, a->n_pages,
                                a->summaries, a->ring_blocks, a->n_ring_pages, out);
}

int resa_backends_report(char *buf, size_t n)
{
    char cuda_report[4096];
    const char *why;
    const module *m = cuda(&why);
    if (m && m->probe(cuda_report, sizeof cuda_report) >= 1)
        return snprintf(buf, n, "cpu: built in (see 'resa cpu')\ncuda: %s/backend-cuda.so\n%s", module_dir(),
                        cuda_report);
    return snprintf(buf, n, "cpu: built in (see 'resa cpu')\ncuda: unavailable: %s\n", m ? cuda_report : why);
}
