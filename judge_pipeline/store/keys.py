"""Content keys: a verdict or generation is identified by a hash of everything that determines it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: equal values give equal strings."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def text_hash(*parts: str | None) -> str:
    """sha256 over the parts in order (None and "" are distinct)."""
    h = hashlib.sha256()
    for p in parts:
        h.update(b"\x00N" if p is None else b"\x00S" + p.encode("utf-8"))
    return h.hexdigest()


def content_key(**parts: Any) -> str:
    """sha256 of the canonical JSON of ``parts``."""
    return hashlib.sha256(canonical_json(parts).encode("utf-8")).hexdigest()


def file_hash(path: str | Path, chunk: int = 1 << 22) -> str:
    """sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def checkpoint_hash(folder: str | Path) -> str:
    """sha256 over a checkpoint folder's weight files (names and bytes), cached beside them.

    The cache file ``.weights.sha256`` records the size and mtime it was computed for, so a
    rewritten checkpoint is hashed again.
    """
    folder = Path(folder)
    weights = sorted(p for p in folder.iterdir() if p.suffix in {".safetensors", ".bin", ".gguf"})
    if not weights:
        raise FileNotFoundError(f"no weight files (*.safetensors, *.bin, *.gguf) in {folder}")
    stamp = canonical_json([[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in weights])
    cache = folder / ".weights.sha256"
    if cache.exists():
        cached_stamp, _, digest = cache.read_text().partition("\n")
        if cached_stamp == stamp and digest:
            return digest
    h = hashlib.sha256()
    for p in weights:
        h.update(p.name.encode())
        h.update(file_hash(p).encode())
    digest = h.hexdigest()
    try:
        cache.write_text(f"{stamp}\n{digest}")
    except OSError:
        pass
    return digest


def identify_model_judge(judge, **extra: str) -> None:
    """Set ``model``, ``checkpoint_hash`` and ``fingerprint`` of a judge backed by a checkpoint folder: its name,
    the weights' hash and its template version (+ ``extra`` parts, e.g. the rubric source) make the identity
    that is part of every store key of its verdicts."""
    judge.model = str(judge.checkpoint)
    judge.checkpoint_hash = checkpoint_hash(judge.checkpoint)
    judge.fingerprint = content_key(model=judge.name, checkpoint=judge.checkpoint_hash, template=judge.template_version,
                                    **extra)
