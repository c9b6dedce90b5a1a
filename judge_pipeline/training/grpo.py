"""One place that builds a TRL GRPOTrainer, shared by policy RL (stage 3) and judge RL (stage 2).

`grpo_trainer` takes a model folder, rows with a ``prompt`` (chat messages) plus any columns the
reward functions read (TRL passes them as keyword arguments), and the recipe's knobs; it returns the
trainer and the tokenizer, so callers add their own saving (checkpoints every k steps for policies,
one final checkpoint for judges).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from judge_pipeline.backends.transformers_backend import CHAT_TEMPLATE_KWARGS
from judge_pipeline.training.common import Runtime, batch_split, load_for_training, runtime_args, train_only_top_layers


@dataclass(frozen=True)
class GRPORecipe:
    """The GRPO settings a run needs (filled from PolicyTrainConfig or JudgeGRPOConfig)."""

    learning_rate: float
    max_steps: int
    num_generations: int
    items_per_step: int
    temperature: float
    max_completion_length: int
    epsilon_low: float
    epsilon_high: float
    kl_beta: float
    train_top_layers: int | None
    seed: int = 0
    micro_batch_size: int | None = None  #: completions per device per forward/backward (None: the whole step)
    rollouts: str = "transformers"  #: "transformers" (TRL's generate) | "vllm_colocate" (TRL's vLLM in the trainer's GPUs)


def rollout_args(rollouts: str) -> dict:
    """GRPOConfig fields of a rollout engine. ``vllm_colocate``: TRL's vLLM integration in colocate mode (the
    policy's vLLM engine shares the training GPUs; weights are synced after each step). Needs vLLM and a GPU; it
    has not run here (docs/scale.md "Serving the judges")."""
    if rollouts == "transformers":
        return {}
    if rollouts == "vllm_colocate":
        import importlib.util

        if importlib.util.find_spec("vllm") is None:
            raise RuntimeError("rollouts='vllm_colocate' needs vLLM on a GPU machine: pip install -e '.[gpu]'")
        return {"use_vllm": True, "vllm_mode": "colocate", "vllm_gpu_memory_utilization": 0.3,
                "vllm_enable_sleep_mode": True}
    raise ValueError(f"rollouts {rollouts!r} is not 'transformers' or 'vllm_colocate'")


def grpo_trainer(model_path: Path, rows: list[dict], reward_funcs: list, recipe: GRPORecipe, output_dir: Path,
                 rt: Runtime | None = None):
    """A ready-to-train GRPOTrainer over ``rows`` and the tokenizer of ``model_path`` (fp32 weights; `Runtime`:
    device, precision, trainer-state saves)."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    if not rows:
        raise ValueError("no GRPO training rows")
    rt = rt or Runtime()
    args = GRPOConfig(
        output_dir=str(output_dir),
        learning_rate=recipe.learning_rate,
        max_steps=recipe.max_steps,
        **batch_split(recipe.items_per_step * recipe.num_generations, recipe.micro_batch_size),
        num_generations=recipe.num_generations,
        temperature=recipe.temperature,
        max_completion_length=recipe.max_completion_length,
        epsilon=recipe.epsilon_low,
        epsilon_high=recipe.epsilon_high,
        beta=recipe.kl_beta,
        lr_scheduler_type="constant",
        seed=recipe.seed,
        chat_template_kwargs=CHAT_TEMPLATE_KWARGS,
        **rollout_args(recipe.rollouts),
        **runtime_args(rt),
    )
    tok = AutoTokenizer.from_pretrained(model_path)
    model = load_for_training(AutoModelForCausalLM, model_path)
    train_only_top_layers(model, recipe.train_top_layers)
    trainer = GRPOTrainer(model=model, reward_funcs=reward_funcs, args=args, train_dataset=Dataset.from_list(rows),
                          processing_class=tok)
    return trainer, tok
