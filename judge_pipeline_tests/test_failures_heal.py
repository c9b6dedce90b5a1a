"""Failures heal (issue 14, item 4): invalid gold verdicts are retried under new keys and at worst leave their pair
out; transport failures of the HTTP judge are never stored (the next run asks again); KL values are committed batch
by batch. Fast: a stub HTTP server, fake judges, fake models for the KL loop."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import polars as pl
import pytest

from judge_pipeline import schemas
from judge_pipeline.backends.openai_compat import OpenAICompatClient
from judge_pipeline.backends.openai_wire import ChatRequestError
from judge_pipeline.judging.cached import (
    JudgingFailed, RetryAttempt, attempt_judge, judge_through_store, judge_with_retries, judgment_key,
)
from judge_pipeline.judging.http_judge import HTTPJudgeConfig, HTTPPointwiseJudge
from judge_pipeline.judging.verdict import NotJudged, Verdict
from judge_pipeline.store import JudgmentStore
from judge_pipeline_tests.fakes import CountingJudge
from judge_pipeline_tests.test_http_judge import KEY_ENV, SECRET, Stub, chat_body


# ---------------------------------------------------------------------- a stub server that answers by content
class RoutedStub(Stub):
    """A local OpenAI-compatible server whose answer depends on the request: ``route(payload) -> (status, body,
    delay_s)``; body is a dict (sent as JSON) or a string (sent as is)."""

    def __init__(self, route):
        super().__init__(route=lambda payload: (*route(payload), {}))

    @property
    def payloads(self) -> list[dict]:
        return [payload for _, payload in self.requests]


@pytest.fixture
def routed(monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    made = []

    def make(route):
        made.append(RoutedStub(route))
        return made[-1]

    yield make
    for s in made:
        s.close()


def http_judge(stub, timeout_s=5.0, **cfg) -> HTTPPointwiseJudge:
    client = OpenAICompatClient(stub.url, "judge-model", api_key_env=KEY_ENV, timeout_s=timeout_s, max_retries=1,
                                backoff_s=0.01, concurrency=4)
    return HTTPPointwiseJudge(HTTPJudgeConfig(model="judge-model", base_url=stub.url, api_key_env=KEY_ENV, **cfg), client)


def user_text(payload) -> str:
    return payload["messages"][-1]["content"]


def blank_body() -> dict:
    """A 200 answer with nothing in it: no text, no reasoning, no tokens (a proxy or a crashed worker)."""
    return {"model": "stub", "choices": [{"index": 0, "message": {"role": "assistant", "content": None},
                                          "finish_reason": "stop"}], "usage": {"prompt_tokens": 9, "completion_tokens": 0}}


# ---------------------------------------------------------------------- transport failures are never verdicts
def test_transport_failures_are_not_stored_and_heal_on_the_next_run(routed, tmp_path):
    healthy = threading.Event()

    def route(payload):
        text = user_text(payload)
        if healthy.is_set() or "GOOD" in text:
            return 200, chat_body("Fine.\nScore: 7"), 0
        if "MUMBLE" in text:  # the judge's own answer, unparseable: a verdict
            return 200, chat_body("I think it is rather good."), 0
        if "FLAKY" in text:
            return 503, "busy", 0
        if "EMPTYBODY" in text:
            return 200, "", 0
        if "BLANK" in text:
            return 200, blank_body(), 0
        if "SLOW" in text:
            return 200, chat_body("Score: 1"), 1.0
        raise AssertionError(text)

    stub = routed(route)
    items = [("Say hi.", w) for w in ("GOOD", "MUMBLE", "FLAKY", "EMPTYBODY", "BLANK", "SLOW")]
    store = JudgmentStore(tmp_path / "store")
    with pytest.raises(JudgingFailed, match="could not judge 4 of 6") as err:
        judge_through_store(http_judge(stub, timeout_s=0.3), items, store, progress=False, batch_size=3)
    assert err.value.stats.computed == 2 and err.value.stats.failed == 4 and store.count_judgments() == 2
    assert SECRET not in str(err.value)
    keys = [judgment_key(http_judge(stub), it) for it in items]
    stored = store.fetch_judgments(keys)
    assert set(stored) == {keys[0], keys[1]}  # a genuine unparseable answer is stored, with its reason
    assert stored[keys[1]]["score"] is None and stored[keys[1]]["invalid_reason"]

    verdicts, _, stats = judge_through_store(http_judge(stub, timeout_s=0.3), items, store, progress=False,
                                             allow_failed=True)
    assert [v is None for v in verdicts] == [False, False, True, True, True, True]
    assert (stats.computed, stats.reused, stats.failed, stats.invalid) == (0, 2, 4, 1) and stats.failure

    healthy.set()  # the outage is over: exactly the failed items are judged, once
    verdicts, _, stats = judge_through_store(http_judge(stub), items, store, progress=False)
    assert (stats.computed, stats.reused, stats.failed) == (4, 2, 0)
    assert [v.score for v in verdicts] == [7.0, None, 7.0, 7.0, 7.0, 7.0]
    assert judge_through_store(http_judge(stub), items, store, progress=False)[2].computed == 0


def test_a_request_error_that_is_no_outage_still_raises(routed, tmp_path):
    stub = routed(lambda p: (401, "bad key", 0))
    store = JudgmentStore(tmp_path / "store")
    with pytest.raises(ChatRequestError, match="HTTP 401") as err:
        judge_through_store(http_judge(stub), [("p", "r")], store, progress=False)
    assert not err.value.transient and store.count_judgments() == 0 and len(stub.payloads) == 1


def test_client_retries_an_empty_answer_then_reports_it_as_transient(routed):
    answers = iter([(200, "", 0), (200, blank_body(), 0), (200, chat_body("ok"), 0)])
    stub = routed(lambda p: next(answers))
    client = OpenAICompatClient(stub.url, "m", api_key_env=KEY_ENV, max_retries=2, backoff_s=0.01)
    result = client.chat([{"role": "user", "content": "hi"}])
    assert result.text == "ok" and result.attempts == 3
    stuck = routed(lambda p: (200, blank_body(), 0))
    with pytest.raises(ChatRequestError, match="empty completion") as err:
        OpenAICompatClient(stuck.url, "m", api_key_env=KEY_ENV, max_retries=1, backoff_s=0.01).chat(
            [{"role": "user", "content": "hi"}])
    assert err.value.transient and len(stuck.payloads) == 2
    out = OpenAICompatClient(stuck.url, "m", api_key_env=KEY_ENV, max_retries=0).chat_many(
        [[{"role": "user", "content": "a"}], [{"role": "user", "content": "b"}]], return_exceptions=True)
    assert all(isinstance(o, ChatRequestError) for o in out)


def test_a_cut_answer_is_a_verdict_not_a_failure(routed, tmp_path):
    """An answer cut at max_tokens with nothing after the reasoning is the judge's (invalid) answer: stored."""
    body = chat_body("")
    body["choices"][0]["finish_reason"] = "length"
    body["usage"]["completion_tokens"] = 100
    stub = routed(lambda p: (200, body, 0))
    verdicts, _, stats = judge_through_store(http_judge(stub), [("p", "r")], JudgmentStore(tmp_path / "store"),
                                             progress=False)
    assert stats.computed == 1 and stats.failed == 0 and "max_tokens" in verdicts[0].invalid_reason


# ---------------------------------------------------------------------- retries of invalid verdicts
@dataclass
class MoodyJudge(CountingJudge):
    """Invalid for responses containing "hard<k>" until attempt k ("hard9": always); raises nothing."""

    attempt: int = 0
    fail: tuple[str, ...] = ()  #: responses it cannot judge now (NotJudged)

    @property
    def decoding(self) -> dict:
        return {"mode": "test", **({"attempt": self.attempt} if self.attempt else {})}

    def for_attempt(self, attempt: int) -> "MoodyJudge":
        return MoodyJudge(name=self.name, attempt=attempt, fail=self.fail)

    def judge(self, items):
        self.calls += len(items)
        out = []
        for _, r in items:
            need = int(r.split("hard")[1][0]) if "hard" in r else 0
            if r in self.fail:
                out.append(NotJudged("connection refused"))
            elif self.attempt >= need:
                out.append(Verdict(raw_output="Score: 5", score=5.0))
            else:
                out.append(Verdict(raw_output="hmm", invalid_reason="no score"))
        return out


ITEMS = [("p", "easy"), ("p", "hard1 x"), ("p", "hard2 x"), ("p", "hard9 x"), ("q", "easy")]


def test_invalid_verdicts_are_retried_under_new_keys_and_settle_in_the_store(tmp_path):
    store = JudgmentStore(tmp_path / "store")
    judge = MoodyJudge()
    verdicts, keys, stats = judge_with_retries(judge, ITEMS, store, attempts=3, progress=False)
    assert [v.score for v in verdicts] == [5.0, 5.0, 5.0, None, 5.0]
    assert stats.attempt == [0, 1, 2, 2, 0] and (stats.recovered, stats.invalid, stats.failed) == (2, 1, 0)
    assert [s.requested for s in stats.attempts] == [5, 3, 2] and stats.retried == 5 and stats.computed == 10
    plain_keys = [judgment_key(judge, it) for it in ITEMS]
    assert keys[0] == plain_keys[0] and keys[4] == plain_keys[4]  # attempt 0: the keys of a plain run
    assert len(set(keys)) == 5 and keys[1] != plain_keys[1]
    again = MoodyJudge()
    verdicts2, keys2, stats2 = judge_with_retries(again, ITEMS, store, attempts=3, progress=False)
    assert again.calls == 0 and stats2.computed == 0 and keys2 == keys  # every attempt was stored: no model call
    assert [v.score for v in verdicts2] == [v.score for v in verdicts]
    more = MoodyJudge()
    judge_with_retries(more, ITEMS, store, attempts=1, progress=False)
    assert more.calls == 0  # one attempt: attempt 0 only, all stored


def test_items_failing_in_transport_are_retried_and_returned_as_none(tmp_path):
    store = JudgmentStore(tmp_path / "store")
    verdicts, keys, stats = judge_with_retries(MoodyJudge(fail=("easy",)), ITEMS[:2], store, attempts=2, progress=False)
    assert verdicts[0] is None and keys[0] is None and stats.failed == 1 and stats.failure == "connection refused"
    assert verdicts[1].score == 5.0 and stats.recovered == 1
    verdicts, _, stats = judge_with_retries(MoodyJudge(), ITEMS[:2], store, attempts=2, progress=False)
    assert verdicts[0].score == 5.0 and stats.computed == 1  # nothing was stored for it: asked again now


def test_a_judge_without_for_attempt_is_asked_again_unchanged_under_new_keys():
    judge = CountingJudge()
    again = attempt_judge(judge, 2)
    assert isinstance(again, RetryAttempt) and again.decoding == {"mode": "test", "attempt": 2}
    assert again.fingerprint == judge.fingerprint and again.name == judge.name
    assert judgment_key(again, ("p", "r")) != judgment_key(judge, ("p", "r"))
    assert attempt_judge(judge, 0) is judge
    with pytest.raises(ValueError):
        judge_with_retries(judge, [], None, attempts=0)


def test_http_gold_retry_asks_for_a_larger_budget_and_another_seed(routed, tmp_path):
    def route(payload):
        if payload["max_tokens"] <= 100:  # the trace does not fit: cut before the score
            body = chat_body("Let me weigh the response carefully")
            body["choices"][0]["finish_reason"] = "length"
            return 200, body, 0
        return 200, chat_body("Fine.\nScore: 4"), 0

    stub = routed(route)
    store = JudgmentStore(tmp_path / "store")
    items = [("Say hi.", "hi"), ("Say bye.", "bye")]
    judge = http_judge(stub, max_tokens=100)
    verdicts, keys, stats = judge_with_retries(judge, items, store, attempts=3, progress=False)
    assert [v.score for v in verdicts] == [4.0, 4.0] and stats.attempt == [1, 1] and stats.recovered == 2
    first, retry = stub.payloads[0], stub.payloads[-1]
    assert "seed" not in first and first["max_tokens"] == 100  # attempt 0: the request (and key) of before
    assert retry["seed"] == 1 and retry["max_tokens"] == 200
    j1 = judge.for_attempt(1)
    assert j1.fingerprint == judge.fingerprint and j1.decoding["attempt"] == 1 and j1.decoding["max_tokens"] == 200
    assert keys == [judgment_key(j1, it) for it in items]
    n = len(stub.payloads)
    judge_with_retries(http_judge(stub, max_tokens=100), items, store, attempts=3, progress=False)
    assert len(stub.payloads) == n  # settled: a re-run asks the server nothing


# ---------------------------------------------------------------------- gold labels
def pairs(n: int) -> pl.DataFrame:
    return pl.DataFrame({
        "pair_id": [f"pair{i}" for i in range(n)], "prompt_id": [f"pr{i}" for i in range(n)],
        "prompt": [f"Prompt {i}" for i in range(n)], "response_a": [f"a{i} easy" for i in range(n)],
        "response_b": [f"b{i} easy long" for i in range(n)], "finished_a": [True] * n, "finished_b": [True] * n,
        "split": ["judge_train"] * n,
    })


def test_gold_table_retries_then_leaves_out_only_the_pairs_still_without_two_scores(tmp_path):
    from judge_pipeline.assets.gold import gold_table

    df = pairs(4).with_columns(
        pl.when(pl.col("pair_id") == "pair1").then(pl.lit("b1 hard2")).when(pl.col("pair_id") == "pair2")
        .then(pl.lit("b2 hard9")).otherwise(pl.col("response_b")).alias("response_b"))
    store = JudgmentStore(tmp_path / "store")
    table, meta = gold_table(df, MoodyJudge(fail=("a3 easy",)), store, attempts=3, progress=False)
    schemas.GoldLabels.validate(table)
    assert sorted(set(table["pair_id"])) == ["pair0", "pair1"]  # pair1 healed on attempt 2; pair2, pair3 left out
    assert table.height == 4 and table["store_key"].null_count() == 0
    assert (meta["pairs_dropped"], meta["responses_invalid"], meta["responses_failed"], meta["recovered_by_retry"]) == (2, 1, 1, 1)
    assert meta["example_problem"] == "no score"
    # the outage is over: the failed response is judged now, the invalid one is settled in the store
    table, meta = gold_table(df, MoodyJudge(), store, attempts=3, progress=False)
    assert sorted(set(table["pair_id"])) == ["pair0", "pair1", "pair3"] and meta["computed_now"] == 1
    assert meta["pairs_dropped"] == 1


def test_gold_table_fails_only_when_no_pair_is_left(tmp_path):
    from judge_pipeline.assets.gold import gold_table

    df = pairs(2).with_columns(pl.lit("x hard9").alias("response_a"))
    with pytest.raises(RuntimeError, match="no pair has two valid gold verdicts"):
        gold_table(df, MoodyJudge(), JudgmentStore(tmp_path / "store"), attempts=2, progress=False)


def test_gold_check_warns_on_pairs_left_out_and_errors_on_broken_ones():
    from dagster import AssetCheckSeverity

    from judge_pipeline.checks import gold_covers_pairs as fn

    df = pairs(3)
    gold = pl.DataFrame({"pair_id": ["pair0", "pair0", "pair1", "pair1"], "position": ["a", "b", "b", "a"]})
    res = fn(gold_labels=gold, preference_pairs=df)
    assert not res.passed and res.severity == AssetCheckSeverity.WARN and res.metadata["pairs_left_out"].value == 1
    res = fn(gold_labels=gold.head(3), preference_pairs=pairs(2))
    assert not res.passed and res.severity == AssetCheckSeverity.ERROR
    assert fn(gold_labels=gold, preference_pairs=pairs(2)).passed


# ---------------------------------------------------------------------- KL committed batch by batch
def test_kl_rows_are_committed_batch_by_batch_and_a_failure_keeps_them(tmp_path, monkeypatch):
    import judge_pipeline.policy_kl as policy_kl
    from judge_pipeline.policy_kl import kl_through_store
    from judge_pipeline_tests.test_identity import fake_checkpoint

    policy, reference = fake_checkpoint(tmp_path / "policy", b"\x01" * 8), fake_checkpoint(tmp_path / "ref")
    monkeypatch.setattr(policy_kl, "TransformersBackend", lambda *a, **k: object())
    monkeypatch.setattr(policy_kl, "generate_through_store", lambda ckpt, todo, *a, **k: (
        [{"completion": f"answer to {p}", "finished": True} for p in todo], type("S", (), {"computed": len(todo)})()))
    calls = []

    def kl(pol, ref, prompt, completion, finished, fail_at=None):
        calls.append(prompt)
        if fail_at is not None and len(calls) == fail_at:
            raise RuntimeError("out of memory")
        return 0.1 * len(calls), 3

    prompts = [f"prompt {i}" for i in range(7)]
    store = JudgmentStore(tmp_path / "store")
    monkeypatch.setattr(policy_kl, "sequence_kl", lambda *a: kl(*a, fail_at=6))
    with pytest.raises(RuntimeError, match="out of memory"):
        kl_through_store(str(policy), str(reference), prompts, store, max_new_tokens=4, commit_every=2, progress=False)
    assert store.query("SELECT count(*) AS n FROM kl_estimates")["n"][0] == 4  # two batches of two were committed
    calls.clear()
    monkeypatch.setattr(policy_kl, "sequence_kl", lambda *a: kl(*a))
    values, stats = kl_through_store(str(policy), str(reference), prompts, store, max_new_tokens=4, commit_every=2,
                                     progress=False)
    assert stats.computed == 3 and len(calls) == 3 and len(values) == 7  # only what was lost is computed
    assert kl_through_store(str(policy), str(reference), prompts, store, max_new_tokens=4, progress=False)[1].computed == 0
