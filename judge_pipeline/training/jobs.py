"""Training jobs: what one training of the study needs, as data a JSON file can carry, and `run_job`, which runs it.

- `JudgeJob`: every stage of one judge variant (SFT, then GRPO; or the Bradley–Terry reward model);
- `PolicyJob`: one GRPO seed of a policy against a reward (a judge or an ensemble), its reward built from the study.

`run_job` runs in whichever process calls it: the asset's own (launcher "inprocess") or every process of an
`accelerate launch` (`training/launch.py`, the job read from JSON by `job_from_json`). Both paths run this same
code, so the checkpoint folders, the facts recorded beside them and the result are the same either way; the result
goes through JSON in both, so it is the same object too. A judge's intermediate SFT checkpoint records that it is
done (``stage.json``, under the run's fingerprint), so a run killed during GRPO does not train SFT again.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from judge_pipeline import tracking
from judge_pipeline.config import PolicyTrainConfig, StudyConfig
from judge_pipeline.fsutil import record_inputs, reuse_if_unchanged
from judge_pipeline.training.common import Runtime, is_main_process, sum_over_processes

STAGE_FILE = "stage.json"  #: in an intermediate stage's checkpoint (``<judge>.sft``): the stage finished, for this key


@dataclass(frozen=True)
class Tracking:
    """W&B settings of a job (`resources.TrackerResource`'s): the run is opened on the main process only."""

    mode: str = "disabled"  #: "offline" | "online" | "disabled"
    project: str = "judge_pipeline"
    directory: str | None = None

    @property
    def report_to(self) -> list[str]:
        return ["wandb"] if self.mode != "disabled" and is_main_process() else []

    def run(self, name: str, config: dict, job_type: str):
        return tracking.wandb_run(name, self.project, config=config, job_type=job_type, directory=self.directory,
                                  mode=self.mode if is_main_process() else "disabled")


@dataclass(frozen=True)
class JudgeJob:
    """Train judge ``variant`` of ``study`` from ``base`` on its `assets.judges.variant_examples` into ``target``."""

    study: StudyConfig
    variant: str
    base: str
    examples: dict[str, list[dict]]
    target: str
    resume_key: str = ""  #: the variant's training fingerprint: saved state and finished stages of other keys are redone
    tracking: Tracking = field(default_factory=Tracking)


@dataclass(frozen=True)
class PolicyJob:
    """One GRPO seed: policy ``base`` on ``prompts`` against reward ``variant`` (judges at ``judge_paths``), its step
    checkpoints under ``run_dir``; verdicts go to the store at ``store_dir`` under study ``store_study``."""

    study: StudyConfig
    pcfg: PolicyTrainConfig  #: the study's policy settings for this run (its policy model and seed)
    variant: str
    base: str
    prompts: list[str]
    run_dir: str
    judge_paths: dict[str, str]
    store_dir: str
    store_study: str
    run_id: str | None = None
    resume_key: str = ""  #: the run's fingerprint
    tracking: Tracking = field(default_factory=Tracking)


Job = JudgeJob | PolicyJob
JOBS = {cls.__name__: cls for cls in (JudgeJob, PolicyJob)}


def step_line(row: dict) -> str:
    """One step of `common.StepReport` as a log line."""
    reward = f", reward {row['reward']:.4g}" if row.get("reward") is not None else ""
    stage = f"{row['stage']} " if row.get("stage") else ""
    return f"{stage}step {row['step']}: loss {row['loss']:.4g}{reward}, {row['seconds']:.2f} s"


def run_job(job: Job, report: Callable[[dict], None] | None = None, callbacks: Sequence = ()) -> dict:
    """Run ``job`` here; its result as JSON data (what Pipes carries back). ``report`` gets each step's row on the main
    process; ``callbacks`` are added to every trainer (tests)."""
    run = run_judge_job if isinstance(job, JudgeJob) else run_policy_job
    return json.loads(json.dumps(run(job, report, list(callbacks))))


def _runtime(cfg: StudyConfig, job: Job, seed: int, key: str, report, callbacks) -> Runtime:
    """The job's `Runtime`; a job without a fingerprint (``resume_key`` "") saves no state: nothing could tell
    whose state it would resume."""
    return Runtime(device=cfg.device, report_to=job.tracking.report_to, seed=seed, resume_key=key, report=report,
                   resume_every=cfg.launch.resume_every if job.resume_key else None, callbacks=callbacks)


def run_judge_job(job: JudgeJob, report=None, callbacks=()) -> dict:
    """Every training stage of one variant; the final checkpoint lands at ``job.target``. Returns the facts recorded
    beside it (stages, the checkpoint, examples, loss of the last stage, steps, seconds, invalid rollouts, the step
    log)."""
    from judge_pipeline.training.judge_grpo import train_judge_grpo
    from judge_pipeline.training.judge_sft import train_judge_sft
    from judge_pipeline.training.reward_model import train_reward_model

    cfg, base, target, examples = job.study, Path(job.base), Path(job.target), job.examples
    jcfg = cfg.judge(job.variant)
    run_cfg = {"variant": jcfg.variant, **dataclasses.asdict(jcfg)}
    step_log: list[dict] = []

    def rt(stage: str) -> Runtime:
        def staged(row):
            step_log.append({"stage": stage, **row})
            if report is not None:
                report(step_log[-1])
        return _runtime(cfg, job, cfg.data.seed, f"{job.resume_key}:{stage}", staged, callbacks)

    def tracked(stage: str, job_type: str):
        return job.tracking.run(f"judge-{stage}-{jcfg.variant}", run_cfg, job_type)

    if "bt" in examples:
        with tracked("bt", "judge_reward_model"):
            res = train_reward_model(base, examples["bt"], jcfg, target, rt("bt"))
        return {"stages": "bt", "checkpoint": str(target), "n_train": len(examples["bt"]), "train_loss": res.train_loss,
                "steps": res.steps, "seconds": res.seconds, "step_log": step_log}
    stages, start, steps, seconds, loss, n_train, extra = [], base, 0, 0.0, float("nan"), 0, {}
    if "sft" in examples:
        out = target if "grpo" not in examples else target.with_name(target.name + ".sft")
        key = f"{job.resume_key}:sft"
        done = reuse_if_unchanged(out / STAGE_FILE, key) if out != target and job.resume_key else None
        if done is None:
            with tracked("sft", "judge_sft"):
                res, val_epochs = train_judge_sft(base, examples["sft"], jcfg, out, rt("sft"), val=examples.get("val"))
            done = {"train_loss": res.train_loss, "steps": res.steps, "seconds": res.seconds, "val_epochs": val_epochs}
            if out != target and is_main_process():
                record_inputs(out / STAGE_FILE, key, **done, step_log=list(step_log))
        else:
            step_log.extend(done.get("step_log", []))
        stages.append("sft")
        start, steps, seconds, loss = out, steps + done["steps"], seconds + done["seconds"], done["train_loss"]
        if done.get("val_epochs"):  # the epoch was chosen on judge-val (`epoch_selection.py`)
            extra["val_epochs"] = done["val_epochs"]
        n_train = len(examples["sft"])
    if "grpo" in examples:
        with tracked("grpo", "judge_grpo"):
            res, reward = train_judge_grpo(start, examples["grpo"], jcfg, target, rt("grpo"))
        stages.append("grpo")
        steps, seconds, loss = steps + res.steps, seconds + res.seconds, res.train_loss
        n_train = n_train or len(examples["grpo"])
        rewards = [h["reward"] for h in res.log_history if "reward" in h]
        extra |= {"grpo_rollouts": reward.rollouts, "grpo_invalid_rollouts": reward.invalid,
                 "grpo_reward_first": rewards[0] if rewards else None, "grpo_reward_last": rewards[-1] if rewards else None}
    return {"stages": "+".join(stages), "checkpoint": str(target), "n_train": n_train, "train_loss": loss, "steps": steps,
            "seconds": seconds, **extra, "step_log": step_log}


def run_policy_job(job: PolicyJob, report=None, callbacks=()) -> dict:
    """One GRPO seed; the facts its manifest records (checkpoints, reward per step, seconds per step, invalid verdicts
    and verdicts computed, summed over every process) and the step log."""
    import polars as pl

    from judge_pipeline.store import JudgmentStore
    from judge_pipeline.training.policy_grpo import train_policy_grpo
    from judge_pipeline.training.policy_rewards import build_policy_reward

    cfg, pcfg = job.study, job.pcfg
    store = JudgmentStore(job.store_dir, study=job.store_study)
    reward = build_policy_reward(cfg, job.variant, job.judge_paths, store, run_id=job.run_id)
    rt = _runtime(cfg, job, pcfg.seed, job.resume_key, report, callbacks)
    with job.tracking.run(f"grpo-{pcfg.policy_model}-{job.variant}-seed{pcfg.seed}", {
            "policy": pcfg.policy_model, "judge": job.variant, **dataclasses.asdict(pcfg)}, "policy_grpo") as run:
        res = train_policy_grpo(Path(job.base), job.prompts, [reward], pcfg, Path(job.run_dir), rt)
        tracking.log_table(run, "rollouts", pl.DataFrame(list(reward.history)))
    invalid, computed = sum_over_processes(reward.invalid, reward.verdicts_computed)
    return {
        "checkpoints": [[s, str(p)] for s, p in res.checkpoints],
        "reward_by_step": {int(h["step"]): h.get("reward") for h in res.log_history if "reward" in h},
        "seconds_per_step": res.seconds_per_step,
        "invalid_judge_outputs": invalid,
        "verdicts_computed": computed,
        "step_log": res.step_log,
    }


# ---------------------------------------------------------------------- JSON
def job_to_json(job: Job) -> str:
    return json.dumps({"job": type(job).__name__, "spec": dataclasses.asdict(job)})


def job_from_json(text: str) -> Job:
    data = json.loads(text)
    return from_data(JOBS[data["job"]], data["spec"])


def from_data(tp, value):
    """``value`` (JSON data) as type ``tp``: dataclasses (the study's config included) rebuilt field by field from
    their type hints, tuples as tuples; what a field's hint does not describe is kept as it is."""
    if value is None:
        return None
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        return tp(**{f.name: from_data(hints[f.name], value[f.name]) for f in dataclasses.fields(tp)
                     if f.init and f.name in value})
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in args if a is not type(None)]
        return from_data(inner[0], value) if len(inner) == 1 else value
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_data(args[0], v) for v in value)
        return tuple(from_data(a, v) for a, v in zip(args, value)) if args else tuple(value)
    if origin is list and args:
        return [from_data(args[0], v) for v in value]
    if origin is dict and args:
        return {k: from_data(args[1], v) for k, v in value.items()}
    return value
