"""Plots for the UI and W&B: PNG files, embedded in materialisation metadata as markdown images."""

from __future__ import annotations

import base64
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def overoptimization_plot(df: pl.DataFrame, path: Path) -> Path:
    """Training-judge (proxy) and gold score vs policy step, one panel per (policy, judge), with CIs."""
    groups = df.select("policy", "judge_variant").unique().sort(["policy", "judge_variant"]).rows()
    fig, axes = plt.subplots(1, max(1, len(groups)), figsize=(5.5 * max(1, len(groups)), 4), squeeze=False)
    for ax, (policy, judge) in zip(axes[0], groups):
        g = df.filter((pl.col("policy") == policy) & (pl.col("judge_variant") == judge)).sort("step")
        steps = g["step"].to_list()
        for col, label, color in (("proxy", f"training judge ({judge})", "tab:orange"), ("gold", "gold judge", "tab:blue")):
            mean = g[f"{col}_mean"].to_numpy()
            ax.plot(steps, mean, marker="o", color=color, label=label)
            lo, hi = g[f"{col}_low"].to_numpy(), g[f"{col}_high"].to_numpy()
            ax.fill_between(steps, lo, hi, color=color, alpha=0.2)
        ax.set_title(f"{policy} vs {judge}")
        ax.set_xlabel("GRPO step")
        ax.set_ylabel("mean score (0-9) on policy-test prompts")
        ax.set_ylim(0, 9)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
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
