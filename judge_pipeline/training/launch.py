"""The trainer process group: ``accelerate launch [...] -m judge_pipeline.training.launch JOB.json`` runs one training
job (`training/jobs.py`) on every process of the group, and reports to Dagster through Pipes.

Rank 0 opens Dagster Pipes when Dagster started the process (`assets/trainer_launch.py`, `PipesSubprocessClient`):
each optimisation step goes to the run's log as it happens, and the job's result (the facts recorded beside the
checkpoint: losses, seconds, the step log) comes back as a custom message, which the asset turns into metadata.
Started by hand, it prints the result as one JSON line. This module imports `dagster_pipes`, the small
dependency-free half of Pipes made for external processes, and never `dagster` itself: nothing outside
``assets/`` (and definitions / jobs / checks / resources) imports the orchestrator.

`accelerate_command` is the command line the asset side runs. On a CPU, ``configs/accelerate/cpu_ddp.yaml`` makes
``--num_processes`` gloo ranks under torchrun (accelerate's own ``--cpu`` flag starts a single process unless MPI is
set up); on GPUs, ``fsdp.yaml`` or ``deepspeed_zero3.yaml``.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

from judge_pipeline.config import REPO_ROOT, LaunchConfig
from judge_pipeline.training.common import is_main_process
from judge_pipeline.training.jobs import job_from_json, run_job, step_line

RESULT = "training_result"  #: the key of the custom Pipes message (and of the JSON line) that carries the result
CPU_CONFIG = "configs/accelerate/cpu_ddp.yaml"


def free_port() -> int:
    """A TCP port free now, for the process group's rendezvous (two launches at once must not share one)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accelerate_config(launch: LaunchConfig, device: str) -> Path:
    """The accelerate config file of ``launch`` (relative paths from the repository root); CPU default: cpu_ddp."""
    name = launch.accelerate_config or (CPU_CONFIG if device == "cpu" else None)
    if name is None:
        raise ValueError("launcher 'accelerate' on a GPU needs launch.accelerate_config: configs/accelerate/fsdp.yaml "
                         "or configs/accelerate/deepspeed_zero3.yaml")
    path = Path(name) if Path(name).is_absolute() else REPO_ROOT / name
    if not path.is_file():
        raise FileNotFoundError(f"accelerate config {path} not found")
    return path


def accelerate_command(launch: LaunchConfig, device: str, job_file: Path, port: int | None = None) -> list[str]:
    """``accelerate launch`` of this module on ``job_file`` with ``launch``'s config file and process count."""
    return [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(accelerate_config(launch, device)),
            "--num_processes", str(launch.num_processes), "--main_process_port", str(port or free_port()),
            "-m", "judge_pipeline.training.launch", str(job_file)]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m judge_pipeline.training.launch JOB.json  (under `accelerate launch`, or alone)",
              file=sys.stderr)
        return 2
    job = job_from_json(Path(args[0]).read_text())
    if is_main_process():
        from dagster_pipes import PipesEnvVarParamsLoader, open_dagster_pipes

        started = f"{type(job).__name__} on {os.environ.get('WORLD_SIZE', '1')} process(es): {args[0]}"
        if PipesEnvVarParamsLoader().is_dagster_pipes_process():
            with open_dagster_pipes() as pipes:
                pipes.log.info(started)
                result = run_job(job, report=lambda row: pipes.log.info(step_line(row)))
                pipes.report_custom_message({RESULT: result})
            return 0
        print(started, flush=True)
        result = run_job(job, report=lambda row: print(step_line(row), flush=True))
        print(json.dumps({RESULT: result}), flush=True)
        return 0
    run_job(job)  # the other ranks train alongside; rank 0 reports
    return 0


if __name__ == "__main__":
    sys.exit(main())
