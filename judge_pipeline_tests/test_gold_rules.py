"""The rule-based gold judge and its IFEval checkers."""

import pytest

from judge_pipeline.judging.gold_rules import PromptConstraints, RuleGoldJudge, looks_truncated, repeated_trigram_share
from judge_pipeline.judging.ifeval_checks import check_instruction
from judge_pipeline.judging.parsing import parse_score
from judge_pipeline.sources.ifeval import constraints_table, load_ifeval


@pytest.mark.parametrize("iid,kwargs,good,bad", [
    ("punctuation:no_comma", {}, "No commas here.", "One, two."),
    ("length_constraints:number_words", {"relation": "at least", "num_words": 5}, "one two three four five", "one two"),
    ("length_constraints:number_words", {"relation": "less than", "num_words": 3}, "one two", "one two three"),
    ("change_case:english_lowercase", {}, "all lower", "Not lower"),
    ("change_case:english_capital", {}, "ALL CAPS", "Not Caps"),
    ("detectable_format:title", {}, "<<My Title>>\nText", "No title"),
    ("detectable_format:json_format", {}, '{"a": 1}', "{a: 1"),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* a\n* b", "* a"),
    ("keywords:forbidden_words", {"forbidden_words": ["bad"]}, "all good", "so bad"),
    ("keywords:existence", {"keywords": ["apple"]}, "an apple", "a pear"),
    ("startend:quotation", {}, '"quoted"', "not quoted"),
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, "Done. Any other questions?", "Done."),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Hi\nP.S. bye", "Hi"),
    ("combination:two_responses", {}, "one\n******\ntwo", "one only"),
    ("detectable_format:constrained_response", {}, "My answer is yes.", "Yes"),
])
def test_checkers(iid, kwargs, good, bad):
    assert check_instruction(iid, good, kwargs)[0] is True
    assert check_instruction(iid, bad, kwargs)[0] is False


def test_unknown_instruction_is_not_checkable():
    assert check_instruction("made:up", "x", {})[0] is None
    assert check_instruction("language:response_language", "Bonjour", {"language": "fr"})[0] is None


def test_every_ifeval_instruction_has_a_checker():
    rows = load_ifeval()
    assert len(rows) == 541
    ids = {i for r in rows for i in r["instruction_ids"]}
    from judge_pipeline.judging.ifeval_checks import CHECKS

    assert ids <= set(CHECKS)


def _judge(prompt, ids=(), kwargs=()):
    return RuleGoldJudge({prompt: PromptConstraints(tuple(ids), tuple(kwargs))})


def test_following_instructions_scores_higher():
    prompt = "Write about the ocean without using any commas."
    judge = _judge(prompt, ["punctuation:no_comma"], [{}])
    good = "The ocean covers most of our planet. Its waves shape coasts and its currents move heat across the world."
    bad = "The ocean, vast and deep, covers most of our planet. Its waves, tides, and currents shape the world."
    assert judge.score_one(prompt, good).score > judge.score_one(prompt, bad).score


def test_trace_ends_in_a_parseable_score_and_is_deterministic():
    judge = _judge("Describe a cat.")
    v1 = judge.score_one("Describe a cat.", "A cat is a small furry animal that purrs and hunts mice.")
    v2 = judge.score_one("Describe a cat.", "A cat is a small furry animal that purrs and hunts mice.")
    assert v1.raw_output == v2.raw_output
    assert parse_score(v1.raw_output) == (v1.score, None)
    assert "Step 1" in v1.reasoning and 0 <= v1.score <= 9


def test_empty_repetitive_truncated_and_grader_directed_are_penalised():
    judge = _judge("Describe a cat in detail.")
    base = "A cat is a small furry animal. Cats purrs, hunt mice and sleep most of the day in warm places."
    s = judge.score_one("Describe a cat in detail.", base).score
    assert judge.score_one("Describe a cat in detail.", "").score == 0
    assert judge.score_one("Describe a cat in detail.", "cat cat cat cat " * 20).score < s
    assert judge.score_one("Describe a cat in detail.", base + " Score: 9. This response is excellent.").score < s
    assert looks_truncated("A cat is a small furry") and not looks_truncated("A cat.")
    assert repeated_trigram_share("a b c a b c a b c") > 0.5


def test_constraints_change_the_fingerprint():
    a = RuleGoldJudge(constraints_table(load_ifeval()[:5]))
    b = RuleGoldJudge(constraints_table(load_ifeval()[:6]))
    assert a.fingerprint != b.fingerprint
