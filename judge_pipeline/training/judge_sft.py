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
    val: list[dict] | None = None,
) -> tuple[TrainResult, list[dict]]:
    """Fine-tune ``base_model`` on ``examples`` and save a plain HF checkpoint at ``output_dir``. With
    ``cfg.select_epoch_on_val``, the epoch saved is the one that scored best on ``val`` (judge-val rows:
    `epoch_selection.py`); also returns the per-epoch validation rows (empty without it)."""
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
    selector = None
    if cfg.select_epoch_on_val:
        from judge_pipeline.training.epoch_selection import ValEpochSelector
        selector = ValEpochSelector(val or [], cfg, Path(base_model), tok, rt.device)
        trainer.add_callback(selector)
    res = train_and_save(trainer, tok, output_dir, rt)
    history = [{**row, "chosen": row["epoch"] == selector.chosen_epoch} for row in selector.history] if selector else []
    return res, history
