"""Arena-Hard-Auto's own file layouts, written so that its tooling (``show_result.py``) reads a study's evaluation.

Under a folder ``root`` (run ``show_result.py`` from there: it reads ``data/<bench>/...``):

- ``data/arena-hard-v2.0/question.jsonl``: the evaluated questions (``uid``, ``category``, ``subcategory``, ``prompt``);
- ``data/arena-hard-v2.0/model_answer/<model>.jsonl``: one answer record a line: ``uid``, ``ans_id`` (here the
  store key of the generation), ``model``, ``messages`` (the user turn, then ``{"role": "assistant", "content":
  {"answer": ...}}``), ``metadata`` (``token_len`` and the markdown counts of `metrics.arena_style`). Not written:
  ``tstamp`` (the store keeps no generation time; Arena-Hard's scripts do not read it). The baselines' own records
  are copied in unchanged (``show_result.py`` reads their metadata for style control);
- ``data/arena-hard-v2.0/model_judgment/<judge>/<model>.jsonl``: one record per battle: ``uid``, ``category``,
  ``judge``, ``model``, ``baseline``, ``games`` (game 1: baseline as A; game 2: model as A), each game ``score`` (the
  verdict, e.g. ``"A>B"``; null when invalid after every attempt: ``show_result.py`` then leaves the battle out),
  ``judgment: {"answer": text}`` and ``prompt`` (the chat messages sent). Not written: ``judgment`` fields other than
  ``answer`` (Arena-Hard's API wrappers add some per provider). For a judge of the study (not an Arena prompt),
  ``prompt`` is Arena-Hard's user template with the question and both answers (what `judging.external` reads back)
  and ``answer`` a sentence giving the judge's values and the verdict.

Files are written whole, to a temporary name then renamed, so a reader never sees half a file. Reading back:
answers with `sources.arena_hard.load_model_answers`, judgments with `judging.external.read_external_records`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path

from judge_pipeline.sources.arena_hard import BENCH_NAME


def checkpoint_model(policy: str, reward: str, seed: int, step: int) -> str:
    """A policy checkpoint's name as an evaluated model (Arena-Hard's ``model``, the exports' model id): the initial
    policy (step 0) is one model for every run and seed."""
    return f"{policy}__step0" if step == 0 else f"{policy}__{reward}__seed{seed}__step{step}"


def safe_name(name: str) -> str:
    """A model or judge name as a file or folder name (Arena-Hard uses the name itself; ``/`` and ``:`` cannot)."""
    return re.sub(r"[^\w.@+=-]", "_", name)


def bench_dir(root: str | Path) -> Path:
    return Path(root) / "data" / BENCH_NAME


def _write_jsonl(path: Path, records: Iterable[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return path


def write_questions(root: str | Path, questions: Iterable[dict]) -> Path:
    return _write_jsonl(bench_dir(root) / "question.jsonl",
                        ({k: q[k] for k in ("uid", "category", "subcategory", "prompt")} for q in questions))


def answer_record(uid: str, model: str, prompt: str, answer: str, ans_id: str, metadata: dict) -> dict:
    """One line of ``model_answer/<model>.jsonl``."""
    return {"uid": uid, "ans_id": ans_id, "model": model,
            "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": {"answer": answer}}],
            "metadata": metadata}


def write_model_answers(root: str | Path, model: str, records: Iterable[dict]) -> Path:
    """``model_answer/<model>.jsonl`` (records from `answer_record`, or a baseline's own)."""
    return _write_jsonl(bench_dir(root) / "model_answer" / f"{safe_name(model)}.jsonl", records)


def game_record(verdict: str | None, text: str, messages: list[dict]) -> dict:
    """One game of a judgment record."""
    return {"score": verdict, "judgment": {"answer": text}, "prompt": messages}


def judgment_record(uid: str, category: str, judge: str, model: str, baseline: str, games: list[dict]) -> dict:
    """One line of ``model_judgment/<judge>/<model>.jsonl``: a battle and its two games."""
    return {"uid": uid, "category": category, "judge": judge, "model": model, "baseline": baseline, "games": games}


def write_judgments(root: str | Path, judge: str, model: str, records: Iterable[dict]) -> Path:
    return _write_jsonl(bench_dir(root) / "model_judgment" / safe_name(judge) / f"{safe_name(model)}.jsonl", records)
