"""The judgment store, read top to bottom: connect (with retry), look up, insert.

One DuckDB file holds every verdict of every judge (`judgments`), every generated response
(`generations`), KL estimates of policy checkpoints (`kl_estimates`), the judges themselves
(`judges`) and where verdicts were used (`judgment_uses`).
Rows are keyed by a content hash (see `keys.py`), so a caller asks which keys are *missing*,
computes only those, and inserts them. Inserts are ``INSERT OR IGNORE``: two processes that compute
the same verdict both succeed and the store keeps one row.

Concurrency: DuckDB lets one process at a time open a file for writing, and a second process fails
at once with "Could not set lock on file". Every operation here therefore opens a connection, runs one
short transaction and closes it, retrying with jittered back-off while another process holds the
lock. Callers write in small batches, so a run killed mid-way keeps every batch committed before the
kill (DuckDB's write-ahead log makes each commit durable).
"""

from __future__ import annotations

import contextlib
import random
import re
import threading
import time
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

JUDGMENT_SCHEMA: dict[str, pl.DataType] = {
    "key": pl.String, "judge_name": pl.String, "fingerprint": pl.String, "template_version": pl.String,
    "decoding": pl.String, "kind": pl.String, "prompt_hash": pl.String, "response_hash": pl.String,
    "prompt": pl.String, "response_a": pl.String, "response_b": pl.String, "raw_output": pl.String,
    "reasoning": pl.String, "score": pl.Float64, "label": pl.Int32, "invalid_reason": pl.String,
    "expected_score": pl.Float64, "score_probs": pl.List(pl.Float64), "mass_outside": pl.Float64,
    "reward": pl.Float64, "prompt_tokens": pl.Int32, "output_tokens": pl.Int32, "latency_ms": pl.Float64, "run_id": pl.String,
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
    "key": pl.String, "context": pl.String, "partition_key": pl.String, "step": pl.Int32, "item_id": pl.String,
}
JUDGE_SCHEMA: dict[str, pl.DataType] = {
    "judge_name": pl.String, "fingerprint": pl.String, "role": pl.String, "model": pl.String,
    "checkpoint_hash": pl.String, "template_version": pl.String, "kind": pl.String,
}


class StoreLockTimeout(RuntimeError):
    """Another process held the store's write lock for longer than the timeout."""


def _read_sql(name: str) -> str:
    return resources.files("judge_pipeline.store").joinpath("sql", name).read_text()


def _named_queries() -> dict[str, str]:
    """Parse ``queries.sql`` into {name: statement}."""
    text = _read_sql("queries.sql")
    blocks = re.split(r"^-- name: (\w+)\s*$", text, flags=re.M)
    return {blocks[i]: blocks[i + 1].strip() for i in range(1, len(blocks), 2)}


QUERIES = _named_queries()


def _is_lock_error(exc: Exception) -> bool:
    msg = str(exc).lower()
    return "lock" in msg and ("could not set" in msg or "conflicting" in msg or "lock on file" in msg)


class JudgmentStore:
    """Content-keyed store of verdicts and generations in one DuckDB file.

    Parameters
    ----------
    path: the DuckDB file (created with its schema on first use).
    lock_timeout_s: how long to wait for another process's write lock before giving up.
    """

    _initialised: set[str] = set()
    _init_lock = threading.Lock()

    def __init__(self, path: str | Path, lock_timeout_s: float = 600.0):
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s
        self.path.parent.mkdir(parents=True, exist_ok=True)

    # ---------------------------------------------------------------- connection
    @contextlib.contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived read-write connection, opened with retry while another process holds the lock."""
        deadline = time.monotonic() + self.lock_timeout_s
        delay = 0.02
        while True:
            try:
                con = duckdb.connect(str(self.path))
                break
            except duckdb.Error as exc:  # IOException on a held lock
                if not _is_lock_error(exc):
                    raise
                if time.monotonic() > deadline:
                    raise StoreLockTimeout(
                        f"could not lock {self.path} for {self.lock_timeout_s:.0f}s: another process holds it"
                    ) from exc
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.5)
        try:
            self._ensure_schema(con)
            yield con
        finally:
            con.close()

    def _ensure_schema(self, con: duckdb.DuckDBPyConnection) -> None:
        key = str(self.path.resolve())
        if key in self._initialised:
            return
        with self._init_lock:
            con.execute(_read_sql("schema.sql"))
            con.execute(_read_sql("views.sql"))
            self._initialised.add(key)

    # ---------------------------------------------------------------- generic helpers
    def _missing(self, query: str, keys: Sequence[str]) -> list[str]:
        if not keys:
            return []
        wanted = pl.DataFrame({"key": list(dict.fromkeys(keys))}, schema={"key": pl.String})  # noqa: F841
        with self.connect() as con:
            missing = {r[0] for r in con.execute(QUERIES[query]).fetchall()}
        return [k for k in dict.fromkeys(keys) if k in missing]

    def _fetch(self, query: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not keys:
            return {}
        wanted = pl.DataFrame({"key": list(dict.fromkeys(keys))}, schema={"key": pl.String})  # noqa: F841
        with self.connect() as con:
            df = con.execute(QUERIES[query]).pl()
        return {r["key"]: r for r in df.iter_rows(named=True)}

    def _insert(self, query: str, rows: Sequence[dict[str, Any]], schema: dict[str, pl.DataType]) -> int:
        if not rows:
            return 0
        rows = pl.DataFrame([{c: r.get(c) for c in schema} for r in rows], schema=schema)  # noqa: F841
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            con.execute(QUERIES[query])
            con.execute("COMMIT")
        return len(rows)

    # ---------------------------------------------------------------- judges
    def register_judge(self, **info: Any) -> None:
        """Record a judge (name, fingerprint, role, model, checkpoint_hash, template_version, kind)."""
        self._insert("register_judge", [info], JUDGE_SCHEMA)

    # ---------------------------------------------------------------- verdicts
    def missing_judgments(self, keys: Sequence[str]) -> list[str]:
        """The keys among ``keys`` with no stored verdict, in first-seen order."""
        return self._missing("missing_judgments", keys)

    def fetch_judgments(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Stored verdict rows by key (absent keys are absent)."""
        return self._fetch("fetch_judgments", keys)

    def put_judgments(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert verdict rows in one transaction; rows whose key exists are ignored."""
        return self._insert("insert_judgments", rows, JUDGMENT_SCHEMA)

    def record_uses(self, rows: Sequence[dict[str, Any]]) -> int:
        """Record where verdicts were used (key, context, partition_key, step, item_id)."""
        return self._insert("insert_uses", rows, USE_SCHEMA)

    # ---------------------------------------------------------------- generations
    def missing_generations(self, keys: Sequence[str]) -> list[str]:
        return self._missing("missing_generations", keys)

    def fetch_generations(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        return self._fetch("fetch_generations", keys)

    def put_generations(self, rows: Sequence[dict[str, Any]]) -> int:
        return self._insert("insert_generations", rows, GENERATION_SCHEMA)

    # ---------------------------------------------------------------- KL estimates
    def missing_kl(self, keys: Sequence[str]) -> list[str]:
        return self._missing("missing_kl", keys)

    def fetch_kl(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        return self._fetch("fetch_kl", keys)

    def put_kl(self, rows: Sequence[dict[str, Any]]) -> int:
        return self._insert("insert_kl", rows, KL_SCHEMA)

    # ---------------------------------------------------------------- queries
    def query(self, sql_or_name: str, **params: Any) -> pl.DataFrame:
        """Run a named query from ``queries.sql`` (or raw SQL) and return a polars DataFrame."""
        sql = QUERIES.get(sql_or_name, sql_or_name)
        with self.connect() as con:
            return con.execute(sql, params or None).pl()

    def count_judgments(self) -> int:
        return int(self.query("count_judgments")["n"][0])
