"""A trained (or untrained) LLM pointwise judge read through its score-token distribution.

Non-reasoning judges answer with the score directly, so one forward pass gives everything: the
distribution over the tokens "0".."9" at the first answer position (→ expected score Σ x·p(x), p
renormalised, and the mass on other tokens), and the greedy first token (→ the raw output, parsed
into a score or an invalid reason). Reasoning judges (issue 4) generate their trace first and read
the distribution at the score position after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from judge_pipeline.backends.transformers_backend import TransformersBackend
from judge_pipeline.judging.parsing import SCORE_MAX, SCORE_MIN, expected_score, parse_score
from judge_pipeline.judging.templates import render_pointwise
from judge_pipeline.judging.verdict import Verdict
from judge_pipeline.store.keys import checkpoint_hash, content_key


def score_token_ids(tokenizer) -> list[int]:
    """Token ids of "0".."9"; each must be a single token."""
    ids = []
    for d in range(SCORE_MIN, SCORE_MAX + 1):
        enc = tokenizer.encode(str(d), add_special_tokens=False)
        if len(enc) != 1:
            raise ValueError(f"score {d} is not a single token for this tokenizer: {enc}")
        ids.append(enc[0])
    return ids


@dataclass
class PointwiseLLMJudge:
    """Pointwise judge over a HF checkpoint folder."""

    checkpoint: str | Path
    name: str
    template_version: str = "pointwise_v1"
    role: str = "training"
    device: str = "cpu"
    batch_size: int = 8
    max_length: int = 1024
    backend: TransformersBackend | None = field(default=None, repr=False)
    kind: str = "pointwise"

    def __post_init__(self) -> None:
        self.model = str(self.checkpoint)
        self.checkpoint_hash = checkpoint_hash(self.checkpoint)
        self.fingerprint = content_key(model=self.name, checkpoint=self.checkpoint_hash, template=self.template_version)
        self._score_ids: list[int] | None = None

    @property
    def decoding(self) -> dict:
        return {"mode": "score-distribution", "max_length": self.max_length}

    def _backend(self) -> TransformersBackend:
        if self.backend is None:
            self.backend = TransformersBackend(self.checkpoint, device=self.device)
        if self._score_ids is None:
            self._score_ids = score_token_ids(self.backend.tokenizer)
        return self.backend

    def prompt_text(self, prompt: str, response: str) -> str:
        return self._backend().render(render_pointwise(self.template_version, prompt, response))

    def judge(self, items: list[tuple[str, str]]) -> list[Verdict]:
        backend = self._backend()
        texts = [self.prompt_text(p, r) for p, r in items]
        dists = backend.next_token_distribution(texts, self._score_ids, self.batch_size, self.max_length)
        verdicts = []
        for d in dists:
            score, reason = parse_score(d.argmax_token)
            exp, outside = expected_score(d.probs)
            total = sum(d.probs)
            verdicts.append(Verdict(
                raw_output=d.argmax_token,
                score=score,
                invalid_reason=reason,
                expected_score=exp,
                score_probs=[p / total for p in d.probs] if total > 0 else None,
                mass_outside=outside,
                prompt_tokens=d.prompt_tokens,
                output_tokens=1,
                latency_ms=d.latency_ms,
            ))
        return verdicts
