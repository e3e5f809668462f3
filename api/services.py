"""Everything a request may need, built once per app from the settings."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from api.alerts import UsageAlerts
from api.auth import CredentialStore
from api.batchdata import BatchReader
from api.cache import MemoryCache, RedisCache, make_cache
from api.connections import ConnectionBudget
from api.contracts import ContractStore
from api.idempotency import IdempotencyStore
from api.lastused import LastUsedRecorder
from api.livedata import LiveReader
from api.metrics import ApiMetrics
from api.ratelimit import FailedLogins, TenantRateLimits, make_storage
from api.streamguard import StreamGuard
from api.watcher import LiveWatcher
from tollgate.catalog import Catalog, Product, load_catalog
from tollgate.clock import utcnow
from tollgate.db.engine import make_engine
from tollgate.db.models import ProductStatus
from tollgate.lake import Lake
from tollgate.livestore import LiveStore
from tollgate.settings import Settings
from tollgate.sharing import SharedSnapshots
from tollgate.status import ProductStatus as ProductState
from tollgate.status import QualityVerdict, decide


@dataclass
class Services:
    settings: Settings
    catalog: Catalog
    metadata_engine: Engine
    live_engine: Engine
    live_store: LiveStore
    live: LiveReader
    batch: BatchReader
    limits: TenantRateLimits
    failed_logins: FailedLogins
    connections: ConnectionBudget
    cache: MemoryCache | RedisCache
    metrics: ApiMetrics
    last_used: LastUsedRecorder
    watcher: LiveWatcher
    credentials: CredentialStore
    contracts: ContractStore
    idempotency: IdempotencyStore
    stream_guard: StreamGuard
    sharing: SharedSnapshots
    alerts: UsageAlerts
    sse_heartbeat_seconds: float = 15.0
    # Product status and watermarks are read this often at most per process, not per
    # request: a quality verdict or a watermark reaches answers within this many seconds.
    state_ttl_seconds: float = 1.0
    _state: dict[tuple[str, str], tuple[float, object]] = field(default_factory=dict)
    _manifest_watermarks: dict[tuple[str, str], datetime | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        engines = (self.live_engine, self.metadata_engine)
        self._local_stores = all(e.dialect.name == "sqlite" for e in engines)

    @classmethod
    def build(cls, settings: Settings) -> Services:
        catalog = load_catalog(settings.catalog_path)
        metadata_engine = make_engine(settings.metadata_db_url)
        live_engine = make_engine(settings.live_store_url)
        store = LiveStore(catalog)
        live = LiveReader(live_engine, store)
        metrics = ApiMetrics()
        watcher = LiveWatcher(live, catalog)
        watcher.on_drop = lambda product_id: metrics.sse_dropped.labels(product_id).inc()
        credentials = CredentialStore(metadata_engine, settings)
        counters = make_storage(settings.redis_url, settings.data_dir / "ratelimits")
        lake = Lake.from_settings(settings)
        services = cls(
            settings=settings,
            catalog=catalog,
            metadata_engine=metadata_engine,
            live_engine=live_engine,
            live_store=store,
            live=live,
            batch=BatchReader(lake),
            limits=TenantRateLimits(catalog, counters),
            failed_logins=FailedLogins(counters),
            connections=ConnectionBudget(settings.redis_url),
            cache=make_cache(settings.redis_url),
            metrics=metrics,
            last_used=LastUsedRecorder(metadata_engine),
            watcher=watcher,
            credentials=credentials,
            contracts=ContractStore(metadata_engine, catalog),
            idempotency=IdempotencyStore(metadata_engine),
            stream_guard=StreamGuard(credentials),
            sharing=SharedSnapshots(lake),
            alerts=UsageAlerts(metadata_engine, settings, catalog),
        )
        metrics.watch_products(catalog.products, services.status)
        return services

    async def point_read(self, read: Callable[..., Any], *args: object) -> Any:
        """Run `read`, a request's few single-row reads, on the event loop when the stores are
        local SQLite files, else in a worker thread.

        A primary-key read from a local SQLite file takes tens of microseconds, and in WAL
        mode a reader never waits for the writer: less than the thread hop it would otherwise
        take. A networked database can stall, so its reads stay off the loop.
        """
        if self._local_stores:
            return read(*args)
        return await asyncio.to_thread(read, *args)

    def _recent(self, kind: str, product_id: str, load):
        now = time.monotonic()
        hit = self._state.get((kind, product_id))
        if hit is not None and hit[0] > now:
            return hit[1]
        value = load(product_id)
        self._state[(kind, product_id)] = (now + self.state_ttl_seconds, value)
        return value

    def product_status(self, product_id: str) -> QualityVerdict:
        """The quality gate's verdict; healthy when the gate has not reported yet."""
        return self._recent("status", product_id, self._load_status)

    def watermark(self, product_id: str) -> datetime | None:
        """The live product's watermark (newest event time it has accounted for)."""
        return self._recent("watermark", product_id, self.live.watermark)

    def served_version(self, product_id: str) -> str | None:
        """The batch snapshot answers come from: the last one that passed the quality gate
        while the gate refuses newer ones, else the current one."""
        quality = self.product_status(product_id)
        if quality.status == "degraded" and quality.current_version:
            return quality.current_version
        return self.batch.lake.current_version(product_id)

    def snapshot_watermark(self, product_id: str, version: str | None) -> datetime | None:
        """The newest data time in a snapshot (its manifest's); versions are immutable."""
        if version is None:
            return None
        key = (product_id, version)
        if key not in self._manifest_watermarks:
            try:
                manifest = self.batch.lake.read_manifest(product_id, version)
            except FileNotFoundError:  # a version named by a stale status row, since removed
                return None
            self._manifest_watermarks[key] = manifest.watermark_at
        return self._manifest_watermarks[key]

    def data_watermark(self, product: Product, version: str | None = None) -> datetime | None:
        """The product's watermark now: the live store's, or the served snapshot's newest
        data time (of `version` when given)."""
        if product.lane == "live":
            return self.watermark(product.id)
        return self.snapshot_watermark(product.id, version or self.served_version(product.id))

    def status(self, product: Product, version: str | None = None) -> ProductState:
        """The product's status decided now from its watermark, its SLA and its quality
        verdict, whether or not the batch lane's scheduler is running."""
        watermark = self.data_watermark(product, version)
        return decide(product, watermark, utcnow(), self.product_status(product.id))

    def _load_status(self, product_id: str) -> QualityVerdict:
        t = ProductStatus.__table__
        with self.metadata_engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.product_id == product_id)).first()
        if row is None:
            return QualityVerdict()
        return QualityVerdict(row.status, row.reason, row.current_version, row.failed_version)

    def dispose(self) -> None:
        self.alerts.close()
        self.limits.close()
        self.connections.close()
        self.metadata_engine.dispose()
        self.live.close()
        self.live_engine.dispose()
