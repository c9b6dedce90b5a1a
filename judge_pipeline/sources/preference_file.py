"""User preference files: JSONL or Parquet with prompt, response_a, response_b, label (1 or 2).

Malformed input fails with an error naming the file and the line (JSONL) or row (Parquet).
Optional columns: ``annotator_labels`` (list of labels from individual annotators: 1, 2, or
null for a tie / unusable judgment). :func:`annotator_labels` returns them per row.
"""

from __future__ import annotations

import json
from pathlib import Path

REQUIRED = ("prompt", "response_a", "response_b", "label")


class PreferenceFileError(ValueError):
    """A preference file that cannot be used; the message names the file and line."""


def _validate(row: object, where: str) -> dict:
    if not isinstance(row, dict):
        raise PreferenceFileError(f"{where}: expected a JSON object, got {type(row).__name__}")
    missing = [c for c in REQUIRED if c not in row or row[c] is None]
    if missing:
        raise PreferenceFileError(f"{where}: missing field(s) {', '.join(missing)} (required: {', '.join(REQUIRED)})")
    for c in ("prompt", "response_a", "response_b"):
        if not isinstance(row[c], str):
            raise PreferenceFileError(f"{where}: field {c!r} must be a string, got {type(row[c]).__name__}")
    label = row["label"]
    if isinstance(label, bool) or label not in (1, 2, "1", "2"):
        raise PreferenceFileError(f"{where}: label must be 1 or 2 (which response is better), got {label!r}")
    out = {c: row[c] for c in REQUIRED}
    out["label"] = int(label)
    if "annotator_labels" in row and row["annotator_labels"] is not None:
        labels = row["annotator_labels"]
        if not isinstance(labels, list) or any(x is not None and (isinstance(x, bool) or x not in (1, 2))
                                               for x in labels):
            raise PreferenceFileError(
                f"{where}: annotator_labels must be a list of 1/2 (null = tie/unusable), got {labels!r}")
        out["annotator_labels"] = [None if x is None else int(x) for x in labels]
    return out


def load_preference_file(path: str | Path) -> list[dict]:
    """Validated rows of a user preference file (.jsonl or .parquet)."""
    path = Path(path)
    if not path.exists():
        raise PreferenceFileError(f"{path}: no such file")
    rows: list[dict] = []
    if path.suffix == ".parquet":
        import polars as pl

        for i, row in enumerate(pl.read_parquet(path).iter_rows(named=True), 1):
            rows.append(_validate(row, f"{path}: row {i}"))
    elif path.suffix in (".jsonl", ".json"):
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise PreferenceFileError(f"{path}:{lineno}: invalid JSON ({exc.msg} at column {exc.colno})") from exc
                rows.append(_validate(row, f"{path}:{lineno}"))
    else:
        raise PreferenceFileError(f"{path}: unsupported format {path.suffix!r} (use .jsonl or .parquet)")
    if not rows:
        raise PreferenceFileError(f"{path}: no rows")
    return rows


def annotator_labels(rows: list[dict]) -> list[list[int | None]]:
    """Per-row list of individual annotators' labels (1, 2, or None = tie/unusable), in row order.

    A row without ``annotator_labels`` gives an empty list (its ``label`` is not repeated here:
    only individual judgments count towards human-human agreement).
    """
    return [list(r.get("annotator_labels") or []) for r in rows]
