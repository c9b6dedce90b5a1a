"""Partitions: judge variants, and (policy x reward) for the rewards policies train against
(`StudyConfig.policy_judge_variants`: judge variants or ensembles), from the active study config."""

import json

import polars as pl
from dagster import AllPartitionMapping, AssetIn, MultiPartitionKey, MultiPartitionsDefinition, StaticPartitionsDefinition

from judge_pipeline.config import load_config

_cfg = load_config()

judge_partitions = StaticPartitionsDefinition(_cfg.judge_variants)
policy_judge_partitions = MultiPartitionsDefinition({
    "policy": StaticPartitionsDefinition(_cfg.policies),
    "judge": StaticPartitionsDefinition(_cfg.policy_judge_variants),
})
#: a (policy x reward) run reads the judge checkpoint table whole: an ensemble needs several judges
#: (`reward_judges` picks the rows). Retraining any judge marks every run stale in the UI; a run whose own
#: judges did not change is not retrained (its fingerprint holds only its judges' weights).
ALL_JUDGES = AssetIn(partition_mapping=AllPartitionMapping())



def ray_tags(num_gpus: float) -> dict[str, str]:
    """Op tags by which a step declares the GPUs it needs: dagster-ray's executor (``JUDGE_PIPELINE_EXECUTOR=ray``,
    definitions.py) asks Ray for them when it submits the step as a Ray job; other executors ignore them."""
    return {"dagster-ray/config": json.dumps({"num_gpus": num_gpus})} if num_gpus else {}


#: trainers (judge SFT/GRPO, reward model, policy GRPO): one GPU per `accelerate launch` process
TRAIN_TAGS = ray_tags(_cfg.launch.num_processes if _cfg.device == "cuda" else 0)
#: local judges and policies answering (judge reports, checkpoint scores, best-of-n): one GPU
INFERENCE_TAGS = ray_tags(1 if _cfg.device == "cuda" else 0)


def reward_judges(cfg, reward: str, judge_checkpoint: pl.DataFrame) -> dict[str, dict]:
    """{variant: judge_checkpoint row} of the judges that compute ``reward``; a clear error if one is not trained."""
    rows = {r["judge_variant"]: r for r in judge_checkpoint.iter_rows(named=True)}
    needed = cfg.reward_judges(reward)
    missing = [v for v in needed if v not in rows]
    if missing:
        raise ValueError(f"reward {reward!r} needs judge checkpoints {missing}: materialise judge_checkpoint for them first")
    return {v: rows[v] for v in needed}


def policy_and_judge(context) -> tuple[str, str]:
    key = context.partition_key
    if isinstance(key, MultiPartitionKey):
        dims = key.keys_by_dimension
    else:  # "judge|policy" string form
        dims = dict(zip(["judge", "policy"], str(key).split("|")))
    return dims["policy"], dims["judge"]

#: where the DuckDB IO manager finds each partition in an asset table
JUDGE_PARTITION_META = {"partition_expr": "judge_variant"}
RUN_PARTITION_META = {"partition_expr": {"policy": "policy", "judge": "judge_variant"}}
