#!/bin/sh
# SPDX-License-Identifier: MIT
# One model, engines and contexts in two threads (tests/test_threads.c); the
# test the ThreadSanitizer build runs (tools/test.sh).
. "${top_srcdir:-$(dirname "$0")/..}/tests/common.sh"
[ -f "$MODEL" ] || need "model $MODEL not found (run models/fetch)"
exec "$top_builddir/tests/test_threads" "$MODEL"
