"""Rewards for policy GRPO, as TRL expects them: ``f(prompts, completions, **kw) -> list[float]``.

`JudgeReward` scores each completion with a judge *through the store* (every rollout's verdict is
kept), using the judge's expected score Σ x·p(x). What an invalid judge output is worth is
configurable (``invalid_reward``), and every such case is counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from judge_pipeline.judging.cached import judge_through_store
from judge_pipeline.judging.parsing import parse_final_label, parse_label, parse_score
from judge_pipeline.judging.verdict import Judge
from judge_pipeline.store import JudgmentStore


def message_text(x) -> str:
    """The text of a TRL prompt/completion, conversational (list of messages) or plain."""
    if isinstance(x, str):
        return x
    if isinstance(x, list) and x and isinstance(x[-1], dict):
        if x[-1].get("role") == "assistant":
            return str(x[-1].get("content", ""))
        users = [m for m in x if m.get("role") == "user"]
        return str((users[-1] if users else x[-1]).get("content", ""))
    return str(x)


@dataclass
class JudgeReward:
    """Pointwise judge expected score as a GRPO reward."""

    judge: Judge
    store: JudgmentStore
    invalid_reward: float = 0.0
    run_id: str | None = None
    batch_size: int = 16
    calls: int = 0  #: reward-function invocations
    verdicts_computed: int = 0
    invalid: int = 0
    history: list[dict] = field(default_factory=list)  #: one row per rollout: prompt, completion, reward, ...

    @property
    def __name__(self) -> str:  # TRL logs rewards under the function's name
        return f"judge_{self.judge.name}"

    def __call__(self, prompts, completions, **kwargs) -> list[float]:
        items = [(message_text(p), message_text(c)) for p, c in zip(prompts, completions)]
        verdicts, keys, stats = judge_through_store(self.judge, items, self.store, self.run_id,
                                                    batch_size=self.batch_size, progress=False)
        self.calls += 1
        self.verdicts_computed += stats.computed
        rewards = []
        for (p, c), v, k in zip(items, verdicts, keys):
            value = v.reward_value
            if value is None:
                self.invalid += 1
                value = self.invalid_reward
            rewards.append(float(value))
            self.history.append({"call": self.calls, "prompt": p, "completion": c, "reward": float(value),
                                 "judge_raw": v.raw_output, "invalid_reason": v.invalid_reason, "key": k})
        return rewards


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
