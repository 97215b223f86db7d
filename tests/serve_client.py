# SPDX-License-Identifier: MIT
"""Checks a running `resa serve` (tests/test_serve.sh starts it). Standard library only.

    serve_client.py CHECK PORT [options]

Each check prints "ok - ..." or "not ok - ..." lines; the exit status is 1 if
any failed. Checks:
  api PORT RESA MODEL     every endpoint, SSE framing, greedy output of
                          concurrent requests = each alone = `resa generate`
  errors PORT             4xx for bad requests, garbage on the socket, and
                          the server still serving
  limits PORT KEY         (server: --parallel 1 --queue 1 --api-key KEY)
                          401 without the key, 503 + Retry-After when the
                          queue is full, a disconnect mid-stream frees the slot
  load PORT PID N         N concurrent clients twice: no errors, every
                          response complete, RSS growth bounded
  sigterm PORT PID        SIGTERM during a stream: it ends, the server exits 0
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

failed = 0


def check(ok, what):
    global failed
    print(("ok - " if ok else "not ok - ") + what, flush=True)
    if not ok:
        failed += 1


def request(port, method, path, body=None, headers=None, timeout=600):
    """(status, headers dict, body bytes)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    out = r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    c.close()
    return out


def post(port, path, body, headers=None):
    st, hd, data = request(port, "POST", path, body, headers)
    try:
        return st, hd, json.loads(data)
    except ValueError:
        return st, hd, data


def stream(port, path, body, headers=None):
    """The SSE events of a streaming request: (status, [data strings])."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    c.request("POST", path, body=json.dumps(body).encode(), headers=h)
    r = c.getresponse()
    raw = r.read().decode()
    c.close()
    # comments (": waiting", sent while a request waits) are not events
    events = [e for e in raw.split("\n\n") if e and not e.startswith(":")]
    return r.status, r.getheader("Content-Type"), events


def metrics(port, headers=None):
    st, _, data = request(port, "GET", "/metrics", headers=headers)
    out = {}
    for line in data.decode().splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def is_error(obj, status, st):
    return st == status and isinstance(obj, dict) and isinstance(obj.get("error"), dict) and \
        "message" in obj["error"] and "type" in obj["error"] and "code" in obj["error"]


def generate(resa, model, prompt, n, chat=False, system=None):
    cmd = [resa, "generate", "-m", model, "-p", prompt, "-n", str(n), "--temp", "0", "--json", "-t", "2"]
    if chat:
        cmd.append("--chat")
    if system is not None:
        cmd += ["--system", system]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)["text"]


PROMPTS = ["The capital of France is", "Once upon a time, in a small village,",
           "def fibonacci(n):", "The three primary colors are", "Water boils at",
           "The largest planet in the solar system"]


def completion_text(port, prompt, n):
    st, _, r = post(port, "/v1/completions", {"prompt": prompt, "max_tokens": n, "temperature": 0})
    return r["choices"][0]["text"] if st == 200 else None


def check_api(port, resa, model):
    st, _, body = request(port, "GET", "/health")
    check(st == 200 and json.loads(body)["status"] == "ok", "GET /health")
    st, _, body = request(port, "GET", "/v1/models")
    models = json.loads(body)
    model_id = models["data"][0]["id"]
    check(st == 200 and models["object"] == "list" and models["data"][0]["object"] == "model", "GET /v1/models")

    # chat, non-streaming: shape, usage, finish_reason; equals resa generate --chat
    # (the same template code: the model's, with SmolLM2's default system turn
    # when the conversation has none)
    q, sysmsg = "What is the capital of France?", "You are a helpful assistant."
    st, _, r = post(port, "/v1/chat/completions", {"model": model_id,
                                                    "messages": [{"role": "system", "content": sysmsg},
                                                                 {"role": "user", "content": q}],
                                                    "max_tokens": 24, "temperature": 0})
    ok = st == 200 and r["object"] == "chat.completion" and r["choices"][0]["message"]["role"] == "assistant"
    ok = ok and r["choices"][0]["finish_reason"] in ("stop", "length") and r["usage"]["completion_tokens"] > 0
    ok = ok and r["usage"]["total_tokens"] == r["usage"]["prompt_tokens"] + r["usage"]["completion_tokens"]
    check(ok, "POST /v1/chat/completions: shape, usage, finish_reason")
    check(ok and r["choices"][0]["message"]["content"] == generate(resa, model, q, 24, chat=True, system=sysmsg),
          "chat greedy output = resa generate --chat --temp 0")
    st, _, r = post(port, "/v1/chat/completions", {"messages": [{"role": "user", "content": q}],
                                                    "max_tokens": 24, "temperature": 0})
    check(st == 200 and r["choices"][0]["message"]["content"] == generate(resa, model, q, 24, chat=True),
          "chat without a system message = resa generate --chat (the template's default system turn)")

    # streaming chat: SSE framing, role first, [DONE] last, text = non-streaming text
    st, ctype, ev = stream(port, "/v1/chat/completions", {"messages": [{"role": "user", "content": q}],
                                                          "max_tokens": 24, "temperature": 0, "stream": True,
                                                          "stream_options": {"include_usage": True}})
    ok = st == 200 and ctype.startswith("text/event-stream") and ev and ev[-1] == "data: [DONE]"
    ok = ok and all(e.startswith("data: ") for e in ev)
    chunks = [json.loads(e[6:]) for e in ev[:-1]] if ok else []
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    ok = ok and chunks[0]["choices"][0]["delta"].get("role") == "assistant"
    ok = ok and chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0
    check(ok, "streaming chat: SSE events, role first, usage chunk, ends with data: [DONE]")
    check(ok and text == r["choices"][0]["message"]["content"], "streamed chat text = non-streamed text")

    # completions, streaming and not; logprobs
    st, ctype, ev = stream(port, "/v1/completions", {"prompt": PROMPTS[0], "max_tokens": 16, "temperature": 0,
                                                     "stream": True})
    ok = st == 200 and ev[-1] == "data: [DONE]"
    text = "".join(json.loads(e[6:])["choices"][0]["text"] for e in ev[:-1]) if ok else None
    check(ok and text == completion_text(port, PROMPTS[0], 16), "streaming completion = non-streaming, ends with [DONE]")
    st, _, r = post(port, "/v1/completions", {"prompt": PROMPTS[0], "max_tokens": 4, "temperature": 0, "logprobs": 3})
    lp = r["choices"][0]["logprobs"] if st == 200 else None
    ok = lp and len(lp["tokens"]) == 4 and all(len(t) == 3 for t in lp["top_logprobs"])
    # greedy: the chosen token is the most likely one, and log-probabilities are <= 0
    ok = ok and all(abs(max(t.values()) - l) < 1e-6 and l <= 0 for t, l in zip(lp["top_logprobs"], lp["token_logprobs"]))
    check(bool(ok), "completion logprobs: greedy token is the top alternative")
    st, _, r = post(port, "/v1/chat/completions", {"messages": [{"role": "user", "content": q}], "max_tokens": 3,
                                                    "temperature": 0, "logprobs": True, "top_logprobs": 2})
    ok = st == 200 and len(r["choices"][0]["logprobs"]["content"]) == 3
    check(ok and all(len(c["top_logprobs"]) == 2 for c in r["choices"][0]["logprobs"]["content"]), "chat logprobs")

    # stop strings: the text ends before the stop string, finish_reason stop
    full = completion_text(port, PROMPTS[1], 24)
    cut = full[len(full) // 2: len(full) // 2 + 3]
    st, _, r = post(port, "/v1/completions", {"prompt": PROMPTS[1], "max_tokens": 24, "temperature": 0, "stop": [cut]})
    check(st == 200 and r["choices"][0]["text"] == full[:full.index(cut)] and r["choices"][0]["finish_reason"] == "stop",
          "stop string ends the completion before it")
    # sampling with a seed is reproducible
    body = {"prompt": PROMPTS[2], "max_tokens": 16, "temperature": 0.9, "top_p": 0.9, "top_k": 40, "min_p": 0.05,
            "seed": 7, "presence_penalty": 0.5, "frequency_penalty": 0.5, "user": "ignored", "unknown_field": 1}
    a, b = post(port, "/v1/completions", body), post(port, "/v1/completions", body)
    check(a[0] == 200 and a[2]["choices"][0]["text"] == b[2]["choices"][0]["text"], "seeded sampling is reproducible")

    # concurrency: greedy outputs of concurrent requests = each alone = resa generate
    n = 48  # past rect_every (32): a rectification inside
    alone = [completion_text(port, p, n) for p in PROMPTS]
    together = [None] * len(PROMPTS)

    def run(i):
        together[i] = completion_text(port, PROMPTS[i], n)
    ts = [threading.Thread(target=run, args=(i,)) for i in range(len(PROMPTS))]
    [t.start() for t in ts]
    [t.join() for t in ts]
    check(together == alone, f"{len(PROMPTS)} concurrent greedy requests = each alone")
    gen = [generate(resa, model, p, n) for p in PROMPTS]
    check(alone == gen, "greedy completions = resa generate --temp 0")
    # a per-request mode
    st, _, r = post(port, "/v1/completions", {"prompt": PROMPTS[0], "max_tokens": 8, "temperature": 0,
                                              "resa_mode": "dense"})
    check(st == 200 and r["choices"][0]["text"], "resa_mode dense per request")

    m = metrics(port)
    check(m.get('resa_requests_total{status="200"}', 0) >= 10 and m["resa_generated_tokens_total"] > 0 and
          "resa_queue_depth" in m and "resa_active_sequences" in m and "resa_rectifications_total" in m and
          "resa_decode_tokens_per_second" in m and m["resa_prompt_tokens_total"] > 0, "/metrics: Prometheus text")


def raw(port, data, read=True, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
    except OSError:
        pass
    out = b""
    if read:
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                out += b
        except OSError:
            pass
    s.close()
    return out


def status_of(resp):
    try:
        return int(resp.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def check_errors(port):
    msg = [{"role": "user", "content": "hi"}]
    cases = [
        ("malformed JSON", "/v1/chat/completions", b'{"messages": [', 400),
        ("not an object", "/v1/chat/completions", b'[1, 2]', 400),
        ("missing messages", "/v1/chat/completions", {"max_tokens": 4}, 400),
        ("wrong type of messages", "/v1/chat/completions", {"messages": "hi"}, 400),
        ("wrong role", "/v1/chat/completions", {"messages": [{"role": "tool", "content": "x"}]}, 400),
        ("n > 1", "/v1/chat/completions", {"messages": msg, "n": 2}, 400),
        ("tools", "/v1/chat/completions", {"messages": msg, "tools": [{"type": "function"}]}, 400),
        ("negative max_tokens", "/v1/chat/completions", {"messages": msg, "max_tokens": -5}, 400),
        ("huge max_tokens", "/v1/chat/completions", {"messages": msg, "max_tokens": 10 ** 12}, 400),
        ("string max_tokens", "/v1/chat/completions", {"messages": msg, "max_tokens": "7"}, 400),
        ("temperature out of range", "/v1/completions", {"prompt": "x", "temperature": 7}, 400),
        ("top_p as string", "/v1/completions", {"prompt": "x", "top_p": "high"}, 400),
        ("stop of numbers", "/v1/completions", {"prompt": "x", "stop": [1, 2]}, 400),
        ("invalid UTF-8", "/v1/completions", b'{"prompt": "\xff\xfe bad"}', 400),
        ("missing prompt", "/v1/completions", {"max_tokens": 3}, 400),
        ("unknown model", "/v1/completions", {"prompt": "x", "model": "gpt-17"}, 404),
        ("prompt longer than the context", "/v1/completions", {"prompt": "word " * 4000}, 400),
        ("empty prompt", "/v1/completions", {"prompt": ""}, 400),
        ("unknown resa_mode", "/v1/completions", {"prompt": "x", "resa_mode": "fast"}, 400),
        ("10 MB body", "/v1/completions", b'{"prompt": "' + b"a" * (10 << 20) + b'"}', 413),
    ]
    for what, path, body, want in cases:
        st, _, r = post(port, path, body)
        check(is_error(r, want, st), f"{what}: {want} with an OpenAI-style error")
    st, _, r = post(port, "/v1/nothing", {"x": 1})
    check(st == 404, "unknown path: 404")
    st, _, r = request(port, "GET", "/v1/chat/completions")
    check(st == 405, "wrong method: 405")
    # garbage on the socket
    check(status_of(raw(port, b"GARBAGE\r\n\r\n")) in (400, 0), "a garbage request line gets 400 or a close")
    check(400 <= status_of(raw(port, b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")) < 500,
          "a 100 KB request line gets 4xx")
    raw(port, b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{\"pro", read=False)
    # a client that drips its body does not hold up others
    drip = socket.create_connection(("127.0.0.1", port))
    drip.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n{")
    st, _, _ = request(port, "GET", "/health", timeout=5)
    check(st == 200, "a dripping client does not block others")
    drip.close()
    st, _, r = post(port, "/v1/completions", {"prompt": "Hello", "max_tokens": 2, "temperature": 0})
    check(st == 200, "the server still serves after bad requests")


def wait_metric(port, name, pred, headers=None, limit=20.0):
    t = time.time()
    while time.time() - t < limit:
        v = metrics(port, headers).get(name, 0)
        if pred(v):
            return v
        time.sleep(0.05)
    return metrics(port, headers).get(name, 0)


def open_stream(port, body, headers):
    """A streaming request left open: (socket, first bytes of the response)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    data = json.dumps(body).encode()
    hd = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    s.sendall(f"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{hd}"
              f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    first = b""
    while b"data: " not in first:
        b = s.recv(4096)
        if not b:
            break
        first += b
    return s, first


def check_limits(port, key):
    auth = {"Authorization": f"Bearer {key}"}
    body = {"prompt": "Hello", "max_tokens": 2}
    st, hd, r = post(port, "/v1/completions", body)
    check(is_error(r, 401, st) and "bearer" in hd.get("www-authenticate", "").lower(), "no key: 401")
    st, _, r = post(port, "/v1/completions", body, {"Authorization": "Bearer wrong"})
    check(is_error(r, 401, st), "a wrong key: 401")
    st, _, _ = request(port, "GET", "/v1/models")
    check(st == 401, "GET /v1/models without the key: 401")
    st, _, _ = request(port, "GET", "/health")
    check(st == 200, "GET /health needs no key")
    st, _, r = post(port, "/v1/completions", body, auth)
    check(st == 200, "the right key: 200")
    # this server runs --mode dense (no block summaries): only dense per request
    st, _, r = post(port, "/v1/completions", dict(body, resa_mode="resa"), auth)
    check(is_error(r, 400, st), "a dense server refuses resa_mode resa: 400")
    st, _, r = post(port, "/v1/completions", dict(body, resa_mode="dense"), auth)
    check(st == 200, "a dense server takes resa_mode dense")

    # one slot, one queue place: a long stream holds the slot, one waits, the next gets 503
    long = {"prompt": "1, 2, 3, 4, 5, 6, 7, 8,", "max_tokens": 400, "temperature": 0, "stream": True}
    s1, first = open_stream(port, long, auth)
    check(b" 200 " in first.split(b"\r\n")[0], "a long stream starts")
    s2, _ = None, None
    s2 = socket.create_connection(("127.0.0.1", port), timeout=60)
    data = json.dumps(long).encode()
    s2.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
               f"Authorization: Bearer {key}\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data)
    q = wait_metric(port, "resa_queue_depth", lambda v: v >= 1, auth)
    check(q == 1, "a second request waits in the queue")
    st, hd, r = post(port, "/v1/completions", body, auth)
    check(is_error(r, 503, st) and hd.get("retry-after"), "queue full: 503 with Retry-After")
    before = metrics(port, auth).get("resa_requests_cancelled_total", 0)
    s1.close()  # disconnect mid-stream: its slot goes to the queued request
    c = wait_metric(port, "resa_requests_cancelled_total", lambda v: v > before, auth)
    check(c == before + 1, "a disconnect mid-stream is counted as cancelled")
    q = wait_metric(port, "resa_queue_depth", lambda v: v == 0, auth)
    check(q == 0 and metrics(port, auth)["resa_active_sequences"] == 1, "its slot went to the waiting request")
    s2.close()
    a = wait_metric(port, "resa_active_sequences", lambda v: v == 0, auth)
    check(a == 0, "a second disconnect frees the slot (active sequences 0)")
    st, _, r = post(port, "/v1/completions", body, auth)
    check(st == 200, "the server serves after the disconnects")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def check_load(port, pid, n):
    def one_round():
        results = [None] * n

        def run(i):
            try:
                if i % 2:
                    st, _, ev = stream(port, "/v1/completions", {"prompt": PROMPTS[i % len(PROMPTS)],
                                                                 "max_tokens": 4, "stream": True, "seed": i})
                    results[i] = st == 200 and ev[-1] == "data: [DONE]"
                else:
                    st, _, r = post(port, "/v1/chat/completions", {"messages": [{"role": "user", "content": PROMPTS[i % 6]}],
                                                                    "max_tokens": 4, "seed": i})
                    results[i] = st == 200 and r["choices"][0]["finish_reason"] in ("stop", "length")
            except Exception as e:  # any failure is an error of the round
                results[i] = repr(e)
        ts = [threading.Thread(target=run, args=(i,)) for i in range(n)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        return [r for r in results if r is not True]
    bad = one_round()
    check(not bad, f"{n} concurrent clients: every response complete {bad[:3]}")
    rss1 = rss_kb(pid)
    bad = one_round()
    rss2 = rss_kb(pid)
    check(not bad, f"{n} concurrent clients, a second round: no errors")
    # the KV pool and the threads' arenas are allocated by then: more is a leak
    check(rss2 - rss1 < 16 * 1024, f"RSS grew {rss2 - rss1} KB over a second round (bound 16 MB)")


def check_sigterm(port, pid):
    s, first = open_stream(port, {"prompt": "1, 2, 3, 4, 5, 6, 7, 8,", "max_tokens": 200, "temperature": 0,
                                  "stream": True}, {})
    os.kill(pid, signal.SIGTERM)
    data = first
    s.settimeout(20)
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    except OSError:
        pass
    check(b"data: [DONE]" in data, "SIGTERM during a stream: the stream ends with [DONE]")


def main():
    what, port = sys.argv[1], int(sys.argv[2])
    if what == "api":
        check_api(port, sys.argv[3], sys.argv[4])
    elif what == "errors":
        check_errors(port)
    elif what == "limits":
        check_limits(port, sys.argv[3])
    elif what == "load":
        check_load(port, int(sys.argv[3]), int(sys.argv[4]))
    elif what == "sigterm":
        check_sigterm(port, int(sys.argv[3]))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
