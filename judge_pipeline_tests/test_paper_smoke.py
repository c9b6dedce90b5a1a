"""The paper's graph smoke-tested on a CPU (issue 13, item 3): the `paper_smoke` study end to end.

`paper_smoke` is `paper` with every model the shipped SmolLM2 and every size cut to its minimum (studies.py). Here
it reads a 20-row Tulu-format file built by the test, asks llama-cpp-python's server (the stand-in for vLLM) for
every gold verdict and Arena-Hard verdict over HTTP, and trains every judge and policy under `accelerate launch`
through Dagster Pipes; then the whole study runs again and computes nothing.

Partitions are built from the active study when the package is imported, and this session imported it for `tiny`
(conftest), so the study runs in a child process of its own (`RUNNER`), which reports what the test checks as JSON.
A 135M model left free answered the gold template with a "Score: N" line once in 16 (at that rate almost no pair
gets two gold labels, and with none the study stops at gold_labels), so the gold judge's requests carry a llama-cpp grammar
(`JUDGE_PIPELINE_GOLD_EXTRA_BODY`, vLLM's structured outputs in a real deployment): a short reason, then the score
line; the score is still the model's choice. A verdict can still be cut by the token limit; the pipeline then asks
again (`gold_attempts`) and leaves out the pairs it cannot label, so the assertions ask for valid gold verdicts on
the pairs kept, not on every response.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from judge_pipeline.judging.http_judge import HTTPJudgeConfig, HTTPPointwiseJudge
from judge_pipeline.sources.tulu3 import load_tulu3
from judge_pipeline.store import JudgmentStore
from judge_pipeline.studies import paper_smoke
from judge_pipeline_tests.fakes import serve_smollm2
from judge_pipeline_tests.test_http_judge import SERVER_KEY, Stub, chat_body


REPO = Path(__file__).resolve().parents[1]
STUDY = "paper_smoke"
N_PAIRS = paper_smoke().data.n_pair_prompts  #: preference pairs the gold judge labels (the first rows of ROWS)

#: (prompt, a good answer, a worse one): the 20 single-turn preference records of the test's Tulu-format file
ROWS = [
    ("What is 2 + 3?", "2 + 3 = 5.", "It is 6."),
    ("Name the capital of France.", "Paris.", "London is the capital of France."),
    ("Give one synonym of 'happy'.", "Joyful.", "Sad."),
    ("Translate 'thank you' into Spanish.", "Gracias.", "Merci."),
    ("What color is a clear daytime sky?", "Blue.", "Green, mostly."),
    ("How many legs does a spider have?", "Eight.", "Six legs."),
    ("Write the word 'cat' backwards.", "tac", "cta"),
    ("What is the boiling point of water at sea level in Celsius?", "100 degrees Celsius.", "50 degrees."),
    ("Name a primary color.", "Red.", "Purple is a primary color."),
    ("What is 10 divided by 2?", "5.", "10 divided by 2 is 20."),
    ("Which planet is known as the Red Planet?", "Mars.", "Jupiter."),
    ("Give a word that rhymes with 'tree'.", "Bee.", "Tree rhymes with house."),
    ("What is the opposite of 'cold'?", "Hot.", "Freezing."),
    ("How many days are in a week?", "Seven.", "Five days."),
    ("Spell the number 3 in English.", "Three.", "Tree."),
    ("What do bees make?", "Honey.", "Milk."),
    ("Name a fruit that is yellow.", "A banana.", "A cucumber."),
    ("What is the first letter of the English alphabet?", "A.", "Z."),
    ("What is 4 times 2?", "8.", "4 times 2 is 6."),
    ("Which animal says 'moo'?", "A cow.", "A cat says moo."),
]

#: llama-cpp's grammar for the gold judge: a reason of at most 40 characters, then the template's "Score: N" line
GOLD_GRAMMAR = 'root ::= [^\\n]{0,40} "\\nScore: " [0-9]'

#: ... and for the Arena-Hard judge: its verdict line, the model choosing the verdict
ARENA_GRAMMAR = 'root ::= "My final verdict is [[" ("A>>B" | "A>B" | "A=B" | "B>A" | "B>>A") "]]"'

#: the child process: the whole study twice in one Dagster instance, then what the test checks
RUNNER = r"""
import json, sys
from dagster import AssetKey, DagsterEventType, DagsterInstance, EventRecordsFilter
from judge_pipeline.jobs import run_study

data_dir, out = sys.argv[1], sys.argv[2]
instance = DagsterInstance.ephemeral()
first = run_study(instance, data_dir=data_dir, wandb_mode="disabled")
runs_first = {r.run_id for r in instance.get_runs()}
second = run_study(instance, data_dir=data_dir, wandb_mode="disabled")

def _plain(value, entry):
    # a metadata value JSON can write; anything else (a table schema, a plot) as its text
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(entry)

def materialisations(key):
    records = instance.get_event_records(EventRecordsFilter(DagsterEventType.ASSET_MATERIALIZATION, asset_key=AssetKey(key)))
    return [{"run_id": r.event_log_entry.run_id, "partition": r.asset_materialization.partition,
             "metadata": {k: _plain(getattr(v, "value", None), v) for k, v in r.asset_materialization.metadata.items()}}
            for r in records]

logs = {r.run_id: [e.message for e in instance.all_logs(r.run_id)] for r in instance.get_runs()}
json.dump({
    "first": {"model_calls": first.model_calls, "trainings": first.trainings, "timings": first.timings},
    "second": {"model_calls": second.model_calls, "trainings": second.trainings, "timings": second.timings},
    "runs_first": sorted(runs_first),
    "materialisations": {k: materialisations(k) for k in ("gold_labels", "judge_checkpoint", "policy_checkpoints",
                                                          "checkpoint_scores")},
    "logs": logs,
}, open(out, "w"), default=str)
"""


def tulu_record(i: int, prompt: str, good: str, bad: str) -> dict:
    """One record of the Tulu 3 preference mixture's layout: chosen / rejected conversations sharing the user turn."""
    def conversation(answer: str) -> list[dict]:
        return [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]

    return {"id": f"smoke-{i:02d}", "source": "judge_pipeline_tests", "prompt": prompt,
            "chosen": conversation(good), "rejected": conversation(bad)}


def write_tulu_file(path: Path) -> Path:
    path.write_text("".join(json.dumps(tulu_record(i, *row)) + "\n" for i, row in enumerate(ROWS)))
    return path


# ---------------------------------------------------------------------- the pieces the study reads from the environment
def test_tulu3_records_from_a_local_file(tmp_path, monkeypatch):
    monkeypatch.setenv("JUDGE_PIPELINE_TULU3_FILE", str(write_tulu_file(tmp_path / "tulu3.jsonl")))
    rows = load_tulu3(limit=5)
    assert [r["prompt_id"] for r in rows] == [f"tulu3-smoke-{i:02d}" for i in range(5)]
    assert (rows[1]["prompt"], rows[1]["response_a"], rows[1]["response_b"]) == ROWS[1]
    assert len(load_tulu3()) == 20


def test_gold_max_tokens_and_extra_body_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("JUDGE_PIPELINE_GOLD_MAX_TOKENS", "24")
    monkeypatch.setenv("JUDGE_PIPELINE_GOLD_EXTRA_BODY", json.dumps({"grammar": GOLD_GRAMMAR}))
    monkeypatch.setenv("JUDGE_PIPELINE_GOLD_TOP_LOGPROBS", "none")
    stub = Stub([(200, chat_body("Fine.\nScore: 7"), 0, {})])
    try:
        monkeypatch.setenv("JUDGE_PIPELINE_GOLD_URLS", stub.url)
        judge = HTTPPointwiseJudge(HTTPJudgeConfig.from_env(model="m", backoff_s=0.01))
        [verdict] = judge.judge([("q", "a")])
        again = judge.for_attempt(1)
        again.judge([("q", "a")])
    finally:
        stub.close()
    assert verdict.score == 7.0
    (_, first), (_, second) = stub.requests
    assert first["max_tokens"] == 24 and first["grammar"] == GOLD_GRAMMAR and "logprobs" not in first
    assert second["grammar"] == GOLD_GRAMMAR and second["seed"] == 1 and second["max_tokens"] == 48
    assert judge.decoding["extra_body"] == {"grammar": GOLD_GRAMMAR}  # in every verdict's key
    plain = HTTPPointwiseJudge(HTTPJudgeConfig(model="m"))
    assert "extra_body" not in plain.decoding  # keys of judges without it are unchanged
    assert judge.decoding["top_logprobs"] is None and plain.decoding["top_logprobs"] == 20
    monkeypatch.setenv("JUDGE_PIPELINE_GOLD_TOP_LOGPROBS", "5")
    assert HTTPJudgeConfig.from_env().top_logprobs == 5
    monkeypatch.setenv("JUDGE_PIPELINE_GOLD_TOP_LOGPROBS", "many")
    with pytest.raises(ValueError, match="TOP_LOGPROBS must be an integer or none"):
        HTTPJudgeConfig.from_env()
    monkeypatch.setenv("JUDGE_PIPELINE_GOLD_TOP_LOGPROBS", "5")
    monkeypatch.setenv("JUDGE_PIPELINE_GOLD_EXTRA_BODY", "grammar")
    with pytest.raises(ValueError, match="EXTRA_BODY must be a JSON object"):
        HTTPJudgeConfig.from_env()


# ---------------------------------------------------------------------- the study
def study_test(fn):
    """The marks of a test that reads the smoke study: slow, end to end, a server (`make test-fast` leaves it out)."""
    for mark in (pytest.mark.slow, pytest.mark.e2e, pytest.mark.server):
        fn = mark(fn)
    return fn


@pytest.fixture(scope="module")
def gold_server(tmp_path_factory):
    """llama-cpp-python's server on the shipped SmolLM2 GGUF (2 threads: nothing else runs while it judges); its URL."""
    yield from serve_smollm2(tmp_path_factory, "gold_server", SERVER_KEY, threads=2)


@pytest.fixture(scope="module")
def smoke(gold_server, tmp_path_factory):
    """The study run twice in a child process against the server: (data folder, what the runner reported, seconds)."""
    root = tmp_path_factory.mktemp("paper_smoke")
    tulu = write_tulu_file(root / "tulu3.jsonl")
    data_dir, out = root / "data", root / "report.json"
    env = {
        **os.environ,
        "JUDGE_PIPELINE_CONFIG": STUDY, "JUDGE_PIPELINE_DATA": str(data_dir), "JUDGE_PIPELINE_TULU3_FILE": str(tulu),
        "JUDGE_PIPELINE_GOLD_URLS": gold_server, "JUDGE_PIPELINE_GOLD_MODEL": "smollm2-135m",
        "JUDGE_PIPELINE_GOLD_MAX_TOKENS": "24", "JUDGE_PIPELINE_GOLD_EXTRA_BODY": json.dumps({"grammar": GOLD_GRAMMAR}),
        "JUDGE_PIPELINE_GOLD_TIMEOUT_S": "300", "JUDGE_PIPELINE_GOLD_CONCURRENCY": "1",  # one slot: queueing 8 costs ~20%
        # llama-cpp-python computes logprobs in Python (3x a verdict's time); the expected score from logprobs over
        # HTTP is test_http_judge.py's
        "JUDGE_PIPELINE_GOLD_TOP_LOGPROBS": "none",
        "JUDGE_PIPELINE_ARENA_URLS": gold_server, "JUDGE_PIPELINE_ARENA_MODEL": "smollm2-135m",
        "JUDGE_PIPELINE_ARENA_EXTRA_BODY": json.dumps({"grammar": ARENA_GRAMMAR}),
        "OPENAI_API_KEY": SERVER_KEY, "JUDGE_PIPELINE_WANDB": "disabled", "WANDB_MODE": "disabled",
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p),
    }
    env.pop("DAGSTER_HOME", None)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(data_dir), str(out)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - t0
    assert proc.returncode == 0, (proc.stdout[-4000:] + "\n" + proc.stderr[-8000:])
    return data_dir, json.loads(out.read_text()), seconds


def _table(data_dir: Path, name: str) -> pl.DataFrame:
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(f"SELECT * FROM {STUDY}.{name}").pl()
    finally:
        con.close()


def _first_run(report: dict, key: str) -> list[dict]:
    return [m for m in report["materialisations"][key] if m["run_id"] in report["runs_first"]]


@study_test
def test_trainers_ran_under_accelerate_launch(smoke):
    data_dir, report, seconds = smoke
    print(f"paper_smoke: two run_study calls in {seconds:.0f} s; first run stages {report['first']['timings']}")
    variants = {"reasoning"}
    judges = _first_run(report, "judge_checkpoint")
    assert {m["partition"] for m in judges} == variants
    for m in judges:
        assert m["metadata"]["launcher"] == "accelerate" and m["metadata"]["trained_now"] is True, m
        folder = Path(m["metadata"]["checkpoint"])
        assert folder == data_dir / "checkpoints" / "judges" / STUDY / m["partition"]
        assert (folder / "model.safetensors").is_file()
        facts = json.loads((folder / "training_inputs.json").read_text())  # what the launched job reported
        assert set(facts) == {"fingerprint", "stages", "checkpoint", "n_train", "train_loss", "steps", "seconds",
                              "step_log", "grpo_rollouts", "grpo_reward_first", "grpo_reward_last",
                              "grpo_invalid_rollouts"}
        assert [r.get("stage") for r in facts["step_log"]] == ["sft", "grpo"]  # one step per stage, both reported
        assert facts["checkpoint"] == str(folder) and m["metadata"]["steps_logged"] == facts["steps"] == len(facts["step_log"]) >= 1
    # the trainer state saved after every step and the job files are gone once the runs finished
    judges_root = data_dir / "checkpoints" / "judges" / STUDY
    assert not list(judges_root.glob("*.trainer")) and not list(judges_root.glob("*.job.json"))
    stages = {m["partition"]: m["metadata"]["stages"] for m in judges}
    assert stages == {"reasoning": "sft+grpo"}  # the paper's SFT, then GRPO for a reasoning judge
    policies = _first_run(report, "policy_checkpoints")
    assert [m["partition"] for m in policies] == ["reasoning|smollm2-135m"]  # one run, against the reasoning judge
    for m in policies:
        assert m["metadata"]["launcher"] == "accelerate" and m["metadata"]["trained_now"] == 1, m
    logs = [msg for run in report["runs_first"] for msg in report["logs"][run]]
    # two gloo ranks per trainer, reported through Pipes as the steps happen
    assert sum("JudgeJob on 2 process(es)" in msg for msg in logs) == len(variants)
    assert sum("PolicyJob on 2 process(es)" in msg for msg in logs) == 1
    assert any("accelerate.commands.launch" in msg and "--num_processes 2" in msg for msg in logs)
    assert any("sft step 1: loss" in msg for msg in logs) and any("grpo step 1" in msg for msg in logs)
    ckpts = _table(data_dir, "policy_checkpoints")
    assert sorted(ckpts["step"].unique().to_list()) == [0, 1, 2]
    for path in ckpts.filter(pl.col("step") > 0)["path"]:
        assert (Path(path) / "model.safetensors").is_file()
    for run_dir in {Path(p).parent for p in ckpts.filter(pl.col("step") > 0)["path"]}:
        assert set(json.loads((run_dir / "manifest.json").read_text())) == {
            "fingerprint", "checkpoints", "reward_by_step", "seconds_per_step", "invalid_judge_outputs",
            "verdicts_computed", "step_log"}
        assert sorted(p.name for p in run_dir.iterdir()) == ["manifest.json", "step-1", "step-2"]  # no trainer state left


@study_test
def test_gold_verdicts_came_over_http_and_are_in_the_store(smoke):
    data_dir, report, _ = smoke
    store = JudgmentStore(data_dir / "judgments")
    gold = store.query("SELECT * FROM judgments WHERE judge_name = 'gold:smollm2-135m@high'")
    assert gold.height > 0
    # the server's own token counts and a measured latency: each verdict is a real answer of the HTTP server
    assert (gold["prompt_tokens"] > 100).all() and (gold["latency_ms"] > 0).all()
    decodings = [json.loads(d) for d in gold["decoding"]]
    assert set(gold["kind"]) == {"pointwise"} and all(d["mode"] == "chat" for d in decodings)
    assert all(d["extra_body"] == {"grammar": GOLD_GRAMMAR} for d in decodings)  # what the requests carried
    valid = gold.filter(pl.col("score").is_not_null())
    assert valid.height > 0 and valid["score"].is_between(0, 9).all()
    assert (gold.filter(pl.col("score").is_null())["invalid_reason"].is_not_null()).all()
    labels = _table(data_dir, "gold_labels")
    (meta,) = [m["metadata"] for m in _first_run(report, "gold_labels")]
    assert labels.height == 2 * (N_PAIRS - meta["pairs_dropped"]) > 0  # both responses of every pair kept
    assert labels["gold_score"].is_not_null().all() and set(labels["store_key"]) <= set(valid["key"])
    assert meta["computed_now"] >= 2 * N_PAIRS  # both responses of each pair at least, retries of invalid ones on top
    print(f"gold: {valid.height}/{gold.height} verdicts valid; {meta['pairs_dropped']} of {N_PAIRS} pairs left out, "
          f"{meta['recovered_by_retry']} recovered by a retry")


@study_test
def test_every_run_has_checkpoint_scores(smoke):
    data_dir, report, _ = smoke
    scores = _table(data_dir, "checkpoint_scores")
    assert set(scores["judge_variant"]) == {"reasoning"}  # the one run
    assert sorted(scores["step"].unique().to_list()) == [0, 1, 2]
    assert scores.height == 3 * 2  # 3 checkpoints x 2 held-out prompts
    # the trained weights' answers, scored (a 135M reasoning judge after one step may give an invalid verdict)
    last = scores.filter(pl.col("step") == 2)
    assert last["response"].is_not_null().all() and last["gold_score"].is_not_null().all()
    assert (last["proxy_invalid"] == last["proxy_score"].is_null()).all()
    assert scores["kl"].is_not_null().all()
    assert scores["gold_score"].drop_nulls().is_between(0, 9).all()


@study_test
def test_a_rerun_makes_no_model_call_and_trains_nothing(smoke):
    _, report, _ = smoke
    assert report["first"]["model_calls"] > 0 and report["first"]["trainings"] == 1 + 1  # the judge, the policy run
    assert report["second"] == {**report["second"], "model_calls": 0, "trainings": 0}
