#!/bin/sh
# SPDX-License-Identifier: MIT
# ReSA invariants on the real model (tests/test_resa.c).
. "${top_srcdir:-$(dirname "$0")/..}/tests/common.sh"
[ -f "$MODEL" ] || need "model $MODEL not found (run models/fetch)"
exec "$top_builddir/tests/test_resa" "$MODEL"
