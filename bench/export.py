"""Bulk export throughput and memory: Tollgate's export writer against DuckDB's own COPY.

Builds a customer-behavior-daily snapshot of N rows (10M; --quick 300k), then exports all
of it as CSV and as Parquet with `tollgate.exports.write_export` and with DuckDB's own
`COPY (SELECT ...) TO`, alternately, best of --repeat runs each. Each run happens in its
own child process so its peak memory (ru_maxrss) is its own. Prints one JSON line last
(keys in shared/BENCH.md).

    uv run python bench/export.py [--quick] [--rows N]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

PRODUCT = "customer-behavior-daily"
# Same shape and types as the published mart (columns in catalog order).
SNAPSHOT_SQL = """
COPY (
  SELECT
    printf('c-%06d@', i % 200000) || CAST(activity_date AS VARCHAR) AS customer_day_id,
    printf('c-%06d', i % 200000)                   AS customer_id,
    activity_date,
    (['US-West','US-East','EU','APAC'])[1 + i % 4] AS region,
    (i % 7)::BIGINT AS sessions, (i % 31)::BIGINT AS page_views, (i % 5)::BIGINT AS searches,
    (i % 3)::BIGINT AS add_to_carts, (i % 2)::BIGINT AS purchases,
    (i * 37 % 100000)::BIGINT AS spend_cents,
    CASE WHEN i % 7 = 0 THEN NULL ELSE (i % 2) / (i % 7)::DOUBLE END AS conversion_rate
  FROM (SELECT i, DATE '2026-01-01' + CAST(i // 200000 AS INTEGER) AS activity_date
        FROM range(?) t(i))
) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 122880)
"""


def build_snapshot(path: Path, rows: int) -> None:
    with duckdb.connect() as con:
        con.execute(SNAPSHOT_SQL.format(path=path.as_posix()), [rows])


def child(engine: str, fmt: str, source: Path, out: Path) -> dict:
    """One export in this process; returns rows, seconds and this process's peak RSS."""
    if engine == "tollgate":
        from tollgate.catalog import load_catalog
        from tollgate.exports import ExportSpec, write_export
        from tollgate.settings import Settings

        product = load_catalog(Settings().catalog_path).product(PRODUCT)
        # Imports and catalog loading are process start-up, not export work.
        started = time.perf_counter()
        rows = write_export(ExportSpec(product, source, fmt), out).rows
    else:
        started = time.perf_counter()
        options = "FORMAT csv, HEADER" if fmt == "csv" else "FORMAT parquet"
        with duckdb.connect() as con:
            # COPY's target cannot be a bound parameter; both paths are this script's temp files.
            rows = con.execute(
                f"COPY (SELECT * FROM read_parquet('{source.as_posix()}')) "  # noqa: S608
                f"TO '{out.as_posix()}' ({options})"
            ).fetchone()[0]
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "rows": rows,
        "seconds": seconds,
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "bytes": out.stat().st_size,
    }


def run_child(engine: str, fmt: str, source: Path, workdir: Path) -> dict:
    out = workdir / f"{engine}.{fmt}"
    cmd = [sys.executable, __file__, "--child", engine, fmt, str(source), str(out)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    out.unlink(missing_ok=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="300k rows, a smoke test")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=2, help="runs per engine and format")
    parser.add_argument("--child", nargs=4, metavar=("ENGINE", "FMT", "SOURCE", "OUT"))
    args = parser.parse_args()
    if args.child:
        engine, fmt, source, out = args.child
        print(json.dumps(child(engine, fmt, Path(source), Path(out))))
        return
    rows = args.rows or (300_000 if args.quick else 10_000_000)
    with tempfile.TemporaryDirectory(prefix="tollgate-bench-export-") as tmp:
        workdir = Path(tmp)
        source = workdir / "data.parquet"
        build_snapshot(source, rows)
        # Alternate the engines and keep each one's best of `repeat` runs: the machine is
        # shared, so a single run measures the neighbours as much as the code.
        runs: dict[tuple[str, str], dict] = {}
        for _ in range(args.repeat):
            for fmt in ("csv", "parquet"):
                for engine in ("duckdb", "tollgate"):
                    run = run_child(engine, fmt, source, workdir)
                    best = runs.get((engine, fmt))
                    if best is None or run["seconds"] < best["seconds"]:
                        runs[(engine, fmt)] = {
                            **run,
                            "peak_rss_mb": max(
                                run["peak_rss_mb"], best["peak_rss_mb"] if best else 0
                            ),
                        }
    for (engine, fmt), run in runs.items():
        assert run["rows"] == rows, f"{engine} {fmt} exported {run['rows']} of {rows} rows"
        print(
            f"{engine:8} {fmt:7} {run['seconds']:7.2f} s  {rows / run['seconds']:>12,.0f} rows/s"
            f"  {run['bytes'] / 1e6:8.1f} MB  peak {run['peak_rss_mb']} MB",
            file=sys.stderr,
        )

    def rate(engine: str, fmt: str) -> float:
        return round(rows / runs[(engine, fmt)]["seconds"])

    print(
        json.dumps(
            {
                "bench": "export",
                "rows": rows,
                "csv_rows_per_s": rate("tollgate", "csv"),
                "parquet_rows_per_s": rate("tollgate", "parquet"),
                "duckdb_csv_rows_per_s": rate("duckdb", "csv"),
                "duckdb_parquet_rows_per_s": rate("duckdb", "parquet"),
                "ratio_csv": round(rate("tollgate", "csv") / rate("duckdb", "csv"), 3),
                "ratio_parquet": round(rate("tollgate", "parquet") / rate("duckdb", "parquet"), 3),
                "peak_rss_mb": max(
                    runs[("tollgate", f)]["peak_rss_mb"] for f in ("csv", "parquet")
                ),
                "duckdb_peak_rss_mb": max(
                    runs[("duckdb", f)]["peak_rss_mb"] for f in ("csv", "parquet")
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
