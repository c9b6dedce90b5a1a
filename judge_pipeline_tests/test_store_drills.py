"""Store drills (issue 14): a killed materialisation, a reader held open for a whole run, concurrent writers
of the same keys, writers with no shared lock (the stand-in for several machines), shards merged in from
another machine. Each runs real processes against a real store folder."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from judge_pipeline.judging.cached import judge_through_store
from judge_pipeline.store import JudgmentStore
from judge_pipeline_tests.fakes import CountingJudge

REPO = str(Path(__file__).resolve().parents[1])
ENV = {**os.environ, "PYTHONPATH": REPO}

#: A Dagster materialisation of one asset that judges N items through the store, 4 per batch.
MATERIALISE = """
import json, sys, time
from dagster import asset, materialize
from judge_pipeline.judging.cached import judge_through_store
from judge_pipeline.store import JudgmentStore
from judge_pipeline_tests.fakes import CountingJudge

root, n, delay, tag = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]

@asset
def verdicts(context) -> int:
    store = JudgmentStore(root, study="drill")
    items = [(f"prompt {i}", f"response {i}") for i in range(n)]
    _, _, stats = judge_through_store(CountingJudge(delay_s=delay), items, store, batch_size=4, progress=False)
    context.add_output_metadata({"computed": stats.computed, "max_lock_wait_s": store.max_lock_wait_s})
    print(json.dumps({"tag": tag, "computed": stats.computed, "max_lock_wait_s": store.max_lock_wait_s}), flush=True)
    return stats.computed

assert materialize([verdicts]).success
"""


def _materialise(root: Path, n: int, delay: float, tag: str = "run") -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", MATERIALISE, str(root), str(n), str(delay), tag], env=ENV,
                            stdout=subprocess.PIPE, text=True)


def _result(proc: subprocess.Popen, timeout: float = 240) -> dict:
    import json

    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out
    return json.loads([line for line in out.splitlines() if line.startswith("{")][-1])


def test_kill_9_mid_materialisation_loses_nothing_committed(tmp_path):
    root = tmp_path / "store"
    store = JudgmentStore(root)
    proc = _materialise(root, 40, 0.25)
    deadline = time.time() + 120
    while time.time() < deadline and store.count_judgments() < 4:  # the first batch is committed
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = store.count_judgments()
    assert 4 <= kept < 40 and kept % 4 == 0, kept  # whole batches only, nothing half-written
    result = _result(_materialise(root, 40, 0.0))
    assert result["computed"] == 40 - kept  # the re-run computes exactly the rest
    assert store.count_judgments() == 40 and store.duplicates() == 0


READER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])  # read-write, as `duckdb FILE` opens it: the worst case for a single-file store
print("open", flush=True)
while True:
    con.execute("SELECT count(*) FROM judgments").fetchone()
    con.execute("SELECT * FROM judge_costs").fetchall()
    time.sleep(0.05)
"""


def test_reader_held_open_for_a_whole_materialisation_blocks_nothing(tmp_path):
    root = tmp_path / "store"
    JudgmentStore(root)  # the catalog exists
    reader = subprocess.Popen([sys.executable, "-c", READER, str(root / "catalog.duckdb")], env=ENV,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "open"
        t0 = time.time()
        result = _result(_materialise(root, 60, 0.0))
        assert result["computed"] == 60
        assert result["max_lock_wait_s"] < 1.0
        assert reader.poll() is None  # the reader was querying all along
        assert time.time() - t0 < 120
    finally:
        reader.kill()
        reader.wait()
    assert JudgmentStore(root).count_judgments() == 60


def test_two_materialisations_of_the_same_keys_keep_one_row_each(tmp_path):
    root = tmp_path / "store"
    JudgmentStore(root)
    procs = [_materialise(root, 48, 0.02, tag) for tag in ("left", "right")]
    results = [_result(p) for p in procs]
    store = JudgmentStore(root)
    assert store.count_judgments() == 48 and store.duplicates() == 0
    assert sum(r["computed"] for r in results) >= 48  # both may compute a batch; one row is kept
    keys = store.query("SELECT key FROM judgments")["key"].to_list()
    assert len(set(keys)) == 48


LOCKLESS_WRITER = """
import sys
from judge_pipeline.judging.cached import judge_through_store
from judge_pipeline.store import JudgmentStore
from judge_pipeline_tests.fakes import CountingJudge
root, start = sys.argv[1], int(sys.argv[2])
store = JudgmentStore(root, locking=False, compact_every=0)  # a machine that shares no lock with the others
items = [(f"prompt {i}", f"response {i}") for i in range(start, start + 40)]
judge_through_store(CountingJudge(), items, store, batch_size=5, progress=False)
"""


def test_lockless_writers_in_separate_shard_folders_lose_nothing_and_compact_to_unique_rows(tmp_path):
    root = tmp_path / "store"
    JudgmentStore(root)
    # Prompts 0-39, 30-69 and 60-99: each process has prompts no other one judges, so each publishes shards
    # of its own, however the three interleave; prompts 30-39 and 60-69 may be judged twice.
    procs = [subprocess.Popen([sys.executable, "-c", LOCKLESS_WRITER, str(root), str(s)], env=ENV) for s in (0, 30, 60)]
    assert [p.wait(timeout=240) for p in procs] == [0, 0, 0]
    store = JudgmentStore(root)
    writers = {p.parent.name for p in store.shards("judgments")}
    assert len(writers) == 3  # one shard folder per process
    expected = {f"prompt {i}" for i in range(100)}
    assert set(store.query("SELECT DISTINCT prompt FROM judgments")["prompt"].to_list()) == expected  # nothing lost
    store.compact()
    assert store.duplicates() == 0 and store.count_judgments() == 100
    assert len(store.shards("judgments")) == 1
    _, _, stats = judge_through_store(CountingJudge(), [(f"prompt {i}", f"response {i}") for i in range(100)], store,
                                      progress=False)
    assert stats.computed == 0


def test_shards_from_another_machine_merge_by_copying_the_folder(tmp_path):
    here, there = JudgmentStore(tmp_path / "here"), JudgmentStore(tmp_path / "there")
    judge_through_store(CountingJudge(), [(f"p{i}", "r") for i in range(10)], here, progress=False)
    judge_through_store(CountingJudge(), [(f"p{i}", "r") for i in range(5, 15)], there, progress=False)
    for table in ("judgments", "judges"):
        for folder in (tmp_path / "there" / table).iterdir():
            if folder.is_dir():
                shutil.copytree(folder, tmp_path / "here" / table / folder.name)
    assert here.count_judgments() == 20 and here.duplicates() == 5  # the 5 keys both machines computed
    here.compact()
    assert here.count_judgments() == 15 and here.duplicates() == 0


def test_a_reader_of_the_catalog_sees_new_shards_and_survives_a_compaction(tmp_path):
    store = JudgmentStore(tmp_path / "store", compact_every=3)
    con = duckdb.connect(str(tmp_path / "store" / "catalog.duckdb"), read_only=True)
    for i in range(5):  # the fourth shard triggers a merge
        judge_through_store(CountingJudge(), [(f"p{i}", "r")], store, progress=False)
        assert con.execute("SELECT count(*) FROM judgments").fetchone()[0] == i + 1
    assert len(store.shards("judgments")) < 5
    con.close()


def test_killed_put_leaves_no_visible_partial_shard(tmp_path):
    store = JudgmentStore(tmp_path / "store")
    judge_through_store(CountingJudge(), [("p", "r")], store, progress=False)
    partial = tmp_path / "store" / "judgments" / store.writer / ".tmp-part-999999-dead.parquet.partial"
    partial.write_bytes(b"PAR1 half a shard")  # what a writer killed during COPY leaves behind
    assert store.count_judgments() == 1
    os.utime(partial, (time.time() - 7200, time.time() - 7200))
    store.compact()
    assert not partial.exists() and store.count_judgments() == 1
