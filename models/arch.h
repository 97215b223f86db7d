/* SPDX-License-Identifier: MIT */
/* Model architectures: what differs between them, read from GGUF metadata.
 *
 * One file per architecture fills a resa_arch. The engine's forward pass is
 * shared; an architecture only states its options. No kernels here. */
#ifndef RESA_ARCH_H
#define RESA_ARCH_H

#include <stdbool.h>

#include "gguf.h"

/* Largest head dimension (one head row lives in stack buffers; checked at load). */
#define RESA_MAX_HEAD_DIM 1024
/* Most KV heads (decode attention keeps per-head state on the stack). */
#define RESA_MAX_KV_HEADS 64
/* Most layers (per-layer flags live in stack arrays; checked at load). */
#define RESA_MAX_LAYERS 1024

enum resa_rope_style {
    RESA_ROPE_NORM, /* rotate adjacent pairs (x[2i], x[2i+1]); llama GGUFs are converted for it */
    RESA_ROPE_NEOX, /* rotate halves (x[i], x[i + n_rot/2]); qwen2, qwen3, gemma3 */
};

enum resa_ffn_act {
    RESA_FFN_SILU,      /* SwiGLU: silu(gate) * up; llama, qwen2, qwen3 */
    RESA_FFN_GELU_TANH, /* GeGLU: gelu(gate) * up, tanh approximation; gemma */
};

typedef struct resa_hparams {
    int n_layer;      /* transformer blocks */
    int n_embd;       /* hidden size */
    int n_head;       /* query heads */
    int n_head_kv;    /* key/value heads (GQA when < n_head) */
    int head_dim;
    int n_rot;        /* rotated dimensions per head (<= head_dim) */
    int n_ff;         /* FFN inner size */
    int n_vocab;
    int n_ctx_train;
    float rope_theta;
    float rms_eps;
    enum resa_rope_style rope_style;
    bool qkv_bias;    /* blk.N.attn_{q,k,v}.bias present */
    /* gemma3 (docs/design.md §5.5); zero/false for llama and qwen2 */
    float embd_scale;  /* token embeddings are multiplied by it; 0: not scaled */
    bool qk_norm;      /* per-head RMSNorm of Q and K before RoPE (attn_{q,k}_norm); also qwen3 */
    bool post_norms;   /* RMSNorm of each sub-layer's output before the residual add */
    enum resa_ffn_act ffn_act;
    int n_swa;         /* sliding window in positions (a query sees the last n_swa); 0: none */
    int swa_period;    /* with n_swa: layer il is windowed unless il % swa_period == swa_period - 1 */
    float rope_theta_swa; /* the RoPE base of the windowed layers */
    /* RoPE scaling (docs/design.md §5.9): the global (non-windowed) layers'
     * angles are multiplied by rope_freq_scale, 1/factor of the file's
     * "linear" or "yarn" scaling (1: none); windowed layers are never
     * scaled, as in llama.cpp. With rope_yarn, YaRN's ramp and magnitude
     * correction, over the original context n_ctx_orig_yarn (src/rope_angles.h). */
    float rope_freq_scale;
    bool rope_yarn;
    int n_ctx_orig_yarn;
    bool rope_freqs;   /* the architecture reads rope_freqs.weight (Llama 3's per-pair divisors) */
} resa_hparams;

/* Whether layer il attends only its window (llama.cpp's set_swa_pattern rule). */
static inline bool hparams_layer_swa(const resa_hparams *hp, int il)
{
    return hp->n_swa > 0 && il % hp->swa_period < hp->swa_period - 1;
}

typedef struct resa_arch {
    const char *name; /* value of general.architecture */
    /* Reads hyper-parameters; the message names the file and key on failure. */
    resa_status (*load_hparams)(const gguf_file *f, resa_hparams *hp);
} resa_arch;

extern const resa_arch arch_llama;
extern const resa_arch arch_qwen2;
extern const resa_arch arch_gemma3;
extern const resa_arch arch_qwen3;

/* Shared reader for the "<arch>.*" keys every decoder-only model has. */
resa_status hparams_read_common(const gguf_file *f, const char *arch, resa_hparams *hp);

#endif
