"""How a judge is measured: the rows of the judge report, for any judge kind, on any evaluation set.

`JudgeEvaluator` wraps one judge and the judgment store (every verdict goes through the store, so a
report re-run judges nothing twice) and produces long-format metric rows
``{eval_set, metric, value, low, high, n}``:

- `on_gold_set`: the held-out gold set (judge-test). Pointwise judges: Krippendorff's alpha (interval)
  of the expected score vs gold; every kind: pair accuracy on the gold-labelled pairs; invalid rate,
  trace length (output tokens) and the cost: tokens, seconds and device-seconds (where the backend reports them:
  local models) per verdict.
- `on_pairs`: human-labelled pairs (LLMBar, MT-Bench, a user's file). Pairwise judges see every pair in
  both orders: accuracy (over both orders, invalid = wrong), position consistency and flip rate.
  Pointwise judges and reward models score each response and are credited by which scores higher
  (a tie earns 0.5). Where annotators' own labels exist, the human–human alpha is the ceiling.
  Tie pairs (label 0, a user's file): accuracy, position consistency and flip rate are over the pairs
  with a winner; a set with ties adds ``tie_rate`` (share of its pairs that are ties),
  ``judge_tie_rate`` (share of the tie pairs the judge calls even: equal scores; for a pairwise judge
  a tie verdict or orders that disagree, as MT-Bench reads them), ``judge_tie_rate_nontie`` (the same
  on pairs with a winner: how often it calls even where humans did not), and ``judge_human_alpha``
  (nominal Krippendorff alpha of the judge's call vs the human label, ties a category). A tie-free set
  gets exactly the rows it got before.
- `on_canaries`: responses that should lose (`canaries.py`), each against the best real response to
  the same prompt: the judge's win rate for the canary (and its score, for pointwise judges).

A judge with ``covers`` (an external judge, `external.py`: verdicts read from a file) is measured on the
items its file has: pairs (and judge-test rows) it does not cover are left out, a ``coverage`` row per set
says what share it covered, and a pairwise pair covered in one order only is credited on that order
(position consistency is then over the pairs it has in both orders).

Confidence intervals are percentile bootstraps over items (responses or pairs). Every verdict's use is recorded in
the store (context ``judge_report``, partition the set, e.g. ``llmbar_natural (a, b)``), so the store's
``judge_cost_ledger`` prices each evaluation set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from judge_pipeline.judging.cached import judge_through_store
from judge_pipeline.judging.verdict import Judge, Verdict
from judge_pipeline.metrics.agreement import invalid_rate, krippendorff_alpha_interval
from judge_pipeline.metrics.bootstrap import bootstrap_ci
from judge_pipeline.metrics.pairwise import (TIE, accuracy_ci, human_human_alpha, judge_human_alpha, order_credit,
                                             pair_call, pointwise_call, pointwise_pair_credit, tie_position_consistency,
                                             unswap)
from judge_pipeline.store import JudgmentStore


USE_CONTEXT = "judge_report"  #: judgment_uses.context of the report's verdicts


def metric(eval_set: str, name: str, value: float | None, low: float | None = None, high: float | None = None,
           n: int = 0) -> dict:
    def clean(x):
        return None if x is None or (isinstance(x, float) and np.isnan(x)) else float(x)
    return {"eval_set": eval_set, "metric": name, "value": clean(value), "low": clean(low), "high": clean(high), "n": n}


def _mean(xs: Sequence[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return float(np.mean(vals)) if vals else None


@dataclass
class PairVerdicts:
    """A judge's verdicts on a list of pairs, in the form the pair metrics need.

    Pairwise judges: ``label_ab[i]`` / ``label_ba[i]`` judge pair i shown as (a, b) / (b, a); ``has_ab`` /
    ``has_ba`` say which orders were judged (both, unless an external file has one order only).
    Pointwise judges and reward models: ``score_a`` / ``score_b``, the number each response got.
    """

    kind: str
    verdicts: list[Verdict]  #: every verdict behind them (pairwise: (a, b) ones, then (b, a) ones)
    label_ab: list = field(default_factory=list)
    label_ba: list = field(default_factory=list)
    has_ab: list[bool] = field(default_factory=list)
    has_ba: list[bool] = field(default_factory=list)
    score_a: list = field(default_factory=list)
    score_b: list = field(default_factory=list)

    @property
    def pairwise(self) -> bool:
        return self.kind == "pairwise"

    def credit(self, gold: Sequence[int], idx: Sequence[int]) -> np.ndarray:
        """Per-pair credit of pairs ``idx`` against ``gold`` (1|2, aligned with ``idx``). Pairwise: the mean over
        the judged orders of 1 right / 0 wrong or invalid / 0.5 for a tie verdict; pointwise: higher score
        right, equal scores 0.5, invalid 0."""
        if not self.pairwise:
            return pointwise_pair_credit([self.score_a[i] for i in idx], [self.score_b[i] for i in idx], gold)
        out = np.zeros(len(idx))
        for j, (i, g) in enumerate(zip(idx, gold)):
            orders = []
            if self.has_ab[i]:
                orders.append(order_credit([self.label_ab[i]], [g])[0])
            if self.has_ba[i]:
                orders.append(order_credit([self.label_ba[i]], [3 - g])[0])
            out[j] = float(np.mean(orders))
        return out

    def calls(self, idx: Sequence[int]) -> list[int | None]:
        """The judge's call on each pair of ``idx``: 1, 2, TIE or None (invalid); see `metrics.pairwise.pair_call`."""
        if not self.pairwise:
            return [pointwise_call(self.score_a[i], self.score_b[i]) for i in idx]
        out = []
        for i in idx:
            if self.has_ab[i] and self.has_ba[i]:
                out.append(pair_call(self.label_ab[i], self.label_ba[i]))
            else:
                out.append(self.label_ab[i] if self.has_ab[i] else unswap(self.label_ba[i]))
        return out

    def invalid_rate(self) -> float:
        """Share of invalid verdicts (pairwise: over every judged order; else over every response)."""
        if self.pairwise:
            return invalid_rate([v.label for v in self.verdicts])
        return invalid_rate(self.score_a + self.score_b)

    def consistency(self, idx: Sequence[int]):
        """Position consistency over the pairs of ``idx`` judged in both orders (None if there are none)."""
        both = [i for i in idx if self.has_ab[i] and self.has_ba[i]]
        if not self.pairwise or not both:
            return None
        return tie_position_consistency([self.label_ab[i] for i in both], [self.label_ba[i] for i in both])


@dataclass
class JudgeEvaluator:
    judge: Judge
    store: JudgmentStore
    run_id: str | None = None
    batch_size: int = 16
    resamples: int = 1000
    level: float = 0.95
    computed: int = 0  #: verdicts computed now (model calls), over every call
    covers: Callable[[tuple[str, ...]], bool] | None = None  #: which items the judge has (an external judge's
    #: file): only those are judged; None = every item

    # ------------------------------------------------------------------ plumbing
    def verdicts(self, items: Sequence[tuple[str, ...]], desc: str) -> list[Verdict]:
        if not items:
            return []
        verdicts, keys, stats = judge_through_store(self.judge, items, self.store, self.run_id,
                                                    batch_size=self.batch_size, desc=f"{self.judge.name}: {desc}")
        self.computed += stats.computed
        self.store.record_uses([{"key": k, "context": USE_CONTEXT, "partition_key": desc, "step": -1, "item_id": str(i)}
                                for i, k in enumerate(keys)])
        return verdicts

    def _has(self, item: tuple[str, ...]) -> bool:
        return self.covers is None or self.covers(item)

    def _pair_covered(self, prompt: str, a: str, b: str) -> bool:
        """Whether the judge can say anything about the pair: a pairwise judge needs one order, a pointwise one
        both responses."""
        if self.judge.kind == "pairwise":
            return self._has((prompt, a, b)) or self._has((prompt, b, a))
        return self._has((prompt, a)) and self._has((prompt, b))

    def judge_pairs(self, prompts, resp_a, resp_b, desc) -> PairVerdicts:
        """The judge's verdicts on pairs (pairwise judges: both orders, each where covered; else each response)."""
        n = len(prompts)
        if self.judge.kind == "pairwise":
            ab_items = list(zip(prompts, resp_a, resp_b))
            ba_items = list(zip(prompts, resp_b, resp_a))
            has_ab, has_ba = [self._has(it) for it in ab_items], [self._has(it) for it in ba_items]
            ab = self.verdicts([it for it, h in zip(ab_items, has_ab) if h], f"{desc} (a, b)")
            ba = self.verdicts([it for it, h in zip(ba_items, has_ba) if h], f"{desc} (b, a)")
            it_ab, it_ba = iter(ab), iter(ba)
            label_ab = [next(it_ab).label if h else None for h in has_ab]
            label_ba = [next(it_ba).label if h else None for h in has_ba]
            return PairVerdicts("pairwise", ab + ba, label_ab, label_ba, has_ab, has_ba)
        va = self.verdicts(list(zip(prompts, resp_a)), f"{desc} (a)")
        vb = self.verdicts(list(zip(prompts, resp_b)), f"{desc} (b)")
        return PairVerdicts(self.judge.kind, va + vb, has_ab=[True] * n, has_ba=[True] * n,
                            score_a=[v.reward_value for v in va], score_b=[v.reward_value for v in vb])

    def _pair_rows(self, eval_set: str, pv: PairVerdicts, labels: Sequence[int]) -> list[dict]:
        """Rows of one set of pairs with human ``labels`` (1, 2 or TIE): see the module docstring."""
        decided = [i for i, g in enumerate(labels) if g != TIE]
        ties = [i for i, g in enumerate(labels) if g == TIE]
        credit = pv.credit([labels[i] for i in decided], decided)
        acc, lo, hi = accuracy_ci(credit, self.resamples, self.level)
        rows = [metric(eval_set, "accuracy", acc, lo, hi, len(credit)),
                metric(eval_set, "invalid_rate", pv.invalid_rate(), n=len(labels))]
        pc = pv.consistency(decided)
        if pc is not None:
            rows.append(metric(eval_set, "position_consistency", pc.consistent, n=pc.n))
            rows.append(metric(eval_set, "flip_rate", pc.flip_rate, n=pc.n))
        if ties:
            def even(idx):
                calls = pv.calls(idx)
                return float(np.mean([c == TIE for c in calls])) if calls else None
            rows += [metric(eval_set, "tie_rate", len(ties) / len(labels), n=len(labels)),
                     metric(eval_set, "judge_tie_rate", even(ties), n=len(ties)),
                     metric(eval_set, "judge_tie_rate_nontie", even(decided), n=len(decided)),
                     metric(eval_set, "judge_human_alpha", judge_human_alpha(pv.calls(range(len(labels))), labels),
                            n=len(labels))]
        return rows

    # ------------------------------------------------------------------ evaluation sets
    def on_gold_set(self, rows: Sequence[dict], eval_set: str = "judge_test") -> list[dict]:
        """``rows``: long gold rows (pair_id, position, prompt, response, gold_score, pair_label)."""
        out: list[dict] = []
        all_verdicts: list[Verdict] = []
        if self.covers is not None:  # an external judge: the rows (and pairs) its file has
            total = len(rows)
            if self.judge.kind == "pairwise":
                by_pair: dict[str, dict] = {}
                for r in rows:
                    by_pair.setdefault(r["pair_id"], {})[r["position"]] = r
                keep = {k for k, p in by_pair.items() if "a" in p and "b" in p and self._pair_covered(
                    p["a"]["prompt"], p["a"]["response"], p["b"]["response"])}
                rows = [r for r in rows if r["pair_id"] in keep]
            else:
                rows = [r for r in rows if self._has((r["prompt"], r["response"]))]
            out.append(metric(eval_set, "coverage", len(rows) / total if total else None, n=total))
            if not rows:
                return out
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
            pv = self.judge_pairs([p["prompt"] for p in ps], [p["a"] for p in ps], [p["b"] for p in ps], f"{eval_set} pairs")
            rows_ = self._pair_rows(f"{eval_set}_pairs", pv, [p["label"] for p in ps])
            if self.judge.kind == "pointwise":  # its response-level invalid rate is reported above
                rows_ = [r for r in rows_ if r["metric"] != "invalid_rate"]
            out += rows_
            all_verdicts += pv.verdicts if self.judge.kind == "pairwise" else []
        tokens = [(v.prompt_tokens or 0) + (v.output_tokens or 0) for v in all_verdicts]
        out.append(metric(eval_set, "tokens_per_verdict", _mean(tokens), n=len(tokens)))
        for name, ms in (("seconds_per_verdict", [v.latency_ms for v in all_verdicts]),
                         ("device_seconds_per_verdict", [v.device_ms for v in all_verdicts])):
            mean_ms = _mean(ms)
            out.append(metric(eval_set, name, None if mean_ms is None else mean_ms / 1000, n=len(tokens)))
        out.append(metric(eval_set, "output_tokens", _mean([v.output_tokens for v in all_verdicts]), n=len(tokens)))
        return out

    def on_pairs(self, eval_set: str, pairs: Sequence[dict]) -> list[dict]:
        """``pairs``: dicts with prompt, response_a, response_b, label (1, 2 or TIE = 0), optional annotator_labels
        (1, 2, TIE or None = unusable)."""
        out: list[dict] = []
        if self.covers is not None:
            total = len(pairs)
            pairs = [p for p in pairs if self._pair_covered(p["prompt"], p["response_a"], p["response_b"])]
            out.append(metric(eval_set, "coverage", len(pairs) / total if total else None, n=total))
        if not pairs:
            return out
        pv = self.judge_pairs([p["prompt"] for p in pairs], [p["response_a"] for p in pairs],
                              [p["response_b"] for p in pairs], eval_set)
        out += self._pair_rows(eval_set, pv, [int(p["label"]) for p in pairs])
        annot = [p["annotator_labels"] for p in pairs if p.get("annotator_labels")]
        if annot:
            out.append(metric(eval_set, "human_human_alpha", human_human_alpha(annot), n=len(annot)))
        return out

    def on_canaries(self, cases: Sequence[dict]) -> list[dict]:
        """``cases``: {canary, prompt, canary_response, best_response}. Rows per canary: the judge's win rate
        for the canary against the best real response (both orders for pairwise judges; a tie counts 0.5),
        and its mean score (pointwise judges). All cases are judged in one batched call."""
        cases = [c for c in cases if self._pair_covered(c["prompt"], c["canary_response"], c["best_response"])]
        if not cases:
            return []
        # label 1 = the canary (shown first) is better: the credit is the canary's win rate
        pv = self.judge_pairs([c["prompt"] for c in cases], [c["canary_response"] for c in cases],
                              [c["best_response"] for c in cases], "canaries")
        credit = pv.credit([1] * len(cases), range(len(cases)))
        out = []
        for name in dict.fromkeys(c["canary"] for c in cases):
            idx = [i for i, c in enumerate(cases) if c["canary"] == name]
            out.append(metric(f"canary:{name}", "win_rate", float(np.mean(credit[idx])), n=len(idx)))
            if self.judge.kind == "pointwise":
                out.append(metric(f"canary:{name}", "score", _mean([pv.score_a[i] for i in idx]), n=len(idx)))
        return out


#: the comparison table's columns, like the paper's Tables 2-5: (eval_set, metric)
COMPARISON_COLUMNS = [
    ("judge_test", "alpha"), ("judge_test_pairs", "accuracy"), ("judge_test", "invalid_rate"),
    ("judge_test", "output_tokens"), ("llmbar_natural", "accuracy"), ("llmbar_adversarial", "accuracy"),
    ("mtbench_human", "accuracy"), ("judge_test_pairs", "position_consistency"),
    ("judge_test", "tokens_per_verdict"), ("judge_test", "seconds_per_verdict"), ("judge_test", "device_seconds_per_verdict"),
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
    user_sets = sorted(s for s in report["eval_set"].unique().to_list() if s.startswith("user:"))
    present = set(zip(report["eval_set"].to_list(), report["metric"].to_list()))
    wanted = [f"{s}:{m}" for s, m in COMPARISON_COLUMNS] + [  # a user set's tie columns only where it has ties
        f"{s}:{m}" for s in user_sets for m in ("accuracy", "tie_rate", "judge_tie_rate") if (s, m) in present]
    main = (cells.with_columns((pl.col("eval_set") + ":" + pl.col("metric")).alias("column"))
            .filter(pl.col("column").is_in(wanted))
            .pivot(on="column", index="judge", values="cell"))
    main = main.select("judge", *[c for c in wanted if c in main.columns]).sort("judge")
    canary = (cells.filter(pl.col("eval_set").str.starts_with("canary:"))
              .with_columns((pl.col("eval_set").str.replace("canary:", "") + " " + pl.col("metric")).alias("column"))
              .pivot(on="column", index="judge", values="cell").sort("judge"))
    return main, canary
