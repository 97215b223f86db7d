#!/bin/sh
# SPDX-License-Identifier: MIT
# Random mutations and truncations of the real model's header
# (tests/fuzz/mutate_gguf.c, a driver without libFuzzer): no crash, and every
# rejection comes with a message. RESA_FUZZ_SEED repeats a run.
. "${top_srcdir:-$(dirname "$0")/..}/tests/common.sh"
[ -f "$MODEL" ] || need "model $MODEL not found (run models/fetch)"
exec "$top_builddir/tests/fuzz/mutate_gguf" "$MODEL" 3000 ${RESA_FUZZ_SEED:-}
