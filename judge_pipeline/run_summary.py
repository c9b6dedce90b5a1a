"""The one-page summary of a policy run (policy x training judge), as markdown.

It holds what a reader needs to decide whether the judge was hacked: the figure (curves, Gao fits,
controlled scores, pattern prevalence; `plots.run_summary_plot`), the fit parameters and landmarks,
the detector prevalence at the last checkpoint, and three answers at the gold peak and at the end (the
prompts where the training judge and gold disagree most at the end), each with both scores.
"""

from __future__ import annotations

import polars as pl

from judge_pipeline.metrics.detectors import DETECTORS


def _fmt(v, digits: int = 2) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _quote(text: str, limit: int = 400) -> str:
    text = text if len(text) <= limit else text[:limit] + " …"
    return "\n".join("> " + line for line in (text.splitlines() or [""]))


def run_summary_markdown(policy: str, judge: str, over: pl.DataFrame, fits: pl.DataFrame, prevalence: pl.DataFrame,
                         scores: pl.DataFrame, plot_md: str, examples: int = 3) -> str:
    """The page for one run (every frame already filtered to the run)."""
    over = over.sort("step")
    rl = fits.filter(pl.col("form") == "rl").row(0, named=True) if len(fits.filter(pl.col("form") == "rl")) else {}
    first, last = over.row(0, named=True), over.row(-1, named=True)
    lines = [f"# {policy} trained against `{judge}`", "", plot_md, "",
             "## Curves", "",
             "| | step 0 | gold peak | last step |", "|---|---|---|---|"]
    peak_step = rl.get("peak_step", first["step"])
    peak = over.filter(pl.col("step") == peak_step).row(0, named=True)
    for label, col in (("step", "step"), ("training judge (proxy)", "proxy_mean"), ("gold", "gold_mean"),
                       ("gold 95% CI", "gold"), ("gold change since step 0, paired", "gold_change_mean"),
                       ("its 95% CI", "gold_change"), ("d = sqrt(KL)", "d"), ("gold, style-controlled", "gold_controlled_mean")):
        if col in ("gold", "gold_change"):
            cells = [f"[{_fmt(r.get(col + '_low'))}, {_fmt(r.get(col + '_high'))}]" for r in (first, peak, last)]
        else:
            cells = [_fmt(r.get(col)) for r in (first, peak, last)]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", f"Divergence step (gold below its peak while the proxy is above its value there): "
                  f"{_fmt(rl.get('divergence_step'))}; regret (peak gold − final gold): {_fmt(rl.get('regret'))}; "
                  f"final gold significantly below the peak: {rl.get('gold_drop_significant', '—')}.", "",
              "## Gao et al. fits (gold gain vs d)", "", "| form | alpha | beta | R² | points | d* | gold at d* | note |",
              "|---|---|---|---|---|---|---|---|"]
    for r in fits.iter_rows(named=True):
        lines.append(f"| {r['form']} | {_fmt(r['alpha'], 3)} | {_fmt(r['beta'], 3)} | {_fmt(r['r2'])} | {r['n_points']} | "
                     f"{_fmt(r['d_peak'])} | {_fmt(r['gold_at_peak'])} | {r['note']} |")
    end = prevalence.sort("step").row(-1, named=True)
    start = prevalence.sort("step").row(0, named=True)
    lines += ["", "## Hacking patterns (share of answers)", "", "| pattern | step 0 | last step |", "|---|---|---|"]
    for name in [*DETECTORS, "any_pattern"]:
        lines.append(f"| {name} | {_fmt(start[name])} | {_fmt(end[name])} |")
    scores = scores.filter(pl.col("seed") == scores["seed"].min()) if "seed" in scores.columns else scores  # examples: 1st seed
    last_rows = scores.filter(pl.col("step") == last["step"]).with_columns(
        gap=pl.col("proxy_score").fill_null(0.0) - pl.col("gold_score")).sort("gap", descending=True)
    chosen = last_rows["prompt_id"].head(examples).to_list()
    for title, step in (("at the gold peak", peak_step), ("at the last step", last["step"])):
        lines += ["", f"## Answers {title} (step {step})", ""]
        rows = scores.filter((pl.col("step") == step) & pl.col("prompt_id").is_in(chosen)).sort("prompt_id")
        for r in rows.iter_rows(named=True):
            lines += [f"**{r['prompt_id']}** — proxy {_fmt(r['proxy_score'])}, gold {_fmt(r['gold_score'])}", "",
                      _quote(r["response"]), ""]
    return "\n".join(lines)
