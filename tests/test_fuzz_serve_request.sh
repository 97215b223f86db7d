#!/bin/sh
# SPDX-License-Identifier: MIT
# Mutated request bodies through resa serve's parser (tests/fuzz/fuzz_serve_request.c
# without libFuzzer): no crash, every rejection a 4xx with a message.
# RESA_FUZZ_SEED repeats a run.
. "${top_srcdir:-$(dirname "$0")/..}/tests/common.sh"
[ -x "$top_builddir/tests/fuzz_serve_request" ] || need "built without server support"
exec "$top_builddir/tests/fuzz_serve_request" 20000 ${RESA_FUZZ_SEED:-}
