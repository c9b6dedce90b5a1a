"""The judge's fast scoring path (length-sorted batches, last-position logits) gives the verdicts of the original
path (batches in item order, logits at every position), and a judge's identity does not depend on which is used."""

import pytest

from judge_pipeline.backends.hf_models import materialize_base_model
from judge_pipeline.config import SMOLLM2, ModelSpec
from judge_pipeline.judging.cached import judgment_key
from judge_pipeline.judging.pointwise_judge import PointwiseLLMJudge

TINY = ModelSpec(name="tiny-random-test", source="tiny-random")

#: responses of very different lengths, so sorting reorders items across batches (batch size 2 below)
ITEMS = [
    ("Write a haiku about rain.", "Rain taps the window.\nSoft grey hours pass slowly by.\nPuddles hold the sky." * 3),
    ("Say hi.", "Hi!"),
    ("List three colours, comma separated.", "red, green, blue"),
    ("Explain photosynthesis in one paragraph.", "Plants turn light, water and carbon dioxide into sugar. " * 6),
    ("Answer in all capital letters: what is 2+2?", "FOUR"),
]


def assert_same_verdicts(judge: PointwiseLLMJudge, items, batch_size: int = 2) -> None:
    judge.batch_size = batch_size
    backend = judge._backend()
    keys = [judgment_key(judge, it) for it in items]
    backend.fast_scoring = False
    slow = judge.judge(items)
    backend.fast_scoring = True
    fast = judge.judge(items)
    assert [judgment_key(judge, it) for it in items] == keys  # a speed-up is not another judge
    for s, f in zip(slow, fast):
        assert f.raw_output == s.raw_output and f.score == s.score and f.invalid_reason == s.invalid_reason
        assert f.prompt_tokens == s.prompt_tokens
        if s.expected_score is None:  # a reasoning trace without a score: nothing read
            assert f.expected_score is None and f.score_probs is None
            continue
        assert f.score_probs == pytest.approx(s.score_probs, abs=1e-5)
        assert f.mass_outside == pytest.approx(s.mass_outside, abs=1e-5)
        # relative: an untrained judge puts 1-10% of its mass on the score tokens, so renormalising scales float32
        # noise up; the original path itself moves by 3e-5 between batch sizes 2 and 8 on these items
        assert f.expected_score == pytest.approx(s.expected_score, rel=1e-5, abs=1e-5)


def test_fast_scoring_matches_full_logits_on_a_tiny_model():
    judge = PointwiseLLMJudge(materialize_base_model(TINY), name="tiny")
    assert_same_verdicts(judge, ITEMS)


def test_fast_scoring_restores_item_order():
    """Each verdict is its own item's, whatever order the batches were computed in (and a duplicate item gets
    the same verdict wherever it is)."""
    judge = PointwiseLLMJudge(materialize_base_model(TINY), name="tiny", batch_size=2)
    items = ITEMS + ITEMS[:1]
    together = judge.judge(items)
    alone = [judge.judge([it])[0] for it in items]
    for t, a in zip(together, alone):
        assert t.expected_score == pytest.approx(a.expected_score, abs=1e-5)
        assert t.prompt_tokens == a.prompt_tokens


@pytest.mark.slow
def test_fast_scoring_matches_full_logits_with_smollm2():
    """The shipped SmolLM2 base as an (untrained) judge. (A reasoning judge re-reads its score through the same
    call, after its trace.)"""
    assert_same_verdicts(PointwiseLLMJudge(materialize_base_model(SMOLLM2), name="base"), ITEMS)
