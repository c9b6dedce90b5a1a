"""The answers the deception-transfer matrix compares, and their verdicts by every judge of the study.

A *row* of the matrix is a policy run (``policy=P|judge=J|seed=S``: trained against judge J) or a canary
(``canary=<name>``). Its answers (`Answer`) are, per *item* (a prompt and a decoding):

- for a run, every greedy answer in the store's ``generations`` of its first checkpoint (step 0, the initial policy)
  and of its last one: whatever evaluation asked for them (`checkpoint_scores` on the scored prompts, the Arena-Hard
  assets on their questions), looked up by the checkpoints' weight hashes;
- for a canary (`canaries.py`), on the first `EvalConfig.canary_prompts` scored prompts: step 0 is the initial
  policy's answer, step 1 the canary response, as if a policy had collapsed into it.

`score_for_transfer` asks every judge it can build for its verdicts on them, through the store (content-keyed: a
re-run makes no model call): the gold judge, each trained judge as the reward it is (`build_policy_reward`: a
pairwise judge's win rate against the row's start answer) and each external judge on the items its files cover.
Every verdict's use is recorded under context ``transfer_matrix`` with the row, step and item: gold's uses define the
answers of the store's ``transfer_answers`` view, and any other judge with verdicts on those answers (the Arena-Hard
judge, a judge scored elsewhere) joins the matrix there without being asked here (``transfer_scores``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import polars as pl

from judge_pipeline.config import StudyConfig
from judge_pipeline.judging.builders import build_gold_judge
from judge_pipeline.judging.canaries import canary_responses
from judge_pipeline.judging.external import ExternalJudge
from judge_pipeline.store import JudgmentStore, text_hash
from judge_pipeline.training.policy_rewards import JudgeReward, PairwiseWinRateReward, build_policy_reward

CONTEXT = "transfer_matrix"  #: judgment_uses.context of every verdict this module asks for


@dataclass(frozen=True)
class Answer:
    """One answer of a matrix row: its row, step, item (prompt + decoding), texts, and the row's start answer."""

    run: str  #: "policy=P|judge=J|seed=S" or "canary=<name>"
    step: int
    item_id: str
    prompt: str
    response: str
    start: str  #: the row's answer to the same item at its first step (a pairwise judge's opponent)


def run_key(policy: str, reward: str, seed: int) -> str:
    """A run's row name, as `checkpoint_scores` names its partition in the store's uses."""
    return f"policy={policy}|judge={reward}|seed={seed}"


def run_endpoints(policy_checkpoints: pl.DataFrame) -> list[tuple[str, str, int, str]]:
    """(row, start checkpoint hash, final step, final checkpoint hash) of every run with more than one checkpoint."""
    out = []
    for (policy, reward, seed), g in policy_checkpoints.sort("step").group_by("policy", "judge_variant", "seed",
                                                                              maintain_order=True):
        if len(g) > 1:
            out.append((run_key(policy, reward, seed), g["checkpoint_hash"][0], int(g["step"][-1]), g["checkpoint_hash"][-1]))
    return sorted(out)


def item_id(prompt: str, decoding: str) -> str:
    return text_hash(prompt, decoding)[:16]


def checkpoint_answers(store: JudgmentStore, endpoints: Sequence[tuple[str, str, int, str]], study: str) -> list[Answer]:
    """Every greedy answer both endpoints of each run gave to the same item (`run_endpoints`), from the store: answers
    to the prompts ``study`` evaluated its checkpoints on (any verdict it used for a run partition)."""
    cache: dict[str, dict[str, tuple[str, str]]] = {}

    def greedy(fingerprint: str) -> dict[str, tuple[str, str]]:
        if fingerprint not in cache:
            rows = store.query("greedy_answers", fingerprint=fingerprint, study=study)
            cache[fingerprint] = {item_id(p, d): (p, c) for p, d, c in rows.select("prompt", "decoding", "completion").rows()}
        return cache[fingerprint]

    out = []
    for run, start_fp, final_step, final_fp in endpoints:
        start, final = greedy(start_fp), greedy(final_fp)
        for item in sorted(set(start) & set(final)):
            (prompt, first), (_, last) = start[item], final[item]
            out += [Answer(run, 0, item, prompt, first, first), Answer(run, final_step, item, prompt, last, first)]
    return out


def canary_answers(answers: Sequence[Answer], prompts: Sequence[str], canaries: dict[str, str] | None = None) -> list[Answer]:
    """A row per canary (`canaries.canary_responses`) on ``prompts``: step 0 the initial policy's answer (a run's
    start answer to the prompt), step 1 the canary."""
    starts: dict[str, Answer] = {}
    for a in sorted((a for a in answers if a.step == 0 and a.prompt in set(prompts)), key=lambda a: a.item_id):
        starts.setdefault(a.prompt, a)
    out = []
    for name, text in (canaries or canary_responses()).items():
        for p in prompts:
            if p in starts:
                s = starts[p]
                out += [Answer(f"canary={name}", 0, s.item_id, p, s.response, s.response),
                        Answer(f"canary={name}", 1, s.item_id, p, text, s.response)]
    return out


def scorers(cfg: StudyConfig, store: JudgmentStore, judge_paths: dict[str, str], external: Iterable[ExternalJudge] = (),
            run_id: str | None = None) -> dict[str, object]:
    """{judge name: scorer} of every judge this module asks: gold, each trained judge as its policy reward, and each
    external judge (a pointwise one as `JudgeReward`, a pairwise one as `PairwiseWinRateReward`)."""
    out: dict[str, object] = {"gold": JudgeReward(build_gold_judge(cfg), store, run_id=run_id)}
    for variant, path in sorted(judge_paths.items()):
        out[variant] = build_policy_reward(cfg, variant, {variant: path}, store, run_id=run_id)
    for ext in external:
        cls = PairwiseWinRateReward if ext.kind == "pairwise" else JudgeReward
        out[ext.name] = cls(ext, store, run_id=run_id)
    return out


def _covered(scorer, a: Answer) -> bool:
    """Whether an external judge's files hold what ``scorer`` would ask about ``a`` (other judges judge anything)."""
    judge = scorer.judge
    if not isinstance(judge, ExternalJudge):
        return True
    if judge.kind == "pairwise":
        return judge.covers((a.prompt, a.response, a.start)) and judge.covers((a.prompt, a.start, a.response))
    return judge.covers((a.prompt, a.response))


def score_for_transfer(scorers_by_name: dict[str, object], answers: Sequence[Answer], store: JudgmentStore) -> dict[str, int]:
    """Every scorer's verdicts on ``answers`` (each distinct (prompt, answer, start) once), their uses recorded under
    `CONTEXT`; returns {judge name: verdicts computed now (model calls)}."""
    computed = {}
    for name, scorer in scorers_by_name.items():
        todo = [a for a in answers if _covered(scorer, a)]
        unique = list(dict.fromkeys((a.prompt, a.response, a.start) for a in todo))
        if not unique:
            computed[name] = 0
            continue
        scored = scorer.score_answers([u[0] for u in unique], [u[1] for u in unique], baselines=[u[2] for u in unique],
                                      progress=False)
        keys = dict(zip(unique, scored.keys))
        store.record_uses([{"key": k, "context": CONTEXT, "partition_key": a.run, "step": a.step, "item_id": a.item_id}
                           for a in todo for k in keys[(a.prompt, a.response, a.start)]])
        computed[name] = scored.computed
    return computed
