"""How a judge is measured: the rows of the judge report, for any judge kind, on any evaluation set.

`JudgeEvaluator` wraps one judge and the judgment store (every verdict goes through the store, so a
report re-run judges nothing twice) and produces long-format metric rows
``{eval_set, metric, value, low, high, n}``:

- `on_gold_set`: the held-out gold set (judge-test). Pointwise judges: Krippendorff's alpha (interval)
  of the expected score vs gold; every kind: pair accuracy on the gold-labelled pairs; invalid rate,
  tokens per verdict and trace length (output tokens).
- `on_pairs`: human-labelled pairs (LLMBar, MT-Bench, a user's file). Pairwise judges see every pair in
  both orders: accuracy (over both orders, invalid = wrong), position consistency and flip rate.
  Pointwise judges and reward models score each response and are credited by which scores higher
  (a tie earns 0.5). Where annotators' own labels exist, the human–human alpha is the ceiling.
- `on_canaries`: responses that should lose (`canaries.py`), each against the best real response to
  the same prompt: the judge's win rate for the canary (and its score, for pointwise judges).

Confidence intervals are percentile bootstraps over items (responses or pairs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from judge_pipeline.judging.cached import judge_through_store
from judge_pipeline.judging.verdict import Judge, Verdict
from judge_pipeline.metrics.agreement import invalid_rate, krippendorff_alpha_interval
from judge_pipeline.metrics.bootstrap import bootstrap_ci
from judge_pipeline.metrics.pairwise import (accuracy_ci, correct_flags, human_human_alpha, pointwise_pair_credit,
                                             position_consistency)
from judge_pipeline.store import JudgmentStore


def metric(eval_set: str, name: str, value: float | None, low: float | None = None, high: float | None = None,
           n: int = 0) -> dict:
    def clean(x):
        return None if x is None or (isinstance(x, float) and np.isnan(x)) else float(x)
    return {"eval_set": eval_set, "metric": name, "value": clean(value), "low": clean(low), "high": clean(high), "n": n}


def _mean(xs: Sequence[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return float(np.mean(vals)) if vals else None


@dataclass
class JudgeEvaluator:
    judge: Judge
    store: JudgmentStore
    run_id: str | None = None
    batch_size: int = 16
    resamples: int = 1000
    level: float = 0.95
    computed: int = 0  #: verdicts computed now (model calls), over every call

    # ------------------------------------------------------------------ plumbing
    def verdicts(self, items: Sequence[tuple[str, ...]], desc: str) -> list[Verdict]:
        verdicts, _, stats = judge_through_store(self.judge, items, self.store, self.run_id,
                                                 batch_size=self.batch_size, desc=f"{self.judge.name}: {desc}")
        self.computed += stats.computed
        return verdicts

    def _pair_credit(self, prompts, resp_a, resp_b, labels, desc) -> tuple[np.ndarray, dict]:
        """Per-pair credit against ``labels`` (1|2), and extras (consistency for pairwise judges)."""
        if self.judge.kind == "pairwise":
            ab = self.verdicts(list(zip(prompts, resp_a, resp_b)), f"{desc} (a, b)")
            ba = self.verdicts(list(zip(prompts, resp_b, resp_a)), f"{desc} (b, a)")
            l_ab, l_ba = [v.label for v in ab], [v.label for v in ba]
            swapped_gold = [3 - g for g in labels]
            credit = (correct_flags(l_ab, labels) + correct_flags(l_ba, swapped_gold)) / 2
            pc = position_consistency(l_ab, l_ba)
            return credit, {"position_consistency": pc.consistent, "flip_rate": pc.flip_rate,
                            "invalid_rate": invalid_rate(l_ab + l_ba), "verdicts": ab + ba}
        va = self.verdicts(list(zip(prompts, resp_a)), f"{desc} (a)")
        vb = self.verdicts(list(zip(prompts, resp_b)), f"{desc} (b)")
        credit = pointwise_pair_credit([v.reward_value for v in va], [v.reward_value for v in vb], labels)
        return credit, {"invalid_rate": invalid_rate([v.reward_value for v in va + vb]), "verdicts": va + vb}

    def _pair_rows(self, eval_set: str, credit: np.ndarray, extra: dict) -> list[dict]:
        acc, lo, hi = accuracy_ci(credit, self.resamples, self.level)
        rows = [metric(eval_set, "accuracy", acc, lo, hi, len(credit)),
                metric(eval_set, "invalid_rate", extra["invalid_rate"], n=len(credit))]
        for k in ("position_consistency", "flip_rate"):
            if k in extra:
                rows.append(metric(eval_set, k, extra[k], n=len(credit)))
        return rows

    # ------------------------------------------------------------------ evaluation sets
    def on_gold_set(self, rows: Sequence[dict], eval_set: str = "judge_test") -> list[dict]:
        """``rows``: long gold rows (pair_id, position, prompt, response, gold_score, pair_label)."""
        out: list[dict] = []
        all_verdicts: list[Verdict] = []
        if self.judge.kind != "pairwise":
            items = [(r["prompt"], r["response"]) for r in rows]
            verdicts = self.verdicts(items, eval_set)
            all_verdicts += verdicts
            gold = [float(r["gold_score"]) for r in rows]
            if self.judge.kind == "pointwise":
                arr = np.array([[np.nan if v.reward_value is None else v.reward_value, g] for v, g in zip(verdicts, gold)])
                a, lo, hi = bootstrap_ci(arr, lambda x: krippendorff_alpha_interval(x[:, 0], x[:, 1]), self.resamples, self.level)
                out.append(metric(eval_set, "alpha", a, lo, hi, len(rows)))
                out.append(metric(eval_set, "alpha_parsed", krippendorff_alpha_interval([v.score for v in verdicts], gold),
                                  n=len(rows)))
                out.append(metric(eval_set, "invalid_rate", invalid_rate([v.score for v in verdicts]), n=len(rows)))
        pairs: dict[str, dict] = {}
        for r in rows:
            if r["pair_label"] is not None:
                pairs.setdefault(r["pair_id"], {"prompt": r["prompt"], "label": int(r["pair_label"])})[r["position"]] = r["response"]
        pairs = {k: p for k, p in sorted(pairs.items()) if "a" in p and "b" in p}
        if pairs:
            ps = list(pairs.values())
            credit, extra = self._pair_credit([p["prompt"] for p in ps], [p["a"] for p in ps], [p["b"] for p in ps],
                                              [p["label"] for p in ps], f"{eval_set} pairs")
            rows_ = self._pair_rows(f"{eval_set}_pairs", credit, extra)
            if self.judge.kind == "pointwise":  # its response-level invalid rate is reported above
                rows_ = [r for r in rows_ if r["metric"] != "invalid_rate"]
            out += rows_
            all_verdicts += extra["verdicts"] if self.judge.kind == "pairwise" else []
        tokens = [(v.prompt_tokens or 0) + (v.output_tokens or 0) for v in all_verdicts]
        out.append(metric(eval_set, "tokens_per_verdict", _mean(tokens), n=len(tokens)))
        out.append(metric(eval_set, "output_tokens", _mean([v.output_tokens for v in all_verdicts]), n=len(tokens)))
        return out

    def on_pairs(self, eval_set: str, pairs: Sequence[dict]) -> list[dict]:
        """``pairs``: dicts with prompt, response_a, response_b, label (1|2), optional annotator_labels."""
        if not pairs:
            return []
        credit, extra = self._pair_credit([p["prompt"] for p in pairs], [p["response_a"] for p in pairs],
                                          [p["response_b"] for p in pairs], [int(p["label"]) for p in pairs], eval_set)
        out = self._pair_rows(eval_set, credit, extra)
        annot = [p["annotator_labels"] for p in pairs if p.get("annotator_labels")]
        if annot:
            out.append(metric(eval_set, "human_human_alpha", human_human_alpha(annot), n=len(annot)))
        return out

    def on_canaries(self, cases: Sequence[dict]) -> list[dict]:
        """``cases``: {canary, prompt, canary_response, best_response}. Rows per canary: the judge's win rate
        for the canary against the best real response (both orders for pairwise judges; a tie counts 0.5),
        and its mean score (pointwise judges). All cases are judged in one batched call."""
        if not cases:
            return []
        # label 1 = the canary (shown first) is better: the credit is the canary's win rate
        credit, extra = self._pair_credit([c["prompt"] for c in cases], [c["canary_response"] for c in cases],
                                          [c["best_response"] for c in cases], [1] * len(cases), "canaries")
        canary_verdicts = extra["verdicts"][: len(cases)]
        out = []
        for name in dict.fromkeys(c["canary"] for c in cases):
            idx = [i for i, c in enumerate(cases) if c["canary"] == name]
            out.append(metric(f"canary:{name}", "win_rate", float(np.mean(credit[idx])), n=len(idx)))
            if self.judge.kind == "pointwise":
                out.append(metric(f"canary:{name}", "score", _mean([canary_verdicts[i].reward_value for i in idx]), n=len(idx)))
        return out


#: the comparison table's columns, like the paper's Tables 2-5: (eval_set, metric)
COMPARISON_COLUMNS = [
    ("judge_test", "alpha"), ("judge_test_pairs", "accuracy"), ("judge_test", "invalid_rate"),
    ("judge_test", "output_tokens"), ("llmbar_natural", "accuracy"), ("llmbar_adversarial", "accuracy"),
    ("mtbench_human", "accuracy"), ("judge_test_pairs", "position_consistency"),
]


def comparison_tables(report: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(main table, canary table): one row per judge, "value [low, high]" cells.

    Variants that share a template share their untrained-base reference, so its rows come once per such
    variant (identical: same judge, same stored verdicts); they are kept once.
    """
    report = report.unique(subset=["judge", "eval_set", "metric"], keep="first", maintain_order=True)
    def cell(v, lo, hi):
        if v is None:
            return ""
        return f"{v:.2f}" + (f" [{lo:.2f}, {hi:.2f}]" if lo is not None and hi is not None else "")
    cells = report.with_columns(pl.struct("value", "low", "high").map_elements(
        lambda s: cell(s["value"], s["low"], s["high"]), return_dtype=pl.String).alias("cell"))
    wanted = [f"{s}:{m}" for s, m in COMPARISON_COLUMNS] + sorted(
        {f"{s}:accuracy" for s in report["eval_set"].unique().to_list() if s.startswith("user:")})
    main = (cells.with_columns((pl.col("eval_set") + ":" + pl.col("metric")).alias("column"))
            .filter(pl.col("column").is_in(wanted))
            .pivot(on="column", index="judge", values="cell"))
    main = main.select("judge", *[c for c in wanted if c in main.columns]).sort("judge")
    canary = (cells.filter(pl.col("eval_set").str.starts_with("canary:"))
              .with_columns((pl.col("eval_set").str.replace("canary:", "") + " " + pl.col("metric")).alias("column"))
              .pivot(on="column", index="judge", values="cell").sort("judge"))
    return main, canary
