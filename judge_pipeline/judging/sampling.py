"""Sampled traces of a judge, to measure its self-consistency (`metrics/reasoning.py`, view judge_self_consistency).

`ConsistencySample` is the judge itself (name, fingerprint: the same judge) with its trace sampled at a given
temperature / top-k / top-p under its own seed; its ``decoding`` adds ``consistency_sample: i``, so each sample is
a verdict of its own in the store, computed once (a re-run makes no model call), and the views that give one value
per judge and item (``current_verdicts`` and those built on it) leave samples out: they never shift a judge's
agreement with gold. Local judges sample with ``seed`` (`PointwiseLLMJudge.seed`, `PairwiseLLMJudge.seed`); a served
judge's server samples with its own generator.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from judge_pipeline.judging.cached import judge_through_store
from judge_pipeline.judging.verdict import Judge, Verdict
from judge_pipeline.store import JudgmentStore

SEED_STRIDE = 1000  #: sample i is drawn with seed SEED_STRIDE * (i + 1) (a local backend adds the batch's offset)


class ConsistencySample:
    """Sample ``index`` of ``judge``'s trace under ``sampling`` ({temperature, top_k, top_p})."""

    def __init__(self, judge: Judge, index: int, sampling: dict, backend: Any = None):
        self._inner = copy.copy(judge)  # shares the loaded model; only the sampling differs
        for k, v in sampling.items():
            setattr(self._inner, k, v)
        self._inner.seed = SEED_STRIDE * (index + 1)
        if backend is not None:
            self._inner.backend = backend
        self.index = index

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @property
    def decoding(self) -> dict:
        return {**self._inner.decoding, "consistency_sample": self.index}

    def judge(self, items):
        return self._inner.judge(items)


def sample_verdicts(judge: Judge, items: Sequence[tuple[str, ...]], store: JudgmentStore, sampling: dict, samples: int,
                    run_id: str | None = None, batch_size: int = 16) -> tuple[list[list[Verdict]], int]:
    """``samples`` sampled verdicts of ``judge`` on each item, through the store: ([per sample: verdicts in item
    order], verdicts computed now). The model is loaded at most once, and not at all when the store has them all."""
    out, computed, backend = [], 0, getattr(judge, "backend", None)
    for i in range(samples):
        sample = ConsistencySample(judge, i, sampling, backend)
        verdicts, _, stats = judge_through_store(sample, list(items), store, run_id, batch_size=batch_size,
                                                 progress=False)
        backend = getattr(sample._inner, "backend", None)
        out.append(verdicts)
        computed += stats.computed
    return out, computed


def consistency_items(kind: str, test_rows: Sequence[dict], n: int) -> list[tuple[str, ...]]:
    """The first ``n`` items of the judge-test rows (sorted by pair, position): responses for a pointwise judge, pairs
    (a, b) in one order for a pairwise judge."""
    rows = sorted(test_rows, key=lambda r: (r["pair_id"], r["position"]))
    if kind != "pairwise":
        return [(r["prompt"], r["response"]) for r in rows][:n]
    pairs: dict[str, dict] = {}
    for r in rows:
        pairs.setdefault(r["pair_id"], {"prompt": r["prompt"]})[r["position"]] = r["response"]
    return [(p["prompt"], p["a"], p["b"]) for p in pairs.values() if "a" in p and "b" in p][:n]
