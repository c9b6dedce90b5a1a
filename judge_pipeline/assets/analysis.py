"""Analysis: proxy vs gold per step (the study's central curve) and judge disagreement from the store."""


import numpy as np
import polars as pl
from dagster import AssetExecutionContext, AutomationCondition, MetadataValue, asset

from judge_pipeline import schemas
from judge_pipeline.assets.metadata import md_plot, md_table, table_type
from judge_pipeline.metrics.bootstrap import bootstrap_ci
from judge_pipeline.plots import overoptimization_plot
from judge_pipeline.resources import StudyResource, TrackerResource
from judge_pipeline.tracking import log_table


def overoptimization_table(scores: pl.DataFrame, resamples: int, level: float) -> pl.DataFrame:
    """Mean proxy and gold score per (policy, judge, step) with bootstrap CIs over prompts."""
    rows = []
    for (policy, judge, step), g in scores.group_by(["policy", "judge_variant", "step"], maintain_order=True):
        proxy = g["proxy_score"].drop_nulls().to_numpy()
        pm, plo, phi = bootstrap_ci(proxy, np.mean, resamples, level) if len(proxy) else (None, None, None)
        gm, glo, ghi = bootstrap_ci(g["gold_score"].to_numpy(), np.mean, resamples, level)
        rows.append({"policy": policy, "judge_variant": judge, "step": int(step), "n": len(g),
                     "proxy_mean": pm, "proxy_low": plo, "proxy_high": phi,
                     "gold_mean": gm, "gold_low": glo, "gold_high": ghi,
                     "gap": None if pm is None else pm - gm})
    return pl.DataFrame(rows, schema_overrides={c: pl.Float64 for c in ("proxy_mean", "proxy_low", "proxy_high", "gap")}
                        ).sort("policy", "judge_variant", "step")


@asset(group_name="analysis", automation_condition=AutomationCondition.eager(),
       dagster_type=table_type(schemas.Overoptimization))
def overoptimization(context: AssetExecutionContext, study: StudyResource, tracker: TrackerResource,
                     checkpoint_scores: pl.DataFrame) -> pl.DataFrame:
    """Training-judge (proxy) vs gold score per policy step, with bootstrap CIs: reward hacking is the gap."""
    cfg = study.cfg
    df = overoptimization_table(checkpoint_scores, cfg.eval.bootstrap_resamples, cfg.eval.ci_level)
    plot = overoptimization_plot(df, study.plot_dir() / "overoptimization.png")
    with tracker.run("overoptimization", job_type="analysis") as run:
        log_table(run, "overoptimization", df)
        if run is not None:
            import wandb

            run.log({"overoptimization_plot": wandb.Image(str(plot))})
    first = df.group_by("policy", "judge_variant").agg(pl.all().sort_by("step").first())
    last = df.group_by("policy", "judge_variant").agg(pl.all().sort_by("step").last())
    context.add_output_metadata({
        "plot": md_plot(plot, "proxy vs gold"),
        "table": md_table(df, max_rows=50),
        "final_proxy": MetadataValue.float(float(last["proxy_mean"][0] or float("nan"))),
        "final_gold": MetadataValue.float(float(last["gold_mean"][0])),
        "initial_gold": MetadataValue.float(float(first["gold_mean"][0])),
        "plot_path": MetadataValue.path(str(plot)),
    })
    return df


@asset(group_name="analysis", deps=["checkpoint_scores", "judge_report"],
       automation_condition=AutomationCondition.eager())
def judge_disagreement(context: AssetExecutionContext, study: StudyResource) -> pl.DataFrame:
    """Per judge: agreement with gold over every sample in the store (SQL view `judge_vs_gold`),
    and the samples where judge and gold disagree most."""
    store = study.store()
    summary = store.query("disagreement_summary")
    top = store.query("top_disagreements", limit=10)
    context.add_output_metadata({"summary": md_table(summary), "largest_disagreements": md_table(top),
                                 "sql": MetadataValue.md("```sql\nSELECT * FROM judge_vs_gold ORDER BY abs(gap) DESC;\n```")})
    return summary
