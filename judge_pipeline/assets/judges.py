"""Stage 2: trained judges (one partition per variant), their report, and the comparison across variants.

A judge checkpoint is retrained only when what determines it changed (base weights, training rows,
hyper-parameters): the fingerprint of those inputs is kept beside the checkpoint. Retraining would
give new weights, hence a new fingerprint, hence every verdict of that judge recomputed.

Training per variant kind (`config.JudgeTrainConfig`):
- pointwise / pairwise: SFT on the gold verdict (with the gold trace for reasoning judges), then GRPO
  against the gold verdict when ``grpo.steps > 0``; the RL-only judge skips SFT;
- reward_model: Bradley–Terry training on the gold-labelled pairs (TRL RewardTrainer).
"""


import dataclasses
from pathlib import Path

import polars as pl
from dagster import AssetExecutionContext, AutomationCondition, Output, PipesSubprocessClient, asset

from judge_pipeline import schemas
from judge_pipeline.assets.metadata import md_plot, md_table, table_type
from judge_pipeline.assets.partitions import INFERENCE_TAGS, JUDGE_PARTITION_META, TRAIN_TAGS, judge_partitions
from judge_pipeline.assets.trainer_launch import train_or_reuse, training_metadata
from judge_pipeline.backends.hf_models import materialize_base_model
from judge_pipeline.config import JudgeTrainConfig, StudyConfig
from judge_pipeline.judging.builders import build_gold_judge, build_rubric_source, build_training_judge
from judge_pipeline.judging.canaries import canary_cases
from judge_pipeline.judging.external import ExternalJudge, import_external_verdicts, load_external_judges
from judge_pipeline.judging.report import JudgeEvaluator, comparison_tables
from judge_pipeline.plots import judge_comparison_plot
from judge_pipeline.resources import WANDB_RESOURCE_KEYS, StudyResource, TrackerResource
from judge_pipeline.sources.eval_sets import human_eval_sets
from judge_pipeline.store import content_key
from judge_pipeline.store.keys import checkpoint_hash
from judge_pipeline.training.jobs import JudgeJob, Tracking, run_job
from judge_pipeline.training.judge_data import grpo_examples, preference_examples, sft_examples

INPUTS_FILE = "training_inputs.json"


#: JudgeTrainConfig fields that only shape inference, or only how a step is executed (micro-batches add up to
#: the same batch by gradient accumulation): changing them must not retrain the judge
NOT_TRAINING_FIELDS = ("max_new_tokens", "context_length", "micro_batch_size", "serving")  #: inference-only fields


def variant_examples(jcfg: JudgeTrainConfig, rows: list[dict], rubric_fn=None,
                     val_rows: list[dict] | None = None) -> dict[str, list[dict]]:
    """The training examples of each stage a variant has: {"bt": pairs} for the reward model, else "sft" and/or
    "grpo" (`training/judge_data.py`), and "val" (judge-val responses with their gold score) when the variant chooses
    its SFT epoch on validation. Built once per materialisation: they train the judge and fingerprint it."""
    if jcfg.kind == "reward_model":
        return {"bt": preference_examples(rows)}
    out = {}
    if jcfg.sft:
        out["sft"] = sft_examples(rows, jcfg, rubric_fn)
    if jcfg.select_epoch_on_val:
        out["val"] = [{"prompt": r["prompt"], "response": r["response"], "gold_score": float(r["gold_score"])}
                      for r in val_rows or []]
    if jcfg.grpo.steps:
        out["grpo"] = grpo_examples(rows, jcfg, rubric_fn)
    return out


def _training_fingerprint(base: Path, jcfg: JudgeTrainConfig, examples: dict[str, list[dict]]) -> str:
    """What determines the trained weights: base weights, training hyper-parameters, and the training examples
    as built (so a change to how targets are written, e.g. the condensed trace, retrains)."""
    train_cfg = {k: v for k, v in dataclasses.asdict(jcfg).items() if k not in NOT_TRAINING_FIELDS}
    train_cfg["grpo"] = {k: v for k, v in train_cfg["grpo"].items() if k not in NOT_TRAINING_FIELDS}
    built = examples["bt"] if "bt" in examples else [examples.get("sft", []), examples.get("grpo", [])]
    if "val" in examples:  # only then, so the fingerprints of judges that choose no epoch stay what they were
        built = [*built, examples["val"]]
    return content_key(base=checkpoint_hash(base), cfg=train_cfg, examples=built)


def judge_job(cfg: StudyConfig, jcfg: JudgeTrainConfig, base: Path, examples: dict[str, list[dict]], target: Path,
              tracker: TrackerResource, fingerprint: str = "") -> JudgeJob:
    """The training job of one variant (`training/jobs.py`): every stage on its `variant_examples`, the final
    checkpoint at ``target``; ``fingerprint`` tags its saved trainer state (resumable only under the same one)."""
    return JudgeJob(study=cfg, variant=jcfg.variant, base=str(base), examples=examples, target=str(target),
                    resume_key=fingerprint, tracking=Tracking(tracker.mode, tracker.project, tracker.directory))


def train_variant(cfg: StudyConfig, jcfg: JudgeTrainConfig, base: Path, examples: dict[str, list[dict]], target: Path,
                  tracker: TrackerResource) -> dict:
    """Train one variant in this process (`judge_job`); the facts recorded beside its checkpoint (stages, examples,
    loss of the last stage, steps, seconds, invalid rollouts, the step log)."""
    return run_job(judge_job(cfg, jcfg, base, examples, target, tracker))


def _report_frame(rows: list[dict]) -> pl.DataFrame:
    """Report rows (long format) as a frame; value / low / high stay floats even when a column is all None."""
    return pl.DataFrame(rows, schema_overrides={"value": pl.Float64, "low": pl.Float64, "high": pl.Float64})


@asset(group_name="judges", partitions_def=judge_partitions, metadata=JUDGE_PARTITION_META, required_resource_keys=WANDB_RESOURCE_KEYS,
       op_tags=TRAIN_TAGS,
       dagster_type=table_type(schemas.JudgeCheckpoints))
def judge_checkpoint(context: AssetExecutionContext, study: StudyResource, tracker: TrackerResource,
                     pipes_subprocess_client: PipesSubprocessClient, gold_labels: pl.DataFrame) -> Output[pl.DataFrame]:
    """One trained judge per variant (a plain HF checkpoint folder), trained on the gold labels of judge-train, in
    this process or under `accelerate launch` (`StudyConfig.launch`)."""
    cfg = study.cfg
    variant = context.partition_key
    jcfg = cfg.judge(variant)
    base = materialize_base_model(cfg.models[jcfg.base_model])
    rows, val_rows = ((gold_labels.filter(pl.col("split") == split).sort("pair_id", "position")
                       .select("pair_id", "position", "prompt", "response", "gold_score", "gold_trace", "pair_label").to_dicts())
                      for split in ("judge_train", "judge_val"))
    target = study.judge_dir(variant)
    rubric_source = build_rubric_source(cfg, study.store()) if jcfg.rubric else None
    if hasattr(rubric_source, "prefetch"):  # an LLM gold judge: every training prompt's rubric in one batch
        rubric_source.prefetch([r["prompt"] for r in rows])
    examples = variant_examples(jcfg, rows, rubric_source.rubric if rubric_source else None, val_rows)
    fingerprint = _training_fingerprint(base, jcfg, examples)
    info, trained_now = train_or_reuse(context, pipes_subprocess_client, cfg, target / INPUTS_FILE, fingerprint,
                                       lambda: judge_job(cfg, jcfg, base, examples, target, tracker, fingerprint),
                                       f"judge {variant}")
    df = pl.DataFrame([{
        "judge_variant": variant, "kind": jcfg.kind, "stages": info["stages"], "base_model": jcfg.base_model,
        "path": str(target), "checkpoint_hash": checkpoint_hash(target), "n_train": int(info["n_train"]),
        "train_loss": float(info["train_loss"]), "steps": int(info["steps"]), "train_seconds": float(info["seconds"]),
    }])
    context.add_output_metadata({"checkpoint": str(target), "stages": info["stages"], "train_examples": int(info["n_train"]),
                                 "trained_now": trained_now, "train_loss": float(info["train_loss"]),
                                 "train_seconds": round(float(info["seconds"]), 1),
                                 **{k: v for k, v in info.items() if k.startswith("grpo_") and v is not None},
                                 **({"val_epochs": md_table(pl.DataFrame(info["val_epochs"]))} if info.get("val_epochs") else {}),
                                 **training_metadata(info.get("step_log", []), cfg.launch.launcher)})
    return Output(df)  # an Output, not the frame: an asset that opened a Pipes session must yield typed events


def _test_rows(gold_labels: pl.DataFrame) -> list[dict]:
    return (gold_labels.filter(pl.col("split") == "judge_test").sort("pair_id", "position")
            .select("pair_id", "position", "prompt", "response", "gold_score", "pair_label").to_dicts())


def evaluate_judge(cfg: StudyConfig, evaluator: JudgeEvaluator, test_rows: list[dict],
                   human_sets: dict[str, list[dict]], gold_set: bool = True) -> list[dict]:
    """Every report row of one judge: judge-test (unless ``gold_set`` is False: the gold judge itself), each
    human-labelled set, the canaries."""
    rows = evaluator.on_gold_set(test_rows) if gold_set else []
    for name, pairs in human_sets.items():
        rows += evaluator.on_pairs(name, pairs)
    rows += evaluator.on_canaries(canary_cases(test_rows, cfg.eval.canary_prompts))
    return rows


def _evaluator(study: StudyResource, judge, run_id: str) -> JudgeEvaluator:
    e = study.cfg.eval
    covers = judge.covers if isinstance(judge, ExternalJudge) else None  # an external judge: the items its files have
    return JudgeEvaluator(judge, study.store(), run_id, e.judge_batch_size, e.bootstrap_resamples, e.ci_level,
                          covers=covers)


def external_judge_rows(cfg: StudyConfig, judges: list[ExternalJudge], evaluator_of, test_rows: list[dict],
                        human_sets: dict[str, list[dict]]) -> list[dict]:
    """Report rows of each external judge (`EvalConfig.external_verdicts`), ``judge_variant`` "external": every
    verdict of its files goes into the store first (so the store's views see them all), then it is measured like
    any judge on the items its files cover, with a ``coverage`` row per set (`JudgeEvaluator.covers`)."""
    rows = []
    for judge in judges:
        ev = evaluator_of(judge)
        import_external_verdicts(judge, ev.store, ev.run_id)
        rows += [{"judge_variant": "external", "judge": judge.name, **r}
                 for r in evaluate_judge(cfg, ev, test_rows, human_sets)]
    return rows


@asset(group_name="judges", partitions_def=judge_partitions, metadata=JUDGE_PARTITION_META, op_tags=INFERENCE_TAGS,
       dagster_type=table_type(schemas.JudgeReport))
def judge_report(context: AssetExecutionContext, study: StudyResource, judge_checkpoint: pl.DataFrame,
                 gold_labels: pl.DataFrame) -> pl.DataFrame:
    """One variant measured against gold (judge-test: alpha / pair accuracy) and humans (LLMBar, MT-Bench, user
    files: accuracy, position consistency), its canary win rates, invalid rate and cost, with bootstrap CIs.

    The untrained base model is scored on judge-test the same way, as the reference the training must beat.
    """
    cfg = study.cfg
    variant = context.partition_key
    ckpt = judge_checkpoint.filter(pl.col("judge_variant") == variant).row(0, named=True)
    test_rows = _test_rows(gold_labels)
    sets = human_eval_sets(cfg.eval.human_pairs_per_set, cfg.data.seed, cfg.eval.preference_files)
    trained = _evaluator(study, build_training_judge(cfg, variant, ckpt["path"], store=study.store()), context.run.run_id)
    rows = [{"judge": variant, **r} for r in evaluate_judge(cfg, trained, test_rows, sets)]
    computed = trained.computed
    if cfg.eval.report_untuned_base:
        jcfg = cfg.judge(variant)
        name = f"{jcfg.base_model}-untuned:{jcfg.template}"  # variants sharing a template share this reference
        base = build_training_judge(cfg, variant, materialize_base_model(cfg.models[jcfg.base_model]), name=name,
                                    role="external", store=study.store())
        if jcfg.kind != "reward_model":  # an untrained value head is noise, not a reference
            ref = _evaluator(study, base, context.run.run_id)
            rows += [{"judge": name, **r} for r in ref.on_gold_set(test_rows)]
            computed += ref.computed
    df = _report_frame([{"judge_variant": variant, **r} for r in rows])
    headline = df.filter(pl.col("judge") == variant)
    context.add_output_metadata({"report": md_table(headline.drop("judge_variant", "judge")),
                                 "untrained_base": md_table(df.filter(pl.col("judge") != variant).drop("judge_variant")),
                                 "computed_now": computed})
    return df


@asset(group_name="judges", dagster_type=table_type(schemas.JudgeReport), automation_condition=AutomationCondition.eager())
def judge_comparison(context: AssetExecutionContext, study: StudyResource, judge_report: pl.DataFrame,
                     gold_labels: pl.DataFrame) -> pl.DataFrame:
    """Every variant's report in one table (like the paper's Tables 2-5), with the gold judge's own rows for
    reference (gold vs humans on LLMBar / MT-Bench; gold on the canaries), each external judge's rows on the items
    its verdict files cover (``judge_variant`` "external"; `EvalConfig.external_verdicts`), and a canary table."""
    cfg = study.cfg
    gold = build_gold_judge(cfg)
    ev = _evaluator(study, gold, context.run.run_id)
    test_rows = _test_rows(gold_labels)
    sets = human_eval_sets(cfg.eval.human_pairs_per_set, cfg.data.seed, cfg.eval.preference_files)
    gold_rows = evaluate_judge(cfg, ev, test_rows, sets, gold_set=False)
    gold_df = _report_frame([{"judge_variant": "gold", "judge": gold.name, **r} for r in gold_rows])
    external = load_external_judges(cfg.eval.external_verdicts)
    ext_rows = external_judge_rows(cfg, external, lambda j: _evaluator(study, j, context.run.run_id), test_rows, sets)
    frames = [judge_report, gold_df] + ([_report_frame(ext_rows)] if ext_rows else [])
    df = pl.concat(frames, how="vertical_relaxed")
    main, canary = comparison_tables(df)
    plot = judge_comparison_plot(df, study.plot_dir() / "judge_comparison.png")
    context.add_output_metadata({"comparison": md_table(main), "canaries": md_table(canary),
                                 "accuracy_plot": md_plot(plot, "pair accuracy per judge and evaluation set"),
                                 "computed_now": ev.computed,
                                 "external_judges": ", ".join(j.name for j in external) or "none"})
    return df
