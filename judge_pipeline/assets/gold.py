"""Stage 1: gold annotation. The gold judge scores every response of every preference pair.

Verdicts go through the judgment store (nothing is judged twice); the table keeps the gold score,
the reasoning trace (what reasoning judges distil from) and the pairwise label derived from the two
pointwise scores (a direct pairwise gold judge comes with issue 4).
"""


import polars as pl
from dagster import AssetExecutionContext, asset

from judge_pipeline import schemas
from judge_pipeline.assets.metadata import md_table, table_type
from judge_pipeline.judging.cached import judge_through_store
from judge_pipeline.judging.builders import build_gold_judge
from judge_pipeline.resources import StudyResource


def gold_trace(v) -> str:
    """What reasoning judges distil: the gold judge's thinking (an LLM judge's reasoning tokens, where the server
    returns them) followed by its verdict line; the rule judge's trace already ends in "Score: N"."""
    if v.reasoning and v.reasoning.strip() not in v.raw_output:
        return f"{v.reasoning.strip()}\nScore: {int(v.score)}"
    return v.raw_output


@asset(group_name="gold", dagster_type=table_type(schemas.GoldLabels))
def gold_labels(context: AssetExecutionContext, study: StudyResource, preference_pairs: pl.DataFrame) -> pl.DataFrame:
    """Gold pointwise score (0-9) + reasoning trace for both responses of every pair, and the pair label."""
    judge = build_gold_judge(study.cfg)
    long = pl.concat([
        preference_pairs.select("pair_id", "prompt_id", "prompt", "split",
                                pl.col(f"response_{p}").alias("response"), pl.lit(p).alias("position"))
        for p in ("a", "b")
    ])
    items = list(zip(long["prompt"].to_list(), long["response"].to_list()))
    verdicts, keys, stats = judge_through_store(judge, items, study.store(), context.run.run_id, desc="gold judge")
    bad = [v for v in verdicts if v.score is None]
    if bad:
        raise RuntimeError(f"the gold judge produced {len(bad)} invalid verdicts, e.g. {bad[0].invalid_reason}")
    df = long.with_columns(
        pl.Series("gold_score", [float(v.score) for v in verdicts]),
        pl.Series("gold_trace", [gold_trace(v) for v in verdicts]),
        pl.Series("store_key", keys),
    )
    wide = df.pivot(on="position", index="pair_id", values="gold_score")
    labels = wide.select("pair_id", pl.when(pl.col("a") > pl.col("b")).then(1).when(pl.col("b") > pl.col("a")).then(2)
                         .otherwise(None).cast(pl.Int64).alias("pair_label"))
    df = df.join(labels, on="pair_id", how="left").select(
        "pair_id", "position", "prompt_id", "prompt", "response", "split", "gold_score", "gold_trace", "pair_label", "store_key")
    context.add_output_metadata({
        "rows": len(df),
        "computed_now": stats.computed,
        "verdicts_reused": stats.reused,
        "score_histogram": md_table(df.group_by("gold_score").len().sort("gold_score")),
        "ties": int(labels["pair_label"].null_count()),
        "example_trace": df["gold_trace"][0],
    })
    return df
