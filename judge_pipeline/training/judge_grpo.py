"""Judge GRPO (TRL GRPOTrainer): a reasoning judge learns to reach the gold verdict by its own trace.

Starts from the SFT checkpoint (reasoning judges) or from the base model (the RL-only judge). Each
training item is a judge prompt; its rollouts are rewarded by `rewards.VerdictReward` against the gold
verdict: -1 invalid, else (81 - (ŝ - s)²)/81 (pointwise) or 1 / 0 (pairwise). One final checkpoint.
"""

from __future__ import annotations

from pathlib import Path

from judge_pipeline.config import JudgeTrainConfig
from judge_pipeline.training.common import Runtime, TrainResult, sum_over_processes, train_and_save
from judge_pipeline.training.grpo import GRPORecipe, grpo_trainer
from judge_pipeline.training.rewards import VerdictReward


def train_judge_grpo(
    start_model: Path, rows: list[dict], cfg: JudgeTrainConfig, output_dir: Path, rt: Runtime | None = None,
) -> tuple[TrainResult, VerdictReward]:
    """GRPO of ``start_model`` on judge prompts ``rows`` (from `judge_data.grpo_examples`); saves ``output_dir``.
    The reward's rollout and invalid counts are those of every process."""
    rt = rt or Runtime()
    g = cfg.grpo
    recipe = GRPORecipe(
        learning_rate=g.learning_rate, max_steps=g.steps, num_generations=g.num_generations,
        items_per_step=g.items_per_step, temperature=g.temperature, max_completion_length=g.max_completion_length,
        epsilon_low=g.epsilon_low, epsilon_high=g.epsilon_high, kl_beta=g.kl_beta,
        train_top_layers=cfg.train_top_layers, seed=rt.seed, micro_batch_size=g.micro_batch_size,
    )
    reward = VerdictReward(cfg.kind, reasoning=cfg.reasoning)
    trainer, tok = grpo_trainer(start_model, rows, [reward], recipe, output_dir.with_name(output_dir.name + ".grpo-trainer"),
                                rt)
    result = train_and_save(trainer, tok, output_dir, rt)
    reward.rollouts, reward.invalid = sum_over_processes(reward.rollouts, reward.invalid)
    return result, reward
