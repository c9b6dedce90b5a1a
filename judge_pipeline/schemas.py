"""pandera schemas of every table that crosses an asset boundary (polars).

The Dagster layer turns each into a Dagster type (dagster-pandera), so a table that breaks its
schema fails the step that produced it, and the UI shows the columns.
"""

from __future__ import annotations

import pandera.polars as pa

SPLITS = ["judge_train", "judge_val", "judge_test"]


class PreferencePairs(pa.DataFrameModel):
    """Prompts with two generated responses each, split for judge training."""

    pair_id: str = pa.Field(unique=True)
    prompt_id: str
    prompt: str
    response_a: str
    response_b: str
    finished_a: bool
    finished_b: bool
    split: str = pa.Field(isin=SPLITS)


class PromptPool(pa.DataFrameModel):
    """A pool of prompts (RL training or policy test)."""

    prompt_id: str = pa.Field(unique=True)
    prompt: str


class GoldLabels(pa.DataFrameModel):
    """Gold pointwise verdicts for every response of every pair, plus the derived pairwise label."""

    pair_id: str
    position: str = pa.Field(isin=["a", "b"])
    prompt_id: str
    prompt: str
    response: str
    split: str = pa.Field(isin=SPLITS)
    gold_score: float = pa.Field(ge=0, le=9)
    gold_trace: str
    pair_label: int = pa.Field(nullable=True, isin=[1, 2])  #: 1 if a scored higher, 2 if b; null on ties
    store_key: str


class JudgeCheckpoints(pa.DataFrameModel):
    judge_variant: str
    kind: str = pa.Field(isin=["pointwise", "pairwise", "reward_model"])
    stages: str  #: training stages run, e.g. "sft", "sft+grpo", "grpo", "bt"
    base_model: str
    path: str
    checkpoint_hash: str
    n_train: int = pa.Field(gt=0)  #: training examples (SFT / preference pairs; GRPO prompts if RL-only)
    train_loss: float  #: of the last stage
    steps: int = pa.Field(ge=0)  #: optimisation steps over all stages
    train_seconds: float = pa.Field(ge=0)


class JudgeReport(pa.DataFrameModel):
    """Long format: one metric of one judge on one evaluation set (with its bootstrap CI where there is one)."""

    judge_variant: str  #: the variant this row belongs to ("gold" for the gold judge's reference rows)
    judge: str  #: the judge scored: the trained variant, its untrained base, or the gold judge
    eval_set: str  #: judge_test, judge_test_pairs, llmbar_natural, llmbar_adversarial, mtbench_human, user:<file>, canary:<name>
    metric: str  #: alpha, alpha_parsed, accuracy, position_consistency, flip_rate, invalid_rate, tokens_per_verdict, ...
    value: float = pa.Field(nullable=True)
    low: float = pa.Field(nullable=True)
    high: float = pa.Field(nullable=True)
    n: int = pa.Field(ge=0)  #: items (responses or pairs) behind the value


class PolicyCheckpoints(pa.DataFrameModel):
    policy: str
    judge_variant: str
    step: int = pa.Field(ge=0)
    path: str
    checkpoint_hash: str
    train_reward_mean: float = pa.Field(nullable=True)
    seconds_per_step: float = pa.Field(ge=0)


class CheckpointScores(pa.DataFrameModel):
    policy: str
    judge_variant: str
    step: int = pa.Field(ge=0)
    prompt_id: str
    response: str
    finished: bool
    proxy_score: float = pa.Field(nullable=True, ge=0, le=9)  #: training judge's expected score
    proxy_invalid: bool
    gold_score: float = pa.Field(ge=0, le=9)


class Overoptimization(pa.DataFrameModel):
    policy: str
    judge_variant: str
    step: int = pa.Field(ge=0)
    n: int = pa.Field(gt=0)
    proxy_mean: float = pa.Field(nullable=True)
    proxy_low: float = pa.Field(nullable=True)
    proxy_high: float = pa.Field(nullable=True)
    gold_mean: float
    gold_low: float = pa.Field(nullable=True)
    gold_high: float = pa.Field(nullable=True)
    gap: float = pa.Field(nullable=True)  #: proxy_mean - gold_mean

