"""Policy rewards: pairwise group win rate (both orders, invalid games), conservative ensembles, reward config."""

import dataclasses

import numpy as np
import pytest

from judge_pipeline.config import EnsembleConfig, JudgeTrainConfig
from judge_pipeline.studies import miniature
from judge_pipeline.store import JudgmentStore
from judge_pipeline.training.policy_rewards import (
    MIXED_SCALE, EnsembleReward, JudgeReward, PairwiseWinRateReward, aggregate, proxy_scale,
)
from judge_pipeline_tests.fakes import CountingJudge, LongerWinsJudge


def test_group_win_rate_judges_every_ordered_pair_and_averages(tmp_path):
    store = JudgmentStore(tmp_path / "store")
    judge = LongerWinsJudge()
    reward = PairwiseWinRateReward(judge, store)
    prompts = ["p1"] * 3 + ["p2"] * 2
    completions = ["a", "bbb", "cc", "x", "yy"]
    rewards = reward(prompts, completions)
    # p1: "bbb" beats both (1.0), "cc" beats "a" only (0.5), "a" beats none (0.0); p2: "yy" 1.0, "x" 0.0
    assert rewards == [0.0, 1.0, 0.5, 0.0, 1.0]
    assert reward.games == 3 * 2 + 2 * 1 == judge.calls  # G(G-1) verdicts per prompt
    assert reward.verdicts_computed == 8 and reward.invalid == 0
    reward(prompts, completions)
    assert judge.calls == 8 and reward.games == 16  # the second call costs no verdict: all in the store


def test_invalid_games_count_as_configured(tmp_path):
    reward = PairwiseWinRateReward(LongerWinsJudge(), JudgmentStore(tmp_path / "store"), invalid_game=0.0)
    # every game involving "??" is invalid (0 for both sides); "long one" beats "s" in both orders:
    # "long one" wins 2 of its 4 games, "s" none
    assert reward(["p"] * 3, ["??", "long one", "s"]) == [0.0, 0.5, 0.0]
    assert reward.invalid == 4


def test_pairwise_proxy_is_the_win_rate_against_the_baseline(tmp_path):
    reward = PairwiseWinRateReward(LongerWinsJudge(), JudgmentStore(tmp_path / "store"))
    scored = reward.score_answers(["p", "q", "r"], ["longer", "s", "??"], baselines=["mid", "mid", "mid"])
    assert scored.values == [1.0, 0.0, None] and [len(k) for k in scored.keys] == [2, 2, 2]
    with pytest.raises(ValueError, match="baseline"):
        reward.score_answers(["p"], ["a"])


@pytest.mark.parametrize("how,expected", [("mean", [2.0, 5.0]), ("worst_case", [1.0, 3.0]),
                                          ("mean_minus_var", [2.0 - 2 / 3, 5.0 - 8 / 3])])
def test_aggregates(how, expected):
    values = np.array([[1.0, 3.0], [2.0, 5.0], [3.0, 7.0]])
    assert aggregate(values, how, lam=1.0) == pytest.approx(expected)


def test_ensemble_reward_combines_member_judges(tmp_path):
    store = JudgmentStore(tmp_path / "store")
    short = JudgeReward(CountingJudge(name="a"), store)
    other = JudgeReward(CountingJudge(name="b", checkpoint_hash="ckpt-2"), store)
    ens = EnsembleReward([short, other], "worst_case", name="ens")
    assert ens(["p", "p"], ["hi", "hello"]) == [2.5, 5.5]  # both members score len % 10 + 0.5
    assert ens.verdicts_computed == 4 and ens.history[0]["reward_a"] == 2.5
    assert ens.score_answers(["p"], ["hey"]).values == [3.5]
    with pytest.raises(ValueError, match="at least two"):
        EnsembleReward([short], "mean")
    with pytest.raises(ValueError, match="unknown ensemble aggregate"):
        EnsembleReward([short, other], "median")


def test_reward_names_kinds_and_validation():
    cfg = dataclasses.replace(
        miniature(),
        judges=(JudgeTrainConfig(variant="nonreasoning"), JudgeTrainConfig(variant="other"),
                JudgeTrainConfig(variant="pairwise", kind="pairwise", template="pairwise_compact_v1")),
        ensembles=(EnsembleConfig("ens", ("nonreasoning", "other"), "mean_minus_var", lam=0.5),),
        policy_judges=("nonreasoning", "pairwise", "ens"),
    )
    assert cfg.policy_judge_variants == ["nonreasoning", "pairwise", "ens"]
    assert [cfg.reward_kind(n) for n in cfg.policy_judge_variants] == ["pointwise", "pairwise", "ensemble"]
    assert cfg.reward_judges("ens") == ["nonreasoning", "other"]
    assert [proxy_scale(cfg, n) for n in cfg.policy_judge_variants] == ["score_0_9", "win_rate_vs_initial", "score_0_9"]
    mixed = dataclasses.replace(
        cfg, judges=cfg.judges + (JudgeTrainConfig(variant="bt", kind="reward_model", template="chat"),),
        ensembles=(EnsembleConfig("ens", ("nonreasoning", "bt")),))
    assert proxy_scale(mixed, "ens") == MIXED_SCALE and proxy_scale(mixed, "bt") == "reward_model_scalar"
    with pytest.raises(ValueError, match="neither judge variants nor ensembles"):
        _ = dataclasses.replace(cfg, policy_judges=("nope",)).policy_judge_variants
    bad = dataclasses.replace(cfg, ensembles=(EnsembleConfig("ens", ("nonreasoning", "pairwise")),))
    with pytest.raises(ValueError, match="not pointwise or reward-model"):
        _ = bad.policy_judge_variants
    with pytest.raises(ValueError, match="aggregate"):
        EnsembleConfig("e", ("a", "b"), "median")


def test_kl_ablation_is_a_configuration():
    from judge_pipeline.config import load_config

    ablation, base = load_config("miniature_kl"), load_config("miniature")
    assert ablation.policy.kl_beta > 0 == base.policy.kl_beta
    assert dataclasses.replace(ablation.policy, kl_beta=0.0) == base.policy and ablation.name != base.name


def test_seeds_and_scored_prompts_are_configurations():
    """The miniature scores its 4 RL prompts in-sample; miniature_heldout and the paper score held-out prompts;
    miniature_seeds is the miniature at three seeds. Bad values fail when the config is built."""
    import polars as pl

    from judge_pipeline.assets.evaluation import scored_prompts
    from judge_pipeline.config import EvalConfig, PolicyTrainConfig, load_config

    mini, seeds, heldout, paper = (load_config(n) for n in ("miniature", "miniature_seeds", "miniature_heldout", "paper"))
    test, rl = pl.DataFrame({"prompt": ["held out"]}), pl.DataFrame({"prompt": ["trained on"]})
    assert scored_prompts(mini, test, rl) is rl and mini.data.n_rl_prompts == 4
    assert scored_prompts(heldout, test, rl) is test and scored_prompts(paper, test, rl) is test
    assert seeds.policy.seeds == (0, 1, 2) and dataclasses.replace(seeds.policy, seeds=(0,)) == mini.policy
    assert seeds.judges == mini.judges and seeds.policy_judge_variants == ["nonreasoning", "reasoning"]
    with pytest.raises(ValueError, match="score_on"):
        EvalConfig(score_on="train")
    with pytest.raises(ValueError, match="seeds"):
        PolicyTrainConfig(seeds=(1, 1))


def test_studies_share_checkpoints_only_where_they_would_train_the_same(monkeypatch):
    """miniature_seeds / _transfer / _full use the miniature's judge and policy folders and miniature_kl its judge
    folders; a study that would train something different into another's folders is refused at load time."""
    from judge_pipeline import studies
    from judge_pipeline.config import load_config, shared_checkpoint_conflicts
    from judge_pipeline.resources import StudyResource

    mini = load_config("miniature")
    for name in ("miniature_seeds", "miniature_transfer", "miniature_full"):
        cfg = load_config(name)
        assert (cfg.judge_checkpoints_of, cfg.policy_checkpoints_of) == ("miniature", "miniature")
        assert shared_checkpoint_conflicts(cfg, mini, mini) == []
    kl = StudyResource(config_name="miniature_kl", data_dir="/d")
    assert kl.judge_dir("reasoning") == StudyResource(config_name="miniature", data_dir="/d").judge_dir("reasoning")
    assert kl.policy_dir("p", "reasoning", 0).parent.name == "miniature_kl"
    transfer = StudyResource(config_name="miniature_transfer", data_dir="/d")
    assert str(transfer.policy_dir("p", "reasoning", 1)) == "/d/checkpoints/policies/miniature/p__reasoning__seed1"
    assert load_config("miniature_transfer").eval.score_on == "policy_test"

    kl_cfg = load_config("miniature_kl")
    assert shared_checkpoint_conflicts(dataclasses.replace(kl_cfg, policy_checkpoints_of="miniature"), mini, mini) == [
        "policy_checkpoints_of='miniature': `policy` differs beyond its seeds"]
    other_data = dataclasses.replace(mini, name="x", data=dataclasses.replace(mini.data, n_rl_prompts=8),
                                     judge_checkpoints_of="miniature")
    assert shared_checkpoint_conflicts(other_data, mini, None) == ["judge_checkpoints_of='miniature': `data` differs"]
    monkeypatch.setitem(studies.CONFIGS, "bad_share", lambda: other_data)
    with pytest.raises(ValueError, match="`data` differs"):
        load_config("bad_share")
    monkeypatch.setitem(studies.CONFIGS, "no_such_share", lambda: dataclasses.replace(mini, judge_checkpoints_of="nope"))
    with pytest.raises(ValueError, match="unknown study"):
        load_config("no_such_share")
