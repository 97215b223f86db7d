/* SPDX-License-Identifier: MIT */
/* A loaded model: hyper-parameters, weights (pointers into the mmap), tokenizer. */
#ifndef RESA_MODEL_H
#define RESA_MODEL_H


#include "arch.h"
#include "gguf.h"
#include "resa.h"
#include "tokenizer.h"
#include "types.h"

/* A weight matrix used as y = W x: `rows` output features, each a row of
 * `cols` input elements stored in `type` (ggml layout: ne[0] = cols). */
typedef struct resa_weight {
    const void *data;
    enum resa_type type;
    int64_t rows, cols;
    size_t row_bytes;
} resa_weight;

typedef struct resa_layer {
    const float *attn_norm;      /* (n_embd) */
    resa_weight wq;              /* (n_head*head_dim, n_embd) */
    resa_weight wk, wv;          /* (n_head_kv*head_dim, n_embd) */
    const float *bq, *bk, *bv;   /* biases, NULL unless hp.qkv_bias */
    resa_weight wo;              /* (n_embd, n_head*head_dim) */
    const float *ffn_norm;       /* (n_embd) */
    resa_weight w_gate, w_up;    /* (n_ff, n_embd) */
    resa_weight w_down;          /* (n_embd, n_ff) */
    const float *q_norm, *k_norm; /* (head_dim), NULL unless hp.qk_norm */
    const float *attn_post_norm, *ffn_post_norm; /* (n_embd), NULL unless hp.post_norms */
} resa_layer;

struct resa_model {
    int refs;                    /* the caller's, plus one per engine (docs/design.md §3.7); changed
                                    only through model_retain/model_release's atomic builtins (a
                                    plain int, so that C++ code such as the CUDA module can include
                                    this header) */
    gguf_file *gguf;
    const resa_arch *arch;
    resa_hparams hp;
    resa_weight tok_embd;        /* (n_vocab, n_embd): row t is token t's embedding */
    resa_weight output;          /* (n_vocab, n_embd); the same as tok_embd when tied */
    const float *output_norm;    /* (n_embd) */
    const float *rope_freqs;     /* (n_rot/2) divisors of each RoPE pair's frequency (Llama 3's
                                    rope_freqs.weight); NULL: none */
    resa_layer *layers;          /* (n_layer) */
    float *f32_store;            /* owned f32 copies of norms/biases stored as F16/BF16 */
    void **copies;               /* owned aligned copies of tensors the file misaligns */
    size_t n_copies;
    size_t f32_store_used, f32_store_cap;
    resa_tokenizer *tok;
    resa_model_info info;
    char arch_name[32];
    char name[128];
    char pre_name[64];
    char tok_name[16];           /* tokenizer.ggml.model: "gpt2", "llama" */
};

/* Loads a model from a buffer the caller keeps alive while the model lives
 * (tests, fuzzing); name is for messages. */
resa_status model_load_buffer(const void *buf, size_t size, const char *name, resa_model **out);
/* Engines hold a reference: the model is freed when resa_model_free has
 * been called and the last engine is gone. */
void model_retain(const resa_model *m);
void model_release(const resa_model *m);
/* The model file was truncated while mapped: its weights read as zeros. */
resa_status model_check_intact(const resa_model *m);

#endif
