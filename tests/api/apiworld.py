"""Test helpers for the API: a `World` that writes what other lanes would, and row factories."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from tollgate.catalog import load_catalog
from tollgate.clock import utcnow
from tollgate.contracts import create_purchase, create_subscription
from tollgate.db.engine import make_engine
from tollgate.db.models import ApiKey, OAuthClient, ProductStatus, Tenant
from tollgate.keys import new_api_key, new_client_secret
from tollgate.lake import SNAPSHOT_DATA_FILE, SNAPSHOT_MANIFEST_FILE, Lake
from tollgate.livestore import LiveStore, upsert
from tollgate.manifest import SnapshotManifest, newest_data_time
from tollgate.settings import Settings


class World:
    """Writes what the other lanes and the seller's tools would: tenants, rows, snapshots."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.catalog = load_catalog(settings.catalog_path)
        self.meta = make_engine(settings.metadata_db_url)
        self.live = make_engine(settings.live_store_url)
        self.store = LiveStore(self.catalog)
        self.store.create_all(self.live)
        self.lake = Lake.from_settings(settings)

    # -- tenants and credentials -----------------------------------------------------
    def tenant(
        self,
        tier: str = "standard",
        regions: list[str] | None = None,
        status: str = "active",
        tier_since: datetime | None = None,
    ) -> tuple[str, str]:
        """A tenant and one API key for it: (tenant id, plaintext key)."""
        tenant_id = f"t-{uuid.uuid4().hex[:8]}"
        with self.meta.begin() as conn:
            conn.execute(
                Tenant.__table__.insert().values(
                    id=tenant_id,
                    name=tenant_id,
                    tier=tier,
                    status=status,
                    allowed_regions=regions,
                    tier_since=tier_since or utcnow(),
                    created_at=utcnow(),
                    updated_at=utcnow(),
                )
            )
        return tenant_id, self.key(tenant_id)

    def subscribe(self, tenant_id: str, product_id: str = "region-activity") -> str:
        """A subscription from now on, as the seller records it; returns its id."""
        with Session(self.meta, expire_on_commit=False) as session:
            return create_subscription(session, tenant_id, product_id, catalog=self.catalog).id

    def purchase(
        self, tenant_id: str, product_id: str = "market-trends", at: datetime | None = None
    ) -> str:
        """A one-time purchase made at `at` (default now); returns its id."""
        with Session(self.meta, expire_on_commit=False) as session:
            bought, _ = create_purchase(
                session, tenant_id, product_id, catalog=self.catalog, now=at
            )
            return bought.id

    def key(self, tenant_id: str, expires_at: datetime | None = None) -> str:
        key = new_api_key()
        with self.meta.begin() as conn:
            conn.execute(
                ApiKey.__table__.insert().values(
                    key_id=key.key_id,
                    tenant_id=tenant_id,
                    name="test",
                    secret_hash=key.secret_hash,
                    created_at=utcnow(),
                    expires_at=expires_at,
                )
            )
        return key.plaintext

    def revoke(self, plaintext: str) -> None:
        key_id = plaintext.split("_")[1]
        with self.meta.begin() as conn:
            conn.execute(update(ApiKey).where(ApiKey.key_id == key_id).values(revoked_at=utcnow()))

    def set_tenant_status(self, tenant_id: str, status: str) -> None:
        with self.meta.begin() as conn:
            conn.execute(update(Tenant).where(Tenant.id == tenant_id).values(status=status))

    def oauth_client(self, tenant_id: str) -> tuple[str, str]:
        client_id = f"tgc_{uuid.uuid4().hex[:12]}"
        secret, secret_hash = new_client_secret()
        with self.meta.begin() as conn:
            conn.execute(
                OAuthClient.__table__.insert().values(
                    client_id=client_id,
                    tenant_id=tenant_id,
                    secret_hash=secret_hash,
                    created_at=utcnow(),
                )
            )
        return client_id, secret

    def product_status(
        self,
        product_id: str,
        status: str,
        reason: str | None = None,
        current_version: str | None = None,
        failed_version: str | None = None,
    ) -> None:
        with self.meta.begin() as conn:
            conn.execute(delete(ProductStatus).where(ProductStatus.product_id == product_id))
            conn.execute(
                ProductStatus.__table__.insert().values(
                    product_id=product_id,
                    status=status,
                    reason=reason,
                    current_version=current_version,
                    failed_version=failed_version,
                    checked_at=utcnow(),
                )
            )

    # -- live store --------------------------------------------------------------------
    def live_rows(self, product_id: str, rows: list[dict[str, Any]]) -> None:
        with self.live.begin() as conn:
            upsert(conn, self.store.table(product_id), rows)

    def watermark(self, product_id: str, at: datetime) -> None:
        with self.live.begin() as conn:
            upsert(
                conn,
                self.store.watermarks,
                [{"product_id": product_id, "watermark_at": at, "processed_at": utcnow()}],
            )

    # -- published snapshots -----------------------------------------------------------
    def snapshot(
        self,
        product_id: str,
        rows: list[dict[str, Any]],
        publish: bool = True,
        built_at: datetime | None = None,
        schema_version: str | None = None,
    ) -> str:
        """Publish `rows` as the next version, as the batch lane would: the manifest's
        watermark is the rows' newest time, capped at `built_at` (two hours ago). The rows
        are in `schema_version` (default: the product's current one)."""
        product = self.catalog.product(product_id)
        version = self.lake.next_snapshot_version(product_id)
        target = self.lake.snapshot_dir(product_id, version)
        target.mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(rows), target / SNAPSHOT_DATA_FILE)
        built_at = built_at or utcnow() - timedelta(hours=2)
        newest = max((r[product.time_column] for r in rows), default=None)
        manifest = SnapshotManifest(
            product_id=product_id,
            version=version,
            schema_version=schema_version or product.schema_version.version,
            row_count=len(rows),
            checksum="test",
            source_partitions=[],
            quality={"passed": True, "checks": {}},
            created_at=built_at,
            watermark_at=newest_data_time(newest, built_at),
            columns=[
                {"name": c.name, "type": product.column(c.stored).type}
                for c in product.shapes()[schema_version or product.schema_version.version].columns
            ],
        )
        (target / SNAPSHOT_MANIFEST_FILE).write_text(manifest.to_json())
        if publish:
            self.lake.set_current(product_id, version)
        return version


def risk_row(i: int, region: str = "EU", at: datetime | None = None) -> dict[str, Any]:
    at = at or datetime(2026, 11, 24, 7, 0, tzinfo=UTC) + timedelta(seconds=i)
    return {
        "transaction_id": f"tx-{i:05d}",
        "customer_id": f"c-{i % 7:04d}",
        "region": region,
        "event_at": at,
        "processed_at": at + timedelta(milliseconds=300),
        "amount_cents": 1000 + i,
        "merchant_category": "books",
        "fraud_score": 0.25,
        "risk_level": "low",
        "risk_reasons": "",
    }


def behavior_row(i: int, region: str = "EU", day: int = 1) -> dict[str, Any]:
    from datetime import date

    activity = date(2026, 11, day)
    return {
        "customer_day_id": f"c-{i:04d}@{activity.isoformat()}",
        "customer_id": f"c-{i:04d}",
        "activity_date": activity,
        "region": region,
        "sessions": 1 + i % 3,
        "page_views": 10 + i,
        "searches": i % 5,
        "add_to_carts": i % 2,
        "purchases": i % 3,
        "spend_cents": 500 * (i % 3),
        "conversion_rate": 0.5,
    }


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_api(
    settings: Settings, port: int, env: dict[str, str | None], log_level: str = "warning"
) -> subprocess.Popen:
    """A real API process (uvicorn) over `settings`' data dir and catalog on `port`; `env`
    sets variables, or removes those given as None."""
    full = {
        **os.environ,
        "TOLLGATE_DATA_DIR": str(settings.data_dir),
        "TOLLGATE_CATALOG_PATH": str(settings.catalog_path),
    }
    for name, value in env.items():
        if value is None:
            full.pop(name, None)
        else:
            full[name] = value
    return subprocess.Popen(
        [sys.executable, "-m", "api", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", log_level],
        env=full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def wait_ready(base: str, proc: subprocess.Popen) -> None:
    """Until the process at `base` answers /readyz; fails with its stderr if it exits."""
    deadline = time.monotonic() + 120  # a loaded CI machine takes its time importing
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"API process exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("API process did not become ready")
