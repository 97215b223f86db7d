#!/bin/sh
# Compares resa against llama.cpp (llama-cpp-python) on real text:
# tokenization, teacher-forced logits and greedy continuations.
#
# Run by `make check` from the build directory (binaries ./resa,
# ./tests/dump_logits, ./tests/tokenize_lines); sources come from $srcdir,
# which may be read-only: everything is written to a mktemp directory.
#
# Environment:
#   RESA_MODEL              model (default $srcdir/models/SmolLM2-135M-Instruct.Q4_1.gguf)
#   RESA_REQUIRE_REFERENCE  1: a missing model/llama_cpp is an error (99), not a skip (77)
#   RESA_TEST_THREADS       threads for resa and llama.cpp (default 2)
#   PYTHON                  python interpreter (default python3)

here=$(dirname "$0")
srcdir=${srcdir:-$here/..}
# Automake sets srcdir to the directory of the Makefile.am that lists the
# test; accept either the top source dir or its tests/ subdirectory.
if [ ! -d "$srcdir/tests/reference" ] && [ -d "$srcdir/reference" ]; then
    srcdir=$srcdir/..
fi
refdir=$srcdir/tests/reference
model=${RESA_MODEL:-$srcdir/models/SmolLM2-135M-Instruct.Q4_1.gguf}
threads=${RESA_TEST_THREADS:-2}
PYTHON=${PYTHON:-python3}
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE

skip() {
    if [ "${RESA_REQUIRE_REFERENCE:-0}" = 1 ]; then
        echo "test_reference: $1 (RESA_REQUIRE_REFERENCE=1)" >&2
        exit 99
    fi
    echo "test_reference: SKIP: $1"
    exit 77
}

[ -f "$model" ] || skip "model not found: $model"
command -v "$PYTHON" >/dev/null 2>&1 || skip "$PYTHON not found"
"$PYTHON" -c 'import numpy, llama_cpp' >/dev/null 2>&1 ||
    skip "python modules llama_cpp/numpy not importable"

for b in ./resa ./tests/dump_logits ./tests/tokenize_lines; do
    if [ ! -x "$b" ]; then
        echo "test_reference: missing binary $b (run from the build directory)" >&2
        exit 99
    fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/resa-ref.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

echo "== corpus"
if ! "$PYTHON" "$refdir/corpus.py" "$tmp/corpus.txt" >"$tmp/corpus.log" 2>&1; then
    cat "$tmp/corpus.log"
    echo "test_reference: corpus.py failed" >&2
    exit 99
fi
tail -n 3 "$tmp/corpus.log"

result=0
n_skip=0
n_run=0
run() {
    name=$1
    shift
    echo "== $name"
    TMPDIR=$tmp "$PYTHON" "$@"
    st=$?
    n_run=$((n_run + 1))
    case $st in
    0) echo "-- $name: PASS" ;;
    77) echo "-- $name: SKIP"; n_skip=$((n_skip + 1)) ;;
    99) echo "-- $name: ERROR"; [ "$result" = 1 ] || result=99 ;;
    *) echo "-- $name: FAIL (status $st)"; result=1 ;;
    esac
}

run tokenize "$refdir/compare_tokenize.py" --model "$model" \
    --corpus "$tmp/corpus.txt" --driver ./tests/tokenize_lines
run logits "$refdir/compare_logits.py" --model "$model" \
    --dump-logits ./tests/dump_logits --corpus "$tmp/corpus.txt" \
    --threads "$threads" --ref-threads "$threads"
run greedy "$refdir/compare_greedy.py" --model "$model" --resa ./resa \
    --threads "$threads" --ref-threads "$threads"

if [ "$result" = 0 ] && [ "$n_skip" = "$n_run" ]; then
    exit 77
fi
exit "$result"
