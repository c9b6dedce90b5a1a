"""Jobs, the schedule and the sensors that keep the evaluation up to date."""


from pathlib import Path

import os
import time
from dataclasses import dataclass

from dagster import (
    AssetKey, AssetSelection, DagsterInstance, DagsterRunStatus, materialize, DefaultSensorStatus, MultiPartitionKey, RunRequest,
    RunsFilter, RunStatusSensorContext, SensorEvaluationContext, SkipReason, define_asset_job, run_status_sensor, schedule,
    sensor,
)

from judge_pipeline.assets.partitions import judge_partitions, policy_judge_partitions
from judge_pipeline.resources import StudyResource
from judge_pipeline.watch import new_since, run_partition_of

ANALYSIS_ASSETS = ["overoptimization", "overoptimization_fits", "hacking_patterns", "run_summaries", "judge_disagreement"]

#: the Arena-Hard-style evaluation of a run (assets/arena.py), partitioned like it: evaluation_job runs it too
ARENA_RUN_ASSETS = ["arena_answers", "arena_judgments", "arena_scores"]

evaluation_job = define_asset_job(
    "evaluation_job", selection=AssetSelection.assets("checkpoint_scores", *ARENA_RUN_ASSETS),
    description="Score every checkpoint of one GRPO run with its training judge and the gold judge, and its KL; "
                "and its Arena-Hard-style evaluation (answers, two-game verdicts against the baseline, scores).",
)
judge_report_job = define_asset_job(
    "judge_report_job", selection=AssetSelection.assets("judge_report"),
    description="Re-evaluate one trained judge against gold.",
)
analysis_job = define_asset_job(
    "analysis_job", selection=AssetSelection.assets(*ANALYSIS_ASSETS),
    description="Recompute the proxy-vs-gold analysis (curves, fits, patterns, run pages) and judge disagreement.",
)

#: what every finished evaluation refreshes (`refresh_after_evaluation`): the study-wide views over every judge. The
#: Arena-Hard assets of a run are in evaluation_job (ARENA_RUN_ASSETS), so the matrix, which depends on
#: arena_judgments, sees their verdicts; an unpartitioned asset added for the study as a whole goes here.
REFRESH_ASSETS = ["transfer_matrix", "reasoning_analytics"]
transfer_job = define_asset_job(
    "transfer_job", selection=AssetSelection.assets(*REFRESH_ASSETS),
    description="Refresh the deception-transfer matrix and the judge-reasoning analytics (only what the store lacks "
                "is computed: counts in each materialisation's metadata).",
)


def _policies_root() -> Path:
    return StudyResource().policies_root


def _judges_root() -> Path:
    return StudyResource().judges_root


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


@run_status_sensor(run_status=DagsterRunStatus.SUCCESS, monitored_jobs=[evaluation_job, judge_report_job],
                   request_job=transfer_job, default_status=DefaultSensorStatus.RUNNING, minimum_interval_seconds=60)
def refresh_after_evaluation(context: RunStatusSensorContext):
    """After each successful evaluation run (started by the nightly schedule, the new-checkpoint sensor or by hand) and
    judge report: refresh the transfer matrix and the reasoning analytics (`transfer_job`). Skipped while a refresh is
    still waiting to start: it will see this run's results. Each refresh computes only what the store lacks."""
    waiting = context.instance.get_runs(RunsFilter(job_name=transfer_job.name, statuses=[
        DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED]), limit=1)
    if waiting:
        return SkipReason(f"refresh {waiting[0].run_id} has not started yet: it will include {context.dagster_run.run_id}")
    return RunRequest(run_key=f"refresh-after-{context.dagster_run.run_id}",
                      tags={"judge_pipeline/after_run": context.dagster_run.run_id})


# ------------------------------------------------------------------ the whole study, stage by stage
@dataclass
class StudyRunReport:
    timings: dict[str, float]  #: seconds per stage
    model_calls: int  #: generations + verdicts computed (not found in the store)
    trainings: int  #: judge or policy trainings run (inputs changed)


#: (stage name, assets, partitions): `run_study` materialises them in this order, once per partition.
#: the study in dependency order: (stage name, assets, partitions). `make demo` runs them all, so a newcomer sees the
#: Arena-Hard-style scores of every checkpoint and the deception-transfer matrix without a second command
STAGES: list[tuple[str, list[str], object]] = [
    ("data + gold", ["preference_pairs", "rl_prompts", "policy_test_prompts", "gold_labels", "arena_questions"], None),
    ("judges", ["judge_checkpoint", "judge_report"], judge_partitions),
    ("judge comparison", ["judge_comparison"], None),
    ("policies + evaluation", ["policy_checkpoints", "checkpoint_scores", "best_of_n", *ARENA_RUN_ASSETS],
     policy_judge_partitions),
    ("analysis", ANALYSIS_ASSETS, None),
    ("transfer", REFRESH_ASSETS, None),
]


def run_study(instance: DagsterInstance | None = None, data_dir: str | None = None, wandb_mode: str | None = None,
              stages: list[str] | None = None) -> StudyRunReport:
    """Materialise every stage (raises if any run fails); report seconds per stage and what was computed.

    Model calls (generations + verdicts) and trainings are both 0 when nothing changed since the last run.
    """
    from judge_pipeline.checks import ALL_CHECKS
    from judge_pipeline.definitions import all_assets, build_resources  # definitions imports this module

    resources = build_resources(data_dir=data_dir, wandb_mode=wandb_mode)
    timings: dict[str, float] = {}
    computed, trained = 0, 0
    for name, keys, partitions in STAGES:
        if stages and name not in stages:
            continue
        t0 = time.perf_counter()
        for pk in partitions.get_partition_keys() if partitions else [None]:
            print(f"\n=== {name}" + (f" [{pk}]" if pk else ""), flush=True)
            result = materialize(
                [*all_assets, *ALL_CHECKS], selection=[AssetKey(k) for k in keys], partition_key=pk,
                instance=instance, resources=resources, raise_on_error=True,
                tags={"judge_pipeline/stage": name},
            )
            assert result.success
            for event in result.get_asset_materialization_events():
                meta = event.materialization.metadata
                computed += int(meta["computed_now"].value) if "computed_now" in meta else 0
                trained += int(meta["trained_now"].value) if "trained_now" in meta else 0  # bool, or seeds trained
        timings[name] = time.perf_counter() - t0
    print(f"\nThis run: {computed} model calls (generations + verdicts), {trained} trainings", flush=True)
    return StudyRunReport(timings, computed, trained)


def default_instance() -> DagsterInstance:
    """The persistent instance under $DAGSTER_HOME (so `dagster dev` shows the runs), else an ephemeral one."""
    return DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral()
