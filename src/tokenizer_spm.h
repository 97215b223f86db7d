/* SPDX-License-Identifier: MIT */
/* SentencePiece-style BPE (tokenizer.ggml.model = "llama": Llama 2, Mistral,
 * Gemma), matching llama.cpp's ids. The shared parts of a tokenizer
 * (vocabulary lookup, special-token splitting, BOS) stay in tokenizer.c;
 * this file holds what differs: the scores, the <0xNN> byte tokens, the
 * space marker U+2581 and the merge loop (docs/design.md §5.3). */
#ifndef RESA_TOKENIZER_SPM_H
#define RESA_TOKENIZER_SPM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "resa.h"

typedef struct spm_model spm_model;

/* Looks a token up by its text: its id, or -1. */
typedef int32_t (*spm_find_fn)(const void *vocab, const char *s, size_t n);
/* Receives each id the encoder produces, in order. */
typedef void (*spm_emit_fn)(void *ctx, int32_t id);

/* Reads tokenizer.ggml.scores (n_vocab floats), tokenizer.ggml.add_space_prefix
 * (default true, as llama.cpp) and finds the byte tokens <0x00>..<0xFF>
 * through find. vocab must outlive the model. */
resa_status spm_load(const gguf_file *f, int n_vocab, spm_find_fn find, const void *vocab, spm_model **out);
void spm_free(spm_model *m);

/* Whether a text fragment that follows the start or a special token gets a
 * leading space (tokenizer.ggml.add_space_prefix). */
bool spm_add_space_prefix(const spm_model *m);

/* Encodes text[0..len) (any bytes), with a leading space when space_prefix.
 * Returns RESA_OK, RESA_ERR_NOMEM, or RESA_ERR_FORMAT when a byte that no
 * token spells needs its byte token and the vocabulary has none. */
resa_status spm_encode(const spm_model *m, const char *text, size_t len, bool space_prefix, spm_emit_fn emit,
                       void *ctx);

/* What a token stands for, written to dst (at most n bytes): a normal
 * token's U+2581 become spaces; a byte token <0xNN> (is_byte) is its byte;
 * others are their text. Returns the length. */
size_t spm_token_bytes(const char *text, size_t n, bool normal, bool is_byte, char *dst);

/* The byte a token text <0xNN> spells, or -1. */
int spm_byte_of(const char *text, size_t n);

#endif
