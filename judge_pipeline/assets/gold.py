"""Stage 1: gold annotation. The gold judge scores every response of every preference pair.

Verdicts go through the judgment store (nothing is judged twice); the table keeps the gold score,
the reasoning trace (what reasoning judges distil from) and the pairwise label derived from the two
pointwise scores (a direct pairwise gold judge comes with issue 4).

Failures heal instead of failing the asset (`gold_table`):

- an invalid gold verdict (no parseable score) is asked again, up to ``StudyConfig.gold_attempts``
  attempts in all (`judging.cached.judge_with_retries`); each attempt has its own store keys (attempt 0's
  are those of a plain judging run, so existing stores stay valid), and the HTTP gold judge retries with a
  larger token budget and another seed. Every attempt is stored, so a re-run makes no model call;
- a transport failure (`verdict.NotJudged`) is not stored, so a re-run asks again;
- a pair with a response that has no valid verdict after all attempts (invalid or never obtained) is left
  out of the table, *both* responses: a pair label and the judges' pair-based training and test data need
  both scores, and keeping one response of a pair would break the pairing every later stage relies on. The
  counts are in the asset's metadata (``pairs_dropped``, ``responses_invalid``, ``responses_failed``); the
  asset fails only when no pair is left.
"""


import polars as pl
from dagster import AssetExecutionContext, asset

from judge_pipeline import schemas
from judge_pipeline.assets.metadata import md_table, table_type
from judge_pipeline.judging.builders import build_gold_judge
from judge_pipeline.judging.cached import judge_with_retries
from judge_pipeline.judging.verdict import Judge, Verdict
from judge_pipeline.resources import StudyResource
from judge_pipeline.store import JudgmentStore


def gold_trace(v) -> str:
    """What reasoning judges distil: the gold judge's thinking (an LLM judge's reasoning tokens, where the server
    returns them) followed by its verdict line; the rule judge's trace already ends in "Score: N"."""
    if v.reasoning and v.reasoning.strip() not in v.raw_output:
        return f"{v.reasoning.strip()}\nScore: {int(v.score)}"
    return v.raw_output


def has_gold_score(v: Verdict) -> bool:
    return v.score is not None


def gold_table(preference_pairs: pl.DataFrame, judge: Judge, store: JudgmentStore, attempts: int = 3,
               run_id: str | None = None, progress: bool = True) -> tuple[pl.DataFrame, dict]:
    """The gold_labels table (both responses of every pair that has two valid gold verdicts) and its metadata.

    Raises only when no pair has two valid verdicts (the message names the first reason)."""
    long = pl.concat([
        preference_pairs.select("pair_id", "prompt_id", "prompt", "split",
                                pl.col(f"response_{p}").alias("response"), pl.lit(p).alias("position"))
        for p in ("a", "b")
    ])
    items = list(zip(long["prompt"].to_list(), long["response"].to_list()))
    verdicts, keys, stats = judge_with_retries(judge, items, store, attempts, valid=has_gold_score, run_id=run_id,
                                               progress=progress, desc="gold judge")
    ok = [v is not None and has_gold_score(v) for v in verdicts]
    bad_pairs = set(long.filter(~pl.Series(ok))["pair_id"].to_list())
    kept_pairs = preference_pairs.height - len(bad_pairs)
    example_reason = next((v.invalid_reason for v in verdicts if v is not None and not has_gold_score(v)), None)
    if kept_pairs == 0:
        raise RuntimeError(f"no pair has two valid gold verdicts after {attempts} attempt(s): {stats.invalid} "
                           f"invalid (e.g. {example_reason}), {stats.failed} not obtained (e.g. {stats.failure})")
    df = long.with_columns(
        pl.Series("gold_score", [float(v.score) if good else None for v, good in zip(verdicts, ok)], dtype=pl.Float64),
        pl.Series("gold_trace", [gold_trace(v) if good else None for v, good in zip(verdicts, ok)], dtype=pl.String),
        pl.Series("store_key", [k if good else None for k, good in zip(keys, ok)], dtype=pl.String),
    ).filter(~pl.col("pair_id").is_in(sorted(bad_pairs)))
    wide = df.pivot(on="position", index="pair_id", values="gold_score")
    labels = wide.select("pair_id", pl.when(pl.col("a") > pl.col("b")).then(1).when(pl.col("b") > pl.col("a")).then(2)
                         .otherwise(None).cast(pl.Int64).alias("pair_label"))
    df = df.join(labels, on="pair_id", how="left").select(
        "pair_id", "position", "prompt_id", "prompt", "response", "split", "gold_score", "gold_trace", "pair_label", "store_key")
    meta = {
        "rows": len(df),
        "computed_now": stats.computed,
        "verdicts_reused": stats.reused,
        "attempts": attempts,
        "retried": stats.retried,  # verdicts asked for again (from the store or the judge)
        "recovered_by_retry": stats.recovered,
        "responses_invalid": stats.invalid,  # still invalid after every attempt
        "responses_failed": stats.failed,  # no verdict obtained (transport failures; asked again next run)
        "pairs_dropped": len(bad_pairs),
        "score_histogram": md_table(df.group_by("gold_score").len().sort("gold_score")),
        "ties": int(labels["pair_label"].null_count()),
        "example_trace": df["gold_trace"][0],
    }
    if example_reason or stats.failure:
        meta["example_problem"] = str(example_reason or stats.failure)
    return df, meta


@asset(group_name="gold", dagster_type=table_type(schemas.GoldLabels))
def gold_labels(context: AssetExecutionContext, study: StudyResource, preference_pairs: pl.DataFrame) -> pl.DataFrame:
    """Gold pointwise score (0-9) + reasoning trace for both responses of every pair, and the pair label; a pair
    without two valid gold verdicts after ``gold_attempts`` attempts is left out (see the module docstring)."""
    df, meta = gold_table(preference_pairs, build_gold_judge(study.cfg), study.store(), study.cfg.gold_attempts,
                          context.run.run_id)
    if meta["pairs_dropped"]:
        context.log.warning(f"gold_labels: {meta['pairs_dropped']} pair(s) left out: {meta['responses_invalid']} "
                            f"response(s) still invalid after {meta['attempts']} attempt(s), {meta['responses_failed']} "
                            f"not obtained; e.g. {meta.get('example_problem')}")
    context.add_output_metadata(meta)
    return df
