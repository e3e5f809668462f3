"""The live lane's Prometheus metrics count what the flow saw."""

from __future__ import annotations

import socket
import urllib.request
from datetime import timedelta

from prometheus_client import REGISTRY
from streamkit import T0, payment, raw, run_collect, view

from streaming.metrics import serve_metrics


def _value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_counters_follow_input_quarantine_duplicates_and_products(settings):
    before = {
        "in": _value("tollgate_stream_events_in_total"),
        "bad": _value("tollgate_stream_quarantined_total", reason="bad_json"),
        "dup": _value("tollgate_stream_duplicates_total"),
        "risk": _value("tollgate_stream_processed_total", product="transaction-risk"),
    }
    a = payment(at=T0)
    run_collect(settings, [b"nope", *raw(a, a, view(at=T0 + timedelta(seconds=1)))])
    assert _value("tollgate_stream_events_in_total") - before["in"] == 4
    assert _value("tollgate_stream_quarantined_total", reason="bad_json") - before["bad"] == 1
    assert _value("tollgate_stream_duplicates_total") - before["dup"] == 1
    risk = _value("tollgate_stream_processed_total", product="transaction-risk")
    assert risk - before["risk"] == 1


def test_metrics_are_served_over_http():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    serve_metrics(port)
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert "tollgate_stream_events_in_total" in body
    assert "tollgate_stream_watermark_lag_seconds" in body
