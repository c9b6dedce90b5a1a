"""Tuning tool: one GRPO run of the policy against a trained judge with the knobs given here, outside Dagster;
prints proxy and gold per checkpoint and the wall time per step. Use it to find miniature settings at which the
policy moves (the study needs the policy to move before reward hacking can show).

    JUDGE_PIPELINE_CONFIG=miniature python bench/policy_sweep.py --judge nonreasoning --lr 1e-4 --steps 32 --every 8

It reads the judge checkpoints and prompt pools of a materialised study (`--data`, default the study's data
folder: run `make demo` first) and writes its checkpoints under --out. Verdicts and answers go through the
study's judgment store, so a repeated run re-uses them.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import duckdb
import numpy as np

from judge_pipeline.backends.hf_models import materialize_base_model
from judge_pipeline.config import DATA_DIR, load_config
from judge_pipeline.generation import generate_through_store
from judge_pipeline.judging.builders import build_gold_judge
from judge_pipeline.judging.cached import judge_through_store
from judge_pipeline.store import JudgmentStore
from judge_pipeline.training.policy_grpo import train_policy_grpo
from judge_pipeline.training.policy_rewards import JudgeReward, build_policy_reward


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DATA_DIR), help="data folder of a materialised study")
    ap.add_argument("--judge", default="nonreasoning", help="reward: a judge variant or ensemble of the config, or "
                    "'gold' (the control: GRPO against the gold judge itself shows whether the loop can move gold at all)")
    ap.add_argument("--out", default="/tmp/policy_sweep", help="where the run's checkpoints go")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--every", type=int, default=8, help="checkpoint every k steps")
    ap.add_argument("--top-layers", default="8", help="train only the top N layers, or 'all'")
    ap.add_argument("--prompts-per-step", type=int, default=2)
    ap.add_argument("--generations", type=int, default=4)
    ap.add_argument("--max-completion", type=int, default=None, help="rollout length (default: the config's)")
    ap.add_argument("--eval-tokens", type=int, default=None, help="answer length at evaluation (default: the config's)")
    ap.add_argument("--temperature", type=float, default=None, help="rollout temperature (default: the config's)")
    ap.add_argument("--rl-prompts", type=int, default=None, help="train on only the first N RL prompts (a smaller RL "
                    "problem: each prompt is seen many times)")
    ap.add_argument("--eval-on-train", action="store_true", help="score checkpoints on the RL prompts trained on, "
                    "not the policy-test prompts (in-sample: can the loop raise its reward at all?)")
    args = ap.parse_args()

    cfg = load_config()
    con = duckdb.connect(str(Path(args.data) / "warehouse.duckdb"), read_only=True)
    try:
        rl = [r[0] for r in con.execute(f"SELECT prompt FROM {cfg.name}.rl_prompts").fetchall()]
        test = [r[0] for r in con.execute(f"SELECT prompt FROM {cfg.name}.policy_test_prompts ORDER BY prompt_id").fetchall()]
        judges = dict(con.execute(f"SELECT judge_variant, path FROM {cfg.name}.judge_checkpoint").fetchall())
    finally:
        con.close()
    rl = rl[: args.rl_prompts] if args.rl_prompts else rl
    test = rl if args.eval_on_train else test
    store = JudgmentStore(Path(args.data) / "judgments")
    pcfg = dataclasses.replace(
        cfg.policy, learning_rate=args.lr, max_steps=args.steps, save_every=args.every,
        train_top_layers=None if args.top_layers == "all" else int(args.top_layers),
        prompts_per_step=args.prompts_per_step, num_generations=args.generations,
        max_completion_length=args.max_completion or cfg.policy.max_completion_length,
        temperature=cfg.policy.temperature if args.temperature is None else args.temperature)
    eval_tokens = args.eval_tokens or cfg.eval.max_new_tokens
    gold = build_gold_judge(cfg)
    reward = (JudgeReward(gold, store, run_id="policy_sweep") if args.judge == "gold"
              else build_policy_reward(cfg, args.judge, judges, store, run_id="policy_sweep"))
    t0 = time.perf_counter()
    res = train_policy_grpo(materialize_base_model(cfg.models[pcfg.policy_model]), rl, [reward], pcfg,
                            Path(args.out) / f"{args.judge}-lr{args.lr:g}")
    train_s = time.perf_counter() - t0
    print(f"\n{args.judge}, lr {args.lr:g}, {args.steps} steps, {pcfg.prompts_per_step}x{pcfg.num_generations} rollouts of "
          f"{pcfg.max_completion_length} tokens: {train_s / args.steps:.1f} s per GRPO step, "
          f"{reward.invalid} invalid verdicts")
    rewards = [h["reward"] for h in res.log_history if "reward" in h]
    window = max(1, len(rewards) // 4)
    print("training reward, mean per quarter of the run:",
          " -> ".join(f"{np.mean(rewards[i:i + window]):.2f}" for i in range(0, len(rewards), window)))
    print("| step | proxy (mean) | gold (mean) | answer words | finished | first answer |\n|---|---|---|---|---|---|")
    for step, path in res.checkpoints:
        gens, _ = generate_through_store(str(path), test, store, eval_tokens, progress=False)
        answers = [g["completion"] for g in gens]
        proxy = [v for v in reward.score_answers(test, answers, progress=False).values if v is not None]
        verdicts, _, _ = judge_through_store(gold, list(zip(test, answers)), store, progress=False)
        print(f"| {step} | {np.mean(proxy) if proxy else float('nan'):.3f} | {np.mean([v.score for v in verdicts]):.3f} | "
              f"{np.mean([len(a.split()) for a in answers]):.1f} | {np.mean([g['finished'] for g in gens]):.2f} | "
              f"{answers[0][:70]!r} |")


if __name__ == "__main__":
    main()
