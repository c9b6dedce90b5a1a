"""The LLM pointwise judge on a tiny random model: expected score read at the right position."""

import pytest
import torch

from judge_pipeline.backends.hf_models import load_model_and_tokenizer, materialize_base_model
from judge_pipeline.config import ModelSpec
from judge_pipeline.judging.pointwise_judge import PointwiseLLMJudge, score_token_ids

TINY = ModelSpec(name="tiny-random-test", source="tiny-random")


@pytest.fixture(scope="module")
def tiny_path():
    return materialize_base_model(TINY)


def test_expected_score_matches_a_direct_forward_pass(tiny_path):
    judge = PointwiseLLMJudge(tiny_path, name="tiny")
    items = [("Write a haiku about rain.", "Rain taps the window."), ("Say hi.", "Hi! " * 30)]
    verdicts = judge.judge(items)
    model, tok = load_model_and_tokenizer(tiny_path)
    ids = score_token_ids(tok)
    for (prompt, response), v in zip(items, verdicts):
        text = judge.prompt_text(prompt, response)
        enc = tok(text, return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            probs = torch.softmax(model(**enc).logits[0, -1].float(), -1)
        p = probs[ids]
        expected = float((torch.arange(10) * p).sum() / p.sum())
        assert v.expected_score == pytest.approx(expected, abs=1e-4)  # left padding must not shift the read position
        assert v.mass_outside == pytest.approx(1 - float(p.sum()), abs=1e-5)
        assert sum(v.score_probs) == pytest.approx(1.0)
        assert (v.score is None) == (v.invalid_reason is not None)


def test_fingerprint_follows_weights_and_template(tiny_path):
    a = PointwiseLLMJudge(tiny_path, name="tiny")
    b = PointwiseLLMJudge(tiny_path, name="tiny", template_version="pointwise_compact_v1")
    assert a.fingerprint != b.fingerprint
    assert a.fingerprint == PointwiseLLMJudge(tiny_path, name="tiny").fingerprint


def test_expected_score_from_known_logits(tiny_path):
    """Zero the final norm (hidden state 0) and give the LM head a bias: the logits are exactly the bias, so the
    expected score and the mass outside the ten score tokens are known in closed form."""
    from judge_pipeline.backends.transformers_backend import TransformersBackend

    model, tok = load_model_and_tokenizer(tiny_path)
    ids = score_token_ids(tok)
    vocab = model.config.vocab_size
    with torch.no_grad():
        model.model.norm.weight.zero_()
        head = torch.nn.Linear(model.config.hidden_size, vocab, bias=True)
        head.weight.zero_()
        head.bias.fill_(-30.0)  # every other token ~ 0
        logits = torch.tensor([0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 3.0, 0.0, 0.0])
        head.bias[ids] = logits
        head.bias[tok.eos_token_id] = 2.0  # some mass outside the score tokens
        model.lm_head = head
    judge = PointwiseLLMJudge(tiny_path, name="known", backend=TransformersBackend(tiny_path, model=model, tokenizer=tok))
    [v] = judge.judge([("Rate this.", "A response.")])
    z = torch.exp(logits).sum() + torch.exp(torch.tensor(2.0)) + (vocab - 11) * torch.exp(torch.tensor(-30.0))
    p = torch.exp(logits) / z
    assert v.expected_score == pytest.approx(float((torch.arange(10) * p).sum() / p.sum()), abs=1e-5)
    assert v.mass_outside == pytest.approx(float(1 - p.sum()), abs=1e-5)
    assert v.score == 7 and v.raw_output == "7"  # greedy token = the largest logit


def test_an_overlong_response_is_cut_not_the_instructions(tiny_path):
    from judge_pipeline.backends.transformers_backend import TRUNCATION_MARKER
    from judge_pipeline.judging.pairwise_judge import PairwiseLLMJudge

    judge = PointwiseLLMJudge(tiny_path, name="tiny", template_version="pointwise_compact_v1", max_length=300)
    tok = judge._backend().tokenizer
    long = "Opening words stay. " + "filler " * 2000
    short_text = judge.prompt_text("Say hi.", "Hi!")
    text = judge.prompt_text("Say hi.", long)
    assert len(tok(text, add_special_tokens=False)["input_ids"]) <= 300
    assert "Opening words stay." in text and TRUNCATION_MARKER.strip() in text
    # everything after the response's closing fence (the score question, the assistant turn) is intact
    def tail(t):
        return t.rsplit("END-RESPONSE-", 1)[1].split(">>>", 1)[1]
    assert tail(text) == tail(short_text) and "Answer with ONLY the score" in tail(text)
    assert judge.prompt_text("Say hi.", "Hi!") == short_text  # a response that fits is untouched
    pair = PairwiseLLMJudge(tiny_path, name="tiny-pair", template_version="pairwise_compact_v1", max_length=400)
    v = pair.judge([("Say hi.", long, "Hello " * 1500)])[0]
    assert v.prompt_tokens <= 400


def test_a_reasoning_judge_samples_its_trace_only_as_a_policy_reward(tiny_path):
    import dataclasses

    from judge_pipeline.config import JudgeTrainConfig, PolicyTrainConfig
    from judge_pipeline.studies import miniature
    from judge_pipeline.judging.builders import build_training_judge

    cfg = dataclasses.replace(miniature(), judges=(JudgeTrainConfig(variant="r", reasoning=True, max_new_tokens=6),),
                              policy=PolicyTrainConfig(judge_temperature=0.7, judge_top_k=20, judge_top_p=0.95))
    report = build_training_judge(cfg, "r", tiny_path)
    reward = build_training_judge(cfg, "r", tiny_path, as_reward=True)
    assert report.decoding["mode"].startswith("greedy") and report.temperature == 0
    assert reward.decoding["mode"].startswith("sampled") and (reward.top_k, reward.top_p) == (20, 0.95)
    v = reward.judge([("Say hi.", "Hi!")])[0]
    assert v.output_tokens <= 6
