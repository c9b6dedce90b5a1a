"""Shared test setup: the `tiny` study config, outputs in a temporary folder, W&B off by default.

Set before judge_pipeline is imported, because partitions are built from the active config at import.

`make test` runs the suite on two pytest-xdist workers (``-n 2``). For that: the base models every test converts
into the shared models folder are converted once, by the controlling process, before any worker starts (two workers
converting at once would write the same ``.partial`` folder); each test module runs whole on one worker (its module
fixtures built once), the modules sharing the ``tiny_study`` session fixture on the same one, the longest first
(`pytest_xdist_make_scheduler`).
"""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("JUDGE_PIPELINE_CONFIG", "tiny")
os.environ.setdefault("JUDGE_PIPELINE_WANDB", "disabled")
if os.environ.get("JUDGE_PIPELINE_DATA", "") in ("", os.environ.get("JUDGE_PIPELINE_TEST_SCRATCH")):
    # Our own scratch folder: removed when the test run ends, so repeated runs do not fill the disk. An xdist worker
    # inherits the controlling process's scratch folder and makes its own instead (a data folder set by the user stays).
    _scratch = tempfile.mkdtemp(prefix=f"judge_pipeline_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_")
    os.environ["JUDGE_PIPELINE_DATA"] = os.environ["JUDGE_PIPELINE_TEST_SCRATCH"] = _scratch
    atexit.register(shutil.rmtree, _scratch, ignore_errors=True)
if os.environ.get("PYTEST_XDIST_WORKER"):
    # two workers on two cores: one torch thread each (and in their subprocesses), not two workers x two threads
    os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


import pytest  # noqa: E402  (after the environment above)


#: test modules that must share a worker (the value names their work unit): those using the session-scoped ``tiny_study``
XDIST_UNITS = {"test_e2e": "tiny_study", "test_ray_cluster": "tiny_study"}
#: the longest units (minutes each), handed out first so that no worker is left with one of them at the end
XDIST_FIRST = ("test_paper_smoke", "tiny_study")


def _unit(nodeid: str) -> str:
    """A test's xdist work unit: its module's name, or the shared unit of `XDIST_UNITS`."""
    module = nodeid.split("::", 1)[0].rsplit("/", 1)[-1].removesuffix(".py")
    return XDIST_UNITS.get(module, module)


def pytest_configure(config):
    """In the controlling process (or a run without xdist): the base models the tests use, converted once."""
    if os.environ.get("PYTEST_XDIST_WORKER") or config.getoption("collectonly", False):
        return
    from judge_pipeline.backends.hf_models import materialize_base_model
    from judge_pipeline.config import SMOLLM2, ModelSpec

    materialize_base_model(SMOLLM2)
    materialize_base_model(ModelSpec(name="tiny-random-test", source="tiny-random"))


def pytest_collection_modifyitems(config, items):
    """On xdist workers: the longest work units first (the scheduler hands units out in collection order)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        rank = {u: i for i, u in enumerate(XDIST_FIRST)}
        items.sort(key=lambda it: rank.get(_unit(it.nodeid), len(rank)))  # stable: the rest keep their order


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """xdist's scope scheduling with one work unit per test module (`_unit`), so module fixtures are built once and
    the modules of `XDIST_UNITS` share one worker. (``--dist loadgroup`` with ``xdist_group`` marks would say the same,
    but under pytest 9.2 / xdist 3.8 it did not group them.)"""
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _unit(nodeid)

    return ModuleScheduling(config, log)


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
