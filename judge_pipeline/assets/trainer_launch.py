"""Running a training job (`training/jobs.py`) from an asset: in the asset's own process (``launch.launcher``
"inprocess", the miniature's default), or as its own process group under ``accelerate launch`` through Dagster Pipes
(`PipesSubprocessClient`, the resource ``pipes_subprocess_client``; the paper configuration's). Either way the steps
reach the run's log as they happen and the result is the same JSON data, so the assets record the same facts beside
the same checkpoint folders.
"""

from collections.abc import Callable
from pathlib import Path

import polars as pl
from dagster import AssetExecutionContext, PipesSubprocessClient

from judge_pipeline.assets.metadata import md_table
from judge_pipeline.config import REPO_ROOT, StudyConfig
from judge_pipeline.fsutil import record_inputs, reuse_if_unchanged
from judge_pipeline.training.jobs import Job, job_to_json, run_job, step_line
from judge_pipeline.training.launch import RESULT, accelerate_command


def run_training(context: AssetExecutionContext, pipes: PipesSubprocessClient, cfg: StudyConfig, job: Job,
                 job_file: Path) -> dict:
    """Run ``job`` where ``cfg.launch`` says; its result. ``job_file``: where the job's JSON is written for an
    accelerate launch (removed once the job has succeeded; left for a look if it failed)."""
    if cfg.launch.launcher == "inprocess":
        return run_job(job, report=lambda row: context.log.info(step_line(row)))
    job_file.parent.mkdir(parents=True, exist_ok=True)
    job_file.write_text(job_to_json(job))
    command = accelerate_command(cfg.launch, cfg.device, job_file)
    context.log.info("launching: " + " ".join(command))
    invocation = pipes.run(context=context, command=command, cwd=str(REPO_ROOT))
    results = [m[RESULT] for m in invocation.get_custom_messages() if isinstance(m, dict) and RESULT in m]
    if not results:
        raise RuntimeError(f"the training process of {job_file} exited without reporting a result")
    job_file.unlink()
    return results[-1]


def train_or_reuse(context: AssetExecutionContext, pipes: PipesSubprocessClient, cfg: StudyConfig, marker: Path,
                   fingerprint: str, make_job: Callable[[], Job], what: str) -> tuple[dict, bool]:
    """The facts recorded at ``marker`` (JSON beside the checkpoints) if they were recorded for ``fingerprint``, else
    those of training ``make_job()`` now (`run_training`; its JSON lands beside the checkpoint folder while it runs),
    recorded there; and whether it trained now."""
    info = reuse_if_unchanged(marker, fingerprint)
    if info is not None:
        context.log.info(f"{what}: inputs unchanged, reusing {marker.parent}")
        return info, False
    folder = marker.parent
    result = run_training(context, pipes, cfg, make_job(), folder.with_name(folder.name + ".job.json"))
    return record_inputs(marker, fingerprint, **result), True


def training_metadata(step_log: list[dict], launcher: str, max_rows: int = 40) -> dict:
    """Asset metadata of a training's step log: mean seconds per step, first and last loss, and the log itself as a
    table (at most ``max_rows`` rows, evenly spaced, the last step always shown)."""
    if not step_log:
        return {"launcher": launcher}
    df = pl.DataFrame(step_log, infer_schema_length=None)
    if len(df) > max_rows:
        keep = sorted({round(i * (len(df) - 1) / (max_rows - 1)) for i in range(max_rows)})
        df = df[keep]
    return {"launcher": launcher, "seconds_per_step": round(sum(r["seconds"] for r in step_log) / len(step_log), 3),
            "loss_first": float(step_log[0]["loss"]), "loss_last": float(step_log[-1]["loss"]),
            "steps_logged": len(step_log), "step_log": md_table(df, max_rows=max_rows)}
