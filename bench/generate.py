"""Synthetic source throughput: events generated in process, and written to JSONL files.

Generates N events (1M; --quick 100k) with the default config and a 1% fraud rate, as
`Event` objects (`SyntheticSource.events`), then as the wire stream with 1% malformed,
1% duplicate and 1% late lines written to JSONL files (`raw` + `write_jsonl`), and lands
half as many events of history in the landing zone (a rerun overwrites it). Best of
`--repeat` runs each (default 3, --quick 1), same process: the least disturbed by a shared machine.
Prints one JSON line last (keys in shared/BENCH.md).

    uv run python bench/generate.py [--quick] [--events N] [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tollgate.events.generator import GeneratorConfig, SyntheticSource
from tollgate.events.writers import backfill_landing, write_jsonl
from tollgate.lake import Lake

START = datetime(2026, 6, 1, tzinfo=UTC)


def best_of(repeat: int, run) -> float:
    """The fastest of `repeat` runs, in seconds: the least disturbed by a shared machine."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k events, one run each")
    parser.add_argument("--events", type=int, help="events per run")
    parser.add_argument("--repeat", type=int, help="runs per measurement (best is kept)")
    args = parser.parse_args()
    events = args.events or (100_000 if args.quick else 1_000_000)
    repeat = args.repeat or (1 if args.quick else 3)

    clean = SyntheticSource(GeneratorConfig())
    faulty = SyntheticSource(
        GeneratorConfig(malformed_rate=0.01, duplicate_rate=0.01, late_rate=0.01)
    )
    # Draining into a zero-length deque consumes the iterator without keeping anything.
    in_process_s = best_of(repeat, lambda: deque(clean.events(START, count=events), maxlen=0))
    with tempfile.TemporaryDirectory() as tmp:
        jsonl_s = best_of(
            repeat, lambda: write_jsonl(faulty.raw(START, count=events), Path(tmp) / "jsonl")
        )
        lines = sum(1 for _ in faulty.raw(START, count=events))
        lake = Lake(root=Path(tmp) / "lake", exports_root=Path(tmp) / "exports")
        # Half as many events as history (rate x span): landing is the slow part.
        span = timedelta(seconds=events / 2 / clean.config.events_per_second)
        landed = sum(backfill_landing(lake, clean, START, START + span).values())
        backfill_s = best_of(repeat, lambda: backfill_landing(lake, clean, START, START + span))

    print(f"in process: {events:,} events in {in_process_s:.2f}s")
    print(f"jsonl:      {events:,} events ({lines:,} lines) in {jsonl_s:.2f}s")
    print(f"backfill:   {landed:,} rows landed in {backfill_s:.2f}s")
    result = {
        "bench": "generate",
        "events": events,
        "events_per_s_in_process": round(events / in_process_s),
        "events_per_s_jsonl": round(events / jsonl_s),
        "lines_per_s_jsonl": round(lines / jsonl_s),
        "rows_per_s_backfill": round(landed / backfill_s),
        "repeat": repeat,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
