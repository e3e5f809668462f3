"""Batch lane benchmark: the full Dagster graph vs the same transformations as plain DuckDB SQL.

For each size, generated events are landed once; then, each in its own process so peak
memory is its own, (1) the whole graph - dbt build with tests, the GX quality gates and
snapshot publishing - materializes the window as one run, (2) dbt alone builds the same
window (its models and key tests, as in the graph's step, with no Dagster around it), and
(3) the same models written as plain DuckDB SQL build the same three marts and write them to
Parquet. (2) shows how much of the graph's time is dbt's own.

graph_s runs from loaded definitions and a Dagster instance (where a run starts once its process
has loaded the code location; graph_load_s is that load) to the last snapshot published. Before
it, the deployment's parse of the dbt project (prepare_s, a deployment step). graph_s includes
dbt's start in the step: dagster-dbt's `dbt --version` and adapter handle, then the dbt process
starting and checking the parse.

    uv run python bench/batch.py            # 1M and 10M events
    uv run python bench/batch.py --quick    # a small smoke run (under a minute)
    uv run python bench/batch.py --landing-cache /tmp/landed   # land each size once, reuse

Last line: {"bench": "batch", "runs": [{events, graph_s, plain_sql_s, time_ratio, peak_rss_mb,
dbt_alone_s, dbt_alone_time_ratio, ...}]}
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _batch_plain_sql import MARTS, PLAIN_SQL

START = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 7


def land(data_dir: Path, events: int) -> int:
    from tollgate.events.generator import GeneratorConfig, SyntheticSource
    from tollgate.events.writers import backfill_landing
    from tollgate.lake import Lake
    from tollgate.settings import Settings

    customers = max(200, events // 500)
    rate = events / (DAYS * 86400)
    source = SyntheticSource(GeneratorConfig(seed=7, customers=customers, events_per_second=rate))
    lake = Lake.from_settings(Settings(data_dir=data_dir, _env_file=None))
    counts = backfill_landing(lake, source, START, START + timedelta(days=DAYS))
    return sum(counts.values())


def peak_rss_mb() -> float:
    # dbt runs in the step's process; children (none today) count too, should that change.
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024, 1)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children: less load-dependent than wall."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_graph(data_dir: Path) -> dict:
    import dagster as dg

    from orchestration.defs.resources import TollgateResource, prepare_project, warehouse_dbt
    from tollgate.catalog import load_catalog
    from tollgate.lake import Lake
    from tollgate.settings import Settings

    settings = Settings(data_dir=data_dir, _env_file=None)
    # A deployment step, done once before Dagster loads the batch lane.
    prepared = time.perf_counter()
    prepare_project()
    prepare_s = time.perf_counter() - prepared
    loaded = time.perf_counter()
    from orchestration.definitions import defs

    definitions = defs()
    load_s = time.perf_counter() - loaded
    last_day = (START + timedelta(days=DAYS - 1)).date()
    # A run worker has its instance before the run starts, as it has its definitions; the
    # first instance of a process imports Dagster's storage modules (about 0.4 s here).
    instance = dg.DagsterInstance.ephemeral()
    started, cpu_started = time.perf_counter(), cpu_seconds()
    result = dg.materialize(
        [*definitions.assets, *definitions.asset_checks],
        instance=instance,
        resources={
            "tollgate": TollgateResource.from_settings(settings),
            "dbt": warehouse_dbt(),
        },
        selection=dg.AssetSelection.groups(
            "warehouse_staging", "warehouse_intermediate", "warehouse_marts", "published"
        ),
        # One run over the whole window, as a backfill with a single-run policy does.
        tags={
            "dagster/asset_partition_range_start": START.date().isoformat(),
            "dagster/asset_partition_range_end": last_day.isoformat(),
        },
    )
    seconds, cpu_s = time.perf_counter() - started, cpu_seconds() - cpu_started
    if not result.success:
        raise SystemExit("the batch graph failed")
    steps = {
        s.step_key: (s.start_time, s.end_time) for s in instance.get_run_step_stats(result.run_id)
    }
    dbt_start, dbt_end = steps.pop("warehouse_models")
    finished = max(end for _, end in steps.values())
    lake = Lake.from_settings(settings)
    rows = {
        p.source: lake.read_manifest(p.id, lake.current_version(p.id)).row_count
        for p in load_catalog(settings.catalog_path).batch_products()
    }
    return {
        "seconds": seconds,
        "cpu_s": round(cpu_s, 2),
        "load_s": round(load_s, 2),
        "prepare_s": round(prepare_s, 2),
        "dbt_step_s": round(dbt_end - dbt_start, 2),
        # The gates, freshness checks and publishing: every step after dbt's.
        "after_dbt_s": round(finished - dbt_end, 2),
        "step_s": {k: round(end - start, 2) for k, (start, end) in sorted(steps.items())},
        "peak_rss_mb": peak_rss_mb(),
        "rows": rows,
    }


def run_dbt_alone(data_dir: Path) -> dict:
    """dbt's build of the same window, the command the graph's step runs but with no Dagster
    around it: the part of graph_s that is dbt's (its start, the models and their key tests),
    on a new warehouse."""
    from orchestration.defs.resources import (
        BUILD,
        DBT_EXECUTABLE,
        DBT_PROJECT_DIR,
        dbt_target,
        vars_args,
        window_args,
    )
    from tollgate.settings import Settings

    settings = Settings(data_dir=data_dir, _env_file=None)
    for path in settings.warehouse_path.parent.glob(f"{settings.warehouse_path.name}*"):
        path.unlink()  # the graph's run built it; this build starts from nothing too
    window = window_args(START.date(), START.date() + timedelta(days=DAYS))
    started, cpu_started = time.perf_counter(), cpu_seconds()
    subprocess.run(
        [DBT_EXECUTABLE, *BUILD, *vars_args(settings), *window, "--quiet"]
        + ["--target-path", str(dbt_target(settings)), "--profiles-dir", str(DBT_PROJECT_DIR)],
        cwd=DBT_PROJECT_DIR,
        check=True,
    )
    seconds, cpu_s = time.perf_counter() - started, cpu_seconds() - cpu_started
    return {"seconds": seconds, "cpu_s": round(cpu_s, 2), "peak_rss_mb": peak_rss_mb()}


def run_plain(data_dir: Path) -> dict:
    import duckdb

    from tollgate.lake import Lake
    from tollgate.settings import Settings

    lake = Lake.from_settings(Settings(data_dir=data_dir, _env_file=None))
    out = data_dir / "plain"
    out.mkdir(exist_ok=True)
    started, cpu_started = time.perf_counter(), cpu_seconds()
    conn = duckdb.connect(str(out / "plain.duckdb"))
    conn.execute("SET TimeZone = 'UTC'")
    params = {
        "behavior_glob": lake.landing_glob("behavior_events"),
        "transactions_glob": lake.landing_glob("card_transactions"),
        "start_date": START.date(),
        "end_date": START.date() + timedelta(days=DAYS),
    }
    for statement in filter(str.strip, PLAIN_SQL.split(";")):
        used = {k: v for k, v in params.items() if f"${k}" in statement}
        conn.execute(statement, used)
    for table, key in MARTS.items():
        conn.table(table).order(key).write_parquet(str(out / f"{table}.parquet"))
    seconds, cpu_s = time.perf_counter() - started, cpu_seconds() - cpu_started
    rows = {table: conn.table(table).count("*").fetchall()[0][0] for table in MARTS}
    conn.close()
    return {
        "seconds": seconds,
        "cpu_s": round(cpu_s, 2),
        "peak_rss_mb": peak_rss_mb(),
        "rows": rows,
    }


def worker(kind: str, data_dir: Path) -> dict:
    """Run one side in a fresh process, so each side's peak memory is its own.

    The process is configured like a deployment (TOLLGATE_DATA_DIR), so loading the
    definitions parses the dbt project for these settings once, as a code location does
    when it loads; the timed run then reuses that parse, as every later run would.
    """
    env = {**os.environ, "TOLLGATE_DATA_DIR": str(data_dir)}
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", kind, str(data_dir)],
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode:
        raise SystemExit(f"{kind} run failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def landed_once(cache: Path, events: int) -> tuple[int, float]:
    """Land `events` into `cache` unless an earlier run did; (events landed, seconds)."""
    stamp = cache / "landed.json"
    if stamp.exists() and json.loads(stamp.read_text())["requested"] == events:
        return json.loads(stamp.read_text())["events"], 0.0
    shutil.rmtree(cache, ignore_errors=True)
    began = time.perf_counter()
    landed = land(cache, events)
    stamp.write_text(json.dumps({"requested": events, "events": landed}))
    return landed, time.perf_counter() - began


def bench(events: int, landing_cache: Path | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="tollgate-bench-batch-") as tmp:
        data_dir = Path(tmp) / "data"
        if landing_cache:
            landed, land_s = landed_once(landing_cache / str(events), events)
            shutil.copytree(landing_cache / str(events) / "lake", data_dir / "lake")
        else:
            began = time.perf_counter()
            landed = land(data_dir, events)
            land_s = time.perf_counter() - began
        graph = worker("graph", data_dir)
        # After the graph: it reuses the parse the graph's definitions load made.
        dbt_alone = worker("dbt", data_dir)
        plain = worker("plain", data_dir)
    return {
        "events": landed,
        "graph_s": round(graph["seconds"], 2),
        "plain_sql_s": round(plain["seconds"], 2),
        "time_ratio": round(graph["seconds"] / plain["seconds"], 2),
        # dbt's build alone, as in the graph's step but with no Dagster, gates or publishing.
        "dbt_alone_s": round(dbt_alone["seconds"], 2),
        "dbt_alone_time_ratio": round(dbt_alone["seconds"] / plain["seconds"], 2),
        "graph_cpu_s": graph["cpu_s"],
        "plain_cpu_s": plain["cpu_s"],
        "peak_rss_mb": graph["peak_rss_mb"],
        "plain_peak_rss_mb": plain["peak_rss_mb"],
        "dbt_step_s": graph["dbt_step_s"],
        "after_dbt_s": graph["after_dbt_s"],
        # The steps after dbt's, as a share of the graph's time (the target is 25% at most).
        "after_dbt_share": round(graph["after_dbt_s"] / graph["seconds"], 3),
        "after_dbt_step_s": graph["step_s"],
        "graph_load_s": graph["load_s"],
        "prepare_s": graph["prepare_s"],
        "land_s": round(land_s, 2),
        # Both sides built the same marts: a cheap guard that the comparison is fair.
        "same_row_counts": graph["rows"] == plain["rows"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small run (smoke test)")
    parser.add_argument("--events", type=int, nargs="*", help="event counts to run")
    parser.add_argument(
        "--landing-cache",
        type=Path,
        help="land each size once into this directory and reuse it on later runs",
    )
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "DATA_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, data_dir = args.worker
        run = {"graph": run_graph, "dbt": run_dbt_alone, "plain": run_plain}[kind]
        result = run(Path(data_dir))
        print(json.dumps(result))
        return
    sizes = args.events or ([20_000] if args.quick else [1_000_000, 10_000_000])
    runs = []
    for n in sizes:
        runs.append(bench(n, args.landing_cache))
        print(json.dumps(runs[-1]), file=sys.stderr)
    print(json.dumps({"bench": "batch", "runs": runs}))


if __name__ == "__main__":
    os.environ.setdefault("DAGSTER_HOME", tempfile.mkdtemp(prefix="tollgate-dagster-"))
    main()
