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
    base_model: str
    path: str
    checkpoint_hash: str
    n_train: int = pa.Field(gt=0)
    train_loss: float
    steps: int = pa.Field(ge=0)
    train_seconds: float = pa.Field(ge=0)


class JudgeReport(pa.DataFrameModel):
    judge_variant: str
    judge: str  #: the trained judge, or its untrained base for reference
    eval_set: str
    n: int = pa.Field(ge=0)
    alpha: float = pa.Field(nullable=True)  #: Krippendorff alpha (interval), expected score vs gold
    alpha_parsed: float = pa.Field(nullable=True)  #: same, with the parsed (greedy) score; invalid = missing
    alpha_low: float = pa.Field(nullable=True)
    alpha_high: float = pa.Field(nullable=True)
    invalid_rate: float = pa.Field(ge=0, le=1)
    mean_abs_error: float = pa.Field(nullable=True, ge=0)


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

