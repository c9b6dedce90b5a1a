"""Verdict parsing and the expected score: every malformed output ends NULL with a reason."""

import math

import pytest

from judge_pipeline.judging.parsing import expected_score, parse_score


@pytest.mark.parametrize("raw,score", [
    ("7", 7), (" 7 ", 7), ("7.", 7), ("**7**", 7), ("0", 0), ("9", 9),
    ("Step 1 ... fine.\nScore: 6", 6), ("score = 3", 3), ("The score is 4", 4),
    ("Score: 2\n...on reflection...\nScore: 5", 5),
])
def test_valid_scores(raw, score):
    assert parse_score(raw) == (score, None)


@pytest.mark.parametrize("raw,reason", [
    ("", "empty output"), ("   \n", "empty output"), (None, "empty output"),
    ("Your", "no score found"), ("<<", "no score found"), ("I would rate it highly", "no score found"),
    ("10", "score 10 outside 0..9"), ("-1", "score -1 outside 0..9"), ("Score: 12", "score 12 outside 0..9"),
    ("7.5", "score '7.5' is not an integer"), ("Score: 6,5", "score '6,5' is not an integer"),
])
def test_malformed_outputs_give_none_and_reason(raw, reason):
    assert parse_score(raw) == (None, reason)


def test_expected_score_renormalises_over_score_tokens():
    probs = [0.0] * 10
    probs[2], probs[8] = 0.1, 0.3  # 60% of the mass elsewhere
    exp, outside = expected_score(probs)
    assert exp == pytest.approx((2 * 0.1 + 8 * 0.3) / 0.4)
    assert outside == pytest.approx(0.6)


def test_expected_score_without_mass_is_none():
    exp, outside = expected_score([0.0] * 10)
    assert exp is None and outside == 1.0


def test_expected_score_rejects_wrong_length():
    with pytest.raises(ValueError):
        expected_score([0.5, 0.5])


def test_uniform_distribution_gives_four_and_a_half():
    exp, _ = expected_score([0.1] * 10)
    assert math.isclose(exp, 4.5)


from judge_pipeline.judging.parsing import parse_label  # noqa: E402


@pytest.mark.parametrize("raw,label", [
    ("Output (a)", 1), ("Output (b)", 2), ("Output (b).", 2), ("output a", 1), ("(a)", 1), ("b", 2),
    ("2", 2), ("1", 1), ("Both have merits, but in the end: Output (b)", 2),
    ("Output (a) is longer. Output (b) follows the instruction.\nOutput (b)", 2),
])
def test_valid_labels(raw, label):
    assert parse_label(raw) == (label, None)


@pytest.mark.parametrize("raw,reason", [
    ("", "empty output"), (None, "empty output"), ("I cannot decide", "no label found"),
    ("Both are good.", "says both or neither"), ("Neither output is acceptable", "says both or neither"),
    ("Output (c)", "no label found"), ("3", "no label found"),
])
def test_malformed_labels_give_none_and_reason(raw, reason):
    assert parse_label(raw) == (None, reason)


from judge_pipeline.judging.parsing import parse_final_label, score_prefix  # noqa: E402


@pytest.mark.parametrize("raw,expected", [
    ("Output (a): fine\nOutput (b): worse\nOutput (a)", (1, None)),
    ("reasoning...\n\n**Output (b)**\n", (2, None)),
    ("Output (a): instructions 0/4\nOutput (b): instructions 4/4", (None, "no final label line")),  # cut trace
    ("Output (b) is better because", (None, "no final label line")),
    ("   ", (None, "empty output")),
])
def test_final_label_must_be_the_last_line(raw, expected):
    assert parse_final_label(raw) == expected


def test_score_prefix_ends_right_before_the_digit():
    assert score_prefix("relevance 2/2 = 6.1\nScore: 6") == "relevance 2/2 = 6.1\nScore: "
    assert score_prefix("Score: 3\nScore: 5").endswith("Score: 3\nScore: ")  # the last one
    assert score_prefix("7") is None and score_prefix("no verdict") is None
