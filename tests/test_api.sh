#!/bin/sh
# SPDX-License-Identifier: MIT
# The public API under misuse: NULL arguments, a model freed before its
# contexts, control tokens in chat messages (tests/test_api.c).
. "${top_srcdir:-$(dirname "$0")/..}/tests/common.sh"
[ -f "$MODEL" ] || need "model $MODEL not found (run models/fetch)"
exec "$top_builddir/tests/test_api" "$MODEL"
