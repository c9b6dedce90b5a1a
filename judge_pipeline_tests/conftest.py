"""Shared test setup: the `tiny` study config, outputs in a temporary folder, W&B off by default.

Set before judge_pipeline is imported, because partitions are built from the active config at import.
"""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("JUDGE_PIPELINE_CONFIG", "tiny")
os.environ.setdefault("JUDGE_PIPELINE_WANDB", "disabled")
if "JUDGE_PIPELINE_DATA" not in os.environ:
    # Our own scratch folder: removed when the test run ends, so repeated runs do not fill the disk.
    _scratch = tempfile.mkdtemp(prefix="judge_pipeline_test_")
    os.environ["JUDGE_PIPELINE_DATA"] = _scratch
    atexit.register(shutil.rmtree, _scratch, ignore_errors=True)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


import pytest  # noqa: E402  (after the environment above)


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory):
    """The whole `tiny` study materialised once per test session (real models and training, ~3.5 min on 2 cores):
    (Dagster instance, data folder, run report). The end-to-end tests and the Ray test share it."""
    from dagster import DagsterInstance

    from judge_pipeline.jobs import run_study

    data_dir = str(tmp_path_factory.mktemp("study"))
    instance = DagsterInstance.ephemeral()
    report = run_study(instance, data_dir=data_dir, wandb_mode="offline")
    return instance, data_dir, report
