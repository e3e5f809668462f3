"""Soak of the Data API: the metered lookup at a fixed rate for N minutes, one process.

Load is open-loop (as in bench/api.py) in windows of a minute (`--quick`: 10 s, for one
minute in all) after a warm-up window that is not counted. After each window the server's
resident memory is read from /proc. At the end the server is stopped (SIGTERM) and its
ledger counted: every answered request must be one ledger record. Memory and latency that
grow with traffic show as `rss_last_mb` over `rss_first_mb` and `p99_ms_last` over
`p99_ms_first` (first and last counted windows).

    uv run python bench/soak.py [--minutes 10] [--rate 500] [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import uvloop
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # bench/ comes first on sys.path; the project must win

from _api_load import offered_load  # noqa: E402
from _api_setup import FULL_SERVER, PRODUCT, free_port, lookup_path, prepare, start_server  # noqa: E402

from tollgate.db.engine import make_engine  # noqa: E402
from tollgate.db.models import UsageRecord  # noqa: E402
from tollgate.settings import Settings  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmRSS")


def ledger_rows(env: dict[str, str]) -> int:
    settings = Settings(
        data_dir=Path(env["TOLLGATE_DATA_DIR"]),
        catalog_path=Path(env["TOLLGATE_CATALOG_PATH"]),
        _env_file=None,
    )
    engine = make_engine(settings.metadata_db_url)
    with engine.connect() as conn:
        rows = conn.scalar(select(func.count()).select_from(UsageRecord))
    engine.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one minute, 10 s windows")
    parser.add_argument("--minutes", type=float, help="minutes of counted load (default 10)")
    parser.add_argument("--rate", type=float, default=500.0, help="requests per second")
    args = parser.parse_args()
    minutes = args.minutes or (1.0 if args.quick else 10.0)
    window = 10.0 if args.quick else 60.0
    windows = max(2, round(minutes * 60 / window))

    with tempfile.TemporaryDirectory(prefix="tollgate-bench-soak-") as tmp:
        env, key = prepare(Path(tmp))
        headers = f"Authorization: Bearer {key}\r\n".encode()
        port = free_port()
        proc = start_server([*FULL_SERVER, str(port)], env, port)
        path_for = lookup_path(f"/v1/live/{PRODUCT}/")
        results = []
        try:
            # Warm-up: caches, pools and the allocator settle; not counted.
            warm = uvloop.run(offered_load(port, path_for, headers, args.rate, window))
            for n in range(windows):
                result = uvloop.run(offered_load(port, path_for, headers, args.rate, window))
                result["rss_mb"] = rss_mb(proc.pid)
                result["requests"] = int(args.rate * window)
                results.append(result)
                print(n, result, file=sys.stderr)
        finally:
            proc.terminate()  # SIGTERM: the ledger writes everything on the way out
            proc.wait(60)
        counted = sum(r["requests"] for r in results) + int(args.rate * window)
        errors = sum(r["errors"] for r in results) + warm["errors"]
        rows = ledger_rows(env)
    first, last = results[0], results[-1]
    print(
        json.dumps(
            {
                "bench": "soak",
                "minutes": minutes,
                "rate": args.rate,
                "requests": counted,
                "errors": errors,
                "p99_ms_first": first["p99_ms"],
                "p99_ms_last": last["p99_ms"],
                "rss_first_mb": first["rss_mb"],
                "rss_last_mb": last["rss_mb"],
                "ledger_rows": rows,
                "windows": [{k: r[k] for k in ("p50_ms", "p99_ms", "rss_mb")} for r in results],
                "quick": args.quick,
            }
        )
    )


if __name__ == "__main__":
    main()
