"""Rewards a policy is trained on (STUDY stage 3), as TRL expects them: ``f(prompts, completions, **kw) -> list[float]``.

- `JudgeReward`: a pointwise judge's expected score Σ x·p(x) (a reward model's scalar for a BT judge);
- `PairwiseWinRateReward`: each rollout's mean win rate against the other G-1 rollouts of its prompt,
  every pair judged in both orders (G(G-1) verdicts per prompt: the cost is counted);
- `EnsembleReward`: a conservative ensemble of judges (Coste et al. 2024): the mean, the worst case, or
  mean - λ·variance of the members' rewards.

Every verdict goes through the store, so every rollout's verdict and trace are kept. What an invalid
judge output is worth is configurable (``invalid_reward``; for a pairwise game ``invalid_game``) and
every such case is counted. Each reward also scores evaluation answers (`score_answers`), so the proxy
curve of a run uses the rule the policy was trained on: the pairwise one against the initial policy's
answer to the same prompt.

Each reward has an ``identity``: everything in its path that changes a reward value (each judge's
fingerprint, decoding and kind, what an invalid verdict is worth, the ensemble's aggregate and λ). A policy
run's fingerprint includes it, so editing any of them retrains instead of reusing a stale run.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from judge_pipeline.config import PolicyTrainConfig, StudyConfig
from judge_pipeline.judging.builders import build_training_judge
from judge_pipeline.judging.cached import judge_through_store
from judge_pipeline.judging.verdict import Judge
from judge_pipeline.store import JudgmentStore, content_key

#: what the proxy score of each judge kind measures (a column of checkpoint_scores)
PROXY_SCALES = {"pointwise": "score_0_9", "reward_model": "reward_model_scalar", "pairwise": "win_rate_vs_initial"}
MIXED_SCALE = "ensemble_mixed"  #: an ensemble whose members score on different scales (0-9 and a reward-model scalar)


def proxy_scale(cfg: StudyConfig, name: str) -> str:
    """The scale of reward ``name``'s proxy score: its judge kind's, or for an ensemble its members' common scale
    (``MIXED_SCALE`` when they differ: the aggregate of a 0-9 score and an unbounded scalar is on neither)."""
    scales = {PROXY_SCALES[cfg.judge(v).kind] for v in cfg.reward_judges(name)}
    return scales.pop() if len(scales) == 1 else MIXED_SCALE


def message_text(x) -> str:
    """The text of a TRL prompt/completion, conversational (list of messages) or plain."""
    if isinstance(x, str):
        return x
    if isinstance(x, list) and x and isinstance(x[-1], dict):
        if x[-1].get("role") == "assistant":
            return str(x[-1].get("content", ""))
        users = [m for m in x if m.get("role") == "user"]
        return str((users[-1] if users else x[-1]).get("content", ""))
    return str(x)


#: rollouts a reward keeps (the rows of the run's W&B "rollouts" table): a run's whole history would grow without bound
ROLLOUTS_KEPT = 64
USE_CONTEXT = "policy_reward"  #: judgment_uses.context of a GRPO reward's verdicts


def record_reward_uses(store: JudgmentStore, name: str, run_id: str | None, keys: Sequence[str], kwargs: dict) -> None:
    """Record where a GRPO reward's verdicts were used, so the store's judge_cost_ledger prices each RL step: context
    `USE_CONTEXT`, partition ``reward=<name>|run=<Dagster run>``, step the trainer's global step (TRL gives reward
    functions ``trainer_state``). Outside a trainer (no ``trainer_state``) nothing is recorded."""
    state = kwargs.get("trainer_state")
    if state is None or not keys:
        return
    store.record_uses([{"key": k, "context": USE_CONTEXT, "partition_key": f"reward={name}|run={run_id or ''}",
                        "step": int(state.global_step), "item_id": str(i)} for i, k in enumerate(keys)])


def rollout_history() -> deque:
    """The last `ROLLOUTS_KEPT` rollouts of a reward (prompt, completion, reward, ...); older ones are dropped."""
    return deque(maxlen=ROLLOUTS_KEPT)


@dataclass
class Scored:
    """Proxy scores of evaluation answers: one value per answer (None = invalid verdict), the store keys of
    the verdicts behind each, and how many verdicts were computed now."""

    values: list[float | None]
    keys: list[list[str]]
    computed: int


@dataclass
class JudgeReward:
    """Pointwise judge expected score (or reward-model scalar) as a GRPO reward."""

    judge: Judge
    store: JudgmentStore
    invalid_reward: float = 0.0
    run_id: str | None = None
    batch_size: int = 16
    calls: int = 0  #: reward-function invocations
    verdicts_computed: int = 0
    invalid: int = 0
    history: deque = field(default_factory=rollout_history)  #: the last rollouts: prompt, completion, reward, ...

    @property
    def __name__(self) -> str:  # TRL logs rewards under the function's name
        return f"judge_{self.judge.name}"

    @property
    def identity(self) -> dict:
        """What decides this reward's values: the judge's identity and decoding, and the invalid reward."""
        return {"reward": "expected_score", **judge_identity(self.judge), "invalid_reward": self.invalid_reward}

    def _verdicts(self, items, progress=False):
        verdicts, keys, stats = judge_through_store(self.judge, items, self.store, self.run_id,
                                                    batch_size=self.batch_size, progress=progress)
        self.verdicts_computed += stats.computed
        return verdicts, keys, stats

    def __call__(self, prompts, completions, **kwargs) -> list[float]:
        items = [(message_text(p), message_text(c)) for p, c in zip(prompts, completions)]
        verdicts, keys, _ = self._verdicts(items)
        record_reward_uses(self.store, self.judge.name, self.run_id, keys, kwargs)
        self.calls += 1
        rewards = []
        for (p, c), v, k in zip(items, verdicts, keys):
            value = v.reward_value
            if value is None:
                self.invalid += 1
                value = self.invalid_reward
            rewards.append(float(value))
            self.history.append({"call": self.calls, "prompt": p, "completion": c, "reward": float(value),
                                 "judge_raw": v.raw_output, "invalid_reason": v.invalid_reason, "key": k})
        return rewards

    def score_answers(self, prompts: Sequence[str], answers: Sequence[str], baselines: Sequence[str] | None = None,
                      progress: bool = True) -> Scored:
        verdicts, keys, stats = judge_through_store(self.judge, list(zip(prompts, answers)), self.store, self.run_id,
                                                    batch_size=self.batch_size, progress=progress)
        return Scored([v.reward_value for v in verdicts], [[k] for k in keys], stats.computed)


def judge_identity(judge: Judge) -> dict:
    """A judge's part of a reward's identity: its fingerprint (model, checkpoint with tokenizer and chat template,
    template text, rubric source), its decoding (trace length and sampling, context length) and its kind."""
    return {"judge": judge.fingerprint, "decoding": judge.decoding, "kind": judge.kind}


def _game_outcome(label: int | None, first_is_candidate: bool, invalid: float) -> float:
    if label is None:
        return invalid
    return float((label == 1) == first_is_candidate)


@dataclass
class PairwiseWinRateReward:
    """Each rollout's average win rate against the other rollouts of the same prompt, both orders judged."""

    judge: Judge
    store: JudgmentStore
    invalid_game: float = 0.5  #: outcome of a game whose verdict is invalid (0.5 = a tie)
    run_id: str | None = None
    batch_size: int = 16
    calls: int = 0
    games: int = 0  #: verdicts asked for (both orders of every pair): the cost, G(G-1) per prompt
    verdicts_computed: int = 0
    invalid: int = 0
    history: deque = field(default_factory=rollout_history)

    @property
    def __name__(self) -> str:
        return f"pairwise_win_rate_{self.judge.name}"

    @property
    def identity(self) -> dict:
        return {"reward": "pairwise_win_rate", **judge_identity(self.judge), "invalid_game": self.invalid_game}

    def __call__(self, prompts, completions, **kwargs) -> list[float]:
        texts = [(message_text(p), message_text(c)) for p, c in zip(prompts, completions)]
        groups: dict[str, list[int]] = {}
        for i, (p, _) in enumerate(texts):
            groups.setdefault(p, []).append(i)
        pairs = [(i, j) for idx in groups.values() for i in idx for j in idx if i != j]
        items = [(texts[i][0], texts[i][1], texts[j][1]) for i, j in pairs]
        verdicts, keys, stats = judge_through_store(self.judge, items, self.store, self.run_id, batch_size=self.batch_size,
                                                    progress=False)
        record_reward_uses(self.store, self.judge.name, self.run_id, keys, kwargs)
        self.calls += 1
        self.games += len(items)
        self.verdicts_computed += stats.computed
        self.invalid += sum(v.label is None for v in verdicts)
        outcomes: dict[int, list[float]] = {i: [] for i in range(len(texts))}
        for (i, j), v in zip(pairs, verdicts):
            outcomes[i].append(_game_outcome(v.label, True, self.invalid_game))
            outcomes[j].append(_game_outcome(v.label, False, self.invalid_game))
        rewards = [float(np.mean(outcomes[i])) if outcomes[i] else 0.5 for i in range(len(texts))]
        for (p, c), r in zip(texts, rewards):
            self.history.append({"call": self.calls, "prompt": p, "completion": c, "reward": r})
        return rewards

    def score_answers(self, prompts: Sequence[str], answers: Sequence[str], baselines: Sequence[str] | None = None,
                      progress: bool = True) -> Scored:
        """Win rate of each answer against the baseline answer to its prompt (both orders; invalid games count
        as ``invalid_game``; an answer whose two verdicts are both invalid gets None)."""
        if baselines is None:
            raise ValueError("a pairwise proxy scores answers against baseline answers (the initial policy's)")
        items = [it for p, a, b in zip(prompts, answers, baselines) for it in ((p, a, b), (p, b, a))]
        verdicts, keys, stats = judge_through_store(self.judge, items, self.store, self.run_id,
                                                    batch_size=self.batch_size, progress=progress)
        values = []
        for k in range(0, len(items), 2):
            first, second = verdicts[k], verdicts[k + 1]
            if first.label is None and second.label is None:
                values.append(None)
            else:
                values.append((_game_outcome(first.label, True, self.invalid_game)
                               + _game_outcome(second.label, False, self.invalid_game)) / 2)
        return Scored(values, [keys[k:k + 2] for k in range(0, len(keys), 2)], stats.computed)


AGGREGATES = ("mean", "worst_case", "mean_minus_var")


def aggregate(values: np.ndarray, how: str, lam: float = 1.0) -> np.ndarray:
    """Combine members' rewards (members x items): mean, worst case (min), or mean - lam * variance."""
    values = np.asarray(values, dtype=float)
    if how == "mean":
        return values.mean(axis=0)
    if how == "worst_case":
        return values.min(axis=0)
    if how == "mean_minus_var":
        return values.mean(axis=0) - lam * values.var(axis=0)
    raise ValueError(f"unknown ensemble aggregate {how!r}; expected one of {AGGREGATES}")


@dataclass
class EnsembleReward:
    """A conservative ensemble of pointwise judges (each a `JudgeReward`, with its own invalid handling)."""

    members: list[JudgeReward]
    how: str = "mean"
    lam: float = 1.0
    name: str = "ensemble"
    history: deque = field(default_factory=rollout_history)

    def __post_init__(self):
        if len(self.members) < 2:
            raise ValueError("an ensemble needs at least two judges")
        aggregate(np.zeros((2, 1)), self.how, self.lam)  # validates `how`

    @property
    def __name__(self) -> str:
        return self.name

    @property
    def identity(self) -> dict:
        """The aggregate (λ only where it is used) and each member's identity, in the configured order."""
        return {"reward": "ensemble", "aggregate": self.how, "lam": self.lam if self.how == "mean_minus_var" else None,
                "members": [m.identity for m in self.members]}

    @property
    def invalid(self) -> int:
        return sum(m.invalid for m in self.members)

    @property
    def verdicts_computed(self) -> int:
        return sum(m.verdicts_computed for m in self.members)

    def __call__(self, prompts, completions, **kwargs) -> list[float]:
        per_member = np.array([m(prompts, completions, **kwargs) for m in self.members])  # kwargs: trainer_state
        rewards = aggregate(per_member, self.how, self.lam).tolist()
        for i, (p, c) in enumerate(zip(prompts, completions)):
            self.history.append({"prompt": message_text(p), "completion": message_text(c), "reward": rewards[i],
                                 **{f"reward_{m.judge.name}": float(per_member[k, i]) for k, m in enumerate(self.members)}})
        return rewards

    def score_answers(self, prompts: Sequence[str], answers: Sequence[str], baselines: Sequence[str] | None = None,
                      progress: bool = True) -> Scored:
        scored = [m.score_answers(prompts, answers, progress=progress) for m in self.members]
        values = []
        for i in range(len(answers)):
            column = [s.values[i] for s in scored]
            values.append(None if any(v is None for v in column)
                          else float(aggregate(np.array(column)[:, None], self.how, self.lam)[0]))
        keys = [[k for s in scored for k in s.keys[i]] for i in range(len(answers))]
        return Scored(values, keys, sum(s.computed for s in scored))


def build_policy_reward(cfg: StudyConfig, name: str, judge_paths: dict[str, str], store: JudgmentStore,
                        run_id: str | None = None):
    """The reward named ``name`` (a judge variant or an ensemble of `cfg.ensembles`), built on the trained
    judges at ``judge_paths`` (variant -> checkpoint folder)."""
    invalid = cfg.policy.invalid_reward

    def judge_reward(variant: str) -> JudgeReward:
        return JudgeReward(build_training_judge(cfg, variant, judge_paths[variant], store=store, as_reward=True), store,
                           invalid_reward=invalid, run_id=run_id)

    kind = cfg.reward_kind(name)
    if kind == "ensemble":
        ens = cfg.ensemble(name)
        return EnsembleReward([judge_reward(m) for m in ens.members], ens.aggregate, ens.lam, name=name)
    if kind == "pairwise":
        return PairwiseWinRateReward(build_training_judge(cfg, name, judge_paths[name], store=store), store,
                                     invalid_game=cfg.policy.invalid_game, run_id=run_id)
    return judge_reward(name)


#: PolicyTrainConfig fields that do not change a GRPO run (where its checkpoints answer when evaluated)
NOT_RUN_FIELDS = ("serving",)


def policy_run_fingerprint(policy_hash: str, reward_identity: dict, prompts: Sequence[str], pcfg: PolicyTrainConfig) -> str:
    """The identity of one GRPO run (its manifest's fingerprint): the initial policy's checkpoint hash, the
    reward's ``identity`` (judges, their decoding, invalid handling, ensemble aggregate), the RL prompts and
    the run's hyper-parameters (seed included). Any change retrains; nothing else does."""
    cfg = {k: v for k, v in dataclasses.asdict(pcfg).items() if k not in NOT_RUN_FIELDS}
    if cfg.get("rollouts") == "transformers":  # the default (and the only path before the field): old runs keep their key
        del cfg["rollouts"]
    return content_key(policy=policy_hash, reward=reward_identity, prompts=list(prompts), cfg=cfg)
