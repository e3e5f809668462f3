"""Prometheus metrics of the API, in a registry per app (tests build several apps)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from tollgate.catalog import Product
from tollgate.status import ProductStatus

log = logging.getLogger("tollgate.api.metrics")
STATUSES = ("healthy", "stale", "degraded", "halted")


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "tollgate_api_request_seconds",
            "Time to the response headers, by route template, product and tier",
            ["route", "product", "tier"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        self.responses = Counter(
            "tollgate_api_responses_total",
            "Responses by route and status code",
            ["route", "status"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "tollgate_api_rate_limit_refusals_total",
            "Requests refused by the rate limit",
            ["tier"],
            registry=self.registry,
        )
        self.cache = Counter(
            "tollgate_api_cache_total",
            "Cache lookups by product and result (hit|miss)",
            ["product", "result"],
            registry=self.registry,
        )
        self.sse_connections = Gauge(
            "tollgate_api_sse_connections",
            "Open Server-Sent Events connections by product",
            ["product"],
            registry=self.registry,
        )
        self.sse_dropped = Counter(
            "tollgate_api_sse_dropped_total",
            "Subscribers closed because they fell behind",
            ["product"],
            registry=self.registry,
        )

    def watch_products(
        self, products: Iterable[Product], status_of: Callable[[Product], ProductStatus]
    ) -> None:
        """Export every product's freshness and status, decided at each scrape."""
        self.registry.register(ProductFreshness(list(products), status_of))


class ProductFreshness(Collector):
    """Each product's data age and status as the API would answer now (tollgate.status):
    measured from the watermark at scrape time, so it keeps growing while a product is not
    updated, whether or not the stream lane is up, and it covers batch products too."""

    # The series it writes, with their labels (the monitoring tests read these).
    SERIES = {
        "tollgate_product_freshness_seconds": ("product", "lane"),
        "tollgate_product_status": ("product", "lane", "status"),
    }

    def __init__(self, products: list[Product], status_of: Callable[[Product], ProductStatus]):
        self.products, self.status_of = products, status_of

    def collect(self):
        freshness = GaugeMetricFamily(
            "tollgate_product_freshness_seconds",
            "Now minus the product's watermark (the newest data time it serves)",
            labels=self.SERIES["tollgate_product_freshness_seconds"],
        )
        status = GaugeMetricFamily(
            "tollgate_product_status",
            "1 for the product's current status (healthy, stale, degraded, halted)",
            labels=self.SERIES["tollgate_product_status"],
        )
        for product in self.products:
            try:
                state = self.status_of(product)
            except Exception:  # one unreadable store must not take the other metrics down
                log.exception("status of %s unavailable for /metrics", product.id)
                continue
            if state.freshness_seconds is not None:
                freshness.add_metric([product.id, product.lane], state.freshness_seconds)
            for name in STATUSES:
                status.add_metric([product.id, product.lane, name], float(state.status == name))
        yield freshness
        yield status

    def describe(self):
        return []
