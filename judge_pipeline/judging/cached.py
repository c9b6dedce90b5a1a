"""Judging through the store: compute only the verdicts the store lacks, commit them batch by batch.

`judge_through_store` is the one way assets and rewards obtain verdicts:
1. every item gets its content key (judge fingerprint, decoding, kind, prompt, responses in order);
2. the store says which keys are missing;
3. only those are judged, ``batch_size`` at a time, each batch committed before the next starts
   (a run killed mid-way keeps every finished batch);
4. all verdicts are returned in item order, from the store.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from tqdm.auto import tqdm

from judge_pipeline.judging.verdict import Judge, Verdict
from judge_pipeline.store import JudgmentStore, content_key, text_hash
from judge_pipeline.store.keys import canonical_json


@dataclass
class JudgingStats:
    requested: int = 0  #: items asked for
    unique: int = 0  #: distinct keys among them
    computed: int = 0  #: verdicts the judge computed now (= model calls for LLM judges)
    reused: int = 0  #: verdicts found in the store
    invalid: int = 0  #: verdicts with no parsed score/label (among all returned)
    seconds: float = 0.0


def judgment_key(judge: Judge, item: Sequence[str]) -> str:
    prompt, *responses = item
    return content_key(fingerprint=judge.fingerprint, decoding=judge.decoding, kind=judge.kind,
                       prompt=prompt, responses=list(responses))


def register(judge: Judge, store: JudgmentStore) -> None:
    store.register_judge(judge_name=judge.name, fingerprint=judge.fingerprint, role=judge.role, model=judge.model,
                         checkpoint_hash=judge.checkpoint_hash, template_version=judge.template_version, kind=judge.kind)


def judge_through_store(
    judge: Judge,
    items: Sequence[Sequence[str]],
    store: JudgmentStore,
    run_id: str | None = None,
    batch_size: int = 8,
    progress: bool = True,
    desc: str | None = None,
) -> tuple[list[Verdict], list[str], JudgingStats]:
    """Verdicts for ``items`` (in order), their store keys, and what it cost."""
    t0 = time.perf_counter()
    register(judge, store)
    keys = [judgment_key(judge, it) for it in items]
    first: dict[str, Sequence[str]] = {}
    for k, it in zip(keys, items):
        first.setdefault(k, it)
    missing = store.missing_judgments(list(first))
    stats = JudgingStats(requested=len(items), unique=len(first), reused=len(first) - len(missing))
    bar = tqdm(total=len(missing), desc=desc or f"judging with {judge.name}", disable=not progress or not missing)
    for start in range(0, len(missing), batch_size):
        batch_keys = missing[start : start + batch_size]
        batch_items = [tuple(first[k]) for k in batch_keys]
        t_batch = time.perf_counter()
        verdicts = judge.judge(batch_items)
        per_item_ms = (time.perf_counter() - t_batch) * 1000 / max(1, len(batch_items))
        rows = []
        for k, it, v in zip(batch_keys, batch_items, verdicts):
            prompt, *responses = it
            if v.latency_ms is None:  # judges that do not time themselves (rule judges) get the batch average
                v.latency_ms = per_item_ms
            rows.append({
                **v.as_row(), "key": k, "judge_name": judge.name, "fingerprint": judge.fingerprint,
                "template_version": judge.template_version, "decoding": canonical_json(judge.decoding), "kind": judge.kind,
                "prompt_hash": text_hash(prompt), "response_hash": text_hash(*responses), "prompt": prompt,
                "response_a": responses[0], "response_b": responses[1] if len(responses) > 1 else None,
                "run_id": run_id,
            })
        store.put_judgments(rows)  # committed: survives a kill of this process
        stats.computed += len(rows)
        bar.update(len(rows))
    bar.close()
    stored = store.fetch_judgments(list(first))
    lost = [k for k in first if k not in stored]
    if lost:
        raise RuntimeError(f"{len(lost)} verdicts missing from the store after judging (first key {lost[0]})")
    verdicts = [Verdict.from_row(stored[k]) for k in keys]
    stats.invalid = sum(v.score is None and v.label is None and v.reward is None for v in verdicts)
    stats.seconds = time.perf_counter() - t0
    return verdicts, keys, stats

