# SPDX-License-Identifier: MIT
"""resa serve through the official OpenAI Python client (tests/test_serve.sh
starts the server; the client is installed by tools/setup.sh).

    serve_openai.py PORT RESA MODEL

Chat and completions, streaming and not, through the client's own request
building and response parsing: greedy output equals `resa generate --temp 0`,
streamed text equals non-streamed text, concurrent requests equal each alone,
and a bad request raises the client's BadRequestError. Prints "ok - ..." or
"not ok - ..." lines; exit status 1 if any failed, 77 when the client cannot
be imported (99 with RESA_REQUIRE_REFERENCE=1)."""
import json
import os
import subprocess
import sys
import threading

try:
    import openai
except ImportError as e:
    print("skip: the openai client is not installed (%s; tools/setup.sh installs it)" % e)
    sys.exit(99 if os.environ.get("RESA_REQUIRE_REFERENCE") == "1" else 77)

failed = 0


def check(ok, what):
    global failed
    print(("ok - " if ok else "not ok - ") + what, flush=True)
    failed += not ok


def generate(resa, model, prompt, n, chat=False):
    cmd = [resa, "generate", "-m", model, "-p", prompt, "-n", str(n), "--temp", "0", "--json", "-t", "2"]
    if chat:
        cmd.append("--chat")
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)["text"]


def main():
    port, resa, model = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    client = openai.OpenAI(base_url="http://127.0.0.1:%d/v1" % port, api_key="unused", max_retries=0,
                           timeout=600)
    models = client.models.list().data
    check(len(models) == 1 and models[0].id, "models.list: one model (%s)" % (models[0].id if models else None))
    mid = models[0].id

    q = "Name three colours of the rainbow."
    r = client.chat.completions.create(model=mid, messages=[{"role": "user", "content": q}], max_tokens=24,
                                       temperature=0)
    text = r.choices[0].message.content
    check(r.object == "chat.completion" and r.choices[0].finish_reason in ("stop", "length") and
          r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens,
          "chat.completions.create: parsed by the client, usage adds up")
    check(text == generate(resa, model, q, 24, chat=True), "chat greedy text = resa generate --chat --temp 0")
    parts, roles, finish = [], [], None
    for chunk in client.chat.completions.create(model=mid, messages=[{"role": "user", "content": q}],
                                                max_tokens=24, temperature=0, stream=True):
        for c in chunk.choices:
            roles += [c.delta.role] if c.delta.role else []
            parts.append(c.delta.content or "")
            finish = c.finish_reason or finish
    check("".join(parts) == text and roles[:1] == ["assistant"] and finish == r.choices[0].finish_reason,
          "streamed chat through the client = non-streamed (role first, same finish_reason)")

    p, n = "The three primary colors are", 40
    c = client.completions.create(model=mid, prompt=p, max_tokens=n, temperature=0)
    check(c.choices[0].text == generate(resa, model, p, n), "completions greedy text = resa generate --temp 0")
    streamed = "".join(ch.choices[0].text for ch in
                       client.completions.create(model=mid, prompt=p, max_tokens=n, temperature=0, stream=True)
                       if ch.choices)
    check(streamed == c.choices[0].text, "streamed completion through the client = non-streamed")

    prompts = ["Once upon a time", "The capital of Italy is", "def add(a, b):", "Water is made of"]
    alone = [client.completions.create(model=mid, prompt=x, max_tokens=36, temperature=0).choices[0].text
             for x in prompts]
    together = [None] * len(prompts)

    def run(i):
        together[i] = client.completions.create(model=mid, prompt=prompts[i], max_tokens=36,
                                                temperature=0).choices[0].text
    ts = [threading.Thread(target=run, args=(i,)) for i in range(len(prompts))]
    [t.start() for t in ts]
    [t.join() for t in ts]
    check(together == alone, "%d concurrent clients = each alone" % len(prompts))

    try:
        client.completions.create(model=mid, prompt=p, max_tokens=-5)
        check(False, "max_tokens -5 was accepted")
    except openai.BadRequestError as e:
        check(e.status_code == 400 and "max_tokens" in str(e), "max_tokens -5: the client raises BadRequestError (400)")
    try:
        client.chat.completions.create(model=mid, messages=[{"role": "user", "content": q}], n=2)
        check(False, "n=2 was accepted")
    except openai.BadRequestError as e:
        check(e.status_code == 400, "n=2: BadRequestError (400), not silently one choice")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
