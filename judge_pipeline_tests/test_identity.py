"""Identity by content (issue 14, item 3): a judge's template text, the rule judge's code, a checkpoint's tokenizer
and chat template, and every inference setting of a policy's reward are in the keys. Editing one re-judges
exactly the verdicts it decides; editing nothing re-judges nothing. No model is loaded: fake checkpoint folders,
a stub HTTP server and the rule judge."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from judge_pipeline.judging import gold_rules, templates
from judge_pipeline.judging.cached import judge_through_store
from judge_pipeline.judging.gold_rules import RuleGoldJudge
from judge_pipeline.judging.http_judge import HTTPJudgeConfig, build_http_gold_judges
from judge_pipeline.judging.pointwise_judge import PointwiseLLMJudge
from judge_pipeline.judging.verdict import Verdict
from judge_pipeline.store import JudgmentStore, keys
from judge_pipeline.store.keys import checkpoint_hash, code_files, code_hash, identify_model_judge
from judge_pipeline_tests.test_http_judge import KEY_ENV, SECRET, Stub, chat_body

ITEMS = [(f"Write about topic {i}.", f"An answer about topic {i}, " + "in words " * i) for i in range(6)]
PAIRS = [(p, r, r + " More.") for p, r in ITEMS[:4]]


def edit_one_character(path: Path, keep_stat: bool = False) -> None:
    """Change one character (the last letter) of a text file, same size; with ``keep_stat`` its mtime is put back."""
    st = path.stat()
    text = path.read_text()
    i = max(i for i, c in enumerate(text) if c.isalpha())
    path.write_text(text[:i] + ("X" if text[i] != "X" else "Y") + text[i + 1:])
    if keep_stat:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size


# ---------------------------------------------------------------------- templates
@pytest.fixture
def template_copy(tmp_path, monkeypatch):
    """The judge templates, copied to a folder the test may edit (the package's own files stay untouched)."""
    folder = tmp_path / "templates"
    shutil.copytree(Path(templates.__file__).parent / "templates", folder)
    monkeypatch.setattr(templates, "TEMPLATES_DIR", folder)
    return folder


@pytest.fixture
def stub(monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    s = Stub([(200, lambda p: chat_body("Fine.\nScore: 6\nOutput (a)"), 0, {})])
    yield s
    s.close()


def http_judges(stub):
    return build_http_gold_judges(HTTPJudgeConfig(model="stub-model", base_url=stub.url, api_key_env=KEY_ENV))


def test_editing_a_template_rejudges_exactly_the_verdicts_made_with_it(template_copy, stub, tmp_path):
    store = JudgmentStore(tmp_path / "store")

    def run():
        j = http_judges(stub)
        return (judge_through_store(j["pointwise"], ITEMS, store, progress=False)[2].computed,
                judge_through_store(j["pairwise"], PAIRS, store, progress=False)[2].computed)

    assert run() == (len(ITEMS), len(PAIRS))
    assert run() == (0, 0)  # nothing changed: nothing re-judged
    edit_one_character(template_copy / "gold_pointwise_v1.txt")
    assert run() == (len(ITEMS), 0)  # only the pointwise template changed
    assert run() == (0, 0)
    edit_one_character(template_copy / "gold_pairwise_v1.txt")
    assert run() == (0, len(PAIRS))
    rows = store.query("SELECT DISTINCT template_version FROM judgments ORDER BY 1")
    assert rows["template_version"].to_list() == ["gold_pairwise_v1", "gold_pointwise_v1"]  # the readable name stays


def test_a_judge_renders_the_template_text_it_hashed(template_copy, stub):
    judge = http_judges(stub)["pointwise"]
    before = judge.messages(ITEMS[0])
    edit_one_character(template_copy / "gold_pointwise_v1.txt")
    assert judge.messages(ITEMS[0]) == before  # its own copy, read when it was built
    assert http_judges(stub)["pointwise"].messages(ITEMS[0]) != before
    assert templates.template_hash("gold_pointwise_v1") == templates.load_template("gold_pointwise_v1").sha256


# ---------------------------------------------------------------------- the rule judge's code
def test_rule_code_closure_covers_the_checks_it_imports():
    files = code_files(*gold_rules.RULE_MODULES)
    assert {"judge_pipeline.judging.gold_rules", "judge_pipeline.judging.ifeval_checks"} <= set(files)
    assert all(name.startswith("judge_pipeline.") for name in files)


@pytest.mark.parametrize("module", ["gold_rules", "ifeval_checks"])
def test_editing_rule_code_rejudges_every_rule_verdict_once(module, tmp_path, monkeypatch):
    """One character of gold_rules.py or of a module it imports (ifeval_checks.py), in a copy the hash is pointed at."""
    name = f"judge_pipeline.judging.{module}"
    copy = tmp_path / f"{module}.py"
    shutil.copy(keys.module_file(name), copy)
    real = keys.module_file
    monkeypatch.setattr(keys, "module_file", lambda n: copy if n == name else real(n))
    store = JudgmentStore(tmp_path / "store")
    before = RuleGoldJudge()
    first = judge_through_store(RuleGoldJudge(), ITEMS, store, progress=False)
    assert first[2].computed == len(ITEMS)
    assert judge_through_store(RuleGoldJudge(), ITEMS, store, progress=False)[2].computed == 0
    edit_one_character(copy)
    judge = RuleGoldJudge()
    assert judge.fingerprint != before.fingerprint and judge.name == "gold:" + gold_rules.RULES_VERSION
    again = judge_through_store(judge, ITEMS, store, progress=False)
    assert again[2].computed == len(ITEMS) and again[1] != first[1]
    assert judge_through_store(RuleGoldJudge(), ITEMS, store, progress=False)[2].computed == 0


def test_code_hash_follows_files_not_names(tmp_path):
    copy = tmp_path / "gold_rules.py"
    shutil.copy(keys.module_file("judge_pipeline.judging.gold_rules"), copy)
    assert code_hash(copy) == code_hash(copy)
    before = code_hash(copy)
    copy.write_text(copy.read_text() + "\n# a comment is code too\n")
    assert code_hash(copy) != before


# ---------------------------------------------------------------------- checkpoint folders
def fake_checkpoint(folder: Path, weights: bytes = b"\x00" * 64) -> Path:
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(weights)
    (folder / "config.json").write_text(json.dumps({"model_type": "llama", "vocab_size": 10}))
    (folder / "tokenizer.json").write_text(json.dumps({"model": {"vocab": {"a": 0}}}))
    (folder / "tokenizer_config.json").write_text(json.dumps({"eos_token": "</s>"}))
    (folder / "special_tokens_map.json").write_text(json.dumps({"eos_token": "</s>"}))
    (folder / "generation_config.json").write_text(json.dumps({"do_sample": False}))
    (folder / "chat_template.jinja").write_text("{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}")
    return folder


@dataclass
class FolderJudge:
    """A judge over a checkpoint folder identified like the real ones (`identify_model_judge`); scores by length."""

    checkpoint: Path
    name: str
    template_version: str = "pointwise_compact_v1"
    role: str = "training"
    kind: str = "pointwise"
    calls: int = field(default=0)

    def __post_init__(self):
        identify_model_judge(self, templates.template_hash(self.template_version))

    @property
    def decoding(self) -> dict:
        return {"mode": "test"}

    def judge(self, items):
        self.calls += len(items)
        return [Verdict(raw_output=str(len(r) % 10), score=float(len(r) % 10)) for _, r in items]


@pytest.mark.parametrize("filename", ["chat_template.jinja", "tokenizer.json", "tokenizer_config.json",
                                      "special_tokens_map.json", "generation_config.json", "config.json"])
def test_editing_a_checkpoint_tokenizer_or_chat_template_rejudges_its_verdicts_only(filename, tmp_path):
    a, b = fake_checkpoint(tmp_path / "a"), fake_checkpoint(tmp_path / "b", b"\x01" * 64)
    store = JudgmentStore(tmp_path / "store")

    def run():
        return [judge_through_store(FolderJudge(p, name=p.name), ITEMS, store, progress=False)[2].computed for p in (a, b)]

    assert run() == [len(ITEMS), len(ITEMS)]
    assert run() == [0, 0]
    # same size, mtime put back: the weights' mtime cache cannot hide it (the small files are hashed every time)
    edit_one_character(a / filename, keep_stat=True)
    assert run() == [len(ITEMS), 0]
    assert run() == [0, 0]


def test_files_that_do_not_change_a_verdict_keep_the_hash(tmp_path):
    folder = fake_checkpoint(tmp_path / "ckpt")
    before = checkpoint_hash(folder)
    (folder / "README.md").write_text("notes")
    (folder / "trainer_state.json").write_text("{}")
    assert checkpoint_hash(folder) == before
    (folder / "model.safetensors").write_bytes(b"\x02" * 64)  # rewritten weights (new mtime): hashed again
    assert checkpoint_hash(folder) != before
    assert (folder / keys.WEIGHTS_CACHE).is_file()


def test_real_judges_fingerprint_the_chat_template_and_template_text(tmp_path, template_copy):
    folder = fake_checkpoint(tmp_path / "ckpt")
    judge = PointwiseLLMJudge(folder, name="j", template_version="pointwise_compact_v1")  # no model is loaded here
    assert judge.template_version == "pointwise_compact_v1"
    edit_one_character(folder / "chat_template.jinja")
    after_chat = PointwiseLLMJudge(folder, name="j", template_version="pointwise_compact_v1")
    assert after_chat.fingerprint != judge.fingerprint and after_chat.checkpoint_hash != judge.checkpoint_hash
    edit_one_character(template_copy / "pointwise_compact_v1.txt")
    after_text = PointwiseLLMJudge(folder, name="j", template_version="pointwise_compact_v1")
    assert after_text.fingerprint != after_chat.fingerprint and after_text.checkpoint_hash == after_chat.checkpoint_hash


# ---------------------------------------------------------------------- HTTP judge identity
def test_http_identity_has_every_decoding_setting_and_never_the_url_or_key(monkeypatch, stub):
    cfg = HTTPJudgeConfig(model="m", base_url=stub.url, api_key_env=KEY_ENV)

    def key_parts(c):
        j = build_http_gold_judges(c)["pointwise"]
        return j.fingerprint, json.dumps(j.decoding, sort_keys=True)

    base = key_parts(cfg)
    assert key_parts(dataclasses.replace(cfg, base_url="http://elsewhere:9/v1", timeout_s=5, concurrency=1,
                                         max_retries=0)) == base
    monkeypatch.setenv(KEY_ENV, "another-key")
    assert key_parts(cfg) == base
    for change in ({"max_tokens": 100}, {"temperature": 0.5}, {"top_logprobs": 5}, {"seed": 3}):
        assert key_parts(dataclasses.replace(cfg, **change)) != base, change
    for change in ({"model": "other"}, {"reasoning_effort": "low"}, {"pointwise_template": "gold_rubric_v1"}):
        assert key_parts(dataclasses.replace(cfg, **change))[0] != base[0], change
    assert "seed" not in json.loads(base[1]) and "attempt" not in json.loads(base[1])  # keys made before stay valid


# ---------------------------------------------------------------------- a policy run's reward
def test_policy_run_fingerprint_covers_the_reward_path(tmp_path):
    from judge_pipeline.config import EnsembleConfig, JudgeTrainConfig, PolicyTrainConfig
    from judge_pipeline.studies import tiny
    from judge_pipeline.training.policy_rewards import build_policy_reward, policy_run_fingerprint

    paths = {v: str(fake_checkpoint(tmp_path / v, v.encode() * 8)) for v in ("pw", "reasoning", "rm")}
    judges = (JudgeTrainConfig(variant="pw"), JudgeTrainConfig(variant="reasoning", reasoning=True, max_new_tokens=64,
                                                                  template="pointwise_reasoning_compact_v1"),
              JudgeTrainConfig(variant="rm", kind="reward_model", template="chat"))
    base_cfg = dataclasses.replace(tiny(), judges=judges, ensembles=(EnsembleConfig("ens", ("pw", "rm"), "mean"),))
    store = JudgmentStore(tmp_path / "store")
    pcfg = PolicyTrainConfig()

    def fp(cfg, reward="ens"):
        return policy_run_fingerprint("policy-hash", build_policy_reward(cfg, reward, paths, store).identity, ["p"], pcfg)

    def judge(cfg, variant, **change):
        return dataclasses.replace(cfg, judges=tuple(dataclasses.replace(j, **change) if j.variant == variant else j
                                                     for j in cfg.judges))

    def ensemble(cfg, **change):
        return dataclasses.replace(cfg, ensembles=(dataclasses.replace(cfg.ensembles[0], **change),))

    base = fp(base_cfg)
    assert fp(base_cfg) == base  # nothing changed: the run is reused
    assert fp(ensemble(base_cfg, lam=2.0)) == base  # λ is unused by "mean"
    assert fp(ensemble(base_cfg, aggregate="worst_case")) != base
    lam = ensemble(base_cfg, aggregate="mean_minus_var")
    assert fp(ensemble(lam, lam=2.0)) != fp(lam)
    assert fp(judge(base_cfg, "pw", context_length=512)) != base
    assert fp(judge(base_cfg, "rm", max_length=128)) != base
    assert fp(dataclasses.replace(base_cfg, policy=dataclasses.replace(base_cfg.policy, invalid_reward=-1.0))) != base
    reasoning = fp(base_cfg, "reasoning")
    assert fp(judge(base_cfg, "reasoning", max_new_tokens=65), "reasoning") != reasoning
    sampled = dataclasses.replace(base_cfg, policy=dataclasses.replace(base_cfg.policy, judge_temperature=0.7))
    assert fp(sampled, "reasoning") != reasoning
    edit_one_character(Path(paths["pw"]) / "chat_template.jinja")
    assert fp(base_cfg) != base
