#!/bin/sh
# SPDX-License-Identifier: MIT
# The quantized weight types beyond Q4_0/Q4_1/Q8_0 (Q5_0, Q5_1, IQ4_NL,
# Q2_K..Q6_K, IQ4_XS) against independent references:
#  1. resa's reference dequantizers against gguf's numpy ones, bit for bit,
#     on random blocks (tests/check_dequant.py);
#  2. a random-weight llama GGUF using every one of those types
#     (tests/make_kquant_gguf.py, tokenizer from the SmolLM2 file): resa's
#     teacher-forced logits against llama.cpp's (tests/reference/compare_logits.py:
#     mean KL within 1.5x llama.cpp's own flash-attention on/off KL, top-1
#     agreement counting near-ties >= 98%).
#
# Environment: RESA_MODEL (tokenizer source), PYTHON, RESA_REQUIRE_REFERENCE,
# RESA_TEST_THREADS (as tests/test_reference.sh).
# Exit status: 0 passed, 1 failed, 77 skipped, 99 error.
: "${top_srcdir:=${srcdir:-$(dirname "$0")/..}}"
# shellcheck source=tests/common.sh source-path=SCRIPTDIR/..
. "$top_srcdir/tests/common.sh"

threads=${RESA_TEST_THREADS:-2}
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE

command -v "$PYTHON" >/dev/null 2>&1 || need "$PYTHON not found"
"$PYTHON" -c 'import numpy, gguf' >/dev/null 2>&1 || need "python modules numpy and gguf not importable by $PYTHON"
for b in "$top_builddir/tests/to_float_blocks" "$top_builddir/tests/dump_logits"; do
    [ -x "$b" ] || { echo "test_kquants: missing binary $b" >&2; exit 99; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/resa-kq.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

echo "== dequantizers against gguf.quants"
if "$PYTHON" "$top_srcdir/tests/check_dequant.py" --driver "$top_builddir/tests/to_float_blocks"; then
    pass "dequantizers equal gguf's"
else
    fail "dequantizers differ from gguf's"
fi

echo "== random-weight llama GGUF with every new type, logits against llama.cpp"
# a skip must not hide a failure above
if [ "$n_fail" -ne 0 ] && { [ ! -f "$MODEL" ] || ! "$PYTHON" -c 'import llama_cpp' >/dev/null 2>&1; }; then
    finish
    exit 1
fi
if [ ! -f "$MODEL" ]; then
    need "model $MODEL (the tokenizer source) not found (run models/fetch)"
elif ! "$PYTHON" -c 'import llama_cpp' >/dev/null 2>&1; then
    need "python module llama_cpp not importable by $PYTHON"
elif ! "$PYTHON" "$top_srcdir/tests/make_kquant_gguf.py" "$MODEL" "$tmp/kq.gguf"; then
    echo "test_kquants: make_kquant_gguf.py failed" >&2
    exit 99
else
    "$PYTHON" "$top_srcdir/tests/reference/corpus.py" "$tmp/corpus.txt" >/dev/null || exit 99
    if TMPDIR=$tmp "$PYTHON" "$top_srcdir/tests/reference/compare_logits.py" --model "$tmp/kq.gguf" \
        --dump-logits "$top_builddir/tests/dump_logits" --corpus "$tmp/corpus.txt" \
        --windows 2 --window-len 256 --threads "$threads" --ref-threads "$threads" \
        --tie-margin 0.2 --noise-factor 1.5; then
        pass "logits of the K-quant model agree with llama.cpp"
    else
        fail "logits of the K-quant model disagree with llama.cpp"
    fi
    if "$RESA" info -m "$tmp/kq.gguf" | grep -q 'q4_k'; then
        pass "resa info names the new types"
    else
        fail "resa info does not name the new types"
    fi
fi
finish
