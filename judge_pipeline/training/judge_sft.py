"""Judge SFT (TRL SFTTrainer): teach a model to answer a judge prompt with the gold verdict.

The examples (`training/judge_data.py::sft_examples`) are conversational prompt/completion pairs, so
the loss covers only the answer: the score, the label, or the gold trace plus the verdict.
"""

from __future__ import annotations

from pathlib import Path

from judge_pipeline.config import JudgeTrainConfig
from judge_pipeline.training.common import (
    Runtime, TrainResult, load_for_training, supervised_args, train_and_save, train_only_top_layers,
)


def train_judge_sft(
    base_model: Path, examples: list[dict], cfg: JudgeTrainConfig, output_dir: Path, rt: Runtime | None = None,
) -> TrainResult:
    """Fine-tune ``base_model`` on ``examples`` and save a plain HF checkpoint at ``output_dir``."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    if not examples:
        raise ValueError(f"no training examples for judge {cfg.variant!r} SFT")
    rt = rt or Runtime()
    args = SFTConfig(**supervised_args(cfg, output_dir, rt))
    tok = AutoTokenizer.from_pretrained(base_model)
    model = load_for_training(AutoModelForCausalLM, base_model)
    train_only_top_layers(model, cfg.train_top_layers)
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(examples),
                         processing_class=tok)
    return train_and_save(trainer, tok, output_dir, rt)
