"""The Dagster IO manager of the asset tables (`data/warehouse.duckdb`): dagster-duckdb-polars, except that a
table follows its asset's columns when a new version of the code adds or drops some.

The stock handler creates a table from the first frame and then inserts by position, so a column added to an
asset (say `seed`, or `gold_change_mean`) breaks every warehouse made before it ("table has 23 columns but 29
values were supplied"). Here a new column is added to the table (earlier rows get NULL), a dropped one stays and
gets NULL, and rows are inserted by name. Its SQL is the three statements below.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
from dagster import OutputContext
from dagster._core.storage.db_io_manager import DbTypeHandler, TableSlice
from dagster_duckdb_polars import DuckDBPolarsIOManager, DuckDBPolarsTypeHandler

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
