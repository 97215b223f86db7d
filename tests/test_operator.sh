#!/bin/sh
# SPDX-License-Identifier: MIT
# What an operator or packager trips on: --version, a command line without
# its subcommand, -t above the CPU count, Ctrl-C during generate (the summary,
# valid JSON with --json, exit 130), `resa fetch --help`.
. "${top_srcdir:-$(dirname "$0")/..}/tests/common.sh"
[ -f "$MODEL" ] || need "model $MODEL not found (run models/fetch)"
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT

want=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$top_builddir/config.h")
[ "$("$RESA" --version)" = "resa $want" ] && pass "--version prints resa $want" ||
    fail "--version printed '$("$RESA" --version)', want 'resa $want'"

"$RESA" -m "$MODEL" -p hello >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 2 ] && grep -q "resa generate -m" "$tmp/err" && pass "options without a command suggest resa generate" ||
    fail "resa -m X -p Y: exit $rc, '$(cat "$tmp/err")'"

n_cpus=$(getconf _NPROCESSORS_ONLN)
"$RESA" generate -m "$MODEL" -p hi -n 1 --temp 0 -t $((n_cpus + 1)) >/dev/null 2>"$tmp/err" &&
    grep -q "warning: -t $((n_cpus + 1)) is more than the $n_cpus online CPUs" "$tmp/err" &&
    pass "-t above the CPU count warns and runs" || fail "-t $((n_cpus + 1)): $(cat "$tmp/err")"
"$RESA" generate -m "$MODEL" -p hi -n 1 --temp 0 -t "$n_cpus" >/dev/null 2>"$tmp/err" &&
    ! grep -q warning "$tmp/err" && pass "-t at the CPU count does not warn" || fail "-t $n_cpus: $(cat "$tmp/err")"

# Ctrl-C: SIGINT a second into a generation that would take minutes (a
# greedy count to thousands, which no end of turn stops). Whether it lands in
# the model load, the prefill or the decode, the run ends with its summary.
# env --default-signal: a background job of a script starts with SIGINT
# ignored, and resa (rightly) leaves an ignored SIGINT so.
long="-m $MODEL -p 1,2,3,4,5,6,7,8,9,10, -n 8000 -c 8192 --temp 0 -t 1"
for json in "" --json; do
    # shellcheck disable=SC2086 # $long is a list of arguments
    env --default-signal=INT "$RESA" generate $long $json >"$tmp/out" 2>"$tmp/err" &
    pid=$!
    sleep 1
    kill -INT "$pid"
    wait "$pid"
    rc=$?
    what="Ctrl-C during generate${json:+ $json}"
    [ "$rc" = 130 ] && pass "$what: exit 130" || fail "$what: exit $rc, want 130"
    grep -q "^resa: prompt .*stop: interrupted" "$tmp/err" && pass "$what: the timing summary" ||
        fail "$what: no summary: $(cat "$tmp/err")"
    if [ -n "$json" ]; then
        "$PYTHON" -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["stop"] == "interrupted", d' \
            "$tmp/out" 2>"$tmp/py" && pass "$what: valid JSON, stop interrupted" ||
            fail "$what: $(cat "$tmp/py") in $(head -c 300 "$tmp/out")"
    fi
done

# An ignored SIGINT (nohup, a script's background job) stays ignored: the
# run goes on until it is terminated.
# shellcheck disable=SC2086
"$RESA" generate $long >"$tmp/out" 2>"$tmp/err" &
pid=$!
sleep 1
kill -INT "$pid"
sleep 1
if kill -TERM "$pid" 2>/dev/null; then pass "an ignored SIGINT stays ignored"; else
    fail "SIGINT ignored on entry ended the run: $(cat "$tmp/err")"
fi
wait "$pid"

"$RESA" fetch --help >"$tmp/out" && grep -q "resa fetch" "$tmp/out" && pass "fetch --help" || fail "fetch --help"
"$RESA" fetch --bogus 2>"$tmp/err"
rc=$?
[ "$rc" = 2 ] && pass "fetch: a bad argument is exit 2" || fail "fetch --bogus: exit $rc"
finish
