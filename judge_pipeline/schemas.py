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
    seed: int  #: the GRPO run's seed (PolicyTrainConfig.seeds); step 0 is the same initial policy for every seed
    step: int = pa.Field(ge=0)
    path: str
    checkpoint_hash: str
    train_reward_mean: float = pa.Field(nullable=True)
    seconds_per_step: float = pa.Field(ge=0)


class CheckpointScores(pa.DataFrameModel):
    policy: str
    judge_variant: str
    seed: int
    step: int = pa.Field(ge=0)
    prompt_id: str
    response: str
    finished: bool
    proxy_scale: str = pa.Field(isin=["score_0_9", "win_rate_vs_initial", "reward_model_scalar", "ensemble_mixed"])
    proxy_score: float = pa.Field(nullable=True)  #: the training reward's score of the answer (scale: proxy_scale)
    proxy_invalid: bool
    gold_score: float = pa.Field(ge=0, le=9)
    kl: float = pa.Field(nullable=True, ge=0)  #: KL(checkpoint || initial policy) on this prompt, nats


class ProxyAndGold(pa.DataFrameModel):
    """Mean proxy and gold scores of a run with their CIs (shared by the RL and the best-of-n curves)."""

    policy: str
    judge_variant: str
    proxy_mean: float = pa.Field(nullable=True)
    proxy_low: float = pa.Field(nullable=True)
    proxy_high: float = pa.Field(nullable=True)
    gold_mean: float
    gold_low: float = pa.Field(nullable=True)
    gold_high: float = pa.Field(nullable=True)


class Overoptimization(ProxyAndGold):
    step: int = pa.Field(ge=0)
    n: int = pa.Field(gt=0)  #: answers scored at this step (seeds x prompts)
    n_seeds: int = pa.Field(gt=0)  #: GRPO runs (seeds) pooled; CIs resample seeds and prompts when > 1
    proxy_scale: str  #: what proxy_* measure (CheckpointScores.proxy_scale)
    gap: float = pa.Field(nullable=True)  #: proxy_mean - gold_mean
    kl_mean: float = pa.Field(nullable=True, ge=0)  #: mean KL to the initial policy over prompts (nats)
    kl_low: float = pa.Field(nullable=True)
    kl_high: float = pa.Field(nullable=True)
    d: float = pa.Field(nullable=True, ge=0)  #: sqrt(kl_mean), Gao et al.'s x-axis
    proxy_controlled_mean: float = pa.Field(nullable=True)  #: proxy with the style change since step 0 regressed out
    proxy_controlled_low: float = pa.Field(nullable=True)
    proxy_controlled_high: float = pa.Field(nullable=True)
    gold_controlled_mean: float = pa.Field(nullable=True)  #: gold with the style change since step 0 regressed out
    gold_controlled_low: float = pa.Field(nullable=True)
    gold_controlled_high: float = pa.Field(nullable=True)
    proxy_change_mean: float = pa.Field(nullable=True)  #: proxy minus the same prompt's (and seed's) proxy at step 0
    proxy_change_low: float = pa.Field(nullable=True)
    proxy_change_high: float = pa.Field(nullable=True)
    gold_change_mean: float = pa.Field(nullable=True)  #: gold minus the same prompt's (and seed's) gold at step 0
    gold_change_low: float = pa.Field(nullable=True)
    gold_change_high: float = pa.Field(nullable=True)


class BestOfN(ProxyAndGold):
    n: int = pa.Field(ge=1)
    kl: float = pa.Field(ge=0)  #: log n - (n - 1) / n
    d: float = pa.Field(ge=0)
    prompts: int = pa.Field(gt=0)


class OveroptimizationFits(pa.DataFrameModel):
    policy: str
    judge_variant: str
    form: str = pa.Field(isin=["rl", "best_of_n"])
    alpha: float = pa.Field(nullable=True)
    beta: float = pa.Field(nullable=True)
    r2: float = pa.Field(nullable=True)
    n_points: int = pa.Field(ge=0)
    d_peak: float = pa.Field(nullable=True)  #: d at the fitted gold peak (None: no peak)
    gold_at_peak: float = pa.Field(nullable=True)  #: fitted gold score at d_peak
    note: str
    peak_step: int = pa.Field(nullable=True)  #: RL rows: step of the best measured gold
    peak_gold: float = pa.Field(nullable=True)
    final_proxy: float = pa.Field(nullable=True)
    final_gold: float = pa.Field(nullable=True)
    divergence_step: int = pa.Field(nullable=True)  #: first step after the peak where gold fell while proxy rose
    regret: float = pa.Field(nullable=True)  #: peak gold - final gold
    gold_drop_significant: bool = pa.Field(nullable=True)

