"""Global batch vs micro-batches: gradient accumulation, processes, errors; micro-batches do not retrain a judge."""

import dataclasses
from pathlib import Path

import pytest

from judge_pipeline.config import JudgeGRPOConfig, JudgeTrainConfig
from judge_pipeline.studies import paper_judges
from judge_pipeline.training.common import batch_split


def test_batch_split(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert batch_split(8, None) == {"per_device_train_batch_size": 8, "gradient_accumulation_steps": 1}
    assert batch_split(128, 2) == {"per_device_train_batch_size": 2, "gradient_accumulation_steps": 64}
    monkeypatch.setenv("WORLD_SIZE", "8")
    assert batch_split(512, 8) == {"per_device_train_batch_size": 8, "gradient_accumulation_steps": 8}
    assert batch_split(128, None) == {"per_device_train_batch_size": 16, "gradient_accumulation_steps": 1}
    with pytest.raises(ValueError, match="does not split"):
        batch_split(100, 8)


def test_paper_judges_fit_a_device():
    for j in paper_judges():
        assert j.micro_batch_size is not None and j.micro_batch_size <= 8, j.variant
        assert j.batch_size % j.micro_batch_size == 0


def test_micro_batches_do_not_change_the_training_fingerprint(monkeypatch):
    from judge_pipeline.assets import judges

    monkeypatch.setattr(judges, "checkpoint_hash", lambda base: "weights")
    rows = [{"pair_id": "p", "position": "a", "prompt": "Say hi.", "response": "Hi", "gold_score": 5.0, "gold_trace": "t",
             "pair_label": None}]
    j = JudgeTrainConfig(grpo=JudgeGRPOConfig(steps=1))

    def fingerprint(jcfg):
        return judges._training_fingerprint(Path("base"), jcfg, judges.variant_examples(jcfg, rows))

    micro = dataclasses.replace(j, micro_batch_size=2, grpo=dataclasses.replace(j.grpo, micro_batch_size=4))
    assert fingerprint(micro) == fingerprint(j)
    assert fingerprint(dataclasses.replace(j, batch_size=4)) != fingerprint(j)
