"""Settings every TRL recipe here shares, and saving a checkpoint atomically."""

from __future__ import annotations

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
