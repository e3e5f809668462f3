"""The request log behind the SLA report: one row per answered /v1 request.

The edge (`api.edge`) only appends to memory when the response starts; a background task
writes the pending rows in one insert per second (and once more on shutdown), so the
metadata database is never on the request path. Freshness comes from the response's
`X-Data-Freshness` header (whole seconds since the product's watermark), which every
product delivery sets.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time

from sqlalchemy import Engine, insert

from tollgate.catalog import Catalog
from tollgate.clock import utcnow
from tollgate.db.bulk import BulkInsert
from tollgate.db.ops_models import RequestLogEntry

FLUSH_SECONDS = 1.0
# Rows per transaction: small, as the writes run on a thread of the API process and hold
# the interpreter (and so the event loop) while they run (see tollgate.db.bulk).
BATCH_ROWS = 64
_COLUMNS = [c.name for c in RequestLogEntry.__table__.columns if c.name != "id"]
_INSERT = BulkInsert(insert(RequestLogEntry.__table__), _COLUMNS)
# Bounded memory if the database is down for long: the oldest rows go first.
MAX_PENDING = 200_000
LOGGED_PREFIX = "/v1/"


class RequestLog:
    def __init__(self, engine: Engine, catalog: Catalog):
        self.engine = engine
        self.sla_seconds = {p.id: p.freshness_sla_seconds for p in catalog.products}
        self._pending: collections.deque[dict] = collections.deque(maxlen=MAX_PENDING)

    def record(
        self,
        tenant_id: str | None,
        product_id: str | None,
        route: str,
        status: int,
        latency_ms: float,
        freshness_seconds: float | None,
    ) -> None:
        sla = self.sla_seconds.get(product_id) if product_id else None
        # The header holds whole seconds: floor(f) < sla exactly when f < sla (SLAs are whole).
        within = None if freshness_seconds is None or sla is None else freshness_seconds < sla
        self._pending.append(
            {
                "occurred_at": utcnow(),
                "tenant_id": tenant_id,
                "product_id": product_id,
                "route": route,
                "status": status,
                "latency_ms": latency_ms,
                "freshness_seconds": freshness_seconds,
                "within_sla": within,
            }
        )

    def flush(self) -> int:
        """Write the pending rows, a batch per transaction; returns how many were written."""
        written, due = 0, len(self._pending)  # rows recorded meanwhile wait for the next
        while written < due and self._pending:
            if written:
                time.sleep(0)  # the event loop's turn: this runs on a thread of the API
            take = min(BATCH_ROWS, due - written, len(self._pending))
            rows = [self._pending.popleft() for _ in range(take)]
            try:
                with self.engine.begin() as conn:
                    _INSERT(conn, rows)
            except Exception:
                self._pending.extendleft(reversed(rows))  # for the next flush
                raise
            written += len(rows)
        return written

    async def run(self) -> None:
        try:
            while True:
                await asyncio.sleep(FLUSH_SECONDS)
                with contextlib.suppress(Exception):  # a busy database: retry next second
                    await asyncio.to_thread(self.flush)
        finally:
            with contextlib.suppress(Exception):
                self.flush()
