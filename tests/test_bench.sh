#!/bin/sh
# SPDX-License-Identifier: MIT
# Smoke test of tests/bench/compare-llamacpp (issue 19: llama.cpp measured
# by its own llama-bench): tiny runs of every kind of cell, then checks on
# what they wrote. It measures nothing worth reporting (the cells are a few
# dozen tokens); it checks that the script runs both engines and every
# llama.cpp column, and that its table's numbers, ratios and "llama best"
# follow from the runs it made. Speed itself is shown by benchmarks (see
# the closing notes of the issues), never here.
#
#   1. bad flags: one line on stderr, status 1;
#   2. the llama-bench path against tests/bench/llama-bench-replay, which
#      replays llama-bench's real JSON (tests/bench/llama-bench-sample.json,
#      recorded from the tool): llama.cpp's numbers must be the recorded
#      ones, the commit that of the build-info.txt beside the binary; and a
#      replay of the wrong cell must be caught;
#   3. the real llama-bench when it is built ($LLAMA_BENCH, else
#      $LLAMA_CPP_DIR/bin or .dist/llama.cpp/bin: tests/bench/build-llamacpp;
#      tools/setup.sh does not build it, so this part says SKIP without it);
#   4. the Python fallback (no llama-bench found), which must say so in its
#      output and JSON; it needs llama_cpp and numpy (SKIP without them,
#      unless RESA_REQUIRE_REFERENCE=1);
#   5. tests/bench/compare-busy (idle against busy neighbours): a bad flag,
#      and a tiny run whose medians must be those of the runs it recorded;
#   6. tests/bench/speed-twin: the twin has the model's header bytes and
#      size, other weights, and resa runs a decode step on it.
#
# Environment: RESA_MODEL, RESA_REQUIRE_REFERENCE, PYTHON as for
# test_reference.sh; LLAMA_BENCH. Exit status: 0 passed, 1 a check failed,
# 77 skipped, 99 error.
: "${top_srcdir:=${srcdir:-$(dirname "$0")/..}}"
# shellcheck source=tests/common.sh source-path=SCRIPTDIR/..
. "$top_srcdir/tests/common.sh"

script=$top_srcdir/tests/bench/compare-llamacpp
replay=$top_srcdir/tests/bench/llama-bench-replay
sample=$top_srcdir/tests/bench/llama-bench-sample.json
[ -f "$MODEL" ] || need "model $MODEL not found (run models/fetch)"
command -v "$PYTHON" >/dev/null 2>&1 || need "$PYTHON not found"
[ -x "$RESA" ] || { echo "test_bench: missing binary $RESA" >&2; exit 99; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/resa-bench-test.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE
# A llama-bench that replays the sample, with the build-info.txt that
# tests/bench/build-llamacpp writes beside the binaries.
mkdir "$tmp/bin" "$tmp/nothing" || exit 99
printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$PYTHON" "$replay" >"$tmp/bin/llama-bench"
chmod +x "$tmp/bin/llama-bench"
printf 'commit=0c1e57098bba43ac29e6e3b677cdceebdd22334f\n' >"$tmp/bin/build-info.txt"
# The recorded cells: 1 thread, prefill 32, decode 32 steps at depths 0 and 96.
TINY="-m $MODEL --resa $RESA -t 1 --prompt-lengths 32 -n 32 --modes dense,resa --fill repeat --repeats 1"

# Bad flags: a one-line error and status 1, before any run.
for bad in "--llama-flash-attn bogus" "--modes dense,fast" "--depths 1,-4" "--repeats 0" \
        "--llama-bench $tmp/nothing/llama-bench" "--llama-python --llama-bench $tmp/bin/llama-bench" \
        "--scaling -t 2"; do
    # shellcheck disable=SC2086
    "$PYTHON" "$script" -m "$MODEL" --resa "$RESA" $bad >"$tmp/bad.out" 2>"$tmp/bad.err"
    st=$?
    if [ "$st" -eq 1 ] && [ "$(wc -l <"$tmp/bad.err")" -eq 1 ] && [ ! -s "$tmp/bad.out" ]; then
        pass "rejects $bad: $(cat "$tmp/bad.err")"
    else
        fail "$bad: status $st, stderr: $(cat "$tmp/bad.err")"
    fi
done

# check JSON HARNESS DEPTHS [SAMPLE]: the JSON against the runs it holds.
# Every engine measured in every cell, the best llama.cpp column the fastest
# one, the ratios resa / that one; with SAMPLE, llama.cpp's numbers are the
# recorded ones and its commit that of build-info.txt.
check() {
    "$PYTHON" - "$@" >"$tmp/check.txt" 2>&1 <<'EOF_PY'
import json, sys
path, harness, depths = sys.argv[1], sys.argv[2], [int(x) for x in sys.argv[3].split(",")]
sample = json.load(open(sys.argv[4])) if len(sys.argv) > 4 else None
d = json.load(open(path))
s = d["settings"]
bad = []
if s["llama_harness"] != harness:
    bad.append("harness %s" % s["llama_harness"])
if s["llama_flash_attn"] != ["on", "off"]:
    bad.append("flash attention %s" % s["llama_flash_attn"])
if harness == "llama-bench":
    if not s.get("llama_cpp_commit") or s.get("llama_build_printed") != [s["llama_cpp_commit"][:7]]:
        bad.append("commit %s, printed %s" % (s.get("llama_cpp_commit"), s.get("llama_build_printed")))
    if "warning" in s:
        bad.append("a fallback warning with llama-bench")
elif "NOT llama-bench" not in s.get("warning", ""):
    bad.append("the fallback without its warning: %s" % s.get("warning"))
cells = d["models"][0]["cells"]
kinds = sorted((c["cell"], c["tokens"]) for c in cells)
if kinds != sorted([("decode", x) for x in depths] + [("prefill", 32)]):
    bad.append("cells %s" % kinds)
for c in cells:
    name = "%s %d" % (c["cell"], c["tokens"])
    want = {"resa dense", "llama fa=on", "llama fa=off"} | ({"resa resa"} if c["cell"] == "decode" else set())
    if set(c["engines"]) != want:
        bad.append("%s: engines %s" % (name, sorted(c["engines"])))
        continue
    for e, v in c["engines"].items():
        if not (v["tok_s"] and v["tok_s"] > 0 and v["rss_mib"] > 0 and not v["errors"]):
            bad.append("%s, %s: tok/s %s, RSS %s, errors %s" % (name, e, v["tok_s"], v["rss_mib"], v["errors"]))
    peer = {e: v["tok_s"] for e, v in c["engines"].items() if e.startswith("llama")}
    if c["llama_best"] != max(peer, key=peer.get):
        bad.append("%s: llama best %s of %s" % (name, c["llama_best"], peer))
    for e, v in c["engines"].items():
        if e.startswith("resa"):
            want_r = v["tok_s"] / max(peer.values())
            if abs(c["ratios"].get(e, 0) - want_r) > 1e-9 * want_r:
                bad.append("%s, %s: ratio %s, expected %s" % (name, e, c["ratios"].get(e), want_r))
    if c["cell"] == "prefill" and c["engines"]["resa dense"]["prompt_tokens"] != [32]:
        bad.append("prefill: resa read %s tokens" % c["engines"]["resa dense"]["prompt_tokens"])
    for fa, code in (("on", 1), ("off", 0)):
        if sample is None:
            break
        key = ((32, 0, 0) if c["cell"] == "prefill" else (0, 32, c["tokens"])) + (1, code)
        rec = [r["samples_ts"][0] for r in sample
               if (r["n_prompt"], r["n_gen"], r["n_depth"], r["n_threads"], r["flash_attn"]) == key]
        if [c["engines"]["llama fa=" + fa]["tok_s"]] != rec:
            bad.append("%s, fa=%s: %s tok/s, recorded %s" % (name, fa, c["engines"]["llama fa=" + fa]["tok_s"], rec))
print("\n".join(bad) if bad else "%d cells consistent" % len(cells))
sys.exit(1 if bad else 0)
EOF_PY
}

echo "== the llama-bench path, llama-bench replayed from its recorded output"
# shellcheck disable=SC2086
if "$PYTHON" "$script" $TINY --depths 0,96 --warmup none --llama-bench "$tmp/bin/llama-bench" \
        --json "$tmp/replay.json" >"$tmp/out.txt" 2>&1; then
    cat "$tmp/out.txt"
    pass "compare-llamacpp ran with (replayed) llama-bench"
    if check "$tmp/replay.json" llama-bench 0,96 "$sample"; then
        pass "JSON: $(cat "$tmp/check.txt"), llama.cpp's numbers the recorded ones"
    else
        fail "JSON: $(cat "$tmp/check.txt")"
    fi
else
    cat "$tmp/out.txt"
    fail "compare-llamacpp with replayed llama-bench exited with an error"
fi
# A record of another cell: the cell must fail (ERR), the run exit 1.
# shellcheck disable=SC2086
LLAMA_BENCH_REPLAY_WRONG=1 "$PYTHON" "$script" $TINY --depths 96 --prompt-lengths '' --modes dense \
    --warmup none --llama-bench "$tmp/bin/llama-bench" --json "$tmp/wrong.json" >"$tmp/wrong.txt" 2>&1
st=$?
if [ "$st" -eq 1 ] && grep -q "0 of its 1 records match" "$tmp/wrong.txt" && grep -q "ERR" "$tmp/wrong.txt"; then
    pass "a llama-bench record of the wrong cell is caught"
else
    cat "$tmp/wrong.txt"
    fail "a record of the wrong cell: status $st"
fi

echo "== the real llama-bench"
real=${LLAMA_BENCH:-${LLAMA_CPP_DIR:-$top_srcdir/.dist/llama.cpp}/bin/llama-bench}
if [ -x "$real" ]; then
    # shellcheck disable=SC2086
    if "$PYTHON" "$script" $TINY --depths 0 --llama-bench "$real" \
            --json "$tmp/real.json" >"$tmp/out.txt" 2>&1; then
        cat "$tmp/out.txt"
        if check "$tmp/real.json" llama-bench 0; then
            pass "real llama-bench: JSON $(cat "$tmp/check.txt")"
        else
            fail "real llama-bench: JSON $(cat "$tmp/check.txt")"
        fi
    else
        cat "$tmp/out.txt"
        fail "compare-llamacpp with $real exited with an error"
    fi
else
    echo "skip - the real llama-bench: $real not built (tests/bench/build-llamacpp)"
fi

echo "== the Python fallback (no llama-bench found)"
# shellcheck disable=SC2086
LLAMA_CPP_DIR=$tmp/nothing "$PYTHON" "$script" $TINY --depths 0 --warmup none \
    --json "$tmp/fallback.json" >"$tmp/out.txt" 2>&1
st=$?
cat "$tmp/out.txt"
if [ "$st" -eq 77 ]; then
    echo "skip - the Python fallback: llama_cpp/numpy not importable by $PYTHON"
elif [ "$st" -ne 0 ]; then
    fail "compare-llamacpp's fallback exited with status $st"
elif [ "$(grep -c "WARNING: llama.cpp is timed through llama-cpp-python's Python loop, NOT llama-bench" "$tmp/out.txt")" -ne 2 ]; then
    fail "the fallback does not say so before and after its table"
elif check "$tmp/fallback.json" python-fallback 0; then
    pass "the fallback says so (output and JSON); JSON $(cat "$tmp/check.txt")"
else
    fail "fallback: JSON $(cat "$tmp/check.txt")"
fi
echo "== compare-busy"
busy=$top_srcdir/tests/bench/compare-busy
if "$PYTHON" "$busy" --repeats 0 "$RESA" >"$tmp/out.txt" 2>&1; then
    fail "compare-busy accepted --repeats 0"
else
    pass "compare-busy refuses --repeats 0: $(head -n 1 "$tmp/out.txt")"
fi
if "$PYTHON" "$busy" -m "$MODEL" --depth 0 --modes dense,resa -n 2 --repeats 1 --json "$tmp/busy.json" \
    "$RESA" >"$tmp/out.txt" 2>"$tmp/err.txt"; then
    cat "$tmp/out.txt"
    if "$PYTHON" - "$tmp/busy.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
runs = {(r["condition"], c["mode"], c["depth"]): c["decode_tok_s"] for r in d["runs"] for c in r["cells"]}
meds = {(m["condition"], m["mode"], m["depth"]): m["decode_tok_s"] for m in d["medians"]}
ok = len(runs) == 4 and runs == meds and all(v > 0 for v in runs.values())
sys.exit(0 if ok else 1)
PY
    then
        pass "compare-busy: idle and busy runs of dense and resa, medians = the single runs"
    else
        fail "compare-busy: its JSON does not follow from its runs"
    fi
else
    cat "$tmp/err.txt"
    fail "compare-busy exited with an error"
fi
echo "== speed-twin"
twin=$top_srcdir/tests/bench/speed-twin
if "$PYTHON" "$twin" expand "$tmp/no-such-head" "$tmp/twin.gguf" >"$tmp/out.txt" 2>&1; then
    fail "speed-twin expanded a missing header"
else
    pass "speed-twin refuses a missing header: $(head -n 1 "$tmp/out.txt")"
fi
if "$PYTHON" "$twin" strip "$MODEL" "$tmp/head" >/dev/null 2>"$tmp/err.txt" \
    && "$PYTHON" "$twin" expand "$tmp/head" "$tmp/twin.gguf" --seed 7 >/dev/null 2>>"$tmp/err.txt"; then
    hb=$(wc -c <"$tmp/head")
    if [ "$(wc -c <"$tmp/twin.gguf")" = "$(wc -c <"$MODEL")" ] && cmp -s -n "$hb" "$MODEL" "$tmp/twin.gguf" \
        && ! cmp -s "$MODEL" "$tmp/twin.gguf"; then
        pass "speed-twin: the model's $hb header bytes and size, other weights"
    else
        fail "speed-twin: the twin's header or size differs from the model's, or its weights do not"
    fi
    if "$RESA" bench -m "$tmp/twin.gguf" --depth 0 --mode dense -n 2 -t 1 >"$tmp/out.txt" 2>&1; then
        pass "speed-twin: resa bench decodes on the twin"
    else
        tail -n 3 "$tmp/out.txt"
        fail "speed-twin: resa bench failed on the twin"
    fi
else
    cat "$tmp/err.txt"
    fail "speed-twin failed"
fi
finish
