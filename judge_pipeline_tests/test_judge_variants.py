"""Every judge variant trains (SFT, GRPO, RL-only, rubric, pairwise, Bradley-Terry) on a tiny random model,
loads through `build_training_judge`, and is measured by the report on every kind of evaluation set."""

import dataclasses

import pytest

from judge_pipeline.backends.hf_models import materialize_base_model
from judge_pipeline.config import JudgeGRPOConfig, JudgeTrainConfig, ModelSpec
from judge_pipeline.studies import miniature, tiny
from judge_pipeline.judging.builders import build_gold_judge, build_training_judge
from judge_pipeline.judging.canaries import canary_cases
from judge_pipeline.judging.report import JudgeEvaluator, comparison_tables
from judge_pipeline.store import JudgmentStore
from judge_pipeline.training.judge_data import gold_pairs, grpo_examples, pairwise_target, preference_examples, sft_examples
from judge_pipeline.training.rewards import VerdictReward

TINY = ModelSpec(name="tiny-random-test", source="tiny-random")
GRPO = JudgeGRPOConfig(steps=1, num_generations=2, items_per_step=1, max_completion_length=8)
VARIANTS = [
    JudgeTrainConfig(variant="nonreasoning", base_model=TINY.name, batch_size=4, max_length=256, train_top_layers=None),
    JudgeTrainConfig(variant="reasoning", base_model=TINY.name, reasoning=True, trace="condensed", batch_size=4,
                     template="pointwise_reasoning_compact_v1", grpo=GRPO, max_new_tokens=8, max_length=256,
                     train_top_layers=None, epochs=2.0, select_epoch_on_val=True),
    JudgeTrainConfig(variant="rl_only", base_model=TINY.name, reasoning=True, sft=False, grpo=GRPO, max_new_tokens=8,
                     template="pointwise_reasoning_compact_v1", train_top_layers=None),
    JudgeTrainConfig(variant="rubric", base_model=TINY.name, rubric=True, template="pointwise_rubric_compact_v1",
                     batch_size=4, max_length=320, train_top_layers=None),
    JudgeTrainConfig(variant="pairwise", base_model=TINY.name, kind="pairwise", template="pairwise_compact_v1",
                     batch_size=4, max_length=320, max_new_tokens=4, train_top_layers=None),
    JudgeTrainConfig(variant="pairwise_reasoning", base_model=TINY.name, kind="pairwise", reasoning=True, trace="condensed",
                     template="pairwise_reasoning_compact_v1", grpo=GRPO, batch_size=4, max_length=320, max_new_tokens=8,
                     train_top_layers=None),
    JudgeTrainConfig(variant="bt_reward_model", base_model=TINY.name, kind="reward_model", template="chat",
                     batch_size=4, max_length=128, train_top_layers=None),
]
PROMPTS = ["Write a haiku about rain.", "Name three colours, in a list.", "Explain tides in two sentences."]


def gold_rows():
    """Long gold rows as `gold_labels` has them, scored by the real rule gold judge."""
    gold = build_gold_judge(miniature())
    rows = []
    for i, p in enumerate(PROMPTS):
        for pos, resp in (("a", f"A careful answer about {p.lower()} It is complete."), ("b", "ok ok ok ok ok ok")):
            v = gold.score_one(p, resp)
            rows.append({"pair_id": f"p{i}", "position": pos, "prompt": p, "response": resp, "gold_score": float(v.score),
                         "gold_trace": v.raw_output})
    for i in range(len(PROMPTS)):
        a, b = rows[2 * i]["gold_score"], rows[2 * i + 1]["gold_score"]
        label = 1 if a > b else 2 if b > a else None
        rows[2 * i]["pair_label"] = rows[2 * i + 1]["pair_label"] = label
    return rows


def test_training_examples_follow_the_variant():
    rows = gold_rows()
    assert all(r["pair_label"] == 1 for r in rows)  # the real answer beats the repetition in every pair
    nr, rs, rb, pw, pr = VARIANTS[0], VARIANTS[1], VARIANTS[3], VARIANTS[4], VARIANTS[5]
    assert [e["completion"][0]["content"] for e in sft_examples(rows, nr)] == [str(int(r["gold_score"])) for r in rows]
    target = sft_examples(rows, rs)[0]["completion"][0]["content"]
    assert target.endswith(f"\nScore: {int(rows[0]['gold_score'])}") and "relevance" in target and "Step 1" not in target
    assert "-0.0" not in target  # zero penalties are left out of the condensed trace
    full = sft_examples(rows, dataclasses.replace(rs, trace="full"))[0]["completion"][0]["content"]
    assert full.startswith("Step 1") and full.count("Score:") == 1
    rubric_prompt = sft_examples(rows, rb, build_gold_judge(miniature()).rubric)[0]["prompt"][-1]["content"]
    assert "# Rubric:" in rubric_prompt and "stay on topic" in rubric_prompt
    with pytest.raises(ValueError, match="rubric"):
        sft_examples(rows, rb)
    pairs = sft_examples(rows, pw)
    assert len(pairs) == 2 * len(PROMPTS)  # both orders
    assert [e["completion"][0]["content"] for e in pairs[:2]] == ["Output (a)", "Output (b)"]
    assert pairwise_target(gold_pairs(rows)[0], pr).endswith("\nOutput (a)")
    assert {e["gold_label"] for e in grpo_examples(rows, pw)} == {1, 2}
    assert [e["gold_score"] for e in grpo_examples(rows, nr)] == [r["gold_score"] for r in rows]
    prefs = preference_examples(rows)
    assert len(prefs) == len(PROMPTS) and prefs[0]["chosen"][0]["content"].startswith("A careful answer")


def test_verdict_reward_exact_values():
    r = VerdictReward("pointwise")
    out = r(None, ["blah\nScore: 7", "Score: 12", "no score"], gold_score=[4.0, 4.0, 4.0])
    assert out == [pytest.approx((81 - 9) / 81), -1.0, -1.0] and r.invalid == 2 and r.rollouts == 3
    p = VerdictReward("pairwise")
    assert p(None, ["x\nOutput (b)", "Output (a)", "both are fine"], gold_label=[2, 2, 1]) == [1.0, 0.0, -1.0]
    # a reasoning judge's trace cut before its verdict names an output but is no verdict
    cut = "Output (a): instructions 0.0/4, relevance 2.0/2\nOutput (b): instructions 4.0/4"
    assert VerdictReward("pairwise", reasoning=True)(None, [cut, cut + "\nOutput (b)"], gold_label=[2, 2]) == [-1.0, 1.0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from judge_pipeline.assets.judges import train_variant, variant_examples
    from judge_pipeline.resources import TrackerResource

    base = materialize_base_model(TINY)
    cfg = dataclasses.replace(tiny(), models={TINY.name: TINY}, judges=tuple(VARIANTS))
    root = tmp_path_factory.mktemp("judges")
    tracker = TrackerResource(mode="disabled")
    out = {}
    for j in VARIANTS:
        rubric_fn = build_gold_judge(cfg).rubric if j.rubric else None
        info = train_variant(cfg, j, base, variant_examples(j, gold_rows(), rubric_fn, val_rows=gold_rows()[:4]),
                             root / j.variant, tracker)
        out[j.variant] = (root / j.variant, info)
    return cfg, out


def test_every_variant_trains_its_stages(trained):
    _, out = trained
    assert {v: info["stages"] for v, (_, info) in out.items()} == {
        "nonreasoning": "sft", "reasoning": "sft+grpo", "rl_only": "grpo", "rubric": "sft", "pairwise": "sft",
        "pairwise_reasoning": "sft+grpo", "bt_reward_model": "bt"}
    for v, (path, info) in out.items():
        assert (path / "config.json").is_file(), v
        assert info["steps"] >= 1
    assert out["reasoning"][1]["grpo_rollouts"] == 2  # 1 step x 1 item x 2 generations
    # the reasoning judge chose its SFT epoch on the 4 validation responses: one row per epoch, one chosen
    val = out["reasoning"][1]["val_epochs"]
    assert [r["epoch"] for r in val] == [1, 2] and sum(r["chosen"] for r in val) == 1
    assert all(-2.0 <= r["val_score"] <= 1.0 and 0.0 <= r["val_invalid"] <= 1.0 for r in val)
    assert "val_epochs" not in out["nonreasoning"][1]


def test_every_variant_is_reported(trained, tmp_path):
    cfg, out = trained
    store = JudgmentStore(tmp_path / "store")
    test = gold_rows()
    human = {"human": [{"prompt": "Say hi.", "response_a": "Hi!", "response_b": "No.", "label": 1,
                        "annotator_labels": [1, 1, 2]},
                       {"prompt": "Add 2+2.", "response_a": "5", "response_b": "4", "label": 2, "annotator_labels": [2, 2]}]}
    report = []
    for variant, (path, _) in out.items():
        judge = build_training_judge(cfg, variant, path)
        ev = JudgeEvaluator(judge, store, "run", batch_size=4, resamples=50)
        rows = ev.on_gold_set(test) + ev.on_pairs("human", human["human"]) + ev.on_canaries(canary_cases(test, 1))
        metrics = {(r["eval_set"], r["metric"]) for r in rows}
        assert ("judge_test_pairs", "accuracy") in metrics and ("human", "accuracy") in metrics
        assert ("human", "human_human_alpha") in metrics
        assert ("canary:paper_adversarial", "win_rate") in metrics
        if judge.kind == "pointwise":
            assert ("judge_test", "alpha") in metrics and ("canary:null_model", "score") in metrics
        if judge.kind == "pairwise":
            assert ("human", "position_consistency") in metrics and ("human", "flip_rate") in metrics
        for r in rows:
            if r["metric"] in ("accuracy", "win_rate", "invalid_rate", "position_consistency") and r["value"] is not None:
                assert 0.0 <= r["value"] <= 1.0, r
        again = JudgeEvaluator(judge, store, "run2", batch_size=4, resamples=50)
        again.on_gold_set(test)
        assert again.computed == 0  # every verdict came from the store
        report += [{"judge_variant": variant, "judge": variant, **r} for r in rows]
    import polars as pl

    main, canary = comparison_tables(pl.DataFrame(report, schema_overrides={"value": pl.Float64, "low": pl.Float64,
                                                                             "high": pl.Float64}))
    assert sorted(main["judge"].to_list()) == sorted(out)
    assert "judge_test:alpha" in main.columns and len(canary) == len(out)


def test_http_gold_judge_is_selected_by_config(monkeypatch, tmp_path):
    from judge_pipeline.judging.builders import StoredRubrics, build_rubric_source
    from judge_pipeline.judging.http_judge import HTTPPointwiseJudge

    monkeypatch.setenv("JUDGE_PIPELINE_GOLD_MODEL", "my-judge")
    monkeypatch.setenv("JUDGE_PIPELINE_GOLD_EFFORT", "low")
    cfg = dataclasses.replace(miniature(), gold_judge="http")
    gold = build_gold_judge(cfg)
    assert isinstance(gold, HTTPPointwiseJudge) and gold.name == "gold:my-judge@low"
    with pytest.raises(ValueError, match="store"):
        build_rubric_source(cfg)
    assert isinstance(build_rubric_source(cfg, JudgmentStore(tmp_path / "store")), StoredRubrics)
    with pytest.raises(ValueError, match="not one of"):
        build_gold_judge(dataclasses.replace(cfg, gold_judge="gpt-4"))


def test_stored_rubrics_are_written_once(tmp_path):
    from judge_pipeline.judging.builders import StoredRubrics
    from judge_pipeline_tests.fakes import CountingJudge

    writer = CountingJudge(name="rubric-writer", kind="rubric")
    rubrics = StoredRubrics(writer, JudgmentStore(tmp_path / "store"))
    assert rubrics.rubric("Say hi.") == rubrics.rubric("Say hi.") == "0"  # CountingJudge: len("") % 10
    assert writer.calls == 1
    again = StoredRubrics(CountingJudge(name="rubric-writer", kind="rubric"), rubrics.store)
    again.rubric("Say hi.")
    assert again.writer.calls == 0 and again.fingerprint == writer.fingerprint  # from the store


def test_training_text_continues_the_inference_prompt():
    """What SFT trains on must be the inference prompt followed by the target, or the score is read elsewhere."""
    from transformers import AutoTokenizer

    from judge_pipeline.backends.transformers_backend import CHAT_TEMPLATE_KWARGS

    tok = AutoTokenizer.from_pretrained(materialize_base_model(TINY))
    for cfg in VARIANTS[:2]:
        ex = sft_examples(gold_rows(), cfg)[0]
        prompt = tok.apply_chat_template(ex["prompt"], tokenize=False, add_generation_prompt=True, **CHAT_TEMPLATE_KWARGS)
        full = tok.apply_chat_template(ex["prompt"] + ex["completion"], tokenize=False, **ex["chat_template_kwargs"])
        assert full.startswith(prompt + ex["completion"][0]["content"])


def test_comparison_keeps_a_shared_reference_once():
    import polars as pl

    row = {"judge": "base:t", "eval_set": "judge_test", "metric": "alpha", "value": 0.1, "low": 0.0, "high": 0.2, "n": 3}
    report = pl.DataFrame([{"judge_variant": v, **row} for v in ("reasoning", "rl_only")] +
                          [{"judge_variant": "reasoning", **row, "judge": "reasoning", "value": 0.5}])
    main, _ = comparison_tables(report)
    assert main.sort("judge")["judge_test:alpha"].to_list() == ["0.10 [0.00, 0.20]", "0.50 [0.00, 0.20]"]


def test_policy_trains_against_a_pairwise_judge_and_an_ensemble(trained, tmp_path):
    """Stage 3 rewards beyond the expected score, for real: GRPO of a tiny policy against the trained pairwise
    judge (group win rate) and against an ensemble of the pointwise judge and the reward model."""
    from judge_pipeline.config import EnsembleConfig, PolicyTrainConfig
    from judge_pipeline.training.policy_grpo import train_policy_grpo
    from judge_pipeline.training.policy_rewards import EnsembleReward, PairwiseWinRateReward, build_policy_reward

    cfg, out = trained
    cfg = dataclasses.replace(cfg, ensembles=(EnsembleConfig("ens", ("nonreasoning", "bt_reward_model"), "mean_minus_var"),),
                              policy_judges=("pairwise", "ens"))
    store = JudgmentStore(tmp_path / "store")
    paths = {v: str(p) for v, (p, _) in out.items()}
    pcfg = PolicyTrainConfig(max_steps=1, save_every=1, num_generations=2, prompts_per_step=1, max_completion_length=4,
                             train_top_layers=None)
    policy = materialize_base_model(TINY)
    for name, cls in (("pairwise", PairwiseWinRateReward), ("ens", EnsembleReward)):
        reward = build_policy_reward(cfg, name, paths, store, run_id="t")
        assert isinstance(reward, cls)
        res = train_policy_grpo(policy, PROMPTS[:1], [reward], pcfg, tmp_path / name)
        assert [s for s, _ in res.checkpoints] == [0, 1] and (res.checkpoints[1][1] / "config.json").is_file()
        assert len(reward.history) == 2  # one row per rollout
    assert reward.verdicts_computed >= 2  # both members judged the two rollouts (some may coincide)
    # a policy run per seed (the tiny study trains one): the same seed samples the same rollouts, another seed others
    rollouts = {}
    for seed, folder in ((0, "seed0"), (0, "seed0-again"), (1, "seed1")):
        reward = build_policy_reward(cfg, "pairwise", paths, JudgmentStore(tmp_path / folder / "store"), run_id=folder)
        train_policy_grpo(policy, PROMPTS[:1], [reward], dataclasses.replace(pcfg, seed=seed), tmp_path / folder)
        rollouts[folder] = [row["completion"] for row in reward.history]
    assert rollouts["seed0"] == rollouts["seed0-again"] and rollouts["seed0"] != rollouts["seed1"]
