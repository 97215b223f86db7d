#!/bin/sh
# SPDX-License-Identifier: MIT
# resa info describes any GGUF (docs/design.md §5): a tensor of every type
# gguf-py knows, sized as gguf-py sizes it (bytes and type name per tensor),
# marked supported exactly for the types resa computes with; an unknown
# architecture; described on stdout with "runs: no" and the reason, the
# reason also one line on stderr, exit 1; generate refuses the same files in
# one line; a file that is no GGUF fails without a description.
. "${top_srcdir:-$(dirname "$0")/..}/tests/common.sh"
"$PYTHON" -c "import gguf, numpy" 2>/dev/null || need "python gguf/numpy not found (PYTHON=$PYTHON)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PYTHON" - "$tmp" <<'PY' || { fail "writing the test files"; finish; exit 1; }
import sys, numpy as np, gguf
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType as T
d = sys.argv[1]
rng = np.random.default_rng(1)
w = gguf.GGUFWriter(d + "/all-types.gguf", "llama")
w.add_name("every \x1b[31mtype")
for t, (blk, size) in sorted(GGML_QUANT_SIZES.items(), key=lambda kv: kv[0].value):
    cols = blk * 2
    data = rng.integers(0, 256, size=(3, cols // blk * size), dtype=np.uint8)
    w.add_tensor("t.%s" % t.name, data, raw_dtype=t)
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
w = gguf.GGUFWriter(d + "/mamba.gguf", "mamba")
w.add_tensor("token_embd.weight", np.zeros((8, 32), dtype=np.float32))
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
# the reference: gguf-py's reading of the file
r = gguf.GGUFReader(d + "/all-types.gguf")
with open(d + "/expect.txt", "w") as f:
    for t in r.tensors:
        n = t.n_bytes
        if T(t.tensor_type) == T.Q8_1:
            # gguf-py 0.19.0 sizes Q8_1 blocks as 4 + 4 + 32 bytes; ggml's header
            # asserts 2 * sizeof(ggml_half) + 32 (and llama.cpp's own gguf-py now
            # says 2 + 2 + 32): the format's owner wins
            n = t.n_elements // 32 * 36
        f.write("%s %s %d\n" % (t.name, T(t.tensor_type).name, n))
PY
supported="F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K Q4_K Q5_K Q6_K IQ4_NL IQ4_XS"
"$RESA" info --json "$tmp/all-types.gguf" >"$tmp/info.json" 2>"$tmp/err"
rc=$?
if [ $rc -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "^resa: .*which resa does not support" "$tmp/err"; then
    pass "resa info on a file with every ggml type: exit 1, the reason in one stderr line"
else
    fail "resa info on a file with every ggml type: exit $rc, stderr: $(cat "$tmp/err")"
fi
"$PYTHON" - "$tmp" "$supported" >"$tmp/py.out" 2>&1 <<'PY'
import json, sys
d, supported = sys.argv[1], set(sys.argv[2].split())
info = json.load(open(d + "/info.json"))
got = {t["name"]: t for t in info["tensors"]}
bad = []
for line in open(d + "/expect.txt"):
    name, typ, n = line.split()
    g = got.get(name)
    if not g or g["type"] != typ or g["bytes"] != int(n) or g["supported"] != (typ in supported):
        bad.append("%s: gguf-py %s %s bytes, resa %s" % (name, typ, n, g))
print(("ok - " if not bad and len(got) == len(info["tensors"]) else "not ok - ") +
      "%d tensors: type name, byte size (gguf-py's) and supported flag agree%s" % (len(got), "; " + "; ".join(bad[:4]) if bad else ""))
ok = info["runs"] is False and "which resa does not support" in info["reason"] and "\x1b" not in json.dumps(info)
print(("ok - " if ok else "not ok - ") + "runs false with the reason; the name's ESC escaped: %r" % info["name"])
PY
cat "$tmp/py.out"
n_pass=$((n_pass + $(grep -c '^ok - ' "$tmp/py.out")))
n_fail=$((n_fail + $(grep -c '^not ok - ' "$tmp/py.out")))
grep -q '^ok - ' "$tmp/py.out" || fail "the JSON checks did not run"
text=$("$RESA" info "$tmp/mamba.gguf" 2>/dev/null)
[ $? -eq 1 ] && pass "resa info on an unknown architecture describes it, exit 1" ||
    fail "resa info on an unknown architecture: not exit 1"
case $text in *"runs:            no: "*"unknown architecture 'mamba'"*) pass "it says why: $(printf '%s' "$text" | tail -1)" ;;
    *) fail "no reason in: $text" ;; esac
for f in all-types mamba; do
    err=$("$RESA" generate -m "$tmp/$f.gguf" -p hi -n 1 2>&1 >/dev/null)
    if [ $? -ne 0 ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ]; then
        pass "generate refuses $f.gguf in one line: $err"
    else
        fail "generate on $f.gguf: '$err'"
    fi
done
printf 'not a gguf' >"$tmp/junk.gguf"
out=$("$RESA" info "$tmp/junk.gguf" 2>/dev/null)
[ $? -eq 1 ] && [ -z "$out" ] && pass "resa info on a file that is no GGUF: exit 1, nothing described" ||
    fail "resa info on a file that is no GGUF: '$out'"
if [ -f "$MODEL" ]; then
    "$RESA" info "$MODEL" | grep -q "^runs: *yes" && pass "a model resa runs: runs: yes" || fail "runs: yes missing"
fi
finish
