"""Choosing a judge's SFT epoch on judge-val: the validation score, and the best epoch's weights put back."""

import math

import pytest
import torch

from judge_pipeline.config import JudgeTrainConfig
from judge_pipeline.training.epoch_selection import ValEpochSelector, val_score


def test_val_score_is_alpha_minus_the_invalid_share():
    gold = [1.0, 3.0, 5.0, 7.0]
    assert val_score([1.0, 3.0, 5.0, 7.0], gold) == pytest.approx(1.0)
    assert val_score([1.0, 3.0, 5.0, None], gold) == pytest.approx(1.0 - 0.25)  # alpha on the 3 valid ones is 1
    assert val_score([7.0, 5.0, 3.0, 1.0], gold) < 0.0 < val_score([1.0, 3.0, 6.0, 6.0], gold) < 1.0
    assert val_score([None] * 4, gold) == pytest.approx(-1.0)
    assert not math.isnan(val_score([2.0, None, None, None], gold))


class Scripted(ValEpochSelector):
    """The selector with its judge-val scores given, not computed (the scoring runs in test_judge_variants)."""

    def __init__(self, scores):
        super().__init__([{"prompt": "p", "response": "r", "gold_score": 1.0}], JudgeTrainConfig(), None, None)
        self.scores = list(scores)

    def score(self, model):
        s = self.scores.pop(0)
        return {"val_alpha": s, "val_invalid": 0.0, "val_score": s}


def _train(selector, model, epochs):
    """Each epoch moves the trainable weights to a new value; returns the weights at the end of each epoch."""
    seen = []
    for e in range(epochs):
        with torch.no_grad():
            model.weight.fill_(float(e + 1))
        seen.append(model.weight.detach().clone())
        selector.on_epoch_end(None, None, None, model=model)
    selector.on_train_end(None, None, None, model=model)
    return seen


@pytest.mark.parametrize("scores, chosen", [([0.1, 0.5, 0.3], 2), ([0.5, 0.5, 0.2], 1), ([0.1, 0.2, 0.3], 3)])
def test_the_best_epochs_weights_are_restored(scores, chosen):
    model = torch.nn.Linear(2, 2, bias=False)
    frozen = torch.nn.Linear(2, 2, bias=False).requires_grad_(False)  # a frozen weight is not copied
    model.frozen = frozen
    sel = Scripted(scores)
    seen = _train(sel, model, len(scores))
    assert sel.chosen_epoch == chosen  # ties go to the earlier epoch
    assert torch.equal(model.weight, seen[chosen - 1])
    assert [r["epoch"] for r in sel.history] == [1, 2, 3]
    assert set(sel.best[2]) == {"weight"}


def test_selection_needs_validation_rows_and_a_supported_judge():
    with pytest.raises(ValueError, match="judge-val rows"):
        ValEpochSelector([], JudgeTrainConfig(), None, None)
    with pytest.raises(ValueError, match="select_epoch_on_val"):
        JudgeTrainConfig(variant="pw", kind="pairwise", template="pairwise_compact_v1", select_epoch_on_val=True)
