"""What every TRL recipe here shares: how it runs (`Runtime`: device, precision, tracking, resumable state), the
weights it starts from, the per-step report, and saving a checkpoint atomically from one or many processes.

Precision: weights are always loaded in fp32 (`load_for_training`), and on a GPU the trainer computes in bf16 under
autocast (``bf16=True``), so the optimizer updates fp32 master weights. Loading a bf16 checkpoint as is (the
default of transformers 5 for a bf16 hub model) makes the master weights bf16, and at lr 1e-6 most Adam updates
round to zero (`judge_pipeline_tests/test_launch.py` measures both). Under FSDP or DeepSpeed ZeRO-3 the same holds:
fp32 shards / fp32 optimizer copies, bf16 compute (configs/accelerate/).

Resume: with ``Runtime.resume_every`` the trainer saves its whole state (weights, optimizer, scheduler, RNG, data
position) every k steps into its output folder, tagged with ``Runtime.resume_key`` (the run's fingerprint); a run
killed after a save starts again from the last one, and state saved for other inputs is deleted, never resumed.
The folder is removed once the run's checkpoint is written.

LM head: TRL's fused head (the loss without the (batch, seq, vocab) logits) projects only the positions that carry
a label on CUDA / XPU, but every position elsewhere (fixed tile shapes for compilers such as Neuron's). On a CPU
nothing compiles, and a judge SFT example trains its 1-3 verdict tokens out of ~260: `load_for_training` makes the
head project only labelled positions on a CPU too (`project_only_labelled_positions`), the same per-row arithmetic.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from transformers import TrainerCallback

from judge_pipeline.fsutil import atomic_folder

RESUME_KEY_FILE = "resume_key.txt"  #: in a trainer's output folder: the fingerprint its saved state belongs to
TRAINER_STATE = "trainer_state.json"  #: written last into a trainer checkpoint: the checkpoint is complete


@dataclass
class Runtime:
    """How a recipe runs, as opposed to what it learns (the config): nothing here enters a fingerprint."""

    device: str = "cpu"
    report_to: list[str] = field(default_factory=list)  #: TRL's trackers (["wandb"] logs into the active W&B run)
    seed: int = 0  #: the supervised recipes' seed (GRPO recipes carry their own: `GRPORecipe.seed`)
    mixed_precision: bool | None = None  #: bf16 compute over fp32 weights; None = on a GPU only (on a CPU bf16 is
    #: ~15x slower)
    resume_every: int | None = None  #: save the trainer state every k steps (None: never)
    resume_key: str = ""  #: the run's fingerprint: saved state of another key is not resumed
    report: Callable[[dict], None] | None = None  #: called on the main process with each step's row (`StepReport`)
    callbacks: list = field(default_factory=list)  #: extra TrainerCallbacks (tests: a kill after a save)


@dataclass
class TrainResult:
    """What a judge training stage reports (SFT, GRPO or reward modelling)."""

    checkpoint: Path
    train_loss: float
    steps: int
    seconds: float
    log_history: list[dict]
    step_log: list[dict] = field(default_factory=list)  #: `StepReport.rows`: step, loss, reward, seconds


def is_main_process() -> bool:
    """Rank 0 of a launched process group (torchrun sets RANK), or the only process."""
    return int(os.environ.get("RANK", "0")) == 0


def sum_over_processes(*values: int) -> list[int]:
    """Counts summed over every process of a distributed run (each rank counted its own rollouts); as given in one."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return list(values)
    import torch

    t = torch.tensor(values, dtype=torch.long)
    dist.all_reduce(t)
    return t.tolist()


def runtime_args(rt: Runtime) -> dict:
    """TrainingArguments for where and how a recipe runs: the device, mixed precision (bf16 autocast over fp32
    weights: GPU default), no activation checkpointing, logging every step, the trainer-state saves for resuming."""
    on_cpu = rt.device == "cpu"
    saves = (dict(save_strategy="steps", save_steps=rt.resume_every, save_total_limit=1) if rt.resume_every
             else dict(save_strategy="no"))
    return dict(
        use_cpu=on_cpu,
        bf16=(not on_cpu) if rt.mixed_precision is None else rt.mixed_precision,
        activation_checkpointing=False,
        report_to=rt.report_to,
        logging_steps=1,
        disable_tqdm=False,
        dataloader_num_workers=0,
        **saves,
    )


def load_for_training(auto_class, path: Path, **kwargs):
    """A model to train, in fp32 whatever its checkpoint's dtype: the master weights the optimizer updates.

    Call it after the TrainingArguments exist: under DeepSpeed ZeRO-3 they make `from_pretrained` partition the
    weights as they load, instead of every process holding the whole model."""
    import torch

    project_only_labelled_positions()
    return auto_class.from_pretrained(path, dtype=torch.float32, **kwargs)


#: the fused LM head projects only labelled positions on a CPU (False: TRL's own choice, every position; benchmarks)
COMPACT_LM_HEAD_ON_CPU = True


def project_only_labelled_positions() -> None:
    """Make TRL's fused LM head skip unlabelled positions on a CPU, as it does under Triton (module docstring).

    It projected every position of a judge SFT batch and took ~45% of the step (py-spy, docs/results.md "the loss's LM
    head only at labelled positions"). Only the fused head's choice is patched (`trl.trainer.utils._use_triton`); the
    kernel keeps its own check, so a CPU still runs the CPU tiles. Idempotent."""
    import trl.trainer.utils as trl_utils
    from trl.kernels.chunked_logprob import _use_triton

    if getattr(trl_utils._use_triton, "judge_pipeline", False):
        return

    def compact_on_cpu(device) -> bool:
        return (COMPACT_LM_HEAD_ON_CPU and device.type == "cpu") or _use_triton(device)

    compact_on_cpu.judge_pipeline = True
    trl_utils._use_triton = compact_on_cpu


def batch_split(batch: int, micro: int | None, multiple_of: int = 1) -> dict:
    """Trainer arguments that make ``batch`` examples per optimisation step out of ``micro``-sized forward/backward
    passes on each of $WORLD_SIZE processes (set by torchrun / accelerate; 1 on a single device), by gradient
    accumulation. ``micro`` None = the whole share of each process at once."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    per_device = micro or max(1, batch // world)
    if batch % (per_device * world) or per_device % multiple_of:
        raise ValueError(f"a batch of {batch} does not split into micro-batches of {per_device} on {world} processes"
                         + (f" (micro-batches must hold a multiple of {multiple_of})" if multiple_of > 1 else ""))
    return {"per_device_train_batch_size": per_device, "gradient_accumulation_steps": batch // (per_device * world)}


def supervised_args(cfg, output_dir: Path, rt: Runtime) -> dict:
    """Trainer arguments shared by the judge's supervised recipes (SFT, reward model), from a JudgeTrainConfig."""
    return dict(
        output_dir=str(output_dir.with_name(output_dir.name + ".trainer")),
        learning_rate=cfg.learning_rate,
        num_train_epochs=cfg.epochs,
        **batch_split(cfg.batch_size, cfg.micro_batch_size),
        lr_scheduler_type="linear",
        warmup_steps=cfg.warmup_ratio,
        max_length=cfg.max_length,
        seed=rt.seed,
        **runtime_args(rt),
    )


class StepReport(TrainerCallback):
    """One row per optimisation step (step, loss, mean reward for GRPO, wall seconds of the step), kept in ``rows``
    and passed to ``report`` as it happens, on the main process only."""

    def __init__(self, report: Callable[[dict], None] | None = None):
        self.report, self.rows, self._t = report, [], None

    def on_step_begin(self, args, state, control, **kwargs):
        if self._t is None:
            self._t = time.perf_counter()

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if not state.is_world_process_zero or "loss" not in logs or self._t is None:
            return
        now = time.perf_counter()
        row = {"step": int(state.global_step), "loss": float(logs["loss"]),
               "reward": float(logs["reward"]) if "reward" in logs else None, "seconds": round(now - self._t, 3)}
        self._t = now
        self.rows.append(row)
        if self.report is not None:
            self.report(row)


def resume_point(trainer, key: str) -> str | None:
    """The last complete trainer state saved in ``trainer``'s output folder for ``key`` (None: start afresh).

    The main process deletes state saved for another key (or none) first; every process then reads the folder."""
    out = Path(trainer.args.output_dir)
    acc = trainer.accelerator
    if acc.is_main_process:
        marker = out / RESUME_KEY_FILE
        if not marker.is_file() or marker.read_text() != key:
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            marker.write_text(key)
    acc.wait_for_everyone()
    done = [p for p in out.glob("checkpoint-*") if (p / TRAINER_STATE).is_file()]
    return str(max(done, key=lambda p: int(p.name.rsplit("-", 1)[1]))) if done else None


@dataclass
class Session:
    """One `run_trainer` call: TRL's output, its wall seconds, its per-step rows, and the run's mean training loss
    (a resumed run's taken from the logged steps of every session, not only this one's)."""

    output: object
    seconds: float
    rows: list[dict]
    train_loss: float


def run_trainer(trainer, rt: Runtime) -> Session:
    """Train (from the last state saved for this run, if any). The trainer-state folder is left in place:
    `drop_trainer_state` once the result is saved."""
    steps = StepReport(rt.report)
    for cb in [steps, *rt.callbacks]:
        trainer.add_callback(cb)
    start = resume_point(trainer, rt.resume_key) if rt.resume_every else None
    t0 = time.perf_counter()
    out = trainer.train(resume_from_checkpoint=start)
    seconds = time.perf_counter() - t0
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    loss = float(out.training_loss) if start is None or not losses else sum(losses) / len(losses)
    return Session(out, seconds, steps.rows, loss)


def drop_trainer_state(trainer) -> None:
    """Delete the trainer's saved state (optimizer included: twice the trainable weights) once the run is saved."""
    trainer.accelerator.wait_for_everyone()
    if trainer.accelerator.is_main_process:
        shutil.rmtree(trainer.args.output_dir, ignore_errors=True)


def train_and_save(trainer, tokenizer, output_dir: Path, rt: Runtime) -> TrainResult:
    """Train, then save the model atomically at ``output_dir``; the run's loss, steps and wall time."""
    run = run_trainer(trainer, rt)
    save_checkpoint(trainer, tokenizer, output_dir)
    drop_trainer_state(trainer)
    return TrainResult(output_dir, run.train_loss, int(run.output.global_step), run.seconds, trainer.state.log_history,
                       run.rows)


def save_checkpoint(trainer, tokenizer, target: Path, training_args: bool = True) -> Path:
    """Save the trainer's model + tokenizer to ``target`` atomically. Every process calls it: under FSDP / ZeRO-3
    `Trainer.save_model` gathers the shards; only the main process writes and renames. ``training_args=False``
    leaves out the pickled TrainingArguments (policy step folders hold the model and tokenizer only)."""
    acc = trainer.accelerator
    main = acc.is_main_process
    # the other processes only join the gathers; they never write (the path is the one the main process writes)
    with atomic_folder(target) if main else contextlib.nullcontext(target.with_name(target.name + ".partial")) as tmp:
        trainer.save_model(str(tmp))
        if main:
            tokenizer.save_pretrained(str(tmp))
            if not training_args:
                (tmp / "training_args.bin").unlink(missing_ok=True)
    acc.wait_for_everyone()
    return target


def train_only_top_layers(model, n: int | None) -> int:
    """Freeze everything but the top ``n`` decoder layers and the final norm; returns trainable parameters.

    On a CPU this roughly halves a training step (no backward pass through the frozen bottom).
    ``None`` trains everything (the paper's setting). Embeddings (tied to the LM head) stay frozen.
    """
    if n is None:
        return sum(p.numel() for p in model.parameters() if p.requires_grad)
    layers = model.model.layers
    for p in model.parameters():
        p.requires_grad = False
    for layer in layers[max(0, len(layers) - n):]:
        for p in layer.parameters():
            p.requires_grad = True
    for p in model.model.norm.parameters():
        p.requires_grad = True
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
