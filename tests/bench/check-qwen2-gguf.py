#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks a qwen2 GGUF (e.g. from make-qwen2-gguf.py) three ways: a float64
NumPy forward pass of the dequantized weights, llama.cpp, and resa (llama
GGUFs work too: RoPE on adjacent pairs, biases only where the file has them).

    check-qwen2-gguf.py MODEL --dump-logits PATH [--tokens N] [--threads T]

The reference is written from the qwen2 definition (RMSNorm, Q/K/V with
biases, RoPE on halves (NeoX), causal GQA softmax attention, SwiGLU FFN,
untied or tied output), independently of both engines. The same N token
ids (seeded, below the control tokens) go through all three, teacher-forced;
for the logits of every position it reports, for llama.cpp and for resa
(tests/dump_logits, built by `make tests/dump_logits`), the RMS and the
largest difference from the reference relative to the reference's standard
deviation, and the top-1 agreement.

Both engines keep activations and the KV cache in lower precision (llama.cpp
quantizes activations for its dot products, both store K/V as f16), so they
differ from the float64 reference by a few percent of the logits' spread; a
wrong generator (block layout, tensor orientation, metadata) or a wrong
qwen2 path (RoPE style, biases, GQA grouping) gives much more. Passes when
both RMS differences are under --max-rel (default 0.05) of the reference's
standard deviation. Measured on the 4-layer Q4_0 and Q8_0 models of
make-qwen2-gguf.py: 0.016 for both engines; with the reference changed to
drop the K bias 0.1, the Q or V bias 0.2, RoPE on adjacent pairs or GQA
groups taken round-robin 0.8. A trained model amplifies rounding more:
SmolLM2-135M Q4_1 (30 layers) gives 0.08 for llama.cpp and 0.075 for resa;
use --max-rel 0.15 there.

Exit status 0 pass, 1 fail or error, 77 when llama_cpp cannot be imported.
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

try:
    import gguf
    import llama_cpp as lc
except ImportError as e:
    print("check-qwen2-gguf: SKIP: %s" % e)
    sys.exit(77)


class Weights:
    """Dequantized tensors of a GGUF, on demand."""

    def __init__(self, path):
        self.r = gguf.GGUFReader(path)
        self.t = {t.name: t for t in self.r.tensors}

    def kv(self, key, default=None):
        f = self.r.fields.get(key)
        return default if f is None else f.parts[f.data[0]][0]

    def kv_str(self, key):
        f = self.r.fields[key]
        return bytes(f.parts[f.data[0]]).decode("utf-8")

    def has(self, name):
        return name in self.t

    def get(self, name, rows=None):
        """As float64, numpy shape (rows, cols) or (n,); rows: a subset."""
        t = self.t[name]
        data = t.data if rows is None else t.data[rows]
        x = gguf.quants.dequantize(np.asarray(data), t.tensor_type)
        shape = [int(s) for s in reversed(t.shape)]
        if rows is not None:
            shape[0] = len(rows)
        return np.asarray(x, dtype=np.float64).reshape(shape)


def rmsnorm(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def rope(t, theta, neox):
    """t: (n, heads, hd); rotates pair i by pos * theta^(-2i/hd); the pairs
    are (t[i], t[i + hd/2]) for qwen2 (NeoX), (t[2i], t[2i+1]) for llama."""
    n, _, hd = t.shape
    ang = np.arange(n)[:, None] * theta ** (-np.arange(0, hd, 2) / hd)[None, :]
    c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    if neox:
        a, b = t[..., :hd // 2], t[..., hd // 2:]
        return np.concatenate([a * c - b * s, a * s + b * c], -1)
    a, b = t[..., 0::2], t[..., 1::2]
    out = np.empty_like(t)
    out[..., 0::2], out[..., 1::2] = a * c - b * s, a * s + b * c
    return out


def attention(q, k, v):
    """Causal softmax attention; query head h reads KV head h // (Hq / Hkv)."""
    n, hq, hd = q.shape
    group = hq // k.shape[1]
    mask = np.tril(np.ones((n, n), dtype=bool))
    out = np.empty_like(q)
    for h in range(hq):
        s = q[:, h] @ k[:, h // group].T / np.sqrt(hd)
        s = np.where(mask, s, -np.inf)
        p = np.exp(s - s.max(-1, keepdims=True))
        out[:, h] = (p / p.sum(-1, keepdims=True)) @ v[:, h // group]
    return out.reshape(n, -1)


def project(w, name, h, n, heads, hd):
    """h @ W.T (+ bias when the file has one), as (n, heads, hd)."""
    y = h @ w.get(name + ".weight").T
    if w.has(name + ".bias"):
        y = y + w.get(name + ".bias")
    return y.reshape(n, heads, hd)


def reference_logits(path, ids):
    w = Weights(path)
    arch = w.kv_str("general.architecture")
    if arch not in ("qwen2", "llama"):
        raise SystemExit("check-qwen2-gguf: architecture %s: only qwen2 and llama" % arch)
    neox = arch == "qwen2"
    n_layer = int(w.kv(arch + ".block_count"))
    hq = int(w.kv(arch + ".attention.head_count"))
    hkv = int(w.kv(arch + ".attention.head_count_kv", hq))
    eps = float(w.kv(arch + ".attention.layer_norm_rms_epsilon"))
    theta = float(w.kv(arch + ".rope.freq_base", 10000.0))
    x = w.get("token_embd.weight", rows=ids)
    n, d = x.shape
    hd = d // hq
    for il in range(n_layer):
        p = "blk.%d." % il
        h = rmsnorm(x, w.get(p + "attn_norm.weight"), eps)
        q = rope(project(w, p + "attn_q", h, n, hq, hd), theta, neox)
        k = rope(project(w, p + "attn_k", h, n, hkv, hd), theta, neox)
        v = project(w, p + "attn_v", h, n, hkv, hd)
        x = x + attention(q, k, v) @ w.get(p + "attn_output.weight").T
        h = rmsnorm(x, w.get(p + "ffn_norm.weight"), eps)
        g, u = h @ w.get(p + "ffn_gate.weight").T, h @ w.get(p + "ffn_up.weight").T
        x = x + (g / (1 + np.exp(-g)) * u) @ w.get(p + "ffn_down.weight").T
    h = rmsnorm(x, w.get("output_norm.weight"), eps)
    out_name = "output.weight" if w.has("output.weight") else "token_embd.weight"
    n_vocab = int(w.t[out_name].shape[1])
    logits = np.empty((n, n_vocab))
    for r0 in range(0, n_vocab, 16384):  # the output matrix in slices (~1 GB as float64)
        rows = list(range(r0, min(n_vocab, r0 + 16384)))
        logits[:, r0:r0 + len(rows)] = h @ w.get(out_name, rows=rows).T
    return logits


def llama_logits(path, ids, threads):
    quiet = lc.llama_log_callback(lambda level, text, user: None)
    lc.llama_log_set(quiet, None)
    lc.llama_backend_init()
    model = lc.llama_model_load_from_file(path.encode(), lc.llama_model_default_params())
    if not model:
        raise RuntimeError("llama.cpp cannot load %s" % path)
    n_vocab = lc.llama_vocab_n_tokens(lc.llama_model_get_vocab(model))
    cp = lc.llama_context_default_params()
    cp.n_ctx = cp.n_batch = cp.n_ubatch = (len(ids) + 255) // 256 * 256
    cp.n_threads = cp.n_threads_batch = threads
    cp.flash_attn_type = lc.LLAMA_FLASH_ATTN_TYPE_ENABLED
    cp.type_k = cp.type_v = lc.GGML_TYPE_F16
    ctx = lc.llama_init_from_model(model, cp)
    b = lc.llama_batch_init(len(ids), 0, 1)
    for i, t in enumerate(ids):
        b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = t, i, 1, 1
        b.seq_id[i][0] = 0
    b.n_tokens = len(ids)
    if lc.llama_decode(ctx, b) != 0:
        raise RuntimeError("llama_decode failed")
    out = np.stack([np.ctypeslib.as_array(lc.llama_get_logits_ith(ctx, i), shape=(n_vocab,))
                    for i in range(len(ids))]).astype(np.float64)
    lc.llama_batch_free(b)
    lc.llama_free(ctx)
    lc.llama_model_free(model)
    return out


def resa_logits(dump, path, ids, threads):
    with tempfile.TemporaryDirectory(prefix="resa-check-") as tmp:
        tp, lp = os.path.join(tmp, "ids"), os.path.join(tmp, "logits")
        with open(tp, "w") as f:
            f.write(" ".join(map(str, ids)))
        subprocess.run([dump, path, tp, lp, "-t", str(threads)], check=True)
        return np.fromfile(lp, dtype=np.float32).reshape(len(ids), -1).astype(np.float64)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--dump-logits", required=True, help="resa's tests/dump_logits")
    ap.add_argument("--tokens", type=int, default=96, help="positions (teacher-forced)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-rel", type=float, default=0.05)
    args = ap.parse_args()
    n_ctrl = 151643  # ids below Qwen's control tokens (also fine for smaller vocabularies)
    rng = np.random.default_rng(args.seed)
    w_vocab = len(gguf.GGUFReader(args.model).fields["tokenizer.ggml.tokens"].data)
    ids = [int(t) for t in rng.integers(0, min(n_ctrl, w_vocab), args.tokens)]
    ref = reference_logits(args.model, ids)
    scale = ref.std()
    ok = True
    got = {"llama.cpp": llama_logits(args.model, ids, args.threads),
           "resa": resa_logits(args.dump_logits, args.model, ids, args.threads)}
    for name, y in got.items():
        d = y - ref
        rms, mx = np.sqrt((d * d).mean()) / scale, np.abs(d).max() / scale
        agree = (y.argmax(1) == ref.argmax(1)).mean() * 100
        print("%-9s vs float64 reference: RMS diff %.4f, max diff %.4f of the logits' std "
              "(%.3f), top-1 %.0f%% of %d positions" % (name, rms, mx, scale, agree, len(ids)))
        ok &= bool(rms <= args.max_rel)
    d = got["resa"] - got["llama.cpp"]
    print("resa vs llama.cpp: RMS diff %.4f, max diff %.4f of the logits' std"
          % (np.sqrt((d * d).mean()) / scale, np.abs(d).max() / scale))
    print("check-qwen2-gguf: %s" % ("pass" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
