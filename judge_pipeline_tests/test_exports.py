"""Exports (issue 15 item 5): every verdict and score of a study as Every Eval Ever records, validated against
every-eval-ever 0.3.0's schema (its JSON Schema files and its own validator); the overoptimization table as CSV and
Parquet. Fast: a store of fake verdicts and a hand-made warehouse."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import duckdb
import polars as pl
import pytest

from judge_pipeline.exports import export_study, main, uuid4_like
from judge_pipeline.judging.cached import judge_through_store
from judge_pipeline.store import JudgmentStore
from judge_pipeline_tests.fakes import CountingJudge, LongerWinsJudge

jsonschema = pytest.importorskip("jsonschema")
eee = pytest.importorskip("every_eval_ever.validator.validation_core")


def validate_export(root: Path) -> tuple[int, int]:
    """Validate every aggregate and samples file under ``root`` (an EEE datastore folder): against the JSON Schema
    files shipped in every-eval-ever, and with its validator (semantic checks: paths, companions, counts). Returns
    (aggregates, instance records)."""
    schemas = resources.files("every_eval_ever.schemas")
    aggregate_schema = json.loads(schemas.joinpath("eval.schema.json").read_text())
    instance_schema = json.loads(schemas.joinpath("instance_level_eval.schema.json").read_text())
    files = {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file()}
    reader = lambda rel: files[rel].read_text(encoding="utf-8")  # noqa: E731
    aggregates = records = 0
    for rel, path in sorted(files.items()):
        if rel.endswith(".json"):
            jsonschema.validate(json.loads(path.read_text()), aggregate_schema)
            report = eee.validate_aggregate(path, repo_path=rel, available_files=set(files), read_repo_file=reader,
                                            run_semantic_checks=True)
            aggregates += 1
        else:
            for line in path.read_text().splitlines():
                jsonschema.validate(json.loads(line), instance_schema)
                records += 1
            report = eee.validate_instance_file(path, repo_path=rel, available_files=set(files), read_repo_file=reader,
                                                run_semantic_checks=True)
        assert report.valid, (rel, report.errors)
        assert not report.warnings, (rel, report.warnings)
    return aggregates, records


@pytest.fixture
def study_data(tmp_path):
    """A `tiny` study's store (a pointwise and a pairwise judge, one invalid verdict, checkpoint uses) and warehouse."""
    store = JudgmentStore(tmp_path / "judgments", study="tiny")
    answers = {0: ["Blue.", "The sea is blue."], 1: ["Blue blue blue!", "Waves."]}
    prompts = ["Name a colour.", "Describe the sea."]
    counting = CountingJudge(name="gold:test", role="gold")
    for step, texts in answers.items():
        _, keys, _ = judge_through_store(counting, list(zip(prompts, texts)), store, progress=False)
        store.record_uses([{"key": k, "context": "checkpoint_scores", "step": step, "item_id": f"p{i}",
                            "partition_key": "policy=smollm2-135m|judge=nonreasoning|seed=0"} for i, k in enumerate(keys)])
    judge_through_store(LongerWinsJudge(model="longer-model"), [("q", "a", "bb"), ("q", "a ??", "b")], store, progress=False)
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    over = pl.DataFrame({"policy": ["smollm2-135m"] * 2, "judge_variant": ["nonreasoning"] * 2, "step": [0, 1],  # noqa: F841
                         "proxy_mean": [2.5, 2.9], "gold_mean": [4.0, 3.5]})  # (DuckDB reads `over` by name)
    con.execute("CREATE SCHEMA tiny")
    con.execute("CREATE TABLE tiny.overoptimization AS SELECT * FROM over")
    con.close()
    return tmp_path


def test_export_validates_against_every_eval_evers_schema(study_data, capsys):
    assert main(["--study", "tiny", "--data", str(study_data)]) == 0
    out = study_data / "exports" / "tiny"
    assert pl.read_csv(out / "overoptimization.csv")["gold_mean"].to_list() == [4.0, 3.5]
    assert pl.read_parquet(out / "overoptimization.parquet").shape == (2, 5)
    aggregates, records = validate_export(out / "every_eval_ever")
    # two judges' verdicts (4 + 2) and two checkpoints' scores (2 verdicts each)
    assert (aggregates, records) == (4, 10)
    rows = [json.loads(line) for p in (out / "every_eval_ever").rglob("*_samples.jsonl") for line in p.open()]
    invalid = [r for r in rows if r["error"]]
    assert len(invalid) == 1 and invalid[0]["evaluation"] == {"score": -1.0, "is_correct": False}
    models = {r["model_id"] for r in rows}
    assert models == {"judge_pipeline/gold_test", "judge_pipeline/longer-wins", "judge_pipeline/smollm2-135m__step0",
                      "judge_pipeline/smollm2-135m__nonreasoning__seed0__step1"}
    assert "10 instance records" in capsys.readouterr().out


def test_a_re_export_writes_the_same_files(study_data):
    first = sorted(export_study("tiny", study_data)["every_eval_ever"])
    assert sorted(export_study("tiny", study_data)["every_eval_ever"]) == first
    assert uuid4_like("a") == uuid4_like("a") != uuid4_like("b")
