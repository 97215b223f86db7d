/* SPDX-License-Identifier: MIT */
/* The "<arch>.*" hyper-parameters shared by the decoder-only architectures. */
#include <stdio.h>

#include "arch.h"
#include "error.h"
#include "printable.h"

/* Upper bounds that no real model reaches; they keep a hostile header from
 * asking for absurd allocations before any tensor shape is checked. */
#define MAX_DIM (1 << 20)
#define MAX_HEADS 4096
#define RESA_ROPE_BASE_MIN 1.0
#define RESA_ROPE_BASE_MAX 1e12
#define RESA_RMS_EPS_MIN 1e-12
#define RESA_RMS_EPS_MAX 1.0
/* RoPE scaling factors in use are 2 to 32 (Gemma 3: linear 8; Qwen: YaRN 4). */
#define RESA_ROPE_FACTOR_MIN 1e-3
#define RESA_ROPE_FACTOR_MAX 1e6

static resa_status get_dim(const gguf_file *f, const char *arch, const char *suffix,
                           uint32_t lo, uint32_t hi, int *out, bool optional)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    uint32_t v = 0;
    resa_status st = optional ? gguf_get_u32_opt(f, key, &v) : gguf_get_u32(f, key, &v);
    if (st != RESA_OK)
        return st;
    if (optional && v == 0 && gguf_find_kv(f, key) == NULL)
        return RESA_OK;
    if (v < lo || v > hi)
        return error_set(RESA_ERR_FORMAT, "%s: %s = %u is out of range [%u, %u]", f->path, key, v,
                         lo, hi);
    *out = (int)v;
    return RESA_OK;
}

static resa_status get_float(const gguf_file *f, const char *arch, const char *suffix,
                             float *out)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return gguf_get_f32_opt(f, key, out);
}

/* "<arch>.rope.scaling.*", read as llama.cpp reads them (docs/design.md
 * §5.9): the type defaults to linear, a factor of 0 or none means 1, the
 * older key rope.scale_linear stands in for the factor; YaRN's original
 * context defaults to the trained one. "none", "linear" and "yarn" are
 * computed; any other type (longrope), or an attention factor other than 1,
 * is refused here rather than run with wrong angles. */
static resa_status read_rope_scaling(const gguf_file *f, const char *arch, resa_hparams *hp)
{
    char key[128], show[RESA_PRINTABLE_BUF];
    bool none = false;
    hp->rope_yarn = false;
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    if (gguf_find_kv(f, key)) {
        gguf_str type;
        resa_status st = gguf_get_str(f, key, &type);
        if (st != RESA_OK)
            return st;
        none = gguf_str_eq(type, "none");
        hp->rope_yarn = gguf_str_eq(type, "yarn");
        if (!none && !hp->rope_yarn && !gguf_str_eq(type, "linear"))
            return error_set(RESA_ERR_UNSUPPORTED,
                             "%s: RoPE scaling '%s' is not supported (only linear, yarn and Llama 3's rope_freqs)",
                             f->path, resa_printable(show, sizeof show, type.ptr, (size_t)type.len));
    }
    float factor = 0.0f, attn_factor = 1.0f;
    snprintf(key, sizeof key, "%s.rope.scaling.factor", arch);
    if (!gguf_find_kv(f, key))
        snprintf(key, sizeof key, "%s.rope.scale_linear", arch);
    resa_status st = gguf_get_f32_opt(f, key, &factor);
    if (st != RESA_OK || (st = get_float(f, arch, "rope.scaling.attn_factor", &attn_factor)))
        return st;
    if (factor != 0.0f && !(factor >= RESA_ROPE_FACTOR_MIN && factor <= RESA_ROPE_FACTOR_MAX))
        return error_set(RESA_ERR_FORMAT, "%s: %s = %g is outside [%g, %g]", f->path, key, factor,
                         RESA_ROPE_FACTOR_MIN, RESA_ROPE_FACTOR_MAX);
    if (attn_factor != 1.0f)
        return error_set(RESA_ERR_UNSUPPORTED, "%s: %s.rope.scaling.attn_factor = %g is not supported (only 1)",
                         f->path, arch, attn_factor);
    hp->rope_freq_scale = none || factor == 0.0f ? 1.0f : 1.0f / factor;
    hp->n_ctx_orig_yarn = hp->n_ctx_train;
    return get_dim(f, arch, "rope.scaling.original_context_length", 1, 1u << 30, &hp->n_ctx_orig_yarn, true);
}

resa_status hparams_read_common(const gguf_file *f, const char *arch, resa_hparams *hp)
{
    resa_status st;
    if ((st = get_dim(f, arch, "block_count", 1, RESA_MAX_LAYERS, &hp->n_layer, false)) ||
        (st = get_dim(f, arch, "embedding_length", 1, MAX_DIM, &hp->n_embd, false)) ||
        (st = get_dim(f, arch, "feed_forward_length", 1, MAX_DIM, &hp->n_ff, false)) ||
        (st = get_dim(f, arch, "attention.head_count", 1, MAX_HEADS, &hp->n_head, false)))
        return st;
    hp->n_head_kv = hp->n_head;
    hp->n_ctx_train = 2048;
    hp->rope_theta = 10000.0f;
    hp->rms_eps = 1e-5f;
    if ((st = get_dim(f, arch, "attention.head_count_kv", 1, MAX_HEADS, &hp->n_head_kv, true)) ||
        (st = get_dim(f, arch, "context_length", 1, 1u << 30, &hp->n_ctx_train, true)) ||
        (st = get_float(f, arch, "rope.freq_base", &hp->rope_theta)) ||
        (st = get_float(f, arch, "attention.layer_norm_rms_epsilon", &hp->rms_eps)))
        return st;
    if (hp->n_embd % hp->n_head != 0)
        return error_set(RESA_ERR_FORMAT, "%s: embedding_length %d is not a multiple of head_count %d",
                         f->path, hp->n_embd, hp->n_head);
    if (hp->n_head % hp->n_head_kv != 0)
        return error_set(RESA_ERR_FORMAT, "%s: head_count %d is not a multiple of head_count_kv %d",
                         f->path, hp->n_head, hp->n_head_kv);
    hp->head_dim = hp->n_embd / hp->n_head;
    if ((st = get_dim(f, arch, "attention.key_length", 2, MAX_DIM, &hp->head_dim, true)))
        return st;
    hp->n_rot = hp->head_dim;
    if ((st = get_dim(f, arch, "rope.dimension_count", 2, (uint32_t)hp->head_dim, &hp->n_rot, true)))
        return st;
    if (hp->n_head_kv > RESA_MAX_KV_HEADS)
        return error_set(RESA_ERR_UNSUPPORTED, "%s: %d key/value heads, more than %d", f->path,
                         hp->n_head_kv, RESA_MAX_KV_HEADS);
    if (hp->head_dim > RESA_MAX_HEAD_DIM)
        return error_set(RESA_ERR_UNSUPPORTED, "%s: head dimension %d is larger than %d", f->path,
                         hp->head_dim, RESA_MAX_HEAD_DIM);
    if (hp->head_dim % 2 != 0 || hp->n_rot % 2 != 0)
        return error_set(RESA_ERR_FORMAT, "%s: head dimension %d / rope dimension %d must be even",
                         f->path, hp->head_dim, hp->n_rot);
    /* RoPE needs a base above 1 (frequencies base^(-2i/d) fall with i) and
     * finite; real models use 1e4 to 1e8. An epsilon below 1e-12 is a
     * denormal-sized guard that no model trains with (1e-5, 1e-6 in use). */
    if (!(hp->rope_theta >= RESA_ROPE_BASE_MIN && hp->rope_theta <= RESA_ROPE_BASE_MAX))
        return error_set(RESA_ERR_FORMAT, "%s: rope.freq_base %g is outside [%g, %g]", f->path,
                         hp->rope_theta, RESA_ROPE_BASE_MIN, RESA_ROPE_BASE_MAX);
    if (!(hp->rms_eps >= RESA_RMS_EPS_MIN && hp->rms_eps <= RESA_RMS_EPS_MAX))
        return error_set(RESA_ERR_FORMAT, "%s: rms epsilon %g is outside [%g, %g]", f->path, hp->rms_eps,
                         RESA_RMS_EPS_MIN, RESA_RMS_EPS_MAX);
    return read_rope_scaling(f, arch, hp);
}
