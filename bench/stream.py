"""Stream-lane benchmark: the whole live flow vs a bare Bytewax flow, and end-to-end latency.

    uv run python bench/stream.py [--quick] [--scaling]

1. Throughput: the same JSONL stream through (a) the whole live-products flow with
   recovery on (SQLite live store, Parquet landing, quarantine) and (b) a bare flow that
   parses (with the contract's `parse_event`), keys and counts. One worker each, in
   interleaved rounds (`--rounds`); by wall clock and by CPU time (`cpu`, steadier on a
   shared machine). Each figure is that flow's best round; `rounds` lists them all.
2. Latency: synthetic events offered in real time at 5,000 events/s (event time = the
   moment it is offered); latency is processed_at - event_at of each transaction-risk row.
3. Quality: precision/recall of "high"/"critical" against the generator's fraud labels.
4. With --scaling: the same replay through real processes with 1 worker, 2 workers and
   2 processes (cluster mode), and whether their outputs are equal.
Prints one JSON line last (keys in shared/BENCH.md).
"""

from __future__ import annotations

import argparse
import gc
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bytewax.operators as op
import duckdb
import pandas  # noqa: F401 - pyarrow loads it on first use; keep that out of the timings
import pyarrow as pa
from bytewax.dataflow import Dataflow
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.testing import TestingSink, run_main

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _stream_scaling import scaling  # noqa: E402

from streaming.customers import Timing  # noqa: E402
from streaming.dedupe import SeenIds, id_hashes  # noqa: E402
from streaming.flows.build import build_flow  # noqa: E402
from streaming.runtime import tune_gc  # noqa: E402
from streaming.sources import JsonlDirSource  # noqa: E402
from tollgate.events import event_to_dict, parse_event  # noqa: E402
from tollgate.events.generator import GeneratorConfig, SyntheticSource  # noqa: E402
from tollgate.events.writers import write_jsonl  # noqa: E402
from tollgate.settings import Settings  # noqa: E402

START = datetime(2026, 11, 20, tzinfo=UTC)
OFFERED_PER_S = 5000.0
# The epoch (snapshot) interval `python -m streaming` runs with.
EPOCH = timedelta(seconds=5)


def bare_flow(source: JsonlDirSource, counts: list) -> Dataflow:
    flow = Dataflow("bare")
    raw = op.input("in", flow, source)
    events = op.filter_map("parse", raw, _parse_or_none)
    counted = op.count_final("key_count", events, lambda e: e.customer_id)
    op.output("out", counted, TestingSink(counts))
    return flow


def _parse_or_none(line: bytes):
    try:
        return parse_event(line)
    except ValueError:
        return None


def throughput(work: Path, events: int, rounds: int) -> tuple[list[dict], Settings]:
    """Rates of the whole flow and of the bare flow over the same lines, `rounds` times,
    interleaved (flow, bare, then bare, flow, ...) so drifting load falls on both alike."""
    source_dir = work / "source"
    config = GeneratorConfig(seed=3, customers=5000, malformed_rate=0.001, duplicate_rate=0.001)
    write_jsonl(SyntheticSource(config).raw(START, count=events), source_dir)
    lines = sum(f.read_bytes().count(b"\n") for f in source_dir.glob("*.jsonl"))
    runs: list[dict] = []
    settings: list[Settings] = []
    for i in range(rounds):
        timed = {}
        for which in ("flow", "bare") if i % 2 == 0 else ("bare", "flow"):
            if which == "flow":
                ran, timed["flow"] = _run_flow(work / f"flow-{i}", source_dir)
                settings.append(ran)
            else:
                timed["bare"] = _run_bare(source_dir)
        # CPU time as well as wall time: on a shared machine the wall clock also measures
        # the neighbours, CPU time much less so.
        runs.append(
            {
                "flow": lines / timed["flow"][0],
                "bare": lines / timed["bare"][0],
                "flow_cpu": lines / timed["flow"][1],
                "bare_cpu": lines / timed["bare"][1],
            }
        )
    return runs, settings[0]


def _run_flow(work: Path, source_dir: Path) -> tuple[Settings, tuple[float, float]]:
    settings = Settings(data_dir=work / "data", _env_file=None)
    recovery = work / "recovery"
    recovery.mkdir(parents=True)
    init_db_dir(recovery, 1)
    flow = build_flow(settings, JsonlDirSource(source_dir))
    t, cpu = time.perf_counter(), time.process_time()
    run_main(flow, epoch_interval=EPOCH, recovery_config=RecoveryConfig(str(recovery)))
    return settings, (time.perf_counter() - t, time.process_time() - cpu)


def _run_bare(source_dir: Path) -> tuple[float, float]:
    counts: list = []
    t, cpu = time.perf_counter(), time.process_time()
    run_main(bare_flow(JsonlDirSource(source_dir), counts), epoch_interval=EPOCH)
    return time.perf_counter() - t, time.process_time() - cpu


def rate_figures(runs: list[dict], prefix: str = "") -> dict:
    """The best round of each flow (noise on a shared machine only ever slows a run) and
    their ratio, with the median of the rounds' own ratios beside it."""
    flow = max(r[f"flow{prefix}"] for r in runs)
    bare = max(r[f"bare{prefix}"] for r in runs)
    ratios = [r[f"flow{prefix}"] / r[f"bare{prefix}"] for r in runs]
    return {
        "flow_events_per_s": round(flow),
        "bare_events_per_s": round(bare),
        "ratio": round(flow / bare, 3),
        "median_round_ratio": round(statistics.median(ratios), 3),
    }


class OfferedAtRate(FixedPartitionedSource):
    """Pre-generated events offered at a fixed rate, each stamped with the moment it is
    offered (the generator itself is slower than 5,000 events/s, so it runs beforehand)."""

    def __init__(self, events: list[dict], per_s: float):
        self.events, self.per_s = events, per_s

    def list_parts(self) -> list[str]:
        return ["offered"]

    def build_part(self, step_id, for_part, resume_state):
        return _OfferedPartition(self.events, self.per_s)


class _OfferedPartition(StatefulSourcePartition):
    def __init__(self, events: list[dict], per_s: float):
        self.events, self.per_s, self.sent = events, per_s, 0
        self.t0 = time.monotonic()

    def next_batch(self) -> list[bytes]:
        if self.sent >= len(self.events):
            raise StopIteration
        due = min(len(self.events), int((time.monotonic() - self.t0) * self.per_s))
        now = datetime.now(UTC).isoformat()
        batch = []
        for d in self.events[self.sent : due]:
            d["event_time"] = now
            batch.append(json.dumps(d).encode())
        self.sent = max(self.sent, due)
        return batch

    def next_awake(self):
        return datetime.now(UTC) + timedelta(milliseconds=5)

    def snapshot(self):
        return None


def latency(work: Path, seconds: float) -> tuple[dict, float]:
    settings = Settings(data_dir=work / "latency", _env_file=None)
    recovery = work / "latency-recovery"
    recovery.mkdir()
    init_db_dir(recovery, 1)
    count = int(OFFERED_PER_S * seconds)
    config = GeneratorConfig(seed=5, customers=5000)
    events = [event_to_dict(e) for e in SyntheticSource(config).events(START, count=count)]
    source = OfferedAtRate(events, OFFERED_PER_S)
    t = time.perf_counter()
    run_main(
        build_flow(settings, source),
        epoch_interval=EPOCH,
        recovery_config=RecoveryConfig(str(recovery)),
    )
    offered = count / (time.perf_counter() - t)
    with sqlite3.connect(settings.data_dir / "live.db") as db:
        rows = db.execute("SELECT event_at, processed_at FROM live_transaction_risk").fetchall()
    lags = sorted(
        (datetime.fromisoformat(p) - datetime.fromisoformat(e)).total_seconds() * 1000
        for e, p in rows
    )
    q = statistics.quantiles(lags, n=100, method="inclusive")
    return {"p50": round(q[49], 1), "p95": round(q[94], 1), "p99": round(q[98], 1)}, offered


def risk_quality(settings: Settings) -> dict:
    with sqlite3.connect(settings.data_dir / "live.db") as live:
        rows = live.execute(
            "SELECT transaction_id, risk_level FROM live_transaction_risk"
        ).fetchall()
    scored = pa.table(
        {
            "transaction_id": [r[0] for r in rows],
            "flagged": [r[1] in ("high", "critical") for r in rows],
        }
    )
    db = duckdb.connect()
    db.register("scored", scored)
    landed = f"{settings.lake_dir}/landing/card_transactions/*/*/*.parquet"
    tp, fp, fn = db.execute(
        """
        select count(*) filter (where flagged and is_fraud),
               count(*) filter (where flagged and not is_fraud),
               count(*) filter (where not flagged and is_fraud)
        from read_parquet($landed) join scored using (transaction_id)
        """,
        {"landed": landed},
    ).fetchone()
    return {
        "precision": round(tp / max(tp + fp, 1), 3),
        "recall": round(tp / max(tp + fn, 1), 3),
        "fraud_transactions": tp + fn,
    }


def dedupe_bytes_per_million(events: int = 1_000_000) -> int:
    """Dedupe memory for a million distinct events spread over a day of event time, with the
    default horizon (24 h): ids of hours the watermark has passed are sealed, the last
    hour's are not, as in a running lane."""
    seen = SeenIds(Timing().dedupe_horizon_s)
    step = 86_400 / events
    start = START.timestamp()
    for i in range(0, events, 10_000):
        hashes = id_hashes([f"ev-{j:012d}" for j in range(i, i + 10_000)])
        for k, h in enumerate(hashes):
            seen.add(h, start + (i + k) * step)
        seen.advance(start + (i + 10_000) * step - Timing().allowed_lateness_s)
    return round(seen.nbytes() * 1_000_000 / events)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small run, under a minute")
    parser.add_argument("--scaling", action="store_true", help="also 1 vs 2 workers vs 2 processes")
    parser.add_argument("--rounds", type=int, help="flow/bare rounds (default 3; quick 1)")
    args = parser.parse_args()
    events, seconds = (40_000, 6.0) if args.quick else (200_000, 20.0)
    rounds = args.rounds or (1 if args.quick else 3)
    tune_gc()  # as the flow module does in production, for both flows
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        runs, settings = throughput(work, events, rounds)
        quality = risk_quality(settings)
        lat, offered = latency(work, seconds)
        scaled = scaling(work, events) if args.scaling else None
    # Frozen objects are never freed; thaw them so extension modules exit quietly.
    gc.unfreeze()
    gc.collect()
    print(
        json.dumps(
            {
                "bench": "stream",
                "events": events,
                **rate_figures(runs),
                "cpu": rate_figures(runs, "_cpu"),
                "rounds": [{k: round(v) for k, v in r.items()} for r in runs],
                "offered_events_per_s": round(offered),
                "latency_ms": lat,
                "workers": 1,
                "dedupe_bytes_per_million_events": dedupe_bytes_per_million(),
                "risk": quality,
                **({"scaling": scaled} if scaled else {}),
            }
        )
    )


if __name__ == "__main__":
    main()
