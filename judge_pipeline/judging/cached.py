"""Judging through the store: compute only the verdicts the store lacks, commit them batch by batch.

`judge_through_store` is the one way assets and rewards obtain verdicts:
1. every item gets its content key (judge fingerprint, decoding, kind, prompt, responses in order);
2. the store says which keys are missing;
3. only those are judged, ``batch_size`` at a time, each batch committed before the next starts
   (a run killed mid-way keeps every finished batch); a judge with ``judge_stream`` (the HTTP judges) gets
   them all at once and returns verdicts in completion order, committed every ``batch_size`` results or
   ``commit_seconds``, whichever comes first, and on any exit (an error midway keeps every finished verdict);
4. all verdicts are returned in item order, from the store.

Failures heal:

- An item the judge could not judge now (`verdict.NotJudged`: a transport failure of an HTTP judge) is never
  stored, so the next call asks again; it is counted in ``JudgingStats.failed``. By default
  `judge_through_store` raises `JudgingFailed` once every other batch is committed; with
  ``allow_failed=True`` it returns None in that item's place. A judge output that does not parse is a
  verdict: stored, with its ``invalid_reason``.
- `judge_with_retries` asks again, under new keys, for the items whose verdict is invalid (or missing):
  attempt ``k`` is `attempt_judge` (judge, k), whose decoding carries ``attempt: k`` (attempt 0 is the judge
  itself, so its keys are those of a plain `judge_through_store`). Every attempt is stored, so a re-run
  makes no model call for an item already settled.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

from judge_pipeline.judging.verdict import Judge, NotJudged, Verdict
from judge_pipeline.store import JudgmentStore, content_key, text_hash
from judge_pipeline.store.keys import canonical_json


@dataclass
class JudgingStats:
    requested: int = 0  #: items asked for
    unique: int = 0  #: distinct keys among them
    computed: int = 0  #: verdicts the judge computed now and stored (= model calls for LLM judges)
    reused: int = 0  #: verdicts found in the store
    invalid: int = 0  #: verdicts with no parsed score/label (among all returned)
    failed: int = 0  #: distinct items the judge could not judge now (transport failures): not stored
    failure: str | None = None  #: the first failure's reason
    seconds: float = 0.0


class JudgingFailed(RuntimeError):
    """Some items could not be judged now (nothing stored for them; every other verdict was committed)."""

    def __init__(self, message: str, stats: JudgingStats):
        super().__init__(message)
        self.stats = stats


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
    allow_failed: bool = False,
    commit_seconds: float = 5.0,
) -> tuple[list[Verdict | None], list[str], JudgingStats]:
    """Verdicts for ``items`` (in order), their store keys, and what it cost.

    A judge with ``judge_stream(items, heartbeat_s) -> iterator of (index, Verdict | NotJudged) or None`` (in
    completion order; None: nothing new for ``heartbeat_s``) is streamed: its verdicts are committed every
    ``batch_size`` of them or every ``commit_seconds``, whichever comes first, and whatever is held when the
    stream stops (an exception, an interrupt) is committed before the exception goes on. Other judges are
    called with ``batch_size`` items at a time (``judge(items)``), each batch committed.

    Items the judge returns `NotJudged` for are not stored and counted in ``stats.failed``; then, once every
    batch is done, `JudgingFailed` is raised, or with ``allow_failed`` their verdict is None."""
    t0 = time.perf_counter()
    register(judge, store)
    keys = [judgment_key(judge, it) for it in items]
    first: dict[str, Sequence[str]] = {}
    for k, it in zip(keys, items):
        first.setdefault(k, it)
    missing = store.missing_judgments(list(first))
    stats = JudgingStats(requested=len(items), unique=len(first), reused=len(first) - len(missing))
    failed: dict[str, str] = {}
    bar = tqdm(total=len(missing), desc=desc or f"judging with {judge.name}", disable=not progress or not missing)
    def row(k: str, it: Sequence[str], v: Verdict, per_item_ms: float) -> dict:
        prompt, *responses = it
        if v.latency_ms is None:  # judges that do not time themselves (rule judges) get the batch average
            v.latency_ms = per_item_ms
        return {
            **v.as_row(), "key": k, "judge_name": judge.name, "fingerprint": judge.fingerprint,
            "template_version": judge.template_version, "decoding": canonical_json(judge.decoding), "kind": judge.kind,
            "prompt_hash": text_hash(prompt), "response_hash": text_hash(*responses), "prompt": prompt,
            "response_a": responses[0], "response_b": responses[1] if len(responses) > 1 else None,
            "run_id": run_id,
        }

    stream = getattr(judge, "judge_stream", None)
    if stream is not None and missing:
        held: list[dict] = []
        held_since = 0.0

        def commit() -> None:
            if held:
                store.put_judgments(held)  # committed: survives a kill of this process
                stats.computed += len(held)
                held.clear()

        todo = [tuple(first[k]) for k in missing]
        t_last = time.perf_counter()
        try:
            for got in stream(todo, heartbeat_s=commit_seconds):
                if got is not None:
                    i, v = got
                    if isinstance(v, NotJudged):  # a transport failure: nothing stored, asked again next time
                        failed[missing[i]] = v.reason
                    else:
                        now = time.perf_counter()
                        if not held:
                            held_since = now
                        held.append(row(missing[i], todo[i], v, (now - t_last) * 1000))
                        t_last = now
                    bar.update(1)
                if held and (len(held) >= batch_size or time.perf_counter() - held_since >= commit_seconds):
                    commit()
        finally:
            commit()
    else:
        for start in range(0, len(missing), batch_size):
            batch_keys = missing[start : start + batch_size]
            batch_items = [tuple(first[k]) for k in batch_keys]
            t_batch = time.perf_counter()
            verdicts = judge.judge(batch_items)
            if len(verdicts) != len(batch_items):
                raise RuntimeError(f"judge {judge.name} returned {len(verdicts)} verdicts for {len(batch_items)} items")
            per_item_ms = (time.perf_counter() - t_batch) * 1000 / max(1, len(batch_items))
            rows = []
            for k, it, v in zip(batch_keys, batch_items, verdicts):
                if isinstance(v, NotJudged):  # a transport failure: no verdict, nothing stored, asked again next time
                    failed[k] = v.reason
                    continue
                rows.append(row(k, it, v, per_item_ms))
            if rows:
                store.put_judgments(rows)  # committed: survives a kill of this process
            stats.computed += len(rows)
            bar.update(len(batch_keys))
    bar.close()
    stats.failed = len(failed)
    stats.failure = next(iter(failed.values()), None)
    stored = store.fetch_judgments([k for k in first if k not in failed])
    lost = [k for k in first if k not in stored and k not in failed]
    if lost:
        raise RuntimeError(f"{len(lost)} verdicts missing from the store after judging (first key {lost[0]})")
    verdicts = [Verdict.from_row(stored[k]) if k in stored else None for k in keys]
    stats.invalid = sum(v is not None and not has_verdict(v) for v in verdicts)
    stats.seconds = time.perf_counter() - t0
    if failed and not allow_failed:
        raise JudgingFailed(f"judge {judge.name} could not judge {len(failed)} of {len(first)} items now (nothing "
                            f"stored for them; {stats.computed} new verdicts were committed; a re-run asks again). "
                            f"First failure: {stats.failure}", stats)
    return verdicts, keys, stats


# ---------------------------------------------------------------------- retries of invalid verdicts
def has_verdict(v: Verdict) -> bool:
    """A verdict that says something: a parsed score or label, or a reward model's scalar."""
    return v.score is not None or v.label is not None or v.reward is not None


class JudgeUnderNewKeys:
    """``judge`` itself (name, fingerprint, the batch call) whose decoding gains ``extra``: its verdicts are stored
    under keys of their own. Base of `RetryAttempt` and of `sampling.ConsistencySample`."""

    def __init__(self, judge: Judge, **extra: Any):
        self._judge = judge
        self._extra = extra

    def __getattr__(self, name: str) -> Any:
        return getattr(self._judge, name)

    @property
    def decoding(self) -> dict:
        return {**self._judge.decoding, **self._extra}

    def judge(self, items):
        return self._judge.judge(items)


class RetryAttempt(JudgeUnderNewKeys):
    """Judge ``judge`` again, unchanged, under new keys: its decoding gains ``attempt``. Everything else (name,
    fingerprint, the batch call) is the judge's own. Useful for judges that sample; a greedy judge answers the
    same again, so judges with something better to change on a retry define ``for_attempt`` instead."""

    def __init__(self, judge: Judge, attempt: int):
        super().__init__(judge, attempt=attempt)
        self.attempt = attempt


def attempt_judge(judge: Judge, attempt: int) -> Judge:
    """The judge of retry ``attempt``: the judge itself for 0; else its ``for_attempt(attempt)`` where it has one
    (the HTTP judges: a larger token budget and another seed), else `RetryAttempt`. The decoding of every
    attempt > 0 carries ``attempt``, so each attempt has its own keys and attempt 0's keys never change."""
    if attempt == 0:
        return judge
    make = getattr(judge, "for_attempt", None)
    return make(attempt) if make is not None else RetryAttempt(judge, attempt)


@dataclass
class RetryStats:
    """What `judge_with_retries` did. Counts are per item (position in ``items``)."""

    requested: int = 0
    attempts: list[JudgingStats] = field(default_factory=list)  #: one per attempt that had items
    attempt: list[int | None] = field(default_factory=list)  #: per item: the attempt its verdict is from (None: none)
    recovered: int = 0  #: items with a valid verdict from a retry (attempt > 0)
    invalid: int = 0  #: items still invalid after every attempt (their last verdict is returned)
    failed: int = 0  #: items with no verdict at all (every attempt failed in transport): returned as None

    @property
    def computed(self) -> int:
        return sum(s.computed for s in self.attempts)

    @property
    def reused(self) -> int:
        return sum(s.reused for s in self.attempts)

    @property
    def retried(self) -> int:
        """Item-attempts beyond the first (what the retries asked for, from the store or the judge)."""
        return sum(s.requested for s in self.attempts[1:])

    @property
    def failure(self) -> str | None:
        return next((s.failure for s in self.attempts if s.failure), None)


def judge_with_retries(
    judge: Judge,
    items: Sequence[Sequence[str]],
    store: JudgmentStore,
    attempts: int = 3,
    valid: Callable[[Verdict], bool] = has_verdict,
    **kwargs: Any,
) -> tuple[list[Verdict | None], list[str | None], RetryStats]:
    """Verdicts for ``items`` (in order), asking again where one is invalid, up to ``attempts`` attempts in all.

    Attempt 0 judges every item (`judge_through_store`, same keys as without retries). Attempt k judges, with
    `attempt_judge` (judge, k), the items whose verdict is still not ``valid`` or was not obtained
    (`NotJudged`). An item gets its first valid verdict; if none, its last verdict (invalid; counted in
    ``stats.invalid``) or None where no attempt got one (``stats.failed``). The keys returned are those of
    the verdicts returned (None with None). ``kwargs`` go to `judge_through_store` (run_id, batch_size, ...).
    Never raises for invalid or failed items: the caller decides what to drop.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, got {attempts}")
    items = [tuple(it) for it in items]
    verdicts: list[Verdict | None] = [None] * len(items)
    keys: list[str | None] = [None] * len(items)
    stats = RetryStats(requested=len(items), attempt=[None] * len(items))
    todo = list(range(len(items)))
    desc = kwargs.pop("desc", None)
    for a in range(attempts):
        if not todo:
            break
        got, got_keys, st = judge_through_store(attempt_judge(judge, a), [items[i] for i in todo], store,
                                                allow_failed=True, desc=desc if a == 0 else f"retry {a} of {judge.name}",
                                                **kwargs)
        stats.attempts.append(st)
        again = []
        for i, v, k in zip(todo, got, got_keys):
            if v is not None:  # a failed retry keeps the earlier (invalid) verdict
                verdicts[i], keys[i], stats.attempt[i] = v, k, a
            if v is None or not valid(v):
                again.append(i)
        todo = again
    for i, v in enumerate(verdicts):
        if v is None:
            stats.failed += 1
        elif not valid(v):
            stats.invalid += 1
        elif stats.attempt[i]:
            stats.recovered += 1
    return verdicts, keys, stats
