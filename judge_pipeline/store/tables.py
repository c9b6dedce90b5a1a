"""The store's tables as Python sees them: their columns, how a row's id is made, the SQL files, and the views
that read the shards. `judgment_store.py` stores and reads rows; this module only describes them."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl

from judge_pipeline.store.keys import text_hash

JUDGMENT_SCHEMA: dict[str, pl.DataType] = {
    "key": pl.String, "judge_name": pl.String, "fingerprint": pl.String, "template_version": pl.String,
    "decoding": pl.String, "kind": pl.String, "prompt_hash": pl.String, "response_hash": pl.String,
    "prompt": pl.String, "response_a": pl.String, "response_b": pl.String, "raw_output": pl.String,
    "reasoning": pl.String, "score": pl.Float64, "label": pl.Int32, "invalid_reason": pl.String,
    "expected_score": pl.Float64, "score_probs": pl.List(pl.Float64), "mass_outside": pl.Float64,
    "reward": pl.Float64, "prompt_tokens": pl.Int32, "output_tokens": pl.Int32, "latency_ms": pl.Float64,
    "device_ms": pl.Float64, "run_id": pl.String,
}
GENERATION_SCHEMA: dict[str, pl.DataType] = {
    "key": pl.String, "model": pl.String, "model_fingerprint": pl.String, "decoding": pl.String,
    "prompt": pl.String, "sample_index": pl.Int32, "completion": pl.String, "finished": pl.Boolean,
    "completion_tokens": pl.Int32, "latency_ms": pl.Float64, "run_id": pl.String,
}
KL_SCHEMA: dict[str, pl.DataType] = {
    "key": pl.String, "policy_fingerprint": pl.String, "reference_fingerprint": pl.String, "decoding": pl.String,
    "prompt": pl.String, "sample_index": pl.Int32, "kl": pl.Float64, "tokens": pl.Int32, "run_id": pl.String,
}
USE_SCHEMA: dict[str, pl.DataType] = {
    "key": pl.String, "context": pl.String, "study": pl.String, "partition_key": pl.String, "step": pl.Int32,
    "item_id": pl.String,
}
JUDGE_SCHEMA: dict[str, pl.DataType] = {
    "judge_name": pl.String, "fingerprint": pl.String, "role": pl.String, "model": pl.String,
    "checkpoint_hash": pl.String, "template_version": pl.String, "kind": pl.String,
}
STUDY_JUDGE_SCHEMA: dict[str, pl.DataType] = {
    "study": pl.String, "judge_name": pl.String, "fingerprint": pl.String, "role": pl.String, "kind": pl.String,
    "writer": pl.String,
}

#: Per table: its columns and the function giving a row's id (the primary key, as one string).
TABLES: dict[str, tuple[dict[str, pl.DataType], Callable[[dict], str]]] = {
    "judgments": (JUDGMENT_SCHEMA, lambda r: r["key"]),
    "generations": (GENERATION_SCHEMA, lambda r: r["key"]),
    "kl_estimates": (KL_SCHEMA, lambda r: r["key"]),
    "judges": (JUDGE_SCHEMA, lambda r: text_hash(r["fingerprint"])),
    "judgment_uses": (USE_SCHEMA, lambda r: text_hash(r["key"], r["context"], r["study"], r["partition_key"],
                                                       str(r["step"]), r["item_id"])),
    "study_judges": (STUDY_JUDGE_SCHEMA, lambda r: text_hash(r["study"], r["judge_name"], r["fingerprint"], r["writer"])),
}


def read_sql(name: str) -> str:
    return resources.files("judge_pipeline.store").joinpath("sql", name).read_text()


def _named_queries() -> dict[str, str]:
    """Parse ``queries.sql`` into {name: statement}."""
    text = read_sql("queries.sql")
    blocks = re.split(r"^-- name: (\w+)\s*$", text, flags=re.M)
    return {blocks[i]: blocks[i + 1].strip() for i in range(1, len(blocks), 2)}


QUERIES = _named_queries()


def id_bits(ids: Sequence[str]) -> tuple[list[int], list[int]]:
    """(k1, k2): the first and second 64 bits of each hex id (sha256 hex digests)."""
    return [int(i[:16], 16) for i in ids], [int(i[16:32], 16) for i in ids]


def relation_sql(root: Path, table: str) -> str:
    glob = str(root / table / "**" / "*.parquet").replace("'", "''")
    return f"SELECT * FROM read_parquet('{glob}', union_by_name = true, hive_partitioning = false)"


def view_statements(root: Path) -> list[str]:
    """Statements that define every table as a view over its shards, then the study's views (views.sql)."""
    base = [f"CREATE OR REPLACE VIEW {t} AS {relation_sql(root, t)};" for t in TABLES]
    return base + [read_sql("views.sql")]


def utf8(value: Any) -> Any:
    """Text that UTF-8 can hold: a lone surrogate (which a model's output can contain) is kept as its escape."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value
