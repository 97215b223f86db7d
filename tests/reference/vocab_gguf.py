#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes a GGUF that holds another GGUF's metadata and no tensors:

    vocab_gguf.py SRC OUT [--set KEY=VALUE ...]

Both tokenizers under test (resa's, and llama.cpp's with vocab_only) read
only the metadata, so the copy tokenizes exactly as SRC while resa can load
it even when SRC has tensor types or an architecture resa does not run yet.
--set replaces a string value (e.g. tokenizer.ggml.pre=llama-bpe), so one
real vocabulary can be tried under another pre-tokenizer. --add-control
appends a control token (e.g. Llama 3's <|eot_id|>), so a chat template's
tokens exist in a vocabulary that lacks them.
"""
import argparse
import sys

import gguf


CONTROL = 3  # llama.cpp's LLAMA_TOKEN_TYPE_CONTROL


def extended(name, val, extra):
    """The vocabulary arrays with the extra control tokens at the end."""
    if name == "tokenizer.ggml.tokens":
        return val + extra
    if name == "tokenizer.ggml.token_type":
        return val + [CONTROL] * len(extra)
    if name == "tokenizer.ggml.scores":
        return val + [0.0] * len(extra)
    return val


def copy_field(w, name, field, override, extra):
    types = field.types
    if override is not None:
        w.add_string(name, override)
        return
    val = extended(name, field.contents(), extra)
    vtype = types[0]
    if vtype == gguf.GGUFValueType.ARRAY:
        sub = types[-1] if len(types) > 1 else gguf.GGUFValueType.STRING
        w.add_key_value(name, val, vtype, sub_type=sub)
    else:
        w.add_key_value(name, val, vtype)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--add-control", action="append", default=[])
    args = ap.parse_args()
    sets = dict(s.split("=", 1) for s in args.set)
    r = gguf.GGUFReader(args.src)
    arch = r.fields["general.architecture"].contents()
    w = gguf.GGUFWriter(args.out, arch)
    for name, field in r.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture":
            continue
        copy_field(w, name, field, sets.pop(name, None), args.add_control)
    for name, value in sets.items():
        w.add_string(name, value)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
