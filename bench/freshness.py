"""Freshness end to end: event time -> visible through the API, and -> an SSE subscriber.

The stream lane (synthetic source, paced at the offered rate, event time = the moment each
event is emitted) and the API run as real processes on a temporary data directory, as in
`make demo`. This process:
  - polls GET /v1/live/transaction-risk every POLL_S with a fresh `since` (a real read,
    never a cached answer); a transaction's API latency is when we first saw it minus its
    event time, so the polling interval is included (an upper bound);
  - holds an SSE subscription to transaction-risk; a record's latency is when its `data`
    line arrived minus its event time.
The first WARMUP_S seconds after the first visible transaction are not measured.

    uv run python bench/freshness.py [--quick] [--rate 5000] [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "e2e")]

from platformkit import (  # noqa: E402
    SseSubscriber,
    api_argv,
    free_port,
    platform_env,
    running,
    stream_argv,
    wait_http,
)

from tollgate import tenants  # noqa: E402
from tollgate.db.engine import session_factory  # noqa: E402
from tollgate.db.migrate import upgrade  # noqa: E402
from tollgate.events.population import REGION_MIX, cycle_factor  # noqa: E402
from tollgate.settings import Settings  # noqa: E402

PRODUCT = "transaction-risk"
POLL_S = 0.1
WARMUP_S = 5.0


def premium_key(settings: Settings) -> str:
    upgrade(settings.metadata_db_url)
    with session_factory(settings.metadata_db_url)() as session:
        tenants.create_tenant(session, "bench", "bench", "premium")
        return tenants.issue_key(session, "bench", "bench").plaintext


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None}
    ordered = sorted(values)

    def rank(q: float) -> float:  # nearest rank
        return round(ordered[max(0, int(-(-q * len(ordered) // 1)) - 1)] * 1000, 1)

    return {"p50": rank(0.50), "p95": rank(0.95), "p99": rank(0.99)}


def mean_rate_for(rate: float, at: float) -> float:
    """The generator's mean rate that offers `rate` events/s now.

    The synthetic source follows each region's daily and weekly cycle around its mean,
    so at a quiet hour a mean of 5,000/s offers far fewer; scale by the cycle at `at`.
    """
    busy = sum(share * cycle_factor(region, at) for region, share in REGION_MIX.items())
    return rate / busy


def events_in(metrics_url: str) -> float:
    """The stream lane's count of events read so far, from its Prometheus endpoint."""
    text = httpx.get(metrics_url, timeout=10).text
    return sum(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("tollgate_stream_events_in_total")
    )


def poll_api(api: httpx.Client, stop: threading.Event, seen: dict[str, float | None]) -> int:
    """Record, per transaction, seconds from event time to first seen through the API.

    What the first answer holds happened before we watched: it is marked, not timed.
    """
    errors, first = 0, True
    while not stop.is_set():
        since = datetime.fromtimestamp(time.time() - 30).astimezone().isoformat()
        response = api.get(f"/v1/live/{PRODUCT}", params={"since": since, "limit": 1000})
        now = time.time()
        if response.status_code != 200:
            errors += 1
        else:
            for row in response.json()["data"]:
                tx = row["transaction_id"]
                if tx not in seen:
                    event_at = datetime.fromisoformat(row["event_at"]).timestamp()
                    seen[tx] = None if first else now - event_at
            first = False
        stop.wait(POLL_S)
    return errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--rate", type=float, default=5000.0, help="events per second offered")
    parser.add_argument("--seconds", type=float, default=None, help="measured seconds")
    args = parser.parse_args()
    seconds = args.seconds or (15.0 if args.quick else 60.0)

    with tempfile.TemporaryDirectory(prefix="tollgate-freshness-") as tmp:
        tmp_dir = Path(tmp)
        settings = Settings(data_dir=tmp_dir / "data", _env_file=None)
        key = premium_key(settings)
        port, metrics_port = free_port(), free_port()
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        env = platform_env(
            settings.data_dir,
            synthetic_rate=str(mean_rate_for(args.rate, time.time())),
            stream_metrics_port=str(metrics_port),
        )
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {key}"}
        api_log, stream_log = tmp_dir / "api.log", tmp_dir / "stream.log"
        with (
            running(api_argv(port), env, api_log) as api_proc,
            httpx.Client(base_url=base, headers=headers, timeout=30) as api,
        ):
            wait_http(f"{base}/healthz", api_proc, api_log)
            push = SseSubscriber(f"{base}/v1/live/{PRODUCT}/stream", key).start()
            with running(stream_argv(), env, stream_log) as stream_proc:
                deadline = time.monotonic() + 180
                while not api.get(f"/v1/live/{PRODUCT}?limit=1").json().get("data"):
                    if stream_proc.poll() is not None or time.monotonic() > deadline:
                        sys.exit(f"the stream lane produced nothing:\n{stream_log.read_text()}")
                    time.sleep(0.5)
                time.sleep(WARMUP_S)
                measured_from, read_before = time.time(), events_in(metrics_url)
                seen: dict[str, float | None] = {}
                stop = threading.Event()
                errors: list[int] = []
                poller = threading.Thread(target=lambda: errors.append(poll_api(api, stop, seen)))
                poller.start()
                time.sleep(seconds)
                stop.set()
                read_per_s = (events_in(metrics_url) - read_before) / (time.time() - measured_from)
                poller.join()
            push.close()

    sse = []
    for received_at, data in list(push.records):
        event_at = datetime.fromisoformat(json.loads(data)["event_at"]).timestamp()
        if event_at >= measured_from:
            sse.append(received_at - event_at)
    api_delays = [d for d in seen.values() if d is not None]
    print(
        f"{len(api_delays)} transactions through the API, {len(sse)} over SSE, "
        f"{errors[0] if errors else 0} failed polls",
        file=sys.stderr,
    )
    result = {
        "bench": "freshness",
        # Offered = what the stream lane read from the paced source while we measured.
        "offered_events_per_s": round(read_per_s, 1),
        "target_events_per_s": args.rate,
        "api_ms": percentiles(api_delays),
        "sse_ms": percentiles(sse),
        "measured_seconds": seconds,
        "api_transactions": len(api_delays),
        "transactions_per_s": round(len(api_delays) / seconds, 1),
        "sse_records": len(sse),
        "poll_interval_ms": POLL_S * 1000,
        "quick": args.quick,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
