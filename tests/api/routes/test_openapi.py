"""A bounded schemathesis run over the OpenAPI schema, against a real server: every check
(no 5xx, documented statuses and headers, responses match their schemas, schema-violating
requests refused, schema-valid ones accepted, Allow on 405, optional vs required headers),
with 0 failures. `tests/api/schemathesis.toml` allows, per operation, only the refusals a
schema cannot express (a cursor the API never issued, a date range the wrong way round)."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import pytest
import uvicorn
from apiworld import behavior_row, free_port, risk_row
from limits import RateLimitItemPerHour, RateLimitItemPerMinute

from api.main import create_app
from api.server import HeadLimitedProtocol

CONFIG = Path(__file__).resolve().parent.parent / "schemathesis.toml"
MAX_EXAMPLES = 10  # per operation and phase: about a minute in all


def _insight_row(i: int) -> dict:
    return {
        "transaction_id": f"tx-{i:05d}",
        "customer_id": f"c-{i:04d}",
        "region": "EU",
        "transaction_date": date(2026, 11, 1 + i % 20),
        "transacted_at": None,
        "amount_cents": 1000 + i,
        "merchant_category": "books",
        "card_region": "EU",
        "is_geo_mismatch": False,
        "amount_vs_customer_median": 1.0,
        "risk_score": 0.1,
        "is_confirmed_fraud": False,
    }


def _trend_row(i: int) -> dict:
    day = date(2026, 11, 1 + i % 20)
    return {
        "trend_id": f"EU/books@{day.isoformat()}",
        "region": "EU",
        "category": "books",
        "activity_date": day,
        "page_views": 100 + i,
        "purchases": i,
        "revenue_cents": 500 * i,
        "conversion_rate": 0.1,
        "revenue_growth_7d": 0.0,
    }


@pytest.fixture
def target(api_settings, world):
    """A server over a world where every product has data, and a premium key."""
    world.live_rows("transaction-risk", [risk_row(i, "EU") for i in range(5)])
    world.snapshot("customer-behavior-daily", [behavior_row(i, "EU") for i in range(5)])
    world.snapshot("transaction-insights-history", [_insight_row(i) for i in range(5)])
    world.snapshot("market-trends", [_trend_row(i) for i in range(5)])
    _, key = world.tenant("premium")
    app = create_app(api_settings)
    # Budgets the fuzzer cannot spend, so it reaches the routes behind them (the limits
    # themselves have their own tests).
    app.state.services.limits.items["premium"] = RateLimitItemPerHour(10**9)
    app.state.services.failed_logins.item = RateLimitItemPerMinute(10**9)
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", http=HeadLimitedProtocol
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", key
    server.should_exit = True
    thread.join(10)


def test_api_conforms_to_its_schema(target, tmp_path):
    base, key = target
    run = subprocess.run(
        [
            sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG),
            "run", f"{base}/openapi.json",
            "--checks", "all",
            "--phases", "examples,coverage,fuzzing",
            "--max-examples", str(MAX_EXAMPLES),
            "--seed", "1",
            "--header", f"Authorization: Bearer {key}",
            # A push stream never ends; it has its own tests against a real server.
            "--exclude-path-regex", r".*/stream$",
            "--report-dir", str(tmp_path),
        ],
        # Its crash cache goes to tmp_path: each run starts from the seed alone.
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    selected, listed = map(int, re.search(r"Selected: (\d+)/(\d+)", run.stdout).groups())
    assert selected >= 16 and listed - selected <= 1  # every operation but the push stream
