#!/bin/sh
# SPDX-License-Identifier: MIT
# See tests/tokenizer_models.sh.
exec sh "${top_srcdir:-$(dirname "$0")/..}/tests/tokenizer_models.sh" bpe
