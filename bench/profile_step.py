"""Where the time of one GRPO step of the miniature goes, and of one verdict; prints markdown tables.

    .venv/bin/python -W ignore bench/profile_step.py --judge nonreasoning   # or: --judge reasoning
    .venv/bin/python -W ignore bench/profile_step.py --original-scoring     # the judge's original scoring path
    .venv/bin/python -W ignore bench/profile_step.py --no-shared-prefix     # fast scoring without the prefix cache
    .venv/bin/python -W ignore bench/profile_step.py --head-all-positions   # the loss's LM head at every position

It runs the miniature's own policy GRPO (`train_policy_grpo`, the study's config, its reward built by
`build_policy_reward`) for a few steps against a judge scored from the base SmolLM2 checkpoint (an untrained
judge costs what a trained one does, apart from a reasoning judge's trace length: the base model writes up to
``max_new_tokens``), with a fresh judgment store in a temporary folder. Nothing is re-implemented: the real
methods are wrapped with ``time.perf_counter`` timers. Each timer records *exclusive* time (a wrapped call
inside another wrapped call is taken out of its parent), so the rows of a table add up to the step.

The first step (warm-up) and the last (trainer teardown, final checkpoint) are left out of the step table.
Then the rollouts of the profiled run are judged once more, through a fresh store, for the per-verdict table.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("JUDGE_PIPELINE_WANDB", "disabled")

import dataclasses  # noqa: E402

from transformers import TrainerCallback  # noqa: E402


class Profile:
    """Exclusive wall time per label, bucketed by GRPO step (bucket None outside steps)."""

    def __init__(self):
        self.stack: list[list] = []  # [label, child seconds]
        self.bucket: int | None = None
        self.seconds: dict[int | None, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.calls: dict[int | None, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    @contextmanager
    def timed(self, label: str):
        frame = [label, 0.0]
        self.stack.append(frame)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            dt = time.perf_counter() - t0
            self.stack.pop()
            self.seconds[self.bucket][label] += dt - frame[1]
            self.calls[self.bucket][label] += 1
            if self.stack:
                self.stack[-1][1] += dt

    def wrap(self, obj, name: str, label: str, inside: tuple[str, ...] | None = None):
        """Time ``obj.name`` under ``label`` (only when called inside one of ``inside``, else it stays in its caller)."""
        fn = getattr(obj, name)

        def timed_call(*args, **kwargs):
            if inside is not None and not (self.stack and self.stack[-1][0] in inside):
                return fn(*args, **kwargs)
            with self.timed(label):
                return fn(*args, **kwargs)

        setattr(obj, name, timed_call)
        return fn


STORE_CALLS = ("register_judge", "missing_judgments", "put_judgments", "fetch_judgments")

#: (label, what it covers) in table order
STEP_ROWS = [
    ("rollout generation", "GRPOTrainer._generate: the policy samples G completions per prompt"),
    ("policy logprobs (old/ref)", "_get_per_token_logps_and_entropies outside the loss"),
    ("rollout bookkeeping", "the rest of _generate_and_score_completions (advantages, metrics)"),
    ("reward glue", "the rest of _calculate_rewards and JudgeReward.__call__"),
    ("store: keys, rows, verdict objects", "the rest of judge_through_store"),
    *[(f"store: {c}", f"JudgmentStore.{c}") for c in STORE_CALLS],
    ("verdict: fit to context", "clip_to_context (tokenises the whole judge prompt, cuts a long response)"),
    ("verdict: chat template", "TransformersBackend.render"),
    ("verdict: tokenise batch", "TransformersBackend._encode_left_padded"),
    ("verdict: trace generation", "TransformersBackend.generate (reasoning judges: the trace, forwards included)"),
    ("verdict: forward", "the judge model's forward when reading the score distribution"),
    ("verdict: score distribution", "the rest of next_token_distribution (softmax, argmax, decode)"),
    ("verdict: parse, Verdict objects", "the rest of PointwiseLLMJudge.judge"),
    ("loss forward", "GRPOTrainer.compute_loss (policy logprobs included)"),
    ("backward", "accelerator.backward"),
    ("logging", "GRPOTrainer.log"),
    ("checkpoint save", "SaveEveryK.on_step_end (every k steps; here only at the last step)"),
]


def instrument_judge(prof: Profile, judge) -> None:
    """Wrap a pointwise judge's backend and the module functions it calls (once per judge)."""
    import judge_pipeline.judging.pointwise_judge as pj

    backend = judge._backend()
    prof.wrap(judge, "judge", "verdict: parse, Verdict objects")
    if not getattr(pj.clip_to_context, "_profiled", False):
        prof.wrap(pj, "clip_to_context", "verdict: fit to context")
        pj.clip_to_context._profiled = True
    prof.wrap(backend, "render", "verdict: chat template")
    prof.wrap(backend, "_encode_left_padded", "verdict: tokenise batch")
    prof.wrap(backend, "generate", "verdict: trace generation")
    prof.wrap(backend, "next_token_distribution", "verdict: score distribution")
    prof.wrap(backend.model, "forward", "verdict: forward", inside=("verdict: score distribution",))


def instrument_store(prof: Profile, store) -> None:
    import judge_pipeline.judging.cached as cached
    import judge_pipeline.training.policy_rewards as pr

    for c in STORE_CALLS:
        prof.wrap(store, c, f"store: {c}")
    if not getattr(cached.judge_through_store, "_profiled", False):
        orig = cached.judge_through_store

        def jts(*a, **kw):
            with prof.timed("store: keys, rows, verdict objects"):
                return orig(*a, **kw)

        jts._profiled = True
        cached.judge_through_store = pr.judge_through_store = jts


class StepClock(TrainerCallback):
    def __init__(self, prof: Profile):
        self.prof = prof
        self.begin: dict[int, float] = {}

    def on_step_begin(self, args, state, control, **kw):
        self.prof.bucket = state.global_step
        self.begin[state.global_step] = time.perf_counter()

    def on_train_end(self, args, state, control, **kw):
        self.begin[state.global_step] = time.perf_counter()
        self.prof.bucket = None


def instrument_trainer(prof: Profile, trainer, clock: StepClock) -> None:
    trainer.add_callback(clock)
    prof.wrap(trainer, "_generate", "rollout generation")
    prof.wrap(trainer, "_generate_and_score_completions", "rollout bookkeeping")
    prof.wrap(trainer, "_calculate_rewards", "reward glue")
    prof.wrap(trainer, "_get_per_token_logps_and_entropies", "policy logprobs (old/ref)",
              inside=("rollout bookkeeping",))
    prof.wrap(trainer, "compute_loss", "loss forward")
    prof.wrap(trainer.accelerator, "backward", "backward")
    prof.wrap(trainer, "log", "logging")


def rl_prompts(n: int, max_chars: int, seed: int) -> list[str]:
    from judge_pipeline.sources.ifeval import load_ifeval

    rows = [r["prompt"] for r in load_ifeval() if len(r["prompt"]) <= max_chars]
    random.Random(seed).shuffle(rows)
    return rows[:n]


def fmt_table(rows: list[tuple[str, float, str, str]], total: float, unit: str) -> str:
    lines = [f"| phase | {unit} | share | calls | what |", "|---|---:|---:|---:|---|"]
    for label, sec, calls, what in rows:
        lines.append(f"| {label} | {sec:.3f} | {100 * sec / total:.1f}% | {calls} | {what} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--judge", default="nonreasoning", help="the miniature's judge variant used as reward")
    ap.add_argument("--judge-checkpoint", default=None, help="judge weights (default: the base SmolLM2 folder)")
    ap.add_argument("--steps", type=int, default=4, help="GRPO steps run (the first and the last are not profiled)")
    ap.add_argument("--config", default="miniature")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--original-scoring", action="store_true",
                    help="score with the judge's original path (item-order batches, logits at every position): the "
                    "'before' of the fast scoring path")
    ap.add_argument("--no-shared-prefix", action="store_true",
                    help="fast scoring without the shared-prefix KV cache: the 'before' of that cache")
    ap.add_argument("--head-all-positions", action="store_true",
                    help="TRL's fused LM head projects every position on a CPU, not only the completion's: the 'before' "
                    "of `training.common.project_only_labelled_positions`")
    args = ap.parse_args()
    if args.steps < 3:
        sys.exit("--steps must be >= 3 (warm-up, profiled steps, last step)")

    import torch

    import judge_pipeline.training.policy_grpo as pg
    from judge_pipeline.backends.hf_models import materialize_base_model
    from judge_pipeline.config import load_config
    from judge_pipeline.store import JudgmentStore
    from judge_pipeline.training.policy_rewards import build_policy_reward

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.original_scoring:
        from judge_pipeline.backends.transformers_backend import TransformersBackend

        TransformersBackend.fast_scoring = False
    if args.no_shared_prefix:
        from judge_pipeline.backends.transformers_backend import TransformersBackend

        TransformersBackend.prefix_caching = False
    if args.head_all_positions:
        import judge_pipeline.training.common as common

        common.COMPACT_LM_HEAD_ON_CPU = False
    cfg = load_config(args.config)
    pcfg = dataclasses.replace(cfg.policy, max_steps=args.steps, save_every=10**6)
    policy_path = materialize_base_model(cfg.models[pcfg.policy_model])
    judge_path = args.judge_checkpoint or str(policy_path)
    prompts = rl_prompts(cfg.data.n_rl_prompts, cfg.data.max_prompt_chars or 10**9, cfg.data.seed)
    prof = Profile()
    clock = StepClock(prof)

    with tempfile.TemporaryDirectory(prefix="profile_step_") as tmp:
        store = JudgmentStore(Path(tmp) / "store")
        instrument_store(prof, store)
        reward = build_policy_reward(cfg, args.judge, {args.judge: judge_path}, store, run_id="profile_step")
        members = getattr(reward, "members", [reward])
        for m in members:
            instrument_judge(prof, m.judge)
        saver_cls = pg.SaveEveryK
        prof.wrap(saver_cls, "on_step_end", "checkpoint save")

        real_trainer = pg.grpo_trainer

        def grpo_trainer(*a, **kw):
            trainer, tok = real_trainer(*a, **kw)
            instrument_trainer(prof, trainer, clock)
            return trainer, tok

        pg.grpo_trainer = grpo_trainer
        t0 = time.perf_counter()
        res = pg.train_policy_grpo(policy_path, prompts, [reward], pcfg, Path(tmp) / "policy")
        wall = time.perf_counter() - t0

        # ---- the step table: steps 1 .. steps-2 (0-based buckets), each from its begin to the next one's
        steps = list(range(1, args.steps - 1))
        step_s = sum(clock.begin[s + 1] - clock.begin[s] for s in steps) / len(steps)
        per = defaultdict(float)
        calls = defaultdict(int)
        for s in steps:
            for k, v in prof.seconds[s].items():
                per[k] += v / len(steps)
            for k, v in prof.calls[s].items():
                calls[k] += v
        rows = [(lab, per.get(lab, 0.0), calls.get(lab, 0) // len(steps), what) for lab, what in STEP_ROWS
                if per.get(lab, 0.0) > 0 or calls.get(lab, 0)]
        known = sum(r[1] for r in rows)
        rows.append(("optimizer step, trainer loop, other", step_s - known, "", "step wall time minus the rows above"))
        verdicts_per_step = sum(m.verdicts_computed for m in members) / args.steps
        sys.stdout.flush()
        print(f"\n## One GRPO step: judge `{args.judge}` as reward ({Path(judge_path).name}), config {cfg.name}, "
              f"{pcfg.prompts_per_step} prompts x {pcfg.num_generations} rollouts x {pcfg.max_completion_length} tokens, "
              f"torch threads {torch.get_num_threads()}, "
              f"{'original' if args.original_scoring else 'fast'} judge scoring"
              f"{'' if args.original_scoring or args.no_shared_prefix else ' + shared prefix'}, loss head at "
              f"{'every position' if args.head_all_positions else 'completion positions only'}\n")
        print(f"{step_s:.2f} s per step (mean of steps {steps[0] + 1}..{steps[-1] + 1} of {args.steps}; whole run "
              f"{wall:.1f} s; {verdicts_per_step:.0f} verdicts per step)\n")
        print(fmt_table(rows, step_s, "s per step"))
        reward_s = sum(v for k, v in per.items() if k.startswith(("verdict:", "store:", "reward glue")))
        store_s = sum(v for k, v in per.items() if k.startswith("store:"))
        print(f"\nreward total {reward_s:.2f} s per step ({100 * reward_s / step_s:.0f}%), of which the store "
              f"{store_s:.3f} s; rollout generation {per['rollout generation']:.2f} s; loss + backward "
              f"{per['loss forward'] + per['backward']:.2f} s")

        # ---- the verdict table: the run's rollouts judged again, through a fresh store
        items = [(h["prompt"], h["completion"]) for m in members for h in m.history]
        items = list(dict.fromkeys(items))
        judge = members[0].judge
        store2 = JudgmentStore(Path(tmp) / "store2")
        instrument_store(prof, store2)
        prof.bucket = "verdicts"
        t0 = time.perf_counter()
        import judge_pipeline.judging.cached as cached

        verdicts, _, _ = cached.judge_through_store(judge, items, store2, batch_size=members[0].batch_size,
                                                    progress=False)
        total = time.perf_counter() - t0
        n = len(items)
        vrows = [(lab, 1000 * prof.seconds["verdicts"].get(lab, 0.0) / n, prof.calls["verdicts"].get(lab, 0), what)
                 for lab, what in STEP_ROWS if lab.startswith(("verdict:", "store:")) and prof.calls["verdicts"].get(lab)]
        mean_prompt = sum(v.prompt_tokens or 0 for v in verdicts) / n
        print(f"\n## One verdict: `{args.judge}` judge on the {n} rollouts of the run, through a fresh store, "
              f"batches of {members[0].batch_size} (judge batch {judge.batch_size}); {mean_prompt:.0f} judge-prompt "
              f"tokens on average\n")
        print(f"{1000 * total / n:.1f} ms per verdict ({n / total:.2f} verdicts/s)\n")
        print(fmt_table(vrows, 1000 * total / n, "ms per verdict"))
        del res


if __name__ == "__main__":
    main()
