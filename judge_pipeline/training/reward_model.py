"""Bradley–Terry reward model (TRL RewardTrainer): the classic scalar-reward baseline of the study.

A sequence classifier with one output is trained on gold-labelled pairs (chosen = the response gold
scored higher) with the pairwise logistic loss -log σ(r_chosen - r_rejected). Saved as a plain HF
checkpoint that `judging/reward_model_judge.py` reads.
"""

from __future__ import annotations

from pathlib import Path

from judge_pipeline.config import JudgeTrainConfig
from judge_pipeline.training.common import (
    Runtime, TrainResult, load_for_training, supervised_args, train_and_save, train_only_top_layers,
)


def train_reward_model(
    base_model: Path, examples: list[dict], cfg: JudgeTrainConfig, output_dir: Path, rt: Runtime | None = None,
) -> TrainResult:
    """Train a BT reward model from ``base_model`` on chosen/rejected ``examples``; save at ``output_dir``."""
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, set_seed
    from trl import RewardConfig, RewardTrainer

    if not examples:
        raise ValueError(f"no preference pairs to train reward model {cfg.variant!r} on (all pairs tied?)")
    rt = rt or Runtime()
    args = RewardConfig(**supervised_args(cfg, output_dir, rt))
    set_seed(rt.seed)  # the value head is initialised at random
    tok = AutoTokenizer.from_pretrained(base_model)
    model = load_for_training(AutoModelForSequenceClassification, base_model, num_labels=1)
    model.config.pad_token_id = tok.pad_token_id
    train_only_top_layers(model, cfg.train_top_layers)
    for p in model.score.parameters():  # the new value head always trains
        p.requires_grad = True
    trainer = RewardTrainer(model=model, args=args, train_dataset=Dataset.from_list(examples), processing_class=tok)
    return train_and_save(trainer, tok, output_dir, rt)
