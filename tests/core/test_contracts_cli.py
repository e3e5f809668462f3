"""`tollgate subscriptions` and `tollgate purchases`: every change audited; bad input is one
line, exit 1, and writes nothing but the audit row that records the refusal."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from tollgate.cli import app
from tollgate.db.contract_models import Purchase, Subscription
from tollgate.db.engine import make_engine
from tollgate.db.models import AuditEntry


@pytest.fixture
def run(cli_env, tmp_path):
    def invoke(*args: str):
        return CliRunner().invoke(app, list(args), env=cli_env)

    assert invoke("tenants", "create", "initech", "--tier", "premium").exit_code == 0
    assert invoke("tenants", "create", "globex", "--tier", "standard").exit_code == 0
    invoke.db = make_engine(f"sqlite:///{tmp_path / 'data' / 'metadata.db'}")
    yield invoke
    invoke.db.dispose()


def count(engine, model) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()


def audit(engine, action: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(AuditEntry.outcome, AuditEntry.details).where(AuditEntry.action == action)
        ).all()
    return [(o, (d or {}).get("reason", "")) for o, d in rows]


def error(result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_subscription_lifecycle_and_its_refusals(run):
    made = run("subscriptions", "create", "initech", "region-activity", "--monthly-usd", "24000")
    assert made.exit_code == 0, made.output
    sub_id = made.output.split(": ")[1].split(",")[0]
    assert "$24,000.00/month" in made.output
    listed = run("subscriptions", "list", "--tenant", "initech")
    assert sub_id in listed.output and "active" in listed.output

    refusals = {
        ("initech", "region-activity"): "the dates overlap",
        ("globex", "region-activity"): "the standard tier of globex does not include",
        ("initech", "weather-feed"): "no product 'weather-feed'",
        ("initech", "transaction-risk"): "is sold per query, not by monthly subscription",
        ("nobody", "region-activity"): "no tenant 'nobody'",
    }
    for (tenant, product), reason in refusals.items():
        assert reason in error(run("subscriptions", "create", tenant, product))
    assert count(run.db, Subscription) == 1  # nothing half-written

    assert run("subscriptions", "cancel", sub_id).exit_code == 0
    assert "already cancelled" in error(run("subscriptions", "cancel", sub_id))
    assert "no subscription" in error(run("subscriptions", "cancel", "sub_nope"))
    assert "cancelled" in run("subscriptions", "list").output
    outcomes = audit(run.db, "subscription.create")
    assert [o for o, _ in outcomes] == ["success"] + ["failure"] * 5
    assert "the dates overlap" in outcomes[1][1]
    assert [o for o, _ in audit(run.db, "subscription.cancel")] == [
        "success",
        "failure",
        "failure",
    ]


def test_purchase_and_its_refusals(run):
    bought = run("purchases", "create", "initech", "market-trends")
    assert bought.exit_code == 0 and "$50,000.00" in bought.output
    assert "already" not in bought.output
    assert "its updates run until" in error(run("purchases", "create", "initech", "market-trends"))
    assert "no product 'weather-feed'" in error(
        run("purchases", "create", "initech", "weather-feed")
    )
    assert "not as a one-time purchase" in error(
        run("purchases", "create", "initech", "transaction-risk")
    )
    assert "does not include market-trends" in error(
        run("purchases", "create", "globex", "market-trends")
    )
    assert count(run.db, Purchase) == 1
    assert "market-trends" in run("purchases", "list").output
    outcomes = [o for o, _ in audit(run.db, "purchase.create")]
    assert outcomes == ["success", "failure", "failure", "failure", "failure"]
