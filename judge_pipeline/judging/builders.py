"""Build the judges a study config names: the gold judge and each trained judge variant.

Every asset that scores with a judge builds it here, so a judge has one identity (fingerprint) across
gold labelling, the judge report, policy rewards and checkpoint evaluation.
"""

from __future__ import annotations

from pathlib import Path

from judge_pipeline.config import StudyConfig
from judge_pipeline.judging.gold_rules import RuleGoldJudge
from judge_pipeline.judging.pairwise_judge import PairwiseLLMJudge
from judge_pipeline.judging.pointwise_judge import PointwiseLLMJudge
from judge_pipeline.judging.reward_model_judge import RewardModelJudge
from judge_pipeline.judging.verdict import Judge
from judge_pipeline.sources.ifeval import constraints_table, load_ifeval


def build_gold_judge(cfg: StudyConfig) -> RuleGoldJudge:
    """The configured gold judge (the local rule judge in the miniature)."""
    if cfg.gold_judge == "rules":
        return RuleGoldJudge(constraints_table(load_ifeval()))
    raise ValueError(f"gold judge {cfg.gold_judge!r} is not available in this version: only 'rules' is; "
                     "the OpenAI-compatible LLM gold judge (gpt-oss-120b for the paper configuration) is issue 4")


def build_training_judge(cfg: StudyConfig, variant: str, checkpoint: str | Path, name: str | None = None,
                         role: str = "training") -> Judge:
    """Judge variant ``variant`` of ``cfg`` loaded from ``checkpoint`` (its trained folder, or its base model
    for the untrained reference, then under another ``name``)."""
    j = cfg.judge(variant)
    name = name or variant
    common = dict(name=name, role=role, device=cfg.device)
    if j.kind == "reward_model":
        return RewardModelJudge(checkpoint, max_length=j.max_length, **common)
    if j.kind == "pairwise":
        return PairwiseLLMJudge(checkpoint, template_version=j.template, reasoning=j.reasoning,
                                max_new_tokens=j.max_new_tokens, **common)
    rubric = {}
    if j.rubric:
        gold = build_gold_judge(cfg)
        rubric = dict(rubric_fn=gold.rubric, rubric_version=gold.fingerprint)
    return PointwiseLLMJudge(checkpoint, template_version=j.template, reasoning=j.reasoning,
                             max_new_tokens=j.max_new_tokens, **rubric, **common)
