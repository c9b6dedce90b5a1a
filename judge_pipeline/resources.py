"""Dagster resources: the study configuration (with its store and folders), experiment tracking, and the IO manager
of the asset tables (`WarehouseIOManager`: DuckDB, following the assets' columns across code versions)."""


import contextlib
import os
from collections.abc import Sequence
from pathlib import Path

import polars as pl
from dagster import ConfigurableResource, OutputContext
from dagster._core.storage.db_io_manager import DbTypeHandler, TableSlice
from dagster_duckdb_polars import DuckDBPolarsIOManager, DuckDBPolarsTypeHandler

from judge_pipeline import tracking
from judge_pipeline.config import DATA_DIR, StudyConfig, load_config
from judge_pipeline.store import JudgmentStore
from judge_pipeline.store.migrate import migrate_from_duckdb

#: Resource keys an asset needs for W&B: dagster-wandb's resource (which logs in) when a key is set.
WANDB_RESOURCE_KEYS: set[str] = {"wandb"} if os.environ.get("WANDB_API_KEY") else set()


class StudyResource(ConfigurableResource):
    """Which study configuration runs (miniature | tiny | paper) and where its outputs go."""

    config_name: str = os.environ.get("JUDGE_PIPELINE_CONFIG", "miniature")
    data_dir: str = str(DATA_DIR)

    @property
    def cfg(self) -> StudyConfig:
        return load_config(self.config_name)

    @property
    def root(self) -> Path:
        return Path(self.data_dir)

    def store(self) -> JudgmentStore:
        """The judgment store, recording this study with every use. A single-file store of an earlier version
        (``judgments.duckdb``) is imported the first time, so nothing is judged again."""
        root, old = self.root / "judgments", self.root / "judgments.duckdb"
        if old.is_file() and not root.exists():
            migrate_from_duckdb(old, root)
        return JudgmentStore(root, study=self.config_name)

    @property
    def judges_root(self) -> Path:
        """Judge checkpoint folders: this study's own, or those of the study it shares them with."""
        return self.root / "checkpoints" / "judges" / (self.cfg.judge_checkpoints_of or self.config_name)

    @property
    def policies_root(self) -> Path:
        """Policy run folders: this study's own, or those of the study it shares them with."""
        return self.root / "checkpoints" / "policies" / (self.cfg.policy_checkpoints_of or self.config_name)

    def judge_dir(self, variant: str) -> Path:
        return self.judges_root / variant

    def policy_dir(self, policy: str, variant: str, seed: int) -> Path:
        return self.policies_root / f"{policy}__{variant}__seed{seed}"

    def plot_dir(self) -> Path:
        return self.root / "runs" / self.config_name / "plots"


class TrackerResource(ConfigurableResource):
    """W&B tracking: 'offline' (default, no key needed), 'online' (WANDB_API_KEY set) or 'disabled'."""

    mode: str = tracking.default_mode()
    project: str = "judge_pipeline"
    directory: str = str(DATA_DIR / "wandb")  #: where runs are written (offline runs stay there)

    @contextlib.contextmanager
    def run(self, name: str, config: dict | None = None, job_type: str | None = None):
        with tracking.wandb_run(name, self.project, config=config, mode=self.mode, job_type=job_type,
                                    directory=self.directory) as run:
            yield run

    @property
    def report_to(self) -> list[str]:
        """What TRL trainers should report to (they log into the active run)."""
        return [] if self.mode == "disabled" else ["wandb"]


# ------------------------------------------------------------------ the asset tables' IO manager
# dagster-duckdb-polars, except that a table follows its asset's columns when a new version of the code adds or
# drops some. The stock handler creates a table from the first frame and then inserts by position, so a column
# added to an asset (say `seed`, or `gold_change_mean`) broke every warehouse made before it ("table has 23
# columns but 29 values were supplied"). Here a new column is added to the table (earlier rows get NULL), a
# dropped one stays and gets NULL, and rows are inserted by name. Its SQL is the statements below.

TABLE_COLUMNS_SQL = "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?"
FRAME_TYPES_SQL = "DESCRIBE SELECT * FROM obj_arrow"
ADD_COLUMN_SQL = 'ALTER TABLE {schema}.{table} ADD COLUMN "{column}" {type}'
INSERT_BY_NAME_SQL = "INSERT INTO {schema}.{table} BY NAME SELECT * FROM obj_arrow"


def evolve_and_insert(connection, schema: str, table: str, frame: pl.DataFrame) -> list[str]:
    """Insert ``frame`` into an existing ``schema.table`` by column name, first adding the columns the table
    lacks. Returns the columns added."""
    obj_arrow = frame.to_arrow()  # noqa: F841  # DuckDB reads the local by name
    have = {r[0] for r in connection.execute(TABLE_COLUMNS_SQL, [schema, table]).fetchall()}
    types = {r[0]: r[1] for r in connection.execute(FRAME_TYPES_SQL).fetchall()}
    added = [c for c in frame.columns if c not in have]
    for column in added:
        connection.execute(ADD_COLUMN_SQL.format(schema=schema, table=table, column=column, type=types[column]))
    connection.execute(INSERT_BY_NAME_SQL.format(schema=schema, table=table))
    return added


class EvolvingPolarsTypeHandler(DuckDBPolarsTypeHandler):
    """DuckDBPolarsTypeHandler whose inserts survive a change in the asset's columns."""

    def handle_output(self, context: OutputContext, table_slice: TableSlice, obj: pl.DataFrame, connection):
        exists = connection.execute(TABLE_COLUMNS_SQL, [table_slice.schema, table_slice.table]).fetchall()
        if not exists or obj.is_empty():
            return super().handle_output(context, table_slice, obj, connection)  # creates the table (or skips)
        added = evolve_and_insert(connection, table_slice.schema, table_slice.table, obj)
        if added:
            context.log.info(f"{table_slice.schema}.{table_slice.table}: added columns {added} (earlier rows: NULL)")
        context.add_output_metadata({"row_count": obj.shape[0]})


class WarehouseIOManager(DuckDBPolarsIOManager):
    """The asset tables' IO manager: `DuckDBPolarsIOManager` with `EvolvingPolarsTypeHandler`."""

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [EvolvingPolarsTypeHandler()]
