#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Compares resa's tokenizer with llama.cpp's (llama-cpp-python), line by line:

    compare_tokenize.py --model M --corpus FILE --driver PATH/tokenize_lines
                        [--min-lines 2000] [--special]

Each line of the corpus, with its '\\n', is tokenized by the driver
(tests/tokenize_lines) and by llama.cpp (vocab only, no BOS), and the ids
must be identical. A few lines that the corpus cannot hold (invalid UTF-8)
are compared too.

--special: parse_special on both sides, on the corpus lines wrapped in
ChatML (or the tokens of --chat-tokens) (a system turn, then user turns of a few corpus lines each, with the
special tokens at line starts, line ends and inside lines).

Prints the first 10 mismatches and a summary line
"tokenize: N lines, M identical, K mismatched". Exit status: 0 when all are
identical and N >= --min-lines, 1 otherwise, 77 when llama_cpp cannot be
imported (99 instead when RESA_REQUIRE_REFERENCE=1), 99 when the driver or
llama.cpp cannot be run.
"""
import argparse
import os
import subprocess
import sys
import tempfile

SHOW = 10

# Not valid UTF-8, so not in the corpus: llama.cpp reads each bad byte as
# U+FFFD, as resa does. Nothing here decodes above U+10FFFF, which llama.cpp
# cannot handle at all. Overlong forms and surrogate halves are left out on
# purpose: llama.cpp decodes them to the code point they spell (C0 80 to NUL),
# resa to U+FFFD (docs/design.md §5.6; tests/test_hardening.sh checks it).
EXTRA_LINES = [
    b"lone continuation \x80 byte\n",
    b"truncated \xe2\x82 euro and \xf0\x9f\x98 emoji\n",
    b"ends in a lead byte \xc3\n",
    b"invalid bytes \xff\xfe \xf8\x88\x80\x80\x80 \xc0\n",
    b"latin-1 caf\xe9 na\xefve\n",
    b"\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f\n",
    b"mixed \xe2\x82\xac\xe2\x82 \xe2\x82\xac\n",
    b"\xef\xbf\xbd real replacement character\n",
    b"nul \x00 inside\n",
]

SYSTEM = "You are a helpful assistant."
CHATML = ("<|im_start|>", "<|im_end|>", "<|endoftext|>")


def fail(status, msg):
    print("compare_tokenize: " + msg, file=sys.stderr)
    sys.exit(status)


def import_llama():
    try:
        import llama_cpp
        return llama_cpp
    except ImportError as e:
        if os.environ.get("RESA_REQUIRE_REFERENCE") == "1":
            fail(99, "llama_cpp not importable (RESA_REQUIRE_REFERENCE=1): %s" % e)
        print("compare_tokenize: SKIP: llama_cpp not importable: %s" % e)
        sys.exit(77)


def read_lines(path):
    """Lines ending at '\n' only (bytes.splitlines would also cut at '\r')."""
    with open(path, "rb") as f:
        data = f.read()
    lines = [l + b"\n" for l in data.split(b"\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def chatml_lines(corpus, tokens=CHATML):
    """The corpus as ChatML conversations, one line per output line; tokens
    (start of turn, end of turn, end of text) name another family's."""
    s, e, x = (t.encode() for t in tokens)
    out = [s + b"system\n", SYSTEM.encode() + e + b"\n"]
    texts = [l.rstrip(b"\r\n") for l in corpus]
    for i in range(0, len(texts), 3):
        turn = texts[i:i + 3]
        out.append(s + b"user\n")
        out += [t + b"\n" for t in turn[:-1]]
        out.append(turn[-1] + e + b"\n")
        # special tokens inside lines, next to spaces, and near-misses
        variant = (i // 3) % 4
        if variant == 0:
            out.append(s + b"assistant\n")
        elif variant == 1:
            out.append(s + b"assistant " + turn[0] + e + x + b"\n")
        elif variant == 2:
            out.append(b" " + s + b" assistant\t" + e + b"  " + turn[-1] + b" " + s[:-1] + b"\n")
        else:
            out.append(b"<" + e + b"> " + e + b"|> " + s + s + b"user" + x + b"\n")
    return out


def run_driver(driver, model, lines, special):
    with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as f:
        f.write(b"".join(lines))
        path = f.name
    try:
        cmd = [driver, model, path] + (["--special"] if special else [])
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as e:
        fail(99, "cannot run %s: %s" % (driver, e))
    finally:
        os.unlink(path)
    if r.returncode != 0:
        fail(1, "%s failed (status %d): %s" % (driver, r.returncode, r.stderr.decode(errors="replace")[-500:]))
    out = r.stdout.decode().split("\n")
    if out and out[-1] == "":
        out.pop()
    if len(out) != len(lines):
        fail(1, "driver printed %d lines for %d input lines" % (len(out), len(lines)))
    return [[int(x) for x in l.split()] for l in out]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--driver", required=True)
    ap.add_argument("--min-lines", type=int, default=2000)
    ap.add_argument("--special", action="store_true")
    ap.add_argument("--chat-tokens", default=",".join(CHATML),
                    help="START,END,EOT: the special tokens --special wraps lines in (default ChatML's)")
    args = ap.parse_args()

    llama_cpp = import_llama()
    if not os.path.exists(args.model):
        fail(99, "no model %s" % args.model)
    corpus = read_lines(args.corpus)
    tokens = args.chat_tokens.split(",")
    if len(tokens) != 3:
        fail(99, "--chat-tokens wants three tokens separated by commas")
    lines = chatml_lines(corpus, tokens) if args.special else corpus + EXTRA_LINES

    ours = run_driver(args.driver, args.model, lines, args.special)
    try:
        llm = llama_cpp.Llama(model_path=args.model, vocab_only=True, verbose=False)
    except Exception as e:  # noqa: BLE001 - any load failure is an infrastructure error
        fail(99, "llama.cpp cannot load %s: %s" % (args.model, e))

    bad = 0
    for i, (line, mine) in enumerate(zip(lines, ours)):
        ref = llm.tokenize(line, add_bos=False, special=args.special)
        if ref == mine:
            continue
        bad += 1
        if bad <= SHOW:
            print("mismatch at line %d: %r" % (i + 1, line))
            print("  llama.cpp: %s" % ref)
            print("  resa:      %s" % mine)
    n = len(lines)
    label = "tokenize --special" if args.special else "tokenize"
    print("%s: %d lines, %d identical, %d mismatched" % (label, n, n - bad, bad))
    if n < args.min_lines:
        print("compare_tokenize: only %d lines, need at least %d" % (n, args.min_lines))
        return 1
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
