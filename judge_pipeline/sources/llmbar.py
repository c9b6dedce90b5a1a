"""Human-labelled pair sets vendored in ``data/llmbar`` (LLMBar, Zeng et al., ICLR 2024), in one row format.

Each row is the dict a user preference file gives (:mod:`judge_pipeline.sources.preference_file`):
``prompt``, ``response_a``, ``response_b``, ``label`` (1 or 2, the better response) and, where the
data has them, ``annotator_labels``; plus

- ``source``: ``"llmbar_natural"``, ``"llmbar_adversarial_neighbor"``, ``"llmbar_adversarial_gptinst"``,
  ``"llmbar_adversarial_gptout"``, ``"llmbar_adversarial_manual"`` or ``"mtbench_human"``;
- ``pair_id``: ``text_hash("llmbar-pair", prompt, response_a, response_b)``, a content hash that
  does not depend on file order, the subset or the label.

The files map ``input`` -> ``prompt``, ``output_1`` -> ``response_a``, ``output_2`` -> ``response_b``;
``label`` is kept as is (the shipped files hold ints 1/2; the strings "1"/"2" are also accepted).
Rows come in file order; the adversarial subfolders in the order Neighbor, GPTInst, GPTOut, Manual.

Subsets and sizes of the shipped data: ``natural`` 100 pairs; ``adversarial`` 319 pairs
(Neighbor 134, GPTInst 92, GPTOut 47, Manual 46); ``mtbench`` 200 pairs.

MT-Bench: ``Processed/MT-Bench/dataset.json`` is LLMBar's processing of the MT-Bench human
judgments (lmsys/mt_bench_human_judgments): per the LLMBar README the gold preference is the
majority vote of the human judges, "TIE" instances are removed, and 200 instances are sampled
at random. The file keeps only that majority label (one ``label`` per pair, no per-judge
verdicts, first-turn prompts only), so the loader sets ``label`` from it and gives **no**
``annotator_labels``; human-human agreement cannot be computed from the shipped file. (Were
per-judge labels present, they would go in ``annotator_labels`` with ties/unusable as ``None``.)

Malformed or missing files raise :class:`LLMBarError` naming the file and, for a bad entry, its
0-based index in the JSON list.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from judge_pipeline.config import SHIPPED_DATA_DIR
from judge_pipeline.sources.preference_file import PreferenceFileError
from judge_pipeline.store.keys import text_hash

LLMBAR_DIR = SHIPPED_DATA_DIR / "llmbar"

#: subset name -> [(source tag, path relative to the LLMBar root)], in load order
SUBSETS: dict[str, list[tuple[str, str]]] = {
    "natural": [("llmbar_natural", "LLMBar/Natural/dataset.json")],
    "adversarial": [
        (f"llmbar_adversarial_{name.lower()}", f"LLMBar/Adversarial/{name}/dataset.json")
        for name in ("Neighbor", "GPTInst", "GPTOut", "Manual")
    ],
    "mtbench": [("mtbench_human", "Processed/MT-Bench/dataset.json")],
}

_FIELDS = {"input": "prompt", "output_1": "response_a", "output_2": "response_b"}


class LLMBarError(PreferenceFileError):
    """A vendored LLMBar / MT-Bench file that cannot be used; the message names the file (and entry)."""


def pair_id(prompt: str, response_a: str, response_b: str) -> str:
    """Stable content hash of a pair (order of the two responses matters)."""
    return text_hash("llmbar-pair", prompt, response_a, response_b)


def _row(entry: object, where: str, source: str) -> dict:
    if not isinstance(entry, dict):
        raise LLMBarError(f"{where}: expected a JSON object, got {type(entry).__name__}")
    missing = [k for k in (*_FIELDS, "label") if entry.get(k) is None]
    if missing:
        raise LLMBarError(
            f"{where}: missing field(s) {', '.join(missing)} (required: input, output_1, output_2, label)")
    for k in _FIELDS:
        if not isinstance(entry[k], str):
            raise LLMBarError(f"{where}: field {k!r} must be a string, got {type(entry[k]).__name__}")
    label = entry["label"]
    if isinstance(label, bool) or label not in (1, 2, "1", "2"):
        raise LLMBarError(f"{where}: label must be 1 or 2 (which output is better), got {label!r}")
    row = {new: entry[old] for old, new in _FIELDS.items()}
    row["label"] = int(label)
    labels = entry.get("annotator_labels")
    if labels is not None:
        if not isinstance(labels, list) or any(x is not None and (isinstance(x, bool) or x not in (1, 2))
                                               for x in labels):
            raise LLMBarError(f"{where}: annotator_labels must be a list of 1/2/null, got {labels!r}")
        row["annotator_labels"] = list(labels)
    row["source"] = source
    row["pair_id"] = pair_id(row["prompt"], row["response_a"], row["response_b"])
    return row


def _load_file(path: Path, source: str) -> list[dict]:
    if not path.is_file():
        raise LLMBarError(f"{path}: no such file (expected for source {source!r})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise LLMBarError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from exc
    except UnicodeDecodeError as exc:
        raise LLMBarError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    if not isinstance(data, list):
        raise LLMBarError(f"{path}: expected a JSON list of pairs, got {type(data).__name__}")
    if not data:
        raise LLMBarError(f"{path}: no rows")
    return [_row(entry, f"{path}: entry [{i}]", source) for i, entry in enumerate(data)]


def load_llmbar(root: Path = LLMBAR_DIR, subset: str = "natural") -> list[dict]:
    """Rows of one subset (``"natural"``, ``"adversarial"`` or ``"mtbench"``) under ``root``.

    ``"adversarial"`` concatenates the four subfolders, each row tagged with its own ``source``.
    A pair repeated within a subset (same ``pair_id``) is an error, so ``pair_id`` is a unique key.
    Raises ``ValueError`` for an unknown subset and :class:`LLMBarError` (a ``ValueError``) for a
    missing or malformed file.
    """
    if subset not in SUBSETS:
        raise ValueError(f"unknown LLMBar subset {subset!r} (choose from {', '.join(SUBSETS)})")
    root = Path(root)
    rows: list[dict] = []
    seen: dict[str, str] = {}
    for source, rel in SUBSETS[subset]:
        path = root / rel
        for i, r in enumerate(_load_file(path, source)):
            if r["pair_id"] in seen:
                raise LLMBarError(f"{path}: entry [{i}] repeats {seen[r['pair_id']]} (same input and outputs)")
            seen[r["pair_id"]] = f"{path}: entry [{i}]"
            rows.append(r)
    return rows


def sample_pairs(rows: Sequence[dict], n: int, seed: int = 0) -> list[dict]:
    """A deterministic subsample of ``n`` rows whose label mix is as close as possible to the input's.

    Stratified by ``label``: each label gets ``n * share`` rows, rounded by largest remainder
    (ties in the remainder go to the smaller label), so counts differ from the exact proportion
    by less than one row. Within a label, the rows with the smallest ``text_hash(seed, pair_id)``
    are taken, so the sample depends only on the rows' content and ``seed`` (not on input order),
    and a row that is sampled stays sampled when others are added to its label. The result keeps
    the input order. ``n >= len(rows)`` returns all rows; ``n < 0`` is a ``ValueError``.
    Rows without ``pair_id`` are keyed by :func:`pair_id` of their content.
    """
    if n < 0:
        raise ValueError(f"sample size must be >= 0, got {n}")
    rows = list(rows)
    if n >= len(rows):
        return rows
    by_label: dict[object, list[int]] = {}
    for i, r in enumerate(rows):
        by_label.setdefault(r["label"], []).append(i)
    labels = sorted(by_label, key=str)
    exact = {lab: n * len(by_label[lab]) / len(rows) for lab in labels}
    quota = {lab: int(exact[lab]) for lab in labels}
    for lab in sorted(labels, key=lambda lab: -(exact[lab] - quota[lab]))[: n - sum(quota.values())]:
        quota[lab] += 1

    def rank(i: int) -> str:
        r = rows[i]
        pid = r.get("pair_id") or pair_id(r["prompt"], r["response_a"], r["response_b"])
        return text_hash(str(seed), pid)

    chosen: list[int] = []
    for lab in labels:
        chosen.extend(sorted(by_label[lab], key=rank)[: quota[lab]])
    return [rows[i] for i in sorted(chosen)]
