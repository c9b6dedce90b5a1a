"""The Tulu 3 preference mixture (the paper configuration's pairs), from the Hugging Face hub.

Rows of the mixture hold a ``chosen`` and a ``rejected`` conversation sharing one user prompt. The
study uses single-turn pairs only: the prompt is the user turn, the two responses are the final
assistant turns. Their order is not a label here (the gold judge labels them); positions are
randomised by the preference_pairs asset. `tulu3_rows` is the pure conversion (tested on generated
records); `load_tulu3` adds the hub download, which needs network access (never in the miniature), or reads a
local file of the mixture's records instead when ``JUDGE_PIPELINE_TULU3_FILE`` names one (JSON Lines, a JSON list
or Parquet: a mirror of the mixture, or the smoke test's 20 rows).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

TULU3_DATASET = "allenai/llama-3.1-tulu-3-8b-preference-mixture"
ENV_FILE = "JUDGE_PIPELINE_TULU3_FILE"  #: a local file of the mixture's records, read instead of the hub


class Tulu3FormatError(ValueError):
    """A record that is not a chosen/rejected conversation pair; names the record."""


def _final_assistant(messages: list, where: str) -> str:
    if not isinstance(messages, list) or not messages or not isinstance(messages[-1], dict):
        raise Tulu3FormatError(f"{where}: expected a list of messages")
    last = messages[-1]
    if last.get("role") != "assistant" or not isinstance(last.get("content"), str):
        raise Tulu3FormatError(f"{where}: the last message is not an assistant turn")
    return last["content"]


def tulu3_rows(records: Iterable[dict], single_turn_only: bool = True) -> list[dict]:
    """Records -> {prompt_id, prompt, response_a, response_b, instruction_ids, kwargs} (a = chosen side)."""
    rows = []
    for i, rec in enumerate(records):
        where = f"{TULU3_DATASET} record {i} (id {rec.get('id', '?')})"
        chosen, rejected = rec.get("chosen"), rec.get("rejected")
        a = _final_assistant(chosen, f"{where} chosen")
        b = _final_assistant(rejected, f"{where} rejected")
        users = [m for m in chosen[:-1] if m.get("role") == "user"]
        if not users:
            raise Tulu3FormatError(f"{where}: no user turn")
        if single_turn_only and (len(users) > 1 or len(chosen) > 3):
            continue
        prompt = rec.get("prompt") or users[-1]["content"]
        rows.append({"prompt_id": f"tulu3-{rec.get('id', i)}", "prompt": prompt, "response_a": a, "response_b": b,
                     "instruction_ids": [], "kwargs": []})
    return rows


def read_records(path: str | Path) -> list[dict]:
    """The records of a local file in the mixture's format: JSON Lines (``.jsonl``), a JSON list (``.json``) or
    Parquet (``.parquet``)."""
    path = Path(path)
    if path.suffix == ".parquet":
        import polars as pl

        return pl.read_parquet(path).to_dicts()
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def load_tulu3(limit: int | None = None, split: str = "train") -> list[dict]:
    """The mixture's first ``limit`` records, converted: from the file ``$JUDGE_PIPELINE_TULU3_FILE`` names when it is
    set (`read_records`; ``split`` is then ignored), else downloaded (or read from the local HF cache): needs the hub."""
    local = os.environ.get(ENV_FILE, "").strip()
    if local:
        records = read_records(local)
        return tulu3_rows(records if limit is None else records[:limit])
    from datasets import load_dataset

    ds = load_dataset(TULU3_DATASET, split=split)
    if limit is not None:
        ds = ds.select(range(min(limit, len(ds))))
    return tulu3_rows(ds)
