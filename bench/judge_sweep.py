"""Tuning tool: how good can the miniature's non-reasoning judge get? One judge SFT on the miniature's pipeline
pieces with the knobs given here, outside Dagster; prints the judge's Krippendorff alpha vs gold (95% CI) on
judge-val and judge-test, the spread of its scores, and the seconds each part took.

    python bench/judge_sweep.py --pairs 48 --epochs 1 --lr 1e-4          # the miniature's judge today
    python bench/judge_sweep.py --pairs 160 --max-new 32 --epochs 3 --lr 2e-4 --top-layers all

Responses and gold verdicts go through a judgment store under --out (shared by every run with the same --out), so
a second setting on the same data re-generates and re-judges nothing; each setting trains its own judge.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import statistics
import time
from pathlib import Path

import polars as pl

from judge_pipeline.assets.data import build_preference_pairs
from judge_pipeline.assets.gold import gold_table
from judge_pipeline.assets.judges import variant_examples
from judge_pipeline.backends.hf_models import materialize_base_model
from judge_pipeline.config import DataConfig, StudyConfig
from judge_pipeline.judging.builders import build_gold_judge, build_training_judge
from judge_pipeline.judging.report import JudgeEvaluator
from judge_pipeline.store import JudgmentStore
from judge_pipeline.studies import miniature
from judge_pipeline.training.judge_sft import train_judge_sft


def visible_score(trace: str) -> float:
    """The gold rules' points without step 1 (instruction checks), from a rules-v2 trace, on 0-9."""
    points = [float(m) for m in re.findall(r"Points (\d+(?:\.\d+)?)/", trace)[1:]]  # steps 2-4
    penalties = [float(m) for m in re.findall(r"Penalty (\d+(?:\.\d+)?)", trace)]  # steps 5-6
    return float(round(min(max(sum(points) - sum(penalties), 0.0), 5.0) * 9 / 5))


def sweep_study(pairs: int, max_new: int = 48) -> StudyConfig:
    """The miniature with ``pairs`` pair prompts and responses capped at ``max_new`` tokens, under the name the
    benches share (bench/judge_probe.py uses it too), so their stores hold the same responses and gold verdicts."""
    base = miniature()
    return dataclasses.replace(base, name="judge_sweep", data=DataConfig(
        n_pair_prompts=pairs, n_rl_prompts=base.data.n_rl_prompts, n_policy_test_prompts=0,
        response_max_new_tokens=max_new))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="/tmp/judge_sweep", help="store and checkpoints go here")
    ap.add_argument("--pairs", type=int, default=48, help="pair prompts (split 70/10/20 into train / val / test)")
    ap.add_argument("--max-new", type=int, default=48, help="length cap of the generated responses (tokens)")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--top-layers", default="8", help="train only the top N decoder layers, or 'all'")
    ap.add_argument("--variant", default="nonreasoning", help="the miniature's judge variant (its SFT stage only)")
    ap.add_argument("--max-length", type=int, default=None, help="default: the variant's")
    ap.add_argument("--template", default=None, help="default: the variant's")
    ap.add_argument("--gold", choices=("rules", "visible"), default="rules",
                    help="'visible': an experiment, the gold rules' score without the instruction checks (what a small "
                    "judge can see: relevance, completeness, substance, repetition, grader-directed text), read from "
                    "the gold trace and rescaled to 0-9")
    args = ap.parse_args()

    cfg = sweep_study(args.pairs, args.max_new)
    jcfg = cfg.judge(args.variant)
    jcfg = dataclasses.replace(jcfg, epochs=args.epochs, learning_rate=args.lr, batch_size=args.batch,
                               train_top_layers=None if args.top_layers == "all" else int(args.top_layers),
                               max_length=args.max_length or jcfg.max_length, template=args.template or jcfg.template)
    cfg = dataclasses.replace(cfg, judges=(jcfg,))
    out = Path(args.out)
    store = JudgmentStore(out / "store")
    t = {}

    t0 = time.perf_counter()
    pairs, _ = build_preference_pairs(cfg, store, run_id="judge_sweep")
    t["responses"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    gold, _ = gold_table(pairs, build_gold_judge(cfg), store, run_id="judge_sweep", progress=False)
    t["gold"] = time.perf_counter() - t0
    if args.gold == "visible":
        gold = gold.with_columns(
            pl.col("gold_trace").map_elements(visible_score, return_dtype=pl.Float64).alias("gold_score"))
    rows = {s: gold.filter(pl.col("split") == s).sort("pair_id", "position").to_dicts()
            for s in ("judge_train", "judge_val", "judge_test")}

    tag = (("visible_" if args.gold == "visible" else "") + f"{args.variant}_p{args.pairs}_n{args.max_new}_e{args.epochs:g}"
           f"_lr{args.lr:g}_b{args.batch}_l{args.top_layers}_{jcfg.template}")
    target = out / "judges" / tag
    examples = variant_examples(jcfg, rows["judge_train"])["sft"]
    t0 = time.perf_counter()
    if not (target / "config.json").is_file():
        train_judge_sft(materialize_base_model(cfg.models[jcfg.base_model]), examples, jcfg, target)
    t["training"] = time.perf_counter() - t0

    judge = build_training_judge(cfg, args.variant, target, name=f"sweep:{tag}", store=store)
    e = cfg.eval
    ev = JudgeEvaluator(judge, store, "judge_sweep", e.judge_batch_size, e.bootstrap_resamples, e.ci_level)
    t0 = time.perf_counter()
    report = {(m["eval_set"], m["metric"]): m
              for s in ("judge_val", "judge_test") for m in ev.on_gold_set(rows[s], eval_set=s)}
    t["judging"] = time.perf_counter() - t0
    scores = [r["expected_score"] for r in store.query(
        f"SELECT expected_score FROM judgments WHERE expected_score IS NOT NULL AND judge_name = 'sweep:{tag}'").to_dicts()]

    gold_scores = gold["gold_score"].to_list()
    print(f"\n{tag}: {len(examples)} training examples, {len(rows['judge_val'])} val / {len(rows['judge_test'])} test "
          f"responses; gold scores mean {statistics.mean(gold_scores):.2f} sd {statistics.pstdev(gold_scores):.2f}")
    print(f"judge expected scores: sd {statistics.pstdev(scores):.2f}, range {min(scores):.2f}..{max(scores):.2f}"
          if scores else "judge expected scores: none (every verdict invalid)")
    print("| set | alpha | 95% CI | pair accuracy | invalid | n |\n|---|---:|---|---:|---:|---:|")
    fmt = lambda v: "—" if v is None else f"{v:.2f}"  # noqa: E731
    for s in ("judge_val", "judge_test"):
        a, acc = report[(s, "alpha")], report.get((f"{s}_pairs", "accuracy"), {})
        bad = report.get((s, "invalid_rate"), {})
        print(f"| {s} | {fmt(a['value'])} | [{fmt(a['low'])}, {fmt(a['high'])}] | {fmt(acc.get('value'))} "
              f"| {fmt(bad.get('value'))} | {a['n']} |")
    print("seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in t.items()))


if __name__ == "__main__":
    main()
