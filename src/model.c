/* SPDX-License-Identifier: MIT */
/* Model loading: GGUF -> architecture -> hyper-parameters -> checked weights. */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "model.h"
#include "printable.h"

static const resa_arch *const known_archs[] = { &arch_llama, &arch_qwen2, &arch_qwen3, &arch_gemma3 };

static const resa_arch *find_arch(gguf_str name)
{
    for (size_t i = 0; i < sizeof known_archs / sizeof known_archs[0]; i++)
        if (gguf_str_eq(name, known_archs[i]->name))
            return known_archs[i];
    return NULL;
}

/* Names the API hands out are for display: escaped (docs/design.md §5.6). */
static void copy_str(char *dst, size_t cap, gguf_str s)
{
    resa_printable(dst, cap, s.ptr, (size_t)s.len);
}

/* A default file aligns every tensor to 32 bytes, and the kernels load
 * floats and f16 scales through typed pointers; a file with a smaller
 * general.alignment gets an aligned copy of each tensor it misaligns. */
#define TENSOR_ALIGN 32

static resa_status aligned_data(resa_model *m, const gguf_tensor *t, const void **out)
{
    *out = t->data;
    if ((uintptr_t)t->data % TENSOR_ALIGN == 0)
        return RESA_OK;
    void **list = realloc(m->copies, (m->n_copies + 1) * sizeof *list);
    if (!list)
        return error_set(RESA_ERR_NOMEM, "%s: out of memory", m->gguf->path);
    m->copies = list;
    const size_t bytes = ((size_t)t->nbytes + TENSOR_ALIGN - 1) / TENSOR_ALIGN * TENSOR_ALIGN;
    void *copy = aligned_alloc(TENSOR_ALIGN, bytes ? bytes : TENSOR_ALIGN);
    if (!copy)
        return error_set(RESA_ERR_NOMEM, "%s: out of memory for an aligned copy of a tensor", m->gguf->path);
    memcpy(copy, t->data, (size_t)t->nbytes);
    m->copies[m->n_copies++] = copy;
    *out = copy;
    return RESA_OK;
}

/* Finds a 2-D weight and checks its shape (cols = ne[0], rows = ne[1]). */
static resa_status get_weight(resa_model *m, const char *name, int64_t rows, int64_t cols,
                              resa_weight *w)
{
    const gguf_tensor *t = gguf_find_tensor(m->gguf, name);
    if (!t)
        return error_set(RESA_ERR_FORMAT, "%s: missing tensor '%s'", m->gguf->path, name);
    if (t->n_dims > 2 || t->ne[0] != cols || t->ne[1] != rows)
        return error_set(RESA_ERR_FORMAT,
                         "%s: tensor '%s' has shape [%lld, %lld], expected [%lld, %lld]",
                         m->gguf->path, name, (long long)t->ne[0], (long long)t->ne[1],
                         (long long)cols, (long long)rows);
    switch (t->type) {
    case RESA_TYPE_F32: case RESA_TYPE_F16: case RESA_TYPE_BF16:
    case RESA_TYPE_Q4_0: case RESA_TYPE_Q4_1: case RESA_TYPE_Q8_0:
    case RESA_TYPE_Q5_0: case RESA_TYPE_Q5_1: case RESA_TYPE_IQ4_NL:
    case RESA_TYPE_Q2_K: case RESA_TYPE_Q3_K: case RESA_TYPE_Q4_K:
    case RESA_TYPE_Q5_K: case RESA_TYPE_Q6_K: case RESA_TYPE_IQ4_XS:
        break;
    default:
        return error_set(RESA_ERR_UNSUPPORTED, "%s: tensor '%s' has type %u, not supported for weights",
                         m->gguf->path, name, t->type);
    }
    resa_status st = aligned_data(m, t, &w->data);
    if (st)
        return st;
    w->type = (enum resa_type)t->type;
    w->rows = rows;
    w->cols = cols;
    w->row_bytes = type_row_size(w->type, cols);
    return RESA_OK;
}

/* Finds a 1-D vector (norm weight, bias) of n elements as f32, converting
 * F16/BF16 into the model's own store. */
static resa_status get_vector(resa_model *m, const char *name, int64_t n, const float **out)
{
    const gguf_tensor *t = gguf_find_tensor(m->gguf, name);
    if (!t)
        return error_set(RESA_ERR_FORMAT, "%s: missing tensor '%s'", m->gguf->path, name);
    if (t->n_dims != 1 || t->ne[0] != n)
        return error_set(RESA_ERR_FORMAT, "%s: tensor '%s' has %lld elements, expected %lld",
                         m->gguf->path, name, (long long)t->ne[0], (long long)n);
    const void *data;
    resa_status st = aligned_data(m, t, &data);
    if (st)
        return st;
    if (t->type == RESA_TYPE_F32) {
        *out = data;
        return RESA_OK;
    }
    if (t->type != RESA_TYPE_F16 && t->type != RESA_TYPE_BF16)
        return error_set(RESA_ERR_UNSUPPORTED, "%s: vector '%s' has type %u (want F32, F16 or BF16)",
                         m->gguf->path, name, t->type);
    if (m->f32_store_used + (size_t)n > m->f32_store_cap)
        return error_set(RESA_ERR_FORMAT, "%s: too many small tensors", m->gguf->path);
    float *dst = m->f32_store + m->f32_store_used;
    m->f32_store_used += (size_t)n;
    type_traits_get(t->type)->to_float(data, dst, n);
    *out = dst;
    return RESA_OK;
}

static resa_status load_layer(resa_model *m, int il)
{
    const resa_hparams *hp = &m->hp;
    resa_layer *L = &m->layers[il];
    const int64_t q_dim = (int64_t)hp->n_head * hp->head_dim;
    const int64_t kv_dim = (int64_t)hp->n_head_kv * hp->head_dim;
    char n[12][96];
    const char *suffix[12] = { "attn_norm.weight", "attn_q.weight", "attn_k.weight",
                               "attn_v.weight", "attn_output.weight", "ffn_norm.weight",
                               "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight",
                               "attn_q.bias", "attn_k.bias", "attn_v.bias" };
    for (int i = 0; i < 12; i++)
        snprintf(n[i], sizeof n[i], "blk.%d.%s", il, suffix[i]);
    resa_status st;
    if ((st = get_vector(m, n[0], hp->n_embd, &L->attn_norm)) ||
        (st = get_weight(m, n[1], q_dim, hp->n_embd, &L->wq)) ||
        (st = get_weight(m, n[2], kv_dim, hp->n_embd, &L->wk)) ||
        (st = get_weight(m, n[3], kv_dim, hp->n_embd, &L->wv)) ||
        (st = get_weight(m, n[4], hp->n_embd, q_dim, &L->wo)) ||
        (st = get_vector(m, n[5], hp->n_embd, &L->ffn_norm)) ||
        (st = get_weight(m, n[6], hp->n_ff, hp->n_embd, &L->w_gate)) ||
        (st = get_weight(m, n[7], hp->n_ff, hp->n_embd, &L->w_up)) ||
        (st = get_weight(m, n[8], hp->n_embd, hp->n_ff, &L->w_down)))
        return st;
    if (hp->qkv_bias &&
        ((st = get_vector(m, n[9], q_dim, &L->bq)) || (st = get_vector(m, n[10], kv_dim, &L->bk)) ||
         (st = get_vector(m, n[11], kv_dim, &L->bv))))
        return st;
    char q_norm[96], k_norm[96], post_attn[96], post_ffn[96];
    snprintf(q_norm, sizeof q_norm, "blk.%d.attn_q_norm.weight", il);
    snprintf(k_norm, sizeof k_norm, "blk.%d.attn_k_norm.weight", il);
    snprintf(post_attn, sizeof post_attn, "blk.%d.post_attention_norm.weight", il);
    snprintf(post_ffn, sizeof post_ffn, "blk.%d.post_ffw_norm.weight", il);
    if (hp->qk_norm &&
        ((st = get_vector(m, q_norm, hp->head_dim, &L->q_norm)) ||
         (st = get_vector(m, k_norm, hp->head_dim, &L->k_norm))))
        return st;
    if (hp->post_norms &&
        ((st = get_vector(m, post_attn, hp->n_embd, &L->attn_post_norm)) ||
         (st = get_vector(m, post_ffn, hp->n_embd, &L->ffn_post_norm))))
        return st;
    return RESA_OK;
}

/* Llama 3's RoPE frequency scaling: one divisor per rotated pair, applied
 * to every layer (docs/design.md §5.9). A file of another architecture that
 * carries the tensor is refused: llama.cpp would not load it either, and
 * ignoring it could mean wrong angles. */
static resa_status load_rope_freqs(resa_model *m)
{
    const resa_hparams *hp = &m->hp;
    if (!gguf_find_tensor(m->gguf, "rope_freqs.weight"))
        return RESA_OK;
    if (!hp->rope_freqs)
        return error_set(RESA_ERR_UNSUPPORTED, "%s: tensor 'rope_freqs.weight' is not used by architecture '%s'",
                         m->gguf->path, m->arch->name);
    resa_status st = get_vector(m, "rope_freqs.weight", hp->n_rot / 2, &m->rope_freqs);
    if (st)
        return st;
    for (int i = 0; i < hp->n_rot / 2; i++)
        if (!(m->rope_freqs[i] > 0.0f) || !isfinite(m->rope_freqs[i]))
            return error_set(RESA_ERR_FORMAT, "%s: rope_freqs.weight[%d] = %g is not a positive number",
                             m->gguf->path, i, m->rope_freqs[i]);
    return RESA_OK;
}

static resa_status load_weights(resa_model *m)
{
    const resa_hparams *hp = &m->hp;
    const gguf_tensor *emb = gguf_find_tensor(m->gguf, "token_embd.weight");
    if (!emb)
        return error_set(RESA_ERR_FORMAT, "%s: missing tensor 'token_embd.weight'", m->gguf->path);
    m->hp.n_vocab = (int)emb->ne[1];
    if (emb->ne[1] < 1 || emb->ne[1] > (1 << 24))
        return error_set(RESA_ERR_FORMAT, "%s: vocabulary size %lld is out of range", m->gguf->path,
                         (long long)emb->ne[1]);
    /* Room for every norm and bias as f32, in case they are stored in 16 bits:
     * per layer two norms and three biases, then gemma3's q/k and post norms;
     * the output norm and rope_freqs. */
    m->f32_store_cap = (size_t)hp->n_layer * (4 * (size_t)hp->n_embd + (size_t)hp->n_head * hp->head_dim +
                                              2 * (size_t)hp->n_head_kv * hp->head_dim +
                                              2 * (size_t)hp->head_dim) + (size_t)hp->n_embd +
                       (size_t)hp->n_rot / 2;
    m->f32_store = malloc(m->f32_store_cap * sizeof(float));
    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->f32_store || !m->layers)
        return error_set(RESA_ERR_NOMEM, "%s: out of memory", m->gguf->path);
    resa_status st;
    if ((st = get_weight(m, "token_embd.weight", hp->n_vocab, hp->n_embd, &m->tok_embd)) ||
        (st = get_vector(m, "output_norm.weight", hp->n_embd, &m->output_norm)))
        return st;
    if (gguf_find_tensor(m->gguf, "output.weight")) {
        if ((st = get_weight(m, "output.weight", hp->n_vocab, hp->n_embd, &m->output)))
            return st;
    } else {
        m->output = m->tok_embd; /* tied embeddings */
    }
    for (int il = 0; il < hp->n_layer; il++)
        if ((st = load_layer(m, il)))
            return st;
    return load_rope_freqs(m);
}

static uint64_t count_params(const gguf_file *f)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        uint64_t e = 1;
        for (uint32_t d = 0; d < f->tensors[i].n_dims; d++)
            e *= (uint64_t)f->tensors[i].ne[d];
        n += e;
    }
    return n;
}

static void fill_info(resa_model *m)
{
    resa_model_info *in = &m->info;
    const resa_hparams *hp = &m->hp;
    in->arch = m->arch_name;
    in->name = m->name;
    in->n_layer = hp->n_layer;
    in->n_embd = hp->n_embd;
    in->n_head = hp->n_head;
    in->n_head_kv = hp->n_head_kv;
    in->head_dim = hp->head_dim;
    in->n_ff = hp->n_ff;
    in->n_vocab = hp->n_vocab;
    in->n_ctx_train = hp->n_ctx_train;
    in->rope_theta = hp->rope_theta;
    in->rms_eps = hp->rms_eps;
    in->tied_embeddings = m->output.data == m->tok_embd.data;
    in->qkv_bias = hp->qkv_bias;
    in->tokenizer = m->tok_name;
    in->pre_tokenizer = m->pre_name;
    in->bos_id = tokenizer_bos(m->tok);
    in->eos_id = tokenizer_eos(m->tok);
    in->add_bos = tokenizer_add_bos(m->tok);
    in->has_chat_template = gguf_find_kv(m->gguf, "tokenizer.chat_template") != NULL;
    in->n_params = count_params(m->gguf);
    in->file_size = m->gguf->size;
}

/* A vocabulary shorter than the embedding (padded to a round size): the
 * rows past it have no text, so the output head stops there and no logit,
 * hence no sampled id, refers to them. */
static void drop_padded_rows(resa_model *m)
{
    const int n_text = tokenizer_n_vocab(m->tok);
    if (n_text >= m->hp.n_vocab)
        return;
    m->hp.n_vocab = n_text;
    m->output.rows = n_text;
}

/* Every tensor's type must be one resa computes with (the file layer sizes
 * every ggml type, so that resa info can describe any file). */
static resa_status check_types(const gguf_file *g, const char *path)
{
    char show[RESA_PRINTABLE_BUF];
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor *t = &g->tensors[i];
        if (!type_is_weight(t->type))
            return error_set(RESA_ERR_UNSUPPORTED, "%s: tensor '%s' has type %" PRIu32 " (%s), which resa does "
                             "not support", path, resa_printable(show, sizeof show, t->name.ptr, (size_t)t->name.len),
                             t->type, gguf_type_name(t->type));
    }
    return RESA_OK;
}

static resa_status load(resa_model *m, const char *path)
{
    resa_status st;
    gguf_str s;
    char show[RESA_PRINTABLE_BUF];
    if ((st = check_types(m->gguf, path)))
        return st;
    if ((st = gguf_get_str(m->gguf, "general.architecture", &s)))
        return st;
    copy_str(m->arch_name, sizeof m->arch_name, s);
    m->arch = find_arch(s);
    if (!m->arch) {
        char names[128] = "";
        for (size_t i = 0; i < sizeof known_archs / sizeof known_archs[0]; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "", known_archs[i]->name);
        return error_set(RESA_ERR_UNSUPPORTED, "%s: unknown architecture '%s' (supported: %s)", path,
                         resa_printable(show, sizeof show, s.ptr, (size_t)s.len), names);
    }
    if (gguf_get_str(m->gguf, "general.name", &s) == RESA_OK)
        copy_str(m->name, sizeof m->name, s);
    error_clear();
    if ((st = m->arch->load_hparams(m->gguf, &m->hp)) || (st = load_weights(m)))
        return st;
    if ((st = tokenizer_load(m->gguf, &m->tok)))
        return st;
    if (tokenizer_n_vocab(m->tok) > m->hp.n_vocab)
        return error_set(RESA_ERR_FORMAT, "%s: tokenizer has %d tokens but the embedding only %d rows",
                         path, tokenizer_n_vocab(m->tok), m->hp.n_vocab);
    drop_padded_rows(m);
    if (gguf_get_str(m->gguf, "tokenizer.ggml.pre", &s) == RESA_OK)
        copy_str(m->pre_name, sizeof m->pre_name, s);
    if (gguf_get_str(m->gguf, "tokenizer.ggml.model", &s) == RESA_OK)
        copy_str(m->tok_name, sizeof m->tok_name, s);
    error_clear();
    fill_info(m);
    return RESA_OK;
}

static void destroy(resa_model *m)
{
    tokenizer_free(m->tok);
    free(m->layers);
    free(m->f32_store);
    for (size_t i = 0; i < m->n_copies; i++)
        free(m->copies[i]);
    free(m->copies);
    gguf_close(m->gguf);
    free(m);
}

/* Opens the file (path) or parses buf, then loads the model from it. */
static resa_status load_from(const char *path, const void *buf, size_t size, resa_model **out)
{
    if (!out)
        return error_set(RESA_ERR_ARG, "resa_model_load: NULL output pointer");
    *out = NULL;
    if (!path)
        return error_set(RESA_ERR_ARG, "resa_model_load: NULL path");
    resa_model *m = calloc(1, sizeof *m);
    if (!m)
        return error_set(RESA_ERR_NOMEM, "out of memory");
    m->refs = 1; /* not shared yet */
    resa_status st = buf ? gguf_parse(buf, size, path, &m->gguf) : gguf_open(path, &m->gguf);
    if (!st)
        st = load(m, m->gguf->path);
    if (st) {
        destroy(m);
        return st;
    }
    *out = m;
    return RESA_OK;
}

resa_status resa_model_load(const char *path, resa_model **out) { return load_from(path, NULL, 0, out); }

resa_status model_load_buffer(const void *buf, size_t size, const char *name, resa_model **out)
{
    static const char empty[1];
    if (!buf && size) {
        if (out)
            *out = NULL;
        return error_set(RESA_ERR_ARG, "model_load_buffer: NULL buffer");
    }
    return load_from(name ? name : "<buffer>", buf ? buf : empty, size, out);
}

void model_retain(const resa_model *m) { __atomic_fetch_add(&((resa_model *)m)->refs, 1, __ATOMIC_SEQ_CST); }

void model_release(const resa_model *m)
{
    if (m && __atomic_fetch_sub(&((resa_model *)m)->refs, 1, __ATOMIC_SEQ_CST) == 1)
        destroy((resa_model *)m);
}

void resa_model_free(resa_model *m) { model_release(m); }

resa_status model_check_intact(const resa_model *m)
{
    if (m && gguf_damaged(m->gguf))
        return error_set(RESA_ERR_IO, "%s: the model file was truncated or replaced while in use; "
                                      "results since are invalid (reload the model)", m->gguf->path);
    return RESA_OK;
}

const resa_model_info *resa_model_get_info(const resa_model *m) { return m ? &m->info : NULL; }

int resa_model_n_tensors(const resa_model *m) { return m ? (int)m->gguf->n_tensors : 0; }

resa_status resa_model_tensor(const resa_model *m, int i, const char **name, size_t *name_len,
                              const char **type_name, int64_t shape[4], int *n_dims)
{
    if (!m || !name || !name_len || !type_name || !shape || !n_dims)
        return error_set(RESA_ERR_ARG, "resa_model_tensor: NULL argument");
    if (i < 0 || (uint64_t)i >= m->gguf->n_tensors)
        return error_set(RESA_ERR_ARG, "tensor index %d out of range", i);
    const gguf_tensor *t = &m->gguf->tensors[i];
    *name = t->name.ptr;
    *name_len = (size_t)t->name.len;
    const resa_type_traits *tr = type_traits_get(t->type);
    *type_name = tr ? tr->name : "?";
    for (int d = 0; d < 4; d++)
        shape[d] = t->ne[d];
    *n_dims = (int)t->n_dims;
    return RESA_OK;
}
