"""Jobs, the schedule and the sensor that keep the evaluation up to date."""


from pathlib import Path

from dagster import (
    AssetSelection, DefaultSensorStatus, MultiPartitionKey, RunRequest, SensorEvaluationContext, SkipReason,
    define_asset_job, schedule, sensor,
)

from judge_pipeline.assets.partitions import judge_partitions, policy_judge_partitions
from judge_pipeline.config import DATA_DIR, load_config
from judge_pipeline.watch import new_since, run_partition_of

evaluation_job = define_asset_job(
    "evaluation_job", selection=AssetSelection.assets("checkpoint_scores"),
    description="Score every checkpoint of one GRPO run with its training judge and the gold judge.",
)
judge_report_job = define_asset_job(
    "judge_report_job", selection=AssetSelection.assets("judge_report"),
    description="Re-evaluate one trained judge against gold.",
)
analysis_job = define_asset_job(
    "analysis_job", selection=AssetSelection.assets("overoptimization", "judge_disagreement"),
    description="Recompute the proxy-vs-gold analysis and the judge-disagreement tables from the store.",
)


def _policies_root() -> Path:
    return DATA_DIR / "checkpoints" / "policies" / load_config().name


def _judges_root() -> Path:
    return DATA_DIR / "checkpoints" / "judges" / load_config().name


@schedule(cron_schedule="0 3 * * *", job=evaluation_job, execution_timezone="UTC")
def nightly_evaluation(context):
    """Re-score every (policy x judge) run nightly; the store makes unchanged checkpoints free."""
    for key in policy_judge_partitions.get_partition_keys():
        yield RunRequest(run_key=f"{context.scheduled_execution_time:%Y%m%d}-{key}", partition_key=key)


@sensor(jobs=[evaluation_job, judge_report_job], minimum_interval_seconds=30, default_status=DefaultSensorStatus.STOPPED)
def new_checkpoint_sensor(context: SensorEvaluationContext):
    """Starts evaluation when a new policy checkpoint lands, and a judge report when a new judge does."""
    cursor = dict(zip(("policies", "judges"), (context.cursor or "\x00").split("\x00")))
    new_policy, pcursor = new_since(_policies_root(), cursor.get("policies") or None)
    new_judges, jcursor = new_since(_judges_root(), cursor.get("judges") or None)
    context.update_cursor(pcursor + "\x00" + jcursor)
    requests = []
    for run in sorted({run_partition_of(f, _policies_root()) for f in new_policy} - {None}):
        key = MultiPartitionKey({"policy": run[0], "judge": run[1]})
        if key in policy_judge_partitions.get_partition_keys():
            requests.append(RunRequest(job_name="evaluation_job", partition_key=key, run_key=f"eval-{key}-{pcursor[-12:]}"))
    for folder in new_judges:
        variant = Path(folder).name
        if variant in judge_partitions.get_partition_keys():
            requests.append(RunRequest(job_name="judge_report_job", partition_key=variant, run_key=f"judge-{variant}-{jcursor[-12:]}"))
    if not requests:
        yield SkipReason("no new checkpoints")
    yield from requests
