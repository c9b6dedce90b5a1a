"""Atomic checkpoint folders and input fingerprints."""

import pytest

from judge_pipeline.fsutil import atomic_folder, record_inputs, reuse_if_unchanged


def test_reuse_only_for_the_same_fingerprint(tmp_path):
    marker = tmp_path / "inputs.json"
    assert reuse_if_unchanged(marker, "abc") is None
    record_inputs(marker, "abc", steps=3)
    assert reuse_if_unchanged(marker, "abc") == {"fingerprint": "abc", "steps": 3}
    assert reuse_if_unchanged(marker, "xyz") is None


def test_atomic_folder_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "ckpt"
    with pytest.raises(RuntimeError):
        with atomic_folder(target) as tmp:
            (tmp.mkdir(), (tmp / "config.json").write_text("{}"))
            raise RuntimeError("crash mid-save")
    assert not target.exists()
    with atomic_folder(target) as tmp:
        tmp.mkdir()
        (tmp / "config.json").write_text("{}")
    assert (target / "config.json").exists() and not (tmp_path / "ckpt.partial").exists()
