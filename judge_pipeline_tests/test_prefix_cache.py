"""The shared-prefix fast path (the tokens every judge prompt of a batch shares run once, their KV cache reused across
calls) gives the verdicts of the original path and of the fast path without it, and changes no store key."""

import pytest
import torch

from judge_pipeline.backends.hf_models import materialize_base_model
from judge_pipeline.config import SMOLLM2
from judge_pipeline.judging.cached import judgment_key
from judge_pipeline.judging.pointwise_judge import PointwiseLLMJudge
from judge_pipeline_tests.test_fast_scoring import ITEMS as FAST_ITEMS, TINY

#: judge prompts of very different lengths (a few tokens of response to a few hundred)
ITEMS = [*FAST_ITEMS, ("Say hi.", "Hello there! " * 40)]


def verdicts(judge: PointwiseLLMJudge, items, fast: bool, prefix: bool):
    backend = judge._backend()
    backend.fast_scoring, backend.prefix_caching = fast, prefix
    try:
        return judge.judge(items)
    finally:
        backend.fast_scoring, backend.prefix_caching = True, True


def assert_close(a, b) -> None:
    for s, f in zip(a, b, strict=True):
        assert f.raw_output == s.raw_output and f.score == s.score and f.invalid_reason == s.invalid_reason
        assert f.prompt_tokens == s.prompt_tokens
        assert f.score_probs == pytest.approx(s.score_probs, abs=1e-5)
        assert f.mass_outside == pytest.approx(s.mass_outside, abs=1e-5)
        assert f.expected_score == pytest.approx(s.expected_score, rel=1e-5, abs=1e-5)


def assert_prefix_path_matches(judge: PointwiseLLMJudge, items, batch_size: int, thorough: bool = True) -> None:
    """``thorough``: also against the fast path without the prefix cache, and a second call served from the cache."""
    judge.batch_size = batch_size
    backend = judge._backend()
    backend.prefix_cache.clear()
    keys = [judgment_key(judge, it) for it in items]
    fingerprint, decoding = judge.fingerprint, dict(judge.decoding)
    original = verdicts(judge, items, fast=False, prefix=False)
    if thorough:
        assert_close(original, verdicts(judge, items, fast=True, prefix=False))
    assert backend.prefix_cache.tokens_run == 0  # no prefix run so far
    shared = verdicts(judge, items, fast=True, prefix=True)
    assert backend.prefix_cache.entries and backend.prefix_cache.tokens_run > 0  # the prefix path ran
    assert_close(original, shared)
    if thorough:
        run = backend.prefix_cache.tokens_run
        assert_close(original, verdicts(judge, items, fast=True, prefix=True))  # from the cache kept across calls
        assert backend.prefix_cache.tokens_run == run
    # a speed-up is not another judge: same fingerprint, same decoding, same store keys
    assert judge.fingerprint == fingerprint and judge.decoding == decoding
    assert [judgment_key(judge, it) for it in items] == keys
    # each cached prefix is a *token* prefix of every prompt's own tokenisation
    tok = backend.tokenizer
    full = [tok(judge.prompt_text(p, r), add_special_tokens=False)["input_ids"] for p, r in items]
    for key in backend.prefix_cache.entries:
        assert all(tuple(ids[: len(key)]) == key for ids in full)


@pytest.fixture(scope="module")
def tiny_judge():
    return PointwiseLLMJudge(materialize_base_model(TINY), name="tiny", template_version="pointwise_compact_v1")


@pytest.mark.parametrize("batch_size", [2, 8])
def test_prefix_path_matches_on_a_tiny_model(tiny_judge, batch_size):
    assert_prefix_path_matches(tiny_judge, ITEMS, batch_size)


def test_batch_of_one_reuses_the_cached_prefix(tiny_judge):
    backend = tiny_judge._backend()
    backend.prefix_cache.clear()
    alone = verdicts(tiny_judge, ITEMS[:1], fast=True, prefix=True)
    assert backend.prefix_cache.tokens_run == 0  # nothing cached yet, and one prompt shares nothing worth running
    verdicts(tiny_judge, ITEMS, fast=True, prefix=True)  # fills the cache with the template's prefix
    run = backend.prefix_cache.tokens_run
    cached = verdicts(tiny_judge, ITEMS[:1], fast=True, prefix=True)
    assert backend.prefix_cache.tokens_run == run  # reused, not recomputed
    assert_close(verdicts(tiny_judge, ITEMS[:1], fast=False, prefix=False), cached)
    assert_close(alone, cached)


def test_batch_with_no_shared_prefix(tiny_judge):
    """Texts that share no tokens (or too few) take the plain path and give its numbers."""
    backend = tiny_judge._backend()
    backend.prefix_cache.clear()
    texts = ["The cat sat on the mat, and then it slept for a while.", "Quantum fields are everywhere.",
             "1 2 3 4 5 6 7 8 9 10 11 12"]
    ids = tiny_judge._score_ids
    plain = backend.next_token_distribution(texts, ids, batch_size=8, fast=False)
    shared = backend.next_token_distribution(texts, ids, batch_size=8)
    assert backend.prefix_cache.tokens_run == 0 and not backend.prefix_cache.entries
    for a, b in zip(plain, shared, strict=True):
        assert b.probs == pytest.approx(a.probs, abs=1e-5) and a.prompt_tokens == b.prompt_tokens


def test_prefix_is_a_token_prefix_not_a_text_prefix(tiny_judge):
    """Texts sharing a long *text* prefix whose next characters merge into different tokens at the boundary: the
    shared part is taken from each text's own tokenisation, and the numbers are those of the plain path."""
    backend = tiny_judge._backend()
    backend.prefix_cache.clear()
    tok = backend.tokenizer
    head = "A long shared instruction about judging outputs carefully and fairly, word for word the same. " * 3
    texts = [head + "unbelievable", head + "unbe", head + "un believable", head + "understood"]
    ids = tiny_judge._score_ids
    plain = backend.next_token_distribution(texts, ids, batch_size=8, fast=False)
    shared = backend.next_token_distribution(texts, ids, batch_size=8)
    assert backend.prefix_cache.tokens_run > 0
    full = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    [key] = backend.prefix_cache.entries
    assert all(tuple(f[: len(key)]) == key for f in full)
    for a, b in zip(plain, shared, strict=True):
        assert b.probs == pytest.approx(a.probs, abs=1e-5) and a.prompt_tokens == b.prompt_tokens


def test_cache_dropped_when_weights_change(tiny_judge):
    """A prefix computed with old weights is never reused after an in-place update (an optimizer step)."""
    backend = tiny_judge._backend()
    verdicts(tiny_judge, ITEMS, fast=True, prefix=True)
    assert backend.prefix_cache.entries
    layer = backend.model.model.layers[0].self_attn.k_proj.weight
    saved = layer.detach().clone()
    try:
        with torch.no_grad():
            layer.mul_(1.5)
        assert_close(verdicts(tiny_judge, ITEMS, fast=False, prefix=False),
                     verdicts(tiny_judge, ITEMS, fast=True, prefix=True))
    finally:
        with torch.no_grad():
            layer.copy_(saved)
    assert_close(verdicts(tiny_judge, ITEMS, fast=False, prefix=False),
                 verdicts(tiny_judge, ITEMS, fast=True, prefix=True))


@pytest.mark.slow
def test_prefix_path_matches_with_smollm2():
    """The shipped SmolLM2 base as an (untrained) judge with the miniature's template: 6 prompts of 203 to 318 tokens
    in batches of 3 (two batches, the second's prefix from the first's cache), then one item alone through the cached
    prefix. (test_fast_scoring's SmolLM2 test runs the default fast path, prefix included, on pointwise_v1.)"""
    judge = PointwiseLLMJudge(materialize_base_model(SMOLLM2), name="base", template_version="pointwise_compact_v1")
    assert_prefix_path_matches(judge, ITEMS, batch_size=3, thorough=False)
    one = ITEMS[3:4]
    run = judge._backend().prefix_cache.tokens_run
    assert_close(verdicts(judge, one, fast=False, prefix=False), verdicts(judge, one, fast=True, prefix=True))
    assert judge._backend().prefix_cache.tokens_run == run  # served from the cache


def _reasoning_verdicts(judge: PointwiseLLMJudge, items, monkeypatch, while_generating: bool):
    """Verdicts of ``judge`` (reasoning) with the "score" read 4 characters before the trace's end: an untrained model
    writes no "Score: N", so the parser is told the digit sits there (the distribution is still the model's own)."""
    from judge_pipeline.judging import pointwise_judge

    monkeypatch.setattr(pointwise_judge, "parse_score", lambda text: (5, None) if len(text) > 4 else (None, "no score"))
    monkeypatch.setattr(pointwise_judge, "score_prefix", lambda text: text[:-4] if len(text) > 4 else None)
    read = PointwiseLLMJudge._read_while_generating
    used = []

    def spy(backend, prompt, text, c):
        probs = read(backend, prompt, text, c) if while_generating else None
        used.append(probs is not None)
        return probs

    monkeypatch.setattr(PointwiseLLMJudge, "_read_while_generating", staticmethod(spy))
    try:
        return judge.judge(items), used
    finally:
        monkeypatch.undo()


@pytest.mark.slow
def test_reasoning_score_read_while_generating_matches_a_reread(monkeypatch):
    """A reasoning judge's score distribution taken from the generation's own step (no second pass over prompt and
    trace) equals the re-read of prompt + trace: SmolLM2 base, greedy 12-token traces, batches of 3."""
    judge = PointwiseLLMJudge(materialize_base_model(SMOLLM2), name="base", template_version="pointwise_reasoning_compact_v1",
                              reasoning=True, max_new_tokens=12, batch_size=3)
    items = ITEMS[:6]
    fast, used = _reasoning_verdicts(judge, items, monkeypatch, while_generating=True)
    slow, _ = _reasoning_verdicts(judge, items, monkeypatch, while_generating=False)
    assert sum(used) >= 4  # most traces re-tokenise to the generated ids: read while generating
    assert [v.score_probs is not None for v in fast] == [v.score_probs is not None for v in slow]
    assert all(v.score_probs is not None for v in fast)
    assert_close(slow, fast)
