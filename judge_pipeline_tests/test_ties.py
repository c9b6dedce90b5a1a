"""Tie pairs (label 0 / "tie") and tie verdicts: the metrics, and the judge report on a preference file with ties."""

import json
import math
from dataclasses import dataclass

import numpy as np
import polars as pl
import pytest

from judge_pipeline.judging.report import JudgeEvaluator, comparison_tables
from judge_pipeline.judging.verdict import Verdict
from judge_pipeline.metrics.pairwise import (TIE, human_human_alpha, judge_human_alpha, order_credit, pair_call,
                                             pointwise_call, position_consistency, tie_position_consistency, unswap)
from judge_pipeline.sources.eval_sets import human_eval_sets
from judge_pipeline.store import JudgmentStore
from judge_pipeline_tests.fakes import CountingJudge, LongerWinsJudge


# ------------------------------------------------------------------ metrics


def test_human_human_alpha_counts_ties_as_a_category():
    # tie-free data: unchanged (the tie category never occurs, so it adds nothing)
    assert human_human_alpha([[1, 1], [1, 2], [2, 2]]) == pytest.approx(4 / 9)
    # [0, 0] and [1, 1] agree perfectly across three categories
    assert human_human_alpha([[TIE, TIE], [1, 1], [2, 2]]) == pytest.approx(1.0)
    # a tie vs a winner is a disagreement (it was dropped before, as an unusable label)
    assert human_human_alpha([[TIE, 1], [1, 1], [2, 2]]) < 1.0
    # None is still an unusable label, dropped
    assert human_human_alpha([[TIE, TIE, None], [1, 1]]) == pytest.approx(1.0)
    assert math.isnan(human_human_alpha([[TIE, TIE], [TIE, TIE]]))  # one category: undefined
    with pytest.raises(ValueError, match="label must be"):
        human_human_alpha([[1, 3]])


def test_tie_verdicts_earn_half_and_calls():
    assert order_credit([1, 2, TIE, None], [1, 1, 1, 1]).tolist() == [1.0, 0.0, 0.5, 0.0]
    with pytest.raises(ValueError, match="gold"):
        order_credit([1], [TIE])  # tie pairs are measured by calls, not credit
    assert unswap(1) == 2 and unswap(TIE) == TIE and unswap(None) is None
    # both orders pick a (1 on (a, b), 2 on (b, a)) -> 1; flip -> tie; a tie verdict -> tie; invalid -> None
    assert [pair_call(1, 2), pair_call(2, 1), pair_call(1, 1), pair_call(TIE, TIE), pair_call(TIE, 2),
            pair_call(None, 2)] == [1, 2, TIE, TIE, TIE, None]
    assert [pointwise_call(3, 2), pointwise_call(2, 3.5), pointwise_call(4, 4), pointwise_call(None, 1),
            pointwise_call(float("nan"), 1)] == [1, 2, TIE, None, None]


def test_tie_position_consistency_matches_the_tie_free_one():
    ab, ba = [1, 2, 1, 2, 1, None], [2, 1, 1, 2, None, None]
    assert tie_position_consistency(ab, ba) == position_consistency(ab, ba)
    pc = tie_position_consistency([TIE, TIE, 1], [TIE, 1, 2])
    assert (pc.consistent, pc.flip_rate, pc.either_invalid) == pytest.approx((2 / 3, 1 / 3, 0.0))


def test_judge_human_alpha():
    assert judge_human_alpha([1, 2, TIE], [1, 2, TIE]) == pytest.approx(1.0)
    assert judge_human_alpha([1, 2, TIE, None], [1, 2, TIE, 1]) == pytest.approx(1.0)  # invalid call drops out
    assert judge_human_alpha([1, 2, 1], [1, 2, TIE]) < 1.0
    assert math.isnan(judge_human_alpha([None], [1]))


# ------------------------------------------------------------------ the report


@dataclass
class TieAwareJudge(LongerWinsJudge):
    """A pairwise judge that can say tie: equal lengths -> TIE (as an Arena-Hard judge's [[A=B]])."""

    name: str = "tie-aware"
    checkpoint_hash: str = "tie-aware-1"

    def judge(self, items):
        return [Verdict(raw_output="x", label=TIE if len(a) == len(b) else 1 if len(a) > len(b) else 2)
                for _, a, b in items]


def _pairs_with_ties():
    return [  # the longer response is better in the decided pairs; ties have equal lengths but one (all < 10 chars)
        {"prompt": "p1", "response_a": "long one", "response_b": "short", "label": 1},
        {"prompt": "p2", "response_a": "tiny", "response_b": "longer!", "label": 2},
        {"prompt": "p3", "response_a": "same", "response_b": "also", "label": TIE, "annotator_labels": [TIE, TIE, 1]},
        {"prompt": "p4", "response_a": "abc", "response_b": "defgh", "label": TIE, "annotator_labels": [TIE, TIE]},
    ]


def _rows(judge, pairs, tmp_path):
    ev = JudgeEvaluator(judge, JudgmentStore(tmp_path / "store"), "run", batch_size=4, resamples=50)
    return {r["metric"]: r for r in ev.on_pairs("user:ties", pairs)}


def test_report_on_a_set_with_ties_pairwise(tmp_path):
    rows = _rows(LongerWinsJudge(), _pairs_with_ties(), tmp_path)
    assert rows["accuracy"]["value"] == 1.0 and rows["accuracy"]["n"] == 2  # the decided pairs only
    assert rows["tie_rate"]["value"] == 0.5 and rows["tie_rate"]["n"] == 4
    # p3: equal lengths -> "longer wins" picks b in both orders -> a flip -> an even call; p4: b longer -> 2
    assert rows["judge_tie_rate"]["value"] == 0.5 and rows["judge_tie_rate"]["n"] == 2
    assert rows["judge_tie_rate_nontie"]["value"] == 0.0
    assert rows["position_consistency"]["value"] == 1.0 and rows["position_consistency"]["n"] == 2
    assert rows["invalid_rate"]["n"] == 4
    assert not math.isnan(rows["human_human_alpha"]["value"]) and rows["human_human_alpha"]["n"] == 2
    assert rows["judge_human_alpha"]["n"] == 4


def test_report_on_a_set_with_ties_tie_aware_and_pointwise(tmp_path):
    rows = _rows(TieAwareJudge(), _pairs_with_ties(), tmp_path)
    assert rows["judge_tie_rate"]["value"] == 0.5  # p3 equal lengths: a tie verdict in both orders
    assert rows["position_consistency"]["value"] == 1.0
    rows = _rows(CountingJudge(), _pairs_with_ties(), tmp_path)  # score = len % 10
    assert rows["accuracy"]["value"] == 1.0 and rows["judge_tie_rate"]["value"] == 0.5
    assert "position_consistency" not in rows


def test_tie_verdict_on_a_decided_pair_earns_half(tmp_path):
    pairs = [{"prompt": "p", "response_a": "same", "response_b": "also", "label": 1}]
    rows = _rows(TieAwareJudge(), pairs, tmp_path)
    assert rows["accuracy"]["value"] == 0.5 and rows["invalid_rate"]["value"] == 0.0


def test_tie_free_set_gets_the_rows_it_got_before(tmp_path):
    pairs = [p for p in _pairs_with_ties() if p["label"] != TIE]
    assert set(_rows(LongerWinsJudge(), pairs, tmp_path)) == {"accuracy", "invalid_rate", "position_consistency",
                                                            "flip_rate"}
    assert set(_rows(CountingJudge(), pairs, tmp_path)) == {"accuracy", "invalid_rate"}


def test_only_ties(tmp_path):
    pairs = [p for p in _pairs_with_ties() if p["label"] == TIE]
    rows = _rows(LongerWinsJudge(), pairs, tmp_path)
    assert rows["accuracy"]["value"] is None and rows["accuracy"]["n"] == 0
    assert rows["tie_rate"]["value"] == 1.0 and "position_consistency" not in rows


def test_user_file_with_ties_reaches_the_comparison_table(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text("\n".join(json.dumps({**p, "label": "tie" if p["label"] == TIE else p["label"]})
                              for p in _pairs_with_ties()) + "\n")
    sets = human_eval_sets(2, preference_files=(str(path),))
    assert [p["label"] for p in sets["user:mine"]] == [1, 2, TIE, TIE]
    ev = JudgeEvaluator(LongerWinsJudge(), JudgmentStore(tmp_path / "store"), "run", batch_size=8, resamples=20)
    report = [{"judge_variant": "v", "judge": "v", **r} for r in ev.on_pairs("user:mine", sets["user:mine"])]
    main, _ = comparison_tables(pl.DataFrame(report, schema_overrides={"value": pl.Float64, "low": pl.Float64,
                                                                        "high": pl.Float64}))
    assert {"user:mine:accuracy", "user:mine:tie_rate", "user:mine:judge_tie_rate"} <= set(main.columns)
    assert np.isclose(float(main["user:mine:tie_rate"][0]), 0.5)
