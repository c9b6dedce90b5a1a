"""Sampled traces of a judge, to measure its self-consistency (`metrics/reasoning.py`, view judge_self_consistency).

`ConsistencySample` ``i`` is the judge itself (name, fingerprint: the same judge) with its trace sampled at a given
temperature / top-k / top-p; its ``decoding`` adds ``consistency_sample: i``, so each sample is a verdict of its own
in the store, computed once (a re-run makes no model call), and the views that give one value per judge and item
(``current_verdicts`` and those built on it) leave samples out: they never shift a judge's agreement with gold.

The samples of an item are drawn in one call of the judge (`SampleBatch`): each item repeated once per sample, one
batch, one seed (`SEED`); every row of a batch samples on its own. On a CPU that costs about one sample's time per
step instead of one per sample (a batch of 12 short traces is not 3 times a batch of 4). A served judge (which
streams its requests) is asked once per sample; its server samples with its own generator.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from judge_pipeline.judging.cached import JudgeUnderNewKeys, judge_through_store
from judge_pipeline.judging.verdict import Judge, Verdict
from judge_pipeline.store import JudgmentStore

SEED = 1000  #: the sampling seed of the consistency batches (a local backend adds the batch's offset)


class SampleBatch:
    """``judge`` with its trace sampled under ``sampling`` ({temperature, top_k, top_p}), drawing ``samples`` traces of
    every item it is asked about in one call and keeping the ones of the other samples for their turn."""

    def __init__(self, judge: Judge, sampling: dict, samples: int):
        self.judge = copy.copy(judge)  # shares the loaded model; only the sampling differs
        for k, v in {**sampling, "seed": SEED}.items():
            setattr(self.judge, k, v)
        self.samples = samples
        self.held: dict[tuple[int, tuple], Verdict] = {}

    def verdicts(self, index: int, items: Sequence[tuple[str, ...]]) -> list:
        todo = [tuple(it) for it in dict.fromkeys(map(tuple, items)) if (index, tuple(it)) not in self.held]
        if todo:
            rows = [it for it in todo for _ in range(self.samples)]
            if hasattr(self.judge, "batch_size"):
                self.judge.batch_size = max(self.judge.batch_size, len(rows))  # one batch: one pass over the steps
            got = self.judge.judge(rows)
            for j, it in enumerate(todo):
                for s in range(self.samples):
                    self.held.setdefault((s, it), got[j * self.samples + s])
        return [self.held.pop((index, tuple(it))) for it in items]


class ConsistencySample(JudgeUnderNewKeys):
    """Sample ``index`` of a `SampleBatch`: the judge under keys of its own (``consistency_sample: index``)."""

    def __init__(self, batch: SampleBatch, index: int):
        super().__init__(batch.judge, consistency_sample=index)
        self.batch, self.index = batch, index

    def judge(self, items):
        return self.batch.verdicts(self.index, items)


def sample_verdicts(judge: Judge, items: Sequence[tuple[str, ...]], store: JudgmentStore, sampling: dict, samples: int,
                    run_id: str | None = None, batch_size: int = 16) -> tuple[list[list[Verdict]], int]:
    """``samples`` sampled verdicts of ``judge`` on each item, through the store: ([per sample: verdicts in item
    order], verdicts computed now). The model is loaded at most once, and not at all when the store has them all."""
    batch = SampleBatch(judge, sampling, samples)
    out, computed = [], 0
    for i in range(samples):
        verdicts, _, stats = judge_through_store(ConsistencySample(batch, i), list(items), store, run_id,
                                                 batch_size=max(batch_size, len(items)), progress=False)
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
