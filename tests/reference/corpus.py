#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Builds the real-text corpus of the reference tests (tokenization and
logits against llama.cpp):

    corpus.py OUTPUT [--seed N]

Debian 12 packages it reads (CI installs them):

    apt-get install python3.11-doc manpages-fr manpages-de manpages-ja \\
        manpages-zh manpages-ru manpages-el unicode-data

  python3.11-doc  /usr/share/doc/python3.11/html/_sources/**/*.rst.txt:
                  English prose, code, numbers, indentation, blank-line runs
  manpages-*      /usr/share/man/{fr,de,ja,zh_CN,zh_TW,ru,el}/man*/*.gz: the
                  roff sources, markup stripped here (no groff needed)
  unicode-data    /usr/share/unicode/emoji/emoji-test.txt: emoji, ZWJ
                  sequences, skin tones, flags

plus a few lines written here for what real text rarely has (non-ASCII
digits and spaces, CRLF, upper-case contractions, long digit runs).

Deterministic: files are taken in sorted order and sampled with a fixed
seed, so the same packages give the same corpus. The text is cut into
blocks of consecutive lines (which keep their indentation, tabs and runs of
blank lines) and the blocks of all sources are shuffled together. The output
is valid UTF-8 (bytes that are not are replaced by U+FFFD). A source that is
missing is reported and skipped; fewer than MIN_LINES lines is an error.
"""
import argparse
import glob
import gzip
import os
import random
import re
import sys

MIN_LINES = 3000
PY_DOC = "/usr/share/doc/python3.11/html/_sources"
MAN_ROOT = "/usr/share/man"
MAN_LANGS = ["fr", "de", "ja", "zh_CN", "zh_TW", "ru", "el"]
EMOJI_TEST = "/usr/share/unicode/emoji/emoji-test.txt"


def log(msg):
    print(msg, file=sys.stderr)


def blocks_of(lines, rng, n_blocks, size):
    """n_blocks runs of `size` consecutive lines at random offsets."""
    if not lines:
        return []
    out = []
    for _ in range(n_blocks):
        start = rng.randrange(max(1, len(lines) - size + 1))
        out.append(lines[start:start + size])
    return out


def read_text(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        return f.read().decode("utf-8", errors="replace")


# ------------------------------------------------------------------ python docs

def python_doc_blocks(rng):
    files = sorted(glob.glob(os.path.join(PY_DOC, "**", "*.rst.txt"), recursive=True))
    if not files:
        log("corpus: no Python docs at %s (install python3.11-doc)" % PY_DOC)
        return []
    blocks = []
    for path in rng.sample(files, min(70, len(files))):
        lines = read_text(path).splitlines(keepends=True)
        blocks += blocks_of(lines, rng, 2, 14)
    return blocks


# ------------------------------------------------------------------- man pages

# Requests whose arguments are text; the others (.TH, .nf, .RS, ...) are dropped.
TEXT_MACROS = {"SH", "SS", "B", "I", "BR", "BI", "IB", "IR", "RB", "RI", "SB", "SM",
               "TP", "IP", "HP", "Nm", "Nd", "Ar", "Fl", "Op", "Pa", "Xr", "Dq", "Sq"}
PARA_MACROS = {"PP", "LP", "P", "sp"}
NAMED_CHARS = {"em": "\u2014", "en": "\u2013", "aq": "'", "dq": '"', "lq": "\u201c",
               "rq": "\u201d", "oq": "\u2018", "cq": "\u2019", "bu": "\u2022", "co": "\u00a9",
               "rg": "\u00ae", "mu": "\u00d7", "de": "\u00b0", "hy": "-", "ga": "`", "ti": "~"}

ESCAPES = [
    (re.compile(r"\\f(\[[^\]]*\]|\(..|.)"), ""),                   # fonts
    (re.compile(r"\\s[+-]?\d"), ""),                               # sizes
    (re.compile(r"\\\*(\[[^\]]*\]|\(..|.)"), ""),                  # strings
    (re.compile(r"\\\((..)"), lambda m: NAMED_CHARS.get(m.group(1), "")),
    (re.compile(r"\\\[([^\]]*)\]"), lambda m: NAMED_CHARS.get(m.group(1), "")),
    (re.compile(r"\\[-]"), "-"),
    (re.compile(r"\\[e\\]"), "\\\\"),
    (re.compile(r"\\[&|^%c]"), ""),
    (re.compile(r"\\[~ 0]"), " "),
    (re.compile(r"\\(.)"), r"\1"),
]


def strip_escapes(s):
    for rx, repl in ESCAPES:
        s = rx.sub(repl, s)
    return s


def roff_to_text(src):
    out = []
    for line in src.splitlines():
        if line.startswith(('.\\"', "'\\\"", '.\\\\"')) or line.startswith("\\\""):
            continue
        if line.startswith((".", "'")):
            parts = line[1:].split(None, 1)
            macro = parts[0] if parts else ""
            if macro in PARA_MACROS:
                out.append("\n")
            elif macro in TEXT_MACROS and len(parts) > 1:
                out.append(strip_escapes(parts[1].replace('"', "")) + "\n")
            continue
        out.append(strip_escapes(line) + "\n")
    return out


def man_blocks(rng):
    blocks = []
    for lang in MAN_LANGS:
        files = sorted(glob.glob(os.path.join(MAN_ROOT, lang, "man*", "*.gz")))
        if not files:
            log("corpus: no man pages for %s (install manpages-%s)" % (lang, lang.split("_")[0]))
            continue
        for path in rng.sample(files, min(30, len(files))):
            lines = roff_to_text(read_text(path))
            blocks += blocks_of(lines, rng, 1, 12)
    return blocks


# ----------------------------------------------------------------------- emoji

def emoji_blocks(rng):
    if not os.path.exists(EMOJI_TEST):
        log("corpus: no %s (install unicode-data)" % EMOJI_TEST)
        return []
    lines = read_text(EMOJI_TEST).splitlines(keepends=True)
    blocks = blocks_of(lines, rng, 12, 10)
    # emoji inside sentences
    emoji = [l.split("#", 1)[1].split()[0] for l in lines
             if "; fully-qualified" in l and "#" in l]
    words = ("the cat sat on a mat while my friend sent me this and I laughed "
             "so hard that coffee went everywhere").split()
    for _ in range(8):
        block = []
        for _ in range(6):
            parts = []
            for _ in range(rng.randrange(4, 12)):
                parts.append(rng.choice(emoji) if rng.random() < 0.35 else rng.choice(words))
            sep = rng.choice([" ", " ", "", "  "])
            block.append(sep.join(parts) + "\n")
        blocks.append(block)
    return blocks


# -------------------------------------------------------------- written here

EDGE_LINES = [
    "I'M SURE YOU'LL SEE IT'S WHAT THEY'VE DONE, DON'T YOU? We'D, I'Ll, you'Re\n",
    "rock'n'roll 'tis o'clock ''quoted'' 's 't 'd\n",
    "Windows line end\r\n",
    "carriage\rreturn inside\r\n",
    "tab\tseparated\tcolumns\t\t42\t\n",
    "\t\tindented with tabs\n",
    "trailing spaces      \n",
    "        \n",
    " \n",
    "\n",
    "3.14159265358979323846264338327950288419716939937510 and 1,000,000.00\n",
    "order #12345678901234567890 costs $1.5e-7 (or 0x1F600)\n",
    "superscripts x\u00b2 + y\u00b3 = z\u00b9, fractions \u00bd \u00be \u215e\n",
    "Arabic-Indic \u0661\u0662\u0663 Devanagari \u0967\u0968\u0969 fullwidth \uff11\uff12\uff13 roman \u2167\n",
    "no-break\u00a0space, thin\u2009space, ideographic\u3000space, em\u2003space\n",
    "next line \u0085 and line separator \u2028 paragraph \u2029 end\n",
    "narrow\u202fno-break and medium\u205fmath space\n",
    "\u00a0\u00a0 leading no-break spaces\n",
    "zero\u200bwidth space, joiner\u200d, soft\u00adhyphen\n",
    "caf\u00e9 na\u00efve co\u00f6perate r\u00e9sum\u00e9 (composed) / cafe\u0301 (combining)\n",
    "\u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u05e2\u05d1\u05e8\u05d9\u05ea \u0939\u093f\u0928\u094d\u0926\u0940 \u0e44\u0e17\u0e22 \ud55c\uad6d\uc5b4 \u10e5\u10d0\u10e0\u10d7\u10e3\u10da\u10d8\n",
    "\U00020000\U0002a6d6 CJK extension B, \U00031350 extension H, \U0002ebf0 extension I\n",
    "math \U0001d400\U0001d401\U0001d7ce\U0001d7cf and \u2200x\u2208\u211d: x\u00b2\u22650\n",
    "<|im_start|>user\n",
    "plain text that looks special: <|im_end|> <|endoftext|> <repo_name>\n",
    "--- *** ___ ... !!! ??? ;;; ::: ((())) [[[]]] {{{}}}\n",
    "a  b   c    d     e      f\n",
    "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\n",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000\n",
]


def edge_blocks():
    return [EDGE_LINES[i:i + 4] for i in range(0, len(EDGE_LINES), 4)]


# ----------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("output")
    ap.add_argument("--seed", type=int, default=20240501)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    sources = [("python docs", python_doc_blocks(rng)), ("man pages", man_blocks(rng)),
               ("emoji", emoji_blocks(rng)), ("edge cases", edge_blocks())]
    blocks = []
    for name, bl in sources:
        log("corpus: %-11s %4d blocks, %5d lines" % (name, len(bl), sum(map(len, bl))))
        blocks += bl
    rng.shuffle(blocks)
    lines = [l if l.endswith("\n") else l + "\n" for b in blocks for l in b]
    if len(lines) < MIN_LINES:
        sys.exit("corpus: only %d lines (need %d): are the packages installed? (see --help)"
                 % (len(lines), MIN_LINES))
    with open(args.output, "w", encoding="utf-8", newline="") as f:
        f.writelines(lines)
    log("corpus: wrote %d lines, %d bytes to %s" % (len(lines), sum(len(l.encode()) for l in lines),
                                                  args.output))


if __name__ == "__main__":
    main()
