# SPDX-License-Identifier: MIT
"""llama.cpp as the reference, through llama-cpp-python's C-API bindings:
shared by the reference comparisons (compare_logits.py, compare_greedy.py)."""
import ctypes

import numpy as np


class LlamaRef:
    """llama.cpp through llama-cpp-python's low-level (C API) bindings.

    Weights stay in plain CPU buffers (use_extra_bufts=False): ggml's "extra"
    buffer types include the AMX backend, which dies with SIGILL on some
    virtual machines that report AMX; repacking does not apply to Q4_1."""

    def __init__(self, lc, model_path, n_ctx, threads, n_batch=512, flash_attn=False,
                 extra_bufts=False):
        self.lc = lc
        self._quiet = lc.llama_log_callback(lambda level, text, user: None)
        lc.llama_log_set(self._quiet, None)
        lc.llama_backend_init()
        mp = lc.llama_model_default_params()
        mp.n_gpu_layers = 0
        mp.use_extra_bufts = bool(extra_bufts)
        self.model = lc.llama_model_load_from_file(model_path.encode(), mp)
        if not self.model:
            raise RuntimeError("llama.cpp cannot load %s" % model_path)
        self.vocab = lc.llama_model_get_vocab(self.model)
        self.n_vocab = lc.llama_vocab_n_tokens(self.vocab)
        self.add_bos = bool(lc.llama_vocab_get_add_bos(self.vocab))
        cp = lc.llama_context_default_params()
        cp.n_ctx = n_ctx
        cp.n_batch = n_batch
        cp.n_ubatch = min(512, n_batch)
        cp.n_seq_max = 1
        cp.n_threads = threads
        cp.n_threads_batch = threads
        cp.flash_attn_type = (lc.LLAMA_FLASH_ATTN_TYPE_ENABLED if flash_attn
                              else lc.LLAMA_FLASH_ATTN_TYPE_DISABLED)
        cp.type_k = lc.GGML_TYPE_F16
        cp.type_v = lc.GGML_TYPE_F16
        self.ctx = lc.llama_init_from_model(self.model, cp)
        if not self.ctx:
            raise RuntimeError("llama.cpp cannot create a context")
        self.n_batch = n_batch
        self.batch = lc.llama_batch_init(n_batch, 0, 1)
        self.settings = ("llama-cpp-python %s, n_ctx %d, n_batch %d, n_ubatch %d, "
                         "threads %d/%d, flash_attn %s, KV f16/f16, extra bufts %s"
                         % (lc.__version__, n_ctx, n_batch, cp.n_ubatch, threads, threads,
                            "on" if flash_attn else "off", "on" if extra_bufts else "off"))

    def tokenize(self, text, add_special=True, parse_special=False):
        lc = self.lc
        cap = len(text) + 8
        while True:
            buf = (lc.llama_token * cap)()
            n = lc.llama_tokenize(self.vocab, text, len(text), buf, cap, add_special,
                                  parse_special)
            if n >= 0:
                return list(buf[:n])
            cap = -n

    def detokenize(self, ids):
        lc = self.lc
        arr = (lc.llama_token * max(1, len(ids)))(*ids)
        cap = 16 * len(ids) + 16
        while True:
            buf = ctypes.create_string_buffer(cap)
            n = lc.llama_detokenize(self.vocab, arr, len(ids), buf, cap, False, False)
            if n >= 0:
                return buf.raw[:n]
            cap = -n

    def is_eog(self, tok):
        return bool(self.lc.llama_vocab_is_eog(self.vocab, tok))

    def clear(self):
        self.lc.llama_memory_clear(self.lc.llama_get_memory(self.ctx), True)

    def decode(self, ids, pos0=0, all_logits=False):
        """Evaluates ids at positions pos0...; returns the n x n_vocab logits
        (float32) when all_logits, else None (last row: last_logits())."""
        lc, b = self.lc, self.batch
        out = np.empty((len(ids), self.n_vocab), dtype=np.float32) if all_logits else None
        for s in range(0, len(ids), self.n_batch):
            chunk = ids[s:s + self.n_batch]
            n = len(chunk)
            for i, t in enumerate(chunk):
                b.token[i] = t
                b.pos[i] = pos0 + s + i
                b.n_seq_id[i] = 1
                b.seq_id[i][0] = 0
                b.logits[i] = 1 if all_logits or s + i == len(ids) - 1 else 0
            b.n_tokens = n
            rc = lc.llama_decode(self.ctx, b)
            if rc != 0:
                raise RuntimeError("llama_decode failed (%d)" % rc)
            if all_logits:
                out[s:s + n] = np.ctypeslib.as_array(lc.llama_get_logits(self.ctx),
                                                     shape=(n * self.n_vocab,)).reshape(n, -1)
        return out

    def last_logits(self):
        return np.ctypeslib.as_array(self.lc.llama_get_logits_ith(self.ctx, -1),
                                     shape=(self.n_vocab,))

    def sync(self):
        self.lc.llama_synchronize(self.ctx)
