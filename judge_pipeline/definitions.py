"""The one Definitions object: assets, checks, jobs, schedule, sensor and resources.

Which study runs (miniature | tiny | paper) is chosen by $JUDGE_PIPELINE_CONFIG, as in Dagster's
project_fully_featured example picks resources per deployment. W&B runs offline unless
WANDB_API_KEY is set, in which case dagster-wandb's resource logs in with it.
"""

from __future__ import annotations

import os

from dagster import Definitions, PipesSubprocessClient, load_assets_from_modules

from judge_pipeline.assets import analysis, arena, data, evaluation, gold, judges, policies
from judge_pipeline.checks import ALL_CHECKS
from judge_pipeline.config import DATA_DIR, load_config
from judge_pipeline.jobs import (analysis_job, evaluation_job, judge_report_job, new_checkpoint_sensor, nightly_evaluation,
                                 refresh_after_evaluation, transfer_job)
from judge_pipeline.resources import StudyResource, TrackerResource, WANDB_RESOURCE_KEYS, WarehouseIOManager

ASSET_MODULES = [data, gold, judges, policies, evaluation, analysis, arena]


def build_resources(data_dir: str | None = None, wandb_mode: str | None = None) -> dict:
    cfg = load_config()
    root = data_dir or str(DATA_DIR)
    os.makedirs(root, exist_ok=True)  # DuckDB creates the file, not its folder
    resources = {
        "io_manager": WarehouseIOManager(database=os.path.join(root, "warehouse.duckdb"), schema=cfg.name),
        "study": StudyResource(config_name=cfg.name, data_dir=root),
        "tracker": TrackerResource(project=cfg.wandb_project, directory=os.path.join(root, "wandb"),
                                   **({"mode": wandb_mode} if wandb_mode else {})),
        # starts the trainers' process groups (`accelerate launch`) when StudyConfig.launch says so
        "pipes_subprocess_client": PipesSubprocessClient(),
    }
    if "wandb" in WANDB_RESOURCE_KEYS:
        from dagster_wandb import wandb_resource

        resources["wandb"] = wandb_resource.configured({"api_key": {"env": "WANDB_API_KEY"}})
    return resources


#: variables a step needs wherever it runs (a Ray worker has none of this process's environment); API keys are not
#: forwarded (Ray shows a job's environment in its dashboard): set them on the cluster's nodes
FORWARDED_ENV = ("JUDGE_PIPELINE_CONFIG", "JUDGE_PIPELINE_DATA", "JUDGE_PIPELINE_MODELS", "DAGSTER_HOME", "WANDB_MODE",
                 "JUDGE_PIPELINE_SERVED", "JUDGE_PIPELINE_PREFERENCE_FILES", "JUDGE_PIPELINE_EXTERNAL_VERDICTS")


def build_executor():
    """Where each step of a run executes. ``JUDGE_PIPELINE_EXECUTOR`` unset: Dagster's default (a process per step on
    this machine). ``ray``: dagster-ray's `ray_executor` submits every step as a Ray job to the cluster whose job
    API is at ``RAY_ADDRESS`` (``http://<head>:8265``); steps that need GPUs say so in their op tags
    (`assets.partitions.TRAIN_TAGS` / `INFERENCE_TAGS`), so trainers, judges and evaluation spread over the nodes.
    Every node needs this project installed and the data folder on a shared filesystem (the judgment store's writers
    are per-process shard folders: `store/judgment_store.py`)."""
    kind = os.environ.get("JUDGE_PIPELINE_EXECUTOR", "").strip().lower()
    if kind in ("", "default", "multiprocess"):
        return None
    if kind != "ray":
        raise ValueError(f"JUDGE_PIPELINE_EXECUTOR={kind!r}: expected 'ray' or nothing")
    if not os.environ.get("RAY_ADDRESS"):
        raise ValueError("JUDGE_PIPELINE_EXECUTOR=ray needs RAY_ADDRESS, the cluster's job API (http://<head>:8265)")
    from dagster_ray import ray_executor

    return ray_executor.configured({"ray": {"address": os.environ["RAY_ADDRESS"],
                                            "env_vars": [k for k in FORWARDED_ENV if os.environ.get(k)]}})


all_assets = load_assets_from_modules(ASSET_MODULES)

defs = Definitions(
    assets=all_assets,
    asset_checks=ALL_CHECKS,
    jobs=[evaluation_job, judge_report_job, analysis_job, transfer_job],
    schedules=[nightly_evaluation],
    sensors=[new_checkpoint_sensor, refresh_after_evaluation],
    resources=build_resources(),
    executor=build_executor(),
)
