"""Judge SFT (TRL SFTTrainer): teach a model to answer a judge prompt with the gold verdict.

The examples (`training/judge_data.py::sft_examples`) are conversational prompt/completion pairs, so
the loss covers only the answer: the score, the label, or the gold trace plus the verdict.
"""

from __future__ import annotations

from pathlib import Path

from judge_pipeline.config import JudgeTrainConfig
from judge_pipeline.training.common import TrainResult, cpu_safe_args, save_atomically, train_only_top_layers


def train_judge_sft(
    base_model: Path, examples: list[dict], cfg: JudgeTrainConfig, output_dir: Path, device: str = "cpu",
    report_to: list[str] | None = None, seed: int = 0,
) -> TrainResult:
    """Fine-tune ``base_model`` on ``examples`` and save a plain HF checkpoint at ``output_dir``."""
    import time

    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    if not examples:
        raise ValueError(f"no training examples for judge {cfg.variant!r} SFT")
    tok = AutoTokenizer.from_pretrained(base_model)
    model = AutoModelForCausalLM.from_pretrained(base_model)
    train_only_top_layers(model, cfg.train_top_layers)
    args = SFTConfig(
        output_dir=str(output_dir.with_name(output_dir.name + ".trainer")),
        learning_rate=cfg.learning_rate,
        num_train_epochs=cfg.epochs,
        per_device_train_batch_size=cfg.batch_size,
        lr_scheduler_type="linear",
        warmup_steps=cfg.warmup_ratio,
        max_length=cfg.max_length,
        save_strategy="no",
        seed=seed,
        **cpu_safe_args(device, report_to or []),
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(examples),
                         processing_class=tok)
    t0 = time.perf_counter()
    out = trainer.train()
    seconds = time.perf_counter() - t0
    save_atomically(trainer, tok, output_dir)
    return TrainResult(output_dir, float(out.training_loss), int(out.global_step), seconds, trainer.state.log_history)
