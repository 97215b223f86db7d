#!/bin/sh
# SPDX-License-Identifier: MIT
# Tokenizer unit tests on the real model's vocabulary.
. "${top_srcdir:-$(dirname "$0")/..}/tests/common.sh"
[ -f "$MODEL" ] || need "model $MODEL not found (run models/fetch)"
exec "$top_builddir/tests/test_tokenizer" "$MODEL"
