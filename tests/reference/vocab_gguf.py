#!/usr/bin/env python3
"""Writes a GGUF that holds another GGUF's metadata and no tensors:

    vocab_gguf.py SRC OUT [--set KEY=VALUE ...]

Both tokenizers under test (resa's, and llama.cpp's with vocab_only) read
only the metadata, so the copy tokenizes exactly as SRC while resa can load
it even when SRC has tensor types or an architecture resa does not run yet.
--set replaces a string value (e.g. tokenizer.ggml.pre=llama-bpe), so one
real vocabulary can be tried under another pre-tokenizer.
"""
import argparse
import sys

import gguf


def copy_field(w, name, field, override):
    types = field.types
    if override is not None:
        w.add_string(name, override)
        return
    val = field.contents()
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
    args = ap.parse_args()
    sets = dict(s.split("=", 1) for s in args.set)
    r = gguf.GGUFReader(args.src)
    arch = r.fields["general.architecture"].contents()
    w = gguf.GGUFWriter(args.out, arch)
    for name, field in r.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture":
            continue
        copy_field(w, name, field, sets.pop(name, None))
    for name, value in sets.items():
        w.add_string(name, value)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
