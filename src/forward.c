/* SPDX-License-Identifier: MIT */
/* The forward pass of a decoder-only transformer (llama / qwen2 / qwen3 / gemma3),
 * written to read like the math: one backend call per step, every call
 * over all rows of the pass. What differs by architecture is a flag of
 * resa_hparams (models/arch.h), never a second forward pass. */
#include "forward.h"

#include <string.h>

#define TRY(call)                  \
    do {                           \
        resa_status st_ = (call);  \
        if (st_)                   \
            return st_;            \
    } while (0)

/* y[i] = x . W[i]^T for the k weights that read the same input: one
 * backend call where the backend has it (a CPU decode step forks its
 * threads once for Q, K and V), else one each. */
static resa_status matmuls(resa_backend *be, int k, const resa_weight *const *w, resa_act x, const resa_act *y)
{
    if (be->matmul_many)
        return be->matmul_many(be, k, w, x, y);
    for (int i = 0; i < k; i++)
        TRY(be->matmul(be, w[i], x, y[i]));
    return RESA_OK;
}

/* x += Wo . attention(rope(Wq xb), cache with rope(Wk xb), Wv xb), with
 * the per-head norms of q and k before RoPE (gemma3, qwen3) and the norm of the output
 * before the add. kv_only: only write this layer's K/V (the last layer of a
 * pass whose logits nobody reads feeds no other K/V). */
static resa_status attention_block(const resa_model *m, resa_backend *be, int il, int kv_only)
{
    const resa_layer *L = &m->layers[il];
    TRY(be->rmsnorm(be, ACT_XB, ACT_X, L->attn_norm));
    const resa_weight *w[3] = {&L->wk, &L->wv, &L->wq};
    TRY(matmuls(be, kv_only ? 2 : 3, w, ACT_XB, (const resa_act[3]){ACT_K, ACT_V, ACT_Q}));
    TRY(be->add_bias(be, ACT_K, L->bk));
    TRY(be->add_bias(be, ACT_V, L->bv));
    if (L->k_norm)
        TRY(be->head_rmsnorm(be, ACT_K, m->hp.n_head_kv, L->k_norm));
    TRY(be->rope(be, ACT_K, m->hp.n_head_kv, il));
    TRY(be->kv_store(be, il));
    if (kv_only)
        return RESA_OK;
    TRY(be->add_bias(be, ACT_Q, L->bq));
    if (L->q_norm)
        TRY(be->head_rmsnorm(be, ACT_Q, m->hp.n_head, L->q_norm));
    TRY(be->rope(be, ACT_Q, m->hp.n_head, il));
    TRY(be->attention(be, il));
    TRY(be->matmul(be, &L->wo, ACT_ATT, ACT_XB));
    if (L->attn_post_norm)
        TRY(be->rmsnorm(be, ACT_XB, ACT_XB, L->attn_post_norm));
    return be->add(be, ACT_X, ACT_XB);
}

/* x += W_down (act(W_gate xb) * W_up xb), act silu or (gemma3) gelu, the
 * sum normed before the add where the model has post norms. */
static resa_status ffn_block(const resa_model *m, resa_backend *be, int il)
{
    const resa_layer *L = &m->layers[il];
    TRY(be->rmsnorm(be, ACT_XB, ACT_X, L->ffn_norm));
    const resa_weight *w[2] = {&L->w_gate, &L->w_up};
    TRY(matmuls(be, 2, w, ACT_XB, (const resa_act[2]){ACT_HB, ACT_HB2}));
    TRY(m->hp.ffn_act == RESA_FFN_GELU_TANH ? be->geglu(be) : be->swiglu(be));
    TRY(be->matmul(be, &L->w_down, ACT_HB, ACT_XB));
    if (L->ffn_post_norm)
        TRY(be->rmsnorm(be, ACT_XB, ACT_XB, L->ffn_post_norm));
    return be->add(be, ACT_X, ACT_XB);
}

resa_status forward_pass(const resa_model *m, resa_backend *be, const resa_pass *pass,
                         const forward_logits *logits)
{
    const int n_layer = m->hp.n_layer;
    TRY(be->begin(be, pass));
    for (int il = 0; il < n_layer; il++) {
        const int kv_only = logits->n == 0 && il == n_layer - 1;
        TRY(attention_block(m, be, il, kv_only));
        if (kv_only)
            return RESA_OK;
        TRY(ffn_block(m, be, il));
    }
    TRY(be->logits(be, logits->rows, logits->n, m->output_norm, &m->output, logits->buf));
    const size_t n_vocab = (size_t)m->hp.n_vocab;
    for (int i = 0; i < logits->n; i++)
        if (logits->dst[i] != logits->buf + i * n_vocab)
            memcpy(logits->dst[i], logits->buf + i * n_vocab, n_vocab * sizeof(float));
    return RESA_OK;
}
