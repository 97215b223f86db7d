#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes a tiny llama-architecture GGUF (about 40 KB) that resa loads and runs.

usage: make_tiny_gguf.py OUTPUT [--vocab-pad N] [--alignment A] [--set KEY=VALUE ...]
                                [--token-type ID=TYPE ...]

One layer, n_embd 32, 2 query heads and 1 KV head of 16, n_ff 64, trained
context 64; random f16 weights and f32 norms (seeded, so the same arguments
give the same file). The tokenizer is a byte-level BPE ('gpt2', pre-tokenizer
'smollm'): the 256 byte tokens, a few merges, and the control tokens
<|endoftext|> (BOS/EOS), <|im_start|>, <|im_end|>.

For crafted-file tests (tests/test_hardening.sh):
  --vocab-pad N     N more embedding rows than tokens (a padded vocabulary)
  --alignment A     general.alignment (1 puts tensors at odd offsets)
  --set KEY=VALUE   override a metadata value (float, int or string by the key's
                    type; e.g. llama.rope.freq_base=inf)
  --token-type I=T  token I gets type T (e.g. 5=99)
  --drop-byte B     leave byte B's token out of the vocabulary
  --name TEXT       general.name (may hold control characters)
  --pre TEXT        tokenizer.ggml.pre (default smollm)
It also writes the seeds of the GGUF fuzz target (tests/fuzz/gguf_seeds.sh).
Needs numpy and the gguf package (the .venv of tools/setup.sh).
"""
import argparse
import sys

import numpy as np

try:
    import gguf
except ImportError as e:
    print("make_tiny_gguf: the gguf package is not importable (%s); use the .venv of tools/setup.sh" % e,
          file=sys.stderr)
    sys.exit(1)

N_EMBD, N_HEAD, N_HEAD_KV, HEAD_DIM, N_FF, N_CTX = 32, 2, 1, 16, 64, 64
WORDS = ["the", "hello", "world", "cat"]
CONTROL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def byte_encoder():
    """GPT-2's reversible map from bytes to printable characters."""
    keep = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def vocab(drop_byte):
    enc = byte_encoder()
    tokens = [enc[b] for b in range(256) if b != drop_byte]
    seen, merges = set(tokens), []
    for w in WORDS:
        text = enc[0x20] + w
        for k in range(2, len(text) + 1):
            left, right = text[:k - 1], text[k - 1]
            if text[:k] not in seen and left in seen and right in seen:
                seen.add(text[:k])
                tokens.append(text[:k])
                merges.append("%s %s" % (left, right))
    types = [1] * len(tokens) + [3] * len(CONTROL)
    return tokens + CONTROL, types, merges


def parse_value(text):
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("output")
    ap.add_argument("--vocab-pad", type=int, default=0)
    ap.add_argument("--alignment", type=int, default=None)
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--token-type", action="append", default=[])
    ap.add_argument("--drop-byte", type=lambda s: int(s, 0), default=None)
    ap.add_argument("--name", default="resa tiny test model")
    ap.add_argument("--pre", default="smollm")
    a = ap.parse_args()

    tokens, types, merges = vocab(a.drop_byte)
    for tt in a.token_type:
        i, t = tt.split("=")
        types[int(i)] = int(t)
    n_vocab = len(tokens) + a.vocab_pad
    overrides = dict(s.split("=", 1) for s in a.set)

    w = gguf.GGUFWriter(a.output, "llama")
    if a.alignment is not None:
        w.data_alignment = a.alignment
        w.add_uint32("general.alignment", a.alignment)
    w.add_name(a.name)
    meta = {
        "llama.context_length": N_CTX, "llama.embedding_length": N_EMBD, "llama.block_count": 1,
        "llama.feed_forward_length": N_FF, "llama.attention.head_count": N_HEAD,
        "llama.attention.head_count_kv": N_HEAD_KV, "llama.rope.freq_base": 10000.0,
        "llama.attention.layer_norm_rms_epsilon": 1e-5,
    }
    for k, v in overrides.items():
        meta[k] = parse_value(v)
    for k, v in meta.items():
        if isinstance(v, float):
            w.add_float32(k, v)
        elif isinstance(v, int):
            w.add_uint32(k, v) if v >= 0 else w.add_int32(k, v)
        else:
            w.add_string(k, v)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(a.pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    eot = tokens.index("<|endoftext|>")
    w.add_bos_token_id(eot)
    w.add_eos_token_id(tokens.index("<|im_end|>"))
    w.add_add_bos_token(False)

    rng = np.random.default_rng(1)

    def mat(rows, cols):
        return (rng.standard_normal((rows, cols)) * 0.2).astype(np.float16)

    def norm(n):
        return (1 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    w.add_tensor("token_embd.weight", mat(n_vocab, N_EMBD))
    w.add_tensor("output_norm.weight", norm(N_EMBD))
    w.add_tensor("blk.0.attn_norm.weight", norm(N_EMBD))
    w.add_tensor("blk.0.attn_q.weight", mat(N_HEAD * HEAD_DIM, N_EMBD))
    w.add_tensor("blk.0.attn_k.weight", mat(N_HEAD_KV * HEAD_DIM, N_EMBD))
    w.add_tensor("blk.0.attn_v.weight", mat(N_HEAD_KV * HEAD_DIM, N_EMBD))
    w.add_tensor("blk.0.attn_output.weight", mat(N_EMBD, N_HEAD * HEAD_DIM))
    w.add_tensor("blk.0.ffn_norm.weight", norm(N_EMBD))
    w.add_tensor("blk.0.ffn_gate.weight", mat(N_FF, N_EMBD))
    w.add_tensor("blk.0.ffn_up.weight", mat(N_FF, N_EMBD))
    w.add_tensor("blk.0.ffn_down.weight", mat(N_EMBD, N_FF))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
