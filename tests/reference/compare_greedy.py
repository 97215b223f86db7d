#!/usr/bin/env python3
"""Greedy continuation comparison: `resa generate` against llama.cpp.

Five short real-text prompts (sentences from the Python 3.11 documentation,
fixed, so the choice is deterministic; --prompts-file replaces them, one per
line) are continued greedily for --n tokens (default 32) by

  * llama.cpp (llama-cpp-python): the prompt is evaluated, then each next
    token is the argmax of the raw logits of the last position. No sampler
    chain is involved at all, so there is no repeat penalty, temperature,
    top-k/top-p/min-p or anything else; generation stops early at an
    end-of-generation token (not included).
  * resa: `resa generate -m MODEL -p TEXT -n N --temp 0 --json`, whose JSON
    holds prompt_tokens, tokens, text, prefill_tok_s, decode_tok_s. A
    trailing end-of-generation token in resa's list is cut off.

For each prompt the script checks that resa's prompt_tokens equal llama.cpp's
tokenization of the prompt (BOS added exactly when llama.cpp adds it for the
model), and reports the number of identical leading generated tokens.

Summary line:  greedy: 5 prompts, 5 identical (32/32 tokens)
(the parenthesis gives the shortest common prefix / the longest reference).

Exit status: 0 when at least --min-identical (default 4) continuations are
identical and every prompt tokenized identically; 1 otherwise; 77 (skip) when
llama_cpp cannot be imported, 99 instead when RESA_REQUIRE_REFERENCE=1.
"""

import argparse
import json
import os
import subprocess
import sys

SKIP, HARD_ERROR = 77, 99

# Real sentences from the Python 3.11 documentation (tutorial and library
# reference), in this order.
PROMPTS = [
    "Python is an easy to learn, powerful programming language. It has efficient "
    "high-level data structures and a simple but effective approach to "
    "object-oriented programming.",
    "If you do much work on computers, eventually you find that there's some task "
    "you'd like to automate.",
    "Besides the while statement just introduced, Python uses the usual control "
    "flow statements known from other languages, with some twists.",
    "The Python interpreter has a number of functions and types built into it that "
    "are always available.",
    "While The Python Language Reference describes the exact syntax and semantics "
    "of the Python language, this library reference manual describes the standard "
    "library that is distributed with Python.",
]


def skip_or_require(msg):
    if os.environ.get("RESA_REQUIRE_REFERENCE") == "1":
        print("compare_greedy: %s (RESA_REQUIRE_REFERENCE=1)" % msg, file=sys.stderr)
        sys.exit(HARD_ERROR)
    print("compare_greedy: SKIP: %s" % msg)
    sys.exit(SKIP)


def die(msg):
    print("compare_greedy: error: %s" % msg, file=sys.stderr)
    sys.exit(1)


def argmax(row):
    best, bi = row[0], 0
    for i in range(1, len(row)):
        if row[i] > best:
            best, bi = row[i], i
    return bi


class Reference:
    def __init__(self, llama_cpp, model, threads, n_ctx):
        self.lc = llama_cpp
        self.llm = llama_cpp.Llama(model_path=model, n_ctx=n_ctx, n_batch=512,
                                   logits_all=True, n_threads=threads,
                                   n_threads_batch=threads, verbose=False)
        self.vocab = llama_cpp.llama_model_get_vocab(self.llm.model)
        self.add_bos = bool(llama_cpp.llama_vocab_get_add_bos(self.vocab))

    def tokenize(self, text):
        return [int(t) for t in self.llm.tokenize(text.encode("utf-8"), add_bos=True,
                                                  special=False)]

    def is_eog(self, tok):
        return bool(self.lc.llama_vocab_is_eog(self.vocab, tok))

    def greedy(self, prompt_ids, n):
        llm = self.llm
        llm.reset()
        llm.eval(prompt_ids)
        out = []
        for _ in range(n):
            tok = int(llm.scores[llm.n_tokens - 1].argmax())
            if self.is_eog(tok):
                break
            out.append(tok)
            if len(out) < n:
                llm.eval([tok])
        return out

    def text(self, ids):
        return self.llm.detokenize(ids).decode("utf-8", errors="replace")


def run_resa(args, prompt):
    cmd = [args.resa, "generate", "-m", args.model, "-p", prompt, "-n", str(args.n),
           "--temp", "0", "--json"]
    if args.threads:
        cmd += ["-t", str(args.threads)]
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=args.timeout)
    except subprocess.TimeoutExpired:
        die("resa generate timed out after %d s" % args.timeout)
    if r.returncode != 0:
        die("resa generate failed (status %d): %s"
            % (r.returncode, (r.stderr.strip() or r.stdout.strip())[-500:]))
    out = r.stdout.strip()
    try:
        return json.loads(out)
    except ValueError:
        pass
    for line in reversed(out.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                break
    die("resa generate --json printed no JSON object: %r" % out[-300:])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--resa", required=True, help="path of the resa binary")
    ap.add_argument("-n", "--n", type=int, default=32, help="tokens to generate")
    ap.add_argument("--threads", type=int, default=0,
                    help="resa -t (default: resa's default)")
    ap.add_argument("--ref-threads", type=int, default=2)
    ap.add_argument("--min-identical", type=int, default=4)
    ap.add_argument("--prompts-file", help="one prompt per line, replaces the built-in five")
    ap.add_argument("--timeout", type=int, default=600)
    args = ap.parse_args()

    try:
        import llama_cpp
    except ImportError as e:
        skip_or_require("llama_cpp is not importable (%s)" % e)
    if not os.path.exists(args.model):
        die("model not found: %s" % args.model)
    if not os.access(args.resa, os.X_OK):
        die("not an executable: %s" % args.resa)

    prompts = PROMPTS
    if args.prompts_file:
        with open(args.prompts_file, encoding="utf-8") as f:
            prompts = [l.rstrip("\n") for l in f if l.strip()]

    ref = Reference(llama_cpp, args.model, args.ref_threads, n_ctx=512)
    print("reference: llama.cpp via llama-cpp-python %s, %d threads, argmax of raw logits "
          "(no samplers); add_bos=%s" % (llama_cpp.__version__, args.ref_threads, ref.add_bos))

    identical = 0
    tok_fail = 0
    min_common = None
    max_len = 0
    speeds = []
    for i, prompt in enumerate(prompts):
        pids = ref.tokenize(prompt)
        want = ref.greedy(pids, args.n)
        got_json = run_resa(args, prompt)
        rp = got_json.get("prompt_tokens")
        got = [int(t) for t in got_json.get("tokens", [])]
        # Cut resa's list at its first end-of-generation token.
        for j, t in enumerate(got):
            if ref.is_eog(t):
                got = got[:j]
                break
        if isinstance(rp, list):
            tok_ok = [int(t) for t in rp] == pids
        else:
            tok_ok = rp == len(pids)
        if not tok_ok:
            tok_fail += 1
        common = 0
        while common < min(len(want), len(got)) and want[common] == got[common]:
            common += 1
        same = want == got
        identical += same
        min_common = common if min_common is None else min(min_common, common)
        max_len = max(max_len, len(want))
        speeds.append((got_json.get("prefill_tok_s"), got_json.get("decode_tok_s")))
        print("  prompt %d (%d tokens%s): %s, %d/%d leading tokens identical%s"
              % (i + 1, len(pids), "" if tok_ok else ", PROMPT TOKENS DIFFER",
                 "identical" if same else "DIFFERENT", common, len(want),
                 "" if len(got) == len(want) else " (resa %d tokens)" % len(got)))
        if not tok_ok:
            print("    llama.cpp prompt ids: %s" % pids)
            print("    resa prompt_tokens:   %s" % rp)
        if not same:
            print("    first difference at generated token %d: llama.cpp %s, resa %s"
                  % (common, want[common] if common < len(want) else "<end>",
                     got[common] if common < len(got) else "<end>"))
            print("    llama.cpp: %r" % ref.text(want))
            print("    resa:      %r" % got_json.get("text", ref.text(got)))

    n = len(prompts)
    print("greedy: %d prompts, %d identical (%d/%d tokens)"
          % (n, identical, min_common or 0, max_len))
    ok = identical >= min(args.min_identical, n) and tok_fail == 0
    if tok_fail:
        print("compare_greedy: FAIL: %d prompt(s) tokenized differently" % tok_fail)
    elif not ok:
        print("compare_greedy: FAIL: need at least %d identical continuations"
              % args.min_identical)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
