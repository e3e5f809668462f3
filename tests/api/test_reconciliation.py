"""Billing reconciliation against a real API process that is SIGTERMed mid-run.

Many concurrent requests: answers billed per query and per record, retries sharing an
Idempotency-Key, refusals (403, 429) and failures (404, 422). Mid-run the API is stopped
with SIGTERM while requests are in flight, restarted, and the client carries on, retrying
with the same key whatever got no answer (as a real client would). Afterwards the ledger
holds exactly one record per successful delivery, and the month's invoices equal the totals
computed here from the test's own log of responses.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest
from apiworld import World, auth, behavior_row, free_port, risk_row, start_api, wait_ready
from sqlalchemy import select

from tollgate.billing import invoice_month
from tollgate.catalog import load_catalog
from tollgate.clock import utcnow
from tollgate.db.engine import make_engine
from tollgate.db.migrate import upgrade
from tollgate.db.models import UsageRecord
from tollgate.settings import Settings

# Uvicorn shuts down gracefully on SIGTERM (lifespan included), then re-raises the signal.
STOPPED = (0, -signal.SIGTERM)
PRICE_CENTS = {"transaction-risk": Decimal(150), "customer-behavior-daily": Decimal(10)}


@dataclass(frozen=True)
class Call:
    """One logical request; sent again with the same key when `retry` or when unanswered."""

    tenant: str
    key: str
    path: str
    idem: str | None
    retry: bool = False


@dataclass
class Outcome:
    status: int | None  # None: no answer (connection refused or cut by the shutdown)
    rows: int = 0


@pytest.fixture
def pg_settings(settings: Settings, postgres_url: str) -> Settings:
    s = settings.model_copy(update={"metadata_db_url": postgres_url})
    upgrade(s.metadata_db_url)
    return s


def _start(settings: Settings, port: int) -> subprocess.Popen:
    env = {"TOLLGATE_METADATA_DB_URL": settings.metadata_db_url, "TOLLGATE_REDIS_URL": None}
    return start_api(settings, port, env)


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        assert proc.wait(30) in STOPPED, proc.stderr.read().decode()[-2000:]
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("the API did not stop within 30 s of SIGTERM") from None


def _send(client: httpx.Client, base: str, call: Call) -> Outcome:
    headers = auth(call.key) | ({"Idempotency-Key": call.idem} if call.idem else {})
    try:
        r = client.get(base + call.path, headers=headers, timeout=20)
    except httpx.TransportError:
        return Outcome(None)
    rows = len(r.json()["data"]) if r.status_code == 200 and "/batch/" in call.path else 0
    return Outcome(r.status_code, rows)


def _plan(tenants: dict[str, tuple[str, str]], n: int, keyed_only: bool) -> list[Call]:
    """A mix of calls; the i-th is deterministic given i, only keys are fresh."""
    (p1, k1), (p2, k2) = tenants["p1"], tenants["p2"]
    (tr, ktr), (st, kst) = tenants["trial"], tenants["standard"]
    calls = []
    for i in range(n):
        idem = None if (not keyed_only and i % 3 == 0) else f"k-{uuid.uuid4().hex[:12]}"
        kind = i % 10
        if kind in (0, 1, 2):
            call = Call(
                p1, k1, f"/v1/live/transaction-risk/tx-{i % 20:05d}", idem, retry=i % 4 == 1
            )
        elif kind in (3, 4):
            call = Call(p2, k2, f"/v1/batch/customer-behavior-daily?limit={1 + i % 5}", idem,
                        retry=i % 4 == 3)  # fmt: skip
        elif kind == 5:
            call = Call(p1, k1, "/v1/live/transaction-risk/tx-99999", idem)  # 404
        elif kind == 6:
            call = Call(p2, k2, "/v1/batch/customer-behavior-daily?limit=0", idem)  # 422
        elif kind == 7:
            call = Call(st, kst, "/v1/live/region-activity", idem)  # 403: premium only
        else:
            # Trial: 10 requests an hour per process, then 429s.
            call = Call(tr, ktr, f"/v1/live/transaction-risk/tx-{i % 20:05d}", idem)
        calls.append(call)
    return calls


def test_ledger_and_invoices_reconcile_across_a_sigterm(pg_settings: Settings):
    world = World(pg_settings)
    world.live_rows("transaction-risk", [risk_row(i) for i in range(20)])
    world.snapshot("customer-behavior-daily", [behavior_row(i) for i in range(50)])
    tenants = {
        "p1": world.tenant("premium"),
        "p2": world.tenant("premium"),
        "trial": world.tenant("trial"),
        "standard": world.tenant("standard"),
    }
    log: list[tuple[Call, Outcome]] = []
    lock = threading.Lock()

    stopping = threading.Event()

    def run(client: httpx.Client, base: str, calls: list[Call], on_done=None) -> None:
        def one(call: Call) -> None:
            for _ in range(2 if call.retry else 1):
                if stopping.is_set() and proc.poll() is None:
                    time.sleep(0.05)  # keep requests arriving while the API shuts down
                outcome = _send(client, base, call)
                with lock:
                    log.append((call, outcome))
                    if on_done:
                        on_done(len(log))

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(one, calls))

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start(pg_settings, port)
    try:
        wait_ready(base, proc)
        with httpx.Client() as client:
            # Phase A: a mixed load, finished before the stop.
            run(client, base, _plan(tenants, 80, keyed_only=False))
            # Phase B: keyed calls only, SIGTERM once some 40 have been answered.
            phase_b_start = len(log)

            def maybe_stop(done: int) -> None:
                if done - phase_b_start >= 40 and not stopping.is_set():
                    stopping.set()
                    proc.send_signal(signal.SIGTERM)

            run(client, base, _plan(tenants, 300, keyed_only=True), maybe_stop)
        assert proc.wait(30) in STOPPED, proc.stderr.read().decode()[-2000:]
        unanswered = [c for c, o in log if o.status is None]
        assert unanswered, "the stop should have caught some requests"

        stopping.clear()
        proc = _start(pg_settings, port)
        wait_ready(base, proc)
        with httpx.Client() as client:
            # Phase C: the client retries what got no answer, with the same key, and goes on.
            run(client, base, list({c.idem: c for c in unanswered}.values()))
            run(client, base, _plan(tenants, 60, keyed_only=False))
        _stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()

    # What the client saw: one delivery per keyed call with any 200, one per unkeyed 200.
    statuses = Counter(o.status for _, o in log)
    assert {200, 403, 404, 422, 429} <= set(statuses), statuses
    delivered: dict[str, tuple[Call, Outcome]] = {}
    unkeyed = Counter()
    for call, outcome in log:
        if outcome.status != 200:
            continue
        if call.idem:
            delivered.setdefault(call.idem, (call, outcome))
        else:
            unkeyed[call.tenant] += 1
    expected_cents: Counter[str] = Counter()
    units: Counter[tuple[str, str]] = Counter()
    for call, outcome in [
        *delivered.values(),
        *((c, o) for c, o in log if o.status == 200 and not c.idem),
    ]:
        product = "customer-behavior-daily" if "/batch/" in call.path else "transaction-risk"
        units[(call.tenant, product)] += outcome.rows if "/batch/" in call.path else 1
    for (tenant, product), n in units.items():
        # The trial tenant's deliveries are rated $0: on its invoice, with nothing to pay.
        price = 0 if tenant == tenants["trial"][0] else PRICE_CENTS[product]
        expected_cents[tenant] += int(price * n)

    engine = make_engine(pg_settings.metadata_db_url)
    with engine.connect() as conn:
        ledger = conn.execute(
            select(UsageRecord.delivery_id, UsageRecord.tenant_id, UsageRecord.units)
        ).all()
    # Keyed ids end in a fingerprint of the request; each key here names one request.
    keyed_ids = {d.rsplit(":", 1)[0] for d, _, _ in ledger if ":idem:" in d}
    assert keyed_ids == {f"{c.tenant}:idem:{k}" for k, (c, _) in delivered.items()}
    ledger_unkeyed = Counter(t for d, t, _ in ledger if ":idem:" not in d)
    # Billed = delivered: every record's units are what the client received.
    assert sum(u for _, _, u in ledger) == sum(units.values())
    assert ledger_unkeyed == unkeyed
    assert len(ledger) == len(delivered) + sum(unkeyed.values())

    month = utcnow().strftime("%Y-%m")
    invoices = invoice_month(engine, load_catalog(pg_settings.catalog_path), month)
    # Charges are what was delivered (SLA credits, for data served stale, come off after).
    assert {inv.tenant_id: inv.charges_cents for inv in invoices} == dict(expected_cents)
    engine.dispose()
