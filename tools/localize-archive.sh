#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs libtool's link of a library, then turns the static archive it built
# into one relocatable object whose hidden symbols are local, so that
# libresa.a, like libresa.so, defines only the RESA_API functions
# (docs/design.md §3.10): a program linking it with llama.cpp's libggml (which
# also defines gguf_*) gets no clash, and none of its internal names can
# leak into the program. The internal functions are already hidden
# (-fvisibility=hidden, configure.ac); in an archive of separate objects
# they must stay global to link with each other, in one object they need
# not. tests/test_exports.sh checks the result.
# Usage (Makefile.am's libresa_la_LINK): localize-archive.sh LIB.la LINK-COMMAND...
# Environment: LD, OBJCOPY, AR, RANLIB, configure's (the host's tools in a
# cross build).
set -eu
la=$1
shift
"$@"
# old_library is empty when no static library was built (--disable-static).
old=$(sed -n "s/^old_library='\(.*\)'$/\1/p" "$la")
[ -n "$old" ] || exit 0
objdir=$(dirname "$la")/.libs
archive=$objdir/$old
object=$objdir/${old%.a}.o
# shellcheck disable=SC2086 # LD is a command with options (-m elf_x86_64)
$LD -r --whole-archive "$archive" --no-whole-archive -o "$object"
$OBJCOPY --localize-hidden "$object"
rm -f "$archive"
$AR cr "$archive" "$object"
$RANLIB "$archive"
rm -f "$object"
