"""One settings object for every lane: embedded defaults, `TOLLGATE_*` overrides.

With no configuration everything lives under `./.tollgate`: SQLite for metadata and the
live store, DuckDB for the warehouse, Parquet files for the lake. Point the URLs at
PostgreSQL, Kafka and Redis to run the same code at scale.
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SIGNING_SECRET_FILE = "signing.key"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TOLLGATE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Path(".tollgate")
    catalog_path: Path = Path(__file__).resolve().parent.parent / "catalog.yaml"

    # Stores; empty means "embedded default under data_dir".
    metadata_db_url: str = ""
    live_store_url: str = ""
    warehouse_path: Path | None = None
    lake_dir: Path | None = None
    exports_dir: Path | None = None
    recovery_dir: Path | None = None

    # Event streams: unset brokers means the synthetic source and no Kafka sink.
    kafka_brokers: str | None = None
    kafka_input_topic: str = "customer-behavior-events-v2"
    kafka_output_topic: str = "transaction-insights-enriched-v1"
    kafka_group_id: str = "tollgate-live"

    # Shared rate limits and caches across API replicas; unset means in-memory.
    redis_url: str | None = None

    # Secret for JWTs and signed download URLs; generated into data_dir when unset.
    signing_secret: SecretStr | None = None
    jwt_issuer: str = "tollgate"
    jwt_audience: str = "tollgate-api"
    jwt_ttl_seconds: int = Field(default=900, gt=0)

    # The API's address as buyers reach it (Delta Sharing profiles name it); unset means
    # http://<api_host>:<api_port>, or the address a request came to.
    public_url: str | None = None
    # How long a Delta Sharing file URL works after the query that issued it.
    sharing_url_ttl_seconds: int = Field(default=900, gt=0)

    # Usage alerts by webhook (tollgate.webhooks). Receivers on private, loopback or
    # link-local addresses are refused unless inside one of these networks (CIDRs).
    webhook_private_networks: list[str] = []
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    # Seconds between attempts after a failure (Standard Webhooks' example schedule); after
    # the last, the delivery is given up and marked failed.
    webhook_retry_seconds: list[float] = [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]

    # Processes started by `make demo`.
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    dagster_port: int = 3000
    stream_metrics_port: int = 9108
    synthetic_rate: float = Field(default=200.0, gt=0, description="live events per second")
    seed: int = 7

    # Cost of serving, per the seed's cost model.
    cost_per_gb_transferred_usd: float = 0.09
    cost_per_api_call_usd: float = 0.0001
    cost_per_compute_second_usd: float = 0.00005
    cost_per_gb_month_stored_usd: float = 0.023
    cost_alert_ratio: float = 0.7

    @model_validator(mode="after")
    def _fill_embedded_defaults(self) -> Settings:
        d = self.data_dir
        if not self.metadata_db_url:
            self.metadata_db_url = f"sqlite:///{(d / 'metadata.db').as_posix()}"
        if not self.live_store_url:
            self.live_store_url = f"sqlite:///{(d / 'live.db').as_posix()}"
        self.warehouse_path = self.warehouse_path or d / "warehouse.duckdb"
        self.lake_dir = self.lake_dir or d / "lake"
        self.exports_dir = self.exports_dir or d / "exports"
        self.recovery_dir = self.recovery_dir or d / "recovery"
        return self

    @property
    def kafka_enabled(self) -> bool:
        return bool(self.kafka_brokers)

    def secret(self) -> str:
        """The signing secret: configured, or generated once and kept in the data directory."""
        if self.signing_secret is not None:
            return self.signing_secret.get_secret_value()
        return _load_or_create_secret(self.data_dir / SIGNING_SECRET_FILE)


def _load_or_create_secret(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(48))
    # link() fails if the file exists: when two processes start at once, one secret wins.
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests build their own `Settings(data_dir=...)` instead."""
    return Settings()
