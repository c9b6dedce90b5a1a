"""Is the gold score in the frozen model at all? A ridge probe on the untrained SmolLM2's last-position hidden state
under the miniature's judge template, fit on judge-train, scored as Krippendorff's alpha vs gold on each split.

    python bench/judge_probe.py --pairs 48     # the miniature's pairs
    python bench/judge_probe.py --pairs 200    # more prompts

A judge trained by SFT can at best find what is there; if a linear read-out of the frozen features generalises
better than the trained judge, the SFT is what falls short (docs/results.md, issue 16). Responses and gold verdicts
go through the judgment store under --out (shared with bench/judge_sweep.py), so a re-run generates nothing.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from judge_pipeline.assets.data import build_preference_pairs
from judge_pipeline.assets.gold import gold_table
from judge_pipeline.backends.hf_models import materialize_base_model
from judge_pipeline.judging.builders import build_gold_judge
from judge_pipeline.judging.templates import render_pointwise
from judge_pipeline.metrics.agreement import krippendorff_alpha_interval
from judge_pipeline.store import JudgmentStore

from judge_sweep import sweep_study  # bench/judge_sweep.py, beside this script (on sys.path when run)

SPLITS = ("judge_train", "judge_val", "judge_test")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="/tmp/judge_sweep", help="the judgment store goes here")
    ap.add_argument("--pairs", type=int, default=48, help="pair prompts (split 70/10/20 into train / val / test)")
    ap.add_argument("--template", default="pointwise_compact_v1")
    ap.add_argument("--lambdas", default="1,10,100,1000", help="ridge penalties tried")
    args = ap.parse_args()

    cfg = sweep_study(args.pairs)
    store = JudgmentStore(Path(args.out) / "store")
    pairs, _ = build_preference_pairs(cfg, store, run_id="judge_probe")
    gold, _ = gold_table(pairs, build_gold_judge(cfg), store, run_id="judge_probe", progress=False)
    rows = gold.unique(subset=["prompt", "response"], keep="first", maintain_order=True).to_dicts()

    path = materialize_base_model(cfg.models[cfg.policy.policy_model])
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    t0 = time.perf_counter()
    feats = []
    with torch.inference_mode():
        for r in rows:
            enc = tok.apply_chat_template(render_pointwise(args.template, r["prompt"], r["response"]),
                                          add_generation_prompt=True, return_tensors="pt", return_dict=True)
            feats.append(model(**enc, output_hidden_states=True).hidden_states[-1][0, -1].float().numpy())
    seconds = time.perf_counter() - t0

    x, y = np.stack(feats), np.array([r["gold_score"] for r in rows], dtype=float)
    split = np.array([r["split"] for r in rows])
    train = split == "judge_train"
    z = (x - x[train].mean(0)) / (x[train].std(0) + 1e-6)
    print(f"\n{len(rows)} responses ({', '.join(f'{s} {int((split == s).sum())}' for s in SPLITS)}); "
          f"features {seconds:.0f} s; gold sd {y.std():.2f}")
    print("| lambda | " + " | ".join(f"alpha {s}" for s in SPLITS) + " |\n|---:|" + "---:|" * len(SPLITS))
    for lam in (float(v) for v in args.lambdas.split(",")):
        a = z[train]
        w = np.linalg.solve(a.T @ a + lam * np.eye(a.shape[1]), a.T @ (y[train] - y[train].mean()))
        pred = z @ w + y[train].mean()
        alphas = [krippendorff_alpha_interval(list(y[split == s]), list(pred[split == s])) for s in SPLITS]
        print(f"| {lam:g} | " + " | ".join(f"{v:.2f}" for v in alphas) + " |")


if __name__ == "__main__":
    main()
