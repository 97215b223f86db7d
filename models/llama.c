/* SPDX-License-Identifier: MIT */
/* llama: SmolLM2, Llama 2/3, Mistral. RoPE on adjacent pairs (the GGUF
 * converter permutes Q/K rows for it), no QKV bias. Llama 3.1 and later
 * carry their RoPE frequency scaling as rope_freqs.weight, read when present
 * (docs/design.md §5.9). */
#include "arch.h"

static resa_status llama_load_hparams(const gguf_file *f, resa_hparams *hp)
{
    resa_status st = hparams_read_common(f, "llama", hp);
    if (st != RESA_OK)
        return st;
    hp->rope_style = RESA_ROPE_NORM;
    hp->qkv_bias = false;
    hp->rope_freqs = true;
    return RESA_OK;
}

const resa_arch arch_llama = {
    .name = "llama",
    .load_hparams = llama_load_hparams,
};
