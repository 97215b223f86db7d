#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes a random-weight GGUF in the shape of DeepSeek-R1-Distill-Qwen (qwen2 arch).

    make-qwen2-gguf.py OUTPUT [--type q4_0|q8_0] [--layers N] [--shape 1.5b|7b]
                       [--seed S] [--std 0.02]
    make-qwen2-gguf.py --self-test

For speed measurements at the paper's model size without downloading it:
every 2-D weight is drawn from N(0, std^2) and quantized here (Q4_0 or Q8_0,
the block layouts of ggml), norms are 1 + N(0, 0.1^2) and the Q/K/V biases
N(0, 0.5^2), all in f32. Activations stay finite: with std 0.02 a projection
of an RMS-normalized vector has entries of about 0.02 * sqrt(n_in) < 2; the
biases are of that size too, so that an engine that drops one visibly
changes the logits (check-qwen2-gguf.py).

Shapes (the real models'): 1.5b: 28 layers, n_embd 1536, 12 query heads,
2 KV heads, head dim 128, n_ff 8960, vocab 151936; 7b: 28 layers, n_embd
3584, 28 / 4 heads, head dim 128, n_ff 18944, vocab 152064. Both: rope theta
10000, RMS epsilon 1e-6, QKV biases, untied output matrix, trained context
131072. --layers N keeps the first N layers (decode and prefill cost per
layer is what a comparison needs; the output matrix keeps its real size).

The tokenizer is synthetic but real enough for both resa and llama.cpp: a
GPT-2 byte-level BPE ('gpt2' model, 'qwen2' pre-tokenizer) with the 256 byte
tokens, merges that spell about 500 common English words (with and without a
leading space) one letter at a time, the Qwen control tokens <|endoftext|>
(BOS, EOS), <|im_start|>, <|im_end|> at their Qwen ids, and filler tokens
"<tN>" (never produced by the merges) up to the full vocabulary size, so the
output matrix and the sampling cost are those of the real model.

Deterministic: each tensor's values come from its own generator seeded by
(--seed, tensor name), so the same arguments give the same file.

Needs numpy and the gguf package (both in the .venv that tools/setup.sh makes).
Exit status 0; 1 on errors.
"""

import argparse
import os
import sys
import time
import zlib

import numpy as np

try:
    import gguf
except ImportError as e:
    print("make-qwen2-gguf: the gguf package is not importable (%s); "
          "use the .venv of tools/setup.sh" % e, file=sys.stderr)
    sys.exit(1)

SHAPES = {
    "1.5b": dict(n_layer=28, n_embd=1536, n_head=12, n_head_kv=2, n_ff=8960, n_vocab=151936,
                 name="DeepSeek-R1-Distill-Qwen-1.5B"),
    "7b": dict(n_layer=28, n_embd=3584, n_head=28, n_head_kv=4, n_ff=18944, n_vocab=152064,
               name="DeepSeek-R1-Distill-Qwen-7B"),
}
ROPE_THETA = 10000.0
RMS_EPS = 1e-6
N_CTX_TRAIN = 131072
QK = 32  # values per Q4_0 / Q8_0 block

# Qwen2's control tokens and their ids in the real vocabulary.
SPECIALS = {151643: "<|endoftext|>", 151644: "<|im_start|>", 151645: "<|im_end|>"}
BOS_EOS = 151643

# Words the merges spell; includes every word of resa bench's fill text.
WORDS = """
the of and to a in is it you that he was for on are with as his they be at one have this
from or had by hot word but what some we can out other were all there when up use your how
said an each she which do their time if will way about many then them write would like so
these her long make thing see him two has look more day could go come did number sound no
most people my over know water than call first who may down side been now find any new work
part take get place made live where after back little only round man year came show every
good me give our under name very through just form sentence great think say help low line
differ turn cause much mean before move right boy old too same tell does set three want air
well also play small end put home read hand port large spell add even land here must big
high such follow act why ask men change went light kind off need house picture try us again
animal point mother world near build self earth father head stand own page should country
found answer school grow study still learn plant cover food sun four between state keep eye
never last let thought city tree cross farm hard start might story saw far sea draw left late
run while press close night real life few north open seem together next white children begin
got walk example ease paper group always music those both mark often letter until mile river
car feet care second book carry took science eat room friend began idea fish mountain stop
once base hear horse cut sure watch color face wood main enough plain girl usual young ready
above ever red list though feel talk bird soon body dog family direct pose leave song measure
door product black short numeral class wind question happen complete ship area half rock
order fire south problem piece told knew pass since top whole king space heard best hour
better true during hundred five remember step early hold west ground interest reach fast verb
sing listen six table travel less morning ten simple several vowel toward war lay against
pattern slow center love person money serve appear road map rain rule govern pull cold notice
voice unit power town fine certain fly fall lead cry dark machine note wait plan figure star
box noun field rest correct able pound done beauty drive stood contain front teach week final
gave green quick develop ocean warm free minute strong special mind behind clear tail produce
fact street inch multiply nothing course stay wheel full force blue object decide surface
deep moon island foot system busy test record boat common gold possible plane stead dry
wonder laugh thousand ago ran check game shape equate miss brought heat snow tire bring yes
distant fill east paint language among library open every week readers borrow ten books
time staff gladly help anyone find material need study work pleasure rare volumes stay
reading room The A In It This He She We They
""".split()


# ------------------------------------------------------------------ tokenizer ---

def byte_encoder():
    """GPT-2's reversible map from bytes to printable characters."""
    keep = (list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) +
            list(range(0xAE, 0xFF + 1)))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def make_vocab(n_vocab):
    """tokens, token types, merges of the synthetic byte-level BPE."""
    enc = byte_encoder()
    tokens = [enc[b] for b in range(256)]
    seen = set(tokens)
    # Merges that build each word by its prefixes, one letter at a time: first
    # every " word" (its pairs start with the space, so a lower rank than
    # any pair inside a word: a listed word after a space becomes one
    # token), then every bare word (sentence starts; fewer become one token).
    chains = []
    for variant in (0, 1):
        for w in dict.fromkeys(WORDS):
            text = enc[0x20] + w if variant == 0 else w
            chains += [(text[:k - 1], text[k - 1]) for k in range(2, len(text) + 1)]
    merges = []
    for left, right in chains:
        res = left + right
        if res in seen:
            continue
        seen.add(res)
        tokens.append(res)
        merges.append("%s %s" % (left, right))
    types = [1] * len(tokens)  # NORMAL
    while len(tokens) < n_vocab:
        i = len(tokens)
        if i in SPECIALS:
            tokens.append(SPECIALS[i])
            types.append(3)  # CONTROL
        else:
            tokens.append("<t%d>" % i)
            types.append(1)
    return tokens, types, merges


# ------------------------------------------------------------------- quantize ---

def quantize_q8_0(x):
    """ggml's block_q8_0 rows: per 32 values an f16 scale d = max|x| / 127,
    then 32 int8 round(x / d) (half away from zero, as roundf)."""
    rows, cols = x.shape
    b = x.reshape(rows, cols // QK, QK)
    d = np.abs(b).max(axis=2, keepdims=True) / 127.0
    inv = np.where(d == 0, 0, 1.0 / np.where(d == 0, 1, d)).astype(np.float32)
    v = b * inv
    q = (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int8)
    out = np.empty((rows, cols // QK, 2 + QK), dtype=np.uint8)
    out[:, :, :2] = d.astype("<f2").view(np.uint8)
    out[:, :, 2:] = q.view(np.uint8)
    return out.reshape(rows, -1)


def quantize_q4_0(x):
    """ggml's block_q4_0 rows: per 32 values an f16 scale d = m / -8 where m
    is the value of largest magnitude (first one on ties), then 16 bytes:
    byte j holds q[j] in its low nibble and q[j + 16] in its high nibble,
    q = min(15, trunc(x / d + 8.5)); the value is (q - 8) * d."""
    rows, cols = x.shape
    b = x.reshape(rows, cols // QK, QK)
    imax = np.abs(b).argmax(axis=2)[..., None]
    m = np.take_along_axis(b, imax, axis=2)
    d = (m / -8.0).astype(np.float32)
    inv = np.where(d == 0, 0, 1.0 / np.where(d == 0, 1, d)).astype(np.float32)
    q = np.minimum(15, np.trunc(b * inv + np.float32(8.5))).astype(np.uint8)
    out = np.empty((rows, cols // QK, 2 + QK // 2), dtype=np.uint8)
    out[:, :, :2] = d.astype("<f2").view(np.uint8)
    out[:, :, 2:] = q[:, :, :QK // 2] | (q[:, :, QK // 2:] << 4)
    return out.reshape(rows, -1)


QTYPES = {
    "q4_0": (gguf.GGMLQuantizationType.Q4_0, quantize_q4_0, 2 + QK // 2, 2),
    "q8_0": (gguf.GGMLQuantizationType.Q8_0, quantize_q8_0, 2 + QK, 7),
}  # name: (ggml type, quantizer, bytes per block, llama_ftype MOSTLY_*)


def rng_for(seed, name):
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def weight_rows(seed, name, rows, cols, std, quant, chunk_rows=2048):
    """The quantized rows of a random weight, made chunk by chunk (the
    151936 x 1536 output matrix would take ~1 GB as f32 at once)."""
    rng = rng_for(seed, name)
    for r0 in range(0, rows, chunk_rows):
        n = min(chunk_rows, rows - r0)
        x = rng.standard_normal((n, cols), dtype=np.float32) * np.float32(std)
        yield quant(x)


# ---------------------------------------------------------------------- model ---

def tensor_plan(hp, n_layer):
    """(name, rows, cols, kind) in file order; kind is 'w' (quantized
    weight), 'norm' or 'bias' (f32 vectors, cols unused)."""
    d, hd = hp["n_embd"], d_head(hp)
    q_dim, kv_dim = hp["n_head"] * hd, hp["n_head_kv"] * hd
    plan = [("token_embd.weight", hp["n_vocab"], d, "w")]
    for il in range(n_layer):
        p = "blk.%d." % il
        plan += [(p + "attn_norm.weight", d, 0, "norm"),
                 (p + "attn_q.weight", q_dim, d, "w"), (p + "attn_q.bias", q_dim, 0, "bias"),
                 (p + "attn_k.weight", kv_dim, d, "w"), (p + "attn_k.bias", kv_dim, 0, "bias"),
                 (p + "attn_v.weight", kv_dim, d, "w"), (p + "attn_v.bias", kv_dim, 0, "bias"),
                 (p + "attn_output.weight", d, q_dim, "w"),
                 (p + "ffn_norm.weight", d, 0, "norm"),
                 (p + "ffn_gate.weight", hp["n_ff"], d, "w"),
                 (p + "ffn_up.weight", hp["n_ff"], d, "w"),
                 (p + "ffn_down.weight", d, hp["n_ff"], "w")]
    plan += [("output_norm.weight", d, 0, "norm"), ("output.weight", hp["n_vocab"], d, "w")]
    return plan


def d_head(hp):
    return hp["n_embd"] // hp["n_head"]


BIAS_STD = 0.5


def vector(seed, name, n, kind):
    rng = rng_for(seed, name)
    scale = 0.1 if kind == "norm" else BIAS_STD
    return ((1.0 if kind == "norm" else 0.0) + scale * rng.standard_normal(n)).astype(np.float32)


def write_model(path, final, qname, n_layer, shape, seed, std, quiet=False):
    """Writes the model to path (renamed to final by the caller)."""
    hp = SHAPES[shape]
    qtype, quant, block_bytes, ftype = QTYPES[qname]
    t0 = time.time()
    w = gguf.GGUFWriter(path, "qwen2")
    w.add_name("resa random-weight qwen2, %s shape, %d of %d layers, %s, seed %d"
               % (hp["name"], n_layer, hp["n_layer"], qname.upper(), seed))
    w.add_file_type(ftype)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    w.add_context_length(N_CTX_TRAIN)
    w.add_embedding_length(hp["n_embd"])
    w.add_block_count(n_layer)
    w.add_feed_forward_length(hp["n_ff"])
    w.add_head_count(hp["n_head"])
    w.add_head_count_kv(hp["n_head_kv"])
    w.add_rope_freq_base(ROPE_THETA)
    w.add_layer_norm_rms_eps(RMS_EPS)
    tokens, types, merges = make_vocab(hp["n_vocab"])
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(BOS_EOS)
    w.add_eos_token_id(BOS_EOS)
    w.add_pad_token_id(BOS_EOS)
    w.add_add_bos_token(False)

    plan = tensor_plan(hp, n_layer)
    for name, rows, cols, kind in plan:
        if kind == "w":
            nbytes = rows * cols // QK * block_bytes
            w.add_tensor_info(name, (rows, cols // QK * block_bytes), np.dtype(np.uint8),
                              nbytes, raw_dtype=qtype)
        else:
            w.add_tensor_info(name, (rows,), np.dtype(np.float32), rows * 4)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for i, (name, rows, cols, kind) in enumerate(plan):
        if kind == "w":
            data = np.concatenate(list(weight_rows(seed, name, rows, cols, std, quant)))
        else:
            data = vector(seed, name, rows, kind)
        w.write_tensor_data(data)
        if not quiet and sys.stderr.isatty():
            print("\rmake-qwen2-gguf: %d/%d tensors" % (i + 1, len(plan)), end="",
                  file=sys.stderr, flush=True)
    w.close()
    if not quiet:
        print("\rmake-qwen2-gguf: wrote %s (%d layers, %s, %.0f MiB) in %.0f s"
              % (final, n_layer, qname.upper(), os.path.getsize(path) / 2**20, time.time() - t0),
              file=sys.stderr)


# ------------------------------------------------------------------ self-test ---

def self_test():
    """Our block layouts against the gguf package's independent dequantizer."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((7, 96), dtype=np.float32)
    x[0, :32] = 0.0                      # an all-zero block: d = 0
    x[1, 5] = -7.5                       # negative value of largest magnitude
    x[2, 40] = x[2, 41] = 3.0            # tie of the largest magnitude
    ok = True
    for qname, (qtype, quant, block_bytes, _) in QTYPES.items():
        q = quant(x)
        assert q.shape == (7, 96 // QK * block_bytes)
        y = gguf.quants.dequantize(q, qtype).reshape(x.shape)
        # Q8_0: error <= d/2 = max|x|/254 per block; Q4_0: <= |d| = max|x|/8
        # (q = 16 is clipped to 15 for values near -m), plus f16 rounding of d
        # (relative 2^-11 of the largest |q| * d).
        b = np.abs(x.reshape(7, -1, QK)).max(axis=2, keepdims=True)
        lim = b * (1 / 254 if qname == "q8_0" else 1 / 8) + b * 2**-10
        err = np.abs((y - x).reshape(7, -1, QK))
        worst = float((err / np.maximum(lim, 1e-30)).max())
        # ggml's reference rounds the same way: compare with gguf's quantizer.
        same = np.array_equal(q, gguf.quants.quantize(x, qtype))
        print("%s: max error %.3f of its bound, bytes %s gguf.quants" %
              (qname, worst, "equal to" if same else "DIFFER from"))
        ok &= worst <= 1.0 and same
    tokens, types, merges = make_vocab(SHAPES["1.5b"]["n_vocab"])
    assert len(tokens) == len(set(tokens)) == len(types) == 151936
    assert all(tokens[i] == s for i, s in SPECIALS.items())
    print("vocabulary: %d tokens, %d merges, unique" % (len(tokens), len(merges)))
    print("self-test %s" % ("passed" if ok else "FAILED"))
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("output", nargs="?")
    ap.add_argument("--type", choices=sorted(QTYPES), default="q4_0",
                    help="weight type of every matrix (default q4_0)")
    ap.add_argument("--layers", type=int, default=0,
                    help="layers to keep (default: all of the shape)")
    ap.add_argument("--shape", choices=sorted(SHAPES), default="1.5b")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--std", type=float, default=0.02, help="weight standard deviation")
    ap.add_argument("--self-test", action="store_true",
                    help="check the quantizers and the vocabulary, write nothing")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    if not args.output:
        ap.error("OUTPUT is required")
    n_layer = args.layers or SHAPES[args.shape]["n_layer"]
    if not 1 <= n_layer <= SHAPES[args.shape]["n_layer"]:
        ap.error("--layers must be in 1..%d" % SHAPES[args.shape]["n_layer"])
    tmp = args.output + ".tmp"
    try:
        write_model(tmp, args.output, args.type, n_layer, args.shape, args.seed, args.std,
                    args.quiet)
        os.replace(tmp, args.output)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
