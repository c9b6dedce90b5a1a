"""Policy GRPO (TRL GRPOTrainer) against a judge reward, saving a plain HF checkpoint every k steps.

Checkpoints land in ``<run_dir>/step-<N>/`` (model + tokenizer, written atomically). Step 0 is the
initial policy itself and is not copied. `train_policy_grpo` returns the list of checkpoints and the
trainer's log history (loss, reward mean/std, completion lengths per step).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from transformers import TrainerCallback

from judge_pipeline.config import PolicyTrainConfig
from judge_pipeline.fsutil import atomic_folder
from judge_pipeline.training.grpo import GRPORecipe, grpo_trainer


@dataclass
class PolicyRunResult:
    checkpoints: list[tuple[int, Path]]  #: (step, folder), step 0 = the initial policy
    log_history: list[dict]
    seconds: float
    seconds_per_step: float


class SaveEveryK(TrainerCallback):
    """Save model + tokenizer to ``run_dir/step-N`` every k optimisation steps (and at the last step)."""

    def __init__(self, run_dir: Path, every: int, tokenizer):
        self.run_dir, self.every, self.tokenizer = run_dir, every, tokenizer
        self.saved: list[tuple[int, Path]] = []

    def on_step_end(self, args, state, control, model=None, **kwargs):
        step = state.global_step
        if step % self.every == 0 or step == state.max_steps:
            target = self.run_dir / f"step-{step}"
            with atomic_folder(target) as tmp:
                model.save_pretrained(tmp)
                self.tokenizer.save_pretrained(tmp)
            self.saved.append((step, target))
        return control


def train_policy_grpo(
    policy_model: Path, prompts: list[str], reward_funcs: list, cfg: PolicyTrainConfig, run_dir: Path,
    device: str = "cpu", report_to: list[str] | None = None,
) -> PolicyRunResult:
    """GRPO of ``policy_model`` on ``prompts`` (user messages) against ``reward_funcs``."""
    if not prompts:
        raise ValueError("no RL prompts")
    run_dir.mkdir(parents=True, exist_ok=True)
    recipe = GRPORecipe(
        learning_rate=cfg.learning_rate, max_steps=cfg.max_steps, num_generations=cfg.num_generations,
        items_per_step=cfg.prompts_per_step, temperature=cfg.temperature, max_completion_length=cfg.max_completion_length,
        epsilon_low=cfg.epsilon_low, epsilon_high=cfg.epsilon_high, kl_beta=cfg.kl_beta,
        train_top_layers=cfg.train_top_layers, seed=cfg.seed, micro_batch_size=cfg.micro_batch_size,
    )
    rows = [{"prompt": [{"role": "user", "content": p}]} for p in prompts]
    trainer, tok = grpo_trainer(policy_model, rows, reward_funcs, recipe, run_dir / "trainer", device, report_to)
    saver = SaveEveryK(run_dir, cfg.save_every, tok)
    trainer.add_callback(saver)
    t0 = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - t0
    return PolicyRunResult(
        checkpoints=[(0, Path(policy_model))] + saver.saved,
        log_history=trainer.state.log_history,
        seconds=seconds,
        seconds_per_step=seconds / max(1, cfg.max_steps),
    )
