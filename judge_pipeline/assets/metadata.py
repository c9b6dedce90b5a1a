"""Small helpers for materialisation metadata shown in the Dagster UI."""

import warnings
from functools import lru_cache

import polars as pl
from dagster import BetaWarning, MetadataValue
from dagster_pandera import pandera_schema_to_dagster_type

from judge_pipeline.plots import markdown_image


def md_table(df: pl.DataFrame, max_rows: int = 20, float_digits: int = 3) -> MetadataValue:
    """A polars frame as a markdown table (first ``max_rows`` rows)."""
    shown = df.head(max_rows).with_columns(pl.col(pl.Float64, pl.Float32).round(float_digits))
    cols = shown.columns
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in shown.iter_rows():
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    if len(df) > max_rows:
        lines.append(f"\n({len(df) - max_rows} more rows)")
    return MetadataValue.md("\n".join(lines))


def _cell(v) -> str:
    s = "" if v is None else str(v)
    s = s.replace("\n", " ").replace("|", "\\|")
    return s if len(s) <= 120 else s[:117] + "..."


def md_plot(path, alt: str = "plot") -> MetadataValue:
    return MetadataValue.md(markdown_image(path, alt))


@lru_cache(maxsize=None)
def table_type(model):
    """The Dagster type of a pandera schema (made once per schema: Dagster type names must be unique)."""
    with warnings.catch_warnings():  # "currently in beta": once per schema at import, noise for every user
        warnings.simplefilter("ignore", BetaWarning)
        return pandera_schema_to_dagster_type(model)
