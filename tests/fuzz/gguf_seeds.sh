#!/bin/sh
# SPDX-License-Identifier: MIT
# Writes the seeds of the GGUF fuzz target into DIR: two tiny models from
# tests/make_tiny_gguf.py (a plain one, and one with general.alignment 1 and
# a padded vocabulary). Generated, never tracked: model files stay out of git.
# usage: gguf_seeds.sh DIR   (PYTHON: an interpreter with the gguf package)
set -eu
dir=${1:?usage: gguf_seeds.sh DIR}
src=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$dir"
"${PYTHON:-python3}" "$src/tests/make_tiny_gguf.py" "$dir/tiny.gguf"
"${PYTHON:-python3}" "$src/tests/make_tiny_gguf.py" "$dir/tiny_align1_padded.gguf" --alignment 1 --vocab-pad 4
