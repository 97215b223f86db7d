/* SPDX-License-Identifier: MIT */
/* gemma3: Gemma 3 (text). Differs from llama in (docs/design.md §5.5):
 * token embeddings scaled by sqrt(n_embd); per-head RMSNorm of Q and K
 * before RoPE; each sub-layer's output RMS-normed again before the residual
 * add; a GELU (tanh) gated FFN; RoPE on halves; and sliding-window layers:
 * five of every six attend only the last `sliding_window` positions, with
 * their own RoPE base (10000), the sixth attends everything with the file's
 * base. The norm weights in the GGUF already include Gemma's "1 +". The
 * larger files (4B and up) scale the global layers' positions linearly
 * (factor 8, hp.rope_freq_scale); the windowed layers are never scaled. */
#include <math.h>

#include "arch.h"
#include "error.h"

/* Neither pattern nor local base is in Gemma 3's GGUFs: they are those of
 * its config (and llama.cpp's defaults), the same for every size. */
#define GEMMA3_SWA_PERIOD 6
#define GEMMA3_ROPE_BASE_SWA 10000.0f
/* Gemma 3 27B scales queries by 1/sqrt(n_embd/n_head), not 1/sqrt(head_dim). */
#define GEMMA3_27B_LAYERS 62

static resa_status gemma3_load_hparams(const gguf_file *f, resa_hparams *hp)
{
    resa_status st = hparams_read_common(f, "gemma3", hp);
    if (st != RESA_OK)
        return st;
    uint32_t window = 0, v_len = (uint32_t)hp->head_dim;
    if ((st = gguf_get_u32(f, "gemma3.attention.sliding_window", &window)) ||
        (st = gguf_get_u32_opt(f, "gemma3.attention.value_length", &v_len)))
        return st;
    if (window < 1 || window > (1u << 24))
        return error_set(RESA_ERR_FORMAT, "%s: gemma3.attention.sliding_window = %u is out of range",
                         f->path, window);
    if (v_len != (uint32_t)hp->head_dim)
        return error_set(RESA_ERR_UNSUPPORTED, "%s: value length %u differs from key length %d", f->path,
                         v_len, hp->head_dim);
    /* Neither key is in Gemma 3's files, but llama.cpp honours both: take the
     * windowed layers' base, and refuse a layer pattern other than ours. */
    uint32_t period = GEMMA3_SWA_PERIOD;
    float base_swa = GEMMA3_ROPE_BASE_SWA;
    if ((st = gguf_get_f32_opt(f, "gemma3.rope.freq_base_swa", &base_swa)))
        return st;
    if (!(base_swa >= 1.0f && base_swa <= 1e12f))
        return error_set(RESA_ERR_FORMAT, "%s: gemma3.rope.freq_base_swa %g is outside [1, 1e12]", f->path,
                         base_swa);
    if (gguf_find_kv(f, "gemma3.attention.sliding_window_pattern") &&
        (gguf_get_u32(f, "gemma3.attention.sliding_window_pattern", &period) || period != GEMMA3_SWA_PERIOD)) {
        error_clear();
        return error_set(RESA_ERR_UNSUPPORTED, "%s: gemma3.attention.sliding_window_pattern other than %d "
                         "is not supported", f->path, GEMMA3_SWA_PERIOD);
    }
    if (hp->rope_yarn)
        return error_set(RESA_ERR_UNSUPPORTED, "%s: gemma3 with YaRN RoPE scaling is not supported", f->path);
    if (hp->n_layer == GEMMA3_27B_LAYERS)
        return error_set(RESA_ERR_UNSUPPORTED, "%s: Gemma 3 27B's attention scale is not supported yet",
                         f->path);
    hp->rope_style = RESA_ROPE_NEOX;
    hp->qkv_bias = false;
    hp->embd_scale = sqrtf((float)hp->n_embd);
    hp->qk_norm = true;
    hp->post_norms = true;
    hp->ffn_act = RESA_FFN_GELU_TANH;
    hp->n_swa = (int)window;
    hp->swa_period = GEMMA3_SWA_PERIOD;
    hp->rope_theta_swa = base_swa;
    return RESA_OK;
}

const resa_arch arch_gemma3 = {
    .name = "gemma3",
    .load_hparams = gemma3_load_hparams,
};
