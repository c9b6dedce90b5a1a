"""Build the judges a study config names: the gold judge and each trained judge variant.

Every asset that scores with a judge builds it here, so a judge has one identity (fingerprint) across
gold labelling, the judge report, policy rewards and checkpoint evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from judge_pipeline.backends.served_model import served_client
from judge_pipeline.config import StudyConfig
from judge_pipeline.judging.gold_rules import RuleGoldJudge
from judge_pipeline.judging.http_judge import HTTPJudgeConfig, HTTPPointwiseJudge, build_http_gold_judges, write_rubrics
from judge_pipeline.judging.pairwise_judge import PairwiseLLMJudge
from judge_pipeline.judging.pointwise_judge import PointwiseLLMJudge
from judge_pipeline.judging.reward_model_judge import RewardModelJudge
from judge_pipeline.judging.served_judge import ServedPairwiseJudge, ServedPointwiseJudge
from judge_pipeline.judging.verdict import Judge
from judge_pipeline.sources.ifeval import constraints_table, load_ifeval
from judge_pipeline.store import JudgmentStore


GOLD_JUDGES = ("rules", "http")


def build_gold_judge(cfg: StudyConfig) -> Judge:
    """The configured gold judge: the local rule judge (miniature) or an OpenAI-compatible LLM judge over
    HTTP (paper: gpt-oss-120b; endpoint, model and effort from JUDGE_PIPELINE_GOLD_* variables)."""
    if cfg.gold_judge == "rules":
        return RuleGoldJudge(constraints_table(load_ifeval()))
    if cfg.gold_judge == "http":
        return HTTPPointwiseJudge(HTTPJudgeConfig.from_env())
    raise ValueError(f"gold judge {cfg.gold_judge!r} is not one of {GOLD_JUDGES}")


@dataclass
class StoredRubrics:
    """Rubrics written by an LLM gold judge, through the store (each prompt's rubric is asked for once)."""

    writer: Judge
    store: JudgmentStore
    cache: dict[str, str] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        return self.writer.fingerprint

    def prefetch(self, prompts: list[str]) -> None:
        """Ask for every missing rubric in one batched, concurrent call (the server sees them all at once)."""
        todo = sorted({p for p in prompts if p not in self.cache})
        if todo:
            texts, _ = write_rubrics(self.writer, todo, self.store, batch_size=64)
            for p, t in zip(todo, texts):
                if t is None:
                    raise RuntimeError(f"the gold judge wrote no rubric for prompt {p[:60]!r}")
                self.cache[p] = t

    def rubric(self, prompt: str) -> str:
        self.prefetch([prompt])
        return self.cache[prompt]


def build_rubric_source(cfg: StudyConfig, store: JudgmentStore | None = None):
    """Where rubric judges get their instruction-specific rubric: an object with ``rubric(prompt) -> str`` and
    ``fingerprint``. The rule gold judge writes it itself; an HTTP gold judge's rubrics go through ``store``."""
    if cfg.gold_judge == "rules":
        return build_gold_judge(cfg)
    if store is None:
        raise ValueError("an HTTP gold judge's rubrics need the judgment store")
    return StoredRubrics(build_http_gold_judges(HTTPJudgeConfig.from_env())["rubric"], store)


def build_training_judge(cfg: StudyConfig, variant: str, checkpoint: str | Path, name: str | None = None,
                         role: str = "training", store: JudgmentStore | None = None, as_reward: bool = False) -> Judge:
    """Judge variant ``variant`` of ``cfg`` loaded from ``checkpoint`` (its trained folder, or its base model
    for the untrained reference, then under another ``name``). ``as_reward``: the judge that scores a policy,
    whose reasoning trace is sampled as `PolicyTrainConfig.judge_temperature` etc. say (the report's is greedy).
    A variant with ``serving="http"`` answers from the server(s) of its trained checkpoint (`served_judge`); the
    untrained reference (another ``name``) always runs here."""
    j = cfg.judge(variant)
    name = name or variant
    common = dict(name=name, role=role, device=cfg.device, **({"max_length": j.context_length} if j.context_length else {}))
    if j.kind == "reward_model":
        return RewardModelJudge(checkpoint, **{"max_length": j.max_length, **common})
    served = {}
    if j.serving == "http" and name == variant:  # the trained checkpoint (the untrained reference runs here)  # the checkpoint folder behind `vllm serve`: the same judge, its model answering remotely
        served = dict(client=served_client(f"judge_{variant}", checkpoint))
    if j.kind == "pairwise":
        return (ServedPairwiseJudge if served else PairwiseLLMJudge)(
            checkpoint, template_version=j.template, reasoning=j.reasoning, max_new_tokens=j.max_new_tokens,
            **served, **common)
    rubric = {}
    if j.rubric:
        source = build_rubric_source(cfg, store)
        rubric = dict(rubric_fn=source.rubric, rubric_version=source.fingerprint)
    sampling = {}
    if as_reward and j.reasoning and cfg.policy.judge_temperature > 0:
        p = cfg.policy
        sampling = dict(temperature=p.judge_temperature, top_k=p.judge_top_k, top_p=p.judge_top_p)
    return (ServedPointwiseJudge if served else PointwiseLLMJudge)(
        checkpoint, template_version=j.template, reasoning=j.reasoning, max_new_tokens=j.max_new_tokens, **sampling,
        **rubric, **served, **common)
