"""Judge SFT (TRL SFTTrainer): teach a model to answer a judge prompt with the gold score.

The non-reasoning judge's target is the score alone ("7"); the reasoning judge (issue 4) uses the gold
trace followed by "Score: N". Examples are conversational prompt/completion pairs, so the loss covers
only the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from judge_pipeline.config import JudgeTrainConfig
from judge_pipeline.judging.templates import render_pointwise
from judge_pipeline.training.common import cpu_safe_args, train_only_top_layers, save_atomically


@dataclass
class SFTResult:
    checkpoint: Path
    train_loss: float
    steps: int
    seconds: float
    log_history: list[dict]


def sft_examples(rows: list[dict], template_version: str) -> list[dict]:
    """rows: {prompt, response, gold_score} -> conversational prompt/completion examples."""
    return [
        {"prompt": render_pointwise(template_version, r["prompt"], r["response"]),
         "completion": [{"role": "assistant", "content": str(int(r["gold_score"]))}]}
        for r in rows
    ]


def train_judge_sft(
    base_model: Path, rows: list[dict], cfg: JudgeTrainConfig, output_dir: Path, device: str = "cpu",
    report_to: list[str] | None = None, seed: int = 0,
) -> SFTResult:
    """Fine-tune ``base_model`` on ``rows`` and save a plain HF checkpoint at ``output_dir``."""
    import time

    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    if not rows:
        raise ValueError("no training rows for judge SFT")
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
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(sft_examples(rows, cfg.template)),
                         processing_class=tok)
    t0 = time.perf_counter()
    out = trainer.train()
    seconds = time.perf_counter() - t0
    save_atomically(trainer, tok, output_dir)
    return SFTResult(output_dir, float(out.training_loss), int(out.global_step), seconds, trainer.state.log_history)
