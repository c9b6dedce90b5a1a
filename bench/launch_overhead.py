"""Benchmark: one judge SFT in the asset's process vs as its own process group under `accelerate launch`.

    .venv/bin/python bench/launch_overhead.py                     # the miniature's `nonreasoning` judge SFT
    .venv/bin/python bench/launch_overhead.py --processes 1 2     # accelerate with 1 and with 2 gloo processes

The job is the miniature's non-reasoning judge SFT (SmolLM2-135M, top 8 layers, batch 8, 1 epoch) on 68 examples the
size of the demo's: 34 short IFEval prompts, each with two canned answers scored by the rule gold judge (no model is
run to make them, so the benchmark needs no earlier stage). The in-process time is `run_job` in a process that has
already imported everything (as the asset has); the launcher's time is the whole `accelerate launch` command, from
start to exit (what the asset waits for). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("JUDGE_PIPELINE_WANDB", "disabled")

from judge_pipeline.assets.judges import variant_examples  # noqa: E402
from judge_pipeline.backends.hf_models import materialize_base_model  # noqa: E402
from judge_pipeline.config import LaunchConfig  # noqa: E402
from judge_pipeline.judging.builders import build_gold_judge  # noqa: E402
from judge_pipeline.sources.ifeval import load_ifeval  # noqa: E402
from judge_pipeline.studies import miniature  # noqa: E402
from judge_pipeline.training.jobs import JudgeJob, job_to_json, run_job  # noqa: E402
from judge_pipeline.training.launch import accelerate_command  # noqa: E402

ANSWER = ("Here is a careful answer to the request. It follows the instructions, stays on the topic, and ends "
          "with a short summary of the main points so that the reader can check each of them.")


def gold_rows(cfg, n_prompts: int = 34) -> list[dict]:
    """Long gold rows as `gold_labels` has them: two answers per prompt, scored by the rule gold judge."""
    gold = build_gold_judge(cfg)
    prompts = [r["prompt"] for r in load_ifeval() if len(r["prompt"]) <= cfg.data.max_prompt_chars][:n_prompts]
    rows = []
    for i, p in enumerate(prompts):
        answers = {"a": ANSWER, "b": "ok " * 40}
        scores = {}
        for pos, resp in answers.items():
            v = gold.score_one(p, resp)
            scores[pos] = float(v.score)
            rows.append({"pair_id": f"p{i:03d}", "position": pos, "prompt": p, "response": resp,
                         "gold_score": float(v.score), "gold_trace": v.raw_output})
        label = 1 if scores["a"] > scores["b"] else 2 if scores["b"] > scores["a"] else None
        for r in rows[-2:]:
            r["pair_label"] = label
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--processes", type=int, nargs="*", default=[1, 2], help="accelerate launches to time")
    ap.add_argument("--resume-every", type=int, default=None, help="trainer-state saves every k steps (default: none)")
    args = ap.parse_args()
    base_cfg = miniature()
    cfg = dataclasses.replace(base_cfg, launch=LaunchConfig(resume_every=args.resume_every))
    jcfg = cfg.judge("nonreasoning")
    examples = variant_examples(jcfg, gold_rows(cfg))
    base = materialize_base_model(cfg.models[jcfg.base_model])
    rows = []
    with tempfile.TemporaryDirectory(prefix="launch_overhead_") as tmp:
        def job(name: str) -> JudgeJob:
            return JudgeJob(study=cfg, variant=jcfg.variant, base=str(base), examples=examples,
                            target=str(Path(tmp) / name / "nonreasoning"), resume_key=f"bench-{name}")

        t0 = time.perf_counter()
        res = run_job(job("inprocess"))
        rows.append(("in-process (`run_job`)", time.perf_counter() - t0, res["seconds"], res["steps"]))
        for n in args.processes:
            j = job(f"accelerate{n}")
            spec = Path(tmp) / f"job{n}.json"
            spec.write_text(job_to_json(j))
            cmd = accelerate_command(LaunchConfig(launcher="accelerate", num_processes=n), cfg.device, spec)
            t0 = time.perf_counter()
            out = subprocess.run(cmd, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            if out.returncode:
                sys.exit(out.stderr[-3000:])
            line = [ln for ln in out.stdout.splitlines() if ln.startswith('{"training_result"')][-1]
            import json

            result = json.loads(line)["training_result"]
            rows.append((f"`accelerate launch`, {n} process{'es' if n > 1 else ''}", wall, result["seconds"],
                         result["steps"]))
    print(f"\nminiature `nonreasoning` judge SFT, {len(examples['sft'])} examples, load {os.getloadavg()[0]:.2f}\n")
    print("| path | wall s (what the asset waits) | trainer.train s | steps | overhead vs in-process |")
    print("|---|---|---|---|---|")
    for name, wall, train_s, steps in rows:
        print(f"| {name} | {wall:.1f} | {train_s:.1f} | {steps} | {wall - rows[0][1]:+.1f} s |")


if __name__ == "__main__":
    main()
