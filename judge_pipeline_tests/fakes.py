"""Test doubles: a fast deterministic judge that counts its calls (a real Judge, not a mock of the store)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from judge_pipeline.judging.verdict import Verdict
from judge_pipeline.store import content_key


@dataclass
class CountingJudge:
    """Scores by response length mod 10; counts how many items it judged."""

    name: str = "counting"
    template_version: str = "t1"
    checkpoint_hash: str = "ckpt-1"
    delay_s: float = 0.0
    role: str = "training"
    kind: str = "pointwise"
    model: str = "counting-model"
    calls: int = 0

    @property
    def fingerprint(self) -> str:
        return content_key(model=self.model, checkpoint=self.checkpoint_hash, template=self.template_version)

    @property
    def decoding(self) -> dict:
        return {"mode": "test"}

    def judge(self, items):
        if self.delay_s:
            time.sleep(self.delay_s)
        self.calls += len(items)
        return [Verdict(raw_output=str(len(it[1]) % 10), score=float(len(it[1]) % 10),
                        expected_score=len(it[1]) % 10 + 0.5) for it in items]


@dataclass
class LongerWinsJudge(CountingJudge):
    """A pairwise judge that prefers the longer response (label 1 = the first); "??" in either one makes the
    verdict invalid."""

    name: str = "longer-wins"
    kind: str = "pairwise"

    def judge(self, items):
        self.calls += len(items)
        out = []
        for _, a, b in items:
            if "??" in a or "??" in b:
                out.append(Verdict(raw_output="??", invalid_reason="no label"))
            else:
                out.append(Verdict(raw_output="x", label=1 if len(a) > len(b) else 2))
        return out


def serve_smollm2(tmp_path_factory, name: str, api_key: str, **server_kwargs):
    """The body of a module fixture: llama-cpp-python's OpenAI-compatible server on the shipped SmolLM2 GGUF,
    yielding its base URL and stopping it at teardown. Without llama-cpp-python installed the test is skipped
    (failed under CI, which must run the server tests)."""
    import importlib.util
    import os

    import pytest

    from judge_pipeline.backends.local_server import LocalServerError, start_llama_server, stop_server

    if importlib.util.find_spec("llama_cpp") is None:
        msg = "llama-cpp-python is not installed: run `make llama-server`"
        if os.environ.get("CI") == "true":
            pytest.fail(msg + " (CI must run the server tests)")
        pytest.skip(msg)
    try:
        proc, url = start_llama_server(api_key, tmp_path_factory.mktemp(name) / "server.log", **server_kwargs)
    except LocalServerError as exc:
        pytest.fail(str(exc))
    try:
        yield url
    finally:
        stop_server(proc)
