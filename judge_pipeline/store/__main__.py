"""Command line for the judgment store: query it, merge its shards, forget rows, import an old single-file store.

    python -m judge_pipeline.store sql "SELECT * FROM current_judges"      [--root data/judgments]
    python -m judge_pipeline.store compact
    python -m judge_pipeline.store forget judgments "judge_name = 'nonreasoning'"
    python -m judge_pipeline.store migrate data/judgments.duckdb data/judgments
"""

from __future__ import annotations

import argparse
import sys

import duckdb
import polars as pl

from judge_pipeline.config import store_path
from judge_pipeline.store.judgment_store import JudgmentStore
from judge_pipeline.store.migrate import migrate_from_duckdb
from judge_pipeline.store.tables import TABLES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m judge_pipeline.store", description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=str(store_path()), help="the store's folder (default: %(default)s)")
    sub = parser.add_subparsers(dest="command", required=True)
    q = sub.add_parser("sql", help="run a query over the tables and views; print the result")
    q.add_argument("query")
    q.add_argument("--rows", type=int, default=40, help="rows to print")
    sub.add_parser("compact", help="merge each table's shards into one (drops duplicate ids)")
    f = sub.add_parser("forget", help="remove the rows of a table matching a SQL condition")
    f.add_argument("table", choices=sorted(TABLES))
    f.add_argument("where")
    m = sub.add_parser("migrate", help="import a single-file store (judgments.duckdb) of an earlier version")
    m.add_argument("old")
    m.add_argument("new")
    args = parser.parse_args(argv)

    if args.command == "migrate":
        print(migrate_from_duckdb(args.old, args.new))
        return 0
    store = JudgmentStore(args.root)
    if args.command == "sql":
        try:
            result = store.query(args.query)
        except duckdb.Error as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        with pl.Config(tbl_rows=args.rows, fmt_str_lengths=80, tbl_width_chars=200):
            print(result)
    elif args.command == "compact":
        print(store.compact())
    elif args.command == "forget":
        print(f"removed {store.forget(args.table, args.where)} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
