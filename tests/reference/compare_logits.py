#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Teacher-forced logits comparison: resa against llama.cpp.

Picks several windows of real text from the corpus (tests/reference/corpus.py),
tokenizes each with llama.cpp (BOS added exactly when llama.cpp adds it for
this model, i.e. per the GGUF's add_bos setting), evaluates every window with
llama.cpp (llama-cpp-python, logits of every position) and with resa
(tests/dump_logits, one resa_decode_all_logits call per window) and reports:

  * top-1 agreement: argmax of resa's logits == argmax of llama.cpp's logits
  * KL(llama.cpp || resa) per position in nats (log-softmax in float64):
    mean over all positions, and the maximum

It also lists the top-1 mismatches with the "gap" (how far below its own
top-1, in nats, llama.cpp puts resa's top-1), the positions of largest KL,
and the agreement counting near-ties (gap <= --tie-margin, 0.1 when unset).

Summary line:
  logits: N positions, top-1 agreement 99.6%, mean KL 0.0012, max KL 0.05

Exit status: 0 when agreement >= --min-agree and mean KL <= --max-mean-kl
(with --tie-margin > 0 the agreement counts near-ties as agreeing);
1 on failure; 77 (skip) when llama_cpp (or numpy) cannot be imported, 99
instead when the environment has RESA_REQUIRE_REFERENCE=1.

--save-fixture PATH also writes a JSON fixture: per window the token ids,
llama.cpp's top-1 id and the log-probs of its top-K (default 20) tokens per
position, plus the log of the probability mass outside them. With
--dump-logits omitted, only the fixture is written (no resa needed).

--fixture PATH compares resa against such a fixture without llama.cpp. The
top-1 agreement is exact (against llama.cpp's recorded argmax). The KL is an
APPROXIMATION: both distributions are coarse-grained to the reference's top-K
tokens plus one "tail" bucket holding all other tokens, and the KL of those
(K+1)-outcome distributions is reported. Coarse-graining can only lower a KL
(data-processing inequality), so this is a lower bound of the full KL; for a
peaked model distribution it is close to it. This mode is for machines
without the reference installed.

Calibration (SmolLM2-135M-Instruct Q4_1, this corpus, 4 x 576 positions):
two llama.cpp configurations (flash attention on vs off) agree on 96% of
top-1s, and an exact float64 evaluation of the dequantized model agrees with
llama.cpp on 95%, with mean KL 0.005: for this model, activation rounding
alone moves logits by up to ~2-3 and flips near-ties.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SKIP, HARD_ERROR = 77, 99
FIXTURE_FORMAT = "resa-logits-fixture-1"


def skip_or_require(msg):
    if os.environ.get("RESA_REQUIRE_REFERENCE") == "1":
        print("compare_logits: %s (RESA_REQUIRE_REFERENCE=1)" % msg, file=sys.stderr)
        sys.exit(HARD_ERROR)
    print("compare_logits: SKIP: %s" % msg)
    sys.exit(SKIP)


def die(msg):
    print("compare_logits: error: %s" % msg, file=sys.stderr)
    sys.exit(1)


try:
    import numpy as np
    from llama_ref import LlamaRef  # needs numpy
except ImportError:
    np = None


# ------------------------------------------------------------- llama.cpp ---


# ---------------------------------------------------------------- corpus ---

def build_corpus(tmpdir):
    script = os.path.join(HERE, "corpus.py")
    if not os.path.exists(script):
        die("no --corpus given and %s does not exist" % script)
    out = os.path.join(tmpdir, "corpus.txt")
    r = subprocess.run([sys.executable, script, out], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if r.returncode != 0 or not os.path.exists(out):
        die("corpus.py failed (status %d): %s" % (r.returncode, r.stderr.strip()[-500:]))
    return out


def pick_windows(ref, corpus_bytes, n_windows, window_len):
    """n_windows token windows, each window_len tokens (BOS included when
    llama.cpp adds one), starting at line starts spread evenly over the
    corpus. Deterministic for a given corpus."""
    size = len(corpus_bytes)
    if size == 0:
        die("corpus is empty")
    windows = []
    for k in range(n_windows):
        # Offsets at (k + 0.5) / n of the corpus, snapped to the next line start.
        off = (2 * k + 1) * size // (2 * n_windows)
        nl = corpus_bytes.find(b"\n", off)
        start = 0 if off == 0 else (nl + 1 if nl >= 0 else 0)
        # Take whole lines until the text is long enough (about 3 bytes a token
        # at worst for English; grow on demand).
        want = window_len * 6
        while True:
            end = corpus_bytes.find(b"\n", start + want)
            end = size if end < 0 else end + 1
            text = corpus_bytes[start:end]
            ids = ref.tokenize(text)
            if len(ids) >= window_len or end >= size:
                break
            want *= 2
        if len(ids) < window_len:
            # Wrap to the corpus start for the remainder (tiny corpora only).
            text = corpus_bytes[start:] + corpus_bytes[:start]
            ids = ref.tokenize(text)
            if len(ids) < window_len:
                die("corpus too small: %d tokens, need %d" % (len(ids), window_len))
        windows.append({"start_byte": start, "tokens": [int(t) for t in ids[:window_len]]})
    return windows


# ----------------------------------------------------------------- maths ---

def log_softmax64(logits):
    x = logits.astype(np.float64)
    m = x.max(axis=-1, keepdims=True)
    x = x - m
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def compare_full(ref, res, chunk=64):
    """Per-position KL(ref||res), top-1 of both, the gap (how far below its
    own top-1 the reference puts resa's top-1, in nats; 0 when they agree)
    and the largest absolute logit difference."""
    n = ref.shape[0]
    kl = np.empty(n)
    for i in range(0, n, chunk):
        lp = log_softmax64(ref[i:i + chunk])
        lq = log_softmax64(res[i:i + chunk])
        kl[i:i + chunk] = (np.exp(lp) * (lp - lq)).sum(axis=-1)
    top_ref = ref.argmax(axis=-1)
    top_res = res.argmax(axis=-1)
    rows = np.arange(n)
    gap = (ref[rows, top_ref].astype(np.float64) - ref[rows, top_res].astype(np.float64))
    maxdiff = np.abs(ref.astype(np.float64) - res.astype(np.float64)).max(axis=-1)
    return kl, top_ref, top_res, gap, maxdiff


def compare_fixture_window(win, res):
    """Approximate KL on top-K + tail buckets; exact top-1 check."""
    top_ids = np.asarray(win["top_ids"], dtype=np.int64)        # n x K
    top_lp = np.asarray(win["top_logp"], dtype=np.float64)      # n x K
    tail_lp = np.asarray([-np.inf if v is None else v for v in win["tail_logp"]],
                         dtype=np.float64)                      # n
    top1 = np.asarray(win["top1"], dtype=np.int64)
    n = top_ids.shape[0]
    kl = np.empty(n)
    top_res = res.argmax(axis=-1)
    for i in range(n):
        lq = log_softmax64(res[i])
        q = np.exp(lq)
        mask = np.ones(q.shape[0], dtype=bool)
        mask[top_ids[i]] = False
        q_tail = q[mask].sum()
        p = np.exp(top_lp[i])
        k = (p * (top_lp[i] - lq[top_ids[i]])).sum()
        p_tail = np.exp(tail_lp[i]) if np.isfinite(tail_lp[i]) else 0.0
        if p_tail > 0.0:
            k += p_tail * (tail_lp[i] - np.log(max(q_tail, 1e-300)))
        kl[i] = k
    # Gap: the reference's top-1 log-prob minus its log-prob of resa's top-1
    # (infinite when that token is not among the reference's top-K).
    gap = np.full(n, np.inf)
    for i in range(n):
        hit = np.nonzero(top_ids[i] == top_res[i])[0]
        if hit.size:
            gap[i] = top_lp[i, 0] - top_lp[i, hit[0]]
    gap[top1 == top_res] = 0.0
    return kl, top1, top_res, gap


# ------------------------------------------------------------------ resa ---

def run_resa(dump, model, tokens, n_vocab, threads, kv_type, tmpdir, tag):
    tok_path = os.path.join(tmpdir, "tokens-%s.txt" % tag)
    out_path = os.path.join(tmpdir, "logits-%s.f32" % tag)
    with open(tok_path, "w") as f:
        f.write(" ".join(str(t) for t in tokens) + "\n")
    cmd = [dump, model, tok_path, out_path, "--kv-type", kv_type]
    if threads:
        cmd += ["-t", str(threads)]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        die("%s failed (status %d): %s" % (" ".join(cmd), r.returncode,
                                          r.stderr.strip() or r.stdout.strip()))
    data = np.fromfile(out_path, dtype="<f4")
    os.unlink(out_path)
    if data.size != len(tokens) * n_vocab:
        die("dump_logits wrote %d floats, expected %d x %d = %d"
            % (data.size, len(tokens), n_vocab, len(tokens) * n_vocab))
    data = data.reshape(len(tokens), n_vocab)
    bad = ~np.isfinite(data).all(axis=-1)
    if bad.any():
        die("resa logits not finite at window %s positions %s"
            % (tag, np.nonzero(bad)[0][:10].tolist()))
    return data, dt


# --------------------------------------------------------------- reports ---

def report(args, rows, label, noise=None):
    """rows: list of (window index, kl, top_ref, top_res, gap, maxdiff|None).
    noise: (top-1 agreement %, mean KL) of llama.cpp against itself with flash
    attention toggled, on the same windows, or None."""
    kl = np.concatenate([r[1] for r in rows])
    agree = np.concatenate([r[2] == r[3] for r in rows])
    n = kl.size
    pct = 100.0 * agree.sum() / n
    gaps = np.concatenate([r[4] for r in rows])
    tie = args.tie_margin if args.tie_margin > 0 else 0.1
    pct_tie = 100.0 * (gaps <= tie).sum() / n
    mean_kl, max_kl = float(kl.mean()), float(kl.max())
    for w, k, tr, ts, mg, md in rows:
        line = "  window %d: %d positions, top-1 %.2f%%, mean KL %.5f, max KL %.4f" % (
            w, k.size, 100.0 * (tr == ts).mean(), k.mean(), k.max())
        if md is not None:
            line += ", max |dlogit| %.3f" % md.max()
        print(line)
    mism = [(w, int(i), int(tr[i]), int(ts[i]), float(mg[i]), float(k[i]))
            for w, k, tr, ts, mg, _ in rows for i in np.nonzero(tr != ts)[0]]
    if mism:
        print("  top-1 mismatches (window, position: llama.cpp id vs resa id, llama.cpp's "
              "log-prob gap between them, KL):")
        for m in mism[:args.show]:
            print("    w%d pos %d: %d vs %d, gap %.4f, KL %.4f" % m)
        if len(mism) > args.show:
            print("    ... %d more" % (len(mism) - args.show))
    worst = sorted(((float(k[i]), w, int(i)) for w, k, *_ in rows
                    for i in np.argsort(k)[-3:]), reverse=True)[:args.show]
    print("  largest KL: " + ", ".join("w%d pos %d %.4f" % (w, i, v) for v, w, i in worst))
    print("  top-1 agreement counting near-ties (llama.cpp ranks resa's top-1 within "
          "%g nats of its own): %.1f%%" % (tie, pct_tie))
    print("%s: %d positions, top-1 agreement %.1f%%, mean KL %.4f, max KL %.4f"
          % (label, n, pct, mean_kl, max_kl))
    crit = pct_tie if args.tie_margin > 0 else pct
    ok = crit >= args.min_agree and mean_kl <= args.max_mean_kl
    if noise is not None:
        limit = args.noise_factor * noise[1]
        print("  llama.cpp against itself (flash attention toggled): top-1 agreement %.1f%%, "
              "mean KL %.4f; resa's mean KL must be <= %g x that = %.4f"
              % (noise[0], noise[1], args.noise_factor, limit))
        if mean_kl > limit:
            print("compare_logits: FAIL: resa is further from llama.cpp (mean KL %.4f) than "
                  "%g x llama.cpp's own rounding noise (%.4f)" % (mean_kl, args.noise_factor, limit))
            ok = False
    if crit < args.min_agree or mean_kl > args.max_mean_kl:
        print("compare_logits: FAIL: need top-1 agreement%s >= %.1f%% and mean KL <= %g"
              % (" (near-ties within %g nats counted)" % args.tie_margin
                 if args.tie_margin > 0 else "", args.min_agree, args.max_mean_kl))
    return ok


# ------------------------------------------------------------------ main ---

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="GGUF model")
    ap.add_argument("--dump-logits", "--dump", dest="dump",
                    help="resa's tests/dump_logits binary")
    ap.add_argument("--corpus", help="UTF-8 text corpus (default: build with corpus.py)")
    ap.add_argument("--windows", type=int, default=4)
    ap.add_argument("--window-len", type=int, default=576,
                    help="tokens per window, BOS included (default 576)")
    ap.add_argument("--threads", type=int, default=2, help="resa threads")
    ap.add_argument("--ref-threads", type=int, default=2, help="llama.cpp threads")
    ap.add_argument("--ref-flash-attn", action="store_true",
                    help="llama.cpp with flash attention (default off)")
    ap.add_argument("--kv-type", default="f16", choices=["f16", "f32"],
                    help="resa KV cache type (llama.cpp uses f16)")
    ap.add_argument("--min-agree", type=float, default=98.0, help="percent")
    ap.add_argument("--max-mean-kl", type=float, default=0.02, help="nats")
    ap.add_argument("--noise-factor", type=float, default=0.0,
                    help="also run llama.cpp with flash attention toggled and require resa's "
                         "mean KL <= this factor x llama.cpp's own KL between the two (0: off)")
    ap.add_argument("--tie-margin", type=float, default=0.0,
                    help="count a position as agreeing when llama.cpp ranks resa's top-1 "
                         "within this many nats of its own (default 0: exact top-1)")
    ap.add_argument("--save-fixture", metavar="PATH")
    ap.add_argument("--fixture-top", type=int, default=20)
    ap.add_argument("--fixture", metavar="PATH",
                    help="compare against a saved fixture instead of llama.cpp")
    ap.add_argument("--show", type=int, default=10, help="mismatches to list")
    args = ap.parse_args()

    if np is None:
        skip_or_require("numpy is not importable")
    if not os.path.exists(args.model):
        die("model not found: %s" % args.model)
    if args.fixture and args.save_fixture:
        die("--fixture and --save-fixture are exclusive")
    if not args.dump and not args.save_fixture:
        die("--dump-logits is required (unless only saving a fixture)")
    if args.dump and not os.access(args.dump, os.X_OK):
        die("not an executable: %s" % args.dump)

    with tempfile.TemporaryDirectory(prefix="resa-logits-") as tmpdir:
        if args.fixture:
            return run_fixture(args, tmpdir)
        return run_reference(args, tmpdir)


def run_fixture(args, tmpdir):
    try:
        with open(args.fixture) as f:
            fx = json.load(f)
    except (OSError, ValueError) as e:
        die("cannot read fixture %s: %s" % (args.fixture, e))
    if fx.get("format") != FIXTURE_FORMAT:
        die("%s: not a %s file" % (args.fixture, FIXTURE_FORMAT))
    size = os.path.getsize(args.model)
    if fx.get("model_size") not in (None, size):
        die("fixture was made with a different model (%s, %d bytes; this one has %d)"
            % (fx.get("model"), fx["model_size"], size))
    n_vocab = int(fx["n_vocab"])
    print("reference: fixture %s (%s, top-%d log-probs; KL over top-%d + tail bucket, "
          "an approximation)" % (args.fixture, fx.get("reference", "?"), fx["top_k"],
                                 fx["top_k"]))
    rows = []
    for w, win in enumerate(fx["windows"]):
        res, dt = run_resa(args.dump, args.model, win["tokens"], n_vocab, args.threads,
                           args.kv_type, tmpdir, str(w))
        kl, tr, ts, mg = compare_fixture_window(win, res)
        rows.append((w, kl, tr, ts, mg, None))
    return 0 if report(args, rows, "logits (fixture, approx. KL)") else 1


def run_reference(args, tmpdir):
    try:
        import llama_cpp
    except ImportError as e:
        skip_or_require("llama_cpp is not importable (%s)" % e)

    corpus = args.corpus or build_corpus(tmpdir)
    with open(corpus, "rb") as f:
        corpus_bytes = f.read()

    try:
        ref = LlamaRef(llama_cpp, args.model, n_ctx=args.window_len, threads=args.ref_threads,
                       flash_attn=args.ref_flash_attn)
    except RuntimeError as e:
        die(str(e))
    n_vocab, add_bos = ref.n_vocab, ref.add_bos
    print("reference: llama.cpp (%s); add_bos=%s" % (ref.settings, add_bos))

    windows = pick_windows(ref, corpus_bytes, args.windows, args.window_len)
    print("corpus: %s (%d bytes), %d windows x %d tokens at bytes %s"
          % (os.path.basename(corpus), len(corpus_bytes), len(windows), args.window_len,
             ", ".join(str(w["start_byte"]) for w in windows)))

    fixture = {"format": FIXTURE_FORMAT, "model": os.path.basename(args.model),
               "model_size": os.path.getsize(args.model), "n_vocab": n_vocab,
               "reference": "llama.cpp (llama-cpp-python %s)" % llama_cpp.__version__,
               "add_bos": add_bos, "top_k": args.fixture_top, "windows": []}
    ref2 = None
    if args.noise_factor > 0 and args.dump:
        try:
            ref2 = LlamaRef(llama_cpp, args.model, n_ctx=args.window_len,
                            threads=args.ref_threads, flash_attn=not args.ref_flash_attn)
        except RuntimeError as e:
            die(str(e))
    rows, noise_rows = [], []
    t_ref = t_res = 0.0
    for w, win in enumerate(windows):
        toks = win["tokens"]
        ref.clear()
        t0 = time.perf_counter()
        lref = ref.decode(toks, all_logits=True)
        t_ref += time.perf_counter() - t0
        if ref2 is not None:
            ref2.clear()
            kl2, tr2, ts2, _, _ = compare_full(lref, ref2.decode(toks, all_logits=True))
            noise_rows.append((kl2, tr2 == ts2))
        if args.save_fixture:
            fixture["windows"].append(fixture_window(toks, lref, args.fixture_top))
        if args.dump:
            res, dt = run_resa(args.dump, args.model, toks, n_vocab, args.threads,
                               args.kv_type, tmpdir, str(w))
            t_res += dt
            rows.append((w,) + compare_full(lref, res))

    if args.save_fixture:
        with open(args.save_fixture, "w") as f:
            json.dump(fixture, f, separators=(",", ":"))
            f.write("\n")
        print("fixture: %s (%d windows, top-%d)" % (args.save_fixture, len(windows),
                                                    args.fixture_top))
    if not args.dump:
        return 0
    print("time: llama.cpp %.1f s, resa (dump_logits incl. load) %.1f s" % (t_ref, t_res))
    noise = None
    if noise_rows:
        noise = (100.0 * np.concatenate([a for _, a in noise_rows]).mean(),
                 float(np.concatenate([k for k, _ in noise_rows]).mean()))
    return 0 if report(args, rows, "logits", noise) else 1


def fixture_window(tokens, ref, k):
    lp = log_softmax64(ref)
    idx = np.argpartition(-lp, k, axis=-1)[:, :k]
    top_ids, top_lp, tail_lp = [], [], []
    for i in range(lp.shape[0]):
        # Sort the top-k by log-prob, ties by id (the argmax convention).
        ids = sorted(idx[i].tolist(), key=lambda t: (-lp[i, t], t))
        vals = lp[i, ids]
        mask = np.ones(lp.shape[1], dtype=bool)
        mask[ids] = False
        tail = np.exp(lp[i, mask]).sum()
        top_ids.append(ids)
        top_lp.append([round(float(v), 5) for v in vals])
        tail_lp.append(round(float(np.log(tail)), 5) if tail > 0 else None)
    return {"tokens": [int(t) for t in tokens],
            "top1": [int(t) for t in ref.argmax(axis=-1)],
            "top_ids": top_ids, "top_logp": top_lp, "tail_logp": tail_lp}


if __name__ == "__main__":
    sys.exit(main())
