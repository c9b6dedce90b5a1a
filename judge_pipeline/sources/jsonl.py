"""Reading user-supplied JSONL files line by line, so that every malformed line is an error naming ``file:line``.

Shared by the preference-file loader (`preference_file.py`) and the external-verdict loader
(`judging/external.py`). Decisions:

- The file is read as bytes and each line decoded on its own: a text-mode read fails with a bare
  ``UnicodeDecodeError`` that names neither the file nor the line.
- Lines are split on ``\\n`` only (``\\r\\n`` works: the ``\\r`` is whitespace to JSON), so line numbers are
  those an editor shows; a JSON string cannot hold a raw newline, so no record spans two lines.
- Blank lines are skipped; a UTF-8 byte-order mark on line 1 is skipped.
- An object that repeats a field (``{"label": 1, "label": 2}``) is an error: JSON parsers keep the last
  value and drop the others without a word.
- A string that JSON allows but Unicode does not (an unpaired surrogate such as ``"\\\\ud800"``) is an
  error too (`check_text`): it can be neither hashed into a store key nor written to the store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path


class DuplicateField(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    out: dict = {}
    for k, v in pairs:
        if k in out:
            raise DuplicateField(k)
        out[k] = v
    return out


def read_jsonl(path: str | Path, error: type[Exception]) -> Iterator[tuple[int, object]]:
    """(line number, parsed value) of every non-blank line; ``error(f"{path}:{line}: ...")`` for a line that is
    not UTF-8 or not JSON."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise error(f"{path}:{lineno}: not UTF-8 text (byte {exc.start + 1} of the line: {exc.reason})") from exc
            if not line.strip():
                continue
            try:
                value = json.loads(line, object_pairs_hook=_no_duplicates)
            except DuplicateField as exc:
                raise error(f"{path}:{lineno}: field {exc.args[0]!r} appears twice in one object") from exc
            except json.JSONDecodeError as exc:
                raise error(f"{path}:{lineno}: invalid JSON ({exc.msg} at column {exc.colno})") from exc
            except RecursionError as exc:
                raise error(f"{path}:{lineno}: invalid JSON (nested too deeply)") from exc
            yield lineno, value


def check_text(value: object, field: str, where: str, error: type[Exception]) -> str:
    """``value`` if it is a string of valid Unicode text; else ``error`` naming ``where`` and the field."""
    if not isinstance(value, str):
        raise error(f"{where}: field {field!r} must be a string, got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise error(f"{where}: field {field!r} is not valid Unicode text ({exc.reason} at character {exc.start})") from exc
    return value
