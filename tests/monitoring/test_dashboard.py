"""The Grafana dashboard: importable, on a datasource variable, built on real series.

Every panel query must select series the code exposes or the recording rules record, and
parse as PromQL: the queries are handed to `promtool check rules` as recording rules.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from monitoringkit import (
    DASHBOARD,
    exposed_series,
    load_conftest_require,
    promtool,
    recorded_series,
    run_promtool,
    selectors,
    series_names,
)

require = load_conftest_require()

# Figures the dashboard must show (issue 7), by a series each one's panel selects.
REQUIRED_SERIES = {
    "request rate": "tollgate_api_responses_total",
    "latency p50": "tollgate:api_request_seconds:p50_5m",
    "latency p95": "tollgate:api_request_seconds:p95_5m",
    "latency p99": "tollgate:api_request_seconds:p99_5m",
    "error rate": "tollgate:api_errors:ratio_rate5m",
    "availability": "tollgate:api_availability:ratio_1d",
    "freshness SLA": "tollgate:product_freshness_sla_seconds",
    "freshness compliance": "tollgate:product_freshness_within_sla:ratio_1d",
    "rate-limit refusals": "tollgate:api_rate_limit_refusals:rate5m",
    "cache hit ratio": "tollgate:api_cache_hit:ratio_rate5m",
    "SSE connections": "tollgate_api_sse_connections",
    "events in": "tollgate:stream_events_in:rate5m",
    "quarantined by reason": "tollgate_stream_quarantined_total",
    "late events": "tollgate_stream_late_total",
    "processed per product": "tollgate:stream_processed:rate5m",
    "watermark lag": "tollgate_stream_watermark_lag_seconds",
}
# Grafana's own variables, replaced by what Grafana would put there.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def _query_panels(dashboard: dict) -> list[dict]:
    return [panel for panel in dashboard["panels"] if panel["type"] != "row"]


def _exprs(dashboard: dict) -> list[str]:
    return [t["expr"] for panel in _query_panels(dashboard) for t in panel["targets"]]


def test_dashboard_uses_a_datasource_variable(dashboard: dict) -> None:
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in _query_panels(dashboard):
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"])


def test_panels_are_laid_out_with_unique_ids(dashboard: dict) -> None:
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        box = panel["gridPos"]
        assert box["x"] + box["w"] <= 24 and box["h"] > 0, panel["title"]


def test_every_query_selects_series_that_exist(dashboard: dict) -> None:
    exposed = exposed_series()
    known = set(exposed) | recorded_series()
    for panel in _query_panels(dashboard):
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            if target["expr"].startswith("vector("):
                continue  # a constant SLA line drawn beside the figure
            names = series_names(target["expr"])
            assert names, f"{panel['title']}: {target['expr']} selects nothing of Tollgate's"
            assert names <= known, f"{panel['title']}: unknown {names - known}"
            for name, labels in selectors(target["expr"]):
                if name in exposed:
                    assert labels <= exposed[name], f"{panel['title']}: {name} lacks {labels}"


def test_dashboard_shows_every_sla_figure(dashboard: dict) -> None:
    selected = set().union(*(series_names(expr) for expr in _exprs(dashboard)))
    missing = {figure for figure, series in REQUIRED_SERIES.items() if series not in selected}
    assert missing == set()


def test_every_query_is_valid_promql(dashboard: dict, tmp_path: Path) -> None:
    require(promtool() is not None, "promtool is not installed (Debian package `prometheus`)")
    rules = []
    for number, expr in enumerate(_exprs(dashboard)):
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, f"unknown Grafana variable in {expr}"
        rules.append({"record": f"dashboard:query_{number}", "expr": expr})
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run_promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
