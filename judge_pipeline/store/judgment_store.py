"""The judgment store, read top to bottom: a folder of append-only Parquet shards, DuckDB views over them.

Every verdict of every judge (`judgments`), every generated response (`generations`), KL estimates of
policy checkpoints (`kl_estimates`), the judges (`judges`), which judges each study used
(`study_judges`) and where verdicts were used (`judgment_uses`). Rows are keyed by a content hash
(`keys.py`): a caller asks which keys are *missing*, computes only those, and puts them. A put never
adds a row whose id the store already has (``INSERT OR IGNORE``), so a re-run makes 0 model calls.

Layout (``root`` is e.g. ``data/judgments/``)::

    root/<table>/_schema.parquet                 zero rows: the table's columns (so an empty table reads)
    root/<table>/<writer>/part-<n>.parquet       a put's rows; <writer> = host-pid-random, one per process
    root/<table>/compacted-<id>/part-0.parquet   many shards merged into one (compact())
    root/<table>/.publish.lock                   held by a writer for the milliseconds of a publish
    root/catalog.duckdb                          views only (no data) for `duckdb -readonly` sessions

Why shards (and not one DuckDB file): DuckDB lets a file be written only while no other process has it
open, so a notebook or a ``duckdb`` CLI left open on a single-file store stopped every run. Here:

* **Readers never block anyone.** A shard is written under a temporary name and published by an
  atomic rename; readers (this class, the catalog, any DuckDB/polars session) see whole shards or none.
  Nothing a reader holds is ever written again.
* **Writers do not wait for readers**, and processes on other machines write shards into their own
  folders under the same root (a shared filesystem), or anywhere and are merged by copying the folder in.
* **No duplicates.** Before publishing, a writer takes the table's publish lock (``flock``, held for the
  check and the rename only), drops the rows whose id the store already has, and renames. Two
  processes computing the same verdict therefore keep one row. Where ``flock`` is not available
  (some network filesystems) writers publish without it, and ``compact()`` removes the duplicates such
  writers can leave (the earliest row of an id is kept); ``duplicates()`` counts them.
* **Lookups stay fast at 10M rows**: every row carries its id's first 128 bits as two integers
  (``k1``, ``k2``) and lookups join on them (see ``bench/store_scale.py``). A false match would need
  two sha256 digests equal in their first 128 bits.
* **Killed writers lose nothing committed**: a put is published before ``put_*`` returns; a process
  killed mid-put leaves a ``.tmp-*.partial`` file that readers ignore and ``compact()`` deletes.

Shards accumulate (one per put), and every query opens every shard (about half a millisecond each on 2
cores), so when a table has more than ``compact_every`` *small* shards (under ``SMALL_SHARD_BYTES``), the
writer that notices merges those into one (``maybe_compact``); large shards are left alone, so a put never
rewrites a big table. ``compact()`` merges everything. A reader can see a merged shard and its inputs together for
the milliseconds between the merged shard's rename and the inputs' deletion.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from judge_pipeline.store.tables import QUERIES, TABLES, id_bits, read_sql, utf8, view_statements

log = logging.getLogger(__name__)

#: Shards smaller than this are merged automatically; larger ones only by compact().
SMALL_SHARD_BYTES = 32 << 20


class StoreLockTimeout(RuntimeError):
    """Another writer held a table's publish lock for longer than the timeout (a publish takes milliseconds)."""


class StoreRowError(ValueError):
    """Rows that do not fit a table (a missing required column, a wrong type); the message names the table."""


class JudgmentStore:
    """Content-keyed store of verdicts, generations and KL estimates: Parquet shards under ``root``.

    Parameters
    ----------
    root: the store's folder (created with its layout on first use).
    study: the study this process works for; recorded with every use and judge registration, so the
        views answer one study's questions although studies share a store.
    compact_every: merge a table's small shards once it has more than this many (0: never automatically).
    lock_timeout_s: how long a writer waits for another writer's publish (milliseconds normally).
    locking: take the publish lock (``flock``); False for writers that share no lock with the others (machines
        without a common lock manager): their duplicates are removed by ``compact()``. Default: the environment
        variable ``JUDGE_PIPELINE_STORE_LOCKING`` ("0" turns it off), else True.
    """

    def __init__(self, root: str | Path, study: str | None = None, compact_every: int = 16,
                 lock_timeout_s: float = 120.0, locking: bool | None = None):
        self.root = Path(root)
        if self.root.suffix == ".duckdb" and self.root.is_file():
            raise ValueError(f"{self.root} is a single-file store of an earlier version: import it with "
                             f"`python -m judge_pipeline.store migrate {self.root} {self.root.with_suffix('')}`")
        self.study = study
        self.compact_every = compact_every
        self.lock_timeout_s = lock_timeout_s
        self.writer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._seq = 0
        self._lock = threading.Lock()
        self._reader: duckdb.DuckDBPyConnection | None = None
        self._stage: duckdb.DuckDBPyConnection | None = None
        self._no_flock_warned = False
        self.locking = os.environ.get("JUDGE_PIPELINE_STORE_LOCKING", "1") != "0" if locking is None else locking
        self.max_lock_wait_s = 0.0  #: the longest this instance waited for the publish lock (drills read it)
        self._registered: set[tuple[str, str]] = set()
        self._ensure_layout()

    # ---------------------------------------------------------------- layout
    def _ensure_layout(self) -> None:
        """Table folders with their ``_schema.parquet``, and the catalog; both rewritten only when they change."""
        schema_sql = read_sql("schema.sql")
        con = duckdb.connect()
        con.execute(schema_sql)
        for t in TABLES:
            folder = self.root / t
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / "_schema.parquet"
            signature = hashlib.sha256(schema_sql.encode()).hexdigest()[:16]
            sig_file = folder / ".schema.sig"
            if target.exists() and sig_file.exists() and sig_file.read_text() == signature:
                continue
            tmp = folder / f".tmp-{uuid.uuid4().hex}"
            con.execute(f"COPY (SELECT * FROM {t} LIMIT 0) TO '{tmp}' (FORMAT parquet)")
            os.replace(tmp, target)
            sig_file.write_text(signature)
        con.close()
        self._write_catalog()

    def _write_catalog(self) -> None:
        """``catalog.duckdb``: the views, with this root's absolute paths, for ``duckdb -readonly`` sessions."""
        statements = view_statements(self.root.resolve())
        signature = hashlib.sha256("\n".join(statements).encode()).hexdigest()
        catalog, sig_file = self.root / "catalog.duckdb", self.root / ".catalog.sig"
        if catalog.exists() and sig_file.exists() and sig_file.read_text() == signature:
            return
        tmp = self.root / f".tmp-catalog-{uuid.uuid4().hex}.duckdb"
        con = duckdb.connect(str(tmp))
        for s in statements:
            con.execute(s)
        con.close()
        os.replace(tmp, catalog)  # a session holding the old catalog keeps reading it; new sessions get this one
        sig_file.write_text(signature)

    # ---------------------------------------------------------------- reading
    def _reader_con(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if self._reader is None:
                con = duckdb.connect()
                con.execute("SET parquet_metadata_cache = true")  # shards never change once published
                for s in view_statements(self.root):
                    con.execute(s)
                self._reader = con
            return self._reader.cursor()

    @contextlib.contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read connection with every table and view (in memory: it locks no file)."""
        con = self._reader_con()
        try:
            yield con
        finally:
            con.close()

    def _run(self, sql: str, params: Any = None, **relations: Any) -> pl.DataFrame:
        """Run ``sql`` with polars frames registered as ``relations``; retried if a shard vanished under a merge."""
        for attempt in range(5):
            con = self._reader_con()
            try:
                for name, df in relations.items():
                    con.register(name, df)
                return con.execute(sql, params).pl()
            except duckdb.IOException:
                if attempt == 4:
                    raise
                time.sleep(0.05 * (attempt + 1))  # a compaction deleted a shard between glob and read
            finally:
                con.close()
        raise AssertionError("unreachable")

    @staticmethod
    def _wanted(keys: Sequence[str]) -> pl.DataFrame:
        keys = list(dict.fromkeys(keys))
        k1, k2 = id_bits(keys)
        return pl.DataFrame({"key": keys, "k1": k1, "k2": k2}, schema={"key": pl.String, "k1": pl.UInt64, "k2": pl.UInt64})

    def _missing(self, table: str, keys: Sequence[str]) -> list[str]:
        if not keys:
            return []
        missing = set(self._run(QUERIES["missing"].format(table=table), wanted=self._wanted(keys))["key"].to_list())
        return [k for k in dict.fromkeys(keys) if k in missing]

    def _fetch(self, table: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not keys:
            return {}
        df = self._run(QUERIES["fetch"].format(table=table), wanted=self._wanted(keys))
        out: dict[str, dict[str, Any]] = {}
        for r in df.iter_rows(named=True):  # ordered by created_at: a duplicate's earliest row wins
            out.setdefault(r["key"], r)
        return out

    # ---------------------------------------------------------------- writing
    @contextlib.contextmanager
    def _publish_lock(self, table: str) -> Iterator[None]:
        """The table's publish lock: writers only, for the check-and-rename of one shard."""
        if not self.locking:
            yield
            return
        f = open(self.root / table / ".publish.lock", "a+")
        try:
            start = time.monotonic()
            deadline = start + self.lock_timeout_s
            while True:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise StoreLockTimeout(f"{table}: another writer held the publish lock for {self.lock_timeout_s:.0f}s")
                    time.sleep(0.005)
                except OSError as exc:  # ENOLCK / EOPNOTSUPP on some network filesystems
                    if not self._no_flock_warned:
                        log.warning("no file locks under %s (%s): publishing without; compact() removes duplicates",
                                    self.root, exc)
                        self._no_flock_warned = True
                    break
            self.max_lock_wait_s = max(self.max_lock_wait_s, time.monotonic() - start)
            yield
        finally:
            f.close()  # closing releases the lock

    def _stage_con(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if self._stage is None:
                self._stage = duckdb.connect()
                self._stage.execute(read_sql("schema.sql"))
            return self._stage.cursor()

    def _put(self, table: str, rows: Sequence[dict[str, Any]]) -> int:
        """Publish ``rows`` as one shard, leaving out ids the store (or the batch) already has; returns rows added."""
        if not rows:
            return 0
        schema, row_id = TABLES[table]
        try:
            ids = [row_id(r) for r in rows]
        except KeyError as exc:
            raise StoreRowError(f"{table}: a row lacks column {exc}") from exc
        k1, k2 = id_bits(ids)
        frame = pl.DataFrame([{c: utf8(r.get(c)) for c in schema} for r in rows], schema=schema).with_columns(
            pl.Series("k1", k1, dtype=pl.UInt64), pl.Series("k2", k2, dtype=pl.UInt64))
        folder = self.root / table / self.writer
        folder.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._seq += 1
            name = f"part-{self._seq:06d}-{uuid.uuid4().hex[:6]}.parquet"
        tmp = folder / f".tmp-{name}.partial"  # not *.parquet: readers' globs never see it
        con = self._stage_con()
        con.execute("BEGIN TRANSACTION")
        try:
            with self._publish_lock(table):
                present = self._run(QUERIES["present_ids"].format(table=table), wanted=frame.select("k1", "k2"))
                con.register("new_rows", frame.join(present, on=["k1", "k2"], how="anti") if len(present) else frame)
                try:
                    con.execute(f"INSERT OR IGNORE INTO {table} BY NAME SELECT * FROM new_rows")
                except duckdb.ConstraintException as exc:
                    raise StoreRowError(f"{table}: {exc}") from exc
                added = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                if added:
                    con.execute(f"COPY {table} TO '{tmp}' (FORMAT parquet, COMPRESSION zstd)")
                    os.replace(tmp, folder / name)  # published: visible to every reader from now on
        finally:
            con.execute("ROLLBACK")  # the staging table is emptied: it only ever holds one put
            con.close()
            if tmp.exists():
                tmp.unlink()
        if self.compact_every:
            self.maybe_compact(table)
        return int(added)

    # ---------------------------------------------------------------- compaction
    def shards(self, table: str) -> list[Path]:
        return sorted(p for p in (self.root / table).glob("*/*.parquet"))

    def maybe_compact(self, table: str) -> bool:
        """Merge ``table``'s small shards if there are more than ``compact_every``; False if not needed or another
        process is compacting."""
        if len(self._small_shards(table)) <= self.compact_every:
            return False
        lock = open(self.root / ".compact.lock", "a+")
        try:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            self._compact_table(table, small_only=True)
            return True
        finally:
            lock.close()

    def _small_shards(self, table: str) -> list[Path]:
        out = []
        for p in self.shards(table):
            with contextlib.suppress(FileNotFoundError):  # merged away meanwhile
                if p.stat().st_size < SMALL_SHARD_BYTES:
                    out.append(p)
        return out

    def compact(self, table: str | None = None, wait: bool = True) -> dict[str, int] | None:
        """Merge each table's shards into one, keeping the earliest row of each id; delete leftover temp files.

        Returns {table: rows kept}, or None when ``wait`` is False and another process is compacting.
        Writers go on publishing meanwhile; the merged shard replaces its inputs in one publish.
        """
        lock = open(self.root / ".compact.lock", "a+")
        try:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                return None
            out = {}
            for t in [table] if table else list(TABLES):
                out[t] = self._compact_table(t)
            return out
        finally:
            lock.close()

    def forget(self, table: str, where: str) -> int:
        """Remove the rows of ``table`` that match the SQL condition ``where`` (e.g. one judge's verdicts, so they
        are computed again); returns rows removed. Like compact(), readers are never blocked."""
        before = int(self._run(f"SELECT count(*) AS n FROM {table}")["n"][0])
        lock = open(self.root / ".compact.lock", "a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            kept = self._compact_table(table, drop_where=where, force=True)
        finally:
            lock.close()
        return before - kept

    def _compact_table(self, table: str, drop_where: str | None = None, force: bool = False,
                       small_only: bool = False) -> int:
        now = time.time()
        for tmp in (self.root / table).glob("*/.tmp-*"):
            if now - tmp.stat().st_mtime > 3600:  # a writer killed mid-put an hour ago or more
                tmp.unlink(missing_ok=True)
        inputs = self._small_shards(table) if small_only else self.shards(table)
        if len(inputs) <= 1 and not force:
            return sum(pq_rows(p) for p in inputs)
        folder = self.root / table / f"compacted-{uuid.uuid4().hex[:12]}"
        folder.mkdir()
        tmp, target = folder / ".tmp-part-000000.partial", folder / "part-000000.parquet"
        files = ", ".join("'" + str(p).replace("'", "''") + "'" for p in [self.root / table / "_schema.parquet", *inputs])
        con = self._reader_con()  # with the views: ``drop_where`` may refer to other tables
        con.execute(f"""COPY (SELECT * FROM read_parquet([{files}], union_by_name = true, hive_partitioning = false)
                              WHERE NOT coalesce(({drop_where or 'FALSE'}), FALSE)
                              QUALIFY row_number() OVER (PARTITION BY k1, k2 ORDER BY created_at) = 1
                              ORDER BY k1, k2)
                        TO '{tmp}' (FORMAT parquet, COMPRESSION zstd)""")
        kept = con.execute(f"SELECT count(*) FROM read_parquet('{tmp}')").fetchone()[0]
        con.close()
        with self._publish_lock(table):
            os.replace(tmp, target)
            for p in inputs:
                p.unlink(missing_ok=True)
        for d in (self.root / table).iterdir():  # folders left empty by the merge (not the folder of a live writer)
            if d.is_dir() and d != folder and not any(d.iterdir()) and now - d.stat().st_mtime > 3600:
                d.rmdir()
        return int(kept)

    def duplicates(self, table: str = "judgments") -> int:
        """Rows whose id another row of ``table`` already has (0 unless writers published without locks)."""
        return int(self._run(QUERIES["duplicates"].format(table=table))["n"][0])

    # ---------------------------------------------------------------- judges
    def register_judge(self, **info: Any) -> None:
        """Record a judge (name, fingerprint, role, model, checkpoint_hash, template_version, kind), and that this
        process's study uses it. Once per judge and instance: a reward calls this at every step."""
        if (info["fingerprint"], self.study or "") in self._registered:
            return
        self._registered.add((info["fingerprint"], self.study or ""))
        self._put("judges", [info])
        if self.study:
            self._put("study_judges", [{"study": self.study, "judge_name": info["judge_name"], "fingerprint": info["fingerprint"],
                                        "role": info["role"], "kind": info["kind"], "writer": self.writer}])

    # ---------------------------------------------------------------- verdicts
    def missing_judgments(self, keys: Sequence[str]) -> list[str]:
        """The keys among ``keys`` with no stored verdict, in first-seen order."""
        return self._missing("judgments", keys)

    def fetch_judgments(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Stored verdict rows by key (absent keys are absent)."""
        return self._fetch("judgments", keys)

    def put_judgments(self, rows: Sequence[dict[str, Any]]) -> int:
        """Publish verdict rows as one shard; rows whose key the store has are left out. Returns rows added."""
        return self._put("judgments", rows)

    def record_uses(self, rows: Sequence[dict[str, Any]]) -> int:
        """Record where verdicts were used (key, context, partition_key, step, item_id; study defaults to the store's)."""
        return self._put("judgment_uses", [{"study": self.study or "", **r} for r in rows])

    # ---------------------------------------------------------------- generations
    def missing_generations(self, keys: Sequence[str]) -> list[str]:
        return self._missing("generations", keys)

    def fetch_generations(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        return self._fetch("generations", keys)

    def put_generations(self, rows: Sequence[dict[str, Any]]) -> int:
        return self._put("generations", rows)

    # ---------------------------------------------------------------- KL estimates
    def missing_kl(self, keys: Sequence[str]) -> list[str]:
        return self._missing("kl_estimates", keys)

    def fetch_kl(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        return self._fetch("kl_estimates", keys)

    def put_kl(self, rows: Sequence[dict[str, Any]]) -> int:
        return self._put("kl_estimates", rows)

    # ---------------------------------------------------------------- queries
    def query(self, sql_or_name: str, **params: Any) -> pl.DataFrame:
        """Run a named query from ``queries.sql`` (or raw SQL) over the tables and views; a polars DataFrame."""
        sql = QUERIES.get(sql_or_name, sql_or_name)
        return self._run(sql, params or None)

    def tables_containing(self, needle: str) -> dict[str, int]:
        """Rows per table with ``needle`` in any text column (an audit: API keys must never be stored)."""
        out = {}
        for table, (schema, _) in TABLES.items():
            cols = [c for c, t in schema.items() if t == pl.String]
            cond = " OR ".join(f"contains(coalesce({c}, ''), $needle)" for c in cols)
            n = int(self._run(f"SELECT count(*) AS n FROM {table} WHERE {cond}", {"needle": needle})["n"][0])
            if n:
                out[table] = n
        return out

    def count_judgments(self) -> int:
        return int(self.query("count_judgments")["n"][0])


def pq_rows(path: Path) -> int:
    """Rows in one Parquet file (from its footer)."""
    return int(duckdb.sql(f"SELECT sum(row_group_num_rows) FROM (SELECT DISTINCT row_group_id, row_group_num_rows "
                          f"FROM parquet_metadata('{path}'))").fetchone()[0] or 0)
