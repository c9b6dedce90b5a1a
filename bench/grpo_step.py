"""The pipeline's GRPO step against a bare TRL script with the same shapes (issue 13), side by side in one run:

    .venv/bin/python -W ignore bench/grpo_step.py [--steps 6] [--config miniature]

Both train the miniature's policy (SmolLM2-135M, top 8 layers) with TRL's GRPOTrainer on the same RL prompts, with
the same GRPO shapes (prompts per step x rollouts, completion length, temperature, clip range, learning rate) and
the same reward computation: a pointwise judge (the base SmolLM2 checkpoint standing in for the trained one; a
trained judge costs the same) reading the expected score over "0".."9" at the first answer position.

- bare: a plain script -- GRPOTrainer built here, the reward a function that renders the judge prompt and runs one
  forward pass per batch of rollouts (no store, no clipping, no length sorting), no checkpoints, no step report;
- pipeline: `train_policy_grpo` with the study's reward (`build_policy_reward`: content-keyed verdicts through a
  fresh judgment store, committed per reward call), its checkpoint callback (one save, at the last step) and step
  report.

Seconds per step are timed by a callback around each optimisation step; the first step (warm-up) is left out.
Prints a markdown table: seconds per step (mean, min, max) and pipeline / bare (target <= 1.2x).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("JUDGE_PIPELINE_WANDB", "disabled")

from transformers import TrainerCallback  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from profile_step import rl_prompts  # noqa: E402


class StepTimer(TrainerCallback):
    """Wall seconds of each optimisation step."""

    def __init__(self):
        self.seconds: list[float] = []
        self._t = 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        self._t = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.seconds.append(time.perf_counter() - self._t)


def bare_judge_reward(judge_path: Path, template_version: str, max_length: int):
    """A plain reward function: the judge's expected score, one forward pass per batch of rollouts."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from judge_pipeline.backends.transformers_backend import CHAT_TEMPLATE_KWARGS
    from judge_pipeline.judging.templates import load_template, render_pointwise

    tok = AutoTokenizer.from_pretrained(judge_path)
    model = AutoModelForCausalLM.from_pretrained(judge_path).eval()
    template = load_template(template_version)
    digits = [tok.encode(str(d), add_special_tokens=False)[0] for d in range(10)]
    values = torch.arange(10, dtype=torch.float32)

    def reward(prompts, completions, **kw):
        texts = []
        for p, c in zip(prompts, completions):
            question = p[-1]["content"] if isinstance(p, list) else p
            answer = c[-1]["content"] if isinstance(c, list) else c
            texts.append(tok.apply_chat_template(render_pointwise(template, question, answer), tokenize=False,
                                                 add_generation_prompt=True, **CHAT_TEMPLATE_KWARGS))
        tok.padding_side = tok.truncation_side = "left"
        enc = tok(texts, return_tensors="pt", padding=True, truncation=True, max_length=max_length,
                  add_special_tokens=False)
        with torch.inference_mode():
            logits = model(**enc, logits_to_keep=1).logits[:, -1, :]
        p = torch.softmax(logits.float(), -1)[:, digits]
        return ((p / p.sum(-1, keepdim=True)) @ values).tolist()

    return reward


def bare_run(base: Path, prompts: list[str], reward, pcfg, out: Path) -> list[float]:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from judge_pipeline.backends.transformers_backend import CHAT_TEMPLATE_KWARGS
    from judge_pipeline.training.common import train_only_top_layers

    tok = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base)
    train_only_top_layers(model, pcfg.train_top_layers)
    batch = pcfg.prompts_per_step * pcfg.num_generations
    args = GRPOConfig(output_dir=str(out), learning_rate=pcfg.learning_rate, max_steps=pcfg.max_steps,
                      per_device_train_batch_size=batch, gradient_accumulation_steps=1,
                      num_generations=pcfg.num_generations, temperature=pcfg.temperature,
                      max_completion_length=pcfg.max_completion_length, epsilon=pcfg.epsilon_low,
                      epsilon_high=pcfg.epsilon_high, beta=pcfg.kl_beta, lr_scheduler_type="constant",
                      save_strategy="no", seed=pcfg.seed, use_cpu=True, report_to=[], logging_steps=1,
                      chat_template_kwargs=CHAT_TEMPLATE_KWARGS)
    timer = StepTimer()
    trainer = GRPOTrainer(model=model, reward_funcs=[reward], args=args,
                          train_dataset=Dataset.from_list([{"prompt": [{"role": "user", "content": p}]} for p in prompts]),
                          processing_class=tok, callbacks=[timer])
    trainer.train()
    return timer.seconds


def pipeline_run(cfg, base: Path, prompts: list[str], pcfg, work: Path) -> list[float]:
    from judge_pipeline.store import JudgmentStore
    from judge_pipeline.training.common import Runtime
    from judge_pipeline.training.policy_grpo import train_policy_grpo
    from judge_pipeline.training.policy_rewards import build_policy_reward

    store = JudgmentStore(work / "store", study=cfg.name)
    reward = build_policy_reward(cfg, "nonreasoning", {"nonreasoning": str(base)}, store, run_id="bench")
    timer = StepTimer()
    train_policy_grpo(base, prompts, [reward], pcfg, work / "run", Runtime(callbacks=[timer]))
    return timer.seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=6, help="GRPO steps per side (the first is left out)")
    ap.add_argument("--config", default="miniature")
    args = ap.parse_args()

    from judge_pipeline.backends.hf_models import materialize_base_model
    from judge_pipeline.config import load_config

    cfg = load_config(args.config)
    pcfg = dataclasses.replace(cfg.policy, max_steps=args.steps, save_every=args.steps, seeds=(0,), seed=0,
                               micro_batch_size=None)
    base = Path(materialize_base_model(cfg.models[pcfg.policy_model]))
    prompts = rl_prompts(max(pcfg.prompts_per_step * args.steps, 8), cfg.data.max_prompt_chars or 320, 0)
    jcfg = cfg.judge("nonreasoning")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bare = bare_run(base, prompts, bare_judge_reward(base, jcfg.template, jcfg.context_length or 1024), pcfg,
                        tmp / "bare")
        pipe = pipeline_run(cfg, base, prompts, pcfg, tmp / "pipeline")
    rows = [("bare TRL script", bare[1:]), ("pipeline (train_policy_grpo + store reward)", pipe[1:])]
    print(f"\n{args.steps} steps per side (first left out); {pcfg.prompts_per_step} prompts x {pcfg.num_generations} "
          f"rollouts x {pcfg.max_completion_length} tokens; top {pcfg.train_top_layers} layers trained\n")
    print("| run | s/step mean | min | max |")
    print("|---|---:|---:|---:|")
    for name, s in rows:
        print(f"| {name} | {statistics.mean(s):.2f} | {min(s):.2f} | {max(s):.2f} |")
    print(f"\npipeline / bare: {statistics.mean(pipe[1:]) / statistics.mean(bare[1:]):.2f}x (target <= 1.2x)")


if __name__ == "__main__":
    main()
