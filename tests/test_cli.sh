#!/bin/sh
# SPDX-License-Identifier: MIT
# The command line: bad input of every kind gets one line on stderr that
# starts with "resa:", and a non-zero exit that is not a signal; good input works.
. "${top_srcdir:-$(dirname "$0")/..}/tests/common.sh"

[ -f "$MODEL" ] || need "model $MODEL not found (run models/fetch)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# expect_error NAME PATTERN CMD...: exit 1..127, one stderr line matching PATTERN
expect_error() {
    name=$1 pattern=$2
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    lines=$(wc -l <"$tmp/err")
    if [ "$rc" -ge 1 ] && [ "$rc" -lt 128 ] && [ "$lines" -eq 1 ] &&
        grep -q "^resa: .*$pattern" "$tmp/err"; then
        pass "$name: $(cat "$tmp/err")"
    else
        fail "$name: exit $rc, $lines stderr lines: $(head -c 300 "$tmp/err")"
    fi
}

expect_error "missing model file" "no-such.gguf" "$RESA" info "$tmp/no-such.gguf"
printf 'this is not a model\n' >"$tmp/text.gguf"
expect_error "not a GGUF file" "text.gguf" "$RESA" info "$tmp/text.gguf"
: >"$tmp/empty.gguf"
expect_error "empty file" "empty.gguf" "$RESA" info "$tmp/empty.gguf"

"$PYTHON" "$top_srcdir/tests/bad_gguf.py" "$MODEL" "$tmp" >"$tmp/list" || fail "bad_gguf.py failed"
while read -r f; do
    expect_error "$(basename "$f" .gguf)" "$(basename "$f")" "$RESA" info "$f"
done <"$tmp/list"
expect_error "unknown architecture is named" "gpt9x" "$RESA" info "$tmp/unknown_arch.gguf"

M="-m $MODEL"
expect_error "no prompt" "-p" "$RESA" generate $M
expect_error "both -p and -f" "-p" "$RESA" generate $M -p hi -f /dev/null
expect_error "bad -n" "-n" "$RESA" generate $M -p hi -n -5
expect_error "bad --temp" "--temp" "$RESA" generate $M -p hi --temp abc
expect_error "bad --top-p" "--top-p" "$RESA" generate $M -p hi --top-p 1.5
expect_error "bad -t" "-t" "$RESA" generate $M -p hi -t 0
expect_error "bad --kv-type" "kv-type" "$RESA" generate $M -p hi --kv-type q8
expect_error "missing value" "needs a value" "$RESA" generate $M -p
expect_error "unknown option" "--frobnicate" "$RESA" generate $M -p hi --frobnicate
expect_error "unknown command" "frob" "$RESA" frob
expect_error "missing prompt file" "nope.txt" "$RESA" generate $M -f "$tmp/nope.txt"
expect_error "prompt longer than the context" "context holds 16" \
    "$RESA" generate $M -c 16 -p "$(seq 1 100 | tr '\n' ' ')"
expect_error "empty prompt" "empty" "$RESA" generate $M -p ""
expect_error "unknown mode" "--mode" "$RESA" generate $M -p hi --mode fast
expect_error "resa mode without rectification" "rect-every 0" "$RESA" generate $M -p hi --rect-every 0
expect_error "sparse mode with a rectification period" "never rectifies" \
    "$RESA" generate $M -p hi --mode sparse --rect-every 8
expect_error "no local block" "--local-blocks" "$RESA" generate $M -p hi --local-blocks 0
expect_error "sparse ratio 0" "--sparse-ratio" "$RESA" generate $M -p hi --sparse-ratio 0
expect_error "block size 0" "--block-size" "$RESA" generate $M -p hi --block-size 0
expect_error "unknown CPU tier" "bogus" "$RESA" cpu --cpu bogus
expect_error "unknown CPU tier for generate" "bogus" "$RESA" generate $M -p hi --cpu bogus
if "$RESA" cpu | grep -q "^tier: "; then pass "resa cpu reports the tier"; else fail "resa cpu"; fi
expect_error "bad bench depth" "--depth" "$RESA" bench $M --depth 12,x
expect_error "bad bench mode" "--mode" "$RESA" bench $M --mode dense,fast
if "$RESA" bench $M --depth 40,600 -n 3 -t 2 --block-size 4 --min-blocks 2 --rect-every 2 --json |
    "$PYTHON" -c '
import json, sys
rows = json.load(sys.stdin)["results"]
assert len(rows) == 6, rows
for r in rows:
    assert r["mode"] in ("dense", "sparse", "resa") and r["depth"] in (40, 600), r
    assert r["prefill_tok_s"] > 0 and r["decode_tok_s"] > 0, r
    assert r["rectifications"] == (1 if r["mode"] == "resa" else 0), r
assert [r["cache_fill"] for r in rows if r["depth"] == 600][0].startswith("repeated"), rows
'; then
    pass "bench --json: a row per mode and depth, rectifications counted"
else
    fail "bench --json"
fi
# Depth 0 (compare-llamacpp's shallow decode cell, llama-bench's tg at d0):
# a one-token prompt, then the timed steps, in every mode.
if "$RESA" bench $M --depth 0 -n 4 -t 2 --block-size 4 --min-blocks 2 --rect-every 2 --mode dense,resa --json |
    "$PYTHON" -c '
import json, sys
rows = json.load(sys.stdin)["results"]
assert [(r["mode"], r["depth"], r["parallel"]) for r in rows] == [("dense", 0, 1), ("resa", 0, 1)], rows
for r in rows:
    assert r["steps"] == 4 and r["decode_tok_s"] > 0 and r["prefill_tok_s"] > 0, r
    assert r["cache_fill"] == "real prefill", r
'; then
    pass "bench --depth 0: decode from a one-token prompt, a row per mode"
else
    fail "bench --depth 0"
fi
expect_error "bad bench parallel" "--parallel" "$RESA" bench $M --parallel 0,2
expect_error "bench --parallel with --generate" "--parallel" "$RESA" bench $M --parallel 2 --generate 8
if "$RESA" bench $M --depth 0,40 --parallel 1,3 -n 4 -t 2 --block-size 4 --min-blocks 2 --rect-every 2 \
    --mode dense,resa --json | "$PYTHON" -c '
import json, sys
rows = json.load(sys.stdin)["results"]
assert len(rows) == 8, rows
for r in rows:
    assert r["parallel"] in (1, 3) and r["depth"] in (0, 40) and r["mode"] in ("dense", "resa"), r
    assert r["decode_tok_s"] > 0 and r["steps"] == 4, r
    # 4 steps at period 2: each sequence rectifies once (the second is due
    # at its next step, which never comes)
    assert r["rectifications"] == (r["parallel"] if r["mode"] == "resa" and r["depth"] else 0), r
'; then
    pass "bench --parallel --json: a row per mode, depth and batch, depth 0 accepted"
else
    fail "bench --parallel --json"
fi

# resa eval: bad input, then tiny real runs on real prose (Debian's Python
# tutorial when installed, else this package's own sources).
TEXT=$(ls /usr/share/doc/python3.11/html/_sources/tutorial/*.rst.txt 2>/dev/null)
[ -n "$TEXT" ] || TEXT="$top_srcdir/README.md $top_srcdir/man/resa.1 $top_srcdir/src/api.c $top_srcdir/src/forward.c"
printf 'A short text.\n' >"$tmp/short.txt"
: >"$tmp/empty.txt"
expect_error "eval without text" "--text" "$RESA" eval $M
expect_error "eval: missing text file" "nope.txt" "$RESA" eval $M --text "$tmp/nope.txt"
expect_error "eval: empty text file" "empty.txt" "$RESA" eval $M --text "$tmp/empty.txt"
expect_error "eval: text shorter than a window" "needs 257" "$RESA" eval $M --text "$tmp/short.txt" --length 256 --x 64
expect_error "eval: window past the trained context" "trained context" "$RESA" eval $M --text $TEXT --length 9000 --x 64
expect_error "eval: x not below the window" "--x 256" "$RESA" eval $M --text $TEXT --length 256 --x 256
expect_error "eval: x below the scored positions" "--x 8" "$RESA" eval $M --text $TEXT --length 256 --x 8
expect_error "eval: bad x list" "--x" "$RESA" eval $M --text $TEXT --x 64,,x
expect_error "eval: repeated x" "--x" "$RESA" eval $M --text $TEXT --x 64,64
expect_error "eval: bad mode" "--modes" "$RESA" eval $M --text $TEXT --modes dense,fast
expect_error "eval: bad passkey length" "--lengths" "$RESA" eval $M --text $TEXT --passkey --lengths 1Q
expect_error "eval: passkey tail longer than the prompt" "passkey-tail" \
    "$RESA" eval $M --text $TEXT --passkey --lengths 100 --passkey-tail 96
expect_error "eval: passkey past the trained context" "trained context" \
    "$RESA" eval $M --text $TEXT --passkey --lengths 16K
expect_error "eval: a rectification period without resa" "never rectify" \
    "$RESA" eval $M --text $TEXT --modes sparse --rect-every 8

# Small budgets (2 blocks of 16) so sparse steps skip blocks. The prefixes
# (256-70, 256-40) end inside a block, where truncation must rebuild a summary.
EV="--length 256 --x 40,70 --windows 1 --min-blocks 2 -t 1"
PK="--passkey --lengths 1K --trials 1 --passkey-tail 40"
if "$RESA" eval $M --text $TEXT $EV --rect-every 16 --lm $PK --json >"$tmp/eval.json" 2>"$tmp/err" &&
    "$RESA" eval $M --text $TEXT $EV --modes sparse --json >"$tmp/sparse.json" 2>>"$tmp/err" &&
    "$RESA" eval $M --text $TEXT $EV --rect-every 16 --modes resa --json >"$tmp/resa.json" 2>>"$tmp/err" &&
    "$RESA" eval $M --text $TEXT $EV --rect-every 16 --lm $PK --sparse-ratio 1 --json >"$tmp/full.json" 2>>"$tmp/err"; then
    if "$PYTHON" - "$tmp/eval.json" "$tmp/sparse.json" "$tmp/resa.json" "$tmp/full.json" <<'PY'
import json, sys
ev, sp, rs, full = (json.load(open(p)) for p in sys.argv[1:5])
for k in ("model", "text_tokens", "params", "lm", "passkey", "elapsed_s"):
    assert k in ev, k
lm = ev["lm"]["rows"]
assert sorted((r["mode"], r["x"]) for r in lm) == sorted(
    (m, x) for m in ("dense", "sparse", "resa") for x in (40, 70)), lm
for r in lm:
    assert r["positions"] == 32 and 0 <= r["top1"] <= r["top3"] <= 1 and r["nll"] > 0, r
    assert r["rectifications"] == (r["x"] // 16 if r["mode"] == "resa" else 0), r
    assert (r["kl"] == 0) == (r["mode"] == "dense") and r["kl"] > -1e-9, r
pk = ev["passkey"]["rows"]
assert sorted(r["mode"] for r in pk) == ["dense", "resa", "sparse"], pk
for r in pk:
    assert r["length"] == 1024 and r["trials"] == 1 and r["correct"] in (0, 1), r
    assert r["accuracy"] == r["correct"] and (r["rectifications"] > 0) == (r["mode"] == "resa"), r
# each mode alone gives the rows it gets after the others ran on the same
# prefix and were cut back (sparse at x 40 after resa at x 70 too):
# truncation leaves nothing behind
for alone in (sp, rs):
    for r in alone["lm"]["rows"]:
        if r["mode"] != "dense":
            same = [s for s in lm if (s["mode"], s["x"]) == (r["mode"], r["x"])]
            assert same == [r], (r, same)
# a budget covering every block: sparse and resa are dense, exactly
dense = {r["x"]: r for r in full["lm"]["rows"] if r["mode"] == "dense"}
for r in full["lm"]["rows"]:
    d = dense[r["x"]]
    assert r["kl"] == 0 and r["rectifications"] == 0, r
    assert (r["top1"], r["top3"], r["nll"]) == (d["top1"], d["top3"], d["nll"]), (r, d)
assert len({r["correct"] for r in full["passkey"]["rows"]}) == 1, full["passkey"]
PY
    then pass "eval --json: rows per mode and x, passkey cells; a mode alone equals it after truncation; full budget equals dense"
    else fail "eval --json output: $(cat "$tmp/eval.json")"; fi
else
    fail "eval failed: $(cat "$tmp/err")"
fi

# Good input: greedy generation gives valid JSON with the promised fields,
# the same tokens twice, and honours -n.
if "$RESA" generate $M -p "The capital of France is" -n 8 --temp 0 -t 2 --json >"$tmp/a.json" 2>"$tmp/err" &&
    "$RESA" generate $M -p "The capital of France is" -n 8 --temp 0 -t 1 --json >"$tmp/b.json" 2>>"$tmp/err"; then
    if "$PYTHON" - "$tmp/a.json" "$tmp/b.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for k in ("prompt_tokens", "tokens", "text", "prefill_tok_s", "decode_tok_s", "mode", "rectifications"):
    assert k in a, k
assert len(a["tokens"]) == 8, a["tokens"]
assert a["tokens"] == b["tokens"], (a["tokens"], b["tokens"])
assert a["prefill_tok_s"] > 0 and a["decode_tok_s"] > 0
PY
    then pass "generate --json: 8 greedy tokens, same with 1 and 2 threads"
    else fail "generate --json output: $(cat "$tmp/a.json" "$tmp/b.json")"; fi
else
    fail "generate failed: $(cat "$tmp/err")"
fi
if "$RESA" generate $M --chat -p "Say hi" -n 4 --seed 3 >"$tmp/out" 2>"$tmp/err" &&
    grep -q "tok/s" "$tmp/err"; then
    pass "generate --chat streams text and prints timings"
else
    fail "generate --chat: $(cat "$tmp/err")"
fi
if "$RESA" generate $M --chat --chat-template llama3 -p "Say hi" -n 2 --temp 0 >"$tmp/out" 2>"$tmp/err" &&
    ! grep -q "note:" "$tmp/err"; then
    pass "generate --chat --chat-template llama3 runs without a fallback note"
else
    fail "generate --chat-template llama3: $(cat "$tmp/err")"
fi
if ! "$RESA" generate $M --chat --chat-template bogus -p "Hi" -n 1 >"$tmp/out" 2>"$tmp/err" &&
    grep -q "unknown template 'bogus'" "$tmp/err" && [ "$(wc -l <"$tmp/err")" -eq 1 ]; then
    pass "generate --chat-template bogus: one-line error"
else
    fail "generate --chat-template bogus: $(cat "$tmp/err")"
fi
if "$RESA" tokenize $M -p "Hello world" --json | "$PYTHON" -c \
    'import json,sys; d=json.load(sys.stdin); assert d["tokens"] and "".join(d["pieces"])=="Hello world"'; then
    pass "tokenize --json pieces join back to the text"
else
    fail "tokenize --json"
fi
if "$RESA" info --json "$MODEL" | "$PYTHON" -c \
    'import json,sys; d=json.load(sys.stdin); assert d["architecture"]=="llama" and d["n_layer"]==30 and len(d["tensors"])==272'; then
    pass "info --json describes SmolLM2"
else
    fail "info --json"
fi
finish
