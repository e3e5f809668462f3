"""Crash bench: kill -9 the live lane at random moments, restart it, compare with a clean run.

    uv run python bench/crash.py [--trials N] [--quick]

One JSONL replay (malformed lines, duplicates, late events) runs once uninterrupted. Then
each trial starts the lane afresh on the same replay with recovery on, kills it with
SIGKILL at a random moment (from just before its first landing file, so before its first
snapshot, to the clean run's length), sometimes twice, restarts it until it finishes, and
compares what it left with the clean run: live store rows, landed rows and quarantine
records (wall-clock columns aside). `exact` counts trials equal in all three;
`duplicate_rows` and `lost_rows` add up the rows one had beyond or short of the clean run.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streaming.outputs_at_rest import (  # noqa: E402
    landed_rows,
    quarantine_records,
    row_differences,
    store_rows,
)
from streaming.recovery import ensure_recovery_dir  # noqa: E402
from tollgate.events.generator import GeneratorConfig, SyntheticSource  # noqa: E402
from tollgate.events.writers import write_jsonl  # noqa: E402
from tollgate.settings import Settings  # noqa: E402

START = datetime(2026, 11, 20, 6, tzinfo=UTC)


def run_lane(data_dir: Path, source: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "TOLLGATE_DATA_DIR": str(data_dir),
        "TOLLGATE_STREAM_METRICS_PORT": "0",
        "TOLLGATE_KAFKA_BROKERS": "",
    }
    flow = f"streaming.flows.live_products:jsonl_flow('{source}', shards=8, writers=2)"
    recovery = data_dir / "recovery"
    ensure_recovery_dir(recovery)
    args = [sys.executable, "-m", "streaming", flow, "-r", str(recovery), "-s", "1", "-b", "0"]
    return subprocess.Popen(args, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)


def outputs(data_dir: Path) -> dict[str, list]:
    store = store_rows(Settings(data_dir=data_dir, _env_file=None).live_store_url)
    lake = landed_rows(data_dir / "lake")
    out = {f"store:{name}": rows for name, rows in store.items()}
    out.update({f"landing:{name}": rows for name, rows in lake.items()})
    out["quarantine"] = quarantine_records(data_dir / "lake")
    return out


def trial(
    work: Path, source: Path, ready_s: float, clean_s: float, rng: random.Random
) -> tuple[int, Path]:
    """Kill the lane once or twice at random moments while it reads (from shortly before
    its first landing file, so some kills come before the first snapshot, to the clean
    run's end), then let a restart finish; return the kills and its data directory.

    A trial whose lane finished before its first moment came is started again from an
    empty directory, so every trial counted has been killed at least once."""
    while True:
        shutil.rmtree(work, ignore_errors=True)
        kills = 0
        for _ in range(rng.choice([1, 1, 2])):
            proc = run_lane(work, source)
            time.sleep(rng.uniform(ready_s * 0.9, clean_s))
            if proc.poll() is not None:
                break  # finished before the moment came
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            kills += 1
        if kills:
            break
    proc = run_lane(work, source)
    if proc.wait(900) != 0:
        raise SystemExit(f"the restarted lane failed in {work}")
    return kills, work


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="3 trials of a small replay")
    parser.add_argument("--trials", type=int, default=None)
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--seed", type=int, default=19)
    args = parser.parse_args()
    trials = args.trials or (3 if args.quick else 20)
    events = args.events or (20_000 if args.quick else 50_000)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = work / "source"
        config = GeneratorConfig(seed=7, customers=500, malformed_rate=0.01, duplicate_rate=0.02)
        write_jsonl(SyntheticSource(config).raw(START, count=events), source, lines_per_file=50_000)
        t = time.monotonic()
        clean = run_lane(work / "clean", source)
        landing = work / "clean" / "lake" / "landing"
        while clean.poll() is None and not any(landing.glob("*/*/*/*.parquet")):
            time.sleep(0.01)
        ready_s = time.monotonic() - t  # start-up and the first epoch
        if clean.wait(900) != 0:
            raise SystemExit("the uninterrupted run failed")
        clean_s = time.monotonic() - t
        expected = outputs(work / "clean")
        exact = kills = duplicates = lost = 0
        for i in range(trials):
            k, data_dir = trial(work / f"trial-{i:02d}", source, ready_s, clean_s, rng)
            got = outputs(data_dir)
            kills += k
            extra = missing = 0
            for name in sorted(set(expected) | set(got)):
                more, fewer = row_differences(expected.get(name, []), got.get(name, []))
                extra, missing = extra + more, missing + fewer
            exact += extra == 0 and missing == 0
            duplicates, lost = duplicates + extra, lost + missing
            print(f"trial {i}: kills={k} extra={extra} missing={missing}", file=sys.stderr)
    print(
        json.dumps(
            {
                "bench": "crash",
                "events": events,
                "trials": trials,
                "kills": kills,
                "exact": exact,
                "duplicate_rows": duplicates,
                "lost_rows": lost,
                "clean_run_s": round(clean_s, 1),
                "first_landing_s": round(ready_s, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
