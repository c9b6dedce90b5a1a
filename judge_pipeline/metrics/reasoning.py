"""Judge-reasoning analytics with bootstrap CIs: does a longer trace buy agreement with gold and robustness, and at
what cost (pure polars/numpy).

Inputs are the store's views (``judge_trace_accuracy``: one row per verdict with its trace length, ``length_bin``
(thirds by trace length) and whether it agrees with gold; ``judge_self_consistency``: one row per item sampled
several times). `trace_length_table` gives agreement per judge and length third, `self_consistency_table` the share
of sampled items whose samples all agree, each with a percentile bootstrap CI over verdicts or items; the
``reasoning_analytics`` view has the same point estimates beside position flips and cost.

How the samples are drawn (`judge_pipeline/judging/sampling.py`): `CONSISTENCY_SAMPLES` traces per item on
`CONSISTENCY_ITEMS` judge-test items, at the policy reward's sampling (`PolicyTrainConfig.judge_temperature`, top-k,
top-p) where it samples, else at `FALLBACK_SAMPLING` (the paper's reward sampling: T = 0.7, top-k 20, top-p 0.95),
because a greedy judge answers the same every time and self-consistency would be 1 by construction.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from judge_pipeline.metrics.bootstrap import bootstrap_ci

CONSISTENCY_SAMPLES = 3  #: sampled traces per item
CONSISTENCY_ITEMS = 4  #: judge-test items (responses, or pairs for a pairwise judge) sampled per reasoning judge
FALLBACK_SAMPLING = {"temperature": 0.7, "top_k": 20, "top_p": 0.95}  #: where the reward is greedy


def consistency_sampling(judge_temperature: float, judge_top_k: int, judge_top_p: float) -> dict:
    """The sampling of self-consistency traces: the reward's, where it samples; else `FALLBACK_SAMPLING`."""
    if judge_temperature > 0:
        return {"temperature": judge_temperature, "top_k": judge_top_k, "top_p": judge_top_p}
    return dict(FALLBACK_SAMPLING)


def _mean_ci(values, resamples: int, level: float) -> tuple[float | None, float | None, float | None]:
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    if not len(arr):
        return None, None, None
    est, lo, hi = bootstrap_ci(arr, np.mean, resamples, level)
    return tuple(None if np.isnan(v) else float(v) for v in (est, lo, hi))


def trace_length_table(verdicts: pl.DataFrame, resamples: int = 1000, level: float = 0.95) -> pl.DataFrame:
    """Per judge and length third: verdicts, trace tokens (mean, min, max), agreement with gold (CI over verdicts),
    invalid rate and seconds per verdict."""
    rows = []
    for (judge, kind, b), g in verdicts.sort("judge_name", "length_bin").group_by("judge_name", "kind", "length_bin",
                                                                                   maintain_order=True):
        agreement, lo, hi = _mean_ci(g["agrees"].to_list(), resamples, level)
        rows.append({"judge_name": judge, "kind": kind, "length_bin": int(b), "n": len(g),
                     "mean_trace_tokens": g["output_tokens"].mean(), "min_trace_tokens": g["output_tokens"].min(),
                     "max_trace_tokens": g["output_tokens"].max(), "agreement": agreement, "agreement_low": lo,
                     "agreement_high": hi, "invalid_rate": g["invalid"].cast(pl.Float64).mean(),
                     "seconds_per_verdict": None if g["latency_ms"].null_count() == len(g) else g["latency_ms"].mean() / 1000})
    floats = ["mean_trace_tokens", "agreement", "agreement_low", "agreement_high", "invalid_rate", "seconds_per_verdict"]
    schema = {"judge_name": pl.String, "kind": pl.String, "length_bin": pl.Int64, "n": pl.Int64,
              **{c: pl.Float64 for c in floats}}
    return pl.DataFrame(rows, schema_overrides={c: pl.Float64 for c in floats}) if rows else pl.DataFrame(schema=schema)


def self_consistency_table(items: pl.DataFrame, resamples: int = 1000, level: float = 0.95) -> pl.DataFrame:
    """Per judge: items sampled, samples per item, self-consistency (share of items whose samples all give the same
    verdict; CI over items), the mean share of the most frequent verdict and the mean spread of the expected scores."""
    rows = []
    for judge, g in items.sort("judge_name").group_by("judge_name", maintain_order=True):
        sc, lo, hi = _mean_ci(g["all_agree"].to_list(), resamples, level)
        rows.append({"judge_name": judge[0], "sampled_items": len(g), "samples_per_item": float(g["samples"].mean()),
                     "self_consistency": sc, "self_consistency_low": lo, "self_consistency_high": hi,
                     "modal_share": float(g["modal_share"].mean()), "score_sd": g["score_sd"].mean()})
    floats = ["samples_per_item", "self_consistency", "self_consistency_low", "self_consistency_high", "modal_share",
              "score_sd"]
    schema = {"judge_name": pl.String, "sampled_items": pl.Int64, **{c: pl.Float64 for c in floats}}
    return pl.DataFrame(rows, schema_overrides={c: pl.Float64 for c in floats}) if rows else pl.DataFrame(schema=schema)
