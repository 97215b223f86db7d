#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
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

At the first difference both engines saw the same tokens, so the script
also prints llama.cpp's log-prob gap between its choice and resa's (a near-
tie when small: a flip that rounding alone can cause).

Summary line:  greedy: 5 prompts, 5 identical (32/32 tokens)
(the parenthesis gives the shortest common prefix / the longest reference).

Exit status: 0 when at least --min-identical (default 4) continuations are
identical (or, with --tie-margin M > 0, first differ at a gap <= M nats) and
every prompt tokenized identically; 1 otherwise; 77 (skip) when llama_cpp or
numpy cannot be imported, 99 instead when RESA_REQUIRE_REFERENCE=1.

Calibration: llama.cpp with flash attention on, and an exact float64
evaluation of the model, each give 3 of these 5 continuations identical to
llama.cpp's default (flash attention off): prompts 2 and 5 hit near-ties
(gaps < 0.1 nats) at tokens 11 and 10.
"""

import argparse
import json
import os
import subprocess
import sys

SKIP, HARD_ERROR = 77, 99

try:
    import numpy as np
    from llama_ref import LlamaRef  # needs numpy
except ImportError:
    np = None

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



def greedy(ref, prompt_ids, n):
    """Argmax continuation; stops before an end-of-generation token.
    Returns the ids and, for every step taken (the final end-of-generation
    step included), llama.cpp's log-softmax row and its choice."""
    ref.clear()
    ref.decode(prompt_ids)
    out, steps = [], []
    pos = len(prompt_ids)
    while len(out) < n:
        row = ref.last_logits().astype(np.float64)
        tok = int(row.argmax())
        row -= row.max()
        steps.append((row - np.log(np.exp(row).sum()), tok))
        if ref.is_eog(tok):
            break
        out.append(tok)
        if len(out) < n:
            ref.decode([tok], pos0=pos)
            pos += 1
    return out, steps


def run_resa(args, prompt):
    cmd = [args.resa, "generate", "-m", args.model, "-p", prompt, "-n", str(args.n),
           "--temp", "0", "--json"] + args.resa_args.split()
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
    ap.add_argument("--tie-margin", type=float, default=0.0,
                    help="also accept a continuation whose first difference is a token "
                         "that llama.cpp ranks within this many nats of its own choice "
                         "(default 0: identical only)")
    ap.add_argument("--prompts-file", help="one prompt per line, replaces the built-in five")
    ap.add_argument("--n-ctx", type=int, default=512,
                    help="llama.cpp's context; prompt + n must fit (default 512)")
    ap.add_argument("--resa-args", default="",
                    help="extra arguments for resa generate, split on spaces (e.g. '--mode dense')")
    ap.add_argument("--timeout", type=int, default=600)
    args = ap.parse_args()

    try:
        import llama_cpp
    except ImportError as e:
        skip_or_require("llama_cpp is not importable (%s)" % e)
    if np is None:
        skip_or_require("numpy is not importable")
    if not os.path.exists(args.model):
        die("model not found: %s" % args.model)
    if not os.access(args.resa, os.X_OK):
        die("not an executable: %s" % args.resa)

    prompts = PROMPTS
    if args.prompts_file:
        with open(args.prompts_file, encoding="utf-8") as f:
            prompts = [l.rstrip("\n") for l in f if l.strip()]

    try:
        ref = LlamaRef(llama_cpp, args.model, n_ctx=args.n_ctx, threads=args.ref_threads)
    except RuntimeError as e:
        die(str(e))
    print("reference: llama.cpp (%s), argmax of raw logits (no samplers); add_bos=%s"
          % (ref.settings, ref.add_bos))

    identical = 0
    near_tie = 0
    tok_fail = 0
    min_common = None
    max_len = 0
    for i, prompt in enumerate(prompts):
        pids = ref.tokenize(prompt.encode("utf-8"))
        if len(pids) + args.n > args.n_ctx:
            die("prompt %d is too long (%d tokens)" % (i + 1, len(pids)))
        want, steps = greedy(ref, pids, args.n)
        got_json = run_resa(args, prompt)
        rp = got_json.get("prompt_tokens")
        raw = [int(t) for t in got_json.get("tokens", [])]
        # Cut resa's list at its first end-of-generation token.
        got = raw
        for j, t in enumerate(raw):
            if ref.is_eog(t):
                got = raw[:j]
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
        # At the first difference both saw the same context: how far below
        # llama.cpp's choice does llama.cpp rank resa's choice (nats)?
        gap = None
        if not same and common < len(steps) and common < len(raw):
            lp, choice = steps[common]
            gap = float(lp[choice] - lp[raw[common]])
            if args.tie_margin > 0 and gap <= args.tie_margin:
                near_tie += 1
        min_common = common if min_common is None else min(min_common, common)
        max_len = max(max_len, len(want))
        print("  prompt %d (%d tokens%s): %s, %d/%d leading tokens identical%s"
              % (i + 1, len(pids), "" if tok_ok else ", PROMPT TOKENS DIFFER",
                 "identical" if same else "DIFFERENT", common, len(want),
                 "" if len(got) == len(want) else " (resa %d tokens)" % len(got)))
        if not tok_ok:
            print("    llama.cpp prompt ids: %s" % pids)
            print("    resa prompt_tokens:   %s" % rp)
        if not same:
            print("    first difference at generated token %d: llama.cpp %s, resa %s%s"
                  % (common, want[common] if common < len(want) else "<end>",
                     got[common] if common < len(got) else "<end>",
                     "" if gap is None else
                     " (llama.cpp log-prob gap %.4f nats)" % gap))
            print("    llama.cpp: %r" % ref.detokenize(want).decode("utf-8", "replace"))
            print("    resa:      %r" % got_json.get("text"))

    n = len(prompts)
    extra = ""
    if args.tie_margin > 0:
        extra = ", %d diverge at a near-tie (<= %g nats)" % (near_tie, args.tie_margin)
    print("greedy: %d prompts, %d identical (%d/%d tokens)%s"
          % (n, identical, min_common or 0, max_len, extra))
    ok = identical + near_tie >= min(args.min_identical, n) and tok_fail == 0
    if tok_fail:
        print("compare_greedy: FAIL: %d prompt(s) tokenized differently" % tok_fail)
    elif not ok:
        print("compare_greedy: FAIL: need at least %d identical continuations"
              % args.min_identical)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
