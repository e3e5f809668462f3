"""Benchmark of the Data API: a live lookup with everything on, against a bare endpoint.

Both servers are one uvicorn worker in their own process; this process is the load
generator. Load is open-loop at a fixed offered rate (requests are due on a schedule and
latency counts from when a request was due, so a slow server cannot hide its queue).
The full endpoint authenticates an API key, runs the rate limiter (a `bench` tier whose
hourly limit the load cannot exhaust), the status gate, metrics and the envelope; the
bare endpoint is plain FastAPI doing the same live-store lookup. Then 1,000 (`--quick`:
100) SSE subscribers measure push lag from a row's processed_at to its arrival.

    uv run python bench/api.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # bench/ comes first on sys.path; the project must win

from _api_load import offered_load, sse_lag  # noqa: E402

from tollgate.catalog import load_catalog  # noqa: E402
from tollgate.clock import utcnow  # noqa: E402
from tollgate.db.engine import make_engine  # noqa: E402
from tollgate.db.migrate import upgrade  # noqa: E402
from tollgate.db.models import ApiKey, Tenant  # noqa: E402
from tollgate.keys import new_api_key  # noqa: E402
from tollgate.livestore import LiveStore, upsert  # noqa: E402
from tollgate.settings import Settings  # noqa: E402

PRODUCT = "transaction-risk"
ROWS = 10_000


# -- setup ------------------------------------------------------------------------------
def prepare(data_dir: Path) -> tuple[dict[str, str], str]:
    """A catalog with a bench tier, a migrated metadata DB, a tenant key and live rows."""
    raw = yaml.safe_load((ROOT / "catalog.yaml").read_text())
    raw["tiers"]["bench"] = {
        "title": "Bench",
        "rate_limit_per_hour": 1_000_000_000,
        "cache_ttl_seconds": 0,
        "export_row_cap": 1,
        "sse_connections": 100_000,
        "products": [PRODUCT],
    }
    catalog_path = data_dir / "catalog.yaml"
    catalog_path.write_text(yaml.safe_dump(raw))
    env = {
        **os.environ,
        "TOLLGATE_DATA_DIR": str(data_dir),
        "TOLLGATE_CATALOG_PATH": str(catalog_path),
    }
    settings = Settings(data_dir=data_dir, catalog_path=catalog_path, _env_file=None)
    upgrade(settings.metadata_db_url)
    meta = make_engine(settings.metadata_db_url)
    key = new_api_key()
    with meta.begin() as conn:
        conn.execute(
            Tenant.__table__.insert().values(
                id="bench",
                name="bench",
                tier="bench",
                status="active",
                created_at=utcnow(),
                updated_at=utcnow(),
            )
        )
        conn.execute(
            ApiKey.__table__.insert().values(
                key_id=key.key_id,
                tenant_id="bench",
                secret_hash=key.secret_hash,
                created_at=utcnow(),
            )
        )
    store = LiveStore(load_catalog(catalog_path))
    live = make_engine(settings.live_store_url)
    store.create_all(live)
    base = datetime(2026, 11, 24, tzinfo=UTC)
    with live.begin() as conn:
        upsert(
            conn, store.table(PRODUCT), [_row(i, base + timedelta(seconds=i)) for i in range(ROWS)]
        )
        upsert(
            conn,
            store.watermarks,
            [{"product_id": PRODUCT, "watermark_at": utcnow(), "processed_at": utcnow()}],
        )
    return env, key.plaintext


def _row(i: int, at: datetime) -> dict:
    return {
        "transaction_id": f"tx-{i:07d}",
        "customer_id": f"c-{i % 997:05d}",
        "region": ("US-West", "US-East", "EU", "APAC")[i % 4],
        "event_at": at,
        "processed_at": at,
        "amount_cents": 100 + i,
        "merchant_category": "books",
        "fraud_score": (i % 100) / 100,
        "risk_level": "low",
        "risk_reasons": "",
    }


# -- the bare endpoint (runs in its own process) --------------------------------------------
def serve_bare(port: int) -> None:
    import uvicorn
    from fastapi import FastAPI, HTTPException
    from sqlalchemy import select

    settings = Settings()
    table = LiveStore(load_catalog(settings.catalog_path)).table(PRODUCT)
    engine = make_engine(settings.live_store_url)
    app = FastAPI()

    @app.get("/bare/{key}")
    def lookup(key: str) -> dict:
        with engine.connect() as conn:
            row = (
                conn.execute(select(table).where(table.c.transaction_id == key)).mappings().first()
            )
        if row is None:
            raise HTTPException(404)
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def start_server(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode()[-2000:])
        try:
            asyncio.run(
                _get_once(port, "/healthz" if "api.main:app" in args else "/bare/tx-0000001")
            )
            return proc
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


async def _get_once(port: int, path: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await reader.readuntil(b"\r\n\r\n")
    writer.close()


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def lookup_path(prefix: str) -> Callable[[int], str]:
    """The i-th request's row: keys spread over the table, the same sequence on both servers."""
    return lambda i: f"{prefix}tx-{(i * 7919) % ROWS:07d}"


def _write_rows(env: dict, seconds: float, rows_per_s: float) -> int:
    settings = Settings(
        data_dir=Path(env["TOLLGATE_DATA_DIR"]),
        catalog_path=Path(env["TOLLGATE_CATALOG_PATH"]),
        _env_file=None,
    )
    table = LiveStore(load_catalog(settings.catalog_path)).table(PRODUCT)
    engine = make_engine(settings.live_store_url)
    sent, start = 0, time.perf_counter()
    with engine.connect() as conn:  # connected once, as a stream writer is
        while time.perf_counter() - start < seconds:
            with conn.begin():
                # Stamped as the writer does: at write time, inside the transaction.
                upsert(conn, table, [_row(ROWS + 1_000_000 + sent, utcnow())])
            sent += 1
            time.sleep(max(0.0, start + sent / rows_per_s - time.perf_counter()))
    engine.dispose()
    return sent


# -- main -----------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of under a minute")
    parser.add_argument("--rate", type=float, help="offered requests per second")
    parser.add_argument("--seconds", type=float, help="seconds of load per endpoint")
    parser.add_argument("--subscribers", type=int, help="SSE subscribers")
    parser.add_argument(
        "--rows-per-s", type=float, help="rows written per second during the SSE phase"
    )
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return
    rate = args.rate or (300.0 if args.quick else 1000.0)
    seconds = args.seconds or (4.0 if args.quick else 15.0)
    subscribers, sse_seconds, rows_per_s = (100, 4.0, 5.0) if args.quick else (1000, 10.0, 5.0)
    subscribers = args.subscribers or subscribers
    rows_per_s = args.rows_per_s or rows_per_s

    with tempfile.TemporaryDirectory(prefix="tollgate-bench-api-") as tmp:
        env, key = prepare(Path(tmp))
        headers = f"Authorization: Bearer {key}\r\n".encode()
        results = {}
        for name, cmd, prefix, hdrs in [
            ("bare", [sys.executable, str(Path(__file__)), "--serve-bare"], "/bare/", b""),
            (
                "full",
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "api.main:app",
                    "--no-access-log",
                    "--log-level",
                    "warning",
                    "--host",
                    "127.0.0.1",
                    "--port",
                ],
                f"/v1/live/{PRODUCT}/",
                headers,
            ),
        ]:
            port = _free_port()
            proc = start_server([*cmd, str(port)], env, port)
            path_for = lookup_path(prefix)
            try:
                asyncio.run(offered_load(port, path_for, hdrs, min(rate, 200.0), 1.0))  # warm up
                results[name] = asyncio.run(offered_load(port, path_for, hdrs, rate, seconds))
                print(name, results[name], file=sys.stderr)
                if name == "full":
                    results["sse"] = asyncio.run(
                        sse_lag(
                            port,
                            f"/v1/live/{PRODUCT}/stream",
                            key,
                            subscribers,
                            lambda: _write_rows(env, sse_seconds, rows_per_s),
                        )
                    )
            finally:
                stop(proc)
    ratio = (
        round(results["full"]["rps"] / results["bare"]["rps"], 3)
        if results["bare"]["rps"]
        else None
    )
    print(
        json.dumps(
            {
                "bench": "api",
                "offered_rps": rate,
                "seconds": seconds,
                "full": results["full"],
                "bare": results["bare"],
                "ratio": ratio,
                "sse": results["sse"],
                "workers": 1,
                "quick": args.quick,
            }
        )
    )


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    threading.current_thread().name = "bench-api"
    main()
