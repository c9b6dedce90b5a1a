"""Versioned judge prompt templates, and rendering that keeps the response fenced.

A template file ``templates/<version>.txt`` has ``=== system`` and ``=== user`` sections with the
placeholders ``{instruction}``, ``{response}``, ``{open}`` and ``{close}``. The file name is the
template version, a name for people (the store's ``template_version`` column). The identity is the text:
`Template.sha256` (of the file's bytes) is part of every judge's fingerprint and so of every store key, so
editing a template in place re-judges what it judged, with or without a new file name.

A judge reads its template once, when it is built, and renders every prompt from that copy
(`render_pointwise` and `render_pairwise` take a `Template` as well as a version): the text it hashed is
the text it shows, even if the file is edited while it runs. `load_template` re-reads the file on each call
(a few hundred bytes) and parses each distinct text once.

Fencing: the response goes between two delimiter lines that do not occur anywhere in the response
or the instruction. The delimiter carries a nonce derived from the response itself, so rendering is
deterministic, and a response that contains a delimiter just gets a different one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

#: the folder of the template files (a test may point it at a copy)
TEMPLATES_DIR = resources.files("judge_pipeline.judging").joinpath("templates")


@dataclass(frozen=True)
class Template:
    version: str
    system: str
    user: str
    sha256: str = ""  #: sha256 of the template file's bytes: the template's identity in fingerprints


def template_path(version: str):
    return TEMPLATES_DIR.joinpath(f"{version}.txt")


def load_template(version: str) -> Template:
    """Parse ``templates/<version>.txt`` (read now: an edited file is seen at once)."""
    path = template_path(version)
    if not path.is_file():
        raise FileNotFoundError(f"no judge template {version!r} (looked for {path})")
    return _parse(version, path.read_bytes())


def template_hash(version: str) -> str:
    """sha256 of the text of template ``version``."""
    return load_template(version).sha256


def _as_template(template: str | Template) -> Template:
    return template if isinstance(template, Template) else load_template(template)


@lru_cache(maxsize=256)
def _parse(version: str, data: bytes) -> Template:
    sections: dict[str, list[str]] = {}
    current = None
    for line in data.decode("utf-8").splitlines():
        if line.startswith("=== "):
            current = line[4:].strip()
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    if "user" not in sections:
        raise ValueError(f"template {version!r} has no '=== user' section")
    return Template(version, "\n".join(sections.get("system", [])).strip(), "\n".join(sections["user"]).strip(),
                    hashlib.sha256(data).hexdigest())


def fence_delimiters(*texts: str, labels: tuple[str, ...] = ("RESPONSE",)) -> list[tuple[str, str]]:
    """One (open, close) delimiter pair per label, none of which occurs in any of ``texts``."""
    seed = hashlib.sha256("\x00".join(texts).encode()).hexdigest()
    for i in range(0, len(seed) - 8):
        nonce = seed[i : i + 8].upper()
        pairs = [(f"<<<{lab}-{nonce}>>>", f"<<<END-{lab}-{nonce}>>>") for lab in labels]
        if not any(d in t for t in texts for pair in pairs for d in pair):
            return pairs
    raise RuntimeError("could not find delimiters absent from the texts")  # pragma: no cover


def _fill(t: Template, fixed: dict[str, str], free: dict[str, str]) -> list[dict[str, str]]:
    """Chat messages from a template: ``fixed`` values (delimiters) first, then ``free`` texts, each
    substituted exactly once, so braces inside the instruction or a response are never re-substituted."""
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


def render_fields(template: str | Template, **fields: str) -> list[dict[str, str]]:
    """Chat messages from a template whose placeholders (``{QUESTION}``, ...) are all free texts, each substituted
    once and unfenced (a template of another benchmark, e.g. Arena-Hard's, renders exactly as its authors do)."""
    return _fill(_as_template(template), {}, fields)


def render_pointwise(template: str | Template, instruction: str, response: str, rubric: str | None = None
                     ) -> list[dict[str, str]]:
    """Chat messages asking the judge to score ``response`` to ``instruction`` (with ``rubric`` for
    templates that have a ``{rubric}`` placeholder; it must be given exactly for those). ``template``: a
    version (read now) or a `Template` (a judge's own copy)."""
    t = _as_template(template)
    wants_rubric = "{rubric}" in t.user
    if wants_rubric != (rubric is not None):
        raise ValueError(f"template {t.version!r} {'needs' if wants_rubric else 'has no place for'} a rubric")
    [(open_, close)] = fence_delimiters(instruction, response, *([rubric] if rubric is not None else []))
    free = {"instruction": instruction, "response": response}
    if rubric is not None:
        free = {"instruction": instruction, "rubric": rubric, "response": response}
    return _fill(t, {"open": open_, "close": close}, free)


def render_pairwise(template: str | Template, instruction: str, response_a: str, response_b: str
                    ) -> list[dict[str, str]]:
    """Chat messages asking the judge which of two responses is better (order as given)."""
    (oa, ca), (ob, cb) = fence_delimiters(instruction, response_a, response_b, labels=("OUTPUT-A", "OUTPUT-B"))
    return _fill(_as_template(template), {"open_a": oa, "close_a": ca, "open_b": ob, "close_b": cb},
                 {"instruction": instruction, "response_a": response_a, "response_b": response_b})
