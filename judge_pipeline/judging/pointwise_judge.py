"""A trained (or untrained) LLM pointwise judge read through its score-token distribution.

Non-reasoning judges answer with the score directly, so one forward pass gives everything: the
distribution over the tokens "0".."9" at the first answer position (→ expected score Σ x·p(x), p
renormalised, and the mass on other tokens), and the greedy first token (→ the raw output, parsed
into a score or an invalid reason).

Reasoning judges first write their trace (greedy), which must end in "Score: N". The distribution is
then read at the score position *after the judge's own trace*: recorded while the trace is generated
(transformers backend) when the prompt plus the trace up to "Score: " tokenises to exactly the tokens
generated, otherwise by running that text through the model once more (the same numbers either way, up to
floating-point rounding; `judge_pipeline_tests/test_prefix_cache.py` compares them). A trace without a parseable score is invalid: no
score and no expected score (a reward must not be read from a position the judge never reached).

Rubric judges get the gold judge's instruction-specific rubric for the prompt in their template
(``rubric_fn``); the rubric source's version is part of the fingerprint.

Identity (`keys.identify_model_judge`): name, checkpoint hash (weights, tokenizer, chat template, config),
the template's version and text (read once at construction and rendered from that copy) and the rubric
source; every inference setting that changes a verdict (trace length and sampling, context length) is in
``decoding``. Both are in every store key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from judge_pipeline.backends.transformers_backend import TransformersBackend, clip_to_context
from judge_pipeline.judging.parsing import SCORE_MAX, SCORE_MIN, expected_score, parse_score, score_prefix
from judge_pipeline.judging.templates import load_template, render_pointwise
from judge_pipeline.judging.verdict import Verdict
from judge_pipeline.store.keys import identify_model_judge


def score_token_ids(tokenizer) -> list[int]:
    """Token ids of "0".."9"; each must be a single token."""
    ids = []
    for d in range(SCORE_MIN, SCORE_MAX + 1):
        enc = tokenizer.encode(str(d), add_special_tokens=False)
        if len(enc) != 1:
            raise ValueError(f"score {d} is not a single token for this tokenizer: {enc}")
        ids.append(enc[0])
    return ids


def distribution_verdict(raw: str, probs: list[float], **extra) -> dict:
    """The score fields of a verdict from the ten raw score-token probabilities."""
    exp, outside = expected_score(probs)
    total = sum(probs)
    return dict(expected_score=exp, score_probs=[p / total for p in probs] if total > 0 else None,
                mass_outside=outside, **extra)


@dataclass
class PointwiseLLMJudge:
    """Pointwise judge over a HF checkpoint folder (non-reasoning, reasoning, or rubric-augmented)."""

    checkpoint: str | Path
    name: str
    template_version: str = "pointwise_v1"
    role: str = "training"
    device: str = "cpu"
    batch_size: int = 8
    max_length: int = 1024  #: judge-prompt tokens; a longer response is cut (marked) to fit, never the instructions
    reasoning: bool = False  #: write a trace first (greedy, up to max_new_tokens), then "Score: N"
    max_new_tokens: int = 160  #: trace length cap (reasoning judges only)
    temperature: float = 0.0  #: trace sampling temperature (reasoning judges; 0 = greedy; the paper's reward: 0.7)
    top_k: int = 0  #: trace sampling top-k (0 = off; paper: 20)
    top_p: float = 1.0  #: trace sampling nucleus (paper: 0.95)
    seed: int = 0  #: trace sampling seed (with ``temperature`` > 0; another seed, another sample: in ``decoding`` when not 0)
    rubric_fn: Callable[[str], str] | None = field(default=None, repr=False)  #: prompt -> gold rubric
    rubric_version: str = ""  #: fingerprint of what ``rubric_fn`` computes
    backend: TransformersBackend | None = field(default=None, repr=False)
    kind: str = "pointwise"

    def __post_init__(self) -> None:
        if (self.rubric_fn is None) != (not self.rubric_version):
            raise ValueError("a rubric judge needs both rubric_fn and rubric_version")
        self.template = load_template(self.template_version)  # the text hashed is the text rendered
        identify_model_judge(self, self.template.sha256, rubric=self.rubric_version)
        self._score_ids: list[int] | None = None

    @property
    def decoding(self) -> dict:
        if self.reasoning:
            trace = {"mode": "greedy-trace+score-distribution"} if self.temperature <= 0 else {
                "mode": "sampled-trace+score-distribution", "temperature": self.temperature, "top_k": self.top_k,
                "top_p": self.top_p, **({"seed": self.seed} if self.seed else {})}
            return {**trace, "max_new_tokens": self.max_new_tokens, "max_length": self.max_length, "overflow": "clip-response"}
        return {"mode": "score-distribution", "max_length": self.max_length, "overflow": "clip-response"}

    def _backend(self) -> TransformersBackend:
        if self.backend is None:
            self.backend = TransformersBackend(self.checkpoint, device=self.device)
        if self._score_ids is None:
            self._score_ids = score_token_ids(self.backend.tokenizer)
        return self.backend

    def _device_ms(self, ms: float | None) -> float | None:
        """A verdict's device time: its share of the batch on this process's device (None when a server answers)."""
        return ms if isinstance(self.backend, TransformersBackend) else None

    def messages(self, prompt: str, response: str) -> list[dict[str, str]]:
        """The judge prompt, with the response cut (and marked) if the whole would exceed ``max_length`` tokens."""
        rubric = self.rubric_fn(prompt) if self.rubric_fn is not None else None
        backend = self._backend()
        (response,) = clip_to_context(backend.tokenizer, lambda r: backend.render(
            render_pointwise(self.template, prompt, r[0], rubric=rubric)), [response], self.max_length)
        return render_pointwise(self.template, prompt, response, rubric=rubric)

    def prompt_text(self, prompt: str, response: str) -> str:
        return self._backend().render(self.messages(prompt, response))

    def judge(self, items: list[tuple[str, str]]) -> list[Verdict]:
        return self._judge_reasoning(items) if self.reasoning else self._judge_direct(items)

    def _judge_direct(self, items: list[tuple[str, str]]) -> list[Verdict]:
        backend = self._backend()
        texts = [self.prompt_text(p, r) for p, r in items]
        dists = backend.next_token_distribution(texts, self._score_ids, self.batch_size, self.max_length)
        verdicts = []
        for d in dists:
            score, reason = parse_score(d.argmax_token)
            verdicts.append(Verdict(raw_output=d.argmax_token, score=score, invalid_reason=reason,
                                    **distribution_verdict(d.argmax_token, d.probs),
                                    prompt_tokens=d.prompt_tokens, output_tokens=1, latency_ms=d.latency_ms,
                                    device_ms=self._device_ms(d.latency_ms)))
        return verdicts

    def _judge_reasoning(self, items: list[tuple[str, str]]) -> list[Verdict]:
        backend = self._backend()
        local = isinstance(backend, TransformersBackend)
        messages = [self.messages(p, r) for p, r in items]
        completions = backend.generate(messages, max_new_tokens=self.max_new_tokens, batch_size=self.batch_size,
                                       temperature=self.temperature, top_k=self.top_k, top_p=self.top_p, seed=self.seed,
                                       **({"read_tokens": self._score_ids} if local else {}))
        verdicts: list[Verdict | None] = []
        reread: list[tuple[int, str]] = []  # (index, prompt text + trace up to the score digit)
        for i, (m, c) in enumerate(zip(messages, completions)):
            score, reason = parse_score(c.text)
            prefix = score_prefix(c.text) if score is not None else None
            trace = prefix.rsplit("Score", 1)[0].strip() if prefix else c.text
            v = Verdict(raw_output=c.text, reasoning=trace, score=score, invalid_reason=reason,
                        prompt_tokens=c.prompt_tokens, output_tokens=c.completion_tokens,
                        latency_ms=c.latency_ms, device_ms=self._device_ms(c.latency_ms))
            verdicts.append(v)
            if prefix is None:
                continue
            prompt = backend.render(m)
            text = prompt + prefix
            probs = self._read_while_generating(backend, prompt, text, c) if local else None
            if probs is not None:
                for k, val in distribution_verdict(v.raw_output, probs).items():
                    setattr(v, k, val)
            else:
                reread.append((i, text))
        if reread:
            dists = backend.next_token_distribution([t for _, t in reread], self._score_ids, self.batch_size,
                                                    self.max_length + self.max_new_tokens)
            for (i, _), d in zip(reread, dists):
                v = verdicts[i]
                for k, val in distribution_verdict(v.raw_output, d.probs).items():
                    setattr(v, k, val)
                v.latency_ms = (v.latency_ms or 0.0) + d.latency_ms
                v.device_ms = self._device_ms(v.latency_ms)
        return verdicts

    @staticmethod
    def _read_while_generating(backend: TransformersBackend, prompt: str, text: str, c) -> list[float] | None:
        """The score-digit probabilities recorded while the trace was generated, at the position a re-read of
        ``text`` (prompt + trace up to the digit) would read: only when ``text`` tokenises to exactly the prompt's
        ids followed by the generated ids up to that position (the same tokens, so the same distribution up to
        floating-point rounding). None otherwise (e.g. the decoded trace re-tokenises differently): re-read it."""
        if c.read_probs is None:
            return None
        tok = backend.tokenizer
        head = tok(prompt, add_special_tokens=False)["input_ids"]
        ids = tok(text, add_special_tokens=False)["input_ids"]
        k = len(ids) - len(head)
        if k < 0 or k >= len(c.read_probs) or ids[: len(head)] != head or ids[len(head):] != c.token_ids[:k]:
            return None
        return c.read_probs[k]
