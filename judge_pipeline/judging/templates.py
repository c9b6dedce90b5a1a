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


def fence_delimiters(*texts: str) -> tuple[str, str]:
    """Open/close delimiter lines that occur in none of ``texts``."""
    seed = hashlib.sha256("\x00".join(texts).encode()).hexdigest()
    for i in range(0, len(seed) - 8):
        nonce = seed[i : i + 8].upper()
        open_, close = f"<<<RESPONSE-{nonce}>>>", f"<<<END-RESPONSE-{nonce}>>>"
        if not any(open_ in t or close in t for t in texts):
            return open_, close
    raise RuntimeError("could not find a delimiter absent from the texts")  # pragma: no cover


def render_pointwise(version: str, instruction: str, response: str) -> list[dict[str, str]]:
    """Chat messages asking the judge to score ``response`` to ``instruction``."""
    t = load_template(version)
    open_, close = fence_delimiters(instruction, response)
    user = t.user
    # Replace the fence first and the free texts last, so text inside them is never re-substituted.
    for k, v in (("{open}", open_), ("{close}", close), ("{instruction}", "\x00I"), ("{response}", "\x00R")):
        user = user.replace(k, v)
    user = user.replace("\x00I", instruction).replace("\x00R", response)
    messages = [{"role": "user", "content": user}]
    if t.system:
        messages.insert(0, {"role": "system", "content": t.system})
    return messages
