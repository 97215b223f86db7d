#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs one libFuzzer target of fuzz-build/ (make fuzz) for a bounded time on
# its seed corpus, single process, and prints libFuzzer's last stats line.
#   tests/fuzz/run.sh BUILDDIR TARGET SECONDS [libFuzzer options...]
# New inputs go to BUILDDIR/fuzz-corpus/TARGET (the tree's corpus stays as
# it is); a crash leaves BUILDDIR/fuzz-crash-TARGET-* and exits non-zero.
set -u
builddir=$1 target=$2 seconds=$3
shift 3
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
bin="$builddir/fuzz-build/tests/fuzz/fuzz_$target"
[ -x "$bin" ] || { echo "run.sh: $bin not built (make fuzz)" >&2; exit 2; }
work="$builddir/fuzz-corpus/$target"
mkdir -p "$work"
# detect_leaks: the targets free everything; max_len: the tiny model fits
# (about 40 KB), text targets need less.
case $target in gguf) max_len=65536 ;; *) max_len=4096 ;; esac
seeds="$srcdir/tests/fuzz/corpus/$target"
if [ "$target" = gguf ]; then # generated, not tracked (tests/fuzz/gguf_seeds.sh)
    seeds="$builddir/fuzz-seeds/gguf"
    sh "$srcdir/tests/fuzz/gguf_seeds.sh" "$seeds" >/dev/null || { echo "run.sh: gguf_seeds.sh failed" >&2; exit 2; }
fi
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
"$bin" -max_total_time="$seconds" -max_len=$max_len -timeout=60 -rss_limit_mb=2048 \
    -artifact_prefix="$builddir/fuzz-crash-$target-" -print_final_stats=1 "$@" \
    "$work" "$seeds" >"$builddir/fuzz-$target.log" 2>&1
rc=$?
grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$builddir/fuzz-$target.log" | tail -n 1
grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$builddir/fuzz-$target.log"
if [ "$rc" -ne 0 ]; then
    tail -n 40 "$builddir/fuzz-$target.log"
    echo "run.sh: fuzz_$target failed (exit $rc); log $builddir/fuzz-$target.log"
fi
exit "$rc"
