"""Experiment tracking with Weights & Biases: offline by default, online when WANDB_API_KEY is set.

Offline runs are written under ``data/wandb/`` and can be uploaded later with ``wandb sync``. The
key is read from the environment by wandb itself; it is never written to a file, a log line or the
store. ``mode="disabled"`` turns tracking off (tests).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from judge_pipeline.config import DATA_DIR


def default_mode() -> str:
    """'online' when a key is in the environment, else 'offline'; JUDGE_PIPELINE_WANDB overrides."""
    forced = os.environ.get("JUDGE_PIPELINE_WANDB")
    if forced:
        return forced
    return "online" if os.environ.get("WANDB_API_KEY") else "offline"


@contextlib.contextmanager
def wandb_run(name: str, project: str, config: dict[str, Any] | None = None, mode: str | None = None,
              group: str | None = None, job_type: str | None = None, directory: str | Path | None = None) -> Iterator[Any]:
    """A W&B run (or None when disabled) that is finished however the block exits."""
    mode = mode or default_mode()
    if mode == "disabled":
        yield None
        return
    import wandb

    directory = Path(directory or os.environ.get("WANDB_DIR", DATA_DIR / "wandb"))
    directory.mkdir(parents=True, exist_ok=True)
    run = wandb.init(project=project, name=name, config=config or {}, mode=mode, dir=str(directory),
                     group=group, job_type=job_type, reinit="finish_previous",
                     settings=wandb.Settings(silent=True, console="off"))
    try:
        yield run
    finally:
        run.finish()


def log_table(run: Any, key: str, df) -> None:
    """Log a polars DataFrame as a W&B table (no-op when the run is None)."""
    if run is None:
        return
    import wandb

    run.log({key: wandb.Table(dataframe=df.to_pandas())})
