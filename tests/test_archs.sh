#!/bin/sh
# SPDX-License-Identifier: MIT
# Architectures and RoPE scalings without real weights at hand, against
# llama.cpp (llama-cpp-python) on random-weight GGUFs (tests/make_arch_gguf.py,
# SmolLM2's tokenizer): qwen3 (q/k norms, no QKV bias, head dim from
# key_length), qwen3 with YaRN RoPE scaling, llama with linear scaling,
# llama with Llama 3's rope_freqs, and gemma3 with linear scaling on its
# global layer only (docs/design.md §5.9). For each:
#  1. teacher-forced logits over 2 windows of 320 tokens: mean KL within
#     1.5x llama.cpp's own flash-attention on/off KL, top-1 agreement
#     counting near-ties (0.2 nats) >= 98% (tests/reference/compare_logits.py);
#  2. for the scaled ones, the same weights with the scaling undone (the
#     "twin") must FAIL that bar against llama.cpp's logits of the real file
#     (a saved fixture, whose KL is a lower bound): the comparison sees the
#     scaling, so a resa that ignored it would fail 1;
#  3. greedy continuations of three prompts, divergences only at near-ties
#     (tests/reference/compare_greedy.py) of up to 0.4 nats: random weights
#     give flat distributions, and llama.cpp against itself (flash attention
#     on/off) flips top-1s of the qwen3 file with gaps up to 0.32 nats (its
#     logits differ by up to 0.83 there).
# Then the ReSA invariants (tests/test_resa: full budget = dense, rectified
# cache = dense, summaries) on the qwen3 file, and the one-line load errors
# for RoPE scalings resa does not compute (longrope, an attention factor)
# and a bad factor.
#
# Environment: RESA_MODEL (tokenizer source), PYTHON, RESA_REQUIRE_REFERENCE,
# RESA_TEST_THREADS, RESA_TIE_MARGIN (as tests/test_reference.sh), RESA_GREEDY_TIE_MARGIN.
# Exit status: 0 passed, 1 failed, 77 skipped, 99 error.
: "${top_srcdir:=${srcdir:-$(dirname "$0")/..}}"
# shellcheck source=tests/common.sh source-path=SCRIPTDIR/..
. "$top_srcdir/tests/common.sh"

refdir=$top_srcdir/tests/reference
threads=${RESA_TEST_THREADS:-2}
tie=${RESA_TIE_MARGIN:-0.2}
greedy_tie=${RESA_GREEDY_TIE_MARGIN:-0.4}
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE

[ -f "$MODEL" ] || need "model $MODEL (the tokenizer source) not found (run models/fetch)"
command -v "$PYTHON" >/dev/null 2>&1 || need "$PYTHON not found"
"$PYTHON" -c 'import numpy, gguf, llama_cpp' >/dev/null 2>&1 ||
    need "python modules numpy, gguf and llama_cpp not importable by $PYTHON"
for b in "$RESA" "$top_builddir/tests/dump_logits" "$top_builddir/tests/test_resa"; do
    [ -x "$b" ] || { echo "test_archs: missing binary $b" >&2; exit 99; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/resa-archs.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

"$PYTHON" "$refdir/corpus.py" "$tmp/corpus.txt" >/dev/null || exit 99
cat >"$tmp/prompts.txt" <<'EOF'
Python is an easy to learn, powerful programming language. It has efficient
The history of the printing press begins in the fifteenth century, when
A function definition associates the function name with the function object in the current symbol table.
EOF

make_gguf() { # VARIANT OUT [--twin]
    "$PYTHON" "$top_srcdir/tests/make_arch_gguf.py" "$MODEL" "$@" ||
        { echo "test_archs: make_arch_gguf.py $* failed" >&2; exit 99; }
}

for v in qwen3 qwen3-yarn llama-linear llama-freqs gemma3-linear; do
    f=$tmp/$v.gguf
    make_gguf "$v" "$f"
    fixture=
    case $v in qwen3) ;; *) fixture=$tmp/$v.fixture ;; esac
    echo "== $v: logits against llama.cpp"
    TMPDIR=$tmp "$PYTHON" "$refdir/compare_logits.py" --model "$f" \
        --dump-logits "$top_builddir/tests/dump_logits" --corpus "$tmp/corpus.txt" \
        --windows 2 --window-len 320 --threads "$threads" --ref-threads "$threads" \
        --tie-margin "$tie" --noise-factor 1.5 ${fixture:+--save-fixture "$fixture"} >"$tmp/out" 2>&1
    st=$?
    cat "$tmp/out"
    case $st in
    0) pass "$v: logits agree with llama.cpp" ;;
    77) need "$v: logits comparison skipped" ;;
    *) fail "$v: logits disagree with llama.cpp (status $st)" ;;
    esac
    if [ -n "$fixture" ] && [ "$st" = 0 ]; then
        # the bar the real file passed: 1.5 x llama.cpp's own KL
        bar=$(sed -n 's/.*resa.s mean KL must be <= .* = \([0-9.e+-]*\)$/\1/p' "$tmp/out")
        make_gguf "$v" "$tmp/$v-twin.gguf" --twin
        echo "== $v: the twin without the scaling, against the real file's reference (must fail)"
        "$PYTHON" "$refdir/compare_logits.py" --model "$tmp/$v-twin.gguf" --fixture "$fixture" \
            --dump-logits "$top_builddir/tests/dump_logits" --threads "$threads" \
            --tie-margin "$tie" --max-mean-kl "${bar:-0}" --show 0 >"$tmp/out" 2>&1
        st=$?
        tail -n 2 "$tmp/out"
        if [ -n "$bar" ] && [ "$st" = 1 ]; then
            pass "$v: the comparison sees the scaling (the unscaled twin fails the bar $bar)"
        else
            fail "$v: the unscaled twin passes the bar '$bar' (status $st): the test cannot see the scaling"
        fi
    fi
    echo "== $v: greedy continuations"
    "$PYTHON" "$refdir/compare_greedy.py" --model "$f" --resa "$RESA" --prompts-file "$tmp/prompts.txt" \
        -n 16 --n-ctx 512 --resa-args "--mode dense -c 512" --threads "$threads" --ref-threads "$threads" \
        --tie-margin "$greedy_tie" --min-identical 3 >"$tmp/out" 2>&1
    st=$?
    cat "$tmp/out"
    case $st in
    0) pass "$v: greedy continuations agree with llama.cpp" ;;
    77) need "$v: greedy comparison skipped" ;;
    *) fail "$v: greedy continuations disagree (status $st)" ;;
    esac
done

echo "== qwen3: ReSA invariants"
if "$top_builddir/tests/test_resa" "$tmp/qwen3.gguf" >"$tmp/out" 2>&1; then
    pass "qwen3: ReSA invariants hold ($(tail -n 1 "$tmp/out"))"
else
    cat "$tmp/out"
    fail "qwen3: ReSA invariants"
fi
case $("$RESA" info -m "$tmp/qwen3.gguf" 2>&1) in
*"architecture:    qwen3"*"head dim 128"*) pass "resa info names qwen3 and its head dimension" ;;
*) fail "resa info on the qwen3 file" ;;
esac

echo "== scalings resa does not compute: one-line load errors"
# expect_error NAME PATTERN KEY=VALUE: a tiny llama with that key fails to
# load with exit 1..123 and one stderr line matching PATTERN
expect_error() {
    "$PYTHON" "$top_srcdir/tests/make_tiny_gguf.py" "$tmp/bad.gguf" --set "$3" || exit 99
    timeout 60 "$RESA" generate -m "$tmp/bad.gguf" -p hi -n 1 --temp 0 >/dev/null 2>"$tmp/err"
    rc=$?
    lines=$(wc -l <"$tmp/err")
    if [ "$rc" -ge 1 ] && [ "$rc" -lt 124 ] && [ "$lines" -eq 1 ] && grep -q "^resa: .*$2" "$tmp/err"; then
        pass "$1: $(cat "$tmp/err")"
    else
        fail "$1: exit $rc, $lines stderr lines: $(head -c 300 "$tmp/err")"
    fi
}
expect_error "longrope refused" "RoPE scaling 'longrope' is not supported" llama.rope.scaling.type=longrope
expect_error "attention factor refused" "attn_factor = 2 is not supported" llama.rope.scaling.attn_factor=2.0
expect_error "factor nan refused" "rope.scaling.factor = nan" llama.rope.scaling.factor=nan
finish
