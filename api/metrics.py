"""Prometheus metrics of the API, in a registry per app (tests build several apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


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
