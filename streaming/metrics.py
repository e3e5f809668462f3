"""Prometheus metrics of the live lane, one set per process.

Exposed with `serve_metrics(port)` (the flow module does it when the metrics port is set);
Bytewax runs every worker of a process in threads, so the counters are process-wide.
"""

from __future__ import annotations

import logging

from prometheus_client import Counter, Gauge, start_http_server

log = logging.getLogger(__name__)

EVENTS_IN = Counter("tollgate_stream_events_in_total", "Raw events read from the sources")
QUARANTINED = Counter(
    "tollgate_stream_quarantined_total", "Events rejected by the contract", ["reason"]
)
DUPLICATES = Counter("tollgate_stream_duplicates_total", "Events dropped as duplicates")
LATE = Counter("tollgate_stream_late_total", "Events later than the allowed lateness", ["product"])
PROCESSED = Counter(
    "tollgate_stream_processed_total", "Rows written to the live store", ["product"]
)
WATERMARK_LAG = Gauge(
    "tollgate_stream_watermark_lag_seconds",
    "Processing time minus the product's watermark, at its last write",
    ["product"],
)

_served: set[int] = set()


def serve_metrics(port: int) -> None:
    """Expose the metrics on `port` (0 means not at all); a busy port is logged, not fatal."""
    if port <= 0 or port in _served:
        return
    try:
        start_http_server(port)
    except OSError as exc:
        log.warning("stream metrics not served on port %s: %s", port, exc)
        return
    _served.add(port)
