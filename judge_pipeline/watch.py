"""Finding new checkpoints on disk (what the Dagster sensor reacts to), without Dagster."""

from __future__ import annotations

import json
import re
from pathlib import Path


def checkpoint_state(root: Path) -> dict[str, float]:
    """{checkpoint folder: mtime} for every finished checkpoint below ``root`` (folders with a config.json;
    in-progress '.partial' folders are ignored)."""
    state = {}
    if root.exists():
        for cfg in root.glob("**/config.json"):
            folder = cfg.parent
            # trainer state saved for resuming (<run>/trainer/, <judge>.trainer/, <judge>.grpo-trainer/) is no checkpoint
            if folder.name.endswith(".partial") or any(part.endswith("trainer") for part in folder.parts):
                continue
            state[str(folder)] = cfg.stat().st_mtime
    return state


def new_since(root: Path, cursor: str | None) -> tuple[list[str], str]:
    """Checkpoint folders new or rewritten since ``cursor``, and the cursor to store next."""
    before = json.loads(cursor) if cursor else {}
    now = checkpoint_state(root)
    changed = sorted(p for p, m in now.items() if before.get(p) != m)
    return changed, json.dumps(now, sort_keys=True)


def run_partition_of(folder: str, policies_root: Path) -> tuple[str, str] | None:
    """(policy, judge variant) of a policy checkpoint folder '<root>/<policy>__<variant>__seed<S>/step-N' (the
    seed suffix is optional: folders written before runs had seeds)."""
    try:
        rel = Path(folder).relative_to(policies_root)
    except ValueError:
        return None
    run = rel.parts[0] if rel.parts else ""
    if "__" not in run:
        return None
    policy, variant = run.split("__", 1)
    return policy, re.sub(r"__seed\d+$", "", variant)
