#!/bin/sh
# SPDX-License-Identifier: MIT
# Smoke test of tests/bench/compare-llamacpp (issue 5's comparison script):
# one tiny run of every kind of cell, then checks on what it wrote. It
# measures nothing worth reporting (the cells are a few dozen tokens); it
# checks that the script runs both engines, every llama.cpp column, and
# that its table's ratios and "llama best" follow from the runs it made.
# Speed itself is shown by benchmarks (see the closing notes), never here.
#
# Environment: RESA_MODEL, RESA_REQUIRE_REFERENCE, PYTHON as for
# test_reference.sh. Exit status: 0 passed, 1 a check failed, 77 skipped,
# 99 error.
: "${top_srcdir:=${srcdir:-$(dirname "$0")/..}}"
# shellcheck source=tests/common.sh source-path=SCRIPTDIR/..
. "$top_srcdir/tests/common.sh"

script=$top_srcdir/tests/bench/compare-llamacpp
[ -f "$MODEL" ] || need "model $MODEL not found (run models/fetch)"
command -v "$PYTHON" >/dev/null 2>&1 || need "$PYTHON not found"
"$PYTHON" -c 'import numpy, llama_cpp' >/dev/null 2>&1 ||
    need "python modules llama_cpp and numpy not importable by $PYTHON"
[ -x "$RESA" ] || { echo "test_bench: missing binary $RESA" >&2; exit 99; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/resa-bench-test.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE

# Bad flags: a one-line error and status 1, before any run.
for bad in "--llama-flash-attn bogus" "--modes dense,fast" "--depths 1,-4" "--repeats 0"; do
    # shellcheck disable=SC2086
    "$PYTHON" "$script" -m "$MODEL" --resa "$RESA" $bad >"$tmp/bad.out" 2>"$tmp/bad.err"
    st=$?
    if [ "$st" -eq 1 ] && [ "$(wc -l <"$tmp/bad.err")" -eq 1 ] && [ ! -s "$tmp/bad.out" ]; then
        pass "rejects $bad: $(cat "$tmp/bad.err")"
    else
        fail "$bad: status $st, stderr: $(cat "$tmp/bad.err")"
    fi
done

echo "== a tiny comparison"
if ! "$PYTHON" "$script" -m "$MODEL" --resa "$RESA" -t 2 --prompt-lengths 32 --depths 0,96 -n 32 \
        --modes dense,resa --fill repeat --repeats 1 --json "$tmp/out.json" >"$tmp/out.txt" 2>&1; then
    cat "$tmp/out.txt"
    fail "compare-llamacpp exited with an error"
    finish
    exit
fi
cat "$tmp/out.txt"
pass "compare-llamacpp ran"

# The JSON against the runs it holds: every engine measured in every cell,
# the best llama.cpp column the fastest one, the ratios resa / that one.
if "$PYTHON" - "$tmp/out.json" >"$tmp/check.txt" 2>&1 <<'EOF'; then
import json, sys
d = json.load(open(sys.argv[1]))
bad = []
assert d["settings"]["llama_flash_attn"] == ["on", "off"], d["settings"]["llama_flash_attn"]
cells = d["models"][0]["cells"]
kinds = sorted((c["cell"], c["tokens"]) for c in cells)
if kinds != [("decode", 0), ("decode", 96), ("prefill", 32)]:
    bad.append("cells %s" % kinds)
for c in cells:
    name = "%s %d" % (c["cell"], c["tokens"])
    want = {"resa dense", "llama fa=on", "llama fa=off"} | ({"resa resa"} if c["cell"] == "decode" else set())
    if set(c["engines"]) != want:
        bad.append("%s: engines %s" % (name, sorted(c["engines"])))
        continue
    for e, s in c["engines"].items():
        if not (s["tok_s"] and s["tok_s"] > 0 and s["rss_mib"] > 0 and not s["errors"]):
            bad.append("%s, %s: tok/s %s, RSS %s, errors %s" % (name, e, s["tok_s"], s["rss_mib"], s["errors"]))
    peer = {e: s["tok_s"] for e, s in c["engines"].items() if e.startswith("llama")}
    if c["llama_best"] != max(peer, key=peer.get):
        bad.append("%s: llama best %s of %s" % (name, c["llama_best"], peer))
    for e, s in c["engines"].items():
        if e.startswith("resa"):
            want_r = s["tok_s"] / max(peer.values())
            if abs(c["ratios"].get(e, 0) - want_r) > 1e-9 * want_r:
                bad.append("%s, %s: ratio %s, expected %s" % (name, e, c["ratios"].get(e), want_r))
    if c["cell"] == "prefill" and c["engines"]["resa dense"]["prompt_tokens"] != [32]:
        bad.append("prefill: resa read %s tokens" % c["engines"]["resa dense"]["prompt_tokens"])
print("\n".join(bad) if bad else "%d cells consistent" % len(cells))
sys.exit(1 if bad else 0)
EOF
    pass "JSON: $(cat "$tmp/check.txt")"
else
    fail "JSON: $(cat "$tmp/check.txt")"
fi
finish
