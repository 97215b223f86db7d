# SPDX-License-Identifier: MIT
# Shared by the shell tests: where things are, and how to report.
# The harness exports top_srcdir/top_builddir (absolute); default to cwd.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$(pwd)}"
RESA="$top_builddir/resa"
MODEL="${RESA_MODEL:-$top_srcdir/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
PYTHON="${PYTHON:-python3}"
n_pass=0
n_fail=0

pass() { n_pass=$((n_pass + 1)); echo "ok - $*"; }
fail() { n_fail=$((n_fail + 1)); echo "not ok - $*"; }

# A test that needs something missing: skip (77), unless CI demands it (99).
need() {
    echo "skip: $*"
    if [ "${RESA_REQUIRE_REFERENCE:-0}" = 1 ]; then exit 99; fi
    exit 77
}

finish() {
    echo "$n_pass passed, $n_fail failed"
    [ "$n_fail" -eq 0 ]
}
