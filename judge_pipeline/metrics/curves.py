"""The overoptimization tables, computed from per-sample scores (pure polars/numpy; the assets call these).

- `overoptimization_table`: per (policy, judge, step) mean proxy and gold with bootstrap CIs over prompts,
  KL to the initial policy and d = sqrt(KL), and style-controlled proxy and gold (`metrics/style.py`);
- `best_of_n_table`: the best-of-n curve of the initial policy from a pool of samples (`metrics/best_of_n.py`);
- `pattern_prevalence`: share of outputs per step that trip each hacking detector (`metrics/detectors.py`);
- `fits_table`: Gao et al. fits (RL and best-of-n) and the curve landmarks per run (`metrics/gao_fits.py`).
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from judge_pipeline.metrics.best_of_n import best_of_n_expectation, best_of_n_kl
from judge_pipeline.metrics.bootstrap import bootstrap_ci, crossed_bootstrap_ci
from judge_pipeline.metrics.detectors import DETECTORS, detect
from judge_pipeline.metrics.gao_fits import curve_landmarks, fit_gao
from judge_pipeline.metrics.style import style_controlled

RUN = ["policy", "judge_variant"]


def _ci(values, resamples: int, level: float) -> tuple[float | None, float | None, float | None]:
    arr = np.asarray([v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))], dtype=float)
    if not len(arr):
        return None, None, None
    return bootstrap_ci(arr, np.mean, resamples, level)


def with_style_control(scores: pl.DataFrame) -> pl.DataFrame:
    """Adds ``proxy_controlled`` and ``gold_controlled``: each run's scores with the style change since step 0
    regressed out (coefficients fitted per run and per score)."""
    frames = []
    for _, g in scores.sort([*RUN, "step"]).group_by(RUN, maintain_order=True):
        texts, ref = g["response"].to_list(), (g["step"] == g["step"].min()).to_numpy()
        cols = {}
        for col in ("proxy_score", "gold_score"):
            values = g[col].cast(pl.Float64).fill_null(float("nan")).to_numpy()
            controlled, _ = style_controlled(texts, values, ref)
            cols[col.replace("_score", "_controlled")] = pl.Series(controlled).fill_nan(None)
        frames.append(g.with_columns(**cols))
    return pl.concat(frames)


def _seed_ci(g: pl.DataFrame, col: str, resamples: int, level: float) -> tuple[float | None, float | None, float | None]:
    """Mean and CI of ``col`` over one step's rows: over prompts, or over seeds x prompts when several seeds ran."""
    if g["seed"].n_unique() == 1:
        return _ci(g[col].to_list(), resamples, level)
    wide = g.select("seed", "prompt_id", pl.col(col).cast(pl.Float64)).pivot("prompt_id", index="seed", values=col).sort("seed")
    est, lo, hi = crossed_bootstrap_ci(wide.drop("seed").fill_null(float("nan")).to_numpy(), resamples, level)
    return tuple(None if math.isnan(v) else v for v in (est, lo, hi))


def overoptimization_table(scores: pl.DataFrame, resamples: int, level: float) -> pl.DataFrame:
    """Mean proxy and gold (raw and style-controlled) and KL per (policy, judge, step), CIs over prompts, or over
    seeds and prompts (crossed bootstrap) when the run has several seeds. ``*_change``: the paired change since
    step 0 (same seed, same prompt), whose CI is much narrower than the difference of two means' CIs."""
    if "seed" not in scores.columns:
        scores = scores.with_columns(seed=pl.lit(0, dtype=pl.Int64))
    if "kl" not in scores.columns:
        scores = scores.with_columns(kl=pl.lit(None, dtype=pl.Float64))
    if "proxy_scale" not in scores.columns:
        scores = scores.with_columns(proxy_scale=pl.lit("score_0_9"))
    scores = with_style_control(scores)
    start = (scores.filter(pl.col("step") == pl.col("step").min().over(RUN))
             .select(*RUN, "seed", "prompt_id", proxy_start="proxy_score", gold_start="gold_score"))
    scores = scores.join(start, on=[*RUN, "seed", "prompt_id"], how="left").with_columns(  # paired changes since step 0
        proxy_change=pl.col("proxy_score") - pl.col("proxy_start"), gold_change=pl.col("gold_score") - pl.col("gold_start"))
    rows = []
    for (policy, judge, step), g in scores.group_by([*RUN, "step"], maintain_order=True):
        row = {"policy": policy, "judge_variant": judge, "step": int(step), "n": len(g), "n_seeds": g["seed"].n_unique(),
               "proxy_scale": g["proxy_scale"][0]}
        for col, name in (("proxy_score", "proxy"), ("gold_score", "gold"), ("kl", "kl"),
                          ("proxy_controlled", "proxy_controlled"), ("gold_controlled", "gold_controlled"),
                          ("proxy_change", "proxy_change"), ("gold_change", "gold_change")):
            row[f"{name}_mean"], row[f"{name}_low"], row[f"{name}_high"] = _seed_ci(g, col, resamples, level)
        row["d"] = None if row["kl_mean"] is None else math.sqrt(max(0.0, row["kl_mean"]))
        row["gap"] = None if row["proxy_mean"] is None else row["proxy_mean"] - row["gold_mean"]
        rows.append(row)
    floats = [c for c in rows[0] if c not in ("policy", "judge_variant", "step", "n", "n_seeds", "proxy_scale")] if rows else []
    return pl.DataFrame(rows, schema_overrides={c: pl.Float64 for c in floats}).sort([*RUN, "step"])


def best_of_n_table(pool: pl.DataFrame, ns: list[int], resamples: int, level: float, invalid_proxy: float) -> pl.DataFrame:
    """Best-of-n (by proxy) expected proxy and gold per n, from a pool of samples per prompt; CIs over prompts.

    ``pool`` has policy, judge_variant, prompt_id, proxy_score (None = invalid: ranked as ``invalid_proxy``)
    and gold_score. Every prompt must have at least max(ns) samples.
    """
    rows = []
    for (policy, judge), run in pool.group_by(RUN, maintain_order=True):
        per_prompt = [(g["proxy_score"].fill_null(invalid_proxy).to_numpy(), g["gold_score"].to_numpy())
                      for _, g in run.sort("prompt_id", "sample_index").group_by("prompt_id", maintain_order=True)]
        for n in ns:
            proxy = [best_of_n_expectation(p, p, n) for p, _ in per_prompt]
            gold = [best_of_n_expectation(p, g, n) for p, g in per_prompt]
            kl = best_of_n_kl(n)
            row = {"policy": policy, "judge_variant": judge, "n": n, "kl": kl, "d": math.sqrt(kl), "prompts": len(per_prompt)}
            row["proxy_mean"], row["proxy_low"], row["proxy_high"] = _ci(proxy, resamples, level)
            row["gold_mean"], row["gold_low"], row["gold_high"] = _ci(gold, resamples, level)
            rows.append(row)
    return pl.DataFrame(rows).sort([*RUN, "n"])


def pattern_prevalence(scores: pl.DataFrame, prompts: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per (policy, judge, step): the share of answers tripping each detector, beside the mean proxy-gold gap.
    ``prompts`` (prompt_id, prompt) gives the prompt-aware detectors the prompt each answer answers; without
    it they see an empty prompt."""
    texts = dict(prompts.select("prompt_id", "prompt").iter_rows()) if prompts is not None else {}
    hits = pl.DataFrame([detect(t, texts.get(i, "")) for t, i in scores.select("response", "prompt_id").iter_rows()])
    flagged = pl.concat([scores.select(*RUN, "step", "proxy_score", "gold_score"), hits], how="horizontal")
    names = [*DETECTORS, "any_pattern"]
    return (flagged.group_by(*RUN, "step")
            .agg(pl.len().alias("n"), *[pl.col(c).cast(pl.Float64).mean().alias(c) for c in names],
                 (pl.col("proxy_score").mean() - pl.col("gold_score").mean()).alias("gap"))
            .sort([*RUN, "step"]))


def _fit_row(policy: str, judge: str, form: str, d: list[float], gold: list[float], base: float) -> dict:
    row = {"policy": policy, "judge_variant": judge, "form": form, "alpha": None, "beta": None, "r2": None,
           "n_points": len(d), "d_peak": None, "gold_at_peak": None, "note": ""}
    try:
        fit = fit_gao(form, d, [g - base for g in gold])
    except ValueError as exc:
        row["note"] = str(exc)
        return row
    row.update(alpha=fit.alpha, beta=fit.beta, r2=fit.r2, d_peak=fit.d_peak,
               gold_at_peak=None if fit.gain_at_peak is None else base + fit.gain_at_peak,
               note="no peak: gold still rising in the fitted range" if fit.d_peak is None
               else "peak at d = 0: gold falls from the start" if fit.d_peak == 0 else "")
    return row


def fits_table(over: pl.DataFrame, bon: pl.DataFrame | None) -> pl.DataFrame:
    """Per run: the RL fit on its checkpoints, the best-of-n fit on its pool, and the RL curve's landmarks."""
    rows = []
    for (policy, judge), g in over.sort([*RUN, "step"]).group_by(RUN, maintain_order=True):
        base = float(g["gold_mean"][0])
        usable = g.filter(pl.col("d").is_not_null())
        row = _fit_row(policy, judge, "rl", usable["d"].to_list(), usable["gold_mean"].to_list(), base)
        lm = curve_landmarks(g["step"].to_list(), g["proxy_mean"].to_list(), g["gold_mean"].to_list(),
                             g["gold_low"].to_list(), g["gold_high"].to_list())
        row.update(peak_step=lm.peak_step, peak_gold=lm.peak_gold, final_proxy=lm.final_proxy, final_gold=lm.final_gold,
                   divergence_step=lm.divergence_step, regret=lm.regret, gold_drop_significant=lm.gold_drop_significant)
        rows.append(row)
        if bon is not None:
            b = bon.filter((pl.col("policy") == policy) & (pl.col("judge_variant") == judge)).sort("n")
            if len(b):
                rows.append(_fit_row(policy, judge, "best_of_n", b["d"].to_list(), b["gold_mean"].to_list(),
                                     float(b["gold_mean"][0])))
    schema = {c: pl.Float64 for c in ("alpha", "beta", "r2", "d_peak", "gold_at_peak", "peak_gold", "final_proxy",
                                      "final_gold", "regret")}
    schema.update(peak_step=pl.Int64, divergence_step=pl.Int64, gold_drop_significant=pl.Boolean)
    return pl.DataFrame(rows, schema_overrides=schema, infer_schema_length=None).sort([*RUN, "form"])
