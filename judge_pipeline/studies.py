"""The named studies (`JUDGE_PIPELINE_CONFIG`), built from the dataclasses of `config.py`.

- ``miniature``: the CPU default (`make demo`), two judges (non-reasoning, reasoning), minutes per stage;
  policy RL focused on 4 prompts and scored in-sample;
- ``miniature_seeds``: the miniature with three GRPO seeds per judge;
- ``miniature_heldout``: the miniature's policies at 48 RL prompts, scored on held-out prompts;
- ``miniature_full``: every judge variant of the study (`make demo-full`);
- ``miniature_kl``: the KL-penalty ablation of the miniature;
- ``tiny``: the smallest setting of the miniature, used by the end-to-end test;
- ``paper``: ../shared/STUDY.md on a GPU cluster (hub models, an LLM gold judge over HTTP);
- ``paper_smoke``: the paper's graph at its smallest on a CPU, every model the shipped SmolLM2 (the smoke test).
"""

from __future__ import annotations

import dataclasses

from judge_pipeline.config import (
    SMOLLM2, ArenaConfig, DataConfig, EvalConfig, JudgeGRPOConfig, JudgeTrainConfig, ModelSpec, PolicyTrainConfig, StudyConfig,
)
from judge_pipeline.config import LaunchConfig


def miniature_judges(full: bool) -> tuple[JudgeTrainConfig, ...]:
    """The miniature's judge variants: non-reasoning and reasoning pointwise by default; ``full`` adds the
    rubric, RL-only, pairwise (non-reasoning and reasoning) judges and the Bradley-Terry reward model.

    Reasoning judges learn the *condensed* gold trace (one line, about 40-60 SmolLM2 tokens with the score
    line, instead of ~130): on a CPU every trace token is paid at training and at every verdict. Verdict
    length caps leave room above the longest condensed target (a trace cut before its verdict is invalid).
    """
    grpo = JudgeGRPOConfig(steps=2, learning_rate=1e-5, num_generations=4, items_per_step=2, max_completion_length=96)
    judges = [
        JudgeTrainConfig(variant="nonreasoning"),
        # 2 epochs at 5e-4, not the non-reasoning judge's 1 at 1e-4: 9 SFT steps did not teach the trace's format (56% of
        # verdicts invalid: greedy traces that copy the response or ramble to the cap); 2 at 5e-4 and 4 at 3e-4 both give
        # 0% invalid, 4 epochs cost 8 min instead of 3 for a judge-val alpha within noise (docs/results.md, issue 16).
        # The epoch kept is chosen on judge-val (1 or 2; STUDY: "1-3 epochs chosen on validation"); the non-reasoning
        # judge trains 1 epoch: 3 at 2e-4 collapsed its scores toward the mean (docs/results.md), and a second epoch
        # to choose from would add 75 s to `make demo` for a choice made on 10 responses
        JudgeTrainConfig(variant="reasoning", reasoning=True, trace="condensed", template="pointwise_reasoning_compact_v1",
                         grpo=grpo, max_new_tokens=96, max_length=448, epochs=2.0, learning_rate=5e-4,
                         select_epoch_on_val=True),
    ]
    if full:
        judges += [
            JudgeTrainConfig(variant="rubric", rubric=True, template="pointwise_rubric_compact_v1", max_length=448),
            JudgeTrainConfig(variant="rl_only", reasoning=True, trace="condensed", sft=False,
                             template="pointwise_reasoning_compact_v1", grpo=grpo, max_new_tokens=96),
            JudgeTrainConfig(variant="pairwise", kind="pairwise", template="pairwise_compact_v1", max_length=512),
            JudgeTrainConfig(variant="pairwise_reasoning", kind="pairwise", reasoning=True, trace="condensed",
                             template="pairwise_reasoning_compact_v1", grpo=dataclasses.replace(grpo, max_completion_length=160),
                             max_new_tokens=160, max_length=640),
            JudgeTrainConfig(variant="bt_reward_model", kind="reward_model", template="chat", max_length=256),
        ]
    return tuple(judges)


def miniature() -> StudyConfig:
    """The CPU default: finishes in minutes on 2 cores (`make demo`).

    Policy RL is *focused*: 4 RL prompts, 20 GRPO steps at lr 2e-4, and checkpoints scored on those same prompts
    (``score_on="rl"``). Spread over 48 prompts and scored on held-out ones, the miniature's CPU budget did not
    let GRPO raise even the gold judge's own score (docs/results.md, "Tuning the miniature policy"); concentrated on 4
    prompts it does, and the non-reasoning judge gets hacked. ``miniature_heldout`` keeps the held-out setting.
    """
    # 8 pairs per human-labelled set: a reasoning judge's verdict on an LLMBar pair costs ~3.5 s on 2 cores
    return StudyConfig(name="miniature", models={SMOLLM2.name: SMOLLM2}, judges=miniature_judges(full=False),
                       # 20 steps at 2e-4, not 40 at 1e-4: the same drift in half the time (bench/policy_sweep.py:
                       # gold 4.00 -> 4.50 at step 5 -> 1.25 at step 20, proxy 2.51 -> 2.61; docs/results.md)
                       data=DataConfig(n_rl_prompts=4),
                       policy=PolicyTrainConfig(max_steps=20, save_every=5, learning_rate=2e-4),
                       eval=EvalConfig(human_pairs_per_set=8, score_on="rl"),
                       # Arena-Hard: per subcategory the 2 ASCII questions with the shortest question + baseline answer
                       # (6 in all: 2 coding, 2 math, 2 creative writing), judged by the gold rules (SmolLM2 behind
                       # llama-cpp's server, `judge="local"`, gave no parseable verdict in 12 games: docs/decisions.md)
                       arena=ArenaConfig(per_subcategory=2, ascii_prompts_only=True, judge="gold"))


def miniature_seeds() -> StudyConfig:
    """The miniature at three GRPO seeds per judge (`make demo-seeds`): does the hacking replicate from seed to
    seed? CIs resample seeds and prompts. It shares the miniature's checkpoint folders, so after `make demo`
    its judges and seed 0 are reused and only seeds 1 and 2 train."""
    base = miniature()
    return dataclasses.replace(base, name="miniature_seeds", policy=dataclasses.replace(base.policy, seeds=(0, 1, 2)),
                               judge_checkpoints_of="miniature", policy_checkpoints_of="miniature")


def miniature_transfer() -> StudyConfig:
    """The miniature's policies (trained on 4 RL prompts) scored on the 16 held-out policy-test prompts instead
    (`make demo-transfer`): does what the policy learned against the judge carry over to prompts it never saw?
    It shares the miniature's checkpoints, so after `make demo` nothing trains; only the new answers are judged."""
    base = miniature()
    return dataclasses.replace(base, name="miniature_transfer", eval=dataclasses.replace(base.eval, score_on="policy_test"),
                               judge_checkpoints_of="miniature", policy_checkpoints_of="miniature")


def miniature_heldout() -> StudyConfig:
    """The miniature's earlier policy setting: 48 RL prompts, 32 steps, checkpoints scored on 16 held-out prompts
    (the paper's protocol). At this budget neither judge's policy, nor a policy trained against gold, improves."""
    base = miniature()
    return dataclasses.replace(base, name="miniature_heldout", data=DataConfig(),
                               policy=PolicyTrainConfig(), eval=dataclasses.replace(base.eval, score_on="policy_test"))


def miniature_full() -> StudyConfig:
    """The miniature with every judge variant of the study (`make demo-full`); policies still train against the
    two pointwise judges of the default miniature."""
    return dataclasses.replace(miniature(), name="miniature_full", judges=miniature_judges(full=True),
                               policy_judges=("nonreasoning", "reasoning"),
                               eval=EvalConfig(human_pairs_per_set=24, score_on="rl"),
                               judge_checkpoints_of="miniature", policy_checkpoints_of="miniature")


def miniature_kl() -> StudyConfig:
    """The KL-penalty ablation of the miniature: the same study with a KL penalty in policy GRPO (the paper
    finds a KL penalty does not prevent the hacking of non-reasoning judges). It reuses the miniature's judges;
    its policy runs and tables live apart (named after the config), so both can be compared side by side."""
    base = miniature()
    return dataclasses.replace(base, name="miniature_kl", policy=dataclasses.replace(base.policy, kl_beta=0.1),
                               judge_checkpoints_of="miniature")


def tiny() -> StudyConfig:
    """The smallest setting of the miniature, same models: the end-to-end test runs this."""
    base = miniature()
    return dataclasses.replace(
        base,
        name="tiny",
        data=DataConfig(n_pair_prompts=16, n_rl_prompts=8, n_policy_test_prompts=4, response_max_new_tokens=24),
        # one judge: every other variant's training and report is tested on a tiny random model
        # (judge_pipeline_tests/test_judge_variants.py); a reasoning judge here would triple the e2e time
        judges=(JudgeTrainConfig(epochs=1.0, batch_size=4, max_length=256, warmup_ratio=0.0),),
        # one seed: a second would add ~45 s to `make test`; several seeds are covered by test_curves.py (the crossed
        # seeds x prompts bootstrap) and test_judge_variants.py (another seed samples other rollouts)
        policy=PolicyTrainConfig(max_steps=2, save_every=1, max_completion_length=16, num_generations=2, seeds=(0,)),
        eval=EvalConfig(max_new_tokens=16, bootstrap_resamples=200, human_pairs_per_set=2, canary_prompts=1, kl_samples=1,
                        bon_pool_size=4),
        arena=ArenaConfig(per_subcategory=1, ascii_prompts_only=True, max_new_tokens=16, judge="gold"),
    )


def paper_judges(base: str = "qwen3-8b") -> tuple[JudgeTrainConfig, ...]:
    """Every judge variant at the paper's hyper-parameters (STUDY stage 2): SFT lr 1e-5 at batch 128,
    GRPO lr 1e-6 with 8 rollouts, clip 0.2/0.3, no KL; the full gold trace for reasoning judges."""
    sft = dict(base_model=base, learning_rate=1e-5, epochs=2.0, batch_size=128, micro_batch_size=2, max_length=8192,
               context_length=8192, train_top_layers=None)
    grpo = JudgeGRPOConfig(steps=300, learning_rate=1e-6, num_generations=8, items_per_step=64, max_completion_length=4096,
                           micro_batch_size=8)
    return (
        JudgeTrainConfig(variant="nonreasoning", template="pointwise_v1", **sft),
        JudgeTrainConfig(variant="reasoning", reasoning=True, template="pointwise_reasoning_compact_v1", grpo=grpo,
                         max_new_tokens=4096, **sft),
        JudgeTrainConfig(variant="rubric", rubric=True, template="pointwise_rubric_compact_v1", **sft),
        JudgeTrainConfig(variant="rl_only", reasoning=True, sft=False, template="pointwise_reasoning_compact_v1", grpo=grpo,
                         max_new_tokens=4096, **sft),
        JudgeTrainConfig(variant="pairwise", kind="pairwise", template="pairwise_v1", **sft),
        JudgeTrainConfig(variant="pairwise_reasoning", kind="pairwise", reasoning=True, template="pairwise_reasoning_compact_v1",
                         grpo=grpo, max_new_tokens=4096, **sft),
        JudgeTrainConfig(variant="bt_reward_model", kind="reward_model", template="chat", **sft),
    )


def paper() -> StudyConfig:
    """The published recipe on a GPU cluster (STUDY.md); needs the hub and GPUs."""
    qwen = {
        n: ModelSpec(name=n, source="hf", hf_id=h)
        for n, h in {
            "qwen3-1.7b": "Qwen/Qwen3-1.7B",
            "qwen3-4b": "Qwen/Qwen3-4B",
            "qwen3-8b": "Qwen/Qwen3-8B",
            "qwen3-14b": "Qwen/Qwen3-14B",
            "llama3.1-8b-instruct": "meta-llama/Llama-3.1-8B-Instruct",
        }.items()
    }
    return StudyConfig(
        name="paper",
        models=qwen,
        data=DataConfig(
            prompt_source="tulu3",
            n_pair_prompts=100_000,
            n_rl_prompts=117_000,
            n_policy_test_prompts=1_000,
            split_fractions=(0.98, 0.01, 0.01),
            max_prompt_chars=None,
            response_max_new_tokens=2048,
        ),
        gold_judge="http",  # gpt-oss-120b behind `vllm serve` (HTTPJudgeConfig defaults)
        judges=paper_judges(),
        policy_judges=("nonreasoning", "reasoning"),
        policy=PolicyTrainConfig(
            policy_model="llama3.1-8b-instruct", max_steps=1200, save_every=100, learning_rate=1e-6,
            num_generations=8, prompts_per_step=64, temperature=0.7, max_completion_length=2048, train_top_layers=None,
            micro_batch_size=8, judge_temperature=0.7, judge_top_k=20, judge_top_p=0.95,
        ),
        eval=EvalConfig(max_new_tokens=2048, judge_batch_size=64, human_pairs_per_set=None, kl_samples=4, bon_pool_size=64),
        # Arena-Hard v2.0 as published: all 750 questions, GPT-4.1 with Arena-Hard's prompts (JUDGE_PIPELINE_ARENA_*)
        arena=ArenaConfig(per_subcategory=None, ascii_prompts_only=False, max_new_tokens=4096, judge="http"),
        device="cuda",
        # every trainer its own process group on the node's 8 GPUs, FSDP2, trainer state saved every 50 steps
        launch=LaunchConfig(launcher="accelerate", num_processes=8, accelerate_config="configs/accelerate/fsdp.yaml",
                            resume_every=50),
    )


def paper_smoke() -> StudyConfig:
    """The ``paper`` study at its smallest, on a CPU: the smoke test of the paper's path (issue 13, item 3;
    judge_pipeline_tests/test_paper_smoke.py). Derived from `paper`, so it keeps the paper's graph and the shape of its
    hyper-parameters: the Tulu 3 source (a local file here: ``JUDGE_PIPELINE_TULU3_FILE``), the LLM gold judge over
    HTTP (``JUDGE_PIPELINE_GOLD_*``), the judges' templates, full gold traces and learning rates, SFT then GRPO for the
    reasoning judge, 8 rollouts per item, clip ranges 0.2 / 0.3, no KL, micro-batches with gradient accumulation,
    the policy's sampled reward-judge traces, every trainer under ``accelerate launch``, the Arena-Hard judge over
    HTTP (``JUDGE_PIPELINE_ARENA_*``).

    What changes: every model is the shipped SmolLM2-135M (no Qwen3, no Llama); every size and step count is cut to
    its minimum: 16 prompts (6 pairs split 2 / 1 / 3, 8 RL prompts, 2 held-out ones), one optimisation step per
    judge stage and two GRPO steps per policy, a few tokens per answer and verdict, one human-labelled pair per set,
    a best-of-n pool of 2, no report of the untrained base judges (each gold verdict over llama-cpp's server costs
    1.5-3 s on 2 cores, so every item counts); only the top 2 layers train (the paper trains all: on 2 CPU cores a full-model step costs
    minutes); the device is the CPU, and each trainer is two gloo processes (``cpu_ddp.yaml``: the paper's 8 GPUs as 2
    ranks), so GRPO's 8 rollouts per step are 4 per rank (micro-batches of 4); the trainer state is saved after every
    step (the paper: every 50) and removed when the run ends.

    Judge variants: one, ``reasoning`` (SFT on the full gold trace, then GRPO: every trainer of the paper's judges),
    and one policy run against it (its reward samples traces). The other variants are left out for time: each is one
    more ``accelerate launch``, training and report (about a minute on 2 cores) and no new path: ``nonreasoning``'s SFT
    is the reasoning judge's first stage on shorter targets and its reward is the tiny study's; ``rubric``,
    ``rl_only``, ``pairwise``, ``pairwise_reasoning`` and ``bt_reward_model`` are trained and reported on a tiny
    random model in ``test_judge_variants.py``.
    """
    base = paper()
    model = SMOLLM2.name
    kept = ("reasoning",)  # the one judge trained (SFT, then GRPO) and the one policy run against it
    judges = tuple(
        dataclasses.replace(
            j, base_model=model, epochs=1.0, max_length=512, context_length=1024, max_new_tokens=16, train_top_layers=2,
            grpo=dataclasses.replace(j.grpo, steps=1 if j.grpo.steps else 0, items_per_step=1, max_completion_length=16,
                                     micro_batch_size=4))
        for j in paper_judges(base=model) if j.variant in kept)
    return dataclasses.replace(
        base,
        name="paper_smoke",
        models={model: SMOLLM2},
        # the paper's 98 / 1 / 1 % split of 6 pairs leaves no judge-test pair once the gold judge drops one: 2 / 1 / 3
        data=dataclasses.replace(base.data, n_pair_prompts=6, n_rl_prompts=8, n_policy_test_prompts=2,
                                 split_fractions=(0.4, 0.2, 0.4), response_max_new_tokens=16),
        judges=judges,
        policy_judges=kept,
        policy=dataclasses.replace(base.policy, policy_model=model, max_steps=2, save_every=1, prompts_per_step=1,
                                   max_completion_length=8, train_top_layers=2, micro_batch_size=4),
        eval=dataclasses.replace(base.eval, max_new_tokens=8, human_pairs_per_set=1, canary_prompts=1, kl_samples=1,
                                 bon_pool_size=2, bootstrap_resamples=200, report_untuned_base=False),
        arena=dataclasses.replace(base.arena, per_subcategory=1, ascii_prompts_only=True, max_new_tokens=8,
                                  judge_max_tokens=24),
        device="cpu",
        launch=dataclasses.replace(base.launch, num_processes=2, accelerate_config=None, resume_every=1),
    )


CONFIGS = {"miniature": miniature, "miniature_seeds": miniature_seeds, "miniature_transfer": miniature_transfer,
           "miniature_heldout": miniature_heldout,
           "miniature_full": miniature_full, "miniature_kl": miniature_kl, "tiny": tiny, "paper": paper,
           "paper_smoke": paper_smoke}
