"""Shared helpers of the monitoring tests: promtool, the rules files, and metric names.

The series the code exposes are read from the live metric objects of the API and the stream
lane, so a renamed metric or label breaks the rules' and the dashboard's tests.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import yaml
from prometheus_client.metrics import MetricWrapperBase

from api.metrics import ApiMetrics, ProductFreshness
from streaming import metrics as stream_metrics

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
RULES_DIR = MONITORING / "rules"
RULE_FILES = sorted(RULES_DIR.glob("*.rules.yml"))
RULE_TESTS = sorted((MONITORING / "tests").glob("*.test.yml"))
DASHBOARD = MONITORING / "grafana" / "tollgate-dashboard.json"

# Series Prometheus makes itself for every target, and the labels it adds to every series.
PROMETHEUS_SERIES = {"up"}
TARGET_LABELS = frozenset({"job", "instance"})

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_IDENTIFIER = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}")
_MATCHER_LABEL = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("_sum", "_count"),
}


def promtool() -> str | None:
    return shutil.which("promtool")


def run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool() or "promtool", *args],
        capture_output=True,
        text=True,
        cwd=MONITORING,
        timeout=120,
    )


def exposed_series() -> dict[str, frozenset[str]]:
    """Every series name the API and the stream lane expose, with its label names.

    Read from the live metric objects (api.metrics.ApiMetrics, streaming.metrics), so the
    names are the ones prometheus_client really writes (`_total`, `_bucket`, ...).
    """
    metrics = [*vars(ApiMetrics()).values(), *vars(stream_metrics).values()]
    series: dict[str, frozenset[str]] = {"up": TARGET_LABELS}
    # Decided at each scrape by a collector of the API, not a metric object.
    for name, labels in ProductFreshness.SERIES.items():
        series[name] = TARGET_LABELS | frozenset(labels)
    for metric in metrics:
        if not isinstance(metric, MetricWrapperBase):
            continue
        # prometheus_client has no public accessor for a metric's label names.
        labels = TARGET_LABELS | frozenset(metric._labelnames)
        for family in metric.describe():
            for suffix in _SUFFIXES[family.type]:
                extra = {"le"} if suffix == "_bucket" else set()
                series[family.name + suffix] = labels | extra
    return series


def selectors(expr: str) -> list[tuple[str, set[str]]]:
    """(series name, label names matched) for every `name{...}` selector in `expr`."""
    return [
        (name, set(_MATCHER_LABEL.findall(matchers)))
        for name, matchers in _SELECTOR.findall(_STRING.sub('""', expr))
    ]


def load_rule_groups() -> list[dict]:
    return [group for path in RULE_FILES for group in yaml.safe_load(path.read_text())["groups"]]


def rule_names(kind: str) -> set[str]:
    """Names of the rules of one kind: "record" (recorded series) or "alert"."""
    return {rule[kind] for group in load_rule_groups() for rule in group["rules"] if kind in rule}


def recorded_series() -> set[str]:
    return rule_names("record")


def series_names(expr: str) -> set[str]:
    """Names of the series a PromQL expression selects (Tollgate's own and Prometheus's `up`)."""
    without_strings = _STRING.sub('""', expr)
    without_matchers = re.sub(r"\{[^}]*\}", "", without_strings)
    return {
        token
        for token in _IDENTIFIER.findall(without_matchers)
        if token.startswith("tollgate") or token in PROMETHEUS_SERIES
    }


def load_render_rules() -> ModuleType:
    """monitoring/render_rules.py is a script, not a package module: load it by path."""
    spec = importlib.util.spec_from_file_location("render_rules", MONITORING / "render_rules.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_root_conftest() -> ModuleType:
    """tests/conftest.py, loaded by path: several conftest modules share the name `conftest`."""
    path = ROOT / "tests" / "conftest.py"
    spec = importlib.util.spec_from_file_location("tollgate_root_conftest", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_conftest_require():
    """tests/conftest.py's require(): skip locally, fail under CI, when a tool is missing."""
    return load_root_conftest().require
