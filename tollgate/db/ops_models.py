"""Operations tables: what the API served, request by request, for the SLA report.

The request log is written off the request path in batches (api/requestlog.py) and read
per UTC day by the batch lane's SLA asset (orchestration/defs/sla.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tollgate.db.models import Base

# SQLite only auto-increments an INTEGER PRIMARY KEY; elsewhere the log outgrows 32 bits.
LOG_ID = BigInteger().with_variant(Integer, "sqlite")


class RequestLogEntry(Base):
    """One answered API request: who, what, how fast, and how fresh the data was."""

    __tablename__ = "request_log"

    id: Mapped[int] = mapped_column(LOG_ID, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    # None when the caller was never identified (a refused key, a health probe).
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    product_id: Mapped[str | None] = mapped_column(String(64))
    route: Mapped[str] = mapped_column(String(128))
    status: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    # Seconds between the product's watermark and delivery; None when nothing was delivered.
    freshness_seconds: Mapped[float | None] = mapped_column(Float)
    within_sla: Mapped[bool | None] = mapped_column()
