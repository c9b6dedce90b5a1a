"""Benchmark: what re-materialising the evaluation costs when nothing changed.

    make bench                                   # tiny config (about 2 minutes)
    JUDGE_PIPELINE_CONFIG=miniature make bench   # the demo's size

Builds the study's upstream (data, gold, judges, policy checkpoints) in a fresh folder, then
materialises the evaluation assets (judge_report and checkpoint_scores, every partition) twice and
prints, for each run, the model calls made (generations + verdicts computed, read from the
materialisation metadata) and the wall time.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

os.environ.setdefault("JUDGE_PIPELINE_CONFIG", "tiny")
os.environ.setdefault("JUDGE_PIPELINE_WANDB", "disabled")
os.environ.setdefault("JUDGE_PIPELINE_DATA", tempfile.mkdtemp(prefix="judge_pipeline_bench_"))

from dagster import AssetKey, DagsterInstance, materialize  # noqa: E402

from judge_pipeline.assets.partitions import judge_partitions, policy_judge_partitions  # noqa: E402
from judge_pipeline.checks import ALL_CHECKS  # noqa: E402
from judge_pipeline.config import DATA_DIR, load_config  # noqa: E402
from judge_pipeline.definitions import all_assets, build_resources  # noqa: E402
from judge_pipeline.jobs import run_study  # noqa: E402


def evaluate_once(instance, resources) -> tuple[int, float]:
    """Materialise judge_report and checkpoint_scores for every partition; (model calls, seconds)."""
    calls, t0 = 0, time.perf_counter()
    for key, parts, counters in (
        ("judge_report", judge_partitions, ("computed_now",)),
        ("checkpoint_scores", policy_judge_partitions, ("computed_now",)),
    ):
        for pk in parts.get_partition_keys():
            res = materialize([*all_assets, *ALL_CHECKS], selection=[AssetKey(key)], partition_key=pk,
                              instance=instance, resources=resources)
            meta = res.asset_materializations_for_node(key)[0].metadata
            calls += sum(int(meta[c].value) for c in counters)
    return calls, time.perf_counter() - t0


def main() -> int:
    cfg = load_config()
    instance = DagsterInstance.ephemeral()
    print(f"config {cfg.name}; outputs in {DATA_DIR}", flush=True)
    run_study(instance, stages=["data + gold", "judges", "policies + evaluation"])
    resources = build_resources()
    # Forget the evaluation's verdicts and generations, so run 1 pays for them, run 2 finds them.
    from judge_pipeline.store import JudgmentStore

    store = JudgmentStore(DATA_DIR / "judgments")
    used = "key IN (SELECT key FROM judgment_uses WHERE context = 'checkpoint_scores')"
    store.forget("judgments", f"judge_name NOT LIKE 'gold:%' OR {used}")
    store.forget("judgment_uses", "TRUE")
    store.forget("generations", "model LIKE '%/checkpoints/policies/%'")
    first = evaluate_once(instance, resources)
    second = evaluate_once(instance, resources)
    print("\n| evaluation run | model calls | wall time (s) |\n|---|---:|---:|")
    print(f"| first (empty store) | {first[0]} | {first[1]:.1f} |")
    print(f"| second (nothing changed) | {second[0]} | {second[1]:.1f} |")
    return 0 if second[0] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
