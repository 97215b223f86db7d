#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/tokenizer_models.sh bpe|spm (run by test_tokenizer_bpe.sh and
# test_tokenizer_spm.sh, so a missing Gemma file is a SKIP of its own).
# Tokenizers of other model families against llama.cpp's (llama-cpp-python),
# on the reference corpus (tests/reference/corpus.py), plain and with special
# tokens parsed:
#   - SentencePiece: Gemma 3 270M (models/fetch gemma3); SKIP when absent.
#   - byte-level BPE pre-tokenizers llama-bpe (Llama 3) and gpt-2: SmolLM2's
#     real vocabulary and merges under those pre-tokenizer names.
# Each is a metadata-only copy (tests/reference/vocab_gguf.py), so tensor
# types or architectures resa cannot run yet do not stop the comparison.
# Then the chat templates (tests/reference/compare_chat.py: the published
# Jinja templates rendered by jinja2, tokenized by llama.cpp): bpe checks
# ChatML (SmolLM2's own template) and Llama 3 (SmolLM2's vocabulary with
# Llama 3's control tokens added); spm checks Gemma and Mistral v0.3 (Gemma's
# vocabulary, with [INST] and [/INST] added as control tokens for Mistral).
. "${top_srcdir:-$(dirname "$0")/..}/tests/common.sh"
refdir="$top_srcdir/tests/reference"
GEMMA="${RESA_GEMMA_MODEL:-$top_srcdir/models/gemma-3-270m-q4_k_m.gguf}"
"$PYTHON" -c "import llama_cpp, gguf, jinja2" 2>/dev/null || need "llama_cpp, gguf or jinja2 not importable by $PYTHON"
kind=$1
if [ "$kind" = spm ] && [ ! -f "$GEMMA" ]; then
    # an optional download (tools/setup.sh fetches it with RESA_FETCH_GEMMA=1), not a
    # missing reference: a skip even under RESA_REQUIRE_REFERENCE
    echo "SKIP: spm gemma3: $GEMMA not found (run models/fetch gemma3)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PYTHON" "$refdir/corpus.py" "$tmp/corpus.txt" 2>/dev/null || { echo "corpus.py failed"; exit 99; }

compare() { # name model [compare_tokenize options]
    name=$1 model=$2
    shift 2
    if "$PYTHON" "$refdir/compare_tokenize.py" --model "$model" --corpus "$tmp/corpus.txt" \
        --driver "$top_builddir/tests/tokenize_lines" "$@" >"$tmp/out" 2>&1; then
        pass "$name: $(grep '^tokenize' "$tmp/out" | tail -n 1)"
    else
        cat "$tmp/out"
        fail "$name"
    fi
}

chat() { # family model [compare_chat options]
    family=$1 model=$2
    shift 2
    if "$PYTHON" "$refdir/compare_chat.py" --driver "$top_builddir/tests/chat_tokenize" --model "$model" \
        --family "$family" "$@" >"$tmp/out" 2>&1; then
        pass "$(grep '^chat' "$tmp/out" | tail -n 1)"
    else
        cat "$tmp/out"
        fail "$name"
    fi
}

[ "$kind" = spm ] || for pre in llama-bpe gpt-2; do
    if [ -f "$MODEL" ]; then
        "$PYTHON" "$refdir/vocab_gguf.py" "$MODEL" "$tmp/$pre.gguf" --set tokenizer.ggml.pre=$pre
        compare "bpe $pre" "$tmp/$pre.gguf"
        compare "bpe $pre --special" "$tmp/$pre.gguf" --special
        [ $pre = gpt-2 ] || continue
        chat chatml "$MODEL" --template-from-model
        "$PYTHON" "$refdir/vocab_gguf.py" "$MODEL" "$tmp/llama3.gguf" --set tokenizer.ggml.pre=llama-bpe \
            --add-control '<|start_header_id|>' --add-control '<|end_header_id|>' --add-control '<|eot_id|>'
        chat llama3 "$tmp/llama3.gguf"
    else
        echo "SKIP: bpe $pre: $MODEL not found (run models/fetch)"
    fi
done
if [ "$kind" = bpe ]; then
    :
elif [ -f "$GEMMA" ]; then
    "$PYTHON" "$refdir/vocab_gguf.py" "$GEMMA" "$tmp/gemma.gguf"
    compare "spm gemma3" "$tmp/gemma.gguf"
    compare "spm gemma3 --special" "$tmp/gemma.gguf" --special --chat-tokens '<start_of_turn>,<end_of_turn>,<eos>'
    chat gemma "$tmp/gemma.gguf"
    "$PYTHON" "$refdir/vocab_gguf.py" "$tmp/gemma.gguf" "$tmp/mistral.gguf" --add-control '[INST]' --add-control '[/INST]'
    chat mistral "$tmp/mistral.gguf"
else
    echo "SKIP: spm gemma3: $GEMMA not found (run models/fetch gemma3)"
fi
[ $n_pass -gt 0 ] || need "no model to compare"
finish
