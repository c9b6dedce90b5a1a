"""User preference files: JSONL or Parquet with prompt, response_a, response_b, label.

``label`` says which response is better: 1 (response_a), 2 (response_b), or a tie: 0 or "tie"
(neither is better; kept as ``TIE`` = 0). The strings "1", "2", "0" are accepted too.
Optional column: ``annotator_labels``, the list of labels of individual annotators: 1, 2, 0/"tie"
(a tie), or null (an unusable judgment, left out of agreement). :func:`annotator_labels` returns
them per row.

Malformed input fails with a :class:`PreferenceFileError` naming the file and the line (JSONL) or
row (Parquet): bad JSON, a line that is not UTF-8, a text field that is not a string or holds an
unpaired surrogate (see `jsonl.py`), a missing field, an unknown label, an unreadable Parquet file.
Text is otherwise taken as it is: empty responses, NUL characters, very long responses and
prompt-injection strings are data, judged like any other.

Decision: ties were not allowed before (the LLMBar sets have none); they are now, and every consumer
keeps them apart rather than dropping them: the judge report measures accuracy on the pairs with a
winner and reports the tie rate and the judge's behaviour on tie pairs (`judging/report.py`).
"""

from __future__ import annotations

from pathlib import Path

from judge_pipeline.metrics.pairwise import TIE
from judge_pipeline.sources.jsonl import check_text, read_jsonl

REQUIRED = ("prompt", "response_a", "response_b", "label")
TEXT_FIELDS = ("prompt", "response_a", "response_b")
#: every accepted spelling of a label -> the label (1, 2, or TIE)
LABELS: dict[object, int] = {1: 1, 2: 2, 0: TIE, "1": 1, "2": 2, "0": TIE, "tie": TIE}


class PreferenceFileError(ValueError):
    """A preference file that cannot be used; the message names the file and line."""


def parse_label_value(x: object) -> int | None:
    """A label as a file writes it -> 1, 2 or TIE (0); None if it is not one ("tie" in any case, numbers
    as ints, floats or digit strings; booleans are not labels)."""
    if isinstance(x, bool):
        return None
    if isinstance(x, str):
        x = x.strip().lower()
    try:
        return LABELS.get(x)
    except TypeError:  # unhashable (a list, a dict)
        return None


def _validate(row: object, where: str) -> dict:
    if not isinstance(row, dict):
        raise PreferenceFileError(f"{where}: expected a JSON object, got {type(row).__name__}")
    missing = [c for c in REQUIRED if c not in row or row[c] is None]
    if missing:
        raise PreferenceFileError(f"{where}: missing field(s) {', '.join(missing)} (required: {', '.join(REQUIRED)})")
    out = {c: check_text(row[c], c, where, PreferenceFileError) for c in TEXT_FIELDS}
    label = parse_label_value(row["label"])
    if label is None:
        raise PreferenceFileError(
            f"{where}: label must be 1 or 2 (which response is better) or 0 / \"tie\", got {row['label']!r}")
    out["label"] = label
    if "annotator_labels" in row and row["annotator_labels"] is not None:
        labels = row["annotator_labels"]
        parsed = [None if x is None else parse_label_value(x) for x in labels] if isinstance(labels, list) else None
        if parsed is None or any(p is None and x is not None for p, x in zip(parsed, labels)):
            raise PreferenceFileError(
                f"{where}: annotator_labels must be a list of 1/2/0/\"tie\" (null = unusable), got {labels!r}")
        out["annotator_labels"] = parsed
    return out


def load_preference_file(path: str | Path) -> list[dict]:
    """Validated rows of a user preference file (.jsonl or .parquet)."""
    path = Path(path)
    if not path.exists():
        raise PreferenceFileError(f"{path}: no such file")
    rows: list[dict] = []
    if path.suffix == ".parquet":
        import polars as pl

        try:
            frame = pl.read_parquet(path)
        except Exception as exc:  # polars raises several types (ComputeError, OSError, ...) for a bad file
            raise PreferenceFileError(f"{path}: not a readable Parquet file ({type(exc).__name__}: {exc})") from exc
        for i, row in enumerate(frame.iter_rows(named=True), 1):
            rows.append(_validate(row, f"{path}: row {i}"))
    elif path.suffix in (".jsonl", ".json"):
        for lineno, row in read_jsonl(path, PreferenceFileError):
            rows.append(_validate(row, f"{path}:{lineno}"))
    else:
        raise PreferenceFileError(f"{path}: unsupported format {path.suffix!r} (use .jsonl or .parquet)")
    if not rows:
        raise PreferenceFileError(f"{path}: no rows")
    return rows


def annotator_labels(rows: list[dict]) -> list[list[int | None]]:
    """Per-row list of individual annotators' labels (1, 2, TIE = 0, or None = unusable), in row order.

    A row without ``annotator_labels`` gives an empty list (its ``label`` is not repeated here:
    only individual judgments count towards human-human agreement).
    """
    return [list(r.get("annotator_labels") or []) for r in rows]
