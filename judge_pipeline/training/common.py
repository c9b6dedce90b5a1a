"""Settings every TRL recipe here shares, and saving a checkpoint atomically."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from judge_pipeline.fsutil import atomic_folder


@dataclass
class TrainResult:
    """What a judge training stage reports (SFT, GRPO or reward modelling)."""

    checkpoint: Path
    train_loss: float
    steps: int
    seconds: float
    log_history: list[dict]


def cpu_safe_args(device: str, report_to: list[str]) -> dict:
    """TrainingArguments that matter on CPU: no bf16 (15x slower there), no activation checkpointing."""
    on_cpu = device == "cpu"
    return dict(
        use_cpu=on_cpu,
        bf16=not on_cpu,
        activation_checkpointing=False,
        report_to=report_to,
        logging_steps=1,
        disable_tqdm=False,
        dataloader_num_workers=0,
    )


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


def supervised_args(cfg, output_dir: Path, device: str, report_to: list[str] | None, seed: int) -> dict:
    """Trainer arguments shared by the judge's supervised recipes (SFT, reward model), from a JudgeTrainConfig."""
    return dict(
        output_dir=str(output_dir.with_name(output_dir.name + ".trainer")),
        learning_rate=cfg.learning_rate,
        num_train_epochs=cfg.epochs,
        **batch_split(cfg.batch_size, cfg.micro_batch_size),
        lr_scheduler_type="linear",
        warmup_steps=cfg.warmup_ratio,
        max_length=cfg.max_length,
        save_strategy="no",
        seed=seed,
        **cpu_safe_args(device, report_to or []),
    )


def train_and_save(trainer, tokenizer, output_dir: Path) -> TrainResult:
    """Train, then save the model atomically at ``output_dir``; the run's loss, steps and wall time."""
    import time

    t0 = time.perf_counter()
    out = trainer.train()
    seconds = time.perf_counter() - t0
    save_atomically(trainer, tokenizer, output_dir)
    return TrainResult(output_dir, float(out.training_loss), int(out.global_step), seconds, trainer.state.log_history)


def save_atomically(trainer, tokenizer, target: Path) -> Path:
    """Save the trainer's model + tokenizer to ``target`` atomically."""
    with atomic_folder(target) as tmp:
        trainer.save_model(str(tmp))
        tokenizer.save_pretrained(str(tmp))
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
