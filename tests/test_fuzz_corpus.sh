#!/bin/sh
# SPDX-License-Identifier: MIT
# The fuzz targets (tests/fuzz/) replay their seed corpus once, built
# without libFuzzer: the properties they check hold on every seed.
. "${top_srcdir:-$(dirname "$0")/..}/tests/common.sh"
[ -f "$MODEL" ] || need "model $MODEL not found (run models/fetch)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
PYTHON="$PYTHON" sh "$top_srcdir/tests/fuzz/gguf_seeds.sh" "$tmp/gguf" >/dev/null || fail "gguf_seeds.sh"
for t in gguf tokenizer chat serve_request; do
    corpus="$top_srcdir/tests/fuzz/corpus/$t"
    [ "$t" = gguf ] && corpus="$tmp/gguf" # generated seeds (tests/fuzz/gguf_seeds.sh)
    if [ "$t" = serve_request ] && [ ! -x "$top_builddir/tests/fuzz/fuzz_$t" ]; then
        echo "skip: fuzz_$t not built (configure found no libmicrohttpd or jansson: no resa serve)"
        continue
    fi
    if out=$(RESA_FUZZ_MODEL="$MODEL" "$top_builddir/tests/fuzz/fuzz_$t" "$corpus" 2>&1); then
        pass "fuzz_$t: $out"
    else
        fail "fuzz_$t: $out"
    fi
done
finish
