"""The verdict: what any judge returns for one item, and what the store keeps of it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


@dataclass
class Verdict:
    raw_output: str  #: exactly what the judge produced
    reasoning: str | None = None  #: the judge's reasoning trace, if any
    score: float | None = None  #: parsed pointwise score 0..9; None when invalid
    label: int | None = None  #: parsed pairwise label 1|2; None when invalid
    invalid_reason: str | None = None  #: why score/label is None
    expected_score: float | None = None  #: Σ x·p(x) over the score tokens, p renormalised
    score_probs: list[float] | None = field(default=None, repr=False)  #: renormalised p(0..9)
    mass_outside: float | None = None  #: probability mass outside the ten score tokens
    reward: float | None = None  #: scalar of a Bradley-Terry reward model (unbounded; no score/label)
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: float | None = None
    device_ms: float | None = None  #: time the model held its device for this verdict (local backends; None: unknown)

    @property
    def reward_value(self) -> float | None:
        """The number a reward uses: the expected score where there is one, else the parsed score, else the
        reward model's scalar."""
        for value in (self.expected_score, self.score, self.reward):
            if value is not None:
                return value
        return None

    def as_row(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Verdict":
        return cls(**{k: row.get(k) for k in cls.__dataclass_fields__})


@dataclass
class NotJudged:
    """What a judge returns, in a verdict's place, for an item it could not judge *now*: a transport failure
    (no answer, an empty body, a 5xx after the client's retries, a timeout). It is no verdict and is never
    stored: `judging.cached.judge_through_store` counts it (``JudgingStats.failed``) and a later call asks
    again. A judge output that does not parse is a verdict (with ``invalid_reason``), and is stored."""

    reason: str


class Judge(Protocol):
    """What every judge exposes: identity (for store keys) and a batch call.

    ``items`` are (prompt, response) for pointwise judges and (prompt, response_a, response_b)
    for pairwise ones (issue 4).
    """

    name: str  #: human name, e.g. "nonreasoning" or "gold:rules-v1"
    role: str  #: "gold" | "training" | "external"
    kind: str  #: "pointwise" | "pairwise" | "reward_model"
    fingerprint: str  #: hash of what decides a verdict besides decoding: model, checkpoint, template text, code
    template_version: str
    model: str
    checkpoint_hash: str

    @property
    def decoding(self) -> dict: ...

    def judge(self, items: list[tuple[str, ...]]) -> list[Verdict | NotJudged]: ...
