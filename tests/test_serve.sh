#!/bin/sh
# SPDX-License-Identifier: MIT
# resa serve end to end (docs/design.md §8): live servers on free loopback
# ports, checked by tests/serve_client.py (standard library only) and
# tests/serve_openai.py (the official openai client): every
# endpoint, SSE framing, greedy output of concurrent requests = alone =
# resa generate, 4xx for bad requests, 401/503, disconnects freeing slots,
# 64 concurrent clients without errors or leaks, SIGTERM exiting 0.
# SERVE_CHECKS picks a subset (tools/test.sh: all but "load" under ASan, whose
# quarantine defeats the RSS bound; "load limits" under ThreadSanitizer).
. "${top_srcdir:-$(dirname "$0")/..}/tests/common.sh"
[ -f "$MODEL" ] || need "model $MODEL not found (run models/fetch)"
"$RESA" serve --help >/dev/null || { echo "resa serve --help failed"; exit 1; }
if "$RESA" serve --help | grep -q "no server support"; then
    need "resa was built without server support (libmicrohttpd, jansson)"
fi
checks="${SERVE_CHECKS:-api openai errors limits load sigterm}"
client="$top_srcdir/tests/serve_client.py"
tmp=$(mktemp -d)
pids=
cleanup() {
    for p in $pids; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# start NAME ARGS...: a server on a free port (--port 0); sets port and pid
start() {
    name=$1; shift
    "$RESA" serve -m "$MODEL" --port 0 -t 2 "$@" 2>"$tmp/$name.log" &
    pid=$!
    pids="$pids $pid"
    i=0
    while ! grep -q "listening on" "$tmp/$name.log"; do
        i=$((i + 1))
        if [ $i -gt 600 ] || ! kill -0 "$pid" 2>/dev/null; then
            cat "$tmp/$name.log"; fail "server $name did not start"; return 1
        fi
        sleep 0.1
    done
    port=$(sed -n 's/.*listening on http:[^ ]*:\([0-9]*\) .*/\1/p' "$tmp/$name.log")
}

# client CHECK ARGS...: runs the Python checks, counts their lines
client() {
    if "$PYTHON" "$client" "$@" >"$tmp/out" 2>&1; then :; fi
    cat "$tmp/out"
    n_pass=$((n_pass + $(grep -c '^ok - ' "$tmp/out")))
    n_fail=$((n_fail + $(grep -c '^not ok - ' "$tmp/out")))
    if grep -q Traceback "$tmp/out"; then fail "client $1 crashed"; fi
}

for c in $checks; do
    case $c in
    api|errors)
        start "$c" --parallel 4 --ctx-per-seq 512 || continue
        client "$c" "$port" "$RESA" "$MODEL" ;;
    openai)
        start openai --parallel 4 --ctx-per-seq 512 || continue
        "$PYTHON" "$top_srcdir/tests/serve_openai.py" "$port" "$RESA" "$MODEL" >"$tmp/out" 2>&1
        rc=$?
        cat "$tmp/out"
        n_pass=$((n_pass + $(grep -c '^ok - ' "$tmp/out")))
        n_fail=$((n_fail + $(grep -c '^not ok - ' "$tmp/out")))
        case $rc in 0) ;; 77) echo "skip: openai checks (client not installed)" ;;
            *) grep -q '^not ok - ' "$tmp/out" || fail "openai checks: exit $rc" ;; esac ;;
    limits)
        start limits --parallel 1 --queue 1 --api-key sekrit --ctx-per-seq 512 --mode dense || continue
        client limits "$port" sekrit ;;
    load)
        start load --parallel 8 --queue 64 --ctx-per-seq 256 || continue
        client load "$port" "$pid" "${SERVE_LOAD_CLIENTS:-64}" ;;
    sigterm)
        start sigterm --parallel 2 --ctx-per-seq 512 || continue
        client sigterm "$port" "$pid"
        t=0
        while kill -0 "$pid" 2>/dev/null && [ $t -lt 150 ]; do sleep 0.1; t=$((t + 1)); done
        if kill -0 "$pid" 2>/dev/null; then
            fail "SIGTERM: the server still runs after 15 s"
        elif wait "$pid"; then
            pass "SIGTERM: the server exited 0 within 15 s"
        else
            fail "SIGTERM: the server exited non-zero"
        fi ;;
    esac
    [ "$c" = sigterm ] || { kill "$pid"; wait "$pid" 2>/dev/null; }
done
finish
