"""Stage 4 (in-setting): every checkpoint answers the policy-test prompts; the training judge and the
gold judge score every answer, and the KL of each checkpoint to the initial policy is measured. Beside
it, the best-of-n sweep of the initial policy (the same judges, no RL). Answers, verdicts and KL
estimates go through the store, so re-materialising with nothing changed makes no model call, and a
new checkpoint costs exactly its own answers, verdicts and KL estimates.
"""


import polars as pl
from dagster import AssetExecutionContext, asset

from judge_pipeline import schemas
from judge_pipeline.judging.builders import build_gold_judge
from judge_pipeline.assets.metadata import md_table, table_type
from judge_pipeline.assets.partitions import ALL_JUDGES, INFERENCE_TAGS, RUN_PARTITION_META, policy_and_judge, policy_judge_partitions, reward_judges
from judge_pipeline.backends.hf_models import materialize_base_model
from judge_pipeline.generation import generate_through_store, policy_backend
from judge_pipeline.judging.cached import judge_through_store
from judge_pipeline.metrics.best_of_n import default_ns
from judge_pipeline.metrics.curves import best_of_n_table
from judge_pipeline.policy_kl import kl_through_store
from judge_pipeline.resources import StudyResource
from judge_pipeline.training.policy_rewards import build_policy_reward, proxy_scale


def scored_prompts(cfg, policy_test_prompts: pl.DataFrame, rl_prompts: pl.DataFrame) -> pl.DataFrame:
    """The prompts checkpoints are scored on: held out (the paper), or the RL prompts (`EvalConfig.score_on`)."""
    return rl_prompts if cfg.eval.score_on == "rl" else policy_test_prompts


def _scorers(context: AssetExecutionContext, study: StudyResource, judge_checkpoint: pl.DataFrame,
             policy_test_prompts: pl.DataFrame, rl_prompts: pl.DataFrame):
    """What both assets of a run need: the run's key, the store, its proxy reward, the gold judge and the prompts
    it is scored on (`EvalConfig.score_on`: the held-out test prompts, or in-sample the RL prompts)."""
    cfg = study.cfg
    eval_prompts = scored_prompts(cfg, policy_test_prompts, rl_prompts)
    policy, variant = policy_and_judge(context)
    store, run_id = study.store(), context.run.run_id
    judges = reward_judges(cfg, variant, judge_checkpoint)
    proxy = build_policy_reward(cfg, variant, {v: j["path"] for v, j in judges.items()}, store, run_id=run_id)
    return (cfg, policy, variant, store, run_id, proxy, build_gold_judge(cfg), eval_prompts["prompt"].to_list(),
            eval_prompts["prompt_id"].to_list())


def _answers(path: str, prompts: list[str], cfg, store, run_id: str, **kw) -> tuple[list[dict], int]:
    kw.setdefault("backend", policy_backend(cfg.policy.serving, path, cfg.device))
    gens, stats = generate_through_store(path, prompts, store, cfg.eval.max_new_tokens, run_id=run_id, device=cfg.device,
                                         batch_size=cfg.eval.generation_batch_size, **kw)
    return gens, stats.computed


@asset(group_name="evaluation", partitions_def=policy_judge_partitions, metadata=RUN_PARTITION_META, op_tags=INFERENCE_TAGS,
       ins={"judge_checkpoint": ALL_JUDGES}, dagster_type=table_type(schemas.CheckpointScores))
def checkpoint_scores(context: AssetExecutionContext, study: StudyResource, policy_checkpoints: pl.DataFrame,
                      judge_checkpoint: pl.DataFrame, policy_test_prompts: pl.DataFrame, rl_prompts: pl.DataFrame) -> pl.DataFrame:
    """Per checkpoint (seed, step) and evaluation prompt: the greedy answer, the training reward's proxy score (the judge's expected
    score; for a pairwise judge the win rate against the initial policy's answer), the gold score and the KL of
    the checkpoint to the initial policy (sampled completions, `policy_kl.py`)."""
    cfg, policy, variant, store, run_id, proxy, gold, prompts, ids = _scorers(context, study, judge_checkpoint,
                                                                              policy_test_prompts, rl_prompts)
    frames, calls = [], {"generations": 0, "proxy_verdicts": 0, "gold_verdicts": 0, "kl_estimates": 0}
    runs = policy_checkpoints.filter((pl.col("policy") == policy) & (pl.col("judge_variant") == variant)).sort("seed", "step")
    initial = runs.filter(pl.col("step") == 0)["path"][0]  # the same initial policy for every seed
    baselines, calls["generations"] = _answers(initial, prompts, cfg, store, run_id)
    baseline_answers = [g["completion"] for g in baselines]
    for seed, step, path in runs.select("seed", "step", "path").iter_rows():  # step 0 of a 2nd seed: all from the store
        gens, computed = _answers(path, prompts, cfg, store, run_id)
        calls["generations"] += computed
        answers = [g["completion"] for g in gens]
        scored = proxy.score_answers(prompts, answers, baselines=baseline_answers)
        gv, gkeys, gs = judge_through_store(gold, list(zip(prompts, answers)), store, run_id, desc=f"step {step}: gold judge")
        kls, ks = kl_through_store(path, initial, prompts, store, cfg.eval.max_new_tokens, samples=cfg.eval.kl_samples,
                                   run_id=run_id, device=cfg.device, batch_size=cfg.eval.generation_batch_size)
        uses = [(k, i) for keys, i in zip(scored.keys, ids) for k in keys] + list(zip(gkeys, ids))
        store.record_uses([{"key": k, "context": "checkpoint_scores", "partition_key": f"policy={policy}|judge={variant}|seed={seed}",
                            "step": step, "item_id": i} for k, i in uses])
        calls["proxy_verdicts"] += scored.computed
        calls["gold_verdicts"] += gs.computed
        calls["generations"] += ks.generations_computed
        calls["kl_estimates"] += ks.computed
        frames.append(pl.DataFrame({
            "policy": policy, "judge_variant": variant, "seed": seed, "step": step, "prompt_id": ids, "response": answers,
            "finished": [g["finished"] for g in gens], "proxy_scale": proxy_scale(cfg, variant),
            "proxy_score": scored.values, "proxy_invalid": [v is None for v in scored.values],
            "gold_score": [None if v.score is None else float(v.score) for v in gv], "kl": kls,
        }, schema_overrides={"proxy_score": pl.Float64, "seed": pl.Int64, "step": pl.Int64, "kl": pl.Float64}))
    df = pl.concat(frames)
    summary = df.group_by("step").agg(pl.col("proxy_score").mean().alias("proxy_mean"), pl.col("gold_score").mean().alias("gold_mean"),
                                      pl.col("kl").mean().alias("kl_mean"), pl.len().alias("n")).sort("step")
    context.log.info(f"model calls: {calls}")
    context.add_output_metadata({"per_step": md_table(summary), **{f"model_calls_{k}": v for k, v in calls.items()},
                                 "computed_now": sum(calls.values())})
    return df


@asset(group_name="evaluation", partitions_def=policy_judge_partitions, metadata=RUN_PARTITION_META, op_tags=INFERENCE_TAGS,
       ins={"judge_checkpoint": ALL_JUDGES}, dagster_type=table_type(schemas.BestOfN))
def best_of_n(context: AssetExecutionContext, study: StudyResource, judge_checkpoint: pl.DataFrame,
              policy_test_prompts: pl.DataFrame, rl_prompts: pl.DataFrame) -> pl.DataFrame:
    """Best-of-n of the *initial* policy, picked by the training reward and scored by gold, for n = 1, 2, 4, ...
    up to the pool size: the overoptimization curve without RL (exact expectation over the pool, KL = log n - (n-1)/n).
    """
    cfg, policy, variant, store, run_id, proxy, gold, prompts, ids = _scorers(context, study, judge_checkpoint,
                                                                              policy_test_prompts, rl_prompts)
    initial = str(materialize_base_model(cfg.models[policy]))
    backend = policy_backend(cfg.policy.serving, initial, cfg.device)  # loaded once, only if a pool sample is missing
    baselines, computed = _answers(initial, prompts, cfg, store, run_id, backend=backend)
    calls, frames = {"generations": computed, "proxy_verdicts": 0, "gold_verdicts": 0}, []
    for s in range(cfg.eval.bon_pool_size):
        gens, computed = _answers(initial, prompts, cfg, store, run_id, temperature=cfg.policy.temperature, sample_index=s,
                                  backend=backend, progress=False)
        answers = [g["completion"] for g in gens]
        scored = proxy.score_answers(prompts, answers, baselines=[g["completion"] for g in baselines], progress=False)
        gv, _, gs = judge_through_store(gold, list(zip(prompts, answers)), store, run_id, progress=False)
        calls["generations"] += computed
        calls["proxy_verdicts"] += scored.computed
        calls["gold_verdicts"] += gs.computed
        frames.append(pl.DataFrame({"policy": policy, "judge_variant": variant, "prompt_id": ids, "sample_index": s,
                                    "proxy_score": scored.values, "gold_score": [None if v.score is None else float(v.score) for v in gv]},
                                   schema_overrides={"proxy_score": pl.Float64}))
    table = best_of_n_table(pl.concat(frames), default_ns(cfg.eval.bon_pool_size, cfg.eval.bon_max_n),
                            cfg.eval.bootstrap_resamples, cfg.eval.ci_level, invalid_proxy=cfg.policy.invalid_reward)
    context.add_output_metadata({"best_of_n": md_table(table.select("n", "d", "proxy_mean", "gold_mean", "gold_low", "gold_high")),
                                 "pool_size": cfg.eval.bon_pool_size, **{f"model_calls_{k}": v for k, v in calls.items()},
                                 "computed_now": sum(calls.values())})
    return table
