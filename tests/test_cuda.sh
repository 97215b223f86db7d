#!/bin/sh
# SPDX-License-Identifier: MIT
# The CUDA backend (tests/test_cuda.c), `resa backends`, and
# compute-sanitizer's memcheck on a short generation in every mode. Skips
# where the module was not built (configure --enable-cuda) or no GPU is
# there; RESA_REQUIRE_CUDA=1 turns such a skip into a failure.
. "${top_srcdir:-$(dirname "$0")/..}/tests/common.sh"
skip() {
    echo "skip: $*"
    [ "${RESA_REQUIRE_CUDA:-0}" = 1 ] && exit 99
    exit 77
}
[ -f "$MODEL" ] || need "model $MODEL not found (run models/fetch)"
# the backend choice fails clearly without the module, whatever is installed
out=$(RESA_BACKEND_PATH=/nonexistent "$RESA" generate -m "$MODEL" -n 1 -c 256 --backend cuda -p hi 2>&1) &&
    fail "--backend cuda without a module succeeded" ||
    { [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] && pass "--backend cuda without a module: one line: $out" ||
      fail "--backend cuda without a module: $out"; }
out=$(RESA_BACKEND_PATH=/nonexistent "$RESA" generate -m "$MODEL" -n 1 -c 256 --backend auto --temp 0 -p hi 2>&1 >/dev/null)
case "$out" in *"using the CPU backend"*) pass "--backend auto falls back with a note: $out" ;;
    *) fail "--backend auto without a module: '$out'" ;; esac
"$RESA" generate -m "$MODEL" -n 1 --backend bogus -p hi >/dev/null 2>&1 && fail "--backend bogus accepted" ||
    pass "--backend bogus rejected"
[ -f "$top_builddir/backend-cuda.so" ] || { finish; skip "backend-cuda.so not built (configure --enable-cuda)"; }
export RESA_BACKEND_PATH="$top_builddir"
"$RESA" backends || fail "resa backends"
"$RESA" backends | grep -q "compute capability" || { finish; skip "no usable GPU: $("$RESA" backends | tail -1)"; }
pass "resa backends reports a GPU"
"$top_builddir/tests/test_cuda" "$MODEL"
case $? in 0) pass "test_cuda" ;; 77) skip "test_cuda skipped" ;; *) fail "test_cuda" ;; esac
if command -v compute-sanitizer >/dev/null; then
    tmp=$(mktemp -d) || exit 99
    trap 'rm -rf "$tmp"' EXIT
    # blocks of 4 and a budget of 2: the sparse steps skip blocks
    for mode in dense sparse "resa --rect-every 4"; do
        # shellcheck disable=SC2086 # $mode carries resa's period
        if compute-sanitizer --tool memcheck --error-exitcode 3 --leak-check full \
            "$RESA" generate -m "$MODEL" --backend cuda --mode $mode --block-size 4 --min-blocks 2 \
            -n 24 -c 512 --temp 0 -p "Tell me about the sea and the ships on it." >"$tmp/memcheck.log" 2>&1 &&
            grep -q "ERROR SUMMARY: 0 errors" "$tmp/memcheck.log"; then
            pass "compute-sanitizer memcheck clean, mode $mode"
        else
            fail "compute-sanitizer memcheck, mode $mode:"
            tail -20 "$tmp/memcheck.log"
        fi
    done
else
    echo "# compute-sanitizer not found: memcheck not run"
fi
finish
