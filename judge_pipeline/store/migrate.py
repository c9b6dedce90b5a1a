"""Import a single-file store of an earlier version (one DuckDB file, ``judgments.duckdb``) into a shard store."""

from __future__ import annotations

from pathlib import Path

import duckdb

from judge_pipeline.store.judgment_store import JudgmentStore
from judge_pipeline.store.tables import TABLES


def migrate_from_duckdb(old: str | Path, root: str | Path) -> dict[str, int]:
    """Copy a single-file store of an earlier version (``judgments.duckdb``) into a shard store at ``root``.

    Uses without a study get study ''; ``study_judges`` starts empty. Returns {table: rows copied}.
    """
    store = JudgmentStore(root, compact_every=0)
    src = duckdb.connect(str(old), read_only=True)
    copied = {}
    for table, (schema, _) in TABLES.items():
        if not src.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]).fetchone()[0]:
            continue
        df = src.execute(f"SELECT * FROM {table}").pl()
        rows = [{**{c: None for c in schema}, "study": "", **r} for r in df.iter_rows(named=True)]
        copied[table] = sum(store._put(table, rows[i:i + 100_000]) for i in range(0, len(rows), 100_000))
    src.close()
    store.compact()
    return copied
