"""IFEval prompts (shipped in data/ifeval) and their verifiable instructions."""

from __future__ import annotations

import json
from pathlib import Path

from judge_pipeline.config import SHIPPED_DATA_DIR
from judge_pipeline.judging.gold_rules import PromptConstraints

IFEVAL_FILE = SHIPPED_DATA_DIR / "ifeval" / "input_data.jsonl"


def load_ifeval(path: Path = IFEVAL_FILE) -> list[dict]:
    """Rows {prompt_id, prompt, instruction_ids, kwargs}, in file order."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                rows.append({
                    "prompt_id": f"ifeval-{r['key']}",
                    "prompt": r["prompt"],
                    "instruction_ids": list(r["instruction_id_list"]),
                    "kwargs": [json.dumps({k: v for k, v in kw.items() if v is not None}) for kw in r["kwargs"]],
                })
            except (ValueError, KeyError) as exc:
                raise ValueError(f"{path}:{lineno}: not an IFEval row ({exc})") from exc
    return rows


def constraints_table(rows: list[dict]) -> dict[str, PromptConstraints]:
    """prompt text -> its verifiable instructions, for the rule gold judge."""
    return {
        r["prompt"]: PromptConstraints(tuple(r["instruction_ids"]), tuple(json.loads(k) for k in r["kwargs"]))
        for r in rows
    }
