"""The alert and recording rules: valid, unit-tested by promtool, built on real metrics.

promtool comes from Debian's `prometheus` package; without it these tests skip locally and
fail under CI.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from monitoringkit import (
    MONITORING,
    RULE_FILES,
    RULE_TESTS,
    exposed_series,
    load_conftest_require,
    load_render_rules,
    load_rule_groups,
    promtool,
    recorded_series,
    rule_names,
    run_promtool,
    selectors,
    series_names,
)

from tollgate.catalog import load_catalog
from tollgate.generated import CATALOG_PATH, ROOT, main, out_of_date

require = load_conftest_require()
render_rules = load_render_rules()


@pytest.fixture
def needs_promtool() -> None:
    require(promtool() is not None, "promtool is not installed (Debian package `prometheus`)")


def test_rules_pass_promtool_check(needs_promtool: None) -> None:
    result = run_promtool("check", "rules", *(str(p) for p in RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_config_passes_promtool_check(needs_promtool: None) -> None:
    result = run_promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    listed = {(MONITORING / path).resolve() for path in config["rule_files"]}
    assert listed == {path.resolve() for path in RULE_FILES}


def test_rule_unit_tests_pass(needs_promtool: None) -> None:
    assert RULE_TESTS, "no promtool unit tests in monitoring/tests"
    result = run_promtool("test", "rules", *(str(p) for p in RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def _unit_tests() -> list[dict]:
    return [case for path in RULE_TESTS for case in yaml.safe_load(path.read_text())["tests"]]


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    alerts = rule_names("alert")
    firing, quiet = set(), set()
    for case in _unit_tests():
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert alerts - firing == set(), "alerts never tested firing"
    assert alerts - quiet == set(), "alerts never tested not firing"


def test_every_recording_rule_is_tested() -> None:
    checked = " ".join(
        check["expr"] for case in _unit_tests() for check in case.get("promql_expr_test", [])
    )
    untested = {name for name in recorded_series() if name not in series_names(checked)}
    assert untested == set()


def _rule_exprs() -> list[str]:
    return [rule["expr"] for group in load_rule_groups() for rule in group["rules"]]


def test_rules_select_only_series_the_code_exposes() -> None:
    known = set(exposed_series()) | recorded_series()
    used = set().union(*(series_names(expr) for expr in _rule_exprs()))
    assert used, "no series found in the rules"
    assert used - known == set()


def test_rules_match_only_labels_the_series_have() -> None:
    exposed = exposed_series()
    for expr in _rule_exprs():
        for name, labels in selectors(expr):
            if name in exposed:
                assert labels <= exposed[name], f"{name} has no label {labels - exposed[name]}"


def test_rendered_freshness_rules_are_up_to_date() -> None:
    files = render_rules.render(load_catalog(CATALOG_PATH), ROOT)
    assert out_of_date(files) == [], "run monitoring/render_rules.py"


def test_rendered_rules_follow_the_catalog(tmp_path: Path) -> None:
    catalog_text = CATALOG_PATH.read_text()
    changed = tmp_path / "catalog.yaml"
    old, new = "freshness_sla_seconds: 5\n", "freshness_sla_seconds: 7\n"
    changed.write_text(catalog_text.replace(old, new, 1))

    args = ["--catalog", str(changed), "--root", str(tmp_path)]
    assert main(render_rules.render, "rules", "render", args) == 0
    output = tmp_path / render_rules.RULES_FILE
    rules = yaml.safe_load(output.read_text())["groups"][0]["rules"]
    sla = {rule["labels"]["product"]: rule["expr"] for rule in rules}
    assert sla["transaction-risk"] == "vector(7)"
    assert set(sla) == {p.id for p in load_catalog(changed).products}
    assert main(render_rules.render, "rules", "render", [*args, "--check"]) == 0
    # The committed file, rendered from the real catalog, is stale for the changed one.
    stale = ["--catalog", str(changed), "--root", str(ROOT), "--check"]
    assert main(render_rules.render, "rules", "render", stale) == 1
