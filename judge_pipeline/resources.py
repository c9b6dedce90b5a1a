"""Dagster resources: the study configuration (with its store and folders) and experiment tracking."""


import contextlib
import os
from pathlib import Path

from dagster import ConfigurableResource

from judge_pipeline import tracking
from judge_pipeline.config import DATA_DIR, StudyConfig, load_config
from judge_pipeline.store import JudgmentStore

#: Resource keys an asset needs for W&B: dagster-wandb's resource (which logs in) when a key is set.
WANDB_RESOURCE_KEYS: set[str] = {"wandb"} if os.environ.get("WANDB_API_KEY") else set()


class StudyResource(ConfigurableResource):
    """Which study configuration runs (miniature | tiny | paper) and where its outputs go."""

    config_name: str = os.environ.get("JUDGE_PIPELINE_CONFIG", "miniature")
    data_dir: str = str(DATA_DIR)

    @property
    def cfg(self) -> StudyConfig:
        return load_config(self.config_name)

    @property
    def root(self) -> Path:
        return Path(self.data_dir)

    def store(self) -> JudgmentStore:
        return JudgmentStore(self.root / "judgments.duckdb")

    def judge_dir(self, variant: str) -> Path:
        return self.root / "checkpoints" / "judges" / self.config_name / variant

    def policy_dir(self, policy: str, variant: str, seed: int) -> Path:
        return self.root / "checkpoints" / "policies" / self.config_name / f"{policy}__{variant}__seed{seed}"

    def plot_dir(self) -> Path:
        return self.root / "runs" / self.config_name / "plots"


class TrackerResource(ConfigurableResource):
    """W&B tracking: 'offline' (default, no key needed), 'online' (WANDB_API_KEY set) or 'disabled'."""

    mode: str = tracking.default_mode()
    project: str = "judge_pipeline"
    directory: str = str(DATA_DIR / "wandb")  #: where runs are written (offline runs stay there)

    @contextlib.contextmanager
    def run(self, name: str, config: dict | None = None, job_type: str | None = None):
        with tracking.wandb_run(name, self.project, config=config, mode=self.mode, job_type=job_type,
                                    directory=self.directory) as run:
            yield run

    @property
    def report_to(self) -> list[str]:
        """What TRL trainers should report to (they log into the active run)."""
        return [] if self.mode == "disabled" else ["wandb"]
