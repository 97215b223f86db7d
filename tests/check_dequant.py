#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""resa's reference dequantizers against gguf's numpy ones (gguf.quants).

    check_dequant.py --driver tests/to_float_blocks [--blocks N] [--seed S]

For each weight type resa reads, writes N random blocks (random bytes, the
fp16 scale fields set to random finite values so that both sides compute
numbers, not NaNs), plus, where gguf can quantize the type, blocks made by
gguf.quants.quantize from random floats; dequantizes them with resa (the
driver) and with gguf.quants.dequantize and requires the same float32 bits.

Exit status: 0 all equal; 1 a difference; 77 (skip) when numpy or gguf
cannot be imported (99 with RESA_REQUIRE_REFERENCE=1); 99 on other errors.
"""

import argparse
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import gguf
    from gguf import quants
except ImportError as e:
    print("check_dequant: skip: %s" % e)
    sys.exit(99 if os.environ.get("RESA_REQUIRE_REFERENCE") == "1" else 77)

# resa's name -> (gguf type, byte offsets of fp16 scale fields in a block)
TYPES = {
    "q5_0": ("Q5_0", [0]),
    "q5_1": ("Q5_1", [0, 2]),
    "iq4_nl": ("IQ4_NL", [0]),
    "q2_k": ("Q2_K", [80, 82]),
    "q3_k": ("Q3_K", [108]),
    "q4_k": ("Q4_K", [0, 2]),
    "q5_k": ("Q5_K", [0, 2]),
    "q6_k": ("Q6_K", [208]),
    "iq4_xs": ("IQ4_XS", [0]),
}


def random_blocks(rng, qtype, fields, nblocks):
    _, type_size = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(nblocks, type_size), dtype=np.uint8)
    for off in fields:
        h = (rng.standard_normal(nblocks) * rng.choice([1e-3, 1.0, 100.0], nblocks)).astype(np.float16)
        raw[:, off:off + 2] = h.view(np.uint8).reshape(nblocks, 2)
    return raw


def resa_dequant(driver, name, raw, tmp):
    src, dst = os.path.join(tmp, "in.bin"), os.path.join(tmp, "out.bin")
    raw.tofile(src)
    subprocess.run([driver, name, src, dst], check=True)
    return np.fromfile(dst, dtype=np.float32)


def compare(label, ours, ref):
    ref = ref.astype(np.float32).reshape(-1)
    same = (ours.view(np.uint32) == ref.view(np.uint32)) | (np.isnan(ours) & np.isnan(ref))
    if same.all():
        print("ok - %s: %d values bit-identical" % (label, ours.size))
        return True
    i = int(np.argmin(same))
    print("not ok - %s: %d of %d values differ; first at %d: resa %r, gguf %r"
          % (label, int((~same).sum()), ours.size, i, float(ours[i]), float(ref[i])))
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--driver", required=True, help="tests/to_float_blocks")
    ap.add_argument("--blocks", type=int, default=512)
    ap.add_argument("--seed", type=int, default=int.from_bytes(os.urandom(4), "little"))
    args = ap.parse_args()
    print("check_dequant: seed %d (--seed to repeat)" % args.seed)
    rng = np.random.default_rng(args.seed)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for name, (gname, fields) in TYPES.items():
            qtype = gguf.GGMLQuantizationType[gname]
            block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
            raw = random_blocks(rng, qtype, fields, args.blocks)
            with np.errstate(all="ignore"):
                ref = quants.dequantize(raw, qtype)
            ok &= compare(name + " random blocks", resa_dequant(args.driver, name, raw, tmp), ref)
            try:
                x = (rng.standard_normal((4, block_size * 8)) * 0.05).astype(np.float32)
                q = quants.quantize(x, qtype)
            except NotImplementedError:
                continue  # gguf 0.19 quantizes only some types
            q = np.ascontiguousarray(q).view(np.uint8).reshape(-1, type_size)
            ok &= compare(name + " gguf-quantized", resa_dequant(args.driver, name, q, tmp),
                          quants.dequantize(q, qtype))
    print("check_dequant: %s" % ("all equal" if ok else "DIFFERENCES"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
