#!/bin/sh
# SPDX-License-Identifier: MIT
# The same greedy tokens whatever SIMD tier runs the model: the engine with
# the tier capped at scalar and at every tier this CPU has (issue 3). Every
# float kernel computes one recipe in every tier (bit-identical, checked by
# the checksimd binaries), so any difference here is a dispatch or engine
# bug: a tier's kernel used for a shape it does not take, or state that
# depends on the tier.
. "${top_srcdir:-$(dirname "$0")/..}/tests/common.sh"
[ -f "$MODEL" ] || need "model $MODEL not found (run models/fetch)"

detected=$("$RESA" cpu | sed -n 's/^detected: *//p')
tiers=scalar
case " $detected " in *" avx2"*) tiers="$tiers avx2" ;; esac
case " $detected " in *" avx512 "*) tiers="$tiers avx512" ;; esac
case " $detected " in *" amx "*) tiers="$tiers avx512vnni" ;; esac # the same without AMX
case " $detected " in *" neon"*) tiers="$tiers neon" ;; esac
echo "tiers: $tiers"

tokens() { # tier prompt [mode]
    "$RESA" generate -m "$MODEL" -p "$2" -n 32 --temp 0 --json -t 2 --cpu "$1" \
        --mode "${3:-dense}" 2>/dev/null | sed -n 's/.*"tokens": \(\[[0-9, ]*\]\).*/\1/p'
}

for prompt in "The capital of France is" "def fibonacci(n):" \
    "Once upon a time, in a small village by the sea,"; do
    ref=$(tokens scalar "$prompt")
    [ -n "$ref" ] || { fail "scalar generation of '$prompt'"; continue; }
    for t in $tiers; do
        [ "$t" = scalar ] && continue
        got=$(tokens "$t" "$prompt")
        if [ "$got" = "$ref" ]; then
            pass "$t = scalar: '$prompt'"
        else
            fail "$t differs from scalar on '$prompt': $got vs $ref"
        fi
    done
done
# the ReSA path too (sparse steps, selection, rectification) over a longer run
long="Write a long story about a lighthouse keeper who finds a message in a bottle."
ref=$("$RESA" generate -m "$MODEL" -p "$long" -n 300 --temp 0 --json -t 2 --cpu scalar --min-blocks 4 \
    --rect-every 8 2>/dev/null | sed -n 's/.*"tokens": \(\[[0-9, ]*\]\).*/\1/p')
for t in $tiers; do
    [ "$t" = scalar ] && continue
    got=$("$RESA" generate -m "$MODEL" -p "$long" -n 300 --temp 0 --json -t 2 --cpu "$t" --min-blocks 4 \
        --rect-every 8 2>/dev/null | sed -n 's/.*"tokens": \(\[[0-9, ]*\]\).*/\1/p')
    if [ -n "$ref" ] && [ "$got" = "$ref" ]; then
        pass "$t = scalar in resa mode (300 tokens, min-blocks 4, f 8)"
    else
        fail "$t differs from scalar in resa mode: $got vs $ref"
    fi
done
finish
