"""Stage 3: GRPO of each policy against each training judge (or judge ensemble), checkpoints every k steps.

Each (policy x reward) is a partition; the reward is a judge variant or an ensemble of them
(`training/policy_rewards.py`: expected score, pairwise group win rate, conservative ensembles),
computed through the store, so every rollout's verdict is kept. A run is repeated only when its
inputs (policy weights, judge weights, RL prompts, hyper-parameters) changed.
"""


import dataclasses

import polars as pl
from dagster import AssetExecutionContext, asset

from judge_pipeline import schemas
from judge_pipeline.assets.metadata import md_table, table_type
from judge_pipeline.assets.partitions import ALL_JUDGES, RUN_PARTITION_META, policy_and_judge, policy_judge_partitions, reward_judges
from judge_pipeline.backends.hf_models import materialize_base_model
from judge_pipeline.fsutil import record_inputs, reuse_if_unchanged
from judge_pipeline.resources import WANDB_RESOURCE_KEYS, StudyResource, TrackerResource
from judge_pipeline.store import content_key
from judge_pipeline.store.keys import checkpoint_hash
from judge_pipeline.tracking import log_table
from judge_pipeline.training.policy_grpo import train_policy_grpo
from judge_pipeline.training.policy_rewards import build_policy_reward

MANIFEST = "manifest.json"


@asset(group_name="policies", partitions_def=policy_judge_partitions, metadata=RUN_PARTITION_META, required_resource_keys=WANDB_RESOURCE_KEYS,
       ins={"judge_checkpoint": ALL_JUDGES}, dagster_type=table_type(schemas.PolicyCheckpoints))
def policy_checkpoints(context: AssetExecutionContext, study: StudyResource, tracker: TrackerResource,
                       judge_checkpoint: pl.DataFrame, rl_prompts: pl.DataFrame) -> pl.DataFrame:
    """A GRPO run of the policy against the training judge; one row per saved checkpoint (step 0 = initial)."""
    cfg = study.cfg
    policy, variant = policy_and_judge(context)
    judges = reward_judges(cfg, variant, judge_checkpoint)
    base = materialize_base_model(cfg.models[policy])
    prompts = rl_prompts["prompt"].to_list()
    pcfg = dataclasses.replace(cfg.policy, policy_model=policy)
    run_dir = study.policy_dir(policy, variant)
    hashes = [j["checkpoint_hash"] for j in judges.values()]
    fingerprint = content_key(policy=checkpoint_hash(base), judge=hashes[0] if len(hashes) == 1 else hashes, prompts=prompts,
                              cfg=dataclasses.asdict(pcfg))
    manifest = run_dir / MANIFEST
    info = reuse_if_unchanged(manifest, fingerprint)
    trained_now = info is None
    if not trained_now:
        context.log.info(f"policy run {policy} x {variant}: inputs unchanged, reusing {run_dir}")
    else:
        reward = build_policy_reward(cfg, variant, {v: j["path"] for v, j in judges.items()}, study.store(),
                                     run_id=context.run.run_id)
        with tracker.run(f"grpo-{policy}-{variant}", config={"policy": policy, "judge": variant,
                                                              **dataclasses.asdict(pcfg)}, job_type="policy_grpo") as run:
            res = train_policy_grpo(base, prompts, [reward], pcfg, run_dir, device=cfg.device, report_to=tracker.report_to)
            log_table(run, "rollouts", pl.DataFrame(reward.history[-64:]))
        rewards_by_step = {int(h["step"]): h.get("reward") for h in res.log_history if "reward" in h}
        info = record_inputs(
            manifest, fingerprint,
            checkpoints=[[s, str(p)] for s, p in res.checkpoints],
            reward_by_step=rewards_by_step,
            seconds_per_step=res.seconds_per_step,
            invalid_judge_outputs=reward.invalid,
            verdicts_computed=reward.verdicts_computed,
        )
    rewards = {int(k): v for k, v in info["reward_by_step"].items()}
    df = pl.DataFrame([
        {"policy": policy, "judge_variant": variant, "step": int(s), "path": p, "checkpoint_hash": checkpoint_hash(p),
         "train_reward_mean": rewards.get(int(s)), "seconds_per_step": float(info["seconds_per_step"])}
        for s, p in info["checkpoints"]
    ], schema_overrides={"train_reward_mean": pl.Float64})
    context.add_output_metadata({
        "checkpoints": md_table(df.select("step", "path", "train_reward_mean")),
        "seconds_per_step": round(float(info["seconds_per_step"]), 2),
        "invalid_judge_outputs": int(info["invalid_judge_outputs"]),
        "rollout_verdicts": int(info["verdicts_computed"]),
        "trained_now": trained_now,
        "computed_now": int(info["verdicts_computed"]) if trained_now else 0,
    })
    return df
