"""Rewards for training *judges* with GRPO (STUDY stage 2), as TRL expects them:
``f(prompts, completions, **kw) -> list[float]``; the judge's rollout (trace + verdict) against gold.

Rewards that train *policies* against judges are in `policy_rewards.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from judge_pipeline.judging.parsing import parse_final_label, parse_label, parse_score
from judge_pipeline.training.policy_rewards import message_text


def judge_score_reward(predicted: int | None, gold: float) -> float:
    """Reward for training a reasoning pointwise judge with GRPO (STUDY stage 2):
    -1 if the predicted score is invalid (None: unparseable or outside 0..9), else (81 - (ŝ - s)²) / 81."""
    if predicted is None:
        return -1.0
    return (81.0 - (predicted - gold) ** 2) / 81.0


def pairwise_label_reward(predicted: int | None, gold: int) -> float:
    """Reward for training a pairwise judge: 1 if the label matches gold, 0 if not, -1 if invalid."""
    if predicted is None:
        return -1.0
    return 1.0 if predicted == gold else 0.0


@dataclass
class VerdictReward:
    """GRPO reward for training a reasoning judge: its rollout (trace + verdict) against the gold verdict.

    TRL passes the dataset's ``gold_score`` (pointwise) or ``gold_label`` (pairwise) column as a keyword.
    Invalid verdicts get -1 (see `judge_score_reward`, `pairwise_label_reward`) and are counted.
    """

    kind: str  #: "pointwise" | "pairwise"
    reasoning: bool = False  #: pairwise: the label must be the last line (`parse_final_label`)
    rollouts: int = 0
    invalid: int = 0

    @property
    def __name__(self) -> str:
        return f"{self.kind}_verdict_vs_gold"

    def __call__(self, prompts, completions, gold_score=None, gold_label=None, **kwargs) -> list[float]:
        texts = [message_text(c) for c in completions]
        if self.kind == "pointwise":
            parsed = [parse_score(t)[0] for t in texts]
            rewards = [judge_score_reward(p, g) for p, g in zip(parsed, gold_score)]
        elif self.kind == "pairwise":
            parse = parse_final_label if self.reasoning else parse_label
            parsed = [parse(t)[0] for t in texts]
            rewards = [pairwise_label_reward(p, int(g)) for p, g in zip(parsed, gold_label)]
        else:
            raise ValueError(f"no verdict reward for judge kind {self.kind!r}")
        self.rollouts += len(texts)
        self.invalid += sum(p is None for p in parsed)
        return rewards
