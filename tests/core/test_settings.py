"""Settings: embedded defaults under the data dir, TOLLGATE_* overrides, the signing secret."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tollgate.settings import SIGNING_SECRET_FILE, Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No TOLLGATE_* from the caller's shell, and no .env from the working directory."""
    import os

    for name in list(os.environ):
        if name.startswith("TOLLGATE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_embedded_defaults_live_under_the_data_dir():
    s = Settings()
    assert s.data_dir == Path(".tollgate")
    assert s.metadata_db_url == "sqlite:///.tollgate/metadata.db"
    assert s.live_store_url == "sqlite:///.tollgate/live.db"
    assert s.warehouse_path == Path(".tollgate/warehouse.duckdb")
    assert s.lake_dir == Path(".tollgate/lake")
    assert s.exports_dir == Path(".tollgate/exports")
    assert s.kafka_brokers is None and not s.kafka_enabled
    assert s.redis_url is None
    assert s.signing_secret is None


def test_data_dir_override_moves_every_embedded_store(monkeypatch, tmp_path):
    monkeypatch.setenv("TOLLGATE_DATA_DIR", str(tmp_path / "elsewhere"))
    s = Settings()
    assert s.metadata_db_url == f"sqlite:///{tmp_path}/elsewhere/metadata.db"
    assert s.lake_dir == tmp_path / "elsewhere" / "lake"


def test_env_overrides_for_real_engines(monkeypatch):
    monkeypatch.setenv("TOLLGATE_METADATA_DB_URL", "postgresql+psycopg://u@db/meta")
    monkeypatch.setenv("TOLLGATE_KAFKA_BROKERS", "k1:9092,k2:9092")
    monkeypatch.setenv("TOLLGATE_REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("TOLLGATE_API_PORT", "9000")
    s = Settings()
    assert s.metadata_db_url == "postgresql+psycopg://u@db/meta"
    assert s.live_store_url == "sqlite:///.tollgate/live.db"  # untouched settings keep defaults
    assert s.kafka_enabled and s.kafka_brokers == "k1:9092,k2:9092"
    assert (s.redis_url, s.api_port) == ("redis://cache:6379/0", 9000)


def test_dotenv_file_is_read(tmp_path):
    (tmp_path / ".env").write_text("TOLLGATE_SEED=42\n")
    assert Settings().seed == 42


def test_invalid_value_is_refused(monkeypatch):
    from pydantic import ValidationError

    monkeypatch.setenv("TOLLGATE_SYNTHETIC_RATE", "-5")
    with pytest.raises(ValidationError, match="synthetic_rate"):
        Settings()


def test_signing_secret_is_generated_once_owner_only_and_stable(tmp_path):
    data = tmp_path / "data"
    first = Settings(data_dir=data).secret()
    path = data / SIGNING_SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 43  # at least 256 bits, url-safe base64
    assert Settings(data_dir=data).secret() == first
    # A different data directory is a different installation: a different secret.
    other = Settings(data_dir=tmp_path / "other").secret()
    assert other != first


def test_configured_signing_secret_wins_and_nothing_is_written(monkeypatch, tmp_path):
    monkeypatch.setenv("TOLLGATE_SIGNING_SECRET", "from-the-vault")
    s = Settings(data_dir=tmp_path / "data")
    assert s.secret() == "from-the-vault"
    assert not (tmp_path / "data" / SIGNING_SECRET_FILE).exists()
