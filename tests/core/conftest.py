"""Fixtures of the core tests: the environment a `tollgate` command runs in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli_env(monkeypatch, tmp_path) -> dict[str, str]:
    """Settings of a fresh data directory under `tmp_path`, set in the environment and
    returned (for `CliRunner(env=...)` and subprocesses). None of the caller's own TOLLGATE_*
    variables stay, and `tmp_path` is the working directory, so no `.env` file is read."""
    for name in list(os.environ):
        if name.startswith("TOLLGATE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    env = {
        "TOLLGATE_DATA_DIR": str(tmp_path / "data"),
        "TOLLGATE_CATALOG_PATH": str(ROOT / "catalog.yaml"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env
