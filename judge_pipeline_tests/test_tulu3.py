"""Tulu 3 record conversion (the paper's pairs), on generated records: no hub access."""

import pytest

from judge_pipeline.sources.tulu3 import Tulu3FormatError, tulu3_rows


def _rec(i, user="What is 2+2?", a="4", b="5", extra=()):
    conv = lambda r: [{"role": "user", "content": user}, *extra, {"role": "assistant", "content": r}]  # noqa: E731
    return {"id": f"r{i}", "prompt": user, "chosen": conv(a), "rejected": conv(b)}


def test_single_turn_pairs_become_rows():
    rows = tulu3_rows([_rec(0), _rec(1, user="Name a color.", a="Blue.", b="I won't.")])
    assert rows[1] == {"prompt_id": "tulu3-r1", "prompt": "Name a color.", "response_a": "Blue.",
                       "response_b": "I won't.", "instruction_ids": [], "kwargs": []}


def test_multi_turn_pairs_are_skipped():
    multi = _rec(2, extra=({"role": "assistant", "content": "?"}, {"role": "user", "content": "again"}))
    assert tulu3_rows([multi, _rec(3)])[0]["prompt_id"] == "tulu3-r3"
    assert len(tulu3_rows([multi], single_turn_only=False)) == 1


@pytest.mark.parametrize("broken,message", [
    ({"id": "x", "chosen": [], "rejected": []}, "expected a list of messages"),
    ({"id": "x", "chosen": [{"role": "user", "content": "hi"}], "rejected": [{"role": "user", "content": "hi"}]},
     "last message is not an assistant turn"),
    ({"id": "x", "chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]},
     "no user turn"),
])
def test_malformed_records_name_the_record(broken, message):
    with pytest.raises(Tulu3FormatError, match=rf"record 0 \(id x\).*{message}"):
        tulu3_rows([broken])
