#!/bin/sh
# SPDX-License-Identifier: MIT
# resa_context_set_mode / resa_context_truncate on the real model (tests/test_context.c).
. "${top_srcdir:-$(dirname "$0")/..}/tests/common.sh"
[ -f "$MODEL" ] || need "model $MODEL not found (run models/fetch)"
exec "$top_builddir/tests/test_context" "$MODEL"
