"""Choosing a judge's SFT epoch on judge-val (STUDY stage 2: "1-3 epochs chosen on validation").

`ValEpochSelector` is a TrainerCallback: at the end of every epoch it scores the judge-val responses with the
weights as they are (the same `PointwiseLLMJudge` code that judges later: the expected score, after the trace
for a reasoning judge), computes the validation score, and keeps a copy of the trainable weights of the best
epoch so far; at the end of training it puts those weights back, so the checkpoint saved is the chosen epoch's.

Validation score: Krippendorff's interval alpha of the expected score vs gold over the valid verdicts, minus the
share of invalid verdicts (a reasoning judge whose traces never reach "Score: N" loses a point per 100%). Ties go
to the earlier epoch. The epochs are those of one run with one learning-rate schedule over ``epochs`` (not
separate runs of 1, 2, 3 epochs). Supported: pointwise judges without a rubric, trained in one process (the
miniature; an FSDP-sharded model would have to be gathered first: not built).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from transformers import TrainerCallback

from judge_pipeline.config import JudgeTrainConfig
from judge_pipeline.metrics.agreement import krippendorff_alpha_interval


def val_metrics(expected: list[float | None], gold: list[float]) -> dict:
    """``val_alpha`` (of the valid expected scores vs gold; None when undefined, e.g. constant scores), ``val_invalid``
    (the share without an expected score) and ``val_score`` = alpha (0 when undefined) minus the invalid share."""
    alpha = krippendorff_alpha_interval(expected, gold)
    invalid = sum(e is None for e in expected) / max(1, len(expected))
    return {"val_alpha": None if math.isnan(alpha) else round(alpha, 4), "val_invalid": invalid,
            "val_score": (0.0 if math.isnan(alpha) else alpha) - invalid}


def val_score(expected: list[float | None], gold: list[float]) -> float:
    """The selection score of `val_metrics`."""
    return val_metrics(expected, gold)["val_score"]


class ValEpochSelector(TrainerCallback):
    """Score judge-val after each epoch; restore the best epoch's trainable weights when training ends.

    ``val``: rows ``{"prompt", "response", "gold_score"}``; ``base_model``: the folder training started from (its
    tokenizer and files name the in-training judge; the weights scored are the live model's)."""

    def __init__(self, val: list[dict], cfg: JudgeTrainConfig, base_model: Path, tokenizer, device: str = "cpu"):
        if not val:
            raise ValueError(f"judge {cfg.variant!r}: select_epoch_on_val needs judge-val rows, got none")
        self.val, self.cfg, self.base_model, self.tokenizer, self.device = val, cfg, base_model, tokenizer, device
        self.history: list[dict] = []  #: one row per epoch: epoch, val_alpha, val_invalid, val_score
        self.best: tuple[float, int, dict[str, torch.Tensor]] | None = None  #: (score, epoch, trainable weights)

    def score(self, model) -> dict:
        from judge_pipeline.backends.transformers_backend import TransformersBackend
        from judge_pipeline.judging.pointwise_judge import PointwiseLLMJudge

        cfg = self.cfg
        judge = PointwiseLLMJudge(self.base_model, name=f"{cfg.variant}-val", template_version=cfg.template,
                                  reasoning=cfg.reasoning, max_new_tokens=cfg.max_new_tokens,
                                  device=self.device, **({"max_length": cfg.context_length} if cfg.context_length else {}),
                                  backend=TransformersBackend(self.base_model, self.device, model=model, tokenizer=self.tokenizer))
        was_training = model.training
        model.eval()
        try:
            verdicts = judge.judge([(r["prompt"], r["response"]) for r in self.val])
        finally:
            model.train(was_training)
        return val_metrics([v.expected_score for v in verdicts], [float(r["gold_score"]) for r in self.val])

    def on_train_begin(self, args, state, control, **kwargs):
        if torch.distributed.is_available() and torch.distributed.is_initialized() and torch.distributed.get_world_size() > 1:
            raise RuntimeError(f"judge {self.cfg.variant!r}: select_epoch_on_val runs in one process only (the model of a "
                               f"multi-process run is sharded); train it in one process or set select_epoch_on_val=False")
        return control

    def on_epoch_end(self, args, state, control, model=None, **kwargs):
        epoch = len(self.history) + 1
        row = {"epoch": epoch, **self.score(model)}
        self.history.append(row)
        if self.best is None or row["val_score"] > self.best[0]:
            weights = {k: p.detach().clone() for k, p in model.named_parameters() if p.requires_grad}
            self.best = (row["val_score"], epoch, weights)
        return control

    def on_train_end(self, args, state, control, model=None, **kwargs):
        if self.best is not None and self.best[1] != len(self.history):
            params = dict(model.named_parameters())
            with torch.no_grad():
                for k, w in self.best[2].items():
                    params[k].copy_(w)
        return control

    @property
    def chosen_epoch(self) -> int | None:
        return self.best[1] if self.best else None
