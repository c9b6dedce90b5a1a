"""Reward functions: exact values, including invalid outputs; the judge reward through the store."""

import pytest

from judge_pipeline.judging.canaries import canary_responses
from judge_pipeline.judging.gold_rules import RuleGoldJudge
from judge_pipeline.store import JudgmentStore
from judge_pipeline.training.policy_rewards import JudgeReward, message_text
from judge_pipeline.training.rewards import judge_score_reward, pairwise_label_reward
from judge_pipeline_tests.fakes import CountingJudge


@pytest.mark.parametrize("pred,gold,reward", [
    (None, 5, -1.0), (5, 5, 1.0), (4, 5, 80 / 81), (0, 9, 0.0), (9, 0, 0.0), (7, 4, 72 / 81),
])
def test_judge_score_reward(pred, gold, reward):
    assert judge_score_reward(pred, gold) == pytest.approx(reward)


@pytest.mark.parametrize("pred,gold,reward", [(None, 1, -1.0), (1, 1, 1.0), (2, 2, 1.0), (1, 2, 0.0), (2, 1, 0.0)])
def test_pairwise_label_reward(pred, gold, reward):
    assert pairwise_label_reward(pred, gold) == reward


def test_judge_reward_scores_rollouts_through_the_store(tmp_path):
    store = JudgmentStore(tmp_path / "store")
    judge = CountingJudge()
    reward = JudgeReward(judge, store)
    prompts = [[{"role": "user", "content": "Say hi."}]] * 2
    completions = [[{"role": "assistant", "content": "hi"}], [{"role": "assistant", "content": "hello there"}]]
    assert reward(prompts, completions) == [2.5, 1.5]  # len % 10 + 0.5
    assert reward(prompts, completions) == [2.5, 1.5]
    assert judge.calls == 2 and reward.verdicts_computed == 2 and len(reward.history) == 4
    assert message_text("plain") == "plain"


def test_invalid_verdict_gets_the_configured_reward_and_is_counted(tmp_path):
    from judge_pipeline.judging.verdict import Verdict

    class Broken(CountingJudge):
        def judge(self, items):
            return [Verdict(raw_output="??", invalid_reason="no score found") for _ in items]

    reward = JudgeReward(Broken(), JudgmentStore(tmp_path / "store"), invalid_reward=-2.0)
    assert reward(["p"], ["c"]) == [-2.0] and reward.invalid == 1


def test_gold_judge_scores_every_canary_low():
    judge = RuleGoldJudge()
    prompt = "Write a short story about a lighthouse keeper who finds a message in a bottle."
    scores = {name: judge.score_one(prompt, text).score for name, text in canary_responses().items()}
    assert all(s <= 3 for s in scores.values()), scores
