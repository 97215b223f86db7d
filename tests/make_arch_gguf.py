#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes a small random-weight GGUF of one architecture variant, for
comparing resa with llama.cpp where no real weights are at hand
(tests/test_archs.sh).

    make_arch_gguf.py TOKENIZER_GGUF VARIANT OUTPUT [--twin] [--seed S]

VARIANT:
  qwen3        qwen3: per-head RMSNorm of Q and K before RoPE (on halves), no
               Q/K/V biases, a head dimension of 128 from attention.key_length
               with 4 query heads on n_embd 256 (as Qwen3 0.6B: 16 x 128 on
               1024), 2 KV heads, 3 layers, rope base 1e6, epsilon 1e-6;
  qwen3-yarn   qwen3 with rope.scaling.type yarn, factor 4, over an original
               context of 256 (Qwen3's own: 32768, factor 4) so that the ramp
               between unscaled and scaled pairs falls inside a few hundred
               positions;
  llama-linear llama with rope.scaling.type linear, factor 4;
  llama-freqs  llama with Llama 3.1's per-pair frequency divisors in
               rope_freqs.weight (its formula: factor 8, low/high frequency
               factors 1 and 4, original context 512 instead of 8192 so that
               the smoothed band falls inside a few hundred positions), base
               5e5.
  gemma3       gemma3 as gemma3-linear without the scaling (tests/test_swa_ring.sh:
               the window-only KV cache of its windowed layers);
  gemma3-linear gemma3 with rope.scaling.type linear, factor 8 (as Gemma 3
               4B and up): 6 layers, of which layer 5 is global (scaled) and
               the others attend a window of 128 positions (never scaled);
               rope bases 1e6 (global) and 1e4 (windowed).
The llama and gemma3 variants: n_embd 256, 4 query / 2 KV heads of 64.

--twin writes the same file with the scaling undone (factor 1, divisors 1),
byte for byte the same size: a reference made on the real file must tell
the two apart, which shows that the comparison sees the scaling.

The tokenizer (GPT-2 byte-level BPE) is SmolLM2's, copied from
TOKENIZER_GGUF (the qwen3 file names its pre-tokenizer qwen2, as Qwen3's
files do). Weights are Q8_0 (both engines then quantize activations to Q8_0
alike), norms f32 near 1, the output matrix untied and spread so that top-1s
are rarely ties. Deterministic for a given seed.
"""

import argparse
import sys
import zlib

import numpy as np

import gguf
from gguf import quants

from gguf_tokenizer import copy_tokenizer

Q8_0 = gguf.GGMLQuantizationType.Q8_0
VARIANTS = {
    "qwen3": dict(arch="qwen3", n_layer=3, n_head=4, n_head_kv=2, head_dim=128, theta=1e6, eps=1e-6),
    "qwen3-yarn": dict(arch="qwen3", n_layer=3, n_head=4, n_head_kv=2, head_dim=128, theta=1e6, eps=1e-6,
                       yarn=4.0, orig_ctx=256),
    "llama-linear": dict(arch="llama", n_layer=2, n_head=4, n_head_kv=2, head_dim=64, theta=1e4,
                         eps=1e-5, linear=4.0),
    "llama-freqs": dict(arch="llama", n_layer=2, n_head=4, n_head_kv=2, head_dim=64, theta=5e5,
                        eps=1e-5, freqs=dict(factor=8.0, low=1.0, high=4.0, orig_ctx=512)),
    "gemma3": dict(arch="gemma3", n_layer=6, n_head=4, n_head_kv=2, head_dim=64, theta=1e6, eps=1e-6,
                   window=128),
    "gemma3-linear": dict(arch="gemma3", n_layer=6, n_head=4, n_head_kv=2, head_dim=64, theta=1e6,
                          eps=1e-6, linear=8.0, window=128),
}
N_EMBD, N_FF = 256, 512


def llama3_rope_freqs(base, dim, factor, low, high, orig_ctx):
    """Llama 3.1's rope_freqs (the divisor of each pair's frequency), by the
    formula of its reference code and of the GGUF converter."""
    freqs = 1.0 / base ** (np.arange(0, dim, 2, dtype=np.float64) / dim)
    low_wavelen, high_wavelen = orig_ctx / low, orig_ctx / high
    out = []
    for f in freqs:
        wavelen = 2 * np.pi / f
        if wavelen < high_wavelen:
            out.append(1.0)
        elif wavelen > low_wavelen:
            out.append(factor)
        else:
            smooth = (orig_ctx / wavelen - low) / (high - low)
            out.append(1.0 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)


def q8_weight(name, seed, rows, cols, std):
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    return quants.quantize((std * rng.standard_normal((rows, cols))).astype(np.float32), Q8_0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("tokenizer_gguf")
    ap.add_argument("variant", choices=sorted(VARIANTS))
    ap.add_argument("output")
    ap.add_argument("--twin", action="store_true", help="the same weights with the scaling undone")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    v = VARIANTS[args.variant]
    if args.twin and not {"linear", "yarn", "freqs"} & set(v):
        ap.error("--twin: %s has no RoPE scaling to undo" % args.variant)
    arch, head, n_head, n_kv = v["arch"], v["head_dim"], v["n_head"], v["n_head_kv"]

    src = gguf.GGUFReader(args.tokenizer_gguf)
    n_vocab = len(src.fields["tokenizer.ggml.tokens"].data)
    w = gguf.GGUFWriter(args.output, arch)
    w.add_name("resa random-weight %s, seed %d" % (args.variant, args.seed))  # the same in the twin
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    w.add_context_length(4096)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(v["n_layer"])
    w.add_feed_forward_length(N_FF)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    if head != N_EMBD // n_head:
        w.add_key_length(head)
        w.add_value_length(head)
    if arch == "llama":
        w.add_rope_dimension_count(head)
    if "window" in v:
        w.add_sliding_window(v["window"])
    w.add_rope_freq_base(v["theta"])
    w.add_layer_norm_rms_eps(v["eps"])
    if "linear" in v:
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(1.0 if args.twin else v["linear"])
    if "yarn" in v:
        w.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        w.add_rope_scaling_factor(1.0 if args.twin else v["yarn"])
        w.add_rope_scaling_orig_ctx_len(v["orig_ctx"])
    w.add_vocab_size(n_vocab)
    copy_tokenizer(w, src, pre="qwen2" if arch == "qwen3" else None)

    rng = np.random.default_rng(args.seed)
    norm = lambda n: (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)
    if "freqs" in v:
        f = llama3_rope_freqs(v["theta"], head, **v["freqs"])
        w.add_tensor("rope_freqs.weight", np.ones_like(f) if args.twin else f)
    # std: embeddings O(1) after RMSNorm (gemma3 scales them by sqrt(n_embd) first); projections keep activations O(1),
    # Q and K larger so that attention is peaked and positions (RoPE) matter;
    # the output matrix spreads logits over several nats
    w.add_tensor("token_embd.weight", q8_weight("token_embd", args.seed, n_vocab, N_EMBD, 1.0), raw_dtype=Q8_0)
    q_dim, kv_dim = n_head * head, n_kv * head
    for il in range(v["n_layer"]):
        p = "blk.%d." % il
        w.add_tensor(p + "attn_norm.weight", norm(N_EMBD))
        w.add_tensor(p + "ffn_norm.weight", norm(N_EMBD))
        if arch in ("qwen3", "gemma3"):
            # about 2: RMS-normed q and k of random directions would give
            # scores of spread 1 and near-uniform attention; real models'
            # attention is peaked, which the ReSA checks need to see
            w.add_tensor(p + "attn_q_norm.weight", 2 * norm(head))
            w.add_tensor(p + "attn_k_norm.weight", 2 * norm(head))
        if arch == "gemma3":
            w.add_tensor(p + "post_attention_norm.weight", norm(N_EMBD))
            w.add_tensor(p + "post_ffw_norm.weight", norm(N_EMBD))
        shapes = dict(attn_q=(q_dim, N_EMBD), attn_k=(kv_dim, N_EMBD), attn_v=(kv_dim, N_EMBD),
                      attn_output=(N_EMBD, q_dim), ffn_gate=(N_FF, N_EMBD), ffn_up=(N_FF, N_EMBD),
                      ffn_down=(N_EMBD, N_FF))
        for t, (rows, cols) in shapes.items():
            std = (2.0 if t in ("attn_q", "attn_k") else 1.0) / np.sqrt(cols)
            w.add_tensor(p + t + ".weight", q8_weight(p + t, args.seed, rows, cols, std), raw_dtype=Q8_0)
    w.add_tensor("output_norm.weight", norm(N_EMBD))
    w.add_tensor("output.weight", q8_weight("output", args.seed, n_vocab, N_EMBD, 0.25), raw_dtype=Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
