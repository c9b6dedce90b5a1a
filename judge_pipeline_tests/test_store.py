"""The judgment store: lookups, lineage-aware recomputation, concurrency, crash safety."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from judge_pipeline.judging.cached import judge_through_store
from judge_pipeline.store import JudgmentStore
from judge_pipeline_tests.fakes import CountingJudge

ITEMS = [(f"prompt {i}", "response " + "x" * i) for i in range(20)]


@pytest.fixture
def store(tmp_path):
    return JudgmentStore(tmp_path / "store")


def test_second_run_makes_zero_calls(store):
    judge = CountingJudge()
    v1, keys1, s1 = judge_through_store(judge, ITEMS, store, progress=False)
    assert judge.calls == 20 and s1.computed == 20
    v2, keys2, s2 = judge_through_store(judge, ITEMS, store, progress=False)
    assert judge.calls == 20 and s2.computed == 0 and s2.reused == 20
    assert keys1 == keys2 and [v.score for v in v1] == [v.score for v in v2]


def test_changed_response_rejudges_exactly_that_row(store):
    judge = CountingJudge()
    judge_through_store(judge, ITEMS, store, progress=False)
    changed = list(ITEMS)
    changed[7] = (ITEMS[7][0], ITEMS[7][1] + " edited")
    _, _, stats = judge_through_store(judge, changed, store, progress=False)
    assert stats.computed == 1 and judge.calls == 21


def test_response_order_is_part_of_the_key(store):
    judge = CountingJudge(kind="pairwise")
    judge_through_store(judge, [("p", "a", "b")], store, progress=False)
    _, _, stats = judge_through_store(judge, [("p", "b", "a")], store, progress=False)
    assert stats.computed == 1


@pytest.mark.parametrize("change", [{"template_version": "t2"}, {"checkpoint_hash": "ckpt-2"}])
def test_new_template_or_checkpoint_rejudges_everything_once(store, change):
    judge_through_store(CountingJudge(), ITEMS, store, progress=False)
    other = CountingJudge(**change)
    _, _, stats = judge_through_store(other, ITEMS, store, progress=False)
    assert stats.computed == 20
    _, _, stats = judge_through_store(other, ITEMS, store, progress=False)
    assert stats.computed == 0
    assert store.count_judgments() == 40


def test_duplicate_items_are_judged_once(store):
    judge = CountingJudge()
    verdicts, _, stats = judge_through_store(judge, ITEMS[:3] * 4, store, progress=False)
    assert judge.calls == 3 and len(verdicts) == 12 and stats.unique == 3


def test_unparseable_output_is_stored_with_reason(store, tmp_path):
    from judge_pipeline.judging.verdict import Verdict

    class Broken(CountingJudge):
        def judge(self, items):
            return [Verdict(raw_output="I think it is good", invalid_reason="no score found") for _ in items]

    verdicts, keys, stats = judge_through_store(Broken(), ITEMS[:2], store, progress=False)
    assert stats.invalid == 2 and all(v.score is None for v in verdicts)
    row = store.fetch_judgments(keys)[keys[0]]
    assert row["raw_output"] == "I think it is good" and row["invalid_reason"] == "no score found" and row["score"] is None


def _writer(path: str, tag: str, n: int, batch: int) -> None:
    store = JudgmentStore(path, lock_timeout_s=120)
    items = [(f"{tag} prompt {i}", f"{tag} response {i}") for i in range(n)]
    judge_through_store(CountingJudge(name=tag), items, store, batch_size=batch, progress=False)


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    path = str(tmp_path / "shared")
    JudgmentStore(path).count_judgments()  # create the schema
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, tag, 150, 3)) for tag in ("left", "right")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
    assert [p.exitcode for p in procs] == [0, 0]
    store = JudgmentStore(path)
    assert store.count_judgments() == 300
    assert store.query("SELECT count(DISTINCT judge_name) AS n FROM judgments")["n"][0] == 2


KILL_SCRIPT = """
import sys
from judge_pipeline.judging.cached import judge_through_store
from judge_pipeline.store import JudgmentStore
from judge_pipeline_tests.fakes import CountingJudge
items = [(f"prompt {i}", f"response {i}") for i in range(40)]
judge_through_store(CountingJudge(delay_s=0.3), items, JudgmentStore(sys.argv[1]), batch_size=4, progress=False)
"""


def test_killed_run_keeps_finished_batches_and_resumes(tmp_path):
    path = tmp_path / "kill"
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(path)], env={**os.environ, "PYTHONPATH": os.getcwd()})
    store = JudgmentStore(path)
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until a few batches are committed
        time.sleep(0.3)
        if path.exists() and store.count_judgments() >= 12:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = store.count_judgments()
    assert 12 <= kept < 40 and kept % 4 == 0, kept  # whole batches only
    judge = CountingJudge()
    items = [(f"prompt {i}", f"response {i}") for i in range(40)]
    _, _, stats = judge_through_store(judge, items, store, batch_size=4, progress=False)
    assert stats.computed == 40 - kept and stats.reused == kept
    assert store.count_judgments() == 40


def test_tables_containing_finds_text_in_any_column(store):
    from judge_pipeline.judging.verdict import Verdict

    class Leaky(CountingJudge):
        def judge(self, items):
            return [Verdict(raw_output="the key is sk-leak-123", score=1.0) for _ in items]

    assert store.tables_containing("sk-leak-123") == {}
    judge_through_store(Leaky(), ITEMS[:2], store, progress=False)
    assert store.tables_containing("sk-leak-123") == {"judgments": 2}


def test_a_single_file_store_of_the_earlier_version_migrates_with_nothing_to_recompute(tmp_path):
    """The store was one DuckDB file until the shard layout; StudyResource.store() imports such a file once."""
    import duckdb

    from judge_pipeline.resources import StudyResource

    scratch = JudgmentStore(tmp_path / "scratch")
    judge = CountingJudge()
    _, keys, _ = judge_through_store(judge, ITEMS, scratch, progress=False)
    old = duckdb.connect(str(tmp_path / "judgments.duckdb"))
    old.execute((Path(__file__).parent / "data" / "store_schema_v0.sql").read_text())
    rows = scratch.query("SELECT * EXCLUDE (k1, k2, device_ms) FROM judgments")  # columns the old schema has
    old.register("rows", rows)
    old.execute("INSERT INTO judgments BY NAME SELECT * FROM rows")
    old.execute("INSERT INTO judgment_uses VALUES (?, 'checkpoint_scores', 'policy=p', 0, 'i0')", [keys[0]])
    old.close()
    store = StudyResource(config_name="tiny", data_dir=str(tmp_path)).store()
    assert store.count_judgments() == len(ITEMS)
    assert store.query("SELECT study, step FROM judgment_uses").rows() == [("", 0)]
    _, _, stats = judge_through_store(judge, ITEMS, store, progress=False)
    assert stats.computed == 0


def test_a_lone_surrogate_in_a_judge_output_is_stored_escaped(store):
    from judge_pipeline.judging.verdict import Verdict

    class Odd(CountingJudge):
        def judge(self, items):
            return [Verdict(raw_output="Score: 5 \ud800", score=5.0) for _ in items]

    verdicts, _, _ = judge_through_store(Odd(), ITEMS[:1], store, progress=False)
    assert verdicts[0].raw_output == "Score: 5 \\ud800" and verdicts[0].score == 5.0
