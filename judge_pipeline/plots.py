"""Plots for the UI and W&B: PNG files, embedded in materialisation metadata as markdown images."""

from __future__ import annotations

import base64
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402


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
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def score_scatter(judge: list[float], gold: list[float], title: str, path: Path) -> Path:
    """Judge expected score vs gold score, one point per held-out example."""
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.scatter(gold, judge, alpha=0.6, s=18)
    ax.plot([0, 9], [0, 9], color="grey", lw=1, ls="--")
    ax.set_xlabel("gold score")
    ax.set_ylabel("judge expected score")
    ax.set_xlim(-0.5, 9.5)
    ax.set_ylim(-0.5, 9.5)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def markdown_image(path: Path, alt: str = "plot") -> str:
    """Markdown that embeds a PNG inline (the Dagster UI renders it in metadata)."""
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f"![{alt}](data:image/png;base64,{data})"
