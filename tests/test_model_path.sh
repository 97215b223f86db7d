#!/bin/sh
# SPDX-License-Identifier: MIT
# Default model lookup (docs/design.md §5.8): -m, RESA_MODEL, then
# $XDG_DATA_HOME/resa/models (~/.local/share/resa/models), $(datadir)/resa/models,
# and models/ of the build tree only for a program run from one. The program
# is copied out of its build tree to act as an installed one; no build path
# is compiled into it.
. "${top_srcdir:-$(dirname "$0")/..}/tests/common.sh"
[ -f "$MODEL" ] || need "model $MODEL not found (run models/fetch)"
real="$top_builddir/.libs/resa"        # the program behind libtool's wrapper
[ -x "$real" ] || real="$top_builddir/resa" # a static-only build has none
[ -x "$real" ] || { echo "$real not built"; exit 99; }
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
name=SmolLM2-135M-Instruct.Q4_1.gguf
mkdir -p "$tmp/bin" "$tmp/home/.local/share/resa/models" "$tmp/xdg/resa/models"
cp "$real" "$tmp/bin/resa"
# An uninstalled shared build finds libresa.so through this path.
LD_LIBRARY_PATH="$top_builddir/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH

# info [VAR=VALUE...]: the copied program's `resa info`, no RESA_MODEL or
# XDG_DATA_HOME unless given, HOME a fresh directory; output in $tmp/out, err.
info() { env -u RESA_MODEL -u XDG_DATA_HOME HOME="$tmp/home" "$@" "$tmp/bin/resa" info >"$tmp/out" 2>"$tmp/err"; }

if info; then fail "no model anywhere: info succeeded"; else
    rc=$?
    [ "$rc" = 1 ] && pass "no model anywhere: exit 1" || fail "no model anywhere: exit $rc, want 1"
    grep -q "$tmp/home/.local/share/resa/models" "$tmp/err" && grep -q "/share/resa/models" "$tmp/err" &&
        grep -q "resa fetch" "$tmp/err" && grep -q "RESA_MODEL" "$tmp/err" &&
        pass "the message names -m, RESA_MODEL, the data directories and resa fetch" ||
        fail "the message does not name the places searched: $(cat "$tmp/err")"
    [ "$(wc -l <"$tmp/err")" = 1 ] && pass "the message is one line" || fail "the message has $(wc -l <"$tmp/err") lines"
    ! grep -q "$top_builddir" "$tmp/err" && pass "no build tree searched outside it" ||
        fail "a program outside its build tree searched it: $(cat "$tmp/err")"
fi

ln -s "$MODEL" "$tmp/home/.local/share/resa/models/$name"
info && grep -q "^architecture: *llama" "$tmp/out" && pass "found in ~/.local/share/resa/models" ||
    fail "not found in ~/.local/share/resa/models: $(cat "$tmp/err")"

ln -s "$MODEL" "$tmp/xdg/resa/models/$name"
rm "$tmp/home/.local/share/resa/models/$name"
info XDG_DATA_HOME="$tmp/xdg" && pass "found in \$XDG_DATA_HOME/resa/models" ||
    fail "not found in \$XDG_DATA_HOME/resa/models: $(cat "$tmp/err")"
# The XDG base directory rules ignore a relative XDG_DATA_HOME.
(cd "$tmp" && info XDG_DATA_HOME=xdg) && fail "a relative XDG_DATA_HOME was used" ||
    pass "a relative XDG_DATA_HOME is ignored"

info RESA_MODEL="$tmp/none.gguf" XDG_DATA_HOME="$tmp/xdg" && fail "a missing RESA_MODEL was passed over" ||
    { grep -q "$tmp/none.gguf" "$tmp/err" && pass "RESA_MODEL comes before the data directories" ||
        fail "RESA_MODEL was not used: $(cat "$tmp/err")"; }

# The build tree: its own models/ or its parent's (a build/ in the checkout).
if [ -f "$top_builddir/models/$name" ] || [ -f "$top_builddir/../models/$name" ]; then
    env -u RESA_MODEL XDG_DATA_HOME="$tmp/empty" HOME="$tmp/empty" "$RESA" info >"$tmp/out" 2>"$tmp/err" &&
        pass "an uninstalled program finds the model of its build tree" ||
        fail "an uninstalled program did not find its tree's model: $(cat "$tmp/err")"
else
    echo "# no models/$name beside the build tree ($top_builddir): that lookup not exercised"
fi

# No build directory in the program or the library (debug information aside:
# it names the compilation directory, and packages strip it).
for f in "$real" "$top_builddir/.libs/libresa.so"; do
    [ -f "$f" ] || continue
    objcopy --strip-debug "$f" "$tmp/stripped" 2>/dev/null || { echo "# objcopy failed on $f"; continue; }
    if grep -a -q -e "$top_builddir" -e "$top_srcdir" "$tmp/stripped"; then
        fail "$(basename "$f") contains a build path"
    else
        pass "$(basename "$f") contains no build path"
    fi
done
finish
