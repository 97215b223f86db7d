/* SPDX-License-Identifier: MIT */
/* qwen3: Qwen3 (dense). qwen2 without the Q/K/V biases and with gemma3's
 * per-head RMSNorm of Q and K (attn_q_norm, attn_k_norm, head_dim weights)
 * before RoPE, which is on halves (docs/design.md §5.9). The head dimension
 * comes from attention.key_length (128, not n_embd/n_head, in 0.6B). */
#include "arch.h"
#include "error.h"

static resa_status qwen3_load_hparams(const gguf_file *f, resa_hparams *hp)
{
    resa_status st = hparams_read_common(f, "qwen3", hp);
    if (st != RESA_OK)
        return st;
    uint32_t v_len = (uint32_t)hp->head_dim;
    if ((st = gguf_get_u32_opt(f, "qwen3.attention.value_length", &v_len)))
        return st;
    if (v_len != (uint32_t)hp->head_dim)
        return error_set(RESA_ERR_UNSUPPORTED, "%s: value length %u differs from key length %d", f->path,
                         v_len, hp->head_dim);
    hp->rope_style = RESA_ROPE_NEOX;
    hp->qkv_bias = false;
    hp->qk_norm = true;
    return RESA_OK;
}

const resa_arch arch_qwen3 = {
    .name = "qwen3",
    .load_hparams = qwen3_load_hparams,
};
