"""One event's whole journey: stream lane -> live store -> API and push -> landing zone ->
batch graph -> batch query and export -> the tenant's usage.

The stream lane (synthetic source, live) and the API run as real processes on free ports
in a temporary data directory; the batch graph runs in process, as Dagster would run it.
Timeouts are generous for a loaded machine, except the one the test is about: a
transaction is visible through the API within 2 s of its event time.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
import time
from datetime import datetime

import httpx
import polars as pl
import pytest
from platformkit import (
    SseSubscriber,
    api_argv,
    free_port,
    platform_env,
    running,
    stop,
    stream_argv,
    wait_http,
)

from tollgate.lake import Lake

pytestmark = pytest.mark.slow

EVENTS_PER_SECOND = "100"
VISIBLE_WITHIN_S = 2.0
SAMPLE = 20
POLL_S = 0.1
HISTORY, DAILY = "transaction-insights-history", "customer-behavior-daily"


def wait_for(predicate, timeout: float, what: str, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


def watch_new_transactions(api: httpx.Client, count: int, timeout: float) -> dict[str, dict]:
    """Poll recent transactions; for each one new to us, when it became visible.

    Each poll asks from a fresh `since`, so it is a real read, never a cached answer.
    Only transactions with an event time after the first answer are timed: they happened
    while we were watching, so the time we first saw them is an honest upper bound.
    """
    seen: dict[str, dict] = {}
    watching_from: datetime | None = None
    deadline = time.monotonic() + timeout
    while len(seen) < count and time.monotonic() < deadline:
        since = datetime.fromtimestamp(time.time() - 60).astimezone().isoformat()
        response = api.get("/v1/live/transaction-risk", params={"since": since, "limit": 500})
        now = time.time()
        if response.status_code == 200:
            rows = response.json()["data"]
            if watching_from is None and rows:
                watching_from = max(datetime.fromisoformat(r["event_at"]) for r in rows)
            for row in rows:
                at = datetime.fromisoformat(row["event_at"])
                if watching_from and at > watching_from and row["transaction_id"] not in seen:
                    seen[row["transaction_id"]] = {**row, "visible_after_s": now - at.timestamp()}
        time.sleep(POLL_S)
    assert len(seen) >= count, f"only {len(seen)} transactions seen in {timeout}s"
    return seen


def landed_transactions(lake: Lake, ids: set[str]) -> set[str]:
    try:
        frame = pl.scan_parquet(lake.landing_glob("card_transactions"))
        found = frame.filter(pl.col("transaction_id").is_in(list(ids))).select("transaction_id")
        return set(found.collect()["transaction_id"])
    except (FileNotFoundError, pl.exceptions.ComputeError):
        return set()


def test_an_event_travels_the_whole_way(tmp_path, settings, run_batch, tenant_key):
    key = tenant_key("buyer", "premium", subscribe=("region-activity",))
    port = free_port()
    env = platform_env(
        settings.data_dir,
        synthetic_rate=EVENTS_PER_SECOND,
        stream_metrics_port=str(free_port()),
    )
    base = f"http://127.0.0.1:{port}"
    api_log, stream_log = tmp_path / "api.log", tmp_path / "stream.log"
    headers = {"Authorization": f"Bearer {key}"}

    with (
        running(api_argv(port), env, api_log) as api_proc,
        httpx.Client(base_url=base, headers=headers, timeout=30) as api,
    ):
        wait_http(f"{base}/healthz", api_proc, api_log)
        push = SseSubscriber(f"{base}/v1/live/region-activity/stream", key).start()
        with running(stream_argv(), env, stream_log) as stream_proc:
            wait_for(
                lambda: (
                    api.get("/v1/live/transaction-risk?limit=1").json().get("data")
                    or stream_proc.poll() is not None
                ),
                180,
                "the stream lane's first transaction",
            )
            assert stream_proc.poll() is None, stream_log.read_text()[-3000:]

            # 1. Live: transactions show through the API within 2 s of their event time.
            seen = watch_new_transactions(api, SAMPLE, timeout=120)
            delays = sorted(t["visible_after_s"] for t in seen.values())
            assert statistics.median(delays) < VISIBLE_WITHIN_S, delays
            one = next(iter(seen.values()))
            lookup = api.get(f"/v1/live/transaction-risk/{one['transaction_id']}")
            assert lookup.status_code == 200
            assert lookup.json()["data"]["customer_id"] == one["customer_id"]

            # 2. Push: region activity updates arrive (a minute's window closes, then pushes).
            wait_for(lambda: push.records, 240, "a region-activity update over SSE")
            update = json.loads(push.records[0][1])
            assert update["region"] in {"US-West", "US-East", "EU", "APAC"} and update["events"] > 0

            # 3. The same transactions land for the batch lane (a file per epoch).
            lake = Lake.from_settings(settings)
            wait_for(lambda: landed_transactions(lake, set(seen)) == set(seen), 120, "landing")
            assert stop(stream_proc) in (0, -15), stream_log.read_text()[-3000:]
        push.close()

        # 4. Batch: the graph builds the days those events happened; the API answers them.
        days = sorted({datetime.fromisoformat(t["event_at"]).date() for t in seen.values()})
        result = run_batch(days[0], days[-1])
        assert result.success, [e.message for e in result.all_events if e.is_failure]
        history = wait_for(
            lambda: (
                (
                    r := api.get(
                        f"/v1/batch/{HISTORY}",
                        params={"filter": f"transaction_id:eq:{one['transaction_id']}"},
                    )
                ).status_code
                == 200
                and r
            ),
            30,
            "the published batch product",
        )
        (row,) = history.json()["data"]
        assert row["customer_id"] == one["customer_id"]
        assert row["amount_cents"] == one["amount_cents"]
        # A customer whose behaviour events landed that day has that day in its history.
        behaviour = pl.read_parquet(lake.landing_glob("behavior_events"))
        customer = behaviour.filter(pl.col("event_at").dt.date() == days[0])["customer_id"][0]
        daily = api.get(f"/v1/batch/{DAILY}", params={"filter": f"customer_id:eq:{customer}"})
        assert daily.status_code == 200, daily.text
        assert days[0].isoformat() in {r["activity_date"] for r in daily.json()["data"]}, daily.text

        # 5. Export: the history as CSV holds every transaction we watched go live.
        created = api.post("/v1/exports", json={"product_id": HISTORY, "format": "csv"})
        assert created.status_code == 202, created.text
        export_id = created.json()["id"]
        wait_for(
            lambda: api.get(f"/v1/exports/{export_id}").json()["status"] in ("succeeded", "failed"),
            120,
            "the export",
        )
        download = api.get(f"/v1/exports/{export_id}/download")
        assert download.status_code == 200, download.text
        exported = {r["transaction_id"] for r in csv.DictReader(io.StringIO(download.text))}
        assert set(seen) <= exported

        # 6. Usage: every product we were served appears in the tenant's usage.
        used = {HISTORY, DAILY, "transaction-risk", "region-activity"}

        def usage_products():
            days_used = api.get("/v1/usage").json()["days"]
            products = {d["product_id"] for d in days_used if d["requests"] > 0}
            return products if used <= products else None

        wait_for(usage_products, 60, f"usage of {sorted(used)}")
