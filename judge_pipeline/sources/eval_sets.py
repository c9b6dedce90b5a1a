"""The human-labelled evaluation sets every judge is reported on, in one row format.

LLMBar Natural, LLMBar Adversarial (its four subsets together) and the MT-Bench human subset, each
sampled to ``n`` pairs (deterministic, keeping the set's label proportions; None = all), plus any
user preference file (`preference_file.py` format), named ``user:<file stem>``, judged in full.
A user file may hold ties (label 0): they are kept (the report measures them apart); the LLMBar and
MT-Bench sets have none (their loader refuses a tie as a corrupted vendored file).
"""

from __future__ import annotations

from pathlib import Path

from judge_pipeline.sources.llmbar import load_llmbar, sample_pairs
from judge_pipeline.sources.preference_file import load_preference_file

HUMAN_SETS = {"llmbar_natural": "natural", "llmbar_adversarial": "adversarial", "mtbench_human": "mtbench"}


def human_eval_sets(n: int | None, seed: int = 0, preference_files: tuple[str, ...] = ()) -> dict[str, list[dict]]:
    """{eval_set: pairs} with prompt, response_a, response_b, label (1, 2, or 0 = tie in user files), optional
    annotator_labels."""
    sets = {}
    for name, subset in HUMAN_SETS.items():
        rows = load_llmbar(subset=subset)
        sets[name] = rows if n is None else sample_pairs(rows, n, seed)
    for f in preference_files:
        name = f"user:{Path(f).stem}"
        if name in sets:
            raise ValueError(f"two preference files are both named {name!r}: rename one ({f})")
        sets[name] = load_preference_file(f)
    return sets
