"""A stream's identity: its recovery directory and the first epoch its writers number from."""

from __future__ import annotations

from pathlib import Path

from streaming.recovery import ensure_recovery_dir, first_epoch, recovery_dir_of_run


def test_the_first_epoch_is_fixed_when_the_recovery_directory_is_made(tmp_path):
    ensure_recovery_dir(tmp_path / "r")
    epoch = first_epoch(tmp_path / "r")
    ensure_recovery_dir(tmp_path / "r")  # a restart, or a second process of the cluster
    assert first_epoch(tmp_path / "r") == epoch
    assert list((tmp_path / "r").glob("part-*.sqlite3"))
    assert not list((tmp_path / "r").glob(".*.tmp"))


def test_the_recovery_directory_is_read_from_the_run_arguments(monkeypatch):
    monkeypatch.delenv("BYTEWAX_RECOVERY_DIRECTORY", raising=False)
    assert recovery_dir_of_run(["run", "flow", "-r", "/x", "-s", "1"]) == Path("/x")
    assert recovery_dir_of_run(["run", "flow", "--recovery-directory=/y"]) == Path("/y")
    assert recovery_dir_of_run(["run", "flow", "-w", "2"]) is None
    monkeypatch.setenv("BYTEWAX_RECOVERY_DIRECTORY", "/z")
    assert recovery_dir_of_run(["run", "flow"]) == Path("/z")
