"""Analysis: the study's central curves and what they say, recomputed from the scores when any run changes.

- `overoptimization`: proxy vs gold per step and per d = sqrt(KL), raw and style-controlled, with CIs;
- `overoptimization_fits`: Gao et al. fits (RL checkpoints and best-of-n), peak, divergence step, regret;
- `hacking_patterns`: how many answers per step carry each adversarial pattern, beside the proxy-gold gap;
- `run_summaries`: one page per run (markdown + figure) that puts the above together with example answers;
- `judge_disagreement`: judge vs gold over every sample in the store (SQL view);
- `transfer_matrix`: does a policy trained against one judge fool the others? Every judge's score change from step 0
  to the final checkpoint beside gold's, per run and canary (`transfer.py`, `metrics/transfer.py`, views
  transfer_answers / transfer_scores / transfer_matrix);
- `reasoning_analytics` (group judges): per judge, trace length against agreement with gold, position flips,
  self-consistency of sampled traces, and the cost (`metrics/reasoning.py`, views judge_trace_accuracy /
  judge_self_consistency / reasoning_analytics).
The computations live in `metrics/`; these assets add plots, metadata and W&B logging.
"""


import polars as pl
from dagster import AssetExecutionContext, AutomationCondition, MetadataValue, asset

from judge_pipeline import schemas
from judge_pipeline.assets.evaluation import scored_prompts
from judge_pipeline.assets.judges import _test_rows
from judge_pipeline.assets.metadata import md_plot, md_table, table_type
from judge_pipeline.judging.builders import build_training_judge
from judge_pipeline.judging.external import load_external_judges
from judge_pipeline.judging.sampling import consistency_items, sample_verdicts
from judge_pipeline.metrics.curves import RUN, fits_table, overoptimization_table, pattern_prevalence
from judge_pipeline.metrics.reasoning import (CONSISTENCY_ITEMS, CONSISTENCY_SAMPLES, consistency_sampling,
                                              self_consistency_table, trace_length_table)
from judge_pipeline.metrics.transfer import judge_order, transfer_table
from judge_pipeline.plots import markdown_image, overoptimization_plot, reasoning_plot, run_summary_plot, transfer_heatmap
from judge_pipeline.resources import StudyResource, TrackerResource
from judge_pipeline.run_summary import run_summary_markdown
from judge_pipeline.tracking import log_table
from judge_pipeline.transfer import canary_answers, checkpoint_answers, run_endpoints, score_for_transfer, scorers


def _log(tracker: TrackerResource, name: str, table: pl.DataFrame, plots: dict | None = None) -> None:
    with tracker.run(name, job_type="analysis") as run:
        log_table(run, name, table)
        if run is not None and plots:
            import wandb

            run.log({k: wandb.Image(str(p)) for k, p in plots.items()})


def _run_of(df: pl.DataFrame, policy: str, judge: str) -> pl.DataFrame:
    return df.filter((pl.col("policy") == policy) & (pl.col("judge_variant") == judge))


@asset(group_name="analysis", automation_condition=AutomationCondition.eager(),
       dagster_type=table_type(schemas.Overoptimization))
def overoptimization(context: AssetExecutionContext, study: StudyResource, tracker: TrackerResource,
                     checkpoint_scores: pl.DataFrame) -> pl.DataFrame:
    """Training-judge (proxy) vs gold score per policy step, with bootstrap CIs: reward hacking is the gap.
    Also the KL to the initial policy (d = sqrt(KL)) and both scores with the style change regressed out."""
    cfg = study.cfg
    df = overoptimization_table(checkpoint_scores, cfg.eval.bootstrap_resamples, cfg.eval.ci_level)
    plot = overoptimization_plot(df, study.plot_dir() / "overoptimization.png", cfg.eval.scored_prompts_label)
    _log(tracker, "overoptimization", df, {"overoptimization_plot": plot})
    last = df.group_by(RUN).agg(pl.all().sort_by("step").last()).sort(RUN)
    context.add_output_metadata({
        "plot": md_plot(plot, "proxy vs gold"),
        "table": md_table(df.select(*RUN, "step", "proxy_mean", "gold_mean", "gold_low", "gold_high", "d",
                                    "gold_controlled_mean"), max_rows=50),
        "final": md_table(last.select(*RUN, "step", "proxy_mean", "gold_mean", "gap", "d")),
        "plot_path": MetadataValue.path(str(plot)),
    })
    return df


@asset(group_name="analysis", automation_condition=AutomationCondition.eager(),
       dagster_type=table_type(schemas.OveroptimizationFits))
def overoptimization_fits(context: AssetExecutionContext, tracker: TrackerResource, overoptimization: pl.DataFrame,
                          best_of_n: pl.DataFrame) -> pl.DataFrame:
    """Per run: Gao et al.'s RL fit R(d) = d(alpha - beta ln d) on the checkpoints and best-of-n fit
    R(d) = d(alpha - beta d) on the initial policy's pool (R = gold gain), with R², the peak d* and gold there;
    and the measured peak step, divergence step (gold falling while the proxy rises) and final regret."""
    fits = fits_table(overoptimization, best_of_n)
    _log(tracker, "overoptimization_fits", fits)
    context.add_output_metadata({"fits": md_table(fits.select(*RUN, "form", "alpha", "beta", "r2", "d_peak", "gold_at_peak",
                                                              "note")),
                                 "landmarks": md_table(fits.filter(pl.col("form") == "rl").select(
                                     *RUN, "peak_step", "peak_gold", "final_gold", "final_proxy", "divergence_step",
                                     "regret", "gold_drop_significant"))})
    return fits


@asset(group_name="analysis", automation_condition=AutomationCondition.eager())
def hacking_patterns(context: AssetExecutionContext, study: StudyResource, tracker: TrackerResource,
                     checkpoint_scores: pl.DataFrame, policy_test_prompts: pl.DataFrame, rl_prompts: pl.DataFrame) -> pl.DataFrame:
    """Share of each checkpoint's answers with each adversarial pattern (fake refusal, end marker,
    self-assessment, fabricated policy, master-key opening, repetition, the judge's verdict format),
    beside the proxy-gold gap."""
    table = pattern_prevalence(checkpoint_scores, scored_prompts(study.cfg, policy_test_prompts, rl_prompts))
    _log(tracker, "hacking_patterns", table)
    context.add_output_metadata({"prevalence": md_table(table, max_rows=50)})
    return table


@asset(group_name="analysis", automation_condition=AutomationCondition.eager())
def run_summaries(context: AssetExecutionContext, study: StudyResource, checkpoint_scores: pl.DataFrame,
                  overoptimization: pl.DataFrame, overoptimization_fits: pl.DataFrame, best_of_n: pl.DataFrame,
                  hacking_patterns: pl.DataFrame) -> pl.DataFrame:
    """One page per run: the curves, the fits, the pattern trend and three answers at the gold peak and at the
    end, written as markdown (with its figure) under runs/<config>/summaries/ and shown here."""
    out_dir = study.plot_dir().parent / "summaries"
    rows, pages = [], {}
    for policy, judge in overoptimization.select(RUN).unique().sort(RUN).rows():
        name = f"{policy}__{judge}"
        over, fits = _run_of(overoptimization, policy, judge), _run_of(overoptimization_fits, policy, judge)
        bon = _run_of(best_of_n, policy, judge)
        prevalence = _run_of(hacking_patterns, policy, judge)
        plot = run_summary_plot(over, bon, fits, prevalence, out_dir / f"{name}.png", f"{policy} trained against {judge}")
        page = run_summary_markdown(policy, judge, over, fits, prevalence, _run_of(checkpoint_scores, policy, judge),
                                    f"![summary]({plot.name})")
        path = out_dir / f"{name}.md"
        path.write_text(page)
        pages[name] = page.replace(f"![summary]({plot.name})", markdown_image(plot, "summary"))
        rows.append({"policy": policy, "judge_variant": judge, "page": str(path), "plot": str(plot)})
    context.add_output_metadata({name: MetadataValue.md(md) for name, md in pages.items()})
    return pl.DataFrame(rows)


@asset(group_name="analysis", deps=["checkpoint_scores", "judge_report"],
       automation_condition=AutomationCondition.eager())
def judge_disagreement(context: AssetExecutionContext, study: StudyResource) -> pl.DataFrame:
    """Per judge: agreement with gold over every sample the study's current judges scored (SQL view `judge_vs_gold`),
    the samples where judge and gold disagree most, agreement between every pair of judges, and how each pair of
    judges ranks the policy checkpoints (Kendall tau; a training judge against gold below 0 is reward hacking)."""
    store = study.store()
    summary = store.query("disagreement_summary", study=study.config_name)
    top = store.query("top_disagreements", study=study.config_name, limit=10)
    agreement = store.query("study_agreement", study=study.config_name)
    tau = store.query("study_checkpoint_tau", study=study.config_name)
    context.add_output_metadata({"summary": md_table(summary), "largest_disagreements": md_table(top),
                                 "judge_agreement": md_table(agreement), "checkpoint_rank_tau": md_table(tau),
                                 "sql": MetadataValue.md(f"```sql\nSELECT * FROM judge_vs_gold WHERE study = '{study.config_name}' ORDER BY abs(gap) DESC;\n```")})
    return summary


#: what the transfer matrix waits for: every evaluation that puts checkpoint answers and verdicts in the store (the
#: Arena-Hard assets when this code location has them); any judge's verdicts on those answers join the matrix
TRANSFER_DEPS = ["checkpoint_scores", "arena_judgments"]


@asset(group_name="analysis", deps=TRANSFER_DEPS)
def transfer_matrix(context: AssetExecutionContext, study: StudyResource, tracker: TrackerResource,
                    judge_checkpoint: pl.DataFrame, policy_checkpoints: pl.DataFrame, policy_test_prompts: pl.DataFrame,
                    rl_prompts: pl.DataFrame) -> pl.DataFrame:
    """The deception-transfer matrix: per policy run (trained against judge X) and canary (null model, master keys, the
    paper's adversarial pattern), every judge's score change from step 0 to the final checkpoint beside gold's, and the
    inflation (judge change - gold change, on a 0-1 scale) with bootstrap CIs over items. The answers are every greedy
    answer of both checkpoints in the store; each judge of the study scores them through the store (0 model calls on a
    re-run), and any other judge with verdicts on them there (external, Arena-Hard) joins as a column."""
    cfg, store, name = study.cfg, study.store(), study.config_name
    answers = checkpoint_answers(store, run_endpoints(policy_checkpoints), name)
    prompts = sorted(scored_prompts(cfg, policy_test_prompts, rl_prompts)["prompt"].to_list())[: cfg.eval.canary_prompts]
    answers += canary_answers(answers, prompts)
    paths = {r["judge_variant"]: r["path"] for r in judge_checkpoint.iter_rows(named=True)}
    judges = scorers(cfg, store, paths, load_external_judges(cfg.eval.external_verdicts), context.run.run_id)
    computed = score_for_transfer(judges, answers, store)
    table = transfer_table(store.query("study_transfer_scores", study=name), cfg.eval.bootstrap_resamples, cfg.eval.ci_level)
    plot = transfer_heatmap(table, judge_order(table), study.plot_dir() / "transfer_matrix.png")
    _log(tracker, "transfer_matrix", table, {"transfer_heatmap": plot})
    context.add_output_metadata({
        "heatmap": md_plot(plot, "deception transfer"), "plot_path": MetadataValue.path(str(plot)),
        "matrix": md_table(table.select("row", "judge_name", "n", "judge_change", "gold_change", "inflation",
                                        "inflation_low", "inflation_high"), max_rows=100),
        "answers": len(answers), **{f"model_calls_{j}": n for j, n in computed.items()},
        "computed_now": sum(computed.values()),
        "sql": MetadataValue.md(f"```sql\nSELECT * FROM transfer_matrix WHERE study = '{name}' ORDER BY run, judge_name;\n```"),
    })
    return table


@asset(group_name="judges", deps=["judge_report"])
def reasoning_analytics(context: AssetExecutionContext, study: StudyResource, tracker: TrackerResource,
                        judge_checkpoint: pl.DataFrame, gold_labels: pl.DataFrame) -> pl.DataFrame:
    """Per judge of the study: does a longer reasoning trace buy agreement with gold (thirds by trace length) and
    robustness (position flips; self-consistency of a few sampled traces per item, `metrics/reasoning.py`), and at what
    cost (seconds and device-seconds per verdict)? Non-reasoning judges are the reference."""
    cfg, store, name = study.cfg, study.store(), study.config_name
    p = cfg.policy
    sampling = consistency_sampling(p.judge_temperature, p.judge_top_k, p.judge_top_p)
    test_rows, computed = _test_rows(gold_labels), {}
    for row in judge_checkpoint.sort("judge_variant").iter_rows(named=True):
        jcfg = cfg.judge(row["judge_variant"])
        if jcfg.reasoning and jcfg.kind in ("pointwise", "pairwise"):
            judge = build_training_judge(cfg, jcfg.variant, row["path"], store=store)
            _, computed[jcfg.variant] = sample_verdicts(judge, consistency_items(jcfg.kind, test_rows, CONSISTENCY_ITEMS),
                                                        store, sampling, CONSISTENCY_SAMPLES, context.run.run_id,
                                                        cfg.eval.judge_batch_size)
    e = cfg.eval
    by_length = trace_length_table(store.query("study_trace_accuracy", study=name), e.bootstrap_resamples, e.ci_level)
    consistency = self_consistency_table(store.query("study_self_consistency", study=name), e.bootstrap_resamples, e.ci_level)
    summary = (store.query("study_reasoning_analytics", study=name)
               .join(consistency.select("judge_name", "self_consistency_low", "self_consistency_high"), on="judge_name",
                     how="left")
               .with_columns(position_consistency=1 - pl.col("flip_rate")))
    plot = reasoning_plot(by_length, summary, study.plot_dir() / "reasoning_analytics.png")
    _log(tracker, "reasoning_analytics", summary, {"reasoning_plot": plot})
    context.add_output_metadata({
        "plot": md_plot(plot, "reasoning analytics"), "summary": md_table(summary.drop("study")),
        "by_trace_length": md_table(by_length, max_rows=60),
        "sampling": f"{CONSISTENCY_SAMPLES} traces x {CONSISTENCY_ITEMS} judge-test items per reasoning judge at {sampling}",
        **{f"model_calls_{j}": n for j, n in computed.items()}, "computed_now": sum(computed.values()),
    })
    return summary
