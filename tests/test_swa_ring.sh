#!/bin/sh
# SPDX-License-Identifier: MIT
# The window-only KV cache of sliding-window layers (tests/test_swa_ring.c,
# docs/design.md §3.3): the pool's size on SmolLM2 (no windowed layers:
# the plain formula, swa_full or not), then on a random-weight gemma3
# (tests/make_arch_gguf.py, window 128, SmolLM2's tokenizer) rings against
# swa_full bit for bit over 2048 positions in dense and resa modes, across
# truncations, a reset and a benchmark fill, and the engine's ring
# accounting. tests/test_gemma3.sh runs the same on Gemma 3 270M.
# Environment: RESA_MODEL (SmolLM2, also the tokenizer source), PYTHON.
# Exit status: 0 passed, 1 failed, 77 skipped, 99 error.
: "${top_srcdir:=${srcdir:-$(dirname "$0")/..}}"
# shellcheck source=tests/common.sh source-path=SCRIPTDIR/..
. "$top_srcdir/tests/common.sh"

[ -f "$MODEL" ] || need "model $MODEL not found (run models/fetch)"
bin=$top_builddir/tests/test_swa_ring
[ -x "$bin" ] || { echo "test_swa_ring: missing binary $bin" >&2; exit 99; }

run() { # name command...: PASS on status 0
    name=$1
    shift
    echo "== $name"
    if "$@"; then pass "$name"; else fail "$name (status $?)"; fi
}

run "SmolLM2: the pool's size" "$bin" "$MODEL"

command -v "$PYTHON" >/dev/null 2>&1 || need "$PYTHON not found"
"$PYTHON" -c 'import numpy, gguf' >/dev/null 2>&1 || need "python modules numpy and gguf not importable by $PYTHON"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/resa-swa.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP
PYTHONDONTWRITEBYTECODE=1 "$PYTHON" "$top_srcdir/tests/make_arch_gguf.py" "$MODEL" gemma3 "$tmp/gemma3.gguf" ||
    { echo "test_swa_ring: make_arch_gguf.py failed" >&2; exit 99; }
run "random-weight gemma3: rings against swa_full" "$bin" "$tmp/gemma3.gguf"
finish
