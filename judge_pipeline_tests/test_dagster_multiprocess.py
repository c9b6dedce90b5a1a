"""Two assets writing verdicts at the same time under Dagster's multiprocess executor lose nothing."""

import os

from dagster import AssetSelection, Definitions, asset, define_asset_job, execute_job, instance_for_test, reconstructable

from judge_pipeline.judging.cached import judge_through_store
from judge_pipeline.store import JudgmentStore
from judge_pipeline_tests.fakes import CountingJudge

N = 120


def _write(tag: str) -> int:
    store = JudgmentStore(os.environ["JP_TEST_STORE"], lock_timeout_s=120)
    items = [(f"{tag} prompt {i}", f"{tag} response {i}") for i in range(N)]
    _, _, stats = judge_through_store(CountingJudge(name=tag), items, store, batch_size=2, progress=False)
    return stats.computed


@asset
def verdicts_left() -> int:
    return _write("left")


@asset
def verdicts_right() -> int:
    return _write("right")


def build_job():
    defs = Definitions(assets=[verdicts_left, verdicts_right],
                       jobs=[define_asset_job("both", AssetSelection.all())])
    return defs.resolve_job_def("both")


def test_parallel_assets_share_the_store(tmp_path):
    os.environ["JP_TEST_STORE"] = str(tmp_path / "store")
    with instance_for_test() as instance:
        result = execute_job(reconstructable(build_job), instance=instance,
                             run_config={"execution": {"config": {"multiprocess": {"max_concurrent": 2}}}})
        assert result.success
        pids = {e.pid for e in result.all_events if e.is_step_start}
        assert len(pids) == 2  # really two processes
    store = JudgmentStore(tmp_path / "store")
    assert store.count_judgments() == 2 * N
