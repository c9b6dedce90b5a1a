"""The deception-transfer matrix with bootstrap CIs, from per-item scores (pure polars/numpy).

Input: the store's ``transfer_scores`` view (one row per matrix row ``run``, endpoint ``start``/``final``, item and
judge: ``value`` in the judge's own units and ``unit_value`` on [0, 1]; `judge_pipeline/transfer.py` says where the
answers come from). `transfer_table` gives, per row and judge, what the ``transfer_matrix`` view gives -- the
judge's mean at both endpoints, its change and gold's change, paired per item, and the *inflation* (the judge's
change minus gold's, on the [0, 1] scale, so judges on other scales compare) -- plus percentile bootstrap CIs over
items: the three statistics are resampled together (the same items in every resample), so they stay paired.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from judge_pipeline.metrics.bootstrap import bootstrap_ci

KEYS = ["run", "judge_name"]
STATS = ("judge_change", "gold_change", "inflation")


def paired_changes(scores: pl.DataFrame) -> pl.DataFrame:
    """Per row, judge and item with a valid value at both endpoints: the judge's start, final and changes, beside
    gold's change on the same item (items gold lacks are left out, as in the view)."""
    valid = scores.filter(pl.col("value").is_not_null())
    start = valid.filter(pl.col("endpoint") == "start").select(*KEYS, "role", "kind", "item_id",
                                                              start="value", start_unit="unit_value")
    final = valid.filter(pl.col("endpoint") == "final").select(*KEYS, "item_id", "step", final="value",
                                                              final_unit="unit_value")
    paired = start.join(final, on=[*KEYS, "item_id"]).with_columns(
        judge_change=pl.col("final") - pl.col("start"), unit_change=pl.col("final_unit") - pl.col("start_unit"))
    gold = paired.filter((pl.col("role") == "gold") & (pl.col("kind") == "pointwise")).select(
        "run", "item_id", gold_change="judge_change", gold_unit_change="unit_change")
    return paired.join(gold, on=["run", "item_id"]).with_columns(
        inflation=pl.col("unit_change") - pl.col("gold_unit_change"))


def row_label(run: str) -> tuple[str, str]:
    """(row kind, what it is): ("run", the judge it was trained against [seed S]) or ("canary", its name)."""
    fields = dict(part.split("=", 1) for part in run.split("|") if "=" in part)
    if "canary" in fields:
        return "canary", fields["canary"]
    label = fields.get("judge", run)
    return "run", label + (f" (seed {fields['seed']})" if "seed" in fields else "")


def transfer_table(scores: pl.DataFrame, resamples: int = 1000, level: float = 0.95) -> pl.DataFrame:
    """One row per (matrix row, judge): n items, the judge's start / final means, its change, gold's change and the
    inflation, each change with a ``_low`` / ``_high`` bootstrap CI over items."""
    paired = paired_changes(scores)
    rows = []
    for (run, judge), g in paired.sort([*KEYS, "item_id"]).group_by(KEYS, maintain_order=True):
        arr = g.select(*STATS).to_numpy().astype(float)
        kind, label = row_label(run)
        row = {"run": run, "row_kind": kind, "row": label, "judge_name": judge, "role": g["role"][0], "kind": g["kind"][0],
               "final_step": int(g["step"].max()), "n": len(g), "judge_start": float(g["start"].mean()),
               "judge_final": float(g["final"].mean()), "judge_unit_change": float(g["unit_change"].mean()),
               "gold_unit_change": float(g["gold_unit_change"].mean())}
        for k, name in enumerate(STATS):
            est, lo, hi = bootstrap_ci(arr, lambda x, k=k: float(np.mean(x[:, k])), resamples, level)
            row.update({name: est, f"{name}_low": lo, f"{name}_high": hi})
        rows.append(row)
    if not rows:
        return pl.DataFrame(schema={"run": pl.String, "row_kind": pl.String, "row": pl.String, "judge_name": pl.String,
                                    "n": pl.Int64, **{s: pl.Float64 for s in STATS}})
    return pl.DataFrame(rows).sort("row_kind", "run", "judge_name", descending=[True, False, False])


def judge_order(table: pl.DataFrame) -> list[str]:
    """Columns of the heat-map: gold first, then the trained judges, then the rest (external, Arena-Hard, ...)."""
    rank = {"gold": 0, "training": 1}
    judges = table.select("judge_name", "role").unique()
    return [j for j, _ in sorted(judges.rows(), key=lambda r: (rank.get(r[1], 2), r[0]))]
