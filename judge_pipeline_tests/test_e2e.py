"""End to end: the real graph, real models and training, at the smallest (`tiny`) settings.

Then the evaluation is materialised again with nothing changed: zero model calls.
"""

import os

import duckdb
import pytest
from dagster import AssetKey, materialize

from judge_pipeline.checks import ALL_CHECKS
from judge_pipeline.definitions import all_assets, build_resources
from judge_pipeline.demo import summary
from judge_pipeline.jobs import run_study
from judge_pipeline.store import JudgmentStore

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def study(tiny_study):
    _, _, report = tiny_study  # conftest: materialised once per session
    assert report.model_calls > 0 and report.trainings == 2  # the judge and the policy run
    return tiny_study


def _table(data_dir, name):
    con = duckdb.connect(os.path.join(data_dir, "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(f"SELECT * FROM tiny.{name}").pl()
    finally:
        con.close()


def test_every_stage_materialised(study):
    instance, data_dir, _ = study
    for key in ("preference_pairs", "gold_labels", "judge_report", "judge_comparison", "policy_checkpoints",
                "checkpoint_scores", "best_of_n", "overoptimization", "overoptimization_fits", "hacking_patterns",
                "run_summaries", "judge_disagreement"):
        assert instance.get_latest_materialization_event(AssetKey(key)) is not None, key
    over = _table(data_dir, "overoptimization").sort("step")
    assert over["step"].to_list() == [0, 1, 2]
    assert over["n_seeds"].to_list() == [1, 1, 1] and over["n"].to_list() == [4, 4, 4]  # 1 seed x 4 test prompts
    ckpts = _table(data_dir, "policy_checkpoints")
    assert ckpts["seed"].to_list() == [0, 0, 0] and ckpts["checkpoint_hash"].n_unique() == 3  # every step moved the weights
    assert over["gold_mean"].is_between(0, 9).all()
    assert over["kl_mean"][0] == 0.0 and (over["kl_mean"][1:] > 0).all()  # trained weights moved the policy
    assert _table(data_dir, "best_of_n")["n"].to_list() == [1, 2, 4]
    assert set(_table(data_dir, "overoptimization_fits")["form"]) == {"rl", "best_of_n"}
    assert _table(data_dir, "hacking_patterns")["any_pattern"].is_between(0, 1).all()
    page = _table(data_dir, "run_summaries")["page"][0]
    assert "Gao et al. fits" in open(page).read()
    report = _table(data_dir, "judge_report")
    assert set(report["judge"]) == {"nonreasoning", "smollm2-135m-untuned:pointwise_compact_v1"}
    comparison = _table(data_dir, "judge_comparison")
    sets = set(comparison["eval_set"])
    assert {"judge_test", "judge_test_pairs", "llmbar_natural", "llmbar_adversarial", "mtbench_human",
            "canary:paper_adversarial"} <= sets
    assert "gold:rules-v2" in set(comparison["judge"])
    text = summary(data_dir)
    assert "llmbar_natural:accuracy" in text and "paper_adversarial win_rate" in text
    assert "Gao fits" in text and "Hacking patterns" in text and ".md" in text


def test_judge_training_changed_the_judge(study):
    _, data_dir, _ = study
    store = JudgmentStore(os.path.join(data_dir, "judgments"))
    both = store.query("""
        SELECT a.expected_score AS trained, b.expected_score AS untuned
        FROM judgments a JOIN judgments b USING (prompt_hash, response_hash)
        WHERE a.judge_name = 'nonreasoning' AND b.judge_name = 'smollm2-135m-untuned:pointwise_compact_v1'""")
    assert len(both) > 0
    assert (both["trained"] - both["untuned"]).abs().max() > 1e-3


def test_store_answers_judge_vs_gold_in_sql(study):
    _, data_dir, _ = study
    df = JudgmentStore(os.path.join(data_dir, "judgments")).query(
        "SELECT judge_name, count(*) AS n FROM judge_vs_gold GROUP BY judge_name")
    assert "nonreasoning" in df["judge_name"].to_list()


def test_rematerialising_evaluation_makes_zero_model_calls(study):
    instance, data_dir, _ = study
    store = JudgmentStore(os.path.join(data_dir, "judgments"))
    before = store.count_judgments()
    result = materialize([*all_assets, *ALL_CHECKS], selection=[AssetKey("checkpoint_scores")],
                         partition_key="nonreasoning|smollm2-135m", instance=instance,
                         resources=build_resources(data_dir=data_dir, wandb_mode="disabled"))
    assert result.success
    mat = result.asset_materializations_for_node("checkpoint_scores")[0]
    assert mat.metadata["computed_now"].value == 0
    assert store.count_judgments() == before


def test_second_full_run_computes_nothing(study):
    instance, data_dir, _ = study
    again = run_study(instance, data_dir=data_dir, wandb_mode="disabled")
    assert again.model_calls == 0 and again.trainings == 0


def test_wandb_offline_run_was_written(study):
    _, data_dir, _ = study
    runs = list((__import__("pathlib").Path(data_dir) / "wandb").glob("wandb/offline-run-*"))
    assert runs, "no offline W&B run"
