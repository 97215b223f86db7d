#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes a small random-weight llama GGUF whose weights use every quantized
type resa reads beyond Q4_0/Q4_1/Q8_0 (tests/test_kquants.sh).

    make_kquant_gguf.py TOKENIZER_GGUF OUTPUT [--seed S]

The tokenizer (a GPT-2 byte-level BPE) and the llama hyper-parameters that
are not shapes (rope base, RMS epsilon) are copied from TOKENIZER_GGUF (the
project's SmolLM2 file); the shapes are small: 2 layers, n_embd 256,
4 query heads and 2 KV heads of 64, n_ff 512. Layer 0 is a Q4_K_M mix
(Q4_K, Q6_K, and Q5_0 as in Gemma 3's attn_k), layer 1 the rest (Q2_K,
Q3_K, Q5_K, Q5_1, IQ4_NL, IQ4_XS); token_embd is Q4_K, output Q6_K.

Blocks are random bytes with the scales chosen so that each type's values
are centred on 0 (the mins of Q4_K/Q5_K/Q2_K about sc times the mean code,
Q5_1's m about -15.5 d), then every fp16 super-scale set so that the tensor
has the wanted standard deviation (measured with gguf's own dequantizer).
Nothing is quantized from real weights. Deterministic for a given seed.
"""

import argparse
import sys
import zlib

import numpy as np

import gguf
from gguf import quants

from gguf_tokenizer import copy_tokenizer

N_EMBD, N_LAYER, N_HEAD, N_HEAD_KV, N_FF = 256, 2, 4, 2, 512
Q = gguf.GGMLQuantizationType
LAYER_TYPES = [
    dict(attn_q=Q.Q4_K, attn_k=Q.Q5_0, attn_v=Q.Q6_K, attn_output=Q.Q4_K,
         ffn_gate=Q.Q4_K, ffn_up=Q.Q4_K, ffn_down=Q.Q6_K),
    dict(attn_q=Q.Q5_K, attn_k=Q.Q5_1, attn_v=Q.Q3_K, attn_output=Q.Q2_K,
         ffn_gate=Q.IQ4_XS, ffn_up=Q.IQ4_NL, ffn_down=Q.Q5_K),
]


def f16_bytes(v, n):
    return np.full(n, v, dtype=np.float16).view(np.uint8).reshape(n, 2)


def pack_k4_scales(sc, m):
    """Q4_K/Q5_K: 8 six-bit scales and mins per super-block -> 12 bytes."""
    n = sc.shape[0]
    s = np.zeros((n, 12), dtype=np.uint8)
    s[:, 0:4] = sc[:, 0:4] | ((sc[:, 4:8] >> 4) << 6)
    s[:, 4:8] = m[:, 0:4] | ((m[:, 4:8] >> 4) << 6)
    s[:, 8:12] = (sc[:, 4:8] & 0xF) | ((m[:, 4:8] & 0xF) << 4)
    return s


def blocks(rng, qtype, nblk, d):
    """nblk random blocks of qtype with super-scale(s) d."""
    _, size = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(nblk, size), dtype=np.uint8)
    if qtype in (Q.Q5_0, Q.IQ4_NL, Q.IQ4_XS):
        raw[:, 0:2] = f16_bytes(d, nblk)
    elif qtype == Q.Q5_1:
        raw[:, 0:2] = f16_bytes(d, nblk)
        raw[:, 2:4] = f16_bytes(-15.5 * d, nblk)
    elif qtype in (Q.Q4_K, Q.Q5_K):
        top = 8 if qtype == Q.Q4_K else 4
        mean_code = 7.5 if qtype == Q.Q4_K else 15.5
        sc = rng.integers(1, top + 1, size=(nblk, 8)).astype(np.uint8)
        m = np.clip(np.rint(sc * mean_code), 0, 63).astype(np.uint8)
        raw[:, 0:2] = f16_bytes(d, nblk)
        raw[:, 2:4] = f16_bytes(d, nblk)
        raw[:, 4:16] = pack_k4_scales(sc, m)
    elif qtype == Q.Q2_K:
        sc = rng.integers(1, 11, size=(nblk, 16)).astype(np.uint8)
        m = np.clip(np.rint(sc * 1.5), 0, 15).astype(np.uint8)
        raw[:, 0:16] = sc | (m << 4)
        raw[:, 80:82] = f16_bytes(d, nblk)
        raw[:, 82:84] = f16_bytes(d, nblk)
    elif qtype == Q.Q3_K:
        raw[:, 108:110] = f16_bytes(d, nblk)
    elif qtype == Q.Q6_K:
        raw[:, 192:208] = rng.integers(-64, 65, size=(nblk, 16)).astype(np.int8).view(np.uint8)
        raw[:, 208:210] = f16_bytes(d, nblk)
    else:
        raise ValueError(qtype)
    return raw


def weight(name, seed, qtype, rows, cols, std):
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    nblk = rows * cols // block
    gen = lambda: np.random.default_rng([seed, zlib.crc32(name.encode())])
    unit = quants.dequantize(blocks(gen(), qtype, nblk, 1.0), qtype)
    raw = blocks(gen(), qtype, nblk, std / float(np.std(unit)))
    return raw.reshape(rows, cols // block * size)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("tokenizer_gguf")
    ap.add_argument("output")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    src = gguf.GGUFReader(args.tokenizer_gguf)
    field = lambda k: src.fields[k].contents()
    n_vocab = len(src.fields["tokenizer.ggml.tokens"].data)
    w = gguf.GGUFWriter(args.output, "llama")
    w.add_name("resa random-weight llama, K-quant and Q5/IQ4 types, seed %d" % args.seed)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    w.add_context_length(2048)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD_KV)
    w.add_rope_dimension_count(N_EMBD // N_HEAD)
    w.add_rope_freq_base(field("llama.rope.freq_base"))
    w.add_layer_norm_rms_eps(field("llama.attention.layer_norm_rms_epsilon"))
    w.add_vocab_size(n_vocab)
    copy_tokenizer(w, src)

    rng = np.random.default_rng(args.seed)
    norm = lambda n: (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)
    head = N_EMBD // N_HEAD
    # std: embeddings O(1) after RMSNorm; projections keep activations O(1);
    # the output matrix spreads logits over several nats so top-1s are not ties
    w.add_tensor("token_embd.weight", weight("token_embd", args.seed, Q.Q4_K, n_vocab, N_EMBD, 1.0),
                 raw_dtype=Q.Q4_K)
    for il, types in enumerate(LAYER_TYPES):
        p = "blk.%d." % il
        shapes = dict(attn_q=(N_EMBD, N_EMBD), attn_k=(N_HEAD_KV * head, N_EMBD),
                      attn_v=(N_HEAD_KV * head, N_EMBD), attn_output=(N_EMBD, N_EMBD),
                      ffn_gate=(N_FF, N_EMBD), ffn_up=(N_FF, N_EMBD), ffn_down=(N_EMBD, N_FF))
        w.add_tensor(p + "attn_norm.weight", norm(N_EMBD))
        w.add_tensor(p + "ffn_norm.weight", norm(N_EMBD))
        for t, (rows, cols) in shapes.items():
            std = (0.25 if t in ("attn_q", "attn_k") else 1.0) / np.sqrt(cols)
            w.add_tensor(p + t + ".weight", weight(p + t, args.seed, types[t], rows, cols, std),
                         raw_dtype=types[t])
    w.add_tensor("output_norm.weight", norm(N_EMBD))
    w.add_tensor("output.weight", weight("output", args.seed, Q.Q6_K, n_vocab, N_EMBD, 0.25),
                 raw_dtype=Q.Q6_K)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
