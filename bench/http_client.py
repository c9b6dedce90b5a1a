"""Verdicts/s through the pipeline's HTTP client at 1, 4 and 8 requests in flight (issue 12), one command:

    .venv/bin/python bench/http_client.py [--n 16] [--max-tokens 8] [--threads 1]

Starts llama-cpp-python's OpenAI-compatible server on the shipped SmolLM2-135M GGUF (as the tests' ``llama_server``
fixture does), then sends the same ``n`` short pointwise judge requests (distinct responses) five ways per bound:

- bare: a plain loop of ``requests`` posts on a thread pool of that many workers (the floor of client overhead);
- client: `OpenAICompatClient.chat_stream` (the one asynchronous client, no store);
- stream+store: `judge_through_store` with an `HTTPPointwiseJudge` (judge_stream; every verdict committed as it
  arrives, ``batch_size`` 8);
- lock-step: the path it replaces: `judge_through_store` calling ``judge.judge`` on batches of 8, each batch
  waiting for its slowest request before the next starts.

Prints a markdown table (verdicts/s, and client / bare). llama-cpp-python's server answers one request at a time,
so more in flight cannot raise its throughput here: the table measures what the client and the store path cost
on top of the server, and that requests overlap without loss; against vLLM (continuous batching) the bound is
what buys throughput.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from judge_pipeline.backends.local_server import LocalServerError, start_llama_server, stop_server
from judge_pipeline.judging.cached import judge_through_store
from judge_pipeline.judging.http_judge import HTTPJudgeConfig, HTTPPointwiseJudge
from judge_pipeline.store import JudgmentStore

KEY = "sk-bench-local"


def start_server(threads: int, log: Path) -> tuple[subprocess.Popen, str]:
    try:
        return start_llama_server(KEY, log, threads=threads)
    except LocalServerError as exc:
        raise SystemExit(str(exc)) from exc


class ShortPointwise(HTTPPointwiseJudge):
    """The pointwise gold judge with a one-line prompt (the gold template is ~500 tokens: seconds per request for a
    135M model on one CPU thread); client, parsing and store path unchanged."""

    def messages(self, item):
        prompt, response = item
        return [{"role": "user", "content": f"Rate the answer {response!r} to {prompt!r} from 0 to 9. Score:"}]


class LockStep:
    """The judge without ``judge_stream``: judge_through_store falls back to lock-step batches."""

    def __init__(self, judge):
        self._judge = judge

    def __getattr__(self, name):
        if name == "judge_stream":
            raise AttributeError(name)
        return getattr(self._judge, name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=24, help="requests per measurement")
    ap.add_argument("--max-tokens", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1, help="llama.cpp threads of the server")
    ap.add_argument("--bounds", default="1,4,8")
    args = ap.parse_args()
    os.environ["OPENAI_API_KEY"] = KEY
    tmp = Path(tempfile.mkdtemp(prefix="bench_http_"))
    proc, url = start_server(args.threads, tmp / "server.log")
    try:
        items = [("Name a colour.", f"Colour number {i}: blue.") for i in range(args.n)]
        base = HTTPJudgeConfig(model="smollm2-135m", base_url=url, max_tokens=args.max_tokens, top_logprobs=None,
                               reasoning_effort=None, timeout_s=300, max_retries=1)
        conversations = [ShortPointwise(base).messages(it) for it in items]
        payload = {"model": base.model, "temperature": 0.0, "max_tokens": args.max_tokens}
        ShortPointwise(base).client.chat(conversations[0], max_tokens=args.max_tokens)  # warm-up

        def bare(c: int) -> float:
            session_local = __import__("threading").local()

            def one(m):
                s = getattr(session_local, "s", None) or setattr(session_local, "s", requests.Session()) or session_local.s
                r = s.post(url + "/chat/completions", json={**payload, "messages": m},
                           headers={"Authorization": f"Bearer {KEY}"}, timeout=300)
                r.raise_for_status()
                return r.json()

            t0 = time.perf_counter()
            with ThreadPoolExecutor(c) as pool:
                list(pool.map(one, conversations))
            return time.perf_counter() - t0

        def client(c: int) -> float:
            cl = ShortPointwise(HTTPJudgeConfig(**{**base.__dict__, "concurrency": c})).client
            t0 = time.perf_counter()
            out = [r for _, r in cl.chat_stream(conversations, temperature=0.0, max_tokens=args.max_tokens)]
            took = time.perf_counter() - t0
            assert all(not isinstance(r, Exception) for r in out), out
            cl.close()
            return took

        def store_path(c: int, lock_step: bool) -> float:
            judge = ShortPointwise(HTTPJudgeConfig(**{**base.__dict__, "concurrency": c}))
            store = JudgmentStore(Path(tempfile.mkdtemp(dir=tmp)) / "store")
            t0 = time.perf_counter()
            _, _, stats = judge_through_store(LockStep(judge) if lock_step else judge, items, store, batch_size=8,
                                              progress=False)
            took = time.perf_counter() - t0
            assert stats.computed == len(items), stats
            judge.client.close()
            return took

        client(1), store_path(1, False)  # one-time costs (imports, the first store, a loop thread) before measuring
        rows = []
        for c in (int(b) for b in args.bounds.split(",")):
            t = {"bare": bare(c), "client": client(c), "stream": store_path(c, False), "lockstep": store_path(c, True)}
            rows.append((c, {k: args.n / v for k, v in t.items()}))
            print(f"in flight {c}: " + ", ".join(f"{k} {args.n / v:.2f}/s" for k, v in t.items()), file=sys.stderr)
        print(f"\n{args.n} pointwise requests, max_tokens {args.max_tokens}, llama-cpp-python server "
              f"(SmolLM2-135M Q4_1, {args.threads} thread(s)); verdicts/s\n")
        print("| in flight | bare requests loop | pipeline client | client / bare | judge_through_store, streaming "
              "| judge_through_store, lock-step (before) |")
        print("|---:|---:|---:|---:|---:|---:|")
        for c, r in rows:
            print(f"| {c} | {r['bare']:.2f} | {r['client']:.2f} | {r['client'] / r['bare']:.2f}x | {r['stream']:.2f} "
                  f"| {r['lockstep']:.2f} |")
    finally:
        stop_server(proc)


if __name__ == "__main__":
    main()
