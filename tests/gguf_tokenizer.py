# SPDX-License-Identifier: MIT
"""The tokenizer of a real GGUF (SmolLM2's, for the tests) copied into a
random-weight GGUF being written: shared by the writers of tests/ that need
a real vocabulary (make_kquant_gguf.py, make_arch_gguf.py)."""


def copy_tokenizer(w, src, pre=None):
    """Tokenizer fields of the gguf.GGUFReader src into the gguf.GGUFWriter w;
    pre: another pre-tokenizer name than src's."""
    field = lambda k: src.fields[k].contents()
    w.add_tokenizer_model(field("tokenizer.ggml.model"))
    w.add_tokenizer_pre(pre or field("tokenizer.ggml.pre"))
    w.add_token_list(field("tokenizer.ggml.tokens"))
    w.add_token_types(field("tokenizer.ggml.token_type"))
    w.add_token_merges(field("tokenizer.ggml.merges"))
    w.add_bos_token_id(field("tokenizer.ggml.bos_token_id"))
    w.add_eos_token_id(field("tokenizer.ggml.eos_token_id"))
    w.add_add_bos_token(bool(field("tokenizer.ggml.add_bos_token")))
