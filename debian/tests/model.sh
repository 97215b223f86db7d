# SPDX-License-Identifier: MIT
# Sourced by the tests: the model to run. $RESA_MODEL when given (CI passes
# the one it already has); otherwise `resa fetch` downloads the default model
# into a fresh $XDG_DATA_HOME, where the installed resa must then find it
# without -m. Sets $model and $tmp.
tmp=${AUTOPKGTEST_TMP:-$(mktemp -d)}
if [ -n "${RESA_MODEL:-}" ]; then
    model=$RESA_MODEL
else
    XDG_DATA_HOME="$tmp/data"
    export XDG_DATA_HOME
    resa fetch
    model="$XDG_DATA_HOME/resa/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    resa info | grep -q '^architecture: *llama' || { echo "resa did not find the fetched model without -m"; exit 1; }
fi
[ -r "$model" ] || { echo "no model at $model"; exit 1; }
