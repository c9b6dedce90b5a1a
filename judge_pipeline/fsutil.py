"""Filesystem helpers: atomic checkpoint folders, and input fingerprints recorded beside outputs."""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_folder(target: Path) -> Iterator[Path]:
    """Yield a temporary '<target>.partial' folder to write into; it becomes ``target`` only if the block
    succeeds, so a crash never leaves half a checkpoint where a reader (or the sensor) would take it."""
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    yield tmp
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)


def reuse_if_unchanged(marker: Path, fingerprint: str) -> dict | None:
    """The info recorded in ``marker`` (JSON) if it was written for ``fingerprint``, else None.

    Training assets record the fingerprint of their inputs beside their output; an unchanged
    fingerprint means the output can be reused instead of retrained.
    """
    if marker.exists():
        info = json.loads(marker.read_text())
        if info.get("fingerprint") == fingerprint:
            return info
    return None


def record_inputs(marker: Path, fingerprint: str, **info) -> dict:
    """Write ``info`` with ``fingerprint`` to ``marker`` (after the output it describes is complete)."""
    info = {"fingerprint": fingerprint, **info}
    marker.write_text(json.dumps(info))
    return info
