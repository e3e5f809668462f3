"""The Data API: `uvicorn api.main:app`, or `create_app(settings)` in tests."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from api import metering
from api.docs import DocsPolicyMiddleware
from api.edge import EdgeMiddleware
from api.errors import install_error_handlers
from api.exportworker import ExportWorker
from api.idempotency import purge_expired_keys
from api.lookup import LookupLane
from api.portal import install as install_portal
from api.requestlog import RequestLog
from api.routes import (
    batch,
    contracts,
    exports,
    invoices,
    live,
    oauth,
    ops,
    products,
    sharing,
    sharing_files,
    sla,
    stream,
    usage,
    webhooks,
)
from api.services import Services
from tollgate.db.migrate import upgrade
from tollgate.settings import Settings, get_settings

DESCRIPTION = """Tollgate's buyer API: the catalog, live lookups and push, batch queries.

Authenticate with `Authorization: Bearer <API key or access token>`. Every response carries
`RateLimit-Limit/Remaining/Reset`; product responses carry `X-API-Version`,
`X-Data-Freshness` (seconds since the product's watermark) and `X-Cache`. Errors are
`{"error": {"code", "message", "details"}}`.
"""


GC_THRESHOLDS = (10_000, 10, 10)


def _prepare_stores(services: Services) -> None:
    # Concurrent first starts may race on the migration; the loser retries once.
    for attempt in range(2):
        try:
            upgrade(services.settings.metadata_db_url)
            services.live_store.create_all(services.live_engine)
            return
        except Exception:
            if attempt:
                raise
            time.sleep(1.0)


def create_app(settings: Settings | None = None, *, prepare_stores: bool = True) -> FastAPI:
    settings = settings or get_settings()
    services = Services.build(settings)
    worker = ExportWorker(settings.metadata_db_url, services.batch.lake, services.catalog)
    request_log = RequestLog(services.metadata_engine, services.catalog)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if prepare_stores:
            await asyncio.to_thread(_prepare_stores, services)
        # The ledger replays spills of an earlier run; the worker resumes unfinished exports.
        await asyncio.to_thread(metering.start_metering, settings, services.catalog)
        worker.start()
        tasks = [
            asyncio.create_task(services.watcher.run()),
            asyncio.create_task(services.stream_guard.run()),
            asyncio.create_task(services.connections.run()),
            asyncio.create_task(services.last_used.run()),
            asyncio.create_task(request_log.run()),
            asyncio.create_task(purge_expired_keys(services.idempotency)),
            asyncio.create_task(services.alerts.run()),
        ]
        # Startup objects live for the whole process: keep full collections from rescanning
        # them, which would otherwise stall every open push stream at once.
        gc.freeze()
        # A larger young generation (default 700) and fewer full collections: with 1,000
        # open push streams a full collection took 70-110 ms and set the push lag's p99
        # (bench/api.py: 114-142 ms before, 56-60 ms after).
        previous_thresholds = gc.get_threshold()
        gc.set_threshold(*GC_THRESHOLDS)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            worker.stop()
            # Uvicorn runs this on SIGTERM too: every recorded delivery is written or spilled.
            await asyncio.to_thread(metering.stop_metering)
            services.dispose()
            gc.set_threshold(*previous_thresholds)
            gc.unfreeze()

    # /docs and /redoc with their scripts and styles served from the package, never a CDN.
    app = FastAPIOffline(
        title="Tollgate Data API",
        version=services.catalog.api_version,
        description=DESCRIPTION,
        lifespan=lifespan,
        # A trailing-slash redirect would be built from the Host header (an open redirect).
        redirect_slashes=False,
        # The API's metrics are Prometheus' (api.metrics); FastAPI's OpenTelemetry hooks,
        # unconfigured here, still looked up the global providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.services = services
    app.state.export_worker = worker
    app.state.request_log = request_log
    install_error_handlers(app)
    routers = (
        ops.router,
        oauth.router,
        products.router,
        stream.router,
        live.router,
        batch.router,
        exports.router,
        sharing.router,
        sharing_files.router,
        usage.router,
        sla.router,
        invoices.router,
        contracts.subscriptions,
        contracts.purchases,
        webhooks.router,
    )
    # The edge hands the metered lookup's common requests to its lean path.
    lane = LookupLane(services, routers)
    app.add_middleware(EdgeMiddleware, metrics=services.metrics, log=request_log, lane=lane)
    app.add_middleware(DocsPolicyMiddleware)
    for router in routers:
        app.include_router(router)
    install_portal(app)
    return app


def __getattr__(name: str) -> FastAPI:
    # `uvicorn api.main:app` builds the app on first access, not on every import.
    if name == "app":
        globals()["app"] = create_app()
        return globals()["app"]
    raise AttributeError(name)
