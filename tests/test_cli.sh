#!/bin/sh
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
