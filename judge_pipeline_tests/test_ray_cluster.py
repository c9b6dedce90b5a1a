"""The graph on a cluster (issue 13): a local Ray head, the tiny study's judge partition materialised through
dagster-ray's executor (every step a Ray job), the head stopped.

The study's other stages come from the session's `tiny_study` (conftest). Three of the judge's verdicts are deleted
from the store first, so the Ray worker must compute them again and write them to the store: from another process,
into its own shard folder, with no single-file lock held anywhere."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from judge_pipeline.backends.local_server import free_port
from judge_pipeline.store import JudgmentStore

pytestmark = [pytest.mark.slow, pytest.mark.cluster]

BIN = Path(sys.executable).parent


@pytest.fixture
def ray_head(tiny_study, tmp_path):
    """A Ray head on this machine (2 CPUs, its job API on a free port), its environment the tiny study's; stopped
    at teardown. Yields (environment for the driver, job API address)."""
    if importlib.util.find_spec("ray") is None or importlib.util.find_spec("dagster_ray") is None:
        msg = "ray and dagster-ray are not installed: run `make setup`"
        if os.environ.get("CI") == "true":
            pytest.fail(msg + " (CI must run the cluster test)")
        pytest.skip(msg)
    _, data_dir, _ = tiny_study
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("")
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # Ray's sockets need a short path
    env = {**os.environ, "JUDGE_PIPELINE_CONFIG": "tiny", "JUDGE_PIPELINE_DATA": data_dir, "DAGSTER_HOME": str(home),
           "WANDB_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    dashboard = free_port()
    start = subprocess.run([str(BIN / "ray"), "start", "--head", "--port", str(free_port()), "--dashboard-port",
                            str(dashboard), "--num-cpus", "2", "--include-dashboard", "true", "--disable-usage-stats",
                            "--temp-dir", temp], env=env, capture_output=True, text=True, timeout=180)
    try:
        assert start.returncode == 0, start.stdout + start.stderr
        yield env, f"http://127.0.0.1:{dashboard}"
    finally:
        subprocess.run([str(BIN / "ray"), "stop", "--force"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(temp, ignore_errors=True)


def test_judge_partition_materialises_through_a_local_ray_head(ray_head, tiny_study):
    env, address = ray_head
    _, data_dir, _ = tiny_study
    store = JudgmentStore(Path(data_dir) / "judgments")
    before = store.query("SELECT count(*) AS n FROM judgments WHERE judge_name = 'nonreasoning'")["n"][0]
    assert before > 0
    # three of the judge's verdicts forgotten: the Ray job must compute them again (all of them: 20 s more of verdicts)
    forgotten = store.query("SELECT DISTINCT j.key FROM judgments j JOIN judgment_uses u USING (key) WHERE "
                            "j.judge_name = 'nonreasoning' AND u.context = 'judge_report' ORDER BY j.key LIMIT 3")["key"]
    keys = ", ".join(f"'{k}'" for k in forgotten)
    assert store.forget("judgments", f"judge_name = 'nonreasoning' AND key IN ({keys})") == 3
    writers_before = {p.parent.name for p in store.shards("judgments")}

    run = subprocess.run(
        [str(BIN / "dagster"), "asset", "materialize", "-m", "judge_pipeline.definitions",
         "--select", "judge_checkpoint,judge_report", "--partition", "nonreasoning"],
        env={**env, "JUDGE_PIPELINE_EXECUTOR": "ray", "RAY_ADDRESS": address}, capture_output=True, text=True,
        timeout=900)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-5000:]
    assert 'Executing step "judge_checkpoint" in Ray job' in log and 'Executing step "judge_report" in Ray job' in log
    assert "RUN_SUCCESS" in log

    store = JudgmentStore(Path(data_dir) / "judgments")
    after = store.query("SELECT count(*) AS n FROM judgments WHERE judge_name = 'nonreasoning'")["n"][0]
    assert after == before  # the forgotten verdicts, computed again by the Ray job
    assert store.query(f"SELECT count(*) AS n FROM judgments WHERE key IN ({keys})")["n"][0] == 3
    new_writers = {p.parent.name for p in store.shards("judgments")} - writers_before
    assert new_writers and not any(w.endswith(f"-{os.getpid()}") or f"-{os.getpid()}-" in w for w in new_writers)
    assert store.duplicates() == 0
