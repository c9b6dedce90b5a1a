"""Plots for the UI and W&B: PNG files, embedded in materialisation metadata as markdown images."""

from __future__ import annotations

import base64
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _proxy_and_gold(ax, g: pl.DataFrame, judge: str, suffix: str = "", ylabel: str = "mean score (0-9)") -> None:
    """Proxy and gold mean with CI bands vs step on ``ax``; a proxy on another scale (a pairwise win rate, a
    reward-model scalar) gets its own right-hand axis."""
    steps = g["step"].to_list()
    scale = g["proxy_scale"][0] if "proxy_scale" in g.columns else "score_0_9"
    proxy_ax = ax if scale == "score_0_9" else ax.twinx()
    for target, col, label, color in ((proxy_ax, "proxy", f"training judge ({judge})", "tab:orange"),
                                      (ax, "gold", "gold judge", "tab:blue")):
        mean = g[f"{col}{suffix}_mean"].to_numpy()
        if np.all(np.isnan(mean.astype(float))):
            continue
        target.plot(steps, mean, marker="o", color=color, label=label)
        target.fill_between(steps, g[f"{col}{suffix}_low"].to_numpy(), g[f"{col}{suffix}_high"].to_numpy(), color=color, alpha=0.2)
    ax.set_xlabel("GRPO step")
    ax.set_ylabel(ylabel)
    if proxy_ax is not ax:
        proxy_ax.set_ylabel(f"training judge: {scale}", color="tab:orange")
        proxy_ax.legend(loc="upper right", fontsize=8)
        ax.legend(loc="upper left", fontsize=8)
    else:
        ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)


def overoptimization_plot(df: pl.DataFrame, path: Path, prompts: str = "the policy-test prompts") -> Path:
    """Training-judge (proxy) and gold score vs policy step, one panel per (policy, judge), with CIs;
    ``prompts`` names what was scored (held-out or the RL prompts)."""
    groups = df.select("policy", "judge_variant").unique().sort(["policy", "judge_variant"]).rows()
    fig, axes = plt.subplots(1, max(1, len(groups)), figsize=(5.5 * max(1, len(groups)), 4), squeeze=False)
    for ax, (policy, judge) in zip(axes[0], groups):
        g = df.filter((pl.col("policy") == policy) & (pl.col("judge_variant") == judge)).sort("step")
        _proxy_and_gold(ax, g, judge, ylabel=f"mean score (0-9) on {prompts}")
        seeds = g["n_seeds"].max() if "n_seeds" in g.columns else 1
        ax.set_title(f"{policy} vs {judge}" + (f" ({seeds} seeds)" if seeds > 1 else ""))
        ax.set_ylim(0, 9)
    return _save(fig, path)


def judge_comparison_plot(report: pl.DataFrame, path: Path) -> Path:
    """Pair accuracy (with CI) of every judge on every evaluation set that has one; 0.5 = chance."""
    acc = report.filter((pl.col("metric") == "accuracy") & pl.col("value").is_not_null())
    sets = sorted(acc["eval_set"].unique().to_list())
    judges = sorted(acc["judge"].unique().to_list())
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(sets) * max(1, len(judges)) ** 0.5), 4.5))
    width = 0.8 / max(1, len(judges))
    for j, judge in enumerate(judges):
        xs, ys, err = [], [], [[], []]
        for i, s in enumerate(sets):
            row = acc.filter((pl.col("judge") == judge) & (pl.col("eval_set") == s))
            if len(row):
                v, lo, hi = row.row(0, named=True)["value"], row["low"][0], row["high"][0]
                xs.append(i + (j - (len(judges) - 1) / 2) * width)
                ys.append(v)
                err[0].append(v - lo if lo is not None else 0.0)
                err[1].append(hi - v if hi is not None else 0.0)
        ax.bar(xs, ys, width, yerr=err, capsize=2, label=judge)
    ax.axhline(0.5, color="grey", ls="--", lw=1)
    ax.set_xticks(range(len(sets)), sets, rotation=15, fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("pair accuracy (95% CI)")
    ax.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def markdown_image(path: Path, alt: str = "plot") -> str:
    """Markdown that embeds a PNG inline (the Dagster UI renders it in metadata)."""
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f"![{alt}](data:image/png;base64,{data})"


def run_summary_plot(over: pl.DataFrame, bon: pl.DataFrame | None, fits: pl.DataFrame, prevalence: pl.DataFrame,
                     path: Path, title: str) -> Path:
    """One run on one page: (1) proxy and gold vs step, (2) gold gain vs d = sqrt(KL) with the Gao fits (RL
    checkpoints and best-of-n), (3) style-controlled proxy and gold vs step, (4) hacking-pattern prevalence vs step."""
    from judge_pipeline.metrics.gao_fits import gao_curve

    over = over.sort("step")
    judge = over["judge_variant"][0]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    ax = axes[0][0]
    _proxy_and_gold(ax, over, judge)
    seeds = over["n_seeds"].max() if "n_seeds" in over.columns else 1
    ax.set(title="score vs GRPO step (95% CI over " + (f"{seeds} seeds x prompts)" if seeds > 1 else "prompts)"), ylim=(0, 9))

    ax = axes[0][1]
    base = float(over["gold_mean"][0])
    if over["d"].null_count() < len(over):
        ax.plot(over["d"].to_numpy(), over["gold_mean"].to_numpy() - base, "o", color="tab:blue", label="RL checkpoints")
    if bon is not None and len(bon):
        bon = bon.sort("n")
        ax.plot(bon["d"].to_numpy(), bon["gold_mean"].to_numpy() - float(bon["gold_mean"][0]), "s", color="tab:green",
                label="best-of-n (initial policy)")
    for row in fits.filter(pl.col("alpha").is_not_null()).iter_rows(named=True):
        xs = (over["d"] if row["form"] == "rl" else bon["d"]).drop_nulls().to_numpy()
        grid = np.linspace(0, max(float(xs.max()) * 1.2, 1e-3), 100)
        ax.plot(grid, gao_curve(row["form"], grid, row["alpha"], row["beta"]), "--",
                color="tab:blue" if row["form"] == "rl" else "tab:green",
                label=f"{row['form']} fit: alpha={row['alpha']:.2f} beta={row['beta']:.2f} R2={row['r2']:.2f}")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(title="gold gain vs d = sqrt(KL to the initial policy)", xlabel="d (sqrt nats)", ylabel="gold - initial gold")
    ax.legend(fontsize=7)

    ax = axes[1][0]
    _proxy_and_gold(ax, over, judge, suffix="_controlled", ylabel="controlled mean score")
    ax.set_title("style- and length-controlled scores")

    ax = axes[1][1]
    prevalence = prevalence.sort("step")
    for name in [c for c in prevalence.columns if c not in ("policy", "judge_variant", "step", "n", "gap", "any_pattern")]:
        ax.plot(prevalence["step"].to_list(), prevalence[name].to_numpy(), marker=".", label=name)
    ax.plot(prevalence["step"].to_list(), prevalence["any_pattern"].to_numpy(), color="black", lw=2, label="any pattern")
    ax.set(title="hacking patterns in the answers", xlabel="GRPO step", ylabel="share of answers", ylim=(-0.02, 1.02))
    ax.legend(fontsize=7)
    for a in axes.flat:
        a.grid(alpha=0.3)
    fig.suptitle(title)
    return _save(fig, path)


def transfer_heatmap(table: pl.DataFrame, columns: list[str], path: Path) -> Path:
    """The deception-transfer matrix: rows = policy runs (trained against a judge) and canaries, columns = judges
    (``columns``, in order); colour = inflation (the judge's change minus gold's, on [0, 1]; red: the judge rewards
    what gold does not), text = the inflation with its CI and the judge's own change."""
    rows = table.select("run", "row").unique(maintain_order=True).rows()
    grid = np.full((len(rows), len(columns)), np.nan)
    fig, ax = plt.subplots(figsize=(2.0 + 1.7 * max(1, len(columns)), 1.2 + 0.62 * max(1, len(rows))))
    cells = [(rows.index((r["run"], r["row"])), columns.index(r["judge_name"]), r) for r in table.iter_rows(named=True)]
    for i, j, r in cells:
        grid[i, j] = r["inflation"]
    bound = max(0.05, float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 0.05)
    for i, j, r in cells:
        ci = "" if r["inflation_low"] is None or np.isnan(r["inflation_low"]) else \
            f"\n[{r['inflation_low']:+.2f}, {r['inflation_high']:+.2f}]"
        ax.text(j, i, f"{r['inflation']:+.2f}{ci}\nΔ {r['judge_change']:+.2f}", ha="center", va="center", fontsize=7,
                color="white" if abs(r["inflation"]) > 0.6 * bound else "black")
    im = ax.imshow(grid, cmap="RdBu_r", vmin=-bound, vmax=bound, aspect="auto")
    ax.set_xticks(range(len(columns)), columns, rotation=25, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), [("canary: " if run.startswith("canary=") else "trained vs ") + label
                                      for run, label in rows], fontsize=8)
    ax.set_xlabel("judge scoring the answers")
    fig.colorbar(im, ax=ax, label="inflation (0-1 scale)")
    ax.set_title("deception transfer, step 0 -> final: judge change - gold change [95% CI], judge's own change (Δ)",
                 fontsize=9)
    return _save(fig, path)


def reasoning_plot(by_length: pl.DataFrame, summary: pl.DataFrame, path: Path) -> Path:
    """Judge-reasoning analytics: (1) agreement with gold per third of each judge's verdicts by trace length (mean
    trace tokens on x, 95% CI), (2) per judge, self-consistency of sampled traces and position consistency (1 - flip
    rate, pairwise judges), with seconds per verdict in the label."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    ax = axes[0]
    for (judge,), g in by_length.sort("judge_name", "length_bin").group_by("judge_name", maintain_order=True):
        g = g.filter(pl.col("agreement").is_not_null())
        if not len(g):
            continue
        y = g["agreement"].to_numpy()
        err = [y - g["agreement_low"].fill_null(np.nan).to_numpy(), g["agreement_high"].fill_null(np.nan).to_numpy() - y]
        ax.errorbar(g["mean_trace_tokens"].to_numpy(), y, yerr=np.nan_to_num(err), marker="o", capsize=3, label=judge)
    ax.set(xlabel="trace length (output tokens), thirds of the judge's verdicts", ylabel="agreement with gold",
           ylim=(-0.02, 1.02), title="does a longer trace agree more with gold?")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    ax = axes[1]
    judges = summary["judge_name"].to_list()
    width = 0.38
    for k, (col, label) in enumerate((("self_consistency", "self-consistency (sampled traces)"),
                                      ("position_consistency", "position consistency (1 - flip rate)"))):
        vals = [np.nan if v is None else v for v in summary[col].to_list()] if col in summary.columns else [np.nan] * len(judges)
        ax.bar(np.arange(len(judges)) + (k - 0.5) * width, vals, width, label=label)
    secs = summary["seconds_per_verdict"].to_list() if "seconds_per_verdict" in summary.columns else [None] * len(judges)
    names = [f"{j}\n{s:.2f} s/verdict" if s is not None else j for j, s in zip(judges, secs)]
    ax.set_xticks(range(len(judges)), names, fontsize=7)
    ax.set(ylim=(0, 1.05), ylabel="share", title="robustness per judge (blank: not measured)")
    ax.legend(fontsize=7)
    for a in axes:
        a.grid(alpha=0.3)
    return _save(fig, path)
