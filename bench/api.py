"""Benchmark of the Data API: a live lookup with everything on, against a bare endpoint.

Both servers are one uvicorn worker in their own process; this process is the load
generator. Load is open-loop at a fixed offered rate (requests are due on a schedule and
latency counts from when a request was due, so a slow server cannot hide its queue).
The full endpoint authenticates an API key, runs the rate limiter (a `bench` tier whose
hourly limit the load cannot exhaust), the status gate, metrics and the envelope; the
bare endpoint is plain FastAPI doing the same live-store lookup. Each server then gets a
closed-loop run (every connection sends its next request once the last is answered) whose
rate is its maximum. Then 1,000 (`--quick`: 100) SSE subscribers measure push lag from a
row's processed_at to its arrival. The load generator runs on uvloop, so it takes less of
the machine from the servers.

    uv run python bench/api.py [--quick]
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

import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # bench/ comes first on sys.path; the project must win

from _api_load import closed_loop, offered_load, sse_lag  # noqa: E402
from _api_setup import (  # noqa: E402
    FULL_SERVER,
    PRODUCT,
    ROWS,
    free_port,
    lookup_path,
    prepare,
    row,
    start_server,
    stop,
)

from tollgate.catalog import load_catalog  # noqa: E402
from tollgate.clock import utcnow  # noqa: E402
from tollgate.db.engine import make_engine  # noqa: E402
from tollgate.livestore import LiveStore, upsert  # noqa: E402
from tollgate.settings import Settings  # noqa: E402


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
                upsert(conn, table, [row(ROWS + 1_000_000 + sent, utcnow())])
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
    max_seconds = 3.0 if args.quick else 10.0
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
                FULL_SERVER,
                f"/v1/live/{PRODUCT}/",
                headers,
            ),
        ]:
            port = free_port()
            proc = start_server([*cmd, str(port)], env, port)
            path_for = lookup_path(prefix)
            try:
                uvloop.run(offered_load(port, path_for, hdrs, min(rate, 200.0), 1.0))  # warm up
                results[name] = uvloop.run(offered_load(port, path_for, hdrs, rate, seconds))
                results[f"max_{name}"] = uvloop.run(closed_loop(port, path_for, hdrs, max_seconds))
                print(name, results[name], results[f"max_{name}"], file=sys.stderr)
                if name == "full":
                    results["sse"] = uvloop.run(
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
                "max": {
                    "full_rps": results["max_full"]["rps"],
                    "bare_rps": results["max_bare"]["rps"],
                    "ratio": round(results["max_full"]["rps"] / results["max_bare"]["rps"], 3)
                    if results["max_bare"]["rps"]
                    else None,
                    "full": results["max_full"],
                    "bare": results["max_bare"],
                },
                "sse": results["sse"],
                "workers": 1,
                "quick": args.quick,
            }
        )
    )


if __name__ == "__main__":
    threading.current_thread().name = "bench-api"
    main()
