"""KL of a policy checkpoint to its initial policy: token alignment, zero for itself, kept in the store."""

import shutil

import pytest
import torch

from judge_pipeline.backends.hf_models import load_model_and_tokenizer, materialize_base_model
from judge_pipeline.backends.transformers_backend import TransformersBackend
from judge_pipeline.config import ModelSpec
from judge_pipeline.policy_kl import kl_through_store, sequence_kl
from judge_pipeline.store import JudgmentStore

TINY = ModelSpec(name="tiny-random-test", source="tiny-random")
PROMPTS = ["Name a colour.", "Write one word about the sea."]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """The tiny random model and a perturbed copy of it (its output head shifted by noise)."""
    base = materialize_base_model(TINY)
    other = tmp_path_factory.mktemp("perturbed") / "model"
    shutil.copytree(base, other)
    model, tok = load_model_and_tokenizer(other)
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.model.layers[-1].parameters():
            p.add_(torch.randn_like(p) * 0.5)
    model.save_pretrained(other)
    return base, other


def test_sequence_kl_reads_the_distribution_before_each_completion_token(models):
    base, other = models
    pol, ref = TransformersBackend(other), TransformersBackend(base)
    tok = pol.tokenizer
    prompt = PROMPTS[0]
    first = tok.decode(tok("Blue", add_special_tokens=False)["input_ids"][:1])
    # one completion token: the sum is the KL of the next-token distributions right after the prompt
    prefix = tok(pol.render([{"role": "user", "content": prompt}]), add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        lp = torch.log_softmax(pol.model(input_ids=prefix).logits[0, -1], -1)
        lq = torch.log_softmax(ref.model(input_ids=prefix).logits[0, -1], -1)
    expected = float((lp.exp() * (lp - lq)).sum())
    kl, n = sequence_kl(pol, ref, prompt, first, finished=False)
    assert n == 1 and kl == pytest.approx(expected, rel=1e-4)
    assert expected > 1e-3  # the perturbation changed the distribution
    # a model against itself: exactly 0; a finished completion adds the EOS position
    assert sequence_kl(ref, ref, prompt, "Blue sky", finished=True)[0] == pytest.approx(0.0, abs=1e-6)
    assert sequence_kl(pol, ref, prompt, first, finished=True)[1] == 2


def test_kl_through_store_is_zero_for_the_initial_policy_and_computed_once(models, tmp_path):
    base, other = models
    store = JudgmentStore(tmp_path / "store")
    zeros, stats = kl_through_store(str(base), str(base), PROMPTS, store, max_new_tokens=6)
    assert zeros == [0.0, 0.0] and stats.computed == 0
    kls, stats = kl_through_store(str(other), str(base), PROMPTS, store, max_new_tokens=6, samples=2, progress=False)
    assert stats.computed == 4 and stats.generations_computed == 4
    assert all(k > 0 for k in kls)
    again, stats = kl_through_store(str(other), str(base), PROMPTS, store, max_new_tokens=6, samples=2, progress=False)
    assert again == pytest.approx(kls) and stats.computed == 0 and stats.generations_computed == 0
    rows = store.query("SELECT count(*) AS n, min(tokens) AS t FROM kl_estimates")
    assert rows["n"][0] == 4 and rows["t"][0] >= 1


def test_a_lazy_backend_loads_the_model_once_and_only_for_missing_answers(models, tmp_path, monkeypatch):
    import judge_pipeline.generation as generation

    base, _ = models
    loads = []
    real = generation.TransformersBackend
    monkeypatch.setattr(generation, "TransformersBackend", lambda *a, **kw: loads.append(a) or real(*a, **kw))
    store, backend = JudgmentStore(tmp_path / "store"), generation.LazyBackend(str(base))
    for sample in range(3):  # a best-of-n pool, sample by sample
        generation.generate_through_store(str(base), PROMPTS, store, 4, temperature=1.0, sample_index=sample,
                                          backend=backend, progress=False)
    assert len(loads) == 1
    again = generation.LazyBackend(str(base))
    _, stats = generation.generate_through_store(str(base), PROMPTS, store, 4, temperature=1.0, sample_index=2,
                                                 backend=again, progress=False)
    assert stats.computed == 0 and len(loads) == 1  # everything in the store: the model is never loaded
