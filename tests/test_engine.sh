#!/bin/sh
# SPDX-License-Identifier: MIT
# Many sequences per step: batch invariance, page reuse (tests/test_engine.c).
. "${top_srcdir:-$(dirname "$0")/..}/tests/common.sh"
[ -f "$MODEL" ] || need "model $MODEL not found (run models/fetch)"
exec "$top_builddir/tests/test_engine" "$MODEL"
