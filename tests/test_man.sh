#!/bin/sh
# SPDX-License-Identifier: MIT
# The manual pages are lint-clean: mandoc -T lint (style messages included)
# and groff -ww (every warning) say nothing about resa(1) and libresa(3).
. "${top_srcdir:-$(dirname "$0")/..}/tests/common.sh"
command -v mandoc >/dev/null || need "mandoc not found (Debian: mandoc)"
command -v groff >/dev/null || need "groff not found (Debian: groff-base)"
for page in "$top_srcdir/man/resa.1" "$top_srcdir/man/libresa.3"; do
    name=$(basename "$page")
    out=$(mandoc -T lint -W style "$page" 2>&1)
    [ -z "$out" ] && pass "mandoc -T lint $name" || { echo "$out"; fail "mandoc -T lint $name"; }
    out=$(groff -ww -z -man "$page" 2>&1)
    [ -z "$out" ] && pass "groff -ww $name" || { echo "$out"; fail "groff -ww $name"; }
done
finish
