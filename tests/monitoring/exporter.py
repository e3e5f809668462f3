"""A stand-in workload for the live Prometheus test: the real API and stream lane metric
objects, served the way the processes serve them, fed a steady degraded load.

    python exporter.py API_PORT STREAM_PORT

Every half second: 50 slow /v1 requests (0.7 s) and one 500, 100 events in with 10
quarantined, transaction-risk 12 s behind (SLA 5 s), region-activity 30 s (SLA 120 s); and,
as the API measures it at each scrape, customer-behavior-daily's snapshot 1 h old (SLA 26 h).
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta

from prometheus_client import start_http_server

from api.metrics import ApiMetrics
from streaming import metrics as stream
from streaming.metrics import serve_metrics
from tollgate.catalog import get_catalog
from tollgate.clock import utcnow
from tollgate.status import decide

ROUTE = "/v1/live/{product_id}"


def main(api_port: int, stream_port: int) -> None:
    api = ApiMetrics()
    behavior = get_catalog().product("customer-behavior-daily")
    api.watch_products([behavior], lambda p: decide(p, utcnow() - timedelta(hours=1), utcnow()))
    start_http_server(api_port, addr="127.0.0.1", registry=api.registry)
    serve_metrics(stream_port)
    while True:
        for _ in range(50):
            api.latency.labels(ROUTE, "transaction-risk", "pro").observe(0.7)
            api.responses.labels(ROUTE, "200").inc()
        api.responses.labels(ROUTE, "500").inc()
        stream.EVENTS_IN.inc(100)
        stream.QUARANTINED.labels("schema").inc(10)
        stream.PROCESSED.labels("transaction-risk").inc(90)
        stream.WATERMARK_LAG.labels("transaction-risk").set(12)
        stream.WATERMARK_LAG.labels("region-activity").set(30)
        time.sleep(0.5)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
