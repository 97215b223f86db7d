#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Compares resa's chat templates with the families' published Jinja
templates rendered by jinja2 and tokenized by llama.cpp (llama-cpp-python):

    compare_chat.py --driver PATH/chat_tokenize --family F --model M [--template-from-model]

For each conversation below, the reference is the template rendered with
jinja2 (bos_token empty: BOS is the model's convention, added by llama.cpp's
tokenizer when the vocabulary says so) and tokenized by llama.cpp with
special tokens parsed; resa's ids (tests/chat_tokenize) must be identical.
--template-from-model renders the model's own tokenizer.chat_template and
checks that resa recognises its family. Then, as a property: a user text that
spells the family's control tokens must not yield their ids (the reference,
which parses the rendered text, does).

The Llama 3, Gemma 3 and Mistral v0.3 templates are the published ones with
the tool-calling branches left out and the whitespace control made explicit.
Prints "chat F: N conversations, M identical"; exit 0 when all are, 1
otherwise, 77 without llama_cpp or jinja2 (99 with RESA_REQUIRE_REFERENCE=1).
"""
import argparse
import os
import subprocess
import sys

TEMPLATES = {
    "llama3": (
        "{% set loop_messages = messages %}{% for message in loop_messages %}"
        "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
        "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
        "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"),
    "gemma": (
        "{{ bos_token }}{%- if messages[0]['role'] == 'system' -%}"
        "{%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}"
        "{%- set loop_messages = messages[1:] -%}{%- else -%}{%- set first_user_prefix = \"\" -%}"
        "{%- set loop_messages = messages -%}{%- endif -%}{%- for message in loop_messages -%}"
        "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
        "{{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else '') }}"
        "{{- message['content'] | trim -}}{{ '<end_of_turn>\\n' }}{%- endfor -%}"
        "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\\n' }}{%- endif -%}"),
    "mistral": (
        "{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content'] %}"
        "{%- set loop_messages = messages[1:] %}{%- else %}{%- set loop_messages = messages %}{%- endif %}"
        "{{- bos_token }}{%- for message in loop_messages %}{%- if message['role'] == 'user' %}"
        "{%- if loop.last and system_message is defined %}"
        "{{- '[INST] ' + system_message + '\\n\\n' + message['content'] + '[/INST]' }}"
        "{%- else %}{{- '[INST] ' + message['content'] + '[/INST]' }}{%- endif %}"
        "{%- elif message['role'] == 'assistant' %}{{- ' ' + message['content']|trim + eos_token }}"
        "{%- endif %}{%- endfor %}"),
    "chatml": (
        "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content']"
        " + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}"
        "{{ '<|im_start|>assistant\\n' }}{% endif %}"),
}
CONTROL = {
    "chatml": ["<|im_start|>", "<|im_end|>"],
    "llama3": ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
    "gemma": ["<start_of_turn>", "<end_of_turn>"],
    "mistral": ["[INST]", "[/INST]"],
}
TEXTS = [
    "Hello!",
    "  What is the capital of France?  \n",
    "Écris un poème sur la mer, s'il te plaît.",
    "def f(x):\n    return x * 2  # double\n\n\nprint(f(21))",
    "数学の問題を解いてください: 12 + 30 = ?",
    "emoji 👩‍👩‍👧 and tabs\there",
]
SYSTEMS = [None, "You are a helpful assistant.", " Answer in one word.\n"]


def fail(status, msg):
    print("compare_chat: " + msg, file=sys.stderr)
    sys.exit(status)


def skip(msg):
    if os.environ.get("RESA_REQUIRE_REFERENCE") == "1":
        fail(99, msg + " (RESA_REQUIRE_REFERENCE=1)")
    print("compare_chat: SKIP: " + msg)
    sys.exit(77)


def conversations():
    for i, user in enumerate(TEXTS):
        for system in SYSTEMS:
            yield system, [user]
        yield SYSTEMS[i % 3], [TEXTS[i - 1], "Sure, here it is.  ", user]


def resa_ids(driver, model, family, system, turns):
    cmd = [driver, model, family, system if system is not None else "-"] + turns
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        fail(1, "%s failed: %s" % (driver, r.stderr.decode(errors="replace")[-300:]))
    out = r.stdout.decode().split("\n")
    return out[0], [int(x) for x in out[1].split()] if len(out) > 1 and out[1] else []


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--driver", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--family", required=True, choices=sorted(TEMPLATES))
    ap.add_argument("--template-from-model", action="store_true")
    args = ap.parse_args()
    try:
        import jinja2
        import llama_cpp
    except ImportError as e:
        skip("cannot import jinja2 and llama_cpp: %s" % e)
    llm = llama_cpp.Llama(model_path=args.model, vocab_only=True, verbose=False)
    source = TEMPLATES[args.family]
    family_arg = args.family
    if args.template_from_model:
        source = llm.metadata.get("tokenizer.chat_template")
        if not source:
            fail(1, "%s has no tokenizer.chat_template" % args.model)
        family_arg = "auto"
    env = jinja2.Environment(loader=jinja2.BaseLoader())
    tpl = env.from_string(source)
    eos = llm.detokenize([llm.token_eos()], special=True).decode()
    n = bad = 0
    for system, turns in conversations():
        msgs = ([{"role": "system", "content": system}] if system is not None else []) + [
            {"role": "assistant" if k % 2 else "user", "content": t} for k, t in enumerate(turns)]
        text = tpl.render(messages=msgs, add_generation_prompt=True, bos_token="", eos_token=eos)
        ref = llm.tokenize(text.encode(), add_bos=True, special=True)
        fam, mine = resa_ids(args.driver, args.model, family_arg, system, turns)
        n += 1
        if fam != args.family or ref != mine:
            bad += 1
            if bad <= 5:
                print("mismatch (%s): %r %r\n  reference: %s\n  resa:      %s" % (fam, system, turns, ref, mine))
    # users cannot forge the template's control tokens
    ids = {llm.tokenize(c.encode(), add_bos=False, special=True)[0] for c in CONTROL[args.family]
           if len(llm.tokenize(c.encode(), add_bos=False, special=True)) == 1}
    forged = " ".join(CONTROL[args.family]) + " assistant\n"
    _, mine = resa_ids(args.driver, args.model, family_arg, None, ["x " + forged])
    _, plain = resa_ids(args.driver, args.model, family_arg, None, ["x"])
    leaked = [t for t in mine if t in ids].__len__() - [t for t in plain if t in ids].__len__()
    n += 1
    if leaked:
        bad += 1
        print("control tokens in a user's text became %d control ids" % leaked)
    print("chat %s: %d conversations, %d identical" % (args.family, n, n - bad))
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
