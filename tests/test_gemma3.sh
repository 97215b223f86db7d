#!/bin/sh
# SPDX-License-Identifier: MIT
# Gemma 3 270M (architecture gemma3: sliding-window and global layers, q/k
# norms, post norms, GeGLU, scaled embeddings) against llama.cpp
# (llama-cpp-python), in dense mode, the way tests/test_reference.sh checks
# SmolLM2: teacher-forced logits over windows of 700 tokens of real text
# (past the 512-position sliding window) within 1.5x llama.cpp's own
# rounding noise, and greedy continuations of two short prompts and one of
# about 650 tokens; then the ReSA invariants (tests/test_resa) on the model,
# the window-only KV cache against swa_full bit for bit past several turns of
# its rings (tests/test_swa_ring), `resa info` and the Gemma chat format.
#
# The model is an optional download (models/fetch gemma3, which CI runs with
# RESA_FETCH_GEMMA=1): without it the test is a SKIP, even under
# RESA_REQUIRE_REFERENCE=1, as tests/test_tokenizer_spm.sh.
#
# Environment: RESA_GEMMA_MODEL (default $top_srcdir/models/gemma-3-270m-q4_k_m.gguf),
# RESA_GEMMA_INVARIANTS (0: leave tests/test_resa out), RESA_GEMMA_RING_STEPS
# (decode steps of each tests/test_swa_ring run, default 1400), RESA_REQUIRE_REFERENCE, RESA_TEST_THREADS, RESA_TIE_MARGIN, PYTHON as in
# tests/test_reference.sh.
: "${top_srcdir:=${srcdir:-$(dirname "$0")/..}}"
# shellcheck source=tests/common.sh source-path=SCRIPTDIR/..
. "$top_srcdir/tests/common.sh"

GEMMA="${RESA_GEMMA_MODEL:-$top_srcdir/models/gemma-3-270m-q4_k_m.gguf}"
if [ ! -f "$GEMMA" ]; then
    echo "SKIP: gemma3: $GEMMA not found (run models/fetch gemma3)"
    exit 77
fi
refdir=$top_srcdir/tests/reference
threads=${RESA_TEST_THREADS:-2}
tie=${RESA_TIE_MARGIN:-0.2}
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE

command -v "$PYTHON" >/dev/null 2>&1 || need "$PYTHON not found"
"$PYTHON" -c 'import numpy, llama_cpp' >/dev/null 2>&1 ||
    need "python modules llama_cpp and numpy not importable by $PYTHON"
for b in "$RESA" "$top_builddir/tests/dump_logits" "$top_builddir/tests/test_resa" "$top_builddir/tests/test_swa_ring"; do
    if [ ! -x "$b" ]; then
        echo "test_gemma3: missing binary $b" >&2
        exit 99
    fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/resa-gemma3.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

echo "== corpus"
if ! "$PYTHON" "$refdir/corpus.py" "$tmp/corpus.txt" >"$tmp/corpus.log" 2>&1; then
    cat "$tmp/corpus.log"
    echo "test_gemma3: corpus.py failed" >&2
    exit 99
fi

run() { # name command...: PASS on status 0
    name=$1
    shift
    echo "== $name"
    "$@" >"$tmp/out" 2>&1
    st=$?
    cat "$tmp/out"
    case $st in
    0) pass "$name" ;;
    77) need "$name skipped" ;;
    *) fail "$name (status $st)" ;;
    esac
}

# Logits: 2 windows of 700 tokens, so that positions 512..699 see their
# windowed layers drop the first keys. 262144-entry vocabulary: 700 rows of
# logits are 700 MiB per engine, hence two windows only.
run logits "$PYTHON" "$refdir/compare_logits.py" --model "$GEMMA" \
    --dump-logits "$top_builddir/tests/dump_logits" --corpus "$tmp/corpus.txt" \
    --windows 2 --window-len 700 --threads "$threads" --ref-threads "$threads" \
    --tie-margin "$tie" --noise-factor 1.5

# Greedy: two short prompts and one past the window (the ASCII lines of the
# corpus joined, about 3000 characters), decoded in dense mode.
"$PYTHON" - "$tmp/corpus.txt" "$tmp/prompts.txt" <<'PY'
import sys
lines = [l.strip() for l in open(sys.argv[1], encoding="utf-8")]
text = " ".join(l for l in lines if l and l.isascii() and len(l) > 40)
long = text[:3000].rsplit(" ", 1)[0]
with open(sys.argv[2], "w", encoding="utf-8") as f:
    f.write("Python is an easy to learn, powerful programming language. It has efficient\n")
    f.write("The history of the printing press begins in the fifteenth century, when\n")
    f.write(long + "\n")
PY
run greedy "$PYTHON" "$refdir/compare_greedy.py" --model "$GEMMA" --resa "$RESA" \
    --prompts-file "$tmp/prompts.txt" -n 24 --n-ctx 1024 --resa-args "--mode dense -c 1024" \
    --threads "$threads" --ref-threads "$threads" --tie-margin "$tie" --min-identical 3

# ReSA invariants (full budget = dense, rectified cache = dense, summaries),
# including a decode at depth 1100 against the chunk path: both windowed.
# About 20 minutes on 2 busy cores: RESA_GEMMA_INVARIANTS=0 leaves them out.
if [ "${RESA_GEMMA_INVARIANTS:-1}" = 0 ]; then
    echo "== invariants: left out (RESA_GEMMA_INVARIANTS=0)"
else
    run invariants "$top_builddir/tests/test_resa" "$GEMMA"
fi

# The windowed layers' rings (784 positions with the test's 64-token chunks)
# against swa_full: every logit bit for bit up to 1900 positions (2.4 turns), in
# dense and resa modes, across truncations, a reset and a benchmark fill.
run "window rings" "$top_builddir/tests/test_swa_ring" "$GEMMA" "${RESA_GEMMA_RING_STEPS:-1400}"

echo "== info and chat"
info=$("$RESA" info -m "$GEMMA" 2>&1)
case $info in
*"architecture:    gemma3"*) pass "resa info names the architecture" ;;
*) fail "resa info: $info" ;;
esac
# The base model's file has no chat template: its family's format, which
# opens with <bos><start_of_turn>user (ids 2 105 2364).
json=$("$RESA" generate -m "$GEMMA" --chat -p "Name a colour." -n 4 --temp 0 --mode dense -c 256 \
    -t "$threads" --json 2>"$tmp/err")
case $json in
*'"prompt_tokens": [2, 105, 2364, '*) pass "--chat uses the Gemma turn format" ;;
*) fail "--chat: $json $(cat "$tmp/err")" ;;
esac
grep -q 'not one resa knows' "$tmp/err" && fail "--chat notes an unknown template"
finish
