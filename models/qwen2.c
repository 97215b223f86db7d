/* SPDX-License-Identifier: MIT */
/* qwen2: Qwen2.5, DeepSeek-R1-Distill-Qwen. RoPE on halves (NeoX style) and
 * biases on the Q, K and V projections. */
#include "arch.h"

static resa_status qwen2_load_hparams(const gguf_file *f, resa_hparams *hp)
{
    resa_status st = hparams_read_common(f, "qwen2", hp);
    if (st != RESA_OK)
        return st;
    hp->rope_style = RESA_ROPE_NEOX;
    hp->qkv_bias = true;
    return RESA_OK;
}

const resa_arch arch_qwen2 = {
    .name = "qwen2",
    .load_hparams = qwen2_load_hparams,
};
