"""Policy GRPO (TRL GRPOTrainer) against a judge reward, saving a plain HF checkpoint every k steps.

Checkpoints land in ``<run_dir>/step-<N>/`` (model + tokenizer, written atomically by the main process, the weights
gathered from every process). Step 0 is the initial policy itself and is not copied. `train_policy_grpo` returns
the list of checkpoints and the trainer's log history (loss, reward mean/std, completion lengths per step). With
``Runtime.resume_every`` a killed run resumes from its last saved trainer state (`common.run_trainer`); the step
folders written before the kill stay and are listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from transformers import TrainerCallback

from judge_pipeline.config import PolicyTrainConfig
from judge_pipeline.training.common import Runtime, drop_trainer_state, run_trainer, save_checkpoint
from judge_pipeline.training.grpo import GRPORecipe, grpo_trainer


@dataclass
class PolicyRunResult:
    checkpoints: list[tuple[int, Path]]  #: (step, folder), step 0 = the initial policy
    log_history: list[dict]
    seconds: float
    seconds_per_step: float
    step_log: list[dict] = field(default_factory=list)  #: `common.StepReport.rows` of this session


def saved_steps(max_steps: int, every: int) -> list[int]:
    """The steps `SaveEveryK` writes a checkpoint at: every k-th and the last."""
    return sorted({*range(every, max_steps + 1, every), max_steps})


class SaveEveryK(TrainerCallback):
    """Save model + tokenizer to ``run_dir/step-N`` every k optimisation steps (and at the last step).
    ``trainer`` is set once the trainer exists: every process joins the save (`common.save_checkpoint`)."""

    def __init__(self, run_dir: Path, every: int, tokenizer, trainer=None):
        self.run_dir, self.every, self.tokenizer, self.trainer = run_dir, every, tokenizer, trainer

    def on_step_end(self, args, state, control, **kwargs):
        step = state.global_step
        if step in saved_steps(state.max_steps, self.every):
            save_checkpoint(self.trainer, self.tokenizer, self.run_dir / f"step-{step}", training_args=False)
        return control


def train_policy_grpo(
    policy_model: Path, prompts: list[str], reward_funcs: list, cfg: PolicyTrainConfig, run_dir: Path,
    rt: Runtime | None = None,
) -> PolicyRunResult:
    """GRPO of ``policy_model`` on ``prompts`` (user messages) against ``reward_funcs``."""
    if not prompts:
        raise ValueError("no RL prompts")
    rt = rt or Runtime()
    run_dir.mkdir(parents=True, exist_ok=True)
    recipe = GRPORecipe(
        learning_rate=cfg.learning_rate, max_steps=cfg.max_steps, num_generations=cfg.num_generations,
        items_per_step=cfg.prompts_per_step, temperature=cfg.temperature, max_completion_length=cfg.max_completion_length,
        epsilon_low=cfg.epsilon_low, epsilon_high=cfg.epsilon_high, kl_beta=cfg.kl_beta,
        train_top_layers=cfg.train_top_layers, seed=cfg.seed, micro_batch_size=cfg.micro_batch_size,
        rollouts=cfg.rollouts,
    )
    rows = [{"prompt": [{"role": "user", "content": p}]} for p in prompts]
    trainer, tok = grpo_trainer(policy_model, rows, reward_funcs, recipe, run_dir / "trainer", rt)
    trainer.add_callback(SaveEveryK(run_dir, cfg.save_every, tok, trainer))
    run = run_trainer(trainer, rt)
    drop_trainer_state(trainer)
    steps = saved_steps(cfg.max_steps, cfg.save_every)
    missing = [s for s in steps if not (run_dir / f"step-{s}").is_dir()]
    if missing:
        raise RuntimeError(f"policy run {run_dir}: no checkpoint folder for steps {missing}")
    return PolicyRunResult(
        checkpoints=[(0, Path(policy_model))] + [(s, run_dir / f"step-{s}") for s in steps],
        log_history=trainer.state.log_history,
        seconds=run.seconds,
        seconds_per_step=run.seconds / max(1, len(run.rows) or cfg.max_steps),  # the steps of this session
        step_log=run.rows,
    )
