"""Text generation and next-token distributions with transformers (CPU or one GPU).

Two operations cover every judge and policy of the miniature:
- `generate`: chat prompts in, completions out (batched, left-padded), with whether each finished;
- `next_token_distribution`: the probability of each of a given set of tokens right after a prompt
  (plus the mass on all other tokens) — how a pointwise judge's expected score is read. Its fast path runs the
  tokens that every prompt of a batch shares (a judge template's instructions) once, and keeps their KV cache
  for the next call (`SharedPrefixCache`).
The vLLM and OpenAI-compatible backends (issue 4) implement the same two calls.
"""

from __future__ import annotations

import contextlib
import inspect
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from judge_pipeline.backends.hf_models import load_model_and_tokenizer


@dataclass
class Completion:
    text: str
    finished: bool  #: False when the token limit cut it
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float  #: wall time of its batch divided by the batch size
    token_ids: list[int] | None = None  #: the generated ids (EOS and padding removed), with ``read_tokens``
    read_probs: list[list[float]] | None = None  #: per generated id, the probabilities of ``read_tokens`` at its
    #: position (the model's own softmax, before any temperature): what a re-read of that position would give


@dataclass
class TokenDistribution:
    probs: list[float]  #: probability of each requested token (not renormalised)
    argmax_token: str  #: the most likely token over the whole vocabulary
    prompt_tokens: int
    latency_ms: float


Messages = list[dict[str, str]]

#: Passed to every chat template, at training (TRL) and at inference alike: judges and policies answer
#: without a hidden thinking block (Qwen3's template would otherwise open one where the score belongs;
#: reasoning judges write their trace as visible text). Templates without the variable ignore it.
CHAT_TEMPLATE_KWARGS = {"enable_thinking": False}


#: appended where a response was cut to fit a judge's context (the judge then sees that it was cut)
TRUNCATION_MARKER = "\n[... the rest of this response was cut to fit the judge's context ...]"


def clip_to_context(tokenizer, render, fields: Sequence[str], max_tokens: int) -> list[str]:
    """Shorten the longest of ``fields`` (responses) until ``render(fields)`` (the full judge prompt) fits in
    ``max_tokens``, keeping each response's start and marking the cut. The instructions, the rules and the
    place where the verdict is read are never cut. A prompt too long even with empty responses is returned
    as far as it could be shortened (the backend's left truncation then applies)."""
    fields = list(fields)
    marker = len(tokenizer(TRUNCATION_MARKER, add_special_tokens=False)["input_ids"])
    for _ in range(2 * len(fields) + 2):
        over = len(tokenizer(render(fields), add_special_tokens=False)["input_ids"]) - max_tokens
        if over <= 0:
            break
        i = max(range(len(fields)), key=lambda k: len(fields[k]))
        ids = tokenizer(fields[i], add_special_tokens=False)["input_ids"]
        if not ids or fields[i].endswith(TRUNCATION_MARKER) and len(ids) <= marker:
            break
        keep = max(0, len(ids) - over - marker - 4)
        fields[i] = tokenizer.decode(ids[:keep]) + TRUNCATION_MARKER
    return fields


@contextlib.contextmanager
def own_rng(seed: int | None, device: str):
    """Sampling seeded by ``seed`` that leaves the caller's random state as it was.

    A judge that samples its trace inside a GRPO reward must not re-seed the trainer's RNG (the policy's rollouts,
    dropout) on every reward call. `generate` takes no ``torch.Generator``, so the global generators (CPU, and every
    GPU's) are forked: seeded for the call and restored after it. The samples are those of ``torch.manual_seed(seed)``,
    as before, so verdicts already in the store stay what a new call computes. ``seed`` None: nothing to seed."""
    if seed is None:
        yield
        return
    gpus = range(torch.cuda.device_count()) if torch.device(device).type == "cuda" else []
    with torch.random.fork_rng(devices=gpus):
        torch.manual_seed(seed)
        yield


def common_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    """The number of leading token ids all ``rows`` share."""
    first, n = rows[0], min(len(r) for r in rows)
    for r in rows[1:]:
        k = 0
        while k < n and r[k] == first[k]:
            k += 1
        n = k
    return n


class SharedPrefixCache:
    """KV caches of token prefixes (batch 1), kept across calls: a judge's template instructions are run once.

    Entries are keyed by their token ids, so a prefix is reused only where it is a *token* prefix of the batch's own
    tokenisation (never a text prefix, which could tokenise differently at the boundary). A prefix longer than a
    cached one is computed from it (only the new tokens are run). The whole cache is dropped when the model's weights
    change in place (an optimizer step bumps every updated tensor's version counter) or the model is replaced."""

    def __init__(self, max_entries: int = 4):
        self.max_entries = max_entries
        self.entries: OrderedDict[tuple[int, ...], list[tuple[torch.Tensor, torch.Tensor]]] = OrderedDict()
        self._weights: tuple | None = None
        self.tokens_run = 0  #: prefix tokens run through the model since the last `clear` (for tests and benches)

    @staticmethod
    def weights_version(model) -> tuple:
        return id(model), sum(p._version for p in model.parameters())

    def clear(self) -> None:
        self.entries.clear()
        self.tokens_run = 0

    def longest(self, ids: Sequence[int]) -> tuple[int, ...] | None:
        """The longest cached prefix of ``ids`` (None: none)."""
        best = None
        for key in self.entries:
            if len(key) <= len(ids) and (best is None or len(key) > len(best)) and tuple(ids[: len(key)]) == key:
                best = key
        return best

    def get(self, model, ids: Sequence[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per layer (keys, values) of ``ids`` run alone (batch 1), from the cache or computed (from the longest
        cached prefix of ``ids``) and kept for later calls (the least recently used entry beyond ``max_entries``
        is dropped)."""
        version = self.weights_version(model)
        if version != self._weights:
            self.entries.clear()
            self._weights = version
        key = tuple(ids)
        if key in self.entries:
            self.entries.move_to_end(key)
            return self.entries[key]
        base = self.longest(key)
        past = None
        if base is not None:
            self.entries.move_to_end(base)
            past = _dynamic_cache(model, self.entries[base], 1)
        start = len(base) if base is not None else 0
        dev = next(model.parameters()).device
        new = torch.tensor([key[start:]], device=dev)
        out = model(input_ids=new, attention_mask=torch.ones(1, len(key), dtype=torch.long, device=dev),
                    position_ids=torch.arange(start, len(key), device=dev)[None], past_key_values=past,
                    use_cache=True, logits_to_keep=1)
        self.tokens_run += len(key) - start
        kv = [(layer.keys, layer.values) for layer in out.past_key_values.layers]
        self.entries[key] = kv
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)
        return kv


def _dynamic_cache(model, kv: list[tuple[torch.Tensor, torch.Tensor]], batch: int):
    """A fresh DynamicCache holding ``kv`` (batch 1) repeated ``batch`` times (the forward appends to its copy)."""
    from transformers import DynamicCache

    return DynamicCache([(k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1)) for k, v in kv],
                        config=model.config)


class TransformersBackend:
    """A causal LM loaded from a plain HF checkpoint folder."""

    #: `next_token_distribution`'s default path: length-sorted batches, last-position logits only (same numbers)
    fast_scoring: bool = True
    #: on the fast path, the token prefix a batch shares is run once and its KV cache reused (same numbers)
    prefix_caching: bool = True
    #: shared prefixes shorter than this are not worth a second forward call
    min_shared_prefix: int = 16

    def __init__(self, path: str | Path, device: str = "cpu", model=None, tokenizer=None):
        self.path = str(path)
        self.device = device
        if model is None:
            model, tokenizer = load_model_and_tokenizer(path, device)
        self.model, self.tokenizer = model, tokenizer
        self._logits_to_keep: bool | None = None  #: whether the model's forward takes ``logits_to_keep``
        self._prefix_ok: bool | None = None  #: whether the model's cache is plain full attention (prefix reuse is safe)
        self.prefix_cache = SharedPrefixCache()

    # ------------------------------------------------------------------ helpers
    def render(self, messages: Messages, add_generation_prompt: bool = True) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt,
                                                  **CHAT_TEMPLATE_KWARGS)

    def _encode_left_padded(self, texts: Sequence[str], max_length: int | None = None):
        tok = self.tokenizer
        sides = tok.padding_side, tok.truncation_side
        tok.padding_side = tok.truncation_side = "left"  # keep the end of a long prompt: that is where we read
        try:
            enc = tok(list(texts), return_tensors="pt", padding=True, add_special_tokens=False,
                      truncation=max_length is not None, max_length=max_length)
        finally:
            tok.padding_side, tok.truncation_side = sides
        return {k: v.to(self.device) for k, v in enc.items()}

    # ------------------------------------------------------------------ generation
    @torch.inference_mode()
    def generate(
        self,
        prompts: Sequence[Messages],
        max_new_tokens: int,
        temperature: float = 0.0,
        top_p: float = 1.0,
        top_k: int = 0,
        seed: int = 0,
        batch_size: int = 16,
        read_tokens: Sequence[int] | None = None,
    ) -> list[Completion]:
        """Complete each chat prompt. temperature 0 = greedy (deterministic).

        ``read_tokens``: also record, at every generated position, the probability of each of these tokens (a
        reasoning judge's score digits), so a score can be read where the model wrote it without running the prompt
        and trace through the model again (`Completion.read_probs`)."""
        out: list[Completion] = []
        eos = self.tokenizer.eos_token_id
        for start in range(0, len(prompts), batch_size):
            batch = prompts[start : start + batch_size]
            enc = self._encode_left_padded([self.render(m) for m in batch])
            t0 = time.perf_counter()
            kwargs = dict(max_new_tokens=max_new_tokens, pad_token_id=self.tokenizer.pad_token_id)
            if temperature > 0:
                kwargs.update(do_sample=True, temperature=temperature, top_p=top_p, top_k=top_k or None)
            else:
                kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            with own_rng(seed + start if temperature > 0 else None, self.device), self._reading(read_tokens) as steps:
                gen = self.model.generate(**enc, **kwargs)
            dt = (time.perf_counter() - t0) * 1000 / len(batch)
            new = gen[:, enc["input_ids"].shape[1] :]
            read = torch.stack(steps, dim=1).tolist() if read_tokens is not None else None  # [row][position][token]
            for i, row in enumerate(new):
                ids = row.tolist()
                finished = eos in ids
                if finished:
                    ids = ids[: ids.index(eos)]
                while ids and ids[-1] == self.tokenizer.pad_token_id:
                    ids.pop()
                out.append(Completion(
                    text=self.tokenizer.decode(ids, skip_special_tokens=True).strip(),
                    finished=finished,
                    prompt_tokens=int(enc["attention_mask"][i].sum()),
                    completion_tokens=len(ids),
                    latency_ms=dt,
                    token_ids=ids if read is not None else None,
                    read_probs=read[i][: len(ids)] if read is not None else None,
                ))
        return out

    @contextlib.contextmanager
    def _reading(self, read_tokens: Sequence[int] | None):
        """While generating: the softmax of each step's last-position logits at ``read_tokens`` (a list of
        [batch, len(read_tokens)] tensors, one per generated token), taken by a hook on the output embedding."""
        steps: list[torch.Tensor] = []
        if read_tokens is None:
            yield steps
            return
        ids = torch.tensor(list(read_tokens), device=self.device)

        def hook(_module, _inputs, logits):
            steps.append(torch.softmax(logits[:, -1, :].float(), dim=-1)[:, ids].cpu())

        handle = self.model.get_output_embeddings().register_forward_hook(hook)
        try:
            yield steps
        finally:
            handle.remove()

    # ------------------------------------------------------------------ scoring
    @torch.inference_mode()
    def next_token_distribution(
        self, texts: Sequence[str], token_ids: Sequence[int], batch_size: int = 8, max_length: int = 2048,
        fast: bool | None = None,
    ) -> list[TokenDistribution]:
        """P(token | text) for each of ``token_ids``, at the position right after each (rendered) text.

        The fast path (default, ``fast_scoring``) computes the same numbers with less work: texts are batched by
        length (less padding; results come back in the order given) and the vocabulary projection is applied to
        the last position only (``logits_to_keep=1``) instead of every position, and (``prefix_caching``) the token
        prefix a batch's rows share — a judge template's instructions — is run once, its KV cache kept for later
        calls, and only the rest of each row is run (`_forward_shared_prefix`). ``fast=False`` is the original path
        (batches in the order given, logits at every position), kept to check that they agree."""
        fast = self.fast_scoring if fast is None else fast
        order = list(range(len(texts)))
        if fast:
            lengths = [len(ids) for ids in self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]]
            order.sort(key=lambda i: lengths[i])
        keep = {"logits_to_keep": 1} if fast and self._takes_logits_to_keep() else {}
        out: list[TokenDistribution | None] = [None] * len(texts)
        ids = torch.tensor(list(token_ids), device=self.device)
        shared = fast and bool(keep) and self.prefix_caching and self._can_share_prefix()
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            enc = self._encode_left_padded([texts[i] for i in idx], max_length=max_length)
            t0 = time.perf_counter()
            logits = self._forward_shared_prefix(enc) if shared else None
            if logits is None:
                logits = self.model(**enc, **keep).logits[:, -1, :].float()
            probs = torch.softmax(logits, dim=-1)
            dt = (time.perf_counter() - t0) * 1000 / len(idx)
            for row, i in enumerate(idx):
                out[i] = TokenDistribution(
                    probs=probs[row, ids].tolist(),
                    argmax_token=self.tokenizer.decode([int(probs[row].argmax())]),
                    prompt_tokens=int(enc["attention_mask"][row].sum()),
                    latency_ms=dt,
                )
        return out

    def _forward_shared_prefix(self, enc) -> torch.Tensor | None:
        """Last-position logits of a left-padded batch, with the token prefix its rows share run once (batch 1,
        from `prefix_cache`) and only the rest of each row run over it; None when nothing worth sharing.

        Each row's ids are exactly those of the batch's tokenisation (the same ids the plain forward sees), so the
        prefix is a token prefix of every row. The suffixes are left-padded *between* the prefix and the suffix:
        the mask hides the pads, each real token gets its own position (prefix length + its index in the suffix),
        and the last column is every row's real last token, so ``logits_to_keep=1`` reads the right place. A batch
        of one uses the longest cached prefix of its row (its own prefix would be the whole prompt)."""
        mask = enc["attention_mask"]
        rows = [ids[m.bool()].tolist() for ids, m in zip(enc["input_ids"], mask)]
        n = min(common_prefix_length(rows), min(len(r) for r in rows) - 1)  # every row keeps >= 1 token to run
        if len(rows) == 1:
            base = self.prefix_cache.longest(rows[0][:n])
            if base is None or len(base) < self.min_shared_prefix:
                return None
            n = len(base)
        elif n < self.min_shared_prefix:
            return None
        kv = self.prefix_cache.get(self.model, rows[0][:n])
        dev = enc["input_ids"].device
        width = max(len(r) for r in rows) - n
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        input_ids = torch.full((len(rows), width), pad, dtype=torch.long, device=dev)
        attention = torch.zeros((len(rows), n + width), dtype=torch.long, device=dev)
        attention[:, :n] = 1
        positions = torch.full((len(rows), width), n, dtype=torch.long, device=dev)
        for b, r in enumerate(rows):
            k = len(r) - n
            input_ids[b, width - k :] = torch.tensor(r[n:], device=dev)
            attention[b, n + width - k :] = 1
            positions[b, width - k :] = torch.arange(n, len(r), device=dev)
        out = self.model(input_ids=input_ids, attention_mask=attention, position_ids=positions,
                         past_key_values=_dynamic_cache(self.model, kv, len(rows)), use_cache=True, logits_to_keep=1)
        return out.logits[:, -1, :].float()

    def _can_share_prefix(self) -> bool:
        """Prefix reuse needs plain full-attention KV layers (a sliding window counts cache slots, not positions,
        and the suffixes' padding sits inside the window) and a forward that takes ``logits_to_keep``."""
        if self._prefix_ok is None:
            from transformers import DynamicCache
            from transformers.cache_utils import DynamicLayer

            try:
                cache = DynamicCache(config=self.model.config)
                self._prefix_ok = (self._takes_logits_to_keep() and bool(cache.layers)
                                   and all(type(layer) is DynamicLayer for layer in cache.layers)
                                   and not getattr(self.model.config, "is_encoder_decoder", False))
            except Exception:  # noqa: BLE001 - a model whose cache cannot be built this way keeps the plain path
                self._prefix_ok = False
        return self._prefix_ok

    def _takes_logits_to_keep(self) -> bool:
        if self._logits_to_keep is None:
            try:
                self._logits_to_keep = "logits_to_keep" in inspect.signature(type(self.model).forward).parameters
            except (TypeError, ValueError):
                self._logits_to_keep = False
        return self._logits_to_keep
