"""Versioned judge prompt templates, and rendering that keeps the response fenced.

A template file ``templates/<version>.txt`` has ``=== system`` and ``=== user`` sections with the
placeholders ``{instruction}``, ``{response}``, ``{open}`` and ``{close}``. The file name is the
template version, which is part of every judge's fingerprint and so of every store key: editing a
template means a new file (a new version), and every verdict made with it is new.

Fencing: the response goes between two delimiter lines that do not occur anywhere in the response
or the instruction. The delimiter carries a nonce derived from the response itself, so rendering is
deterministic, and a response that contains a delimiter just gets a different one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


@dataclass(frozen=True)
class Template:
    version: str
    system: str
    user: str


@lru_cache(maxsize=None)
def load_template(version: str) -> Template:
    """Parse ``templates/<version>.txt``."""
    path = resources.files("judge_pipeline.judging").joinpath("templates", f"{version}.txt")
    if not path.is_file():
        raise FileNotFoundError(f"no judge template {version!r} (looked for {path})")
    sections: dict[str, list[str]] = {}
    current = None
    for line in path.read_text().splitlines():
        if line.startswith("=== "):
            current = line[4:].strip()
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    if "user" not in sections:
        raise ValueError(f"template {version!r} has no '=== user' section")
    return Template(version, "\n".join(sections.get("system", [])).strip(), "\n".join(sections["user"]).strip())


def fence_delimiters(*texts: str, labels: tuple[str, ...] = ("RESPONSE",)) -> list[tuple[str, str]]:
    """One (open, close) delimiter pair per label, none of which occurs in any of ``texts``."""
    seed = hashlib.sha256("\x00".join(texts).encode()).hexdigest()
    for i in range(0, len(seed) - 8):
        nonce = seed[i : i + 8].upper()
        pairs = [(f"<<<{lab}-{nonce}>>>", f"<<<END-{lab}-{nonce}>>>") for lab in labels]
        if not any(d in t for t in texts for pair in pairs for d in pair):
            return pairs
    raise RuntimeError("could not find delimiters absent from the texts")  # pragma: no cover


def _fill(version: str, fixed: dict[str, str], free: dict[str, str]) -> list[dict[str, str]]:
    """Chat messages from a template: ``fixed`` values (delimiters) first, then ``free`` texts, each
    substituted exactly once, so braces inside the instruction or a response are never re-substituted."""
    t = load_template(version)
    user = t.user
    for k, v in fixed.items():
        user = user.replace("{" + k + "}", v)
    for i, k in enumerate(free):
        user = user.replace("{" + k + "}", f"\x00{i}\x00")
    for i, v in enumerate(free.values()):
        user = user.replace(f"\x00{i}\x00", v)
    messages = [{"role": "user", "content": user}]
    if t.system:
        messages.insert(0, {"role": "system", "content": t.system})
    return messages


def render_pointwise(version: str, instruction: str, response: str, rubric: str | None = None) -> list[dict[str, str]]:
    """Chat messages asking the judge to score ``response`` to ``instruction`` (with ``rubric`` for
    templates that have a ``{rubric}`` placeholder; it must be given exactly for those)."""
    wants_rubric = "{rubric}" in load_template(version).user
    if wants_rubric != (rubric is not None):
        raise ValueError(f"template {version!r} {'needs' if wants_rubric else 'has no place for'} a rubric")
    [(open_, close)] = fence_delimiters(instruction, response, *([rubric] if rubric is not None else []))
    free = {"instruction": instruction, "response": response}
    if rubric is not None:
        free = {"instruction": instruction, "rubric": rubric, "response": response}
    return _fill(version, {"open": open_, "close": close}, free)


def render_pairwise(version: str, instruction: str, response_a: str, response_b: str) -> list[dict[str, str]]:
    """Chat messages asking the judge which of two responses is better (order as given)."""
    (oa, ca), (ob, cb) = fence_delimiters(instruction, response_a, response_b, labels=("OUTPUT-A", "OUTPUT-B"))
    return _fill(version, {"open_a": oa, "close_a": ca, "open_b": ob, "close_b": cb},
                 {"instruction": instruction, "response_a": response_a, "response_b": response_b})
