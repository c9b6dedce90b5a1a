"""Stage 3: GRPO of each policy against each training judge (or judge ensemble), checkpoints every k steps.

Each (policy x reward) is a partition; the reward is a judge variant or an ensemble of them
(`training/policy_rewards.py`: expected score, pairwise group win rate, conservative ensembles),
computed through the store, so every rollout's verdict is kept. A run is repeated only when its
inputs changed: the policy checkpoint (weights, tokenizer, chat template), the RL prompts, the
hyper-parameters, and the reward's identity (`PolicyReward.identity`: each judge's fingerprint, with its
checkpoint, template text and rubric source, its decoding, e.g. max_new_tokens, context length and trace
sampling, what an invalid verdict is worth, an ensemble's aggregate and λ).
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
from judge_pipeline.store.keys import checkpoint_hash
from judge_pipeline.tracking import log_table
from judge_pipeline.training.policy_grpo import train_policy_grpo
from judge_pipeline.training.policy_rewards import build_policy_reward, policy_run_fingerprint

MANIFEST = "manifest.json"


@asset(group_name="policies", partitions_def=policy_judge_partitions, metadata=RUN_PARTITION_META, required_resource_keys=WANDB_RESOURCE_KEYS,
       ins={"judge_checkpoint": ALL_JUDGES}, dagster_type=table_type(schemas.PolicyCheckpoints))
def policy_checkpoints(context: AssetExecutionContext, study: StudyResource, tracker: TrackerResource,
                       judge_checkpoint: pl.DataFrame, rl_prompts: pl.DataFrame) -> pl.DataFrame:
    """GRPO runs of the policy against the training judge, one per seed; one row per saved checkpoint and seed
    (step 0 = the initial policy, shared by every seed)."""
    cfg = study.cfg
    policy, variant = policy_and_judge(context)
    judges = reward_judges(cfg, variant, judge_checkpoint)
    base = materialize_base_model(cfg.models[policy])
    prompts = rl_prompts["prompt"].to_list()
    runs = [_train_seed(context, study, tracker, base, policy, variant, judges, prompts, seed) for seed in cfg.policy.seeds]
    df = pl.DataFrame([
        {"policy": policy, "judge_variant": variant, "seed": seed, "step": int(s), "path": p,
         "checkpoint_hash": checkpoint_hash(p), "train_reward_mean": info["rewards"].get(int(s)),
         "seconds_per_step": float(info["seconds_per_step"])}
        for seed, info in zip(cfg.policy.seeds, runs) for s, p in info["checkpoints"]
    ], schema_overrides={"train_reward_mean": pl.Float64})
    context.add_output_metadata({
        "checkpoints": md_table(df.select("seed", "step", "path", "train_reward_mean")),
        "seconds_per_step": round(sum(float(r["seconds_per_step"]) for r in runs) / len(runs), 2),
        "invalid_judge_outputs": sum(int(r["invalid_judge_outputs"]) for r in runs),
        "rollout_verdicts": sum(int(r["verdicts_computed"]) for r in runs),
        "trained_now": sum(r["trained_now"] for r in runs),  # seeds trained in this run
        "computed_now": sum(int(r["verdicts_computed"]) for r in runs if r["trained_now"]),
    })
    return df


def _train_seed(context, study: StudyResource, tracker: TrackerResource, base, policy: str, variant: str,
                judges: dict[str, dict], prompts: list[str], seed: int) -> dict:
    """One seed's GRPO run (or its manifest, when its inputs did not change): checkpoints, rewards, timing."""
    cfg = study.cfg
    pcfg = dataclasses.replace(cfg.policy, policy_model=policy, seed=seed, seeds=(seed,))  # other seeds do not matter here
    run_dir = study.policy_dir(policy, variant, seed)
    reward = build_policy_reward(cfg, variant, {v: j["path"] for v, j in judges.items()}, study.store(),
                                 run_id=context.run.run_id)  # builds judges (hashes checkpoints), loads no model
    fingerprint = policy_run_fingerprint(checkpoint_hash(base), reward.identity, prompts, pcfg)
    manifest = run_dir / MANIFEST
    info = reuse_if_unchanged(manifest, fingerprint)
    trained_now = info is None
    if not trained_now:
        context.log.info(f"policy run {policy} x {variant} seed {seed}: inputs unchanged, reusing {run_dir}")
    else:
        with tracker.run(f"grpo-{policy}-{variant}-seed{seed}", config={"policy": policy, "judge": variant,
                                                                        **dataclasses.asdict(pcfg)}, job_type="policy_grpo") as run:
            res = train_policy_grpo(base, prompts, [reward], pcfg, run_dir, device=cfg.device, report_to=tracker.report_to)
            log_table(run, "rollouts", pl.DataFrame(reward.history[-64:]))
        info = record_inputs(
            manifest, fingerprint,
            checkpoints=[[s, str(p)] for s, p in res.checkpoints],
            reward_by_step={int(h["step"]): h.get("reward") for h in res.log_history if "reward" in h},
            seconds_per_step=res.seconds_per_step,
            invalid_judge_outputs=reward.invalid,
            verdicts_computed=reward.verdicts_computed,
        )
    return {**info, "rewards": {int(k): v for k, v in info["reward_by_step"].items()}, "trained_now": trained_now}
