"""`tollgate audit list`: the audit log newest first, filtered by tenant, action (or a family
of actions), actor, outcome, target and time; a table or JSON lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from tollgate.cli import app
from tollgate.db.engine import session_factory
from tollgate.db.migrate import upgrade
from tollgate.db.models import AuditEntry
from tollgate.settings import Settings


@pytest.fixture
def run(cli_env):
    url = Settings().metadata_db_url
    upgrade(url)
    rows = [
        # (day of November, tenant, actor, action, target, outcome)
        (1, None, "dagster", "snapshot.publish", "market-trends@v000001", "success"),
        (2, "acme", "cli:ann", "subscription.create", "sub_1", "success"),
        (3, "acme", "cli:ann", "subscription.cancel", "sub_1", "success"),
        (4, "initech", "cli:bob", "subscription.create", "sub_2", "failure"),
        (5, None, "dagster", "snapshot.publish", "market-trends@v000002", "success"),
    ]
    with session_factory(url).begin() as session:
        for day, tenant, actor, action, target, outcome in rows:
            session.add(
                AuditEntry(
                    at=datetime(2026, 11, day, 12, tzinfo=UTC),
                    tenant_id=tenant,
                    actor=actor,
                    action=action,
                    target=target,
                    outcome=outcome,
                    details={"day": day},
                )
            )

    def invoke(*args: str) -> list[dict]:
        result = CliRunner().invoke(app, ["audit", "list", "--format", "json", *args])
        assert result.exit_code == 0, result.output
        return [json.loads(line) for line in result.output.splitlines()]

    return invoke


def _days(entries: list[dict]) -> list[int]:
    return [e["details"]["day"] for e in entries]


def test_filters_combine_and_the_newest_comes_first(run):
    assert _days(run()) == [5, 4, 3, 2, 1]
    assert _days(run("--action", "snapshot.publish")) == [5, 1]
    assert _days(run("--action", "subscription.")) == [4, 3, 2]  # the family
    assert _days(run("--tenant", "acme")) == [3, 2]
    assert _days(run("--actor", "cli:bob")) == [4]
    assert _days(run("--outcome", "failure")) == [4]
    assert _days(run("--target", "sub_1")) == [3, 2]
    assert _days(run("--since", "2026-11-02", "--until", "2026-11-04")) == [3, 2]
    assert _days(run("--action", "subscription.", "--tenant", "acme", "--limit", "1")) == [3]
    [entry] = run("--outcome", "failure")
    assert entry["at"] == "2026-11-04T12:00:00+00:00"
    assert (entry["tenant_id"], entry["action"], entry["target"]) == (
        "initech",
        "subscription.create",
        "sub_2",
    )


def test_the_table_and_bad_filters(run):
    result = CliRunner().invoke(app, ["audit", "list", "--action", "snapshot."])
    assert result.exit_code == 0, result.output
    assert "market-trends@v000002" in result.output and "2 entries" in result.output
    bad = CliRunner().invoke(app, ["audit", "list", "--outcome", "maybe"])
    assert bad.exit_code == 1 and "--outcome must be one of" in bad.output
    bad = CliRunner().invoke(app, ["audit", "list", "--since", "last tuesday"])
    assert bad.exit_code == 1 and "--since must be an ISO date" in bad.output
