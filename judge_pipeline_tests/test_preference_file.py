"""User preference files: a malformed file is an error naming the file and line."""

import json

import polars as pl
import pytest

from judge_pipeline.metrics.pairwise import TIE
from judge_pipeline.sources.preference_file import PreferenceFileError, annotator_labels, load_preference_file

GOOD = {"prompt": "p", "response_a": "a", "response_b": "b", "label": 1}


def _write(tmp_path, lines):
    path = tmp_path / "prefs.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_good_file_loads(tmp_path):
    rows = load_preference_file(_write(tmp_path, [json.dumps(GOOD), json.dumps({**GOOD, "label": "2"})]))
    assert [r["label"] for r in rows] == [1, 2]


@pytest.mark.parametrize("bad_line,message", [
    ('{"prompt": "p", "response_a": "a"', "invalid JSON"),
    (json.dumps({**GOOD, "label": 3}), "label must be 1 or 2"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "response_b"}), "missing field(s) response_b"),
    (json.dumps({**GOOD, "prompt": 5}), "field 'prompt' must be a string"),
    (json.dumps([1, 2]), "expected a JSON object"),
    (json.dumps({**GOOD, "annotator_labels": [1, 7]}), "annotator_labels"),
])
def test_bad_line_is_named(tmp_path, bad_line, message):
    path = _write(tmp_path, [json.dumps(GOOD), "", bad_line])
    with pytest.raises(PreferenceFileError) as exc:
        load_preference_file(path)
    assert f"{path}:3" in str(exc.value) and message in str(exc.value)


def test_parquet_rows_are_named(tmp_path):
    path = tmp_path / "prefs.parquet"
    pl.DataFrame([GOOD, {**GOOD, "label": 3}]).write_parquet(path)
    with pytest.raises(PreferenceFileError, match=r"prefs.parquet: row 2: label must be 1 or 2"):
        load_preference_file(path)


def test_missing_empty_and_unknown_format(tmp_path):
    with pytest.raises(PreferenceFileError, match="no such file"):
        load_preference_file(tmp_path / "nope.jsonl")
    with pytest.raises(PreferenceFileError, match="no rows"):
        load_preference_file(_write(tmp_path, [""]))
    (tmp_path / "x.csv").write_text("a,b")
    with pytest.raises(PreferenceFileError, match="unsupported format"):
        load_preference_file(tmp_path / "x.csv")


@pytest.mark.parametrize("label", [0, "0", "tie", "TIE", " Tie "])
def test_ties_load_as_tie(tmp_path, label):
    rows = load_preference_file(_write(tmp_path, [json.dumps({**GOOD, "label": label}), json.dumps(GOOD)]))
    assert [r["label"] for r in rows] == [TIE, 1]


def test_annotator_ties_are_a_label_and_null_is_unusable(tmp_path):
    rows = load_preference_file(_write(tmp_path, [json.dumps({**GOOD, "annotator_labels": [1, 0, "tie", None, "2"]})]))
    assert annotator_labels(rows) == [[1, TIE, TIE, None, 2]]


def test_parquet_ties(tmp_path):
    path = tmp_path / "prefs.parquet"
    pl.DataFrame([{**GOOD, "label": "tie"}, {**GOOD, "label": "2"}]).write_parquet(path)
    assert [r["label"] for r in load_preference_file(path)] == [TIE, 2]
