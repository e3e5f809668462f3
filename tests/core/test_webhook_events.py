"""Webhook events and their sender: once per dedupe key, fan-out to the endpoints that want
a type, a timed-out or gone receiver logged as a failure, retries that run out; and when
events are emitted: monthly quota and spend cap, invoices and credits, product status."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tollgate.billing.invoices import InvoiceDraft, LineItem
from tollgate.catalog import parse_catalog
from tollgate.clock import utcnow
from tollgate.db.engine import make_engine
from tollgate.db.migrate import upgrade
from tollgate.db.models import Tenant
from tollgate.db.webhook_models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from tollgate.usage import Delivery, write_deliveries
from tollgate.webhooks.alerts import announce_invoices, announce_status, check_monthly_usage
from tollgate.webhooks.endpoints import create_endpoint, delivery_log
from tollgate.webhooks.events import emit
from tollgate.webhooks.sender import WebhookSender

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
from webhookkit import Receiver  # noqa: E402

LOOPBACK = ["127.0.0.0/8"]


def _database(settings, url: str):
    settings.webhook_private_networks = LOOPBACK
    settings.webhook_retry_seconds = [1, 1]
    settings.webhook_timeout_seconds = 0.5
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        for tenant, tier in (("acme", "standard"), ("initech", "premium"), ("hooli", "trial")):
            session.add(Tenant(id=tenant, name=tenant, tier=tier))
        session.commit()
    return engine, settings


@pytest.fixture
def db(settings):
    return _database(settings, settings.metadata_db_url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db(request, settings):
    """The metadata DB on SQLite and on PostgreSQL (whose upserts differ)."""
    url = settings.metadata_db_url
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
    return _database(settings, url)


def _endpoint(engine, tenant: str, url: str, types=None) -> str:
    with Session(engine, expire_on_commit=False) as session:
        return create_endpoint(
            session, tenant, url, event_types=types, actor="test", allowed_networks=LOOPBACK
        ).id


def _events(engine, tenant: str) -> list[str]:
    with engine.connect() as conn:
        q = select(WebhookEvent.type).where(WebhookEvent.tenant_id == tenant)
        return sorted(conn.scalars(q.order_by(WebhookEvent.type)))


def test_an_event_goes_once_to_each_endpoint_that_wants_it(any_db):
    engine, _ = any_db
    everything = _endpoint(engine, "acme", "http://127.0.0.1:9/a")
    invoices_only = _endpoint(engine, "acme", "http://127.0.0.1:9/b", ["invoice.issued"])
    first = emit(engine, "acme", "usage.quota.80", {"x": 1}, "quota.80:2026-11")
    assert first is not None and first.startswith("msg_")
    assert emit(engine, "acme", "usage.quota.80", {"x": 2}, "quota.80:2026-11") is None
    assert emit(engine, "initech", "usage.quota.80", {}, "quota.80:2026-11") is not None
    with engine.connect() as conn:
        rows = conn.execute(select(WebhookDelivery.event_id, WebhookDelivery.endpoint_id)).all()
    assert rows == [(first, everything)]  # not to the invoices-only endpoint
    assert invoices_only not in {e for _, e in rows}
    with pytest.raises(ValueError):
        emit(engine, "acme", "usage.everything", {})


def test_timeouts_gone_receivers_and_exhausted_retries_are_logged(db):
    engine, settings = db
    with (
        Receiver(delay=2.0) as slow,
        Receiver(statuses=[410]) as gone,
        Receiver(statuses=[500, 503, 500]) as failing,
    ):
        slow_id = _endpoint(engine, "acme", slow.url)
        gone_id = _endpoint(engine, "initech", gone.url)
        failing_id = _endpoint(engine, "hooli", failing.url)
        for tenant in ("acme", "initech", "hooli"):
            emit(engine, tenant, "invoice.issued", {"month": "2026-10"})
        sender = WebhookSender(engine, settings)
        try:
            assert sender.run_due() == 3
            later = utcnow() + timedelta(minutes=5)
            sender.run_due(later)  # the two retries of each failure, then it is given up
            sender.run_due(later + timedelta(minutes=5))
            assert sender.run_due(later + timedelta(minutes=10)) == 0
        finally:
            sender.close()
    with Session(engine) as session:
        [timed_out, *_] = delivery_log(session, "acme", slow_id)
        assert (timed_out.status_code, timed_out.outcome) == (None, "failed")
        assert timed_out.error == "no answer within 0.5 s"
        assert [a.status_code for a in delivery_log(session, "initech", gone_id)] == [410]
        assert session.get(WebhookEndpoint, gone_id).disabled_reason == (
            "the receiver answered 410 Gone"
        )
        tries = delivery_log(session, "hooli", failing_id)
        assert [(a.attempt, a.status_code) for a in reversed(tries)] == [
            (1, 500),
            (2, 503),
            (3, 500),
        ]
        states = dict(
            session.execute(select(WebhookDelivery.endpoint_id, WebhookDelivery.status)).all()
        )
    assert states[gone_id] == states[failing_id] == "failed"


def test_monthly_quota_and_spend_cap_thresholds_fire_once_a_month(any_db, settings):
    engine, _ = any_db
    raw = yaml.safe_load(settings.catalog_path.read_text())
    raw["tiers"]["standard"]["monthly_request_quota"] = 10
    raw["tiers"]["standard"]["monthly_spend_cap_usd"] = 15
    catalog = parse_catalog(raw)
    now = datetime(2026, 10, 20, 12, tzinfo=UTC)

    def queries(start: int, n: int) -> None:
        write_deliveries(
            engine,
            [
                Delivery(
                    f"q{i}",
                    "acme",
                    "transaction-risk",
                    "query",
                    1,
                    occurred_at=now,
                    unit_price_micros=1_500_000,
                    price_basis="list",
                )  # fmt: skip
                for i in range(start, start + n)
            ],
        )

    queries(0, 8)  # 8 of 10 requests (80%); $12.00 of $15 (80%)
    assert len(check_monthly_usage(engine, catalog, now)) == 2
    assert check_monthly_usage(engine, catalog, now) == []  # once
    queries(8, 2)  # 10 requests, $15.00: both at 100%
    assert len(check_monthly_usage(engine, catalog, now)) == 2
    assert _events(engine, "acme") == [
        "usage.quota.100",
        "usage.quota.80",
        "usage.spend_cap.100",
        "usage.spend_cap.80",
    ]
    # A new month starts over (and the premium tenant, with no quota, never hears of one).
    assert check_monthly_usage(engine, catalog, datetime(2026, 11, 2, tzinfo=UTC)) == []
    assert _events(engine, "initech") == []


def test_issued_invoices_credits_and_status_changes(db, settings):
    engine, _ = db
    from tollgate.catalog import load_catalog

    catalog = load_catalog(settings.catalog_path)
    draft = InvoiceDraft(
        "acme",
        "2026-10",
        (
            LineItem("transaction-risk", "per_query", "2 queries x $1.50", 2, 1, 300, "query"),
            LineItem("transaction-risk", "per_query", "SLA credit", 1, -1, -150, None, "credit"),
        ),
    )
    running = datetime(2026, 10, 31, 23, tzinfo=UTC)
    assert announce_invoices(engine, "2026-10", [draft], running) == []  # still a draft
    over = datetime(2026, 11, 1, 2, tzinfo=UTC)
    assert len(announce_invoices(engine, "2026-10", [draft], over)) == 2
    assert announce_invoices(engine, "2026-10", [draft], over) == []  # once
    assert _events(engine, "acme") == ["credit.granted", "invoice.issued"]

    # region-activity is sold to premium only: only initech hears of it.
    assert announce_status(engine, catalog, "region-activity", "healthy", "degraded", "x") == 1
    assert announce_status(engine, catalog, "region-activity", "degraded", "healthy", None) == 1
    assert announce_status(engine, catalog, "region-activity", "healthy", "healthy", None) == 0
    assert _events(engine, "initech") == ["product.degraded", "product.recovered"]
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(WebhookEvent)) == 4


def test_the_cli_registers_lists_and_reads_the_log(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from tollgate.cli import app

    monkeypatch.setenv("TOLLGATE_DATA_DIR", str(tmp_path / "cli"))
    monkeypatch.setenv("TOLLGATE_WEBHOOK_PRIVATE_NETWORKS", '["127.0.0.0/8"]')
    run = CliRunner()
    assert run.invoke(app, ["tenants", "create", "acme", "--tier", "standard"]).exit_code == 0
    with Receiver() as receiver:
        made = run.invoke(
            app, ["webhooks", "create", "acme", receiver.url, "--event", "invoice.issued"]
        )
        assert made.exit_code == 0, made.output
        endpoint_id = made.output.split()[1]
        assert "whsec_" in made.output
        bad = run.invoke(app, ["webhooks", "create", "acme", "http://192.168.1.10/x"])
        assert bad.exit_code == 1 and "not allowed webhooks to it" in bad.output
        from tollgate.settings import Settings

        emit(make_engine(Settings().metadata_db_url), "acme", "invoice.issued", {"m": 1})
        sent = run.invoke(app, ["webhooks", "send"])
        assert sent.exit_code == 0 and "1 attempts" in sent.output
        assert len(receiver.received) == 1
    log = run.invoke(app, ["webhooks", "log", endpoint_id])
    assert log.exit_code == 0 and "delivered" in log.output
    listed = run.invoke(app, ["webhooks", "list", "--tenant", "acme"])
    assert endpoint_id in listed.output and "invoice.issued" in listed.output
    assert run.invoke(app, ["webhooks", "delete", endpoint_id]).exit_code == 0
    assert "disabled: deleted" in run.invoke(app, ["webhooks", "list"]).output
    audit = run.invoke(app, ["audit", "list", "--action", "webhook.", "--format", "json"])
    assert [line.count("webhook.delete") for line in audit.output.splitlines()] == [1, 0]
