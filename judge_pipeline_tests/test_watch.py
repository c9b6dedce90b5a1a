"""Checkpoint discovery behind the sensor."""

from pathlib import Path

from judge_pipeline.watch import new_since, run_partition_of


def _ckpt(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")


def test_new_checkpoints_are_reported_once(tmp_path):
    new, cursor = new_since(tmp_path, None)
    assert new == []
    _ckpt(tmp_path / "smol__nonreasoning" / "step-5")
    _ckpt(tmp_path / "smol__nonreasoning" / "step-10.partial")  # in progress: ignored
    new, cursor = new_since(tmp_path, cursor)
    assert [Path(p).name for p in new] == ["step-5"]
    new, cursor = new_since(tmp_path, cursor)
    assert new == []


def test_partition_of_a_checkpoint(tmp_path):
    assert run_partition_of(str(tmp_path / "smol__nonreasoning" / "step-5"), tmp_path) == ("smol", "nonreasoning")
    assert run_partition_of(str(tmp_path / "smol__nonreasoning__seed3" / "step-5"), tmp_path) == ("smol", "nonreasoning")
    assert run_partition_of("/elsewhere/x", tmp_path) is None
