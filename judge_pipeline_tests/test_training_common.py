"""Global batch vs micro-batches: gradient accumulation, processes, errors; micro-batches do not retrain a judge.
The fused LM head projects only labelled positions on a CPU, with the same numbers."""

import dataclasses
from pathlib import Path

import pytest

from judge_pipeline.config import JudgeGRPOConfig, JudgeTrainConfig
from judge_pipeline.studies import paper_judges
from judge_pipeline.training.common import batch_split


def test_batch_split(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert batch_split(8, None) == {"per_device_train_batch_size": 8, "gradient_accumulation_steps": 1}
    assert batch_split(128, 2) == {"per_device_train_batch_size": 2, "gradient_accumulation_steps": 64}
    monkeypatch.setenv("WORLD_SIZE", "8")
    assert batch_split(512, 8) == {"per_device_train_batch_size": 8, "gradient_accumulation_steps": 8}
    assert batch_split(128, None) == {"per_device_train_batch_size": 16, "gradient_accumulation_steps": 1}
    with pytest.raises(ValueError, match="does not split"):
        batch_split(100, 8)


def test_paper_judges_fit_a_device():
    for j in paper_judges():
        assert j.micro_batch_size is not None and j.micro_batch_size <= 8, j.variant
        assert j.batch_size % j.micro_batch_size == 0


def test_micro_batches_do_not_change_the_training_fingerprint(monkeypatch):
    from judge_pipeline.assets import judges

    monkeypatch.setattr(judges, "checkpoint_hash", lambda base: "weights")
    rows = [{"pair_id": "p", "position": "a", "prompt": "Say hi.", "response": "Hi", "gold_score": 5.0, "gold_trace": "t",
             "pair_label": None}]
    j = JudgeTrainConfig(grpo=JudgeGRPOConfig(steps=1))

    def fingerprint(jcfg):
        return judges._training_fingerprint(Path("base"), jcfg, judges.variant_examples(jcfg, rows))

    micro = dataclasses.replace(j, micro_batch_size=2, grpo=dataclasses.replace(j.grpo, micro_batch_size=4))
    assert fingerprint(micro) == fingerprint(j)
    assert fingerprint(dataclasses.replace(j, batch_size=4)) != fingerprint(j)


def test_fused_head_projects_only_labelled_positions_on_a_cpu_with_the_same_numbers(monkeypatch):
    """TRL's fused LM head (the SFT / GRPO loss) projected every position on a CPU; patched, it projects only the
    labelled ones (here 3 of 40 per row) and the loss, log-probs, entropy and top-1 flags are equal bit for bit."""
    import torch
    import trl.trainer.utils as trl_utils
    from transformers import AutoModelForCausalLM
    from trl.kernels.chunked_logprob import _use_triton
    from trl.trainer.utils import add_fused_lm_head

    from judge_pipeline.backends.hf_models import materialize_base_model
    from judge_pipeline.config import ModelSpec
    from judge_pipeline.training.common import project_only_labelled_positions

    rows = []
    chunked = trl_utils._ChunkedLogProbFunction

    class Spy:
        @staticmethod
        def apply(hidden, *args):
            rows.append(hidden.shape[0])
            return chunked.apply(hidden, *args)

    monkeypatch.setattr(trl_utils, "_ChunkedLogProbFunction", Spy)
    monkeypatch.setattr(trl_utils, "_use_triton", _use_triton)  # TRL's own choice (restored after the test)
    model = AutoModelForCausalLM.from_pretrained(materialize_base_model(ModelSpec(name="tiny-random-test", source="tiny-random")))
    add_fused_lm_head(model, outputs=("log_probs", "entropy", "is_top1"))
    ids = torch.randint(3, model.config.vocab_size, (2, 40), generator=torch.Generator().manual_seed(0))
    labels = ids.masked_fill(torch.arange(40) < 37, -100)  # the last 3 tokens of each row are trained
    full = model(input_ids=ids, labels=labels, fused_lm_head=True)
    project_only_labelled_positions()
    project_only_labelled_positions()  # idempotent
    compact = model(input_ids=ids, labels=labels, fused_lm_head=True)
    assert rows == [2 * 39, 2 * 3]  # every shifted position, then only the labelled ones
    for name in ("loss", "log_probs", "entropy", "is_top1"):
        assert torch.equal(getattr(full, name), getattr(compact, name)), name
    compact.loss.backward()  # gradients flow through the compact path
    assert model.model.layers[-1].mlp.down_proj.weight.grad.abs().sum() > 0
