"""Stage 2: trained judges (one partition per variant) and their report against gold.

A judge checkpoint is retrained only when what determines it changed (base weights, training rows,
hyper-parameters): the fingerprint of those inputs is kept beside the checkpoint. Retraining would
give new weights, hence a new fingerprint, hence every verdict of that judge recomputed.
"""


import dataclasses
from pathlib import Path

import numpy as np
import polars as pl
from dagster import AssetExecutionContext, asset

from judge_pipeline import schemas
from judge_pipeline.assets.metadata import md_plot, md_table, table_type
from judge_pipeline.assets.partitions import JUDGE_PARTITION_META, judge_partitions
from judge_pipeline.backends.hf_models import materialize_base_model
from judge_pipeline.config import StudyConfig
from judge_pipeline.fsutil import record_inputs, reuse_if_unchanged
from judge_pipeline.judging.cached import judge_through_store
from judge_pipeline.judging.pointwise_judge import PointwiseLLMJudge
from judge_pipeline.metrics.agreement import invalid_rate, krippendorff_alpha_interval
from judge_pipeline.metrics.bootstrap import bootstrap_ci
from judge_pipeline.plots import score_scatter
from judge_pipeline.resources import WANDB_RESOURCE_KEYS, StudyResource, TrackerResource
from judge_pipeline.store import content_key
from judge_pipeline.store.keys import checkpoint_hash
from judge_pipeline.training.judge_sft import train_judge_sft

INPUTS_FILE = "training_inputs.json"


def build_training_judge(cfg: StudyConfig, variant: str, checkpoint: str) -> PointwiseLLMJudge:
    """The trained judge of ``variant`` at ``checkpoint``, as every asset that scores with it builds it."""
    return PointwiseLLMJudge(checkpoint, name=variant, template_version=cfg.judge(variant).template, device=cfg.device)


def _training_fingerprint(base: Path, rows: list[dict], jcfg) -> str:
    return content_key(base=checkpoint_hash(base), rows=rows, cfg=dataclasses.asdict(jcfg))


@asset(group_name="judges", partitions_def=judge_partitions, metadata=JUDGE_PARTITION_META, required_resource_keys=WANDB_RESOURCE_KEYS,
       dagster_type=table_type(schemas.JudgeCheckpoints))
def judge_checkpoint(context: AssetExecutionContext, study: StudyResource, tracker: TrackerResource,
                     gold_labels: pl.DataFrame) -> pl.DataFrame:
    """One trained judge per variant (a plain HF checkpoint folder), SFT on the gold scores of judge-train."""
    cfg = study.cfg
    variant = context.partition_key
    jcfg = cfg.judge(variant)
    base = materialize_base_model(cfg.models[jcfg.base_model])
    rows = (gold_labels.filter(pl.col("split") == "judge_train").sort("pair_id", "position")
            .select("prompt", "response", "gold_score").to_dicts())
    target = study.judge_dir(variant)
    fingerprint = _training_fingerprint(base, rows, jcfg)
    marker = target / INPUTS_FILE
    info = reuse_if_unchanged(marker, fingerprint)
    trained_now = info is None
    if not trained_now:
        context.log.info(f"judge {variant}: inputs unchanged, reusing {target}")
    else:
        with tracker.run(f"judge-sft-{variant}", config={"variant": variant, **dataclasses.asdict(jcfg)}, job_type="judge_sft"):
            res = train_judge_sft(base, rows, jcfg, target, device=cfg.device, report_to=tracker.report_to, seed=cfg.data.seed)
        info = record_inputs(marker, fingerprint, train_loss=res.train_loss, steps=res.steps, seconds=res.seconds)
    df = pl.DataFrame([{
        "judge_variant": variant, "base_model": jcfg.base_model, "path": str(target),
        "checkpoint_hash": checkpoint_hash(target), "n_train": len(rows), "train_loss": float(info["train_loss"]),
        "steps": int(info["steps"]), "train_seconds": float(info["seconds"]),
    }])
    context.add_output_metadata({"checkpoint": str(target), "train_examples": len(rows), "trained_now": trained_now,
                                 "train_loss": float(info["train_loss"]), "train_seconds": round(float(info["seconds"]), 1)})
    return df


def _alpha_ci(judge: list, gold: list, resamples: int, level: float) -> tuple[float, float, float]:
    arr = np.array([[np.nan if j is None else j, g] for j, g in zip(judge, gold)], dtype=float)
    return bootstrap_ci(arr, lambda a: krippendorff_alpha_interval(a[:, 0], a[:, 1]), resamples, level)


@asset(group_name="judges", partitions_def=judge_partitions, metadata=JUDGE_PARTITION_META,
       dagster_type=table_type(schemas.JudgeReport))
def judge_report(context: AssetExecutionContext, study: StudyResource, judge_checkpoint: pl.DataFrame,
                 gold_labels: pl.DataFrame) -> pl.DataFrame:
    """Krippendorff's alpha (interval) of judge vs gold on judge-test, with bootstrap CI, and invalid rate.

    The untrained base model is scored the same way, as the reference the training must beat.
    """
    cfg = study.cfg
    variant = context.partition_key
    ckpt = judge_checkpoint.filter(pl.col("judge_variant") == variant).row(0, named=True)
    test = gold_labels.filter(pl.col("split") == "judge_test").sort("pair_id", "position")
    items = list(zip(test["prompt"].to_list(), test["response"].to_list()))
    gold = test["gold_score"].to_list()
    jcfg = cfg.judge(variant)
    judges = {
        variant: build_training_judge(cfg, variant, ckpt["path"]),
        f"{jcfg.base_model}-untuned": PointwiseLLMJudge(materialize_base_model(cfg.models[jcfg.base_model]),
                                                        name=f"{jcfg.base_model}-untuned", role="external",
                                                        template_version=jcfg.template, device=cfg.device),
    }
    rows, computed = [], 0
    for name, judge in judges.items():
        verdicts, _, stats = judge_through_store(judge, items, study.store(), context.run.run_id,
                                                 batch_size=cfg.eval.judge_batch_size, desc=f"judge report: {name}")
        computed += stats.computed
        expected = [v.expected_score for v in verdicts]
        parsed = [v.score for v in verdicts]
        alpha, lo, hi = _alpha_ci(expected, gold, cfg.eval.bootstrap_resamples, cfg.eval.ci_level)
        errs = [abs(e - g) for e, g in zip(expected, gold) if e is not None]
        rows.append({"judge_variant": variant, "judge": name, "eval_set": "judge_test", "n": len(items),
                     "alpha": alpha, "alpha_parsed": krippendorff_alpha_interval(parsed, gold), "alpha_low": lo,
                     "alpha_high": hi, "invalid_rate": invalid_rate(parsed),
                     "mean_abs_error": float(np.mean(errs)) if errs else None})
        if name == variant:
            plot = score_scatter(expected, gold, f"{name}: alpha={alpha:.2f}", study.plot_dir() / f"judge_{name}_scatter.png")
    df = pl.DataFrame(rows)
    context.add_output_metadata({"report": md_table(df), "scatter": md_plot(plot, "judge vs gold"),
                                 "computed_now": computed, "alpha": float(rows[0]["alpha"])})
    return df
