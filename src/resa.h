/* SPDX-License-Identifier: MIT */
/* resa — Rectified Sparse Attention inference engine: public API.
 *
 * The only header a program needs. Every function that can fail returns a
 * resa_status; on failure resa_last_error() holds a one-line message that
 * names the file or value at fault.
 *
 * Threads and lifetimes:
 * - A model is read-only once loaded: any number of engines and contexts,
 *   in any threads, may use one model at the same time, and so may
 *   resa_tokenize, resa_token_text and resa_chat_format.
 * - An engine (with its sequences) or a context is used by one thread at a
 *   time; different engines and contexts may run concurrently. Each has
 *   its own threads (n_threads - 1 of them, started with it), which run
 *   inside its calls and wait, briefly spinning then asleep, between them.
 * - A model is reference counted: each engine and context holds it, so
 *   resa_model_free may come before they are freed (the memory goes with
 *   the last of them). An engine must outlive its sequences' use
 *   (resa_engine_free frees them).
 * - NULL for a model, context, engine, sequence, sampler or token array is
 *   an error (RESA_ERR_ARG, or -1/NULL/0 from functions without a status),
 *   never a crash.
 * - If the model file is truncated while in use, the step that notices it
 *   returns RESA_ERR_IO instead of the process dying of SIGBUS (the library
 *   installs a SIGBUS handler that passes other faults on; docs/design.md §5.7).
 * - resa_last_error() is per thread.
 *
 * ABI: structs a caller fills carry their own size (set by the *_default
 * inline functions below), so fields can be added at their end without
 * breaking programs built against an older header. */
#ifndef RESA_H
#define RESA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(RESA_STATIC)
#define RESA_API __attribute__((visibility("default")))
#else
#define RESA_API
#endif

typedef enum resa_status {
    RESA_OK = 0,
    RESA_ERR_IO,          /* cannot open / read / map a file */
    RESA_ERR_FORMAT,      /* malformed or hostile file */
    RESA_ERR_UNSUPPORTED, /* valid but not supported: architecture, tensor type, tokenizer */
    RESA_ERR_NOMEM,
    RESA_ERR_ARG,         /* bad argument value */
    RESA_ERR_CONTEXT,     /* the context window is full */
} resa_status;

/* The last error message of the calling thread ("" when none). */
RESA_API const char *resa_last_error(void);
RESA_API const char *resa_version(void);

/* Caps the SIMD tier: "scalar", "avx2", "avx512", "neon" or "native" (the
 * default; also set by the RESA_CPU environment variable). Call it before
 * creating contexts. */
RESA_API resa_status resa_set_cpu(const char *tier);
/* Detected CPU features, the tier in use and the tier of each kernel, as
 * lines of text into buf (NUL-terminated, truncated to n); returns the full length. */
RESA_API int resa_cpu_report(char *buf, size_t n);

typedef struct resa_model resa_model;
typedef struct resa_context resa_context;

typedef enum resa_kv_type { RESA_KV_F16 = 0, RESA_KV_F32 = 1 } resa_kv_type;

typedef struct resa_model_info {
    const char *arch;           /* "llama", "qwen2" */
    const char *name;           /* general.name or "" */
    int n_layer, n_embd, n_head, n_head_kv, head_dim, n_ff, n_vocab, n_ctx_train;
    float rope_theta, rms_eps;
    int tied_embeddings, qkv_bias;
    const char *tokenizer;      /* tokenizer.ggml.model: "gpt2", "llama" */
    const char *pre_tokenizer;  /* "smollm", "qwen2", ... */
    int bos_id, eos_id;         /* -1 when absent */
    int add_bos;                /* the model wants BOS in front of a prompt */
    int has_chat_template;
    uint64_t n_params;
    size_t file_size;
} resa_model_info;

RESA_API resa_status resa_model_load(const char *path, resa_model **out);
RESA_API void resa_model_free(resa_model *model);
RESA_API const resa_model_info *resa_model_get_info(const resa_model *model);
/* Tensor listing for `resa info`: i in [0, n). */
RESA_API int resa_model_n_tensors(const resa_model *model);
RESA_API resa_status resa_model_tensor(const resa_model *model, int i, const char **name,
                              size_t *name_len, const char **type_name, int64_t shape[4], int *n_dims);

/* A GGUF file's metadata and tensor table, read without loading a model:
 * for describing files resa cannot run (tensor types it does not compute
 * with, an unknown architecture or tokenizer). The file must still be a
 * well-formed GGUF. */
typedef struct resa_file_info resa_file_info;
RESA_API resa_status resa_file_inspect(const char *path, resa_file_info **out);
RESA_API void resa_file_info_free(resa_file_info *info);
/* A string value of the metadata (general.name, general.architecture,
 * tokenizer.ggml.model, ...) into buf (cap bytes, NUL-terminated), escaped
 * for a terminal as resa's messages are (control bytes and invalid UTF-8 as
 * \xNN, long values cut with "..."); returns buf, or NULL when the key is
 * absent or not a string. */
RESA_API const char *resa_file_info_str(const resa_file_info *info, const char *key, char *buf, size_t cap);
RESA_API int resa_file_info_n_tensors(const resa_file_info *info);
/* Tensor i in [0, n): name (len bytes, raw), ggml type name, shape, size in
 * bytes, and whether resa computes with its type (*supported 1) or not. */
RESA_API resa_status resa_file_info_tensor(const resa_file_info *info, int i, const char **name, size_t *name_len,
                                           const char **type_name, int64_t shape[4], int *n_dims,
                                           uint64_t *nbytes, int *supported);

/* Tokenization. Without parse_special, text that looks like a special token
 * is plain text. Returns the number of tokens, or -1 on error. When the
 * result does not fit in max_tokens, nothing is written past max_tokens and
 * the full count is returned. */
RESA_API int resa_tokenize(const resa_model *model, const char *text, size_t len, int add_bos,
                  int parse_special, int32_t *tokens, int max_tokens);
/* Bytes of one token's text (special tokens render as their text).
 * Returns a pointer into the model's vocabulary and its length. */
RESA_API const char *resa_token_text(const resa_model *model, int32_t token, size_t *len);
RESA_API int resa_token_is_eog(const resa_model *model, int32_t token);
/* Formats one user message with the ChatML template (system prompt optional),
 * for display: to feed the model, use resa_chat_tokenize. */
RESA_API char *resa_chat_format(const resa_model *model, const char *system, const char *user);
/* Tokenizes one user message (system: optional, NULL for none) in the
 * model's chat template (resa_chat_template), with BOS when the model wants
 * it. The template's control tokens are inserted here as ids; the messages
 * (user_len and system_len bytes, NUL bytes included) are plain text unless
 * parse_special, so a message cannot forge a turn with "<|im_end|>" or
 * "<|im_start|>system". Returns as resa_tokenize. */
RESA_API int resa_chat_tokenize(const resa_model *model, const char *system, size_t system_len,
                                const char *user, size_t user_len, int parse_special, int32_t *tokens,
                                int max_tokens);
/* resa_chat_tokenize in a named template's format: template_name "chatml",
 * "llama3", "gemma" or "mistral", or NULL for the model's own. */
RESA_API int resa_chat_tokenize_template(const resa_model *model, const char *template_name, const char *system,
                                         size_t system_len, const char *user, size_t user_len, int parse_special,
                                         int32_t *tokens, int max_tokens);
/* A whole conversation in a template's format (template_name as for
 * resa_chat_tokenize_template; NULL for the model's own), ending with the
 * opening of an assistant turn: message i has role roles[i] ("system",
 * "user" or "assistant") and text texts[i] of lens[i] bytes (lens NULL, or
 * lens[i] 0: NUL-terminated). Parallel arrays rather than an array of
 * structs, so the message can gain fields without breaking the ABI.
 * Returns as resa_tokenize. */
RESA_API int resa_chat_tokenize_messages(const resa_model *model, const char *template_name, int n_messages,
                                         const char *const *roles, const char *const *texts, const size_t *lens,
                                         int parse_special, int32_t *tokens, int max_tokens);
/* The template family recognised in the model's tokenizer.chat_template;
 * "chatml" with *recognised = 0 when it has none or an unknown one. */
RESA_API const char *resa_chat_template(const resa_model *model, int *recognised);

/* How decode steps attend (docs/design.md §1): every step dense; block-sparse
 * only; block-sparse with a dense rectification every rect_every steps; or
 * auto (resa_params_default's): dense below position sparse_from, resa from
 * there on. */
typedef enum resa_mode {
    RESA_MODE_RESA = 0, RESA_MODE_DENSE = 1, RESA_MODE_SPARSE = 2, RESA_MODE_AUTO = 3
} resa_mode;

/* How many blocks a sparse step reads (docs/design.md §1, step 3): a fixed
 * share (sparse_ratio), or per KV head and step the fewest blocks that cover
 * `coverage` of the attention mass estimated from the block summaries. */
typedef enum resa_budget { RESA_BUDGET_FIXED = 0, RESA_BUDGET_ADAPTIVE = 1 } resa_budget;

/* When a resa-mode sequence rectifies (docs/design.md §1, step 5'): after
 * every rect_every sparse steps; or by the error its sparse steps made: once
 * the pending steps' estimated uncovered attention mass adds up to
 * rect_error, but never before rect_min steps nor after rect_every. */
typedef enum resa_rect_policy { RESA_RECT_FIXED = 0, RESA_RECT_ERROR = 1 } resa_rect_policy;

typedef struct resa_params {
    size_t size;          /* sizeof(resa_params), set by resa_params_default */
    int n_ctx;            /* context: 0 = the model's trained context. For an engine: the
                             positions its KV pool holds, shared by its sequences; for a
                             sequence: the most it may hold (0: the pool's) */
    int n_threads;        /* 0: all online CPUs */
    int n_batch;          /* prefill chunk, default 512 */
    resa_kv_type kv_type; /* default f16 */
    resa_mode mode;       /* default RESA_MODE_AUTO */
    int block_size;       /* tokens per KV block, default 16 */
    float sparse_ratio;   /* fraction of blocks a sparse step reads, default 0.1 */
    int min_blocks;       /* at least this many blocks (or all), default 16 */
    int local_blocks;     /* the last blocks always read, default 1 (>= 1) */
    int rect_every;       /* rectify after this many sparse steps, default 32 (resa mode) */
    const char *backend;  /* "cpu", "cuda" (the module backend-cuda.so; an error when it, a
                             driver or a GPU is missing) or "auto" (CUDA when available, else
                             the CPU with a one-line note on stderr); NULL: $RESA_BACKEND,
                             else "cpu" (docs/design.md §3.9) */
    int allow_overcommit; /* 0 (default): a KV pool larger than physical memory is refused
                             (RESA_ERR_NOMEM) instead of left to the OOM killer */
    resa_budget budget;   /* default RESA_BUDGET_FIXED (sparse_ratio); adaptive: by coverage */
    float coverage;       /* adaptive: share of the estimated attention mass the chosen
                             blocks cover, in (0, 1], default 0.95 */
    float max_ratio;      /* adaptive: at most this fraction of the blocks (but at least
                             min_blocks), in (0, 1], default 0.5 */
    int sparse_from;      /* RESA_MODE_AUTO: decode steps at positions >= sparse_from are
                             sparse (resa); -1 (default): min_blocks*block_size/sparse_ratio
                             times the model's layers per non-windowed layer (2560 with the
                             defaults, 15360 on Gemma 3), near where measured resa decode
                             starts to beat dense on 2 threads (docs/design.md §1) */
    resa_rect_policy rect_policy; /* default RESA_RECT_FIXED (every rect_every steps) */
    int rect_min;         /* RESA_RECT_ERROR: the shortest period, in [1, rect_every], default 4 */
    float rect_error;     /* RESA_RECT_ERROR: the pending steps' summed estimated uncovered
                             mass (each step's mean over layers and KV heads, in [0, 1])
                             that makes a rectification due, > 0, default 2 */
    int swa_full;         /* models with sliding-window layers (gemma3): 1 keeps every position
                             of those layers, as of the others; 0 (default) keeps only what
                             their window can still read, a ring of about window + n_batch
                             positions per sequence (docs/design.md §3.3), which cannot
                             truncate further back than the ring holds (RESA_ERR_UNSUPPORTED) */
    int n_seq_max;        /* with those rings: sequences the engine's pool holds rings for at
                             once (default 1, a context's one); no effect otherwise */
} resa_params;

RESA_API const char *resa_mode_name(resa_mode mode);
/* "dense", "sparse", "resa", "auto" -> mode; -1 if unknown. */
RESA_API int resa_mode_parse(const char *name);
/* The backends and their devices (the CUDA module's GPU: name, memory,
 * compute capability, kernels; or why it is unavailable), as lines of text
 * into buf (NUL-terminated, truncated to n); returns the full length. */
RESA_API int resa_backends_report(char *buf, size_t n);

/* Fills p with the defaults; size is sizeof *p (use resa_params_default). */
RESA_API void resa_params_init(resa_params *p, size_t size);
static inline void resa_params_default(resa_params *p) { resa_params_init(p, sizeof *p); }
RESA_API resa_status resa_context_new(const resa_model *model, const resa_params *p, resa_context **out);
RESA_API void resa_context_free(resa_context *ctx);
RESA_API int resa_context_n_ctx(const resa_context *ctx);
RESA_API int resa_context_n_past(const resa_context *ctx);
/* Forget the cache (n_past = 0). */
RESA_API void resa_context_reset(resa_context *ctx);
/* The backend the context runs on: "cpu" or "cuda". */
RESA_API const char *resa_context_backend(const resa_context *ctx);
/* Rectifications run so far (resa mode). */
RESA_API int resa_context_rectifications(const resa_context *ctx);

/* The mode later decode steps use. Sparse and resa need a context created in
 * one of them (a dense context keeps no block summaries); resa needs the
 * context's rect_every >= 1. Steps of resa mode not yet rectified are
 * rectified first, as the old schedule would before new dense work. Lets one
 * prefilled cache serve every mode (see resa_context_truncate). */
RESA_API resa_status resa_context_set_mode(resa_context *ctx, resa_mode mode);
RESA_API resa_mode resa_context_mode(const resa_context *ctx);
/* Forgets positions >= n (0 <= n <= n_past): n_past becomes n, the summary of
 * the block that holds position n-1 is rebuilt from the keys that remain, and
 * unrectified resa steps at forgotten positions are dropped (those below n
 * stay pending). Decoding on from n gives the same logits, bit for bit, as a
 * context that never saw the forgotten tokens. resa_logits() is stale until
 * the next decode. A model's sliding-window layers kept in rings (swa_full 0)
 * no longer hold keys more than about a ring (window + n_batch positions)
 * behind the newest: a cut whose next window reaches below what they hold
 * fails with RESA_ERR_UNSUPPORTED and changes nothing (n = 0 always works). */
RESA_API resa_status resa_context_truncate(resa_context *ctx, int n);

/* Where decode time goes (for `resa bench`); seconds since the last reset. */
typedef struct resa_timings {
    size_t size;        /* sizeof(resa_timings): set by the caller (resa_context_timings does) */
    double decode_s;    /* decode steps' forward passes, rectification excluded */
    double attention_s; /* of which: attention over the cache */
    double select_s;    /* of which: block scoring and selection */
    double rectify_s;   /* rectification passes */
    int steps;          /* decode steps */
    int rectifications;
    double blocks_read; /* blocks the decode steps attended, summed over layers and KV heads */
    double blocks_all;  /* blocks their caches held, summed the same way (0: not counted, as
                           on the CUDA backend); blocks_read / blocks_all is the share read */
    double miss;        /* rect_policy RESA_RECT_ERROR: the sparse steps' estimated missed
                           attention mass (each step's mean over layers and KV heads), summed */
    int miss_steps;     /* the steps summed in miss (0: not estimated) */
} resa_timings;
RESA_API void resa_context_timings_sized(const resa_context *ctx, resa_timings *out, size_t size);
static inline void resa_context_timings(const resa_context *ctx, resa_timings *out)
{
    resa_context_timings_sized(ctx, out, sizeof *out);
}
RESA_API void resa_context_reset_timings(resa_context *ctx);

/* Benchmarks only: extends the cache to n_total positions by repeating the
 * entries already there (their values mean nothing; decode cost does not
 * depend on them), so a deep cache costs one short prefill. */
RESA_API resa_status resa_context_fill_repeat(resa_context *ctx, int n_total);
/* Rectifies the K/V of sparse steps not yet rectified (call before reusing a
 * context whose generation stopped mid-period, e.g. in a chat). */
RESA_API resa_status resa_rectify_tail(resa_context *ctx);

/* Process n tokens at positions n_past..n_past+n-1; afterwards resa_logits()
 * holds the logits of the last one. progress (may be NULL) is called after each
 * chunk with done/total. A single token after the prompt is a decode step:
 * sparse in the sparse and resa modes; several tokens are a dense prefill
 * (in resa mode, after rectifying any pending sparse steps). */
typedef void (*resa_progress_fn)(void *user, int done, int total);
RESA_API resa_status resa_decode(resa_context *ctx, const int32_t *tokens, int n,
                        resa_progress_fn progress, void *user);
/* Same, but writes logits of every position into all_logits (n * n_vocab). */
RESA_API resa_status resa_decode_all_logits(resa_context *ctx, const int32_t *tokens, int n,
                                   float *all_logits);
RESA_API const float *resa_logits(const resa_context *ctx);

/* ---- Engines: many sequences, one step for all of them ----------------------
 *
 * An engine holds a model's KV pool (params->n_ctx positions in pages of
 * block_size, shared by its sequences: a sequence takes pages as it grows
 * and gives them back when truncated or freed) and any number of sequences.
 * resa_engine_step advances several sequences at once: the rows of all of
 * them go through the model together (each weight read once per pass), and
 * each sequence's results are bit for bit those it gets alone (batch
 * invariance). kv_type and block_size are the engine's; mode and the sparse
 * schedule are per sequence. */
typedef struct resa_engine resa_engine;
typedef struct resa_seq resa_seq;

RESA_API resa_status resa_engine_new(const resa_model *model, const resa_params *params,
                                     resa_engine **out);
/* Frees the engine and every sequence still in it. */
RESA_API void resa_engine_free(resa_engine *engine);
/* The backend the engine runs on: "cpu" or "cuda". */
RESA_API const char *resa_engine_backend(const resa_engine *engine);
/* Positions the pool has free (whole pages): how far one more sequence could
 * grow, counting the windowed layers' rings where the model has them. */
RESA_API int resa_engine_free_positions(const resa_engine *engine);
/* Bytes of the KV pool (keys, values and block summaries) an engine or
 * context of this model with these params (NULL: the defaults) allocates;
 * 0 with an error (resa_last_error) for params an engine would refuse. */
RESA_API size_t resa_kv_cache_bytes(const resa_model *model, const resa_params *params);

/* A new empty sequence; params (may be NULL: the engine's) gives its mode,
 * sparse schedule and its own cap on positions (n_ctx). */
RESA_API resa_status resa_seq_new(resa_engine *engine, const resa_params *params, resa_seq **out);
RESA_API void resa_seq_free(resa_seq *seq);
RESA_API int resa_seq_n_past(const resa_seq *seq);
RESA_API int resa_seq_n_ctx(const resa_seq *seq);
/* As resa_context_truncate; pages above the kept positions return to the pool. */
RESA_API resa_status resa_seq_truncate(resa_seq *seq, int n);
/* As resa_context_set_mode. */
RESA_API resa_status resa_seq_set_mode(resa_seq *seq, resa_mode mode);
RESA_API resa_mode resa_seq_mode(const resa_seq *seq);
RESA_API int resa_seq_rectifications(const resa_seq *seq);
/* Rectifies the sequence's unrectified sparse steps now (as resa_rectify_tail). */
RESA_API resa_status resa_seq_rectify_tail(resa_seq *seq);
/* Benchmarks only: as resa_context_fill_repeat. */
RESA_API resa_status resa_seq_fill_repeat(resa_seq *seq, int n_total);
/* The logits (n_vocab) of the last token the sequence was given. */
RESA_API const float *resa_seq_logits(const resa_seq *seq);

/* One step: seqs[i] (n distinct sequences of this engine) takes the
 * n_tokens[i] tokens at tokens[i]: one token after its prompt is a decode
 * step (sparse in modes sparse and resa), more are a prompt (dense, in
 * chunks of n_batch). A resa sequence's rectification, due after every
 * rect_every sparse steps, runs in its next step (resa_seq_rectify_tail
 * runs it at once). When an input is invalid or the pool lacks pages,
 * nothing is done (RESA_ERR_ARG, RESA_ERR_CONTEXT). */
RESA_API resa_status resa_engine_step(resa_engine *engine, int n, resa_seq *const *seqs,
                                      const int32_t *const *tokens, const int *n_tokens);

typedef struct resa_sampler_params {
    size_t size;  /* sizeof(resa_sampler_params), set by resa_sampler_default */
    float temp;   /* 0: greedy */
    int top_k;    /* 0: off */
    float top_p;  /* 1: off */
    uint64_t seed;
} resa_sampler_params;
RESA_API void resa_sampler_init(resa_sampler_params *p, size_t size);
static inline void resa_sampler_default(resa_sampler_params *p) { resa_sampler_init(p, sizeof *p); }
typedef struct resa_sampler resa_sampler;
RESA_API resa_sampler *resa_sampler_new(const resa_sampler_params *p, int n_vocab);
RESA_API void resa_sampler_free(resa_sampler *s);
/* The sampled token, or -1 when s or logits is NULL. */
RESA_API int32_t resa_sample(resa_sampler *s, const float *logits);

#ifdef __cplusplus
}
#endif
#endif
