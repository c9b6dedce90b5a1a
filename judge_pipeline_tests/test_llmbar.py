"""LLMBar / MT-Bench loader: counts on the shipped data, errors naming the file, sampling."""

import json
from collections import Counter

import pytest

from judge_pipeline.sources.llmbar import LLMBAR_DIR, SUBSETS, LLMBarError, load_llmbar, pair_id, sample_pairs
from judge_pipeline.sources.preference_file import PreferenceFileError, annotator_labels, load_preference_file

ENTRY = {"input": "p", "output_1": "a", "output_2": "b", "label": 1}


def test_shipped_counts_and_sources():
    natural = load_llmbar(LLMBAR_DIR, "natural")
    assert len(natural) == 100
    assert Counter(r["label"] for r in natural) == {1: 42, 2: 58}
    adversarial = load_llmbar(LLMBAR_DIR, "adversarial")
    assert Counter(r["source"] for r in adversarial) == {
        "llmbar_adversarial_neighbor": 134, "llmbar_adversarial_gptinst": 92,
        "llmbar_adversarial_gptout": 47, "llmbar_adversarial_manual": 46}
    assert len(adversarial) == 319 and Counter(r["label"] for r in adversarial) == {1: 164, 2: 155}
    mtbench = load_llmbar(LLMBAR_DIR, "mtbench")
    assert len(mtbench) == 200 and Counter(r["label"] for r in mtbench) == {1: 101, 2: 99}
    assert {r["source"] for r in natural} == {"llmbar_natural"} and {r["source"] for r in mtbench} == {"mtbench_human"}
    # the shipped MT-Bench file holds only the majority label
    assert not any("annotator_labels" in r for r in mtbench)


def test_row_format_and_pair_id():
    rows = load_llmbar(subset="natural")  # default root
    r = rows[0]
    assert set(r) == {"prompt", "response_a", "response_b", "label", "source", "pair_id"}
    assert r["pair_id"] == pair_id(r["prompt"], r["response_a"], r["response_b"])
    assert len({x["pair_id"] for x in rows}) == len(rows)
    assert load_llmbar(subset="natural")[0]["pair_id"] == r["pair_id"]  # stable
    assert pair_id("p", "a", "b") != pair_id("p", "b", "a")


def _write(tmp_path, rel, content):
    path = tmp_path / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_small_file_with_annotator_labels(tmp_path):
    _write(tmp_path, SUBSETS["mtbench"][0][1],
           [{**ENTRY, "label": "2", "annotator_labels": [2, None, 2]}, {**ENTRY, "input": "q"}])
    rows = load_llmbar(tmp_path, "mtbench")
    assert [r["label"] for r in rows] == [2, 1]
    assert annotator_labels(rows) == [[2, None, 2], []]


@pytest.mark.parametrize("content,message", [
    ('[{"input": "p"', "invalid JSON"),
    ({"input": "p"}, "expected a JSON list"),
    ([], "no rows"),
    ([ENTRY, [1, 2]], r"entry \[1\]: expected a JSON object"),
    ([ENTRY, {k: v for k, v in ENTRY.items() if k != "output_2"}], r"entry \[1\]: missing field\(s\) output_2"),
    ([{**ENTRY, "label": 3}], r"entry \[0\]: label must be 1 or 2"),
    ([{**ENTRY, "label": True}], "label must be 1 or 2"),
    ([{**ENTRY, "input": 5}], "field 'input' must be a string"),
    ([{**ENTRY, "annotator_labels": [1, 0]}], "annotator_labels"),
    ([ENTRY, ENTRY], r"entry \[1\] repeats .*entry \[0\]"),
])
def test_malformed_file_is_named(tmp_path, content, message):
    path = _write(tmp_path, SUBSETS["natural"][0][1], content)
    with pytest.raises(LLMBarError, match=message) as exc:
        load_llmbar(tmp_path, "natural")
    assert str(path) in str(exc.value)
    assert isinstance(exc.value, PreferenceFileError) and isinstance(exc.value, ValueError)


def test_missing_adversarial_subfolder_is_named(tmp_path):
    for source, rel in SUBSETS["adversarial"][:3]:
        _write(tmp_path, rel, [{**ENTRY, "input": source}])
    missing = tmp_path / SUBSETS["adversarial"][3][1]
    with pytest.raises(LLMBarError, match="no such file") as exc:
        load_llmbar(tmp_path, "adversarial")
    assert str(missing) in str(exc.value)
    with pytest.raises(ValueError, match="unknown LLMBar subset"):
        load_llmbar(tmp_path, "fair_eval")


def test_duplicate_across_adversarial_files(tmp_path):
    for _, rel in SUBSETS["adversarial"]:
        _write(tmp_path, rel, [ENTRY])
    with pytest.raises(LLMBarError, match="Neighbor/dataset.json: entry \\[0\\]") as exc:
        load_llmbar(tmp_path, "adversarial")
    assert "GPTInst/dataset.json: entry [0] repeats" in str(exc.value)


def _rows(n1, n2):
    return [{"prompt": f"p{i}", "response_a": "a", "response_b": "b", "label": 1 if i < n1 else 2}
            for i in range(n1 + n2)]


def test_sample_pairs_balance_and_determinism():
    natural = load_llmbar(subset="natural")  # 42 x label 1, 58 x label 2
    s = sample_pairs(natural, 24, seed=0)
    assert len(s) == 24 and Counter(r["label"] for r in s) == {1: 10, 2: 14}  # 10.08 / 13.92
    assert s == sample_pairs(natural, 24, seed=0)
    assert s == sample_pairs(list(reversed(natural)), 24, seed=0)[::-1]  # content, not order, decides
    assert [r["pair_id"] for r in s] != [r["pair_id"] for r in sample_pairs(natural, 24, seed=1)]
    idx = [natural.index(r) for r in s]
    assert idx == sorted(idx)  # input order kept
    # exact split: largest remainder; a tie in the remainder goes to label 1
    assert Counter(r["label"] for r in sample_pairs(_rows(5, 5), 3, 0)) == {1: 2, 2: 1}
    assert Counter(r["label"] for r in sample_pairs(_rows(1, 9), 5, 0)) == {1: 1, 2: 4}  # 0.5 / 4.5
    assert Counter(r["label"] for r in sample_pairs(_rows(2, 8), 4, 0)) == {1: 1, 2: 3}  # 0.8 / 3.2


def test_sample_pairs_edges():
    rows = _rows(3, 3)
    assert sample_pairs(rows, 10, 0) == rows and sample_pairs(rows, 6, 0) == rows
    assert sample_pairs(rows, 0, 0) == []
    assert sample_pairs([], 5, 0) == []
    with pytest.raises(ValueError, match=">= 0"):
        sample_pairs(rows, -1, 0)


def test_preference_file_annotator_labels_allow_ties(tmp_path):
    path = tmp_path / "prefs.jsonl"
    good = {"prompt": "p", "response_a": "a", "response_b": "b", "label": 1}
    path.write_text(json.dumps({**good, "annotator_labels": [1, None, 2]}) + "\n" + json.dumps(good) + "\n")
    assert annotator_labels(load_preference_file(path)) == [[1, None, 2], []]
