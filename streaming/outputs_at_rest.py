"""What a run of the lane left at rest: live store rows, landed rows, quarantine records.

Wall-clock columns (`processed_at`, `received_at`) are left out: they say when, not what,
so two runs of one input compare equal whatever their timing, crashes and restarts.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
from sqlalchemy import create_engine, inspect, text

from tollgate.lake import LANDING_DATASETS

WALL_CLOCK = ("processed_at", "received_at")


def store_rows(url: str) -> dict[str, list[tuple]]:
    """Every live store table's rows, sorted, as text."""
    engine = create_engine(url)
    tables = {}
    with engine.connect() as conn:
        for name in inspect(conn).get_table_names():
            cols = [c["name"] for c in inspect(conn).get_columns(name)]
            cols = [c for c in cols if c not in WALL_CLOCK]
            # Identifiers come from the database's own catalog, not from input.
            rows = conn.execute(text(f"SELECT {', '.join(cols)} FROM {name}")).all()  # noqa: S608
            tables[name] = sorted(tuple(str(v) for v in r) for r in rows)
    engine.dispose()
    return tables


def landed_rows(lake_dir: Path) -> dict[str, list[tuple]]:
    """Landed rows per dataset, sorted, whatever files they were written to."""
    out = {}
    for dataset in LANDING_DATASETS:
        rows = []
        for path in sorted((lake_dir / "landing" / dataset).glob("*/*/*.parquet")):
            rows += [tuple(str(v) for v in r.values()) for r in pq.read_table(path).to_pylist()]
        out[dataset] = sorted(rows)
    return out


def quarantine_records(lake_dir: Path) -> list[str]:
    """Quarantined records as sorted JSON texts."""
    out = []
    for path in (lake_dir / "quarantine").glob("*/*.jsonl"):
        for line in path.read_text().splitlines():
            record = {k: v for k, v in json.loads(line).items() if k not in WALL_CLOCK}
            out.append(json.dumps(record, sort_keys=True))
    return sorted(out)


def row_differences(expected: list, actual: list) -> tuple[int, int]:
    """(rows in `actual` beyond `expected`, rows of `expected` missing from `actual`)."""
    want, got = Counter(expected), Counter(actual)
    return sum((got - want).values()), sum((want - got).values())
