/* SPDX-License-Identifier: MIT */
/* Byte-level BPE tokenizer (tokenizer.ggml.model = "gpt2"), matching
 * llama.cpp's ids exactly for the pre-tokenizers "smollm", "qwen2" and
 * "deepseek-r1-qwen". Any other tokenizer model or pre-tokenizer is refused
 * at load with RESA_ERR_UNSUPPORTED.
 *
 * A loaded tokenizer is read-only: every function here may be called from
 * several threads at once. */
#ifndef RESA_TOKENIZER_H
#define RESA_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "resa.h"

typedef struct resa_tokenizer resa_tokenizer;

/* Reads tokenizer.ggml.{model,pre,tokens,token_type,merges,bos_token_id,
 * eos_token_id,eot_token_id,eom_token_id,add_bos_token} and
 * tokenizer.chat_template, and copies what it keeps: the tokenizer does not
 * point into f afterwards. A malformed vocabulary is RESA_ERR_FORMAT. */
resa_status tokenizer_load(const gguf_file *f, resa_tokenizer **out);
void tokenizer_free(resa_tokenizer *t);

/* Tokenizes text[0..len) (any bytes; invalid UTF-8 becomes U+FFFD). A byte
 * that the vocabulary cannot spell is an error (RESA_ERR_UNSUPPORTED). add_bos puts the BOS token first when the model has one.
 * parse_special: control tokens such as <|im_start|> written in the text
 * become their ids; without it they are plain text (user-defined added tokens
 * are matched either way, as llama.cpp does). Writes at most max_tokens ids
 * to out (which may be NULL when max_tokens is 0) and returns the full count,
 * or -1 on error (resa_last_error says why). */
int tokenizer_encode(const resa_tokenizer *t, const char *text, size_t len, int add_bos,
                     int parse_special, int32_t *out, int max_tokens);

/* The bytes a token stands for: byte-level characters mapped back to bytes;
 * control and other non-normal tokens render as their text. Not
 * NUL-terminated in general. NULL (and *len = 0) for an id out of range. */
const char *tokenizer_token_bytes(const resa_tokenizer *t, int32_t id, size_t *len);

/* End of generation: EOS, EOT, EOM and the tokens llama.cpp treats as such by
 * their text (<|im_end|>, <|endoftext|>, ...). */
/* The id of the token whose text is s[0..n), or -1. */
int32_t tokenizer_find(const resa_tokenizer *t, const char *s, size_t n);
/* The chat template family recognised in tokenizer.chat_template
 * (chat_template.h), or -1 when there is none or it is not recognised. */
int tokenizer_chat_family(const resa_tokenizer *t);

int tokenizer_is_eog(const resa_tokenizer *t, int32_t id);
int tokenizer_n_vocab(const resa_tokenizer *t);
int tokenizer_bos(const resa_tokenizer *t); /* -1 when absent */
int tokenizer_eos(const resa_tokenizer *t); /* -1 when absent */
/* tokenizer.ggml.add_bos_token (false when absent, as llama.cpp for gpt2). */
int tokenizer_add_bos(const resa_tokenizer *t);

/* ChatML for one user message, system block only when system is not NULL:
 * "<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n
 * <|im_start|>assistant\n". Returns a malloc'd string (free() it), NULL on
 * error. */
char *tokenizer_chat_format(const resa_tokenizer *t, const char *system, const char *user);

/* The system prompt the model's chat template inserts when a conversation
 * has none (SmolLM2: "You are a helpful AI assistant named SmolLM, ..."),
 * when the template spells it as one literal; NULL otherwise. */
const char *tokenizer_default_system(const resa_tokenizer *t);

#endif
