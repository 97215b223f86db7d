#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes damaged copies of a real GGUF file, one per kind of bad input.

usage: bad_gguf.py MODEL OUTDIR

Each copy changes one thing (a field of the header, or the length); the
tensor data section is left as a sparse hole of the original size, so files
are cheap and everything but the changed field stays valid. Prints the names
of the files written. Standard library only: this parses the header itself.
"""
import os
import struct
import sys

SCALAR = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


class Header:
    def __init__(self, buf):
        self.buf = buf
        self.pos = 24
        self.n_tensors, self.n_kv = struct.unpack_from("<QQ", buf, 8)
        self.kv = {}  # key -> (offset of value type, offset of value)
        for _ in range(self.n_kv):
            key = self.string()
            tpos = self.pos
            vtype = self.u32()
            self.kv[key] = (tpos, self.pos)
            self.skip_value(vtype)
        self.tensors = []  # (name, offset of n_dims, offset of type, offset of offset)
        for _ in range(self.n_tensors):
            name = self.string()
            dpos = self.pos
            n_dims = self.u32()
            self.pos += 8 * n_dims
            tpos = self.pos
            self.pos += 4
            self.tensors.append((name, dpos, tpos, self.pos))
            self.pos += 8
        self.end = self.pos

    def u32(self):
        v = struct.unpack_from("<I", self.buf, self.pos)[0]
        self.pos += 4
        return v

    def u64(self):
        v = struct.unpack_from("<Q", self.buf, self.pos)[0]
        self.pos += 8
        return v

    def string(self):
        n = self.u64()
        s = self.buf[self.pos:self.pos + n].decode("utf-8", "replace")
        self.pos += n
        return s

    def skip_value(self, vtype):
        if vtype == 8:
            self.string()
        elif vtype == 9:
            etype, n = self.u32(), self.u64()
            for _ in range(n):
                self.skip_value(etype)
        else:
            self.pos += SCALAR[vtype]


def main():
    model, outdir = sys.argv[1], sys.argv[2]
    size = os.path.getsize(model)
    with open(model, "rb") as f:
        head = bytearray(f.read(64 << 20))
    h = Header(head)
    header = head[:h.end + 64]

    def write(name, data, length=size):
        path = os.path.join(outdir, name)
        with open(path, "wb") as f:
            f.write(data)
            f.truncate(length)
        print(path)

    def patched(offset, fmt, value):
        b = bytearray(header)
        struct.pack_into(fmt, b, offset, value)
        return b

    write("bad_magic.gguf", b"GGUX" + header[4:])
    write("bad_version.gguf", patched(4, "<I", 7))
    write("truncated_header.gguf", header[:h.end // 2], h.end // 2)
    write("truncated_data.gguf", header, size - 4096)
    write("huge_n_tensors.gguf", patched(8, "<Q", 1 << 60))
    write("huge_n_kv.gguf", patched(16, "<Q", 1 << 60))
    arch_type, arch_val = h.kv["general.architecture"]
    b = bytearray(header)
    b[arch_val + 8:arch_val + 13] = b"gpt9x"  # "llama" -> "gpt9x", same length
    write("unknown_arch.gguf", b)
    name, dpos, tpos, opos = h.tensors[1]
    write("unknown_type.gguf", patched(tpos, "<I", 77))
    write("offset_past_end.gguf", patched(opos, "<Q", size * 2 // 32 * 32))
    write("too_many_dims.gguf", patched(dpos, "<I", 9))
    write("huge_dim.gguf", patched(dpos + 4, "<Q", 1 << 62))
    write("huge_string.gguf", patched(24, "<Q", 1 << 62))  # first key's length
    write("bad_value_type.gguf", patched(h.kv["general.architecture"][0], "<I", 99))


if __name__ == "__main__":
    main()
