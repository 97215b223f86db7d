/* SPDX-License-Identifier: MIT */
/* llama: SmolLM2, Llama 2/3, Mistral. RoPE on adjacent pairs (the GGUF
 * converter permutes Q/K rows for it), no QKV bias. */
#include "arch.h"

static resa_status llama_load_hparams(const gguf_file *f, resa_hparams *hp)
{
    resa_status st = hparams_read_common(f, "llama", hp);
    if (st != RESA_OK)
        return st;
    hp->rope_style = RESA_ROPE_NORM;
    hp->qkv_bias = false;
    return RESA_OK;
}

const resa_arch arch_llama = {
    .name = "llama",
    .load_hparams = llama_load_hparams,
};
