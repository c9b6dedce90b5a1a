"""The Arena-Hard asset group materialised with Dagster on the `tiny` study: a tiny random policy (two checkpoint
folders), the gold rule judge; then again with nothing changed (0 model calls), and its files read back."""

from __future__ import annotations

import shutil

import polars as pl
import pytest
from dagster import AssetKey, DagsterInstance, MultiPartitionKey, asset, materialize

from judge_pipeline.assets import arena
from judge_pipeline.assets.partitions import RUN_PARTITION_META, policy_judge_partitions
from judge_pipeline.backends.hf_models import materialize_base_model
from judge_pipeline.config import ModelSpec, load_config
from judge_pipeline.definitions import build_resources, defs
from judge_pipeline.exports import export_study
from judge_pipeline.jobs import evaluation_job
from judge_pipeline.judging.external import read_external_records
from judge_pipeline.sources.arena_hard import load_model_answers
from judge_pipeline.store.keys import checkpoint_hash
from judge_pipeline_tests.test_exports import validate_export

TINY = ModelSpec(name="tiny-random-test", source="tiny-random")
KEY = MultiPartitionKey({"policy": "smollm2-135m", "judge": "nonreasoning"})


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    base = materialize_base_model(TINY)
    step1 = tmp_path_factory.mktemp("run") / "step-1"
    shutil.copytree(base, step1)
    return [(0, str(base)), (1, str(step1))]


def test_arena_group_materialises_and_reruns_free(tmp_path, checkpoints):
    assert load_config().name == "tiny"

    @asset(name="policy_checkpoints", partitions_def=policy_judge_partitions, metadata=RUN_PARTITION_META)
    def fake_policy_checkpoints() -> pl.DataFrame:
        return pl.DataFrame([{"policy": "smollm2-135m", "judge_variant": "nonreasoning", "seed": 0, "step": s, "path": p,
                              "checkpoint_hash": checkpoint_hash(p)} for s, p in checkpoints])

    resources = build_resources(data_dir=str(tmp_path), wandb_mode="disabled")
    assets = [fake_policy_checkpoints, arena.arena_questions, arena.arena_answers, arena.arena_judgments,
              arena.arena_scores]
    instance = DagsterInstance.ephemeral()
    assert materialize(assets, selection=[AssetKey("arena_questions")], instance=instance, resources=resources).success
    run_keys = [AssetKey(k) for k in ("policy_checkpoints", "arena_answers", "arena_judgments", "arena_scores")]
    first = materialize(assets, selection=run_keys, partition_key=KEY, instance=instance, resources=resources)
    assert first.success
    meta = {k: first.asset_materializations_for_node(k)[0].metadata for k in ("arena_answers", "arena_judgments")}
    # 3 questions (1 per subcategory); the step-1 folder is a copy of step 0 (same weights, same store keys): its
    # answers come from the store
    assert meta["arena_answers"]["computed_now"].value == 3
    assert meta["arena_judgments"]["computed_now"].value > 0
    scores = first.output_for_node("arena_scores")
    assert set(scores["category"]) == {"hard_prompt", "creative_writing"}
    assert set(scores["model"]) == {"smollm2-135m__step0", "smollm2-135m__nonreasoning__seed0__step1"}
    valid = scores.filter(pl.col("battles") > 0)
    assert valid["win_rate"].is_between(0, 1).all() and valid["bt"].is_between(0, 1).all()
    assert (valid["win_rate_low"] <= valid["win_rate"]).all() and (valid["win_rate"] <= valid["win_rate_high"]).all()
    games = first.output_for_node("arena_judgments")
    assert len(games) == 12 and set(games["game"]) == {1, 2} and games["judge"][0] == "gold:rules-v2"

    again = materialize(assets, selection=run_keys, partition_key=KEY, instance=instance, resources=resources)
    for k in ("arena_answers", "arena_judgments"):
        assert again.asset_materializations_for_node(k)[0].metadata["computed_now"].value == 0, k

    bench = tmp_path / "runs" / "tiny" / "arena_hard" / "data" / "arena-hard-v2.0"
    assert (bench / "question.jsonl").is_file()
    answers = load_model_answers(bench / "model_answer" / "smollm2-135m__step0.jsonl")
    assert len(answers) == 3 and all("token_len" in r["metadata"] for r in answers.values())
    assert (bench / "model_answer" / "o3-mini-2025-01-31.jsonl").is_file()
    records = read_external_records(bench / "model_judgment" / "gold_rules-v2" / "smollm2-135m__step0.jsonl")
    assert len(records) == 6  # 3 battles x 2 games, read by judging/external.py

    # the exports: the Arena games and scores (and the gold judge's verdicts) as Every Eval Ever records
    written = export_study("tiny", tmp_path)
    assert any("smollm2-135m__step0" in p for p in written["every_eval_ever"])
    aggregates, n = validate_export(tmp_path / "exports" / "tiny" / "every_eval_ever")
    assert aggregates == 3 and n == 6 + 12  # the judge's 6 distinct verdicts; 2 checkpoints x 3 battles x 2 games


def test_arena_assets_are_in_the_definitions_and_the_evaluation_job():
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"arena_questions", "arena_answers", "arena_judgments", "arena_scores"} <= keys
    selected = {k.to_user_string() for k in defs.resolve_job_def("evaluation_job").asset_layer.executable_asset_keys}
    assert {"checkpoint_scores", "arena_answers", "arena_judgments", "arena_scores"} <= selected
    assert evaluation_job.name == "evaluation_job"


def test_the_arena_judge_is_chosen_by_config_or_environment(monkeypatch, tmp_path):
    from judge_pipeline.judging.arena_judge import ArenaPromptJudge, LocalJudgeServer, StudyPointwiseJudge
    from judge_pipeline.resources import StudyResource

    cfg, study = load_config(), StudyResource(config_name="tiny", data_dir=str(tmp_path))
    server = LocalJudgeServer(tmp_path / "log")
    assert cfg.arena.judge == "gold"
    judge = arena.build_game_judge(cfg, study, server)
    assert isinstance(judge, StudyPointwiseJudge) and judge.name == "gold:rules-v2"
    monkeypatch.setenv(arena.ENV_JUDGE, "http")
    monkeypatch.setenv("JUDGE_PIPELINE_ARENA_MODEL", "gpt-4.1-mini")
    judge = arena.build_game_judge(cfg, study, server)
    assert isinstance(judge, ArenaPromptJudge) and judge.name == "gpt-4.1-mini"
    assert judge.judges["hard_prompt"].name == "arena:gpt-4.1-mini@default/arena_hard_v2_hard_prompt"
    monkeypatch.setenv(arena.ENV_JUDGE, "local")
    local = arena.build_game_judge(cfg, study, server)
    assert local.judges["creative_writing"].decoding["max_tokens"] == arena.LOCAL_MAX_TOKENS and not server.started
    monkeypatch.setenv(arena.ENV_JUDGE, "nobody")
    with pytest.raises(ValueError, match="none of http, local, gold"):
        arena.build_game_judge(cfg, study, server)
