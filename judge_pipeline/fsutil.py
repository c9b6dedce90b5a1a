"""Filesystem helpers shared by model conversion and training."""

from __future__ import annotations

import contextlib
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
