"""Asset checks: row counts, ranges and disjointness that a schema alone cannot express."""


import polars as pl
from dagster import AssetCheckResult, AssetIn, AssetCheckSeverity, asset_check

from judge_pipeline.assets.evaluation import scored_prompts
from judge_pipeline.resources import StudyResource


@asset_check(asset="preference_pairs", description="one pair per requested prompt, all three splits present")
def pairs_complete(study: StudyResource, preference_pairs: pl.DataFrame) -> AssetCheckResult:
    want = study.cfg.data.n_pair_prompts
    splits = set(preference_pairs["split"].unique().to_list())
    ok = len(preference_pairs) == want and {"judge_train", "judge_test"} <= splits
    return AssetCheckResult(passed=ok, metadata={"rows": len(preference_pairs), "expected": want, "splits": sorted(splits)})


@asset_check(asset="policy_test_prompts", additional_ins={"rl_prompts": AssetIn("rl_prompts"), "preference_pairs": AssetIn("preference_pairs")},
             description="RL, policy-test and preference prompts are disjoint")
def prompt_pools_disjoint(policy_test_prompts: pl.DataFrame, rl_prompts: pl.DataFrame,
                          preference_pairs: pl.DataFrame) -> AssetCheckResult:
    a, b, c = (set(df["prompt"].to_list()) for df in (policy_test_prompts, rl_prompts, preference_pairs))
    overlap = len(a & b) + len(a & c) + len(b & c)
    return AssetCheckResult(passed=overlap == 0, metadata={"overlapping_prompts": overlap})


@asset_check(asset="gold_labels", additional_ins={"preference_pairs": AssetIn("preference_pairs")},
             description="every pair kept has exactly one gold verdict per response; pairs left out warn")
def gold_covers_pairs(gold_labels: pl.DataFrame, preference_pairs: pl.DataFrame) -> AssetCheckResult:
    """An error when a kept pair lacks a response (or has one twice) or is unknown; a warning when pairs were left
    out (a response with no valid gold verdict after every attempt: `assets.gold.gold_table`)."""
    known = set(preference_pairs["pair_id"].to_list())
    per_pair = gold_labels.group_by("pair_id").agg(pl.col("position").sort().str.join(",").alias("positions"))
    malformed = per_pair.filter((pl.col("positions") != "a,b") | ~pl.col("pair_id").is_in(sorted(known))).height
    dropped = len(known - set(per_pair["pair_id"].to_list()))
    return AssetCheckResult(passed=malformed == 0 and dropped == 0,
                            severity=AssetCheckSeverity.ERROR if malformed else AssetCheckSeverity.WARN,
                            metadata={"rows": len(gold_labels), "expected": 2 * len(preference_pairs),
                                      "malformed_pairs": malformed, "pairs_left_out": dropped})


@asset_check(asset="gold_labels", description="gold scores use more than one value (a constant gold cannot rank)")
def gold_has_spread(gold_labels: pl.DataFrame) -> AssetCheckResult:
    distinct = gold_labels["gold_score"].n_unique()
    return AssetCheckResult(passed=distinct > 1, severity=AssetCheckSeverity.WARN, metadata={"distinct_scores": distinct})


@asset_check(asset="checkpoint_scores", additional_ins={"policy_test_prompts": AssetIn("policy_test_prompts"),
                                                         "rl_prompts": AssetIn("rl_prompts")},
             description="every checkpoint answered every evaluation prompt (no silent drops)")
def scores_complete(study: StudyResource, checkpoint_scores: pl.DataFrame, policy_test_prompts: pl.DataFrame,
                    rl_prompts: pl.DataFrame) -> AssetCheckResult:
    per = checkpoint_scores.group_by("policy", "judge_variant", "seed", "step").len()
    n = len(scored_prompts(study.cfg, policy_test_prompts, rl_prompts))
    bad = per.filter(pl.col("len") != n)
    return AssetCheckResult(passed=len(bad) == 0, metadata={"checkpoints": len(per), "incomplete": len(bad)})


ALL_CHECKS = [pairs_complete, prompt_pools_disjoint, gold_covers_pairs, gold_has_spread, scores_complete]
