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
from dagster import AssetExecutionContext, Output, PipesSubprocessClient, asset

from judge_pipeline import schemas
from judge_pipeline.assets.metadata import md_table, table_type
from judge_pipeline.assets.partitions import ALL_JUDGES, RUN_PARTITION_META, TRAIN_TAGS, policy_and_judge, policy_judge_partitions, reward_judges
from judge_pipeline.assets.trainer_launch import train_or_reuse, training_metadata
from judge_pipeline.backends.hf_models import materialize_base_model
from judge_pipeline.resources import WANDB_RESOURCE_KEYS, StudyResource, TrackerResource
from judge_pipeline.store.keys import checkpoint_hash
from judge_pipeline.training.jobs import PolicyJob, Tracking
from judge_pipeline.training.policy_rewards import build_policy_reward, policy_run_fingerprint

MANIFEST = "manifest.json"


@asset(group_name="policies", partitions_def=policy_judge_partitions, metadata=RUN_PARTITION_META, required_resource_keys=WANDB_RESOURCE_KEYS,
       op_tags=TRAIN_TAGS,
       ins={"judge_checkpoint": ALL_JUDGES}, dagster_type=table_type(schemas.PolicyCheckpoints))
def policy_checkpoints(context: AssetExecutionContext, study: StudyResource, tracker: TrackerResource,
                       pipes_subprocess_client: PipesSubprocessClient, judge_checkpoint: pl.DataFrame,
                       rl_prompts: pl.DataFrame) -> Output[pl.DataFrame]:
    """GRPO runs of the policy against the training judge, one per seed, in this process or under `accelerate launch`
    (`StudyConfig.launch`); one row per saved checkpoint and seed (step 0 = the initial policy, shared by every seed)."""
    cfg = study.cfg
    policy, variant = policy_and_judge(context)
    judges = reward_judges(cfg, variant, judge_checkpoint)
    base = materialize_base_model(cfg.models[policy])
    prompts = rl_prompts["prompt"].to_list()
    runs = [_train_seed(context, study, tracker, pipes_subprocess_client, base, policy, variant, judges, prompts, seed)
            for seed in cfg.policy.seeds]
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
        **training_metadata([{"seed": seed, **row} for seed, r in zip(cfg.policy.seeds, runs) for row in r.get("step_log", [])],
                            cfg.launch.launcher),
    })
    return Output(df)  # an Output, not the frame: an asset that opened a Pipes session must yield typed events


def _train_seed(context, study: StudyResource, tracker: TrackerResource, pipes: PipesSubprocessClient, base,
                policy: str, variant: str, judges: dict[str, dict], prompts: list[str], seed: int) -> dict:
    """One seed's GRPO run (or its manifest, when its inputs did not change): checkpoints, rewards, timing."""
    cfg = study.cfg
    pcfg = dataclasses.replace(cfg.policy, policy_model=policy, seed=seed, seeds=(seed,))  # other seeds do not matter here
    run_dir = study.policy_dir(policy, variant, seed)
    judge_paths = {v: j["path"] for v, j in judges.items()}
    reward = build_policy_reward(cfg, variant, judge_paths, study.store(), run_id=context.run.run_id)  # builds judges
    # (hashes checkpoints), loads no model: its identity is the run's
    fingerprint = policy_run_fingerprint(checkpoint_hash(base), reward.identity, prompts, pcfg)

    def job() -> PolicyJob:
        return PolicyJob(study=cfg, pcfg=pcfg, variant=variant, base=str(base), prompts=prompts, run_dir=str(run_dir),
                         judge_paths=judge_paths, store_dir=str(study.store().root), store_study=study.config_name,
                         run_id=context.run.run_id, resume_key=fingerprint,
                         tracking=Tracking(tracker.mode, tracker.project, tracker.directory))

    info, trained_now = train_or_reuse(context, pipes, cfg, run_dir / MANIFEST, fingerprint, job,
                                       f"policy run {policy} x {variant} seed {seed}")
    return {**info, "rewards": {int(k): v for k, v in info["reward_by_step"].items()}, "trained_now": trained_now}
