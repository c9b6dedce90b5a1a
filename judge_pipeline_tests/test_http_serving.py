"""Serving at scale (issue 12): the one asynchronous HTTP client and the streaming store path.

Fast tests against local stub servers (bounded requests in flight, spread over endpoints, retries, failures not
stored, context-exceeded clip-and-retry, results committed as they arrive, settings from the environment); then
two `@pytest.mark.server` tests against llama-cpp-python's server on SmolLM2-135M."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest

from judge_pipeline.backends.openai_compat import OpenAICompatClient
from judge_pipeline.backends.openai_wire import ChatRequestError, context_numbers
from judge_pipeline.judging.cached import JudgingFailed, judge_through_store, judgment_key
from judge_pipeline.judging.http_judge import TRUNCATION_MARKER, HTTPJudgeConfig, HTTPPointwiseJudge
from judge_pipeline.store import JudgmentStore
from judge_pipeline_tests.test_http_judge import (  # noqa: F401  (fixtures)
    KEY_ENV, SECRET, Stub, chat_body, llama_server, server_cfg, server_key,
)


class Tracked(Stub):
    """A stub that answers ``route(payload) -> (status, body)`` after ``delay_s`` and records how many requests it
    had in flight at once."""

    def __init__(self, route, delay_s=0.0):
        self.lock = threading.Lock()
        self.now = self.peak = 0
        self.delay_s = delay_s

        def handle(payload):
            with self.lock:
                self.now += 1
                self.peak = max(self.peak, self.now)
            try:
                status, body, *delay = route(payload)
                time.sleep(delay[0] if delay else self.delay_s)
            finally:
                with self.lock:
                    self.now -= 1
            return status, body, 0, {}

        super().__init__(route=handle)

    @property
    def texts(self) -> list[str]:
        return [p["messages"][-1]["content"] for _, p in self.requests]


@pytest.fixture
def stubs(monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    made = []

    def make(route, delay_s=0.0):
        made.append(Tracked(route, delay_s))
        return made[-1]

    yield make
    for s in made:
        s.close()


def ok(payload):
    return 200, chat_body("Fine.\nScore: 7")


def judge_for(urls, concurrency=4, max_retries=1, timeout_s=5.0, **cfg) -> HTTPPointwiseJudge:
    return HTTPPointwiseJudge(HTTPJudgeConfig(model="judge-model", base_urls=tuple(urls), api_key_env=KEY_ENV,
                                              concurrency=concurrency, max_retries=max_retries, timeout_s=timeout_s,
                                              backoff_s=0.01, top_logprobs=None, **cfg))


def user(payload) -> str:
    return payload["messages"][-1]["content"]


# ---------------------------------------------------------------------- overlap, bound, spread
def test_requests_overlap_up_to_the_bound_on_each_of_two_endpoints(stubs):
    a, b = stubs(ok, 0.2), stubs(ok, 0.2)
    client = OpenAICompatClient(f"{a.url},{b.url}", "m", api_key_env=KEY_ENV, concurrency=3)
    t0 = time.perf_counter()
    out = client.chat_many([[{"role": "user", "content": str(i)}] for i in range(24)])
    took = time.perf_counter() - t0
    assert len(out) == 24 and all(r.text for r in out)
    assert (a.peak, b.peak, client.stats.max_in_flight) == (3, 3, 6)  # the bound, reached, on each endpoint
    assert len(a.requests) == len(b.requests) == 12  # spread: fewest in flight first
    assert took < 24 * 0.2 / 3  # overlapping: 4 waves of 6, not 24 requests in a row
    assert client.stats.per_endpoint == {a.url: 12, b.url: 12} and client.stats.in_flight == 0


def test_a_dead_endpoint_is_avoided_and_its_requests_go_to_the_other(stubs):
    live = stubs(ok)
    dead = "http://127.0.0.1:9/v1"
    judge = judge_for([dead, live.url], concurrency=2, max_retries=2)
    verdicts = judge.judge([("p", f"r{i}") for i in range(8)])
    assert all(v.score == 7.0 for v in verdicts) and len(live.requests) == 8
    assert judge.client.stats.failed == 0 and judge.client.stats.retries >= 1


# ---------------------------------------------------------------------- streaming commits
def test_verdicts_are_committed_as_they_arrive_not_when_the_slowest_is_done(stubs, tmp_path):
    stub = stubs(lambda p: (200, chat_body("Score: 3"), 1.2 if "SLOW" in user(p) else 0.0))
    store = JudgmentStore(tmp_path / "store")
    puts: list[int] = []
    put = store.put_judgments
    store.put_judgments = lambda rows: (puts.append(len(rows)), put(rows))[1]
    items = [("p", "SLOW")] + [("p", f"fast {i}") for i in range(5)]
    verdicts, _, stats = judge_through_store(judge_for([stub.url]), items, store, progress=False, batch_size=100,
                                             commit_seconds=0.2)
    assert stats.computed == 6 and [v.score for v in verdicts] == [3.0] * 6
    assert puts == [5, 1]  # the five fast ones committed while the slow one was still being answered


@pytest.mark.parametrize("batch_size", [1, 100])
def test_an_error_midway_keeps_every_finished_verdict(stubs, tmp_path, batch_size):
    def route(p):
        if "BOOM" in user(p):
            return 401, "bad key", 0.5  # no outage: raised at once, after the fast ones are done
        if "SLOW" in user(p):
            return 200, chat_body("Score: 2"), 3.0
        return 200, chat_body("Score: 4"), 0.0

    stub = stubs(route)
    store = JudgmentStore(tmp_path / "store")
    items = [("p", "BOOM"), ("p", "SLOW")] + [("p", f"fast {i}") for i in range(5)]
    judge = judge_for([stub.url])
    t0 = time.perf_counter()
    with pytest.raises(ChatRequestError, match="HTTP 401"):
        judge_through_store(judge, items, store, progress=False, batch_size=batch_size)
    assert time.perf_counter() - t0 < 2.5  # the slow request was not waited for
    assert store.count_judgments() == 5
    assert set(store.fetch_judgments([judgment_key(judge, it) for it in items])) == \
        {judgment_key(judge, it) for it in items[2:]}


# ---------------------------------------------------------------------- retries and failures
def test_5xx_and_429_then_success_are_retried_and_a_final_failure_is_not_stored(stubs, tmp_path):
    seen: dict[str, int] = {}
    lock = threading.Lock()

    def route(p):
        text = user(p)
        with lock:
            seen[text] = n = seen.get(text, 0) + 1
        if "DOWN" in text:
            return 503, "down"
        return [(503, "busy"), (429, "slow down"), (200, chat_body("Score: 6"))][min(n, 3) - 1]

    stub = stubs(route)
    store = JudgmentStore(tmp_path / "store")
    items = [("p", f"r{i}") for i in range(4)] + [("p", "DOWN")]
    judge = judge_for([stub.url], max_retries=2)
    with pytest.raises(JudgingFailed, match="could not judge 1 of 5") as err:
        judge_through_store(judge, items, store, progress=False)
    assert err.value.stats.computed == 4 and err.value.stats.failed == 1 and store.count_judgments() == 4
    assert "HTTP 503" in err.value.stats.failure and SECRET not in str(err.value)
    st = judge.client.stats
    assert (st.attempts, st.retries, st.failed) == (15, 10, 1)  # 3 attempts each; the DOWN one finally failed
    assert judgment_key(judge, items[-1]) not in store.fetch_judgments([judgment_key(judge, items[-1])])


# ---------------------------------------------------------------------- context exceeded
#: the stub's "context": user messages longer than this are refused like llama-cpp / vLLM do (the template + ~500 chars)
LIMIT_CHARS = sum(len(m["content"]) for m in HTTPPointwiseJudge(HTTPJudgeConfig(model="m")).messages(("Explain.", ""))) + 500


def context_route(with_numbers=True):
    def route(p):
        chars = sum(len(m["content"]) for m in p["messages"])
        if chars <= LIMIT_CHARS:
            return 200, chat_body("Score: 5")
        tokens = chars // 4
        msg = (f"This model's maximum context length is {LIMIT_CHARS // 4} tokens. However, you requested "
               f"{tokens + 16} tokens ({tokens} in the messages, 16 in the completion)." if with_numbers
               else "The prompt is too long for this model.")
        return 400, {"error": {"message": msg, "type": "invalid_request_error", "code": "context_length_exceeded"}}
    return route


@pytest.mark.parametrize("with_numbers", [True, False])
def test_context_exceeded_is_clipped_and_sent_again(stubs, tmp_path, with_numbers):
    stub = stubs(context_route(with_numbers))
    store = JudgmentStore(tmp_path / "store")
    long = "The answer, at length. " * 150  # ~3,400 characters
    items = [("Explain.", long), ("Explain.", "Short.")]
    judge = judge_for([stub.url])
    verdicts, keys, stats = judge_through_store(judge, items, store, progress=False)
    assert [v.score for v in verdicts] == [5.0, 5.0] and stats.computed == 2
    sent = [t for t in stub.texts if "The answer" in t]
    assert len(sent) >= 2 and TRUNCATION_MARKER in sent[-1] and TRUNCATION_MARKER not in sent[0]
    assert len(sent[-1]) < len(sent[0]) - 2000 and len(sent[-1].split(TRUNCATION_MARKER)[0]) > len(sent[0]) - len(long)
    assert judge.client.stats.clipped == len(sent) - 1
    row = store.fetch_judgments([keys[0]])[keys[0]]
    assert row["response_a"] == long  # the item and its key are the unclipped ones


def test_context_error_numbers_and_a_prompt_that_cannot_fit(stubs, tmp_path):
    assert context_numbers("This model's maximum context length is 2048 tokens. However, you requested 3000 tokens "
                           "(2952 in the messages, 48 in the completion).") == (2048, 3000, 2952)
    assert context_numbers("Requested tokens (2100) exceed context window of 2048") == (2048, 2100, 2100)
    stub = stubs(context_route())
    store = JudgmentStore(tmp_path / "store")
    verdicts, _, stats = judge_through_store(judge_for([stub.url]), [("Explain. " * 200, "ok")], store,
                                             progress=False, allow_failed=True)
    assert verdicts == [None] and stats.failed == 1 and store.count_judgments() == 0
    assert "over the context" in stats.failure


def test_marker_is_the_local_judges_marker():
    src = (Path(__file__).parents[1] / "judge_pipeline/backends/transformers_backend.py").read_text()
    assert 'TRUNCATION_MARKER = "' + TRUNCATION_MARKER.replace("\n", "\\n") + '"' in src


# ---------------------------------------------------------------------- settings
def test_serving_settings_from_env_per_role(monkeypatch):
    monkeypatch.setenv("JUDGE_PIPELINE_GOLD_URLS", "http://gpu-a:8000/v1, http://gpu-b:8000")
    monkeypatch.setenv("JUDGE_PIPELINE_GOLD_CONCURRENCY", "3")
    monkeypatch.setenv("JUDGE_PIPELINE_GOLD_TIMEOUT_S", "7.5")
    monkeypatch.setenv("JUDGE_PIPELINE_GOLD_MAX_RETRIES", "2")
    monkeypatch.setenv("JUDGE_PIPELINE_EXTERNAL_URLS", "http://ext:9000/v1")
    cfg = HTTPJudgeConfig.from_env()
    assert cfg.base_urls == ("http://gpu-a:8000/v1", "http://gpu-b:8000")
    assert (cfg.concurrency, cfg.timeout_s, cfg.max_retries) == (3, 7.5, 2)
    client = cfg.client()
    assert client.base_urls == ("http://gpu-a:8000/v1", "http://gpu-b:8000/v1") and client.capacity == 6
    assert (client.concurrency, client.timeout_s, client.max_retries) == (3, 7.5, 2)
    ext = HTTPJudgeConfig.from_env(role="external", name_prefix="external")
    assert ext.endpoints == ("http://ext:9000/v1",) and ext.concurrency == 8
    assert HTTPJudgeConfig.from_env(concurrency=5).concurrency == 5  # overrides win
    plain = HTTPPointwiseJudge(HTTPJudgeConfig(model=cfg.model))
    assert HTTPPointwiseJudge(cfg).fingerprint == plain.fingerprint  # where it is served is not its identity
    assert HTTPPointwiseJudge(cfg).decoding == plain.decoding
    monkeypatch.setenv("JUDGE_PIPELINE_GOLD_CONCURRENCY", "lots")
    with pytest.raises(ValueError, match="JUDGE_PIPELINE_GOLD_CONCURRENCY"):
        HTTPJudgeConfig.from_env()
    assert SECRET not in repr(client)


# ---------------------------------------------------------------------- the real server
@pytest.mark.server
def test_server_streams_verdicts_into_the_store(llama_server, server_key, tmp_path):
    # no logprobs: llama-cpp-python computes them in Python (3x a verdict's time); test_http_judge.py reads them
    judge = HTTPPointwiseJudge(server_cfg(llama_server, max_tokens=8, concurrency=3, top_logprobs=None))
    store = JudgmentStore(tmp_path / "store")
    puts: list[int] = []
    put = store.put_judgments
    store.put_judgments = lambda rows: (puts.append(len(rows)), put(rows))[1]
    items = [("What is 2+2?", str(i)) for i in range(6)]
    verdicts, _, stats = judge_through_store(judge, items, store, progress=False, batch_size=2)
    assert stats.computed == 6 and sum(puts) == 6 and len(puts) >= 3 and all(n <= 2 for n in puts)
    assert all(v is not None and v.output_tokens > 0 for v in verdicts)
    assert judge.client.stats.max_in_flight == 3 and judge.client.stats.failed == 0
    assert judge_through_store(judge, items, store, progress=False)[2].computed == 0


@pytest.mark.server
def test_server_context_exceeded_is_clipped(llama_server, server_key, tmp_path):
    judge = HTTPPointwiseJudge(server_cfg(llama_server, max_tokens=8, concurrency=1, top_logprobs=None))
    store = JudgmentStore(tmp_path / "store")
    long = "Autumn leaves fall on the quiet road while the river keeps on running. " * 160  # ~2,500 tokens
    verdicts, _, stats = judge_through_store(judge, [("Write about autumn.", long)], store, progress=False)
    assert stats.computed == 1 and verdicts[0].prompt_tokens <= 2048 and judge.client.stats.clipped >= 1
    assert re.search(r"\S", verdicts[0].raw_output) or verdicts[0].invalid_reason
