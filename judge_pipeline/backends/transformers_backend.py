"""Text generation and next-token distributions with transformers (CPU or one GPU).

Two operations cover every judge and policy of the miniature:
- `generate`: chat prompts in, completions out (batched, left-padded), with whether each finished;
- `next_token_distribution`: the probability of each of a given set of tokens right after a prompt
  (plus the mass on all other tokens) — how a pointwise judge's expected score is read.
The vLLM and OpenAI-compatible backends (issue 4) implement the same two calls.
"""

from __future__ import annotations

import contextlib
import inspect
import time
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


class TransformersBackend:
    """A causal LM loaded from a plain HF checkpoint folder."""

    #: `next_token_distribution`'s default path: length-sorted batches, last-position logits only (same numbers)
    fast_scoring: bool = True

    def __init__(self, path: str | Path, device: str = "cpu", model=None, tokenizer=None):
        self.path = str(path)
        self.device = device
        if model is None:
            model, tokenizer = load_model_and_tokenizer(path, device)
        self.model, self.tokenizer = model, tokenizer
        self._logits_to_keep: bool | None = None  #: whether the model's forward takes ``logits_to_keep``

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
    ) -> list[Completion]:
        """Complete each chat prompt. temperature 0 = greedy (deterministic)."""
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
            with own_rng(seed + start if temperature > 0 else None, self.device):
                gen = self.model.generate(**enc, **kwargs)
            dt = (time.perf_counter() - t0) * 1000 / len(batch)
            new = gen[:, enc["input_ids"].shape[1] :]
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
                ))
        return out

    # ------------------------------------------------------------------ scoring
    @torch.inference_mode()
    def next_token_distribution(
        self, texts: Sequence[str], token_ids: Sequence[int], batch_size: int = 8, max_length: int = 2048,
        fast: bool | None = None,
    ) -> list[TokenDistribution]:
        """P(token | text) for each of ``token_ids``, at the position right after each (rendered) text.

        The fast path (default, ``fast_scoring``) computes the same numbers with less work: texts are batched by
        length (less padding; results come back in the order given) and the vocabulary projection is applied to
        the last position only (``logits_to_keep=1``) instead of every position. ``fast=False`` is the original
        path (batches in the order given, logits at every position), kept to check that both agree."""
        fast = self.fast_scoring if fast is None else fast
        order = list(range(len(texts)))
        if fast:
            lengths = [len(ids) for ids in self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]]
            order.sort(key=lambda i: lengths[i])
        keep = {"logits_to_keep": 1} if fast and self._takes_logits_to_keep() else {}
        out: list[TokenDistribution | None] = [None] * len(texts)
        ids = torch.tensor(list(token_ids), device=self.device)
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            enc = self._encode_left_padded([texts[i] for i in idx], max_length=max_length)
            t0 = time.perf_counter()
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

    def _takes_logits_to_keep(self) -> bool:
        if self._logits_to_keep is None:
            try:
                self._logits_to_keep = "logits_to_keep" in inspect.signature(type(self.model).forward).parameters
            except (TypeError, ValueError):
                self._logits_to_keep = False
        return self._logits_to_keep
