"""Arena-Hard v2.0 (vendored in ``data/arena_hard_v2``): the 750 questions and the official baseline answers.

- `load_questions`: rows ``uid``, ``category`` (``hard_prompt`` | ``creative_writing``), ``subcategory``
  (``coding`` | ``math`` | ``creative_writing``), ``prompt``, in file order.
- `load_baselines`: ``{uid: answer record}`` of each category's official baseline (`BASELINES`: o3-mini for the hard
  prompts, gemini-2.0-flash for creative writing), records in Arena-Hard-Auto's model-answer layout.
- `select_questions`: the fixed subset a study evaluates on (`ArenaConfig.per_subcategory`): per subcategory, the
  questions with the shortest question + baseline answer (characters), ties by uid; optionally ASCII prompts only.
  The miniature's subset is what this rule picks, so it is the same on every machine.

Every vendored file is checked against ``SHA256SUMS`` before it is read (`verify_files`): a file edited by hand,
truncated or replaced is an `ArenaDataError` naming it, never a silently different benchmark.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from judge_pipeline.config import SHIPPED_DATA_DIR
from judge_pipeline.sources.jsonl import read_jsonl

ARENA_DIR = SHIPPED_DATA_DIR / "arena_hard_v2"
BENCH_NAME = "arena-hard-v2.0"  #: Arena-Hard-Auto's name of the benchmark (its data folder)
#: category -> the official baseline model (Arena-Hard-Auto's ``JUDGE_SETTINGS``)
BASELINES = {"hard_prompt": "o3-mini-2025-01-31", "creative_writing": "gemini-2.0-flash-001"}
CATEGORIES = tuple(BASELINES)


class ArenaDataError(ValueError):
    """A vendored Arena-Hard file that is missing, changed or malformed; the message names the file."""


def expected_hashes(root: Path = ARENA_DIR) -> dict[str, str]:
    """{relative path: sha256} from ``SHA256SUMS`` (``sha256sum`` format)."""
    sums = root / "SHA256SUMS"
    if not sums.is_file():
        raise ArenaDataError(f"{sums}: missing (the list of the vendored files' sha256)")
    out = {}
    for line in sums.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            out[name.strip().lstrip("*")] = digest
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verify_files(root: Path = ARENA_DIR, names: Sequence[str] | None = None) -> None:
    """Check the vendored files (all of ``SHA256SUMS``, or ``names``) against their recorded sha256."""
    hashes = expected_hashes(root)
    for name in names or list(hashes):
        if name not in hashes:
            raise ArenaDataError(f"{root / name}: not listed in {root / 'SHA256SUMS'}")
        path = root / name
        if not path.is_file():
            raise ArenaDataError(f"{path}: missing")
        got = _sha256(path)
        if got != hashes[name]:
            raise ArenaDataError(f"{path}: sha256 {got} differs from {hashes[name]} in SHA256SUMS "
                                 "(the vendored Arena-Hard data was changed: restore it with git)")


def _records(path: Path, root: Path) -> list[tuple[int, dict]]:
    verify_files(root, [path.relative_to(root).as_posix()])
    out = []
    for lineno, rec in read_jsonl(path, ArenaDataError):
        if not isinstance(rec, dict) or not isinstance(rec.get("uid"), str):
            raise ArenaDataError(f"{path}:{lineno}: expected a JSON object with a string 'uid'")
        out.append((lineno, rec))
    return out


def load_questions(root: Path = ARENA_DIR) -> list[dict]:
    """The questions, in file order: ``uid``, ``category``, ``subcategory``, ``prompt``."""
    path = root / "question.jsonl"
    rows = []
    for lineno, rec in _records(path, root):
        if rec.get("category") not in BASELINES or not isinstance(rec.get("prompt"), str):
            raise ArenaDataError(f"{path}:{lineno}: needs a category in {CATEGORIES} and a text prompt")
        rows.append({k: rec.get(k) for k in ("uid", "category", "subcategory", "prompt")})
    return rows


def answer_text(record: dict) -> str:
    """The answer of an Arena-Hard model-answer record (its last message: ``content.answer``, or plain text)."""
    content = record["messages"][-1]["content"]
    return content["answer"] if isinstance(content, dict) else content


def load_model_answers(path: Path, root: Path | None = None) -> dict[str, dict]:
    """``{uid: record}`` of one file in Arena-Hard-Auto's ``model_answer/<model>.jsonl`` layout (the vendored
    baselines, checked against SHA256SUMS when ``root`` is given, or answers this project wrote)."""
    records = _records(path, root) if root is not None else list(read_jsonl(path, ArenaDataError))
    out = {}
    for lineno, rec in records:
        try:
            answer_text(rec)
        except (KeyError, IndexError, TypeError):
            raise ArenaDataError(f"{path}:{lineno}: no answer (messages[-1].content.answer)") from None
        out[rec["uid"]] = rec
    return out


def load_baselines(root: Path = ARENA_DIR) -> dict[str, dict[str, dict]]:
    """``{category: {uid: baseline answer record}}`` for every category's official baseline."""
    return {cat: load_model_answers(root / "model_answer" / f"{model}.jsonl", root) for cat, model in BASELINES.items()}


def select_questions(questions: Sequence[dict], baselines: dict[str, dict[str, dict]], per_subcategory: int | None,
                     ascii_only: bool = False) -> list[dict]:
    """The evaluated subset, in file order: all questions (``per_subcategory`` None), else per subcategory the
    ``per_subcategory`` questions whose question + baseline answer is shortest in characters (ties: uid), among
    ASCII-only prompts when ``ascii_only``. Every chosen question must have its baseline answer."""
    pool = [q for q in questions if not ascii_only or q["prompt"].isascii()]
    missing = [q["uid"] for q in pool if q["uid"] not in baselines[q["category"]]]
    if missing:
        raise ArenaDataError(f"no baseline answer for {len(missing)} question(s), first uid {missing[0]}")
    if per_subcategory is None:
        return list(pool)

    def size(q: dict) -> tuple[int, str]:
        return len(q["prompt"]) + len(answer_text(baselines[q["category"]][q["uid"]])), q["uid"]

    chosen: set[str] = set()
    for sub in sorted({q["subcategory"] for q in pool}):
        chosen |= {q["uid"] for q in sorted((q for q in pool if q["subcategory"] == sub), key=size)[:per_subcategory]}
    return [q for q in pool if q["uid"] in chosen]
