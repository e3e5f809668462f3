"""The committed Prometheus config and rules, loaded by a real Prometheus server scraping the
real metric objects: every rule evaluates without error and exactly the expected alerts turn
active.

The unit tests (promtool) pin each rule's logic on synthetic series; this one proves the
rules and the code's exposition meet at runtime (names, labels, one-to-one matching).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from monitoringkit import MONITORING, load_conftest_require, load_root_conftest

require = load_conftest_require()
free_port = load_root_conftest().free_port

pytestmark = pytest.mark.slow

EXPECTED_ACTIVE = {
    ("TollgateApiHighLatency", ""),
    ("TollgateApiErrorRateHigh", ""),
    ("TollgateQuarantineSpike", ""),
    ("TollgateDataFreshnessViolation", "transaction-risk"),
    # Out of SLA for all of its short history: 0% of the "day" within it.
    ("TollgateFreshnessComplianceBelowKPI", "transaction-risk"),
}


def _start(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(args, stdout=log.open("w"), stderr=subprocess.STDOUT)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("prometheus")
    require(binary is not None, "prometheus is not installed (Debian package `prometheus`)")
    api_port, stream_port, web_port = free_port(), free_port(), free_port()
    # The committed config, with its targets moved to this test's ports and a 1 s pace.
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(MONITORING / path) for path in config["rule_files"]]
    ports = {"tollgate-api": api_port, "tollgate-stream": stream_port}
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [f"127.0.0.1:{ports[job['job_name']]}"]}]
    config_path = tmp_path / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config))

    exporter = Path(__file__).with_name("exporter.py")
    workload = _start(
        [sys.executable, str(exporter), str(api_port), str(stream_port)], tmp_path / "exporter.log"
    )
    # Scraped from its first second: a target not yet listening would count as downtime.
    deadline = time.monotonic() + 60
    while not all(_listening(port) for port in (api_port, stream_port)):
        assert workload.poll() is None and time.monotonic() < deadline, "exporter did not start"
        time.sleep(0.1)
    server = _start(
        [
            binary,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{web_port}",
        ],
        tmp_path / "prometheus.log",
    )
    try:
        yield f"http://127.0.0.1:{web_port}"
    finally:
        _stop(server)
        _stop(workload)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def _get(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.load(response)["data"]
    except OSError:
        return None


def _rules(base: str) -> list[dict]:
    data = _get(f"{base}/api/v1/rules")
    return [rule for group in data["groups"] for rule in group["rules"]] if data else []


def _active(rules: list[dict]) -> set[tuple[str, str]]:
    return {
        (rule["name"], alert["labels"].get("product", ""))
        for rule in rules
        if rule["type"] == "alerting"
        for alert in rule["alerts"]
    }


def _query(base: str, expr: str) -> dict[str, float]:
    data = _get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    return {s["metric"].get("product", ""): float(s["value"][1]) for s in data["result"]}


def test_rules_evaluate_on_real_metrics_and_the_right_alerts_turn_active(prometheus: str) -> None:
    deadline = time.monotonic() + 60
    rules: list[dict] = []
    while time.monotonic() < deadline:
        rules = _rules(prometheus)
        if rules and _active(rules) >= EXPECTED_ACTIVE:
            break
        time.sleep(1)
    assert rules, "Prometheus did not load the rules"
    assert _active(rules) == EXPECTED_ACTIVE
    assert {rule["name"]: rule["health"] for rule in rules if rule["health"] != "ok"} == {}

    assert _query(prometheus, "tollgate:api_request_seconds:p95_5m")[""] == pytest.approx(0.975)
    errors = _query(prometheus, "tollgate:api_errors:ratio_rate5m")[""]
    assert errors == pytest.approx(1 / 51, rel=0.05)
    quarantined = _query(prometheus, "tollgate:stream_quarantine:ratio_rate5m")[""]
    assert quarantined == pytest.approx(0.1, rel=0.05)
    within = _query(prometheus, "tollgate:product_freshness_within_sla")
    assert within == {
        "transaction-risk": 0.0,
        "region-activity": 1.0,
        "customer-behavior-daily": 1.0,  # measured by the API: batch products too
    }
