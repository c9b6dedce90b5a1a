"""Trainers as their own process group (issue 13, item 1): jobs as JSON, the `accelerate launch` command and configs,
fp32 master weights under bf16 compute, resuming a killed run, the judge's own RNG, the bounded rollout history.
The trainers on two gloo processes through Dagster Pipes, inside a whole study, are test_paper_smoke.py's."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from judge_pipeline.backends.hf_models import materialize_base_model
from judge_pipeline.config import JudgeGRPOConfig, JudgeTrainConfig, LaunchConfig, ModelSpec, StudyConfig
from judge_pipeline.studies import CONFIGS, tiny
from judge_pipeline.training.common import RESUME_KEY_FILE, Runtime
from judge_pipeline.training.jobs import JudgeJob, from_data, job_from_json, job_to_json, run_job
from judge_pipeline.training.launch import accelerate_command

REPO = Path(__file__).resolve().parents[1]
TINY = ModelSpec(name="tiny-random-test", source="tiny-random")
SFT = JudgeTrainConfig(variant="nonreasoning", base_model=TINY.name, batch_size=2, epochs=2.0, max_length=256,
                       train_top_layers=None, warmup_ratio=0.0)  # 6 examples: 3 steps an epoch, 6 in all
GRPO = JudgeTrainConfig(variant="rl_only", base_model=TINY.name, reasoning=True, sft=False, max_new_tokens=8,
                        template="pointwise_reasoning_compact_v1", train_top_layers=None,
                        grpo=JudgeGRPOConfig(steps=4, num_generations=2, items_per_step=1, max_completion_length=8))


def tiny_job(jcfg: JudgeTrainConfig, target: Path, resume_every: int | None = 2, key: str = "run-1") -> JudgeJob:
    from judge_pipeline.assets.judges import variant_examples
    from judge_pipeline_tests.test_judge_variants import gold_rows

    cfg = dataclasses.replace(tiny(), models={TINY.name: TINY}, judges=(jcfg,),
                              launch=LaunchConfig(resume_every=resume_every))
    return JudgeJob(study=cfg, variant=jcfg.variant, base=str(materialize_base_model(TINY)),
                    examples=variant_examples(jcfg, gold_rows()), target=str(target), resume_key=key)


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


# ---------------------------------------------------------------------- the job and its command line
def test_every_study_and_a_job_survive_json():
    for name, make in CONFIGS.items():
        cfg = make()
        assert from_data(StudyConfig, json.loads(json.dumps(dataclasses.asdict(cfg)))) == cfg, name
    job = JudgeJob(study=tiny(), variant="nonreasoning", base="/b", examples={"sft": [{"prompt": [], "x": 1}]},
                   target="/t", resume_key="k")
    assert job_from_json(job_to_json(job)) == job
    assert CONFIGS["paper"]().launch.launcher == "accelerate" and tiny().launch.launcher == "inprocess"


def test_accelerate_command_and_the_shipped_configs(tmp_path):
    from accelerate.commands.config.config_args import load_config_from_file

    cmd = accelerate_command(LaunchConfig(launcher="accelerate", num_processes=2), "cpu", tmp_path / "job.json", port=29777)
    assert cmd[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    assert cmd[cmd.index("--config_file") + 1] == str(REPO / "configs/accelerate/cpu_ddp.yaml")
    assert cmd[cmd.index("--num_processes") + 1] == "2" and cmd[cmd.index("--main_process_port") + 1] == "29777"
    assert cmd[-3:] == ["-m", "judge_pipeline.training.launch", str(tmp_path / "job.json")]
    with pytest.raises(ValueError, match="accelerate_config"):
        accelerate_command(LaunchConfig(launcher="accelerate"), "cuda", tmp_path / "job.json")
    expected = {"cpu_ddp": ("MULTI_GPU", "no"), "fsdp": ("FSDP", "bf16"), "deepspeed_zero3": ("DEEPSPEED", "bf16")}
    for name, (kind, precision) in expected.items():
        c = load_config_from_file(str(REPO / f"configs/accelerate/{name}.yaml"))
        assert (str(c.distributed_type).split(".")[-1], str(c.mixed_precision)) == (kind, precision), name
    paper = CONFIGS["paper"]().launch
    assert (REPO / paper.accelerate_config).is_file() and paper.resume_every


# ---------------------------------------------------------------------- precision
@pytest.mark.slow
def test_one_update_at_lr_1e6_changes_the_fp32_master_weights(tmp_path, monkeypatch):
    """bf16 compute over fp32 weights: one Adam step at lr 1e-6 moves (almost) every weight. The same step on weights
    loaded in bf16 (what transformers 5 does for a bf16 checkpoint unless told otherwise) moves about 2% of them."""
    import judge_pipeline.training.common as common
    import judge_pipeline.training.judge_sft as judge_sft
    from transformers import TrainerCallback

    class Seen(TrainerCallback):
        bf16 = dtype = None

        def on_step_begin(self, args, state, control, model=None, **kwargs):
            Seen.bf16, Seen.dtype = args.bf16, next(model.parameters()).dtype

    job = tiny_job(dataclasses.replace(SFT, learning_rate=1e-6, batch_size=6, epochs=1.0), tmp_path / "x")
    examples = job.examples["sft"]
    base = weights(Path(job.base))

    def changed(target: Path) -> float:
        after = weights(target)
        moved = sum(int((after[k] != base[k].to(after[k].dtype)).sum()) for k in base)  # against the start, as stored
        return moved / sum(t.numel() for t in base.values())

    jcfg = job.study.judge("nonreasoning")
    rt = Runtime(mixed_precision=True, callbacks=[Seen()])
    res, _ = judge_sft.train_judge_sft(Path(job.base), examples, jcfg, tmp_path / "mixed", rt)
    assert res.steps == 1 and Seen.bf16 is True and Seen.dtype == torch.float32
    assert changed(tmp_path / "mixed") > 0.99

    monkeypatch.setattr(judge_sft, "load_for_training",  # the old path: the checkpoint's own dtype, here bf16
                        lambda cls, path, **kw: common.load_for_training(cls, path, **kw).to(torch.bfloat16))
    judge_sft.train_judge_sft(Path(job.base), examples, jcfg, tmp_path / "bf16", rt)
    assert Seen.dtype == torch.bfloat16 and changed(tmp_path / "bf16") < 0.1


# ---------------------------------------------------------------------- resume
KILL_AFTER_SAVE = """
import os, signal, sys
from pathlib import Path
from transformers import TrainerCallback
from judge_pipeline.training.jobs import job_from_json, run_job

class KillAfterSave(TrainerCallback):
    def on_save(self, args, state, control, **kwargs):
        if state.global_step == int(sys.argv[2]):
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no flush: as if the machine went away

run_job(job_from_json(Path(sys.argv[1]).read_text()), callbacks=[KillAfterSave()])
"""


@pytest.mark.slow
@pytest.mark.parametrize("jcfg", [SFT, GRPO], ids=["sft", "grpo"])
def test_a_killed_run_resumes_to_the_weights_of_an_uninterrupted_one(tmp_path, jcfg):
    """Killed (SIGKILL) right after the trainer state of step 2 was saved, then run again: it resumes at step 3 and
    ends with the weights of a run never interrupted. Tolerance: none, the weights are equal bit for bit (CPU)."""
    whole = run_job(tiny_job(jcfg, tmp_path / "whole" / "judge"))
    job = tiny_job(jcfg, tmp_path / "killed" / "judge")
    spec = tmp_path / "job.json"
    spec.write_text(job_to_json(job))
    proc = subprocess.run([sys.executable, "-c", KILL_AFTER_SAVE, str(spec), "2"], cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    state = next(Path(job.target).parent.glob("*trainer"))
    assert [p.name for p in state.glob("checkpoint-*")] == ["checkpoint-2"] and not Path(job.target).exists()

    other = run_job(dataclasses.replace(job, target=str(tmp_path / "other" / "judge"), resume_key="run-2"))
    assert other["step_log"][0]["step"] == 1  # another fingerprint never resumes this state
    resumed = run_job(job)
    assert [r["step"] for r in resumed["step_log"]] == [3, 4, 5, 6][: len(whole["step_log"]) - 2]
    a, b = weights(tmp_path / "whole" / "judge"), weights(Path(job.target))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["steps"] == whole["steps"] and resumed["train_loss"] == pytest.approx(whole["train_loss"], rel=1e-6)
    assert not state.exists()  # dropped once the checkpoint is written


def test_trainer_state_of_another_run_is_not_resumed(tmp_path):
    from judge_pipeline.training.common import resume_point

    class Acc:
        is_main_process = True

        def wait_for_everyone(self):
            pass

    class Trainer:
        args = type("A", (), {"output_dir": str(tmp_path / "x.trainer")})
        accelerator = Acc()

    out = tmp_path / "x.trainer"
    (out / "checkpoint-4").mkdir(parents=True)
    (out / "checkpoint-4" / "trainer_state.json").write_text("{}")
    (out / "checkpoint-6").mkdir()  # killed while writing: no trainer_state.json
    (out / RESUME_KEY_FILE).write_text("mine")
    assert resume_point(Trainer(), "mine") == str(out / "checkpoint-4")
    assert resume_point(Trainer(), "other") is None and not (out / "checkpoint-4").exists()


# ---------------------------------------------------------------------- RNG and history
def test_sampling_judges_leave_the_callers_rng_alone():
    from judge_pipeline.backends.transformers_backend import TransformersBackend

    backend = TransformersBackend(materialize_base_model(TINY))
    prompts = [[{"role": "user", "content": "Rate this."}]]
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first = backend.generate(prompts, max_new_tokens=6, temperature=1.0, seed=7)
    assert torch.equal(torch.get_rng_state(), before)  # the trainer's rollouts are not re-seeded by a reward call
    torch.manual_seed(999)
    assert backend.generate(prompts, max_new_tokens=6, temperature=1.0, seed=7)[0].text == first[0].text
    torch.manual_seed(7)  # the same samples as before the change (seeding the global RNG): the store stays valid
    ids = backend._encode_left_padded([backend.render(prompts[0])])
    old = backend.model.generate(**ids, max_new_tokens=6, do_sample=True, temperature=1.0, top_p=1.0, top_k=None,
                                 pad_token_id=backend.tokenizer.pad_token_id)
    assert backend.tokenizer.decode(old[0, ids["input_ids"].shape[1]:], skip_special_tokens=True).strip() == first[0].text


def test_rollout_history_keeps_what_is_logged(tmp_path):
    from judge_pipeline.store import JudgmentStore
    from judge_pipeline.training.policy_rewards import ROLLOUTS_KEPT, JudgeReward
    from judge_pipeline_tests.fakes import CountingJudge

    reward = JudgeReward(CountingJudge(), JudgmentStore(tmp_path / "store"))
    for call in range(5):
        reward([[{"role": "user", "content": "p"}]] * 20, [[{"role": "assistant", "content": f"{call} {i}"}] for i in range(20)])
    assert len(reward.history) == ROLLOUTS_KEPT == 64 and reward.history[-1]["completion"] == "4 19"


def test_the_sensor_ignores_saved_trainer_state(tmp_path):
    from judge_pipeline.watch import checkpoint_state

    for folder in ("judges/a", "judges/a.trainer/checkpoint-2", "judges/b.grpo-trainer/checkpoint-2",
                   "policies/p__a__seed0/step-2", "policies/p__a__seed0/trainer/checkpoint-2"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "config.json").write_text("{}")
    assert sorted(Path(p).relative_to(tmp_path).as_posix() for p in checkpoint_state(tmp_path)) == [
        "judges/a", "policies/p__a__seed0/step-2"]
