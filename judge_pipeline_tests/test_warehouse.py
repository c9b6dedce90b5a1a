"""The asset tables follow their assets' columns across code versions (a warehouse made before a column was
added keeps working), for plain and partitioned assets."""

import duckdb
import polars as pl
from dagster import StaticPartitionsDefinition, asset, materialize

from judge_pipeline.resources import WarehouseIOManager

PARTS = StaticPartitionsDefinition(["a", "b"])


def _run(db, frame: pl.DataFrame, partition: str | None = None):
    if partition is None:
        @asset(name="table")
        def table() -> pl.DataFrame:
            return frame
    else:
        @asset(name="table", partitions_def=PARTS, metadata={"partition_expr": "part"})
        def table() -> pl.DataFrame:
            return frame
    result = materialize([table], partition_key=partition,
                         resources={"io_manager": WarehouseIOManager(database=str(db), schema="s")})
    assert result.success
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT * FROM s.table ORDER BY ALL").pl()
    finally:
        con.close()


def test_a_new_column_is_added_and_a_dropped_one_reads_null(tmp_path):
    db = tmp_path / "w.duckdb"
    assert _run(db, pl.DataFrame({"x": [1, 2]})).columns == ["x"]
    out = _run(db, pl.DataFrame({"x": [3], "seed": [7]}))  # the stock IO manager fails here
    assert out.to_dicts() == [{"x": 3, "seed": 7}]  # a plain asset's table is replaced
    out = _run(db, pl.DataFrame({"seed": [8]}))
    assert out.to_dicts() == [{"x": None, "seed": 8}]


def test_partitioned_table_keeps_other_partitions_when_columns_change(tmp_path):
    db = tmp_path / "w.duckdb"
    _run(db, pl.DataFrame({"part": ["a"], "v": [1.0]}), "a")
    out = _run(db, pl.DataFrame({"part": ["b"], "v": [2.0], "change": [0.5]}), "b")
    assert out.sort("part").to_dicts() == [{"part": "a", "v": 1.0, "change": None}, {"part": "b", "v": 2.0, "change": 0.5}]
    out = _run(db, pl.DataFrame({"part": ["a"], "v": [3.0], "change": [-1.0]}), "a")  # re-materialised: replaced
    assert out.sort("part")["change"].to_list() == [-1.0, 0.5]
